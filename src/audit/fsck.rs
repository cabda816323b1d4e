//! `traceledger audit`: re-verify a whole store from its rows, trusting nothing.
//!
//! For every tenant log: every entry is canonical JSON with the right `log`, `index`
//! and `prev`; its stored leaf hash matches; no index is missing or extra; every stored
//! interior hash equals the one recomputed from the leaves; every checkpoint is signed
//! by a registered key under the log's origin and its root equals the recomputed root
//! at its size; the log head row (size, last leaf, root) matches; every commitment in an
//! entry has its content row (erased rows keep the commitment with salt and content
//! gone), and every stored content opens its commitment, length included. The first
//! failure is named.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ledger::checkpoint::{verifier_key, verify_checkpoint};
use crate::ledger::commitment::commitment_digest;
use crate::ledger::entry::{leaf_hash, prev_field, Entry};
use crate::ledger::merkle::{leaf_stored_index, MemoryTree};
use crate::ledger::{hash_hex, Hash};
use crate::store::{Store, StoreError, Tenant};

/// Entries read per page.
const PAGE: u64 = 1000;

/// What was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantAudit {
    /// Tenant name.
    pub tenant: String,
    /// Entries verified.
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Contents verified against their commitments.
    pub contents: u64,
    /// Contents already erased (commitment kept).
    pub erased_contents: u64,
}

/// Why an audit failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditFailure {
    /// A specific piece of the log is wrong.
    #[error("tenant {tenant}: {what}")]
    Bad {
        /// Tenant name.
        tenant: String,
        /// What is wrong, naming the entry or checkpoint.
        what: String,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Audits every tenant of `store`.
pub async fn audit_store(store: &dyn Store) -> Result<Vec<TenantAudit>, AuditFailure> {
    let keys = store.signing_keys().await?;
    let mut verifying_keys = Vec::new();
    for key in keys {
        let bytes: [u8; 32] = key
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("registered signing key is not 32 bytes".into()))?;
        let verifying =
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        verifying_keys.push(verifying);
    }
    let mut reports = Vec::new();
    for tenant in store.tenants().await? {
        reports.push(audit_tenant(store, &tenant, &verifying_keys).await?);
    }
    Ok(reports)
}

async fn audit_tenant(
    store: &dyn Store,
    tenant: &Tenant,
    verifying_keys: &[ed25519_dalek::VerifyingKey],
) -> Result<TenantAudit, AuditFailure> {
    let bad = |what: String| AuditFailure::Bad {
        tenant: tenant.name.to_string(),
        what,
    };
    let size = store.tree_size(tenant).await?;
    let mut report = TenantAudit {
        tenant: tenant.name.to_string(),
        ..TenantAudit::default()
    };
    let mut tree = MemoryTree::new();
    let mut previous: Option<Hash> = None;
    let mut start = 0u64;
    while start < size {
        let end = (start + PAGE).min(size);
        let rows = store.entries(tenant, start, end).await?;
        let mut expected = start;
        // Commitments of this page's entries: digest -> (entry index, committed length).
        let mut commitments: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for row in rows {
            if row.index != expected {
                return Err(bad(format!("entry {expected} is missing")));
            }
            let entry = Entry::from_canonical_bytes(&row.entry_bytes)
                .map_err(|error| bad(format!("entry {expected}: {error}")))?;
            if entry.index != expected {
                return Err(bad(format!("entry {expected}: its index field says {}", entry.index)));
            }
            if entry.log != tenant.origin {
                return Err(bad(format!("entry {expected}: its log field says {:?}", entry.log)));
            }
            if entry.prev != prev_field(previous.as_ref()) {
                return Err(bad(format!(
                    "entry {expected}: prev does not match the leaf hash of entry {}",
                    expected.wrapping_sub(1)
                )));
            }
            let leaf = leaf_hash(&row.entry_bytes);
            if row.leaf_hash != leaf.0 {
                return Err(bad(format!(
                    "entry {expected}: stored leaf hash does not match its bytes"
                )));
            }
            tree.append(leaf)
                .map_err(|error| bad(format!("entry {expected}: {error}")))?;
            previous = Some(leaf);
            collect_commitments(&entry.body, expected, &mut commitments);
            expected += 1;
        }
        if expected != end {
            return Err(bad(format!("entry {expected} is missing")));
        }
        // Compare the stored interior hashes written by this page's entries.
        let first = leaf_stored_index(start);
        let last = leaf_stored_index(end);
        let indexes: Vec<u64> = (first..last).collect();
        let stored = store.stored_hashes(tenant, &indexes).await?;
        for index in indexes {
            let recomputed = tree.hashes().get(&index).copied();
            if stored.get(&index).copied() != recomputed {
                return Err(bad(format!(
                    "stored tree hash {index} (entries {start}..{end}) does not match the entries"
                )));
            }
        }
        for content in store.contents(tenant, start, end).await? {
            let Some((entry_index, committed_len)) = commitments.remove(&content.commitment) else {
                return Err(bad(format!(
                    "entry {}: content {} is not committed in the entry",
                    content.entry_index, content.commitment
                )));
            };
            if entry_index != content.entry_index {
                return Err(bad(format!(
                    "entry {}: content {} belongs to entry {entry_index}",
                    content.entry_index, content.commitment
                )));
            }
            let (Some(salt), Some(text)) = (&content.salt, &content.content) else {
                report.erased_contents += 1;
                continue;
            };
            if commitment_digest(salt, text) != content.commitment || committed_len != text.len() as u64 {
                return Err(bad(format!(
                    "entry {}: content {} does not open its commitment",
                    content.entry_index, content.commitment
                )));
            }
            report.contents += 1;
        }
        if let Some((digest, (entry_index, _))) = commitments.into_iter().next() {
            return Err(bad(format!(
                "entry {entry_index}: the content row of commitment {digest} is missing"
            )));
        }
        report.entries = end;
        start = end;
    }
    let extra = store.entries(tenant, size, size.saturating_add(1)).await?;
    if let Some(row) = extra.first() {
        return Err(bad(format!(
            "entry {} lies beyond the log head (size {size})",
            row.index
        )));
    }

    let head = store.log_head(tenant).await?;
    let expected_leaf = previous.map(|leaf| leaf.0.to_vec());
    let expected_root = tree.root_at(size).map_err(|error| bad(error.to_string()))?;
    if head.last_leaf != expected_leaf || head.root != expected_root.0 {
        return Err(bad(format!(
            "the log head row (size {size}) does not match the entries"
        )));
    }

    let verifier_keys: Vec<String> = verifying_keys
        .iter()
        .map(|key| verifier_key(&tenant.origin, key))
        .collect();
    let checkpoints = store.checkpoints(tenant).await?;
    for checkpoint in &checkpoints {
        let verified = verifier_keys
            .iter()
            .find_map(|key| verify_checkpoint(&checkpoint.note, key).ok())
            .ok_or_else(|| {
                bad(format!(
                    "checkpoint at size {}: signature does not verify with any registered key",
                    checkpoint.size
                ))
            })?;
        if verified.size != checkpoint.size {
            return Err(bad(format!(
                "checkpoint at size {}: its note says size {}",
                checkpoint.size, verified.size
            )));
        }
        if verified.size > size {
            return Err(bad(format!(
                "checkpoint at size {}: beyond the log size {size}",
                checkpoint.size
            )));
        }
        let root = tree.root_at(verified.size).map_err(|error| bad(error.to_string()))?;
        if verified.root != root || checkpoint.root != root.0 {
            return Err(bad(format!(
                "checkpoint at size {}: root {} does not match the entries (recomputed {})",
                checkpoint.size,
                hash_hex(&verified.root),
                hash_hex(&root)
            )));
        }
        report.checkpoints += 1;
    }
    if size > 0 && checkpoints.last().map(|checkpoint| checkpoint.size) != Some(size) {
        return Err(bad(format!("no checkpoint covers the log head (size {size})")));
    }
    Ok(report)
}

/// Collects every `{"sha256": HEX, "len": N}` commitment object in an entry body.
fn collect_commitments(value: &Value, entry_index: u64, out: &mut BTreeMap<String, (u64, u64)>) {
    match value {
        Value::Object(object) => {
            if object.len() == 2 {
                if let (Some(Value::String(digest)), Some(len)) = (object.get("sha256"), object.get("len")) {
                    if let Some(len) = len.as_u64() {
                        out.insert(digest.clone(), (entry_index, len));
                        return;
                    }
                }
            }
            for child in object.values() {
                collect_commitments(child, entry_index, out);
            }
        }
        Value::Array(items) => {
            for child in items {
                collect_commitments(child, entry_index, out);
            }
        }
        _ => {}
    }
}
