//! Storage: one [`Store`] trait, an SQLite and a PostgreSQL implementation that share
//! their bodies (see `sql.rs`), and one conformance suite (`tests/api/store_conformance.rs`)
//! that both pass.
//!
//! The store owns durability and serialization: [`Store::append_batch`] runs in one
//! transaction that holds the tenant's log head (SQLite: the single writer lock and
//! `BEGIN IMMEDIATE`; PostgreSQL: `SELECT ... FOR UPDATE` on the head row), seals the
//! batch with the pure [`crate::ledger::batch::seal_batch`], writes entries, content,
//! interior hashes and the signed checkpoint, and commits. When it returns `Ok`, the
//! entries are durable.

mod postgres;
mod sql;
mod sqlite;

use std::collections::HashMap;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::domain::{Scope, TenantName};
use crate::ingest::ContentItem;
use crate::ledger::batch::PendingEntry;
use crate::ledger::checkpoint::LogSigner;
use crate::ledger::Hash;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored data contradicts itself (a hash is missing, a row is malformed).
    #[error("store is inconsistent: {0}")]
    Corrupt(String),
    /// The requested thing does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Sealing failed.
    #[error("sealing failed: {0}")]
    Seal(#[from] crate::ledger::batch::SealError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(#[from] crate::ledger::checkpoint::CheckpointError),
    /// A database file could not be created private or its mode not be checked or set.
    #[error("cannot create or secure database file {path} (mode 600)")]
    FileMode {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the error is a transient unavailability (retry later, 503).
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(database_error) => {
                let code = database_error.code().unwrap_or_default();
                // PostgreSQL classes 08 (connection exception) and 53 (insufficient
                // resources), shutdowns 57P01-57P03, serialization/deadlock 40001/40P01;
                // SQLite busy (5) and locked (6).
                code.starts_with("08")
                    || code.starts_with("53")
                    || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "5" | "6")
                    || database_error.message().contains("database is locked")
                    // A database closed to connections (ALLOW_CONNECTIONS false, 55000).
                    || database_error.message().contains("not currently accepting connections")
            }
            _ => false,
        }
    }
}

/// A tenant and its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Database id.
    pub id: i64,
    /// Name.
    pub name: TenantName,
    /// Log origin, e.g. `traceledger.local/acme`.
    pub origin: String,
    /// Per-tenant secret for keyed output digests (never leaves the server).
    pub lookup_secret: Vec<u8>,
}

/// An API key as stored: only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id of the key (its prefix), safe to log.
    pub id: String,
    /// Owning tenant.
    pub tenant: Tenant,
    /// SHA-256 of the secret key.
    pub key_hash: Vec<u8>,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
}

/// One item to append.
#[derive(Debug, Clone, Default)]
pub struct AppendItem {
    /// The entry (type and body).
    pub entry: PendingEntry,
    /// Content committed in the body, stored beside the entry.
    pub contents: Vec<ContentItem>,
    /// Trace id (hex) for lookups.
    pub trace_id: Option<String>,
    /// Span id (hex) for lookups.
    pub span_id: Option<String>,
    /// Deduplication key: an item whose key already exists in the log is skipped.
    pub dedupe_key: Option<String>,
    /// Keyed digests (HMAC-SHA-256 with the tenant's lookup secret) of output texts.
    pub output_digests: Vec<[u8; 32]>,
    /// Query index row of a span entry.
    pub span_row: Option<SpanRow>,
    /// Index row of a governance entry.
    pub governance: Option<GovernanceRow>,
}

/// The query index row of a span (derived from its entry; rebuildable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanRow {
    /// Trace id (hex).
    pub trace_id: String,
    /// Span id (hex).
    pub span_id: String,
    /// Parent span id (hex).
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// Canonical kind.
    pub kind: String,
    /// Start, ns since the epoch.
    pub start_ns: i64,
    /// End, ns since the epoch.
    pub end_ns: i64,
    /// Model (response model, else request model).
    pub model: Option<String>,
    /// Provider.
    pub provider: Option<String>,
    /// Input tokens.
    pub input_tokens: Option<i64>,
    /// Output tokens.
    pub output_tokens: Option<i64>,
    /// OTLP status code (0 unset, 1 ok, 2 error).
    pub status_code: i64,
    /// Linked pipeline version id.
    pub pipeline_version_id: Option<String>,
    /// Deployment environment.
    pub environment: Option<String>,
    /// How the link was made: `explicit`, `deployment` or `none`.
    pub link_method: String,
    /// Clear string attributes for equality filters.
    pub attributes: Vec<(String, String)>,
}

/// The index row of a governance entry (pipeline version, proof bundle, deployment, CI key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GovernanceRow {
    /// `pipeline_version`, `proof_bundle`, `deployment` or `ci_key`.
    pub kind: String,
    /// Record id.
    pub id: String,
    /// Name (pipeline name, CI key name).
    pub name: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Pipeline version the record belongs to.
    pub pipeline_version_id: Option<String>,
    /// Environment (deployments).
    pub environment: Option<String>,
    /// Start of validity, ns.
    pub valid_from_ns: Option<i64>,
    /// End of validity, ns.
    pub valid_to_ns: Option<i64>,
    /// The record's entry body, JSON.
    pub body: String,
}

/// A governance record as stored, with its entry index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceRecord {
    /// The row.
    pub row: GovernanceRow,
    /// Its ledger entry.
    pub entry_index: u64,
}

/// A span index row with its entry index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanRecord {
    /// The row (attributes left empty).
    pub row: SpanRow,
    /// Its ledger entry.
    pub entry_index: u64,
}

/// A `spans` row with every column, as the audit reads it (entry index as stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSpanRow {
    /// `entry_idx` as stored.
    pub entry_index: i64,
    /// The columns (attributes left empty).
    pub row: SpanRow,
    /// `duration_ns` as stored (derived from start and end at ingest).
    pub duration_ns: i64,
}

/// The `spans` and `span_attributes` rows of a range of entries, as the audit reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanIndexRows {
    /// `spans` rows by entry index.
    pub spans: Vec<StoredSpanRow>,
    /// `span_attributes` rows `(entry_idx, key, value)` by entry index and key.
    pub attributes: Vec<(i64, String, String)>,
}

/// Filters of a span search; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanQuery {
    /// Kind.
    pub kind: Option<String>,
    /// Trace id.
    pub trace_id: Option<String>,
    /// Minimum duration, ns.
    pub min_duration_ns: Option<i64>,
    /// Maximum duration, ns.
    pub max_duration_ns: Option<i64>,
    /// Model.
    pub model: Option<String>,
    /// Provider.
    pub provider: Option<String>,
    /// Minimum input tokens.
    pub min_input_tokens: Option<i64>,
    /// Minimum output tokens.
    pub min_output_tokens: Option<i64>,
    /// OTLP status code.
    pub status_code: Option<i64>,
    /// Pipeline version id.
    pub pipeline_version_id: Option<String>,
    /// Only linked (true) or only unlinked (false) spans.
    pub linked: Option<bool>,
    /// Environment.
    pub environment: Option<String>,
    /// Start at or after, ns.
    pub start_from_ns: Option<i64>,
    /// Start before, ns.
    pub start_to_ns: Option<i64>,
    /// Attribute equalities.
    pub attributes: Vec<(String, String)>,
    /// Continue after this (start_ns, entry index), newest first.
    pub cursor: Option<(i64, i64)>,
    /// Page size.
    pub limit: i64,
}

impl SpanQuery {
    /// Whether a span row satisfies the filters, as the SQL of `search_spans` applies them
    /// to the index (the cursor and the limit aside). `GET /v1/spans` checks the row
    /// re-derived from each served span's entry with it.
    pub fn matches(&self, row: &SpanRow) -> bool {
        let duration = row.end_ns.saturating_sub(row.start_ns);
        let equal = |wanted: &Option<String>, found: &Option<String>| {
            wanted.as_ref().is_none_or(|wanted| found.as_ref() == Some(wanted))
        };
        let at_least = |wanted: Option<i64>, found: Option<i64>| {
            wanted.is_none_or(|wanted| found.is_some_and(|found| found >= wanted))
        };
        self.kind.as_ref().is_none_or(|kind| *kind == row.kind)
            && self.trace_id.as_ref().is_none_or(|trace_id| *trace_id == row.trace_id)
            && self.min_duration_ns.is_none_or(|min| duration >= min)
            && self.max_duration_ns.is_none_or(|max| duration <= max)
            && equal(&self.model, &row.model)
            && equal(&self.provider, &row.provider)
            && at_least(self.min_input_tokens, row.input_tokens)
            && at_least(self.min_output_tokens, row.output_tokens)
            && self.status_code.is_none_or(|code| code == row.status_code)
            && equal(&self.pipeline_version_id, &row.pipeline_version_id)
            && self
                .linked
                .is_none_or(|linked| linked == row.pipeline_version_id.is_some())
            && equal(&self.environment, &row.environment)
            && self.start_from_ns.is_none_or(|from| row.start_ns >= from)
            && self.start_to_ns.is_none_or(|to| row.start_ns < to)
            && self.attributes.iter().all(|(key, value)| {
                // The index keeps the first value of a key (ON CONFLICT DO NOTHING).
                row.attributes
                    .iter()
                    .find(|(found, _)| found == key)
                    .is_some_and(|(_, found)| found == value)
            })
    }
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendReceipt {
    /// Per item: its index in the log, or the index of the earlier copy when deduplicated.
    pub indexes: Vec<AppendedAs>,
    /// Tree size after the append.
    pub tree_size: u64,
    /// The checkpoint signed for this batch (None when nothing new was appended).
    pub checkpoint: Option<String>,
}

/// The fate of one appended item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendedAs {
    /// Appended at this index.
    New(u64),
    /// Already in the log at this index; not appended again.
    Duplicate(u64),
}

/// An entry row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    /// Index in the log.
    pub index: u64,
    /// The canonical entry bytes.
    pub entry_bytes: Vec<u8>,
    /// The leaf hash as stored.
    pub leaf_hash: Vec<u8>,
}

/// The log head row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHead {
    /// Number of entries.
    pub size: u64,
    /// Leaf hash of the last entry (None for an empty log).
    pub last_leaf: Option<Vec<u8>>,
    /// Root hash of the tree.
    pub root: Vec<u8>,
}

/// A checkpoint row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash as stored.
    pub root: Vec<u8>,
    /// The signed note text.
    pub note: String,
}

/// A content row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContent {
    /// Hex commitment digest.
    pub commitment: String,
    /// Entry that commits to it.
    pub entry_index: u64,
    /// Field path inside the entry.
    pub field: String,
    /// The salt (None once erased).
    pub salt: Option<Vec<u8>>,
    /// The content (None once erased).
    pub content: Option<String>,
}

/// A registered signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Ed25519 public key.
    pub public_key: Vec<u8>,
    /// When it was registered (RFC 3339).
    pub created_at: String,
    /// Whether it signs new checkpoints.
    pub active: bool,
}

/// The storage interface shared by SQLite and PostgreSQL.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Backend name, `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Creates the tenant (and its empty log) if missing; returns it either way.
    async fn ensure_tenant(&self, name: &TenantName, origin: &str) -> Result<Tenant, StoreError>;

    /// The tenant with this name.
    async fn tenant_by_name(&self, name: &TenantName) -> Result<Option<Tenant>, StoreError>;

    /// All tenants, by id.
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// A cheap stamp of the public key directory: `[newest tenant id, signing keys,
    /// active signing keys]`. Tenants are never deleted, so the stamp changes whenever
    /// `GET /v1/keys` would answer differently. Also the readiness probe (one indexed query).
    async fn directory_stamp(&self) -> Result<[i64; 3], StoreError>;

    /// Stores an API key (by hash).
    async fn insert_api_key(
        &self,
        tenant: &Tenant,
        id: &str,
        key_hash: &[u8],
        scopes: &[Scope],
    ) -> Result<(), StoreError>;

    /// The API key with this hash, if it exists and is not revoked.
    async fn api_key_by_hash(&self, key_hash: &[u8]) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Registers a signing public key as the active one (older keys stay, inactive).
    async fn register_signing_key(&self, public_key: &[u8]) -> Result<(), StoreError>;

    /// All signing keys ever registered.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Whether any log of the store has a signed checkpoint (some key signed it).
    async fn has_checkpoints(&self) -> Result<bool, StoreError>;

    /// Appends a batch in one transaction and signs a checkpoint over the new tree.
    /// Entries get the time at which the log head was locked, so `time` never decreases
    /// along the log even with several replicas.
    async fn append_batch(
        &self,
        tenant: &Tenant,
        items: &[AppendItem],
        signer: &LogSigner,
    ) -> Result<AppendReceipt, StoreError>;

    /// The latest checkpoint of the tenant's log.
    async fn latest_checkpoint(&self, tenant: &Tenant) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Every checkpoint of the tenant's log, by size.
    async fn checkpoints(&self, tenant: &Tenant) -> Result<Vec<StoredCheckpoint>, StoreError>;

    /// Current tree size.
    async fn tree_size(&self, tenant: &Tenant) -> Result<u64, StoreError>;

    /// The log head row as stored: size, last leaf hash and root.
    async fn log_head(&self, tenant: &Tenant) -> Result<StoredHead, StoreError>;

    /// Entries with `start <= index < end`, by index.
    async fn entries(&self, tenant: &Tenant, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError>;

    /// Stored interior hashes by stored-hash index (missing ones are absent from the map).
    async fn stored_hashes(&self, tenant: &Tenant, indexes: &[u64]) -> Result<HashMap<u64, Hash>, StoreError>;

    /// Content rows of the log, by entry index then commitment.
    async fn contents(&self, tenant: &Tenant, start: u64, end: u64) -> Result<Vec<StoredContent>, StoreError>;

    /// Content rows of the given entries.
    async fn contents_of(&self, tenant: &Tenant, indexes: &[u64]) -> Result<Vec<StoredContent>, StoreError>;

    /// Entries with the given indexes, by index.
    async fn entries_at(&self, tenant: &Tenant, indexes: &[u64]) -> Result<Vec<StoredEntry>, StoreError>;

    /// Entries (spans and logs) of a trace, by index.
    async fn trace_entries(&self, tenant: &Tenant, trace_id: &str) -> Result<Vec<StoredEntry>, StoreError>;

    /// Entries whose outputs have this keyed digest.
    async fn output_entries(&self, tenant: &Tenant, digest: &[u8]) -> Result<Vec<u64>, StoreError>;

    /// Governance records of a kind, by entry index.
    async fn governance(&self, tenant: &Tenant, kind: &str) -> Result<Vec<GovernanceRecord>, StoreError>;

    /// Span index rows matching a query, newest first.
    async fn search_spans(&self, tenant: &Tenant, query: &SpanQuery) -> Result<Vec<SpanRecord>, StoreError>;

    /// The `spans` and `span_attributes` rows with `start <= entry_idx < end` (audit).
    async fn span_index_rows(&self, tenant: &Tenant, start: u64, end: u64) -> Result<SpanIndexRows, StoreError>;

    /// Every `governance` row of the tenant, any kind, with `entry_idx` as stored (audit).
    async fn governance_rows(&self, tenant: &Tenant) -> Result<Vec<(i64, GovernanceRow)>, StoreError>;

    /// Every `output_index` row `(entry_idx, digest)` of the tenant, by entry index (audit;
    /// the table has no index by entry, so it is read once, whole).
    async fn output_index_rows(&self, tenant: &Tenant) -> Result<Vec<(i64, Vec<u8>)>, StoreError>;

    /// How many `spans`, `span_attributes` and `contents` rows name an entry outside
    /// `0..size` (audit): `(table, count)` for each table with any.
    async fn rows_outside_log(&self, tenant: &Tenant, size: u64) -> Result<Vec<(&'static str, u64)>, StoreError>;
}

/// Current UTC time, RFC 3339 with microseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn tenant_from_row((id, name, origin, lookup_secret): (i64, String, String, Vec<u8>)) -> Result<Tenant, StoreError> {
    let name = TenantName::parse(&name).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    Ok(Tenant {
        id,
        name,
        origin,
        lookup_secret,
    })
}

fn checkpoint_from_row((size, root, note): (i64, Vec<u8>, String)) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: sql::to_u64(size, "checkpoint size")?,
        root,
        note,
    })
}

/// Opens the store named by a database URL: `postgres://...` / `postgresql://...` for
/// PostgreSQL, anything else is taken as an SQLite file path or `sqlite:` URL.
pub async fn open(database_url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(PostgresStore::connect(database_url).await?))
    } else {
        let path = database_url
            .strip_prefix("sqlite://")
            .or_else(|| database_url.strip_prefix("sqlite:"))
            .unwrap_or(database_url);
        Ok(std::sync::Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ))
    }
}
