//! Offline verification of an audit bundle: every check, in a fixed order, stopping at the
//! first failure and naming it.
//!
//! The order (each step's error in brackets; `docs/bundle-format.md` §7 is the reference):
//!
//! 1. the envelope is a DSSE envelope with at least one signature
//!    [`EnvelopeMalformed`](VerifyError::EnvelopeMalformed); its `payloadType` is
//!    `application/vnd.in-toto+json` [`WrongPayloadType`](VerifyError::WrongPayloadType);
//! 2. the key: the trusted key if one is given (some signature's `keyid` must equal it
//!    [`UntrustedKey`](VerifyError::UntrustedKey)), else the `keyid` of the first signature;
//!    it must be an Ed25519 signed-note verifier key [`BadVerifierKey`](VerifyError::BadVerifierKey);
//! 3. the DSSE signature of that `keyid` over `PAE(payloadType, payload)`
//!    [`BadEnvelopeSignature`](VerifyError::BadEnvelopeSignature) — nothing inside the
//!    payload is read before this;
//! 4. the payload is JSON in RFC 8785 canonical form [`PayloadNotCanonical`](VerifyError::PayloadNotCanonical),
//!    an in-toto Statement v1 with our predicate type and version
//!    ([`StatementMalformed`](VerifyError::StatementMalformed),
//!    [`WrongStatementType`](VerifyError::WrongStatementType),
//!    [`WrongPredicateType`](VerifyError::WrongPredicateType),
//!    [`UnsupportedVersion`](VerifyError::UnsupportedVersion)), and its
//!    `predicate.log.verifier_key` is the key of step 2 ([`UntrustedKey`](VerifyError::UntrustedKey)
//!    with a trusted key, else [`KeyMismatch`](VerifyError::KeyMismatch));
//! 5. the checkpoint is signed by that key and names `predicate.log.origin`;
//! 6. every entry, in order: sorted and unique, canonical, the index it claims, this log,
//!    below the checkpoint size, its inclusion proof, its tlog-proof text if present;
//! 7. the `prev` links between entries with consecutive indexes (and entry 0's zeros);
//! 8. every revealed content opens its commitment, which some entry carries;
//! 9. every span's parent is in the bundle or listed in `outside_selection`, and (9b) every
//!    pipeline version or deployment a span is linked to has its entry in the bundle;
//! 10. every `outputs` item, then every subject;
//! 11. the optional consistency proof to a newer checkpoint signed by the same key.
//!
//! Pure and synchronous: bundles are untrusted input, so nothing here panics on them
//! (there is a fuzz target, `fuzz/fuzz_targets/bundle_verify.rs`).
//!
//! One private file per check: `envelope` (steps 1–4), `checkpoint` (5 and 11), `entries`
//! (6 and 7), `contents` (8), `trees` (9), `governance` (9b and the report's pipeline
//! context), `outputs` (10); `error` holds [`VerifyError`] with its stable codes, and
//! `fields` the checks of hex fields they share.

mod checkpoint;
mod contents;
mod entries;
mod envelope;
mod error;
mod fields;
mod governance;
mod outputs;
mod trees;

use serde::Serialize;
use serde_json::Value;

pub use error::VerifyError;

use crate::ledger::hash_hex;

/// What a verified bundle contains.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerificationReport {
    /// The log's origin.
    pub origin: String,
    /// The verifier key that signed the envelope and the checkpoint.
    pub verifier_key: String,
    /// Whether that key was given by the caller (`--key`); if not, the bundle only proves
    /// that whoever holds the key it names signed it.
    pub key_trusted: bool,
    /// Tree size of the bundle's checkpoint.
    pub checkpoint_size: u64,
    /// Root hash of the bundle's checkpoint, lowercase hex.
    pub checkpoint_root: String,
    /// Number of entries.
    pub entries: u64,
    /// Number of revealed contents.
    pub contents: u64,
    /// Number of entries of type `span`.
    pub span_entries: u64,
    /// Number of distinct traces among the span entries (each one whole, or completed by
    /// `outside_selection`).
    pub traces: u64,
    /// Number of subjects (outputs in question).
    pub subjects: u64,
    /// Tree size of the newer checkpoint the bundle's checkpoint was proven consistent with.
    pub consistent_with_size: Option<u64>,
    /// Entries of type `pipeline_version`, `proof_bundle` and `deployment`.
    pub pipeline_entries: Vec<PipelineEntry>,
    /// The export's time, as the exporter wrote it.
    pub exported_at: String,
    /// The export's query, as the exporter wrote it.
    pub query: Value,
    /// Who exported, as the exporter wrote it.
    pub principal: Value,
}

/// A pipeline-context entry found in the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineEntry {
    /// Ledger index.
    pub index: u64,
    /// `pipeline_version`, `proof_bundle` or `deployment`.
    pub entry_type: String,
    /// `body.id`, if present.
    pub id: Option<String>,
    /// `body.name`, if present.
    pub name: Option<String>,
    /// `body.version`, if present.
    pub version: Option<String>,
}

/// Verifies an audit bundle. With `trusted_key` (a signed-note verifier key obtained out of
/// band, e.g. from `GET /v1/keys`), the bundle must be signed by exactly that key; without
/// it, the key the bundle names is used and the report says `key_trusted: false`.
pub fn verify_bundle(bytes: &[u8], trusted_key: Option<&str>) -> Result<VerificationReport, VerifyError> {
    // 1–4. Envelope, key, signature, statement and predicate.
    let envelope::SignedStatement {
        verifier_key,
        subjects,
        predicate,
    } = envelope::open_envelope(bytes, trusted_key)?;
    let origin = predicate.log.origin.as_str();

    // 5. The checkpoint.
    let checkpoint = checkpoint::check_checkpoint(&predicate, &verifier_key)?;

    // 6. Every entry.
    let entries = entries::check_entries(&predicate, &checkpoint)?;

    // 7. Prev links where both ends are present.
    entries::check_chain(&entries)?;

    // 8. Revealed contents.
    let commitments = contents::collect_commitments(&entries);
    let revealed = contents::check_contents(&predicate, &commitments)?;

    // 9. Whole trace trees, and the pipeline context their spans claim.
    let (span_entries, traces) = trees::check_trees(&predicate, &entries)?;
    governance::check_pipeline_context(&entries)?;

    // 10. Outputs and subjects.
    outputs::check_outputs(&predicate, &entries, &commitments, &revealed)?;
    outputs::check_subjects(&predicate, &entries, &subjects)?;

    // 11. Optional consistency with a newer checkpoint.
    let consistent_with_size = match &predicate.consistency {
        None => None,
        Some(consistency) => Some(checkpoint::check_consistency(
            consistency,
            &checkpoint,
            origin,
            &verifier_key,
        )?),
    };

    Ok(VerificationReport {
        origin: origin.to_owned(),
        key_trusted: trusted_key.is_some(),
        checkpoint_size: checkpoint.size,
        checkpoint_root: hash_hex(&checkpoint.root),
        entries: entries.len() as u64,
        contents: predicate.contents.len() as u64,
        span_entries,
        traces,
        subjects: subjects.len() as u64,
        consistent_with_size,
        pipeline_entries: governance::pipeline_entries(&entries),
        verifier_key,
        exported_at: predicate.exported_at,
        query: predicate.query,
        principal: predicate.principal,
    })
}

#[cfg(test)]
mod tests;
