//! Span normalization: one OTLP span in, one canonical span entry body out.
//!
//! This module owns the span itself: the rejection rules, the body's layout (ids, times,
//! status, resource, scope, events, links, dropped counts) and the composition of the
//! conventions that fill it. It is pure: no I/O, no clock, no randomness except the salts
//! that [`ContentSink`] draws.
//!
//! The conventions are data, one file per concern in [`super::conventions`]: the span
//! kind table, the content tables (content is replaced by commitments, never kept in
//! clear), the `genai` summary, the retrieval documents and the outputs. Attribute values
//! are encoded by [`super::anyvalue`] like OTLP/JSON `AnyValue` so nothing is lost, and
//! every 64-bit integer is a decimal string. Log records are normalized by
//! [`super::logs`] with the same parts.
//!
//! Reference: `docs/conventions.md` §1 "Rejected spans" and §2 "The entry body".

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{json, Map, Value};

use super::attributes::AttributeSet;
use super::conventions::content_keys::{is_content_key, is_event_content_key};
use super::conventions::genai_summary::{build_genai_summary, Identities};
use super::conventions::outputs::collect_outputs;
use super::conventions::span_kinds::decide_kind;
use super::{ContentSink, NormalizedSpan};
use crate::domain::{SpanId, TraceId};

/// Where a span came from in its request.
pub struct SpanContext<'a> {
    /// The resource of the span's ResourceSpans.
    pub resource: Option<&'a Resource>,
    /// ResourceSpans.schema_url.
    pub resource_schema_url: &'a str,
    /// The instrumentation scope.
    pub scope: Option<&'a InstrumentationScope>,
    /// ScopeSpans.schema_url.
    pub scope_schema_url: &'a str,
}

/// Highest valid OTLP `Span.kind` (SPAN_KIND_CONSUMER).
const MAX_OTEL_SPAN_KIND: i32 = 5;

/// Highest valid OTLP `Status.code` (STATUS_CODE_ERROR).
const MAX_OTEL_STATUS_CODE: i32 = 2;

/// Normalizes one span into its entry body. The `Err` is a human reason for rejecting
/// the span (reported in OTLP partial success); content committed before the rejection
/// is dropped from the sink again.
pub fn normalize_span(
    context: &SpanContext<'_>,
    span: &Span,
    sink: &mut ContentSink,
) -> Result<NormalizedSpan, String> {
    all_or_nothing(sink, |sink| build_normalized_span(context, span, sink))
}

/// Runs `build` on the sink; if it fails, the content it committed is dropped again, so
/// a rejected item leaves nothing behind.
pub(crate) fn all_or_nothing<T>(
    sink: &mut ContentSink,
    build: impl FnOnce(&mut ContentSink) -> Result<T, String>,
) -> Result<T, String> {
    let items_before = sink.items.len();
    let built = build(sink);
    if built.is_err() {
        sink.items.truncate(items_before);
    }
    built
}

fn build_normalized_span(
    context: &SpanContext<'_>,
    span: &Span,
    sink: &mut ContentSink,
) -> Result<NormalizedSpan, String> {
    let trace_id = TraceId::from_bytes(&span.trace_id).map_err(|error| error.to_string())?;
    let span_id = SpanId::from_bytes(&span.span_id).map_err(|error| error.to_string())?;
    let parent_span_id = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(
            SpanId::from_bytes(&span.parent_span_id)
                .map_err(|error| format!("parent_span_id is present but {error}"))?,
        )
    };
    if span.start_time_unix_nano == 0 {
        return Err("start_time_unix_nano is 0 (unset)".to_owned());
    }
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(format!(
            "end_time_unix_nano {} is before start_time_unix_nano {}",
            span.end_time_unix_nano, span.start_time_unix_nano
        ));
    }
    // Times are indexed as signed 64-bit integers (both databases): refuse what would not
    // fit instead of indexing it as something else.
    for (field, value) in [
        ("start_time_unix_nano", span.start_time_unix_nano),
        ("end_time_unix_nano", span.end_time_unix_nano),
    ] {
        if i64::try_from(value).is_err() {
            return Err(format!("{field} {value} is at or beyond 2^63 ns (after the year 2262)"));
        }
    }
    if !(0..=MAX_OTEL_SPAN_KIND).contains(&span.kind) {
        return Err(format!(
            "span kind {} is not a valid OTLP SpanKind (0-{MAX_OTEL_SPAN_KIND})",
            span.kind
        ));
    }
    let status_code = span.status.as_ref().map_or(0, |status| status.code);
    if !(0..=MAX_OTEL_STATUS_CODE).contains(&status_code) {
        return Err(format!(
            "status code {status_code} is not a valid OTLP StatusCode (0-{MAX_OTEL_STATUS_CODE})"
        ));
    }
    let status_message = span.status.as_ref().map_or("", |status| status.message.as_str());

    let resource_attributes = match context.resource {
        Some(resource) => AttributeSet::build(&resource.attributes, "resource.attributes.", is_content_key, sink)?,
        None => AttributeSet::empty(),
    };
    let scope_attributes = match context.scope {
        Some(scope) => AttributeSet::build(&scope.attributes, "scope.attributes.", is_content_key, sink)?,
        None => AttributeSet::empty(),
    };
    let span_attributes = AttributeSet::build(&span.attributes, "attributes.", is_content_key, sink)?;

    let mut events = Vec::with_capacity(span.events.len());
    let mut event_attribute_sets = Vec::with_capacity(span.events.len());
    for (position, event) in span.events.iter().enumerate() {
        let attributes = AttributeSet::build(
            &event.attributes,
            &format!("events[{position}].attributes."),
            is_event_content_key,
            sink,
        )
        .map_err(|reason| format!("event {position}: {reason}"))?;
        let mut encoded_event = Map::new();
        encoded_event.insert("name".into(), Value::from(event.name.as_str()));
        encoded_event.insert("time_unix_nano".into(), Value::from(event.time_unix_nano.to_string()));
        encoded_event.insert("attributes".into(), Value::Object(attributes.encoded.clone()));
        if event.dropped_attributes_count != 0 {
            encoded_event.insert(
                "dropped_attributes_count".into(),
                Value::from(event.dropped_attributes_count),
            );
        }
        events.push(Value::Object(encoded_event));
        event_attribute_sets.push((event.name.as_str(), attributes));
    }

    let mut links = Vec::with_capacity(span.links.len());
    for (position, link) in span.links.iter().enumerate() {
        let link_trace_id = TraceId::from_bytes(&link.trace_id).map_err(|error| format!("link {position}: {error}"))?;
        let link_span_id = SpanId::from_bytes(&link.span_id).map_err(|error| format!("link {position}: {error}"))?;
        let attributes = AttributeSet::build(
            &link.attributes,
            &format!("links[{position}].attributes."),
            is_content_key,
            sink,
        )
        .map_err(|reason| format!("link {position}: {reason}"))?;
        let mut encoded_link = Map::new();
        encoded_link.insert("trace_id".into(), Value::from(link_trace_id.to_hex()));
        encoded_link.insert("span_id".into(), Value::from(link_span_id.to_hex()));
        if !link.trace_state.is_empty() {
            encoded_link.insert("trace_state".into(), Value::from(link.trace_state.as_str()));
        }
        encoded_link.insert("attributes".into(), Value::Object(attributes.encoded));
        if link.flags != 0 {
            encoded_link.insert("flags".into(), Value::from(link.flags));
        }
        if link.dropped_attributes_count != 0 {
            encoded_link.insert(
                "dropped_attributes_count".into(),
                Value::from(link.dropped_attributes_count),
            );
        }
        links.push(Value::Object(encoded_link));
    }

    let clear_lookup = |key: &str| span_attributes.clear_string(key);
    let kind_decision = decide_kind(&clear_lookup);
    let kind = kind_decision.kind;

    let identities = Identities::find(&span_attributes, &resource_attributes);
    let genai = build_genai_summary(
        &kind_decision,
        &span_attributes,
        &resource_attributes,
        &identities,
        sink,
    );
    let is_root = parent_span_id.is_none();
    let outputs = collect_outputs(kind, is_root, &span_attributes, &event_attribute_sets);

    let mut body = Map::new();
    body.insert("trace_id".into(), Value::from(trace_id.to_hex()));
    body.insert("span_id".into(), Value::from(span_id.to_hex()));
    if let Some(parent) = &parent_span_id {
        body.insert("parent_span_id".into(), Value::from(parent.to_hex()));
    }
    body.insert("name".into(), Value::from(span.name.as_str()));
    body.insert("kind".into(), Value::from(kind.as_str()));
    body.insert("otel_kind".into(), Value::from(span.kind));
    body.insert(
        "start_time_unix_nano".into(),
        Value::from(span.start_time_unix_nano.to_string()),
    );
    body.insert(
        "end_time_unix_nano".into(),
        Value::from(span.end_time_unix_nano.to_string()),
    );
    body.insert(
        "status".into(),
        json!({ "code": status_code, "message": status_message }),
    );
    if !span.trace_state.is_empty() {
        body.insert("trace_state".into(), Value::from(span.trace_state.as_str()));
    }
    if span.flags != 0 {
        body.insert("flags".into(), Value::from(span.flags));
    }
    if let Some(resource_body) = resource_body(context, resource_attributes.encoded.clone()) {
        body.insert("resource".into(), resource_body);
    }
    if let Some(scope_body) = scope_body(context, scope_attributes.encoded) {
        body.insert("scope".into(), scope_body);
    }
    body.insert("attributes".into(), Value::Object(span_attributes.encoded.clone()));
    if !events.is_empty() {
        body.insert("events".into(), Value::Array(events));
    }
    if !links.is_empty() {
        body.insert("links".into(), Value::Array(links));
    }
    if span.dropped_attributes_count != 0 || span.dropped_events_count != 0 || span.dropped_links_count != 0 {
        body.insert(
            "dropped".into(),
            json!({
                "attributes": span.dropped_attributes_count,
                "events": span.dropped_events_count,
                "links": span.dropped_links_count,
            }),
        );
    }
    body.insert("genai".into(), Value::Object(genai));

    Ok(NormalizedSpan {
        trace_id,
        span_id,
        parent_span_id,
        kind,
        start_time_unix_nano: span.start_time_unix_nano,
        body: Value::Object(body),
        contents: std::mem::take(&mut sink.items),
        user_id: identities.user_id,
        session_id: identities.session_id,
        outputs,
    })
}

pub(crate) fn resource_body(context: &SpanContext<'_>, encoded_attributes: Map<String, Value>) -> Option<Value> {
    if context.resource.is_none() && context.resource_schema_url.is_empty() {
        return None;
    }
    let mut resource = Map::new();
    resource.insert("attributes".into(), Value::Object(encoded_attributes));
    if !context.resource_schema_url.is_empty() {
        resource.insert("schema_url".into(), Value::from(context.resource_schema_url));
    }
    if let Some(dropped) = context
        .resource
        .map(|resource| resource.dropped_attributes_count)
        .filter(|count| *count != 0)
    {
        resource.insert("dropped_attributes_count".into(), Value::from(dropped));
    }
    Some(Value::Object(resource))
}

pub(crate) fn scope_body(context: &SpanContext<'_>, encoded_attributes: Map<String, Value>) -> Option<Value> {
    let mut scope = Map::new();
    if let Some(instrumentation_scope) = context.scope {
        if !instrumentation_scope.name.is_empty() {
            scope.insert("name".into(), Value::from(instrumentation_scope.name.as_str()));
        }
        if !instrumentation_scope.version.is_empty() {
            scope.insert("version".into(), Value::from(instrumentation_scope.version.as_str()));
        }
        if instrumentation_scope.dropped_attributes_count != 0 {
            scope.insert(
                "dropped_attributes_count".into(),
                Value::from(instrumentation_scope.dropped_attributes_count),
            );
        }
    }
    if !encoded_attributes.is_empty() {
        scope.insert("attributes".into(), Value::Object(encoded_attributes));
    }
    if !context.scope_schema_url.is_empty() {
        scope.insert("schema_url".into(), Value::from(context.scope_schema_url));
    }
    (!scope.is_empty()).then_some(Value::Object(scope))
}

#[cfg(test)]
mod tests;
