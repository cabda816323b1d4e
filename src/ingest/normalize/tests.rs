use super::*;
use crate::ingest::anyvalue::{encode_any_value, MAX_ANY_VALUE_DEPTH};
use crate::ingest::test_support::{attribute, int_attribute, string_attribute, string_value};
use crate::ingest::{ContentSink, NormalizedSpan, SpanKind};
use crate::ledger::commitment;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, Span, Status};
use serde_json::json;

fn base_span(attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![0x11; 16],
        span_id: vec![0x22; 8],
        name: "chat gpt-4o-mini".to_owned(),
        kind: 3,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        attributes,
        ..Default::default()
    }
}

fn empty_context() -> SpanContext<'static> {
    SpanContext {
        resource: None,
        resource_schema_url: "",
        scope: None,
        scope_schema_url: "",
    }
}

fn normalize_fixed(span: &Span) -> Result<NormalizedSpan, String> {
    let mut sink = ContentSink::with_fixed_salt([7u8; commitment::SALT_LEN]);
    normalize_span(&empty_context(), span, &mut sink)
}

#[test]
fn too_deep_values_are_rejected_not_overflowed() {
    let mut value = string_value("leaf");
    for _ in 0..(MAX_ANY_VALUE_DEPTH + 2) {
        value = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![value] })),
        };
    }
    assert!(encode_any_value(&value).is_err());
    // A committed attribute sorts before the bad one; the rejection drops it again.
    let span = base_span(vec![
        string_attribute("input.value", "committed first"),
        attribute("z.deep", value),
    ]);
    let mut sink = ContentSink::with_fixed_salt([7u8; commitment::SALT_LEN]);
    let reason = normalize_span(&empty_context(), &span, &mut sink).unwrap_err();
    assert!(reason.contains("z.deep"), "{reason}");
    assert!(sink.items.is_empty());
}

#[test]
fn rejection_reasons() {
    let mut short_trace = base_span(Vec::new());
    short_trace.trace_id = vec![1; 15];
    assert!(normalize_fixed(&short_trace).unwrap_err().contains("trace id"));

    let mut zero_trace = base_span(Vec::new());
    zero_trace.trace_id = vec![0; 16];
    assert!(normalize_fixed(&zero_trace).unwrap_err().contains("all zeros"));

    let mut zero_span = base_span(Vec::new());
    zero_span.span_id = vec![0; 8];
    assert!(normalize_fixed(&zero_span).unwrap_err().contains("span id"));

    let mut bad_parent = base_span(Vec::new());
    bad_parent.parent_span_id = vec![1, 2, 3];
    assert!(normalize_fixed(&bad_parent).unwrap_err().contains("parent_span_id"));

    let mut zero_start = base_span(Vec::new());
    zero_start.start_time_unix_nano = 0;
    assert!(normalize_fixed(&zero_start)
        .unwrap_err()
        .contains("start_time_unix_nano is 0"));

    let mut backwards = base_span(Vec::new());
    backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;
    assert!(normalize_fixed(&backwards)
        .unwrap_err()
        .contains("before start_time_unix_nano"));

    let mut bad_kind = base_span(Vec::new());
    bad_kind.kind = 9;
    assert!(normalize_fixed(&bad_kind).unwrap_err().contains("SpanKind"));

    let mut bad_status = base_span(Vec::new());
    bad_status.status = Some(Status {
        code: 7,
        message: String::new(),
    });
    assert!(normalize_fixed(&bad_status).unwrap_err().contains("StatusCode"));

    let mut bad_link = base_span(Vec::new());
    bad_link.links = vec![span::Link {
        trace_id: vec![1; 16],
        span_id: vec![],
        ..Default::default()
    }];
    assert!(normalize_fixed(&bad_link).unwrap_err().contains("link 0"));

    let mut root = base_span(Vec::new());
    root.end_time_unix_nano = root.start_time_unix_nano;
    let normalized = normalize_fixed(&root).unwrap();
    assert!(normalized.parent_span_id.is_none());
    assert!(normalized.body.get("parent_span_id").is_none());
}

fn generation_span() -> Span {
    let mut span = base_span(vec![
        string_attribute("gen_ai.operation.name", "chat"),
        string_attribute("gen_ai.provider.name", "openai"),
        string_attribute("gen_ai.request.model", "gpt-4o-mini"),
        attribute(
            "gen_ai.request.temperature",
            AnyValue {
                value: Some(any_value::Value::DoubleValue(0.2)),
            },
        ),
        int_attribute("gen_ai.request.max_tokens", 64),
        int_attribute("gen_ai.usage.input_tokens", 25),
        int_attribute("gen_ai.usage.output_tokens", 8),
        string_attribute(
            "gen_ai.input.messages",
            r#"[{"role":"user","parts":[{"type":"text","content":"Secret question?"}]}]"#,
        ),
        string_attribute(
            "gen_ai.output.messages",
            r#"[{"role":"assistant","parts":[{"type":"text","content":"Secret "},{"type":"text","content":"answer."}]}]"#,
        ),
        string_attribute("enduser.id", "user-1"),
        string_attribute("session.id", "sess-1"),
    ]);
    span.parent_span_id = vec![0x33; 8];
    span.events = vec![span::Event {
        name: "gen_ai.user.message".into(),
        time_unix_nano: 1_700_000_000_100_000_000,
        attributes: vec![
            string_attribute("content", "Secret question?"),
            string_attribute("role", "user"),
        ],
        dropped_attributes_count: 0,
    }];
    span
}

#[test]
fn generation_span_body() {
    let normalized = normalize_fixed(&generation_span()).unwrap();
    assert_eq!(normalized.kind, SpanKind::Generation);
    assert_eq!(normalized.outputs, vec!["Secret answer.".to_owned()]);
    assert_eq!(normalized.user_id.as_deref(), Some("user-1"));
    assert_eq!(normalized.session_id.as_deref(), Some("sess-1"));
    let body = &normalized.body;
    assert_eq!(body["trace_id"], json!("11".repeat(16)));
    assert_eq!(body["parent_span_id"], json!("33".repeat(8)));
    assert_eq!(body["kind"], json!("generation"));
    assert_eq!(body["otel_kind"], json!(3));
    assert_eq!(body["start_time_unix_nano"], json!("1700000000000000000"));
    assert_eq!(body["status"], json!({"code": 0, "message": ""}));
    assert!(body.get("flags").is_none() && body.get("links").is_none() && body.get("dropped").is_none());
    assert_eq!(
        body["attributes"]["gen_ai.request.max_tokens"],
        json!({"intValue": "64"})
    );
    assert_eq!(
        body["genai"]["usage"],
        json!({"input_tokens": "25", "output_tokens": "8"})
    );
    assert_eq!(body["genai"]["parameters"]["temperature"], json!({"doubleValue": 0.2}));
    assert_eq!(body["genai"]["request_model"], json!("gpt-4o-mini"));
    assert_eq!(body["genai"]["provider"], json!("openai"));
    assert_eq!(body["events"][0]["attributes"]["role"], json!({"stringValue": "user"}));
    let serialized = body.to_string();
    assert!(!serialized.contains("Secret"), "{serialized}");
    let fields: Vec<&str> = normalized.contents.iter().map(|item| item.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "attributes.gen_ai.input.messages",
            "attributes.gen_ai.output.messages",
            "events[0].attributes.content"
        ]
    );
    for item in &normalized.contents {
        let expected = json!({"sha256": item.committed.commitment.sha256, "len": item.committed.commitment.len});
        assert!(serialized.contains(&expected.to_string()));
        assert!(commitment::opens(
            &item.committed.commitment,
            &item.committed.salt,
            &item.committed.content
        ));
    }
}

#[test]
fn normalization_is_deterministic_with_a_fixed_salt() {
    let span = generation_span();
    let first = normalize_fixed(&span).unwrap();
    let second = normalize_fixed(&span).unwrap();
    assert_eq!(first, second);
    let first_bytes = serde_json_canonicalizer::to_vec(&first.body).unwrap();
    let second_bytes = serde_json_canonicalizer::to_vec(&second.body).unwrap();
    assert_eq!(first_bytes, second_bytes);
    // Random salts give different commitments for the same content.
    let mut random_sink = ContentSink::new();
    let random = normalize_span(&empty_context(), &span, &mut random_sink).unwrap();
    assert_ne!(random.body, first.body);
}

#[test]
fn duplicate_keys_keep_the_last_and_commit_once() {
    let span = base_span(vec![
        string_attribute("input.value", "first secret"),
        string_attribute("input.value", "second secret"),
        string_attribute("service.tier", "a"),
        string_attribute("service.tier", "b"),
    ]);
    let normalized = normalize_fixed(&span).unwrap();
    assert_eq!(normalized.contents.len(), 1);
    assert_eq!(normalized.contents[0].committed.content, "second secret");
    assert_eq!(
        normalized.body["attributes"]["service.tier"],
        json!({"stringValue": "b"})
    );
}

#[test]
fn non_string_content_commits_canonical_json() {
    let span = base_span(vec![attribute(
        "gen_ai.input.messages",
        AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![string_value("hello there")],
            })),
        },
    )]);
    let normalized = normalize_fixed(&span).unwrap();
    assert_eq!(
        normalized.contents[0].committed.content,
        r#"{"arrayValue":{"values":[{"stringValue":"hello there"}]}}"#
    );
    assert!(!normalized.body.to_string().contains("hello there"));
}

#[test]
fn retrieval_documents_are_summarised_with_committed_text() {
    let documents = r#"[{"id":"doc-1","uri":"https://x/1","score":0.9,"content":"private text one"},{"id":"doc-2","score":0.5,"text":"private text two"}]"#;
    let span = base_span(vec![
        string_attribute("gen_ai.operation.name", "retrieval"),
        string_attribute("gen_ai.data_source.id", "kb"),
        int_attribute("gen_ai.request.top_k", 2),
        string_attribute("gen_ai.retrieval.query.text", "private query"),
        string_attribute("gen_ai.retrieval.documents", documents),
    ]);
    let normalized = normalize_fixed(&span).unwrap();
    let retrieval = &normalized.body["genai"]["retrieval"];
    assert_eq!(retrieval["data_source_id"], json!("kb"));
    assert_eq!(retrieval["top_k"], json!("2"));
    assert_eq!(
        retrieval["query"],
        normalized.body["attributes"]["gen_ai.retrieval.query.text"]
    );
    assert_eq!(retrieval["documents"][0]["id"], json!("doc-1"));
    assert_eq!(retrieval["documents"][0]["uri"], json!("https://x/1"));
    assert_eq!(retrieval["documents"][1]["score"], json!(0.5));
    let fields: Vec<&str> = normalized.contents.iter().map(|item| item.field.as_str()).collect();
    assert!(fields.contains(&"genai.retrieval.documents[1].content"));
    assert!(!normalized.body.to_string().contains("private"));
}

#[test]
fn resource_scope_links_and_dropped_counts() {
    let resource = Resource {
        attributes: vec![
            string_attribute("service.name", "svc"),
            string_attribute("user.id", "u-9"),
        ],
        dropped_attributes_count: 2,
        ..Default::default()
    };
    let scope = InstrumentationScope {
        name: "lib".into(),
        version: String::new(),
        ..Default::default()
    };
    let context = SpanContext {
        resource: Some(&resource),
        resource_schema_url: "https://schema/r",
        scope: Some(&scope),
        scope_schema_url: "",
    };
    let mut span = base_span(Vec::new());
    span.flags = 256;
    span.trace_state = "k=v".into();
    span.dropped_events_count = 1;
    span.links = vec![span::Link {
        trace_id: vec![5; 16],
        span_id: vec![6; 8],
        ..Default::default()
    }];
    let mut sink = ContentSink::with_fixed_salt([1u8; commitment::SALT_LEN]);
    let normalized = normalize_span(&context, &span, &mut sink).unwrap();
    let body = &normalized.body;
    assert_eq!(body["flags"], json!(256));
    assert_eq!(body["trace_state"], json!("k=v"));
    assert_eq!(body["dropped"], json!({"attributes": 0, "events": 1, "links": 0}));
    assert_eq!(body["resource"]["schema_url"], json!("https://schema/r"));
    assert_eq!(body["resource"]["dropped_attributes_count"], json!(2));
    assert_eq!(body["scope"], json!({"name": "lib"}));
    assert_eq!(
        body["links"][0],
        json!({"trace_id": "05".repeat(16), "span_id": "06".repeat(8), "attributes": {}})
    );
    assert_eq!(body["genai"]["pipeline"]["service_name"], json!("svc"));
    assert_eq!(normalized.user_id.as_deref(), Some("u-9"));
}
