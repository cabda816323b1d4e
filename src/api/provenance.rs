//! The audit API: provenance search, trace trees and span search.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::openapi::{
    BadRequest, Forbidden, InternalError, NotFound, ProvenanceReport, ProvenanceSearchResult, SpanPage, Unauthorized,
    Unavailable,
};
use crate::auth::has_scope;
use crate::domain::{Scope, TraceId};
use crate::error::ApiError;
pub use crate::provenance::evidence::SearchRequest;
use crate::provenance::evidence::{latest_checkpoint, proven_governance, revealed_contents, select, trace_evidence};
use crate::provenance::report::{build_report, IndexMismatch};
use crate::state::AppState;
use crate::store::SpanQuery;

/// Find what produced an output
///
/// Exactly one selector: the output text exactly as the application returned it, its
/// SHA-256, or a trace id. Answers, per matching trace (at most 20), the provenance
/// report: span tree, prompts, retrievals, model and tool calls, guardrails, linked
/// logs, pipeline version / deployment / proof bundles, and every entry's inclusion
/// proof with a server-side verification status. Content is revealed only to keys
/// with `audit:content`. Scope `audit:read`.
#[utoipa::path(
    post,
    path = "/v1/provenance/search",
    operation_id = "search_provenance",
    tag = "provenance",
    security(("bearer" = ["audit:read"])),
    request_body(
        content = SearchRequest,
        examples(
            ("output" = (summary = "By output text", value = json!({"output": "Yes. Order 1234 was delivered on 2 January."}))),
            ("output_sha256" = (summary = "By the output's SHA-256", value = json!({"output_sha256": "d33f2fc58d43a41d1ece2cf6b5f72eb9d6de387e38fc0ec96168babad7e16a13"}))),
            ("trace_id" = (summary = "By trace id", value = json!({"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}))),
        ),
    ),
    responses(
        (status = 200, description = "One report per matching trace (none when nothing matched).", body = ProvenanceSearchResult),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<SearchRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?.clone();
    let Json(request) = body.map_err(|error| ApiError::BadRequest(error.body_text()))?;
    let selection = select(state.store.as_ref(), &tenant, &request, true).await?;
    let reveal = has_scope(&caller.0, Scope::AuditContent);
    let Some(checkpoint) = latest_checkpoint(state.store.as_ref(), &state.signing_key, &tenant).await? else {
        return Ok(Json(json!({"results": []})));
    };
    let governance = proven_governance(state.store.as_ref(), &tenant, &checkpoint).await?;
    let mut results = Vec::new();
    for (trace_id, matched) in &selection.traces {
        let entries = trace_evidence(state.store.as_ref(), &tenant, trace_id, &checkpoint).await?;
        if entries.is_empty() {
            continue;
        }
        let revealed = if reveal {
            revealed_contents(state.store.as_ref(), &tenant, &entries).await?
        } else {
            HashMap::new()
        };
        let mismatches: Vec<IndexMismatch> = selection
            .mismatches
            .iter()
            .filter(|(trace, _)| trace.as_deref() == Some(trace_id.as_str()))
            .map(|(_, mismatch)| mismatch.clone())
            .collect();
        results.push(build_report(
            trace_id,
            &entries,
            matched,
            &governance,
            &revealed,
            &checkpoint,
            &mismatches,
        ));
    }
    tracing::info!(tenant = %tenant.name, key = %caller.0.id, results = results.len(), "provenance search");
    let mut answer = json!({
        "output_sha256": selection.output_sha256.map(hex::encode),
        "matched": selection.matched_form,
        "results": results,
    });
    if !selection.mismatches.is_empty() {
        let mismatches: Vec<&IndexMismatch> = selection.mismatches.iter().map(|(_, mismatch)| mismatch).collect();
        answer["index_mismatches"] = json!(mismatches);
    }
    Ok(Json(answer))
}

/// The provenance report of one trace
///
/// The same report as a search by trace id. Scope `audit:read`.
#[utoipa::path(
    get,
    path = "/v1/traces/{trace_id}",
    operation_id = "get_trace",
    tag = "provenance",
    security(("bearer" = ["audit:read"])),
    params(("trace_id" = String, Path, description = "Trace id (32 hex digits).", example = "4bf92f3577b34da6a3ce929d0e0e4736")),
    responses(
        (status = 200, description = "The trace's provenance report.", body = ProvenanceReport),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
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
    let checkpoint = latest_checkpoint(state.store.as_ref(), &state.signing_key, &tenant)
        .await?
        .ok_or_else(not_found)?;
    let entries = trace_evidence(state.store.as_ref(), &tenant, &trace_id, &checkpoint).await?;
    if entries.is_empty() {
        return Err(not_found());
    }
    let revealed = if has_scope(&caller.0, Scope::AuditContent) {
        revealed_contents(state.store.as_ref(), &tenant, &entries).await?
    } else {
        HashMap::new()
    };
    let governance = proven_governance(state.store.as_ref(), &tenant, &checkpoint).await?;
    Ok(Json(build_report(
        &trace_id,
        &entries,
        &[],
        &governance,
        &revealed,
        &checkpoint,
        &[],
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
    crate::domain::rfc3339_to_unix_nanos(text)
        .ok_or_else(|| ApiError::BadRequest(format!("{field} must be an RFC 3339 time")))
}

fn ms_to_ns(value: f64, field: &str) -> Result<i64, ApiError> {
    if !value.is_finite() || value < 0.0 {
        return Err(ApiError::BadRequest(format!("{field} must be a non-negative number")));
    }
    Ok((value * 1e6).min(i64::MAX as f64) as i64)
}

/// Search spans
///
/// Filtered span search, newest first, cursor-paginated. Scope `audit:read`.
#[utoipa::path(
    get,
    path = "/v1/spans",
    operation_id = "search_spans",
    tag = "provenance",
    security(("bearer" = ["audit:read"])),
    params(SpansQuery),
    responses(
        (status = 200, description = "A page of spans.", body = SpanPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = InternalError),
        (status = 503, response = Unavailable),
    ),
)]
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
    // The cursor is a position in the index, so it comes from the rows as stored.
    let next_cursor = (records.len() as i64 == limit)
        .then(|| {
            records
                .last()
                .map(|record| format!("{}.{}", record.row.start_ns, record.entry_index))
        })
        .flatten();
    let (checked, mismatches) = check_span_rows(&state, &tenant, &filter, records).await?;
    let spans: Vec<Value> = checked
        .iter()
        .map(|(entry_index, row, mismatched)| {
            let mut span = json!({
                "entry_index": entry_index,
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
            });
            if *mismatched {
                span["index_mismatch"] = Value::Bool(true);
            }
            span
        })
        .collect();
    let mut page = json!({"spans": spans, "next_cursor": next_cursor});
    if !mismatches.is_empty() {
        page["index_mismatches"] = json!(mismatches);
    }
    Ok(Json(page))
}

/// Checks each served `spans` row against its entry (one read of the page's entries):
/// the values served are the entry's (`provenance::span_row`), a row that disagrees with
/// its entry — or that matched the query only by a value its entry does not have — is
/// flagged, and a row whose entry is not a readable span is left out.
async fn check_span_rows(
    state: &AppState,
    tenant: &crate::store::Tenant,
    filter: &SpanQuery,
    records: Vec<crate::store::SpanRecord>,
) -> Result<(Vec<(u64, crate::store::SpanRow, bool)>, Vec<IndexMismatch>), ApiError> {
    use crate::ledger::entry::leaf_hash;
    let indexes: Vec<u64> = records.iter().map(|record| record.entry_index).collect();
    let entries: HashMap<u64, crate::store::StoredEntry> = state
        .store
        .entries_at(tenant, &indexes)
        .await?
        .into_iter()
        .map(|entry| (entry.index, entry))
        .collect();
    let mut checked = Vec::with_capacity(records.len());
    let mut mismatches = Vec::new();
    for record in records {
        let index = record.entry_index;
        // One plain parse: the bytes are tied to the log by their leaf hash; their
        // canonical form is the audit's to check, not every page's.
        let body = entries
            .get(&index)
            .filter(|stored| stored.leaf_hash == leaf_hash(&stored.entry_bytes).0)
            .and_then(|stored| serde_json::from_slice::<Value>(&stored.entry_bytes).ok())
            .filter(|entry| entry["type"] == "span")
            .map(|mut entry| entry["body"].take());
        let Some(body) = body else {
            tracing::warn!(tenant = %tenant.name, table = "spans", entry_index = index, "index row does not match its entry");
            mismatches.push(IndexMismatch::new(
                "spans",
                index,
                "the row names an entry that is not a readable span; left out",
            ));
            continue;
        };
        let derived = crate::provenance::span_row(&body);
        let mut problems = crate::provenance::span_row_differences(&record.row, &derived);
        if !filter.matches(&derived) {
            problems.push("the span matched the query only through its index rows, not by its entry".into());
        }
        let mismatched = !problems.is_empty();
        if mismatched {
            tracing::warn!(tenant = %tenant.name, table = "spans", entry_index = index, "index row does not match its entry");
            mismatches.push(IndexMismatch::new("spans", index, problems.join("; ")));
        }
        checked.push((index, derived, mismatched));
    }
    Ok((checked, mismatches))
}
