//! The admitted TCP stream (notes reads and stalled writes) and in-flight tracking for
//! tonic: connect info, the in-flight layer and response body.

use super::*;

/// An admitted TCP connection: holds a slot of the cap until dropped.
#[derive(Debug)]
pub struct TrackedStream {
    pub(super) inner: TcpStream,
    pub(super) connection: Arc<Connection>,
    pub(super) tracker: Arc<ConnectionTracker>,
    pub(super) local_addr: Option<SocketAddr>,
    pub(super) _slot: OwnedSemaphorePermit,
}

impl TrackedStream {
    /// The tracked connection (for [`InFlightGuard`]s).
    pub fn connection(&self) -> Arc<Connection> {
        self.connection.clone()
    }

    pub(super) fn closed_error(&self) -> Option<io::Error> {
        self.connection.lock().closed.map(CloseReason::to_io_error)
    }

    /// Notes the outcome of a write; a pending write registers for a wake-up on close.
    pub(super) fn after_write(&self, cx: &Context<'_>, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
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
    pub(super) inner: B,
    pub(super) guard: Option<InFlightGuard>,
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
    pub(super) inner: S,
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
