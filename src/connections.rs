//! Connection hygiene for both listeners (HTTP and OTLP/gRPC): a cap on open
//! connections, per-connection deadlines, and the HTTP accept loop.
//!
//! Every accepted TCP connection is admitted by its listener's [`ConnectionTracker`] and
//! wrapped in a [`TrackedStream`], which notes when bytes arrive, when a write waits on
//! the peer, and (through [`InFlightGuard`]s taken by the services) whether a request is
//! being handled. A small watchdog task per connection closes it — the stream's next
//! read or write fails, so hyper or tonic drops it and its file descriptor — when a
//! deadline passes (see [`ConnectionState::deadline`]):
//!
//! * **header read**: a new connection must deliver a complete request head (HTTP/2:
//!   its connection preface) within `header_read_timeout`; on a kept-alive HTTP/1
//!   connection, so must the next request once its first byte arrived. A client that
//!   connects and sends nothing, or trickles a header, is closed.
//! * **idle**: a connection with nothing in flight (HTTP/1 keep-alive; HTTP/2 or gRPC with
//!   no open stream) is closed after `idle_timeout`.
//! * **write stall**: a connection whose peer does not read what is written to it for
//!   `idle_timeout` is closed.
//! * **request**: a handler must answer within `request_timeout`, receiving its body
//!   included (HTTP: [`ConnectionService`] answers 408 when the body had not all arrived,
//!   else 503 with `Retry-After`; gRPC: tonic's server timeout, `CANCELLED`).
//!
//! **Cap**: each listener serves at most `max_connections`. When all are taken, a new
//! connection closes the one that has been idle longest (never-served ones first) and
//! takes its place; if every connection has a request in flight, the new one is closed at
//! once. So idle or half-open sockets cannot exhaust file descriptors or lock out real
//! clients, and the accept queue keeps moving.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Most concurrent HTTP/2 streams per connection (HTTP port with prior knowledge, and gRPC).
pub const MAX_CONCURRENT_STREAMS: u32 = 100;

/// How long a new connection waits for the slot of the idle connection it evicted.
const EVICTION_WAIT: Duration = Duration::from_secs(5);

/// File descriptors kept free of connections when the cap is fitted to the open-file
/// limit: database files and pool connections, the runtime, listeners, the key file.
pub const RESERVED_FDS: u64 = 64;

/// Per-listener connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to deliver a complete request head.
    pub header_read_timeout: Duration,
    /// Time a connection may stay with nothing in flight, or stalled on a write.
    pub idle_timeout: Duration,
    /// Time to answer a request, receiving its body included.
    pub request_timeout: Duration,
    /// Most open connections per listener.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// Lowers `max_connections` so that `listeners` listeners at their cap fit in the
    /// soft open-file limit (less [`RESERVED_FDS`]); at least 1.
    pub fn fitted_to_open_files(mut self, soft_limit: Option<u64>, listeners: u64) -> Self {
        if let Some(soft) = soft_limit {
            let per_listener = soft.saturating_sub(RESERVED_FDS) / listeners.max(1);
            let fitted = usize::try_from(per_listener).unwrap_or(usize::MAX).max(1);
            self.max_connections = self.max_connections.min(fitted);
        }
        self.max_connections = self.max_connections.clamp(1, u32::MAX as usize);
        self
    }
}

/// Why the server closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No complete request head within the header-read timeout.
    HeaderRead,
    /// Nothing in flight for the idle timeout.
    Idle,
    /// The peer did not read for the idle timeout.
    WriteStall,
    /// Closed to make room for a new connection at the cap.
    Evicted,
    /// Closed with nothing in flight when the server stops.
    Shutdown,
}

impl CloseReason {
    fn as_str(self) -> &'static str {
        match self {
            CloseReason::HeaderRead => "header read timeout",
            CloseReason::Idle => "idle timeout",
            CloseReason::WriteStall => "write stalled",
            CloseReason::Evicted => "evicted at the connection cap",
            CloseReason::Shutdown => "server stopping",
        }
    }

    fn to_io_error(self) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, self.as_str())
    }
}

/// What the watchdog knows of one connection. Pure bookkeeping: every method takes the
/// current time, so the deadline rules are unit-tested without a socket.
#[derive(Debug)]
pub struct ConnectionState {
    in_flight: usize,
    served_any: bool,
    idle_since: Instant,
    head_started: Option<Instant>,
    write_blocked_since: Option<Instant>,
    seen_bytes: bool,
    http2: bool,
    closed: Option<CloseReason>,
    dropped: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

/// The HTTP/2 connection preface starts with these bytes.
const H2_PREFACE_START: &[u8] = b"PRI ";

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
    fn eviction_rank(&self) -> Option<(bool, Instant)> {
        self.is_idle().then_some((self.served_any, self.idle_since))
    }
}

/// One tracked connection, shared by its stream, its watchdog and its requests.
#[derive(Debug)]
pub struct Connection {
    id: u64,
    peer: SocketAddr,
    limits: ConnectionLimits,
    state: Mutex<ConnectionState>,
    changed: Notify,
}

impl Connection {
    fn lock(&self) -> MutexGuard<'_, ConnectionState> {
        // The state stays consistent under every panic point (plain field updates).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a request as in flight until the guard is dropped.
    pub fn request_started(self: &Arc<Self>) -> InFlightGuard {
        self.lock().on_request_start();
        self.changed.notify_one();
        InFlightGuard {
            connection: self.clone(),
        }
    }

    /// Closes the connection: its stream's next read or write fails.
    fn close(&self, reason: CloseReason) {
        let wakers = {
            let mut state = self.lock();
            if state.closed.is_some() {
                return;
            }
            state.closed = Some(reason);
            [state.read_waker.take(), state.write_waker.take()]
        };
        tracing::debug!(peer = %self.peer, reason = reason.as_str(), "closing connection");
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
        self.changed.notify_one();
    }

    /// Closes the connection if nothing is in flight; returns whether it did.
    fn close_if_idle(&self, reason: CloseReason) -> bool {
        if !self.lock().is_idle() {
            return false;
        }
        self.close(reason);
        true
    }

    /// Closes the connection when a deadline passes; ends when the stream is dropped.
    async fn watch(self: Arc<Self>) {
        loop {
            let notified = self.changed.notified();
            let next = {
                let state = self.lock();
                if state.dropped || state.closed.is_some() {
                    return;
                }
                state.deadline(&self.limits)
            };
            match next {
                None => notified.await,
                Some((at, reason)) => {
                    if at <= Instant::now() {
                        self.close(reason);
                        return;
                    }
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = notified => {}
                    }
                }
            }
        }
    }
}

/// Keeps a request counted as in flight on its connection; dropped when the response
/// body ends (or the request is abandoned).
#[derive(Debug)]
pub struct InFlightGuard {
    connection: Arc<Connection>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.connection.lock().on_request_end(Instant::now());
        self.connection.changed.notify_one();
    }
}

/// Admits the connections of one listener under its cap.
#[derive(Debug)]
pub struct ConnectionTracker {
    name: &'static str,
    limits: ConnectionLimits,
    slots: Arc<Semaphore>,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    warned_full: AtomicBool,
}

impl ConnectionTracker {
    /// A tracker for the listener called `name` (in logs).
    pub fn new(name: &'static str, mut limits: ConnectionLimits) -> Arc<Self> {
        limits.max_connections = limits.max_connections.clamp(1, u32::MAX as usize);
        Arc::new(ConnectionTracker {
            name,
            limits,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            warned_full: AtomicBool::new(false),
        })
    }

    fn open_map(&self) -> MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open_map().len()
    }

    /// Admits `stream` under the cap (evicting the idlest connection if full), or
    /// returns `None` after dropping it when every connection is busy.
    pub async fn admit(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr) -> Option<TrackedStream> {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if !self.warned_full.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        listener = self.name,
                        max_connections = self.limits.max_connections,
                        "connection cap reached; closing idle connections for new ones (logged once)"
                    );
                }
                if !self.evict_idlest() {
                    tracing::debug!(listener = self.name, %peer, "connection refused: every connection is busy");
                    return None;
                }
                match tokio::time::timeout(EVICTION_WAIT, self.slots.clone().acquire_owned()).await {
                    Ok(Ok(slot)) => slot,
                    _ => {
                        tracing::debug!(listener = self.name, %peer, "connection refused: no slot freed");
                        return None;
                    }
                }
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            id,
            peer,
            limits: self.limits,
            state: Mutex::new(ConnectionState::new(Instant::now())),
            changed: Notify::new(),
        });
        self.open_map().insert(id, connection.clone());
        tokio::spawn(connection.clone().watch());
        let local_addr = stream.local_addr().ok();
        Some(TrackedStream {
            inner: stream,
            connection,
            tracker: self.clone(),
            local_addr,
            _slot: slot,
        })
    }

    /// Closes the connection idle longest (never-served first); returns whether one was.
    pub fn evict_idlest(&self) -> bool {
        let mut candidates: Vec<((bool, Instant, u64), Arc<Connection>)> = self
            .open_map()
            .values()
            .filter_map(|connection| {
                let (served_any, idle_since) = connection.lock().eviction_rank()?;
                Some(((served_any, idle_since, connection.id), connection.clone()))
            })
            .collect();
        candidates.sort_by_key(|(rank, _)| *rank);
        candidates
            .into_iter()
            .any(|(_, connection)| connection.close_if_idle(CloseReason::Evicted))
    }

    /// Closes every connection with nothing in flight (the server is stopping). Busy
    /// ones finish their requests under the servers' graceful shutdown; this covers
    /// those that graceful shutdown would wait on: a trickled HTTP/1 head, an HTTP/2
    /// handshake the client never completes.
    pub fn close_idle(&self) {
        let open: Vec<Arc<Connection>> = self.open_map().values().cloned().collect();
        for connection in open {
            connection.close_if_idle(CloseReason::Shutdown);
        }
    }

    /// Waits until every admitted connection has been dropped.
    pub async fn wait_all_closed(&self) {
        let all = u32::try_from(self.limits.max_connections).unwrap_or(u32::MAX);
        // The semaphore is never closed, so this only ends by getting every slot back.
        let _ = self.slots.acquire_many(all).await;
    }

    /// Accept-error handling shared by both listeners: per-connection errors are
    /// ignored; when file descriptors run out, an idle connection is closed to free one.
    async fn after_accept_error(&self, error: io::Error) {
        match error.kind() {
            io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused => {}
            _ => {
                let evicted = self.evict_idlest();
                if !self.warned_full.swap(true, Ordering::Relaxed) {
                    tracing::warn!(listener = self.name, %error, evicted, "accept failed (logged once)");
                } else {
                    tracing::debug!(listener = self.name, %error, evicted, "accept failed");
                }
                let pause = if evicted { 10 } else { 100 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }
    }

    /// Accepts connections from `listener` into a stream (for tonic) until the stream is
    /// dropped; the listener is closed then.
    pub fn incoming(
        self: &Arc<Self>,
        listener: TcpListener,
    ) -> tokio_stream::wrappers::ReceiverStream<io::Result<TrackedStream>> {
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let tracker = self.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = sender.closed() => break,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, peer)) => {
                        if let Some(stream) = tracker.admit(stream, peer).await {
                            if sender.send(Ok(stream)).await.is_err() {
                                break;
                            }
                        }
                    }
                    Err(error) => tracker.after_accept_error(error).await,
                }
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(receiver)
    }
}

/// An admitted TCP connection: holds a slot of the cap until dropped.
#[derive(Debug)]
pub struct TrackedStream {
    inner: TcpStream,
    connection: Arc<Connection>,
    tracker: Arc<ConnectionTracker>,
    local_addr: Option<SocketAddr>,
    _slot: OwnedSemaphorePermit,
}

impl TrackedStream {
    /// The tracked connection (for [`InFlightGuard`]s).
    pub fn connection(&self) -> Arc<Connection> {
        self.connection.clone()
    }

    fn closed_error(&self) -> Option<io::Error> {
        self.connection.lock().closed.map(CloseReason::to_io_error)
    }

    /// Notes the outcome of a write; a pending write registers for a wake-up on close.
    fn after_write(&self, cx: &Context<'_>, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        let mut state = self.connection.lock();
        match &result {
            Poll::Ready(Ok(written)) if *written > 0 => state.on_write_progress(),
            Poll::Pending => {
                if let Some(reason) = state.closed {
                    return Poll::Ready(Err(reason.to_io_error()));
                }
                state.write_waker = Some(cx.waker().clone());
                if state.on_write_pending(Instant::now()) {
                    drop(state);
                    self.connection.changed.notify_one();
                }
            }
            _ => {}
        }
        result
    }
}

impl Drop for TrackedStream {
    fn drop(&mut self) {
        self.tracker.open_map().remove(&self.connection.id);
        self.connection.lock().dropped = true;
        self.connection.changed.notify_one();
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(error) = this.closed_error() {
            return Poll::Ready(Err(error));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        let mut state = this.connection.lock();
        match &result {
            Poll::Ready(Ok(())) => {
                if state.on_read(Instant::now(), &buf.filled()[before..]) {
                    drop(state);
                    this.connection.changed.notify_one();
                }
            }
            Poll::Pending => {
                if let Some(reason) = state.closed {
                    return Poll::Ready(Err(reason.to_io_error()));
                }
                state.read_waker = Some(cx.waker().clone());
            }
            Poll::Ready(Err(_)) => {}
        }
        result
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(error) = this.closed_error() {
            return Poll::Ready(Err(error));
        }
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(error) = this.closed_error() {
            return Poll::Ready(Err(error));
        }
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// What tonic puts in each request's extensions for a [`TrackedStream`].
#[derive(Debug, Clone)]
pub struct TrackedConnectInfo {
    /// The connection, for [`InFlightLayer`].
    pub connection: Arc<Connection>,
    /// Local address.
    pub local_addr: Option<SocketAddr>,
    /// Peer address.
    pub remote_addr: SocketAddr,
}

impl tonic::transport::server::Connected for TrackedStream {
    type ConnectInfo = TrackedConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        TrackedConnectInfo {
            connection: self.connection.clone(),
            local_addr: self.local_addr,
            remote_addr: self.connection.peer,
        }
    }
}

/// A response body that keeps its request in flight until it ends.
#[derive(Debug)]
pub struct InFlightBody<B> {
    inner: B,
    guard: Option<InFlightGuard>,
}

impl<B> InFlightBody<B> {
    /// Wraps `inner`; `guard` is released when it ends or is dropped.
    pub fn new(inner: B, guard: Option<InFlightGuard>) -> Self {
        InFlightBody { inner, guard }
    }
}

impl<B: Body + Unpin> Body for InFlightBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(result, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.guard = None;
        }
        result
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A tower layer (for tonic) that counts each request in flight on its
/// [`TrackedStream`] until its response body ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct InFlightLayer;

impl<S> tower::Layer<S> for InFlightLayer {
    type Service = InFlight<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InFlight { inner }
    }
}

/// The service of [`InFlightLayer`].
#[derive(Debug, Clone)]
pub struct InFlight<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for InFlight<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<InFlightBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let info = request.extensions().get::<TrackedConnectInfo>().cloned();
        let guard = info.as_ref().map(|info| info.connection.request_started());
        if let Some(info) = info {
            // Keep `tonic::Request::remote_addr` working.
            request
                .extensions_mut()
                .insert(tonic::transport::server::TcpConnectInfo {
                    local_addr: info.local_addr,
                    remote_addr: Some(info.remote_addr),
                });
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|body| InFlightBody::new(body, guard)))
        })
    }
}

/// A request body that records whether it was received completely.
struct WatchedBody<B> {
    inner: B,
    complete: Arc<AtomicBool>,
}

impl<B: Body + Unpin> Body for WatchedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(result, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.complete.store(true, Ordering::Relaxed);
        }
        result
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The hyper service of one HTTP connection: the router, with in-flight tracking and
/// the request timeout.
#[derive(Clone)]
pub struct ConnectionService {
    router: axum::Router,
    connection: Arc<Connection>,
    request_timeout: Duration,
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for ConnectionService {
    type Response = Response<InFlightBody<axum::body::Body>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<hyper::body::Incoming>) -> Self::Future {
        let guard = self.connection.request_started();
        let complete = Arc::new(AtomicBool::new(request.body().is_end_stream()));
        let request = request.map(|inner| {
            axum::body::Body::new(WatchedBody {
                inner,
                complete: complete.clone(),
            })
        });
        let router = self.router.clone();
        let timeout = self.request_timeout;
        Box::pin(async move {
            let handled = tokio::time::timeout(timeout, tower::ServiceExt::oneshot(router, request)).await;
            let response = match handled {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_elapsed) => timeout_response(complete.load(Ordering::Relaxed)),
            };
            Ok(response.map(|body| InFlightBody::new(body, Some(guard))))
        })
    }
}

/// The answer to a request not handled within the request timeout: 408 when its body
/// had not all arrived (the client is slow), else 503 with `Retry-After`.
fn timeout_response(body_complete: bool) -> Response<axum::body::Body> {
    use axum::response::IntoResponse;
    if body_complete {
        return crate::error::ApiError::Unavailable(
            "the request was not answered within the server's request timeout; retry later".into(),
            1,
        )
        .into_response();
    }
    let status = axum::http::StatusCode::REQUEST_TIMEOUT;
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Request Timeout",
        "status": status.as_u16(),
        "detail": "the request body did not arrive within the server's request timeout",
    });
    (
        status,
        [
            (axum::http::header::CONTENT_TYPE, "application/problem+json"),
            (axum::http::header::CONNECTION, "close"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Serves `router` on `listener` under `limits` until `shutdown` completes, then lets
/// in-flight requests finish (connections close after their current request) and
/// returns when every connection is closed.
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let tracker = ConnectionTracker::new("http", limits);
    let mut builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    // The watchdog enforces the header-read timeout (hyper's own would also count the
    // keep-alive wait, and does not cover the protocol detection of the first bytes).
    builder.http1().header_read_timeout(None);
    builder.http2().max_concurrent_streams(MAX_CONCURRENT_STREAMS);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracker.after_accept_error(error).await;
                continue;
            }
        };
        let Some(stream) = tracker.admit(stream, peer).await else {
            continue;
        };
        let service = ConnectionService {
            router: router.clone(),
            connection: stream.connection(),
            request_timeout: limits.request_timeout,
        };
        tokio::spawn(serve_connection(builder.clone(), stream, service, stopped.clone()));
    }
    drop(listener);
    tracker.close_idle();
    stop.send_replace(true);
    tracker.wait_all_closed().await;
    Ok(())
}

async fn serve_connection(
    builder: hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    stream: TrackedStream,
    service: ConnectionService,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            _ = stopped.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
}
