//! The wire walk's memory estimate (what a request reserves in the ingest memory budget
//! before it is decoded) covers what decoding, normalizing and sealing the request
//! really allocate — for real instrumentation payloads and for adversarial shapes that
//! expand a lot (empty nested messages, one resource shared by many spans, strings that
//! JSON escapes six-fold). Heap use is measured with dhat at each stage of the pipeline.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use traceledger::ingest::otlp::Encoding;
use traceledger::ingest::wire::{self, Signal, WalkLimits};
use traceledger::ingest::IngestLimits;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn text(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

fn span(i: usize, attributes: Vec<KeyValue>) -> Span {
    let mut span_id = [0u8; 8];
    span_id[..4].copy_from_slice(&(i as u32 + 1).to_be_bytes());
    Span {
        trace_id: vec![7; 16],
        span_id: span_id.to_vec(),
        name: format!("chat {i}"),
        kind: 3,
        start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
        end_time_unix_nano: 1_700_000_000_100_000_000 + i as u64,
        attributes,
        ..Default::default()
    }
}

fn request(resource: Option<Resource>, spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource,
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn cases() -> Vec<(String, Vec<u8>)> {
    let mut cases = Vec::new();
    let fixtures = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"));
    let mut directories: Vec<_> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    directories.sort();
    for directory in directories {
        let file = directory.join("1.pb");
        if let Ok(bytes) = std::fs::read(&file) {
            if ExportTraceServiceRequest::decode(bytes.as_slice()).is_ok() {
                cases.push((file.display().to_string(), bytes));
            }
        }
    }
    let prompt = "Summarize the attached quarterly report for the board. ".repeat(70);
    cases.push((
        "400 generation spans with 4 KB prompts".into(),
        request(
            None,
            (0..400)
                .map(|i| {
                    span(
                        i,
                        vec![
                            text("gen_ai.operation.name", "chat".into()),
                            text("gen_ai.request.model", "gpt-4o-mini".into()),
                            text(
                                "gen_ai.input.messages",
                                format!("[{{\"role\":\"user\",\"parts\":[{{\"type\":\"text\",\"content\":\"{prompt}\"}}]}}]"),
                            ),
                        ],
                    )
                })
                .collect(),
        ),
    ));
    cases.push(("200k empty ResourceSpans".into(), [0x0a, 0x00].repeat(200_000)));
    cases.push((
        "5k spans without attributes".into(),
        request(None, (0..5_000).map(|i| span(i, Vec::new())).collect()),
    ));
    cases.push((
        "one span, 100k empty array values".into(),
        request(
            None,
            vec![span(
                0,
                vec![KeyValue {
                    key: "app.list".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                            values: vec![AnyValue::default(); 100_000],
                        })),
                    }),
                    ..Default::default()
                }],
            )],
        ),
    ));
    cases.push((
        "one span, 20k one-byte attributes".into(),
        request(
            None,
            vec![span(
                0,
                (0..20_000).map(|i| text(&format!("k{i}"), "v".into())).collect(),
            )],
        ),
    ));
    cases.push((
        "a 50 KB resource shared by 200 spans".into(),
        request(
            Some(Resource {
                attributes: vec![text("service.name", "s".repeat(50_000))],
                ..Default::default()
            }),
            (0..200).map(|i| span(i, Vec::new())).collect(),
        ),
    ));
    cases.push((
        "500 KB of control characters".into(),
        request(None, vec![span(0, vec![text("app.blob", "\u{1}".repeat(500_000))])]),
    ));
    cases
}

/// Heap bytes held at each stage, above what was held before decoding; the largest.
fn measured_peak(body: &[u8]) -> usize {
    let base = dhat::HeapStats::get().curr_bytes;
    let mut peak = 0;
    let mut note = || peak = peak.max(dhat::HeapStats::get().curr_bytes.saturating_sub(base));
    let request = ExportTraceServiceRequest::decode(body).expect("decodes");
    note();
    let (accepted, rejected) = traceledger::ingest::prepare_spans_with(&request, &IngestLimits::default());
    note();
    drop(request);
    let tenant = traceledger::store::Tenant {
        id: 1,
        name: traceledger::domain::TenantName::parse("default").unwrap(),
        origin: "traceledger.local/default".into(),
        lookup_secret: vec![9; 32],
    };
    let linker = traceledger::provenance::governance::Linker::new(Vec::new(), Vec::new());
    let items: Vec<_> = accepted
        .into_iter()
        .map(|span| traceledger::intake::service::span_append_item(&tenant, span, &linker))
        .collect();
    note();
    let sealed = traceledger::ledger::batch::seal_batch(
        &tenant.origin,
        traceledger::ledger::batch::LogHead {
            size: 0,
            last_leaf: None,
        },
        "2026-01-01T00:00:00Z",
        items.iter().map(|item| &item.entry),
        &HashMap::new(),
    )
    .expect("seals");
    note();
    drop((sealed, items, rejected));
    peak
}

#[test]
fn the_estimate_covers_decode_normalize_and_seal() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let unlimited = WalkLimits {
        max_items: usize::MAX,
        max_decoded_bytes: usize::MAX,
    };
    let mut report = Vec::new();
    for (name, body) in cases() {
        let summary = wire::walk(Signal::Traces, &body, Encoding::Protobuf, unlimited).expect("walks");
        // The walk counts exactly the spans the decoder finds, in both encodings.
        let decoded = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        assert_eq!(summary.items, traceledger::ingest::count_spans(&decoded), "{name}");
        let json = serde_json::to_vec(&decoded).expect("json");
        let from_json = wire::walk(Signal::Traces, &json, Encoding::Json, unlimited).expect("walks json");
        assert_eq!(from_json.items, summary.items, "{name}");
        drop((decoded, json));
        let estimate = summary.estimated_memory();
        let measured = measured_peak(&body);
        report.push(format!(
            "{}{name}: {} bytes on the wire, {} spans, measured {measured}, estimated {estimate} ({:.1}x)",
            if estimate >= measured { "" } else { "UNDER " },
            body.len(),
            summary.items,
            estimate as f64 / measured.max(1) as f64
        ));
    }
    println!("{}", report.join("\n"));
    assert!(!report.iter().any(|line| line.starts_with("UNDER")), "{report:#?}");
}
