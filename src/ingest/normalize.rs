//! Span normalization: one OTLP span in, one canonical span entry body out.
//!
//! This module owns the mapping from the attribute conventions that real LLM
//! instrumentation sends (OpenTelemetry GenAI semantic conventions, OpenInference,
//! OpenLLMetry/Traceloop, Langfuse) to the ledger's span entry body. It is pure: no I/O,
//! no clock, no randomness except the salts that [`ContentSink`] draws.
//!
//! Three tables drive it, and `docs/conventions.md` documents each of them row by row:
//!
//! * [`KIND_RULES`] — which attribute value decides the canonical [`SpanKind`] (first
//!   match wins).
//! * [`SPAN_CONTENT_RULES`] / [`EVENT_CONTENT_RULES`] — which attribute keys carry
//!   content (text a user or a model wrote). Content never appears in clear in the body:
//!   the whole attribute value is replaced by the `{"sha256", "len"}` commitment that
//!   [`ContentSink::commit`] returns. When unsure, a key is treated as content: a
//!   commitment can always be opened later, while clear text in a signed append-only log
//!   can never be erased.
//! * the GenAI summary sources ([`USAGE_SOURCES`], [`PIPELINE_SOURCES`], ...) — which
//!   clear attributes feed the `genai` summary of the body.
//!
//! Attribute values are encoded like OTLP/JSON `AnyValue` so nothing is lost, and every
//! 64-bit integer is a decimal string (see `docs/conventions.md` for the exact body).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{json, Map, Value};

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

/// Deepest nesting of `AnyValue` arrays / key-value lists accepted. The protobuf and JSON
/// decoders already bound recursion; this keeps `normalize_span` safe on any `Span` value.
const MAX_ANY_VALUE_DEPTH: usize = 64;

/// Highest valid OTLP `Span.kind` (SPAN_KIND_CONSUMER).
const MAX_OTEL_SPAN_KIND: i32 = 5;

/// Highest valid OTLP `Status.code` (STATUS_CODE_ERROR).
const MAX_OTEL_STATUS_CODE: i32 = 2;

// ---------------------------------------------------------------------------------------
// Span kind table
// ---------------------------------------------------------------------------------------

/// One row of the span kind table: if the span attribute `attribute` is a string equal
/// (ASCII case-insensitively) to `value`, the span has kind `kind`.
#[derive(Debug, Clone, Copy)]
pub struct KindRule {
    /// The span attribute that is looked at.
    pub attribute: &'static str,
    /// The value that selects this row.
    pub value: &'static str,
    /// The canonical kind.
    pub kind: SpanKind,
}

const fn kind_rule(attribute: &'static str, value: &'static str, kind: SpanKind) -> KindRule {
    KindRule { attribute, value, kind }
}

/// The span kind table, in priority order: the first row that matches decides. Values
/// that are not listed (OpenInference `UNKNOWN`, Langfuse `span`/`event`, ...) fall
/// through to the next convention. After the table: a span carrying the deprecated
/// `gen_ai.system` together with a request or response model is a generation; anything
/// else is `other`.
pub const KIND_RULES: &[KindRule] = &[
    // OpenInference.
    kind_rule("openinference.span.kind", "LLM", SpanKind::Generation),
    kind_rule("openinference.span.kind", "RETRIEVER", SpanKind::Retrieval),
    kind_rule("openinference.span.kind", "TOOL", SpanKind::Tool),
    kind_rule("openinference.span.kind", "CHAIN", SpanKind::Chain),
    kind_rule("openinference.span.kind", "AGENT", SpanKind::Agent),
    kind_rule("openinference.span.kind", "GUARDRAIL", SpanKind::Guardrail),
    kind_rule("openinference.span.kind", "EVALUATOR", SpanKind::Guardrail),
    kind_rule("openinference.span.kind", "EMBEDDING", SpanKind::Embedding),
    kind_rule("openinference.span.kind", "RERANKER", SpanKind::Rerank),
    kind_rule("openinference.span.kind", "PROMPT", SpanKind::Chain),
    // OpenLLMetry / Traceloop.
    kind_rule("traceloop.span.kind", "workflow", SpanKind::Chain),
    kind_rule("traceloop.span.kind", "task", SpanKind::Chain),
    kind_rule("traceloop.span.kind", "agent", SpanKind::Agent),
    kind_rule("traceloop.span.kind", "tool", SpanKind::Tool),
    kind_rule("llm.request.type", "chat", SpanKind::Generation),
    kind_rule("llm.request.type", "completion", SpanKind::Generation),
    kind_rule("llm.request.type", "embedding", SpanKind::Embedding),
    kind_rule("llm.request.type", "rerank", SpanKind::Rerank),
    // Langfuse.
    kind_rule("langfuse.observation.type", "generation", SpanKind::Generation),
    kind_rule("langfuse.observation.type", "agent", SpanKind::Agent),
    kind_rule("langfuse.observation.type", "tool", SpanKind::Tool),
    kind_rule("langfuse.observation.type", "chain", SpanKind::Chain),
    kind_rule("langfuse.observation.type", "retriever", SpanKind::Retrieval),
    kind_rule("langfuse.observation.type", "evaluator", SpanKind::Guardrail),
    kind_rule("langfuse.observation.type", "embedding", SpanKind::Embedding),
    kind_rule("langfuse.observation.type", "guardrail", SpanKind::Guardrail),
    // OpenTelemetry GenAI semantic conventions.
    kind_rule("gen_ai.operation.name", "chat", SpanKind::Generation),
    kind_rule("gen_ai.operation.name", "text_completion", SpanKind::Generation),
    kind_rule("gen_ai.operation.name", "generate_content", SpanKind::Generation),
    kind_rule("gen_ai.operation.name", "embeddings", SpanKind::Embedding),
    kind_rule("gen_ai.operation.name", "execute_tool", SpanKind::Tool),
    kind_rule("gen_ai.operation.name", "invoke_agent", SpanKind::Agent),
    kind_rule("gen_ai.operation.name", "create_agent", SpanKind::Agent),
    kind_rule("gen_ai.operation.name", "invoke_workflow", SpanKind::Chain),
    kind_rule("gen_ai.operation.name", "retrieval", SpanKind::Retrieval),
    kind_rule("gen_ai.operation.name", "apply_guardrail", SpanKind::Guardrail),
    kind_rule("gen_ai.operation.name", "rerank", SpanKind::Rerank),
];

/// The decided kind and the rule that decided it (kept in the body as
/// `genai.kind_source`, so an auditor can see why a span got its kind).
#[derive(Debug, Clone, PartialEq, Eq)]
struct KindDecision {
    kind: SpanKind,
    source: String,
}

fn decide_kind<'a>(clear_string: &dyn Fn(&str) -> Option<&'a str>) -> KindDecision {
    for rule in KIND_RULES {
        if let Some(value) = clear_string(rule.attribute) {
            if value.trim().eq_ignore_ascii_case(rule.value) {
                return KindDecision {
                    kind: rule.kind,
                    source: format!("{}={}", rule.attribute, value),
                };
            }
        }
    }
    let has_model = clear_string("gen_ai.request.model").is_some() || clear_string("gen_ai.response.model").is_some();
    if has_model {
        if let Some(system) = clear_string("gen_ai.system") {
            return KindDecision {
                kind: SpanKind::Generation,
                source: format!("gen_ai.system={system}+model"),
            };
        }
    }
    KindDecision {
        kind: SpanKind::Other,
        source: "default".to_owned(),
    }
}

/// The canonical kind of a span with these attributes (duplicate keys: the last wins).
pub fn span_kind_of(attributes: &[KeyValue]) -> SpanKind {
    let latest = latest_values(attributes);
    let lookup = |key: &str| match latest.get(key) {
        Some(Some(AnyValue {
            value: Some(any_value::Value::StringValue(text)),
        })) if !text.is_empty() => Some(text.as_str()),
        _ => None,
    };
    decide_kind(&lookup).kind
}

// ---------------------------------------------------------------------------------------
// Content classification table
// ---------------------------------------------------------------------------------------

/// How a content rule matches an attribute key. All matches respect `.`-separated
/// segments: `Prefix("metadata")` matches `metadata` and `metadata.x` but not
/// `metadata_x`; `Suffix("message.content")` matches `llm.input_messages.0.message.content`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRule {
    /// The key is exactly this.
    Exact(&'static str),
    /// The key is this or lies below it (every descendant is content).
    Prefix(&'static str),
    /// The key ends with these segments.
    Suffix(&'static str),
    /// The key is this or lies below it, and is content unless its last segment is one
    /// of [`NAMESPACE_CLEAR_LEAVES`] (roles, ids, names, scores, finish reasons).
    Namespace(&'static str),
}

impl ContentRule {
    fn matches(&self, key: &str) -> bool {
        match self {
            ContentRule::Exact(exact) => key == *exact,
            ContentRule::Prefix(prefix) => is_at_or_below(key, prefix),
            ContentRule::Suffix(suffix) => {
                key == *suffix
                    || (key.len() > suffix.len()
                        && key.ends_with(suffix)
                        && key.as_bytes().get(key.len() - suffix.len() - 1) == Some(&b'.'))
            }
            ContentRule::Namespace(namespace) => {
                if key == *namespace {
                    return true;
                }
                if !is_at_or_below(key, namespace) {
                    return false;
                }
                let leaf = key.rsplit('.').next().unwrap_or(key);
                !NAMESPACE_CLEAR_LEAVES.contains(&leaf)
            }
        }
    }
}

fn is_at_or_below(key: &str, prefix: &str) -> bool {
    key == prefix
        || (key.len() > prefix.len() && key.starts_with(prefix) && key.as_bytes().get(prefix.len()) == Some(&b'.'))
}

/// Last segments that stay in clear inside a [`ContentRule::Namespace`].
pub const NAMESPACE_CLEAR_LEAVES: &[&str] = &[
    "role",
    "name",
    "id",
    "type",
    "finish_reason",
    "tool_call_id",
    "index",
    "score",
    "mime_type",
];

/// Keys that stay in clear although a content rule below would match them: values the
/// instrumentation itself writes into a user-metadata namespace.
pub const CLEAR_OVERRIDES: &[&str] = &[
    "langfuse.observation.metadata.response_id",
    "langfuse.observation.metadata.finish_reason",
];

/// Content keys of span, resource, scope and link attributes.
pub const SPAN_CONTENT_RULES: &[ContentRule] = &[
    // OpenTelemetry GenAI semantic conventions (current and deprecated).
    ContentRule::Exact("gen_ai.input.messages"),
    ContentRule::Exact("gen_ai.output.messages"),
    ContentRule::Exact("gen_ai.system_instructions"),
    ContentRule::Exact("gen_ai.request.messages"),
    ContentRule::Exact("gen_ai.tool.call.arguments"),
    ContentRule::Exact("gen_ai.tool.call.result"),
    ContentRule::Exact("gen_ai.retrieval.query.text"),
    ContentRule::Exact("gen_ai.retrieval.documents"),
    ContentRule::Exact("gen_ai.evaluation.explanation"),
    ContentRule::Namespace("gen_ai.prompt"),
    ContentRule::Namespace("gen_ai.completion"),
    // OpenInference.
    ContentRule::Exact("input.value"),
    ContentRule::Exact("output.value"),
    ContentRule::Exact("llm.invocation_parameters"),
    ContentRule::Exact("llm.function_call"),
    ContentRule::Exact("llm.prompt_template.template"),
    ContentRule::Prefix("llm.prompt_template.variables"),
    ContentRule::Prefix("metadata"),
    ContentRule::Exact("reranker.query"),
    ContentRule::Namespace("llm.input_messages"),
    ContentRule::Namespace("llm.output_messages"),
    ContentRule::Namespace("llm.prompts"),
    ContentRule::Namespace("llm.completions"),
    ContentRule::Namespace("retrieval.documents"),
    ContentRule::Namespace("reranker.input_documents"),
    ContentRule::Namespace("reranker.output_documents"),
    ContentRule::Namespace("embedding.embeddings"),
    ContentRule::Suffix("message.content"),
    ContentRule::Suffix("message_content.text"),
    ContentRule::Suffix("message_content.image.image.url"),
    ContentRule::Suffix("tool_call.function.arguments"),
    ContentRule::Suffix("document.content"),
    ContentRule::Suffix("embedding.text"),
    // OpenLLMetry / Traceloop.
    ContentRule::Exact("traceloop.entity.input"),
    ContentRule::Exact("traceloop.entity.output"),
    ContentRule::Exact("traceloop.prompt.template"),
    ContentRule::Exact("traceloop.prompt.template_variables"),
    // Langfuse.
    ContentRule::Exact("langfuse.observation.input"),
    ContentRule::Exact("langfuse.observation.output"),
    ContentRule::Exact("langfuse.trace.input"),
    ContentRule::Exact("langfuse.trace.output"),
    ContentRule::Prefix("langfuse.observation.metadata"),
    ContentRule::Prefix("langfuse.trace.metadata"),
    // Others seen in the wild: database query text (may embed user input), MLflow,
    // Vercel AI SDK.
    ContentRule::Exact("db.query.text"),
    ContentRule::Exact("db.statement"),
    ContentRule::Exact("mlflow.spanInputs"),
    ContentRule::Exact("mlflow.spanOutputs"),
    ContentRule::Prefix("ai.prompt"),
    ContentRule::Exact("ai.response.text"),
    ContentRule::Exact("ai.response.object"),
    ContentRule::Exact("ai.response.toolCalls"),
    ContentRule::Exact("ai.toolCall.args"),
    ContentRule::Exact("ai.toolCall.result"),
];

/// Extra content keys of span event attributes (on top of [`SPAN_CONTENT_RULES`]): the
/// deprecated GenAI events (`gen_ai.user.message`, `gen_ai.choice`,
/// `gen_ai.content.prompt`, ...) carry their text in these.
pub const EVENT_CONTENT_RULES: &[ContentRule] = &[
    ContentRule::Exact("content"),
    ContentRule::Exact("text"),
    ContentRule::Exact("input"),
    ContentRule::Exact("output"),
    ContentRule::Exact("arguments"),
    ContentRule::Exact("result"),
    ContentRule::Exact("gen_ai.event.content"),
    ContentRule::Namespace("message"),
    ContentRule::Namespace("body"),
    ContentRule::Namespace("tool_calls"),
];

/// Whether a span, resource, scope or link attribute key carries content.
pub fn is_content_key(key: &str) -> bool {
    if CLEAR_OVERRIDES.contains(&key) {
        return false;
    }
    SPAN_CONTENT_RULES.iter().any(|rule| rule.matches(key))
}

/// Whether a span event attribute key carries content.
pub fn is_event_content_key(key: &str) -> bool {
    is_content_key(key) || EVENT_CONTENT_RULES.iter().any(|rule| rule.matches(key))
}

// ---------------------------------------------------------------------------------------
// AnyValue encoding
// ---------------------------------------------------------------------------------------

/// Encodes an `AnyValue` like OTLP/JSON: `{"stringValue": s}`, `{"boolValue": b}`,
/// `{"intValue": "decimal"}`, `{"doubleValue": f}` (`"NaN"`, `"Infinity"`, `"-Infinity"`
/// as strings), `{"bytesValue": base64}`, `{"arrayValue": {"values": [...]}}`,
/// `{"kvlistValue": {"values": [{"key", "value"}]}}`, and `{}` for an empty value (and
/// for the profiling-only `stringValueStrindex`, which trace receivers must ignore).
pub fn encode_any_value(value: &AnyValue) -> Result<Value, String> {
    encode_any_value_at(Some(value), 0)
}

fn encode_any_value_at(value: Option<&AnyValue>, depth: usize) -> Result<Value, String> {
    if depth > MAX_ANY_VALUE_DEPTH {
        return Err(format!(
            "attribute value nested deeper than {MAX_ANY_VALUE_DEPTH} levels"
        ));
    }
    let Some(inner) = value.and_then(|any| any.value.as_ref()) else {
        return Ok(json!({}));
    };
    let encoded = match inner {
        any_value::Value::StringValue(text) => json!({ "stringValue": text }),
        any_value::Value::BoolValue(flag) => json!({ "boolValue": flag }),
        any_value::Value::IntValue(number) => json!({ "intValue": number.to_string() }),
        any_value::Value::DoubleValue(number) => json!({ "doubleValue": double_json(*number) }),
        any_value::Value::BytesValue(bytes) => {
            json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(bytes) })
        }
        any_value::Value::ArrayValue(array) => {
            let mut values = Vec::with_capacity(array.values.len());
            for element in &array.values {
                values.push(encode_any_value_at(Some(element), depth + 1)?);
            }
            json!({ "arrayValue": { "values": values } })
        }
        any_value::Value::KvlistValue(list) => {
            let mut values = Vec::with_capacity(list.values.len());
            for entry in &list.values {
                let entry_value = encode_any_value_at(entry.value.as_ref(), depth + 1)?;
                values.push(json!({ "key": entry.key, "value": entry_value }));
            }
            json!({ "kvlistValue": { "values": values } })
        }
        any_value::Value::StringValueStrindex(_) => json!({}),
    };
    Ok(encoded)
}

/// A double as JSON: a number when finite, else the OTLP/JSON string spelling.
fn double_json(number: f64) -> Value {
    if number.is_nan() {
        return Value::from("NaN");
    }
    if number.is_infinite() {
        return Value::from(if number > 0.0 { "Infinity" } else { "-Infinity" });
    }
    serde_json::Number::from_f64(number)
        .map(Value::Number)
        .unwrap_or_else(|| Value::from("NaN"))
}

/// Encodes a plain JSON value (from a parsed JSON string attribute) the way its OTLP
/// attribute would be encoded: integers become `intValue` decimal strings, other numbers
/// `doubleValue`. `null` gives `None`.
fn encode_plain_json(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Bool(flag) => Some(json!({ "boolValue": flag })),
        Value::Number(number) => {
            if number.is_i64() || number.is_u64() {
                Some(json!({ "intValue": number.to_string() }))
            } else {
                number
                    .as_f64()
                    .map(|float| json!({ "doubleValue": double_json(float) }))
            }
        }
        Value::String(text) => Some(json!({ "stringValue": text })),
        Value::Array(elements) => {
            let values: Vec<Value> = elements
                .iter()
                .map(|element| encode_plain_json(element).unwrap_or(json!({})))
                .collect();
            Some(json!({ "arrayValue": { "values": values } }))
        }
        Value::Object(object) => {
            let values: Vec<Value> = object
                .iter()
                .map(|(key, element)| json!({ "key": key, "value": encode_plain_json(element).unwrap_or(json!({})) }))
                .collect();
            Some(json!({ "kvlistValue": { "values": values } }))
        }
    }
}

/// An `AnyValue` as plain JSON (for reading structured values, never for the body):
/// strings stay strings, key-value lists become objects.
fn plain_json_of(value: Option<&AnyValue>, depth: usize) -> Value {
    if depth > MAX_ANY_VALUE_DEPTH {
        return Value::Null;
    }
    match value.and_then(|any| any.value.as_ref()) {
        None | Some(any_value::Value::StringValueStrindex(_)) => Value::Null,
        Some(any_value::Value::StringValue(text)) => Value::from(text.as_str()),
        Some(any_value::Value::BoolValue(flag)) => Value::from(*flag),
        Some(any_value::Value::IntValue(number)) => Value::from(*number),
        Some(any_value::Value::DoubleValue(number)) => serde_json::Number::from_f64(*number)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Some(any_value::Value::BytesValue(_)) => Value::Null,
        Some(any_value::Value::ArrayValue(array)) => Value::Array(
            array
                .values
                .iter()
                .map(|element| plain_json_of(Some(element), depth + 1))
                .collect(),
        ),
        Some(any_value::Value::KvlistValue(list)) => {
            let mut object = Map::new();
            for entry in &list.values {
                object.insert(entry.key.clone(), plain_json_of(entry.value.as_ref(), depth + 1));
            }
            Value::Object(object)
        }
    }
}

/// A structured attribute as JSON: a string holding JSON is parsed (instrumentations
/// send message lists as JSON strings), arrays and key-value lists are converted.
/// `None` for a string that is not JSON.
fn structured_json_of(value: Option<&AnyValue>) -> Option<Value> {
    match value.and_then(|any| any.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => serde_json::from_str(text).ok(),
        Some(any_value::Value::ArrayValue(_)) | Some(any_value::Value::KvlistValue(_)) => Some(plain_json_of(value, 0)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Attribute sets
// ---------------------------------------------------------------------------------------

/// Resolves duplicate keys: the last value of each key wins.
fn latest_values(attributes: &[KeyValue]) -> BTreeMap<&str, Option<&AnyValue>> {
    let mut latest = BTreeMap::new();
    for attribute in attributes {
        latest.insert(attribute.key.as_str(), attribute.value.as_ref());
    }
    latest
}

/// The attributes of one span, resource, scope, event or link: the resolved values and
/// their body encoding, with content already replaced by commitments.
struct AttributeSet<'a> {
    values: BTreeMap<&'a str, Option<&'a AnyValue>>,
    encoded: Map<String, Value>,
    is_content: fn(&str) -> bool,
    /// The present keys that carry content, classified once (the rule tables are long
    /// and the summary looks keys up many times).
    content_keys: BTreeSet<&'a str>,
}

impl<'a> AttributeSet<'a> {
    /// Encodes `attributes`, committing every content value with field
    /// `<field_prefix><key>`.
    fn build(
        attributes: &'a [KeyValue],
        field_prefix: &str,
        is_content: fn(&str) -> bool,
        sink: &mut ContentSink,
    ) -> Result<Self, String> {
        let values = latest_values(attributes);
        let mut encoded = Map::new();
        let mut content_keys = BTreeSet::new();
        for (key, value) in &values {
            let body_value = if is_content(key) {
                content_keys.insert(*key);
                let text = content_text_of(*value, key)?;
                sink.commit(&format!("{field_prefix}{key}"), text)
            } else {
                encode_any_value_at(*value, 0).map_err(|reason| format!("attribute {key:?}: {reason}"))?
            };
            encoded.insert((*key).to_owned(), body_value);
        }
        Ok(AttributeSet {
            values,
            encoded,
            is_content,
            content_keys,
        })
    }

    fn empty() -> Self {
        AttributeSet {
            values: BTreeMap::new(),
            encoded: Map::new(),
            is_content: is_content_key,
            content_keys: BTreeSet::new(),
        }
    }

    fn value(&self, key: &str) -> Option<&'a AnyValue> {
        self.values.get(key).copied().flatten()
    }

    fn is_content_key(&self, key: &str) -> bool {
        if self.values.contains_key(key) {
            return self.content_keys.contains(key);
        }
        (self.is_content)(key)
    }

    /// A non-empty string value of a clear (non-content) key.
    fn clear_string(&self, key: &str) -> Option<&'a str> {
        if self.is_content_key(key) {
            return None;
        }
        self.raw_string(key)
    }

    /// A non-empty string value of any key (for parsing content before committing parts
    /// of it; never copied into the body).
    fn raw_string(&self, key: &str) -> Option<&'a str> {
        match self.value(key).and_then(|any| any.value.as_ref()) {
            Some(any_value::Value::StringValue(text)) if !text.is_empty() => Some(text.as_str()),
            _ => None,
        }
    }

    /// The body encoding of a clear key (an encoded AnyValue).
    fn clear_encoded(&self, key: &str) -> Option<&Value> {
        if self.is_content_key(key) || !self.values.contains_key(key) {
            return None;
        }
        self.encoded.get(key)
    }

    /// The commitment that replaced a content key in the body.
    fn commitment(&self, key: &str) -> Option<Value> {
        if !self.is_content_key(key) {
            return None;
        }
        self.encoded.get(key).cloned()
    }

    /// A non-negative count of a clear key: an int, an integral double or a decimal
    /// string.
    fn clear_count(&self, key: &str) -> Option<u64> {
        if self.is_content_key(key) {
            return None;
        }
        match self.value(key).and_then(|any| any.value.as_ref()) {
            Some(any_value::Value::IntValue(number)) => u64::try_from(*number).ok(),
            Some(any_value::Value::DoubleValue(number)) => count_of_double(*number),
            Some(any_value::Value::StringValue(text)) => text.trim().parse::<u64>().ok(),
            _ => None,
        }
    }

    /// Keys at or below `prefix`.
    fn keys_below(&self, prefix: &str) -> Vec<&'a str> {
        self.values
            .keys()
            .copied()
            .filter(|key| is_at_or_below(key, prefix) && *key != prefix)
            .collect()
    }
}

fn count_of_double(number: f64) -> Option<u64> {
    let in_range =
        number.is_finite() && number >= 0.0 && number.fract() == 0.0 && number < 18_446_744_073_709_551_616.0;
    // The range check above makes the cast exact.
    in_range.then_some(number as u64)
}

/// The text committed for a content attribute: the string itself, or the RFC 8785 JSON
/// text of the encoded value for any other type.
fn content_text_of(value: Option<&AnyValue>, key: &str) -> Result<String, String> {
    if let Some(any_value::Value::StringValue(text)) = value.and_then(|any| any.value.as_ref()) {
        return Ok(text.clone());
    }
    let encoded = encode_any_value_at(value, 0).map_err(|reason| format!("attribute {key:?}: {reason}"))?;
    serde_json_canonicalizer::to_string(&encoded).map_err(|error| format!("attribute {key:?}: {error}"))
}

// ---------------------------------------------------------------------------------------
// The span
// ---------------------------------------------------------------------------------------

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
fn all_or_nothing<T>(
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

fn resource_body(context: &SpanContext<'_>, encoded_attributes: Map<String, Value>) -> Option<Value> {
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

fn scope_body(context: &SpanContext<'_>, encoded_attributes: Map<String, Value>) -> Option<Value> {
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

// ---------------------------------------------------------------------------------------
// GenAI summary
// ---------------------------------------------------------------------------------------

/// Where the user, session and conversation ids come from (span first, then resource;
/// within each, the first key present wins).
pub const USER_ID_KEYS: &[&str] = &[
    "enduser.id",
    "user.id",
    "langfuse.user.id",
    "traceloop.association.properties.user_id",
];
/// Session id sources, see [`USER_ID_KEYS`].
pub const SESSION_ID_KEYS: &[&str] = &[
    "session.id",
    "langfuse.session.id",
    "traceloop.association.properties.session_id",
];
/// Conversation id sources, see [`USER_ID_KEYS`].
pub const CONVERSATION_ID_KEYS: &[&str] = &[
    "gen_ai.conversation.id",
    "traceloop.association.properties.conversation_id",
];

/// Provider sources, first present wins.
pub const PROVIDER_KEYS: &[&str] = &["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"];
/// Request model sources, first present wins.
pub const REQUEST_MODEL_KEYS: &[&str] = &[
    "gen_ai.request.model",
    "llm.request.model",
    "llm.model_name",
    "langfuse.observation.model.name",
];
/// Response model sources, first present wins.
pub const RESPONSE_MODEL_KEYS: &[&str] = &["gen_ai.response.model", "llm.response.model"];

/// Token usage: summary key and its attribute sources (first present wins), then the
/// keys of Langfuse's `langfuse.observation.usage_details` JSON that feed it.
pub const USAGE_SOURCES: &[(&str, &[&str], &[&str])] = &[
    (
        "input_tokens",
        &[
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.token_count.prompt",
            "llm.usage.prompt_tokens",
        ],
        &["input", "input_tokens", "prompt_tokens"],
    ),
    (
        "output_tokens",
        &[
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
            "llm.usage.completion_tokens",
        ],
        &["output", "output_tokens", "completion_tokens"],
    ),
    (
        "total_tokens",
        &[
            "gen_ai.usage.total_tokens",
            "llm.usage.total_tokens",
            "llm.token_count.total",
        ],
        &["total", "total_tokens"],
    ),
    (
        "cache_read_input_tokens",
        &[
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_read_input_tokens",
            "llm.token_count.prompt_details.cache_read",
        ],
        &[
            "cache_read_input_tokens",
            "input_cached_tokens",
            "input_cache_read",
            "prompt_tokens_details.cached_tokens",
        ],
    ),
    (
        "cache_creation_input_tokens",
        &[
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens",
            "llm.token_count.prompt_details.cache_write",
        ],
        &["cache_creation_input_tokens", "input_cache_creation"],
    ),
    (
        "reasoning_tokens",
        &[
            "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.usage.reasoning_tokens",
            "llm.token_count.completion_details.reasoning",
        ],
        &[
            "reasoning_tokens",
            "output_reasoning_tokens",
            "output_reasoning",
            "completion_tokens_details.reasoning_tokens",
        ],
    ),
];

/// Model parameters read from the JSON of `llm.invocation_parameters` (a content
/// attribute: only these known numeric/boolean settings are copied out in clear).
pub const INVOCATION_PARAMETER_KEYS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "seed",
    "stream",
    "frequency_penalty",
    "presence_penalty",
    "n",
];

/// Pipeline summary: summary key and its sources (span first, then resource).
pub const PIPELINE_SOURCES: &[(&str, &[&str])] = &[
    ("name", &["traceledger.pipeline.name"]),
    ("version", &["traceledger.pipeline.version"]),
    ("rag_pipeline_version", &["rag.pipeline.version"]),
    ("release", &["langfuse.release"]),
    ("service_name", &["service.name"]),
    ("service_version", &["service.version"]),
    (
        "environment",
        &[
            "deployment.environment.name",
            "deployment.environment",
            "langfuse.environment",
        ],
    ),
];

/// User, session and conversation ids of a span.
struct Identities {
    user_id: Option<String>,
    session_id: Option<String>,
    conversation_id: Option<String>,
}

impl Identities {
    fn find(span_attributes: &AttributeSet<'_>, resource_attributes: &AttributeSet<'_>) -> Self {
        let find_id = |keys: &[&str]| first_clear_string(keys, span_attributes, resource_attributes).map(str::to_owned);
        Identities {
            user_id: find_id(USER_ID_KEYS),
            session_id: find_id(SESSION_ID_KEYS),
            conversation_id: find_id(CONVERSATION_ID_KEYS),
        }
    }
}

fn first_clear_string<'a>(keys: &[&str], primary: &AttributeSet<'a>, fallback: &AttributeSet<'a>) -> Option<&'a str> {
    keys.iter()
        .find_map(|key| primary.clear_string(key))
        .or_else(|| keys.iter().find_map(|key| fallback.clear_string(key)))
}

fn build_genai_summary(
    kind_decision: &KindDecision,
    span_attributes: &AttributeSet<'_>,
    resource_attributes: &AttributeSet<'_>,
    identities: &Identities,
    sink: &mut ContentSink,
) -> Map<String, Value> {
    let mut summary = Map::new();
    summary.insert("kind_source".into(), Value::from(kind_decision.source.as_str()));
    let mut insert_string = |summary_key: &str, value: Option<&str>| {
        if let Some(text) = value {
            summary.insert(summary_key.to_owned(), Value::from(text));
        }
    };
    insert_string("operation", span_attributes.clear_string("gen_ai.operation.name"));
    insert_string(
        "provider",
        PROVIDER_KEYS.iter().find_map(|key| span_attributes.clear_string(key)),
    );
    insert_string(
        "request_model",
        REQUEST_MODEL_KEYS
            .iter()
            .find_map(|key| span_attributes.clear_string(key)),
    );
    insert_string(
        "response_model",
        RESPONSE_MODEL_KEYS
            .iter()
            .find_map(|key| span_attributes.clear_string(key)),
    );
    let response_id = span_attributes
        .clear_string("gen_ai.response.id")
        .map(str::to_owned)
        .or_else(|| {
            span_attributes
                .clear_string("langfuse.observation.metadata.response_id")
                .map(unwrap_json_string)
        });
    insert_string("response_id", response_id.as_deref());
    insert_string("conversation_id", identities.conversation_id.as_deref());
    insert_string("session_id", identities.session_id.as_deref());
    insert_string("user_id", identities.user_id.as_deref());
    insert_string(
        "workflow_name",
        ["gen_ai.workflow.name", "traceloop.workflow.name"]
            .iter()
            .find_map(|key| span_attributes.clear_string(key)),
    );

    let finish_reasons = finish_reasons(span_attributes);
    if !finish_reasons.is_empty() {
        summary.insert("finish_reasons".into(), Value::from(finish_reasons));
    }
    let parameters = model_parameters(span_attributes);
    if !parameters.is_empty() {
        summary.insert("parameters".into(), Value::Object(parameters));
    }
    let usage = token_usage(span_attributes);
    if !usage.is_empty() {
        summary.insert("usage".into(), Value::Object(usage));
    }
    let agent = agent_summary(span_attributes);
    if !agent.is_empty() {
        summary.insert("agent".into(), Value::Object(agent));
    }
    let tool = tool_summary(kind_decision.kind, span_attributes);
    if !tool.is_empty() {
        summary.insert("tool".into(), Value::Object(tool));
    }
    let retrieval = retrieval_summary(kind_decision.kind, span_attributes, sink);
    if !retrieval.is_empty() {
        summary.insert("retrieval".into(), Value::Object(retrieval));
    }
    let pipeline = pipeline_summary(span_attributes, resource_attributes);
    if !pipeline.is_empty() {
        summary.insert("pipeline".into(), Value::Object(pipeline));
    }
    summary
}

/// Langfuse double-encodes metadata values as JSON strings (`"\"stop\""`).
fn unwrap_json_string(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::String(inner)) => inner,
        _ => text.to_owned(),
    }
}

fn finish_reasons(span_attributes: &AttributeSet<'_>) -> Vec<String> {
    for key in [
        "gen_ai.response.finish_reasons",
        "llm.response.finish_reason",
        "llm.finish_reason",
    ] {
        let reasons = match span_attributes.value(key).and_then(|any| any.value.as_ref()) {
            _ if span_attributes.is_content_key(key) => Vec::new(),
            Some(any_value::Value::ArrayValue(array)) => array
                .values
                .iter()
                .filter_map(|element| match &element.value {
                    Some(any_value::Value::StringValue(text)) => Some(text.clone()),
                    _ => None,
                })
                .collect(),
            Some(any_value::Value::StringValue(text)) if !text.is_empty() => vec![text.clone()],
            _ => Vec::new(),
        };
        if !reasons.is_empty() {
            return reasons;
        }
    }
    if let Some(reason) = span_attributes.clear_string("langfuse.observation.metadata.finish_reason") {
        return vec![unwrap_json_string(reason)];
    }
    // Traceloop legacy attributes: gen_ai.completion.N.finish_reason.
    let mut by_index: BTreeMap<u64, String> = BTreeMap::new();
    for key in span_attributes.keys_below("gen_ai.completion") {
        if let Some((index, "finish_reason")) = indexed_tail(key, "gen_ai.completion") {
            if let Some(reason) = span_attributes.clear_string(key) {
                by_index.insert(index, reason.to_owned());
            }
        }
    }
    by_index.into_values().collect()
}

/// Splits `<prefix>.<N>.<rest>` into `(N, rest)`.
fn indexed_tail<'k>(key: &'k str, prefix: &str) -> Option<(u64, &'k str)> {
    let tail = key.strip_prefix(prefix)?.strip_prefix('.')?;
    let (index_text, rest) = tail.split_once('.')?;
    let index = index_text.parse::<u64>().ok()?;
    Some((index, rest))
}

fn model_parameters(span_attributes: &AttributeSet<'_>) -> Map<String, Value> {
    let mut parameters = Map::new();
    for key in span_attributes.keys_below("gen_ai.request") {
        let Some(name) = key.strip_prefix("gen_ai.request.") else {
            continue;
        };
        if name == "model" {
            continue;
        }
        if let Some(encoded) = span_attributes.clear_encoded(key) {
            parameters.insert(name.replace('.', "_"), encoded.clone());
        }
    }
    for (key, name) in [
        ("gen_ai.output.type", "output_type"),
        ("gen_ai.is_streaming", "stream"),
        ("llm.is_streaming", "stream"),
    ] {
        if parameters.contains_key(name) {
            continue;
        }
        if let Some(encoded) = span_attributes.clear_encoded(key) {
            parameters.insert(name.to_owned(), encoded.clone());
        }
    }
    // OpenInference: a JSON object; only the known settings are copied out.
    if let Some(Value::Object(invocation)) = structured_json_of(span_attributes.value("llm.invocation_parameters")) {
        for name in INVOCATION_PARAMETER_KEYS {
            if parameters.contains_key(*name) {
                continue;
            }
            let encoded = invocation
                .get(*name)
                .filter(|value| is_scalar(value))
                .and_then(encode_plain_json);
            if let Some(encoded_value) = encoded {
                parameters.insert((*name).to_owned(), encoded_value);
            }
        }
    }
    // Langfuse: a clear JSON object of model parameters.
    if let Some(text) = span_attributes.clear_string("langfuse.observation.model.parameters") {
        if let Ok(Value::Object(langfuse_parameters)) = serde_json::from_str::<Value>(text) {
            for (name, value) in &langfuse_parameters {
                if parameters.contains_key(name) {
                    continue;
                }
                if let Some(encoded_value) = encode_plain_json(value) {
                    parameters.insert(name.clone(), encoded_value);
                }
            }
        }
    }
    parameters
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::Bool(_) | Value::Number(_) | Value::String(_))
}

fn token_usage(span_attributes: &AttributeSet<'_>) -> Map<String, Value> {
    let langfuse_usage = span_attributes
        .clear_string("langfuse.observation.usage_details")
        .and_then(|text| serde_json::from_str::<Value>(text).ok());
    let mut usage = Map::new();
    for (summary_key, attribute_keys, langfuse_keys) in USAGE_SOURCES {
        let from_attributes = attribute_keys.iter().find_map(|key| span_attributes.clear_count(key));
        let from_langfuse = || {
            let details = langfuse_usage.as_ref()?;
            langfuse_keys.iter().find_map(|path| json_count_at(details, path))
        };
        if let Some(count) = from_attributes.or_else(from_langfuse) {
            usage.insert((*summary_key).to_owned(), Value::from(count.to_string()));
        }
    }
    usage
}

/// A non-negative integer at a `.`-separated path of a JSON object.
fn json_count_at(value: &Value, path: &str) -> Option<u64> {
    let mut current = value;
    for segment in path.split('.') {
        current = current.get(segment)?;
    }
    match current {
        Value::Number(number) => number.as_u64().or_else(|| number.as_f64().and_then(count_of_double)),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    }
}

fn agent_summary(span_attributes: &AttributeSet<'_>) -> Map<String, Value> {
    let mut agent = Map::new();
    for (summary_key, attribute_key) in [
        ("name", "gen_ai.agent.name"),
        ("id", "gen_ai.agent.id"),
        ("description", "gen_ai.agent.description"),
    ] {
        if let Some(text) = span_attributes.clear_string(attribute_key) {
            agent.insert(summary_key.to_owned(), Value::from(text));
        }
    }
    agent
}

fn tool_summary(kind: SpanKind, span_attributes: &AttributeSet<'_>) -> Map<String, Value> {
    let mut tool = Map::new();
    let string_sources: [(&str, &[&str]); 3] = [
        ("name", &["gen_ai.tool.name", "tool.name"]),
        ("call_id", &["gen_ai.tool.call.id", "tool_call.id"]),
        ("type", &["gen_ai.tool.type"]),
    ];
    for (summary_key, attribute_keys) in string_sources {
        if let Some(text) = attribute_keys.iter().find_map(|key| span_attributes.clear_string(key)) {
            tool.insert(summary_key.to_owned(), Value::from(text));
        }
    }
    if kind != SpanKind::Tool && tool.is_empty() {
        return tool;
    }
    // Reuse the commitments of the attributes that hold the call's arguments and result.
    let argument_keys: &[&str] = if kind == SpanKind::Tool {
        &[
            "gen_ai.tool.call.arguments",
            "tool_call.function.arguments",
            "input.value",
            "traceloop.entity.input",
            "langfuse.observation.input",
        ]
    } else {
        &["gen_ai.tool.call.arguments", "tool_call.function.arguments"]
    };
    let result_keys: &[&str] = if kind == SpanKind::Tool {
        &[
            "gen_ai.tool.call.result",
            "output.value",
            "traceloop.entity.output",
            "langfuse.observation.output",
        ]
    } else {
        &["gen_ai.tool.call.result"]
    };
    if let Some(commitment) = argument_keys.iter().find_map(|key| span_attributes.commitment(key)) {
        tool.insert("arguments".into(), commitment);
    }
    if let Some(commitment) = result_keys.iter().find_map(|key| span_attributes.commitment(key)) {
        tool.insert("result".into(), commitment);
    }
    tool
}

/// One retrieved document as found in a convention's attributes.
#[derive(Debug, Default, Clone, PartialEq)]
struct DocumentFacts {
    id: Option<String>,
    uri: Option<String>,
    score: Option<Value>,
    text: Option<String>,
    /// A commitment already made for this document's text (OpenInference attribute).
    text_commitment: Option<Value>,
}

fn retrieval_summary(kind: SpanKind, span_attributes: &AttributeSet<'_>, sink: &mut ContentSink) -> Map<String, Value> {
    let mut retrieval = Map::new();
    if let Some(source_id) = span_attributes.clear_string("gen_ai.data_source.id") {
        retrieval.insert("data_source_id".into(), Value::from(source_id));
    }
    let is_retrieval = kind == SpanKind::Retrieval;
    if let Some(top_k) = ["gen_ai.request.top_k", "retrieval.top_k"]
        .iter()
        .find_map(|key| span_attributes.clear_count(key))
    {
        if is_retrieval || !retrieval.is_empty() {
            retrieval.insert("top_k".into(), Value::from(top_k.to_string()));
        }
    }
    let query_keys: &[&str] = if is_retrieval {
        &[
            "gen_ai.retrieval.query.text",
            "input.value",
            "langfuse.observation.input",
            "traceloop.entity.input",
        ]
    } else {
        &["gen_ai.retrieval.query.text"]
    };
    if let Some(commitment) = query_keys.iter().find_map(|key| span_attributes.commitment(key)) {
        retrieval.insert("query".into(), commitment);
    }

    let documents = retrieval_documents(is_retrieval, span_attributes);
    if !documents.is_empty() {
        let mut encoded_documents = Vec::with_capacity(documents.len());
        for (position, document) in documents.into_iter().enumerate() {
            let mut encoded = Map::new();
            if let Some(id) = document.id {
                encoded.insert("id".into(), Value::from(id));
            }
            if let Some(uri) = document.uri {
                encoded.insert("uri".into(), Value::from(uri));
            }
            if let Some(score) = document.score {
                encoded.insert("score".into(), score);
            }
            let content = match (document.text_commitment, document.text) {
                (Some(commitment), _) => Some(commitment),
                (None, Some(text)) => {
                    Some(sink.commit(&format!("genai.retrieval.documents[{position}].content"), text))
                }
                (None, None) => None,
            };
            if let Some(commitment) = content {
                encoded.insert("content".into(), commitment);
            }
            encoded_documents.push(Value::Object(encoded));
        }
        retrieval.insert("documents".into(), Value::Array(encoded_documents));
    }
    if !is_retrieval && retrieval.is_empty() {
        return Map::new();
    }
    retrieval
}

fn retrieval_documents(is_retrieval: bool, span_attributes: &AttributeSet<'_>) -> Vec<DocumentFacts> {
    // GenAI semantic conventions: a JSON list of {id, uri, score, content|text}.
    if let Some(documents) = structured_json_of(span_attributes.value("gen_ai.retrieval.documents")) {
        let facts = documents_from_json(&documents);
        if !facts.is_empty() {
            return facts;
        }
    }
    // Framework outputs of retriever spans: OpenInference `output.value`
    // ({"documents": [...]}) and Langfuse / Traceloop outputs (a JSON list).
    let output_documents: Vec<DocumentFacts> = if is_retrieval {
        ["output.value", "langfuse.observation.output", "traceloop.entity.output"]
            .iter()
            .filter_map(|key| structured_json_of(span_attributes.value(key)))
            .map(|output| documents_from_json(&output))
            .find(|facts| !facts.is_empty())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    // OpenInference: retrieval.documents.N.document.{id,score,content,metadata}.
    let mut by_index: BTreeMap<u64, DocumentFacts> = BTreeMap::new();
    for key in span_attributes.keys_below("retrieval.documents") {
        let Some((index, rest)) = indexed_tail(key, "retrieval.documents") else {
            continue;
        };
        let document = by_index.entry(index).or_default();
        match rest {
            "document.id" => document.id = span_attributes.clear_string(key).map(str::to_owned),
            "document.score" => document.score = clear_score(span_attributes, key),
            "document.content" => document.text_commitment = span_attributes.commitment(key),
            "document.metadata" => {
                if let Some(metadata) = structured_json_of(span_attributes.value(key)) {
                    let from_metadata = document_from_metadata(&metadata);
                    document.uri = document.uri.take().or(from_metadata.uri);
                    document.score = document.score.take().or(from_metadata.score);
                    document.id = document.id.take().or(from_metadata.id);
                }
            }
            _ => {}
        }
    }
    if by_index.is_empty() {
        return output_documents;
    }
    // Fill what the attributes lack (OpenInference puts document ids only in the output).
    let same_documents = output_documents.len() == by_index.len();
    by_index
        .into_values()
        .enumerate()
        .map(|(position, mut document)| {
            if same_documents {
                if let Some(from_output) = output_documents.get(position) {
                    document.id = document.id.or_else(|| from_output.id.clone());
                    document.uri = document.uri.or_else(|| from_output.uri.clone());
                    document.score = document.score.or_else(|| from_output.score.clone());
                }
            }
            document
        })
        .collect()
}

fn clear_score(span_attributes: &AttributeSet<'_>, key: &str) -> Option<Value> {
    if span_attributes.is_content_key(key) {
        return None;
    }
    match span_attributes.value(key).and_then(|any| any.value.as_ref()) {
        Some(any_value::Value::DoubleValue(number)) => Some(double_json(*number)),
        // 64-bit integers are decimal strings in entries (JCS numbers are doubles).
        Some(any_value::Value::IntValue(number)) => Some(Value::String(number.to_string())),
        Some(any_value::Value::StringValue(text)) => text.trim().parse::<f64>().ok().map(double_json),
        _ => None,
    }
}

/// Documents from a JSON list of objects, or an object with a `documents` list.
fn documents_from_json(value: &Value) -> Vec<DocumentFacts> {
    let list = match value {
        Value::Array(list) => list,
        Value::Object(object) => match object.get("documents") {
            Some(Value::Array(list)) => list,
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    let facts: Vec<DocumentFacts> = list.iter().filter_map(document_from_object).collect();
    // A list whose entries carry neither id, uri nor text is not a document list.
    if facts
        .iter()
        .all(|document| document.id.is_none() && document.uri.is_none() && document.text.is_none())
    {
        return Vec::new();
    }
    facts
}

fn document_from_object(value: &Value) -> Option<DocumentFacts> {
    let object = value.as_object()?;
    let metadata = object.get("metadata").map(document_from_metadata).unwrap_or_default();
    let text = ["content", "text", "page_content", "document"]
        .iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str))
        .map(str::to_owned);
    Some(DocumentFacts {
        id: ["id", "document_id", "doc_id"]
            .iter()
            .find_map(|key| json_id(object.get(*key)))
            .or(metadata.id),
        uri: ["uri", "url", "source"]
            .iter()
            .find_map(|key| json_text(object.get(*key)))
            .or(metadata.uri),
        score: ["score", "relevance_score"]
            .iter()
            .find_map(|key| json_score(object.get(*key)))
            .or(metadata.score),
        text,
        text_commitment: None,
    })
}

fn document_from_metadata(value: &Value) -> DocumentFacts {
    let Some(object) = value.as_object() else {
        return DocumentFacts::default();
    };
    DocumentFacts {
        id: ["id", "document_id", "doc_id"]
            .iter()
            .find_map(|key| json_id(object.get(*key))),
        uri: ["uri", "url", "source"]
            .iter()
            .find_map(|key| json_text(object.get(*key))),
        score: ["score", "relevance_score"]
            .iter()
            .find_map(|key| json_score(object.get(*key))),
        text: None,
        text_commitment: None,
    }
}

fn json_text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn json_id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn json_score(value: Option<&Value>) -> Option<Value> {
    match value? {
        Value::Number(number) => Some(Value::Number(number.clone())),
        Value::String(text) => text.trim().parse::<f64>().ok().map(double_json),
        _ => None,
    }
}

fn pipeline_summary(span_attributes: &AttributeSet<'_>, resource_attributes: &AttributeSet<'_>) -> Map<String, Value> {
    let mut pipeline = Map::new();
    for (summary_key, attribute_keys) in PIPELINE_SOURCES {
        if let Some(text) = first_clear_string(attribute_keys, span_attributes, resource_attributes) {
            pipeline.insert((*summary_key).to_owned(), Value::from(text));
        }
    }
    pipeline
}

// ---------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------

/// The output texts of a span: for generation spans the assistant text, for root spans
/// the final answer of the trace. The first source that yields text wins.
fn collect_outputs(
    kind: SpanKind,
    is_root: bool,
    span_attributes: &AttributeSet<'_>,
    events: &[(&str, AttributeSet<'_>)],
) -> Vec<String> {
    let mut outputs = Vec::new();
    if kind == SpanKind::Generation {
        outputs = generation_outputs(span_attributes, events);
    }
    if outputs.is_empty() && is_root {
        outputs = texts_from_messages_attribute(span_attributes.value("gen_ai.output.messages"));
        for key in [
            "output.value",
            "langfuse.trace.output",
            "langfuse.observation.output",
            "traceloop.entity.output",
        ] {
            if !outputs.is_empty() {
                break;
            }
            if let Some(text) = span_attributes.raw_string(key) {
                outputs = texts_from_output_value(text);
            }
        }
    }
    let mut seen = BTreeSet::new();
    outputs.retain(|text| !text.is_empty() && seen.insert(text.clone()));
    outputs
}

fn generation_outputs(span_attributes: &AttributeSet<'_>, events: &[(&str, AttributeSet<'_>)]) -> Vec<String> {
    let from_messages = texts_from_messages_attribute(span_attributes.value("gen_ai.output.messages"));
    if !from_messages.is_empty() {
        return from_messages;
    }
    let from_completions = indexed_message_texts(span_attributes, "gen_ai.completion", "content");
    if !from_completions.is_empty() {
        return from_completions;
    }
    if let Some(completion) = span_attributes.raw_string("gen_ai.completion") {
        let texts = texts_from_output_value(completion);
        if !texts.is_empty() {
            return texts;
        }
    }
    let from_openinference = indexed_message_texts(span_attributes, "llm.output_messages", "message.content");
    if !from_openinference.is_empty() {
        return from_openinference;
    }
    let from_events = choice_event_texts(events);
    if !from_events.is_empty() {
        return from_events;
    }
    for key in ["langfuse.observation.output", "output.value", "ai.response.text"] {
        if let Some(text) = span_attributes.raw_string(key) {
            let texts = texts_from_output_value(text);
            if !texts.is_empty() {
                return texts;
            }
        }
    }
    Vec::new()
}

/// `<prefix>.N.<leaf>` texts (plus OpenInference `message.contents.M.message_content.text`
/// parts), one per N, in index order.
fn indexed_message_texts(span_attributes: &AttributeSet<'_>, prefix: &str, leaf: &str) -> Vec<String> {
    let mut whole: BTreeMap<u64, String> = BTreeMap::new();
    let mut parts: BTreeMap<u64, BTreeMap<u64, String>> = BTreeMap::new();
    for key in span_attributes.keys_below(prefix) {
        let Some((index, rest)) = indexed_tail(key, prefix) else {
            continue;
        };
        let Some(text) = span_attributes.raw_string(key) else {
            continue;
        };
        if rest == leaf {
            whole.insert(index, text.to_owned());
        } else if let Some((part_index, "message_content.text")) = indexed_tail(rest, "message.contents") {
            parts.entry(index).or_default().insert(part_index, text.to_owned());
        }
    }
    for (index, message_parts) in parts {
        whole
            .entry(index)
            .or_insert_with(|| message_parts.into_values().collect::<String>());
    }
    whole.into_values().collect()
}

fn choice_event_texts(events: &[(&str, AttributeSet<'_>)]) -> Vec<String> {
    let mut texts = Vec::new();
    for (name, attributes) in events {
        if *name != "gen_ai.choice" {
            continue;
        }
        let message = structured_json_of(attributes.value("message"));
        let text = message
            .as_ref()
            .and_then(|value| value.get("content"))
            .and_then(text_of_content)
            .or_else(|| attributes.raw_string("message.content").map(str::to_owned))
            .or_else(|| attributes.raw_string("content").map(str::to_owned));
        if let Some(found) = text {
            texts.push(found);
        }
    }
    texts
}

/// Texts of a GenAI messages attribute (JSON string or structured array): one per
/// message, the concatenation of its text parts.
fn texts_from_messages_attribute(value: Option<&AnyValue>) -> Vec<String> {
    let Some(inner) = value.and_then(|any| any.value.as_ref()) else {
        return Vec::new();
    };
    match (structured_json_of(value), inner) {
        (Some(parsed), _) => texts_from_messages(&parsed),
        (None, any_value::Value::StringValue(text)) => vec![text.clone()],
        (None, _) => Vec::new(),
    }
}

fn texts_from_messages(value: &Value) -> Vec<String> {
    let messages: Vec<&Value> = match value {
        Value::Array(list) => list.iter().collect(),
        Value::Object(_) => vec![value],
        Value::String(text) => return vec![text.clone()],
        _ => return Vec::new(),
    };
    messages.into_iter().filter_map(text_of_message).collect()
}

/// The text of one message: GenAI `parts`, or an OpenAI / LangChain style `content`.
fn text_of_message(message: &Value) -> Option<String> {
    if let Some(Value::Array(parts)) = message.get("parts") {
        let text: String = parts.iter().filter_map(text_of_part).collect();
        return (!text.is_empty()).then_some(text);
    }
    let content = message
        .get("content")
        .or_else(|| message.get("kwargs").and_then(|kwargs| kwargs.get("content")));
    content.and_then(text_of_content).filter(|text| !text.is_empty())
}

fn text_of_part(part: &Value) -> Option<String> {
    let part_type = part.get("type").and_then(Value::as_str).unwrap_or("text");
    if part_type != "text" {
        return None;
    }
    part.get("content")
        .or_else(|| part.get("text"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A `content` value: a string, or a list of text parts.
fn text_of_content(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let text: String = parts.iter().filter_map(text_of_part).collect();
            (!text.is_empty()).then_some(text)
        }
        _ => None,
    }
}

/// Texts of a free-form output value (`output.value`, Langfuse / Traceloop outputs):
/// known response shapes (OpenAI `choices`, LangChain `generations`, `messages`, a
/// message with `content`, a GenAI message list) give their assistant text; a JSON
/// string literal gives the string; anything else is taken as it is.
fn texts_from_output_value(text: &str) -> Vec<String> {
    let Ok(parsed) = serde_json::from_str::<Value>(text) else {
        return vec![text.to_owned()];
    };
    match &parsed {
        Value::String(inner) => vec![inner.clone()],
        Value::Object(object) => {
            if let Some(Value::Array(choices)) = object.get("choices") {
                return choices
                    .iter()
                    .filter_map(|choice| {
                        choice
                            .get("message")
                            .and_then(text_of_message)
                            .or_else(|| choice.get("text").and_then(Value::as_str).map(str::to_owned))
                    })
                    .collect();
            }
            if let Some(Value::Array(generations)) = object.get("generations") {
                return generations
                    .iter()
                    .flat_map(|entry| match entry {
                        Value::Array(inner) => inner.iter().collect::<Vec<_>>(),
                        other => vec![other],
                    })
                    .filter_map(|generation| {
                        generation
                            .get("text")
                            .and_then(Value::as_str)
                            .filter(|text| !text.is_empty())
                            .map(str::to_owned)
                            .or_else(|| generation.get("message").and_then(text_of_message))
                    })
                    .collect();
            }
            if let Some(Value::Array(messages)) = object.get("messages") {
                return messages
                    .iter()
                    .filter(|message| is_assistant(message))
                    .filter_map(text_of_message)
                    .collect();
            }
            if object.contains_key("content") || object.contains_key("parts") {
                return text_of_message(&parsed).into_iter().collect();
            }
            vec![text.to_owned()]
        }
        Value::Array(list) if !list.is_empty() && list.iter().all(|entry| entry.get("parts").is_some()) => {
            texts_from_messages(&parsed)
        }
        _ => vec![text.to_owned()],
    }
}

fn is_assistant(message: &Value) -> bool {
    let role = message
        .get("role")
        .or_else(|| message.get("type"))
        .or_else(|| message.get("kwargs").and_then(|kwargs| kwargs.get("type")))
        .and_then(Value::as_str);
    matches!(role, Some("assistant" | "ai" | "model"))
}

// ---------------------------------------------------------------------------------------
// Log records (OTLP logs: GenAI events such as gen_ai.client.inference.operation.details)
// ---------------------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::commitment;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::trace::v1::{span, Status};

    fn string_value(text: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(text.to_owned())),
        }
    }

    fn attribute(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(value),
            ..Default::default()
        }
    }

    fn string_attribute(key: &str, text: &str) -> KeyValue {
        attribute(key, string_value(text))
    }

    fn int_attribute(key: &str, number: i64) -> KeyValue {
        attribute(
            key,
            AnyValue {
                value: Some(any_value::Value::IntValue(number)),
            },
        )
    }

    fn base_span(attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![0x11; 16],
            span_id: vec![0x22; 8],
            name: "chat gpt-4o-mini".to_owned(),
            kind: 3,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_500_000_000,
            attributes,
            ..Default::default()
        }
    }

    fn empty_context() -> SpanContext<'static> {
        SpanContext {
            resource: None,
            resource_schema_url: "",
            scope: None,
            scope_schema_url: "",
        }
    }

    fn normalize_fixed(span: &Span) -> Result<NormalizedSpan, String> {
        let mut sink = ContentSink::with_fixed_salt([7u8; commitment::SALT_LEN]);
        normalize_span(&empty_context(), span, &mut sink)
    }

    #[test]
    fn kind_table_first_match_wins() {
        let cases: Vec<(Vec<KeyValue>, SpanKind)> = vec![
            (
                vec![string_attribute("openinference.span.kind", "LLM")],
                SpanKind::Generation,
            ),
            (
                vec![string_attribute("openinference.span.kind", "retriever")],
                SpanKind::Retrieval,
            ),
            (
                vec![string_attribute("openinference.span.kind", "EVALUATOR")],
                SpanKind::Guardrail,
            ),
            (
                vec![string_attribute("openinference.span.kind", "RERANKER")],
                SpanKind::Rerank,
            ),
            (
                vec![string_attribute("openinference.span.kind", "PROMPT")],
                SpanKind::Chain,
            ),
            (
                vec![string_attribute("traceloop.span.kind", "workflow")],
                SpanKind::Chain,
            ),
            (vec![string_attribute("traceloop.span.kind", "task")], SpanKind::Chain),
            (vec![string_attribute("traceloop.span.kind", "tool")], SpanKind::Tool),
            (
                vec![string_attribute("llm.request.type", "embedding")],
                SpanKind::Embedding,
            ),
            (
                vec![string_attribute("langfuse.observation.type", "retriever")],
                SpanKind::Retrieval,
            ),
            (
                vec![string_attribute("langfuse.observation.type", "guardrail")],
                SpanKind::Guardrail,
            ),
            (
                vec![string_attribute("gen_ai.operation.name", "chat")],
                SpanKind::Generation,
            ),
            (
                vec![string_attribute("gen_ai.operation.name", "embeddings")],
                SpanKind::Embedding,
            ),
            (
                vec![string_attribute("gen_ai.operation.name", "execute_tool")],
                SpanKind::Tool,
            ),
            (
                vec![string_attribute("gen_ai.operation.name", "invoke_agent")],
                SpanKind::Agent,
            ),
            (
                vec![string_attribute("gen_ai.operation.name", "invoke_workflow")],
                SpanKind::Chain,
            ),
            (
                vec![string_attribute("gen_ai.operation.name", "retrieval")],
                SpanKind::Retrieval,
            ),
            (
                vec![string_attribute("gen_ai.operation.name", "apply_guardrail")],
                SpanKind::Guardrail,
            ),
            // OpenInference beats the GenAI operation name.
            (
                vec![
                    string_attribute("gen_ai.operation.name", "chat"),
                    string_attribute("openinference.span.kind", "TOOL"),
                ],
                SpanKind::Tool,
            ),
            // Langfuse "span" has no mapping and falls through to the next convention.
            (
                vec![
                    string_attribute("langfuse.observation.type", "span"),
                    string_attribute("gen_ai.operation.name", "chat"),
                ],
                SpanKind::Generation,
            ),
            (
                vec![
                    string_attribute("gen_ai.system", "openai"),
                    string_attribute("gen_ai.request.model", "gpt-4o"),
                ],
                SpanKind::Generation,
            ),
            (vec![string_attribute("gen_ai.system", "openai")], SpanKind::Other),
            (vec![string_attribute("http.method", "GET")], SpanKind::Other),
            // Duplicate keys: the last one wins.
            (
                vec![
                    string_attribute("gen_ai.operation.name", "chat"),
                    string_attribute("gen_ai.operation.name", "execute_tool"),
                ],
                SpanKind::Tool,
            ),
        ];
        for (attributes, expected) in cases {
            assert_eq!(span_kind_of(&attributes), expected, "{attributes:?}");
        }
    }

    #[test]
    fn content_classification() {
        let content = [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.system_instructions",
            "gen_ai.prompt",
            "gen_ai.completion",
            "gen_ai.prompt.0.content",
            "gen_ai.completion.1.content",
            "gen_ai.completion.0.tool_calls.0.arguments",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
            "gen_ai.retrieval.query.text",
            "gen_ai.retrieval.documents",
            "gen_ai.evaluation.explanation",
            "input.value",
            "output.value",
            "llm.input_messages.0.message.content",
            "llm.output_messages.3.message.content",
            "llm.input_messages.0.message.contents.1.message_content.text",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
            "tool_call.function.arguments",
            "llm.prompts",
            "llm.prompt_template.template",
            "llm.prompt_template.variables",
            "llm.invocation_parameters",
            "retrieval.documents.0.document.content",
            "retrieval.documents.0.document.metadata",
            "metadata",
            "traceloop.entity.input",
            "traceloop.entity.output",
            "langfuse.observation.input",
            "langfuse.observation.output",
            "langfuse.trace.input",
            "langfuse.trace.output",
            "langfuse.trace.metadata.pipeline",
            "gen_ai.request.messages",
            "db.query.text",
        ];
        for key in content {
            assert!(is_content_key(key), "{key} should be content");
        }
        let clear = [
            "gen_ai.prompt.0.role",
            "gen_ai.completion.0.finish_reason",
            "gen_ai.request.model",
            "gen_ai.response.model",
            "gen_ai.usage.input_tokens",
            "gen_ai.tool.name",
            "gen_ai.tool.description",
            "gen_ai.tool.definitions",
            "gen_ai.tool.call.id",
            "gen_ai.data_source.id",
            "gen_ai.conversation.id",
            "llm.input_messages.0.message.role",
            "llm.input_messages.3.message.tool_call_id",
            "llm.input_messages.3.message.name",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
            "llm.tools.0.tool.json_schema",
            "llm.prompt_template.version",
            "retrieval.documents.0.document.id",
            "retrieval.documents.0.document.score",
            "tool.name",
            "tool.description",
            "tool.parameters",
            "input.mime_type",
            "openinference.span.kind",
            "session.id",
            "user.id",
            "langfuse.observation.metadata.response_id",
            "langfuse.observation.model.parameters",
            "langfuse.observation.usage_details",
            "traceloop.association.properties.user_id",
            "metadata_version",
            "exception.message",
        ];
        for key in clear {
            assert!(!is_content_key(key), "{key} should be clear");
        }
        for key in [
            "content",
            "message",
            "body",
            "message.content",
            "gen_ai.event.content",
            "gen_ai.prompt",
        ] {
            assert!(is_event_content_key(key), "event {key} should be content");
        }
        for key in ["content", "message", "body", "text"] {
            assert!(!is_content_key(key), "span attribute {key} is not a content key");
        }
        for key in [
            "exception.message",
            "index",
            "finish_reason",
            "message.role",
            "gen_ai.system",
        ] {
            assert!(!is_event_content_key(key), "event {key} should be clear");
        }
    }

    #[test]
    fn any_value_encoding_covers_every_type() {
        let nested = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    string_attribute("s", "x"),
                    KeyValue {
                        key: "empty".into(),
                        value: None,
                        ..Default::default()
                    },
                ],
            })),
        };
        let cases = vec![
            (string_value("hi"), json!({"stringValue": "hi"})),
            (
                AnyValue {
                    value: Some(any_value::Value::BoolValue(true)),
                },
                json!({"boolValue": true}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::IntValue(i64::MIN)),
                },
                json!({"intValue": "-9223372036854775808"}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(0.25)),
                },
                json!({"doubleValue": 0.25}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(f64::NAN)),
                },
                json!({"doubleValue": "NaN"}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(f64::INFINITY)),
                },
                json!({"doubleValue": "Infinity"}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(f64::NEG_INFINITY)),
                },
                json!({"doubleValue": "-Infinity"}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::BytesValue(vec![0, 1, 2, 255])),
                },
                json!({"bytesValue": "AAEC/w=="}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue {
                        values: vec![
                            string_value("a"),
                            AnyValue {
                                value: Some(any_value::Value::IntValue(3)),
                            },
                        ],
                    })),
                },
                json!({"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "3"}]}}),
            ),
            (
                nested,
                json!({"kvlistValue": {"values": [{"key": "s", "value": {"stringValue": "x"}}, {"key": "empty", "value": {}}]}}),
            ),
            (AnyValue { value: None }, json!({})),
            (
                AnyValue {
                    value: Some(any_value::Value::StringValueStrindex(4)),
                },
                json!({}),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(encode_any_value(&value).unwrap(), expected);
        }
    }

    #[test]
    fn too_deep_values_are_rejected_not_overflowed() {
        let mut value = string_value("leaf");
        for _ in 0..(MAX_ANY_VALUE_DEPTH + 2) {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![value] })),
            };
        }
        assert!(encode_any_value(&value).is_err());
        // A committed attribute sorts before the bad one; the rejection drops it again.
        let span = base_span(vec![
            string_attribute("input.value", "committed first"),
            attribute("z.deep", value),
        ]);
        let mut sink = ContentSink::with_fixed_salt([7u8; commitment::SALT_LEN]);
        let reason = normalize_span(&empty_context(), &span, &mut sink).unwrap_err();
        assert!(reason.contains("z.deep"), "{reason}");
        assert!(sink.items.is_empty());
    }

    #[test]
    fn rejection_reasons() {
        let mut short_trace = base_span(Vec::new());
        short_trace.trace_id = vec![1; 15];
        assert!(normalize_fixed(&short_trace).unwrap_err().contains("trace id"));

        let mut zero_trace = base_span(Vec::new());
        zero_trace.trace_id = vec![0; 16];
        assert!(normalize_fixed(&zero_trace).unwrap_err().contains("all zeros"));

        let mut zero_span = base_span(Vec::new());
        zero_span.span_id = vec![0; 8];
        assert!(normalize_fixed(&zero_span).unwrap_err().contains("span id"));

        let mut bad_parent = base_span(Vec::new());
        bad_parent.parent_span_id = vec![1, 2, 3];
        assert!(normalize_fixed(&bad_parent).unwrap_err().contains("parent_span_id"));

        let mut zero_start = base_span(Vec::new());
        zero_start.start_time_unix_nano = 0;
        assert!(normalize_fixed(&zero_start)
            .unwrap_err()
            .contains("start_time_unix_nano is 0"));

        let mut backwards = base_span(Vec::new());
        backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;
        assert!(normalize_fixed(&backwards)
            .unwrap_err()
            .contains("before start_time_unix_nano"));

        let mut bad_kind = base_span(Vec::new());
        bad_kind.kind = 9;
        assert!(normalize_fixed(&bad_kind).unwrap_err().contains("SpanKind"));

        let mut bad_status = base_span(Vec::new());
        bad_status.status = Some(Status {
            code: 7,
            message: String::new(),
        });
        assert!(normalize_fixed(&bad_status).unwrap_err().contains("StatusCode"));

        let mut bad_link = base_span(Vec::new());
        bad_link.links = vec![span::Link {
            trace_id: vec![1; 16],
            span_id: vec![],
            ..Default::default()
        }];
        assert!(normalize_fixed(&bad_link).unwrap_err().contains("link 0"));

        let mut root = base_span(Vec::new());
        root.end_time_unix_nano = root.start_time_unix_nano;
        let normalized = normalize_fixed(&root).unwrap();
        assert!(normalized.parent_span_id.is_none());
        assert!(normalized.body.get("parent_span_id").is_none());
    }

    fn generation_span() -> Span {
        let mut span = base_span(vec![
            string_attribute("gen_ai.operation.name", "chat"),
            string_attribute("gen_ai.provider.name", "openai"),
            string_attribute("gen_ai.request.model", "gpt-4o-mini"),
            attribute(
                "gen_ai.request.temperature",
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(0.2)),
                },
            ),
            int_attribute("gen_ai.request.max_tokens", 64),
            int_attribute("gen_ai.usage.input_tokens", 25),
            int_attribute("gen_ai.usage.output_tokens", 8),
            string_attribute(
                "gen_ai.input.messages",
                r#"[{"role":"user","parts":[{"type":"text","content":"Secret question?"}]}]"#,
            ),
            string_attribute(
                "gen_ai.output.messages",
                r#"[{"role":"assistant","parts":[{"type":"text","content":"Secret "},{"type":"text","content":"answer."}]}]"#,
            ),
            string_attribute("enduser.id", "user-1"),
            string_attribute("session.id", "sess-1"),
        ]);
        span.parent_span_id = vec![0x33; 8];
        span.events = vec![span::Event {
            name: "gen_ai.user.message".into(),
            time_unix_nano: 1_700_000_000_100_000_000,
            attributes: vec![
                string_attribute("content", "Secret question?"),
                string_attribute("role", "user"),
            ],
            dropped_attributes_count: 0,
        }];
        span
    }

    #[test]
    fn generation_span_body() {
        let normalized = normalize_fixed(&generation_span()).unwrap();
        assert_eq!(normalized.kind, SpanKind::Generation);
        assert_eq!(normalized.outputs, vec!["Secret answer.".to_owned()]);
        assert_eq!(normalized.user_id.as_deref(), Some("user-1"));
        assert_eq!(normalized.session_id.as_deref(), Some("sess-1"));
        let body = &normalized.body;
        assert_eq!(body["trace_id"], json!("11".repeat(16)));
        assert_eq!(body["parent_span_id"], json!("33".repeat(8)));
        assert_eq!(body["kind"], json!("generation"));
        assert_eq!(body["otel_kind"], json!(3));
        assert_eq!(body["start_time_unix_nano"], json!("1700000000000000000"));
        assert_eq!(body["status"], json!({"code": 0, "message": ""}));
        assert!(body.get("flags").is_none() && body.get("links").is_none() && body.get("dropped").is_none());
        assert_eq!(
            body["attributes"]["gen_ai.request.max_tokens"],
            json!({"intValue": "64"})
        );
        assert_eq!(
            body["genai"]["usage"],
            json!({"input_tokens": "25", "output_tokens": "8"})
        );
        assert_eq!(body["genai"]["parameters"]["temperature"], json!({"doubleValue": 0.2}));
        assert_eq!(body["genai"]["request_model"], json!("gpt-4o-mini"));
        assert_eq!(body["genai"]["provider"], json!("openai"));
        assert_eq!(body["events"][0]["attributes"]["role"], json!({"stringValue": "user"}));
        let serialized = body.to_string();
        assert!(!serialized.contains("Secret"), "{serialized}");
        let fields: Vec<&str> = normalized.contents.iter().map(|item| item.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "attributes.gen_ai.input.messages",
                "attributes.gen_ai.output.messages",
                "events[0].attributes.content"
            ]
        );
        for item in &normalized.contents {
            let expected = json!({"sha256": item.committed.commitment.sha256, "len": item.committed.commitment.len});
            assert!(serialized.contains(&expected.to_string()));
            assert!(commitment::opens(
                &item.committed.commitment,
                &item.committed.salt,
                &item.committed.content
            ));
        }
    }

    #[test]
    fn normalization_is_deterministic_with_a_fixed_salt() {
        let span = generation_span();
        let first = normalize_fixed(&span).unwrap();
        let second = normalize_fixed(&span).unwrap();
        assert_eq!(first, second);
        let first_bytes = serde_json_canonicalizer::to_vec(&first.body).unwrap();
        let second_bytes = serde_json_canonicalizer::to_vec(&second.body).unwrap();
        assert_eq!(first_bytes, second_bytes);
        // Random salts give different commitments for the same content.
        let mut random_sink = ContentSink::new();
        let random = normalize_span(&empty_context(), &span, &mut random_sink).unwrap();
        assert_ne!(random.body, first.body);
    }

    #[test]
    fn duplicate_keys_keep_the_last_and_commit_once() {
        let span = base_span(vec![
            string_attribute("input.value", "first secret"),
            string_attribute("input.value", "second secret"),
            string_attribute("service.tier", "a"),
            string_attribute("service.tier", "b"),
        ]);
        let normalized = normalize_fixed(&span).unwrap();
        assert_eq!(normalized.contents.len(), 1);
        assert_eq!(normalized.contents[0].committed.content, "second secret");
        assert_eq!(
            normalized.body["attributes"]["service.tier"],
            json!({"stringValue": "b"})
        );
    }

    #[test]
    fn non_string_content_commits_canonical_json() {
        let span = base_span(vec![attribute(
            "gen_ai.input.messages",
            AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![string_value("hello there")],
                })),
            },
        )]);
        let normalized = normalize_fixed(&span).unwrap();
        assert_eq!(
            normalized.contents[0].committed.content,
            r#"{"arrayValue":{"values":[{"stringValue":"hello there"}]}}"#
        );
        assert!(!normalized.body.to_string().contains("hello there"));
    }

    #[test]
    fn retrieval_documents_are_summarised_with_committed_text() {
        let documents = r#"[{"id":"doc-1","uri":"https://x/1","score":0.9,"content":"private text one"},{"id":"doc-2","score":0.5,"text":"private text two"}]"#;
        let span = base_span(vec![
            string_attribute("gen_ai.operation.name", "retrieval"),
            string_attribute("gen_ai.data_source.id", "kb"),
            int_attribute("gen_ai.request.top_k", 2),
            string_attribute("gen_ai.retrieval.query.text", "private query"),
            string_attribute("gen_ai.retrieval.documents", documents),
        ]);
        let normalized = normalize_fixed(&span).unwrap();
        let retrieval = &normalized.body["genai"]["retrieval"];
        assert_eq!(retrieval["data_source_id"], json!("kb"));
        assert_eq!(retrieval["top_k"], json!("2"));
        assert_eq!(
            retrieval["query"],
            normalized.body["attributes"]["gen_ai.retrieval.query.text"]
        );
        assert_eq!(retrieval["documents"][0]["id"], json!("doc-1"));
        assert_eq!(retrieval["documents"][0]["uri"], json!("https://x/1"));
        assert_eq!(retrieval["documents"][1]["score"], json!(0.5));
        let fields: Vec<&str> = normalized.contents.iter().map(|item| item.field.as_str()).collect();
        assert!(fields.contains(&"genai.retrieval.documents[1].content"));
        assert!(!normalized.body.to_string().contains("private"));
    }

    #[test]
    fn output_value_shapes() {
        assert_eq!(texts_from_output_value("plain answer"), vec!["plain answer"]);
        assert_eq!(texts_from_output_value(r#""quoted answer""#), vec!["quoted answer"]);
        assert_eq!(
            texts_from_output_value(r#"{"choices":[{"message":{"role":"assistant","content":"from openai"}}]}"#),
            vec!["from openai"]
        );
        assert_eq!(
            texts_from_output_value(r#"{"generations":[[{"text":"","message":{"kwargs":{"content":"from lc"}}}]]}"#),
            vec!["from lc"]
        );
        assert!(texts_from_output_value(r#"{"role":"assistant","content":null,"tool_calls":[]}"#).is_empty());
        assert_eq!(texts_from_output_value(r#"{"answer":"x"}"#), vec![r#"{"answer":"x"}"#]);
    }

    #[test]
    fn resource_scope_links_and_dropped_counts() {
        let resource = Resource {
            attributes: vec![
                string_attribute("service.name", "svc"),
                string_attribute("user.id", "u-9"),
            ],
            dropped_attributes_count: 2,
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "lib".into(),
            version: String::new(),
            ..Default::default()
        };
        let context = SpanContext {
            resource: Some(&resource),
            resource_schema_url: "https://schema/r",
            scope: Some(&scope),
            scope_schema_url: "",
        };
        let mut span = base_span(Vec::new());
        span.flags = 256;
        span.trace_state = "k=v".into();
        span.dropped_events_count = 1;
        span.links = vec![span::Link {
            trace_id: vec![5; 16],
            span_id: vec![6; 8],
            ..Default::default()
        }];
        let mut sink = ContentSink::with_fixed_salt([1u8; commitment::SALT_LEN]);
        let normalized = normalize_span(&context, &span, &mut sink).unwrap();
        let body = &normalized.body;
        assert_eq!(body["flags"], json!(256));
        assert_eq!(body["trace_state"], json!("k=v"));
        assert_eq!(body["dropped"], json!({"attributes": 0, "events": 1, "links": 0}));
        assert_eq!(body["resource"]["schema_url"], json!("https://schema/r"));
        assert_eq!(body["resource"]["dropped_attributes_count"], json!(2));
        assert_eq!(body["scope"], json!({"name": "lib"}));
        assert_eq!(
            body["links"][0],
            json!({"trace_id": "05".repeat(16), "span_id": "06".repeat(8), "attributes": {}})
        );
        assert_eq!(body["genai"]["pipeline"]["service_name"], json!("svc"));
        assert_eq!(normalized.user_id.as_deref(), Some("u-9"));
    }
}
