//! Steps 6 and 7: every entry (sorted and unique, canonical, the index it claims, this
//! log, below the checkpoint size, its inclusion proof and tlog-proof text), then the
//! `prev` links between entries with consecutive indexes.

use base64::Engine;

use super::error::VerifyError;
use super::fields::{field_error, parse_hashes};
use crate::bundle::format::{render_tlog_proof, Predicate};
use crate::ledger::checkpoint::VerifiedCheckpoint;
use crate::ledger::entry::{leaf_hash, Entry, EntryError};
use crate::ledger::merkle::verify_inclusion;
use crate::ledger::{Hash, ZERO_HASH};

/// No valid inclusion proof is longer: a tree has at most 2^64 leaves.
const MAX_INCLUSION_PROOF_LEN: usize = 64;

/// An entry that passed step 6.
pub(super) struct CheckedEntry {
    /// The entry's ledger index.
    pub index: u64,
    /// The decoded entry.
    pub entry: Entry,
    /// Its leaf hash, proven included in the checkpoint.
    pub leaf: Hash,
}

/// Step 6: decodes and proves every entry of the predicate against `checkpoint`.
pub(super) fn check_entries(
    predicate: &Predicate,
    checkpoint: &VerifiedCheckpoint,
) -> Result<Vec<CheckedEntry>, VerifyError> {
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

/// Step 7: entry 0's `prev` is zeros, and each entry's `prev` is the leaf hash of the entry
/// just before it when both are in the bundle.
pub(super) fn check_chain(entries: &[CheckedEntry]) -> Result<(), VerifyError> {
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
