//! SQLite backend: the embedded default. One file in the data directory, WAL mode,
//! `synchronous=FULL` so a commit is on disk before an ingest is acknowledged.
//! SQLite has a single writer, so appends are serialized by a process-wide lock and run
//! as `BEGIN IMMEDIATE` transactions (another process, such as `keys create`, waits on
//! the busy timeout instead of failing).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::sql::implement_store;
use super::StoreError;

/// The SQLite store.
pub struct SqliteStore {
    pool: SqlitePool,
    write_lock: Mutex<()>,
}

impl SqliteStore {
    /// The head row is read inside a `BEGIN IMMEDIATE` transaction: already exclusive.
    const LOCK_HEAD_SQL: &'static str = "SELECT size, last_leaf FROM log_heads WHERE tenant_id = $1";

    /// Opens (creating if needed) the database file at `path` and runs migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // 64 MiB page cache per connection (the default 2 MiB is outgrown by the
            // indexes of a few hundred thousand entries).
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            write_lock: Mutex::new(()),
        })
    }

    /// The underlying pool (tests use it to tamper with rows).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_append(
        &self,
        _tenant_id: i64,
    ) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Sqlite>), StoreError> {
        let guard = self.write_lock.lock().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((guard, tx))
    }
}

implement_store!(SqliteStore, Sqlite, "sqlite");
