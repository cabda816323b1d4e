//! SQLite backend: the embedded default. One file in the data directory, WAL mode,
//! `synchronous=FULL` so a commit is on disk before an ingest is acknowledged.
//! SQLite has a single writer, so appends are serialized by a process-wide lock and run
//! as `BEGIN IMMEDIATE` transactions (another process, such as `keys create`, waits on
//! the busy timeout instead of failing).
//!
//! The database, its `-wal` and its `-shm` hold every tenant's content and lookup
//! secret: the database file is created mode 0600 before SQLite opens it (SQLite gives
//! the `-wal` and `-shm` files the database file's mode), and any of the three found
//! accessible by group or others is tightened to 0600 (with a warning), before opening
//! and again after, whatever the process umask.

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
        private_files::create_private(path)?;
        private_files::tighten(path)?;
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
        // WAL mode has created the -wal and -shm files by now.
        private_files::tighten(path)?;
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

/// File modes of the database and its companions.
mod private_files {
    use std::path::{Path, PathBuf};

    use crate::store::StoreError;

    fn mode_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::FileMode {
            path: path.to_owned(),
            source,
        }
    }

    /// The database file, its write-ahead log and its shared-memory index.
    pub fn companions(path: &Path) -> [PathBuf; 3] {
        let with_suffix = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        [path.to_owned(), with_suffix("-wal"), with_suffix("-shm")]
    }

    /// Creates the database file empty with mode 0600 if it does not exist.
    #[cfg(unix)]
    pub fn create_private(path: &Path) -> Result<(), StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(_) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(error) => Err(mode_error(path)(error)),
        }
    }

    #[cfg(not(unix))]
    pub fn create_private(_path: &Path) -> Result<(), StoreError> {
        Ok(())
    }

    /// Sets each existing file of the three that group or others may access to 0600.
    #[cfg(unix)]
    pub fn tighten(path: &Path) -> Result<(), StoreError> {
        use std::os::unix::fs::PermissionsExt;
        for file in companions(path) {
            let metadata = match std::fs::metadata(&file) {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(mode_error(&file)(error)),
            };
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 == 0 {
                continue;
            }
            tracing::warn!(
                file = %file.display(),
                mode = format!("{mode:o}"),
                "database file was accessible by group or others; setting mode 600"
            );
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(mode_error(&file))?;
        }
        Ok(())
    }

    #[cfg(not(unix))]
    pub fn tighten(_path: &Path) -> Result<(), StoreError> {
        Ok(())
    }
}
