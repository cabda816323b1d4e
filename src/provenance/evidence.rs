//! Evidence gathering shared by the audit API and exports: selecting traces by output or
//! trace id, the latest verified checkpoint, entries with inclusion proofs, governance
//! records and revealed contents.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::TraceId;
use crate::ledger::checkpoint::{verify_checkpoint, LogSigner};
use crate::ledger::entry::{leaf_hash, Entry};
use crate::ledger::merkle;
use crate::provenance::governance::{DEPLOYMENT, PIPELINE_VERSION, PROOF_BUNDLE};
use crate::provenance::report::{Governance, ReportCheckpoint, ReportEntry};
use crate::store::{Store, StoreError, Tenant};

/// Most traces returned by one search.
pub const MAX_TRACES: usize = 20;

/// Why evidence could not be gathered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored data could not be decoded or proven (a bug or tampering).
    #[error("{0}")]
    Internal(String),
}

/// `POST /v1/provenance/search`: exactly one selector.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The output text as the application returned it; if no output matches byte for byte,
    /// its normalized form is looked up (Unicode NFC, unified newlines, collapsed
    /// whitespace, zero-width characters removed) and the answer says which form matched.
    #[serde(default)]
    pub output: Option<String>,
    /// SHA-256 (hex) of the output text.
    #[serde(default)]
    pub output_sha256: Option<String>,
    /// A trace id (32 hex digits).
    #[serde(default)]
    pub trace_id: Option<String>,
}

/// The selected traces and the entries whose outputs matched.
pub struct Selection {
    /// Trace id (hex) → matched entry indexes.
    pub traces: Vec<(String, Vec<u64>)>,
    /// SHA-256 of the output text, when selected by output.
    pub output_sha256: Option<[u8; 32]>,
    /// Which form of the output matched, when selected by output and found.
    pub matched_form: Option<crate::provenance::lookup::MatchedForm>,
}

fn parse_sha256(text: &str) -> Result<[u8; 32], EvidenceError> {
    let bytes = hex::decode(text.trim())
        .map_err(|_| EvidenceError::BadRequest("output_sha256 must be 64 hex digits".into()))?;
    bytes
        .try_into()
        .map_err(|_| EvidenceError::BadRequest("output_sha256 must be 64 hex digits".into()))
}

/// Resolves a search request to traces (shared with exports). An output text that is
/// not found byte for byte is looked up by its normalized form
/// ([`crate::provenance::lookup`]) when `allow_normalized`.
pub async fn select(
    store: &dyn Store,
    tenant: &Tenant,
    request: &SearchRequest,
    allow_normalized: bool,
) -> Result<Selection, EvidenceError> {
    use crate::provenance::lookup::{normalized_digest, MatchedForm};
    use sha2::Digest;
    let given = [
        request.output.is_some(),
        request.output_sha256.is_some(),
        request.trace_id.is_some(),
    ];
    if given.iter().filter(|present| **present).count() != 1 {
        return Err(EvidenceError::BadRequest(
            "give exactly one of output, output_sha256 or trace_id".into(),
        ));
    }
    if let Some(trace_id) = &request.trace_id {
        let trace_id = TraceId::parse_hex(trace_id).map_err(|error| EvidenceError::BadRequest(error.to_string()))?;
        return Ok(Selection {
            traces: vec![(trace_id.to_hex(), Vec::new())],
            output_sha256: None,
            matched_form: None,
        });
    }
    let output_sha256: [u8; 32] = match (&request.output, &request.output_sha256) {
        (Some(text), _) => sha2::Sha256::digest(text.as_bytes()).into(),
        (None, Some(hex_digest)) => parse_sha256(hex_digest)?,
        (None, None) => return Err(EvidenceError::BadRequest("no selector".into())),
    };
    let digest = crate::audit::output_digest_from_sha256(&tenant.lookup_secret, &output_sha256);
    let mut indexes = store.output_entries(tenant, &digest).await?;
    let mut matched_form = (!indexes.is_empty()).then_some(MatchedForm::Exact);
    if let (true, None, Some(text)) = (allow_normalized, matched_form, &request.output) {
        indexes = store
            .output_entries(tenant, &normalized_digest(&tenant.lookup_secret, text))
            .await?;
        matched_form = (!indexes.is_empty()).then_some(MatchedForm::Normalized);
    }
    let mut traces: Vec<(String, Vec<u64>)> = Vec::new();
    for entry in store.entries_at(tenant, &indexes).await? {
        let parsed: Value = crate::ledger::entry::parse_entry_value(&entry.entry_bytes)
            .map_err(|error| EvidenceError::Internal(format!("entry {}: {error}", entry.index)))?;
        let Some(trace_id) = parsed["body"]["trace_id"].as_str() else {
            continue;
        };
        match traces.iter_mut().find(|(id, _)| id == trace_id) {
            Some((_, matched)) => matched.push(entry.index),
            None => traces.push((trace_id.to_owned(), vec![entry.index])),
        }
    }
    traces.truncate(MAX_TRACES);
    Ok(Selection {
        traces,
        output_sha256: Some(output_sha256),
        matched_form,
    })
}

/// The latest checkpoint, its signature checked with the server's key.
pub async fn latest_checkpoint(
    store: &dyn Store,
    signing_key: &ed25519_dalek::SigningKey,
    tenant: &Tenant,
) -> Result<Option<ReportCheckpoint>, EvidenceError> {
    let Some(stored) = store.latest_checkpoint(tenant).await? else {
        return Ok(None);
    };
    let signer = LogSigner::new(&tenant.origin, signing_key.clone())
        .map_err(|error| EvidenceError::Internal(error.to_string()))?;
    // A checkpoint signed by an older key still verifies with that key; fall back to the
    // registered keys.
    let mut verified = verify_checkpoint(&stored.note, &signer.verifier_key()).ok();
    if verified.is_none() {
        for key in store.signing_keys().await? {
            let Ok(bytes) = <[u8; 32]>::try_from(key.public_key.as_slice()) else {
                continue;
            };
            let Ok(public) = ed25519_dalek::VerifyingKey::from_bytes(&bytes) else {
                continue;
            };
            let candidate = crate::ledger::checkpoint::verifier_key(&tenant.origin, &public);
            if let Ok(checkpoint) = verify_checkpoint(&stored.note, &candidate) {
                verified = Some(checkpoint);
                break;
            }
        }
    }
    let verified = verified.ok_or_else(|| EvidenceError::Internal("latest checkpoint does not verify".into()))?;
    Ok(Some(ReportCheckpoint {
        note: stored.note,
        size: verified.size,
        root: verified.root,
    }))
}

/// Entries of a trace with their inclusion proofs against `checkpoint` (one read for all
/// the proof hashes). Entries beyond the checkpoint are left out.
pub async fn trace_evidence(
    store: &dyn Store,
    tenant: &Tenant,
    trace_id: &str,
    checkpoint: &ReportCheckpoint,
) -> Result<Vec<ReportEntry>, EvidenceError> {
    let stored = store.trace_entries(tenant, trace_id).await?;
    proven_entries(store, tenant, stored, checkpoint).await
}

/// Decodes stored entries and attaches inclusion proofs against `checkpoint`.
pub async fn proven_entries(
    store: &dyn Store,
    tenant: &Tenant,
    stored: Vec<crate::store::StoredEntry>,
    checkpoint: &ReportCheckpoint,
) -> Result<Vec<ReportEntry>, EvidenceError> {
    let stored: Vec<_> = stored
        .into_iter()
        .filter(|entry| entry.index < checkpoint.size)
        .collect();
    let mut needed = Vec::new();
    for entry in &stored {
        needed.extend(
            merkle::inclusion_proof_indexes(entry.index, checkpoint.size)
                .map_err(|error| EvidenceError::Internal(error.to_string()))?,
        );
    }
    needed.sort_unstable();
    needed.dedup();
    let hashes = store.stored_hashes(tenant, &needed).await?;
    let mut out = Vec::with_capacity(stored.len());
    for entry in stored {
        let decoded = Entry::from_canonical_bytes(&entry.entry_bytes)
            .map_err(|error| EvidenceError::Internal(error.to_string()))?;
        let proof = merkle::inclusion_proof(entry.index, checkpoint.size, &hashes)
            .map_err(|error| EvidenceError::Internal(error.to_string()))?;
        out.push(ReportEntry {
            index: entry.index,
            leaf_hash: leaf_hash(&entry.entry_bytes),
            entry: decoded,
            entry_bytes: entry.entry_bytes,
            inclusion_proof: proof,
        });
    }
    Ok(out)
}

/// The tenant's governance records.
pub async fn governance(store: &dyn Store, tenant: &Tenant) -> Result<Governance, EvidenceError> {
    Ok(Governance {
        versions: store.governance(tenant, PIPELINE_VERSION).await?,
        proof_bundles: store.governance(tenant, PROOF_BUNDLE).await?,
        deployments: store.governance(tenant, DEPLOYMENT).await?,
    })
}

/// Revealed contents of the given entries (commitment → text), erased ones excluded.
pub async fn revealed_contents(
    store: &dyn Store,
    tenant: &Tenant,
    entries: &[ReportEntry],
) -> Result<HashMap<String, String>, EvidenceError> {
    let indexes: Vec<u64> = entries.iter().map(|entry| entry.index).collect();
    Ok(store
        .contents_of(tenant, &indexes)
        .await?
        .into_iter()
        .filter_map(|content| content.content.map(|text| (content.commitment, text)))
        .collect())
}
