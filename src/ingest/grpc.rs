//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` over tonic,
//! gzip accepted. Same semantics as OTLP/HTTP (see [`super::service`]); errors map to
//! gRPC codes, and back-pressure carries a `google.rpc.RetryInfo` so SDKs retry after
//! the delay the OTLP specification asks them to honour.

use std::future::Future;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use tonic::codec::CompressionEncoding;

use crate::app::AppState;
use crate::auth::{authenticate, has_scope, AuthError};
use crate::domain::Scope;
use crate::error::ApiError;

/// The TraceService implementation.
pub struct TraceGrpc {
    state: AppState,
}

#[tonic::async_trait]
impl TraceService for TraceGrpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let tenant = authorize_ingest(&self.state, request.metadata()).await?;
        super::service::ingest_traces(&self.state, &tenant, request.into_inner())
            .await
            .map(tonic::Response::new)
            .map_err(status_from)
    }
}

/// The LogsService implementation.
pub struct LogsGrpc {
    state: AppState,
}

#[tonic::async_trait]
impl LogsService for LogsGrpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let tenant = authorize_ingest(&self.state, request.metadata()).await?;
        super::service::ingest_logs(&self.state, &tenant, request.into_inner())
            .await
            .map(tonic::Response::new)
            .map_err(status_from)
    }
}

async fn authorize_ingest(
    state: &AppState,
    metadata: &tonic::metadata::MetadataMap,
) -> Result<crate::store::Tenant, tonic::Status> {
    let token = bearer_token(metadata).map_err(|error| status_from(ApiError::from(error)))?;
    let record = authenticate(state.store.as_ref(), &token)
        .await
        .map_err(|error| status_from(ApiError::from(error)))?;
    if !has_scope(&record, Scope::Ingest) {
        return Err(status_from(AuthError::Forbidden(Scope::Ingest).into()));
    }
    Ok(record.tenant)
}

fn bearer_token(metadata: &tonic::metadata::MetadataMap) -> Result<String, AuthError> {
    let value = metadata.get("authorization").ok_or(AuthError::Missing)?;
    let text = value.to_str().map_err(|_| AuthError::Invalid)?;
    crate::api::auth::token_from_authorization(text)
}

/// The tonic service with gzip and the body limit applied.
pub fn trace_service(state: AppState) -> TraceServiceServer<TraceGrpc> {
    let limit = state.config.max_body_bytes;
    TraceServiceServer::new(TraceGrpc { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}

/// The logs service with gzip and the body limit applied.
pub fn logs_service(state: AppState) -> LogsServiceServer<LogsGrpc> {
    let limit = state.config.max_body_bytes;
    LogsServiceServer::new(LogsGrpc { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
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
        .add_service(trace_service(state.clone()))
        .add_service(logs_service(state))
        .serve_with_incoming_shutdown(tracker.incoming(listener), shutdown)
        .await?;
    tracker.wait_all_closed().await;
    Ok(())
}

/// `google.rpc.Status`, for the `grpc-status-details-bin` trailer.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
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
