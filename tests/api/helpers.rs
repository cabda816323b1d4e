//! Test harness: `spawn_app(backend)` gives a running server with a fresh database.
//!
//! PostgreSQL tests create a fresh database per test on the server named by
//! `TRACELEDGER_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`). If
//! that server is unreachable the test FAILS — it never skips.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::Connection;
use traceledger::app::{self, RunningApp};
use traceledger::config::ServeArgs;
use traceledger::domain::{Scope, TenantName};
use traceledger::store::{Store, Tenant};

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body `fn(Backend) -> impl Future` once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}
pub(crate) use both_backends;

/// The admin PostgreSQL URL used to create per-test databases.
pub fn pg_admin_url() -> String {
    std::env::var("TRACELEDGER_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Creates a fresh, empty PostgreSQL database and returns its URL.
pub async fn fresh_pg_database() -> String {
    let admin = pg_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|error| {
        panic!("PostgreSQL is required for the postgres tests but {admin} is unreachable: {error}. Run scripts/test.sh, which starts it.")
    });
    let name = format!("tl_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap_or(admin);
    format!("{base}/{name}")
}

/// A test's private directory and, on PostgreSQL, its private database: both are
/// removed when it is dropped — when the test ends, passed or failed.
pub struct TestDir {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl TestDir {
    /// A fresh directory and, for PostgreSQL, a fresh database; the server arguments
    /// that use them.
    pub async fn fresh(backend: Backend) -> (TestDir, ServeArgs) {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = fresh_args(backend, dir.path()).await;
        let test_dir = TestDir {
            dir,
            database_url: args.store.database_url.clone(),
        };
        (test_dir, args)
    }

    /// A fresh directory and, for PostgreSQL, the URL of a fresh database.
    pub async fn fresh_database(backend: Backend) -> (TestDir, Option<String>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = match backend {
            Backend::Postgres => Some(fresh_pg_database().await),
            Backend::Sqlite => None,
        };
        let url = database_url.clone();
        (TestDir { dir, database_url }, url)
    }
}

impl std::ops::Deref for TestDir {
    type Target = tempfile::TempDir;

    fn deref(&self) -> &tempfile::TempDir {
        &self.dir
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let Some(url) = self.database_url.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread
        // with a runtime of its own. FORCE ends the connections a stopped (or panicked)
        // server still holds.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let name = url.rsplit('/').next().unwrap_or_default().to_owned();
                let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop the test database (scripts/test.sh drops leftovers at start)");
        }
    }
}

/// A running test server.
pub struct TestApp {
    pub app: RunningApp,
    pub dir: TestDir,
    pub backend: Backend,
    pub args: ServeArgs,
    pub client: reqwest::Client,
}

/// Server arguments for a fresh database of `backend` in `dir`.
pub async fn fresh_args(backend: Backend, dir: &Path) -> ServeArgs {
    let mut args = ServeArgs::for_data_dir(dir.join("data"));
    if backend == Backend::Postgres {
        args.store.database_url = Some(fresh_pg_database().await);
    }
    args
}

/// Spawns the real server on port 0 with a fresh database.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`spawn_app`], adjusting the arguments first.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let (dir, mut args) = TestDir::fresh(backend).await;
    adjust(&mut args);
    let app = app::spawn(&args).await.expect("spawn app");
    TestApp {
        app,
        dir,
        backend,
        args,
        client: reqwest::Client::new(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.app.url(), path)
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.app.state.store.clone()
    }

    /// The tenant, created if needed.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let name = TenantName::parse(name).expect("tenant name");
        self.store()
            .ensure_tenant(&name, &self.args.store.origin_for(&name))
            .await
            .expect("tenant")
    }

    /// A new API key for `tenant` with `scopes`.
    pub async fn key(&self, tenant: &str, scopes: &[Scope]) -> String {
        let tenant = self.tenant(tenant).await;
        let key = traceledger::auth::generate_key();
        self.store()
            .insert_api_key(&tenant, &key.id, &key.hash, scopes)
            .await
            .expect("insert key");
        key.secret
    }

    /// Posts an OTLP body to `/v1/traces`.
    pub async fn post_traces(
        &self,
        key: &str,
        content_type: &str,
        content_encoding: Option<&str>,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/v1/traces"))
            .bearer_auth(key)
            .header("Content-Type", content_type)
            .body(body);
        if let Some(encoding) = content_encoding {
            request = request.header("Content-Encoding", encoding);
        }
        request.send().await.expect("request")
    }

    /// GET with a bearer key.
    pub async fn get(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }

    /// Stops the server.
    pub async fn stop(self) -> TestDir {
        self.app.stop().await.expect("stop");
        self.dir
    }
}

/// POSTs `body` as JSON with a bearer key; the status and the JSON answer (null if none).
pub async fn post_json(app: &TestApp, key: &str, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

/// The active published verifier key of the log `origin` (`GET /v1/keys`).
pub async fn verifier_key_for(app: &TestApp, origin: &str) -> String {
    let keys: serde_json::Value = app
        .client
        .get(app.url("/v1/keys"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("key list");
    keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["origin"] == origin && key["active"] == true)
        .and_then(|key| key["verifier_key"].as_str())
        .expect("active key for origin")
        .to_owned()
}

/// The shared fixtures directory (`../shared/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
}

/// Reads a fixture file.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = fixtures_dir().join(path);
    std::fs::read(&full).unwrap_or_else(|error| panic!("fixture {}: {error}", full.display()))
}

/// Builds a small protobuf ExportTraceServiceRequest with `count` spans of one trace.
pub fn synthetic_request(trace_seed: u8, count: usize) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;
    let string_attr = |key: &str, value: &str| KeyValue {
        key_strindex: 0,
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
    };
    let spans = (0..count)
        .map(|i| {
            let mut span_id = [0u8; 8];
            span_id[..4].copy_from_slice(&(i as u32 + 1).to_be_bytes());
            span_id[7] = trace_seed;
            Span {
                trace_id: [trace_seed.max(1); 16].to_vec(),
                span_id: span_id.to_vec(),
                name: format!("chat {i}"),
                kind: 3,
                start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                end_time_unix_nano: 1_700_000_000_000_100_000 + i as u64,
                attributes: vec![
                    string_attr("gen_ai.operation.name", "chat"),
                    string_attr("gen_ai.request.model", "gpt-4o-mini"),
                    string_attr("gen_ai.input.messages", &format!("[{{\"role\":\"user\",\"parts\":[{{\"type\":\"text\",\"content\":\"secret question {i}\"}}]}}]")),
                ],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// Runs a statement directly on the app's database (tests that tamper with rows).
pub async fn exec_sql(app: &TestApp, sql: &str) {
    match &app.args.store.database_url {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect pg");
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .expect("exec");
        }
        None => {
            let path = app.args.store.data_dir.join("traceledger.db");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
                .await
                .expect("connect sqlite");
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .expect("exec");
        }
    }
}

/// Rewrites the entry bytes of entry `index` of the first tenant that has it.
pub async fn tamper_entry_bytes(app: &TestApp, index: i64, change: impl Fn(Vec<u8>) -> Vec<u8>) {
    macro_rules! rewrite {
        ($conn:expr) => {{
            let bytes: Vec<u8> = sqlx::query_scalar("SELECT entry_bytes FROM entries WHERE idx = $1")
                .bind(index)
                .fetch_one(&mut $conn)
                .await
                .expect("read entry");
            sqlx::query("UPDATE entries SET entry_bytes = $1 WHERE idx = $2")
                .bind(change(bytes))
                .bind(index)
                .execute(&mut $conn)
                .await
                .expect("write entry");
        }};
    }
    match &app.args.store.database_url {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect pg");
            rewrite!(conn)
        }
        None => {
            let path = app.args.store.data_dir.join("traceledger.db");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
                .await
                .expect("connect sqlite");
            rewrite!(conn)
        }
    }
}

/// Arguments for running the `traceledger` binary against the app's store.
pub fn store_cli_args(args: &ServeArgs) -> Vec<String> {
    match &args.store.database_url {
        Some(url) => vec!["--database-url".into(), url.clone()],
        None => vec!["--data-dir".into(), args.store.data_dir.display().to_string()],
    }
}

/// Runs the `traceledger` binary; returns (exit code, stdout, stderr).
pub async fn run_cli(arguments: &[String]) -> (i32, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .args(arguments)
        .env("TRACELEDGER_LOG", "warn")
        .output()
        .await
        .expect("run traceledger");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `traceledger audit` against the store of `args` as an operator would: the store
/// flags plus the data directory (where the default signing key file lives, also for
/// PostgreSQL), then `extra`. Returns (exit code, stdout + stderr).
pub async fn audit_cli(args: &ServeArgs, extra: &[String]) -> (i32, String) {
    let mut arguments = vec!["audit".to_string()];
    arguments.extend(store_cli_args(args));
    if args.store.database_url.is_some() {
        arguments.extend(["--data-dir".into(), args.store.data_dir.display().to_string()]);
    }
    arguments.extend(extra.iter().cloned());
    let (code, stdout, stderr) = run_cli(&arguments).await;
    (code, format!("{stdout}{stderr}"))
}
