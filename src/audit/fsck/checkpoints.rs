//! The checkpoints of one log: each is signed by a trusted key under the log's origin,
//! says the size it is stored at, lies within the log, and its root equals the root
//! recomputed from the entries at its size; the newest covers the log head.

use crate::ledger::checkpoint::{verifier_key, verify_checkpoint};
use crate::ledger::hash_hex;
use crate::ledger::merkle::MemoryTree;
use crate::store::{StoredCheckpoint, Tenant};

use super::{public_key_text, Keys, TenantAudit};

/// Checks `checkpoints` (all of the log's, by size) against the trusted `keys` and the
/// `tree` recomputed from the log's `size` entries.
pub(super) fn check_checkpoints(
    tenant: &Tenant,
    keys: &Keys,
    tree: &MemoryTree,
    size: u64,
    checkpoints: &[StoredCheckpoint],
    report: &mut TenantAudit,
) {
    let trusted_verifiers: Vec<String> = keys
        .trusted
        .iter()
        .map(|key| verifier_key(&tenant.origin, key))
        .collect();
    for checkpoint in checkpoints {
        let Some(verified) = trusted_verifiers
            .iter()
            .find_map(|key| verify_checkpoint(&checkpoint.note, key).ok())
        else {
            let signer = keys
                .untrusted
                .iter()
                .find(|key| verify_checkpoint(&checkpoint.note, &verifier_key(&tenant.origin, key)).is_ok());
            report.fail(match signer {
                Some(key) => format!(
                    "checkpoint at size {}: signed by a key that is not trusted ({}, listed in the store)",
                    checkpoint.size,
                    public_key_text(key)
                ),
                None => format!(
                    "checkpoint at size {}: signature does not verify with any trusted key",
                    checkpoint.size
                ),
            });
            continue;
        };
        if verified.size != checkpoint.size {
            report.fail(format!(
                "checkpoint at size {}: its note says size {}",
                checkpoint.size, verified.size
            ));
            continue;
        }
        if verified.size > size {
            report.fail(format!(
                "checkpoint at size {}: beyond the log size {size}",
                checkpoint.size
            ));
            continue;
        }
        let root = match tree.root_at(verified.size) {
            Ok(root) => root,
            Err(error) => {
                report.fail(format!("checkpoint at size {}: {error}", checkpoint.size));
                continue;
            }
        };
        if verified.root != root || checkpoint.root != root.0 {
            report.fail(format!(
                "checkpoint at size {}: root {} does not match the entries (recomputed {})",
                checkpoint.size,
                hash_hex(&verified.root),
                hash_hex(&root)
            ));
            continue;
        }
        report.checkpoints += 1;
    }
    if size > 0 && checkpoints.last().map(|checkpoint| checkpoint.size) != Some(size) {
        report.fail(format!("no checkpoint covers the log head (size {size})"));
    }
}
