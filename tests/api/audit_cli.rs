//! `traceledger audit` (and the CLI around it): a clean store passes; each kind of
//! tampering with rows directly in the database is caught and named.

use traceledger::domain::Scope;

use crate::helpers::{
    both_backends, exec_sql, fixture, run_cli, spawn_app, store_cli_args, synthetic_request, tamper_entry_bytes,
    Backend, TestApp,
};

both_backends!(
    clean_store_passes_and_keys_create_works_from_the_cli,
    changed_byte_is_caught,
    deleted_row_is_caught,
    swapped_rows_are_caught,
    changed_checkpoint_is_caught,
    changed_content_is_caught,
    deleted_content_row_is_caught,
    moved_log_head_is_caught,
    every_failure_of_every_tenant_is_reported,
    failures_are_bounded_per_tenant,
);

async fn ingested_app(backend: Backend) -> TestApp {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    assert_eq!(
        app.post_traces(&key, "application/x-protobuf", None, fixture("a_rag_semconv/1.pb"))
            .await
            .status(),
        200
    );
    app
}

async fn audit_cli(app: &TestApp) -> (i32, String) {
    crate::helpers::audit_cli(&app.args, &[]).await
}

async fn clean_store_passes_and_keys_create_works_from_the_cli(backend: Backend) {
    let app = ingested_app(backend).await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("tenant default: 6 entries"), "{output}");

    // keys create against the running server's store; the key works at once.
    let mut arguments = vec!["keys".to_string(), "create".into()];
    arguments.extend(store_cli_args(&app.args));
    arguments.extend([
        "--tenant".into(),
        "default".into(),
        "--scope".into(),
        "audit:read".into(),
    ]);
    let (code, stdout, stderr) = run_cli(&arguments).await;
    assert_eq!(code, 0, "{stderr}");
    let key = stdout.trim();
    assert!(key.starts_with("tl_"), "{stdout}");
    assert!(!stderr.contains(key), "the key is printed once, on stdout only");
    assert_eq!(app.get(key, "/v1/ledger/checkpoint").await.status(), 200);

    let (code, _, stderr) = run_cli(&[
        "keys".into(),
        "create".into(),
        "--tenant".into(),
        "default".into(),
        "--scope".into(),
        "root".into(),
    ])
    .await;
    assert_ne!(code, 0);
    assert!(stderr.contains("unknown scope"), "{stderr}");
    app.stop().await;
}

async fn changed_byte_is_caught(backend: Backend) {
    let app = ingested_app(backend).await;
    tamper_entry_bytes(&app, 2, |bytes| {
        String::from_utf8(bytes)
            .unwrap()
            .replacen("\"type\":\"span\"", "\"type\":\"spam\"", 1)
            .into_bytes()
    })
    .await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("entry 2"), "{output}");
    app.stop().await;
}

async fn deleted_row_is_caught(backend: Backend) {
    let app = ingested_app(backend).await;
    exec_sql(&app, "DELETE FROM entries WHERE idx = 3").await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("entry 3 is missing"), "{output}");
    app.stop().await;
}

async fn swapped_rows_are_caught(backend: Backend) {
    let app = ingested_app(backend).await;
    exec_sql(&app, "UPDATE entries SET idx = -1 WHERE idx = 1").await;
    exec_sql(&app, "UPDATE entries SET idx = 1 WHERE idx = 2").await;
    exec_sql(&app, "UPDATE entries SET idx = 2 WHERE idx = -1").await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("entry 1"), "{output}");
    app.stop().await;
}

async fn changed_checkpoint_is_caught(backend: Backend) {
    let app = ingested_app(backend).await;
    // Re-point the checkpoint's root at another (valid-looking) hash.
    exec_sql(&app, "UPDATE checkpoints SET note = REPLACE(note, '\n6\n', '\n5\n')").await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("checkpoint at size 6"), "{output}");
    app.stop().await;
}

async fn changed_content_is_caught(backend: Backend) {
    let app = ingested_app(backend).await;
    exec_sql(&app, "UPDATE contents SET content = 'No refund.' WHERE entry_idx = 1").await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("entry 1: content"), "{output}");
    app.stop().await;
}

async fn deleted_content_row_is_caught(backend: Backend) {
    let app = ingested_app(backend).await;
    exec_sql(&app, "DELETE FROM contents WHERE entry_idx = 4").await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("entry 4: the content row"), "{output}");
    app.stop().await;
}

async fn moved_log_head_is_caught(backend: Backend) {
    let app = ingested_app(backend).await;
    exec_sql(&app, "UPDATE log_heads SET root = last_leaf").await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("log head"), "{output}");
    app.stop().await;
}

/// Replaces `from` by `to` (same length, so the JSON stays canonical) in the bytes of
/// entry `index` of tenant `tenant` only.
async fn tamper_tenant_entry(app: &TestApp, tenant: &str, index: i64, from: &str, to: &str) {
    let sql = match app.backend {
        Backend::Sqlite => format!(
            "UPDATE entries SET entry_bytes = CAST(REPLACE(CAST(entry_bytes AS TEXT), '{from}', '{to}') AS BLOB) \
             WHERE idx = {index} AND tenant_id = (SELECT id FROM tenants WHERE name = '{tenant}')"
        ),
        Backend::Postgres => format!(
            "UPDATE entries SET entry_bytes = convert_to(replace(convert_from(entry_bytes, 'UTF8'), '{from}', '{to}'), 'UTF8') \
             WHERE idx = {index} AND tenant_id = (SELECT id FROM tenants WHERE name = '{tenant}')"
        ),
    };
    exec_sql(app, &sql).await;
}

/// Two tampered entries in one tenant and one in the next: all three are named, each
/// once, and the audit goes on to the end.
async fn every_failure_of_every_tenant_is_reported(backend: Backend) {
    let app = ingested_app(backend).await;
    let globex = app.key("globex", &[Scope::Ingest]).await;
    assert_eq!(
        app.post_traces(&globex, "application/x-protobuf", None, fixture("a_rag_semconv/1.pb"))
            .await
            .status(),
        200
    );
    tamper_tenant_entry(&app, "default", 2, "execute_tool", "execute_fool").await;
    tamper_tenant_entry(&app, "default", 4, "apply_guardrail", "apply_guardrain").await;
    tamper_tenant_entry(&app, "globex", 3, "chatcmpl-rag-0002", "chatcmpl-rag-0666").await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 1, "{output}");
    for named in [
        "tenant default: entry 2: stored leaf hash does not match its bytes",
        "tenant default: entry 4: stored leaf hash does not match its bytes",
        "tenant globex: entry 3: stored leaf hash does not match its bytes",
    ] {
        assert_eq!(output.matches(named).count(), 1, "{named}:\n{output}");
    }
    // The untouched entries of both tenants are not blamed.
    for clean in [
        "tenant default: entry 3:",
        "tenant globex: entry 2:",
        "tenant globex: entry 4:",
    ] {
        assert!(!output.contains(clean), "{clean}:\n{output}");
    }
    assert!(output.contains("tenant globex: 6 entries"), "{output}");
    app.stop().await;
}

/// 150 bad content rows: the first 100 are named one per line, the rest counted.
async fn failures_are_bounded_per_tenant(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    assert_eq!(
        app.post_traces(&key, "application/x-protobuf", None, synthetic_request(9, 150))
            .await
            .status(),
        200
    );
    exec_sql(&app, "UPDATE contents SET content = 'forged'").await;
    let (code, output) = audit_cli(&app).await;
    assert_eq!(code, 1, "{output}");
    let named = output
        .lines()
        .filter(|line| line.contains("does not open its commitment"))
        .count();
    assert_eq!(named, 100, "{output}");
    assert!(output.contains("and 50 more failures"), "{output}");
    app.stop().await;
}
