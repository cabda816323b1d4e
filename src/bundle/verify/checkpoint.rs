//! Step 5, the bundle's checkpoint (signed by the key, for the predicate's origin), and
//! step 11, the optional consistency proof to a newer checkpoint signed by the same key.

use super::error::VerifyError;
use super::fields::parse_hashes;
use crate::bundle::format::{Consistency, Predicate};
use crate::ledger::checkpoint::{verify_checkpoint, CheckpointError, VerifiedCheckpoint};
use crate::ledger::merkle::verify_consistency;

/// No valid consistency proof is longer (RFC 9162 §2.1.4: at most one hash per level, plus one).
const MAX_CONSISTENCY_PROOF_LEN: usize = 65;

/// Step 5: the predicate's checkpoint, signed by `key_text` and naming `predicate.log.origin`.
pub(super) fn check_checkpoint(predicate: &Predicate, key_text: &str) -> Result<VerifiedCheckpoint, VerifyError> {
    let origin = predicate.log.origin.as_str();
    let checkpoint = verify_checkpoint(&predicate.checkpoint, key_text).map_err(checkpoint_error)?;
    if checkpoint.origin != origin {
        return Err(VerifyError::OriginMismatch {
            expected: origin.to_owned(),
            found: checkpoint.origin,
        });
    }
    Ok(checkpoint)
}

/// Step 11: that `checkpoint` is a prefix of the newer checkpoint of `consistency`, signed
/// by `key_text` for `origin`; returns the newer tree size.
pub(super) fn check_consistency(
    consistency: &Consistency,
    checkpoint: &VerifiedCheckpoint,
    origin: &str,
    key_text: &str,
) -> Result<u64, VerifyError> {
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
    Ok(newer.size)
}

fn checkpoint_error(error: CheckpointError) -> VerifyError {
    match error {
        CheckpointError::Malformed(reason) => VerifyError::CheckpointMalformed(reason),
        CheckpointError::BadVerifierKey(reason) => VerifyError::BadVerifierKey(reason),
        CheckpointError::BadSignature(reason) => VerifyError::BadCheckpointSignature(reason),
        CheckpointError::WrongOrigin { expected, found } => VerifyError::OriginMismatch { expected, found },
    }
}
