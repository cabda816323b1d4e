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
//! And audit bundles (`mod audit_bundle` at the end): `verify_bundle.py`, an independent
//! verifier of the bundles of `POST /v1/exports`, must agree with `traceledger verify` on
//! a real export and on tampered copies.
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
pub(crate) const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) fn repo_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn describe(output: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub(crate) async fn run(mut command: Command, timeout: Duration, what: &str) -> Output {
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
    venv_python(None).await
}

/// The Python interpreter of a pinned venv: the default one (`None`,
/// tests/interop/requirements.txt) or a named one (tests/interop/requirements-NAME.txt).
/// `TRACELEDGER_PYTHON` (default) or `TRACELEDGER_PYTHON_<NAME>` names a ready interpreter
/// (scripts/test.sh sets them); otherwise `scripts/python-env.sh [NAME]` creates the venv.
pub(crate) async fn venv_python(name: Option<&str>) -> PathBuf {
    let variable = match name {
        None => "TRACELEDGER_PYTHON".to_owned(),
        Some(name) => format!("TRACELEDGER_PYTHON_{}", name.to_ascii_uppercase().replace('-', "_")),
    };
    if let Some(python) = std::env::var_os(&variable).filter(|value| !value.is_empty()) {
        return PathBuf::from(python);
    }
    let requirements = match name {
        None => "tests/interop/requirements.txt".to_owned(),
        Some(name) => format!("tests/interop/requirements-{name}.txt"),
    };
    let script = repo_dir().join("scripts/python-env.sh");
    let mut command = Command::new("bash");
    command.arg(&script).args(name).current_dir(repo_dir());
    let output = run(command, SETUP_TIMEOUT, "scripts/python-env.sh").await;
    if !output.status.success() {
        panic!(
            "the interop test needs the Python venv, and scripts/python-env.sh failed (PyPI must be reachable, \
             or set {variable} to a python with {requirements} installed):\n{}",
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
    let audits =
        traceledger::audit::fsck::audit_store(app.store().as_ref(), &[app.app.state.signing_key.verifying_key()])
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

/// Audit bundles (DESIGN §5) checked by `tests/interop/verify_bundle.py`, a verifier written
/// from the specs (DSSE, in-toto Statement v1, RFC 8785 via `rfc8785`, C2SP signed note via
/// pyca/cryptography, its own RFC 9162 proof code) that shares no code with
/// `src/bundle/verify/`, and by `traceledger verify --key`: a real export must pass both
/// with the same counts, and every tampered copy must fail in both. Copies that only the
/// deeper checks can catch are re-signed with the server's own key (the spawned app's
/// `signing-key.pem`), so that the envelope signature still verifies.
mod audit_bundle {
    use std::path::{Path, PathBuf};
    use std::process::Output;
    use std::time::Instant;

    use base64::Engine;
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    use ed25519_dalek::{Signer, SigningKey};
    use serde_json::{json, Value};
    use sha2::{Digest, Sha256};
    use tokio::process::Command;
    use traceledger::domain::Scope;

    use super::{describe, interop_python, repo_dir, run, SCRIPT_TIMEOUT};
    use crate::helpers::{fixture, run_cli, spawn_app, Backend, TestApp};

    const ORIGIN: &str = "traceledger.local/default";
    const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
    /// The frozen example of tests/bundle-vectors/: its key (seed [7; 32]) and verifier key.
    const EXAMPLE_SEED: [u8; 32] = [7; 32];
    const EXAMPLE_KEY: &str = "traceledger.local/example+0bd6ffa2+AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";

    fn b64() -> base64::engine::GeneralPurpose {
        base64::engine::general_purpose::STANDARD
    }

    /// Another valid verifier key: the Go sumdb/note test vector's.
    fn other_verifier_key() -> String {
        let path = repo_dir().join("tests/vectors/sumdb-note.json");
        let vector: Value = serde_json::from_slice(&std::fs::read(&path).expect("sumdb-note.json")).unwrap();
        vector["verifier_key"].as_str().expect("verifier_key").to_owned()
    }

    async fn post_json(app: &TestApp, key: &str, path: &str, body: &Value) -> (u16, Vec<u8>) {
        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("body").to_vec())
    }

    fn last_json_line(stdout: &[u8], prefix: &str) -> Option<Value> {
        String::from_utf8_lossy(stdout)
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|json| serde_json::from_str(json).ok())
    }

    async fn python_verify(python: &Path, file: &Path, key: &str, expect_subjects: Option<u64>) -> Output {
        let mut command = Command::new(python);
        command
            .arg(repo_dir().join("tests/interop/verify_bundle.py"))
            .arg(file)
            .arg("--key")
            .arg(key)
            .current_dir(repo_dir())
            .env("PYTHONDONTWRITEBYTECODE", "1");
        if let Some(count) = expect_subjects {
            command.arg("--expect-subjects").arg(count.to_string());
        }
        run(command, SCRIPT_TIMEOUT, "tests/interop/verify_bundle.py").await
    }

    /// `traceledger verify FILE --key KEY --json`: (exit code, JSON report, raw output).
    async fn rust_verify(file: &Path, key: &str) -> (i32, Value, String) {
        let (code, stdout, stderr) = run_cli(&[
            "verify".into(),
            file.display().to_string(),
            "--key".into(),
            key.into(),
            "--json".into(),
        ])
        .await;
        let report = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        (code, report, format!("stdout: {stdout}\nstderr: {stderr}"))
    }

    /// The statement inside a bundle's envelope.
    fn statement_of(bundle: &[u8]) -> Value {
        let envelope: Value = serde_json::from_slice(bundle).expect("bundle is JSON");
        let payload = b64()
            .decode(envelope["payload"].as_str().expect("payload"))
            .expect("payload is base64");
        serde_json::from_slice(&payload).expect("payload is JSON")
    }

    /// A DSSE envelope over the JCS bytes of `statement`, written here from the DSSE
    /// protocol (PAE = "DSSEv1" SP len(type) SP type SP len(body) SP body).
    fn sign(statement: &Value, key: &SigningKey, keyid: &str) -> Vec<u8> {
        let payload = serde_json_canonicalizer::to_vec(statement).expect("JCS");
        let mut pae = format!("DSSEv1 {} {PAYLOAD_TYPE} {} ", PAYLOAD_TYPE.len(), payload.len()).into_bytes();
        pae.extend_from_slice(&payload);
        let signature = key.sign(&pae);
        serde_json::to_vec(&json!({
            "payloadType": PAYLOAD_TYPE,
            "payload": b64().encode(&payload),
            "signatures": [{"keyid": keyid, "sig": b64().encode(signature.to_bytes())}],
        }))
        .expect("envelope")
    }

    /// The envelope with its decoded payload (or signature) changed, not re-signed.
    fn edit_envelope(bundle: &[u8], field: &str, change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut envelope: Value = serde_json::from_slice(bundle).unwrap();
        let slot = if field == "payload" {
            &mut envelope["payload"]
        } else {
            &mut envelope["signatures"][0]["sig"]
        };
        let mut bytes = b64().decode(slot.as_str().unwrap()).unwrap();
        change(&mut bytes);
        *slot = Value::String(b64().encode(&bytes));
        serde_json::to_vec(&envelope).unwrap()
    }

    fn entry_of(item: &Value) -> Value {
        let bytes = b64().decode(item["entry_bytes"].as_str().unwrap()).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// Digests of every `{"sha256","len"}` commitment in a JSON value.
    fn commitments(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                if object.len() == 2 && object.contains_key("len") {
                    if let Some(Value::String(digest)) = object.get("sha256") {
                        out.push(digest.clone());
                        return;
                    }
                }
                object.values().for_each(|member| commitments(member, out));
            }
            Value::Array(items) => items.iter().for_each(|item| commitments(item, out)),
            _ => {}
        }
    }

    /// Replaces one hex digit with another.
    fn other_hex(text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        chars[0] = if chars[0] == '0' { '1' } else { '0' };
        chars.into_iter().collect()
    }

    /// One bundle file and what both verifiers must say about it: `None` = verifies,
    /// `Some((python check, rust code))` = fails (exit 1) at that check.
    struct Case {
        name: &'static str,
        bundle: Vec<u8>,
        key: String,
        expect: Option<(&'static str, &'static str)>,
    }

    /// Runs every case through both verifiers (in parallel); panics with the whole table
    /// if any verdict is not the expected one.
    async fn run_cases(python: &Path, dir: &Path, cases: Vec<Case>) {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (position, case) in cases.into_iter().enumerate() {
            let python = python.to_owned();
            let file = dir.join(format!("case-{position:02}.json"));
            tasks.spawn(async move {
                std::fs::write(&file, &case.bundle).expect("write case");
                let py = python_verify(&python, &file, &case.key, None).await;
                let (rust_exit, rust_report, rust_raw) = rust_verify(&file, &case.key).await;
                (position, case, py, rust_exit, rust_report, rust_raw)
            });
        }
        let mut results = tasks.join_all().await;
        results.sort_by_key(|result| result.0);
        let mut table = String::new();
        let mut failures = 0;
        for (_, case, py, rust_exit, rust_report, rust_raw) in &results {
            let py_check = last_json_line(&py.stdout, "BUNDLE_INVALID ")
                .and_then(|value| value["check"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let py_message = last_json_line(&py.stdout, "BUNDLE_INVALID ")
                .and_then(|value| value["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "OK".into());
            let rust_code = rust_report["error"]["code"].as_str().unwrap_or_default().to_owned();
            let rust_message = rust_report["error"]["message"].as_str().unwrap_or("OK").to_owned();
            let ok = match case.expect {
                None => py.status.code() == Some(0) && *rust_exit == 0,
                Some((want_py, want_rust)) => {
                    py.status.code() == Some(1) && py_check == want_py && *rust_exit == 1 && rust_code == want_rust
                }
            };
            let want = case
                .expect
                .map_or("both OK".to_owned(), |(p, r)| format!("python {p} / rust {r}"));
            table.push_str(&format!(
                "{} {:<48} want {want}\n    python exit {:?} [{py_check}] {py_message}\n    rust   exit {rust_exit} [{rust_code}] {rust_message}\n",
                if ok { "ok  " } else { "FAIL" },
                case.name,
                py.status.code(),
            ));
            if !ok {
                failures += 1;
                table.push_str(&format!(
                    "    --- python ---\n{}\n    --- rust ---\n{rust_raw}\n",
                    describe(py)
                ));
            }
        }
        println!(
            "{} bundle cases through both verifiers in {:?}:\n{table}",
            results.len(),
            started.elapsed()
        );
        assert_eq!(failures, 0, "{failures} case(s) not judged as expected:\n{table}");
    }

    /// The exported bundle of the fixture's RAG trace, and everything needed to tamper with it.
    struct Exported {
        app: TestApp,
        bundle: Vec<u8>,
        verifier_key: String,
        signing_key: SigningKey,
        output: String,
        admin: String,
        version_id: String,
    }

    async fn export_fixture_bundle(backend: Backend) -> Exported {
        let app = spawn_app(backend).await;
        let admin = app.key("default", &[Scope::Admin]).await;
        // The fixture's resource is service.name=support-rag-api, service.version=1.4.0: its
        // spans link explicitly to this version.
        let (status, body) = post_json(
            &app,
            &admin,
            "/v1/pipeline-versions",
            &json!({"name": "support-rag-api", "version": "1.4.0"}),
        )
        .await;
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        let version: Value = serde_json::from_slice(&body).unwrap();
        let version_id = version["id"].as_str().expect("version id").to_owned();
        let (status, body) = post_json(
            &app,
            &admin,
            "/v1/proof-bundles",
            &json!({"pipeline_version_id": version_id, "approvals": [{"approver": "a", "approved_at": "2026-01-01T00:00:00Z"}]}),
        )
        .await;
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        let response = app
            .post_traces(&admin, "application/x-protobuf", None, fixture("a_rag_semconv/1.pb"))
            .await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);

        let meta: Value = serde_json::from_slice(&fixture("a_rag_semconv/1.meta.json")).unwrap();
        let output = meta["expected_output"].as_str().expect("expected_output").to_owned();
        let request = json!({ "output": output });
        let (status, bundle) = post_json(&app, &admin, "/v1/exports", &request).await;
        assert_eq!(
            status,
            200,
            "POST /v1/exports {request} -> {status}: {}",
            String::from_utf8_lossy(&bundle)
        );

        let keys: Value = app
            .client
            .get(app.url("/v1/keys"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let verifier_key = keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|key| key["origin"] == ORIGIN)
            .and_then(|key| key["verifier_key"].as_str())
            .unwrap_or_else(|| panic!("no key of {ORIGIN} in {keys}"))
            .to_owned();

        let pem_path = app.args.store.data_dir.join("signing-key.pem");
        let pem = std::fs::read_to_string(&pem_path).unwrap_or_else(|error| panic!("{}: {error}", pem_path.display()));
        let signing_key = SigningKey::from_pkcs8_pem(&pem).expect("signing-key.pem is PKCS#8 Ed25519");
        let public = b64().encode([&[0x01u8][..], signing_key.verifying_key().as_bytes()].concat());
        assert!(
            verifier_key.ends_with(&format!("+{public}")),
            "{} is not the key of {verifier_key}",
            pem_path.display()
        );
        Exported {
            app,
            bundle,
            verifier_key,
            signing_key,
            output,
            admin,
            version_id,
        }
    }

    /// Exports by every selector kind (output text, output digest, trace id, trace ids, a
    /// time range with spans and one without, a pipeline version) and validates each
    /// bundle with the in-toto maintainers' Python package (`in-toto-attestation`
    /// `Statement.validate()`, which needs at least one subject) and with both
    /// traceledger verifiers.
    async fn every_selector_exports_a_valid_in_toto_statement(backend: Backend) {
        let python = interop_python().await;
        let Exported {
            app,
            bundle,
            verifier_key,
            output,
            admin,
            version_id,
            ..
        } = export_fixture_bundle(backend).await;
        let trace_id = statement_of(&bundle)["predicate"]["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(entry_of)
            .find(|entry| entry["type"] == "span")
            .and_then(|entry| entry["body"]["trace_id"].as_str().map(str::to_owned))
            .expect("a span entry with a trace id");
        let trace_id = trace_id.as_str();
        let selectors = [
            ("output", json!({ "output": output }), "output-0", 8),
            (
                "output_sha256",
                json!({ "output_sha256": hex::encode(Sha256::digest(output.as_bytes())) }),
                "output-0",
                8,
            ),
            ("trace_id", json!({ "trace_id": trace_id }), "entries", 8),
            ("trace_ids", json!({ "trace_ids": [trace_id] }), "entries", 8),
            (
                "time_range",
                json!({"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}),
                "entries",
                8,
            ),
            (
                "empty_time_range",
                json!({"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}),
                "entries",
                0,
            ),
            (
                "pipeline_version_id",
                json!({ "pipeline_version_id": version_id }),
                "entries",
                8,
            ),
        ];
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = Vec::new();
        for (name, request, subject, entries) in &selectors {
            let (status, bundle) = post_json(&app, &admin, "/v1/exports", request).await;
            assert_eq!(
                status,
                200,
                "{name}: POST /v1/exports {request} -> {status}: {}",
                String::from_utf8_lossy(&bundle)
            );
            let statement = statement_of(&bundle);
            let subjects = statement["subject"].as_array().expect("subject list");
            assert_eq!(subjects.len(), 1, "{name}: {subjects:?}");
            assert_eq!(subjects[0]["name"], *subject, "{name}");
            let file = dir.path().join(format!("{name}.json"));
            std::fs::write(&file, &bundle).expect("write bundle");

            let (rust_exit, report, raw) = rust_verify(&file, &verifier_key).await;
            assert_eq!(rust_exit, 0, "{name}: traceledger verify rejected the bundle:\n{raw}");
            assert_eq!(report["entries"], *entries, "{name}: {report}");
            assert_eq!(report["subjects"], 1, "{name}: {report}");
            let py = python_verify(&python, &file, &verifier_key, Some(1)).await;
            assert!(py.status.success(), "{name}: verify_bundle.py:\n{}", describe(&py));
            files.push(file);
        }

        let mut command = Command::new(&python);
        command
            .arg(repo_dir().join("tests/interop/intoto_validate.py"))
            .args(&files)
            .current_dir(repo_dir())
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let validated = run(command, SCRIPT_TIMEOUT, "tests/interop/intoto_validate.py").await;
        let lines: Vec<Value> = String::from_utf8_lossy(&validated.stdout)
            .lines()
            .filter_map(|line| line.strip_prefix("INTOTO "))
            .map(|json| serde_json::from_str(json).expect("INTOTO line is JSON"))
            .collect();
        assert_eq!(lines.len(), selectors.len(), "{}", describe(&validated));
        for ((name, _, subject, _), line) in selectors.iter().zip(&lines) {
            assert_eq!(
                line["valid"], true,
                "{name}: in-toto Statement.validate() rejected it: {line}"
            );
            assert_eq!(line["subjects"], json!([subject]), "{name}: {line}");
        }
        assert!(validated.status.success(), "{}", describe(&validated));

        // A Statement without subjects, as versions before the `entries` subject wrote for
        // an export by trace id, is rejected by the same validator: the check is real.
        let mut statement = statement_of(&std::fs::read(&files[2]).expect("read"));
        statement["subject"] = json!([]);
        let empty = dir.path().join("no_subject.json");
        std::fs::write(&empty, sign(&statement, &SigningKey::from_bytes(&[7; 32]), "k")).expect("write");
        let mut command = Command::new(&python);
        command
            .arg(repo_dir().join("tests/interop/intoto_validate.py"))
            .arg(&empty)
            .current_dir(repo_dir())
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let refused = run(command, SCRIPT_TIMEOUT, "tests/interop/intoto_validate.py").await;
        assert!(!refused.status.success(), "{}", describe(&refused));
        assert!(
            String::from_utf8_lossy(&refused.stdout).contains("At least one subject required"),
            "{}",
            describe(&refused)
        );
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_selector_exports_a_valid_in_toto_statement_sqlite() {
        every_selector_exports_a_valid_in_toto_statement(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_selector_exports_a_valid_in_toto_statement_postgres() {
        every_selector_exports_a_valid_in_toto_statement(Backend::Postgres).await;
    }

    async fn exported_bundle_verifies_independently(backend: Backend) {
        let started = Instant::now();
        let python = interop_python().await;
        let Exported {
            app,
            bundle,
            verifier_key,
            signing_key,
            output,
            ..
        } = export_fixture_bundle(backend).await;
        let exported = started.elapsed();
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bundle.json");
        std::fs::write(&file, &bundle).unwrap();

        // The untouched bundle: both verifiers accept it, with the same counts.
        let py = python_verify(&python, &file, &verifier_key, Some(1)).await;
        assert!(
            py.status.success(),
            "verify_bundle.py rejected the exported bundle ({backend:?}):\n{}",
            describe(&py)
        );
        println!(
            "verify_bundle.py ({backend:?}):\n{}",
            String::from_utf8_lossy(&py.stdout)
        );
        let result = last_json_line(&py.stdout, "BUNDLE_RESULT ")
            .unwrap_or_else(|| panic!("no BUNDLE_RESULT line:\n{}", describe(&py)));
        assert_eq!(result["origin"], ORIGIN, "{result}");
        assert_eq!(
            result["entries"], 8,
            "6 spans + pipeline version + proof bundle: {result}"
        );
        assert_eq!(
            result["entry_types"],
            json!({"pipeline_version": 1, "proof_bundle": 1, "span": 6}),
            "{result}"
        );
        assert_eq!(
            (result["span_entries"].as_u64(), result["traces"].as_u64()),
            (Some(6), Some(1)),
            "{result}"
        );
        assert_eq!(result["subjects"], 1, "{result}");
        assert_eq!(result["outputs"], 1, "{result}");
        assert!(result["contents"].as_u64().is_some_and(|count| count > 0), "{result}");
        assert_eq!(result["checkpoint_size"], 8, "{result}");
        let statement = statement_of(&bundle);
        assert_eq!(
            statement["subject"][0]["digest"]["sha256"],
            hex::encode(Sha256::digest(output.as_bytes())),
            "the subject is the output in question"
        );

        let (rust_exit, report, raw) = rust_verify(&file, &verifier_key).await;
        assert_eq!(rust_exit, 0, "traceledger verify rejected the exported bundle:\n{raw}");
        assert_eq!(report["key_trusted"], true, "{report}");
        for (rust, py) in [
            ("entries", "entries"),
            ("contents", "contents"),
            ("span_entries", "span_entries"),
            ("traces", "traces"),
            ("subjects", "subjects"),
            ("checkpoint_size", "checkpoint_size"),
            ("checkpoint_root", "checkpoint_root"),
            ("origin", "origin"),
        ] {
            assert_eq!(report[rust], result[py], "{rust}: rust {report} vs python {result}");
        }

        // Re-signing is byte-exact: JCS of the parsed statement is the payload, Ed25519 is
        // deterministic, so the re-signed envelope carries the same payload and signature.
        let original: Value = serde_json::from_slice(&bundle).unwrap();
        let resigned: Value = serde_json::from_slice(&sign(&statement, &signing_key, &verifier_key)).unwrap();
        assert_eq!(
            resigned, original,
            "re-signing the unchanged statement must reproduce the envelope"
        );

        let resign = |change: &dyn Fn(&mut Value)| {
            let mut statement = statement.clone();
            change(&mut statement);
            sign(&statement, &signing_key, &verifier_key)
        };
        let entries = statement["predicate"]["entries"].as_array().unwrap().clone();
        let spans: Vec<(usize, Value)> = entries
            .iter()
            .enumerate()
            .map(|(position, item)| (position, entry_of(item)))
            .filter(|(_, entry)| entry["type"] == "span")
            .collect();
        // A span that is the parent of others (the root): removed, its children stay.
        let (parent_position, parent_entry) = spans
            .iter()
            .find(|(_, entry)| {
                let id = &entry["body"]["span_id"];
                spans.iter().any(|(_, other)| other["body"]["parent_span_id"] == *id)
            })
            .cloned()
            .expect("a span with children");
        let mut parent_commitments = Vec::new();
        commitments(&parent_entry["body"], &mut parent_commitments);
        // A span entry whose bytes carry the model name, for a one-byte change.
        let (model_position, _) = spans
            .iter()
            .find(|(_, entry)| entry.to_string().contains("gpt-4o-mini"))
            .cloned()
            .expect("a span naming its model");

        let key = verifier_key.clone();
        let other_key = other_verifier_key();
        let cases = vec![
            Case {
                name: "control: re-signed, unchanged",
                bundle: resign(&|_| {}),
                key: key.clone(),
                expect: None,
            },
            Case {
                name: "payload byte flipped (not re-signed)",
                bundle: edit_envelope(&bundle, "payload", |bytes| {
                    let middle = bytes.len() / 2;
                    bytes[middle] ^= 0x01;
                }),
                key: key.clone(),
                expect: Some(("envelope_signature", "bad_envelope_signature")),
            },
            Case {
                name: "signature byte flipped",
                bundle: edit_envelope(&bundle, "sig", |bytes| bytes[10] ^= 0x01),
                key: key.clone(),
                expect: Some(("envelope_signature", "bad_envelope_signature")),
            },
            Case {
                name: "verified with another verifier key",
                bundle: bundle.clone(),
                key: other_key.clone(),
                expect: Some(("untrusted_key", "untrusted_key")),
            },
            Case {
                name: "keyid replaced by another verifier key",
                bundle: {
                    let mut envelope: Value = serde_json::from_slice(&bundle).unwrap();
                    envelope["signatures"][0]["keyid"] = Value::String(other_key.clone());
                    serde_json::to_vec(&envelope).unwrap()
                },
                key: other_key.clone(),
                expect: Some(("envelope_signature", "bad_envelope_signature")),
            },
            Case {
                name: "first entry dropped (not re-signed)",
                bundle: {
                    let mut statement = statement.clone();
                    statement["predicate"]["entries"].as_array_mut().unwrap().remove(0);
                    let payload = serde_json_canonicalizer::to_vec(&statement).unwrap();
                    let mut envelope = original.clone();
                    envelope["payload"] = Value::String(b64().encode(payload));
                    serde_json::to_vec(&envelope).unwrap()
                },
                key: key.clone(),
                expect: Some(("envelope_signature", "bad_envelope_signature")),
            },
            Case {
                name: "re-signed: entry byte changed (model name)",
                bundle: resign(&|statement| {
                    let item = &mut statement["predicate"]["entries"][model_position];
                    let mut bytes = b64().decode(item["entry_bytes"].as_str().unwrap()).unwrap();
                    let at = bytes.windows(11).position(|window| window == b"gpt-4o-mini").unwrap();
                    bytes[at + 8] = b'x';
                    item["entry_bytes"] = Value::String(b64().encode(bytes));
                }),
                key: key.clone(),
                expect: Some(("inclusion_proof", "inclusion_proof_failed")),
            },
            Case {
                name: "re-signed: entry bytes not canonical",
                bundle: resign(&|statement| {
                    let item = &mut statement["predicate"]["entries"][model_position];
                    let mut bytes = b64().decode(item["entry_bytes"].as_str().unwrap()).unwrap();
                    bytes.insert(1, b' ');
                    item["entry_bytes"] = Value::String(b64().encode(bytes));
                }),
                key: key.clone(),
                expect: Some(("entry_canonical", "entry_not_canonical")),
            },
            Case {
                name: "re-signed: inclusion proof hash changed",
                bundle: resign(&|statement| {
                    let hash = &mut statement["predicate"]["entries"][model_position]["inclusion_proof"][0];
                    *hash = Value::String(other_hex(hash.as_str().unwrap()));
                }),
                key: key.clone(),
                expect: Some(("inclusion_proof", "inclusion_proof_failed")),
            },
            Case {
                name: "re-signed: checkpoint root changed",
                bundle: resign(&|statement| {
                    let note = statement["predicate"]["checkpoint"].as_str().unwrap().to_owned();
                    let mut lines: Vec<String> = note.split('\n').map(str::to_owned).collect();
                    let mut root = b64().decode(&lines[2]).unwrap();
                    root[0] ^= 0x01;
                    lines[2] = b64().encode(root);
                    statement["predicate"]["checkpoint"] = Value::String(lines.join("\n"));
                }),
                key: key.clone(),
                expect: Some(("checkpoint_signature", "bad_checkpoint_signature")),
            },
            Case {
                name: "re-signed: revealed content changed",
                bundle: resign(&|statement| {
                    let content = &mut statement["predicate"]["contents"][0]["content"];
                    let text = content.as_str().unwrap();
                    let replacement = if text.starts_with('X') { "Y" } else { "X" };
                    let changed = format!(
                        "{replacement}{}",
                        &text[text.chars().next().map_or(0, char::len_utf8)..]
                    );
                    *content = Value::String(changed);
                }),
                key: key.clone(),
                expect: Some(("content_mismatch", "content_mismatch")),
            },
            Case {
                name: "re-signed: parent span removed, children kept",
                bundle: resign(&|statement| {
                    let predicate = &mut statement["predicate"];
                    predicate["entries"].as_array_mut().unwrap().remove(parent_position);
                    // Its revealed contents go too, so only the tree check can object.
                    predicate["contents"].as_array_mut().unwrap().retain(|content| {
                        !parent_commitments.contains(&content["sha256"].as_str().unwrap().to_owned())
                    });
                }),
                key: key.clone(),
                expect: Some(("incomplete_tree", "incomplete_tree")),
            },
            Case {
                name: "re-signed: subject digest changed",
                bundle: resign(&|statement| {
                    statement["subject"][0]["digest"]["sha256"] =
                        Value::String(hex::encode(Sha256::digest(b"a different answer")));
                }),
                key: key.clone(),
                expect: Some(("subject_not_committed", "subject_not_committed")),
            },
            Case {
                name: "re-signed: output's entry is one that does not commit it",
                bundle: resign(&|statement| {
                    // Entry 0 is the pipeline version: in the bundle, but no commitment.
                    statement["predicate"]["outputs"][0]["entry_index"] = json!(0);
                }),
                key: key.clone(),
                expect: Some(("output_not_committed", "output_not_committed")),
            },
        ];
        // The parent span must not be the entry that emitted the output.
        let output_entry = statement["predicate"]["outputs"][0]["entry_index"].as_u64().unwrap();
        assert_ne!(
            entries[parent_position]["index"].as_u64(),
            Some(output_entry),
            "the removed span is the output's entry"
        );
        run_cases(&python, dir.path(), cases).await;

        // Dropping the first entry (the pipeline version) and re-signing: the spans still
        // claim that version, so both verifiers must reject the bundle for it.
        let dropped = resign(&|statement| {
            statement["predicate"]["entries"].as_array_mut().unwrap().remove(0);
        });
        let dropped_file = dir.path().join("dropped-first.json");
        std::fs::write(&dropped_file, &dropped).unwrap();
        let py = python_verify(&python, &dropped_file, &verifier_key, Some(1)).await;
        let (rust_exit, _, raw) = rust_verify(&dropped_file, &verifier_key).await;
        assert_eq!(
            py.status.code(),
            Some(rust_exit),
            "the verifiers disagree on the bundle without its first entry:\n{}\n--- rust ---\n{raw}",
            describe(&py)
        );
        assert_eq!(rust_exit, 1, "the pipeline version the spans claim is missing:\n{raw}");
        assert!(raw.contains("missing_pipeline_context"), "{raw}");
        assert!(describe(&py).contains("missing_pipeline_context"), "{}", describe(&py));

        app.stop().await;
        println!(
            "audit bundle interop ({backend:?}): export {exported:?}, total {:?}",
            started.elapsed()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exported_bundle_passes_independent_verifier_and_tampering_fails_both() {
        exported_bundle_verifies_independently(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exported_bundle_passes_independent_verifier_and_tampering_fails_both_postgres() {
        exported_bundle_verifies_independently(Backend::Postgres).await
    }

    /// The frozen example bundle (tests/bundle-vectors/) carries a consistency proof, which
    /// exports do not: the independent verifier accepts it, and a changed consistency proof
    /// or newer checkpoint, re-signed with the example's key, fails in both verifiers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn independent_verifier_checks_the_example_bundle_and_its_consistency_proof() {
        let python = interop_python().await;
        let path: PathBuf = repo_dir().join("tests/bundle-vectors/example-bundle.json");
        let bundle = std::fs::read(&path).expect("example bundle");
        let py = python_verify(&python, &path, EXAMPLE_KEY, Some(1)).await;
        assert!(py.status.success(), "{}", describe(&py));
        let result = last_json_line(&py.stdout, "BUNDLE_RESULT ").expect("BUNDLE_RESULT");
        assert_eq!(result["consistent_with_size"], 8, "{result}");
        assert_eq!(result["outside_selection"], 1, "{result}");

        let key = SigningKey::from_bytes(&EXAMPLE_SEED);
        let statement = statement_of(&bundle);
        let original: Value = serde_json::from_slice(&bundle).unwrap();
        let resigned: Value = serde_json::from_slice(&sign(&statement, &key, EXAMPLE_KEY)).unwrap();
        assert_eq!(
            resigned, original,
            "the example's key re-signs the example byte for byte"
        );
        let resign = |change: &dyn Fn(&mut Value)| {
            let mut statement = statement.clone();
            change(&mut statement);
            sign(&statement, &key, EXAMPLE_KEY)
        };
        let cases = vec![
            Case {
                name: "example as is",
                bundle: bundle.clone(),
                key: EXAMPLE_KEY.into(),
                expect: None,
            },
            Case {
                name: "re-signed: consistency proof hash changed",
                bundle: resign(&|statement| {
                    let hash = &mut statement["predicate"]["consistency"]["proof"][1];
                    *hash = Value::String(other_hex(hash.as_str().unwrap()));
                }),
                key: EXAMPLE_KEY.into(),
                expect: Some(("consistency", "consistency_failed")),
            },
            Case {
                name: "re-signed: consistency proof truncated",
                bundle: resign(&|statement| {
                    statement["predicate"]["consistency"]["proof"]
                        .as_array_mut()
                        .unwrap()
                        .pop();
                }),
                key: EXAMPLE_KEY.into(),
                expect: Some(("consistency", "consistency_failed")),
            },
            Case {
                name: "re-signed: newer checkpoint's size changed",
                bundle: resign(&|statement| {
                    let note = statement["predicate"]["consistency"]["checkpoint"].as_str().unwrap();
                    let changed = note.replacen("\n8\n", "\n9\n", 1);
                    statement["predicate"]["consistency"]["checkpoint"] = Value::String(changed);
                }),
                key: EXAMPLE_KEY.into(),
                expect: Some(("consistency_checkpoint", "consistency_checkpoint_invalid")),
            },
            Case {
                name: "re-signed: outside_selection emptied",
                bundle: resign(&|statement| {
                    statement["predicate"]["outside_selection"] = json!([]);
                }),
                key: EXAMPLE_KEY.into(),
                expect: Some(("incomplete_tree", "incomplete_tree")),
            },
        ];
        let dir = tempfile::tempdir().expect("tempdir");
        run_cases(&python, dir.path(), cases).await;
    }
}
