//! Log append: one transaction per batch that locks the log head, drops entries already
//! in the log (by span key), seals the rest onto the tree, writes the entries, their
//! index rows and the new tree hashes, and publishes the signed checkpoint with the new
//! head.

use std::collections::HashMap;

use crate::store::{AppendItem, AppendedAs};

/// Gives each item its fate in batch order: an item whose dedupe key is already `known`
/// (in the log, or earlier in the batch) is a duplicate of that entry; every other item
/// gets the next index from `next_index` on. Returns the fates and the items to append.
pub(in crate::store) fn assign_indexes(
    items: &[AppendItem],
    mut known: HashMap<String, u64>,
    mut next_index: u64,
) -> (Vec<AppendedAs>, Vec<&AppendItem>) {
    let mut fates = Vec::with_capacity(items.len());
    let mut fresh = Vec::with_capacity(items.len());
    for item in items {
        if let Some(key) = &item.dedupe_key {
            if let Some(index) = known.get(key) {
                fates.push(AppendedAs::Duplicate(*index));
                continue;
            }
            known.insert(key.clone(), next_index);
        }
        fates.push(AppendedAs::New(next_index));
        next_index += 1;
        fresh.push(item);
    }
    (fates, fresh)
}

/// Expands to `mod log_append` for one backend: `$store` (its `pool`, `begin_append`
/// and `LOCK_HEAD_SQL`) and its database `$db`.
macro_rules! log_append_sql {
    ($store:ident, $db:ident) => {
        /// `append_batch` and the inserts of its transaction.
        pub(super) mod log_append {
            use std::collections::HashMap;

            use super::{$db, $store};
            use $crate::ledger::batch::{SealedBatch, SealedEntry};
            use $crate::ledger::checkpoint::LogSigner;
            use $crate::store::sql::log_append::assign_indexes;
            use $crate::store::sql::{head_from_row, prior_needed, require_all, seal, to_i64, to_u64, INSERT_CHUNK};
            use $crate::store::{now_rfc3339, AppendItem, AppendReceipt, StoreError, Tenant};

            type Connection = <$db as sqlx::Database>::Connection;

            pub(super) async fn append_batch(
                store: &$store,
                tenant: &Tenant,
                items: &[AppendItem],
                signer: &LogSigner,
            ) -> Result<AppendReceipt, StoreError> {
                let (_guard, mut tx) = store.begin_append(tenant.id).await?;
                let (size, last_leaf): (i64, Option<Vec<u8>>) = sqlx::query_as(<$store>::LOCK_HEAD_SQL)
                    .bind(tenant.id)
                    .fetch_one(&mut *tx)
                    .await?;
                let head = head_from_row(size, last_leaf)?;
                let time = now_rfc3339();
                let time = time.as_str();

                // Deduplicate against the log and within the batch.
                let keys: Vec<String> = items.iter().filter_map(|item| item.dedupe_key.clone()).collect();
                let known = known_span_keys(&mut tx, tenant.id, &keys).await?;
                let (indexes, fresh) = assign_indexes(items, known, head.size);
                if fresh.is_empty() {
                    tx.rollback().await?;
                    return Ok(AppendReceipt { indexes, tree_size: head.size, checkpoint: None });
                }

                let needed = prior_needed(head.size, fresh.len() as u64);
                let found = super::reads::read_hashes(&mut tx, tenant.id, &needed).await?;
                let prior = require_all(&needed, found)?;
                let sealed = seal(&tenant.origin, head, time, fresh.iter().map(|item| &item.entry), &prior)?;
                let note = signer.sign_checkpoint(sealed.head.size, &sealed.root)?;

                insert_entries(&mut tx, tenant.id, &fresh, &sealed.entries, time).await?;
                insert_contents_and_outputs(&mut tx, tenant.id, &fresh, &sealed.entries).await?;
                insert_spans_and_governance(&mut tx, tenant.id, &fresh, &sealed.entries).await?;
                insert_tree_hashes(&mut tx, tenant.id, &sealed.new_hashes).await?;
                publish_checkpoint(&mut tx, tenant.id, head.size, &sealed, &note, time).await?;
                tx.commit().await?;
                Ok(AppendReceipt { indexes, tree_size: sealed.head.size, checkpoint: Some(note) })
            }

            /// The entry index of each of `keys` already in the log.
            async fn known_span_keys(
                conn: &mut Connection,
                tenant_id: i64,
                keys: &[String],
            ) -> Result<HashMap<String, u64>, StoreError> {
                let rows: Vec<(String, i64)> = super::reads::select_where_in(
                    conn,
                    "SELECT span_key, idx FROM entries",
                    tenant_id,
                    "span_key",
                    keys,
                    "",
                )
                .await?;
                let mut known = HashMap::new();
                for (key, index) in rows {
                    known.insert(key, to_u64(index, "entry index")?);
                }
                Ok(known)
            }

            async fn insert_entries(
                conn: &mut Connection,
                tenant_id: i64,
                fresh: &[&AppendItem],
                sealed_entries: &[SealedEntry],
                time: &str,
            ) -> Result<(), StoreError> {
                for (chunk_items, chunk_entries) in fresh.chunks(INSERT_CHUNK).zip(sealed_entries.chunks(INSERT_CHUNK)) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO entries (tenant_id, idx, entry_type, entry_bytes, leaf_hash, trace_id, span_id, span_key, created_at) ",
                    );
                    let mut rows = Vec::with_capacity(chunk_items.len());
                    for (item, sealed_entry) in chunk_items.iter().zip(chunk_entries) {
                        rows.push((to_i64(sealed_entry.index)?, item, sealed_entry));
                    }
                    query.push_values(rows, |mut row, (index, item, sealed_entry)| {
                        row.push_bind(tenant_id)
                            .push_bind(index)
                            .push_bind(sealed_entry.entry_type.clone())
                            .push_bind(sealed_entry.entry_bytes.clone())
                            .push_bind(sealed_entry.leaf_hash.0.to_vec())
                            .push_bind(item.trace_id.clone())
                            .push_bind(item.span_id.clone())
                            .push_bind(item.dedupe_key.clone())
                            .push_bind(time.to_owned());
                    });
                    query.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// The `contents` rows (salt and text behind each commitment) and the
            /// `output_index` rows of the new entries.
            async fn insert_contents_and_outputs(
                conn: &mut Connection,
                tenant_id: i64,
                fresh: &[&AppendItem],
                sealed_entries: &[SealedEntry],
            ) -> Result<(), StoreError> {
                let mut content_rows = Vec::new();
                let mut digest_rows = Vec::new();
                for (item, sealed_entry) in fresh.iter().zip(sealed_entries) {
                    let index = to_i64(sealed_entry.index)?;
                    for content in &item.contents {
                        content_rows.push((index, content));
                    }
                    for digest in &item.output_digests {
                        digest_rows.push((index, digest));
                    }
                }
                for chunk in content_rows.chunks(INSERT_CHUNK) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO contents (tenant_id, commitment, entry_idx, field, salt, content) ",
                    );
                    query.push_values(chunk, |mut row, (index, content)| {
                        row.push_bind(tenant_id)
                            .push_bind(content.committed.commitment.sha256.clone())
                            .push_bind(*index)
                            .push_bind(content.field.clone())
                            .push_bind(content.committed.salt.to_vec())
                            .push_bind(content.committed.content.clone());
                    });
                    query.push(" ON CONFLICT (tenant_id, commitment) DO NOTHING");
                    query.build().execute(&mut *conn).await?;
                }
                for chunk in digest_rows.chunks(INSERT_CHUNK) {
                    let mut query =
                        sqlx::QueryBuilder::<$db>::new("INSERT INTO output_index (tenant_id, digest, entry_idx) ");
                    query.push_values(chunk, |mut row, (index, digest)| {
                        row.push_bind(tenant_id).push_bind(digest.to_vec()).push_bind(*index);
                    });
                    query.push(" ON CONFLICT (tenant_id, digest, entry_idx) DO NOTHING");
                    query.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// The `spans`, `span_attributes` and `governance` rows of the new entries.
            async fn insert_spans_and_governance(
                conn: &mut Connection,
                tenant_id: i64,
                fresh: &[&AppendItem],
                sealed_entries: &[SealedEntry],
            ) -> Result<(), StoreError> {
                let mut span_rows = Vec::new();
                let mut attribute_rows = Vec::new();
                let mut governance_rows = Vec::new();
                for (item, sealed_entry) in fresh.iter().zip(sealed_entries) {
                    let index = to_i64(sealed_entry.index)?;
                    if let Some(span) = &item.span_row {
                        span_rows.push((index, span));
                        for (key, value) in &span.attributes {
                            attribute_rows.push((index, key, value));
                        }
                    }
                    if let Some(governance) = &item.governance {
                        governance_rows.push((index, governance));
                    }
                }
                for chunk in span_rows.chunks(INSERT_CHUNK / 2) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO spans (tenant_id, entry_idx, trace_id, span_id, parent_span_id, name, kind, \
                         start_ns, end_ns, duration_ns, model, provider, input_tokens, output_tokens, status_code, \
                         pipeline_version_id, environment, link_method) ",
                    );
                    query.push_values(chunk, |mut row, (index, span)| {
                        row.push_bind(tenant_id)
                            .push_bind(*index)
                            .push_bind(span.trace_id.clone())
                            .push_bind(span.span_id.clone())
                            .push_bind(span.parent_span_id.clone())
                            .push_bind(span.name.clone())
                            .push_bind(span.kind.clone())
                            .push_bind(span.start_ns)
                            .push_bind(span.end_ns)
                            .push_bind(span.end_ns.saturating_sub(span.start_ns))
                            .push_bind(span.model.clone())
                            .push_bind(span.provider.clone())
                            .push_bind(span.input_tokens)
                            .push_bind(span.output_tokens)
                            .push_bind(span.status_code)
                            .push_bind(span.pipeline_version_id.clone())
                            .push_bind(span.environment.clone())
                            .push_bind(span.link_method.clone());
                    });
                    query.build().execute(&mut *conn).await?;
                }
                for chunk in attribute_rows.chunks(INSERT_CHUNK) {
                    let mut query =
                        sqlx::QueryBuilder::<$db>::new("INSERT INTO span_attributes (tenant_id, entry_idx, key, value) ");
                    query.push_values(chunk, |mut row, (index, key, value)| {
                        row.push_bind(tenant_id)
                            .push_bind(*index)
                            .push_bind((*key).clone())
                            .push_bind((*value).clone());
                    });
                    query.push(" ON CONFLICT (tenant_id, entry_idx, key) DO NOTHING");
                    query.build().execute(&mut *conn).await?;
                }
                for (index, governance) in governance_rows {
                    sqlx::query(
                        "INSERT INTO governance (tenant_id, kind, id, entry_idx, name, version, pipeline_version_id, \
                         environment, valid_from_ns, valid_to_ns, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(tenant_id)
                    .bind(governance.kind.clone())
                    .bind(governance.id.clone())
                    .bind(index)
                    .bind(governance.name.clone())
                    .bind(governance.version.clone())
                    .bind(governance.pipeline_version_id.clone())
                    .bind(governance.environment.clone())
                    .bind(governance.valid_from_ns)
                    .bind(governance.valid_to_ns)
                    .bind(governance.body.clone())
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            }

            /// The interior and leaf hashes the new entries added to the tree.
            async fn insert_tree_hashes(
                conn: &mut Connection,
                tenant_id: i64,
                new_hashes: &[(u64, $crate::ledger::Hash)],
            ) -> Result<(), StoreError> {
                let mut hash_rows = Vec::with_capacity(new_hashes.len());
                for (stored_index, hash) in new_hashes {
                    hash_rows.push((to_i64(*stored_index)?, hash.0.to_vec()));
                }
                for chunk in hash_rows.chunks(INSERT_CHUNK) {
                    let mut query = sqlx::QueryBuilder::<$db>::new("INSERT INTO tree_hashes (tenant_id, hidx, hash) ");
                    query.push_values(chunk, |mut row, (stored_index, hash)| {
                        row.push_bind(tenant_id).push_bind(*stored_index).push_bind(hash.clone());
                    });
                    query.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            /// Stores the signed checkpoint of the sealed batch and moves the log head
            /// from `old_size` to it; a head that moved meanwhile is an error.
            async fn publish_checkpoint(
                conn: &mut Connection,
                tenant_id: i64,
                old_size: u64,
                sealed: &SealedBatch,
                note: &str,
                time: &str,
            ) -> Result<(), StoreError> {
                let new_size = to_i64(sealed.head.size)?;
                sqlx::query("INSERT INTO checkpoints (tenant_id, size, root, note, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(tenant_id)
                    .bind(new_size)
                    .bind(sealed.root.0.to_vec())
                    .bind(note.to_owned())
                    .bind(time)
                    .execute(&mut *conn)
                    .await?;
                let updated = sqlx::query(
                    "UPDATE log_heads SET size = $1, last_leaf = $2, root = $3 WHERE tenant_id = $4 AND size = $5",
                )
                .bind(new_size)
                .bind(sealed.head.last_leaf.map(|hash| hash.0.to_vec()))
                .bind(sealed.root.0.to_vec())
                .bind(tenant_id)
                .bind(to_i64(old_size)?)
                .execute(&mut *conn)
                .await?;
                if updated.rows_affected() != 1 {
                    return Err(StoreError::Corrupt("log head moved during append".into()));
                }
                Ok(())
            }
        }
    };
}

pub(in crate::store) use log_append_sql;

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: Option<&str>) -> AppendItem {
        AppendItem {
            dedupe_key: key.map(str::to_owned),
            ..AppendItem::default()
        }
    }

    #[test]
    fn duplicates_of_the_log_and_of_the_batch_get_no_new_index() {
        let items = [
            item(Some("a")),
            item(Some("known")),
            item(None),
            item(Some("a")),
            item(Some("b")),
        ];
        let known = HashMap::from([("known".to_owned(), 3)]);
        let (fates, fresh) = assign_indexes(&items, known, 10);
        assert_eq!(
            fates,
            [
                AppendedAs::New(10),
                AppendedAs::Duplicate(3),
                AppendedAs::New(11),
                AppendedAs::Duplicate(10),
                AppendedAs::New(12),
            ]
        );
        let fresh_keys: Vec<Option<&str>> = fresh.iter().map(|item| item.dedupe_key.as_deref()).collect();
        assert_eq!(fresh_keys, [Some("a"), None, Some("b")]);
    }
}
