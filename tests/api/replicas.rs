//! Several traceledger processes on one database: the log never forks, every
//! acknowledged span is present exactly once, all checkpoints are consistent.
//! Also: a briefly unreachable PostgreSQL answers 503 + Retry-After and loses nothing.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use traceledger::domain::Scope;
use traceledger::ledger::checkpoint::verify_checkpoint;
use traceledger::ledger::merkle;

use crate::helpers::{
    both_backends, exec_sql, run_cli, spawn_app, store_cli_args, synthetic_request, Backend, TestDir,
};

both_backends!(two_replicas_ingest_concurrently_without_forking);

/// A `traceledger serve` child process.
struct Replica {
    /// Held so the process is killed when the replica is dropped.
    _child: tokio::process::Child,
    url: String,
}

async fn start_replica(store_args: &[String], key_file: &std::path::Path) -> Replica {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_traceledger"));
    command
        .arg("serve")
        .args(store_args)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "127.0.0.1:0",
            "--signing-key-file",
        ])
        .arg(key_file)
        .env("TRACELEDGER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn traceledger serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .expect("read stderr")
            .expect("replica exited before listening");
        if let Some(rest) = line.strip_prefix("traceledger listening on ") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Replica { _child: child, url }
}

async fn two_replicas_ingest_concurrently_without_forking(backend: Backend) {
    let (dir, args) = TestDir::fresh(backend).await;
    let store_args = store_cli_args(&args);
    let key_file = dir.path().join("shared-signing-key.pem");
    // The first replica creates the key file and the schema; the second shares both.
    let first = start_replica(&store_args, &key_file).await;
    let second = start_replica(&store_args, &key_file).await;

    let mut key_args = vec!["keys".to_string(), "create".into()];
    key_args.extend(store_args.clone());
    key_args.extend([
        "--tenant".into(),
        "default".into(),
        "--scope".into(),
        "ingest".into(),
        "--scope".into(),
        "audit:read".into(),
    ]);
    let (code, stdout, stderr) = run_cli(&key_args).await;
    assert_eq!(code, 0, "{stderr}");
    let key = stdout.trim().to_owned();

    let client = reqwest::Client::new();
    let replicas = [first.url.clone(), second.url.clone()];
    let mut tasks = Vec::new();
    for worker in 0..8u8 {
        let (client, replicas, key) = (client.clone(), replicas.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..6u8 {
                // Seeds repeat across workers: the same spans reach both replicas at
                // once, like an SDK retrying against a load balancer.
                let seed = 1 + (worker % 4) * 6 + round;
                let body = synthetic_request(seed, 10);
                let target = &replicas[usize::from((worker + round) % 2)];
                let response = client
                    .post(format!("{target}/v1/traces"))
                    .bearer_auth(&key)
                    .header("Content-Type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    drop(first);
    drop(second);

    // 24 distinct seeds x 10 spans, each exactly once.
    let mut audit_args = vec!["audit".to_string()];
    audit_args.extend(store_args.clone());
    audit_args.extend(["--signing-key-file".into(), key_file.display().to_string()]);
    let (code, stdout, stderr) = run_cli(&audit_args).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("tenant default: 240 entries"), "{stdout}");

    let store = traceledger::store::open(&args.store.effective_database_url())
        .await
        .expect("open store");
    let tenant = store
        .tenant_by_name(&traceledger::domain::TenantName::parse("default").unwrap())
        .await
        .unwrap()
        .unwrap();
    let entries = store.entries(&tenant, 0, 1000).await.unwrap();
    let mut span_keys = std::collections::BTreeSet::new();
    for entry in &entries {
        let parsed: serde_json::Value = serde_json::from_slice(&entry.entry_bytes).unwrap();
        let key = format!("{}:{}", parsed["body"]["trace_id"], parsed["body"]["span_id"]);
        assert!(span_keys.insert(key.clone()), "span {key} committed twice");
    }
    assert_eq!(span_keys.len(), 240);

    // Every checkpoint verifies, and each is consistent with the next.
    let public_key = std::fs::read_to_string(&key_file).unwrap();
    let signing_key =
        <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&public_key).unwrap();
    let verifier = traceledger::ledger::checkpoint::verifier_key(&tenant.origin, &signing_key.verifying_key());
    let checkpoints = store.checkpoints(&tenant).await.unwrap();
    assert!(checkpoints.len() >= 2);
    let verified: Vec<_> = checkpoints
        .iter()
        .map(|checkpoint| verify_checkpoint(&checkpoint.note, &verifier).unwrap())
        .collect();
    for pair in verified.windows(2) {
        let needed = merkle::consistency_proof_indexes(pair[0].size, pair[1].size).unwrap();
        let hashes = store.stored_hashes(&tenant, &needed).await.unwrap();
        let proof = merkle::consistency_proof(pair[0].size, pair[1].size, &hashes).unwrap();
        merkle::verify_consistency(pair[0].size, pair[1].size, &pair[0].root, &pair[1].root, &proof)
            .unwrap_or_else(|error| panic!("checkpoints {} -> {}: {error}", pair[0].size, pair[1].size));
    }
}

/// PostgreSQL refuses connections for a while: ingest answers 503 with Retry-After,
/// nothing half-written remains, and ingest resumes when the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_gives_503_and_loses_nothing() {
    let app = spawn_app(Backend::Postgres).await;
    let key = app.key("default", &[Scope::Ingest, Scope::AuditRead]).await;
    assert_eq!(
        app.post_traces(&key, "application/x-protobuf", None, synthetic_request(1, 5))
            .await
            .status(),
        200
    );
    let url = app.args.store.database_url.clone().unwrap();
    let database = url.rsplit('/').next().unwrap().to_owned();
    let admin = crate::helpers::pg_admin_url();
    let admin_sql = |sql: String| {
        let admin = admin.clone();
        async move {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
        }
    };
    // Cut the database off: refuse new connections, kill the pooled ones.
    admin_sql(format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false")).await;
    admin_sql(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
    ))
    .await;

    // API keys are checked against the database, so even authentication is unavailable.
    let response = app
        .post_traces(&key, "application/x-protobuf", None, synthetic_request(2, 5))
        .await;
    assert_eq!(response.status(), 503, "{}", response.text().await.unwrap_or_default());
    let response = app
        .post_traces(&key, "application/x-protobuf", None, synthetic_request(2, 5))
        .await;
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.headers()["content-type"], "application/problem+json");

    admin_sql(format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true")).await;
    let response = app
        .post_traces(&key, "application/x-protobuf", None, synthetic_request(2, 5))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let tenant = app.tenant("default").await;
    assert_eq!(app.store().tree_size(&tenant).await.unwrap(), 10);
    traceledger::audit::fsck::audit_store(app.store().as_ref(), &[app.app.state.signing_key.verifying_key()])
        .await
        .expect("audit");
    // Keep the helper used (SQL on the app's own database works again).
    exec_sql(&app, "SELECT 1").await;
    app.stop().await;
}
