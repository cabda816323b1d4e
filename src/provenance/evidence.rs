//! Evidence gathering shared by the audit API and exports: selecting traces by output or
//! trace id, the latest verified checkpoint, entries with inclusion proofs, governance
//! records and revealed contents.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::TraceId;
use crate::ledger::checkpoint::{verify_checkpoint, LogSigner};
use crate::ledger::entry::{leaf_hash, Entry};
use crate::ledger::merkle;
use crate::provenance::governance::{DEPLOYMENT, PIPELINE_VERSION, PROOF_BUNDLE};
use crate::provenance::report::{Governance, IndexMismatch, ReportCheckpoint, ReportEntry};
use crate::store::{GovernanceRecord, Store, StoreError, StoredEntry, Tenant};

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
    /// `output_index` rows that named an entry which does not emit the output (left out
    /// of `traces`), with the trace of that entry when it has one.
    pub mismatches: Vec<(Option<String>, IndexMismatch)>,
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
            mismatches: Vec::new(),
        });
    }
    let output_sha256: [u8; 32] = match (&request.output, &request.output_sha256) {
        (Some(text), _) => sha2::Sha256::digest(text.as_bytes()).into(),
        (None, Some(hex_digest)) => parse_sha256(hex_digest)?,
        (None, None) => return Err(EvidenceError::BadRequest("no selector".into())),
    };
    let mut digest = crate::provenance::lookup::exact_digest_from_sha256(&tenant.lookup_secret, &output_sha256);
    let mut indexes = store.output_entries(tenant, &digest).await?;
    let mut matched_form = (!indexes.is_empty()).then_some(MatchedForm::Exact);
    if let (true, None, Some(text)) = (allow_normalized, matched_form, &request.output) {
        digest = normalized_digest(&tenant.lookup_secret, text);
        indexes = store.output_entries(tenant, &digest).await?;
        matched_form = (!indexes.is_empty()).then_some(MatchedForm::Normalized);
    }
    // Each index row is checked against its entry: the entry must emit this output, as
    // re-derived from its committed content (provenance::outputs).
    let opened = opened_contents(store, tenant, &indexes).await?;
    let mut traces: Vec<(String, Vec<u64>)> = Vec::new();
    let mut mismatches = Vec::new();
    for entry in store.entries_at(tenant, &indexes).await? {
        let (trace_id, problem) = match Entry::from_canonical_bytes(&entry.entry_bytes) {
            Err(error) => (None, Some(format!("the entry cannot be read: {error}"))),
            Ok(decoded) => {
                let trace_id = decoded.body["trace_id"].as_str().map(str::to_owned);
                let expected = crate::provenance::outputs::expected_output_digests(
                    &decoded.entry_type,
                    &decoded.body,
                    &opened,
                    &tenant.lookup_secret,
                );
                let problem = match expected {
                    crate::provenance::outputs::ExpectedOutputs::OneOf(sets)
                        if sets.iter().any(|set| set.contains(&digest)) =>
                    {
                        None
                    }
                    crate::provenance::outputs::ExpectedOutputs::Unknown(reason) => {
                        Some(format!("the row cannot be checked against its entry ({reason})"))
                    }
                    _ => Some("the entry does not emit this output".to_owned()),
                };
                (trace_id, problem)
            }
        };
        if let Some(detail) = problem {
            tracing::warn!(tenant = %tenant.name, table = "output_index", entry_index = entry.index, "index row does not match its entry");
            mismatches.push((trace_id, IndexMismatch::new("output_index", entry.index, detail)));
            continue;
        }
        let Some(trace_id) = trace_id else {
            continue;
        };
        match traces.iter_mut().find(|(id, _)| *id == trace_id) {
            Some((_, matched)) => matched.push(entry.index),
            None => traces.push((trace_id, vec![entry.index])),
        }
    }
    traces.truncate(MAX_TRACES);
    // Rows that do not match their entry do not count as a match.
    let matched_form = if traces.is_empty() { None } else { matched_form };
    Ok(Selection {
        traces,
        output_sha256: Some(output_sha256),
        matched_form,
        mismatches,
    })
}

/// Stored contents of the given entries that open their commitments (commitment → text).
async fn opened_contents(
    store: &dyn Store,
    tenant: &Tenant,
    indexes: &[u64],
) -> Result<HashMap<String, String>, EvidenceError> {
    Ok(store
        .contents_of(tenant, indexes)
        .await?
        .into_iter()
        .filter_map(|content| match (content.salt, content.content) {
            (Some(salt), Some(text))
                if crate::ledger::commitment::commitment_digest(&salt, &text) == content.commitment =>
            {
                Some((content.commitment, text))
            }
            _ => None,
        })
        .collect())
}

/// The latest checkpoint, its signature checked with the server's key (and no other).
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
    // Only the server's own key is trusted, never a key for being listed in the store: a
    // checkpoint it did not sign is not served as verified (old keys come back with
    // key-rotation entries).
    let verified = verify_checkpoint(&stored.note, &signer.verifier_key()).ok();
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

/// Governance records of one kind as their ledger entries say, and the index rows that
/// disagree with their entries.
#[derive(Debug, Clone, Default)]
pub struct VerifiedGovernance {
    /// The records, rebuilt from their entries (`governance::governance_row`), by entry.
    pub records: Vec<GovernanceRecord>,
    /// Rows that do not match their entry. A row whose entry is a record of the right kind
    /// is served from the entry (and flagged); any other such row is left out.
    pub mismatches: Vec<IndexMismatch>,
}

impl VerifiedGovernance {
    /// Whether the record at `entry_index` came from a row that did not match it.
    pub fn mismatched(&self, entry_index: u64) -> bool {
        self.mismatches
            .iter()
            .any(|mismatch| mismatch.entry_index == entry_index)
    }
}

/// The governance records of `kind`, each `governance` row checked against its ledger
/// entry (one read of the entries): the facts served are the entry's, never the row's.
pub async fn verified_governance(
    store: &dyn Store,
    tenant: &Tenant,
    kind: &str,
) -> Result<VerifiedGovernance, EvidenceError> {
    let rows = store.governance(tenant, kind).await?;
    let indexes: Vec<u64> = rows.iter().map(|record| record.entry_index).collect();
    let entries: HashMap<u64, StoredEntry> = store
        .entries_at(tenant, &indexes)
        .await?
        .into_iter()
        .map(|entry| (entry.index, entry))
        .collect();
    let mut verified = VerifiedGovernance::default();
    let mut served = std::collections::BTreeSet::new();
    for row in rows {
        let index = row.entry_index;
        let mut mismatch = |detail: String| {
            tracing::warn!(tenant = %tenant.name, table = "governance", entry_index = index, "index row does not match its entry");
            verified.mismatches.push(IndexMismatch::new(
                "governance",
                index,
                format!("{kind} {}: {detail}", row.row.id),
            ));
        };
        let Some(stored) = entries.get(&index) else {
            mismatch(format!("the row names entry {index}, which does not exist"));
            continue;
        };
        if stored.leaf_hash != leaf_hash(&stored.entry_bytes).0 {
            mismatch(format!("entry {index} does not match its leaf hash"));
            continue;
        }
        let entry = match Entry::from_canonical_bytes(&stored.entry_bytes) {
            Ok(entry) => entry,
            Err(error) => {
                mismatch(format!("entry {index} cannot be read: {error}"));
                continue;
            }
        };
        let derived = match crate::provenance::governance::governance_row(kind, &entry.body) {
            Some(derived) if entry.entry_type == kind => derived,
            _ => {
                mismatch(format!("entry {index} is a {}, not this {kind}", entry.entry_type));
                continue;
            }
        };
        let differences = crate::provenance::governance::governance_row_differences(&row.row, &derived);
        if !differences.is_empty() {
            let verb = if differences.len() == 1 { "differs" } else { "differ" };
            mismatch(format!("{} {verb} from entry {index}", differences.join(", ")));
        }
        if served.insert(index) {
            verified.records.push(GovernanceRecord {
                row: derived,
                entry_index: index,
            });
        }
    }
    Ok(verified)
}

/// The tenant's pipeline versions, proof bundles and deployments, checked against their
/// entries (see [`verified_governance`]).
pub async fn governance(store: &dyn Store, tenant: &Tenant) -> Result<Governance, EvidenceError> {
    let versions = verified_governance(store, tenant, PIPELINE_VERSION).await?;
    let proof_bundles = verified_governance(store, tenant, PROOF_BUNDLE).await?;
    let deployments = verified_governance(store, tenant, DEPLOYMENT).await?;
    let mismatches = [&versions, &proof_bundles, &deployments]
        .iter()
        .flat_map(|verified| verified.mismatches.iter().cloned())
        .collect();
    Ok(Governance {
        versions: versions.records,
        proof_bundles: proof_bundles.records,
        deployments: deployments.records,
        mismatches,
        proofs: HashMap::new(),
    })
}

/// [`governance`] with every record's entry proven against `checkpoint`, for reports.
pub async fn proven_governance(
    store: &dyn Store,
    tenant: &Tenant,
    checkpoint: &ReportCheckpoint,
) -> Result<Governance, EvidenceError> {
    let mut governance = governance(store, tenant).await?;
    let indexes: Vec<u64> = governance
        .versions
        .iter()
        .chain(&governance.proof_bundles)
        .chain(&governance.deployments)
        .map(|record| record.entry_index)
        .collect();
    let stored = store.entries_at(tenant, &indexes).await?;
    governance.proofs = proven_entries(store, tenant, stored, checkpoint)
        .await?
        .into_iter()
        .map(|entry| (entry.index, entry))
        .collect();
    Ok(governance)
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
