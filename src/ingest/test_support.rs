//! Test helpers shared by the ingest unit tests: OTLP attribute values in one line.

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

pub(crate) fn string_value(text: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text.to_owned())),
    }
}

pub(crate) fn attribute(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(value),
        ..Default::default()
    }
}

pub(crate) fn string_attribute(key: &str, text: &str) -> KeyValue {
    attribute(key, string_value(text))
}

pub(crate) fn int_attribute(key: &str, number: i64) -> KeyValue {
    attribute(
        key,
        AnyValue {
            value: Some(any_value::Value::IntValue(number)),
        },
    )
}
