//! Interop with implementations other than ours: real Python OpenTelemetry clients send
//! telemetry to the running server, then an independent verifier (tests/interop/tlverify.py)
//! checks the checkpoint signature (pyca/cryptography Ed25519), the entry bytes (the
//! `rfc8785` package) and every inclusion and consistency proof (its own RFC 9162 code)
//! against the byte contracts of DESIGN §3/§7, and compares each entry with what the client
//! exported. One script per client, all offline (no model, no network beyond loopback):
//!
//! - `export_and_verify.py`: the OTLP/HTTP protobuf span exporter (a RAG-shaped trace);
//! - `otlp_json_http.py`: the OTLP/HTTP JSON span exporter (`application/json`);
//! - `otlp_grpc.py`: the OTLP/gRPC span exporter (grpcio, h2c, gzip, bearer metadata);
//! - `langchain_rag.py`: LangChain (fake chat model, in-memory retriever) traced by
//!   `openinference-instrumentation-langchain`, exported over OTLP/HTTP protobuf;
//! - `otlp_logs.py`: the SDK's LoggerProvider + OTLP/HTTP log exporter, one GenAI event
//!   linked to its span.
//!
//! The Python environment comes from `scripts/python-env.sh` (pinned
//! tests/interop/requirements.txt, cached in target/interop-venv), or from the interpreter
//! named by `TRACELEDGER_PYTHON`. If it cannot be set up the test FAILS — it never skips.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use tokio::process::Command;
use traceledger::domain::Scope;

use crate::helpers::{spawn_app, Backend, TestApp};

/// Spans of the RAG-shaped trace of `tlverify.export_rag_trace` (root `invoke_workflow
/// rag_qa`, `retrieval docs`, `chat gpt-4o-mini`), sent by the protobuf, JSON and gRPC runs.
const SPANS: u64 = 3;
/// The fake chat model's name in `langchain_rag.py`.
const LANGCHAIN_MODEL: &str = "fake-rag-chat-1";
/// Creating the venv from scratch downloads wheels from PyPI.
const SETUP_TIMEOUT: Duration = Duration::from_secs(900);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn describe(output: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn run(mut command: Command, timeout: Duration, what: &str) -> Output {
    command.kill_on_drop(true).stdin(std::process::Stdio::null());
    match tokio::time::timeout(timeout, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => panic!("{what}: could not run: {error}"),
        Err(_) => panic!("{what}: did not finish within {timeout:?}"),
    }
}

/// The Python interpreter of the interop venv: `TRACELEDGER_PYTHON`, or the one that
/// `scripts/python-env.sh` creates (idempotent; a no-op when the venv is up to date).
async fn interop_python() -> PathBuf {
    if let Some(python) = std::env::var_os("TRACELEDGER_PYTHON").filter(|value| !value.is_empty()) {
        return PathBuf::from(python);
    }
    let script = repo_dir().join("scripts/python-env.sh");
    let mut command = Command::new("bash");
    command.arg(&script).current_dir(repo_dir());
    let output = run(command, SETUP_TIMEOUT, "scripts/python-env.sh").await;
    if !output.status.success() {
        panic!(
            "the interop test needs the Python venv, and scripts/python-env.sh failed (PyPI must be reachable, \
             or set TRACELEDGER_PYTHON to a python with tests/interop/requirements.txt installed):\n{}",
            describe(&output)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let python = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_else(|| panic!("scripts/python-env.sh printed no python path:\n{}", describe(&output)));
    let python = PathBuf::from(python);
    assert!(
        python.is_file(),
        "scripts/python-env.sh printed {}, which is not a file",
        python.display()
    );
    python
}

/// What a script reports on its `INTEROP_RESULT {json}` line.
#[derive(Debug, serde::Deserialize)]
struct InteropResult {
    spans: u64,
    #[serde(default)]
    logs: u64,
    trace_id: String,
    tree_size: u64,
    origin: String,
    /// `otlp_json_http.py`: HTTP requests seen on the wire.
    #[serde(default)]
    requests: Option<u64>,
    /// `otlp_grpc.py`: gzip-compressed gRPC messages seen on the wire.
    #[serde(default)]
    messages: Option<u64>,
    /// `langchain_rag.py`: entry kinds of the trace, with counts.
    #[serde(default)]
    kinds: BTreeMap<String, u64>,
    #[serde(default)]
    request_model: Option<String>,
    #[serde(default)]
    document_ids: Vec<String>,
}

/// Which transport a script exports over (the gRPC one also gets `--grpc host:port`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Http,
    Grpc,
}

/// Runs `tests/interop/<script>` against a fresh `backend` server, then checks on the server
/// side that exactly what the script reported was committed (tree size = spans + logs,
/// the checkpoint it verified is the latest) and that the store audits clean. Returns the
/// still running app for further checks.
async fn run_interop(backend: Backend, script: &str, transport: Transport) -> (TestApp, InteropResult) {
    let python = interop_python().await;
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest, Scope::AuditRead]).await;

    let started = Instant::now();
    let mut command = Command::new(&python);
    command
        .arg(repo_dir().join("tests/interop").join(script))
        .arg("--endpoint")
        .arg(app.app.url())
        .arg("--api-key")
        .arg(&key)
        .current_dir(repo_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    if transport == Transport::Grpc {
        command.arg("--grpc").arg(app.app.grpc_addr.to_string());
    }
    // The scripts configure their exporters explicitly; no ambient OTEL_* setting may
    // redirect, disable or re-configure them.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    let what = format!("tests/interop/{script}");
    let output = run(command, SCRIPT_TIMEOUT, &what).await;
    assert!(
        output.status.success(),
        "{what} ({}) failed against the {backend:?} server:\n{}",
        python.display(),
        describe(&output)
    );
    println!(
        "{script} ({backend:?}) took {:?}:\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&output.stdout)
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    let result: InteropResult = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("INTEROP_RESULT "))
        .map(|json| serde_json::from_str(json).expect("INTEROP_RESULT is JSON"))
        .unwrap_or_else(|| panic!("{what} printed no INTEROP_RESULT line:\n{}", describe(&output)));
    assert_eq!(result.trace_id.len(), 32, "{result:?}");

    // Server side: exactly the exported spans and log records are in the log, and the
    // store audits clean.
    let tenant = app.tenant("default").await;
    assert_eq!(result.origin, tenant.origin, "{what} verified another log");
    let tree_size = app.store().tree_size(&tenant).await.expect("tree size");
    assert_eq!(
        tree_size,
        result.spans + result.logs,
        "tree size after {what} exported {} spans and {} log records",
        result.spans,
        result.logs
    );
    assert_eq!(
        result.tree_size, tree_size,
        "the checkpoint {what} verified is not the latest"
    );
    let audits = traceledger::audit::fsck::audit_store(app.store().as_ref())
        .await
        .unwrap_or_else(|failure| panic!("audit of the {backend:?} store failed: {failure}"));
    let audited = audits
        .iter()
        .find(|audit| audit.tenant == "default")
        .unwrap_or_else(|| panic!("the audit did not cover tenant default: {audits:?}"));
    assert_eq!(audited.entries, tree_size, "{audited:?}");
    (app, result)
}

async fn python_sdk_interop(backend: Backend) {
    let (app, result) = run_interop(backend, "export_and_verify.py", Transport::Http).await;
    assert_eq!(
        result.spans, SPANS,
        "the script should create {SPANS} spans: {result:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_exports_and_independent_verifier_checks_proofs() {
    python_sdk_interop(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_exports_and_independent_verifier_checks_proofs_postgres() {
    python_sdk_interop(Backend::Postgres).await
}

/// OTLP/HTTP JSON (`opentelemetry-exporter-otlp-json-http`): hex ids and decimal-string
/// 64-bit integers of OTLP/JSON must land in the ledger exactly like protobuf.
async fn python_otlp_json_http_interop(backend: Backend) {
    let (app, result) = run_interop(backend, "otlp_json_http.py", Transport::Http).await;
    assert_eq!(result.spans, SPANS, "{result:?}");
    assert!(result.requests.is_some_and(|requests| requests >= 1), "{result:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_otlp_json_http_exporter_interop() {
    python_otlp_json_http_interop(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_otlp_json_http_exporter_interop_postgres() {
    python_otlp_json_http_interop(Backend::Postgres).await
}

/// OTLP/gRPC (`opentelemetry-exporter-otlp-proto-grpc` on grpcio): h2c, gzip-compressed
/// messages, `authorization: Bearer` metadata; an unknown key is refused.
async fn python_otlp_grpc_interop(backend: Backend) {
    let (app, result) = run_interop(backend, "otlp_grpc.py", Transport::Grpc).await;
    assert_eq!(result.spans, SPANS, "{result:?}");
    assert!(result.messages.is_some_and(|messages| messages >= 1), "{result:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_otlp_grpc_gzip_exporter_interop() {
    python_otlp_grpc_interop(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_otlp_grpc_gzip_exporter_interop_postgres() {
    python_otlp_grpc_interop(Backend::Postgres).await
}

/// A real instrumentation library: LangChain traced by OpenInference.
async fn python_langchain_openinference_interop(backend: Backend) {
    let (app, result) = run_interop(backend, "langchain_rag.py", Transport::Http).await;
    for kind in ["retrieval", "generation", "chain"] {
        assert!(
            result.kinds.get(kind).is_some_and(|count| *count > 0),
            "no {kind} entry: {result:?}"
        );
    }
    assert_eq!(result.kinds.values().sum::<u64>(), result.spans, "{result:?}");
    // The pinned instrumentation records the model name and the document ids.
    assert_eq!(result.request_model.as_deref(), Some(LANGCHAIN_MODEL), "{result:?}");
    assert_eq!(result.document_ids, ["kb-pump-warranty", "kb-claims"], "{result:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_langchain_openinference_rag_interop() {
    python_langchain_openinference_interop(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_langchain_openinference_rag_interop_postgres() {
    python_langchain_openinference_interop(Backend::Postgres).await
}

/// OTLP logs: one GenAI event log record, committed as a `log` entry linked to its span.
async fn python_otlp_logs_interop(backend: Backend) {
    let (app, result) = run_interop(backend, "otlp_logs.py", Transport::Http).await;
    assert_eq!((result.spans, result.logs), (1, 1), "{result:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_otlp_logs_linked_to_spans_interop() {
    python_otlp_logs_interop(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_otlp_logs_linked_to_spans_interop_postgres() {
    python_otlp_logs_interop(Backend::Postgres).await
}
