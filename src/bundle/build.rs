//! Building an audit bundle from the pieces an export gathered.
//!
//! The exporter (API or CLI) selects entries, fetches their inclusion proofs against one
//! signed checkpoint, the contents it may reveal and the outputs in question; [`build_bundle`]
//! lays them out as the predicate, computes the subject digests and the C2SP tlog-proof of
//! every entry, encodes the statement with JCS, signs the DSSE envelope with the log's key,
//! and finally runs [`verify_bundle`] on the result with that key, so a bundle that would
//! not verify is never handed out. [`build_statement`] and [`sign_statement`] are the two
//! halves without that final check.

use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::format::{
    entries_digest, pae, render_tlog_proof, BundleEntry, BundleOutput, Consistency, Envelope, EnvelopeSignature,
    LogInfo, OutsideSpan, Predicate, RevealedContent, Statement, Subject, BUNDLE_VERSION, ENTRIES_SUBJECT_NAME,
    PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE, SUBJECT_NAME_PREFIX,
};
use super::verify::{verify_bundle, VerifyError};
use crate::ledger::checkpoint::{verify_checkpoint, CheckpointError, LogSigner};
use crate::ledger::{hash_hex, Hash};

/// Everything a bundle holds, as the exporter gathered it.
#[derive(Clone)]
pub struct BundleInput {
    /// The log's origin (also the signed-note key name).
    pub origin: String,
    /// The log's Ed25519 key: signs the envelope; must be the key of the checkpoint.
    pub signing_key: SigningKey,
    /// The signed checkpoint note the inclusion proofs are against.
    pub checkpoint_note: String,
    /// The checkpoint's tree size (checked against the note).
    pub tree_size: u64,
    /// `(index, entry_bytes, inclusion proof against tree_size)`, any order, unique indexes.
    pub entries: Vec<(u64, Vec<u8>, Vec<Hash>)>,
    /// Revealed contents: `(commitment sha256 hex, salt, content text)`.
    pub contents: Vec<(String, Vec<u8>, String)>,
    /// The outputs in question, one subject each, in subject order:
    /// `(output text, index of the entry that committed it, commitment sha256 hex of the
    /// revealed content that contains the text)`.
    pub outputs: Vec<(String, u64, String)>,
    /// Parents left out of the selection on purpose: `(trace_id hex32, span_id hex16)`.
    pub outside_selection: Vec<(String, String)>,
    /// Optional `(newer signed checkpoint note, consistency proof from tree_size to its size)`.
    pub consistency: Option<(String, Vec<Hash>)>,
    /// The export's selector, as received.
    pub query: Value,
    /// RFC 3339 time of the export.
    pub exported_at: String,
    /// Who exported: `{"tenant":T,"key_id":K}`.
    pub principal: Value,
}

impl std::fmt::Debug for BundleInput {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the signing key.
        formatter
            .debug_struct("BundleInput")
            .field("origin", &self.origin)
            .field("tree_size", &self.tree_size)
            .field("entries", &self.entries.len())
            .field("contents", &self.contents.len())
            .field("outputs", &self.outputs.len())
            .finish_non_exhaustive()
    }
}

/// Errors of building a bundle: the input is inconsistent, or the result would not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The checkpoint note is not signed by the signing key under the origin.
    #[error("checkpoint does not verify with the signing key: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint's tree size is not `tree_size`.
    #[error("checkpoint is for tree size {found}, not {expected}")]
    TreeSizeMismatch {
        /// `BundleInput::tree_size`.
        expected: u64,
        /// The note's size.
        found: u64,
    },
    /// An entry index is given twice.
    #[error("entry {0} is given twice")]
    DuplicateEntry(u64),
    /// The statement could not be encoded.
    #[error("cannot encode the statement: {0}")]
    Encoding(String),
    /// The built bundle fails verification (the export selected an incomplete or
    /// inconsistent set); names the first failure.
    #[error("the bundle would not verify: {0}")]
    SelfCheck(#[from] VerifyError),
}

/// Builds, signs and self-verifies a bundle; returns the envelope's JSON bytes.
pub fn build_bundle(input: BundleInput) -> Result<Vec<u8>, BundleError> {
    let verifier_key = LogSigner::new(&input.origin, input.signing_key.clone())?.verifier_key();
    let statement = build_statement(&input)?;
    let bytes = sign_statement(&statement, &input.signing_key, &verifier_key)?;
    verify_bundle(&bytes, Some(&verifier_key))?;
    Ok(bytes)
}

/// The in-toto statement of a bundle, as JSON, without signing or verifying it: checks
/// only that the checkpoint is signed by the signing key for `tree_size` and that no
/// entry index repeats. Entries are sorted by index, contents by digest, outside spans
/// by id; subjects follow `outputs` in order.
pub fn build_statement(input: &BundleInput) -> Result<Value, BundleError> {
    let base64 = base64::engine::general_purpose::STANDARD;
    let verifier_key = LogSigner::new(&input.origin, input.signing_key.clone())?.verifier_key();
    let checkpoint = verify_checkpoint(&input.checkpoint_note, &verifier_key)?;
    if checkpoint.size != input.tree_size {
        return Err(BundleError::TreeSizeMismatch {
            expected: input.tree_size,
            found: checkpoint.size,
        });
    }

    let mut selected: Vec<&(u64, Vec<u8>, Vec<Hash>)> = input.entries.iter().collect();
    selected.sort_by_key(|(index, _, _)| *index);
    let repeated = selected.windows(2).find_map(|pair| match pair {
        [earlier, later] if earlier.0 == later.0 => Some(earlier.0),
        _ => None,
    });
    if let Some(index) = repeated {
        return Err(BundleError::DuplicateEntry(index));
    }
    let leaf_hashes: Vec<Hash> = selected
        .iter()
        .map(|(_, entry_bytes, _)| crate::ledger::entry::leaf_hash(entry_bytes))
        .collect();
    let entries = selected
        .iter()
        .map(|(index, entry_bytes, proof)| BundleEntry {
            index: *index,
            entry_bytes: base64.encode(entry_bytes),
            inclusion_proof: proof.iter().map(hash_hex).collect(),
            tlog_proof: Some(render_tlog_proof(*index, proof, &input.checkpoint_note)),
        })
        .collect();

    let mut contents: Vec<RevealedContent> = input
        .contents
        .iter()
        .map(|(sha256, salt, content)| RevealedContent {
            sha256: sha256.clone(),
            salt: base64.encode(salt),
            content: content.clone(),
        })
        .collect();
    contents.sort_by(|left, right| left.sha256.cmp(&right.sha256));
    contents.dedup();

    let outputs: Vec<BundleOutput> = input
        .outputs
        .iter()
        .map(|(text, entry_index, commitment)| BundleOutput {
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            text: text.clone(),
            entry_index: *entry_index,
            commitment: commitment.clone(),
        })
        .collect();
    let mut subject: Vec<Subject> = outputs
        .iter()
        .enumerate()
        .map(|(position, output)| Subject {
            name: format!("{SUBJECT_NAME_PREFIX}{position}"),
            digest: [("sha256".to_owned(), output.sha256.clone())].into_iter().collect(),
        })
        .collect();
    if subject.is_empty() {
        // in-toto Statement v1 needs a subject: the selection itself.
        subject.push(Subject {
            name: ENTRIES_SUBJECT_NAME.to_owned(),
            digest: [("sha256".to_owned(), entries_digest(&leaf_hashes))]
                .into_iter()
                .collect(),
        });
    }

    let mut outside_selection: Vec<OutsideSpan> = input
        .outside_selection
        .iter()
        .map(|(trace_id, span_id)| OutsideSpan {
            trace_id: trace_id.clone(),
            span_id: span_id.clone(),
        })
        .collect();
    outside_selection.sort();
    outside_selection.dedup();

    let predicate = Predicate {
        version: BUNDLE_VERSION,
        log: LogInfo {
            origin: input.origin.clone(),
            verifier_key,
        },
        checkpoint: input.checkpoint_note.clone(),
        entries,
        contents,
        outputs,
        outside_selection,
        consistency: input.consistency.as_ref().map(|(checkpoint, proof)| Consistency {
            checkpoint: checkpoint.clone(),
            proof: proof.iter().map(hash_hex).collect(),
        }),
        query: input.query.clone(),
        exported_at: input.exported_at.clone(),
        principal: input.principal.clone(),
    };
    let statement = Statement {
        statement_type: STATEMENT_TYPE.to_owned(),
        subject,
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: serde_json::to_value(&predicate).map_err(|error| BundleError::Encoding(error.to_string()))?,
    };
    serde_json::to_value(&statement).map_err(|error| BundleError::Encoding(error.to_string()))
}

/// Encodes `statement` with JCS and wraps it in a DSSE envelope signed by `signing_key`
/// under `keyid`; returns the envelope's JSON bytes (compact, no trailing newline). No
/// checks: [`build_bundle`] is the way to make a bundle; this is its signing step alone
/// (tests use it to re-sign altered statements).
pub fn sign_statement(statement: &Value, signing_key: &SigningKey, keyid: &str) -> Result<Vec<u8>, BundleError> {
    let base64 = base64::engine::general_purpose::STANDARD;
    let payload =
        serde_json_canonicalizer::to_vec(statement).map_err(|error| BundleError::Encoding(error.to_string()))?;
    let signature = signing_key.sign(&pae(PAYLOAD_TYPE, &payload));
    let envelope = Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload: base64.encode(&payload),
        signatures: vec![EnvelopeSignature {
            keyid: keyid.to_owned(),
            sig: base64.encode(signature.to_bytes()),
        }],
    };
    serde_json::to_vec(&envelope).map_err(|error| BundleError::Encoding(error.to_string()))
}
