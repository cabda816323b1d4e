//! The deadline rules of one connection: pure bookkeeping over the current time.

use super::*;

/// What the watchdog knows of one connection. Pure bookkeeping: every method takes the
/// current time, so the deadline rules are unit-tested without a socket.
#[derive(Debug)]
pub struct ConnectionState {
    pub(super) in_flight: usize,
    pub(super) served_any: bool,
    pub(super) idle_since: Instant,
    pub(super) head_started: Option<Instant>,
    pub(super) write_blocked_since: Option<Instant>,
    pub(super) seen_bytes: bool,
    pub(super) http2: bool,
    pub(super) closed: Option<CloseReason>,
    pub(super) dropped: bool,
    pub(super) read_waker: Option<Waker>,
    pub(super) write_waker: Option<Waker>,
}

/// The HTTP/2 connection preface starts with these bytes.
pub(super) const H2_PREFACE_START: &[u8] = b"PRI ";

impl ConnectionState {
    /// A connection accepted at `now`.
    pub fn new(now: Instant) -> Self {
        ConnectionState {
            in_flight: 0,
            served_any: false,
            idle_since: now,
            head_started: None,
            write_blocked_since: None,
            seen_bytes: false,
            http2: false,
            closed: None,
            dropped: false,
            read_waker: None,
            write_waker: None,
        }
    }

    /// Bytes arrived. Returns whether the deadline may have moved earlier.
    pub fn on_read(&mut self, now: Instant, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return false;
        }
        if !self.seen_bytes {
            self.seen_bytes = true;
            let prefix = &bytes[..bytes.len().min(H2_PREFACE_START.len())];
            self.http2 = H2_PREFACE_START.starts_with(prefix);
            if self.http2 {
                // From the header deadline to the idle one, which may be earlier.
                return true;
            }
        }
        // HTTP/2 frames (pings, window updates) are not request heads: once its preface
        // arrived, an HTTP/2 connection without a stream has the idle deadline (counted
        // from its start or its last stream), like Go's and Envoy's idle timeouts.
        if self.http2 || self.in_flight > 0 || !self.served_any || self.head_started.is_some() {
            return false;
        }
        self.head_started = Some(now);
        true
    }

    /// A request head was complete and its handler started.
    pub fn on_request_start(&mut self) {
        self.in_flight += 1;
        self.served_any = true;
        self.head_started = None;
    }

    /// A request finished (its response body ended or was dropped).
    pub fn on_request_end(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.idle_since = now;
            self.head_started = None;
        }
    }

    /// A write had to wait for the peer. Returns whether the deadline may have moved.
    pub fn on_write_pending(&mut self, now: Instant) -> bool {
        if self.write_blocked_since.is_some() {
            return false;
        }
        self.write_blocked_since = Some(now);
        true
    }

    /// A write made progress.
    pub fn on_write_progress(&mut self) {
        self.write_blocked_since = None;
    }

    /// Whether nothing is in flight or being written (safe to close without losing a reply).
    pub fn is_idle(&self) -> bool {
        self.in_flight == 0 && self.write_blocked_since.is_none() && self.closed.is_none()
    }

    /// When the connection must be closed unless something happens first, and why.
    pub fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, CloseReason)> {
        let mut earliest: Option<(Instant, CloseReason)> = None;
        let mut consider = |start: Instant, timeout: Duration, reason: CloseReason| {
            if let Some(at) = start.checked_add(timeout) {
                if earliest.is_none_or(|(current, _)| at < current) {
                    earliest = Some((at, reason));
                }
            }
        };
        if self.in_flight == 0 {
            if !self.served_any && !self.http2 {
                consider(self.idle_since, limits.header_read_timeout, CloseReason::HeaderRead);
            } else if let Some(head_started) = self.head_started {
                consider(head_started, limits.header_read_timeout, CloseReason::HeaderRead);
            } else {
                consider(self.idle_since, limits.idle_timeout, CloseReason::Idle);
            }
        }
        if let Some(blocked) = self.write_blocked_since {
            consider(blocked, limits.idle_timeout, CloseReason::WriteStall);
        }
        earliest
    }

    /// Eviction order: never-served connections first, then the longest idle.
    pub(super) fn eviction_rank(&self) -> Option<(bool, Instant)> {
        self.is_idle().then_some((self.served_any, self.idle_since))
    }
}
