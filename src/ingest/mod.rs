//! Ingest: OTLP bytes in, pending ledger entries out — pure, no I/O, no web framework.
//!
//! * [`otlp`] — pure decoding of OTLP/HTTP bodies (protobuf or JSON, optionally gzip).
//! * [`wire`] — a pure walk over the wire bytes of an export: counts spans or log
//!   records and estimates the decoded and normalized memory, before anything is built.
//! * [`budget`] — the in-flight ingest memory budget shared by every request.
//! * [`normalize`] — one OTLP span to the canonical span entry body, composing:
//!   [`conventions`] (the tables of docs/conventions.md, one file per concern: span
//!   kinds, content keys, the GenAI summary, retrieval documents, outputs) and
//!   [`anyvalue`] (OTLP `AnyValue` to JSON as in OTLP/JSON).
//! * [`logs`] — one OTLP log record (a GenAI content event) to a `log` entry body.
//!
//! The transports live at the edge and call [`crate::intake`], which admits the bytes
//! under the budget and commits them through the tenant's sequencer:
//! [`crate::api::otlp_http`] (axum: `POST /v1/traces`, `/v1/logs`, the Langfuse path) and
//! [`crate::grpc`] (tonic: `TraceService/Export`, `LogsService/Export`).

pub mod anyvalue;
mod attributes;
pub mod budget;
pub mod conventions;
pub mod logs;
pub mod normalize;
pub mod otlp;
#[cfg(test)]
mod test_support;
pub mod wire;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::Serialize;
use serde_json::Value;

use crate::domain::{SpanId, TraceId};
use crate::ledger::batch::PendingEntry;
use crate::ledger::commitment::{self, CommittedContent};

/// Canonical span kinds (DESIGN §4), derived from the GenAI conventions in
/// `docs/conventions.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    /// An LLM call (chat, completion, text generation).
    Generation,
    /// Retrieval of documents (vector search, keyword search).
    Retrieval,
    /// A tool / function execution.
    Tool,
    /// A chain / workflow / pipeline step that groups others.
    Chain,
    /// An agent invocation.
    Agent,
    /// A guardrail / safety check.
    Guardrail,
    /// An embedding call.
    Embedding,
    /// A reranker call.
    Rerank,
    /// Anything else.
    Other,
}

impl SpanKind {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            SpanKind::Generation => "generation",
            SpanKind::Retrieval => "retrieval",
            SpanKind::Tool => "tool",
            SpanKind::Chain => "chain",
            SpanKind::Agent => "agent",
            SpanKind::Guardrail => "guardrail",
            SpanKind::Embedding => "embedding",
            SpanKind::Rerank => "rerank",
            SpanKind::Other => "other",
        }
    }
}

/// One piece of content committed while normalizing: where it was found and the
/// commitment, salt and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentItem {
    /// Where the content sits in the entry body, e.g. `attributes.gen_ai.input.messages`
    /// or `events[0].attributes.content` (documentation only; the commitment is the key).
    pub field: String,
    /// The commitment with its salt and content.
    pub committed: CommittedContent,
}

/// Collects the content committed while building one entry body.
#[derive(Debug, Default)]
pub struct ContentSink {
    /// The content items, in the order they were committed.
    pub items: Vec<ContentItem>,
    /// Fixed salt for reproducible tests; `None` draws a fresh random salt per item.
    fixed_salt: Option<[u8; commitment::SALT_LEN]>,
}

impl ContentSink {
    /// A sink that draws a fresh random salt for every item.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink that uses one fixed salt (tests only: real commitments need fresh salts).
    pub fn with_fixed_salt(salt: [u8; commitment::SALT_LEN]) -> Self {
        ContentSink {
            items: Vec::new(),
            fixed_salt: Some(salt),
        }
    }

    /// Commits `content` found at `field` and returns the JSON that replaces it in the
    /// entry: `{"sha256": HEX, "len": N}`.
    pub fn commit(&mut self, field: &str, content: String) -> Value {
        let committed = match self.fixed_salt {
            Some(salt) => commitment::commit_with_salt(content, salt),
            None => commitment::commit(content),
        };
        let value = serde_json::json!({
            "sha256": committed.commitment.sha256,
            "len": committed.commitment.len,
        });
        self.items.push(ContentItem {
            field: field.to_owned(),
            committed,
        });
        value
    }
}

/// A span normalized into an entry body.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedSpan {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id, if any.
    pub parent_span_id: Option<SpanId>,
    /// Canonical kind.
    pub kind: SpanKind,
    /// Span start, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// The entry body (content replaced by commitments).
    pub body: Value,
    /// Content committed in `body`.
    pub contents: Vec<ContentItem>,
    /// User id found on the span or resource (`enduser.id`, `user.id`, ...).
    pub user_id: Option<String>,
    /// Session id found on the span or resource.
    pub session_id: Option<String>,
    /// Output texts this span emitted (assistant message text of a generation span),
    /// for lookup by keyed digest.
    pub outputs: Vec<String>,
}

/// Why one span of a request was rejected (reported in OTLP partial success).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("span {index} ({name:?}): {reason}")]
pub struct SpanRejection {
    /// Position of the span in the request (resource, scope and span order flattened).
    pub index: usize,
    /// The span's name, for humans.
    pub name: String,
    /// The reason.
    pub reason: String,
}

/// A span ready for the sequencer.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedSpan {
    /// The normalized span.
    pub span: NormalizedSpan,
}

impl PreparedSpan {
    /// The pending ledger entry for this span.
    pub fn pending_entry(&self) -> PendingEntry {
        PendingEntry {
            entry_type: "span".into(),
            body: self.span.body.clone(),
        }
    }
}

/// Limits applied to every ingest request, whatever the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// Most spans (or log records) in one request; more is a 400 so the client splits.
    pub max_items_per_request: usize,
    /// Largest attribute value (bytes of strings and byte arrays, summed through arrays
    /// and maps); a span with a larger one is rejected in partial success.
    pub max_attribute_bytes: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_items_per_request: 50_000,
            max_attribute_bytes: 1024 * 1024,
        }
    }
}

/// Bytes of strings and byte arrays inside a value (what a limit on attribute size means).
pub fn any_value_bytes(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> usize {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    match &value.value {
        Some(V::StringValue(text)) => text.len(),
        Some(V::BytesValue(bytes)) => bytes.len(),
        Some(V::ArrayValue(array)) => array.values.iter().map(any_value_bytes).sum(),
        Some(V::KvlistValue(list)) => list
            .values
            .iter()
            .map(|pair| pair.key.len() + pair.value.as_ref().map_or(0, any_value_bytes))
            .sum(),
        _ => 8,
    }
}

/// The first attribute of `attributes` whose value exceeds `limit` bytes.
pub fn oversized_attribute(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    limit: usize,
) -> Option<(String, usize)> {
    attributes.iter().find_map(|pair| {
        let size = pair.value.as_ref().map_or(0, any_value_bytes);
        (size > limit).then(|| (pair.key.clone(), size))
    })
}

fn span_oversized_attribute(
    span: &opentelemetry_proto::tonic::trace::v1::Span,
    limit: usize,
) -> Option<(String, usize)> {
    oversized_attribute(&span.attributes, limit)
        .or_else(|| {
            span.events
                .iter()
                .find_map(|event| oversized_attribute(&event.attributes, limit))
        })
        .or_else(|| {
            span.links
                .iter()
                .find_map(|link| oversized_attribute(&link.attributes, limit))
        })
}

/// Number of spans in a request.
pub fn count_spans(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|resource_spans| &resource_spans.scope_spans)
        .map(|scope_spans| scope_spans.spans.len())
        .sum()
}

/// Normalizes every span of a request with the default limits.
pub fn prepare_spans(request: &ExportTraceServiceRequest) -> (Vec<NormalizedSpan>, Vec<SpanRejection>) {
    prepare_spans_with(request, &IngestLimits::default())
}

/// Normalizes every span of a request. Invalid spans are rejected one by one; the
/// valid ones are returned in request order.
pub fn prepare_spans_with(
    request: &ExportTraceServiceRequest,
    limits: &IngestLimits,
) -> (Vec<NormalizedSpan>, Vec<SpanRejection>) {
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    let mut position = 0usize;
    for resource_spans in &request.resource_spans {
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                let context = normalize::SpanContext {
                    resource: resource_spans.resource.as_ref(),
                    resource_schema_url: &resource_spans.schema_url,
                    scope: scope_spans.scope.as_ref(),
                    scope_schema_url: &scope_spans.schema_url,
                };
                if let Some((key, size)) = span_oversized_attribute(span, limits.max_attribute_bytes) {
                    rejected.push(SpanRejection {
                        index: position,
                        name: span.name.clone(),
                        reason: format!(
                            "attribute {key:?} has {size} bytes, above the limit of {}",
                            limits.max_attribute_bytes
                        ),
                    });
                    position += 1;
                    continue;
                }
                let mut sink = ContentSink::new();
                let normalized = normalize::normalize_span(&context, span, &mut sink).and_then(|normalized| {
                    // The link added later nests no deeper than the body already does.
                    crate::ledger::entry::check_body_depth(&normalized.body)
                        .map_err(|error| format!("attribute values nest too deep: {error}"))?;
                    Ok(normalized)
                });
                match normalized {
                    Ok(normalized) => accepted.push(normalized),
                    Err(reason) => rejected.push(SpanRejection {
                        index: position,
                        name: span.name.clone(),
                        reason,
                    }),
                }
                position += 1;
            }
        }
    }
    (accepted, rejected)
}

/// Why one log record of a request was rejected (reported in OTLP partial success).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("log record {index}: {reason}")]
pub struct LogRejection {
    /// Position of the record in the request (flattened).
    pub index: usize,
    /// The reason.
    pub reason: String,
}

/// Number of log records in a request.
pub fn count_log_records(request: &ExportLogsServiceRequest) -> usize {
    request
        .resource_logs
        .iter()
        .flat_map(|resource_logs| &resource_logs.scope_logs)
        .map(|scope_logs| scope_logs.log_records.len())
        .sum()
}

/// Normalizes every log record of a request; invalid ones are rejected one by one.
pub fn prepare_logs_with(
    request: &ExportLogsServiceRequest,
    limits: &IngestLimits,
) -> (Vec<(logs::NormalizedLog, [u8; 32])>, Vec<LogRejection>) {
    use prost::Message;
    use sha2::{Digest, Sha256};
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    let mut position = 0usize;
    for resource_logs in &request.resource_logs {
        for scope_logs in &resource_logs.scope_logs {
            for record in &scope_logs.log_records {
                let context = normalize::SpanContext {
                    resource: resource_logs.resource.as_ref(),
                    resource_schema_url: &resource_logs.schema_url,
                    scope: scope_logs.scope.as_ref(),
                    scope_schema_url: &scope_logs.schema_url,
                };
                let body_size = record.body.as_ref().map_or(0, any_value_bytes);
                let oversized = oversized_attribute(&record.attributes, limits.max_attribute_bytes)
                    .or_else(|| (body_size > limits.max_attribute_bytes).then(|| ("body".to_owned(), body_size)));
                if let Some((key, size)) = oversized {
                    rejected.push(LogRejection {
                        index: position,
                        reason: format!(
                            "{key:?} has {size} bytes, above the limit of {}",
                            limits.max_attribute_bytes
                        ),
                    });
                    position += 1;
                    continue;
                }
                let mut sink = ContentSink::new();
                let normalized = logs::normalize_log_record(&context, record, &mut sink).and_then(|normalized| {
                    crate::ledger::entry::check_body_depth(&normalized.body)
                        .map_err(|error| format!("attribute values nest too deep: {error}"))?;
                    Ok(normalized)
                });
                match normalized {
                    Ok(normalized) => {
                        // Fingerprint of the record exactly as sent, with its resource and
                        // scope: a retried export sends the same bytes.
                        let mut hasher = Sha256::new();
                        for part in [
                            resource_logs
                                .resource
                                .as_ref()
                                .map(Message::encode_to_vec)
                                .unwrap_or_default(),
                            scope_logs
                                .scope
                                .as_ref()
                                .map(Message::encode_to_vec)
                                .unwrap_or_default(),
                            record.encode_to_vec(),
                        ] {
                            hasher.update((part.len() as u64).to_be_bytes());
                            hasher.update(&part);
                        }
                        accepted.push((normalized, hasher.finalize().into()));
                    }
                    Err(reason) => rejected.push(LogRejection {
                        index: position,
                        reason,
                    }),
                }
                position += 1;
            }
        }
    }
    (accepted, rejected)
}
