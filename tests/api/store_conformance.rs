//! One conformance suite for every `Store` backend: the same assertions on SQLite and
//! PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use serde_json::json;
use traceledger::domain::{Scope, TenantName};
use traceledger::ingest::ContentItem;
use traceledger::ledger::batch::PendingEntry;
use traceledger::ledger::checkpoint::{verify_checkpoint, LogSigner};
use traceledger::ledger::commitment::commit;
use traceledger::ledger::merkle;
use traceledger::store::{
    AppendItem, AppendedAs, GovernanceRow, PostgresStore, SpanQuery, SpanRow, SqliteStore, Store,
};

use crate::helpers::{both_backends, Backend, TestDir};

both_backends!(
    tenants_and_keys_round_trip,
    appends_chain_dedupe_and_prove,
    signing_keys_rotate_and_stay_listed,
    span_index_and_governance_queries,
);

async fn fresh_store(backend: Backend) -> (Arc<dyn Store>, TestDir) {
    let (dir, database_url) = TestDir::fresh_database(backend).await;
    let store: Arc<dyn Store> = match database_url {
        None => Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap()),
        Some(url) => Arc::new(PostgresStore::connect(&url).await.unwrap()),
    };
    (store, dir)
}

fn item(n: usize, dedupe: Option<&str>) -> AppendItem {
    let committed = commit(format!("content {n}"));
    let body = json!({"n": n, "text": {"sha256": committed.commitment.sha256, "len": committed.commitment.len}});
    AppendItem {
        entry: PendingEntry {
            entry_type: "span".into(),
            body,
        },
        contents: vec![ContentItem {
            field: "text".into(),
            committed,
        }],
        trace_id: Some("ab".repeat(16)),
        span_id: Some(format!("{n:016x}")),
        dedupe_key: dedupe.map(str::to_owned),
        output_digests: vec![[n as u8; 32]],
        span_row: Some(SpanRow {
            trace_id: "ab".repeat(16),
            span_id: format!("{n:016x}"),
            parent_span_id: (n > 0).then(|| format!("{:016x}", n - 1)),
            name: format!("span {n}"),
            kind: if n % 2 == 0 {
                "generation".into()
            } else {
                "retrieval".into()
            },
            start_ns: 1_000 + n as i64,
            end_ns: 1_000 + n as i64 + 100 * n as i64,
            model: (n % 2 == 0).then(|| "gpt-4o-mini".to_owned()),
            provider: None,
            input_tokens: Some(n as i64),
            output_tokens: Some(10 * n as i64),
            status_code: if n == 3 { 2 } else { 0 },
            pipeline_version_id: (n < 5).then(|| "pv_x".to_owned()),
            environment: Some("staging".into()),
            link_method: if n < 5 { "explicit".into() } else { "none".into() },
            attributes: vec![(
                "user.tier".into(),
                if n % 3 == 0 { "gold".into() } else { "free".into() },
            )],
        }),
        governance: None,
    }
}

async fn tenants_and_keys_round_trip(backend: Backend) {
    let (store, _dir) = fresh_store(backend).await;
    assert_eq!(
        store.backend(),
        if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    let name = TenantName::parse("acme").unwrap();
    let tenant = store.ensure_tenant(&name, "example.org/acme").await.unwrap();
    let again = store.ensure_tenant(&name, "example.org/acme").await.unwrap();
    assert_eq!(tenant, again, "ensure_tenant is idempotent");
    assert_eq!(tenant.lookup_secret.len(), 32);
    assert_eq!(store.tenants().await.unwrap(), vec![tenant.clone()]);
    assert_eq!(store.tree_size(&tenant).await.unwrap(), 0);
    assert_eq!(store.latest_checkpoint(&tenant).await.unwrap(), None);

    store
        .insert_api_key(&tenant, "k1", &[7u8; 32], &[Scope::Ingest, Scope::AuditRead])
        .await
        .unwrap();
    let record = store.api_key_by_hash(&[7u8; 32]).await.unwrap().expect("key");
    assert_eq!(record.tenant, tenant);
    assert_eq!(record.scopes, vec![Scope::Ingest, Scope::AuditRead]);
    assert!(store.api_key_by_hash(&[8u8; 32]).await.unwrap().is_none());
    assert!(
        store
            .insert_api_key(&tenant, "k2", &[7u8; 32], &[Scope::Ingest])
            .await
            .is_err(),
        "key hashes are unique"
    );
}

async fn appends_chain_dedupe_and_prove(backend: Backend) {
    let (store, _dir) = fresh_store(backend).await;
    let key = SigningKey::from_bytes(&[3u8; 32]);
    let tenant = store
        .ensure_tenant(&TenantName::parse("acme").unwrap(), "example.org/acme")
        .await
        .unwrap();
    let signer = LogSigner::new(&tenant.origin, key.clone()).unwrap();
    let verifier = signer.verifier_key();

    let mut checkpoints = Vec::new();
    let mut total = 0usize;
    for (round, size) in [1usize, 2, 5, 1, 9].into_iter().enumerate() {
        let items: Vec<AppendItem> = (0..size)
            .map(|i| item(total + i, Some(&format!("k{}", total + i))))
            .collect();
        let receipt = store.append_batch(&tenant, &items, &signer).await.unwrap();
        total += size;
        assert_eq!(receipt.tree_size, total as u64, "round {round}");
        assert_eq!(receipt.indexes.last(), Some(&AppendedAs::New(total as u64 - 1)));
        let note = receipt.checkpoint.expect("checkpoint");
        checkpoints.push(verify_checkpoint(&note, &verifier).unwrap());
    }
    assert_eq!(store.tree_size(&tenant).await.unwrap(), 18);

    // Duplicates (against the log and within the batch) are not appended again.
    let receipt = store
        .append_batch(
            &tenant,
            &[item(100, Some("k3")), item(101, Some("new")), item(102, Some("new"))],
            &signer,
        )
        .await
        .unwrap();
    assert_eq!(
        receipt.indexes,
        vec![AppendedAs::Duplicate(3), AppendedAs::New(18), AppendedAs::Duplicate(18)]
    );
    let receipt = store
        .append_batch(&tenant, &[item(103, Some("k1"))], &signer)
        .await
        .unwrap();
    assert_eq!(receipt.indexes, vec![AppendedAs::Duplicate(1)]);
    assert_eq!(receipt.checkpoint, None, "nothing new, no new checkpoint");
    assert_eq!(receipt.tree_size, 19);

    // Entries, hashes and proofs.
    let entries = store.entries(&tenant, 0, 100).await.unwrap();
    assert_eq!(entries.len(), 19);
    let mut tree = merkle::MemoryTree::new();
    for entry in &entries {
        let leaf = traceledger::ledger::entry::leaf_hash(&entry.entry_bytes);
        assert_eq!(entry.leaf_hash, leaf.0.to_vec());
        tree.append(leaf).unwrap();
    }
    let all: Vec<u64> = (0..merkle::stored_hash_count(19)).collect();
    let stored = store.stored_hashes(&tenant, &all).await.unwrap();
    assert_eq!(
        &stored,
        tree.hashes(),
        "stored interior hashes equal the recomputed ones"
    );
    let latest = store.latest_checkpoint(&tenant).await.unwrap().unwrap();
    assert_eq!(latest.size, 19);
    let checkpoint = verify_checkpoint(&latest.note, &verifier).unwrap();
    assert_eq!(checkpoint.root, tree.root_at(19).unwrap());
    for index in [0u64, 7, 18] {
        let needed = merkle::inclusion_proof_indexes(index, 19).unwrap();
        let hashes: HashMap<_, _> = store.stored_hashes(&tenant, &needed).await.unwrap();
        let proof = merkle::inclusion_proof(index, 19, &hashes).unwrap();
        merkle::verify_inclusion(
            index,
            19,
            &tree.hashes()[&merkle::leaf_stored_index(index)],
            &proof,
            &checkpoint.root,
        )
        .unwrap();
    }
    let stored_checkpoints = store.checkpoints(&tenant).await.unwrap();
    assert_eq!(
        stored_checkpoints.iter().map(|c| c.size).collect::<Vec<_>>(),
        vec![1, 3, 8, 9, 18, 19]
    );
    for pair in checkpoints.windows(2) {
        let needed = merkle::consistency_proof_indexes(pair[0].size, pair[1].size).unwrap();
        let hashes = store.stored_hashes(&tenant, &needed).await.unwrap();
        let proof = merkle::consistency_proof(pair[0].size, pair[1].size, &hashes).unwrap();
        merkle::verify_consistency(pair[0].size, pair[1].size, &pair[0].root, &pair[1].root, &proof).unwrap();
    }

    // Contents are stored beside the entries and open their commitments.
    let contents = store.contents(&tenant, 0, 19).await.unwrap();
    assert_eq!(contents.len(), 19);
    for content in contents {
        let text = content.content.expect("content");
        let salt = content.salt.expect("salt");
        assert_eq!(
            traceledger::ledger::commitment::commitment_digest(&salt, &text),
            content.commitment
        );
    }
}

async fn signing_keys_rotate_and_stay_listed(backend: Backend) {
    let (store, _dir) = fresh_store(backend).await;
    store.register_signing_key(&[1u8; 32]).await.unwrap();
    store.register_signing_key(&[1u8; 32]).await.unwrap();
    store.register_signing_key(&[2u8; 32]).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    let active: Vec<_> = keys
        .iter()
        .filter(|key| key.active)
        .map(|key| key.public_key.clone())
        .collect();
    assert_eq!(active, vec![vec![2u8; 32]]);
}

async fn span_index_and_governance_queries(backend: Backend) {
    let (store, _dir) = fresh_store(backend).await;
    let tenant = store
        .ensure_tenant(&TenantName::parse("acme").unwrap(), "example.org/acme")
        .await
        .unwrap();
    let signer = LogSigner::new(&tenant.origin, SigningKey::from_bytes(&[3u8; 32])).unwrap();
    let items: Vec<AppendItem> = (0..10).map(|n| item(n, Some(&format!("k{n}")))).collect();
    store.append_batch(&tenant, &items, &signer).await.unwrap();
    let governance = AppendItem {
        entry: PendingEntry {
            entry_type: "pipeline_version".into(),
            body: json!({"id": "pv_x"}),
        },
        dedupe_key: Some("pipeline_version:pv_x".into()),
        governance: Some(GovernanceRow {
            kind: "pipeline_version".into(),
            id: "pv_x".into(),
            name: Some("rag".into()),
            version: Some("1".into()),
            body: "{\"id\":\"pv_x\"}".into(),
            ..GovernanceRow::default()
        }),
        ..AppendItem::default()
    };
    let receipt = store
        .append_batch(&tenant, &[governance.clone(), governance], &signer)
        .await
        .unwrap();
    assert_eq!(receipt.indexes, vec![AppendedAs::New(10), AppendedAs::Duplicate(10)]);
    let records = store.governance(&tenant, "pipeline_version").await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].entry_index, records[0].row.name.as_deref()),
        (10, Some("rag"))
    );
    assert!(store.governance(&tenant, "deployment").await.unwrap().is_empty());

    let search = |query: SpanQuery| {
        let store = store.clone();
        let tenant = tenant.clone();
        async move {
            store
                .search_spans(&tenant, &SpanQuery { limit: 100, ..query })
                .await
                .unwrap()
                .into_iter()
                .map(|record| record.entry_index)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        search(SpanQuery::default()).await,
        (0..10).rev().collect::<Vec<u64>>(),
        "newest first"
    );
    assert_eq!(
        search(SpanQuery {
            kind: Some("retrieval".into()),
            ..SpanQuery::default()
        })
        .await,
        vec![9, 7, 5, 3, 1]
    );
    assert_eq!(
        search(SpanQuery {
            min_duration_ns: Some(500),
            ..SpanQuery::default()
        })
        .await,
        vec![9, 8, 7, 6, 5]
    );
    assert_eq!(
        search(SpanQuery {
            min_output_tokens: Some(80),
            ..SpanQuery::default()
        })
        .await,
        vec![9, 8]
    );
    assert_eq!(
        search(SpanQuery {
            status_code: Some(2),
            ..SpanQuery::default()
        })
        .await,
        vec![3]
    );
    assert_eq!(
        search(SpanQuery {
            linked: Some(false),
            ..SpanQuery::default()
        })
        .await,
        vec![9, 8, 7, 6, 5]
    );
    assert_eq!(
        search(SpanQuery {
            attributes: vec![("user.tier".into(), "gold".into())],
            ..SpanQuery::default()
        })
        .await,
        vec![9, 6, 3, 0]
    );
    assert_eq!(
        search(SpanQuery {
            model: Some("gpt-4o-mini".into()),
            start_to_ns: Some(1_005),
            ..SpanQuery::default()
        })
        .await,
        vec![4, 2, 0]
    );
    // Cursor pagination: pages of 4 cover everything once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .search_spans(
                &tenant,
                &SpanQuery {
                    limit: 4,
                    cursor,
                    ..SpanQuery::default()
                },
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        cursor = Some((last.row.start_ns, last.entry_index as i64));
        seen.extend(page.iter().map(|record| record.entry_index));
    }
    assert_eq!(seen, (0..10).rev().collect::<Vec<u64>>());

    assert_eq!(store.output_entries(&tenant, &[4u8; 32]).await.unwrap(), vec![4]);
    assert_eq!(store.trace_entries(&tenant, &"ab".repeat(16)).await.unwrap().len(), 10);
    assert_eq!(
        store
            .entries_at(&tenant, &[7, 2, 99])
            .await
            .unwrap()
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![2, 7]
    );
    assert_eq!(store.contents_of(&tenant, &[1, 5]).await.unwrap().len(), 2);
}
