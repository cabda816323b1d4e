//! Configuration: command-line flags, each with an environment variable behind it
//! (flags win). Secrets are never printed: `Debug` of the database URL hides its password.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::sequencer::SequencerConfig;

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./traceledger-data";
/// Default origin prefix; a tenant's origin is `<prefix>/<tenant>`.
pub const DEFAULT_ORIGIN_PREFIX: &str = "traceledger.local";
/// Default maximum request body (16 MiB), also applied after decompression.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Default time to deliver a complete request head.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a connection may stay with nothing in flight.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time to answer a request, receiving its body included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap of open connections per listener.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default largest OTLP/gRPC message after decompression (4 MiB, the OTel Collector's).
pub const DEFAULT_GRPC_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Where the data lives.
#[derive(Clone, clap::Args)]
pub struct StoreArgs {
    /// Data directory: SQLite database and the generated signing key.
    #[arg(long, env = "TRACELEDGER_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (`postgres://...`); when set, it replaces the SQLite database.
    #[arg(long, env = "TRACELEDGER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Origin prefix of tenant logs: a tenant's log is `<prefix>/<tenant>`.
    #[arg(long, env = "TRACELEDGER_ORIGIN_PREFIX", default_value = DEFAULT_ORIGIN_PREFIX)]
    pub origin_prefix: String,
}

impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreArgs")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("origin_prefix", &self.origin_prefix)
            .finish()
    }
}

impl StoreArgs {
    /// The database URL actually used: the PostgreSQL URL, or the SQLite file in the data dir.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => self.data_dir.join("traceledger.db").to_string_lossy().into_owned(),
        }
    }

    /// The origin of a tenant's log.
    pub fn origin_for(&self, tenant: &crate::domain::TenantName) -> String {
        format!("{}/{}", self.origin_prefix.trim_end_matches('/'), tenant)
    }

    /// A printable description of the store (no secrets).
    pub fn describe(&self) -> String {
        match &self.database_url {
            Some(url) => format!("postgres {}", redact_url(url)),
            None => format!("sqlite {}", self.data_dir.join("traceledger.db").display()),
        }
    }
}

/// Hides the password of a URL like `postgres://user:secret@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &credentials[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Configuration of `traceledger serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Storage.
    #[command(flatten)]
    pub store: StoreArgs,
    /// HTTP listen address (OTLP/HTTP and the API).
    #[arg(long, env = "TRACELEDGER_LISTEN", default_value = "127.0.0.1:4318")]
    pub listen: SocketAddr,
    /// OTLP/gRPC listen address.
    #[arg(long, env = "TRACELEDGER_GRPC_LISTEN", default_value = "127.0.0.1:4317")]
    pub grpc_listen: SocketAddr,
    /// Ed25519 signing key (PKCS#8 PEM, mode 0600); default `<data-dir>/signing-key.pem`,
    /// generated on first start. Replicas sharing a PostgreSQL database share this file.
    #[arg(long, env = "TRACELEDGER_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
    /// Largest accepted request body in bytes, also after decompression (413 above).
    #[arg(long, env = "TRACELEDGER_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most spans in one request (more: 413, so the client sends smaller batches).
    #[arg(long, env = "TRACELEDGER_MAX_SPANS_PER_REQUEST", default_value_t = 50_000)]
    pub max_spans_per_request: usize,
    /// Largest attribute value in bytes; a span with a larger one is rejected (partial success).
    #[arg(long, env = "TRACELEDGER_MAX_ATTRIBUTE_BYTES", default_value_t = 1024 * 1024)]
    pub max_attribute_bytes: usize,
    /// Ingest requests that may wait per tenant before 429 is answered.
    #[arg(long, env = "TRACELEDGER_QUEUE_DEPTH", default_value_t = 1024)]
    pub queue_depth: usize,
    /// Most entries merged into one commit.
    #[arg(long, env = "TRACELEDGER_MAX_BATCH_ENTRIES", default_value_t = 8192)]
    pub max_batch_entries: usize,
    /// Time a client has to send a complete request head, from connecting (or from the
    /// first byte of a later request on a kept-alive connection); then it is closed.
    /// `10s`, `500ms`, `2m`; a bare number is seconds.
    #[arg(long, env = "TRACELEDGER_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// A connection with nothing in flight (HTTP keep-alive, HTTP/2 or gRPC without an
    /// open stream), or whose peer stops reading a response, is closed after this.
    #[arg(long, env = "TRACELEDGER_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// A request must be answered within this, receiving its body included: HTTP 408
    /// if the body had not all arrived, else 503 with Retry-After; gRPC CANCELLED.
    #[arg(long, env = "TRACELEDGER_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Most open connections per listener (HTTP and gRPC each). When full, the longest
    /// idle connection is closed for a new one; if all are busy the new one is closed.
    /// Lowered at start to fit the open-file limit.
    #[arg(long, env = "TRACELEDGER_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = parse_max_connections)]
    pub max_connections: usize,
    /// Largest OTLP/gRPC message in bytes, after decompression (RESOURCE_EXHAUSTED above).
    #[arg(long, env = "TRACELEDGER_GRPC_MAX_MESSAGE_BYTES", default_value_t = DEFAULT_GRPC_MAX_MESSAGE_BYTES)]
    pub grpc_max_message_bytes: usize,
    /// Memory all ingest requests in flight may hold together, bodies and their decoded
    /// and normalized estimate (HTTP and gRPC): past it 429 / RESOURCE_EXHAUSTED with a
    /// retry delay; a request that needs more than all of it gets 413.
    #[arg(
        long,
        env = "TRACELEDGER_INGEST_MEMORY_BUDGET_BYTES",
        default_value_t = crate::intake::admission::DEFAULT_MEMORY_BUDGET_BYTES
    )]
    pub ingest_memory_budget_bytes: usize,
}

/// Parses a connection cap: a positive number.
fn parse_max_connections(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("{text:?} is not a positive number of connections")),
        Ok(count) => Ok(count),
    }
}

/// Parses `10s`, `250ms`, `2m`, `1h` or a bare number of seconds; zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10s, 250ms or 2m"))?;
    let duration = match unit.trim() {
        "" | "s" => Duration::from_secs(value),
        "ms" => Duration::from_millis(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        "h" => Duration::from_secs(value.saturating_mul(3600)),
        other => return Err(format!("unknown unit {other:?} in {text:?} (use ms, s, m or h)")),
    };
    if duration.is_zero() {
        return Err("a timeout must be greater than zero".into());
    }
    Ok(duration)
}

impl ServeArgs {
    /// Defaults for a data directory (tests and the demo).
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        ServeArgs {
            store: StoreArgs {
                data_dir,
                database_url: None,
                origin_prefix: DEFAULT_ORIGIN_PREFIX.into(),
            },
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            signing_key_file: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_spans_per_request: 50_000,
            max_attribute_bytes: 1024 * 1024,
            queue_depth: 1024,
            max_batch_entries: 8192,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            grpc_max_message_bytes: DEFAULT_GRPC_MAX_MESSAGE_BYTES,
            ingest_memory_budget_bytes: crate::intake::admission::DEFAULT_MEMORY_BUDGET_BYTES,
        }
    }

    /// Connection limits of each listener, as configured (before fitting them to the
    /// open-file limit).
    pub fn connection_limits(&self) -> crate::connections::ConnectionLimits {
        crate::connections::ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections.max(1),
        }
    }

    /// The signing key path.
    pub fn signing_key_path(&self) -> PathBuf {
        self.signing_key_file
            .clone()
            .unwrap_or_else(|| self.store.data_dir.join(crate::signing::KEY_FILE_NAME))
    }

    /// Ingest limits.
    pub fn limits(&self) -> crate::ingest::IngestLimits {
        crate::ingest::IngestLimits {
            max_items_per_request: self.max_spans_per_request.max(1),
            max_attribute_bytes: self.max_attribute_bytes,
        }
    }

    /// Sequencer tuning.
    pub fn sequencer(&self) -> SequencerConfig {
        SequencerConfig {
            queue_depth: self.queue_depth.max(1),
            max_batch_entries: self.max_batch_entries.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn flag_defaults_match_for_data_dir() {
        use clap::Parser;
        #[derive(Parser)]
        struct Command {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let parsed = Command::try_parse_from(["traceledger"]).expect("defaults parse").serve;
        let defaults = ServeArgs::for_data_dir(PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(parsed.header_read_timeout, defaults.header_read_timeout);
        assert_eq!(parsed.idle_timeout, defaults.idle_timeout);
        assert_eq!(parsed.request_timeout, defaults.request_timeout);
        assert_eq!(parsed.max_connections, defaults.max_connections);
        assert_eq!(parsed.max_body_bytes, defaults.max_body_bytes);
        assert_eq!(parsed.queue_depth, defaults.queue_depth);
    }
}
