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
//! 9. every span's parent is in the bundle or listed in `outside_selection`;
//! 10. every `outputs` item, then every subject;
//! 11. the optional consistency proof to a newer checkpoint signed by the same key.
//!
//! Pure and synchronous: bundles are untrusted input, so nothing here panics on them
//! (there is a fuzz target, `fuzz/fuzz_targets/bundle_verify.rs`).

use std::collections::{BTreeSet, HashMap, HashSet};

use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::format::{
    pae, render_tlog_proof, Envelope, Predicate, Statement, BUNDLE_VERSION, PAYLOAD_TYPE, PREDICATE_TYPE,
    STATEMENT_TYPE,
};
use crate::ledger::checkpoint::{verify_checkpoint, CheckpointError, VerifiedCheckpoint};
use crate::ledger::commitment::commitment_digest;
use crate::ledger::entry::{leaf_hash, Entry, EntryError};
use crate::ledger::merkle::{verify_consistency, verify_inclusion};
use crate::ledger::{hash_hex, Hash, ZERO_HASH};

/// No valid inclusion proof is longer: a tree has at most 2^64 leaves.
const MAX_INCLUSION_PROOF_LEN: usize = 64;
/// No valid consistency proof is longer (RFC 9162 §2.1.4: at most one hash per level, plus one).
const MAX_CONSISTENCY_PROOF_LEN: usize = 65;

/// Entry types listed in the report as the pipeline context of the bundle.
const PIPELINE_ENTRY_TYPES: [&str; 3] = ["pipeline_version", "proof_bundle", "deployment"];

/// The first check of a bundle that failed. Each variant is one step of the verification
/// order (see the module docs); [`VerifyError::code`] gives a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bytes are not a DSSE envelope (JSON object with `payloadType`, base64 `payload`
    /// and a non-empty `signatures` list).
    #[error("envelope is malformed: {0}")]
    EnvelopeMalformed(String),
    /// The envelope's `payloadType` is not `application/vnd.in-toto+json`.
    #[error("payload type {0:?} is not application/vnd.in-toto+json")]
    WrongPayloadType(String),
    /// The bundle is signed by, or names, another key than the trusted one.
    #[error("bundle key {found:?} is not the trusted key")]
    UntrustedKey {
        /// The key the bundle uses.
        found: String,
    },
    /// The key is not an Ed25519 signed-note verifier key `<name>+<hex8>+<base64>`.
    #[error("verifier key is malformed: {0}")]
    BadVerifierKey(String),
    /// The DSSE signature does not verify over `PAE(payloadType, payload)`.
    #[error("envelope signature does not verify")]
    BadEnvelopeSignature,
    /// The payload is not in RFC 8785 (JCS) canonical form.
    #[error("payload is not RFC 8785 canonical JSON")]
    PayloadNotCanonical,
    /// The payload is not an in-toto statement with a well-formed predicate.
    #[error("statement is malformed: {0}")]
    StatementMalformed(String),
    /// The statement's `_type` is not in-toto Statement v1.
    #[error("statement type {0:?} is not https://in-toto.io/Statement/v1")]
    WrongStatementType(String),
    /// The statement's `predicateType` is not the traceledger audit bundle.
    #[error("predicate type {0:?} is not https://traceledger.dev/audit-bundle/v1")]
    WrongPredicateType(String),
    /// The predicate's `version` is not one this verifier understands.
    #[error("unsupported bundle version {0}")]
    UnsupportedVersion(u64),
    /// Without a trusted key: the predicate's verifier key is not the key that signed the envelope.
    #[error("predicate verifier key {found:?} is not the envelope's key {expected:?}")]
    KeyMismatch {
        /// The envelope's key id.
        expected: String,
        /// The predicate's `log.verifier_key`.
        found: String,
    },
    /// A field does not decode (base64, hex, id length).
    #[error("field {field} is malformed: {reason}")]
    FieldMalformed {
        /// Where, e.g. `entries[2].inclusion_proof[0]`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint note or its text is not well-formed.
    #[error("checkpoint is malformed: {0}")]
    CheckpointMalformed(String),
    /// The checkpoint is not signed by the key.
    #[error("checkpoint signature does not verify: {0}")]
    BadCheckpointSignature(String),
    /// The checkpoint, the key name and `predicate.log.origin` do not name the same log.
    #[error("origin {found:?} is not the expected {expected:?}")]
    OriginMismatch {
        /// The origin that was expected.
        expected: String,
        /// The origin found.
        found: String,
    },
    /// Entries are not sorted by index, or an index appears twice.
    #[error("entry {index} is duplicated or out of order")]
    DuplicateOrUnsortedEntry {
        /// The index that breaks the order.
        index: u64,
    },
    /// The entry bytes are not an entry object.
    #[error("entry {index} is malformed: {reason}")]
    EntryMalformed {
        /// The entry's index (as listed in the bundle).
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The entry bytes are not RFC 8785 canonical.
    #[error("entry {index} is not RFC 8785 canonical")]
    EntryNotCanonical {
        /// The entry's index.
        index: u64,
    },
    /// The entry's own `index` differs from the index it is listed under.
    #[error("entry listed as {index} says it is entry {found}")]
    EntryIndexMismatch {
        /// The index the bundle lists.
        index: u64,
        /// The entry's `index` field.
        found: u64,
    },
    /// The entry's `log` is not the bundle's origin.
    #[error("entry {index} belongs to log {found:?}")]
    EntryWrongLog {
        /// The entry's index.
        index: u64,
        /// The entry's `log` field.
        found: String,
    },
    /// The entry's index is not below the checkpoint's tree size.
    #[error("entry {index} is beyond the checkpoint (tree size {size})")]
    EntryBeyondCheckpoint {
        /// The entry's index.
        index: u64,
        /// The checkpoint's tree size.
        size: u64,
    },
    /// The inclusion proof does not lead from the entry's leaf hash to the checkpoint root.
    #[error("inclusion proof of entry {index} does not verify")]
    InclusionProofFailed {
        /// The entry's index.
        index: u64,
    },
    /// The entry's `tlog_proof` is not the C2SP rendering of its index, proof and checkpoint.
    #[error("tlog_proof of entry {index} does not match its inclusion proof and checkpoint")]
    TlogProofMismatch {
        /// The entry's index.
        index: u64,
    },
    /// The entry's `prev` is not the leaf hash of the entry before it (both in the bundle),
    /// or entry 0's `prev` is not 64 zeros.
    #[error("hash chain broken at entry {index}")]
    BrokenChain {
        /// The later entry of the pair.
        index: u64,
    },
    /// The revealed content does not open its commitment.
    #[error("revealed content {sha256} does not open its commitment")]
    ContentMismatch {
        /// The commitment digest.
        sha256: String,
    },
    /// No entry of the bundle carries the commitment `{"sha256":..,"len":..}` of a revealed content.
    #[error("revealed content {sha256} is not committed in any entry of the bundle")]
    ContentNotCommitted {
        /// The commitment digest.
        sha256: String,
    },
    /// A span's parent is neither in the bundle nor listed in `outside_selection`.
    #[error("trace {trace_id} is incomplete: span {span_id} has parent {missing_parent}, which is neither in the bundle nor in outside_selection")]
    IncompleteTree {
        /// The trace.
        trace_id: String,
        /// The child span.
        span_id: String,
        /// The parent span id that is missing.
        missing_parent: String,
    },
    /// A span is linked to a pipeline version or deployment whose governance entry is not
    /// in the bundle: the pipeline context the span claims cannot be checked.
    #[error("span entry {index} is linked to {kind} {id}, which is not in the bundle")]
    MissingPipelineContext {
        /// The span entry.
        index: u64,
        /// `pipeline_version` or `deployment`.
        kind: String,
        /// The record id.
        id: String,
    },
    /// An `outputs` item is not backed by the bundle.
    #[error("output {sha256} is not committed: {reason}")]
    OutputNotCommitted {
        /// The item's `sha256`.
        sha256: String,
        /// Which link of the chain is missing.
        reason: String,
    },
    /// A subject digest has no `outputs` item.
    #[error("subject {digest} is not backed by any output in the bundle")]
    SubjectNotCommitted {
        /// The subject's sha256 digest.
        digest: String,
    },
    /// The newer checkpoint of the consistency proof is not valid.
    #[error("consistency checkpoint is not valid: {0}")]
    ConsistencyCheckpointInvalid(String),
    /// The consistency proof does not show the bundle's checkpoint is a prefix of the newer one.
    #[error("consistency proof does not verify: {0}")]
    ConsistencyFailed(String),
}

impl VerifyError {
    /// A stable snake_case code for machine-readable reports (`traceledger verify --json`).
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::EnvelopeMalformed(_) => "envelope_malformed",
            VerifyError::WrongPayloadType(_) => "wrong_payload_type",
            VerifyError::UntrustedKey { .. } => "untrusted_key",
            VerifyError::BadVerifierKey(_) => "bad_verifier_key",
            VerifyError::BadEnvelopeSignature => "bad_envelope_signature",
            VerifyError::PayloadNotCanonical => "payload_not_canonical",
            VerifyError::StatementMalformed(_) => "statement_malformed",
            VerifyError::WrongStatementType(_) => "wrong_statement_type",
            VerifyError::WrongPredicateType(_) => "wrong_predicate_type",
            VerifyError::UnsupportedVersion(_) => "unsupported_version",
            VerifyError::KeyMismatch { .. } => "key_mismatch",
            VerifyError::FieldMalformed { .. } => "field_malformed",
            VerifyError::CheckpointMalformed(_) => "checkpoint_malformed",
            VerifyError::BadCheckpointSignature(_) => "bad_checkpoint_signature",
            VerifyError::OriginMismatch { .. } => "origin_mismatch",
            VerifyError::DuplicateOrUnsortedEntry { .. } => "duplicate_or_unsorted_entry",
            VerifyError::EntryMalformed { .. } => "entry_malformed",
            VerifyError::EntryNotCanonical { .. } => "entry_not_canonical",
            VerifyError::EntryIndexMismatch { .. } => "entry_index_mismatch",
            VerifyError::EntryWrongLog { .. } => "entry_wrong_log",
            VerifyError::EntryBeyondCheckpoint { .. } => "entry_beyond_checkpoint",
            VerifyError::InclusionProofFailed { .. } => "inclusion_proof_failed",
            VerifyError::TlogProofMismatch { .. } => "tlog_proof_mismatch",
            VerifyError::BrokenChain { .. } => "broken_chain",
            VerifyError::ContentMismatch { .. } => "content_mismatch",
            VerifyError::ContentNotCommitted { .. } => "content_not_committed",
            VerifyError::IncompleteTree { .. } => "incomplete_tree",
            VerifyError::MissingPipelineContext { .. } => "missing_pipeline_context",
            VerifyError::OutputNotCommitted { .. } => "output_not_committed",
            VerifyError::SubjectNotCommitted { .. } => "subject_not_committed",
            VerifyError::ConsistencyCheckpointInvalid(_) => "consistency_checkpoint_invalid",
            VerifyError::ConsistencyFailed(_) => "consistency_failed",
        }
    }
}

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

/// An entry that passed step 6.
struct CheckedEntry {
    index: u64,
    entry: Entry,
    leaf: Hash,
}

/// Verifies an audit bundle. With `trusted_key` (a signed-note verifier key obtained out of
/// band, e.g. from `GET /v1/keys`), the bundle must be signed by exactly that key; without
/// it, the key the bundle names is used and the report says `key_trusted: false`.
pub fn verify_bundle(bytes: &[u8], trusted_key: Option<&str>) -> Result<VerificationReport, VerifyError> {
    let base64 = base64::engine::general_purpose::STANDARD;

    // 1. Envelope shape and payload type.
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|error| VerifyError::EnvelopeMalformed(error.to_string()))?;
    let Some(first_signature) = envelope.signatures.first() else {
        return Err(VerifyError::EnvelopeMalformed("no signatures".into()));
    };
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(VerifyError::WrongPayloadType(envelope.payload_type));
    }

    // 2. The key.
    let key_text = trusted_key.unwrap_or(&first_signature.keyid);
    let Some(signature) = envelope.signatures.iter().find(|signature| signature.keyid == key_text) else {
        return Err(VerifyError::UntrustedKey {
            found: first_signature.keyid.clone(),
        });
    };
    let verifying_key = parse_verifier_key(key_text)?;

    // 3. The DSSE signature, before anything inside the payload is read.
    let payload = base64
        .decode(&envelope.payload)
        .map_err(|error| VerifyError::EnvelopeMalformed(format!("payload is not base64: {error}")))?;
    let signature_bytes = base64
        .decode(&signature.sig)
        .map_err(|_| VerifyError::BadEnvelopeSignature)?;
    let signature_array: [u8; 64] = signature_bytes
        .as_slice()
        .try_into()
        .map_err(|_| VerifyError::BadEnvelopeSignature)?;
    verifying_key
        .verify_strict(
            &pae(&envelope.payload_type, &payload),
            &Signature::from_bytes(&signature_array),
        )
        .map_err(|_| VerifyError::BadEnvelopeSignature)?;

    // 4. Canonical payload, statement, predicate, and the key the predicate names.
    let payload_value: Value = serde_json::from_slice(&payload)
        .map_err(|error| VerifyError::StatementMalformed(format!("payload is not JSON: {error}")))?;
    let canonical = serde_json_canonicalizer::to_vec(&payload_value)
        .map_err(|error| VerifyError::StatementMalformed(error.to_string()))?;
    if canonical != payload {
        return Err(VerifyError::PayloadNotCanonical);
    }
    let statement: Statement =
        serde_json::from_value(payload_value).map_err(|error| VerifyError::StatementMalformed(error.to_string()))?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(VerifyError::WrongStatementType(statement.statement_type));
    }
    if statement.predicate_type != PREDICATE_TYPE {
        return Err(VerifyError::WrongPredicateType(statement.predicate_type));
    }
    let version = statement
        .predicate
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| VerifyError::StatementMalformed("predicate.version is not a number".into()))?;
    if version != BUNDLE_VERSION {
        return Err(VerifyError::UnsupportedVersion(version));
    }
    let predicate: Predicate = serde_json::from_value(statement.predicate)
        .map_err(|error| VerifyError::StatementMalformed(format!("predicate: {error}")))?;
    if predicate.log.verifier_key != key_text {
        return Err(match trusted_key {
            Some(_) => VerifyError::UntrustedKey {
                found: predicate.log.verifier_key,
            },
            None => VerifyError::KeyMismatch {
                expected: key_text.to_owned(),
                found: predicate.log.verifier_key,
            },
        });
    }
    let origin = predicate.log.origin.as_str();

    // 5. The checkpoint.
    let checkpoint = verify_checkpoint(&predicate.checkpoint, key_text).map_err(checkpoint_error)?;
    if checkpoint.origin != origin {
        return Err(VerifyError::OriginMismatch {
            expected: origin.to_owned(),
            found: checkpoint.origin,
        });
    }

    // 6. Every entry.
    let entries = check_entries(&predicate, &checkpoint)?;

    // 7. Prev links where both ends are present.
    check_chain(&entries)?;

    // 8. Revealed contents.
    let commitments = collect_commitments(&entries);
    let revealed = check_contents(&predicate, &commitments)?;

    // 9. Whole trace trees.
    let (span_entries, traces) = check_trees(&predicate, &entries)?;

    // 10. Outputs and subjects.
    check_outputs(&predicate, &entries, &commitments, &revealed)?;
    let output_digests: HashSet<&str> = predicate.outputs.iter().map(|output| output.sha256.as_str()).collect();
    for (position, subject) in statement.subject.iter().enumerate() {
        let Some(digest) = subject.digest.get("sha256") else {
            return Err(field_error(format!("subject[{position}].digest"), "no sha256 digest"));
        };
        if !is_lower_hex(digest, 64) {
            return Err(field_error(
                format!("subject[{position}].digest.sha256"),
                "not 64 lowercase hex digits",
            ));
        }
        if !output_digests.contains(digest.as_str()) {
            return Err(VerifyError::SubjectNotCommitted { digest: digest.clone() });
        }
    }

    // 11. Optional consistency with a newer checkpoint.
    let consistent_with_size = match &predicate.consistency {
        None => None,
        Some(consistency) => {
            let newer = verify_checkpoint(&consistency.checkpoint, key_text).map_err(|error| match error {
                CheckpointError::WrongOrigin { expected, found } => VerifyError::OriginMismatch { expected, found },
                other => VerifyError::ConsistencyCheckpointInvalid(other.to_string()),
            })?;
            if newer.origin != origin {
                return Err(VerifyError::OriginMismatch {
                    expected: origin.to_owned(),
                    found: newer.origin,
                });
            }
            if consistency.proof.len() > MAX_CONSISTENCY_PROOF_LEN {
                return Err(VerifyError::ConsistencyFailed(
                    "proof is longer than any valid proof".into(),
                ));
            }
            let proof = parse_hashes(&consistency.proof, "consistency.proof")?;
            if checkpoint.size == 0 {
                // The empty tree is a prefix of every tree; RFC 9162 has no proof for it.
                if !proof.is_empty() || newer.size < checkpoint.size {
                    return Err(VerifyError::ConsistencyFailed(
                        "a proof from size 0 must be empty".into(),
                    ));
                }
            } else {
                verify_consistency(checkpoint.size, newer.size, &checkpoint.root, &newer.root, &proof)
                    .map_err(|error| VerifyError::ConsistencyFailed(error.to_string()))?;
            }
            Some(newer.size)
        }
    };

    let pipeline_entries = entries
        .iter()
        .filter(|checked| PIPELINE_ENTRY_TYPES.contains(&checked.entry.entry_type.as_str()))
        .map(|checked| {
            let text = |name: &str| checked.entry.body.get(name).and_then(Value::as_str).map(str::to_owned);
            PipelineEntry {
                index: checked.index,
                entry_type: checked.entry.entry_type.clone(),
                id: text("id"),
                name: text("name"),
                version: text("version"),
            }
        })
        .collect();

    Ok(VerificationReport {
        origin: origin.to_owned(),
        verifier_key: key_text.to_owned(),
        key_trusted: trusted_key.is_some(),
        checkpoint_size: checkpoint.size,
        checkpoint_root: hash_hex(&checkpoint.root),
        entries: entries.len() as u64,
        contents: predicate.contents.len() as u64,
        span_entries,
        traces,
        subjects: statement.subject.len() as u64,
        consistent_with_size,
        pipeline_entries,
        exported_at: predicate.exported_at,
        query: predicate.query,
        principal: predicate.principal,
    })
}

/// The Ed25519 public key of a signed-note verifier key `<name>+<hex8>+<base64(0x01 || key)>`,
/// after checking the key hash and algorithm.
fn parse_verifier_key(text: &str) -> Result<VerifyingKey, VerifyError> {
    signed_note::StandardVerifier::new(text).map_err(|error| VerifyError::BadVerifierKey(error.to_string()))?;
    // The name cannot contain '+' and the key hash is hex, so the third part is the key.
    let encoded = text
        .splitn(3, '+')
        .nth(2)
        .ok_or_else(|| VerifyError::BadVerifierKey("not <name>+<hex8>+<base64>".into()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| VerifyError::BadVerifierKey(error.to_string()))?;
    let Some((&0x01, public_key)) = bytes.split_first() else {
        return Err(VerifyError::BadVerifierKey("not an Ed25519 key".into()));
    };
    let public_key: [u8; 32] = public_key
        .try_into()
        .map_err(|_| VerifyError::BadVerifierKey("public key is not 32 bytes".into()))?;
    VerifyingKey::from_bytes(&public_key).map_err(|error| VerifyError::BadVerifierKey(error.to_string()))
}

fn checkpoint_error(error: CheckpointError) -> VerifyError {
    match error {
        CheckpointError::Malformed(reason) => VerifyError::CheckpointMalformed(reason),
        CheckpointError::BadVerifierKey(reason) => VerifyError::BadVerifierKey(reason),
        CheckpointError::BadSignature(reason) => VerifyError::BadCheckpointSignature(reason),
        CheckpointError::WrongOrigin { expected, found } => VerifyError::OriginMismatch { expected, found },
    }
}

fn check_entries(predicate: &Predicate, checkpoint: &VerifiedCheckpoint) -> Result<Vec<CheckedEntry>, VerifyError> {
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut checked: Vec<CheckedEntry> = Vec::with_capacity(predicate.entries.len());
    for (position, item) in predicate.entries.iter().enumerate() {
        let index = item.index;
        if checked.last().is_some_and(|previous| index <= previous.index) {
            return Err(VerifyError::DuplicateOrUnsortedEntry { index });
        }
        let entry_bytes = base64.decode(&item.entry_bytes).map_err(|error| {
            field_error(
                format!("entries[{position}].entry_bytes"),
                &format!("not base64: {error}"),
            )
        })?;
        let entry = Entry::from_canonical_bytes(&entry_bytes).map_err(|error| match error {
            EntryError::NotCanonical => VerifyError::EntryNotCanonical { index },
            other => VerifyError::EntryMalformed {
                index,
                reason: other.to_string(),
            },
        })?;
        if entry.index != index {
            return Err(VerifyError::EntryIndexMismatch {
                index,
                found: entry.index,
            });
        }
        if entry.log != predicate.log.origin {
            return Err(VerifyError::EntryWrongLog {
                index,
                found: entry.log,
            });
        }
        if entry.prev_hash().is_none() {
            return Err(VerifyError::EntryMalformed {
                index,
                reason: "prev is not a 64-hex-digit hash".into(),
            });
        }
        if index >= checkpoint.size {
            return Err(VerifyError::EntryBeyondCheckpoint {
                index,
                size: checkpoint.size,
            });
        }
        if item.inclusion_proof.len() > MAX_INCLUSION_PROOF_LEN {
            return Err(VerifyError::InclusionProofFailed { index });
        }
        let proof = parse_hashes(&item.inclusion_proof, &format!("entries[{position}].inclusion_proof"))?;
        let leaf = leaf_hash(&entry_bytes);
        verify_inclusion(index, checkpoint.size, &leaf, &proof, &checkpoint.root)
            .map_err(|_| VerifyError::InclusionProofFailed { index })?;
        if let Some(tlog_proof) = &item.tlog_proof {
            if *tlog_proof != render_tlog_proof(index, &proof, &predicate.checkpoint) {
                return Err(VerifyError::TlogProofMismatch { index });
            }
        }
        checked.push(CheckedEntry { index, entry, leaf });
    }
    Ok(checked)
}

fn check_chain(entries: &[CheckedEntry]) -> Result<(), VerifyError> {
    if let Some(first) = entries.first() {
        if first.index == 0 && first.entry.prev_hash() != Some(ZERO_HASH) {
            return Err(VerifyError::BrokenChain { index: 0 });
        }
    }
    for pair in entries.windows(2) {
        let [earlier, later] = pair else { continue };
        // Only neighbours in the log are linked; a gap in the selection proves nothing.
        if later.index == earlier.index + 1 && later.entry.prev_hash() != Some(earlier.leaf) {
            return Err(VerifyError::BrokenChain { index: later.index });
        }
    }
    Ok(())
}

/// Commitment digest → (entry index, `len`) of every `{"len":N,"sha256":HEX}` object in the
/// entries' bodies.
fn collect_commitments(entries: &[CheckedEntry]) -> HashMap<String, Vec<(u64, u64)>> {
    fn walk(value: &Value, index: u64, found: &mut HashMap<String, Vec<(u64, u64)>>) {
        match value {
            Value::Object(object) => {
                if object.len() == 2 {
                    if let (Some(Value::String(sha256)), Some(len)) =
                        (object.get("sha256"), object.get("len").and_then(Value::as_u64))
                    {
                        found.entry(sha256.clone()).or_default().push((index, len));
                        return;
                    }
                }
                for member in object.values() {
                    walk(member, index, found);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, index, found);
                }
            }
            _ => {}
        }
    }
    let mut found = HashMap::new();
    for checked in entries {
        walk(&checked.entry.body, checked.index, &mut found);
    }
    found
}

/// Checks every revealed content; returns commitment digest → content text.
fn check_contents<'a>(
    predicate: &'a Predicate,
    commitments: &HashMap<String, Vec<(u64, u64)>>,
) -> Result<HashMap<&'a str, &'a str>, VerifyError> {
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut revealed = HashMap::with_capacity(predicate.contents.len());
    for (position, content) in predicate.contents.iter().enumerate() {
        if !is_lower_hex(&content.sha256, 64) {
            return Err(field_error(
                format!("contents[{position}].sha256"),
                "not 64 lowercase hex digits",
            ));
        }
        let salt = base64
            .decode(&content.salt)
            .map_err(|error| field_error(format!("contents[{position}].salt"), &format!("not base64: {error}")))?;
        if commitment_digest(&salt, &content.content) != content.sha256 {
            return Err(VerifyError::ContentMismatch {
                sha256: content.sha256.clone(),
            });
        }
        let length = content.content.len() as u64;
        let committed = commitments
            .get(&content.sha256)
            .is_some_and(|places| places.iter().any(|(_, len)| *len == length));
        if !committed {
            return Err(VerifyError::ContentNotCommitted {
                sha256: content.sha256.clone(),
            });
        }
        revealed.insert(content.sha256.as_str(), content.content.as_str());
    }
    Ok(revealed)
}

/// Checks that every span's parent is present or declared outside; returns the number of
/// span entries and of distinct traces.
fn check_trees(predicate: &Predicate, entries: &[CheckedEntry]) -> Result<(u64, u64), VerifyError> {
    let mut outside: HashSet<(&str, &str)> = HashSet::with_capacity(predicate.outside_selection.len());
    for (position, span) in predicate.outside_selection.iter().enumerate() {
        if !is_lower_hex(&span.trace_id, 32) {
            return Err(field_error(
                format!("outside_selection[{position}].trace_id"),
                "not 32 lowercase hex digits",
            ));
        }
        if !is_lower_hex(&span.span_id, 16) {
            return Err(field_error(
                format!("outside_selection[{position}].span_id"),
                "not 16 lowercase hex digits",
            ));
        }
        outside.insert((span.trace_id.as_str(), span.span_id.as_str()));
    }

    struct SpanRef<'a> {
        trace_id: &'a str,
        span_id: &'a str,
        parent: Option<&'a str>,
    }
    let mut spans = Vec::new();
    for checked in entries.iter().filter(|checked| checked.entry.entry_type == "span") {
        let body = &checked.entry.body;
        let text = |name: &str| -> Result<Option<&str>, VerifyError> {
            match body.get(name) {
                None => Ok(None),
                Some(Value::String(value)) => Ok(Some(value.as_str())),
                Some(_) => Err(VerifyError::EntryMalformed {
                    index: checked.index,
                    reason: format!("span body {name} is not a string"),
                }),
            }
        };
        let missing = |name: &str| VerifyError::EntryMalformed {
            index: checked.index,
            reason: format!("span body has no {name}"),
        };
        spans.push(SpanRef {
            trace_id: text("trace_id")?.ok_or_else(|| missing("trace_id"))?,
            span_id: text("span_id")?.ok_or_else(|| missing("span_id"))?,
            parent: text("parent_span_id")?,
        });
    }
    let present: HashSet<(&str, &str)> = spans.iter().map(|span| (span.trace_id, span.span_id)).collect();
    for span in &spans {
        let Some(parent) = span.parent else { continue };
        if !present.contains(&(span.trace_id, parent)) && !outside.contains(&(span.trace_id, parent)) {
            return Err(VerifyError::IncompleteTree {
                trace_id: span.trace_id.to_owned(),
                span_id: span.span_id.to_owned(),
                missing_parent: parent.to_owned(),
            });
        }
    }
    // Every pipeline link a span claims must be backed by its governance entry.
    let governance: HashSet<(&str, &str)> = entries
        .iter()
        .filter_map(|checked| {
            let id = checked.entry.body.get("id")?.as_str()?;
            Some((checked.entry.entry_type.as_str(), id))
        })
        .collect();
    for checked in entries.iter().filter(|checked| checked.entry.entry_type == "span") {
        let link = checked.entry.body.get("link");
        for (field, kind) in [
            ("pipeline_version_id", "pipeline_version"),
            ("deployment_id", "deployment"),
        ] {
            if let Some(id) = link.and_then(|link| link.get(field)).and_then(Value::as_str) {
                if !governance.contains(&(kind, id)) {
                    return Err(VerifyError::MissingPipelineContext {
                        index: checked.index,
                        kind: kind.to_owned(),
                        id: id.to_owned(),
                    });
                }
            }
        }
    }
    let traces: BTreeSet<&str> = spans.iter().map(|span| span.trace_id).collect();
    Ok((spans.len() as u64, traces.len() as u64))
}

fn check_outputs(
    predicate: &Predicate,
    entries: &[CheckedEntry],
    commitments: &HashMap<String, Vec<(u64, u64)>>,
    revealed: &HashMap<&str, &str>,
) -> Result<(), VerifyError> {
    let selected: HashSet<u64> = entries.iter().map(|checked| checked.index).collect();
    for output in &predicate.outputs {
        let fail = |reason: String| VerifyError::OutputNotCommitted {
            sha256: output.sha256.clone(),
            reason,
        };
        if hex::encode(Sha256::digest(output.text.as_bytes())) != output.sha256 {
            return Err(fail("sha256 is not the SHA-256 of the text".into()));
        }
        let Some(content) = revealed.get(output.commitment.as_str()) else {
            return Err(fail(format!(
                "commitment {} is not a revealed content",
                output.commitment
            )));
        };
        if !content.contains(output.text.as_str()) {
            return Err(fail(format!(
                "revealed content {} does not contain the text",
                output.commitment
            )));
        }
        if !selected.contains(&output.entry_index) {
            return Err(fail(format!("entry {} is not in the bundle", output.entry_index)));
        }
        let committed_there = commitments
            .get(&output.commitment)
            .is_some_and(|places| places.iter().any(|(index, _)| *index == output.entry_index));
        if !committed_there {
            return Err(fail(format!(
                "entry {} does not commit to {}",
                output.entry_index, output.commitment
            )));
        }
    }
    Ok(())
}

fn parse_hashes(texts: &[String], field: &str) -> Result<Vec<Hash>, VerifyError> {
    texts
        .iter()
        .enumerate()
        .map(|(position, text)| {
            parse_hash(text).ok_or_else(|| field_error(format!("{field}[{position}]"), "not 64 lowercase hex digits"))
        })
        .collect()
}

/// A hash from exactly 64 lowercase hex digits (the form the proof endpoints write).
fn parse_hash(text: &str) -> Option<Hash> {
    if !is_lower_hex(text, 64) {
        return None;
    }
    crate::ledger::hash_from_hex(text)
}

fn is_lower_hex(text: &str, length: usize) -> bool {
    text.len() == length && text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

fn field_error(field: String, reason: &str) -> VerifyError {
    VerifyError::FieldMalformed {
        field,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_envelope_error_not_a_panic() {
        for input in [&b""[..], b"null", b"[]", b"{}", b"{\"payloadType\":1}", &[0xff, 0xfe]] {
            assert!(matches!(
                verify_bundle(input, None),
                Err(VerifyError::EnvelopeMalformed(_))
            ));
        }
        let no_signatures = br#"{"payloadType":"application/vnd.in-toto+json","payload":"","signatures":[]}"#;
        assert_eq!(
            verify_bundle(no_signatures, None),
            Err(VerifyError::EnvelopeMalformed("no signatures".into()))
        );
    }

    #[test]
    fn wrong_payload_type_comes_before_the_key() {
        let envelope = br#"{"payloadType":"text/plain","payload":"","signatures":[{"keyid":"x","sig":""}]}"#;
        assert_eq!(
            verify_bundle(envelope, None),
            Err(VerifyError::WrongPayloadType("text/plain".into()))
        );
    }

    #[test]
    fn keyid_must_be_a_verifier_key() {
        let envelope =
            br#"{"payloadType":"application/vnd.in-toto+json","payload":"","signatures":[{"keyid":"x","sig":""}]}"#;
        assert!(matches!(
            verify_bundle(envelope, None),
            Err(VerifyError::BadVerifierKey(_))
        ));
        assert_eq!(
            verify_bundle(envelope, Some("y")),
            Err(VerifyError::UntrustedKey { found: "x".into() })
        );
    }

    #[test]
    fn hex_parsing_is_strict() {
        assert!(parse_hash(&"a".repeat(64)).is_some());
        assert!(parse_hash(&"A".repeat(64)).is_none());
        assert!(parse_hash(&"a".repeat(63)).is_none());
        assert!(parse_hash("é").is_none());
    }

    #[test]
    fn every_error_has_a_distinct_snake_case_code() {
        let text = String::new;
        let errors = [
            VerifyError::EnvelopeMalformed(text()),
            VerifyError::WrongPayloadType(text()),
            VerifyError::UntrustedKey { found: text() },
            VerifyError::BadVerifierKey(text()),
            VerifyError::BadEnvelopeSignature,
            VerifyError::PayloadNotCanonical,
            VerifyError::StatementMalformed(text()),
            VerifyError::WrongStatementType(text()),
            VerifyError::WrongPredicateType(text()),
            VerifyError::UnsupportedVersion(2),
            VerifyError::KeyMismatch {
                expected: text(),
                found: text(),
            },
            VerifyError::FieldMalformed {
                field: text(),
                reason: text(),
            },
            VerifyError::CheckpointMalformed(text()),
            VerifyError::BadCheckpointSignature(text()),
            VerifyError::OriginMismatch {
                expected: text(),
                found: text(),
            },
            VerifyError::DuplicateOrUnsortedEntry { index: 0 },
            VerifyError::EntryMalformed {
                index: 0,
                reason: text(),
            },
            VerifyError::EntryNotCanonical { index: 0 },
            VerifyError::EntryIndexMismatch { index: 0, found: 1 },
            VerifyError::EntryWrongLog {
                index: 0,
                found: text(),
            },
            VerifyError::EntryBeyondCheckpoint { index: 0, size: 0 },
            VerifyError::InclusionProofFailed { index: 0 },
            VerifyError::TlogProofMismatch { index: 0 },
            VerifyError::BrokenChain { index: 0 },
            VerifyError::ContentMismatch { sha256: text() },
            VerifyError::ContentNotCommitted { sha256: text() },
            VerifyError::IncompleteTree {
                trace_id: text(),
                span_id: text(),
                missing_parent: text(),
            },
            VerifyError::OutputNotCommitted {
                sha256: text(),
                reason: text(),
            },
            VerifyError::SubjectNotCommitted { digest: text() },
            VerifyError::ConsistencyCheckpointInvalid(text()),
            VerifyError::ConsistencyFailed(text()),
        ];
        let codes: HashSet<&str> = errors.iter().map(VerifyError::code).collect();
        assert_eq!(codes.len(), errors.len());
        assert!(codes
            .iter()
            .all(|code| code.bytes().all(|byte| byte == b'_' || byte.is_ascii_lowercase())));
    }
}
