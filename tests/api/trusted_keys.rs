//! The signing key is trusted from outside the database: the server does not mint a new
//! key for a store whose logs another key signed, and `traceledger audit` checks
//! checkpoints against the key file / `--key`, never against the keys the store lists.

use traceledger::app;
use traceledger::domain::{Scope, TenantName};
use traceledger::ledger::batch::PendingEntry;
use traceledger::ledger::checkpoint::LogSigner;
use traceledger::store::AppendItem;

use crate::helpers::{audit_cli, both_backends, fixture, spawn_app, Backend, TestApp};

both_backends!(
    missing_key_file_refuses_restart,
    another_key_file_refuses_restart,
    checkpoints_signed_by_an_untrusted_key_fail_audit,
    audit_needs_a_trusted_key_from_outside_the_store,
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

async fn missing_key_file_refuses_restart(backend: Backend) {
    let app = ingested_app(backend).await;
    let args = app.args.clone();
    let dir = app.stop().await;
    let key_path = args.signing_key_path();
    std::fs::remove_file(&key_path).unwrap();

    let refused = match app::spawn(&args).await {
        Ok(_) => panic!("the server started and minted a new key for a signed store"),
        Err(error) => format!("{error:#}"),
    };
    assert!(refused.contains(&key_path.display().to_string()), "{refused}");
    assert!(refused.contains("Restore the key file"), "{refused}");
    assert!(refused.contains("--signing-key-file"), "{refused}");
    assert!(!key_path.exists(), "no new key file is written");
    drop(dir);
}

async fn another_key_file_refuses_restart(backend: Backend) {
    let app = ingested_app(backend).await;
    let mut args = app.args.clone();
    let dir = app.stop().await;
    // A different, existing key file given explicitly: rotation needs a key-rotation
    // entry signed by the old key, which does not exist yet.
    let other = dir.path().join("other-key.pem");
    traceledger::signing::load_or_create(&other).unwrap();
    args.signing_key_file = Some(other.clone());
    let refused = match app::spawn(&args).await {
        Ok(_) => panic!("the server started with a key that did not sign the store"),
        Err(error) => format!("{error:#}"),
    };
    assert!(refused.contains("not the key that signed"), "{refused}");
    drop(dir);
}

async fn checkpoints_signed_by_an_untrusted_key_fail_audit(backend: Backend) {
    let app = ingested_app(backend).await;
    let args = app.args.clone();
    let dir = app.stop().await;
    // What a server that minted a new key would do (and what an operator with database
    // access and a key of their own can do): register it, sign a forged checkpoint.
    let store = traceledger::store::open(&args.store.effective_database_url())
        .await
        .unwrap();
    let forger = ed25519_dalek::SigningKey::from_bytes(&[66u8; 32]);
    store
        .register_signing_key(forger.verifying_key().as_bytes())
        .await
        .unwrap();
    let name = TenantName::parse("default").unwrap();
    let tenant = store.tenant_by_name(&name).await.unwrap().unwrap();
    let signer = LogSigner::new(&tenant.origin, forger).unwrap();
    let item = AppendItem {
        entry: PendingEntry {
            entry_type: "policy".into(),
            body: serde_json::json!({"note": "forged"}),
        },
        ..AppendItem::default()
    };
    store.append_batch(&tenant, &[item], &signer).await.unwrap();
    drop(store);

    let (code, output) = audit_cli(&args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("tenant default: checkpoint at size 7: signed by a key that is not trusted"),
        "{output}"
    );
    assert!(output.contains("registered as active but not trusted"), "{output}");
    drop(dir);
}

async fn audit_needs_a_trusted_key_from_outside_the_store(backend: Backend) {
    let app = ingested_app(backend).await;
    let keys: serde_json::Value = app
        .client
        .get(app.url("/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verifier = keys["keys"][0]["verifier_key"].as_str().unwrap().to_owned();
    let args = app.args.clone();
    let dir = app.stop().await;
    let key_path = args.signing_key_path();
    let moved = dir.path().join("kept-elsewhere.pem");
    std::fs::rename(&key_path, &moved).unwrap();

    // No key file where the default points and no flag: audit says so and fails.
    let (code, output) = audit_cli(&args, &[]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("no trusted signing key"), "{output}");

    // The published verifier key, obtained out of band.
    let (code, output) = audit_cli(&args, &["--key".into(), verifier]).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("audit: OK"), "{output}");

    // The key file elsewhere.
    let (code, output) = audit_cli(&args, &["--signing-key-file".into(), moved.display().to_string()]).await;
    assert_eq!(code, 0, "{output}");

    // A wrong key: every checkpoint fails.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let wrong = traceledger::ledger::checkpoint::verifier_key("traceledger.local/default", &stranger.verifying_key());
    let (code, output) = audit_cli(&args, &["--key".into(), wrong]).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("checkpoint at size 6"), "{output}");
    drop(dir);
}
