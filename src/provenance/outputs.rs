//! Re-deriving the `output_index` rows of an entry from the entry and its stored content.
//!
//! At ingest the normalizer finds a span's output texts in its attributes as sent, and
//! the index holds their keyed digests ([`crate::provenance::lookup::output_index_digests`]). The entry keeps
//! only commitments in place of content attributes, so to re-derive the outputs the
//! attributes are rebuilt: clear values are decoded from their body encoding (OTLP/JSON
//! `AnyValue`), and each committed value is replaced by its stored content. Then the same
//! code as at ingest ([`crate::ingest::conventions::outputs::span_outputs`]) finds the outputs.
//!
//! One ambiguity remains: a committed value is stored as its text when it was a string,
//! and as the RFC 8785 JSON of its encoding otherwise, so a stored text that is exactly
//! such a JSON (`{}`, `{"arrayValue":…}`, …) may have been either. Both readings are
//! tried (every combination for up to [`MAX_AMBIGUOUS`] such values, else all-one-way
//! and all-the-other), and the stored rows must equal what one of them gives. Both
//! readings come from the committed content, so nothing an operator writes is trusted.

use std::collections::{BTreeSet, HashMap};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use serde_json::Value;

use crate::ingest::anyvalue::decode_any_value;

/// Most ambiguous content values whose readings are combined exhaustively.
pub const MAX_AMBIGUOUS: usize = 8;

/// What the `output_index` rows of one entry may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedOutputs {
    /// The entry type has no outputs: no rows.
    None,
    /// The rows must be exactly one of these digest sets (one per reading; usually one).
    OneOf(Vec<BTreeSet<[u8; 32]>>),
    /// The outputs cannot be re-derived (content erased or unreadable): not checked.
    Unknown(String),
}

impl ExpectedOutputs {
    /// Whether `digests` is a possible row set.
    pub fn allows(&self, digests: &BTreeSet<[u8; 32]>) -> bool {
        match self {
            ExpectedOutputs::None => digests.is_empty(),
            ExpectedOutputs::OneOf(sets) => sets.iter().any(|set| set == digests),
            ExpectedOutputs::Unknown(_) => true,
        }
    }
}

/// The `output_index` digests an entry of type `entry_type` with `body` must have, given
/// `contents` (commitment digest -> stored text that opened it) and the tenant's lookup
/// secret.
pub fn expected_output_digests(
    entry_type: &str,
    body: &Value,
    contents: &HashMap<String, String>,
    secret: &[u8],
) -> ExpectedOutputs {
    let result = match entry_type {
        "span" => span_digest_sets(body, contents, secret),
        "log" => log_digest_sets(body, contents, secret),
        _ => return ExpectedOutputs::None,
    };
    match result {
        Ok(sets) => ExpectedOutputs::OneOf(sets),
        Err(reason) => ExpectedOutputs::Unknown(reason),
    }
}

/// One attribute value as rebuilt: fixed, or one of two readings of a stored text.
enum Reading {
    Fixed(Option<AnyValue>),
    Either { text: AnyValue, structured: AnyValue },
}

type Rebuilt = Vec<(String, Reading)>;

fn span_digest_sets(
    body: &Value,
    contents: &HashMap<String, String>,
    secret: &[u8],
) -> Result<Vec<BTreeSet<[u8; 32]>>, String> {
    let attributes = rebuild_attributes(&body["attributes"], contents)?;
    let mut events = Vec::new();
    if let Some(list) = body["events"].as_array() {
        for event in list {
            let name = event["name"].as_str().unwrap_or_default().to_owned();
            events.push((name, rebuild_attributes(&event["attributes"], contents)?));
        }
    }
    let is_root = body.get("parent_span_id").is_none();
    let ambiguous = count_ambiguous(&attributes) + events.iter().map(|(_, set)| count_ambiguous(set)).sum::<usize>();
    digest_sets(ambiguous, |mask| {
        let mut bit = 0;
        let span_attributes = materialize(&attributes, mask, &mut bit);
        let span_events: Vec<(String, Vec<KeyValue>)> = events
            .iter()
            .map(|(name, set)| (name.clone(), materialize(set, mask, &mut bit)))
            .collect();
        crate::ingest::conventions::outputs::span_outputs(&span_attributes, &span_events, is_root)
    })
    .map(|readings| digest_sets_of(readings, secret, super::lookup::legacy_span_output_digests))
}

fn log_digest_sets(
    body: &Value,
    contents: &HashMap<String, String>,
    secret: &[u8],
) -> Result<Vec<BTreeSet<[u8; 32]>>, String> {
    let attributes = rebuild_attributes(&body["attributes"], contents)?;
    digest_sets(count_ambiguous(&attributes), |mask| {
        let mut bit = 0;
        let rebuilt = materialize(&attributes, mask, &mut bit);
        crate::ingest::logs::log_outputs(&rebuilt)
    })
    .map(|readings| digest_sets_of(readings, secret, super::lookup::legacy_log_output_digests))
}

/// The possible row sets for the possible output lists: the rows ingest writes today
/// ([`crate::provenance::lookup::output_index_digests`]: exact and normalized digests),
/// or the rows versions before the normalized digest wrote (`legacy`), so a store
/// indexed by an older version still passes.
fn digest_sets_of(
    readings: Vec<Vec<String>>,
    secret: &[u8],
    legacy: fn(&[u8], &[String]) -> Vec<[u8; 32]>,
) -> Vec<BTreeSet<[u8; 32]>> {
    let mut sets: Vec<BTreeSet<[u8; 32]>> = Vec::new();
    for outputs in &readings {
        for digests in [
            crate::provenance::lookup::output_index_digests(secret, outputs),
            legacy(secret, outputs),
        ] {
            let set: BTreeSet<[u8; 32]> = digests.into_iter().collect();
            if !sets.contains(&set) {
                sets.push(set);
            }
        }
    }
    sets
}

/// Runs `derive` for every reading (bit set: structured) and collects the distinct
/// output lists.
fn digest_sets(
    ambiguous: usize,
    derive: impl Fn(u64) -> Result<Vec<String>, String>,
) -> Result<Vec<Vec<String>>, String> {
    let masks: Vec<u64> = if ambiguous == 0 {
        vec![0]
    } else if ambiguous <= MAX_AMBIGUOUS {
        (0..1u64 << ambiguous).rev().collect()
    } else {
        vec![u64::MAX, 0]
    };
    let mut sets: Vec<Vec<String>> = Vec::new();
    let mut last_error = None;
    for mask in masks {
        match derive(mask) {
            Ok(outputs) => {
                if !sets.contains(&outputs) {
                    sets.push(outputs);
                }
            }
            Err(error) => last_error = Some(error),
        }
    }
    if sets.is_empty() {
        return Err(last_error.unwrap_or_else(|| "no reading of the attributes".into()));
    }
    Ok(sets)
}

fn count_ambiguous(attributes: &Rebuilt) -> usize {
    attributes
        .iter()
        .filter(|(_, reading)| matches!(reading, Reading::Either { .. }))
        .count()
}

/// The attributes of one reading: the `bit`-th ambiguous value (counted across calls)
/// is structured when that bit of `mask` is set (bits beyond 63: as bit 63).
fn materialize(attributes: &Rebuilt, mask: u64, bit: &mut u32) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|(key, reading)| {
            let value = match reading {
                Reading::Fixed(value) => value.clone(),
                Reading::Either { text, structured } => {
                    let structured_wanted = mask & (1u64 << (*bit).min(63)) != 0;
                    *bit += 1;
                    Some(if structured_wanted {
                        structured.clone()
                    } else {
                        text.clone()
                    })
                }
            };
            KeyValue {
                key: key.clone(),
                value,
                ..KeyValue::default()
            }
        })
        .collect()
}

/// Rebuilds the attributes of a body object: clear values decoded, committed values
/// replaced by their stored text. Erased content makes the outputs unknowable.
fn rebuild_attributes(object: &Value, contents: &HashMap<String, String>) -> Result<Rebuilt, String> {
    let Some(map) = object.as_object() else {
        return Ok(Vec::new());
    };
    let mut rebuilt = Vec::with_capacity(map.len());
    for (key, encoded) in map {
        let reading = match commitment_of(encoded) {
            Some(digest) => {
                let text = contents
                    .get(digest)
                    .ok_or_else(|| format!("the content of attribute {key:?} is erased or missing"))?;
                let as_text = AnyValue {
                    value: Some(any_value::Value::StringValue(text.clone())),
                };
                match structured_reading(text) {
                    Some(structured) => Reading::Either {
                        text: as_text,
                        structured,
                    },
                    None => Reading::Fixed(Some(as_text)),
                }
            }
            None => Reading::Fixed(Some(
                decode_any_value(encoded).ok_or_else(|| format!("attribute {key:?} is not an encoded value"))?,
            )),
        };
        rebuilt.push((key.clone(), reading));
    }
    Ok(rebuilt)
}

/// The digest of a `{"sha256": HEX, "len": N}` commitment.
fn commitment_of(value: &Value) -> Option<&str> {
    let object = value.as_object()?;
    if object.len() != 2 || !object.get("len").is_some_and(Value::is_u64) {
        return None;
    }
    object.get("sha256")?.as_str()
}

/// The non-string value a committed text is the RFC 8785 encoding of, if it is one.
fn structured_reading(text: &str) -> Option<AnyValue> {
    if !text.starts_with('{') {
        return None;
    }
    let parsed: Value = serde_json::from_str(text).ok()?;
    let decoded = decode_any_value(&parsed)?;
    if matches!(decoded.value, Some(any_value::Value::StringValue(_))) {
        return None;
    }
    (serde_json_canonicalizer::to_string(&parsed).ok()? == text).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::anyvalue::encode_any_value;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn string(text: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(text.into())),
        }
    }

    #[test]
    fn decoding_inverts_the_body_encoding() {
        let values = vec![
            string("x"),
            AnyValue {
                value: Some(any_value::Value::IntValue(-9_007_199_254_740_993)),
            },
            AnyValue {
                value: Some(any_value::Value::DoubleValue(0.25)),
            },
            AnyValue {
                value: Some(any_value::Value::BoolValue(true)),
            },
            AnyValue {
                value: Some(any_value::Value::BytesValue(vec![0, 1, 255])),
            },
            AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![string("a"), string("b")],
                })),
            },
            AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: Some(string("v")),
                        ..KeyValue::default()
                    }],
                })),
            },
        ];
        for value in values {
            let encoded = encode_any_value(&value).unwrap();
            assert_eq!(decode_any_value(&encoded), Some(value), "{encoded}");
        }
        assert_eq!(decode_any_value(&serde_json::json!({})), Some(AnyValue { value: None }));
        assert_eq!(
            decode_any_value(&serde_json::json!({"stringValue": "a", "boolValue": true})),
            None
        );
    }

    #[test]
    fn a_text_that_looks_encoded_has_two_readings() {
        assert!(structured_reading("{}").is_some());
        assert!(structured_reading(r#"{"arrayValue":{"values":[{"stringValue":"a"}]}}"#).is_some());
        // Not canonical, a string encoding, or plain text: only the text reading.
        assert!(structured_reading(r#"{ "arrayValue":{"values":[]}}"#).is_none());
        assert!(structured_reading(r#"{"stringValue":"a"}"#).is_none());
        assert!(structured_reading("Yes.").is_none());
    }

    fn output_messages(text: &str) -> serde_json::Value {
        serde_json::json!([{"role": "assistant", "parts": [{"type": "text", "content": text}]}])
    }

    #[test]
    fn span_outputs_come_back_from_committed_content() {
        let secret = [7u8; 32];
        let messages = output_messages("Yes, within 30 days.").to_string();
        let mut contents = HashMap::new();
        contents.insert("c".repeat(64), messages);
        let body = serde_json::json!({
            "attributes": {
                "gen_ai.operation.name": {"stringValue": "chat"},
                "gen_ai.output.messages": {"sha256": "c".repeat(64), "len": 10},
            },
        });
        let expected = expected_output_digests("span", &body, &contents, &secret);
        let legacy: BTreeSet<[u8; 32]> =
            [crate::provenance::lookup::exact_digest(&secret, "Yes, within 30 days.")].into();
        let want: BTreeSet<[u8; 32]> = [
            crate::provenance::lookup::exact_digest(&secret, "Yes, within 30 days."),
            crate::provenance::lookup::normalized_digest(&secret, "Yes, within 30 days."),
        ]
        .into();
        // What ingest writes now, or what versions before the normalized digest wrote.
        assert_eq!(expected, ExpectedOutputs::OneOf(vec![want.clone(), legacy.clone()]));
        assert!(expected.allows(&want));
        assert!(expected.allows(&legacy));
        assert!(
            !expected.allows(
                &[crate::provenance::lookup::normalized_digest(
                    &secret,
                    "Yes, within 30 days."
                )]
                .into()
            ),
            "a deleted exact row is caught"
        );
        assert!(!expected.allows(&BTreeSet::new()), "a deleted row is caught");
        assert!(matches!(
            expected_output_digests("span", &body, &HashMap::new(), &secret),
            ExpectedOutputs::Unknown(_)
        ));
        assert_eq!(
            expected_output_digests("pipeline_version", &body, &contents, &secret),
            ExpectedOutputs::None
        );
    }

    #[test]
    fn ambiguous_texts_allow_either_reading() {
        // A root span whose output.value was the string "{}": as text it is the output
        // "{}", as an empty value it is none.
        let secret = [1u8; 32];
        let mut contents = HashMap::new();
        contents.insert("d".repeat(64), "{}".to_owned());
        let body = serde_json::json!({"attributes": {"output.value": {"sha256": "d".repeat(64), "len": 2}}});
        let expected = expected_output_digests("span", &body, &contents, &secret);
        assert!(expected.allows(&[crate::provenance::lookup::exact_digest(&secret, "{}")].into()));
        assert!(expected.allows(&BTreeSet::new()));
    }
}
