//! Roles: which attribute keys carry which part of an LLM call's story (the prompt, the
//! system instructions, the answer, a tool call's arguments and result, the model and its
//! parameters, application metadata, a retrieval's query and documents), per convention.
//!
//! This is the one table that readers of span entry bodies (the provenance report) use to
//! find those parts, so that every convention the normalizer accepts is also shown: a key
//! listed here is shown in the report under its role, a key missing here is not. The
//! normalizer's own tables ([`super::content_keys`], [`super::outputs`],
//! [`super::retrieval`], [`super::genai_summary`]) agree with it; the tests below check that
//! every content role is committed, and that the output, query, tool and parameter sources of
//! those tables all have the role they are read for.
//!
//! Each attribute key has at most one role: the first row of [`ROLE_KEYS`] that matches it
//! decides ([`role_of`]). Rows of one role are in priority order ([`first_of_role`]).
//!
//! Reference: `docs/conventions.md` §7 "Roles".

use serde_json::{Map, Value};

use super::content_keys::is_at_or_below;

/// What an attribute carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The prompt: the input messages of a model call.
    Prompt,
    /// System instructions given apart from the messages.
    SystemInstructions,
    /// A prompt template, its variables, or the managed prompt it came from.
    PromptTemplate,
    /// The answer: the output messages / completions of a model call.
    Output,
    /// A tool call's arguments.
    ToolArguments,
    /// A tool call's result.
    ToolResult,
    /// A framework's generic input of a span (a model call's prompt, a tool's arguments, a
    /// retriever's query, a chain's input — the span kind says which).
    SpanInput,
    /// A framework's generic output of a span (a model call's answer, a tool's result, a
    /// retriever's documents, a chain's output).
    SpanOutput,
    /// The requested or responding model.
    Model,
    /// Model / invocation parameters (temperature, max tokens, ...).
    ModelParameters,
    /// Application metadata attached to a span or trace.
    Metadata,
    /// A retrieval's query.
    RetrievalQuery,
    /// A retrieval's (or reranker's) documents.
    RetrievalDocuments,
    /// A guardrail's verdict and findings.
    GuardrailResult,
}

impl Role {
    /// Every role, in the order of the table in `docs/conventions.md` §7.
    pub const ALL: &'static [Role] = &[
        Role::Prompt,
        Role::SystemInstructions,
        Role::PromptTemplate,
        Role::Output,
        Role::ToolArguments,
        Role::ToolResult,
        Role::SpanInput,
        Role::SpanOutput,
        Role::Model,
        Role::ModelParameters,
        Role::Metadata,
        Role::RetrievalQuery,
        Role::RetrievalDocuments,
        Role::GuardrailResult,
    ];

    /// The role's name in `docs/conventions.md`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Prompt => "prompt",
            Role::SystemInstructions => "system instructions",
            Role::PromptTemplate => "prompt template",
            Role::Output => "output",
            Role::ToolArguments => "tool arguments",
            Role::ToolResult => "tool result",
            Role::SpanInput => "span input",
            Role::SpanOutput => "span output",
            Role::Model => "model",
            Role::ModelParameters => "model parameters",
            Role::Metadata => "metadata",
            Role::RetrievalQuery => "retrieval query",
            Role::RetrievalDocuments => "retrieval documents",
            Role::GuardrailResult => "guardrail result",
        }
    }

    /// Whether values of this role are content (committed, never in clear).
    pub fn is_content(&self) -> bool {
        !matches!(
            self,
            Role::Model | Role::ModelParameters | Role::PromptTemplate | Role::GuardrailResult
        )
    }
}

/// Which convention a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Convention {
    /// OpenTelemetry GenAI semantic conventions, current names.
    GenAi,
    /// OpenTelemetry GenAI semantic conventions, deprecated names (also what older
    /// OpenLLMetry releases send).
    GenAiDeprecated,
    /// OpenInference (Arize).
    OpenInference,
    /// OpenLLMetry / Traceloop's own names.
    Traceloop,
    /// Langfuse SDKs.
    Langfuse,
    /// Proposed or framework-neutral names outside the conventions above.
    Other,
}

impl Convention {
    /// Every convention, in the column order of `docs/conventions.md` §7.
    pub const ALL: &'static [Convention] = &[
        Convention::GenAi,
        Convention::GenAiDeprecated,
        Convention::OpenInference,
        Convention::Traceloop,
        Convention::Langfuse,
        Convention::Other,
    ];
}

/// How a row matches an attribute key (on `.`-separated segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatch {
    /// Exactly this key.
    Exact(&'static str),
    /// This key or any key below it (`p`, `p.x`, `p.x.y`).
    Prefix(&'static str),
}

impl KeyMatch {
    /// Whether `key` matches.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            KeyMatch::Exact(exact) => key == *exact,
            KeyMatch::Prefix(prefix) => is_at_or_below(key, prefix),
        }
    }

    /// The key or prefix as written in `docs/conventions.md` (`p.*` for a prefix).
    pub fn display(&self) -> String {
        match self {
            KeyMatch::Exact(exact) => format!("`{exact}`"),
            KeyMatch::Prefix(prefix) => format!("`{prefix}.*`"),
        }
    }
}

/// One row: keys matching `key` carry `role` in `convention`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleKey {
    /// What the attribute carries.
    pub role: Role,
    /// Whose name it is.
    pub convention: Convention,
    /// Which keys.
    pub key: KeyMatch,
}

const fn row(role: Role, convention: Convention, key: KeyMatch) -> RoleKey {
    RoleKey { role, convention, key }
}

use Convention::{GenAi, GenAiDeprecated, Langfuse, OpenInference, Other, Traceloop};
use KeyMatch::{Exact, Prefix};

/// The roles table. The first matching row decides a key's role, so the exact model and
/// message keys come before the `gen_ai.request.*` parameter prefix; rows of one role are in
/// priority order.
pub const ROLE_KEYS: &[RoleKey] = &[
    // The prompt.
    row(Role::Prompt, GenAi, Exact("gen_ai.input.messages")),
    row(Role::Prompt, GenAiDeprecated, Prefix("gen_ai.prompt")),
    row(Role::Prompt, GenAiDeprecated, Exact("gen_ai.request.messages")),
    row(Role::Prompt, OpenInference, Prefix("llm.input_messages")),
    row(Role::Prompt, OpenInference, Prefix("llm.prompts")),
    row(Role::SystemInstructions, GenAi, Exact("gen_ai.system_instructions")),
    row(Role::PromptTemplate, OpenInference, Prefix("llm.prompt_template")),
    row(Role::PromptTemplate, Traceloop, Prefix("traceloop.prompt")),
    row(Role::PromptTemplate, Langfuse, Prefix("langfuse.observation.prompt")),
    // The answer.
    row(Role::Output, GenAi, Exact("gen_ai.output.messages")),
    row(Role::Output, GenAiDeprecated, Prefix("gen_ai.completion")),
    row(Role::Output, OpenInference, Prefix("llm.output_messages")),
    // Tools.
    row(Role::ToolArguments, GenAi, Exact("gen_ai.tool.call.arguments")),
    row(
        Role::ToolArguments,
        OpenInference,
        Exact("tool_call.function.arguments"),
    ),
    row(Role::ToolResult, GenAi, Exact("gen_ai.tool.call.result")),
    // A framework's generic input and output of a span.
    row(Role::SpanInput, OpenInference, Exact("input.value")),
    row(Role::SpanInput, Traceloop, Exact("traceloop.entity.input")),
    row(Role::SpanInput, Langfuse, Exact("langfuse.observation.input")),
    row(Role::SpanInput, Langfuse, Exact("langfuse.trace.input")),
    row(Role::SpanInput, Other, Exact("mlflow.spanInputs")),
    row(Role::SpanOutput, OpenInference, Exact("output.value")),
    row(Role::SpanOutput, Traceloop, Exact("traceloop.entity.output")),
    row(Role::SpanOutput, Langfuse, Exact("langfuse.observation.output")),
    row(Role::SpanOutput, Langfuse, Exact("langfuse.trace.output")),
    row(Role::SpanOutput, Other, Exact("mlflow.spanOutputs")),
    // The model and its parameters.
    row(Role::Model, GenAi, Exact("gen_ai.request.model")),
    row(Role::Model, GenAi, Exact("gen_ai.response.model")),
    row(Role::Model, OpenInference, Exact("llm.model_name")),
    row(Role::Model, Traceloop, Exact("llm.request.model")),
    row(Role::Model, Traceloop, Exact("llm.response.model")),
    row(Role::Model, Langfuse, Exact("langfuse.observation.model.name")),
    row(Role::ModelParameters, GenAi, Prefix("gen_ai.request")),
    row(Role::ModelParameters, GenAi, Exact("gen_ai.output.type")),
    row(Role::ModelParameters, OpenInference, Exact("llm.invocation_parameters")),
    row(Role::ModelParameters, Traceloop, Exact("gen_ai.is_streaming")),
    row(Role::ModelParameters, Traceloop, Exact("llm.is_streaming")),
    row(
        Role::ModelParameters,
        Langfuse,
        Exact("langfuse.observation.model.parameters"),
    ),
    // Application metadata.
    row(Role::Metadata, OpenInference, Prefix("metadata")),
    row(Role::Metadata, Traceloop, Prefix("traceloop.association.properties")),
    row(Role::Metadata, Langfuse, Prefix("langfuse.observation.metadata")),
    row(Role::Metadata, Langfuse, Prefix("langfuse.trace.metadata")),
    // Retrieval.
    row(Role::RetrievalQuery, GenAi, Exact("gen_ai.retrieval.query.text")),
    row(Role::RetrievalQuery, OpenInference, Exact("reranker.query")),
    row(Role::RetrievalDocuments, GenAi, Exact("gen_ai.retrieval.documents")),
    row(Role::RetrievalDocuments, OpenInference, Prefix("retrieval.documents")),
    row(
        Role::RetrievalDocuments,
        OpenInference,
        Prefix("reranker.input_documents"),
    ),
    row(
        Role::RetrievalDocuments,
        OpenInference,
        Prefix("reranker.output_documents"),
    ),
    // Guardrails (the proposed `gen_ai.security.*` names have no released convention).
    row(Role::GuardrailResult, Other, Prefix("gen_ai.security")),
    row(Role::GuardrailResult, Other, Prefix("gen_ai.guardian")),
    row(Role::GuardrailResult, Other, Prefix("guardrail")),
];

/// The row that decides `key`'s role (the first that matches), if any.
pub fn role_of(key: &str) -> Option<&'static RoleKey> {
    ROLE_KEYS.iter().find(|row| row.key.matches(key))
}

/// The attributes of `attributes` (a body's attribute object) whose role is one of
/// `roles`, keyed as in the body.
pub fn attributes_in_roles(attributes: &Value, roles: &[Role]) -> Map<String, Value> {
    let mut selected = Map::new();
    if let Value::Object(attributes) = attributes {
        for (key, value) in attributes {
            if role_of(key).is_some_and(|row| roles.contains(&row.role)) {
                selected.insert(key.clone(), value.clone());
            }
        }
    }
    selected
}

/// The value of the highest-priority attribute of `role` present in `attributes` (for a
/// prefix row, the first key below it in key order).
pub fn first_of_role(attributes: &Value, role: Role) -> Option<&Value> {
    let Value::Object(attributes) = attributes else {
        return None;
    };
    ROLE_KEYS
        .iter()
        .filter(|row| row.role == role)
        .find_map(|row| match row.key {
            KeyMatch::Exact(exact) => attributes.get(exact),
            KeyMatch::Prefix(_) => attributes
                .iter()
                .find(|(key, _)| row.key.matches(key) && role_of(key).is_some_and(|decided| decided.role == role))
                .map(|(_, value)| value),
        })
}

/// The rows of one role and convention, as written in a cell of the table of
/// `docs/conventions.md` §7 (keys separated by `, `; empty when none).
pub fn doc_cell(role: Role, convention: Convention) -> String {
    ROLE_KEYS
        .iter()
        .filter(|row| row.role == role && row.convention == convention)
        .map(|row| row.key.display())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ingest::conventions::content_keys::{is_content_key, CLEAR_OVERRIDES};
    use crate::ingest::conventions::genai_summary::{
        RENAMED_PARAMETER_KEYS, REQUEST_MODEL_KEYS, RESPONSE_MODEL_KEYS, TOOL_SPAN_ARGUMENT_KEYS, TOOL_SPAN_RESULT_KEYS,
    };
    use crate::ingest::conventions::outputs::{GENERATION_OUTPUT_VALUE_KEYS, ROOT_OUTPUT_KEYS};
    use crate::ingest::conventions::retrieval::{RETRIEVAL_OUTPUT_KEYS, RETRIEVAL_SPAN_QUERY_KEYS};

    fn role(key: &str) -> Option<Role> {
        role_of(key).map(|row| row.role)
    }

    /// A key that a row stands for (a prefix row's prefix, with a segment below it).
    fn sample_key(row: &RoleKey) -> String {
        match row.key {
            KeyMatch::Exact(exact) => exact.to_owned(),
            KeyMatch::Prefix(prefix) => format!("{prefix}.0.content"),
        }
    }

    #[test]
    fn every_row_decides_its_own_keys() {
        for row in ROLE_KEYS {
            let key = sample_key(row);
            // `gen_ai.request.*` is the parameters' prefix, but the model and the messages
            // rows before it win for their exact keys.
            assert_eq!(role(&key), Some(row.role), "{key} ({row:?})");
        }
        assert_eq!(role("gen_ai.request.model"), Some(Role::Model));
        assert_eq!(role("gen_ai.request.messages"), Some(Role::Prompt));
        assert_eq!(role("gen_ai.request.temperature"), Some(Role::ModelParameters));
        assert_eq!(role("gen_ai.prompt_tokens"), None, "prefixes respect segments");
        assert_eq!(role("gen_ai.usage.input_tokens"), None);
    }

    #[test]
    fn content_roles_are_committed() {
        for row in ROLE_KEYS.iter().filter(|row| row.role.is_content()) {
            let key = sample_key(row);
            if row.convention == Convention::Traceloop && row.role == Role::Metadata {
                // Association properties are ids the application chose to propagate
                // (user, session, conversation): clear by decision (conventions.md §4).
                continue;
            }
            assert!(is_content_key(&key), "{key} carries {:?} but is not content", row.role);
        }
        // The metadata values the Langfuse SDK itself writes stay clear, and are metadata.
        for key in CLEAR_OVERRIDES {
            assert_eq!(role(key), Some(Role::Metadata), "{key}");
        }
    }

    #[test]
    fn the_normalizer_tables_read_keys_for_their_role() {
        for key in GENERATION_OUTPUT_VALUE_KEYS
            .iter()
            .chain(ROOT_OUTPUT_KEYS)
            .chain(RETRIEVAL_OUTPUT_KEYS)
        {
            if *key == "ai.response.text" {
                continue; // Vercel AI SDK: output only, no role table row yet
            }
            assert!(
                matches!(role(key), Some(Role::Output | Role::SpanOutput)),
                "output source {key} has role {:?}",
                role(key)
            );
        }
        for key in RETRIEVAL_SPAN_QUERY_KEYS {
            assert!(
                matches!(role(key), Some(Role::RetrievalQuery | Role::SpanInput)),
                "{key}"
            );
        }
        for key in TOOL_SPAN_ARGUMENT_KEYS {
            assert!(
                matches!(role(key), Some(Role::ToolArguments | Role::SpanInput)),
                "{key}"
            );
        }
        for key in TOOL_SPAN_RESULT_KEYS {
            assert!(matches!(role(key), Some(Role::ToolResult | Role::SpanOutput)), "{key}");
        }
        for key in REQUEST_MODEL_KEYS.iter().chain(RESPONSE_MODEL_KEYS) {
            assert_eq!(role(key), Some(Role::Model), "{key}");
        }
        for (key, _) in RENAMED_PARAMETER_KEYS {
            assert_eq!(role(key), Some(Role::ModelParameters), "{key}");
        }
        for key in ["llm.invocation_parameters", "langfuse.observation.model.parameters"] {
            assert_eq!(role(key), Some(Role::ModelParameters), "{key}");
        }
    }

    #[test]
    fn selects_by_role_and_priority() {
        let attributes = json!({
            "langfuse.observation.input": {"sha256": "aa", "len": 2},
            "langfuse.observation.output": {"sha256": "bb", "len": 2},
            "langfuse.observation.model.parameters": {"stringValue": "{\"temperature\": 0.2}"},
            "langfuse.observation.metadata.finish_reason": {"stringValue": "\"stop\""},
            "langfuse.trace.metadata.pipeline": {"sha256": "cc", "len": 2},
            "gen_ai.tool.call.arguments": {"sha256": "dd", "len": 2},
            "input.value": {"sha256": "ee", "len": 2},
        });
        let inputs = attributes_in_roles(&attributes, &[Role::SpanInput]);
        assert_eq!(
            inputs.keys().collect::<Vec<_>>(),
            ["input.value", "langfuse.observation.input"]
        );
        let metadata = attributes_in_roles(&attributes, &[Role::Metadata]);
        assert_eq!(metadata.len(), 2, "{metadata:?}");
        assert_eq!(
            first_of_role(&attributes, Role::ToolArguments),
            Some(&json!({"sha256": "dd", "len": 2}))
        );
        // input.value's row comes before langfuse.observation.input's.
        assert_eq!(
            first_of_role(&attributes, Role::SpanInput),
            Some(&json!({"sha256": "ee", "len": 2}))
        );
        assert_eq!(first_of_role(&attributes, Role::ToolResult), None);
        assert!(attributes_in_roles(&json!(null), &[Role::Prompt]).is_empty());
    }

    /// The roles table of docs/conventions.md §7 is this table, cell by cell.
    #[test]
    fn docs_table_matches() {
        let doc = include_str!("../../../docs/conventions.md");
        let section = doc
            .split("\n## 7. Roles")
            .nth(1)
            .expect("docs/conventions.md has a section \"## 7. Roles\"");
        let rows: Vec<Vec<String>> = section
            .lines()
            .skip_while(|line| !line.starts_with("| role |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                line.trim_matches('|')
                    .split(" | ")
                    .map(|cell| cell.trim().to_owned())
                    .collect()
            })
            .collect();
        assert_eq!(rows.len(), Role::ALL.len(), "one row per role: {rows:?}");
        for (role, cells) in Role::ALL.iter().zip(&rows) {
            assert_eq!(cells[0], role.as_str(), "{cells:?}");
            assert_eq!(cells.len(), Convention::ALL.len() + 1, "{cells:?}");
            for (convention, cell) in Convention::ALL.iter().zip(&cells[1..]) {
                let expected = doc_cell(*role, *convention);
                let expected = if expected.is_empty() {
                    "—".to_owned()
                } else {
                    expected
                };
                assert_eq!(cell, &expected, "{} × {convention:?}", role.as_str());
            }
        }
    }
}
