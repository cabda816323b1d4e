//! AnyValue encoding: how an OTLP attribute value appears in an entry body, and the
//! plain JSON reading of values that the conventions parse.
//!
//! This module owns the OTLP/JSON-style body encoding of an `AnyValue` (every 64-bit
//! integer a decimal string, non-finite doubles spelled as strings), the same encoding of
//! plain JSON values parsed out of string attributes, and the plain JSON view used to read
//! structured attributes (never written into a body).
//!
//! Reference: `docs/conventions.md` §2 "The entry body", "Attribute values".

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use serde_json::{json, Map, Value};

/// Deepest nesting of `AnyValue` arrays / key-value lists accepted. The protobuf and JSON
/// decoders already bound recursion; this keeps `normalize_span` safe on any `Span` value.
pub(crate) const MAX_ANY_VALUE_DEPTH: usize = 64;

/// Encodes an `AnyValue` like OTLP/JSON: `{"stringValue": s}`, `{"boolValue": b}`,
/// `{"intValue": "decimal"}`, `{"doubleValue": f}` (`"NaN"`, `"Infinity"`, `"-Infinity"`
/// as strings), `{"bytesValue": base64}`, `{"arrayValue": {"values": [...]}}`,
/// `{"kvlistValue": {"values": [{"key", "value"}]}}`, and `{}` for an empty value (and
/// for the profiling-only `stringValueStrindex`, which trace receivers must ignore).
pub fn encode_any_value(value: &AnyValue) -> Result<Value, String> {
    encode_any_value_at(Some(value), 0)
}

pub(crate) fn encode_any_value_at(value: Option<&AnyValue>, depth: usize) -> Result<Value, String> {
    if depth > MAX_ANY_VALUE_DEPTH {
        return Err(format!(
            "attribute value nested deeper than {MAX_ANY_VALUE_DEPTH} levels"
        ));
    }
    let Some(inner) = value.and_then(|any| any.value.as_ref()) else {
        return Ok(json!({}));
    };
    let encoded = match inner {
        any_value::Value::StringValue(text) => json!({ "stringValue": text }),
        any_value::Value::BoolValue(flag) => json!({ "boolValue": flag }),
        any_value::Value::IntValue(number) => json!({ "intValue": number.to_string() }),
        any_value::Value::DoubleValue(number) => json!({ "doubleValue": double_json(*number) }),
        any_value::Value::BytesValue(bytes) => {
            json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(bytes) })
        }
        any_value::Value::ArrayValue(array) => {
            let mut values = Vec::with_capacity(array.values.len());
            for element in &array.values {
                values.push(encode_any_value_at(Some(element), depth + 1)?);
            }
            json!({ "arrayValue": { "values": values } })
        }
        any_value::Value::KvlistValue(list) => {
            let mut values = Vec::with_capacity(list.values.len());
            for entry in &list.values {
                let entry_value = encode_any_value_at(entry.value.as_ref(), depth + 1)?;
                values.push(json!({ "key": entry.key, "value": entry_value }));
            }
            json!({ "kvlistValue": { "values": values } })
        }
        any_value::Value::StringValueStrindex(_) => json!({}),
    };
    Ok(encoded)
}

/// A double as JSON: a number when finite, else the OTLP/JSON string spelling.
pub(crate) fn double_json(number: f64) -> Value {
    if number.is_nan() {
        return Value::from("NaN");
    }
    if number.is_infinite() {
        return Value::from(if number > 0.0 { "Infinity" } else { "-Infinity" });
    }
    serde_json::Number::from_f64(number)
        .map(Value::Number)
        .unwrap_or_else(|| Value::from("NaN"))
}

/// Encodes a plain JSON value (from a parsed JSON string attribute) the way its OTLP
/// attribute would be encoded: integers become `intValue` decimal strings, other numbers
/// `doubleValue`. `null` gives `None`.
pub(crate) fn encode_plain_json(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Bool(flag) => Some(json!({ "boolValue": flag })),
        Value::Number(number) => {
            if number.is_i64() || number.is_u64() {
                Some(json!({ "intValue": number.to_string() }))
            } else {
                number
                    .as_f64()
                    .map(|float| json!({ "doubleValue": double_json(float) }))
            }
        }
        Value::String(text) => Some(json!({ "stringValue": text })),
        Value::Array(elements) => {
            let values: Vec<Value> = elements
                .iter()
                .map(|element| encode_plain_json(element).unwrap_or(json!({})))
                .collect();
            Some(json!({ "arrayValue": { "values": values } }))
        }
        Value::Object(object) => {
            let values: Vec<Value> = object
                .iter()
                .map(|(key, element)| json!({ "key": key, "value": encode_plain_json(element).unwrap_or(json!({})) }))
                .collect();
            Some(json!({ "kvlistValue": { "values": values } }))
        }
    }
}

/// An `AnyValue` as plain JSON (for reading structured values, never for the body):
/// strings stay strings, key-value lists become objects.
fn plain_json_of(value: Option<&AnyValue>, depth: usize) -> Value {
    if depth > MAX_ANY_VALUE_DEPTH {
        return Value::Null;
    }
    match value.and_then(|any| any.value.as_ref()) {
        None | Some(any_value::Value::StringValueStrindex(_)) => Value::Null,
        Some(any_value::Value::StringValue(text)) => Value::from(text.as_str()),
        Some(any_value::Value::BoolValue(flag)) => Value::from(*flag),
        Some(any_value::Value::IntValue(number)) => Value::from(*number),
        Some(any_value::Value::DoubleValue(number)) => serde_json::Number::from_f64(*number)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Some(any_value::Value::BytesValue(_)) => Value::Null,
        Some(any_value::Value::ArrayValue(array)) => Value::Array(
            array
                .values
                .iter()
                .map(|element| plain_json_of(Some(element), depth + 1))
                .collect(),
        ),
        Some(any_value::Value::KvlistValue(list)) => {
            let mut object = Map::new();
            for entry in &list.values {
                object.insert(entry.key.clone(), plain_json_of(entry.value.as_ref(), depth + 1));
            }
            Value::Object(object)
        }
    }
}

/// A structured attribute as JSON: a string holding JSON is parsed (instrumentations
/// send message lists as JSON strings), arrays and key-value lists are converted.
/// `None` for a string that is not JSON.
pub(crate) fn structured_json_of(value: Option<&AnyValue>) -> Option<Value> {
    match value.and_then(|any| any.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => serde_json::from_str(text).ok(),
        Some(any_value::Value::ArrayValue(_)) | Some(any_value::Value::KvlistValue(_)) => Some(plain_json_of(value, 0)),
        _ => None,
    }
}

/// Decodes the body encoding of an OTLP `AnyValue` (as [`encode_any_value`] writes it, docs/formats.md
/// §3): `{}` for no value, else exactly one of `stringValue`, `boolValue`, `intValue`
/// (decimal string), `doubleValue` (number or `"NaN"`/`"Infinity"`/`"-Infinity"`),
/// `bytesValue` (base64), `arrayValue.values`, `kvlistValue.values[{key, value}]`.
pub fn decode_any_value(encoded: &Value) -> Option<AnyValue> {
    let object = encoded.as_object()?;
    let mut members = object.iter();
    let Some((kind, inner)) = members.next() else {
        return Some(AnyValue { value: None });
    };
    if members.next().is_some() {
        return None;
    }
    let value = match kind.as_str() {
        "stringValue" => any_value::Value::StringValue(inner.as_str()?.to_owned()),
        "boolValue" => any_value::Value::BoolValue(inner.as_bool()?),
        "intValue" => any_value::Value::IntValue(inner.as_str()?.parse().ok()?),
        "doubleValue" => any_value::Value::DoubleValue(match inner {
            Value::Number(number) => number.as_f64()?,
            Value::String(text) => match text.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                _ => return None,
            },
            _ => return None,
        }),
        "bytesValue" => {
            any_value::Value::BytesValue(base64::engine::general_purpose::STANDARD.decode(inner.as_str()?).ok()?)
        }
        "arrayValue" => {
            let values = inner["values"]
                .as_array()?
                .iter()
                .map(decode_any_value)
                .collect::<Option<Vec<_>>>()?;
            any_value::Value::ArrayValue(ArrayValue { values })
        }
        "kvlistValue" => {
            let values = inner["values"]
                .as_array()?
                .iter()
                .map(|pair| {
                    Some(KeyValue {
                        key: pair["key"].as_str()?.to_owned(),
                        value: Some(decode_any_value(&pair["value"])?),
                        ..KeyValue::default()
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            any_value::Value::KvlistValue(KeyValueList { values })
        }
        _ => return None,
    };
    Some(AnyValue { value: Some(value) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::test_support::{string_attribute, string_value};
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValue, KeyValueList};

    #[test]
    fn any_value_encoding_covers_every_type() {
        let nested = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    string_attribute("s", "x"),
                    KeyValue {
                        key: "empty".into(),
                        value: None,
                        ..Default::default()
                    },
                ],
            })),
        };
        let cases = vec![
            (string_value("hi"), json!({"stringValue": "hi"})),
            (
                AnyValue {
                    value: Some(any_value::Value::BoolValue(true)),
                },
                json!({"boolValue": true}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::IntValue(i64::MIN)),
                },
                json!({"intValue": "-9223372036854775808"}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(0.25)),
                },
                json!({"doubleValue": 0.25}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(f64::NAN)),
                },
                json!({"doubleValue": "NaN"}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(f64::INFINITY)),
                },
                json!({"doubleValue": "Infinity"}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(f64::NEG_INFINITY)),
                },
                json!({"doubleValue": "-Infinity"}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::BytesValue(vec![0, 1, 2, 255])),
                },
                json!({"bytesValue": "AAEC/w=="}),
            ),
            (
                AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue {
                        values: vec![
                            string_value("a"),
                            AnyValue {
                                value: Some(any_value::Value::IntValue(3)),
                            },
                        ],
                    })),
                },
                json!({"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "3"}]}}),
            ),
            (
                nested,
                json!({"kvlistValue": {"values": [{"key": "s", "value": {"stringValue": "x"}}, {"key": "empty", "value": {}}]}}),
            ),
            (AnyValue { value: None }, json!({})),
            (
                AnyValue {
                    value: Some(any_value::Value::StringValueStrindex(4)),
                },
                json!({}),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(encode_any_value(&value).unwrap(), expected);
        }
    }
}
