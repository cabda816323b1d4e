//! Provenance: governance records (pipeline versions, proof bundles, deployments, CI
//! keys), linking spans to them at ingest, the span query index, and the provenance
//! report that rebuilds the chain of operations behind an output.

pub mod evidence;
pub mod export;
pub mod governance;
pub mod lookup;
pub mod outputs;
pub mod report;

use serde_json::{json, Value};

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

/// The query index row of a span entry body (as built by the normalizer, with the `link`
/// object of [`link_json`] in it). Ingest builds the `spans` / `span_attributes` rows with
/// it, and the audit and `GET /v1/spans` re-derive them from the entry with it.
pub fn span_row(body: &Value) -> SpanRow {
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
        pipeline_version_id: text(&body["link"]["pipeline_version_id"]),
        environment: governance::environment_of(body),
        link_method: text(&body["link"]["method"]).unwrap_or_else(|| "none".into()),
        attributes,
    }
}

/// The clear attributes of a span row as `span_attributes` holds them: one value per key,
/// the first one when a span attribute and a resource attribute share a name (ingest
/// inserts with `ON CONFLICT DO NOTHING`).
pub fn indexed_attributes(row: &SpanRow) -> std::collections::BTreeMap<String, String> {
    let mut indexed = std::collections::BTreeMap::new();
    for (key, value) in &row.attributes {
        indexed.entry(key.clone()).or_insert_with(|| value.clone());
    }
    indexed
}

/// The columns in which a stored `spans` row differs from the row derived from its entry
/// (attributes aside), each as `column: index <stored>, entry <derived>`.
pub fn span_row_differences(stored: &SpanRow, derived: &SpanRow) -> Vec<String> {
    // Values shown as JSON (`null` for none), cut to 80 characters.
    fn show(value: Value) -> String {
        let text = value.to_string();
        match text.char_indices().nth(80) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        }
    }
    let columns = [
        ("trace_id", json!(stored.trace_id), json!(derived.trace_id)),
        ("span_id", json!(stored.span_id), json!(derived.span_id)),
        (
            "parent_span_id",
            json!(stored.parent_span_id),
            json!(derived.parent_span_id),
        ),
        ("name", json!(stored.name), json!(derived.name)),
        ("kind", json!(stored.kind), json!(derived.kind)),
        ("start_ns", json!(stored.start_ns), json!(derived.start_ns)),
        ("end_ns", json!(stored.end_ns), json!(derived.end_ns)),
        ("model", json!(stored.model), json!(derived.model)),
        ("provider", json!(stored.provider), json!(derived.provider)),
        ("input_tokens", json!(stored.input_tokens), json!(derived.input_tokens)),
        (
            "output_tokens",
            json!(stored.output_tokens),
            json!(derived.output_tokens),
        ),
        ("status_code", json!(stored.status_code), json!(derived.status_code)),
        (
            "pipeline_version_id",
            json!(stored.pipeline_version_id),
            json!(derived.pipeline_version_id),
        ),
        ("environment", json!(stored.environment), json!(derived.environment)),
        ("link_method", json!(stored.link_method), json!(derived.link_method)),
    ];
    columns
        .into_iter()
        .filter(|(_, stored, derived)| stored != derived)
        .map(|(column, stored, derived)| format!("{column}: index {}, entry {}", show(stored), show(derived)))
        .collect()
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
