//! Outputs: the texts a span or log record emitted (assistant messages of a generation,
//! the final answer of a root span), used for the keyed-digest lookup by output text and
//! never written into a body.
//!
//! Reference: `docs/conventions.md` §6 "Outputs".

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use serde_json::Value;

use super::content_keys::{is_content_key, is_event_content_key};
use super::genai_summary::indexed_tail;
use super::span_kinds::decide_kind;
use crate::ingest::anyvalue::structured_json_of;
use crate::ingest::attributes::AttributeSet;
use crate::ingest::{ContentSink, SpanKind};

/// Free-form output values of root spans (their final answer), read after
/// `gen_ai.output.messages`; the first that yields text wins.
pub const ROOT_OUTPUT_KEYS: &[&str] = &[
    "output.value",
    "langfuse.trace.output",
    "langfuse.observation.output",
    "traceloop.entity.output",
];

/// Free-form output values of generation spans, the last sources tried (after the GenAI
/// messages, the indexed completions and messages, and the `gen_ai.choice` events).
pub const GENERATION_OUTPUT_VALUE_KEYS: &[&str] = &["langfuse.observation.output", "output.value", "ai.response.text"];

/// The output texts of a span: for generation spans the assistant text, for root spans
/// the final answer of the trace. The first source that yields text wins.
pub(crate) fn collect_outputs(
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
        for key in ROOT_OUTPUT_KEYS {
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

/// The output texts [`crate::ingest::normalize::normalize_span`] finds for a span with these attributes and events
/// (`(event name, event attributes)`), as sent: the audit re-derives a span's
/// `output_index` rows from its entry and stored content with it.
pub fn span_outputs(
    attributes: &[KeyValue],
    events: &[(String, Vec<KeyValue>)],
    is_root: bool,
) -> Result<Vec<String>, String> {
    // Commitments made here are thrown away; a fixed salt saves drawing random ones.
    let mut sink = ContentSink::with_fixed_salt([0u8; crate::ledger::commitment::SALT_LEN]);
    let span_attributes = AttributeSet::build(attributes, "attributes.", is_content_key, &mut sink)?;
    let mut event_sets = Vec::with_capacity(events.len());
    for (name, event_attributes) in events {
        let set = AttributeSet::build(event_attributes, "events.attributes.", is_event_content_key, &mut sink)?;
        event_sets.push((name.as_str(), set));
    }
    let kind = decide_kind(&|key: &str| span_attributes.clear_string(key)).kind;
    Ok(collect_outputs(kind, is_root, &span_attributes, &event_sets))
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
    for key in GENERATION_OUTPUT_VALUE_KEYS {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
