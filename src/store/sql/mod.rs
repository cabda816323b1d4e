//! The SQL shared by both backends.
//!
//! `implement_store!` expands one body for SQLite and one for PostgreSQL: the SQL text
//! is the same (both accept `$N` placeholders, `ON CONFLICT`, and map BLOB/BYTEA to
//! `Vec<u8>`); only connection set-up and how the log head is locked differ, and those
//! live in `sqlite.rs` / `postgres.rs` as `begin_append`.
//!
//! The SQL is kept by concern, one file each; each file's macro expands to a module of
//! functions inside the backend's module (`sqlite::log_append`, `postgres::reads`, ...),
//! and the `Store` impl below hands every method to its module:
//!
//! | file | module | what |
//! |---|---|---|
//! | `tenants.rs` | `tenants` | tenants, API keys, signing keys |
//! | `log_append.rs` | `log_append` | `append_batch`: dedupe, seal, write entries and index rows, publish |
//! | `reads.rs` | `reads` | entries, tree hashes, checkpoints, log head, contents, output index (reads and proofs) |
//! | `governance.rs` | `governance` | governance records by kind |
//! | `spans.rs` | `spans` | the span search |
//! | `index_rows.rs` | `index_rows` | index tables as stored, for the audit's re-derivation |

use std::collections::HashMap;

use crate::ledger::batch::LogHead;
use crate::ledger::{hash_from_slice, Hash};

use super::StoreError;

pub(super) mod governance;
pub(super) mod index_rows;
pub(super) mod log_append;
pub(super) mod reads;
pub(super) mod spans;
pub(super) mod tenants;

/// Rows per multi-row INSERT (keeps SQLite under its bound-parameter limit).
pub(super) const INSERT_CHUNK: usize = 500;

/// Converts a stored i64 to u64, refusing negatives.
pub(super) fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}: {value}")))
}

/// Converts a u64 to the i64 both databases store.
pub(super) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("value {value} exceeds i64")))
}

/// Parses a stored 32-byte hash.
pub(super) fn stored_hash(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    hash_from_slice(bytes).ok_or_else(|| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

/// The log head from its row, refusing a size and last leaf that disagree.
pub(super) fn head_from_row(size: i64, last_leaf: Option<Vec<u8>>) -> Result<LogHead, StoreError> {
    let size = to_u64(size, "log size")?;
    let last_leaf = match last_leaf {
        Some(bytes) => Some(stored_hash(&bytes, "log head leaf")?),
        None => None,
    };
    if (size == 0) != last_leaf.is_none() {
        return Err(StoreError::Corrupt("log head size and last leaf disagree".into()));
    }
    Ok(LogHead { size, last_leaf })
}

pub(super) use crate::ledger::batch::prior_hashes_needed as prior_needed;
pub(super) use crate::ledger::batch::seal_batch as seal;

/// Builds `HashMap` of prior hashes, insisting every needed one is present.
pub(super) fn require_all(needed: &[u64], found: HashMap<u64, Hash>) -> Result<HashMap<u64, Hash>, StoreError> {
    if let Some(missing) = needed.iter().find(|index| !found.contains_key(index)) {
        return Err(StoreError::Corrupt(format!("stored hash {missing} is missing")));
    }
    Ok(found)
}

/// Implements [`crate::store::Store`] for the backend `$store` on database `$db`: one
/// module of SQL per concern, and the trait methods handed to them.
macro_rules! implement_store {
    ($store:ident, $db:ident, $backend:literal) => {
        $crate::store::sql::tenants::tenant_sql!($store);
        $crate::store::sql::log_append::log_append_sql!($store, $db);
        $crate::store::sql::reads::read_sql!($store, $db);
        $crate::store::sql::governance::governance_sql!($store);
        $crate::store::sql::spans::span_sql!($store, $db);
        $crate::store::sql::index_rows::index_row_sql!($store);

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ensure_tenant(
                &self,
                name: &$crate::domain::TenantName,
                origin: &str,
            ) -> Result<$crate::store::Tenant, $crate::store::StoreError> {
                tenants::ensure_tenant(self, name, origin).await
            }

            async fn tenant_by_name(
                &self,
                name: &$crate::domain::TenantName,
            ) -> Result<Option<$crate::store::Tenant>, $crate::store::StoreError> {
                tenants::tenant_by_name(self, name).await
            }

            async fn tenants(&self) -> Result<Vec<$crate::store::Tenant>, $crate::store::StoreError> {
                tenants::tenants(self).await
            }

            async fn directory_stamp(&self) -> Result<[i64; 3], $crate::store::StoreError> {
                tenants::directory_stamp(self).await
            }

            async fn insert_api_key(
                &self,
                tenant: &$crate::store::Tenant,
                id: &str,
                key_hash: &[u8],
                scopes: &[$crate::domain::Scope],
            ) -> Result<(), $crate::store::StoreError> {
                tenants::insert_api_key(self, tenant, id, key_hash, scopes).await
            }

            async fn api_key_by_hash(
                &self,
                key_hash: &[u8],
            ) -> Result<Option<$crate::store::ApiKeyRecord>, $crate::store::StoreError> {
                tenants::api_key_by_hash(self, key_hash).await
            }

            async fn register_signing_key(&self, public_key: &[u8]) -> Result<(), $crate::store::StoreError> {
                tenants::register_signing_key(self, public_key).await
            }

            async fn signing_keys(&self) -> Result<Vec<$crate::store::SigningKeyRecord>, $crate::store::StoreError> {
                tenants::signing_keys(self).await
            }

            async fn has_checkpoints(&self) -> Result<bool, $crate::store::StoreError> {
                tenants::has_checkpoints(self).await
            }

            async fn append_batch(
                &self,
                tenant: &$crate::store::Tenant,
                items: &[$crate::store::AppendItem],
                signer: &$crate::ledger::checkpoint::LogSigner,
            ) -> Result<$crate::store::AppendReceipt, $crate::store::StoreError> {
                log_append::append_batch(self, tenant, items, signer).await
            }

            async fn latest_checkpoint(
                &self,
                tenant: &$crate::store::Tenant,
            ) -> Result<Option<$crate::store::StoredCheckpoint>, $crate::store::StoreError> {
                reads::latest_checkpoint(self, tenant).await
            }

            async fn checkpoints(
                &self,
                tenant: &$crate::store::Tenant,
            ) -> Result<Vec<$crate::store::StoredCheckpoint>, $crate::store::StoreError> {
                reads::checkpoints(self, tenant).await
            }

            async fn tree_size(&self, tenant: &$crate::store::Tenant) -> Result<u64, $crate::store::StoreError> {
                reads::tree_size(self, tenant).await
            }

            async fn log_head(
                &self,
                tenant: &$crate::store::Tenant,
            ) -> Result<$crate::store::StoredHead, $crate::store::StoreError> {
                reads::log_head(self, tenant).await
            }

            async fn entries(
                &self,
                tenant: &$crate::store::Tenant,
                start: u64,
                end: u64,
            ) -> Result<Vec<$crate::store::StoredEntry>, $crate::store::StoreError> {
                reads::entries(self, tenant, start, end).await
            }

            async fn stored_hashes(
                &self,
                tenant: &$crate::store::Tenant,
                indexes: &[u64],
            ) -> Result<std::collections::HashMap<u64, $crate::ledger::Hash>, $crate::store::StoreError> {
                reads::stored_hashes(self, tenant, indexes).await
            }

            async fn contents(
                &self,
                tenant: &$crate::store::Tenant,
                start: u64,
                end: u64,
            ) -> Result<Vec<$crate::store::StoredContent>, $crate::store::StoreError> {
                reads::contents(self, tenant, start, end).await
            }

            async fn contents_of(
                &self,
                tenant: &$crate::store::Tenant,
                indexes: &[u64],
            ) -> Result<Vec<$crate::store::StoredContent>, $crate::store::StoreError> {
                reads::contents_of(self, tenant, indexes).await
            }

            async fn entries_at(
                &self,
                tenant: &$crate::store::Tenant,
                indexes: &[u64],
            ) -> Result<Vec<$crate::store::StoredEntry>, $crate::store::StoreError> {
                reads::entries_at(self, tenant, indexes).await
            }

            async fn trace_entries(
                &self,
                tenant: &$crate::store::Tenant,
                trace_id: &str,
            ) -> Result<Vec<$crate::store::StoredEntry>, $crate::store::StoreError> {
                reads::trace_entries(self, tenant, trace_id).await
            }

            async fn output_entries(
                &self,
                tenant: &$crate::store::Tenant,
                digest: &[u8],
            ) -> Result<Vec<u64>, $crate::store::StoreError> {
                reads::output_entries(self, tenant, digest).await
            }

            async fn governance(
                &self,
                tenant: &$crate::store::Tenant,
                kind: &str,
            ) -> Result<Vec<$crate::store::GovernanceRecord>, $crate::store::StoreError> {
                governance::governance(self, tenant, kind).await
            }

            async fn search_spans(
                &self,
                tenant: &$crate::store::Tenant,
                filter: &$crate::store::SpanQuery,
            ) -> Result<Vec<$crate::store::SpanRecord>, $crate::store::StoreError> {
                spans::search_spans(self, tenant, filter).await
            }

            async fn span_index_rows(
                &self,
                tenant: &$crate::store::Tenant,
                start: u64,
                end: u64,
            ) -> Result<$crate::store::SpanIndexRows, $crate::store::StoreError> {
                index_rows::span_index_rows(self, tenant, start, end).await
            }

            async fn governance_rows(
                &self,
                tenant: &$crate::store::Tenant,
            ) -> Result<Vec<(i64, $crate::store::GovernanceRow)>, $crate::store::StoreError> {
                index_rows::governance_rows(self, tenant).await
            }

            async fn output_index_rows(
                &self,
                tenant: &$crate::store::Tenant,
            ) -> Result<Vec<(i64, Vec<u8>)>, $crate::store::StoreError> {
                index_rows::output_index_rows(self, tenant).await
            }

            async fn rows_outside_log(
                &self,
                tenant: &$crate::store::Tenant,
                size: u64,
            ) -> Result<Vec<(&'static str, u64)>, $crate::store::StoreError> {
                index_rows::rows_outside_log(self, tenant, size).await
            }
        }
    };
}

pub(super) use implement_store;
