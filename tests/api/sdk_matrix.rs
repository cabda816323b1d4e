//! The real-SDK matrix: every supported instrumentation library, unmodified, on the real
//! `openai` client, pointed at a running traceledger by endpoint and key only
//! (tests/interop/sdk_<library>.py), makes one plain and one streamed chat call against a
//! local OpenAI-compatible stub (tests/interop/openai_stub.py). Then, on SQLite and on
//! PostgreSQL, for each call:
//!
//! - `POST /v1/provenance/search {"output": <exact answer>}` finds exactly that call's trace,
//!   with its generation span as the matched entry (the streamed answer, sent as one chunk per
//!   word, is found by its whole text);
//! - the generation span has the row's kind source, request / response model and the stub's
//!   token counts;
//! - no prompt or answer text appears in clear in `GET /v1/ledger/entries`;
//! - an `audit:content` report shows the prompt and the answer, opened, under the row's keys.
//!
//! The rows are `MATRIX`; docs/conventions.md §8 shows the same table, and
//! `docs_table_is_the_matrix` compares them cell by cell (and each version with the pin in
//! its requirements file). Each library has its own pinned venv where its opentelemetry pins
//! conflict with the default one (`scripts/python-env.sh NAME`); if a venv cannot be set up
//! the test FAILS — it never skips.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::process::Command;
use traceledger::domain::Scope;

use crate::helpers::{both_backends, fixture, post_json, spawn_app, Backend, TestApp};
use crate::interop::{describe, repo_dir, run, venv_python, SCRIPT_TIMEOUT};

// The stub's fixed texts and counts (tests/interop/openai_stub.py).
const REQUEST_MODEL: &str = "gpt-4o-mini";
const RESPONSE_MODEL: &str = "gpt-4o-mini-2024-07-18";
const SYSTEM: &str = "You are the matrix test assistant. Answer in one sentence.";
const PLAIN_PROMPT: &str = "Which two rivers meet at Lyon, asked plainly?";
const PLAIN_ANSWER: &str = "The Rhone and the Saone meet at the Confluence district of Lyon.";
const STREAM_PROMPT: &str = "Name the three additive primary colours, streamed word by word.";
const STREAM_ANSWER: &str = "The three additive primary colours of light are red, green and blue.";
const INPUT_TOKENS: &str = "31";
const OUTPUT_TOKENS: &str = "14";
const TOTAL_TOKENS: &str = "45";
/// Words of the streamed answer: the stub sends one chunk each.
const STREAM_CHUNKS: u64 = 12;
/// Fragments that must never appear in clear in any entry.
const SECRET_FRAGMENTS: &[&str] = &[
    "matrix test assistant",
    "Which two rivers",
    "Confluence district",
    "additive primary colours",
    "red, green and blue",
];
const POLL_TIMEOUT: Duration = Duration::from_secs(30);

/// One library of the matrix and what traceledger recognizes of it.
#[derive(Debug)]
struct SdkRow {
    /// The library, as docs/conventions.md §8 names it.
    library: &'static str,
    /// Its pinned version.
    version: &'static str,
    /// The pip name of the pin checked in the requirements file.
    package: &'static str,
    /// The venv name (`None`: the default venv).
    venv: Option<&'static str>,
    script: &'static str,
    /// Endpoint cell of the docs table.
    endpoint: &'static str,
    kind_source: &'static str,
    request_model: &'static str,
    response_model: Option<&'static str>,
    /// Key patterns (`k` or `p.*`) of the report's `prompt` of the generation span.
    prompt_keys: &'static [&'static str],
    /// Key patterns of the report's model call `output`.
    output_keys: &'static [&'static str],
    /// GenAI log records (`log` entries) per call.
    logs_per_call: u64,
}

const MATRIX: &[SdkRow] = &[
    SdkRow {
        library: "langfuse (`langfuse.openai`)",
        version: "5.0.4",
        package: "langfuse",
        venv: Some("langfuse"),
        script: "sdk_langfuse.py",
        endpoint: "`/api/public/otel/v1/traces` (Basic `default:<key>`)",
        kind_source: "langfuse.observation.type=generation",
        request_model: RESPONSE_MODEL,
        response_model: None,
        prompt_keys: &["langfuse.observation.input"],
        output_keys: &["langfuse.observation.output"],
        logs_per_call: 0,
    },
    SdkRow {
        library: "traceloop-sdk",
        version: "0.62.4",
        package: "traceloop-sdk",
        venv: Some("traceloop"),
        script: "sdk_traceloop.py",
        endpoint: "`/v1/traces` (Bearer)",
        kind_source: "gen_ai.operation.name=chat",
        request_model: REQUEST_MODEL,
        response_model: Some(RESPONSE_MODEL),
        prompt_keys: &["gen_ai.input.messages"],
        output_keys: &["gen_ai.output.messages"],
        logs_per_call: 0,
    },
    SdkRow {
        library: "openinference-instrumentation-openai",
        version: "0.1.66",
        package: "openinference-instrumentation-openai",
        venv: None,
        script: "sdk_openinference_openai.py",
        endpoint: "`/v1/traces` (Bearer)",
        kind_source: "openinference.span.kind=LLM",
        request_model: RESPONSE_MODEL,
        response_model: None,
        prompt_keys: &["input.value", "llm.input_messages.*"],
        output_keys: &["output.value", "llm.output_messages.*"],
        logs_per_call: 0,
    },
    SdkRow {
        library: "opentelemetry-instrumentation-openai-v2",
        version: "2.4b0",
        package: "opentelemetry-instrumentation-openai-v2",
        venv: None,
        script: "sdk_otel_openai_v2.py",
        endpoint: "`/v1/traces`, `/v1/logs` (Bearer)",
        kind_source: "gen_ai.operation.name=chat",
        request_model: REQUEST_MODEL,
        response_model: Some(RESPONSE_MODEL),
        prompt_keys: &["gen_ai.input.messages"],
        output_keys: &["gen_ai.output.messages"],
        logs_per_call: 1,
    },
];

fn row(library_prefix: &str) -> &'static SdkRow {
    MATRIX
        .iter()
        .find(|row| row.library.starts_with(library_prefix))
        .unwrap_or_else(|| panic!("no matrix row {library_prefix}"))
}

fn pattern_matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(prefix) => key == prefix || key.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')),
        None => key == pattern,
    }
}

/// Every key matches one of `patterns`, and every pattern matches one of the keys.
fn assert_keys(what: &str, object: &Value, patterns: &[&str]) {
    let keys: Vec<&String> = object
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {object}"))
        .keys()
        .collect();
    assert!(!keys.is_empty(), "{what} is empty");
    for key in &keys {
        assert!(
            patterns.iter().any(|pattern| pattern_matches(pattern, key)),
            "{what}: key {key} is not among {patterns:?}"
        );
    }
    for pattern in patterns {
        assert!(
            keys.iter().any(|key| pattern_matches(pattern, key)),
            "{what}: nothing under {pattern} in {keys:?}"
        );
    }
}

/// The opened contents of every commitment inside `value`, joined.
fn revealed_text(value: &Value) -> String {
    let mut texts = Vec::new();
    fn walk(value: &Value, texts: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                if let (Some(Value::String(_)), Some(Value::String(content))) =
                    (object.get("sha256"), object.get("content"))
                {
                    texts.push(content.clone());
                }
                for child in object.values() {
                    walk(child, texts);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, texts)),
            _ => {}
        }
    }
    walk(value, &mut texts);
    texts.join("\n")
}

/// What `sdk_common.run` prints on its `SDK_RESULT {json}` line.
#[derive(Debug, serde::Deserialize)]
struct SdkResult {
    calls: Vec<SdkCall>,
    usage: Value,
}

#[derive(Debug, serde::Deserialize)]
struct SdkCall {
    mode: String,
    prompt: String,
    answer: String,
    chunks: u64,
}

/// Every entry of the tenant's log (`GET /v1/ledger/entries`, page by page).
async fn all_entries(app: &TestApp, key: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    loop {
        let start = entries.len();
        let response = app
            .get(key, &format!("/v1/ledger/entries?start={start}&end={}", start + 1000))
            .await;
        assert_eq!(response.status(), 200, "entries page at {start}");
        let page: Value = response.json().await.expect("entries page is JSON");
        let items = page["entries"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return entries;
        }
        entries.extend(items);
    }
}

/// Polls the log until it holds `spans` generation spans and `logs` log entries.
async fn wait_for_entries(app: &TestApp, key: &str, spans: usize, logs: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let entries = all_entries(app, key).await;
        let generations = entries
            .iter()
            .filter(|item| item["entry"]["type"] == "span" && item["entry"]["body"]["kind"] == "generation")
            .count();
        let log_entries = entries.iter().filter(|item| item["entry"]["type"] == "log").count();
        if generations >= spans && log_entries >= logs {
            return entries;
        }
        assert!(
            started.elapsed() < POLL_TIMEOUT,
            "after {POLL_TIMEOUT:?} the log holds {generations} generation spans and {log_entries} log entries, \
             expected {spans} and {logs}: {entries:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the library's script against a fresh server, returning the app and its report line.
async fn run_sdk_script(backend: Backend, sdk: &SdkRow) -> (TestApp, SdkResult) {
    let python = venv_python(sdk.venv).await;
    let app = spawn_app(backend).await;
    let ingest_key = app.key("default", &[Scope::Ingest]).await;
    let started = Instant::now();
    let mut command = Command::new(&python);
    command
        .arg(repo_dir().join("tests/interop").join(sdk.script))
        .arg("--endpoint")
        .arg(app.app.url())
        .arg("--api-key")
        .arg(&ingest_key)
        .current_dir(repo_dir().join("tests/interop"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    // The scripts set every variable their library reads; nothing ambient may redirect,
    // disable or re-configure it.
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if ["OTEL_", "TRACELOOP_", "LANGFUSE_", "OPENAI_", "OPENINFERENCE_"]
            .iter()
            .any(|prefix| name_text.starts_with(prefix))
        {
            command.env_remove(name);
        }
    }
    let what = format!("tests/interop/{}", sdk.script);
    let output = run(command, SCRIPT_TIMEOUT, &what).await;
    assert!(
        output.status.success(),
        "{what} ({}) failed against the {backend:?} server:\n{}",
        python.display(),
        describe(&output)
    );
    println!("{what} ({backend:?}) took {:?}", started.elapsed());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result: SdkResult = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("SDK_RESULT "))
        .map(|line| serde_json::from_str(line).expect("SDK_RESULT is JSON"))
        .unwrap_or_else(|| panic!("{what} printed no SDK_RESULT line:\n{}", describe(&output)));
    (app, result)
}

/// The whole check of one library on one backend.
async fn sdk_story(backend: Backend, sdk: &SdkRow) {
    let (app, result) = run_sdk_script(backend, sdk).await;
    let name = sdk.library;

    // The SDK handed the stub's answers to the application unchanged.
    let calls: Vec<(&str, &str, &str)> = result
        .calls
        .iter()
        .map(|call| (call.mode.as_str(), call.prompt.as_str(), call.answer.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("plain", PLAIN_PROMPT, PLAIN_ANSWER),
            ("stream", STREAM_PROMPT, STREAM_ANSWER)
        ],
        "{name}"
    );
    assert_eq!(
        result.calls[1].chunks, STREAM_CHUNKS,
        "{name}: the streamed answer's chunks"
    );
    assert_eq!(
        result.usage,
        json!({"prompt_tokens": 31, "completion_tokens": 14, "total_tokens": 45}),
        "{name}"
    );

    let read_key = app.key("default", &[Scope::AuditRead]).await;
    let content_key = app.key("default", &[Scope::AuditRead, Scope::AuditContent]).await;
    let logs_expected = (sdk.logs_per_call * 2) as usize;
    let entries = wait_for_entries(&app, &read_key, 2, logs_expected).await;

    // No content in clear, in the served entry nor in its exact bytes.
    for item in &entries {
        let served = item["entry"].to_string();
        let bytes = {
            use base64::Engine;
            let encoded = item["entry_bytes"].as_str().expect("entry_bytes");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .expect("entry_bytes is base64");
            String::from_utf8(raw).expect("entry bytes are UTF-8")
        };
        for text in [SYSTEM, PLAIN_PROMPT, PLAIN_ANSWER, STREAM_PROMPT, STREAM_ANSWER]
            .iter()
            .chain(SECRET_FRAGMENTS)
        {
            assert!(
                !served.contains(text) && !bytes.contains(text),
                "{name} ({backend:?}): {text:?} in clear in entry {}",
                item["index"]
            );
        }
    }

    // Exactly the expected entries: two generation spans (one root trace per call), and
    // the log records.
    let mut generations: Vec<&Value> = entries
        .iter()
        .filter(|item| item["entry"]["type"] == "span" && item["entry"]["body"]["kind"] == "generation")
        .collect();
    assert_eq!(generations.len(), 2, "{name}: generation spans {generations:#?}");
    generations.sort_by_key(|item| {
        item["entry"]["body"]["start_time_unix_nano"]
            .as_str()
            .and_then(|nanos| nanos.parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    });
    let log_count = entries.iter().filter(|item| item["entry"]["type"] == "log").count();
    assert_eq!(log_count, logs_expected, "{name}: log entries");
    let traces: BTreeSet<&str> = generations
        .iter()
        .filter_map(|item| item["entry"]["body"]["trace_id"].as_str())
        .collect();
    assert_eq!(traces.len(), 2, "{name}: each call is its own trace");

    for (generation, (prompt, answer)) in generations
        .iter()
        .zip([(PLAIN_PROMPT, PLAIN_ANSWER), (STREAM_PROMPT, STREAM_ANSWER)])
    {
        let body = &generation["entry"]["body"];
        let index = generation["index"].as_u64().expect("index");
        let genai = &body["genai"];
        let what = format!("{name} ({backend:?}) call {prompt:?}");
        assert_eq!(genai["kind_source"], sdk.kind_source, "{what}: {genai}");
        assert_eq!(genai["request_model"], sdk.request_model, "{what}: {genai}");
        match sdk.response_model {
            Some(model) => assert_eq!(genai["response_model"], model, "{what}: {genai}"),
            None => assert!(genai.get("response_model").is_none(), "{what}: {genai}"),
        }
        assert_eq!(genai["usage"]["input_tokens"], INPUT_TOKENS, "{what}: {genai}");
        assert_eq!(genai["usage"]["output_tokens"], OUTPUT_TOKENS, "{what}: {genai}");
        if let Some(total) = genai["usage"].get("total_tokens") {
            assert_eq!(total, TOTAL_TOKENS, "{what}: {genai}");
        }

        // The search by the exact answer finds this call's trace, and this span in it.
        let (status, found) = post_json(&app, &content_key, "/v1/provenance/search", json!({"output": answer})).await;
        assert_eq!(status, 200, "{what}: {found}");
        let results = found["results"].as_array().expect("results");
        assert_eq!(
            results.len(),
            1,
            "{what}: exactly one trace emitted the answer: {found:#}"
        );
        let report = &results[0];
        assert_eq!(report["trace_id"], body["trace_id"], "{what}");
        // The generation span emitted the answer; so may its GenAI log records, nothing else.
        let matched: Vec<u64> = report["matched_entries"]
            .as_array()
            .map(|list| list.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        assert!(matched.contains(&index), "{what}: matched {matched:?}");
        for other in matched.iter().filter(|other| **other != index) {
            let entry = entries
                .iter()
                .find(|item| item["index"] == *other)
                .map(|item| &item["entry"])
                .unwrap_or_else(|| panic!("{what}: matched entry {other} is not in the log"));
            assert!(
                entry["type"] == "log" && entry["body"]["span_id"] == body["span_id"],
                "{what}: matched entry {other} is not a log record of the call's span: {entry}"
            );
        }
        assert_eq!(
            matched.len() as u64,
            1 + sdk.logs_per_call,
            "{what}: matched {matched:?}"
        );
        assert_eq!(report["output_span"]["span_id"], body["span_id"], "{what}");
        assert_eq!(
            report["verification"]["status"], "verified",
            "{what}: {}",
            report["verification"]
        );
        assert_eq!(report["content_revealed"], true, "{what}");

        // The report shows the prompt and the answer, opened, under the row's keys.
        let model_call = report["model_calls"]
            .as_array()
            .and_then(|calls| calls.iter().find(|call| call["entry_index"] == index))
            .unwrap_or_else(|| panic!("{what}: no model call for entry {index}: {report:#}"));
        assert_keys(
            &format!("{what}: model call output"),
            &model_call["output"],
            sdk.output_keys,
        );
        let output_text = revealed_text(&model_call["output"]);
        assert!(
            output_text.contains(answer),
            "{what}: the answer is not in the report's output: {output_text}"
        );
        let prompt_step = report["prompts"]
            .as_array()
            .and_then(|steps| steps.iter().find(|step| step["entry_index"] == index))
            .unwrap_or_else(|| panic!("{what}: no prompt step for entry {index}: {report:#}"));
        assert_keys(&format!("{what}: prompt"), &prompt_step["prompt"], sdk.prompt_keys);
        let prompt_text = revealed_text(&prompt_step["prompt"]);
        assert!(
            prompt_text.contains(prompt) && prompt_text.contains(SYSTEM),
            "{what}: the prompt is not in the report: {prompt_text}"
        );

        // Without audit:content the same search finds the same trace and reveals nothing.
        let (status, closed) = post_json(&app, &read_key, "/v1/provenance/search", json!({"output": answer})).await;
        assert_eq!(status, 200, "{what}: {closed}");
        assert_eq!(closed["results"][0]["trace_id"], body["trace_id"], "{what}");
        assert_eq!(closed["results"][0]["content_revealed"], false, "{what}");
        assert!(
            !closed.to_string().contains(answer),
            "{what}: content without audit:content"
        );
    }

    let audits =
        traceledger::audit::fsck::audit_store(app.store().as_ref(), &[app.app.state.signing_key.verifying_key()])
            .await
            .unwrap_or_else(|failure| panic!("audit of the {backend:?} store failed: {failure}"));
    assert!(
        audits
            .iter()
            .any(|audit| audit.tenant == "default" && audit.entries == entries.len() as u64),
        "{audits:?}"
    );
    app.stop().await;
}

async fn langfuse_openai(backend: Backend) {
    sdk_story(backend, row("langfuse")).await
}

async fn traceloop_openai(backend: Backend) {
    sdk_story(backend, row("traceloop-sdk")).await
}

async fn openinference_openai(backend: Backend) {
    sdk_story(backend, row("openinference-instrumentation-openai")).await
}

async fn otel_openai_v2_span_and_event(backend: Backend) {
    sdk_story(backend, row("opentelemetry-instrumentation-openai-v2")).await
}

/// The captured Langfuse `@observe` trace (shared/fixtures/f_langfuse): its report shows the
/// prompt, the answer, the model parameters, the metadata and the tool call's arguments and
/// result from the `langfuse.*` keys.
async fn langfuse_fixture_report(backend: Backend) {
    use base64::Engine;
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let response = app
        .client
        .post(app.url("/api/public/otel/v1/traces"))
        .header(
            "Authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("default:{key}"))
            ),
        )
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "gzip")
        .body(fixture("f_langfuse/1.pb.gzip"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let content_key = app.key("default", &[Scope::AuditRead, Scope::AuditContent]).await;
    let (status, found) = post_json(
        &app,
        &content_key,
        "/v1/provenance/search",
        json!({"output": "The capital of France is Paris."}),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let report = &found["results"][0];
    let chat = report["model_calls"]
        .as_array()
        .and_then(|calls| calls.iter().find(|call| call["name"] == "chat_completion"))
        .unwrap_or_else(|| panic!("no chat_completion model call: {report:#}"));
    assert_eq!(
        chat["output"]["langfuse.observation.output"]["content"],
        "The capital of France is Paris."
    );
    assert_eq!(chat["parameters"]["temperature"], json!({"doubleValue": 0.2}), "{chat}");
    assert_eq!(
        chat["metadata"]["langfuse.observation.metadata.response_id"],
        json!({"stringValue": "\"chatcmpl-fake0001\""})
    );
    assert_eq!(
        chat["metadata"]["langfuse.trace.metadata.pipeline"]["content"],
        "\"rag-pipeline-2.3.1\""
    );
    let prompt = report["prompts"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["name"] == "chat_completion"))
        .expect("chat_completion prompt step");
    let input = prompt["prompt"]["langfuse.observation.input"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(input.contains("What is the capital of France?"), "{prompt}");
    let tool = &report["tool_calls"][0];
    assert_eq!(tool["name"], "lookup_weather");
    assert_eq!(
        tool["arguments"]["content"], r#"{"args": ["Paris"], "kwargs": {}}"#,
        "{tool}"
    );
    assert!(
        tool["result"]["content"].as_str().unwrap_or_default().contains("sunny"),
        "{tool}"
    );
    let guardrail = &report["guardrails"][0];
    assert_eq!(guardrail["name"], "output_guardrail", "{report:#}");
    app.stop().await;
}

both_backends!(
    langfuse_openai,
    traceloop_openai,
    openinference_openai,
    otel_openai_v2_span_and_event,
    langfuse_fixture_report,
);

/// docs/conventions.md §8 is `MATRIX`, cell by cell, and every version is the pin of its
/// requirements file.
#[test]
fn docs_table_is_the_matrix() {
    let doc = std::fs::read_to_string(repo_dir().join("docs/conventions.md")).expect("docs/conventions.md");
    let section = doc
        .split("\n## 8. Real SDKs")
        .nth(1)
        .expect("docs/conventions.md has a section \"## 8. Real SDKs\"");
    let rows: Vec<Vec<String>> = section
        .lines()
        .skip_while(|line| !line.starts_with("| library |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), MATRIX.len(), "one docs row per matrix row: {rows:?}");
    let keys = |patterns: &[&str]| {
        patterns
            .iter()
            .map(|pattern| format!("`{pattern}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (sdk, cells) in MATRIX.iter().zip(&rows) {
        let requirements = match sdk.venv {
            None => "requirements.txt".to_owned(),
            Some(name) => format!("requirements-{name}.txt"),
        };
        let expected = vec![
            sdk.library.to_owned(),
            sdk.version.to_owned(),
            format!("`{requirements}`"),
            sdk.endpoint.to_owned(),
            format!("`{}`", sdk.kind_source),
            format!("`{}`", sdk.request_model),
            sdk.response_model.map_or("—".to_owned(), |model| format!("`{model}`")),
            keys(sdk.prompt_keys),
            keys(sdk.output_keys),
            sdk.logs_per_call.to_string(),
        ];
        assert_eq!(cells, &expected, "docs/conventions.md §8, row {}", sdk.library);
        let pins = std::fs::read_to_string(repo_dir().join("tests/interop").join(&requirements))
            .unwrap_or_else(|error| panic!("{requirements}: {error}"));
        let pin = format!("{}=={}", sdk.package, sdk.version);
        assert!(
            pins.lines().any(|line| line.trim() == pin),
            "{requirements} does not pin {pin}"
        );
        assert!(
            repo_dir().join("tests/interop").join(sdk.script).is_file(),
            "{} missing",
            sdk.script
        );
    }
}
