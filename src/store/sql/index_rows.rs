//! The index tables as stored (`spans`, `span_attributes`, `governance`,
//! `output_index`) and rows that name entries outside the log: what the audit compares
//! with the rows it re-derives from the entries.

/// Expands to `mod index_rows` for one backend `$store` (its `pool`).
macro_rules! index_row_sql {
    ($store:ident) => {
        /// The index tables as stored, for the audit to compare with its re-derivation.
        pub(super) mod index_rows {
            use super::$store;
            use $crate::store::sql::{to_i64, to_u64};
            use $crate::store::{GovernanceRow, SpanIndexRows, SpanRow, StoreError, StoredSpanRow, Tenant};

            pub(super) async fn span_index_rows(
                store: &$store,
                tenant: &Tenant,
                start: u64,
                end: u64,
            ) -> Result<SpanIndexRows, StoreError> {
                let rows = sqlx::query(
                    "SELECT entry_idx, trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, duration_ns, \
                     model, provider, input_tokens, output_tokens, status_code, pipeline_version_id, environment, \
                     link_method FROM spans WHERE tenant_id = $1 AND entry_idx >= $2 AND entry_idx < $3 ORDER BY entry_idx",
                )
                .bind(tenant.id)
                .bind(to_i64(start)?)
                .bind(to_i64(end)?)
                .fetch_all(&store.pool)
                .await?;
                let mut spans = Vec::with_capacity(rows.len());
                for row in rows {
                    use sqlx::Row;
                    spans.push(StoredSpanRow {
                        entry_index: row.try_get(0)?,
                        duration_ns: row.try_get(8)?,
                        row: SpanRow {
                            trace_id: row.try_get(1)?,
                            span_id: row.try_get(2)?,
                            parent_span_id: row.try_get(3)?,
                            name: row.try_get(4)?,
                            kind: row.try_get(5)?,
                            start_ns: row.try_get(6)?,
                            end_ns: row.try_get(7)?,
                            model: row.try_get(9)?,
                            provider: row.try_get(10)?,
                            input_tokens: row.try_get(11)?,
                            output_tokens: row.try_get(12)?,
                            status_code: row.try_get(13)?,
                            pipeline_version_id: row.try_get(14)?,
                            environment: row.try_get(15)?,
                            link_method: row.try_get(16)?,
                            attributes: Vec::new(),
                        },
                    });
                }
                let attributes: Vec<(i64, String, String)> = sqlx::query_as(
                    "SELECT entry_idx, key, value FROM span_attributes \
                     WHERE tenant_id = $1 AND entry_idx >= $2 AND entry_idx < $3 ORDER BY entry_idx, key",
                )
                .bind(tenant.id)
                .bind(to_i64(start)?)
                .bind(to_i64(end)?)
                .fetch_all(&store.pool)
                .await?;
                Ok(SpanIndexRows { spans, attributes })
            }

            pub(super) async fn governance_rows(
                store: &$store,
                tenant: &Tenant,
            ) -> Result<Vec<(i64, GovernanceRow)>, StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(
                    String,
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
                    "SELECT kind, id, entry_idx, name, version, pipeline_version_id, environment, valid_from_ns, \
                     valid_to_ns, body FROM governance WHERE tenant_id = $1 ORDER BY entry_idx, kind, id",
                )
                .bind(tenant.id)
                .fetch_all(&store.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(kind, id, entry_idx, name, version, pipeline_version_id, environment, valid_from_ns, valid_to_ns, body)| {
                            (
                                entry_idx,
                                GovernanceRow {
                                    kind,
                                    id,
                                    name,
                                    version,
                                    pipeline_version_id,
                                    environment,
                                    valid_from_ns,
                                    valid_to_ns,
                                    body,
                                },
                            )
                        },
                    )
                    .collect())
            }

            pub(super) async fn output_index_rows(
                store: &$store,
                tenant: &Tenant,
            ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT entry_idx, digest FROM output_index WHERE tenant_id = $1 ORDER BY entry_idx, digest",
                )
                .bind(tenant.id)
                .fetch_all(&store.pool)
                .await?)
            }

            pub(super) async fn rows_outside_log(
                store: &$store,
                tenant: &Tenant,
                size: u64,
            ) -> Result<Vec<(&'static str, u64)>, StoreError> {
                let mut outside = Vec::new();
                for (table, sql) in [
                    ("spans", "SELECT COUNT(*) FROM spans WHERE tenant_id = $1 AND (entry_idx < 0 OR entry_idx >= $2)"),
                    (
                        "span_attributes",
                        "SELECT COUNT(*) FROM span_attributes WHERE tenant_id = $1 AND (entry_idx < 0 OR entry_idx >= $2)",
                    ),
                    ("contents", "SELECT COUNT(*) FROM contents WHERE tenant_id = $1 AND (entry_idx < 0 OR entry_idx >= $2)"),
                ] {
                    let count: i64 = sqlx::query_scalar(sql)
                        .bind(tenant.id)
                        .bind(to_i64(size)?)
                        .fetch_one(&store.pool)
                        .await?;
                    if count > 0 {
                        outside.push((table, to_u64(count, "row count")?));
                    }
                }
                Ok(outside)
            }
        }
    };
}

pub(in crate::store) use index_row_sql;
