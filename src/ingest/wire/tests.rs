use std::mem::size_of;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::*;

const UNLIMITED: WalkLimits = WalkLimits {
    max_items: usize::MAX,
    max_decoded_bytes: usize::MAX,
};

fn request(spans_per_scope: usize, resource_attribute: usize) -> ExportTraceServiceRequest {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let attribute = |key: &str, size: usize| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue("v".repeat(size))),
        }),
        ..Default::default()
    };
    let spans = (0..spans_per_scope)
        .map(|i| Span {
            trace_id: vec![1; 16],
            span_id: vec![i as u8 + 1; 8],
            name: "span".into(),
            start_time_unix_nano: 1,
            attributes: vec![attribute("a", 100)],
            ..Default::default()
        })
        .collect::<Vec<_>>();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attribute("service.name", resource_attribute)],
                ..Default::default()
            }),
            scope_spans: vec![
                ScopeSpans {
                    spans: spans.clone(),
                    ..Default::default()
                },
                ScopeSpans {
                    spans,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
    }
}

#[test]
fn counts_spans_in_both_encodings() {
    let message = request(3, 10);
    let protobuf = walk(Signal::Traces, &message.encode_to_vec(), Encoding::Protobuf, UNLIMITED).unwrap();
    assert_eq!(protobuf.items, 6);
    let json = serde_json::to_vec(&message).unwrap();
    let from_json = walk(Signal::Traces, &json, Encoding::Json, UNLIMITED).unwrap();
    assert_eq!(from_json.items, 6);
    assert!(from_json.decoded_bytes >= protobuf.decoded_bytes);
    assert_eq!(
        walk(Signal::Traces, b"", Encoding::Protobuf, UNLIMITED).unwrap().items,
        0
    );
    assert_eq!(walk(Signal::Traces, b"{}", Encoding::Json, UNLIMITED).unwrap().items, 0);
}

#[test]
fn stops_at_the_first_item_over_the_limit() {
    let mut bytes = request(3, 10).encode_to_vec();
    bytes.extend_from_slice(&[0xff, 0xff, 0xff]);
    let limits = WalkLimits {
        max_items: 5,
        max_decoded_bytes: usize::MAX,
    };
    assert_eq!(
        walk(Signal::Traces, &bytes, Encoding::Protobuf, limits),
        Err(WireError::TooManyItems {
            at_least: 6,
            limit: 5,
            what: "spans"
        })
    );
    let json = serde_json::to_vec(&request(3, 10)).unwrap();
    assert!(matches!(
        walk(Signal::Traces, &json, Encoding::Json, limits),
        Err(WireError::TooManyItems { at_least: 6, .. })
    ));
}

#[test]
fn inherited_resources_count_once_per_span() {
    let small = walk(
        Signal::Traces,
        &request(50, 10).encode_to_vec(),
        Encoding::Protobuf,
        UNLIMITED,
    )
    .unwrap();
    let large = walk(
        Signal::Traces,
        &request(50, 100_000).encode_to_vec(),
        Encoding::Protobuf,
        UNLIMITED,
    )
    .unwrap();
    let extra = large.normalized_data_bytes - small.normalized_data_bytes;
    assert!(extra >= 100 * (100_000 - 10), "{extra}");
}

#[test]
fn empty_messages_are_charged_their_struct_size() {
    let bytes = [0x0a, 0x00].repeat(1000);
    let summary = walk(Signal::Traces, &bytes, Encoding::Protobuf, UNLIMITED).unwrap();
    assert!(
        summary.decoded_bytes >= 1000 * size_of::<ResourceSpans>(),
        "{summary:?}"
    );
    let limits = WalkLimits {
        max_items: usize::MAX,
        max_decoded_bytes: 10_000,
    };
    assert!(matches!(
        walk(Signal::Traces, &bytes, Encoding::Protobuf, limits),
        Err(WireError::TooLarge { .. })
    ));
    let json = format!("{{\"resourceSpans\":[{}{{}}]}}", "{},".repeat(999));
    let summary = walk(Signal::Traces, json.as_bytes(), Encoding::Json, UNLIMITED).unwrap();
    assert!(
        summary.decoded_bytes >= 1000 * size_of::<ResourceSpans>(),
        "{summary:?}"
    );
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    for bytes in [
        &[0xff][..],
        &[0x0a, 0x05, 0x00],
        &[0x00],
        &[0x0b],
        &[0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
    ] {
        assert!(matches!(
            walk(Signal::Traces, bytes, Encoding::Protobuf, UNLIMITED),
            Err(WireError::Malformed(_))
        ));
    }
    assert!(matches!(
        walk(Signal::Logs, b"{\"resourceLogs\": 3}", Encoding::Json, UNLIMITED),
        Err(WireError::Malformed(_))
    ));
    assert!(matches!(
        walk(Signal::Logs, b"{} trailing", Encoding::Json, UNLIMITED),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn nesting_deeper_than_the_decoder_allows_is_refused() {
    // ResourceSpans > Resource > KeyValue > AnyValue > (ArrayValue > AnyValue)*
    let mut value = Vec::new();
    for _ in 0..120 {
        let mut array = vec![0x0a];
        array.extend(encode_len(value.len()));
        array.extend(&value);
        let mut any = vec![0x2a];
        any.extend(encode_len(array.len()));
        any.extend(array);
        value = any;
    }
    let mut key_value = vec![0x12];
    key_value.extend(encode_len(value.len()));
    key_value.extend(value);
    let mut resource = vec![0x0a];
    resource.extend(encode_len(key_value.len()));
    resource.extend(key_value);
    let mut resource_spans = vec![0x0a];
    resource_spans.extend(encode_len(resource.len()));
    resource_spans.extend(resource);
    let mut request = vec![0x0a];
    request.extend(encode_len(resource_spans.len()));
    request.extend(resource_spans);
    assert!(ExportTraceServiceRequest::decode(request.as_slice()).is_err());
    assert!(matches!(
        walk(Signal::Traces, &request, Encoding::Protobuf, UNLIMITED),
        Err(WireError::Malformed(message)) if message.contains("recursion")
    ));
}

fn encode_len(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_varint(len as u64, &mut out);
    out
}

#[test]
fn logs_count_records() {
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let message = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); 4],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let summary = walk(Signal::Logs, &message.encode_to_vec(), Encoding::Protobuf, UNLIMITED).unwrap();
    assert_eq!(summary.items, 4);
    let json = serde_json::to_vec(&message).unwrap();
    assert_eq!(walk(Signal::Logs, &json, Encoding::Json, UNLIMITED).unwrap().items, 4);
}
