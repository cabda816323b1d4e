//! Governance records (pipeline versions, proof bundles, deployments, CI keys) by kind,
//! as the API and span linking read them.

/// Expands to `mod governance` for one backend `$store` (its `pool`).
macro_rules! governance_sql {
    ($store:ident) => {
        /// Governance records by kind.
        pub(super) mod governance {
            use super::$store;
            use $crate::store::sql::to_u64;
            use $crate::store::{GovernanceRecord, GovernanceRow, StoreError, Tenant};

            pub(super) async fn governance(
                store: &$store,
                tenant: &Tenant,
                kind: &str,
            ) -> Result<Vec<GovernanceRecord>, StoreError> {
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
                .fetch_all(&store.pool)
                .await?;
                rows.into_iter()
                    .map(
                        |(id, entry_idx, name, version, pipeline_version_id, environment, valid_from_ns, valid_to_ns, body)| {
                            Ok(GovernanceRecord {
                                row: GovernanceRow {
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
        }
    };
}

pub(in crate::store) use governance_sql;
