//! OTLP logs: GenAI content sent as log events is committed as `log` entries linked to
//! their spans, over HTTP and gRPC, deduplicated on retry.

use base64::Engine;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use prost::Message;
use traceledger::domain::Scope;

use crate::helpers::{both_backends, fixture, spawn_app, Backend, TestApp};

both_backends!(
    log_events_are_committed_and_linked_to_their_spans,
    logs_over_grpc_and_bad_logs
);

async fn entries(app: &TestApp, key: &str) -> Vec<serde_json::Value> {
    let page: serde_json::Value = app
        .get(key, "/v1/ledger/entries?start=0&end=1000")
        .await
        .json()
        .await
        .unwrap();
    page["entries"].as_array().unwrap().clone()
}

async fn post_logs(app: &TestApp, key: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/logs"))
        .bearer_auth(key)
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn log_events_are_committed_and_linked_to_their_spans(backend: Backend) {
    let app = spawn_app(backend).await;
    let ingest = app.key("default", &[Scope::Ingest]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    let traces = app
        .post_traces(
            &ingest,
            "application/x-protobuf",
            None,
            fixture("b_otel_openai_v2_latest/1.pb"),
        )
        .await;
    assert_eq!(traces.status(), 200);
    let response = post_logs(&app, &ingest, fixture("b_otel_openai_v2_latest/2.pb")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let decoded = ExportLogsServiceResponse::decode(response.bytes().await.unwrap().as_ref()).unwrap();
    assert_eq!(decoded.partial_success, None);

    let all = entries(&app, &reader).await;
    let spans: Vec<_> = all.iter().filter(|item| item["entry"]["type"] == "span").collect();
    let logs: Vec<_> = all.iter().filter(|item| item["entry"]["type"] == "log").collect();
    assert_eq!(spans.len(), 4);
    assert_eq!(logs.len(), 3);
    for log in &logs {
        let body = &log["entry"]["body"];
        assert_eq!(body["event_name"], "gen_ai.client.inference.operation.details");
        let linked = spans.iter().any(|span| {
            span["entry"]["body"]["trace_id"] == body["trace_id"] && span["entry"]["body"]["span_id"] == body["span_id"]
        });
        assert!(linked, "log {} is linked to an ingested span", log["index"]);
        assert!(
            body["attributes"]["gen_ai.output.messages"]["sha256"].is_string(),
            "{body}"
        );
        assert_eq!(body["genai"]["request_model"], "gpt-4o-mini");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(log["entry_bytes"].as_str().unwrap())
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            !text.contains("The capital of France is Paris."),
            "content committed, not in clear"
        );
        assert!(
            !text.contains("What's the weather in Paris?"),
            "content committed, not in clear"
        );
    }
    // A retried export is recognized.
    assert_eq!(
        post_logs(&app, &ingest, fixture("b_otel_openai_v2_latest/2.pb"))
            .await
            .status(),
        200
    );
    assert_eq!(entries(&app, &reader).await.len(), 7);
    traceledger::audit::fsck::audit_store(app.store().as_ref(), &[app.app.state.signing_key.verifying_key()])
        .await
        .expect("audit");
    app.stop().await;
}

async fn logs_over_grpc_and_bad_logs(backend: Backend) {
    let app = spawn_app(backend).await;
    let ingest = app.key("default", &[Scope::Ingest]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    let request = ExportLogsServiceRequest::decode(fixture("b_otel_openai_v2_latest/2.pb").as_slice()).unwrap();
    let mut client = LogsServiceClient::connect(format!("http://{}", app.app.grpc_addr))
        .await
        .unwrap();
    let mut call = tonic::Request::new(request.clone());
    call.metadata_mut()
        .insert("authorization", format!("Bearer {ingest}").parse().unwrap());
    client.export(call).await.expect("gRPC logs export");
    assert_eq!(entries(&app, &reader).await.len(), 3);

    let mut bad = request;
    bad.resource_logs[0].scope_logs[0].log_records[0].trace_id = vec![7; 5];
    let response = post_logs(&app, &ingest, bad.encode_to_vec()).await;
    assert_eq!(response.status(), 200);
    let decoded = ExportLogsServiceResponse::decode(response.bytes().await.unwrap().as_ref()).unwrap();
    let partial = decoded.partial_success.expect("partial success");
    assert_eq!(partial.rejected_log_records, 1);
    assert!(
        partial.error_message.contains("log record 0"),
        "{}",
        partial.error_message
    );
    let malformed = post_logs(&app, &ingest, vec![0xff, 0x00]).await;
    assert_eq!(malformed.status(), 400);
    let unauthenticated = app
        .client
        .post(app.url("/v1/logs"))
        .header("Content-Type", "application/x-protobuf")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(
        entries(&app, &reader).await.len(),
        3,
        "the retried valid records are duplicates"
    );
    app.stop().await;
}
