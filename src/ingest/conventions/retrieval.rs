//! The retrieval summary (`genai.retrieval`): data source, top-k, the committed query and
//! the retrieved documents (ids, URIs and scores in clear, each document's text committed
//! on its own) from the GenAI, OpenInference, Langfuse and Traceloop shapes.
//!
//! Reference: `docs/conventions.md` §5 "The `genai` summary", "retrieval".

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::any_value;
use serde_json::{Map, Value};

use super::genai_summary::indexed_tail;
use crate::ingest::anyvalue::{double_json, structured_json_of};
use crate::ingest::attributes::AttributeSet;
use crate::ingest::{ContentSink, SpanKind};

/// Top-k sources, first present wins.
pub const TOP_K_KEYS: &[&str] = &["gen_ai.request.top_k", "retrieval.top_k"];
/// The attributes whose commitment is the retrieval `query` on any span.
pub const QUERY_KEYS: &[&str] = &["gen_ai.retrieval.query.text"];
/// The same on retrieval spans, where the span's own input is the query.
pub const RETRIEVAL_SPAN_QUERY_KEYS: &[&str] = &[
    "gen_ai.retrieval.query.text",
    "input.value",
    "langfuse.observation.input",
    "traceloop.entity.input",
];
/// Framework outputs of retrieval spans that may hold the document list, first that
/// yields documents wins.
pub const RETRIEVAL_OUTPUT_KEYS: &[&str] = &["output.value", "langfuse.observation.output", "traceloop.entity.output"];
/// Members of a document object (or its `metadata`) holding its id, first present wins.
pub const DOCUMENT_ID_FIELDS: &[&str] = &["id", "document_id", "doc_id"];
/// Members holding a document's URI.
pub const DOCUMENT_URI_FIELDS: &[&str] = &["uri", "url", "source"];
/// Members holding a document's score.
pub const DOCUMENT_SCORE_FIELDS: &[&str] = &["score", "relevance_score"];
/// Members holding a document's text (never read from `metadata`).
pub const DOCUMENT_TEXT_FIELDS: &[&str] = &["content", "text", "page_content", "document"];

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

pub(crate) fn retrieval_summary(
    kind: SpanKind,
    span_attributes: &AttributeSet<'_>,
    sink: &mut ContentSink,
) -> Map<String, Value> {
    let mut retrieval = Map::new();
    if let Some(source_id) = span_attributes.clear_string("gen_ai.data_source.id") {
        retrieval.insert("data_source_id".into(), Value::from(source_id));
    }
    let is_retrieval = kind == SpanKind::Retrieval;
    if let Some(top_k) = TOP_K_KEYS.iter().find_map(|key| span_attributes.clear_count(key)) {
        if is_retrieval || !retrieval.is_empty() {
            retrieval.insert("top_k".into(), Value::from(top_k.to_string()));
        }
    }
    let query_keys = if is_retrieval {
        RETRIEVAL_SPAN_QUERY_KEYS
    } else {
        QUERY_KEYS
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
        RETRIEVAL_OUTPUT_KEYS
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
    let text = DOCUMENT_TEXT_FIELDS
        .iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str))
        .map(str::to_owned);
    Some(DocumentFacts {
        id: DOCUMENT_ID_FIELDS
            .iter()
            .find_map(|key| json_id(object.get(*key)))
            .or(metadata.id),
        uri: DOCUMENT_URI_FIELDS
            .iter()
            .find_map(|key| json_text(object.get(*key)))
            .or(metadata.uri),
        score: DOCUMENT_SCORE_FIELDS
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
        id: DOCUMENT_ID_FIELDS.iter().find_map(|key| json_id(object.get(*key))),
        uri: DOCUMENT_URI_FIELDS.iter().find_map(|key| json_text(object.get(*key))),
        score: DOCUMENT_SCORE_FIELDS
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
