//! Erased content must be backed by an `erasure` entry: a content row blanked by hand
//! (salt and content set to NULL in SQL) is an audit failure, not an erasure.

use serde_json::json;
use traceledger::domain::Scope;
use traceledger::ledger::batch::PendingEntry;
use traceledger::ledger::checkpoint::LogSigner;
use traceledger::store::AppendItem;

use crate::helpers::{audit_cli, both_backends, exec_sql, fixture, spawn_app, Backend, TestApp};

both_backends!(
    blanked_content_row_without_erasure_fails_audit,
    erasure_entry_backs_erased_content,
);

async fn ingest_fixture(app: &TestApp, key: &str) {
    assert_eq!(
        app.post_traces(key, "application/x-protobuf", None, fixture("a_rag_semconv/1.pb"))
            .await
            .status(),
        200
    );
}

async fn blanked_content_row_without_erasure_fails_audit(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    ingest_fixture(&app, &key).await;
    exec_sql(
        &app,
        "UPDATE contents SET salt = NULL, content = NULL WHERE entry_idx = 2",
    )
    .await;
    let (code, output) = audit_cli(&app.args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("tenant default: entry 2: content"), "{output}");
    assert!(output.contains("erasure"), "{output}");
    app.stop().await;
}

/// Content erased with an `erasure` entry that names its commitments passes the audit;
/// erased content that the erasure entry does not name still fails.
async fn erasure_entry_backs_erased_content(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    ingest_fixture(&app, &key).await;
    let tenant = app.tenant("default").await;
    let store = app.store();
    let erased: Vec<String> = store
        .contents_of(&tenant, &[2])
        .await
        .unwrap()
        .into_iter()
        .map(|content| content.commitment)
        .collect();
    assert_eq!(erased.len(), 2);
    // What the erasure of a later issue appends (only the members audit relies on).
    let signer = LogSigner::new(&tenant.origin, app.app.state.signing_key.clone()).unwrap();
    let item = AppendItem {
        entry: PendingEntry {
            entry_type: "erasure".into(),
            body: json!({"commitments": erased}),
        },
        ..AppendItem::default()
    };
    store.append_batch(&tenant, &[item], &signer).await.unwrap();
    exec_sql(
        &app,
        "UPDATE contents SET salt = NULL, content = NULL WHERE entry_idx = 2",
    )
    .await;
    let (code, output) = audit_cli(&app.args, &[]).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("(2 erased)"), "{output}");

    exec_sql(
        &app,
        "UPDATE contents SET salt = NULL, content = NULL WHERE entry_idx = 4",
    )
    .await;
    let (code, output) = audit_cli(&app.args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("tenant default: entry 4: content"), "{output}");
    app.stop().await;
}
