//! OTLP/gRPC: the same semantics as OTLP/HTTP, gzip accepted, errors as gRPC codes.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tonic::codec::CompressionEncoding;
use traceledger::domain::Scope;

use crate::helpers::{both_backends, fixture, spawn_app, synthetic_request, Backend, TestApp};

both_backends!(grpc_export_commits_like_http, grpc_errors_map_to_codes);

async fn client(app: &TestApp) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(format!("http://{}", app.app.grpc_addr))
        .await
        .expect("connect gRPC")
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip)
}

fn with_key(request: ExportTraceServiceRequest, key: &str) -> tonic::Request<ExportTraceServiceRequest> {
    let mut request = tonic::Request::new(request);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

async fn grpc_export_commits_like_http(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest]).await;
    let request = ExportTraceServiceRequest::decode(fixture("a_rag_semconv/1.pb").as_slice()).unwrap();
    let mut client = client(&app).await;
    let response = client
        .export(with_key(request.clone(), &key))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(response.partial_success, None);
    // A retry of the same spans is recognized.
    client.export(with_key(request, &key)).await.expect("export again");
    let tenant = app.tenant("default").await;
    assert_eq!(app.store().tree_size(&tenant).await.unwrap(), 6);

    // Partial success over gRPC too.
    let mut mixed = ExportTraceServiceRequest::decode(synthetic_request(5, 3).as_slice()).unwrap();
    mixed.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![0; 16];
    let response = client.export(with_key(mixed, &key)).await.expect("export").into_inner();
    assert_eq!(response.partial_success.map(|partial| partial.rejected_spans), Some(1));
    assert_eq!(app.store().tree_size(&tenant).await.unwrap(), 8);
    app.stop().await;
}

async fn grpc_errors_map_to_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    let ingest = app.key("default", &[Scope::Ingest]).await;
    let request = ExportTraceServiceRequest::decode(synthetic_request(2, 2).as_slice()).unwrap();
    let mut client = client(&app).await;

    let status = client.export(tonic::Request::new(request.clone())).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    let status = client.export(with_key(request.clone(), "tl_bad")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    let status = client.export(with_key(request.clone(), &reader)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    let mut invalid = request.clone();
    for span in &mut invalid.resource_spans[0].scope_spans[0].spans {
        span.span_id = vec![1; 3];
    }
    let status = client.export(with_key(invalid, &ingest)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("span id"), "{}", status.message());
    let tenant = app.tenant("default").await;
    assert_eq!(
        app.store().tree_size(&tenant).await.unwrap(),
        0,
        "nothing committed by failed calls"
    );
    app.stop().await;
}
