//! `traceledger audit` (and the CLI around it): a clean store passes; each kind of
//! tampering with rows directly in the database is caught and named.

use traceledger::domain::Scope;

use crate::helpers::{
    both_backends, exec_sql, fixture, run_cli, spawn_app, store_cli_args, tamper_entry_bytes, Backend, TestApp,
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
    let mut arguments = vec!["audit".to_string()];
    arguments.extend(store_cli_args(&app.args));
    let (code, stdout, stderr) = run_cli(&arguments).await;
    (code, format!("{stdout}{stderr}"))
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
