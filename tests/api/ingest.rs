//! OTLP/HTTP ingest: real fixtures, encodings, deduplication, and the bad-input table.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use traceledger::domain::Scope;

use crate::helpers::{
    both_backends, fixture, fixtures_dir, spawn_app, spawn_app_with, synthetic_request, Backend, TestApp,
};

both_backends!(
    rag_fixture_in_every_encoding_commits_six_spans_once,
    every_captured_trace_payload_is_accepted,
    bad_input_gets_a_clear_4xx_and_touches_nothing,
    partially_invalid_request_commits_the_valid_spans,
    concurrent_requests_are_all_committed_exactly_once,
    langfuse_path_accepts_basic_auth,
    limits_reject_huge_attributes_and_oversized_requests,
    empty_request_is_a_success,
);

async fn tree_size(app: &TestApp, tenant: &str) -> u64 {
    let tenant = app.tenant(tenant).await;
    app.store().tree_size(&tenant).await.expect("tree size")
}

async fn rag_fixture_in_every_encoding_commits_six_spans_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let variants: [(&str, &str, Option<&str>); 3] = [
        ("a_rag_semconv/1.pb", "application/x-protobuf", None),
        ("a_rag_semconv/2.json", "application/json", None),
        ("a_rag_semconv/3.pb.gzip", "application/x-protobuf", Some("gzip")),
    ];
    for (path, content_type, encoding) in variants {
        let response = app.post_traces(&key, content_type, encoding, fixture(path)).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            content_type,
            "{path}: response in the request's encoding"
        );
        let body = response.bytes().await.unwrap();
        if content_type == "application/json" {
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!(json.get("partialSuccess").is_none_or(|value| value.is_null()), "{json}");
        } else {
            let decoded = ExportTraceServiceResponse::decode(body.as_ref()).unwrap();
            assert_eq!(decoded.partial_success, None);
        }
        // The three files carry the same six spans: the retries are recognized.
        assert_eq!(tree_size(&app, "default").await, 6, "{path}");
    }
    app.stop().await;
}

/// Every trace request captured from a real instrumentation library is accepted.
async fn every_captured_trace_payload_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let mut accepted = 0;
    let mut directories: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    directories.sort_by_key(|entry| entry.path());
    for directory in directories {
        let mut metas: Vec<_> = std::fs::read_dir(directory.path())
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.to_string_lossy().ends_with(".meta.json"))
            .collect();
        metas.sort();
        for meta_path in metas {
            let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
            let path = meta["path"].as_str().unwrap_or("");
            if !path.ends_with("/v1/traces") {
                continue;
            }
            let file = directory.path().join(meta["file"].as_str().unwrap());
            let content_type = meta["content_type"].as_str().unwrap();
            let encoding = meta["content_encoding"].as_str();
            let response = app
                .post_traces(&key, content_type, encoding, std::fs::read(&file).unwrap())
                .await;
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, 200, "{}: {text}", file.display());
            accepted += 1;
        }
    }
    assert_eq!(accepted, 15, "trace payloads in ../shared/fixtures");
    assert_eq!(tree_size(&app, "default").await, 41, "spans in those payloads");
    app.stop().await;
}

async fn problem(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned()),
        Some("application/problem+json".to_owned()),
        "status {status}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|detail| !detail.is_empty()));
    (status, body)
}

/// (name, bearer key, content type, content encoding, body, expected status)
type BadInputCase<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, Vec<u8>, u16);

async fn bad_input_gets_a_clear_4xx_and_touches_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |args| args.max_body_bytes = 64 * 1024).await;
    let ingest = app.key("default", &[Scope::Ingest]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    let good = fixture("a_rag_semconv/1.pb");
    assert_eq!(
        app.post_traces(&ingest, "application/x-protobuf", None, good.clone())
            .await
            .status(),
        200
    );
    let checkpoint_before = app.get(&reader, "/v1/ledger/checkpoint").await.text().await.unwrap();

    let mut zero_ids =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(good.as_slice()).unwrap();
    for span in &mut zero_ids.resource_spans[0].scope_spans[0].spans {
        span.trace_id = vec![0; 16];
    }
    let mut short_ids = zero_ids.clone();
    for span in &mut short_ids.resource_spans[0].scope_spans[0].spans {
        span.trace_id = vec![1; 15];
    }
    let huge = vec![0x0au8; 70 * 1024];
    let gzip_bomb = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; 10 * 1024 * 1024]).unwrap();
        encoder.finish().unwrap()
    };
    let cases: Vec<BadInputCase> = vec![
        (
            "malformed protobuf",
            Some(&ingest),
            "application/x-protobuf",
            None,
            vec![0xff, 0xff, 0xff, 0x01],
            400,
        ),
        (
            "malformed json",
            Some(&ingest),
            "application/json",
            None,
            b"{\"resourceSpans\": [".to_vec(),
            400,
        ),
        (
            "wrong content type",
            Some(&ingest),
            "text/plain",
            None,
            good.clone(),
            415,
        ),
        (
            "unknown content encoding",
            Some(&ingest),
            "application/x-protobuf",
            Some("br"),
            good.clone(),
            415,
        ),
        (
            "bad gzip",
            Some(&ingest),
            "application/x-protobuf",
            Some("gzip"),
            b"not gzip at all".to_vec(),
            400,
        ),
        (
            "oversize body",
            Some(&ingest),
            "application/x-protobuf",
            None,
            huge,
            413,
        ),
        (
            "gzip bomb",
            Some(&ingest),
            "application/x-protobuf",
            Some("gzip"),
            gzip_bomb,
            413,
        ),
        (
            "all-zero trace ids",
            Some(&ingest),
            "application/x-protobuf",
            None,
            zero_ids.encode_to_vec(),
            400,
        ),
        (
            "15-byte trace ids",
            Some(&ingest),
            "application/x-protobuf",
            None,
            short_ids.encode_to_vec(),
            400,
        ),
        ("no auth", None, "application/x-protobuf", None, good.clone(), 401),
        (
            "unknown key",
            Some("tl_00000000_nope"),
            "application/x-protobuf",
            None,
            good.clone(),
            401,
        ),
        (
            "wrong scope",
            Some(&reader),
            "application/x-protobuf",
            None,
            good.clone(),
            403,
        ),
    ];
    for (name, key, content_type, encoding, body, expected) in cases {
        let mut request = app
            .client
            .post(app.url("/v1/traces"))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(encoding) = encoding {
            request = request.header("Content-Encoding", encoding);
        }
        let (status, body) = problem(request.send().await.unwrap()).await;
        assert_eq!(status, expected, "{name}: {body}");
        assert_eq!(tree_size(&app, "default").await, 6, "{name} must not touch the log");
    }
    let checkpoint_after = app.get(&reader, "/v1/ledger/checkpoint").await.text().await.unwrap();
    assert_eq!(checkpoint_before, checkpoint_after);
    traceledger::audit::fsck::audit_store(app.store().as_ref(), &[app.app.state.signing_key.verifying_key()])
        .await
        .expect("audit after bad input");
    app.stop().await;
}

async fn partially_invalid_request_commits_the_valid_spans(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let mut request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
        synthetic_request(7, 4).as_slice(),
    )
    .unwrap();
    request.resource_spans[0].scope_spans[0].spans[2].span_id = vec![0; 8];
    let response = app
        .post_traces(&key, "application/x-protobuf", None, request.encode_to_vec())
        .await;
    assert_eq!(response.status(), 200);
    let decoded = ExportTraceServiceResponse::decode(response.bytes().await.unwrap().as_ref()).unwrap();
    let partial = decoded.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("span 2"), "{}", partial.error_message);
    assert!(partial.error_message.contains("span id"), "{}", partial.error_message);
    assert_eq!(tree_size(&app, "default").await, 3);
    app.stop().await;
}

async fn concurrent_requests_are_all_committed_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let mut tasks = Vec::new();
    for seed in 1..=24u8 {
        let client = app.client.clone();
        let url = app.url("/v1/traces");
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let body = synthetic_request(seed, 10);
            // Every request is sent twice, like a retrying SDK.
            for _ in 0..2 {
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("Content-Type", "application/x-protobuf")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(tree_size(&app, "default").await, 240);
    let reports =
        traceledger::audit::fsck::audit_store(app.store().as_ref(), &[app.app.state.signing_key.verifying_key()])
            .await
            .expect("audit");
    let default = reports.iter().find(|report| report.tenant == "default").unwrap();
    assert_eq!(default.entries, 240);
    app.stop().await;
}

async fn langfuse_path_accepts_basic_auth(backend: Backend) {
    use base64::Engine;
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let basic = |user: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{key}"))
        )
    };
    let send = |authorization: String| {
        app.client
            .post(app.url("/api/public/otel/v1/traces"))
            .header("Authorization", authorization)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "gzip")
            .body(fixture("f_langfuse/1.pb.gzip"))
            .send()
    };
    let response = send(basic("default")).await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let committed = tree_size(&app, "default").await;
    assert_eq!(committed, 6, "the spans of f_langfuse/1");
    let (status, _) = problem(send(basic("someone-else")).await.unwrap()).await;
    assert_eq!(status, 401, "the Basic user must name the key id or its tenant");
    assert_eq!(tree_size(&app, "default").await, committed);

    // The SDK's auth_check(): GET /api/public/projects answers the key's tenant as its one
    // project, for an ingest-only key, in the shape the SDK's `Projects` model reads.
    let acme = app.key("acme", &[Scope::Ingest]).await;
    let projects = |authorization: Option<String>| {
        let request = app.client.get(app.url("/api/public/projects"));
        match authorization {
            Some(value) => request.header("Authorization", value),
            None => request,
        }
        .send()
    };
    let response = projects(Some(basic("default"))).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"data": [{"id": "default", "name": "default",
            "organization": {"id": "traceledger", "name": "traceledger"}, "metadata": {}}]})
    );
    let response = projects(Some(format!("Bearer {acme}"))).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"][0]["id"], "acme", "{body}");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1), "{body}");
    for refused in [
        None,
        Some(basic("someone-else")),
        Some("Bearer tl_not_a_key".to_owned()),
    ] {
        let (status, _) = problem(projects(refused.clone()).await.unwrap()).await;
        assert_eq!(status, 401, "{refused:?}");
    }
    app.stop().await;
}

async fn limits_reject_huge_attributes_and_oversized_requests(backend: Backend) {
    let app = spawn_app_with(backend, |args| {
        args.max_attribute_bytes = 1000;
        args.max_spans_per_request = 5;
    })
    .await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let mut request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
        synthetic_request(4, 3).as_slice(),
    )
    .unwrap();
    let span = &mut request.resource_spans[0].scope_spans[0].spans[1];
    span.attributes[2].value = Some(opentelemetry_proto::tonic::common::v1::AnyValue {
        value: Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
            "x".repeat(1001),
        )),
    });
    let response = app
        .post_traces(&key, "application/x-protobuf", None, request.encode_to_vec())
        .await;
    assert_eq!(response.status(), 200);
    let decoded = ExportTraceServiceResponse::decode(response.bytes().await.unwrap().as_ref()).unwrap();
    let partial = decoded.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("above the limit of 1000"),
        "{}",
        partial.error_message
    );
    assert_eq!(tree_size(&app, "default").await, 2);

    let (status, body) = problem(
        app.post_traces(&key, "application/x-protobuf", None, synthetic_request(5, 6))
            .await,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("6 spans"), "{body}");
    assert_eq!(tree_size(&app, "default").await, 2);
    app.stop().await;
}

async fn empty_request_is_a_success(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let response = app.post_traces(&key, "application/x-protobuf", None, Vec::new()).await;
    assert_eq!(response.status(), 200);
    let response = app.post_traces(&key, "application/json", None, b"{}".to_vec()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(tree_size(&app, "default").await, 0);
    app.stop().await;
}
