//! The ledger read API: keys, checkpoints, entries, proofs — verified end to end with
//! the offline verification functions, plus auth and tenant isolation.

use base64::Engine;
use traceledger::domain::Scope;
use traceledger::ledger::checkpoint::verify_checkpoint;
use traceledger::ledger::entry::{leaf_hash, Entry};
use traceledger::ledger::{hash_from_hex, merkle, Hash};

use crate::helpers::{both_backends, fixture, spawn_app, synthetic_request, verifier_key_for, Backend};

both_backends!(
    checkpoint_entries_and_proofs_verify_offline,
    bad_proof_requests_are_rejected,
    auth_is_required_everywhere_but_health_and_keys,
    tenants_are_isolated,
);

fn hashes(value: &serde_json::Value) -> Vec<Hash> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| hash_from_hex(hash.as_str().unwrap()).unwrap())
        .collect()
}

async fn checkpoint_entries_and_proofs_verify_offline(backend: Backend) {
    let app = spawn_app(backend).await;
    let ingest = app.key("default", &[Scope::Ingest]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    assert_eq!(
        app.post_traces(&ingest, "application/x-protobuf", None, fixture("a_rag_semconv/1.pb"))
            .await
            .status(),
        200
    );
    let first_note = app.get(&reader, "/v1/ledger/checkpoint").await.text().await.unwrap();
    assert_eq!(
        app.post_traces(&ingest, "application/x-protobuf", None, synthetic_request(3, 5))
            .await
            .status(),
        200
    );

    let response = app.get(&reader, "/v1/ledger/checkpoint").await;
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let note = response.text().await.unwrap();
    let origin = note.lines().next().unwrap().to_owned();
    assert_eq!(origin, "traceledger.local/default");
    let key = verifier_key_for(&app, &origin).await;
    let checkpoint = verify_checkpoint(&note, &key).expect("checkpoint verifies");
    assert_eq!(checkpoint.size, 11);
    let first = verify_checkpoint(&first_note, &key).expect("first checkpoint verifies");
    assert_eq!(first.size, 6);

    let page: serde_json::Value = app
        .get(&reader, "/v1/ledger/entries?start=0&end=100")
        .await
        .json()
        .await
        .unwrap();
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 11, "end is clamped to the tree size");
    let mut previous = "0".repeat(64);
    let mut leaves = Vec::new();
    for (position, item) in entries.iter().enumerate() {
        assert_eq!(item["index"], position as u64);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(item["entry_bytes"].as_str().unwrap())
            .unwrap();
        let entry = Entry::from_canonical_bytes(&bytes).expect("canonical entry");
        assert_eq!(serde_json::to_value(&entry).unwrap(), item["entry"]);
        assert_eq!(entry.prev, previous);
        assert_eq!(entry.log, origin);
        let leaf = leaf_hash(&bytes);
        previous = hex::encode(leaf.0);
        leaves.push(leaf);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            !text.contains("secret question"),
            "content must be committed, not in clear"
        );
        assert!(
            !text.contains("Can I still get a refund"),
            "content must be committed, not in clear"
        );
    }

    for index in 0..11u64 {
        let proof: serde_json::Value = app
            .get(
                &reader,
                &format!("/v1/ledger/proofs/inclusion?index={index}&tree_size=11"),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(proof["index"], index);
        assert_eq!(proof["tree_size"], 11);
        assert_eq!(proof["leaf_hash"], hex::encode(leaves[index as usize].0));
        merkle::verify_inclusion(
            index,
            11,
            &leaves[index as usize],
            &hashes(&proof["proof"]),
            &checkpoint.root,
        )
        .unwrap_or_else(|error| panic!("inclusion of {index}: {error}"));
    }
    // Against the older checkpoint too.
    let old: serde_json::Value = app
        .get(&reader, "/v1/ledger/proofs/inclusion?index=4&tree_size=6")
        .await
        .json()
        .await
        .unwrap();
    merkle::verify_inclusion(4, 6, &leaves[4], &hashes(&old["proof"]), &first.root).expect("inclusion in old tree");

    let consistency: serde_json::Value = app
        .get(&reader, "/v1/ledger/proofs/consistency?first=6&second=11")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consistency["first"], 6);
    assert_eq!(consistency["second"], 11);
    merkle::verify_consistency(6, 11, &first.root, &checkpoint.root, &hashes(&consistency["proof"]))
        .expect("consistency between the two checkpoints");
    app.stop().await;
}

async fn bad_proof_requests_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let ingest = app.key("default", &[Scope::Ingest]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    assert_eq!(
        app.post_traces(&ingest, "application/x-protobuf", None, synthetic_request(1, 3))
            .await
            .status(),
        200
    );
    for path in [
        "/v1/ledger/proofs/inclusion?index=3&tree_size=3",
        "/v1/ledger/proofs/inclusion?index=0&tree_size=4",
        "/v1/ledger/proofs/inclusion?index=x",
        "/v1/ledger/proofs/consistency?first=0&second=3",
        "/v1/ledger/proofs/consistency?first=3&second=2",
        "/v1/ledger/proofs/consistency?first=1&second=4",
        "/v1/ledger/entries?start=5&end=1",
        "/v1/ledger/entries?start=-1&end=1",
    ] {
        let response = app.get(&reader, path).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
    app.stop().await;
}

async fn auth_is_required_everywhere_but_health_and_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/healthz", "/readyz", "/v1/keys"] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let ingest_only = app.key("default", &[Scope::Ingest]).await;
    for path in [
        "/v1/ledger/checkpoint",
        "/v1/ledger/entries?start=0&end=1",
        "/v1/ledger/proofs/inclusion?index=0",
        "/v1/ledger/proofs/consistency?first=1&second=1",
    ] {
        let anonymous = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
        let garbage = app.get("not-a-key", path).await;
        assert_eq!(garbage.status(), 401, "{path}");
        let wrong_scope = app.get(&ingest_only, path).await;
        assert_eq!(wrong_scope.status(), 403, "{path}");
    }
    let admin = app.key("default", &[Scope::Admin]).await;
    assert_eq!(
        app.get(&admin, "/v1/ledger/checkpoint").await.status(),
        200,
        "admin implies audit:read"
    );
    assert_eq!(app.get(&admin, "/v1/nope").await.status(), 404);
    app.stop().await;
}

async fn tenants_are_isolated(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme_ingest = app.key("acme", &[Scope::Ingest]).await;
    let acme_reader = app.key("acme", &[Scope::AuditRead]).await;
    let globex_reader = app.key("globex", &[Scope::AuditRead]).await;
    assert_eq!(
        app.post_traces(&acme_ingest, "application/x-protobuf", None, synthetic_request(9, 4))
            .await
            .status(),
        200
    );

    let acme_note = app
        .get(&acme_reader, "/v1/ledger/checkpoint")
        .await
        .text()
        .await
        .unwrap();
    assert!(acme_note.starts_with("traceledger.local/acme\n4\n"), "{acme_note}");
    let globex_note = app
        .get(&globex_reader, "/v1/ledger/checkpoint")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        globex_note.starts_with("traceledger.local/globex\n0\n"),
        "{globex_note}"
    );
    let globex_key = verifier_key_for(&app, "traceledger.local/globex").await;
    verify_checkpoint(&globex_note, &globex_key).expect("empty-tree checkpoint verifies");
    assert!(
        verify_checkpoint(&acme_note, &globex_key).is_err(),
        "another log's key must not verify"
    );

    let globex_entries: serde_json::Value = app
        .get(&globex_reader, "/v1/ledger/entries?start=0&end=10")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(globex_entries["entries"].as_array().unwrap().len(), 0);
    let proof = app
        .get(&globex_reader, "/v1/ledger/proofs/inclusion?index=0&tree_size=1")
        .await;
    assert_eq!(proof.status(), 400, "globex's log has no entry 0");
    app.stop().await;
}
