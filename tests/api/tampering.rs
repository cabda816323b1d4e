//! An operator with write access to the database edits the index tables (`governance`,
//! `output_index`, `spans`, `span_attributes`). The API must not serve the forged facts
//! as genuine, and `traceledger audit` must fail naming the table and the entry.

use serde_json::{json, Value};
use traceledger::domain::Scope;

use crate::helpers::{audit_cli, both_backends, exec_sql, fixture, post_json, spawn_app, Backend, TestApp};

both_backends!(
    forged_governance_approval_is_not_served,
    deleted_output_index_rows_fail_audit,
    forged_output_index_row_is_not_served,
    forged_span_rows_are_not_served,
    tampered_span_attributes_fail_audit,
);

const ANSWER: &str = "Yes. Order 1234 was delivered on 2026-01-02 and our refund window is 30 days from delivery, so you can request a refund until 2026-02-01.";

async fn get_json(app: &TestApp, key: &str, path: &str) -> Value {
    let response = app.get(key, path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// The RAG fixture: six span entries of one trace; entries 3 and 5 emit [`ANSWER`].
async fn ingest_fixture(app: &TestApp, key: &str) {
    assert_eq!(
        app.post_traces(key, "application/x-protobuf", None, fixture("a_rag_semconv/1.pb"))
            .await
            .status(),
        200
    );
}

async fn forged_governance_approval_is_not_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.key("default", &[Scope::Admin]).await;
    let auditor = app.key("default", &[Scope::AuditRead]).await;
    // The fixture's spans carry service.name/service.version: linked explicitly.
    let (status, version) = post_json(
        &app,
        &admin,
        "/v1/pipeline-versions",
        json!({"name": "support-rag-api", "version": "1.4.0", "models": ["gpt-4o-mini"]}),
    )
    .await;
    assert_eq!(status, 201, "{version}");
    let version_id = version["id"].as_str().unwrap().to_owned();
    // Evidence that does NOT approve the version: a failed test run, no approval.
    let (status, bundle) = post_json(
        &app,
        &admin,
        "/v1/proof-bundles",
        json!({
            "pipeline_version_id": version_id,
            "test_runs": [{"name": "rag-regression", "passed": 117, "failed": 3}],
        }),
    )
    .await;
    assert_eq!(status, 201, "{bundle}");
    assert_eq!(bundle["record"]["approved"], false);
    let bundle_index = bundle["entry_index"].as_u64().unwrap();
    ingest_fixture(&app, &admin).await;

    // The operator forges an approval in the index row.
    exec_sql(
        &app,
        "UPDATE governance SET body = REPLACE(REPLACE(body, '\"approved\":false', '\"approved\":true'), \
         '\"approvals\":[]', '\"approvals\":[{\"approved_at\":\"2026-01-01T00:00:00Z\",\"approver\":\"mallory\"}]') \
         WHERE kind = 'proof_bundle'",
    )
    .await;

    let listed = get_json(&app, &auditor, "/v1/proof-bundles").await;
    assert!(!listed.to_string().contains("mallory"), "{listed}");
    for record in listed["records"].as_array().unwrap() {
        assert_ne!(record["record"]["approved"], true, "{listed}");
    }
    assert!(
        !listed["index_mismatches"].as_array().is_none_or(Vec::is_empty),
        "the forged row is flagged: {listed}"
    );

    let (status, found) = post_json(&app, &auditor, "/v1/provenance/search", json!({"output": ANSWER})).await;
    assert_eq!(status, 200, "{found}");
    let report = &found["results"][0];
    assert_eq!(report["pipeline"]["version"]["id"], version_id.as_str(), "{report}");
    assert!(!report.to_string().contains("mallory"), "{report}");
    let bundles = report["pipeline"]["proof_bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1, "{report}");
    assert_eq!(bundles[0]["record"]["approved"], false, "{report}");
    assert_ne!(report["verification"]["status"], "verified", "{report}");
    assert!(
        !report["verification"]["index_mismatches"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{report}"
    );

    let (code, output) = audit_cli(&app.args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains(&format!("entry {bundle_index}: governance")),
        "{output}"
    );

    // A deleted row is not visible online (nothing names it), but the audit names it.
    let version_index = version["entry_index"].as_u64().unwrap();
    exec_sql(&app, "DELETE FROM governance WHERE kind = 'pipeline_version'").await;
    let (code, output) = audit_cli(&app.args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains(&format!(
            "entry {version_index}: governance: the index row of this pipeline_version"
        )),
        "{output}"
    );
    app.stop().await;
}

async fn deleted_output_index_rows_fail_audit(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest, Scope::AuditRead]).await;
    ingest_fixture(&app, &key).await;
    let (_, found) = post_json(&app, &key, "/v1/provenance/search", json!({"output": ANSWER})).await;
    assert_eq!(found["results"].as_array().unwrap().len(), 1, "{found}");

    exec_sql(&app, "DELETE FROM output_index").await;
    // Online, a deleted row looks like "never produced" (nothing names the missing row
    // short of re-deriving every entry); the audit is what catches it.
    let (_, found) = post_json(&app, &key, "/v1/provenance/search", json!({"output": ANSWER})).await;
    assert_eq!(found["results"].as_array().unwrap().len(), 0, "{found}");

    let (code, output) = audit_cli(&app.args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("entry 3: output_index"), "{output}");
    assert!(output.contains("entry 5: output_index"), "{output}");
    app.stop().await;
}

async fn forged_output_index_row_is_not_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest, Scope::AuditRead]).await;
    ingest_fixture(&app, &key).await;
    // Claim that the retrieval span (entry 0) emitted the answer.
    exec_sql(
        &app,
        "INSERT INTO output_index (tenant_id, digest, entry_idx) \
         SELECT tenant_id, digest, 0 FROM output_index WHERE entry_idx = 3",
    )
    .await;
    let (status, found) = post_json(&app, &key, "/v1/provenance/search", json!({"output": ANSWER})).await;
    assert_eq!(status, 200, "{found}");
    let report = &found["results"][0];
    let matched: Vec<u64> = report["matched_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|index| index.as_u64().unwrap())
        .collect();
    assert_eq!(matched, vec![3, 5], "{report}");
    assert!(
        !report["verification"]["index_mismatches"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{report}"
    );

    let (code, output) = audit_cli(&app.args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("entry 0: output_index"), "{output}");
    app.stop().await;
}

async fn forged_span_rows_are_not_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest, Scope::AuditRead]).await;
    ingest_fixture(&app, &key).await;
    exec_sql(
        &app,
        "UPDATE spans SET model = 'gpt-5-approved', status_code = 2, pipeline_version_id = 'pv_forged', \
         link_method = 'explicit' WHERE entry_idx = 3",
    )
    .await;

    let by_model = get_json(&app, &key, "/v1/spans?model=gpt-5-approved").await;
    for span in by_model["spans"].as_array().unwrap() {
        assert_ne!(span["model"], "gpt-5-approved", "{by_model}");
        assert_eq!(span["index_mismatch"], true, "{by_model}");
    }
    let all = get_json(&app, &key, "/v1/spans").await;
    let spans = all["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 6, "{all}");
    let forged = spans.iter().find(|span| span["entry_index"] == 3).unwrap();
    assert_eq!(forged["model"], "gpt-4o-mini-2024-07-18", "{all}");
    assert_eq!(forged["status_code"], 0, "{all}");
    assert_eq!(forged["pipeline_version_id"], Value::Null, "{all}");
    assert_eq!(forged["link_method"], "none", "{all}");
    assert_eq!(forged["index_mismatch"], true, "{all}");
    assert!(
        spans
            .iter()
            .filter(|span| span["entry_index"] != 3)
            .all(|span| span.get("index_mismatch").is_none()),
        "{all}"
    );
    assert!(!all["index_mismatches"].as_array().is_none_or(Vec::is_empty), "{all}");

    let (code, output) = audit_cli(&app.args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("entry 3: spans"), "{output}");
    assert!(output.contains("model"), "{output}");
    app.stop().await;
}

async fn tampered_span_attributes_fail_audit(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest, Scope::AuditRead]).await;
    ingest_fixture(&app, &key).await;
    exec_sql(
        &app,
        "UPDATE span_attributes SET value = 'prod' \
         WHERE entry_idx = 2 AND key = 'resource.deployment.environment.name'",
    )
    .await;
    exec_sql(
        &app,
        "DELETE FROM span_attributes WHERE entry_idx = 1 AND key = 'gen_ai.provider.name'",
    )
    .await;

    let prod = get_json(
        &app,
        &key,
        "/v1/spans?attribute=resource.deployment.environment.name%3Dprod",
    )
    .await;
    for span in prod["spans"].as_array().unwrap() {
        assert_eq!(span["index_mismatch"], true, "{prod}");
    }

    let (code, output) = audit_cli(&app.args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("entry 2: span_attributes"), "{output}");
    assert!(output.contains("entry 1: span_attributes"), "{output}");
    app.stop().await;
}
