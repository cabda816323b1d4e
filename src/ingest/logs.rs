//! Log record normalization: one OTLP log record (GenAI events such as
//! `gen_ai.client.inference.operation.details`) in, one `log` entry body out, linked to
//! its span by ids. The record's `body` is always content; attributes are classified like
//! span event attributes, and the same kind table, `genai` summary and output rules apply.
//!
//! Reference: `docs/formats.md` (the `log` entry) and `docs/conventions.md` §4-§6.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use serde_json::{Map, Value};

use super::attributes::{content_text_of, AttributeSet};
use super::conventions::content_keys::{is_content_key, is_event_content_key};
use super::conventions::genai_summary::{build_genai_summary, Identities};
use super::conventions::outputs::collect_outputs;
use super::conventions::span_kinds::decide_kind;
use super::normalize::{all_or_nothing, resource_body, scope_body, SpanContext};
use super::ContentSink;
use crate::domain::{SpanId, TraceId};

/// A log record normalized into a `log` entry body, linked to its span by ids.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedLog {
    /// Trace id, when the record carries one.
    pub trace_id: Option<TraceId>,
    /// Span id, when the record carries one.
    pub span_id: Option<SpanId>,
    /// The entry body (content replaced by commitments).
    pub body: Value,
    /// Content committed in `body`.
    pub contents: Vec<super::ContentItem>,
    /// Output texts found in the record (assistant messages of an inference event).
    pub outputs: Vec<String>,
}

/// The output texts [`normalize_log_record`] finds for a log record with these
/// attributes, as sent (see [`crate::ingest::conventions::outputs::span_outputs`]).
pub fn log_outputs(attributes: &[KeyValue]) -> Result<Vec<String>, String> {
    let mut sink = ContentSink::with_fixed_salt([0u8; crate::ledger::commitment::SALT_LEN]);
    let set = AttributeSet::build(attributes, "attributes.", is_event_content_key, &mut sink)?;
    let kind = decide_kind(&|key: &str| set.clear_string(key)).kind;
    Ok(collect_outputs(kind, false, &set, &[]))
}

/// Normalizes one log record. The record's `body` is always content; attributes are
/// classified like span event attributes. A trace or span id that is present but
/// malformed rejects the record; an absent one leaves the record unlinked.
pub fn normalize_log_record(
    context: &SpanContext<'_>,
    record: &LogRecord,
    sink: &mut ContentSink,
) -> Result<NormalizedLog, String> {
    all_or_nothing(sink, |sink| build_normalized_log(context, record, sink))
}

fn build_normalized_log(
    context: &SpanContext<'_>,
    record: &LogRecord,
    sink: &mut ContentSink,
) -> Result<NormalizedLog, String> {
    let trace_id = if record.trace_id.is_empty() {
        None
    } else {
        Some(TraceId::from_bytes(&record.trace_id).map_err(|error| error.to_string())?)
    };
    let span_id = if record.span_id.is_empty() {
        None
    } else {
        Some(SpanId::from_bytes(&record.span_id).map_err(|error| error.to_string())?)
    };
    if span_id.is_some() && trace_id.is_none() {
        return Err("span_id is set but trace_id is not".to_owned());
    }
    let resource_attributes = match context.resource {
        Some(resource) => AttributeSet::build(&resource.attributes, "resource.attributes.", is_content_key, sink)?,
        None => AttributeSet::empty(),
    };
    let scope_attributes = match context.scope {
        Some(scope) => AttributeSet::build(&scope.attributes, "scope.attributes.", is_content_key, sink)?,
        None => AttributeSet::empty(),
    };
    let attributes = AttributeSet::build(&record.attributes, "attributes.", is_event_content_key, sink)?;

    let mut body = Map::new();
    if let Some(trace_id) = &trace_id {
        body.insert("trace_id".into(), Value::from(trace_id.to_hex()));
    }
    if let Some(span_id) = &span_id {
        body.insert("span_id".into(), Value::from(span_id.to_hex()));
    }
    body.insert("time_unix_nano".into(), Value::from(record.time_unix_nano.to_string()));
    body.insert(
        "observed_time_unix_nano".into(),
        Value::from(record.observed_time_unix_nano.to_string()),
    );
    body.insert("severity_number".into(), Value::from(record.severity_number));
    if !record.severity_text.is_empty() {
        body.insert("severity_text".into(), Value::from(record.severity_text.as_str()));
    }
    if !record.event_name.is_empty() {
        body.insert("event_name".into(), Value::from(record.event_name.as_str()));
    }
    if record.flags != 0 {
        body.insert("flags".into(), Value::from(record.flags));
    }
    if let Some(log_body) = record.body.as_ref().filter(|value| value.value.is_some()) {
        let text = content_text_of(Some(log_body), "body")?;
        body.insert("body".into(), sink.commit("body", text));
    }
    if let Some(resource_body) = resource_body(context, resource_attributes.encoded.clone()) {
        body.insert("resource".into(), resource_body);
    }
    if let Some(scope_body) = scope_body(context, scope_attributes.encoded) {
        body.insert("scope".into(), scope_body);
    }
    body.insert("attributes".into(), Value::Object(attributes.encoded.clone()));
    if record.dropped_attributes_count != 0 {
        body.insert(
            "dropped_attributes_count".into(),
            Value::from(record.dropped_attributes_count),
        );
    }
    let clear_lookup = |key: &str| attributes.clear_string(key);
    let kind_decision = decide_kind(&clear_lookup);
    let identities = Identities::find(&attributes, &resource_attributes);
    let genai = build_genai_summary(&kind_decision, &attributes, &resource_attributes, &identities, sink);
    body.insert("genai".into(), Value::Object(genai));
    let outputs = collect_outputs(kind_decision.kind, false, &attributes, &[]);
    Ok(NormalizedLog {
        trace_id,
        span_id,
        body: Value::Object(body),
        contents: std::mem::take(&mut sink.items),
        outputs,
    })
}
