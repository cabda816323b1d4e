//! The `genai` summary of a span or log record body: ids, provider and models, finish
//! reasons, model parameters, token usage, agent, tool and pipeline, built from clear
//! attributes only. Content enters it only as the commitments the attribute set already
//! made; the retrieval part lives in [`super::retrieval`].
//!
//! Reference: `docs/conventions.md` §5 "The `genai` summary".

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::any_value;
use serde_json::{Map, Value};

use super::retrieval::retrieval_summary;
use super::span_kinds::KindDecision;
use crate::ingest::anyvalue::{encode_plain_json, structured_json_of};
use crate::ingest::attributes::{count_of_double, AttributeSet};
use crate::ingest::{ContentSink, SpanKind};

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

/// Workflow name sources, first present wins.
pub const WORKFLOW_NAME_KEYS: &[&str] = &["gen_ai.workflow.name", "traceloop.workflow.name"];

/// Finish reason sources (an array or a single string), first present wins; then
/// Langfuse's `langfuse.observation.metadata.finish_reason` (JSON-unquoted), then the
/// Traceloop legacy `gen_ai.completion.N.finish_reason`.
pub const FINISH_REASON_KEYS: &[&str] = &[
    "gen_ai.response.finish_reasons",
    "llm.response.finish_reason",
    "llm.finish_reason",
];

/// Model parameters outside `gen_ai.request.*`: attribute and parameter name (the first
/// present of a name wins).
pub const RENAMED_PARAMETER_KEYS: &[(&str, &str)] = &[
    ("gen_ai.output.type", "output_type"),
    ("gen_ai.is_streaming", "stream"),
    ("llm.is_streaming", "stream"),
];

/// Agent summary: summary key and its attribute.
pub const AGENT_SOURCES: &[(&str, &str)] = &[
    ("name", "gen_ai.agent.name"),
    ("id", "gen_ai.agent.id"),
    ("description", "gen_ai.agent.description"),
];

/// Tool summary: summary key and its attribute sources (first present wins).
pub const TOOL_SOURCES: &[(&str, &[&str])] = &[
    ("name", &["gen_ai.tool.name", "tool.name"]),
    ("call_id", &["gen_ai.tool.call.id", "tool_call.id"]),
    ("type", &["gen_ai.tool.type"]),
];

/// The attributes whose commitment is a tool call's `arguments` on any span.
pub const TOOL_CALL_ARGUMENT_KEYS: &[&str] = &["gen_ai.tool.call.arguments", "tool_call.function.arguments"];
/// The same on tool spans, where the span's own input is the call's arguments.
pub const TOOL_SPAN_ARGUMENT_KEYS: &[&str] = &[
    "gen_ai.tool.call.arguments",
    "tool_call.function.arguments",
    "input.value",
    "traceloop.entity.input",
    "langfuse.observation.input",
];
/// The attributes whose commitment is a tool call's `result` on any span.
pub const TOOL_CALL_RESULT_KEYS: &[&str] = &["gen_ai.tool.call.result"];
/// The same on tool spans, where the span's own output is the call's result.
pub const TOOL_SPAN_RESULT_KEYS: &[&str] = &[
    "gen_ai.tool.call.result",
    "output.value",
    "traceloop.entity.output",
    "langfuse.observation.output",
];

/// User, session and conversation ids of a span.
pub(crate) struct Identities {
    pub(crate) user_id: Option<String>,
    pub(crate) session_id: Option<String>,
    conversation_id: Option<String>,
}

impl Identities {
    pub(crate) fn find(span_attributes: &AttributeSet<'_>, resource_attributes: &AttributeSet<'_>) -> Self {
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

pub(crate) fn build_genai_summary(
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
        WORKFLOW_NAME_KEYS
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
    for key in FINISH_REASON_KEYS.iter().copied() {
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
pub(crate) fn indexed_tail<'k>(key: &'k str, prefix: &str) -> Option<(u64, &'k str)> {
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
    for &(key, name) in RENAMED_PARAMETER_KEYS {
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
    for &(summary_key, attribute_key) in AGENT_SOURCES {
        if let Some(text) = span_attributes.clear_string(attribute_key) {
            agent.insert(summary_key.to_owned(), Value::from(text));
        }
    }
    agent
}

fn tool_summary(kind: SpanKind, span_attributes: &AttributeSet<'_>) -> Map<String, Value> {
    let mut tool = Map::new();
    for &(summary_key, attribute_keys) in TOOL_SOURCES {
        if let Some(text) = attribute_keys.iter().find_map(|key| span_attributes.clear_string(key)) {
            tool.insert(summary_key.to_owned(), Value::from(text));
        }
    }
    if kind != SpanKind::Tool && tool.is_empty() {
        return tool;
    }
    // Reuse the commitments of the attributes that hold the call's arguments and result.
    let (argument_keys, result_keys) = if kind == SpanKind::Tool {
        (TOOL_SPAN_ARGUMENT_KEYS, TOOL_SPAN_RESULT_KEYS)
    } else {
        (TOOL_CALL_ARGUMENT_KEYS, TOOL_CALL_RESULT_KEYS)
    };
    if let Some(commitment) = argument_keys.iter().find_map(|key| span_attributes.commitment(key)) {
        tool.insert("arguments".into(), commitment);
    }
    if let Some(commitment) = result_keys.iter().find_map(|key| span_attributes.commitment(key)) {
        tool.insert("result".into(), commitment);
    }
    tool
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
