//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` and
//! `opentelemetry.proto.collector.logs.v1.LogsService/Export` over tonic, gzip
//! accepted. Same semantics as OTLP/HTTP (see [`crate::intake::admission`] and
//! [`crate::intake::service`]); errors map to gRPC codes, and back-pressure carries a
//! `google.rpc.RetryInfo` so SDKs retry after the delay the OTLP specification asks
//! them to honour.
//!
//! Nothing of a message is read, inflated or decoded before its caller is known:
//!
//! 1. [`IngestAuthLayer`] (a tower layer in front of every service) reads the
//!    `authorization` metadata, looks the key up and checks the `ingest` scope; a call
//!    that fails gets its gRPC status at once, its body untouched. The tenant travels
//!    on in the request extensions ([`IngestTenant`]).
//! 2. [`ExportService`] serves the Export method with [`tonic::server::Grpc`] and a codec
//!    that hands over the message bytes as they arrived. A guard on the request body
//!    reads the message's 5-byte gRPC header first: more than `--grpc-max-message-bytes`
//!    (4 MiB, the OTel Collector's default) is refused before the message is read, its
//!    length is reserved in the memory budget, and a second message is refused. The
//!    guard takes inflation over from tonic (which would inflate on the async worker,
//!    outside the budget, and only the first gzip member): it clears the message's
//!    compressed flag and the handler inflates under the budget on the blocking pool,
//!    up to the same limit, after decompression.
//! 3. The handler admits the message ([`crate::intake::admission::admit`]) and commits it.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use prost::Message;
use tonic::body::Body as GrpcBody;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, Service};
use tonic::server::{NamedService, UnaryService};
use tower_layer::Layer;

use crate::auth::{authenticate, has_scope, AuthError};
use crate::domain::Scope;
use crate::error::ApiError;
use crate::ingest::budget::Reservation;
use crate::ingest::otlp::{DecodeError, Encoding};
use crate::intake::admission::{admit, AdmitError, Compression, Export, Logs, RawExport, Traces};
use crate::state::AppState;
use crate::store::Tenant;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The caller of a gRPC call, authenticated by [`IngestAuthLayer`] for the `ingest` scope.
#[derive(Debug, Clone)]
pub struct IngestTenant(pub Tenant);

/// Authenticates every gRPC call before its body is read; see the module docs.
#[derive(Clone)]
pub struct IngestAuthLayer {
    state: AppState,
}

impl IngestAuthLayer {
    /// The layer for `state`'s key store.
    pub fn new(state: AppState) -> Self {
        IngestAuthLayer { state }
    }
}

impl<S> Layer<S> for IngestAuthLayer {
    type Service = IngestAuth<S>;

    fn layer(&self, inner: S) -> IngestAuth<S> {
        IngestAuth {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service [`IngestAuthLayer`] wraps around the gRPC routes.
#[derive(Clone)]
pub struct IngestAuth<S> {
    inner: S,
    state: AppState,
}

impl<S, B> Service<http::Request<B>> for IngestAuth<S>
where
    S: Service<http::Request<B>, Response = http::Response<GrpcBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<GrpcBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The ready inner service serves this call; a fresh clone waits for the next.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        Box::pin(async move {
            match authorize_ingest(&state, request.headers()).await {
                Ok(tenant) => {
                    request.extensions_mut().insert(IngestTenant(tenant));
                    inner.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

async fn authorize_ingest(state: &AppState, headers: &http::HeaderMap) -> Result<Tenant, tonic::Status> {
    let token = bearer_token(headers).map_err(|error| status_from(ApiError::from(error)))?;
    let record = authenticate(state.store.as_ref(), &token)
        .await
        .map_err(|error| status_from(ApiError::from(error)))?;
    if !has_scope(&record, Scope::Ingest) {
        return Err(status_from(AuthError::Forbidden(Scope::Ingest).into()));
    }
    Ok(record.tenant)
}

fn bearer_token(headers: &http::HeaderMap) -> Result<String, AuthError> {
    let value = headers.get("authorization").ok_or(AuthError::Missing)?;
    let text = value.to_str().map_err(|_| AuthError::Invalid)?;
    crate::api::auth::token_from_authorization(text)
}

/// `TraceService/Export`.
pub fn trace_service(state: AppState) -> ExportService<Traces> {
    ExportService::new(state)
}

/// `LogsService/Export`.
pub fn logs_service(state: AppState) -> ExportService<Logs> {
    ExportService::new(state)
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    // Connection hygiene (cap, header-read/idle/stall deadlines): see crate::connections.
    let limits = state.config.connections;
    let tracker = crate::connections::ConnectionTracker::new("grpc", limits);
    let shutdown = {
        let tracker = tracker.clone();
        async move {
            shutdown.await;
            tracker.close_idle();
        }
    };
    tonic::transport::Server::builder()
        .timeout(limits.request_timeout)
        .max_concurrent_streams(crate::connections::MAX_CONCURRENT_STREAMS)
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .layer(crate::connections::InFlightLayer)
        .layer(IngestAuthLayer::new(state.clone()))
        .add_service(trace_service(state.clone()))
        .add_service(logs_service(state))
        .serve_with_incoming_shutdown(tracker.incoming(listener), shutdown)
        .await?;
    tracker.wait_all_closed().await;
    Ok(())
}

/// The Export method of one OTLP service.
pub struct ExportService<E> {
    state: AppState,
    export: PhantomData<fn() -> E>,
}

impl<E> ExportService<E> {
    fn new(state: AppState) -> Self {
        ExportService {
            state,
            export: PhantomData,
        }
    }
}

impl<E> Clone for ExportService<E> {
    fn clone(&self) -> Self {
        ExportService::new(self.state.clone())
    }
}

impl<E: Export> NamedService for ExportService<E> {
    const NAME: &'static str = E::GRPC_SERVICE;
}

impl<E: Export> Service<http::Request<GrpcBody>> for ExportService<E> {
    type Response = http::Response<GrpcBody>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<GrpcBody>) -> Self::Future {
        Box::pin(serve_export::<E>(self.state.clone(), request))
    }
}

async fn serve_export<E: Export>(
    state: AppState,
    mut request: http::Request<GrpcBody>,
) -> Result<http::Response<GrpcBody>, Infallible> {
    let method = request
        .uri()
        .path()
        .strip_prefix('/')
        .and_then(|path| path.strip_prefix(E::GRPC_SERVICE));
    if method != Some("/Export") {
        return Ok(tonic::Status::unimplemented(format!("{} has only the Export method", E::GRPC_SERVICE)).into_http());
    }
    let Some(IngestTenant(tenant)) = request.extensions().get::<IngestTenant>().cloned() else {
        // Only reachable if the service is served without IngestAuthLayer.
        return Ok(status_from(AuthError::Missing.into()).into_http());
    };
    let gzip_stream = match request.headers().get("grpc-encoding").map(|value| value.as_bytes()) {
        None | Some(b"identity") => false,
        Some(b"gzip") => true,
        Some(other) => {
            return Ok(tonic::Status::unimplemented(format!(
                "grpc-encoding {:?} is not supported; use gzip or identity",
                String::from_utf8_lossy(other)
            ))
            .into_http())
        }
    };
    // From here tonic sees identity messages; the guard clears their compressed flag.
    request.headers_mut().remove("grpc-encoding");
    let limit = state.config.grpc_max_message_bytes;
    let inbound = Arc::new(Inbound {
        reservation: Arc::new(state.ingest.budget().reservation()),
        compressed: AtomicBool::new(false),
    });
    let request = request.map(|body| GrpcBody::new(MessageGuard::new(body, limit, gzip_stream, inbound.clone())));
    let mut grpc = tonic::server::Grpc::new(RawMessageCodec::<E::Response>::default())
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let handler = ExportHandler::<E> {
        state,
        tenant,
        inbound,
        limit,
        export: PhantomData,
    };
    Ok(grpc.unary(handler, request).await)
}

/// What the body guard learned about the call's message, for the handler.
struct Inbound {
    /// The call's memory reservation, held until it is answered.
    reservation: Arc<Reservation>,
    /// Whether the message is gzip-compressed.
    compressed: AtomicBool,
}

/// Handles one Export call whose message has arrived.
struct ExportHandler<E> {
    state: AppState,
    tenant: Tenant,
    inbound: Arc<Inbound>,
    limit: usize,
    export: PhantomData<fn() -> E>,
}

impl<E: Export> UnaryService<Bytes> for ExportHandler<E> {
    type Response = E::Response;
    type Future = BoxFuture<Result<tonic::Response<E::Response>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let state = self.state.clone();
        let tenant = self.tenant.clone();
        let inbound = self.inbound.clone();
        let limit = self.limit;
        Box::pin(async move {
            let bytes = request.into_inner();
            // tonic's buffer is gone: only the message bytes remain.
            inbound.reservation.shrink_to(bytes.len());
            let compression = if inbound.compressed.load(Ordering::SeqCst) {
                Compression::Gzip
            } else {
                Compression::Identity
            };
            let raw = RawExport {
                bytes,
                encoding: Encoding::Protobuf,
                compression,
                inflate_limit: limit,
            };
            let prepared = admit::<E>(state.intake(), raw, &inbound.reservation)
                .await
                .map_err(|error| admit_status(error, limit))?;
            let response = E::commit(state.intake(), &tenant, prepared)
                .await
                .map_err(status_from)?;
            Ok(tonic::Response::new(response))
        })
    }
}

fn admit_status(error: AdmitError, limit: usize) -> tonic::Status {
    match error {
        AdmitError::Decode(DecodeError::TooLarge { .. }) => tonic::Status::resource_exhausted(format!(
            "decompressed message exceeds the gRPC limit of {limit} bytes (--grpc-max-message-bytes)"
        )),
        other => status_from(other.into()),
    }
}

/// Watches the request body of an Export call: one message, within the limit, reserved
/// in the memory budget before it is read, its compressed flag cleared (the handler
/// inflates it).
struct MessageGuard {
    inner: GrpcBody,
    limit: usize,
    gzip_stream: bool,
    inbound: Arc<Inbound>,
    header: [u8; 5],
    header_filled: usize,
    body_remaining: usize,
    messages: usize,
}

impl MessageGuard {
    fn new(inner: GrpcBody, limit: usize, gzip_stream: bool, inbound: Arc<Inbound>) -> Self {
        MessageGuard {
            inner,
            limit,
            gzip_stream,
            inbound,
            header: [0; 5],
            header_filled: 0,
            body_remaining: 0,
            messages: 0,
        }
    }

    fn inspect(&mut self, data: Bytes) -> Result<Bytes, tonic::Status> {
        let mut rewritten: Option<Vec<u8>> = None;
        let mut offset = 0;
        while offset < data.len() {
            if self.body_remaining > 0 {
                let step = self.body_remaining.min(data.len() - offset);
                self.body_remaining -= step;
                offset += step;
                continue;
            }
            if self.header_filled == 0 && data[offset] == 1 {
                // The compressed flag, cleared for tonic; remembered for the handler.
                rewritten.get_or_insert_with(|| data.to_vec())[offset] = 0;
            }
            let step = (5 - self.header_filled).min(data.len() - offset);
            self.header[self.header_filled..self.header_filled + step].copy_from_slice(&data[offset..offset + step]);
            self.header_filled += step;
            offset += step;
            if self.header_filled == 5 {
                self.header_filled = 0;
                self.start_message()?;
            }
        }
        Ok(rewritten.map_or(data, Bytes::from))
    }

    fn start_message(&mut self) -> Result<(), tonic::Status> {
        self.messages += 1;
        if self.messages > 1 {
            return Err(tonic::Status::invalid_argument(
                "an Export call carries exactly one request message",
            ));
        }
        let compressed = match self.header[0] {
            0 => false,
            1 if self.gzip_stream => true,
            1 => {
                return Err(tonic::Status::internal(
                    "protocol error: received message with compressed-flag but no grpc-encoding was specified",
                ))
            }
            flag => {
                return Err(tonic::Status::internal(format!(
                    "protocol error: received message with invalid compression flag: {flag} (valid flags are 0 and 1)"
                )))
            }
        };
        let len = u32::from_be_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]) as usize;
        if len > self.limit {
            return Err(tonic::Status::resource_exhausted(format!(
                "{}message of {len} bytes exceeds the gRPC limit of {} bytes (--grpc-max-message-bytes)",
                if compressed { "compressed " } else { "" },
                self.limit
            )));
        }
        self.inbound.compressed.store(compressed, Ordering::SeqCst);
        // tonic buffers the message, then the codec copies it out: twice its length.
        self.inbound
            .reservation
            .grow_to(len.saturating_mul(2))
            .map_err(|error| status_from(error.into()))?;
        self.body_remaining = len;
        Ok(())
    }
}

impl HttpBody for MessageGuard {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => Poll::Ready(Some(this.inspect(data).map(Frame::data))),
                Err(other) => Poll::Ready(Some(Ok(other))),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Decodes nothing: hands the handler the message bytes; encodes the OTLP response.
struct RawMessageCodec<R>(PhantomData<fn() -> R>);

impl<R> Default for RawMessageCodec<R> {
    fn default() -> Self {
        RawMessageCodec(PhantomData)
    }
}

impl<R: Message + Send + 'static> Codec for RawMessageCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = ResponseEncoder<R>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ResponseEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        use bytes::Buf;
        let len = buf.remaining();
        Ok(Some(buf.copy_to_bytes(len)))
    }
}

struct ResponseEncoder<R>(PhantomData<fn() -> R>);

impl<R: Message> Encoder for ResponseEncoder<R> {
    type Item = R;
    type Error = tonic::Status;

    fn encode(&mut self, item: R, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        item.encode(buf)
            .map_err(|error| tonic::Status::internal(format!("encoding the response: {error}")))
    }
}

/// `google.rpc.Status`, for the `grpc-status-details-bin` trailer (clients and tests
/// read a refusal's retry delay with these messages too).
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// Maps an API error to a gRPC status (the same table as HTTP).
pub fn status_from(error: ApiError) -> tonic::Status {
    use tonic::Code;
    let (code, retry_after) = match &error {
        ApiError::BadRequest(_) => (Code::InvalidArgument, None),
        ApiError::Unauthorized(_) => (Code::Unauthenticated, None),
        ApiError::Forbidden(_) => (Code::PermissionDenied, None),
        ApiError::NotFound(_) => (Code::NotFound, None),
        ApiError::PayloadTooLarge(_) => (Code::InvalidArgument, None),
        ApiError::UnsupportedMediaType(_) => (Code::InvalidArgument, None),
        ApiError::TooManyRequests(_, seconds) => (Code::ResourceExhausted, Some(*seconds)),
        ApiError::Unavailable(_, seconds) => (Code::Unavailable, Some(*seconds)),
        ApiError::Internal(inner) => {
            tracing::error!(error = %inner, "internal error");
            (Code::Internal, None)
        }
    };
    let message = error.to_string();
    match retry_after {
        Some(seconds) => {
            let retry = RetryInfo {
                retry_delay: Some(ProtoDuration {
                    seconds: seconds as i64,
                    nanos: 0,
                }),
            };
            let details = RpcStatus {
                code: code as i32,
                message: message.clone(),
                details: vec![ProtoAny {
                    type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                    value: retry.encode_to_vec(),
                }],
            };
            tonic::Status::with_details(code, message, details.encode_to_vec().into())
        }
        None => tonic::Status::new(code, message),
    }
}
