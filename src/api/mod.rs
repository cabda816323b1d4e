//! The HTTP API: one router, problem+json errors, bearer-key auth on everything but
//! health checks, `/v1/keys` and the docs.

pub mod auth;
pub mod export;
pub mod governance;
pub mod langfuse;
pub mod ledger;
pub mod openapi;
pub mod otlp_http;
pub mod provenance;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// Builds the router.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi::openapi_document))
        .merge(openapi::swagger_ui())
        .route("/v1/keys", get(ledger::keys))
        .route("/v1/ledger/checkpoint", get(ledger::checkpoint))
        .route("/v1/ledger/entries", get(ledger::entries))
        .route("/v1/ledger/proofs/inclusion", get(ledger::inclusion))
        .route("/v1/ledger/proofs/consistency", get(ledger::consistency))
        .route("/v1/traces", post(otlp_http::export_traces))
        .route("/v1/logs", post(otlp_http::export_logs))
        // Langfuse SDKs post OTLP here (with Basic auth): only the host changes.
        .route("/api/public/otel/v1/traces", post(otlp_http::export_traces))
        .route("/api/public/projects", get(langfuse::projects))
        .route("/v1/provenance/search", post(provenance::search))
        .route("/v1/traces/{trace_id}", get(provenance::trace))
        .route("/v1/spans", get(provenance::spans))
        .route("/v1/exports", post(export::create_export))
        .route(
            "/v1/pipeline-versions",
            post(governance::create_pipeline_version).get(governance::list_pipeline_versions),
        )
        .route("/v1/pipeline-versions/{id}", get(governance::get_pipeline_version))
        .route(
            "/v1/proof-bundles",
            post(governance::create_proof_bundle).get(governance::list_proof_bundles),
        )
        .route(
            "/v1/deployments",
            post(governance::create_deployment).get(governance::list_deployments),
        )
        .route(
            "/v1/ci-keys",
            post(governance::create_ci_key).get(governance::list_ci_keys),
        )
        .fallback(not_found)
        // The ingest handler enforces the limit itself (with a 413 problem); this is the backstop.
        .layer(axum::extract::DefaultBodyLimit::max(max_body.saturating_add(1)))
        .with_state(state)
}

/// Liveness
///
/// Answers `ok` while the process serves HTTP. No API key needed.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    responses(
        (status = 200, description = "The server is up.", body = String, content_type = "text/plain; charset=utf-8", example = "ok"),
    ),
)]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness
///
/// Answers `ready` when the database is reachable, else 503 with `Retry-After`. No API
/// key needed.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    responses(
        (status = 200, description = "The database is reachable.", body = String, content_type = "text/plain; charset=utf-8", example = "ready"),
        (status = 500, response = openapi::InternalError),
        (status = 503, response = openapi::Unavailable),
    ),
)]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // One indexed query: cheap enough for any probe rate, and it touches real tables.
    match state.store.directory_stamp().await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}
