//! Issue 9, findings 4 and 5: slow and idle connections are closed and capped; the
//! database files and the data directory are private to their owner.
//!
//! The connection tests assert on what the server does to a socket (EOF, a response),
//! never on elapsed time; tokio timeouts are only generous bounds that keep a test from
//! hanging on a server that keeps the connection open.

use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use traceledger::config::ServeArgs;
use traceledger::domain::Scope;

use crate::helpers::{both_backends, run_cli, spawn_app_with, store_cli_args, synthetic_request, Backend, TestApp};

/// Upper bound for anything the server is expected to do promptly.
const BOUND: Duration = Duration::from_secs(20);
/// A timeout no test waits for.
const LONG: Duration = Duration::from_secs(600);
/// A timeout a test does wait for.
const SHORT: Duration = Duration::from_millis(300);

fn limits(
    header_read: Duration,
    idle: Duration,
    request: Duration,
    max_connections: usize,
) -> impl FnOnce(&mut ServeArgs) {
    move |args: &mut ServeArgs| {
        args.header_read_timeout = header_read;
        args.idle_timeout = idle;
        args.request_timeout = request;
        args.max_connections = max_connections;
    }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection; returns what it sent. Panics if the
/// server keeps the connection open past [`BOUND`].
async fn read_until_closed(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let outcome = tokio::time::timeout(BOUND, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) => return,
                Ok(count) => received.extend_from_slice(&buffer[..count]),
                // A reset is a close too (the server may drop a socket with unread input).
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return,
                Err(error) => panic!("{what}: read failed: {error}"),
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "{what}: the server kept the connection open");
    received
}

/// Reads until `needle` has arrived (the server answered this far).
async fn read_until(stream: &mut TcpStream, needle: &[u8], what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let outcome = tokio::time::timeout(BOUND, async {
        let mut buffer = [0u8; 4096];
        while !received.windows(needle.len()).any(|window| window == needle) {
            let count = stream.read(&mut buffer).await.expect("read");
            assert!(count > 0, "{what}: closed before {:?}", String::from_utf8_lossy(needle));
            received.extend_from_slice(&buffer[..count]);
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "{what}: no {:?} from the server",
        String::from_utf8_lossy(needle)
    );
    received
}

async fn healthz(app: &TestApp) -> reqwest::StatusCode {
    tokio::time::timeout(BOUND, app.client.get(app.url("/healthz")).send())
        .await
        .expect("/healthz answered in time")
        .expect("/healthz")
        .status()
}

/// The head of an ingest request whose body (of `length` bytes) is sent later; with
/// `Expect: 100-continue`, the server says when its handler starts reading the body.
fn ingest_head(app: &TestApp, key: &str, length: usize, expect_continue: bool) -> String {
    let expect = if expect_continue {
        "Expect: 100-continue\r\n"
    } else {
        ""
    };
    format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/x-protobuf\r\nContent-Length: {length}\r\n{expect}\r\n",
        app.app.addr
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_http_connection_is_closed_by_the_header_read_timeout() {
    let app = spawn_app_with(Backend::Sqlite, limits(SHORT, LONG, LONG, 64)).await;
    let mut silent = connect(app.app.addr).await;
    let received = read_until_closed(&mut silent, "silent connection").await;
    assert!(received.is_empty(), "nothing is answered to nothing");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_request_head_is_closed_by_the_header_read_timeout() {
    let app = spawn_app_with(Backend::Sqlite, limits(SHORT, LONG, LONG, 64)).await;
    let mut slow = connect(app.app.addr).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
        .await
        .expect("write");
    let received = read_until_closed(&mut slow, "partial head").await;
    assert!(
        received.is_empty(),
        "a partial head gets no answer: {:?}",
        String::from_utf8_lossy(&received)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(Backend::Sqlite, limits(LONG, SHORT, LONG, 64)).await;
    let mut client = connect(app.app.addr).await;
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let received = read_until_closed(&mut client, "kept-alive connection").await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("ok"), "the response came whole before the close: {text}");
    app.stop().await;
}

both_backends!(
    a_request_body_that_does_not_arrive_is_answered_408,
    stop_still_lets_an_in_flight_request_finish
);

async fn a_request_body_that_does_not_arrive_is_answered_408(backend: Backend) {
    let app = spawn_app_with(backend, limits(LONG, LONG, SHORT, 64)).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let mut client = connect(app.app.addr).await;
    client
        .write_all(ingest_head(&app, &key, 100, false).as_bytes())
        .await
        .expect("write head");
    client.write_all(&[0u8; 10]).await.expect("write part of the body");
    let received = read_until_closed(&mut client, "slow body").await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    let tenant = app.tenant("default").await;
    assert_eq!(app.store().tree_size(&tenant).await.unwrap(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_idle_http_connections_make_room_for_new_clients() {
    let cap = 4;
    let idle_count = 12;
    let app = spawn_app_with(Backend::Sqlite, limits(LONG, LONG, LONG, cap)).await;
    let mut idle = Vec::new();
    for _ in 0..idle_count {
        idle.push(connect(app.app.addr).await);
    }
    // The server accepts in connect order; each connection past the cap closes the
    // oldest idle one, and /healthz gets a slot the same way.
    assert_eq!(healthz(&app).await, 200);
    for (number, socket) in idle.iter_mut().enumerate().take(idle_count - cap + 1) {
        let received = read_until_closed(socket, &format!("idle connection {number}")).await;
        assert!(received.is_empty());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_with_every_connection_busy_a_new_one_is_closed() {
    let app = spawn_app_with(Backend::Sqlite, limits(LONG, LONG, LONG, 2)).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let mut busy = Vec::new();
    for number in 0..2 {
        let mut client = connect(app.app.addr).await;
        client
            .write_all(ingest_head(&app, &key, 100, true).as_bytes())
            .await
            .expect("write head");
        // 100 Continue: the handler is reading the body, the request is in flight.
        read_until(&mut client, b"100 Continue", &format!("busy connection {number}")).await;
        busy.push(client);
    }
    let mut refused = connect(app.app.addr).await;
    let received = read_until_closed(&mut refused, "connection over the cap").await;
    assert!(received.is_empty());
    // Abandoning the bodies ends those requests; the server stops cleanly.
    drop(busy);
    tokio::time::timeout(BOUND, app.stop()).await.expect("stopped in time");
}

async fn stop_still_lets_an_in_flight_request_finish(backend: Backend) {
    let app = spawn_app_with(backend, limits(LONG, LONG, LONG, 8)).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let body = synthetic_request(3, 2);
    let mut client = connect(app.app.addr).await;
    client
        .write_all(ingest_head(&app, &key, body.len(), true).as_bytes())
        .await
        .expect("write head");
    read_until(&mut client, b"100 Continue", "in-flight request").await;
    let addr = app.app.addr;
    let store = app.store();
    let tenant = app.tenant("default").await;
    let stopping = tokio::spawn(app.stop());
    // Once the listener is closed, the shutdown is under way.
    let listener_closed = tokio::time::timeout(BOUND, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(listener_closed.is_ok(), "the server kept listening after stop");
    client.write_all(&body).await.expect("write body");
    let received = read_until_closed(&mut client, "in-flight request").await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.contains("HTTP/1.1 200"), "{text}");
    // Held until the end: dropping it drops the test's database.
    let _dir = tokio::time::timeout(BOUND, stopping)
        .await
        .expect("stopped in time")
        .expect("stop task");
    assert_eq!(store.tree_size(&tenant).await.unwrap(), 2);
}

async fn grpc_export(app: &TestApp, key: &str) -> Result<(), tonic::Status> {
    let mut client = TraceServiceClient::connect(format!("http://{}", app.app.grpc_addr))
        .await
        .expect("connect gRPC");
    let mut request =
        tonic::Request::new(ExportTraceServiceRequest::decode(synthetic_request(4, 1).as_slice()).expect("decode"));
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().expect("metadata"));
    client.export(request).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_grpc_connection_is_closed_by_the_header_read_timeout() {
    let app = spawn_app_with(Backend::Sqlite, limits(SHORT, LONG, LONG, 64)).await;
    let mut silent = connect(app.app.grpc_addr).await;
    read_until_closed(&mut silent, "silent gRPC connection").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_connection_without_a_stream_is_closed_by_the_idle_timeout() {
    let app = spawn_app_with(Backend::Sqlite, limits(LONG, SHORT, LONG, 64)).await;
    // An HTTP/2 connection that sends its preface and settings, then never opens a stream.
    let mut preface_only = connect(app.app.grpc_addr).await;
    preface_only
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("write preface");
    read_until_closed(&mut preface_only, "HTTP/2 connection without a stream").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_idle_grpc_connections_make_room_for_exports() {
    let cap = 4;
    let idle_count = 12;
    let app = spawn_app_with(Backend::Sqlite, limits(LONG, LONG, LONG, cap)).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let mut idle = Vec::new();
    for _ in 0..idle_count {
        idle.push(connect(app.app.grpc_addr).await);
    }
    tokio::time::timeout(BOUND, grpc_export(&app, &key))
        .await
        .expect("export answered in time")
        .expect("export");
    for (number, socket) in idle.iter_mut().enumerate().take(idle_count - cap + 1) {
        read_until_closed(socket, &format!("idle gRPC connection {number}")).await;
    }
    let tenant = app.tenant("default").await;
    assert_eq!(app.store().tree_size(&tenant).await.unwrap(), 1);
    // The idle connections left do not hold up the stop (the HTTP/2 handshake they never
    // completed would).
    tokio::time::timeout(BOUND, app.stop()).await.expect("stopped in time");
}

// ---- finding 5: private files --------------------------------------------------------

/// The permission bits of `path`, in octal (`"600"`), so failures read like `ls -l`.
#[cfg(unix)]
fn mode_of(path: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode();
    format!("{:o}", mode & 0o777)
}

/// The data directory is 0700 and the database with its -wal and -shm 0600 (a closed
/// store may have folded its -wal and -shm away: `open` says whether they must exist).
#[cfg(unix)]
fn assert_private_store(data_dir: &std::path::Path, open: bool) {
    assert_eq!(mode_of(data_dir), "700", "data directory");
    assert_eq!(mode_of(&data_dir.join("traceledger.db")), "600", "traceledger.db");
    for name in ["traceledger.db-wal", "traceledger.db-shm"] {
        let path = data_dir.join(name);
        if open || path.exists() {
            assert_eq!(mode_of(&path), "600", "{name}");
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_files_are_created_private() {
    // The test process keeps its usual umask (022): the modes must not depend on it.
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let response = app
        .post_traces(&key, "application/x-protobuf", None, synthetic_request(1, 1))
        .await;
    assert_eq!(response.status(), 200);
    assert_private_store(&app.args.store.data_dir, true);
    assert_eq!(mode_of(&app.args.signing_key_path()), "600", "signing key");
    app.stop().await;

    // `keys create` on a fresh data directory creates the store private too.
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ServeArgs::for_data_dir(dir.path().join("fresh"));
    let mut arguments = vec!["keys".to_string(), "create".into()];
    arguments.extend(store_cli_args(&args));
    arguments.extend(["--tenant".into(), "default".into(), "--scope".into(), "ingest".into()]);
    let (code, _, stderr) = run_cli(&arguments).await;
    assert_eq!(code, 0, "{stderr}");
    assert_private_store(&args.store.data_dir, false);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_files_for_its_owner_only() {
    // The binary sets umask 077 at start: a bundle with revealed contents is private.
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let response = app
        .post_traces(&key, "application/x-protobuf", None, synthetic_request(1, 1))
        .await;
    assert_eq!(response.status(), 200);
    let out = app.dir.path().join("bundle.json");
    let mut arguments = vec!["export".to_string()];
    arguments.extend(store_cli_args(&app.args));
    arguments.extend([
        "--trace-id".into(),
        "01".repeat(16),
        "-o".into(),
        out.display().to_string(),
    ]);
    let (code, stdout, stderr) = run_cli(&arguments).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(mode_of(&out), "600", "bundle");
    app.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_database_files_are_tightened_when_the_store_opens() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let args = app.args.clone();
    let dir = app.stop().await;
    let data_dir = args.store.data_dir.clone();
    for name in ["traceledger.db", "traceledger.db-wal", "traceledger.db-shm"] {
        let path = data_dir.join(name);
        if !path.exists() {
            std::fs::write(&path, b"").expect("create");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let app = traceledger::app::spawn(&args).await.expect("spawn on the old store");
    assert_private_store(&data_dir, true);
    app.stop().await.expect("stop");
    drop(dir);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ServeArgs::for_data_dir(dir.path().join("shared"));
    std::fs::create_dir(&args.store.data_dir).expect("mkdir");
    std::fs::set_permissions(&args.store.data_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let error = match traceledger::app::spawn(&args).await {
        Ok(_) => panic!("the server started on a data directory readable by others"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("chmod 700"), "{error}");
    assert!(
        !args.store.data_dir.join("traceledger.db").exists(),
        "nothing was written"
    );

    let mut arguments = vec!["keys".to_string(), "create".into()];
    arguments.extend(store_cli_args(&args));
    arguments.extend(["--tenant".into(), "default".into(), "--scope".into(), "ingest".into()]);
    let (code, _, stderr) = run_cli(&arguments).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("chmod 700"), "{stderr}");

    // Once the operator fixes the mode, it starts.
    std::fs::set_permissions(&args.store.data_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let app = traceledger::app::spawn(&args).await.expect("spawn");
    assert_private_store(&args.store.data_dir, true);
    app.stop().await.expect("stop");
}
