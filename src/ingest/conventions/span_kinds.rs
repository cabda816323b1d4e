//! The span kind table: which attribute value decides the canonical [`SpanKind`] of a
//! span or log record (first match wins), and the rule that decided (`genai.kind_source`).
//!
//! Reference: `docs/conventions.md` §3 "Span kind table".

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

use crate::ingest::attributes::latest_values;
use crate::ingest::SpanKind;

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
pub(crate) struct KindDecision {
    pub(crate) kind: SpanKind,
    pub(crate) source: String,
}

pub(crate) fn decide_kind<'a>(clear_string: &dyn Fn(&str) -> Option<&'a str>) -> KindDecision {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::test_support::string_attribute;

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
}
