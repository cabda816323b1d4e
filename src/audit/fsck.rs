//! `traceledger audit`: re-verify a whole store from its rows, trusting nothing.
//!
//! For every tenant log: every entry is canonical JSON with the right `log`, `index`
//! and `prev`; its stored leaf hash matches; no index is missing or extra; every stored
//! interior hash equals the one recomputed from the leaves; every checkpoint is signed
//! by a trusted key under the log's origin and its root equals the recomputed root at
//! its size; the log head row (size, last leaf, root) matches; every commitment in an
//! entry has its content row, and every stored content opens its commitment, length
//! included. A content row whose salt and content are gone counts as erased only if a
//! later `erasure` entry of the log names its commitment (`body.commitments`, see
//! docs/formats.md); blanked by hand, it is a failure.
//!
//! **Index tables are re-derived.** The rows the API serves from (`spans`,
//! `span_attributes`, `governance`, `output_index`) are rebuilt from the entries with the
//! same code ingest used ([`crate::provenance::span_row`],
//! [`crate::provenance::governance::governance_row`], [`crate::provenance::outputs`] over the stored
//! content with the tenant's lookup secret) and compared: a missing row, an extra row or
//! a changed column is a failure naming the entry and the table. Outputs whose content
//! is erased cannot be re-derived; those entries are counted, not judged.
//!
//! **Trusted keys come from outside the store.** The caller passes the verifier keys it
//! trusts (the CLI: the key file's public half or `--key`); the keys the store lists in
//! `signing_keys` are never trusted for being there. A checkpoint signed by any other
//! key fails, and so does a key registered as active that is not trusted: a new signing
//! key is legitimate only with a key-rotation entry signed by the old one, which
//! traceledger does not write yet.
//!
//! The audit does not stop at the first failure: it goes through every check of every
//! tenant and reports each failure (the first [`MAX_FAILURES_SHOWN`] of a tenant in
//! full, the rest counted), so one bad entry cannot hide later tampering. Where an entry
//! is bad, the checks that follow rely on what the rest of the log committed to (the
//! stored leaf hash of a changed entry, the stored tree hash of a missing one), so that a
//! failure is named once, at the entry where it is, instead of at every entry after it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::ledger::commitment::commitment_digest;
use crate::ledger::entry::{leaf_hash, prev_field, Entry};
use crate::ledger::merkle::{leaf_stored_index, MemoryTree};
use crate::ledger::{hash_from_slice, Hash};
use crate::store::{GovernanceRow, Store, StoreError, Tenant};

mod checkpoints;
mod index_tables;

use checkpoints::check_checkpoints;
use index_tables::{check_index_rows, PageIndexes};

/// Entries read per page.
const PAGE: u64 = 1000;

/// Failures of one tenant named one by one; the rest are counted.
pub const MAX_FAILURES_SHOWN: usize = 100;

/// What was checked in one tenant log, and what failed.
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
    /// Index rows (`spans`, `span_attributes`, `governance`, `output_index`) verified
    /// against their entries.
    pub index_rows: u64,
    /// Entries whose outputs could not be re-derived (content erased), so whose
    /// `output_index` rows were not checked.
    pub outputs_not_rederived: u64,
    /// The first failures, in the order found (at most [`MAX_FAILURES_SHOWN`]); each
    /// names the entry, checkpoint or row it is about.
    pub failures: Vec<String>,
    /// Number of failures, shown or not.
    pub failure_count: u64,
}

impl TenantAudit {
    fn fail(&mut self, what: String) {
        self.failure_count += 1;
        if self.failures.len() < MAX_FAILURES_SHOWN {
            self.failures.push(what);
        }
    }

    /// Failures beyond the ones shown.
    pub fn failures_not_shown(&self) -> u64 {
        self.failure_count.saturating_sub(self.failures.len() as u64)
    }
}

/// The audit of a whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreAudit {
    /// Failures that concern the whole store (its signing keys).
    pub failures: Vec<String>,
    /// One audit per tenant log, by tenant id.
    pub tenants: Vec<TenantAudit>,
}

impl StoreAudit {
    /// Whether nothing failed.
    pub fn passed(&self) -> bool {
        self.failure_count() == 0
    }

    /// Number of failures in all.
    pub fn failure_count(&self) -> u64 {
        self.failures.len() as u64 + self.tenants.iter().map(|tenant| tenant.failure_count).sum::<u64>()
    }
}

impl std::fmt::Display for StoreAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} audit failures", self.failure_count())?;
        for failure in &self.failures {
            write!(f, "; {failure}")?;
        }
        for tenant in &self.tenants {
            for failure in &tenant.failures {
                write!(f, "; tenant {}: {failure}", tenant.tenant)?;
            }
            if tenant.failures_not_shown() > 0 {
                write!(
                    f,
                    "; tenant {}: and {} more",
                    tenant.tenant,
                    tenant.failures_not_shown()
                )?;
            }
        }
        Ok(())
    }
}

/// Why an audit failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditFailure {
    /// Something in the store is wrong; the audit names every failure.
    #[error("{0}")]
    Failed(StoreAudit),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Audits every tenant of `store` against the `trusted` signing keys;
/// `Err(AuditFailure::Failed)` carries the whole audit when anything failed.
pub async fn audit_store(
    store: &dyn Store,
    trusted: &[ed25519_dalek::VerifyingKey],
) -> Result<Vec<TenantAudit>, AuditFailure> {
    let audit = audit_store_report(store, trusted).await?;
    if audit.passed() {
        Ok(audit.tenants)
    } else {
        Err(AuditFailure::Failed(audit))
    }
}

/// The keys checkpoints are checked with: the trusted ones, and the ones the store lists
/// (only to name the key of a checkpoint that fails, never to pass it).
struct Keys {
    trusted: Vec<ed25519_dalek::VerifyingKey>,
    untrusted: Vec<ed25519_dalek::VerifyingKey>,
}

fn public_key_text(key: &ed25519_dalek::VerifyingKey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
}

/// Audits every tenant of `store` against the `trusted` signing keys and reports every
/// failure. Only a store that cannot be listed at all is an `Err`; a tenant whose rows
/// cannot be read gets a failure and the audit goes on with the next tenant.
pub async fn audit_store_report(
    store: &dyn Store,
    trusted: &[ed25519_dalek::VerifyingKey],
) -> Result<StoreAudit, StoreError> {
    let mut audit = StoreAudit::default();
    if trusted.is_empty() {
        audit
            .failures
            .push("no trusted signing key: checkpoints cannot be verified".into());
    }
    let mut keys = Keys {
        trusted: trusted.to_vec(),
        untrusted: Vec::new(),
    };
    for key in store.signing_keys().await? {
        let parsed = <[u8; 32]>::try_from(key.public_key.as_slice())
            .ok()
            .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok());
        let Some(verifying) = parsed else {
            audit.failures.push(format!(
                "signing_keys: a registered key is not an Ed25519 public key ({} bytes)",
                key.public_key.len()
            ));
            continue;
        };
        if trusted.contains(&verifying) {
            continue;
        }
        if key.active {
            audit.failures.push(format!(
                "signing_keys: key {} (registered {}) is registered as active but not trusted; a new signing key \
                 needs a key-rotation entry signed by the old one, which traceledger does not write yet. If it is \
                 yours, pass it with --key or --signing-key-file",
                public_key_text(&verifying),
                key.created_at
            ));
        }
        keys.untrusted.push(verifying);
    }
    for tenant in store.tenants().await? {
        let mut report = TenantAudit {
            tenant: tenant.name.to_string(),
            ..TenantAudit::default()
        };
        if let Err(error) = audit_tenant(store, &tenant, &keys, &mut report).await {
            report.fail(format!("store unreadable, audit of this log stopped: {error}"));
        }
        audit.tenants.push(report);
    }
    Ok(audit)
}

async fn audit_tenant(
    store: &dyn Store,
    tenant: &Tenant,
    keys: &Keys,
    report: &mut TenantAudit,
) -> Result<(), StoreError> {
    let size = store.tree_size(tenant).await?;
    let mut tree = MemoryTree::new();
    // Set when a leaf could not be recovered: tree, head and checkpoint checks stop.
    let mut tree_broken = false;
    let mut previous: Option<Hash> = None;
    // Commitments named by erasure entries -> the latest such entry.
    let mut erasure_named: HashMap<String, u64> = HashMap::new();
    // Erased content rows, judged once every erasure entry is known: (entry, commitment).
    let mut erased: Vec<(u64, String)> = Vec::new();
    // Governance and output rows have no index by entry: read once, matched page by page.
    let mut governance_rows: BTreeMap<i64, Vec<GovernanceRow>> = BTreeMap::new();
    for (entry_index, row) in store.governance_rows(tenant).await? {
        governance_rows.entry(entry_index).or_default().push(row);
    }
    let mut output_rows: BTreeMap<i64, BTreeSet<Vec<u8>>> = BTreeMap::new();
    for (entry_index, digest) in store.output_index_rows(tenant).await? {
        output_rows.entry(entry_index).or_default().insert(digest);
    }
    let mut start = 0u64;
    while start < size {
        let end = (start + PAGE).min(size);
        let mut rows: BTreeMap<u64, crate::store::StoredEntry> = store
            .entries(tenant, start, end)
            .await?
            .into_iter()
            .map(|row| (row.index, row))
            .collect();
        // The leaf hashes the tree stored for missing entries, to go on with.
        let missing: Vec<u64> = (start..end)
            .filter(|index| !rows.contains_key(index))
            .map(leaf_stored_index)
            .collect();
        let missing_leaves = if missing.is_empty() {
            HashMap::new()
        } else {
            store.stored_hashes(tenant, &missing).await?
        };
        // Commitments of this page's entries: digest -> (entry index, committed length).
        let mut commitments: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        // Entries whose bytes cannot be trusted (already named): their rows are not judged.
        let mut bad_entries: BTreeSet<u64> = BTreeSet::new();
        // The entries whose index rows are re-derived.
        let mut good_entries: Vec<(u64, Entry)> = Vec::new();
        for expected in start..end {
            let Some(row) = rows.remove(&expected) else {
                report.fail(format!("entry {expected} is missing"));
                bad_entries.insert(expected);
                match missing_leaves.get(&leaf_stored_index(expected)) {
                    Some(leaf) if !tree_broken => {
                        if tree.append(*leaf).is_err() {
                            tree_broken = true;
                        }
                        previous = Some(*leaf);
                    }
                    _ => {
                        if !tree_broken {
                            report.fail(format!(
                                "entry {expected}: its leaf hash is not stored either; tree, head and checkpoints \
                                 of this log are not checked"
                            ));
                        }
                        tree_broken = true;
                        previous = None;
                    }
                }
                continue;
            };
            let leaf = leaf_hash(&row.entry_bytes);
            let mut chain_leaf = leaf;
            if row.leaf_hash != leaf.0 {
                report.fail(format!("entry {expected}: stored leaf hash does not match its bytes"));
                bad_entries.insert(expected);
                // The entries after it and the tree committed to the stored leaf hash.
                if let Some(stored) = hash_from_slice(&row.leaf_hash) {
                    chain_leaf = stored;
                }
            }
            match Entry::from_canonical_bytes(&row.entry_bytes) {
                Err(error) => {
                    report.fail(format!("entry {expected}: {error}"));
                    bad_entries.insert(expected);
                }
                Ok(entry) => {
                    if entry.index != expected {
                        report.fail(format!("entry {expected}: its index field says {}", entry.index));
                    }
                    if entry.log != tenant.origin {
                        report.fail(format!("entry {expected}: its log field says {:?}", entry.log));
                    }
                    if !tree_broken && entry.prev != prev_field(previous.as_ref()) {
                        report.fail(format!(
                            "entry {expected}: prev does not match the leaf hash of entry {}",
                            expected.wrapping_sub(1)
                        ));
                    }
                    if !bad_entries.contains(&expected) {
                        collect_commitments(&entry.body, expected, &mut commitments);
                        if entry.entry_type == ERASURE {
                            for digest in erased_commitments(&entry.body) {
                                erasure_named.insert(digest.to_owned(), expected);
                            }
                        }
                        good_entries.push((expected, entry));
                    }
                }
            }
            if !tree_broken && tree.append(chain_leaf).is_err() {
                tree_broken = true;
            }
            previous = Some(chain_leaf);
        }
        if !tree_broken {
            // Compare the stored interior hashes written by this page's entries.
            let first = leaf_stored_index(start);
            let last = leaf_stored_index(end);
            let indexes: Vec<u64> = (first..last).collect();
            let stored = store.stored_hashes(tenant, &indexes).await?;
            let wrong: Vec<u64> = indexes
                .into_iter()
                .filter(|index| stored.get(index).copied() != tree.hashes().get(index).copied())
                .collect();
            if let Some(first_wrong) = wrong.first() {
                let more = match wrong.len() {
                    1 => String::new(),
                    count => format!(" and {} more", count - 1),
                };
                report.fail(format!(
                    "stored tree hash {first_wrong}{more} (entries {start}..{end}) does not match the entries"
                ));
            }
        }
        // Texts that opened their commitments: the outputs are re-derived from them.
        let mut opened: HashMap<String, String> = HashMap::new();
        for content in store.contents(tenant, start, end).await? {
            if bad_entries.contains(&content.entry_index) {
                continue;
            }
            let Some((entry_index, committed_len)) = commitments.remove(&content.commitment) else {
                report.fail(format!(
                    "entry {}: content {} is not committed in the entry",
                    content.entry_index, content.commitment
                ));
                continue;
            };
            if entry_index != content.entry_index {
                report.fail(format!(
                    "entry {}: content {} belongs to entry {entry_index}",
                    content.entry_index, content.commitment
                ));
                continue;
            }
            let (salt, text) = match (&content.salt, &content.content) {
                (Some(salt), Some(text)) => (salt, text),
                (None, None) => {
                    erased.push((content.entry_index, content.commitment));
                    continue;
                }
                _ => {
                    report.fail(format!(
                        "entry {}: content {} has lost its salt or its text but not both",
                        content.entry_index, content.commitment
                    ));
                    continue;
                }
            };
            if commitment_digest(salt, text) != content.commitment || committed_len != text.len() as u64 {
                report.fail(format!(
                    "entry {}: content {} does not open its commitment",
                    content.entry_index, content.commitment
                ));
                continue;
            }
            report.contents += 1;
            opened.insert(content.commitment, text.clone());
        }
        for (digest, (entry_index, _)) in commitments {
            report.fail(format!(
                "entry {entry_index}: the content row of commitment {digest} is missing"
            ));
        }
        let span_rows = store.span_index_rows(tenant, start, end).await?;
        let mut indexes = PageIndexes::new(span_rows, &mut governance_rows, &mut output_rows, start, end);
        for bad in &bad_entries {
            indexes.forget(*bad);
        }
        for (entry_index, entry) in &good_entries {
            check_index_rows(tenant, *entry_index, entry, &opened, &mut indexes, report);
        }
        indexes.report_leftovers(report);
        report.entries = end;
        start = end;
    }
    for (entry_index, rows) in governance_rows {
        for row in rows {
            report.fail(format!(
                "entry {entry_index}: governance row {} {} names an entry outside the log (size {size})",
                row.kind, row.id
            ));
        }
    }
    for (entry_index, digests) in output_rows {
        report.fail(format!(
            "entry {entry_index}: output_index: {} row(s) name an entry outside the log (size {size})",
            digests.len()
        ));
    }
    for (table, count) in store.rows_outside_log(tenant, size).await? {
        report.fail(format!(
            "{table}: {count} row(s) name entries outside the log (0..{size})"
        ));
    }
    for (entry_index, commitment) in erased {
        match erasure_named.get(&commitment) {
            Some(erasure) if *erasure > entry_index => report.erased_contents += 1,
            _ => report.fail(format!(
                "entry {entry_index}: content {commitment} is erased (salt and text gone) but no later erasure \
                 entry names it"
            )),
        }
    }
    let extra = store.entries(tenant, size, size.saturating_add(1)).await?;
    if let Some(row) = extra.first() {
        report.fail(format!("entry {} lies beyond the log head (size {size})", row.index));
    }
    if tree_broken {
        return Ok(());
    }

    let head = store.log_head(tenant).await?;
    let expected_leaf = previous.map(|leaf| leaf.0.to_vec());
    match tree.root_at(size) {
        Ok(expected_root) => {
            if head.last_leaf != expected_leaf || head.root != expected_root.0 {
                report.fail(format!("the log head row (size {size}) does not match the entries"));
            }
        }
        Err(error) => report.fail(format!("the log head row (size {size}): {error}")),
    }

    let checkpoints = store.checkpoints(tenant).await?;
    check_checkpoints(tenant, keys, &tree, size, &checkpoints, report);
    Ok(())
}

/// Entry type of erasures.
const ERASURE: &str = "erasure";

/// The commitments an erasure entry body names as erased: `body.commitments`, an array
/// of hex SHA-256 commitment digests (docs/formats.md §3c).
fn erased_commitments(body: &Value) -> impl Iterator<Item = &str> {
    body["commitments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
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
