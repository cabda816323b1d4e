//! The HTTP accept loop: hyper-util's auto builder over tracked streams, the request
//! timeout (408 / 503) and graceful stop.

use super::*;

/// A request body that records whether it was received completely.
pub(super) struct WatchedBody<B> {
    pub(super) inner: B,
    pub(super) complete: Arc<AtomicBool>,
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
    pub(super) router: axum::Router,
    pub(super) connection: Arc<Connection>,
    pub(super) request_timeout: Duration,
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
pub(super) fn timeout_response(body_complete: bool) -> Response<axum::body::Body> {
    use axum::response::IntoResponse;
    if body_complete {
        return crate::error::ApiError::Unavailable(
            "the request was not answered within the server's request timeout; retry later".into(),
            1,
        )
        .into_response();
    }
    let mut response = crate::error::Problem::new(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        "the request body did not arrive within the server's request timeout",
    )
    .into_response();
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
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

pub(super) async fn serve_connection(
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
