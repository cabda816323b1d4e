//! The whole provenance story: register a pipeline version, a CI-attested proof bundle
//! and a deployment; ingest a real RAG trace; find it by its output text; the report
//! names the documents, the prompt, the model, the tool call, the pipeline version and
//! the proof bundle, with inclusion proofs that verify.

use base64::Engine;
use ed25519_dalek::Signer;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::{json, Value};
use traceledger::domain::Scope;
use traceledger::ledger::checkpoint::verify_checkpoint;
use traceledger::ledger::{hash_from_hex, merkle};

use crate::helpers::{both_backends, fixture, post_json, spawn_app, synthetic_request, Backend, TestApp};

both_backends!(
    provenance_story_from_output_text_to_proofs,
    governance_validation_and_span_queries,
    late_parents_complete_the_tree,
);

const ANSWER: &str = "Yes. Order 1234 was delivered on 2026-01-02 and our refund window is 30 days from delivery, so you can request a refund until 2026-02-01.";
const TRACE: &str = "2b604910827c5510fb92a1e4775308c0";

fn ci_attestation(ci_key: &ed25519_dalek::SigningKey, statement: &Value) -> Value {
    let engine = base64::engine::general_purpose::STANDARD;
    let payload = serde_json::to_vec(statement).unwrap();
    let payload_type = "application/vnd.in-toto+json";
    let pae = traceledger::ledger::dsse::pae(payload_type, &payload);
    json!({
        "payloadType": payload_type,
        "payload": engine.encode(&payload),
        "signatures": [{"keyid": "ci-release", "sig": engine.encode(ci_key.sign(&pae).to_bytes())}],
    })
}

async fn register_governance(app: &TestApp, admin: &str) -> (String, String, String) {
    let ci_key = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let engine = base64::engine::general_purpose::STANDARD;
    let (status, _) = post_json(
        app,
        admin,
        "/v1/ci-keys",
        json!({"name": "ci-release", "public_key": engine.encode(ci_key.verifying_key().as_bytes())}),
    )
    .await;
    assert_eq!(status, 201);
    let version = json!({
        "name": "support-rag-api",
        "version": "1.4.0",
        "source_revision": "9f3c2e1",
        "prompt_templates": [{"name": "rag_answer", "version": "3", "sha256": "a".repeat(64)}],
        "models": ["gpt-4o-mini"],
        "retrieval_index": {"id": "product_docs", "version": "2026-01"},
        "guardrails": {"output_safety": "policy-pii-toxicity-v2"},
    });
    let (status, created) = post_json(app, admin, "/v1/pipeline-versions", version.clone()).await;
    assert_eq!(status, 201, "{created}");
    let version_id = created["id"].as_str().unwrap().to_owned();
    let (status, again) = post_json(app, admin, "/v1/pipeline-versions", version).await;
    assert_eq!(status, 200, "same configuration, same record");
    assert_eq!(again["id"], created["id"]);
    assert_eq!(again["entry_index"], created["entry_index"]);

    let statement = json!({"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": version_id, "digest": {"sha256": "b".repeat(64)}}]});
    let (status, bundle) = post_json(
        app,
        admin,
        "/v1/proof-bundles",
        json!({
            "pipeline_version_id": version_id,
            "evaluations": [{"name": "groundedness", "score": 0.97, "threshold": 0.9, "passed": true}],
            "test_runs": [{"name": "rag-regression", "passed": 120, "failed": 0}],
            "approvals": [{"approver": "maria.lopez", "role": "ml-lead", "approved_at": "2026-01-01T12:00:00Z"}],
            "artifacts": [{"name": "prompt-bundle.tar", "sha256": "c".repeat(64)}],
            "attestation": ci_attestation(&ci_key, &statement),
        }),
    )
    .await;
    assert_eq!(status, 201, "{bundle}");
    assert_eq!(bundle["record"]["attestation"]["verified"], true);
    assert_eq!(bundle["record"]["approved"], true);
    let bundle_id = bundle["id"].as_str().unwrap().to_owned();
    let (status, deployment) = post_json(
        app,
        admin,
        "/v1/deployments",
        json!({"pipeline_version_id": version_id, "environment": "staging", "from": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(status, 201, "{deployment}");
    (version_id, bundle_id, deployment["id"].as_str().unwrap().to_owned())
}

fn verify_report_proofs(report: &Value, verifier_key: &str) {
    let checkpoint =
        verify_checkpoint(report["checkpoint"]["note"].as_str().unwrap(), verifier_key).expect("checkpoint");
    let entries = report["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    for entry in entries {
        let proof: Vec<_> = entry["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hash| hash_from_hex(hash.as_str().unwrap()).unwrap())
            .collect();
        let leaf = hash_from_hex(entry["leaf_hash"].as_str().unwrap()).unwrap();
        merkle::verify_inclusion(
            entry["index"].as_u64().unwrap(),
            checkpoint.size,
            &leaf,
            &proof,
            &checkpoint.root,
        )
        .expect("inclusion proof verifies");
        assert_eq!(entry["verified"], true);
    }
    assert_eq!(report["verification"]["status"], "verified");
}

async fn provenance_story_from_output_text_to_proofs(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.key("default", &[Scope::Admin]).await;
    let auditor = app.key("default", &[Scope::AuditRead]).await;
    let content_auditor = app.key("default", &[Scope::AuditRead, Scope::AuditContent]).await;
    let (version_id, bundle_id, _) = register_governance(&app, &admin).await;
    // Children arrive before their parent would in a real exporter: the tree is built at query time.
    let response = app
        .post_traces(&admin, "application/x-protobuf", None, fixture("a_rag_semconv/1.pb"))
        .await;
    assert_eq!(response.status(), 200);

    let (status, found) = post_json(&app, &auditor, "/v1/provenance/search", json!({"output": ANSWER})).await;
    assert_eq!(status, 200, "{found}");
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{found}");
    let report = &results[0];
    assert_eq!(report["trace_id"], TRACE);
    let text = report.to_string();
    assert!(
        !text.contains("Order 1234 was delivered"),
        "no content without audit:content"
    );

    // The emitting span and the chain of operations.
    assert!(!report["matched_entries"].as_array().unwrap().is_empty());
    let retrieval = &report["retrievals"][0];
    let document_ids: Vec<&str> = retrieval["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|doc| doc["id"].as_str())
        .collect();
    assert!(document_ids.contains(&"doc-refund-policy-v3"), "{retrieval}");
    assert!(retrieval["documents"][0]["uri"]
        .as_str()
        .unwrap()
        .starts_with("https://docs.example.com/"));
    assert_eq!(retrieval["documents"][0]["rank"], 1);
    assert!(retrieval["query"]["sha256"].is_string(), "the query is a commitment");
    let models: Vec<&str> = report["model_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|call| call["request_model"].as_str())
        .collect();
    assert_eq!(models, vec!["gpt-4o-mini", "gpt-4o-mini"]);
    assert_eq!(report["model_calls"][1]["usage"]["output_tokens"], "38");
    assert!(report["model_calls"][1]["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(
        report["prompts"][0]["prompt"]["gen_ai.input.messages"]["sha256"].is_string(),
        "{}",
        report["prompts"]
    );
    assert_eq!(report["tool_calls"][0]["tool"]["name"], "lookup_order");
    assert_eq!(report["guardrails"].as_array().unwrap().len(), 1);
    // Pipeline version, deployment-free explicit link, proof bundle.
    assert_eq!(report["pipeline"]["status"], "linked");
    assert_eq!(report["pipeline"]["link"]["method"], "explicit");
    assert_eq!(report["pipeline"]["version"]["id"], version_id.as_str());
    assert_eq!(report["pipeline"]["proof_bundles"][0]["id"], bundle_id.as_str());
    // The tree: one root with five children in start order.
    let tree = report["tree"].as_array().unwrap();
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0]["name"], "invoke_workflow rag_qa");
    let children: Vec<&str> = tree[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        children,
        vec!["retrieval", "generation", "tool", "generation", "guardrail"]
    );

    let keys: Value = app
        .client
        .get(app.url("/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verifier = keys["keys"][0]["verifier_key"].as_str().unwrap().to_owned();
    verify_report_proofs(report, &verifier);

    // The same trace by digest and by trace id; content revealed with audit:content.
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(ANSWER.as_bytes()));
    let (_, by_digest) = post_json(
        &app,
        &auditor,
        "/v1/provenance/search",
        json!({"output_sha256": digest}),
    )
    .await;
    assert_eq!(by_digest["results"][0]["trace_id"], TRACE);
    let (_, revealed) = post_json(
        &app,
        &content_auditor,
        "/v1/provenance/search",
        json!({"trace_id": TRACE}),
    )
    .await;
    let revealed_text = revealed["results"][0].to_string();
    assert!(
        revealed_text.contains("Can I still get a refund for order 1234?"),
        "query revealed"
    );
    assert_eq!(revealed["results"][0]["content_revealed"], true);
    let (_, none) = post_json(&app, &auditor, "/v1/provenance/search", json!({"output": "never said"})).await;
    assert_eq!(none["results"].as_array().unwrap().len(), 0);
    for bad in [
        json!({}),
        json!({"output": "a", "trace_id": TRACE}),
        json!({"trace_id": "xyz"}),
        json!({"output_sha256": "12"}),
    ] {
        let (status, body) = post_json(&app, &auditor, "/v1/provenance/search", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // GET /v1/traces/{id}
    let trace: Value = app
        .get(&auditor, &format!("/v1/traces/{TRACE}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trace["tree"][0]["children"].as_array().unwrap().len(), 5);
    verify_report_proofs(&trace, &verifier);
    assert_eq!(
        app.get(&auditor, &format!("/v1/traces/{}", "ab".repeat(16)))
            .await
            .status(),
        404
    );
    // Another tenant sees nothing.
    let other = app.key("globex", &[Scope::AuditRead]).await;
    assert_eq!(app.get(&other, &format!("/v1/traces/{TRACE}")).await.status(), 404);
    let (_, other_search) = post_json(&app, &other, "/v1/provenance/search", json!({"output": ANSWER})).await;
    assert_eq!(other_search["results"].as_array().unwrap().len(), 0);
    app.stop().await;
}

fn request_in_environment(seed: u8, environment: &str) -> Vec<u8> {
    let mut request = ExportTraceServiceRequest::decode(synthetic_request(seed, 3).as_slice()).unwrap();
    request.resource_spans[0].resource = Some(Resource {
        attributes: vec![KeyValue {
            key: "deployment.environment.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(environment.into())),
            }),
            key_strindex: 0,
        }],
        ..Default::default()
    });
    request.encode_to_vec()
}

async fn governance_validation_and_span_queries(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.key("default", &[Scope::Admin]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    let (version_id, _, deployment_id) = register_governance(&app, &admin).await;

    // Validation.
    let (status, _) = post_json(
        &app,
        &reader,
        "/v1/pipeline-versions",
        json!({"name": "x", "version": "1"}),
    )
    .await;
    assert_eq!(status, 403, "writes need admin");
    let (status, body) = post_json(
        &app,
        &admin,
        "/v1/proof-bundles",
        json!({"pipeline_version_id": "pv_nope"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let (status, body) = post_json(
        &app,
        &admin,
        "/v1/proof-bundles",
        json!({"pipeline_version_id": version_id, "attestation": ci_attestation(&stranger, &json!({"a": 1}))}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("registered CI key"), "{body}");
    let (status, _) = post_json(
        &app,
        &admin,
        "/v1/deployments",
        json!({"pipeline_version_id": version_id, "environment": "prod", "from": "yesterday"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post_json(&app, &admin, "/v1/pipeline-versions", json!({"name": "x"})).await;
    assert_eq!(status, 400, "version is required");
    let listed: Value = app.get(&reader, "/v1/pipeline-versions").await.json().await.unwrap();
    assert_eq!(listed["records"].as_array().unwrap().len(), 1);
    let one = app.get(&reader, &format!("/v1/pipeline-versions/{version_id}")).await;
    assert_eq!(one.status(), 200);
    assert_eq!(app.get(&reader, "/v1/pipeline-versions/pv_nope").await.status(), 404);

    // Linking by deployment, and unlinked spans.
    assert_eq!(
        app.post_traces(
            &admin,
            "application/x-protobuf",
            None,
            request_in_environment(3, "staging")
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.post_traces(&admin, "application/x-protobuf", None, request_in_environment(4, "dev"))
            .await
            .status(),
        200
    );
    let linked: Value = app.get(&reader, "/v1/spans?linked=true").await.json().await.unwrap();
    let linked = linked["spans"].as_array().unwrap();
    assert_eq!(linked.len(), 3);
    assert!(linked
        .iter()
        .all(|span| span["link_method"] == "deployment" && span["pipeline_version_id"] == version_id.as_str()));
    let unlinked: Value = app.get(&reader, "/v1/spans?linked=false").await.json().await.unwrap();
    assert_eq!(unlinked["spans"].as_array().unwrap().len(), 3);
    let trace = app
        .get(&reader, &format!("/v1/traces/{}", "03".repeat(16)))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(trace["pipeline"]["deployment"]["id"], deployment_id.as_str());

    // Filters and pagination.
    let response: Value = app
        .get(&reader, "/v1/spans?kind=generation&environment=dev&limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(response["spans"].as_array().unwrap().len(), 2);
    let cursor = response["next_cursor"].as_str().unwrap().to_owned();
    let next: Value = app
        .get(
            &reader,
            &format!("/v1/spans?kind=generation&environment=dev&limit=2&cursor={cursor}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["spans"].as_array().unwrap().len(), 1);
    assert_eq!(next["next_cursor"], Value::Null);
    let slow: Value = app
        .get(&reader, "/v1/spans?min_duration_ms=0.05")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        slow["spans"].as_array().unwrap().len(),
        6,
        "synthetic spans last 0.1 ms"
    );
    let fast: Value = app
        .get(&reader, "/v1/spans?min_duration_ms=0.2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fast["spans"].as_array().unwrap().len(), 0);
    let by_attribute: Value = app
        .get(
            &reader,
            "/v1/spans?attribute=resource.deployment.environment.name%3Dstaging",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_attribute["spans"].as_array().unwrap().len(), 3);
    let by_model: Value = app
        .get(&reader, "/v1/spans?model=gpt-4o-mini&status=unset")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_model["spans"].as_array().unwrap().len(), 6);
    for bad in [
        "/v1/spans?limit=0",
        "/v1/spans?status=weird",
        "/v1/spans?cursor=zz",
        "/v1/spans?start_after=nope",
        "/v1/spans?min_duration_ms=-1",
    ] {
        assert_eq!(app.get(&reader, bad).await.status(), 400, "{bad}");
    }
    app.stop().await;
}

/// Children arrive first, their parent in a later request (as with per-span exporters):
/// the tree is assembled at query time and is whole once the parent is in.
async fn late_parents_complete_the_tree(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app.key("default", &[Scope::Ingest, Scope::AuditRead]).await;
    let full = ExportTraceServiceRequest::decode(fixture("a_rag_semconv/1.pb").as_slice()).unwrap();
    let mut children = full.clone();
    let mut root = full;
    children.resource_spans[0].scope_spans[0]
        .spans
        .retain(|span| !span.parent_span_id.is_empty());
    root.resource_spans[0].scope_spans[0]
        .spans
        .retain(|span| span.parent_span_id.is_empty());
    assert_eq!(
        app.post_traces(&key, "application/x-protobuf", None, children.encode_to_vec())
            .await
            .status(),
        200
    );
    let partial: Value = app
        .get(&key, &format!("/v1/traces/{TRACE}"))
        .await
        .json()
        .await
        .unwrap();
    let roots = partial["tree"].as_array().unwrap();
    assert_eq!(roots.len(), 5, "orphans are shown as roots until the parent arrives");
    assert!(roots.iter().all(|node| node["missing_parent"] == true));
    assert_eq!(
        app.post_traces(&key, "application/x-protobuf", None, root.encode_to_vec())
            .await
            .status(),
        200
    );
    let (_, found) = post_json(&app, &key, "/v1/provenance/search", json!({"output": ANSWER})).await;
    let tree = found["results"][0]["tree"].as_array().unwrap();
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0]["children"].as_array().unwrap().len(), 5);
    assert_eq!(tree[0].get("missing_parent"), None);
    app.stop().await;
}
