//! `POST /v1/exports`: a signed audit bundle (DESIGN §5) as the response body.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::Caller;
use crate::auth::has_scope;
use crate::domain::Scope;
use crate::error::ApiError;
use crate::provenance::export::{export, ExportRequest, Exporter};
use crate::state::AppState;

/// Export a signed audit bundle
///
/// Selects traces by output text, output digest, trace id(s), or by span start time and
/// pipeline version, and answers with the bundle: a DSSE envelope over an in-toto
/// statement holding the signed checkpoint, every selected entry with its inclusion proof,
/// the linked pipeline version / deployment / proof bundle entries, and — for keys with
/// `audit:content` — the revealed contents that prove the outputs in question.
/// Needs the `export` scope. Verify it offline with `traceledger verify FILE`.
#[utoipa::path(
    post,
    path = "/v1/exports",
    operation_id = "export_bundle",
    tag = "provenance",
    request_body(content = ExportRequest, content_type = "application/json",
        example = json!({"output": "Yes. Order 1234 was delivered on 2026-01-02 and our refund window is 30 days from delivery, so you can request a refund until 2026-02-01."})),
    responses(
        (status = 200, description = "The bundle (DSSE envelope JSON).", content_type = "application/json", body = Object),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, response = crate::api::openapi::Forbidden),
        (status = 429, response = crate::api::openapi::TooManyRequests),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable),
    ),
    security(("bearer" = ["export"])),
)]
pub async fn create_export(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<ExportRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let tenant = caller.require(Scope::Export)?.clone();
    let Json(request) = body.map_err(|error| ApiError::BadRequest(error.body_text()))?;
    let exporter = Exporter {
        store: state.store.as_ref(),
        signing_key: &state.signing_key,
        tenant: &tenant,
        principal: caller.0.id.clone(),
        reveal_content: has_scope(&caller.0, Scope::AuditContent),
    };
    let result = export(&exporter, &request, &|_, _| {}).await?;
    tracing::info!(
        tenant = %tenant.name,
        key = %caller.0.id,
        traces = result.traces,
        entries = result.entries,
        subjects = result.subjects,
        "bundle exported"
    );
    // One Ed25519 signature covers the whole payload, so the bundle is built in memory
    // (exports are bounded: at most 1000 traces); the body is then streamed in chunks.
    let chunks: Vec<Result<axum::body::Bytes, std::convert::Infallible>> = result
        .bundle
        .chunks(64 * 1024)
        .map(|chunk| Ok(axum::body::Bytes::copy_from_slice(chunk)))
        .collect();
    let body = axum::body::Body::from_stream(tokio_stream::iter(chunks));
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"traceledger-bundle.json\""),
    );
    Ok(response)
}
