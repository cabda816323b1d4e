//! The span search: every filter of a [`crate::store::SpanQuery`] as one SQL query over
//! the `spans` index, newest first, with keyset paging.

/// Expands to `mod spans` for one backend: `$store` (its `pool`) and its database `$db`.
macro_rules! span_sql {
    ($store:ident, $db:ident) => {
        /// The span search.
        pub(super) mod spans {
            use super::{$store, $db};
            use $crate::store::sql::to_u64;
            use $crate::store::{SpanQuery, SpanRecord, SpanRow, StoreError, Tenant};

            pub(super) async fn search_spans(
                store: &$store,
                tenant: &Tenant,
                filter: &SpanQuery,
            ) -> Result<Vec<SpanRecord>, StoreError> {
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
                )> = query.build_query_as().fetch_all(&store.pool).await?;
                rows.into_iter()
                    .map(|row| {
                        Ok(SpanRecord {
                            entry_index: to_u64(row.0, "entry index")?,
                            row: SpanRow {
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
        }
    };
}

pub(in crate::store) use span_sql;
