//! The content tables: which attribute keys carry content (text a user or a model
//! wrote). Content never appears in clear in a body: the whole attribute value is replaced
//! by the `{"sha256", "len"}` commitment that [`crate::ingest::ContentSink::commit`]
//! returns. When unsure, a key is treated as content: a commitment can always be opened
//! later, while clear text in a signed append-only log can never be erased.
//!
//! Reference: `docs/conventions.md` §4 "Content".

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

pub(crate) fn is_at_or_below(key: &str, prefix: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
