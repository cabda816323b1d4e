//! Ingest under hostile input and load (issue 9, findings 2, 3 and the gzip part of 8):
//! gRPC authenticates before it reads or inflates a byte of the message, messages are
//! limited to 4 MiB after decompression, span and record counts are checked on the wire
//! bytes before the full decode, the decoded size is estimated and bounded, a global
//! in-flight memory budget answers 429 / RESOURCE_EXHAUSTED with a retry delay instead
//! of queueing memory, and every member of a multi-member gzip body is read.

use std::io::Write;

use axum::body::Bytes;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use prost::Message;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tonic::codec::CompressionEncoding;
use tonic::codegen::{http, Service};
use tonic::Code;
use traceledger::domain::Scope;

use crate::helpers::{both_backends, fixture, spawn_app, spawn_app_with, synthetic_request, Backend, TestApp};

both_backends!(
    grpc_refuses_unauthenticated_bombs_before_reading_them,
    grpc_messages_are_limited_to_4_mib_after_decompression,
    span_and_record_counts_are_checked_before_the_full_decode,
    decoded_size_is_bounded_before_decoding,
    memory_budget_answers_retry_later_and_loses_nothing,
    every_gzip_member_is_read,
);

const TRACE_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A gRPC length-prefixed message.
fn grpc_frame(compressed: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![u8::from(compressed)];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

type FrameSender = tokio::sync::mpsc::Sender<Result<http_body::Frame<Bytes>, tonic::Status>>;

/// Sends one raw gRPC request (frames as given, no client-side codec) and returns the
/// status the server answered, plus the response message bytes on success.
async fn raw_grpc(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    gzip_encoded: bool,
    body: tonic::body::Body,
) -> (tonic::Status, Bytes) {
    let mut channel = tonic::transport::Channel::from_shared(format!("http://{}", app.app.grpc_addr))
        .unwrap()
        .connect()
        .await
        .expect("connect gRPC");
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{}{path}", app.app.grpc_addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if gzip_encoded {
        request = request.header("grpc-encoding", "gzip");
    }
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let request = request.body(body).unwrap();
    std::future::poll_fn(|cx| channel.poll_ready(cx)).await.expect("ready");
    let response = channel.call(request).await.expect("gRPC call");
    let (parts, body) = response.into_parts();
    if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
        return (status, Bytes::new());
    }
    let collected = body.collect().await.expect("response body");
    let trailers = collected.trailers().cloned().expect("trailers");
    let status = tonic::Status::from_header_map(&trailers).expect("grpc-status");
    let data = collected.to_bytes();
    let message = if data.len() >= 5 { data.slice(5..) } else { Bytes::new() };
    (status, message)
}

fn full_body(bytes: Vec<u8>) -> tonic::body::Body {
    tonic::body::Body::new(http_body_util::Full::new(Bytes::from(bytes)))
}

/// A body whose frames the test sends (or never sends) itself.
fn streamed_body() -> (FrameSender, tonic::body::Body) {
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(receiver));
    (sender, tonic::body::Body::new(body))
}

async fn tree_size(app: &TestApp) -> u64 {
    let tenant = app.tenant("default").await;
    app.store().tree_size(&tenant).await.expect("tree size")
}

fn with_key<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

async fn trace_client(app: &TestApp) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(format!("http://{}", app.app.grpc_addr))
        .await
        .expect("connect gRPC")
}

/// `count` spans, each with a non-content attribute of `filler` bytes.
fn padded_request(seed: u8, count: usize, filler: usize) -> ExportTraceServiceRequest {
    let mut request = ExportTraceServiceRequest::decode(synthetic_request(seed, count).as_slice()).unwrap();
    for span in &mut request.resource_spans[0].scope_spans[0].spans {
        span.attributes.push(KeyValue {
            key: "app.filler".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("f".repeat(filler))),
            }),
            ..Default::default()
        });
    }
    request
}

/// An ExportLogsServiceRequest with `count` log records (copies of the fixture's).
fn logs_request(count: usize) -> ExportLogsServiceRequest {
    let mut request = ExportLogsServiceRequest::decode(fixture("b_otel_openai_v2_latest/2.pb").as_slice()).unwrap();
    let records = request.resource_logs[0].scope_logs[0].log_records.clone();
    request.resource_logs[0].scope_logs[0].log_records = records.iter().cycle().take(count).cloned().collect();
    request
}

async fn problem(response: reqwest::Response) -> (u16, String, Option<String>) {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap()),
        Some("application/problem+json"),
        "status {status}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["detail"].as_str().unwrap_or("").to_owned(), retry_after)
}

/// The retry delay a status carries, in seconds (None: not retryable per OTLP).
fn retry_delay(status: &tonic::Status) -> Option<i64> {
    use traceledger::grpc::{RetryInfo, RpcStatus};
    let details = RpcStatus::decode(status.details()).ok()?;
    details
        .details
        .iter()
        .find(|any| any.type_url == "type.googleapis.com/google.rpc.RetryInfo")
        .and_then(|any| RetryInfo::decode(any.value.as_slice()).ok())
        .and_then(|info| info.retry_delay)
        .map(|delay| delay.seconds)
}

/// Finding 2: without a valid ingest key, gRPC answers UNAUTHENTICATED without
/// inflating or decoding the message — even one that never finishes arriving.
async fn grpc_refuses_unauthenticated_bombs_before_reading_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    // 10 MiB of zeros in ~10 KB of gzip: inflating it would be work, decoding it fails
    // (tag 0), so an answer other than UNAUTHENTICATED shows the server touched it.
    let bomb = grpc_frame(true, &gzip(&vec![0u8; 10 * 1024 * 1024]));
    for path in [TRACE_EXPORT, LOGS_EXPORT] {
        for key in [None, Some("tl_00000000_nope")] {
            let (status, _) = raw_grpc(&app, path, key, true, full_body(bomb.clone())).await;
            assert_eq!(status.code(), Code::Unauthenticated, "{path} {key:?}: {status:?}");
        }
        let (status, _) = raw_grpc(&app, path, Some(&reader), true, full_body(bomb.clone())).await;
        assert_eq!(status.code(), Code::PermissionDenied, "{path}: {status:?}");
    }
    // The answer comes while the body is still open: nothing of it was waited for.
    let (sender, body) = streamed_body();
    sender
        .send(Ok(http_body::Frame::data(Bytes::from(bomb[..5].to_vec()))))
        .await
        .unwrap();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        raw_grpc(&app, TRACE_EXPORT, None, true, body),
    )
    .await
    .expect("answered before the body ended");
    assert_eq!(answer.0.code(), Code::Unauthenticated, "{:?}", answer.0);
    drop(sender);
    assert_eq!(
        app.app.state.ingest.decoded_messages(),
        0,
        "no message was decoded for an unauthenticated caller"
    );
    assert_eq!(app.app.state.ingest.budget().in_use(), 0);
    assert_eq!(tree_size(&app).await, 0);
    app.stop().await;
}

/// Finding 2: the OTel Collector's 4 MiB limit, on the decompressed message.
async fn grpc_messages_are_limited_to_4_mib_after_decompression(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    assert_eq!(app.args.grpc_max_message_bytes, 4 * 1024 * 1024, "the default");
    let over = padded_request(1, 6, 900_000);
    assert!(over.encoded_len() > 4 * 1024 * 1024);
    let plain = trace_client(&app).await;
    let gzipped = trace_client(&app).await.send_compressed(CompressionEncoding::Gzip);
    for (mut client, name) in [(plain, "plain"), (gzipped, "gzip")] {
        let status = client.export(with_key(over.clone(), &key)).await.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{name}: {status:?}");
        assert!(status.message().contains("4194304"), "{name}: {}", status.message());
        assert_eq!(retry_delay(&status), None, "{name}: not retryable");
    }
    // A 4 MiB bomb of zeros in a small gzip frame is refused while inflating.
    let bomb = grpc_frame(true, &gzip(&vec![0u8; 5 * 1024 * 1024]));
    let (status, _) = raw_grpc(&app, LOGS_EXPORT, Some(&key), true, full_body(bomb)).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("4194304"), "{}", status.message());
    // Below the limit, the same shape is accepted.
    let under = padded_request(2, 4, 900_000);
    assert!(under.encoded_len() < 4 * 1024 * 1024);
    let mut client = trace_client(&app).await.send_compressed(CompressionEncoding::Gzip);
    client.export(with_key(under, &key)).await.expect("under the limit");
    assert_eq!(tree_size(&app).await, 4);
    // The limit is configurable.
    let small = spawn_app_with(backend, |args| args.grpc_max_message_bytes = 64 * 1024).await;
    let small_key = small.key("default", &[Scope::Ingest]).await;
    let status = trace_client(&small)
        .await
        .export(with_key(padded_request(3, 1, 70_000), &small_key))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("65536"), "{}", status.message());
    small.stop().await;
    app.stop().await;
}

/// Finding 2: a request with too many spans (or log records) is refused from its wire
/// bytes, before the message is decoded. The requests end in bytes that are not
/// protobuf: a server that decoded them first would answer a decode error instead.
async fn span_and_record_counts_are_checked_before_the_full_decode(backend: Backend) {
    let app = spawn_app_with(backend, |args| args.max_spans_per_request = 5).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let garbage = [0xff, 0xff, 0xff];
    let mut spans = synthetic_request(3, 6);
    spans.extend_from_slice(&garbage);
    let mut records = logs_request(6).encode_to_vec();
    records.extend_from_slice(&garbage);

    let response = app
        .post_traces(&key, "application/x-protobuf", None, spans.clone())
        .await;
    let (status, detail, _) = problem(response).await;
    assert_eq!(status, 413, "{detail}");
    assert!(detail.contains("6 spans") && detail.contains("limit of 5"), "{detail}");
    let response = app
        .client
        .post(app.url("/v1/logs"))
        .bearer_auth(&key)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "gzip")
        .body(gzip(&records))
        .send()
        .await
        .unwrap();
    let (status, detail, _) = problem(response).await;
    assert_eq!(status, 413, "{detail}");
    assert!(
        detail.contains("6 log records") && detail.contains("limit of 5"),
        "{detail}"
    );

    for (path, body, what) in [
        (TRACE_EXPORT, &spans, "6 spans"),
        (LOGS_EXPORT, &records, "6 log records"),
    ] {
        let (status, _) = raw_grpc(&app, path, Some(&key), false, full_body(grpc_frame(false, body))).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
        assert!(
            status.message().contains(what) && status.message().contains("limit of 5"),
            "{path}: {}",
            status.message()
        );
    }
    assert_eq!(app.app.state.ingest.decoded_messages(), 0, "refused before decoding");
    assert_eq!(tree_size(&app).await, 0);
    app.stop().await;
}

/// Finding 2: many empty nested messages decode to ~100x their wire size. With an
/// ingest key, a 15 KB gzip body of 15 MiB of empty `ResourceSpans` is refused from
/// its estimated decoded size (413), before it is decoded.
async fn decoded_size_is_bounded_before_decoding(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let empties: Vec<u8> = [0x0a, 0x00].repeat(15 * 1024 * 1024 / 2);
    let response = app
        .post_traces(&key, "application/x-protobuf", Some("gzip"), gzip(&empties))
        .await;
    let (status, detail, _) = problem(response).await;
    assert_eq!(status, 413, "{detail}");
    assert!(detail.contains("memory"), "{detail}");
    // Over gRPC (4 MiB of them) with a smaller budget, the same.
    let small = spawn_app_with(backend, |args| args.ingest_memory_budget_bytes = 64 * 1024 * 1024).await;
    let small_key = small.key("default", &[Scope::Ingest]).await;
    let frame = grpc_frame(true, &gzip(&empties[..4 * 1024 * 1024 - 2]));
    let (status, _) = raw_grpc(&small, TRACE_EXPORT, Some(&small_key), true, full_body(frame)).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("memory"), "{}", status.message());
    assert_eq!(app.app.state.ingest.decoded_messages(), 0);
    assert_eq!(small.app.state.ingest.decoded_messages(), 0);
    small.stop().await;
    app.stop().await;
}

/// Starts an HTTP/1.1 upload with `Expect: 100-continue` and returns once the server
/// has asked for the body (so its handler is running), with `sent` bytes of it sent.
async fn hold_upload(
    app: &TestApp,
    key: &str,
    content_length: usize,
    sent: &[u8],
) -> tokio::io::BufReader<tokio::net::TcpStream> {
    let extra = format!("Content-Length: {content_length}\r\nExpect: 100-continue");
    let mut stream = upload_head(app, key, &extra).await;
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("HTTP/1.1 100"), "{line:?}");
    line.clear();
    stream.read_line(&mut line).await.unwrap();
    assert_eq!(line, "\r\n");
    stream.get_mut().write_all(sent).await.unwrap();
    stream
}

/// The status line of the response on a raw HTTP/1.1 connection.
async fn status_line(stream: &mut tokio::io::BufReader<tokio::net::TcpStream>) -> String {
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    line
}

/// Finding 3: memory in flight is bounded by one budget shared by HTTP and gRPC,
/// reserved before a body is read; past it, requests are told to retry later, a request
/// larger than the whole budget is told it is too large, and nothing accepted is lost.
async fn memory_budget_answers_retry_later_and_loses_nothing(backend: Backend) {
    const BUDGET: usize = 2 * 1024 * 1024;
    let app = spawn_app_with(backend, |args| args.ingest_memory_budget_bytes = BUDGET).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let first = app
        .post_traces(&key, "application/x-protobuf", None, synthetic_request(1, 4))
        .await;
    assert_eq!(first.status(), 200);

    // An upload that holds nearly the whole budget while its body is being sent.
    let held = BUDGET - 4096;
    let mut holder = hold_upload(&app, &key, held, &[0u8; 1024]).await;
    let http_body = synthetic_request(2, 5);
    let (status, detail, retry_after) = problem(
        app.post_traces(&key, "application/x-protobuf", None, http_body.clone())
            .await,
    )
    .await;
    assert_eq!(status, 429, "{detail}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(detail.contains("memory"), "{detail}");
    let grpc_request = ExportTraceServiceRequest::decode(synthetic_request(3, 5).as_slice()).unwrap();
    let status = trace_client(&app)
        .await
        .export(with_key(grpc_request.clone(), &key))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(retry_delay(&status), Some(1), "RetryInfo tells OTLP clients to retry");

    // The holder finishes (its zeros are not protobuf: 400) and frees the budget.
    holder.get_mut().write_all(&vec![0u8; held - 1024]).await.unwrap();
    let line = status_line(&mut holder).await;
    assert!(line.starts_with("HTTP/1.1 400"), "{line:?}");
    assert_eq!(app.app.state.ingest.budget().in_use(), 0, "released once answered");

    // The refused requests succeed when retried.
    let retried = app.post_traces(&key, "application/x-protobuf", None, http_body).await;
    assert_eq!(retried.status(), 200);
    trace_client(&app)
        .await
        .export(with_key(grpc_request, &key))
        .await
        .expect("retried gRPC export");
    assert_eq!(tree_size(&app).await, 14, "every accepted span is committed");

    // Larger than the whole budget: 413 at once, before the body is asked for, ...
    let mut refused = upload_head(
        &app,
        &key,
        &format!("Content-Length: {}\r\nExpect: 100-continue", BUDGET + 1),
    )
    .await;
    let line = status_line(&mut refused).await;
    assert!(line.starts_with("HTTP/1.1 413"), "{line:?}");
    // ... and without a Content-Length, as soon as the body passes the budget.
    let mut chunked = hold_upload_chunked(&app, &key).await;
    let chunk = vec![0u8; 256 * 1024];
    let mut answer = String::new();
    for _ in 0..(2 * BUDGET / chunk.len()) {
        let header = format!("{:x}\r\n", chunk.len());
        let sent = chunked.get_mut().write_all(header.as_bytes()).await.is_ok()
            && chunked.get_mut().write_all(&chunk).await.is_ok()
            && chunked.get_mut().write_all(b"\r\n").await.is_ok();
        if !sent {
            break;
        }
    }
    let _ = chunked.get_mut().write_all(b"0\r\n\r\n").await;
    chunked.read_line(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    // Over gRPC, a message that needs more than the budget is refused as too large.
    let status = trace_client(&app)
        .await
        .export(with_key(padded_request(5, 3, 800_000), &key))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("memory budget"), "{}", status.message());

    assert_eq!(tree_size(&app).await, 14);
    assert_eq!(app.app.state.ingest.budget().in_use(), 0);
    traceledger::audit::fsck::audit_store(app.store().as_ref(), &[app.app.state.signing_key.verifying_key()])
        .await
        .expect("audit");
    app.stop().await;
}

/// A chunked upload (no Content-Length), headers sent.
async fn hold_upload_chunked(app: &TestApp, key: &str) -> tokio::io::BufReader<tokio::net::TcpStream> {
    upload_head(app, key, "Transfer-Encoding: chunked").await
}

/// An upload to `/v1/traces` on a raw connection: the request head with `extra` headers.
async fn upload_head(app: &TestApp, key: &str, extra: &str) -> tokio::io::BufReader<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(app.app.addr).await.unwrap();
    let mut stream = tokio::io::BufReader::new(stream);
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/x-protobuf\r\n{extra}\r\n\r\n",
        app.app.addr
    );
    stream.get_mut().write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Finding 8 (part): two gzip members concatenated (RFC 1952) carry both halves of the
/// request; every span of both is committed, over HTTP and gRPC.
async fn every_gzip_member_is_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let mut two_members = gzip(&synthetic_request(1, 3));
    two_members.extend(gzip(&synthetic_request(2, 3)));
    let response = app
        .post_traces(&key, "application/x-protobuf", Some("gzip"), two_members)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(tree_size(&app).await, 6, "both members' spans");

    let mut two_members = gzip(&synthetic_request(3, 2));
    two_members.extend(gzip(&synthetic_request(4, 2)));
    let (status, _) = raw_grpc(
        &app,
        TRACE_EXPORT,
        Some(&key),
        true,
        full_body(grpc_frame(true, &two_members)),
    )
    .await;
    assert_eq!(status.code(), Code::Ok, "{status:?}");
    assert_eq!(tree_size(&app).await, 10, "both members' spans over gRPC");

    // Bytes after the last member that are not gzip are refused, not ignored.
    let mut trailing = gzip(&synthetic_request(5, 2));
    trailing.extend_from_slice(b"trailing bytes");
    let response = app
        .post_traces(&key, "application/x-protobuf", Some("gzip"), trailing.clone())
        .await;
    let (status, detail, _) = problem(response).await;
    assert_eq!(status, 400, "{detail}");
    let (status, _) = raw_grpc(
        &app,
        TRACE_EXPORT,
        Some(&key),
        true,
        full_body(grpc_frame(true, &trailing)),
    )
    .await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(tree_size(&app).await, 10);
    app.stop().await;
}
