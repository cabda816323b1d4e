//! Provenance: governance records (pipeline versions, proof bundles, deployments, CI
//! keys), linking spans to them at ingest, the span query index, and the provenance
//! report that rebuilds the chain of operations behind an output.

pub mod evidence;
pub mod export;
pub mod governance;
pub mod lookup;
pub mod report;

use serde_json::Value;

use crate::store::SpanRow;
use governance::Link;

/// Longest attribute value kept in the equality-filter index.
const MAX_INDEXED_VALUE: usize = 256;

fn decimal(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
}

/// The query index row of a span entry body (as built by the normalizer) and its link.
pub fn span_row(body: &Value, link: &Link) -> SpanRow {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let genai = &body["genai"];
    let mut attributes = Vec::new();
    for (prefix, object) in [
        ("", &body["attributes"]),
        ("resource.", &body["resource"]["attributes"]),
    ] {
        if let Value::Object(map) = object {
            for (key, value) in map {
                // Only clear strings: committed content is never indexed.
                if let Some(string) = value["stringValue"].as_str() {
                    if string.len() <= MAX_INDEXED_VALUE {
                        attributes.push((format!("{prefix}{key}"), string.to_owned()));
                    }
                }
            }
        }
    }
    SpanRow {
        trace_id: text(&body["trace_id"]).unwrap_or_default(),
        span_id: text(&body["span_id"]).unwrap_or_default(),
        parent_span_id: text(&body["parent_span_id"]),
        name: text(&body["name"]).unwrap_or_default(),
        kind: text(&body["kind"]).unwrap_or_else(|| "other".into()),
        start_ns: decimal(&body["start_time_unix_nano"]).unwrap_or(0),
        end_ns: decimal(&body["end_time_unix_nano"]).unwrap_or(0),
        model: text(&genai["response_model"]).or_else(|| text(&genai["request_model"])),
        provider: text(&genai["provider"]),
        input_tokens: decimal(&genai["usage"]["input_tokens"]),
        output_tokens: decimal(&genai["usage"]["output_tokens"]),
        status_code: body["status"]["code"].as_i64().unwrap_or(0),
        pipeline_version_id: link.pipeline_version_id.clone(),
        environment: governance::environment_of(body),
        link_method: link.method.to_owned(),
        attributes,
    }
}

/// The `link` object written into a span entry body: the link is evidence too.
pub fn link_json(link: &Link) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("method".into(), Value::from(link.method));
    if let Some(id) = &link.pipeline_version_id {
        object.insert("pipeline_version_id".into(), Value::from(id.as_str()));
    }
    if let Some(id) = &link.deployment_id {
        object.insert("deployment_id".into(), Value::from(id.as_str()));
    }
    Value::Object(object)
}
