//! Reads and what proofs are built from: entries (by range, by index, by trace), stored
//! tree hashes, checkpoints, the log head, contents and the output index. The chunked
//! `IN (...)` query that reads rows by a list of indexes lives here once
//! (`select_where_in`), shared by `entries_at`, `contents_of`, `read_hashes` and the
//! append's dedupe.

use super::{to_u64, StoreError};
use crate::store::{StoredContent, StoredEntry};

/// The columns of an entry row: `idx, entry_bytes, leaf_hash`.
pub(in crate::store) type EntryColumns = (i64, Vec<u8>, Vec<u8>);

/// The columns of a content row: `commitment, entry_idx, field, salt, content`.
pub(in crate::store) type ContentColumns = (String, i64, String, Option<Vec<u8>>, Option<String>);

/// A [`StoredEntry`] from its row.
pub(in crate::store) fn entry_from_row(
    (index, entry_bytes, leaf_hash): EntryColumns,
) -> Result<StoredEntry, StoreError> {
    Ok(StoredEntry {
        index: to_u64(index, "entry index")?,
        entry_bytes,
        leaf_hash,
    })
}

/// A [`StoredContent`] from its row.
pub(in crate::store) fn content_from_row(
    (commitment, entry_index, field, salt, content): ContentColumns,
) -> Result<StoredContent, StoreError> {
    Ok(StoredContent {
        commitment,
        entry_index: to_u64(entry_index, "entry index")?,
        field,
        salt,
        content,
    })
}

/// Expands to `mod reads` for one backend: `$store` (its `pool`) and its database `$db`.
macro_rules! read_sql {
    ($store:ident, $db:ident) => {
        /// Entries, tree hashes, checkpoints, the log head and contents.
        pub(super) mod reads {
            use super::{$store, $db};
            use std::collections::HashMap;

            use $crate::ledger::Hash;
            use $crate::store::sql::reads::{content_from_row, entry_from_row, ContentColumns, EntryColumns};
            use $crate::store::sql::{stored_hash, to_i64, to_u64, INSERT_CHUNK};
            use $crate::store::{
                checkpoint_from_row, StoreError, StoredCheckpoint, StoredContent, StoredEntry, StoredHead, Tenant,
            };

            pub(super) async fn latest_checkpoint(
                store: &$store,
                tenant: &Tenant,
            ) -> Result<Option<StoredCheckpoint>, StoreError> {
                let row: Option<(i64, Vec<u8>, String)> = sqlx::query_as(
                    "SELECT size, root, note FROM checkpoints WHERE tenant_id = $1 ORDER BY size DESC LIMIT 1",
                )
                .bind(tenant.id)
                .fetch_optional(&store.pool)
                .await?;
                row.map(checkpoint_from_row).transpose()
            }

            pub(super) async fn checkpoints(
                store: &$store,
                tenant: &Tenant,
            ) -> Result<Vec<StoredCheckpoint>, StoreError> {
                let rows: Vec<(i64, Vec<u8>, String)> =
                    sqlx::query_as("SELECT size, root, note FROM checkpoints WHERE tenant_id = $1 ORDER BY size")
                        .bind(tenant.id)
                        .fetch_all(&store.pool)
                        .await?;
                rows.into_iter().map(checkpoint_from_row).collect()
            }

            pub(super) async fn tree_size(store: &$store, tenant: &Tenant) -> Result<u64, StoreError> {
                let size: i64 = sqlx::query_scalar("SELECT size FROM log_heads WHERE tenant_id = $1")
                    .bind(tenant.id)
                    .fetch_one(&store.pool)
                    .await?;
                to_u64(size, "log size")
            }

            pub(super) async fn log_head(
                store: &$store,
                tenant: &Tenant,
            ) -> Result<StoredHead, StoreError> {
                let (size, last_leaf, root): (i64, Option<Vec<u8>>, Vec<u8>) =
                    sqlx::query_as("SELECT size, last_leaf, root FROM log_heads WHERE tenant_id = $1")
                        .bind(tenant.id)
                        .fetch_one(&store.pool)
                        .await?;
                Ok(StoredHead {
                    size: to_u64(size, "log size")?,
                    last_leaf,
                    root,
                })
            }

            pub(super) async fn entries(
                store: &$store,
                tenant: &Tenant,
                start: u64,
                end: u64,
            ) -> Result<Vec<StoredEntry>, StoreError> {
                let rows: Vec<EntryColumns> = sqlx::query_as(
                    "SELECT idx, entry_bytes, leaf_hash FROM entries WHERE tenant_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
                )
                .bind(tenant.id)
                .bind(to_i64(start)?)
                .bind(to_i64(end)?)
                .fetch_all(&store.pool)
                .await?;
                rows.into_iter().map(entry_from_row).collect()
            }

            pub(super) async fn entries_at(
                store: &$store,
                tenant: &Tenant,
                indexes: &[u64],
            ) -> Result<Vec<StoredEntry>, StoreError> {
                let indexes = indexes.iter().map(|index| to_i64(*index)).collect::<Result<Vec<_>, _>>()?;
                let mut conn = store.pool.acquire().await?;
                let rows: Vec<EntryColumns> = select_where_in(
                    &mut conn,
                    "SELECT idx, entry_bytes, leaf_hash FROM entries",
                    tenant.id,
                    "idx",
                    &indexes,
                    "",
                )
                .await?;
                let mut entries = rows.into_iter().map(entry_from_row).collect::<Result<Vec<_>, _>>()?;
                entries.sort_by_key(|entry| entry.index);
                Ok(entries)
            }

            pub(super) async fn trace_entries(
                store: &$store,
                tenant: &Tenant,
                trace_id: &str,
            ) -> Result<Vec<StoredEntry>, StoreError> {
                let rows: Vec<EntryColumns> = sqlx::query_as(
                    "SELECT idx, entry_bytes, leaf_hash FROM entries WHERE tenant_id = $1 AND trace_id = $2 ORDER BY idx",
                )
                .bind(tenant.id)
                .bind(trace_id)
                .fetch_all(&store.pool)
                .await?;
                rows.into_iter().map(entry_from_row).collect()
            }

            pub(super) async fn stored_hashes(
                store: &$store,
                tenant: &Tenant,
                indexes: &[u64],
            ) -> Result<HashMap<u64, Hash>, StoreError> {
                let mut conn = store.pool.acquire().await?;
                read_hashes(&mut conn, tenant.id, indexes).await
            }

            /// Reads stored hashes by index on any connection or transaction.
            pub(super) async fn read_hashes(
                conn: &mut <$db as sqlx::Database>::Connection,
                tenant_id: i64,
                indexes: &[u64],
            ) -> Result<HashMap<u64, Hash>, StoreError> {
                let stored_indexes = indexes.iter().map(|index| to_i64(*index)).collect::<Result<Vec<_>, _>>()?;
                let rows: Vec<(i64, Vec<u8>)> = select_where_in(
                    conn,
                    "SELECT hidx, hash FROM tree_hashes",
                    tenant_id,
                    "hidx",
                    &stored_indexes,
                    "",
                )
                .await?;
                let mut found = HashMap::with_capacity(indexes.len());
                for (index, hash) in rows {
                    found.insert(to_u64(index, "stored hash index")?, stored_hash(&hash, "stored hash")?);
                }
                Ok(found)
            }

            /// Selects one tenant's rows of `select_from` (`SELECT ... FROM table`) whose
            /// `column` is one of `values`: one `IN (...)` query per [`INSERT_CHUNK`]
            /// values, each followed by `order_by` (empty or ` ORDER BY ...`).
            pub(super) async fn select_where_in<Row, Value>(
                conn: &mut <$db as sqlx::Database>::Connection,
                select_from: &str,
                tenant_id: i64,
                column: &str,
                values: &[Value],
                order_by: &str,
            ) -> Result<Vec<Row>, StoreError>
            where
                Row: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
                Value: for<'t> sqlx::Encode<'t, $db> + sqlx::Type<$db> + Clone,
            {
                let mut rows = Vec::new();
                for chunk in values.chunks(INSERT_CHUNK) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(select_from);
                    query.push(" WHERE tenant_id = ");
                    query.push_bind(tenant_id);
                    query.push(" AND ").push(column).push(" IN (");
                    let mut separated = query.separated(", ");
                    for value in chunk {
                        separated.push_bind(value.clone());
                    }
                    query.push(")").push(order_by);
                    rows.extend(query.build_query_as::<Row>().fetch_all(&mut *conn).await?);
                }
                Ok(rows)
            }

            pub(super) async fn contents(
                store: &$store,
                tenant: &Tenant,
                start: u64,
                end: u64,
            ) -> Result<Vec<StoredContent>, StoreError> {
                let rows: Vec<ContentColumns> = sqlx::query_as(
                    "SELECT commitment, entry_idx, field, salt, content FROM contents \
                     WHERE tenant_id = $1 AND entry_idx >= $2 AND entry_idx < $3 ORDER BY entry_idx, commitment",
                )
                .bind(tenant.id)
                .bind(to_i64(start)?)
                .bind(to_i64(end)?)
                .fetch_all(&store.pool)
                .await?;
                rows.into_iter().map(content_from_row).collect()
            }

            pub(super) async fn contents_of(
                store: &$store,
                tenant: &Tenant,
                indexes: &[u64],
            ) -> Result<Vec<StoredContent>, StoreError> {
                let indexes = indexes.iter().map(|index| to_i64(*index)).collect::<Result<Vec<_>, _>>()?;
                let mut conn = store.pool.acquire().await?;
                let rows: Vec<ContentColumns> = select_where_in(
                    &mut conn,
                    "SELECT commitment, entry_idx, field, salt, content FROM contents",
                    tenant.id,
                    "entry_idx",
                    &indexes,
                    " ORDER BY entry_idx, commitment",
                )
                .await?;
                rows.into_iter().map(content_from_row).collect()
            }

            pub(super) async fn output_entries(
                store: &$store,
                tenant: &Tenant,
                digest: &[u8],
            ) -> Result<Vec<u64>, StoreError> {
                let rows: Vec<i64> = sqlx::query_scalar(
                    "SELECT entry_idx FROM output_index WHERE tenant_id = $1 AND digest = $2 ORDER BY entry_idx",
                )
                .bind(tenant.id)
                .bind(digest)
                .fetch_all(&store.pool)
                .await?;
                rows.into_iter().map(|index| to_u64(index, "entry index")).collect()
            }
        }
    };
}

pub(in crate::store) use read_sql;
