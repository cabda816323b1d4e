//! Tracked connections, requests in flight and the per-listener cap with idle eviction.

use super::*;

/// One tracked connection, shared by its stream, its watchdog and its requests.
#[derive(Debug)]
pub struct Connection {
    pub(super) id: u64,
    pub(super) peer: SocketAddr,
    pub(super) limits: ConnectionLimits,
    pub(super) state: Mutex<ConnectionState>,
    pub(super) changed: Notify,
}

impl Connection {
    pub(super) fn lock(&self) -> MutexGuard<'_, ConnectionState> {
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
    pub(super) fn close(&self, reason: CloseReason) {
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
    pub(super) fn close_if_idle(&self, reason: CloseReason) -> bool {
        if !self.lock().is_idle() {
            return false;
        }
        self.close(reason);
        true
    }

    /// Closes the connection when a deadline passes; ends when the stream is dropped.
    pub(super) async fn watch(self: Arc<Self>) {
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
    pub(super) connection: Arc<Connection>,
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
    pub(super) name: &'static str,
    pub(super) limits: ConnectionLimits,
    pub(super) slots: Arc<Semaphore>,
    pub(super) open: Mutex<HashMap<u64, Arc<Connection>>>,
    pub(super) next_id: AtomicU64,
    pub(super) warned_full: AtomicBool,
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

    pub(super) fn open_map(&self) -> MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
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
    pub(super) async fn after_accept_error(&self, error: io::Error) {
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
