//! The SQL shared by both backends.
//!
//! `implement_store!` expands one body for SQLite and one for PostgreSQL: the SQL text
//! is the same (both accept `$N` placeholders, `ON CONFLICT`, and map BLOB/BYTEA to
//! `Vec<u8>`); only connection set-up and how the log head is locked differ, and those
//! live in `sqlite.rs` / `postgres.rs` as `begin_append`.

use std::collections::HashMap;

use crate::ledger::batch::LogHead;
use crate::ledger::{hash_from_slice, Hash};

use super::StoreError;

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

/// Seals after fetching the prior hashes: shared by both backends.
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

macro_rules! implement_store {
    ($store:ty, $db:ty, $backend:literal) => {
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
                if let Some(tenant) = self.tenant_by_name(name).await? {
                    return Ok(tenant);
                }
                let mut secret = vec![0u8; 32];
                rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO tenants (name, origin, lookup_secret, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name.as_str())
                .bind(origin)
                .bind(&secret)
                .bind($crate::store::now_rfc3339())
                .execute(&mut *tx)
                .await?;
                let id: i64 = sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
                    .bind(name.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO log_heads (tenant_id, size, last_leaf, root) VALUES ($1, 0, NULL, $2) \
                     ON CONFLICT (tenant_id) DO NOTHING",
                )
                .bind(id)
                .bind(tlog_tiles::EMPTY_HASH.0.to_vec())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.tenant_by_name(name)
                    .await?
                    .ok_or_else(|| $crate::store::StoreError::NotFound(format!("tenant {name}")))
            }

            async fn tenant_by_name(
                &self,
                name: &$crate::domain::TenantName,
            ) -> Result<Option<$crate::store::Tenant>, $crate::store::StoreError> {
                let row: Option<(i64, String, String, Vec<u8>)> =
                    sqlx::query_as("SELECT id, name, origin, lookup_secret FROM tenants WHERE name = $1")
                        .bind(name.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                row.map($crate::store::tenant_from_row).transpose()
            }

            async fn tenants(&self) -> Result<Vec<$crate::store::Tenant>, $crate::store::StoreError> {
                let rows: Vec<(i64, String, String, Vec<u8>)> =
                    sqlx::query_as("SELECT id, name, origin, lookup_secret FROM tenants ORDER BY id")
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map($crate::store::tenant_from_row).collect()
            }

            async fn directory_stamp(&self) -> Result<[i64; 3], $crate::store::StoreError> {
                let (newest_tenant, keys, active): (i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COALESCE(MAX(id), 0) FROM tenants), \
                            (SELECT COUNT(*) FROM signing_keys), \
                            (SELECT COUNT(*) FROM signing_keys WHERE active)",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok([newest_tenant, keys, active])
            }

            async fn insert_api_key(
                &self,
                tenant: &$crate::store::Tenant,
                id: &str,
                key_hash: &[u8],
                scopes: &[$crate::domain::Scope],
            ) -> Result<(), $crate::store::StoreError> {
                let scope_text = scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(" ");
                sqlx::query(
                    "INSERT INTO api_keys (id, tenant_id, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(tenant.id)
                .bind(key_hash)
                .bind(scope_text)
                .bind($crate::store::now_rfc3339())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn api_key_by_hash(
                &self,
                key_hash: &[u8],
            ) -> Result<Option<$crate::store::ApiKeyRecord>, $crate::store::StoreError> {
                let row: Option<(String, Vec<u8>, String, i64, String, String, Vec<u8>)> = sqlx::query_as(
                    "SELECT k.id, k.key_hash, k.scopes, t.id, t.name, t.origin, t.lookup_secret \
                     FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
                     WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
                )
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?;
                let Some((id, stored_hash, scope_text, tenant_id, name, origin, secret)) = row else {
                    return Ok(None);
                };
                let tenant = $crate::store::tenant_from_row((tenant_id, name, origin, secret))?;
                let scopes = scope_text
                    .split_whitespace()
                    .map(|text| text.parse::<$crate::domain::Scope>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| $crate::store::StoreError::Corrupt(error.to_string()))?;
                Ok(Some($crate::store::ApiKeyRecord { id, tenant, key_hash: stored_hash, scopes }))
            }

            async fn register_signing_key(&self, public_key: &[u8]) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                let existing: Option<bool> = sqlx::query_scalar("SELECT active FROM signing_keys WHERE public_key = $1")
                    .bind(public_key)
                    .fetch_optional(&mut *tx)
                    .await?;
                if existing == Some(true) {
                    return Ok(());
                }
                sqlx::query("UPDATE signing_keys SET active = $1 WHERE public_key <> $2")
                    .bind(false)
                    .bind(public_key)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO signing_keys (public_key, created_at, active) VALUES ($1, $2, $3) \
                     ON CONFLICT (public_key) DO UPDATE SET active = $3",
                )
                .bind(public_key)
                .bind($crate::store::now_rfc3339())
                .bind(true)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn signing_keys(&self) -> Result<Vec<$crate::store::SigningKeyRecord>, $crate::store::StoreError> {
                let rows: Vec<(Vec<u8>, String, bool)> =
                    sqlx::query_as("SELECT public_key, created_at, active FROM signing_keys ORDER BY created_at")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|(public_key, created_at, active)| $crate::store::SigningKeyRecord {
                        public_key,
                        created_at,
                        active,
                    })
                    .collect())
            }

            async fn append_batch(
                &self,
                tenant: &$crate::store::Tenant,
                items: &[$crate::store::AppendItem],
                signer: &$crate::ledger::checkpoint::LogSigner,
            ) -> Result<$crate::store::AppendReceipt, $crate::store::StoreError> {
                use $crate::store::sql::*;
                use $crate::store::{AppendReceipt, AppendedAs};
                let (_guard, mut tx) = self.begin_append(tenant.id).await?;
                let (size, last_leaf): (i64, Option<Vec<u8>>) = sqlx::query_as(Self::LOCK_HEAD_SQL)
                    .bind(tenant.id)
                    .fetch_one(&mut *tx)
                    .await?;
                let head = head_from_row(size, last_leaf)?;
                let time = $crate::store::now_rfc3339();
                let time = time.as_str();

                // Deduplicate against the log and within the batch.
                let keys: Vec<String> = items.iter().filter_map(|item| item.dedupe_key.clone()).collect();
                let mut known: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
                for chunk in keys.chunks(INSERT_CHUNK) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT span_key, idx FROM entries WHERE tenant_id = ",
                    );
                    query.push_bind(tenant.id);
                    query.push(" AND span_key IN (");
                    let mut separated = query.separated(", ");
                    for key in chunk {
                        separated.push_bind(key.clone());
                    }
                    query.push(")");
                    let rows: Vec<(String, i64)> = query.build_query_as().fetch_all(&mut *tx).await?;
                    for (key, index) in rows {
                        known.insert(key, to_u64(index, "entry index")?);
                    }
                }
                let mut fates: Vec<Option<AppendedAs>> = Vec::with_capacity(items.len());
                let mut fresh = Vec::with_capacity(items.len());
                let mut next_index = head.size;
                for item in items {
                    if let Some(key) = &item.dedupe_key {
                        if let Some(index) = known.get(key) {
                            fates.push(Some(AppendedAs::Duplicate(*index)));
                            continue;
                        }
                        known.insert(key.clone(), next_index);
                    }
                    fates.push(Some(AppendedAs::New(next_index)));
                    next_index += 1;
                    fresh.push(item);
                }
                let indexes: Vec<AppendedAs> = fates.into_iter().flatten().collect();
                if fresh.is_empty() {
                    tx.rollback().await?;
                    return Ok(AppendReceipt { indexes, tree_size: head.size, checkpoint: None });
                }

                let needed = prior_needed(head.size, fresh.len() as u64);
                let found = Self::read_hashes(&mut tx, tenant.id, &needed).await?;
                let prior = require_all(&needed, found)?;
                let sealed = seal(&tenant.origin, head, time, fresh.iter().map(|item| &item.entry), &prior)?;
                let note = signer.sign_checkpoint(sealed.head.size, &sealed.root)?;

                for (chunk_items, chunk_entries) in fresh.chunks(INSERT_CHUNK).zip(sealed.entries.chunks(INSERT_CHUNK)) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO entries (tenant_id, idx, entry_type, entry_bytes, leaf_hash, trace_id, span_id, span_key, created_at) ",
                    );
                    let mut rows = Vec::with_capacity(chunk_items.len());
                    for (item, sealed_entry) in chunk_items.iter().zip(chunk_entries) {
                        rows.push((to_i64(sealed_entry.index)?, item, sealed_entry));
                    }
                    query.push_values(rows, |mut row, (index, item, sealed_entry)| {
                        row.push_bind(tenant.id)
                            .push_bind(index)
                            .push_bind(sealed_entry.entry_type.clone())
                            .push_bind(sealed_entry.entry_bytes.clone())
                            .push_bind(sealed_entry.leaf_hash.0.to_vec())
                            .push_bind(item.trace_id.clone())
                            .push_bind(item.span_id.clone())
                            .push_bind(item.dedupe_key.clone())
                            .push_bind(time.to_owned());
                    });
                    query.build().execute(&mut *tx).await?;
                }

                let mut content_rows = Vec::new();
                let mut digest_rows = Vec::new();
                for (item, sealed_entry) in fresh.iter().zip(&sealed.entries) {
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
                        row.push_bind(tenant.id)
                            .push_bind(content.committed.commitment.sha256.clone())
                            .push_bind(*index)
                            .push_bind(content.field.clone())
                            .push_bind(content.committed.salt.to_vec())
                            .push_bind(content.committed.content.clone());
                    });
                    query.push(" ON CONFLICT (tenant_id, commitment) DO NOTHING");
                    query.build().execute(&mut *tx).await?;
                }
                for chunk in digest_rows.chunks(INSERT_CHUNK) {
                    let mut query =
                        sqlx::QueryBuilder::<$db>::new("INSERT INTO output_index (tenant_id, digest, entry_idx) ");
                    query.push_values(chunk, |mut row, (index, digest)| {
                        row.push_bind(tenant.id).push_bind(digest.to_vec()).push_bind(*index);
                    });
                    query.push(" ON CONFLICT (tenant_id, digest, entry_idx) DO NOTHING");
                    query.build().execute(&mut *tx).await?;
                }
                let mut span_rows = Vec::new();
                let mut attribute_rows = Vec::new();
                let mut governance_rows = Vec::new();
                for (item, sealed_entry) in fresh.iter().zip(&sealed.entries) {
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
                        row.push_bind(tenant.id)
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
                    query.build().execute(&mut *tx).await?;
                }
                for chunk in attribute_rows.chunks(INSERT_CHUNK) {
                    let mut query =
                        sqlx::QueryBuilder::<$db>::new("INSERT INTO span_attributes (tenant_id, entry_idx, key, value) ");
                    query.push_values(chunk, |mut row, (index, key, value)| {
                        row.push_bind(tenant.id)
                            .push_bind(*index)
                            .push_bind((*key).clone())
                            .push_bind((*value).clone());
                    });
                    query.push(" ON CONFLICT (tenant_id, entry_idx, key) DO NOTHING");
                    query.build().execute(&mut *tx).await?;
                }
                for (index, governance) in governance_rows {
                    sqlx::query(
                        "INSERT INTO governance (tenant_id, kind, id, entry_idx, name, version, pipeline_version_id, \
                         environment, valid_from_ns, valid_to_ns, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(tenant.id)
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
                    .execute(&mut *tx)
                    .await?;
                }
                let mut hash_rows = Vec::with_capacity(sealed.new_hashes.len());
                for (stored_index, hash) in &sealed.new_hashes {
                    hash_rows.push((to_i64(*stored_index)?, hash.0.to_vec()));
                }
                for chunk in hash_rows.chunks(INSERT_CHUNK) {
                    let mut query = sqlx::QueryBuilder::<$db>::new("INSERT INTO tree_hashes (tenant_id, hidx, hash) ");
                    query.push_values(chunk, |mut row, (stored_index, hash)| {
                        row.push_bind(tenant.id).push_bind(*stored_index).push_bind(hash.clone());
                    });
                    query.build().execute(&mut *tx).await?;
                }
                let new_size = to_i64(sealed.head.size)?;
                sqlx::query("INSERT INTO checkpoints (tenant_id, size, root, note, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(tenant.id)
                    .bind(new_size)
                    .bind(sealed.root.0.to_vec())
                    .bind(note.clone())
                    .bind(time)
                    .execute(&mut *tx)
                    .await?;
                let updated = sqlx::query(
                    "UPDATE log_heads SET size = $1, last_leaf = $2, root = $3 WHERE tenant_id = $4 AND size = $5",
                )
                .bind(new_size)
                .bind(sealed.head.last_leaf.map(|hash| hash.0.to_vec()))
                .bind(sealed.root.0.to_vec())
                .bind(tenant.id)
                .bind(to_i64(head.size)?)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() != 1 {
                    return Err($crate::store::StoreError::Corrupt("log head moved during append".into()));
                }
                tx.commit().await?;
                Ok(AppendReceipt { indexes, tree_size: sealed.head.size, checkpoint: Some(note) })
            }

            async fn latest_checkpoint(
                &self,
                tenant: &$crate::store::Tenant,
            ) -> Result<Option<$crate::store::StoredCheckpoint>, $crate::store::StoreError> {
                let row: Option<(i64, Vec<u8>, String)> = sqlx::query_as(
                    "SELECT size, root, note FROM checkpoints WHERE tenant_id = $1 ORDER BY size DESC LIMIT 1",
                )
                .bind(tenant.id)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::store::checkpoint_from_row).transpose()
            }

            async fn checkpoints(
                &self,
                tenant: &$crate::store::Tenant,
            ) -> Result<Vec<$crate::store::StoredCheckpoint>, $crate::store::StoreError> {
                let rows: Vec<(i64, Vec<u8>, String)> =
                    sqlx::query_as("SELECT size, root, note FROM checkpoints WHERE tenant_id = $1 ORDER BY size")
                        .bind(tenant.id)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map($crate::store::checkpoint_from_row).collect()
            }

            async fn tree_size(&self, tenant: &$crate::store::Tenant) -> Result<u64, $crate::store::StoreError> {
                let size: i64 = sqlx::query_scalar("SELECT size FROM log_heads WHERE tenant_id = $1")
                    .bind(tenant.id)
                    .fetch_one(&self.pool)
                    .await?;
                $crate::store::sql::to_u64(size, "log size")
            }

            async fn log_head(
                &self,
                tenant: &$crate::store::Tenant,
            ) -> Result<$crate::store::StoredHead, $crate::store::StoreError> {
                let (size, last_leaf, root): (i64, Option<Vec<u8>>, Vec<u8>) =
                    sqlx::query_as("SELECT size, last_leaf, root FROM log_heads WHERE tenant_id = $1")
                        .bind(tenant.id)
                        .fetch_one(&self.pool)
                        .await?;
                Ok($crate::store::StoredHead {
                    size: $crate::store::sql::to_u64(size, "log size")?,
                    last_leaf,
                    root,
                })
            }

            async fn entries(
                &self,
                tenant: &$crate::store::Tenant,
                start: u64,
                end: u64,
            ) -> Result<Vec<$crate::store::StoredEntry>, $crate::store::StoreError> {
                use $crate::store::sql::*;
                let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = sqlx::query_as(
                    "SELECT idx, entry_bytes, leaf_hash FROM entries WHERE tenant_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
                )
                .bind(tenant.id)
                .bind(to_i64(start)?)
                .bind(to_i64(end)?)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(index, entry_bytes, leaf_hash)| {
                        Ok($crate::store::StoredEntry { index: to_u64(index, "entry index")?, entry_bytes, leaf_hash })
                    })
                    .collect()
            }

            async fn stored_hashes(
                &self,
                tenant: &$crate::store::Tenant,
                indexes: &[u64],
            ) -> Result<std::collections::HashMap<u64, $crate::ledger::Hash>, $crate::store::StoreError> {
                let mut conn = self.pool.acquire().await?;
                Self::read_hashes(&mut conn, tenant.id, indexes).await
            }

            async fn contents_of(
                &self,
                tenant: &$crate::store::Tenant,
                indexes: &[u64],
            ) -> Result<Vec<$crate::store::StoredContent>, $crate::store::StoreError> {
                use $crate::store::sql::*;
                let mut out = Vec::new();
                for chunk in indexes.chunks(INSERT_CHUNK) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT commitment, entry_idx, field, salt, content FROM contents WHERE tenant_id = ",
                    );
                    query.push_bind(tenant.id);
                    query.push(" AND entry_idx IN (");
                    let mut separated = query.separated(", ");
                    for index in chunk {
                        separated.push_bind(to_i64(*index)?);
                    }
                    query.push(") ORDER BY entry_idx, commitment");
                    let rows: Vec<(String, i64, String, Option<Vec<u8>>, Option<String>)> =
                        query.build_query_as().fetch_all(&self.pool).await?;
                    for (commitment, entry_index, field, salt, content) in rows {
                        out.push($crate::store::StoredContent {
                            commitment,
                            entry_index: to_u64(entry_index, "entry index")?,
                            field,
                            salt,
                            content,
                        });
                    }
                }
                Ok(out)
            }

            async fn entries_at(
                &self,
                tenant: &$crate::store::Tenant,
                indexes: &[u64],
            ) -> Result<Vec<$crate::store::StoredEntry>, $crate::store::StoreError> {
                use $crate::store::sql::*;
                let mut out = Vec::new();
                for chunk in indexes.chunks(INSERT_CHUNK) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT idx, entry_bytes, leaf_hash FROM entries WHERE tenant_id = ",
                    );
                    query.push_bind(tenant.id);
                    query.push(" AND idx IN (");
                    let mut separated = query.separated(", ");
                    for index in chunk {
                        separated.push_bind(to_i64(*index)?);
                    }
                    query.push(")");
                    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = query.build_query_as().fetch_all(&self.pool).await?;
                    for (index, entry_bytes, leaf_hash) in rows {
                        out.push($crate::store::StoredEntry { index: to_u64(index, "entry index")?, entry_bytes, leaf_hash });
                    }
                }
                out.sort_by_key(|entry| entry.index);
                Ok(out)
            }

            async fn trace_entries(
                &self,
                tenant: &$crate::store::Tenant,
                trace_id: &str,
            ) -> Result<Vec<$crate::store::StoredEntry>, $crate::store::StoreError> {
                use $crate::store::sql::*;
                let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = sqlx::query_as(
                    "SELECT idx, entry_bytes, leaf_hash FROM entries WHERE tenant_id = $1 AND trace_id = $2 ORDER BY idx",
                )
                .bind(tenant.id)
                .bind(trace_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(index, entry_bytes, leaf_hash)| {
                        Ok($crate::store::StoredEntry { index: to_u64(index, "entry index")?, entry_bytes, leaf_hash })
                    })
                    .collect()
            }

            async fn output_entries(
                &self,
                tenant: &$crate::store::Tenant,
                digest: &[u8],
            ) -> Result<Vec<u64>, $crate::store::StoreError> {
                use $crate::store::sql::*;
                let rows: Vec<i64> = sqlx::query_scalar(
                    "SELECT entry_idx FROM output_index WHERE tenant_id = $1 AND digest = $2 ORDER BY entry_idx",
                )
                .bind(tenant.id)
                .bind(digest)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|index| to_u64(index, "entry index")).collect()
            }

            async fn governance(
                &self,
                tenant: &$crate::store::Tenant,
                kind: &str,
            ) -> Result<Vec<$crate::store::GovernanceRecord>, $crate::store::StoreError> {
                use $crate::store::sql::*;
                #[allow(clippy::type_complexity)]
                let rows: Vec<(
                    String,
                    i64,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<i64>,
                    Option<i64>,
                    String,
                )> = sqlx::query_as(
                    "SELECT id, entry_idx, name, version, pipeline_version_id, environment, valid_from_ns, valid_to_ns, body \
                     FROM governance WHERE tenant_id = $1 AND kind = $2 ORDER BY entry_idx",
                )
                .bind(tenant.id)
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(
                        |(id, entry_idx, name, version, pipeline_version_id, environment, valid_from_ns, valid_to_ns, body)| {
                            Ok($crate::store::GovernanceRecord {
                                row: $crate::store::GovernanceRow {
                                    kind: kind.to_owned(),
                                    id,
                                    name,
                                    version,
                                    pipeline_version_id,
                                    environment,
                                    valid_from_ns,
                                    valid_to_ns,
                                    body,
                                },
                                entry_index: to_u64(entry_idx, "entry index")?,
                            })
                        },
                    )
                    .collect()
            }

            async fn search_spans(
                &self,
                tenant: &$crate::store::Tenant,
                filter: &$crate::store::SpanQuery,
            ) -> Result<Vec<$crate::store::SpanRecord>, $crate::store::StoreError> {
                use $crate::store::sql::*;
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT s.entry_idx, s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.start_ns, s.end_ns, \
                     s.model, s.provider, s.input_tokens, s.output_tokens, s.status_code, s.pipeline_version_id, \
                     s.environment, s.link_method FROM spans s WHERE s.tenant_id = ",
                );
                query.push_bind(tenant.id);
                if let Some(kind) = &filter.kind {
                    query.push(" AND s.kind = ").push_bind(kind.clone());
                }
                if let Some(trace_id) = &filter.trace_id {
                    query.push(" AND s.trace_id = ").push_bind(trace_id.clone());
                }
                // Range filters carry a unary plus: it keeps both planners from choosing
                // the range index and sorting every match, so that the newest-first
                // index walk with LIMIT stays the access path.
                if let Some(value) = filter.min_duration_ns {
                    query.push(" AND +s.duration_ns >= ").push_bind(value);
                }
                if let Some(value) = filter.max_duration_ns {
                    query.push(" AND +s.duration_ns <= ").push_bind(value);
                }
                if let Some(model) = &filter.model {
                    query.push(" AND s.model = ").push_bind(model.clone());
                }
                if let Some(provider) = &filter.provider {
                    query.push(" AND s.provider = ").push_bind(provider.clone());
                }
                if let Some(value) = filter.min_input_tokens {
                    query.push(" AND +s.input_tokens >= ").push_bind(value);
                }
                if let Some(value) = filter.min_output_tokens {
                    query.push(" AND +s.output_tokens >= ").push_bind(value);
                }
                if let Some(value) = filter.status_code {
                    query.push(" AND s.status_code = ").push_bind(value);
                }
                if let Some(id) = &filter.pipeline_version_id {
                    query.push(" AND s.pipeline_version_id = ").push_bind(id.clone());
                }
                match filter.linked {
                    Some(true) => {
                        query.push(" AND s.pipeline_version_id IS NOT NULL");
                    }
                    Some(false) => {
                        query.push(" AND s.pipeline_version_id IS NULL");
                    }
                    None => {}
                }
                if let Some(environment) = &filter.environment {
                    query.push(" AND s.environment = ").push_bind(environment.clone());
                }
                if let Some(value) = filter.start_from_ns {
                    query.push(" AND s.start_ns >= ").push_bind(value);
                }
                if let Some(value) = filter.start_to_ns {
                    query.push(" AND s.start_ns < ").push_bind(value);
                }
                for (key, value) in &filter.attributes {
                    query
                        .push(" AND EXISTS (SELECT 1 FROM span_attributes a WHERE a.tenant_id = s.tenant_id AND a.entry_idx = s.entry_idx AND a.key = ")
                        .push_bind(key.clone())
                        .push(" AND a.value = ")
                        .push_bind(value.clone())
                        .push(")");
                }
                if let Some((start_ns, entry_idx)) = filter.cursor {
                    query
                        .push(" AND (s.start_ns < ")
                        .push_bind(start_ns)
                        .push(" OR (s.start_ns = ")
                        .push_bind(start_ns)
                        .push(" AND s.entry_idx < ")
                        .push_bind(entry_idx)
                        .push("))");
                }
                query.push(" ORDER BY s.start_ns DESC, s.entry_idx DESC LIMIT ").push_bind(filter.limit);
                #[allow(clippy::type_complexity)]
                let rows: Vec<(
                    i64,
                    String,
                    String,
                    Option<String>,
                    String,
                    String,
                    i64,
                    i64,
                    Option<String>,
                    Option<String>,
                    Option<i64>,
                    Option<i64>,
                    i64,
                    Option<String>,
                    Option<String>,
                    String,
                )> = query.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|row| {
                        Ok($crate::store::SpanRecord {
                            entry_index: to_u64(row.0, "entry index")?,
                            row: $crate::store::SpanRow {
                                trace_id: row.1,
                                span_id: row.2,
                                parent_span_id: row.3,
                                name: row.4,
                                kind: row.5,
                                start_ns: row.6,
                                end_ns: row.7,
                                model: row.8,
                                provider: row.9,
                                input_tokens: row.10,
                                output_tokens: row.11,
                                status_code: row.12,
                                pipeline_version_id: row.13,
                                environment: row.14,
                                link_method: row.15,
                                attributes: Vec::new(),
                            },
                        })
                    })
                    .collect()
            }

            async fn contents(
                &self,
                tenant: &$crate::store::Tenant,
                start: u64,
                end: u64,
            ) -> Result<Vec<$crate::store::StoredContent>, $crate::store::StoreError> {
                use $crate::store::sql::*;
                let rows: Vec<(String, i64, String, Option<Vec<u8>>, Option<String>)> = sqlx::query_as(
                    "SELECT commitment, entry_idx, field, salt, content FROM contents \
                     WHERE tenant_id = $1 AND entry_idx >= $2 AND entry_idx < $3 ORDER BY entry_idx, commitment",
                )
                .bind(tenant.id)
                .bind(to_i64(start)?)
                .bind(to_i64(end)?)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(commitment, entry_index, field, salt, content)| {
                        Ok($crate::store::StoredContent {
                            commitment,
                            entry_index: to_u64(entry_index, "entry index")?,
                            field,
                            salt,
                            content,
                        })
                    })
                    .collect()
            }
        }

        impl $store {
            /// Reads stored hashes by index on any connection or transaction.
            async fn read_hashes(
                conn: &mut <$db as sqlx::Database>::Connection,
                tenant_id: i64,
                indexes: &[u64],
            ) -> Result<std::collections::HashMap<u64, $crate::ledger::Hash>, $crate::store::StoreError> {
                use $crate::store::sql::*;
                let mut found = std::collections::HashMap::with_capacity(indexes.len());
                for chunk in indexes.chunks(INSERT_CHUNK) {
                    let mut query =
                        sqlx::QueryBuilder::<$db>::new("SELECT hidx, hash FROM tree_hashes WHERE tenant_id = ");
                    query.push_bind(tenant_id);
                    query.push(" AND hidx IN (");
                    let mut separated = query.separated(", ");
                    for index in chunk {
                        separated.push_bind(to_i64(*index)?);
                    }
                    query.push(")");
                    let rows: Vec<(i64, Vec<u8>)> = query.build_query_as().fetch_all(&mut *conn).await?;
                    for (index, hash) in rows {
                        found.insert(to_u64(index, "stored hash index")?, stored_hash(&hash, "stored hash")?);
                    }
                }
                Ok(found)
            }
        }
    };
}

pub(super) use implement_store;
