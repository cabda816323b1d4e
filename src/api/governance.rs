//! Governance endpoints: register and read pipeline versions, proof bundles,
//! deployments and CI keys. Every record is a ledger entry; registering the same
//! record twice returns the existing one (200) instead of creating another (201).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::auth::Caller;
use crate::app::AppState;
use crate::domain::Scope;
use crate::error::ApiError;
use crate::provenance::governance::{
    self, CiKeyRequest, DeploymentRequest, InvalidRecord, PipelineVersionRequest, ProofBundleRequest, CI_KEY,
    DEPLOYMENT, PIPELINE_VERSION, PROOF_BUNDLE,
};
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
        state
            .store
            .governance(tenant, kind)
            .await?
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

async fn list(state: &AppState, tenant: &Tenant, kind: &str) -> Result<Json<Value>, ApiError> {
    let records: Vec<Value> = state
        .store
        .governance(tenant, kind)
        .await?
        .into_iter()
        .map(|record| {
            let body: Value = serde_json::from_str(&record.row.body).unwrap_or(Value::Null);
            json!({"id": record.row.id, "entry_index": record.entry_index, "record": body})
        })
        .collect();
    Ok(Json(json!({ "records": records })))
}

async fn get_one(state: &AppState, tenant: &Tenant, kind: &str, id: &str) -> Result<Json<Value>, ApiError> {
    let record = state
        .store
        .governance(tenant, kind)
        .await?
        .into_iter()
        .find(|record| record.row.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("{kind} {id}")))?;
    let body: Value = serde_json::from_str(&record.row.body).unwrap_or(Value::Null);
    Ok(Json(
        json!({"id": record.row.id, "entry_index": record.entry_index, "record": body}),
    ))
}

/// `POST /v1/pipeline-versions` (scope admin).
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

/// `GET /v1/pipeline-versions`.
pub async fn list_pipeline_versions(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    list(&state, &tenant, PIPELINE_VERSION).await
}

/// `GET /v1/pipeline-versions/{id}`.
pub async fn get_pipeline_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    get_one(&state, &tenant, PIPELINE_VERSION, &id).await
}

/// `POST /v1/proof-bundles` (scope admin).
pub async fn create_proof_bundle(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<ProofBundleRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = caller.require(Scope::Admin)?.clone();
    let request = parse(body)?;
    let versions = state.store.governance(&tenant, PIPELINE_VERSION).await?;
    let ci_keys = state.store.governance(&tenant, CI_KEY).await?;
    let (id, item) = governance::proof_bundle_item(&request, &versions, &ci_keys).map_err(invalid)?;
    append(&state, &tenant, PROOF_BUNDLE, id, item).await
}

/// `GET /v1/proof-bundles`.
pub async fn list_proof_bundles(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    list(&state, &tenant, PROOF_BUNDLE).await
}

/// `POST /v1/deployments` (scope admin).
pub async fn create_deployment(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<DeploymentRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = caller.require(Scope::Admin)?.clone();
    let request = parse(body)?;
    let versions = state.store.governance(&tenant, PIPELINE_VERSION).await?;
    let now = crate::store::now_rfc3339();
    let (id, item) = governance::deployment_item(&request, &versions, &now).map_err(invalid)?;
    append(&state, &tenant, DEPLOYMENT, id, item).await
}

/// `GET /v1/deployments`.
pub async fn list_deployments(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    list(&state, &tenant, DEPLOYMENT).await
}

/// `POST /v1/ci-keys` (scope admin).
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

/// `GET /v1/ci-keys`.
pub async fn list_ci_keys(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    list(&state, &tenant, CI_KEY).await
}
