//! Operations that have no handler of their own: the Langfuse alias of `POST /v1/traces`
//! (served by [`crate::api::otlp_http::export_traces`], whose own attribute documents
//! `/v1/traces`) and `/docs` (served by [`super::swagger_ui`]). Never called: they only carry the
//! `#[utoipa::path]` attributes.

use super::{
    BadRequest, Forbidden, InternalError, OtlpProtobuf, OtlpTracesRequest, OtlpTracesResponse, PayloadTooLarge,
    TooManyRequests, Unauthorized, Unavailable, UnsupportedMediaType,
};

/// OTLP/HTTP trace export for Langfuse SDKs
///
/// The same endpoint as `POST /v1/traces` at the path Langfuse SDKs post to, so only
/// the host changes. Langfuse SDKs authenticate with Basic auth: user = the tenant
/// name or the key id, password = the API key (a Bearer key works too). Scope `ingest`.
#[utoipa::path(
    post,
    path = "/api/public/otel/v1/traces",
    operation_id = "export_traces_langfuse",
    tag = "ingest",
    security(("basic" = ["ingest"]), ("bearer" = ["ingest"])),
    params(
        ("Content-Encoding" = Option<String>, Header, nullable = false, description = "`gzip` or absent (`identity`)."),
    ),
    request_body(
        description = "An OTLP `ExportTraceServiceRequest` (protobuf or JSON).",
        content(
            (OtlpProtobuf = "application/x-protobuf"),
            (OtlpTracesRequest = "application/json", example = json!(super::examples::otlp_traces_request())),
        ),
    ),
    responses(
        (status = 200, description = "Every accepted span is durable. The body is an OTLP `ExportTraceServiceResponse` in the request's encoding.",
            content(
                (OtlpProtobuf = "application/x-protobuf"),
                (OtlpTracesResponse = "application/json", example = json!({"partialSuccess": null})),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn export_traces_langfuse() {}

/// API documentation (Swagger UI)
///
/// Redirects to `/docs/`, an interactive page over this document. Its HTML, JavaScript
/// and CSS are served by this server (no CDN): it works offline.
#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "get_docs",
    tag = "docs",
    responses(
        (status = 303, description = "Redirect to `/docs/`, the Swagger UI page (`text/html`).",
            headers(("Location" = String, description = "`/docs/`"))),
    ),
)]
pub async fn docs() {}
