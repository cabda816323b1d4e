//! One normalized export request in, an OTLP response out — the same for the HTTP and
//! the gRPC adapter. The response is returned only once every accepted span is durable.

use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};

use crate::app::AppState;
use crate::error::ApiError;
use crate::ingest::logs::NormalizedLog;
use crate::ingest::{LogRejection, NormalizedSpan, SpanRejection};
use crate::provenance::governance::Linker;
use crate::store::{AppendItem, Tenant};

/// Commits a normalized trace export for `tenant` (see [`super::admission`] for how it
/// was decoded and normalized); answers once every accepted span is durable.
pub async fn commit_traces(
    state: &AppState,
    tenant: &Tenant,
    (accepted, rejected): (Vec<NormalizedSpan>, Vec<SpanRejection>),
) -> Result<ExportTraceServiceResponse, ApiError> {
    if accepted.is_empty() && !rejected.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "all {} spans were rejected: {}",
            rejected.len(),
            summarize_rejections(&rejected)
        )));
    }
    let accepted_count = accepted.len();
    if accepted_count > 0 {
        let linker = linker_for(state, tenant).await?;
        let items = accepted
            .into_iter()
            .map(|span| span_append_item(tenant, span, &linker))
            .collect();
        let receipt = state.sequencer.submit(tenant, items).await?;
        tracing::info!(
            tenant = %tenant.name,
            spans = accepted_count,
            new = crate::sequencer::count_new(&receipt),
            rejected = rejected.len(),
            tree_size = receipt.tree_size,
            "spans committed"
        );
    }
    let partial_success = (!rejected.is_empty()).then(|| ExportTracePartialSuccess {
        rejected_spans: rejected.len() as i64,
        error_message: summarize_rejections(&rejected),
    });
    Ok(ExportTraceServiceResponse { partial_success })
}

/// The append item for a normalized span: linked to its pipeline version, deduplicated
/// by trace id + span id, indexed for queries, outputs indexed by keyed digest.
pub fn span_append_item(tenant: &Tenant, span: NormalizedSpan, linker: &Linker) -> AppendItem {
    let trace_id = span.trace_id.to_hex();
    let span_id = span.span_id.to_hex();
    let output_digests = crate::provenance::lookup::output_index_digests(&tenant.lookup_secret, &span.outputs);
    let start_ns = i64::try_from(span.start_time_unix_nano).unwrap_or(i64::MAX);
    let link = linker.link(&span.body, start_ns);
    let mut body = span.body;
    if let serde_json::Value::Object(object) = &mut body {
        object.insert("link".into(), crate::provenance::link_json(&link));
    }
    let span_row = crate::provenance::span_row(&body);
    AppendItem {
        entry: crate::ledger::batch::PendingEntry {
            entry_type: "span".into(),
            body,
        },
        contents: span.contents,
        dedupe_key: Some(format!("span:{trace_id}:{span_id}")),
        trace_id: Some(trace_id),
        span_id: Some(span_id),
        output_digests,
        span_row: Some(span_row),
        governance: None,
    }
}

/// The governance state used to link spans: the pipeline versions and deployments as
/// their ledger entries say (rows checked against entries, so a forged row cannot make
/// new spans carry a forged link). Four small reads per request.
pub async fn linker_for(state: &AppState, tenant: &Tenant) -> Result<Linker, ApiError> {
    use crate::provenance::evidence::verified_governance;
    use crate::provenance::governance::{DEPLOYMENT, PIPELINE_VERSION};
    let versions = verified_governance(state.store.as_ref(), tenant, PIPELINE_VERSION).await?;
    let deployments = verified_governance(state.store.as_ref(), tenant, DEPLOYMENT).await?;
    Ok(Linker::new(versions.records, deployments.records))
}

/// A short, bounded list of rejection reasons for partial success and errors.
pub fn summarize_rejections<T: std::fmt::Display>(rejected: &[T]) -> String {
    const SHOWN: usize = 10;
    let mut parts: Vec<String> = rejected.iter().take(SHOWN).map(ToString::to_string).collect();
    if rejected.len() > SHOWN {
        parts.push(format!("and {} more", rejected.len() - SHOWN));
    }
    parts.join("; ")
}

/// Commits a normalized logs export for `tenant`: each record becomes a `log` entry
/// linked to its span by trace and span id, content committed like span content.
pub async fn commit_logs(
    state: &AppState,
    tenant: &Tenant,
    (accepted, rejected): (Vec<(NormalizedLog, [u8; 32])>, Vec<LogRejection>),
) -> Result<ExportLogsServiceResponse, ApiError> {
    if accepted.is_empty() && !rejected.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "all {} log records were rejected: {}",
            rejected.len(),
            summarize_rejections(&rejected)
        )));
    }
    if !accepted.is_empty() {
        let count = accepted.len();
        let items = accepted
            .into_iter()
            .map(|(log, fingerprint)| AppendItem {
                output_digests: crate::provenance::lookup::output_index_digests(&tenant.lookup_secret, &log.outputs),
                entry: crate::ledger::batch::PendingEntry {
                    entry_type: "log".into(),
                    body: log.body,
                },
                contents: log.contents,
                trace_id: log.trace_id.map(|id| id.to_hex()),
                span_id: log.span_id.map(|id| id.to_hex()),
                // Keyed, so the stored key reveals nothing about the content.
                dedupe_key: Some(format!(
                    "log:{}",
                    hex::encode(crate::provenance::lookup::keyed_digest(
                        &tenant.lookup_secret,
                        &fingerprint
                    ))
                )),
                ..AppendItem::default()
            })
            .collect();
        let receipt = state.sequencer.submit(tenant, items).await?;
        tracing::info!(
            tenant = %tenant.name,
            log_records = count,
            new = crate::sequencer::count_new(&receipt),
            rejected = rejected.len(),
            tree_size = receipt.tree_size,
            "log records committed"
        );
    }
    let partial_success = (!rejected.is_empty()).then(|| ExportLogsPartialSuccess {
        rejected_log_records: rejected.len() as i64,
        error_message: summarize_rejections(&rejected),
    });
    Ok(ExportLogsServiceResponse { partial_success })
}
