//! The Langfuse compatibility surface: what Langfuse SDKs call besides the OTLP trace
//! export (`POST /api/public/otel/v1/traces`, served by [`super::otlp_http`]).
//!
//! * `GET /api/public/projects` — the caller's tenant as the one project of its key, so
//!   the SDK's `auth_check()` passes with a traceledger key.
//!
//! Nothing else of the Langfuse public API is served (prompts, datasets, scores, the
//! legacy `/api/public/ingestion` batch endpoint, ...): those answer 404 with a problem
//! body, which the SDKs raise only where the application calls them. Tracing needs none
//! of them (docs/conventions.md, "Langfuse").

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The organization every traceledger project belongs to.
pub const ORGANIZATION: &str = "traceledger";

/// `GET /api/public/projects`: the projects of the calling key (always one).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LangfuseProjects {
    /// The caller's tenant, as a Langfuse project.
    pub data: Vec<LangfuseProject>,
}

/// A tenant seen as a Langfuse project.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LangfuseProject {
    /// The tenant name.
    pub id: String,
    /// The tenant name.
    pub name: String,
    /// Always `{"id": "traceledger", "name": "traceledger"}`.
    pub organization: LangfuseOrganization,
    /// Always `{}`.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The organization of a [`LangfuseProject`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LangfuseOrganization {
    /// `traceledger`.
    pub id: String,
    /// `traceledger`.
    pub name: String,
}

/// The project of the calling key (Langfuse `auth_check()`)
///
/// Langfuse SDKs check their credentials with this call (`Langfuse().auth_check()`). The
/// answer is the caller's tenant as the one project of its key. Any valid key works,
/// whatever its scopes, with Basic auth (user = tenant name or key id, password = the
/// API key) or a Bearer key; no other Langfuse API endpoint is served.
#[utoipa::path(
    get,
    path = "/api/public/projects",
    operation_id = "langfuse_projects",
    tag = "ingest",
    security(("basic" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's tenant as its one project.", body = LangfuseProjects,
            example = json!({"data": [{"id": "default", "name": "default",
                "organization": {"id": "traceledger", "name": "traceledger"}, "metadata": {}}]})),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn projects(State(_state): State<AppState>, caller: Caller) -> Result<Json<LangfuseProjects>, ApiError> {
    let tenant = caller.0.tenant.name.to_string();
    Ok(Json(LangfuseProjects {
        data: vec![LangfuseProject {
            id: tenant.clone(),
            name: tenant,
            organization: LangfuseOrganization {
                id: ORGANIZATION.to_owned(),
                name: ORGANIZATION.to_owned(),
            },
            metadata: serde_json::Map::new(),
        }],
    }))
}
