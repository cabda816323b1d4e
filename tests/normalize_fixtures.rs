//! Normalizes every captured OTLP trace payload in `../shared/fixtures` (real, unmodified
//! instrumentation libraries) and checks concrete facts per producer: span counts,
//! canonical kinds, model / provider / token usage, retrieval documents in clear, the
//! expected output findable in `outputs` — and above all that no content ever appears in
//! clear in an entry body while every committed content opens and is referenced by it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::{json, Value};
use traceledger::ingest::normalize::{normalize_span, SpanContext};
use traceledger::ingest::otlp::{self, Encoding};
use traceledger::ingest::{prepare_spans, ContentSink, NormalizedSpan, SpanKind};
use traceledger::ledger::commitment;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");

/// OTLP trace endpoints; other captured calls (`/v1/logs`, Langfuse scores) are skipped.
const TRACE_PATHS: &[&str] = &["/v1/traces", "/api/public/otel/v1/traces"];

const GZIP_LIMIT: usize = 16 * 1024 * 1024;

/// One captured trace request with its metadata.
struct Payload {
    file: String,
    meta: Value,
    request: ExportTraceServiceRequest,
}

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

/// Every trace payload of a fixture directory, in file-name order.
fn load_payloads(name: &str) -> Vec<Payload> {
    let dir = fixture_dir(name);
    let mut meta_paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("read {}: {error}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.to_string_lossy().ends_with(".meta.json"))
        .collect();
    meta_paths.sort();
    let mut payloads = Vec::new();
    for meta_path in meta_paths {
        let meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).expect("read meta")).expect("meta is JSON");
        let path = meta["path"].as_str().expect("meta.path");
        if !TRACE_PATHS.contains(&path) {
            continue;
        }
        let file = meta["file"].as_str().expect("meta.file").to_owned();
        let raw = std::fs::read(dir.join(&file)).expect("read payload");
        let body = match meta["content_encoding"].as_str() {
            Some("gzip") => otlp::gunzip(&raw, GZIP_LIMIT).expect("gunzip"),
            Some(other) => panic!("unexpected content encoding {other}"),
            None => raw,
        };
        let content_type = meta["content_type"].as_str().expect("meta.content_type");
        let encoding = Encoding::from_content_type(content_type).expect("known content type");
        let request = otlp::decode_trace_request(&body, encoding).unwrap_or_else(|error| panic!("{file}: {error}"));
        payloads.push(Payload { file, meta, request });
    }
    payloads
}

/// Normalizes every payload of a fixture with `prepare_spans` (random salts) and checks
/// the invariants that hold for every span of every producer.
fn normalize_fixture(name: &str) -> (Vec<Payload>, Vec<NormalizedSpan>) {
    let payloads = load_payloads(name);
    assert!(!payloads.is_empty(), "{name}: no trace payloads");
    let mut spans = Vec::new();
    for payload in &payloads {
        let (accepted, rejected) = prepare_spans(&payload.request);
        assert!(rejected.is_empty(), "{name}/{}: rejected {rejected:?}", payload.file);
        for span in &accepted {
            check_content_invariants(name, span);
        }
        spans.extend(accepted);
    }
    (payloads, spans)
}

/// Whether `haystack` contains a JSON value equal to `needle` anywhere.
fn contains_value(haystack: &Value, needle: &Value) -> bool {
    if haystack == needle {
        return true;
    }
    match haystack {
        Value::Object(object) => object.values().any(|value| contains_value(value, needle)),
        Value::Array(list) => list.iter().any(|value| contains_value(value, needle)),
        _ => false,
    }
}

/// `text` as it would appear inside a serialized JSON string.
fn json_escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).expect("string serializes");
    quoted[1..quoted.len() - 1].to_owned()
}

fn assert_not_in_body(fixture: &str, span: &NormalizedSpan, text: &str) {
    let serialized = span.body.to_string();
    assert!(
        !serialized.contains(&json_escaped(text)),
        "{fixture}: content {text:?} appears in clear in the body of span {:?}",
        span.body["name"]
    );
}

/// Every committed content opens its commitment, the commitment is in the body, and no
/// committed text (long enough to be meaningful) appears in clear in the body.
fn check_content_invariants(fixture: &str, span: &NormalizedSpan) {
    for item in &span.contents {
        let committed = &item.committed;
        assert!(
            commitment::opens(&committed.commitment, &committed.salt, &committed.content),
            "{fixture}: {} does not open",
            item.field
        );
        let in_body = json!({"sha256": committed.commitment.sha256, "len": committed.commitment.len});
        assert!(
            contains_value(&span.body, &in_body),
            "{fixture}: commitment of {} missing from body",
            item.field
        );
        if committed.content.chars().count() >= 12 {
            assert_not_in_body(fixture, span, &committed.content);
        }
    }
    let mut digests: Vec<&str> = span
        .contents
        .iter()
        .map(|item| item.committed.commitment.sha256.as_str())
        .collect();
    digests.sort_unstable();
    digests.dedup();
    assert_eq!(
        digests.len(),
        span.contents.len(),
        "{fixture}: a commitment was reused within one span"
    );
    check_outputs_rederive(fixture, span);
}

/// The audit re-derives the output index from the entry (as a verifier reads it back from
/// its canonical bytes) and the stored content: it must find what ingest indexed.
fn check_outputs_rederive(fixture: &str, span: &NormalizedSpan) {
    use traceledger::provenance::outputs::{expected_output_digests, ExpectedOutputs};
    let secret = [5u8; 32];
    let canonical = serde_json_canonicalizer::to_vec(&span.body).expect("body canonicalizes");
    let body: Value = serde_json::from_slice(&canonical).expect("canonical body parses");
    let contents = span
        .contents
        .iter()
        .map(|item| (item.committed.commitment.sha256.clone(), item.committed.content.clone()))
        .collect();
    let indexed = traceledger::provenance::lookup::output_index_digests(&secret, &span.outputs)
        .into_iter()
        .collect();
    let expected = expected_output_digests("span", &body, &contents, &secret);
    assert!(
        matches!(expected, ExpectedOutputs::OneOf(_)) && expected.allows(&indexed),
        "{fixture}: span {:?}: outputs {:?} do not re-derive: {expected:?}",
        span.body["name"],
        span.outputs
    );
}

fn assert_absent_everywhere(fixture: &str, spans: &[NormalizedSpan], texts: &[&str]) {
    for span in spans {
        for text in texts {
            assert_not_in_body(fixture, span, text);
        }
    }
}

fn kind_counts(spans: &[NormalizedSpan]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for span in spans {
        *counts.entry(span.kind.as_str()).or_insert(0) += 1;
    }
    counts
}

fn counts(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().collect()
}

fn span_named<'a>(spans: &'a [NormalizedSpan], name: &str) -> Vec<&'a NormalizedSpan> {
    spans.iter().filter(|span| span.body["name"] == json!(name)).collect()
}

fn assert_output_found(fixture: &str, spans: &[NormalizedSpan], expected: &str) {
    assert!(
        spans
            .iter()
            .any(|span| span.outputs.iter().any(|output| output == expected)),
        "{fixture}: expected output {expected:?} not in any span's outputs"
    );
}

fn expected_outputs(payload: &Payload, keys: &[&str]) -> Vec<String> {
    let expected = &payload.meta["expected_output"];
    match expected {
        Value::String(text) => vec![text.clone()],
        Value::Object(object) => keys
            .iter()
            .map(|key| {
                object
                    .get(*key)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("expected_output.{key}"))
                    .to_owned()
            })
            .collect(),
        other => panic!("unexpected expected_output {other}"),
    }
}

fn document_field(span: &NormalizedSpan, field: &str) -> Vec<Value> {
    span.body["genai"]["retrieval"]["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|document| document[field].clone())
        .collect()
}

#[test]
fn a_rag_semconv() {
    let fixture = "a_rag_semconv";
    let (payloads, spans) = normalize_fixture(fixture);
    assert_eq!(payloads.len(), 3);
    assert_eq!(spans.len(), 18);
    for payload_spans in spans.chunks(6) {
        assert_eq!(
            kind_counts(payload_spans),
            counts(&[
                ("chain", 1),
                ("generation", 2),
                ("guardrail", 1),
                ("retrieval", 1),
                ("tool", 1)
            ])
        );
    }
    let first = &spans[..6];
    let expected = expected_outputs(&payloads[0], &[]);
    assert_output_found(fixture, first, &expected[0]);

    let generations: Vec<&NormalizedSpan> = first.iter().filter(|span| span.kind == SpanKind::Generation).collect();
    let usage: Vec<(Value, Value)> = generations
        .iter()
        .map(|span| {
            (
                span.body["genai"]["usage"]["input_tokens"].clone(),
                span.body["genai"]["usage"]["output_tokens"].clone(),
            )
        })
        .collect();
    assert_eq!(usage, vec![(json!("187"), json!("19")), (json!("241"), json!("38"))]);
    for generation in &generations {
        let genai = &generation.body["genai"];
        assert_eq!(genai["provider"], json!("openai"));
        assert_eq!(genai["request_model"], json!("gpt-4o-mini"));
        assert_eq!(genai["response_model"], json!("gpt-4o-mini-2024-07-18"));
        assert_eq!(genai["usage"]["cache_read_input_tokens"], json!("0"));
        assert_eq!(genai["parameters"]["temperature"], json!({"doubleValue": 0.2}));
        assert_eq!(genai["parameters"]["max_tokens"], json!({"intValue": "512"}));
        assert_eq!(genai["parameters"]["seed"], json!({"intValue": "7"}));
        assert_eq!(generation.body["attributes"]["server.port"], json!({"intValue": "443"}));
        assert_eq!(generation.body["otel_kind"], json!(3));
        assert_eq!(generation.body["flags"], json!(256));
    }
    assert_eq!(generations[0].body["genai"]["finish_reasons"], json!(["tool_calls"]));
    assert_eq!(generations[1].body["genai"]["finish_reasons"], json!(["stop"]));
    // The first call only asks for a tool: no assistant text.
    assert!(generations[0].outputs.is_empty());
    assert_eq!(generations[1].outputs, expected);

    let retrieval = first
        .iter()
        .find(|span| span.kind == SpanKind::Retrieval)
        .expect("retrieval span");
    let summary = &retrieval.body["genai"]["retrieval"];
    assert_eq!(summary["data_source_id"], json!("product_docs"));
    assert_eq!(summary["top_k"], json!("3"));
    assert_eq!(
        summary["query"],
        retrieval.body["attributes"]["gen_ai.retrieval.query.text"]
    );
    assert_eq!(
        document_field(retrieval, "id"),
        vec![
            json!("doc-refund-policy-v3"),
            json!("doc-shipping-faq-12"),
            json!("doc-returns-howto-7")
        ]
    );
    assert_eq!(
        document_field(retrieval, "uri"),
        vec![
            json!("https://docs.example.com/policies/refunds#window"),
            json!("https://docs.example.com/faq/shipping#delivery-dates"),
            json!("s3://kb-bucket/returns/howto-7.md"),
        ]
    );
    assert_eq!(
        document_field(retrieval, "score"),
        vec![json!(0.9132), json!(0.8417), json!(0.7725)]
    );
    let document_contents: Vec<&str> = retrieval
        .contents
        .iter()
        .filter(|item| item.field.starts_with("genai.retrieval.documents["))
        .map(|item| item.committed.content.as_str())
        .collect();
    assert_eq!(
        document_contents,
        vec![
            "Refunds are accepted within 30 days of delivery for unused items.",
            "Delivery date is the date the carrier marks the parcel delivered.",
            "To request a refund, open Orders, choose the order and click Return.",
        ]
    );

    let tool = first
        .iter()
        .find(|span| span.kind == SpanKind::Tool)
        .expect("tool span");
    assert_eq!(tool.body["genai"]["tool"]["name"], json!("lookup_order"));
    assert_eq!(tool.body["genai"]["tool"]["call_id"], json!("call_lookup_0001"));
    assert_eq!(tool.body["genai"]["tool"]["type"], json!("function"));
    assert_eq!(
        tool.body["genai"]["tool"]["result"],
        tool.body["attributes"]["gen_ai.tool.call.result"]
    );

    let guardrail = first
        .iter()
        .find(|span| span.kind == SpanKind::Guardrail)
        .expect("guardrail span");
    assert_eq!(guardrail.body["status"], json!({"code": 1, "message": ""}));
    assert_eq!(
        guardrail.body["attributes"]["gen_ai.security.risk.score"],
        json!({"doubleValue": 0.03})
    );
    assert_eq!(
        guardrail.body["events"][1]["attributes"]["gen_ai.evaluation.score.value"],
        json!({"doubleValue": 0.97})
    );
    let explanation_fields: Vec<&str> = guardrail.contents.iter().map(|item| item.field.as_str()).collect();
    assert_eq!(
        explanation_fields,
        vec!["events[1].attributes.gen_ai.evaluation.explanation"]
    );

    let root = first
        .iter()
        .find(|span| span.parent_span_id.is_none())
        .expect("root span");
    assert_eq!(root.kind, SpanKind::Chain);
    assert_eq!(root.outputs, expected);
    assert_eq!(root.user_id.as_deref(), Some("user-42"));
    assert_eq!(root.session_id.as_deref(), Some("sess-0b7e"));
    assert_eq!(root.body["genai"]["conversation_id"], json!("conv-5f2a9c"));
    for span in first {
        assert_eq!(span.trace_id.to_hex(), "2b604910827c5510fb92a1e4775308c0");
        let pipeline = &span.body["genai"]["pipeline"];
        assert_eq!(pipeline["rag_pipeline_version"], json!("rag-pipeline-2.3.1"));
        assert_eq!(pipeline["service_name"], json!("support-rag-api"));
        assert_eq!(pipeline["environment"], json!("staging"));
        assert_eq!(
            span.body["scope"]["schema_url"],
            json!("https://opentelemetry.io/schemas/1.37.0")
        );
        if span.parent_span_id.is_some() {
            assert_eq!(span.body["parent_span_id"], json!("752b5d9d28f854cf"));
        }
    }

    assert_absent_everywhere(
        fixture,
        &spans,
        &[
            &expected[0],
            "Can I still get a refund for order 1234?",
            "Refunds are accepted within 30 days of delivery for unused items.",
            "Delivery date is the date the carrier marks the parcel delivered.",
            "To request a refund, open Orders, choose the order and click Return.",
            "You are a helpful support assistant.",
            "\"delivered_on\": \"2026-01-02\"",
            "Answer is supported by doc-refund-policy-v3 and tool result.",
        ],
    );
}

/// Normalizes every span of a request with one fixed salt.
fn normalize_with_fixed_salt(request: &ExportTraceServiceRequest) -> Vec<NormalizedSpan> {
    let mut normalized = Vec::new();
    for resource_spans in &request.resource_spans {
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                let context = SpanContext {
                    resource: resource_spans.resource.as_ref(),
                    resource_schema_url: &resource_spans.schema_url,
                    scope: scope_spans.scope.as_ref(),
                    scope_schema_url: &scope_spans.schema_url,
                };
                let mut sink = ContentSink::with_fixed_salt([42u8; commitment::SALT_LEN]);
                normalized.push(normalize_span(&context, span, &mut sink).expect("span normalizes"));
            }
        }
    }
    normalized
}

#[test]
fn a_rag_semconv_encodings_give_identical_bodies() {
    let payloads = load_payloads("a_rag_semconv");
    let variants: Vec<&str> = payloads
        .iter()
        .map(|payload| payload.meta["variant"].as_str().expect("variant"))
        .collect();
    assert_eq!(variants, vec!["protobuf", "json", "protobuf+gzip"]);
    let normalized: Vec<Vec<NormalizedSpan>> = payloads
        .iter()
        .map(|payload| normalize_with_fixed_salt(&payload.request))
        .collect();
    for (payload, spans) in payloads.iter().zip(&normalized).skip(1) {
        assert_eq!(spans.len(), normalized[0].len());
        for (span, reference) in spans.iter().zip(&normalized[0]) {
            let canonical = serde_json_canonicalizer::to_vec(&span.body).expect("JCS");
            let reference_canonical = serde_json_canonicalizer::to_vec(&reference.body).expect("JCS");
            assert_eq!(
                canonical, reference_canonical,
                "{}: body of {:?} differs",
                payload.file, span.body["name"]
            );
            assert_eq!(span, reference, "{}: normalized span differs", payload.file);
        }
    }
    // Same input and salt twice: byte-identical.
    assert_eq!(normalize_with_fixed_salt(&payloads[0].request), normalized[0]);
}

#[test]
fn b_otel_openai_v2_legacy_records_no_content() {
    let fixture = "b_otel_openai_v2_legacy";
    let (_, spans) = normalize_fixture(fixture);
    assert_eq!(spans.len(), 4);
    assert_eq!(kind_counts(&spans), counts(&[("embedding", 1), ("generation", 3)]));
    for span in &spans {
        assert!(span.contents.is_empty(), "legacy mode captures no content");
        assert!(span.outputs.is_empty());
        assert!(span.parent_span_id.is_none(), "each call is its own trace");
        assert_eq!(span.body["genai"]["provider"], json!("openai"));
        assert_eq!(span.body["genai"]["pipeline"]["service_name"], json!("openai-v2-demo"));
    }
    let usage: Vec<Value> = spans.iter().map(|span| span.body["genai"]["usage"].clone()).collect();
    assert_eq!(
        usage,
        vec![
            json!({"input_tokens": "25", "output_tokens": "8"}),
            json!({"input_tokens": "42", "output_tokens": "17"}),
            json!({"input_tokens": "25", "output_tokens": "8"}),
            json!({"input_tokens": "12"}),
        ]
    );
    assert_eq!(
        spans[0].body["genai"]["parameters"]["max_tokens"],
        json!({"intValue": "64"})
    );
    let embedding = &spans[3];
    assert_eq!(
        embedding.body["genai"]["request_model"],
        json!("text-embedding-3-small")
    );
    assert_eq!(
        embedding.body["attributes"]["gen_ai.embeddings.dimension.count"],
        json!({"intValue": "8"})
    );
    assert_eq!(
        embedding.body["scope"]["name"],
        json!("opentelemetry.instrumentation.openai_v2")
    );
    assert!(embedding.body["scope"].get("version").is_none());
}

#[test]
fn b_otel_openai_v2_latest_commits_messages() {
    let fixture = "b_otel_openai_v2_latest";
    let (payloads, spans) = normalize_fixture(fixture);
    assert_eq!(payloads.len(), 1, "2.pb goes to /v1/logs and is skipped");
    assert_eq!(spans.len(), 4);
    assert_eq!(kind_counts(&spans), counts(&[("embedding", 1), ("generation", 3)]));
    let expected = expected_outputs(&payloads[0], &["chat", "tool_round_trip"]);
    assert_eq!(spans[0].outputs, vec![expected[0].clone()]);
    assert!(spans[1].outputs.is_empty(), "tool-call response has no text");
    assert_eq!(spans[2].outputs, vec![expected[1].clone()]);
    for generation in &spans[..3] {
        let fields: Vec<&str> = generation.contents.iter().map(|item| item.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["attributes.gen_ai.input.messages", "attributes.gen_ai.output.messages"]
        );
        assert_eq!(
            generation.body["genai"]["response_model"],
            json!("gpt-4o-mini-2024-07-18")
        );
    }
    assert_eq!(
        spans[2].body["genai"]["usage"],
        json!({"input_tokens": "25", "output_tokens": "8"})
    );
    assert_absent_everywhere(
        fixture,
        &spans,
        &[
            &expected[0],
            &expected[1],
            "You are a terse geography assistant.",
            "What is the capital of France?",
            "What's the weather in Paris?",
            "temperature_c",
        ],
    );
}

#[test]
fn d_openinference_langchain() {
    let fixture = "d_openinference_langchain";
    let (payloads, spans) = normalize_fixture(fixture);
    assert_eq!(spans.len(), 13);
    assert_eq!(
        kind_counts(&spans),
        counts(&[
            ("agent", 1),
            ("chain", 7),
            ("generation", 3),
            ("retrieval", 1),
            ("tool", 1)
        ])
    );
    let expected = expected_outputs(&payloads[0], &["rag_answer", "final_answer"]);
    for text in &expected {
        assert_output_found(fixture, &spans, text);
    }
    let generations: Vec<&NormalizedSpan> = spans.iter().filter(|span| span.kind == SpanKind::Generation).collect();
    let providers: Vec<Value> = generations
        .iter()
        .map(|span| span.body["genai"]["provider"].clone())
        .collect();
    assert_eq!(
        providers,
        vec![json!("fakelistchatmodel"), json!("faketool"), json!("faketool")]
    );
    assert_eq!(generations[0].outputs, vec![expected[0].clone()]);
    assert!(
        generations[1].outputs.is_empty(),
        "the first agent call only requests a tool"
    );
    assert_eq!(generations[2].outputs, vec![expected[1].clone()]);
    // Roles, tool call ids and tool names stay in clear; the arguments do not.
    let tool_call = &generations[1].body["attributes"];
    assert_eq!(
        tool_call["llm.input_messages.1.message.role"],
        json!({"stringValue": "user"})
    );
    assert_eq!(
        tool_call["llm.output_messages.0.message.tool_calls.0.tool_call.function.name"],
        json!({"stringValue": "get_order_status"})
    );
    assert_eq!(
        tool_call["llm.output_messages.0.message.tool_calls.0.tool_call.id"],
        json!({"stringValue": "call_lc_0001"})
    );
    assert!(
        tool_call["llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"]
            .get("sha256")
            .is_some()
    );
    assert!(
        tool_call["llm.tools.0.tool.json_schema"].get("stringValue").is_some(),
        "tool schemas are not content"
    );

    let retrieval = spans
        .iter()
        .find(|span| span.kind == SpanKind::Retrieval)
        .expect("retriever span");
    assert_eq!(
        document_field(retrieval, "id"),
        vec![
            json!("doc-refund-policy-v3"),
            json!("doc-shipping-faq-12"),
            json!("doc-returns-howto-7")
        ]
    );
    assert_eq!(
        document_field(retrieval, "uri"),
        vec![
            json!("https://docs.example.com/policies/refunds"),
            json!("https://docs.example.com/faq/shipping"),
            json!("s3://kb-bucket/returns/howto-7.md"),
        ]
    );
    assert_eq!(
        document_field(retrieval, "score"),
        vec![json!(0.91), json!(0.84), json!(0.77)]
    );
    // Document text reuses the commitment of its attribute: nothing committed twice.
    for (position, content) in document_field(retrieval, "content").iter().enumerate() {
        let key = format!("retrieval.documents.{position}.document.content");
        assert_eq!(content, &retrieval.body["attributes"][key.as_str()]);
    }
    assert_eq!(
        retrieval.body["genai"]["retrieval"]["query"],
        retrieval.body["attributes"]["input.value"]
    );

    let tool = spans
        .iter()
        .find(|span| span.kind == SpanKind::Tool)
        .expect("tool span");
    assert_eq!(tool.body["genai"]["tool"]["name"], json!("get_order_status"));
    let prompt = span_named(&spans, "ChatPromptTemplate");
    assert_eq!(prompt[0].kind, SpanKind::Chain);
    assert_eq!(
        prompt[0].body["genai"]["kind_source"],
        json!("openinference.span.kind=PROMPT")
    );

    assert_absent_everywhere(
        fixture,
        &spans,
        &[
            &expected[0],
            &expected[1],
            "What is the refund policy?",
            "Can I still get a refund for order 1234?",
            "You are a support agent.",
            "Answer the question using only this context",
            "Delivery date is the date the carrier marks the parcel delivered.",
            "To request a refund, open Orders, choose the order and click Return.",
        ],
    );
}

#[test]
fn e_traceloop() {
    let fixture = "e_traceloop";
    let (payloads, spans) = normalize_fixture(fixture);
    assert_eq!(payloads.len(), 8);
    assert_eq!(spans.len(), 8);
    assert_eq!(
        kind_counts(&spans),
        counts(&[("chain", 3), ("embedding", 1), ("generation", 3), ("tool", 1)])
    );
    let expected = expected_outputs(&payloads[0], &["chat", "tool_round_trip"]);
    for text in &expected {
        assert_output_found(fixture, &spans, text);
    }
    for span in &spans {
        assert_eq!(span.user_id.as_deref(), Some("user-42"));
        assert_eq!(span.session_id.as_deref(), Some("sess-0b7e"));
        assert_eq!(span.body["genai"]["workflow_name"], json!("support_workflow"));
        assert_eq!(span.trace_id.to_hex(), "9460cce0c81bf3eea84f22c24cb6cba3");
    }
    let chat = span_named(&spans, "openai.chat");
    assert_eq!(chat.len(), 3);
    let usage: Vec<Value> = chat.iter().map(|span| span.body["genai"]["usage"].clone()).collect();
    assert_eq!(
        usage,
        vec![
            json!({"input_tokens": "25", "output_tokens": "8", "total_tokens": "33"}),
            json!({"input_tokens": "42", "output_tokens": "17", "total_tokens": "59"}),
            json!({"input_tokens": "25", "output_tokens": "8", "total_tokens": "33"}),
        ]
    );
    for span in &chat {
        assert_eq!(span.body["genai"]["provider"], json!("openai"));
        assert_eq!(span.body["genai"]["request_model"], json!("gpt-4o-mini"));
        assert_eq!(span.body["genai"]["parameters"]["stream"], json!({"boolValue": false}));
    }
    let embedding = span_named(&spans, "openai.embeddings");
    assert_eq!(embedding[0].kind, SpanKind::Embedding);
    assert_eq!(
        embedding[0].body["genai"]["usage"]["cache_read_input_tokens"],
        json!("0")
    );
    let tool = span_named(&spans, "get_weather_roundtrip.tool");
    assert_eq!(tool[0].body["genai"]["tool"]["name"], json!("get_weather_roundtrip"));
    let workflow = span_named(&spans, "support_workflow.workflow");
    assert!(workflow[0].parent_span_id.is_none());
    assert_absent_everywhere(
        fixture,
        &spans,
        &[
            &expected[0],
            &expected[1],
            "What is the capital of France?",
            "What's the weather in Paris?",
            "You are a terse geography assistant.",
            "shipping times",
        ],
    );
}

#[test]
fn f_langfuse() {
    let fixture = "f_langfuse";
    let (payloads, spans) = normalize_fixture(fixture);
    assert_eq!(payloads.len(), 1, "2.json is the non-OTLP scores call");
    assert_eq!(spans.len(), 6);
    assert_eq!(
        kind_counts(&spans),
        counts(&[
            ("agent", 1),
            ("generation", 2),
            ("guardrail", 1),
            ("retrieval", 1),
            ("tool", 1)
        ])
    );
    let expected = expected_outputs(&payloads[0], &["answer"]);
    assert_output_found(fixture, &spans, &expected[0]);

    let chat = span_named(&spans, "chat_completion")[0];
    assert_eq!(chat.kind, SpanKind::Generation);
    assert_eq!(chat.outputs, expected);
    let genai = &chat.body["genai"];
    assert_eq!(genai["request_model"], json!("gpt-4o-mini-2024-07-18"));
    assert_eq!(genai["usage"], json!({"input_tokens": "25", "output_tokens": "8"}));
    assert_eq!(genai["parameters"]["temperature"], json!({"doubleValue": 0.2}));
    assert_eq!(genai["response_id"], json!("chatcmpl-fake0001"));
    assert_eq!(genai["finish_reasons"], json!(["stop"]));
    let selection = span_named(&spans, "tool_selection")[0];
    assert_eq!(
        selection.body["genai"]["usage"],
        json!({"input_tokens": "42", "output_tokens": "17", "total_tokens": "59"})
    );
    assert_eq!(
        selection.body["genai"]["parameters"]["max_tokens"],
        json!({"stringValue": "Infinity"})
    );
    assert!(selection.outputs.is_empty());

    let retrieval = span_named(&spans, "retrieve_docs")[0];
    assert_eq!(retrieval.kind, SpanKind::Retrieval);
    assert_eq!(
        document_field(retrieval, "id"),
        vec![
            json!("doc-refund-policy-v3"),
            json!("doc-geo-facts-1"),
            json!("doc-returns-howto-7")
        ]
    );
    assert_eq!(
        document_field(retrieval, "uri"),
        vec![
            json!("https://docs.example.com/policies/refunds"),
            json!("https://docs.example.com/kb/geo"),
            json!("s3://kb-bucket/returns/howto-7.md"),
        ]
    );
    for span in &spans {
        assert_eq!(span.user_id.as_deref(), Some("user-42"));
        assert_eq!(span.session_id.as_deref(), Some("sess-0b7e"));
        assert_eq!(span.body["genai"]["pipeline"]["release"], json!("rag-pipeline-2.3.1"));
        assert_eq!(span.body["genai"]["pipeline"]["environment"], json!("staging"));
        assert_eq!(
            span.body["scope"]["attributes"]["public_key"],
            json!({"stringValue": "pk-lf-fake-public"})
        );
    }
    assert_absent_everywhere(
        fixture,
        &spans,
        &[
            &expected[0],
            "What is the capital of France?",
            "What's the weather in Paris?",
            "Paris is the capital and largest city of France.",
            "Refunds are accepted within 30 days of delivery for unused items.",
            "\"conditions\": \"sunny\"",
        ],
    );
}

#[test]
fn every_fixture_directory_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .expect("fixtures directory")
        .map(|entry| entry.expect("dir entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "a_rag_semconv",
            "b_otel_openai_v2_latest",
            "b_otel_openai_v2_legacy",
            "d_openinference_langchain",
            "e_traceloop",
            "f_langfuse",
        ],
        "a new fixture directory needs its own test here"
    );
}

/// The roles table (`ingest::conventions::roles`, docs/conventions.md §7) against every
/// fixture: every attribute the normalizer committed has a role, so the provenance report
/// can show it, and the keys each producer really sends have the role they carry.
#[test]
fn roles_table_covers_every_committed_fixture_attribute() {
    use traceledger::ingest::conventions::roles::{role_of, Role};
    let fixtures = [
        "a_rag_semconv",
        "b_otel_openai_v2_latest",
        "b_otel_openai_v2_legacy",
        "d_openinference_langchain",
        "e_traceloop",
        "f_langfuse",
    ];
    let mut seen = BTreeMap::new();
    for fixture in fixtures {
        let (_, spans) = normalize_fixture(fixture);
        for span in &spans {
            let Value::Object(attributes) = &span.body["attributes"] else {
                panic!("{fixture}: attributes not an object");
            };
            for (key, value) in attributes {
                let committed = value.get("sha256").is_some() && value.get("len").is_some();
                let role = role_of(key).map(|row| row.role);
                if committed {
                    assert!(
                        role.is_some(),
                        "{fixture}: committed attribute {key} has no role, so no report shows it"
                    );
                }
                if let Some(role) = role {
                    seen.insert(key.clone(), role);
                }
            }
        }
    }
    let expect = |key: &str, role: Role| {
        assert_eq!(seen.get(key), Some(&role), "{key}");
    };
    // Langfuse (f_langfuse): input / output, model, parameters, metadata.
    expect("langfuse.observation.input", Role::SpanInput);
    expect("langfuse.observation.output", Role::SpanOutput);
    expect("langfuse.observation.model.name", Role::Model);
    expect("langfuse.observation.model.parameters", Role::ModelParameters);
    expect("langfuse.observation.metadata.response_id", Role::Metadata);
    expect("langfuse.trace.metadata.pipeline", Role::Metadata);
    // GenAI semconv (a, b latest).
    expect("gen_ai.input.messages", Role::Prompt);
    expect("gen_ai.output.messages", Role::Output);
    expect("gen_ai.system_instructions", Role::SystemInstructions);
    expect("gen_ai.tool.call.arguments", Role::ToolArguments);
    expect("gen_ai.tool.call.result", Role::ToolResult);
    expect("gen_ai.retrieval.query.text", Role::RetrievalQuery);
    expect("gen_ai.request.model", Role::Model);
    expect("gen_ai.request.temperature", Role::ModelParameters);
    // OpenInference (d).
    expect("llm.input_messages.0.message.content", Role::Prompt);
    expect("llm.output_messages.0.message.content", Role::Output);
    expect("llm.invocation_parameters", Role::ModelParameters);
    expect("input.value", Role::SpanInput);
    expect("output.value", Role::SpanOutput);
    expect("retrieval.documents.0.document.content", Role::RetrievalDocuments);
    // OpenLLMetry (e).
    expect("traceloop.entity.input", Role::SpanInput);
    expect("traceloop.entity.output", Role::SpanOutput);
}
