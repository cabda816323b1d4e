//! Ingest throughput: real RAG spans (the a_rag_semconv fixture, with fresh ids) sent
//! over OTLP/HTTP by concurrent clients to an in-process server; reports spans/s
//! acknowledged (each acknowledgement means durably committed and checkpointed).
//!
//! ```sh
//! cargo bench --bench ingest                       # SQLite and PostgreSQL, short run
//! TL_BENCH_SPANS=1000000 cargo bench --bench ingest  # full run (see scripts/bench-ingest.sh)
//! ```
//! Knobs: `TL_BENCH_SPANS` (default 30000), `TL_BENCH_TRACES_PER_REQUEST` (default 10,
//! 6 spans each), `TL_BENCH_CONCURRENCY` (default 16), `TL_BENCH_BACKEND`
//! (`sqlite`, `postgres` or `both`, default both), `TL_BENCH_PG_URL`.

use std::time::Instant;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use sqlx::Connection;
use traceledger::config::ServeArgs;
use traceledger::domain::Scope;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn template() -> ExportTraceServiceRequest {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/a_rag_semconv/1.pb");
    let bytes = std::fs::read(path).expect("fixture a_rag_semconv/1.pb");
    ExportTraceServiceRequest::decode(bytes.as_slice()).expect("fixture decodes")
}

/// A request with `traces` copies of the fixture trace, ids derived from `request_number`.
fn request_body(template: &ExportTraceServiceRequest, request_number: u64, traces: usize) -> Vec<u8> {
    let mut request = ExportTraceServiceRequest {
        resource_spans: Vec::new(),
    };
    for trace in 0..traces as u64 {
        let mut copy = template.resource_spans[0].clone();
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&request_number.to_be_bytes());
        trace_id[8..].copy_from_slice(&(trace + 1).to_be_bytes());
        for scope in &mut copy.scope_spans {
            for span in &mut scope.spans {
                span.trace_id = trace_id.to_vec();
                // Spread the copies in time (1 ms per request) as real traffic is.
                let shift = request_number * 1_000_000 + trace;
                span.start_time_unix_nano += shift;
                span.end_time_unix_nano += shift;
            }
        }
        request.resource_spans.push(copy);
    }
    request.encode_to_vec()
}

async fn run(backend: &str, total_spans: usize, traces_per_request: usize, concurrency: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let mut args = ServeArgs::for_data_dir(dir.path().join("data"));
    if backend == "postgres" {
        let admin =
            std::env::var("TL_BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("tl_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let base = admin.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap_or(admin);
        args.store.database_url = Some(format!("{base}/{name}"));
    }
    let app = traceledger::app::spawn(&args).await?;
    let tenant_name = traceledger::domain::TenantName::parse("default")?;
    let tenant = app
        .state
        .store
        .tenant_by_name(&tenant_name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant"))?;
    let key = traceledger::auth::generate_key();
    app.state
        .store
        .insert_api_key(&tenant, &key.id, &key.hash, &[Scope::Ingest])
        .await?;

    let template = template();
    let spans_per_request = traces_per_request * 6;
    let requests = total_spans.div_ceil(spans_per_request) as u64;
    let bodies: Vec<Vec<u8>> = (0..requests)
        .map(|n| request_body(&template, n + 1, traces_per_request))
        .collect();
    let bodies = std::sync::Arc::new(bodies);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let client = reqwest::Client::new();
    let url = format!("{}/v1/traces", app.url());
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (bodies, next, client, url, secret) = (
            bodies.clone(),
            next.clone(),
            client.clone(),
            url.clone(),
            key.secret.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(n as usize) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let response = client
                    .post(&url)
                    .bearer_auth(&secret)
                    .header("Content-Type", "application/x-protobuf")
                    .body(body.clone())
                    .send()
                    .await?;
                anyhow::ensure!(response.status() == 200, "status {}", response.status());
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let committed = app.state.store.tree_size(&tenant).await?;
    anyhow::ensure!(
        committed == requests * spans_per_request as u64,
        "committed {committed}"
    );
    let checkpoints = app.state.store.checkpoints(&tenant).await?.len();
    let rate = committed as f64 / elapsed;
    println!(
        "{backend:>8}: {committed} spans in {elapsed:.2} s = {rate:.0} spans/s acknowledged \
         ({requests} requests x {spans_per_request} spans, concurrency {concurrency}, {checkpoints} group commits)"
    );
    query_latencies(&app, &client, &tenant).await?;
    app.stop().await?;
    Ok(rate)
}

/// Median latency of audit queries over the ingested log (span searches with filters, a
/// trace report, a provenance search).
async fn query_latencies(
    app: &traceledger::app::RunningApp,
    client: &reqwest::Client,
    tenant: &traceledger::store::Tenant,
) -> anyhow::Result<()> {
    let key = traceledger::auth::generate_key();
    app.state
        .store
        .insert_api_key(tenant, &key.id, &key.hash, &[Scope::AuditRead])
        .await?;
    let queries: [(&str, Option<serde_json::Value>); 5] = [
        ("/v1/spans?kind=retrieval&min_duration_ms=5&limit=100", None),
        ("/v1/spans?kind=generation&min_output_tokens=30&limit=100", None),
        ("/v1/spans?attribute=gen_ai.request.model%3Dgpt-4o-mini&limit=100", None),
        ("/v1/traces/00000000000000010000000000000001", None),
        (
            "/v1/provenance/search",
            Some(serde_json::json!({"trace_id": "00000000000000010000000000000001"})),
        ),
    ];
    for (path, body) in queries {
        let mut times = Vec::new();
        for _ in 0..9 {
            let started = Instant::now();
            let request = match &body {
                Some(json) => client.post(format!("{}{path}", app.url())).json(json),
                None => client.get(format!("{}{path}", app.url())),
            };
            let response = request.bearer_auth(&key.secret).send().await?;
            anyhow::ensure!(response.status() == 200, "{path}: {}", response.status());
            response.bytes().await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!("          query {path}: median {:.1} ms", times[times.len() / 2]);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without
    // it: then only a small smoke run, so the test suite stays fast.
    let benchmarking = std::env::args().any(|argument| argument == "--bench");
    let total = env_number("TL_BENCH_SPANS", if benchmarking { 30_000 } else { 600 });
    let traces = env_number("TL_BENCH_TRACES_PER_REQUEST", 10);
    let concurrency = env_number("TL_BENCH_CONCURRENCY", 16);
    let backend = std::env::var("TL_BENCH_BACKEND").unwrap_or_else(|_| "both".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut rates = Vec::new();
        for name in ["sqlite", "postgres"] {
            if backend == "both" || backend == name {
                rates.push((name, run(name, total, traces, concurrency).await?));
            }
        }
        if let [(first, a), (second, b)] = rates.as_slice() {
            println!("ratio {second}/{first}: {:.2}", b / a);
        }
        Ok(())
    })
}
