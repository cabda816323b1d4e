//! The provenance report: everything behind an output, rebuilt from ledger entries.
//!
//! [`build_report`] is pure: the API layer fetches the trace's entries, their inclusion
//! proofs against the latest checkpoint, the governance records and (for callers with
//! `audit:content`) the revealed contents, and this module assembles the tree in causal
//! order, the steps (prompt construction, retrieval, model calls, tools, guardrails),
//! the pipeline version / deployment / proof bundles, and checks every proof.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use crate::ingest::conventions::roles::{attributes_in_roles, first_of_role, Role};
use crate::ledger::entry::Entry;
use crate::ledger::{hash_hex, merkle, Hash};
use crate::store::GovernanceRecord;

/// One entry of the report with its proof.
#[derive(Debug, Clone)]
pub struct ReportEntry {
    /// Index in the log.
    pub index: u64,
    /// The decoded entry.
    pub entry: Entry,
    /// Its exact bytes.
    pub entry_bytes: Vec<u8>,
    /// Its leaf hash, recomputed from its bytes.
    pub leaf_hash: Hash,
    /// Inclusion proof against the checkpoint.
    pub inclusion_proof: Vec<Hash>,
}

/// The checkpoint the proofs are against.
#[derive(Debug, Clone)]
pub struct ReportCheckpoint {
    /// The signed note.
    pub note: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

/// An index row that does not say what its ledger entry says (tampering, or a bug): it
/// is not served as a fact; readers get the entry's facts and this flag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct IndexMismatch {
    /// The index table: `spans`, `span_attributes`, `governance` or `output_index`.
    pub table: String,
    /// The entry the row names.
    pub entry_index: u64,
    /// What disagrees.
    pub detail: String,
}

impl IndexMismatch {
    /// A mismatch of `table` at `entry_index`.
    pub fn new(table: &str, entry_index: u64, detail: impl Into<String>) -> Self {
        IndexMismatch {
            table: table.to_owned(),
            entry_index,
            detail: detail.into(),
        }
    }
}

/// Governance records of the tenant, re-derived from their ledger entries.
#[derive(Debug, Clone, Default)]
pub struct Governance {
    /// Pipeline versions.
    pub versions: Vec<GovernanceRecord>,
    /// Proof bundles.
    pub proof_bundles: Vec<GovernanceRecord>,
    /// Deployments.
    pub deployments: Vec<GovernanceRecord>,
    /// Index rows that disagree with their entries (the records above hold the entries'
    /// facts; a row whose entry is not such a record is left out).
    pub mismatches: Vec<IndexMismatch>,
    /// The governance entries with their inclusion proofs against the report's checkpoint,
    /// by entry index (empty when not proven).
    pub proofs: HashMap<u64, ReportEntry>,
}

impl Governance {
    fn mismatched(&self, entry_index: u64) -> bool {
        self.mismatches
            .iter()
            .any(|mismatch| mismatch.entry_index == entry_index)
    }
}

/// Replaces every `{"sha256","len"}` commitment that has a revealed content by the same
/// object with a `content` member added.
pub fn reveal(value: &Value, revealed: &HashMap<String, String>) -> Value {
    match value {
        Value::Object(object) => {
            if object.len() == 2 && object.contains_key("len") {
                if let Some(Value::String(digest)) = object.get("sha256") {
                    if let Some(content) = revealed.get(digest) {
                        let mut with_content = object.clone();
                        with_content.insert("content".into(), Value::from(content.as_str()));
                        return Value::Object(with_content);
                    }
                    return value.clone();
                }
            }
            Value::Object(
                object
                    .iter()
                    .map(|(key, child)| (key.clone(), reveal(child, revealed)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|child| reveal(child, revealed)).collect()),
        other => other.clone(),
    }
}

fn nanos(value: &Value) -> Option<u64> {
    value.as_str().and_then(|text| text.parse().ok())
}

fn latency_ms(body: &Value) -> Option<f64> {
    let start = nanos(&body["start_time_unix_nano"])?;
    let end = nanos(&body["end_time_unix_nano"])?;
    Some(end.saturating_sub(start) as f64 / 1e6)
}

/// Attributes of a body that carry one of `roles` (the conventions' roles table).
fn attributes_in(body: &Value, roles: &[Role]) -> Map<String, Value> {
    attributes_in_roles(&body["attributes"], roles)
}

/// The highest-priority attribute of the first of `roles` that a body has.
fn first_in(body: &Value, roles: &[Role]) -> Option<Value> {
    roles
        .iter()
        .find_map(|role| first_of_role(&body["attributes"], *role))
        .cloned()
}

fn span_summary(index: u64, body: &Value) -> Value {
    json!({
        "entry_index": index,
        "span_id": body["span_id"],
        "parent_span_id": body.get("parent_span_id").cloned().unwrap_or(Value::Null),
        "name": body["name"],
        "kind": body["kind"],
        "start_time_unix_nano": body["start_time_unix_nano"],
        "end_time_unix_nano": body["end_time_unix_nano"],
        "latency_ms": latency_ms(body),
        "status": body["status"],
    })
}

/// Nested tree of the trace's spans in causal order (children by start time); spans
/// whose parent is not in the log become roots marked `missing_parent`.
fn span_tree(spans: &[(u64, &Value)], logs: &[(u64, &Value)]) -> Vec<Value> {
    let ids: std::collections::HashSet<&str> = spans.iter().filter_map(|(_, body)| body["span_id"].as_str()).collect();
    let mut children: BTreeMap<&str, Vec<(u64, &Value)>> = BTreeMap::new();
    let mut roots: Vec<(u64, &Value)> = Vec::new();
    for (index, body) in spans {
        match body["parent_span_id"].as_str() {
            Some(parent) if ids.contains(parent) => children.entry(parent).or_default().push((*index, body)),
            _ => roots.push((*index, body)),
        }
    }
    let order = |list: &mut Vec<(u64, &Value)>| {
        list.sort_by_key(|(index, body)| (nanos(&body["start_time_unix_nano"]).unwrap_or(0), *index));
    };
    for list in children.values_mut() {
        order(list);
    }
    order(&mut roots);
    fn node(
        index: u64,
        body: &Value,
        children: &BTreeMap<&str, Vec<(u64, &Value)>>,
        logs: &[(u64, &Value)],
        depth: usize,
    ) -> Value {
        let mut summary = span_summary(index, body);
        let span_id = body["span_id"].as_str().unwrap_or("");
        let log_indexes: Vec<u64> = logs
            .iter()
            .filter(|(_, log)| log["span_id"].as_str() == Some(span_id))
            .map(|(index, _)| *index)
            .collect();
        if !log_indexes.is_empty() {
            summary["log_entries"] = json!(log_indexes);
        }
        // Depth bound: a malicious parent cycle cannot recurse forever (cycles are
        // impossible through `ids` anyway, as a cycle has no root).
        let nested: Vec<Value> = if depth < 256 {
            children
                .get(span_id)
                .map(|list| {
                    list.iter()
                        .map(|(child, body)| node(*child, body, children, logs, depth + 1))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        summary["children"] = Value::Array(nested);
        summary
    }
    roots
        .iter()
        .map(|(index, body)| {
            let mut root = node(*index, body, &children, logs, 0);
            if body.get("parent_span_id").is_some() {
                root["missing_parent"] = Value::Bool(true);
            }
            root
        })
        .collect()
}

fn find_record<'a>(records: &'a [GovernanceRecord], id: &str) -> Option<&'a GovernanceRecord> {
    records.iter().find(|record| record.row.id == id)
}

/// A governance record as the report shows it: its entry's body, the entry's leaf hash
/// and inclusion proof, and whether the proof verifies against the checkpoint.
fn record_json(
    record: &GovernanceRecord,
    governance: &Governance,
    checkpoint: &ReportCheckpoint,
    failures: &mut Vec<u64>,
) -> Value {
    let mut shown = match governance.proofs.get(&record.entry_index) {
        Some(proven) => {
            let verified = merkle::verify_inclusion(
                proven.index,
                checkpoint.size,
                &proven.leaf_hash,
                &proven.inclusion_proof,
                &checkpoint.root,
            )
            .is_ok();
            if !verified {
                failures.push(record.entry_index);
            }
            json!({
                "entry_index": record.entry_index,
                "id": record.row.id,
                "record": proven.entry.body,
                "leaf_hash": hash_hex(&proven.leaf_hash),
                "inclusion_proof": proven.inclusion_proof.iter().map(hash_hex).collect::<Vec<_>>(),
                "verified": verified,
            })
        }
        None => {
            failures.push(record.entry_index);
            let body: Value = serde_json::from_str(&record.row.body).unwrap_or(Value::Null);
            json!({"entry_index": record.entry_index, "id": record.row.id, "record": body, "verified": false})
        }
    };
    if governance.mismatched(record.entry_index) {
        shown["index_mismatch"] = Value::Bool(true);
    }
    shown
}

/// Builds the report for one trace. `matched` are the entries whose outputs matched the
/// search (empty for a search by trace id), checked against their entries;
/// `index_mismatches` the index rows of the search that did not (e.g. an `output_index`
/// row naming an entry that does not emit the output).
pub fn build_report(
    trace_id: &str,
    entries: &[ReportEntry],
    matched: &[u64],
    governance: &Governance,
    revealed: &HashMap<String, String>,
    checkpoint: &ReportCheckpoint,
    index_mismatches: &[IndexMismatch],
) -> Value {
    let mut governance_failures = Vec::new();
    let mut governance_checked = 0usize;
    let spans: Vec<(u64, &Value)> = entries
        .iter()
        .filter(|item| item.entry.entry_type == "span")
        .map(|item| (item.index, &item.entry.body))
        .collect();
    let logs: Vec<(u64, &Value)> = entries
        .iter()
        .filter(|item| item.entry.entry_type == "log")
        .map(|item| (item.index, &item.entry.body))
        .collect();

    let mut prompts = Vec::new();
    let mut retrievals = Vec::new();
    let mut model_calls = Vec::new();
    let mut tool_calls = Vec::new();
    let mut guardrails = Vec::new();
    let mut ordered = spans.clone();
    ordered.sort_by_key(|(index, body)| (nanos(&body["start_time_unix_nano"]).unwrap_or(0), *index));
    for (index, body) in &ordered {
        let genai = &body["genai"];
        let kind = body["kind"].as_str().unwrap_or("other");
        let name = body["name"].as_str().unwrap_or("");
        // A model call's prompt is its messages, instructions and template, and a framework's
        // generic span input (Langfuse and Traceloop put the messages only there).
        let prompt_roles: &[Role] = if kind == "generation" {
            &[
                Role::Prompt,
                Role::SystemInstructions,
                Role::PromptTemplate,
                Role::SpanInput,
            ]
        } else {
            &[Role::Prompt, Role::SystemInstructions, Role::PromptTemplate]
        };
        let metadata = attributes_in(body, &[Role::Metadata]);
        if kind == "generation" || name.to_ascii_lowercase().contains("prompt") {
            let mut step = span_summary(*index, body);
            step["prompt"] = Value::Object(attributes_in(body, prompt_roles));
            if kind != "generation" {
                step["input"] = first_in(body, &[Role::SpanInput]).unwrap_or(Value::Null);
                step["output"] = first_in(body, &[Role::SpanOutput]).unwrap_or(Value::Null);
            }
            prompts.push(step);
        }
        match kind {
            "generation" | "embedding" | "rerank" => {
                let mut call = span_summary(*index, body);
                for key in [
                    "provider",
                    "request_model",
                    "response_model",
                    "parameters",
                    "usage",
                    "finish_reasons",
                    "response_id",
                ] {
                    if let Some(value) = genai.get(key) {
                        call[key] = value.clone();
                    }
                }
                call["output"] = attributes_in(body, &[Role::Output, Role::SpanOutput]).into();
                if !metadata.is_empty() {
                    call["metadata"] = metadata.clone().into();
                }
                call["matched_output"] = Value::Bool(matched.contains(index));
                model_calls.push(call);
            }
            "retrieval" => {
                let mut step = span_summary(*index, body);
                let retrieval = &genai["retrieval"];
                step["query"] = retrieval
                    .get("query")
                    .cloned()
                    .or_else(|| first_in(body, &[Role::RetrievalQuery, Role::SpanInput]))
                    .unwrap_or(Value::Null);
                step["data_source_id"] = retrieval.get("data_source_id").cloned().unwrap_or(Value::Null);
                let documents: Vec<Value> = retrieval["documents"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .enumerate()
                            .map(|(rank, document)| {
                                let mut document = document.clone();
                                document["rank"] = json!(rank + 1);
                                document
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                step["documents"] = Value::Array(documents);
                retrievals.push(step);
            }
            "tool" => {
                let mut step = span_summary(*index, body);
                step["tool"] = genai.get("tool").cloned().unwrap_or(Value::Null);
                step["arguments"] = first_in(body, &[Role::ToolArguments, Role::SpanInput]).unwrap_or(Value::Null);
                step["result"] = first_in(body, &[Role::ToolResult, Role::SpanOutput]).unwrap_or(Value::Null);
                if !metadata.is_empty() {
                    step["metadata"] = metadata.clone().into();
                }
                tool_calls.push(step);
            }
            "guardrail" => {
                let mut step = span_summary(*index, body);
                step["attributes"] = attributes_in(body, &[Role::GuardrailResult]).into();
                step["events"] = body.get("events").cloned().unwrap_or(Value::Null);
                guardrails.push(step);
            }
            _ => {}
        }
    }

    // The emitting span: the first matched span, else the last generation.
    let emitting = spans
        .iter()
        .find(|(index, _)| matched.contains(index))
        .or_else(|| ordered.iter().rev().find(|(_, body)| body["kind"] == "generation"))
        .map(|(index, body)| {
            let mut summary = span_summary(*index, body);
            summary["genai"] = body["genai"].clone();
            summary
        });

    // Pipeline: the link recorded at ingest (most common among the spans).
    let mut link_counts: BTreeMap<String, (usize, Value)> = BTreeMap::new();
    for (_, body) in &spans {
        if let Some(id) = body["link"]["pipeline_version_id"].as_str() {
            let slot = link_counts.entry(id.to_owned()).or_insert((0, body["link"].clone()));
            slot.0 += 1;
        }
    }
    let link = link_counts
        .into_values()
        .max_by_key(|(count, _)| *count)
        .map(|(_, link)| link);
    let pipeline = match &link {
        Some(link) => {
            let version_id = link["pipeline_version_id"].as_str().unwrap_or("");
            let deployment = link["deployment_id"]
                .as_str()
                .and_then(|id| find_record(&governance.deployments, id));
            let mut show = |record: &GovernanceRecord| {
                governance_checked += 1;
                record_json(record, governance, checkpoint, &mut governance_failures)
            };
            let version = find_record(&governance.versions, version_id).map(&mut show);
            let deployment = deployment.map(&mut show);
            let proof_bundles: Vec<Value> = governance
                .proof_bundles
                .iter()
                .filter(|record| record.row.pipeline_version_id.as_deref() == Some(version_id))
                .map(&mut show)
                .collect();
            json!({
                "status": "linked",
                "link": link,
                "version": version,
                "deployment": deployment,
                "proof_bundles": proof_bundles,
            })
        }
        None => {
            json!({"status": "unlinked", "detail": "no span of this trace is linked to a registered pipeline version"})
        }
    };

    let mut proofs = Vec::with_capacity(entries.len());
    let mut failures = Vec::new();
    for item in entries {
        let verified = merkle::verify_inclusion(
            item.index,
            checkpoint.size,
            &item.leaf_hash,
            &item.inclusion_proof,
            &checkpoint.root,
        )
        .is_ok();
        if !verified {
            failures.push(item.index);
        }
        proofs.push(json!({
            "index": item.index,
            "type": item.entry.entry_type,
            "leaf_hash": hash_hex(&item.leaf_hash),
            "inclusion_proof": item.inclusion_proof.iter().map(hash_hex).collect::<Vec<_>>(),
            "verified": verified,
        }));
    }
    let mismatches: Vec<&IndexMismatch> = governance.mismatches.iter().chain(index_mismatches).collect();
    let consistent = failures.is_empty() && governance_failures.is_empty() && mismatches.is_empty();
    let mut verification = json!({
        "status": if consistent { "verified" } else { "failed" },
        "entries_checked": entries.len(),
        "failed_entries": failures,
        "governance_entries_checked": governance_checked,
        "failed_governance_entries": governance_failures,
    });
    if !mismatches.is_empty() {
        verification["index_mismatches"] = json!(mismatches);
    }
    let report = json!({
        "trace_id": trace_id,
        "matched_entries": matched,
        "output_span": emitting,
        "tree": span_tree(&spans, &logs),
        "prompts": prompts,
        "retrievals": retrievals,
        "model_calls": model_calls,
        "tool_calls": tool_calls,
        "guardrails": guardrails,
        "logs": logs.iter().map(|(index, body)| json!({
            "entry_index": index,
            "span_id": body.get("span_id").cloned().unwrap_or(Value::Null),
            "event_name": body.get("event_name").cloned().unwrap_or(Value::Null),
            "attributes": body["attributes"],
            "body": body.get("body").cloned().unwrap_or(Value::Null),
        })).collect::<Vec<_>>(),
        "pipeline": pipeline,
        "checkpoint": {"note": checkpoint.note, "size": checkpoint.size, "root": hash_hex(&checkpoint.root)},
        "entries": proofs,
        "verification": verification,
        "content_revealed": !revealed.is_empty(),
    });
    reveal(&report, revealed)
}
