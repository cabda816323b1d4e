//! Placeholder: being written (span normalizer).
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::{ContentSink, NormalizedSpan, SpanKind};
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

/// Normalizes one span.
pub fn normalize_span(
    _context: &SpanContext<'_>,
    span: &Span,
    sink: &mut ContentSink,
) -> Result<NormalizedSpan, String> {
    let trace_id = TraceId::from_bytes(&span.trace_id).map_err(|e| e.to_string())?;
    let span_id = SpanId::from_bytes(&span.span_id).map_err(|e| e.to_string())?;
    let parent_span_id = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(SpanId::from_bytes(&span.parent_span_id).map_err(|e| e.to_string())?)
    };
    let name = sink.commit("name", span.name.clone());
    let body = serde_json::json!({"trace_id": trace_id.to_hex(), "span_id": span_id.to_hex(), "name": name});
    Ok(NormalizedSpan {
        trace_id,
        span_id,
        parent_span_id,
        kind: SpanKind::Other,
        start_time_unix_nano: span.start_time_unix_nano,
        body,
        contents: std::mem::take(&mut sink.items),
        user_id: None,
        session_id: None,
        outputs: Vec::new(),
    })
}
