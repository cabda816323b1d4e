//! Exports: a bundle exported from the running server (or by the CLI from the store)
//! verifies offline, proves the output in question, and carries the pipeline context.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::{json, Value};
use traceledger::bundle::verify::verify_bundle;
use traceledger::domain::Scope;

use crate::helpers::{both_backends, fixture, run_cli, spawn_app, store_cli_args, verifier_key_for, Backend, TestApp};

both_backends!(
    exported_bundle_verifies_and_proves_the_output,
    export_selectors_scopes_and_cli
);

const ANSWER: &str = "Yes. Order 1234 was delivered on 2026-01-02 and our refund window is 30 days from delivery, so you can request a refund until 2026-02-01.";
const TRACE: &str = "2b604910827c5510fb92a1e4775308c0";

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn setup(app: &TestApp, admin: &str) -> String {
    let version: Value = post(
        app,
        admin,
        "/v1/pipeline-versions",
        json!({"name": "support-rag-api", "version": "1.4.0"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = version["id"].as_str().unwrap().to_owned();
    let bundle = post(
        app,
        admin,
        "/v1/proof-bundles",
        json!({"pipeline_version_id": id, "approvals": [{"approver": "maria", "approved_at": "2026-01-01T00:00:00Z"}]}),
    )
    .await;
    assert_eq!(bundle.status(), 201);
    assert_eq!(
        app.post_traces(admin, "application/x-protobuf", None, fixture("a_rag_semconv/1.pb"))
            .await
            .status(),
        200
    );
    id
}

async fn exported_bundle_verifies_and_proves_the_output(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.key("default", &[Scope::Admin]).await;
    let version_id = setup(&app, &admin).await;
    let key = verifier_key_for(&app, "traceledger.local/default").await;

    let response = post(&app, &admin, "/v1/exports", json!({"output": ANSWER})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let bundle = response.bytes().await.unwrap();
    let report = verify_bundle(&bundle, Some(&key)).expect("bundle verifies");
    assert!(report.key_trusted);
    assert_eq!(report.subjects, 1);
    assert_eq!(report.span_entries, 6);
    assert_eq!(report.traces, 1);
    assert_eq!(report.entries, 8, "6 spans + pipeline version + proof bundle");
    assert_eq!(report.contents, 16, "every content of the trace, revealed");
    let kinds: Vec<&str> = report
        .pipeline_entries
        .iter()
        .map(|entry| entry.entry_type.as_str())
        .collect();
    assert_eq!(kinds, vec!["pipeline_version", "proof_bundle"]);
    assert_eq!(report.pipeline_entries[0].id.as_deref(), Some(version_id.as_str()));
    assert_eq!(report.principal["tenant"], "default");
    // The subject is the SHA-256 of the disputed output.
    let envelope: Value = serde_json::from_slice(&bundle).unwrap();
    let payload = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        envelope["payload"].as_str().unwrap(),
    )
    .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(ANSWER.as_bytes()));
    assert_eq!(statement["subject"][0]["digest"]["sha256"], digest);

    // The CLI verifier agrees, offline; a wrong key is refused.
    let path = app.dir.path().join("bundle.json");
    std::fs::write(&path, &bundle).unwrap();
    let (code, stdout, stderr) =
        run_cli(&["verify".into(), path.display().to_string(), "--key".into(), key.clone()]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let wrong = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".to_string();
    let (code, stdout, stderr) = run_cli(&["verify".into(), path.display().to_string(), "--key".into(), wrong]).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    app.stop().await;
}

async fn export_selectors_scopes_and_cli(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.key("default", &[Scope::Admin]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    let exporter = app.key("default", &[Scope::Export]).await;
    setup(&app, &admin).await;
    let key = verifier_key_for(&app, "traceledger.local/default").await;

    assert_eq!(
        post(&app, &reader, "/v1/exports", json!({"trace_id": TRACE}))
            .await
            .status(),
        403
    );
    for bad in [
        json!({}),
        json!({"trace_id": TRACE, "output": "x"}),
        json!({"trace_id": "nope"}),
        json!({"from": "yesterday"}),
    ] {
        assert_eq!(
            post(&app, &exporter, "/v1/exports", bad.clone()).await.status(),
            400,
            "{bad}"
        );
    }
    // Without audit:content: entries and proofs, no content, so no output can be proven.
    let bundle = post(&app, &exporter, "/v1/exports", json!({"output": ANSWER}))
        .await
        .bytes()
        .await
        .unwrap();
    let report = verify_bundle(&bundle, Some(&key)).expect("verifies");
    // Its one subject is the selection itself (the `entries` subject).
    assert_eq!((report.contents, report.subjects, report.span_entries), (0, 1, 6));
    // By trace ids and by time range / pipeline version.
    let bundle = post(&app, &admin, "/v1/exports", json!({"trace_ids": [TRACE]}))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(verify_bundle(&bundle, Some(&key)).unwrap().span_entries, 6);
    let bundle = post(
        &app,
        &admin,
        "/v1/exports",
        json!({"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}),
    )
    .await
    .bytes()
    .await
    .unwrap();
    assert_eq!(verify_bundle(&bundle, Some(&key)).unwrap().traces, 1);

    // Against an older checkpoint: the bundle carries a consistency proof to the newest.
    let older = app.store().tree_size(&app.tenant("default").await).await.unwrap();
    assert_eq!(
        app.post_traces(
            &admin,
            "application/x-protobuf",
            None,
            crate::helpers::synthetic_request(9, 2)
        )
        .await
        .status(),
        200
    );
    let too_old = post(
        &app,
        &admin,
        "/v1/exports",
        json!({"trace_ids": [TRACE], "checkpoint_size": 1}),
    )
    .await;
    assert_eq!(
        too_old.status(),
        400,
        "a checkpoint that does not cover the selection is refused"
    );
    let bundle = post(
        &app,
        &admin,
        "/v1/exports",
        json!({"trace_ids": [TRACE], "checkpoint_size": older}),
    )
    .await;
    let status = bundle.status();
    let bundle = bundle.bytes().await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bundle));
    let report = verify_bundle(&bundle, Some(&key)).expect("older checkpoint + consistency");
    assert_eq!(report.checkpoint_size, older);
    assert!(report.consistent_with_size.is_some_and(|newest| newest > older));
    let missing = post(
        &app,
        &admin,
        "/v1/exports",
        json!({"trace_ids": [TRACE], "checkpoint_size": 999_999}),
    )
    .await;
    assert_eq!(missing.status(), 400);

    // A trace whose root never arrived: the parent is declared outside the selection.
    let mut orphans = ExportTraceServiceRequest::decode(fixture("a_rag_semconv/1.pb").as_slice()).unwrap();
    for span in &mut orphans.resource_spans[0].scope_spans[0].spans {
        span.trace_id = vec![0x5a; 16];
    }
    orphans.resource_spans[0].scope_spans[0]
        .spans
        .retain(|span| !span.parent_span_id.is_empty());
    assert_eq!(
        app.post_traces(&admin, "application/x-protobuf", None, orphans.encode_to_vec())
            .await
            .status(),
        200
    );
    let bundle = post(&app, &admin, "/v1/exports", json!({"trace_id": "5a".repeat(16)}))
        .await
        .bytes()
        .await
        .unwrap();
    let report = verify_bundle(&bundle, Some(&key)).expect("orphans declared outside the selection");
    assert_eq!(report.span_entries, 5);

    // The CLI exports from the store directly (progress on stderr), and verifies.
    let out = app.dir.path().join("cli-bundle.json");
    let mut arguments = vec!["export".to_string()];
    arguments.extend(store_cli_args(&app.args));
    arguments.extend(["--output".into(), ANSWER.into(), "-o".into(), out.display().to_string()]);
    arguments.extend([
        "--signing-key-file".into(),
        app.args.signing_key_path().display().to_string(),
    ]);
    let (code, stdout, stderr) = run_cli(&arguments).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = run_cli(&[
        "verify".into(),
        out.display().to_string(),
        "--key".into(),
        key.clone(),
        "--json".into(),
    ])
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: Value = serde_json::from_str(stdout.trim()).expect("--json output");
    assert_eq!(json["ok"], true);
    app.stop().await;
}
