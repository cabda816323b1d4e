//! Governance endpoints: register and read pipeline versions, proof bundles,
//! deployments and CI keys. Every record is a ledger entry; registering the same
//! record twice returns the existing one (200) instead of creating another (201).
//!
//! Reads serve what the ledger entries say: each `governance` index row is checked
//! against its entry (`evidence::verified_governance`), a row that disagrees is flagged
//! (`index_mismatch`, `index_mismatches`) and never served as a fact.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::auth::Caller;
use super::openapi::{
    BadRequest, Forbidden, GovernanceRecord, GovernanceRecords, GovernanceWrite, InternalError, NotFound,
    TooManyRequests, Unauthorized, Unavailable,
};
use crate::domain::Scope;
use crate::error::ApiError;
use crate::provenance::evidence::{verified_governance, VerifiedGovernance};
use crate::provenance::governance::{
    self, CiKeyRequest, DeploymentRequest, InvalidRecord, PipelineVersionRequest, ProofBundleRequest, CI_KEY,
    DEPLOYMENT, PIPELINE_VERSION, PROOF_BUNDLE,
};
use crate::state::AppState;
use crate::store::{AppendItem, AppendedAs, Tenant};

fn parse<T: DeserializeOwned>(body: Result<Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value)
        .map_err(|error| ApiError::BadRequest(error.body_text()))
}

fn invalid(error: InvalidRecord) -> ApiError {
    ApiError::BadRequest(error.0)
}

async fn append(
    state: &AppState,
    tenant: &Tenant,
    kind: &str,
    id: String,
    item: AppendItem,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = item.entry.body.clone();
    let receipt = state.sequencer.submit(tenant, vec![item]).await?;
    let (status, index) = match receipt.indexes.first() {
        Some(AppendedAs::New(index)) => (StatusCode::CREATED, *index),
        Some(AppendedAs::Duplicate(index)) => (StatusCode::OK, *index),
        None => return Err(ApiError::Internal(anyhow::anyhow!("empty receipt"))),
    };
    tracing::info!(tenant = %tenant.name, kind, id = %id, entry_index = index, "governance record");
    let record: Value = if status == StatusCode::OK {
        // The stored record (identical content) is the one in the ledger.
        verified_governance(state.store.as_ref(), tenant, kind)
            .await?
            .records
            .into_iter()
            .find(|record| record.row.id == id)
            .and_then(|record| serde_json::from_str(&record.row.body).ok())
            .unwrap_or(body)
    } else {
        body
    };
    Ok((
        status,
        Json(json!({"id": id, "entry_index": index, "created": status == StatusCode::CREATED, "record": record})),
    ))
}

/// A record as served: its entry's body, flagged when its index row disagreed with it.
fn record_json(record: &crate::store::GovernanceRecord, verified: &VerifiedGovernance) -> Value {
    let body: Value = serde_json::from_str(&record.row.body).unwrap_or(Value::Null);
    let mut shown = json!({"id": record.row.id, "entry_index": record.entry_index, "record": body});
    if verified.mismatched(record.entry_index) {
        shown["index_mismatch"] = Value::Bool(true);
    }
    shown
}

/// Every record of `kind`, as its ledger entry says; rows that disagree with their
/// entries are named in `index_mismatches`.
async fn list(state: &AppState, tenant: &Tenant, kind: &str) -> Result<Json<Value>, ApiError> {
    let verified = verified_governance(state.store.as_ref(), tenant, kind).await?;
    let records: Vec<Value> = verified
        .records
        .iter()
        .map(|record| record_json(record, &verified))
        .collect();
    let mut answer = json!({ "records": records });
    if !verified.mismatches.is_empty() {
        answer["index_mismatches"] = json!(verified.mismatches);
    }
    Ok(Json(answer))
}

async fn get_one(state: &AppState, tenant: &Tenant, kind: &str, id: &str) -> Result<Json<Value>, ApiError> {
    let verified = verified_governance(state.store.as_ref(), tenant, kind).await?;
    let record = verified
        .records
        .iter()
        .find(|record| record.row.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("{kind} {id}")))?;
    Ok(Json(record_json(record, &verified)))
}

/// Register a pipeline version
///
/// Content addressed: the same configuration always gets the same id, and registering
/// it again returns the existing record (200) instead of a new entry (201). Spans are
/// linked to it by `traceledger.pipeline.name`/`version` or `service.name`/`version`.
/// Scope `admin`.
#[utoipa::path(
    post,
    path = "/v1/pipeline-versions",
    operation_id = "create_pipeline_version",
    tag = "governance",
    security(("bearer" = ["admin"])),
    request_body(content = PipelineVersionRequest, example = json!(crate::api::openapi::examples::pipeline_version_request())),
    responses(
        (status = 201, description = "Registered: a new ledger entry.", body = GovernanceWrite),
        (status = 200, description = "Already registered: the existing record.", body = GovernanceWrite),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn create_pipeline_version(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<PipelineVersionRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = caller.require(Scope::Admin)?.clone();
    let request = parse(body)?;
    let (id, item) = governance::pipeline_version_item(&request).map_err(invalid)?;
    append(&state, &tenant, PIPELINE_VERSION, id, item).await
}

/// List pipeline versions
///
/// Scope `audit:read`.
#[utoipa::path(
    get,
    path = "/v1/pipeline-versions",
    operation_id = "list_pipeline_versions",
    tag = "governance",
    security(("bearer" = ["audit:read"])),
    responses(
        (status = 200, description = "Every pipeline version of the tenant.", body = GovernanceRecords),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn list_pipeline_versions(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    list(&state, &tenant, PIPELINE_VERSION).await
}

/// One pipeline version
///
/// Scope `audit:read`.
#[utoipa::path(
    get,
    path = "/v1/pipeline-versions/{id}",
    operation_id = "get_pipeline_version",
    tag = "governance",
    security(("bearer" = ["audit:read"])),
    params(("id" = String, Path, description = "Pipeline version id (`pv_` + 32 hex digits).")),
    responses(
        (status = 200, description = "The pipeline version.", body = GovernanceRecord),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn get_pipeline_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    get_one(&state, &tenant, PIPELINE_VERSION, &id).await
}

/// Register a proof bundle
///
/// The evidence a pipeline version was approved: evaluations, test runs, approvals,
/// artifact digests, and optionally a DSSE `attestation` that must verify against a
/// key registered at `/v1/ci-keys`. The pipeline version must be registered.
/// Re-registering returns the existing record (200). Scope `admin`.
#[utoipa::path(
    post,
    path = "/v1/proof-bundles",
    operation_id = "create_proof_bundle",
    tag = "governance",
    security(("bearer" = ["admin"])),
    request_body(content = ProofBundleRequest, example = json!(crate::api::openapi::examples::proof_bundle_request())),
    responses(
        (status = 201, description = "Registered: a new ledger entry.", body = GovernanceWrite),
        (status = 200, description = "Already registered: the existing record.", body = GovernanceWrite),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn create_proof_bundle(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<ProofBundleRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = caller.require(Scope::Admin)?.clone();
    let request = parse(body)?;
    let versions = verified_governance(state.store.as_ref(), &tenant, PIPELINE_VERSION)
        .await?
        .records;
    let ci_keys = verified_governance(state.store.as_ref(), &tenant, CI_KEY)
        .await?
        .records;
    let (id, item) = governance::proof_bundle_item(&request, &versions, &ci_keys).map_err(invalid)?;
    append(&state, &tenant, PROOF_BUNDLE, id, item).await
}

/// List proof bundles
///
/// Scope `audit:read`.
#[utoipa::path(
    get,
    path = "/v1/proof-bundles",
    operation_id = "list_proof_bundles",
    tag = "governance",
    security(("bearer" = ["audit:read"])),
    responses(
        (status = 200, description = "Every proof bundle of the tenant.", body = GovernanceRecords),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn list_proof_bundles(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    list(&state, &tenant, PROOF_BUNDLE).await
}

/// Register a deployment
///
/// What is live where: spans without explicit pipeline attributes are linked to the
/// deployment live in their environment at their start time. The pipeline version
/// must be registered. Scope `admin`.
#[utoipa::path(
    post,
    path = "/v1/deployments",
    operation_id = "create_deployment",
    tag = "governance",
    security(("bearer" = ["admin"])),
    request_body(content = DeploymentRequest, example = json!(crate::api::openapi::examples::deployment_request())),
    responses(
        (status = 201, description = "Registered: a new ledger entry.", body = GovernanceWrite),
        (status = 200, description = "Already registered: the existing record.", body = GovernanceWrite),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn create_deployment(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<DeploymentRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = caller.require(Scope::Admin)?.clone();
    let request = parse(body)?;
    let versions = verified_governance(state.store.as_ref(), &tenant, PIPELINE_VERSION)
        .await?
        .records;
    let now = crate::store::now_rfc3339();
    let (id, item) = governance::deployment_item(&request, &versions, &now).map_err(invalid)?;
    append(&state, &tenant, DEPLOYMENT, id, item).await
}

/// List deployments
///
/// Scope `audit:read`.
#[utoipa::path(
    get,
    path = "/v1/deployments",
    operation_id = "list_deployments",
    tag = "governance",
    security(("bearer" = ["audit:read"])),
    responses(
        (status = 200, description = "Every deployment of the tenant.", body = GovernanceRecords),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn list_deployments(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    list(&state, &tenant, DEPLOYMENT).await
}

/// Register a CI key
///
/// An Ed25519 public key whose DSSE attestations proof bundles may carry. Scope `admin`.
#[utoipa::path(
    post,
    path = "/v1/ci-keys",
    operation_id = "create_ci_key",
    tag = "governance",
    security(("bearer" = ["admin"])),
    request_body(content = CiKeyRequest, example = json!(crate::api::openapi::examples::ci_key_request())),
    responses(
        (status = 201, description = "Registered: a new ledger entry.", body = GovernanceWrite),
        (status = 200, description = "Already registered: the existing record.", body = GovernanceWrite),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn create_ci_key(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CiKeyRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = caller.require(Scope::Admin)?.clone();
    let request = parse(body)?;
    let (id, item) = governance::ci_key_item(&request).map_err(invalid)?;
    append(&state, &tenant, CI_KEY, id, item).await
}

/// List CI keys
///
/// Scope `audit:read`.
#[utoipa::path(
    get,
    path = "/v1/ci-keys",
    operation_id = "list_ci_keys",
    tag = "governance",
    security(("bearer" = ["audit:read"])),
    responses(
        (status = 200, description = "Every CI key of the tenant.", body = GovernanceRecords),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn list_ci_keys(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    list(&state, &tenant, CI_KEY).await
}
