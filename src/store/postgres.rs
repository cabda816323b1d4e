//! PostgreSQL backend: the production store and the way past one machine. Any number of
//! traceledger processes may append to one database: each append locks the tenant's
//! log head row (`SELECT ... FOR UPDATE`), so appends to one log are serialized by the
//! database and the log never forks.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

use super::sql::implement_store;
use super::StoreError;

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    const LOCK_HEAD_SQL: &'static str = "SELECT size, last_leaf FROM log_heads WHERE tenant_id = $1 FOR UPDATE";

    /// Connects, with a bounded pool and timeouts, and runs migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(300))
            .connect(url)
            .await?;
        // Serialize concurrent migrators (several replicas starting at once).
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    /// The underlying pool (tests use it to tamper with rows).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_append(&self, _tenant_id: i64) -> Result<((), Transaction<'static, Postgres>), StoreError> {
        let tx = self.pool.begin().await?;
        Ok(((), tx))
    }
}

implement_store!(PostgresStore, Postgres, "postgres");
