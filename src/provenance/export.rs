//! Exports: select traces, gather every entry with its inclusion proof against the latest
//! checkpoint (plus the pipeline versions, deployments and proof bundles they are linked
//! to), the contents the exporter may see, and build the signed audit bundle
//! (DESIGN §5, `bundle::build`). Used by `POST /v1/exports` and `traceledger export`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::evidence::{self, EvidenceError, SearchRequest};
use crate::bundle::build::{build_bundle, BundleInput};
use crate::domain::TraceId;
use crate::store::{SpanQuery, Store, Tenant};

/// Most traces one export may hold.
pub const MAX_EXPORT_TRACES: usize = 1000;

/// `POST /v1/exports`: one primary selector (`output`, `output_sha256`, `trace_id` or
/// `trace_ids`) or filters (`from`/`to` span start time, `pipeline_version_id`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The output text in question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// SHA-256 (hex) of the output text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    /// One trace id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Several trace ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace_ids: Vec<String>,
    /// Spans starting at or after (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Spans starting before (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Spans linked to this pipeline version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_version_id: Option<String>,
    /// Prove against this earlier checkpoint (tree size), e.g. one the auditor already
    /// holds; the bundle then also carries a consistency proof from it to the newest
    /// checkpoint. Default: the newest checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_size: Option<u64>,
}

/// Who exports, and what they may see.
pub struct Exporter<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// The log's signing key (signs the envelope).
    pub signing_key: &'a SigningKey,
    /// The tenant.
    pub tenant: &'a Tenant,
    /// Key id (or CLI user) recorded as the principal.
    pub principal: String,
    /// Whether contents may be revealed (`audit:content`).
    pub reveal_content: bool,
}

/// What an export produced.
pub struct ExportResult {
    /// The bundle (DSSE envelope JSON).
    pub bundle: Vec<u8>,
    /// Traces exported.
    pub traces: usize,
    /// Entries exported.
    pub entries: usize,
    /// Subjects (outputs proven).
    pub subjects: usize,
}

fn time_ns(text: &str, field: &str) -> Result<i64, EvidenceError> {
    crate::domain::rfc3339_to_unix_nanos(text)
        .ok_or_else(|| EvidenceError::BadRequest(format!("{field} must be an RFC 3339 time")))
}

/// Resolves the request to traces: `(trace id, matched entries)` and the output's digest.
async fn select_traces(
    store: &dyn Store,
    tenant: &Tenant,
    request: &ExportRequest,
) -> Result<(Vec<(String, Vec<u64>)>, Option<[u8; 32]>), EvidenceError> {
    let primary = [
        request.output.is_some(),
        request.output_sha256.is_some(),
        request.trace_id.is_some(),
        !request.trace_ids.is_empty(),
    ]
    .iter()
    .filter(|given| **given)
    .count();
    let filtered = request.from.is_some() || request.to.is_some() || request.pipeline_version_id.is_some();
    if primary > 1 || (primary == 1 && filtered) || (primary == 0 && !filtered) {
        return Err(EvidenceError::BadRequest(
            "give one of output, output_sha256, trace_id or trace_ids, or filters (from, to, pipeline_version_id)"
                .into(),
        ));
    }
    if !request.trace_ids.is_empty() {
        if request.trace_ids.len() > MAX_EXPORT_TRACES {
            return Err(EvidenceError::BadRequest(format!(
                "at most {MAX_EXPORT_TRACES} trace ids"
            )));
        }
        let mut traces = Vec::new();
        for text in &request.trace_ids {
            let id = TraceId::parse_hex(text)
                .map_err(|error| EvidenceError::BadRequest(error.to_string()))?
                .to_hex();
            if !traces.iter().any(|(known, _): &(String, Vec<u64>)| *known == id) {
                traces.push((id, Vec::new()));
            }
        }
        return Ok((traces, None));
    }
    if primary == 1 {
        let search = SearchRequest {
            output: request.output.clone(),
            output_sha256: request.output_sha256.clone(),
            trace_id: request.trace_id.clone(),
        };
        // A bundle's subject is the output byte for byte: no normalized matches here.
        let selection = evidence::select(store, tenant, &search, false).await?;
        if selection.traces.is_empty() && search.output.is_some() {
            let loose = evidence::select(store, tenant, &search, true).await?;
            if !loose.traces.is_empty() {
                let ids: Vec<&str> = loose.traces.iter().map(|(id, _)| id.as_str()).collect();
                return Err(EvidenceError::BadRequest(format!(
                    "no output matches this text byte for byte, but its normalized form (Unicode NFC, \
                     newlines, whitespace, zero-width characters) matches trace(s) {}: export them \
                     with trace_ids, or give the exact text",
                    ids.join(", ")
                )));
            }
        }
        return Ok((selection.traces, selection.output_sha256));
    }
    // Filters: walk the span index newest first, collecting distinct traces.
    let mut query = SpanQuery {
        pipeline_version_id: request.pipeline_version_id.clone(),
        start_from_ns: request.from.as_deref().map(|text| time_ns(text, "from")).transpose()?,
        start_to_ns: request.to.as_deref().map(|text| time_ns(text, "to")).transpose()?,
        limit: 1000,
        ..SpanQuery::default()
    };
    let mut traces: Vec<(String, Vec<u64>)> = Vec::new();
    loop {
        let page = store.search_spans(tenant, &query).await?;
        for record in &page {
            if !traces.iter().any(|(id, _)| *id == record.row.trace_id) {
                if traces.len() == MAX_EXPORT_TRACES {
                    return Err(EvidenceError::BadRequest(format!(
                        "the filters select more than {MAX_EXPORT_TRACES} traces; narrow the time range"
                    )));
                }
                traces.push((record.row.trace_id.clone(), Vec::new()));
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == query.limit => {
                query.cursor = Some((last.row.start_ns, last.entry_index as i64));
            }
            _ => break,
        }
    }
    Ok((traces, None))
}

/// String leaves of a JSON text (where output texts live inside message lists).
fn json_string_leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| json_string_leaves(item, out)),
        Value::Object(object) => object.values().for_each(|item| json_string_leaves(item, out)),
        _ => {}
    }
}

/// Finds, among the revealed contents of `entry_index`, one that contains an output whose
/// SHA-256 is `digest`; returns `(text, commitment)`.
fn find_output(
    digest: &[u8; 32],
    given_text: Option<&str>,
    contents: &[(String, u64, String)],
    entry_index: u64,
) -> Option<(String, String)> {
    for (commitment, index, content) in contents {
        if *index != entry_index {
            continue;
        }
        let mut candidates = vec![content.clone()];
        if let Some(text) = given_text {
            candidates.insert(0, text.to_owned());
        }
        if let Ok(parsed) = serde_json::from_str::<Value>(content) {
            json_string_leaves(&parsed, &mut candidates);
        }
        for candidate in candidates {
            // The verifier checks that the revealed content contains the text verbatim.
            if Sha256::digest(candidate.as_bytes()).as_slice() == digest && content.contains(candidate.as_str()) {
                return Some((candidate, commitment.clone()));
            }
        }
    }
    None
}

/// Builds the bundle for `request`; `progress(done, total)` is called per trace.
pub async fn export(
    exporter: &Exporter<'_>,
    request: &ExportRequest,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ExportResult, EvidenceError> {
    let store = exporter.store;
    let tenant = exporter.tenant;
    let (traces, output_sha256) = select_traces(store, tenant, request).await?;
    let latest = evidence::latest_checkpoint(store, exporter.signing_key, tenant)
        .await?
        .ok_or_else(|| EvidenceError::BadRequest("the log is empty: nothing to export".into()))?;
    let (checkpoint, consistency) = match request.checkpoint_size {
        None => (latest, None),
        Some(size) if size == latest.size => (latest, None),
        Some(size) => {
            let stored = store
                .checkpoints(tenant)
                .await?
                .into_iter()
                .find(|checkpoint| checkpoint.size == size)
                .ok_or_else(|| EvidenceError::BadRequest(format!("no checkpoint was signed at tree size {size}")))?;
            let root = crate::ledger::hash_from_slice(&stored.root)
                .ok_or_else(|| EvidenceError::Internal("stored checkpoint root is not 32 bytes".into()))?;
            let needed = crate::ledger::merkle::consistency_proof_indexes(size, latest.size)
                .map_err(|error| EvidenceError::BadRequest(error.to_string()))?;
            let hashes = store.stored_hashes(tenant, &needed).await?;
            let proof = crate::ledger::merkle::consistency_proof(size, latest.size, &hashes)
                .map_err(|error| EvidenceError::Internal(error.to_string()))?;
            let older = super::report::ReportCheckpoint {
                note: stored.note,
                size,
                root,
            };
            (older, Some((latest.note, proof)))
        }
    };
    let governance = evidence::governance(store, tenant).await?;

    let mut entry_indexes: BTreeSet<u64> = BTreeSet::new();
    let mut stored = Vec::new();
    let mut span_ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut parents: Vec<(String, String)> = Vec::new();
    let mut linked_versions: BTreeSet<String> = BTreeSet::new();
    let mut linked_deployments: BTreeSet<String> = BTreeSet::new();
    for (done, (trace_id, _)) in traces.iter().enumerate() {
        for entry in store.trace_entries(tenant, trace_id).await? {
            if entry.index >= checkpoint.size {
                if request.checkpoint_size.is_some() {
                    return Err(EvidenceError::BadRequest(format!(
                        "the checkpoint at tree size {} does not cover entry {} of trace {trace_id}; choose a later checkpoint",
                        checkpoint.size, entry.index
                    )));
                }
                // Appended after the newest checkpoint was read: not part of this snapshot.
                continue;
            }
            if !entry_indexes.insert(entry.index) {
                continue;
            }
            let parsed: Value = crate::ledger::entry::parse_entry_value(&entry.entry_bytes)
                .map_err(|error| EvidenceError::Internal(format!("entry {}: {error}", entry.index)))?;
            let body = &parsed["body"];
            if parsed["type"] == "span" {
                if let Some(span_id) = body["span_id"].as_str() {
                    span_ids.entry(trace_id.clone()).or_default().insert(span_id.to_owned());
                }
                if let Some(parent) = body["parent_span_id"].as_str() {
                    parents.push((trace_id.clone(), parent.to_owned()));
                }
                if let Some(id) = body["link"]["pipeline_version_id"].as_str() {
                    linked_versions.insert(id.to_owned());
                }
                if let Some(id) = body["link"]["deployment_id"].as_str() {
                    linked_deployments.insert(id.to_owned());
                }
            }
            stored.push(entry);
        }
        progress(done + 1, traces.len());
    }
    // The governance entries the spans are linked to: version, its proof bundles, the deployment.
    let mut governance_indexes = Vec::new();
    for record in &governance.versions {
        if linked_versions.contains(&record.row.id) {
            governance_indexes.push(record.entry_index);
        }
    }
    for record in &governance.proof_bundles {
        if record
            .row
            .pipeline_version_id
            .as_ref()
            .is_some_and(|id| linked_versions.contains(id))
        {
            governance_indexes.push(record.entry_index);
        }
    }
    for record in &governance.deployments {
        if linked_deployments.contains(&record.row.id) {
            governance_indexes.push(record.entry_index);
        }
    }
    governance_indexes.retain(|index| *index < checkpoint.size && entry_indexes.insert(*index));
    stored.extend(store.entries_at(tenant, &governance_indexes).await?);

    // Parents that are not in the log (never received) are declared outside the selection.
    let outside_selection: Vec<(String, String)> = parents
        .into_iter()
        .filter(|(trace_id, parent)| !span_ids.get(trace_id).is_some_and(|ids| ids.contains(parent)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let indexes: Vec<u64> = entry_indexes.iter().copied().collect();
    let mut revealed: Vec<(String, u64, String)> = Vec::new();
    let mut contents = Vec::new();
    if exporter.reveal_content {
        let mut seen = HashMap::new();
        for content in store.contents_of(tenant, &indexes).await? {
            if let (Some(salt), Some(text)) = (content.salt, content.content) {
                if seen.insert(content.commitment.clone(), ()).is_none() {
                    revealed.push((content.commitment.clone(), content.entry_index, text.clone()));
                    contents.push((content.commitment, salt, text));
                }
            }
        }
    }
    let mut outputs = Vec::new();
    if let Some(digest) = output_sha256 {
        for (_, matched) in &traces {
            for index in matched {
                if let Some((text, commitment)) = find_output(&digest, request.output.as_deref(), &revealed, *index) {
                    if !outputs
                        .iter()
                        .any(|(known, _, _): &(String, u64, String)| *known == text)
                    {
                        outputs.push((text, *index, commitment));
                    }
                }
            }
        }
    }
    let proven = evidence::proven_entries(store, tenant, stored, &checkpoint).await?;
    let entries: Vec<(u64, Vec<u8>, Vec<crate::ledger::Hash>)> = proven
        .into_iter()
        .map(|item| (item.index, item.entry_bytes, item.inclusion_proof))
        .collect();
    let entry_count = entries.len();
    let subjects = outputs.len();
    let input = BundleInput {
        origin: tenant.origin.clone(),
        signing_key: exporter.signing_key.clone(),
        checkpoint_note: checkpoint.note.clone(),
        tree_size: checkpoint.size,
        entries,
        contents,
        outputs,
        outside_selection,
        consistency,
        query: serde_json::to_value(request).unwrap_or(Value::Null),
        exported_at: crate::store::now_rfc3339(),
        principal: json!({"tenant": tenant.name.as_str(), "key_id": exporter.principal}),
    };
    let bundle = build_bundle(input).map_err(|error| EvidenceError::Internal(format!("bundle: {error}")))?;
    Ok(ExportResult {
        bundle,
        traces: traces.len(),
        entries: entry_count,
        subjects,
    })
}
