//! Interop with implementations other than ours: the real OpenTelemetry Python SDK
//! (opentelemetry-sdk + the OTLP/HTTP protobuf exporter) sends a RAG-shaped trace to the
//! running server, then tests/interop/export_and_verify.py checks the checkpoint signature
//! (pyca/cryptography Ed25519), the entry bytes (the `rfc8785` package) and every inclusion
//! and consistency proof (its own RFC 9162 code) against the byte contracts of DESIGN §3/§7.
//!
//! The Python environment comes from `scripts/python-env.sh` (pinned
//! tests/interop/requirements.txt, cached in target/interop-venv), or from the interpreter
//! named by `TRACELEDGER_PYTHON`. If it cannot be set up the test FAILS — it never skips.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use tokio::process::Command;
use traceledger::domain::Scope;

use crate::helpers::{spawn_app, Backend};

/// Spans the script creates (root `invoke_workflow rag_qa`, `retrieval docs`, `chat gpt-4o-mini`).
const SPANS: u64 = 3;
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

/// What the script reports on its `INTEROP_RESULT {json}` line.
#[derive(Debug, serde::Deserialize)]
struct InteropResult {
    spans: u64,
    trace_id: String,
    tree_size: u64,
    origin: String,
}

async fn python_sdk_interop(backend: Backend) {
    let python = interop_python().await;
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest, Scope::AuditRead]).await;

    let started = Instant::now();
    let mut command = Command::new(&python);
    command
        .arg(repo_dir().join("tests/interop/export_and_verify.py"))
        .arg("--endpoint")
        .arg(app.app.url())
        .arg("--api-key")
        .arg(&key)
        .current_dir(repo_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_HEADERS")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .env_remove("OTEL_SDK_DISABLED");
    let output = run(command, SCRIPT_TIMEOUT, "tests/interop/export_and_verify.py").await;
    assert!(
        output.status.success(),
        "the independent verifier ({}) failed against the {backend:?} server:\n{}",
        python.display(),
        describe(&output)
    );
    println!(
        "export_and_verify.py ({backend:?}) took {:?}:\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&output.stdout)
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    let result: InteropResult = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("INTEROP_RESULT "))
        .map(|json| serde_json::from_str(json).expect("INTEROP_RESULT is JSON"))
        .unwrap_or_else(|| panic!("the script printed no INTEROP_RESULT line:\n{}", describe(&output)));
    assert_eq!(
        result.spans, SPANS,
        "the script should create {SPANS} spans: {result:?}"
    );
    assert_eq!(result.trace_id.len(), 32, "{result:?}");

    // Server side: exactly the exported spans are in the log, and the store audits clean.
    let tenant = app.tenant("default").await;
    assert_eq!(result.origin, tenant.origin, "the script verified another log");
    let tree_size = app.store().tree_size(&tenant).await.expect("tree size");
    assert_eq!(
        tree_size, result.spans,
        "tree size after exporting {} spans",
        result.spans
    );
    assert_eq!(
        result.tree_size, tree_size,
        "the checkpoint the script verified is not the latest"
    );
    let audits = traceledger::audit::fsck::audit_store(app.store().as_ref())
        .await
        .unwrap_or_else(|failure| panic!("audit of the {backend:?} store failed: {failure}"));
    let audited = audits
        .iter()
        .find(|audit| audit.tenant == "default")
        .unwrap_or_else(|| panic!("the audit did not cover tenant default: {audits:?}"));
    assert_eq!(audited.entries, tree_size, "{audited:?}");
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
