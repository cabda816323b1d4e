use super::*;

fn limits() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        request_timeout: Duration::from_secs(30),
        max_connections: 8,
    }
}

#[test]
fn a_silent_new_connection_has_the_header_deadline() {
    let start = Instant::now();
    let state = ConnectionState::new(start);
    assert_eq!(
        state.deadline(&limits()),
        Some((start + Duration::from_secs(10), CloseReason::HeaderRead))
    );
}

#[test]
fn every_change_that_can_bring_the_deadline_forward_is_reported() {
    // The watchdog sleeps until the deadline it computed; a change that moves it
    // earlier must wake it (on_read / on_write_pending return true).
    let mut short_idle = limits();
    short_idle.idle_timeout = Duration::from_secs(1);
    let start = Instant::now();
    let mut state = ConnectionState::new(start);
    let at = |state: &ConnectionState| state.deadline(&short_idle).map(|(at, _)| at);
    let before = at(&state);
    assert!(state.on_read(start, b"PRI * HTTP/2.0\r\n\r\n"));
    assert!(at(&state) < before);
    let mut http1 = ConnectionState::new(start);
    assert!(!http1.on_read(start, b"GET / HTTP/1.1\r\n"));
}

#[test]
fn a_trickled_first_head_keeps_the_deadline_of_the_connection_start() {
    let start = Instant::now();
    let mut state = ConnectionState::new(start);
    assert!(!state.on_read(start + Duration::from_secs(5), b"GET / HT"));
    assert_eq!(
        state.deadline(&limits()),
        Some((start + Duration::from_secs(10), CloseReason::HeaderRead))
    );
}

#[test]
fn in_flight_requests_have_no_connection_deadline_then_idle_then_header() {
    let start = Instant::now();
    let mut state = ConnectionState::new(start);
    state.on_read(start, b"GET / HTTP/1.1\r\n\r\n");
    state.on_request_start();
    assert_eq!(state.deadline(&limits()), None);
    // Bytes of the body while in flight do not start a head.
    assert!(!state.on_read(start + Duration::from_secs(1), b"body"));
    let done = start + Duration::from_secs(20);
    state.on_request_end(done);
    assert_eq!(
        state.deadline(&limits()),
        Some((done + Duration::from_secs(60), CloseReason::Idle))
    );
    // The next request's first byte starts its header deadline.
    let next = done + Duration::from_secs(30);
    assert!(state.on_read(next, b"G"));
    assert!(!state.on_read(next + Duration::from_secs(1), b"ET"));
    assert_eq!(
        state.deadline(&limits()),
        Some((next + Duration::from_secs(10), CloseReason::HeaderRead))
    );
}

#[test]
fn http2_frames_do_not_start_a_head() {
    let start = Instant::now();
    let mut state = ConnectionState::new(start);
    state.on_read(start, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    // After the preface, a connection without a stream waits under the idle deadline.
    assert_eq!(
        state.deadline(&limits()),
        Some((start + Duration::from_secs(60), CloseReason::Idle))
    );
    state.on_request_start();
    let done = start + Duration::from_secs(1);
    state.on_request_end(done);
    assert!(!state.on_read(done + Duration::from_secs(1), b"\x00\x00\x08\x06"));
    assert_eq!(
        state.deadline(&limits()),
        Some((done + Duration::from_secs(60), CloseReason::Idle))
    );
}

#[test]
fn a_stalled_write_has_the_idle_deadline_even_in_flight() {
    let start = Instant::now();
    let mut state = ConnectionState::new(start);
    state.on_request_start();
    let blocked = start + Duration::from_secs(2);
    assert!(state.on_write_pending(blocked));
    assert!(!state.on_write_pending(blocked + Duration::from_secs(1)));
    assert!(!state.is_idle());
    assert_eq!(
        state.deadline(&limits()),
        Some((blocked + Duration::from_secs(60), CloseReason::WriteStall))
    );
    state.on_write_progress();
    assert_eq!(state.deadline(&limits()), None);
}

#[test]
fn eviction_prefers_never_served_then_longest_idle() {
    let start = Instant::now();
    let fresh = ConnectionState::new(start + Duration::from_secs(5));
    let mut served = ConnectionState::new(start);
    served.on_request_start();
    served.on_request_end(start + Duration::from_secs(1));
    let mut busy = ConnectionState::new(start);
    busy.on_request_start();
    assert!(fresh.eviction_rank() < served.eviction_rank());
    assert_eq!(busy.eviction_rank(), None);
}

#[test]
fn the_cap_fits_the_open_file_limit() {
    let fitted = limits().fitted_to_open_files(Some(128), 2);
    assert_eq!(fitted.max_connections, 8);
    let mut many = limits();
    many.max_connections = 1024;
    assert_eq!(many.fitted_to_open_files(Some(128), 2).max_connections, 32);
    assert_eq!(many.fitted_to_open_files(Some(10), 2).max_connections, 1);
    assert_eq!(many.fitted_to_open_files(None, 2).max_connections, 1024);
}
