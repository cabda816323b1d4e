//! Tenants (created with their lookup secret and an empty log head), API keys, and the
//! signing keys the store has been run with.

/// Expands to `mod tenants` for one backend `$store` (its `pool`).
macro_rules! tenant_sql {
    ($store:ident) => {
        /// Tenants, API keys and signing keys.
        pub(super) mod tenants {
            use super::$store;
            use $crate::domain::{Scope, TenantName};
            use $crate::store::{now_rfc3339, tenant_from_row, ApiKeyRecord, SigningKeyRecord, StoreError, Tenant};

            pub(super) async fn ensure_tenant(
                store: &$store,
                name: &TenantName,
                origin: &str,
            ) -> Result<Tenant, StoreError> {
                if let Some(tenant) = tenant_by_name(store, name).await? {
                    return Ok(tenant);
                }
                let mut secret = vec![0u8; 32];
                rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
                let mut tx = store.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO tenants (name, origin, lookup_secret, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name.as_str())
                .bind(origin)
                .bind(&secret)
                .bind(now_rfc3339())
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
                tenant_by_name(store, name)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("tenant {name}")))
            }

            pub(super) async fn tenant_by_name(
                store: &$store,
                name: &TenantName,
            ) -> Result<Option<Tenant>, StoreError> {
                let row: Option<(i64, String, String, Vec<u8>)> =
                    sqlx::query_as("SELECT id, name, origin, lookup_secret FROM tenants WHERE name = $1")
                        .bind(name.as_str())
                        .fetch_optional(&store.pool)
                        .await?;
                row.map(tenant_from_row).transpose()
            }

            pub(super) async fn tenants(store: &$store) -> Result<Vec<Tenant>, StoreError> {
                let rows: Vec<(i64, String, String, Vec<u8>)> =
                    sqlx::query_as("SELECT id, name, origin, lookup_secret FROM tenants ORDER BY id")
                        .fetch_all(&store.pool)
                        .await?;
                rows.into_iter().map(tenant_from_row).collect()
            }

            pub(super) async fn directory_stamp(store: &$store) -> Result<[i64; 3], StoreError> {
                let (newest_tenant, keys, active): (i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COALESCE(MAX(id), 0) FROM tenants), \
                            (SELECT COUNT(*) FROM signing_keys), \
                            (SELECT COUNT(*) FROM signing_keys WHERE active)",
                )
                .fetch_one(&store.pool)
                .await?;
                Ok([newest_tenant, keys, active])
            }

            pub(super) async fn insert_api_key(
                store: &$store,
                tenant: &Tenant,
                id: &str,
                key_hash: &[u8],
                scopes: &[Scope],
            ) -> Result<(), StoreError> {
                let scope_text = scopes
                    .iter()
                    .map(|scope| scope.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                sqlx::query(
                    "INSERT INTO api_keys (id, tenant_id, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(tenant.id)
                .bind(key_hash)
                .bind(scope_text)
                .bind(now_rfc3339())
                .execute(&store.pool)
                .await?;
                Ok(())
            }

            pub(super) async fn api_key_by_hash(
                store: &$store,
                key_hash: &[u8],
            ) -> Result<Option<ApiKeyRecord>, StoreError> {
                let row: Option<(String, Vec<u8>, String, i64, String, String, Vec<u8>)> = sqlx::query_as(
                    "SELECT k.id, k.key_hash, k.scopes, t.id, t.name, t.origin, t.lookup_secret \
                     FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
                     WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
                )
                .bind(key_hash)
                .fetch_optional(&store.pool)
                .await?;
                let Some((id, stored_hash, scope_text, tenant_id, name, origin, secret)) = row else {
                    return Ok(None);
                };
                let tenant = tenant_from_row((tenant_id, name, origin, secret))?;
                let scopes = scope_text
                    .split_whitespace()
                    .map(|text| text.parse::<Scope>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                Ok(Some(ApiKeyRecord {
                    id,
                    tenant,
                    key_hash: stored_hash,
                    scopes,
                }))
            }

            pub(super) async fn register_signing_key(store: &$store, public_key: &[u8]) -> Result<(), StoreError> {
                let mut tx = store.pool.begin().await?;
                let existing: Option<bool> =
                    sqlx::query_scalar("SELECT active FROM signing_keys WHERE public_key = $1")
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
                .bind(now_rfc3339())
                .bind(true)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            pub(super) async fn signing_keys(store: &$store) -> Result<Vec<SigningKeyRecord>, StoreError> {
                let rows: Vec<(Vec<u8>, String, bool)> =
                    sqlx::query_as("SELECT public_key, created_at, active FROM signing_keys ORDER BY created_at")
                        .fetch_all(&store.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|(public_key, created_at, active)| SigningKeyRecord {
                        public_key,
                        created_at,
                        active,
                    })
                    .collect())
            }

            pub(super) async fn has_checkpoints(store: &$store) -> Result<bool, StoreError> {
                let count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM checkpoints LIMIT 1) AS any_checkpoint")
                        .fetch_one(&store.pool)
                        .await?;
                Ok(count > 0)
            }
        }
    };
}

pub(in crate::store) use tenant_sql;
