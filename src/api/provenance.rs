//! The audit API: provenance search, trace trees and span search.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::Caller;
use crate::app::AppState;
use crate::auth::has_scope;
use crate::domain::{Scope, TraceId};
use crate::error::ApiError;
use crate::ledger::checkpoint::{verify_checkpoint, LogSigner};
use crate::ledger::entry::{leaf_hash, Entry};
use crate::ledger::merkle;
use crate::provenance::governance::{DEPLOYMENT, PIPELINE_VERSION, PROOF_BUNDLE};
use crate::provenance::report::{build_report, Governance, ReportCheckpoint, ReportEntry};
use crate::store::{SpanQuery, Tenant};

/// Most traces returned by one search.
const MAX_TRACES: usize = 20;

/// `POST /v1/provenance/search`: exactly one selector.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The output text exactly as the application returned it.
    #[serde(default)]
    pub output: Option<String>,
    /// SHA-256 (hex) of the output text.
    #[serde(default)]
    pub output_sha256: Option<String>,
    /// A trace id (32 hex digits).
    #[serde(default)]
    pub trace_id: Option<String>,
}

/// The selected traces and the entries whose outputs matched.
pub struct Selection {
    /// Trace id (hex) → matched entry indexes.
    pub traces: Vec<(String, Vec<u64>)>,
    /// SHA-256 of the output text, when selected by output.
    pub output_sha256: Option<[u8; 32]>,
}

fn parse_sha256(text: &str) -> Result<[u8; 32], ApiError> {
    let bytes =
        hex::decode(text.trim()).map_err(|_| ApiError::BadRequest("output_sha256 must be 64 hex digits".into()))?;
    bytes
        .try_into()
        .map_err(|_| ApiError::BadRequest("output_sha256 must be 64 hex digits".into()))
}

/// Resolves a search request to traces (shared with exports).
pub async fn select(state: &AppState, tenant: &Tenant, request: &SearchRequest) -> Result<Selection, ApiError> {
    use sha2::Digest;
    let given = [
        request.output.is_some(),
        request.output_sha256.is_some(),
        request.trace_id.is_some(),
    ];
    if given.iter().filter(|present| **present).count() != 1 {
        return Err(ApiError::BadRequest(
            "give exactly one of output, output_sha256 or trace_id".into(),
        ));
    }
    if let Some(trace_id) = &request.trace_id {
        let trace_id = TraceId::parse_hex(trace_id).map_err(|error| ApiError::BadRequest(error.to_string()))?;
        return Ok(Selection {
            traces: vec![(trace_id.to_hex(), Vec::new())],
            output_sha256: None,
        });
    }
    let output_sha256: [u8; 32] = match (&request.output, &request.output_sha256) {
        (Some(text), _) => sha2::Sha256::digest(text.as_bytes()).into(),
        (None, Some(hex_digest)) => parse_sha256(hex_digest)?,
        (None, None) => return Err(ApiError::BadRequest("no selector".into())),
    };
    let digest = crate::audit::output_digest_from_sha256(&tenant.lookup_secret, &output_sha256);
    let indexes = state.store.output_entries(tenant, &digest).await?;
    let mut traces: Vec<(String, Vec<u64>)> = Vec::new();
    for entry in state.store.entries_at(tenant, &indexes).await? {
        let parsed: Value =
            serde_json::from_slice(&entry.entry_bytes).map_err(|error| ApiError::Internal(error.into()))?;
        let Some(trace_id) = parsed["body"]["trace_id"].as_str() else {
            continue;
        };
        match traces.iter_mut().find(|(id, _)| id == trace_id) {
            Some((_, matched)) => matched.push(entry.index),
            None => traces.push((trace_id.to_owned(), vec![entry.index])),
        }
    }
    traces.truncate(MAX_TRACES);
    Ok(Selection {
        traces,
        output_sha256: Some(output_sha256),
    })
}

/// The latest checkpoint, its signature checked with the server's key.
pub async fn latest_checkpoint(state: &AppState, tenant: &Tenant) -> Result<Option<ReportCheckpoint>, ApiError> {
    let Some(stored) = state.store.latest_checkpoint(tenant).await? else {
        return Ok(None);
    };
    let signer =
        LogSigner::new(&tenant.origin, state.signing_key.clone()).map_err(|error| ApiError::Internal(error.into()))?;
    // A checkpoint signed by an older key still verifies with that key; fall back to the
    // registered keys.
    let mut verified = verify_checkpoint(&stored.note, &signer.verifier_key()).ok();
    if verified.is_none() {
        for key in state.store.signing_keys().await? {
            let Ok(bytes) = <[u8; 32]>::try_from(key.public_key.as_slice()) else {
                continue;
            };
            let Ok(public) = ed25519_dalek::VerifyingKey::from_bytes(&bytes) else {
                continue;
            };
            let candidate = crate::ledger::checkpoint::verifier_key(&tenant.origin, &public);
            if let Ok(checkpoint) = verify_checkpoint(&stored.note, &candidate) {
                verified = Some(checkpoint);
                break;
            }
        }
    }
    let verified = verified.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("latest checkpoint does not verify")))?;
    Ok(Some(ReportCheckpoint {
        note: stored.note,
        size: verified.size,
        root: verified.root,
    }))
}

/// Entries of a trace with their inclusion proofs against `checkpoint` (one read for all
/// the proof hashes). Entries beyond the checkpoint are left out.
pub async fn trace_evidence(
    state: &AppState,
    tenant: &Tenant,
    trace_id: &str,
    checkpoint: &ReportCheckpoint,
) -> Result<Vec<ReportEntry>, ApiError> {
    let stored = state.store.trace_entries(tenant, trace_id).await?;
    proven_entries(state, tenant, stored, checkpoint).await
}

/// Decodes stored entries and attaches inclusion proofs against `checkpoint`.
pub async fn proven_entries(
    state: &AppState,
    tenant: &Tenant,
    stored: Vec<crate::store::StoredEntry>,
    checkpoint: &ReportCheckpoint,
) -> Result<Vec<ReportEntry>, ApiError> {
    let stored: Vec<_> = stored
        .into_iter()
        .filter(|entry| entry.index < checkpoint.size)
        .collect();
    let mut needed = Vec::new();
    for entry in &stored {
        needed.extend(
            merkle::inclusion_proof_indexes(entry.index, checkpoint.size)
                .map_err(|error| ApiError::Internal(error.into()))?,
        );
    }
    needed.sort_unstable();
    needed.dedup();
    let hashes = state.store.stored_hashes(tenant, &needed).await?;
    let mut out = Vec::with_capacity(stored.len());
    for entry in stored {
        let decoded =
            Entry::from_canonical_bytes(&entry.entry_bytes).map_err(|error| ApiError::Internal(error.into()))?;
        let proof = merkle::inclusion_proof(entry.index, checkpoint.size, &hashes)
            .map_err(|error| ApiError::Internal(error.into()))?;
        out.push(ReportEntry {
            index: entry.index,
            leaf_hash: leaf_hash(&entry.entry_bytes),
            entry: decoded,
            inclusion_proof: proof,
        });
    }
    Ok(out)
}

/// The tenant's governance records.
pub async fn governance(state: &AppState, tenant: &Tenant) -> Result<Governance, ApiError> {
    Ok(Governance {
        versions: state.store.governance(tenant, PIPELINE_VERSION).await?,
        proof_bundles: state.store.governance(tenant, PROOF_BUNDLE).await?,
        deployments: state.store.governance(tenant, DEPLOYMENT).await?,
    })
}

/// Revealed contents of the given entries (commitment → text), erased ones excluded.
pub async fn revealed_contents(
    state: &AppState,
    tenant: &Tenant,
    indexes: &[u64],
) -> Result<HashMap<String, String>, ApiError> {
    Ok(state
        .store
        .contents_of(tenant, indexes)
        .await?
        .into_iter()
        .filter_map(|content| content.content.map(|text| (content.commitment, text)))
        .collect())
}

/// `POST /v1/provenance/search`.
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<SearchRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    let Json(request) = body.map_err(|error| ApiError::BadRequest(error.body_text()))?;
    let selection = select(&state, &tenant, &request).await?;
    let reveal = has_scope(&caller.0, Scope::AuditContent);
    let Some(checkpoint) = latest_checkpoint(&state, &tenant).await? else {
        return Ok(Json(json!({"results": []})));
    };
    let governance = governance(&state, &tenant).await?;
    let mut results = Vec::new();
    for (trace_id, matched) in &selection.traces {
        let entries = trace_evidence(&state, &tenant, trace_id, &checkpoint).await?;
        if entries.is_empty() {
            continue;
        }
        let revealed = if reveal {
            let indexes: Vec<u64> = entries.iter().map(|entry| entry.index).collect();
            revealed_contents(&state, &tenant, &indexes).await?
        } else {
            HashMap::new()
        };
        results.push(build_report(
            trace_id,
            &entries,
            matched,
            &governance,
            &revealed,
            &checkpoint,
        ));
    }
    tracing::info!(tenant = %tenant.name, key = %caller.0.id, results = results.len(), "provenance search");
    Ok(Json(json!({
        "output_sha256": selection.output_sha256.map(hex::encode),
        "results": results,
    })))
}

/// `GET /v1/traces/{trace_id}`: the trace's report (tree, steps, pipeline, proofs).
pub async fn trace(
    State(state): State<AppState>,
    caller: Caller,
    Path(trace_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    let trace_id = TraceId::parse_hex(&trace_id)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?
        .to_hex();
    let not_found = || ApiError::NotFound(format!("trace {trace_id}"));
    let checkpoint = latest_checkpoint(&state, &tenant).await?.ok_or_else(not_found)?;
    let entries = trace_evidence(&state, &tenant, &trace_id, &checkpoint).await?;
    if entries.is_empty() {
        return Err(not_found());
    }
    let revealed = if has_scope(&caller.0, Scope::AuditContent) {
        let indexes: Vec<u64> = entries.iter().map(|entry| entry.index).collect();
        revealed_contents(&state, &tenant, &indexes).await?
    } else {
        HashMap::new()
    };
    let governance = governance(&state, &tenant).await?;
    Ok(Json(build_report(
        &trace_id,
        &entries,
        &[],
        &governance,
        &revealed,
        &checkpoint,
    )))
}

/// Query of `GET /v1/spans`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpansQuery {
    /// Span kind (generation, retrieval, tool, chain, agent, guardrail, embedding, rerank, other).
    pub kind: Option<String>,
    /// Trace id.
    pub trace_id: Option<String>,
    /// Minimum duration in milliseconds.
    pub min_duration_ms: Option<f64>,
    /// Maximum duration in milliseconds.
    pub max_duration_ms: Option<f64>,
    /// Model (response model, else request model).
    pub model: Option<String>,
    /// Provider.
    pub provider: Option<String>,
    /// Minimum input tokens.
    pub min_input_tokens: Option<i64>,
    /// Minimum output tokens.
    pub min_output_tokens: Option<i64>,
    /// `ok`, `error` or `unset`.
    pub status: Option<String>,
    /// Pipeline version id.
    pub pipeline_version_id: Option<String>,
    /// `true`: only spans linked to a pipeline version; `false`: only unlinked ones.
    pub linked: Option<bool>,
    /// Deployment environment.
    pub environment: Option<String>,
    /// Start at or after (RFC 3339).
    pub start_after: Option<String>,
    /// Start before (RFC 3339).
    pub start_before: Option<String>,
    /// Attribute equality `key=value` (clear string attributes; resource ones as `resource.<key>`).
    pub attribute: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

fn time_ns(text: &str, field: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|time| time.timestamp_nanos_opt())
        .ok_or_else(|| ApiError::BadRequest(format!("{field} must be an RFC 3339 time")))
}

fn ms_to_ns(value: f64, field: &str) -> Result<i64, ApiError> {
    if !value.is_finite() || value < 0.0 {
        return Err(ApiError::BadRequest(format!("{field} must be a non-negative number")));
    }
    Ok((value * 1e6).min(i64::MAX as f64) as i64)
}

/// `GET /v1/spans`: filtered span search, newest first, cursor-paginated.
pub async fn spans(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<SpansQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    let Query(query) = query.map_err(|error| ApiError::BadRequest(format!("invalid query: {}", error.body_text())))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be between 1 and 1000".into()));
    }
    let status_code = match query.status.as_deref() {
        None => None,
        Some("unset") => Some(0),
        Some("ok") => Some(1),
        Some("error") => Some(2),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "status {other:?}: use ok, error or unset"
            )))
        }
    };
    let cursor = match &query.cursor {
        None => None,
        Some(text) => {
            let (start, index) = text
                .split_once('.')
                .ok_or_else(|| ApiError::BadRequest("malformed cursor".into()))?;
            Some((
                start
                    .parse()
                    .map_err(|_| ApiError::BadRequest("malformed cursor".into()))?,
                index
                    .parse()
                    .map_err(|_| ApiError::BadRequest("malformed cursor".into()))?,
            ))
        }
    };
    let attributes = match &query.attribute {
        None => Vec::new(),
        Some(pair) => {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| ApiError::BadRequest("attribute must be key=value".into()))?;
            vec![(key.to_owned(), value.to_owned())]
        }
    };
    let trace_id = match &query.trace_id {
        Some(text) => Some(
            TraceId::parse_hex(text)
                .map_err(|error| ApiError::BadRequest(error.to_string()))?
                .to_hex(),
        ),
        None => None,
    };
    let filter = SpanQuery {
        kind: query.kind.clone(),
        trace_id,
        min_duration_ns: query
            .min_duration_ms
            .map(|ms| ms_to_ns(ms, "min_duration_ms"))
            .transpose()?,
        max_duration_ns: query
            .max_duration_ms
            .map(|ms| ms_to_ns(ms, "max_duration_ms"))
            .transpose()?,
        model: query.model.clone(),
        provider: query.provider.clone(),
        min_input_tokens: query.min_input_tokens,
        min_output_tokens: query.min_output_tokens,
        status_code,
        pipeline_version_id: query.pipeline_version_id.clone(),
        linked: query.linked,
        environment: query.environment.clone(),
        start_from_ns: query
            .start_after
            .as_deref()
            .map(|text| time_ns(text, "start_after"))
            .transpose()?,
        start_to_ns: query
            .start_before
            .as_deref()
            .map(|text| time_ns(text, "start_before"))
            .transpose()?,
        attributes,
        cursor,
        limit,
    };
    let records = state.store.search_spans(&tenant, &filter).await?;
    let next_cursor = (records.len() as i64 == limit)
        .then(|| {
            records
                .last()
                .map(|record| format!("{}.{}", record.row.start_ns, record.entry_index))
        })
        .flatten();
    let spans: Vec<Value> = records
        .iter()
        .map(|record| {
            let row = &record.row;
            json!({
                "entry_index": record.entry_index,
                "trace_id": row.trace_id,
                "span_id": row.span_id,
                "parent_span_id": row.parent_span_id,
                "name": row.name,
                "kind": row.kind,
                "start_time_unix_nano": row.start_ns.to_string(),
                "duration_ms": row.end_ns.saturating_sub(row.start_ns) as f64 / 1e6,
                "model": row.model,
                "provider": row.provider,
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "status_code": row.status_code,
                "pipeline_version_id": row.pipeline_version_id,
                "environment": row.environment,
                "link_method": row.link_method,
            })
        })
        .collect();
    Ok(Json(json!({"spans": spans, "next_cursor": next_cursor})))
}
