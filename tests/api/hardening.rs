//! Regression tests for the security review of issue 9 (see docs/security.md): inputs
//! that could make the ledger unreadable, out-of-range numbers, and cheap public endpoints.

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use traceledger::domain::Scope;

use crate::helpers::{
    both_backends, fixture, run_cli, spawn_app, store_cli_args, tamper_entry_bytes, Backend, TestApp,
};

both_backends!(
    deeply_nested_attribute_is_refused_and_the_ledger_stays_readable,
    deeply_nested_governance_record_is_refused,
    entry_written_deep_by_an_older_version_is_still_served,
    entry_range_beyond_i64_is_a_400,
    span_times_beyond_i64_are_rejected_not_indexed_as_zero,
    public_key_directory_is_cached_and_stays_fresh,
    pasted_output_is_found_by_its_normalized_form,
);

/// A string attribute.
fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// An attribute whose value is a `kvlistValue` nested `levels` deep.
fn nested_attribute(levels: usize) -> KeyValue {
    let mut value = AnyValue {
        value: Some(any_value::Value::StringValue("leaf".into())),
    };
    for _ in 0..levels {
        value = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(value),
                    ..Default::default()
                }],
            })),
        };
    }
    KeyValue {
        key: "app.nested".into(),
        value: Some(value),
        ..Default::default()
    }
}

fn span(seed: u8, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![seed; 16],
        span_id: vec![seed; 8],
        name: format!("span {seed}"),
        kind: 1,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_100_000_000,
        attributes,
        ..Default::default()
    }
}

fn request(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

async fn audit(app: &TestApp) -> (i32, String) {
    let mut arguments = vec!["audit".to_string()];
    arguments.extend(store_cli_args(&app.args));
    let (code, stdout, stderr) = run_cli(&arguments).await;
    (code, format!("{stdout}{stderr}"))
}

/// Every entry of the default log can be read back through the API.
async fn assert_every_entry_readable(app: &TestApp, reader: &str, expected: usize) {
    let response = app.get(reader, "/v1/ledger/entries?start=0&end=1000").await;
    assert_eq!(response.status(), 200);
    let page: serde_json::Value = response.json().await.unwrap();
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), expected);
    for entry in entries {
        assert!(entry["entry"].is_object(), "{entry}");
    }
}

async fn deeply_nested_attribute_is_refused_and_the_ledger_stays_readable(backend: Backend) {
    let app = spawn_app(backend).await;
    let ingest = app.key("default", &[Scope::Ingest]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;

    // 31 kvlist levels: 413 bytes of protobuf, deeper than serde_json's 128 levels once
    // encoded in the entry. A normal span rides in the same request.
    let body = request(vec![
        span(1, vec![string_attribute("gen_ai.operation.name", "chat")]),
        span(2, vec![nested_attribute(31)]),
    ]);
    let response = app.post_traces(&ingest, "application/x-protobuf", None, body).await;
    assert_eq!(response.status(), 200);
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.expect("the nested span is rejected");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("nested"), "{}", partial.error_message);

    // Alone, it is a 400 and nothing is written.
    let response = app
        .post_traces(
            &ingest,
            "application/x-protobuf",
            None,
            request(vec![span(3, vec![nested_attribute(31)])]),
        )
        .await;
    assert_eq!(response.status(), 400);

    // Nesting that stays within the limit is kept verbatim.
    let response = app
        .post_traces(
            &ingest,
            "application/x-protobuf",
            None,
            request(vec![span(4, vec![nested_attribute(8)])]),
        )
        .await;
    assert_eq!(response.status(), 200);

    assert_every_entry_readable(&app, &reader, 2).await;
    let trace = app.get(&reader, &format!("/v1/traces/{}", "04".repeat(16))).await;
    assert_eq!(trace.status(), 200);
    let (code, output) = audit(&app).await;
    assert_eq!(code, 0, "{output}");
    app.stop().await;
}

async fn deeply_nested_governance_record_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.key("default", &[Scope::Admin]).await;
    // 126 levels pass the JSON extractor (serde_json allows 128) but not the entry.
    let mut guardrails = serde_json::json!("leaf");
    for _ in 0..126 {
        guardrails = serde_json::json!([guardrails]);
    }
    let response = app
        .client
        .post(app.url("/v1/pipeline-versions"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "deep", "version": "1", "guardrails": guardrails}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("nested"), "{problem}");
    assert_every_entry_readable(&app, &admin, 0).await;
    let (code, output) = audit(&app).await;
    assert_eq!(code, 0, "{output}");
    app.stop().await;
}

async fn entry_range_beyond_i64_is_a_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    for query in [
        "start=9223372036854775808&end=9223372036854775809",
        "start=0&end=18446744073709551615",
        "start=18446744073709551615&end=18446744073709551615",
    ] {
        let response = app.get(&reader, &format!("/v1/ledger/entries?{query}")).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if query.starts_with("start=0&") {
            // An `end` past the tree is clamped, as documented.
            assert_eq!(status, 200, "{query}: {text}");
        } else {
            assert_eq!(status, 400, "{query}: {text}");
            assert!(text.contains("start"), "{text}");
        }
    }
    app.stop().await;
}

async fn span_times_beyond_i64_are_rejected_not_indexed_as_zero(backend: Backend) {
    let app = spawn_app(backend).await;
    let ingest = app.key("default", &[Scope::Ingest]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    let mut late = span(5, vec![]);
    late.start_time_unix_nano = 1 << 63;
    late.end_time_unix_nano = (1 << 63) + 10;
    let mut late_end = span(6, vec![]);
    late_end.end_time_unix_nano = u64::MAX;
    let body = request(vec![late, late_end, span(7, vec![])]);
    let response = app.post_traces(&ingest, "application/x-protobuf", None, body).await;
    assert_eq!(response.status(), 200);
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.expect("spans past 2262 are rejected");
    assert_eq!(partial.rejected_spans, 2, "{}", partial.error_message);
    assert!(partial.error_message.contains("2^63"), "{}", partial.error_message);
    let spans: serde_json::Value = app.get(&reader, "/v1/spans").await.json().await.unwrap();
    let spans = spans["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 1);
    app.stop().await;
}

async fn entry_written_deep_by_an_older_version_is_still_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let ingest = app.key("default", &[Scope::Ingest]).await;
    let reader = app.key("default", &[Scope::AuditRead]).await;
    let body = request(vec![span(8, vec![nested_attribute(8)])]);
    assert_eq!(
        app.post_traces(&ingest, "application/x-protobuf", None, body)
            .await
            .status(),
        200
    );
    // What an older version could write: an attribute 64 kvlist levels deep, about 270
    // JSON levels (serde_json's default limit is 128).
    tamper_entry_bytes(&app, 0, |bytes| {
        let mut entry: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let mut value = serde_json::json!({"stringValue": "leaf"});
        for _ in 0..64 {
            value = serde_json::json!({"kvlistValue": {"values": [{"key": "k", "value": value}]}});
        }
        entry["body"]["attributes"]["app.nested"] = value;
        serde_json_canonicalizer::to_vec(&entry).unwrap()
    })
    .await;
    let response = app.get(&reader, "/v1/ledger/entries?start=0&end=1").await;
    assert_eq!(response.status(), 200);
    // The page is deeper than serde_json's default limit: read it as the server does.
    let page = traceledger::ledger::entry::parse_entry_value(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(page["entries"][0]["entry"]["index"], 0);
    let trace = app.get(&reader, &format!("/v1/traces/{}", "08".repeat(16))).await;
    assert_eq!(trace.status(), 200);
    app.stop().await;
}

async fn public_key_directory_is_cached_and_stays_fresh(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.client.get(app.url("/v1/keys")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let listed: serde_json::Value = first.json().await.unwrap();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);

    // Unchanged: the same tag, and a conditional request costs no body.
    let again = app.client.get(app.url("/v1/keys")).send().await.unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    let conditional = app
        .client
        .get(app.url("/v1/keys"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(conditional.status(), 304);
    assert!(conditional.bytes().await.unwrap().is_empty());

    // A tenant created by another process (here: straight in the store) shows at once.
    app.tenant("acme").await;
    let fresh = app.client.get(app.url("/v1/keys")).send().await.unwrap();
    assert_ne!(fresh.headers()["etag"].to_str().unwrap(), etag);
    let listed: serde_json::Value = fresh.json().await.unwrap();
    let origins: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, ["traceledger.local/default", "traceledger.local/acme"]);
    let filtered: serde_json::Value = app
        .client
        .get(app.url("/v1/keys?origin=traceledger.local/acme"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["keys"].as_array().unwrap().len(), 1);
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);
    app.stop().await;
}

/// The output of the `a_rag_semconv` fixture.
const ANSWER: &str = "Yes. Order 1234 was delivered on 2026-01-02 and our refund window is 30 days from delivery, so you can request a refund until 2026-02-01.";
const ANSWER_TRACE: &str = "2b604910827c5510fb92a1e4775308c0";

async fn search(app: &TestApp, key: &str, output: &str) -> serde_json::Value {
    let response = app
        .client
        .post(app.url("/v1/provenance/search"))
        .bearer_auth(key)
        .json(&serde_json::json!({ "output": output }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn pasted_output_is_found_by_its_normalized_form(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = app
        .key("default", &[Scope::Ingest, Scope::AuditRead, Scope::Export])
        .await;
    assert_eq!(
        app.post_traces(&key, "application/x-protobuf", None, fixture("a_rag_semconv/1.pb"))
            .await
            .status(),
        200
    );
    let exact = search(&app, &key, ANSWER).await;
    assert_eq!(exact["matched"], "exact");
    assert_eq!(exact["results"][0]["trace_id"], ANSWER_TRACE);

    // What a browser, a ticket system or an e-mail client makes of the same answer.
    let pasted = [
        format!("{ANSWER}\n"),
        format!("  {ANSWER}\r\n"),
        ANSWER.replace(' ', "  "),
        ANSWER.replace("refund window", "refund\u{200B} window"),
        ANSWER.replacen(". ", ".\r\n", 1),
    ];
    for text in &pasted {
        let found = search(&app, &key, text).await;
        assert_eq!(found["matched"], "normalized", "{text:?}: {found}");
        assert_eq!(found["results"].as_array().unwrap().len(), 1, "{text:?}");
        assert_eq!(found["results"][0]["trace_id"], ANSWER_TRACE);
        // The digest reported is the one of the text as given.
        use sha2::Digest;
        assert_eq!(
            found["output_sha256"],
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        );
    }

    // A visible change is still "never produced".
    let other = search(&app, &key, &ANSWER.replace("1234", "1235")).await;
    assert_eq!(other["matched"], serde_json::Value::Null);
    assert!(other["results"].as_array().unwrap().is_empty());

    // A bundle's subject is the output byte for byte: export says what matched instead.
    let response = app
        .client
        .post(app.url("/v1/exports"))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "output": pasted[0] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: serde_json::Value = response.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("normalized") && detail.contains(ANSWER_TRACE),
        "{detail}"
    );
    app.stop().await;
}
