//! The attribute set: the attributes of one span, resource, scope, event, link or log
//! record, resolved (duplicate keys: the last wins), encoded for the body, with every
//! content value already replaced by its commitment.
//!
//! The conventions read clear values through it ([`AttributeSet::clear_string`],
//! [`AttributeSet::clear_count`], ...) and reuse the commitments it made
//! ([`AttributeSet::commitment`]), so content is committed exactly once.
//!
//! Reference: `docs/conventions.md` §4 "Content" (what is committed, under which field).

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use serde_json::{Map, Value};

use super::anyvalue::encode_any_value_at;
use super::conventions::content_keys::{is_at_or_below, is_content_key};
use super::ContentSink;

/// Resolves duplicate keys: the last value of each key wins.
pub(crate) fn latest_values(attributes: &[KeyValue]) -> BTreeMap<&str, Option<&AnyValue>> {
    let mut latest = BTreeMap::new();
    for attribute in attributes {
        latest.insert(attribute.key.as_str(), attribute.value.as_ref());
    }
    latest
}

/// The attributes of one span, resource, scope, event or link: the resolved values and
/// their body encoding, with content already replaced by commitments.
pub(crate) struct AttributeSet<'a> {
    values: BTreeMap<&'a str, Option<&'a AnyValue>>,
    /// The body encoding of every attribute (content already replaced by commitments).
    pub(crate) encoded: Map<String, Value>,
    is_content: fn(&str) -> bool,
    /// The present keys that carry content, classified once (the rule tables are long
    /// and the summary looks keys up many times).
    content_keys: BTreeSet<&'a str>,
}

impl<'a> AttributeSet<'a> {
    /// Encodes `attributes`, committing every content value with field
    /// `<field_prefix><key>`.
    pub(crate) fn build(
        attributes: &'a [KeyValue],
        field_prefix: &str,
        is_content: fn(&str) -> bool,
        sink: &mut ContentSink,
    ) -> Result<Self, String> {
        let values = latest_values(attributes);
        let mut encoded = Map::new();
        let mut content_keys = BTreeSet::new();
        for (key, value) in &values {
            let body_value = if is_content(key) {
                content_keys.insert(*key);
                let text = content_text_of(*value, key)?;
                sink.commit(&format!("{field_prefix}{key}"), text)
            } else {
                encode_any_value_at(*value, 0).map_err(|reason| format!("attribute {key:?}: {reason}"))?
            };
            encoded.insert((*key).to_owned(), body_value);
        }
        Ok(AttributeSet {
            values,
            encoded,
            is_content,
            content_keys,
        })
    }

    pub(crate) fn empty() -> Self {
        AttributeSet {
            values: BTreeMap::new(),
            encoded: Map::new(),
            is_content: is_content_key,
            content_keys: BTreeSet::new(),
        }
    }

    pub(crate) fn value(&self, key: &str) -> Option<&'a AnyValue> {
        self.values.get(key).copied().flatten()
    }

    pub(crate) fn is_content_key(&self, key: &str) -> bool {
        if self.values.contains_key(key) {
            return self.content_keys.contains(key);
        }
        (self.is_content)(key)
    }

    /// A non-empty string value of a clear (non-content) key.
    pub(crate) fn clear_string(&self, key: &str) -> Option<&'a str> {
        if self.is_content_key(key) {
            return None;
        }
        self.raw_string(key)
    }

    /// A non-empty string value of any key (for parsing content before committing parts
    /// of it; never copied into the body).
    pub(crate) fn raw_string(&self, key: &str) -> Option<&'a str> {
        match self.value(key).and_then(|any| any.value.as_ref()) {
            Some(any_value::Value::StringValue(text)) if !text.is_empty() => Some(text.as_str()),
            _ => None,
        }
    }

    /// The body encoding of a clear key (an encoded AnyValue).
    pub(crate) fn clear_encoded(&self, key: &str) -> Option<&Value> {
        if self.is_content_key(key) || !self.values.contains_key(key) {
            return None;
        }
        self.encoded.get(key)
    }

    /// The commitment that replaced a content key in the body.
    pub(crate) fn commitment(&self, key: &str) -> Option<Value> {
        if !self.is_content_key(key) {
            return None;
        }
        self.encoded.get(key).cloned()
    }

    /// A non-negative count of a clear key: an int, an integral double or a decimal
    /// string.
    pub(crate) fn clear_count(&self, key: &str) -> Option<u64> {
        if self.is_content_key(key) {
            return None;
        }
        match self.value(key).and_then(|any| any.value.as_ref()) {
            Some(any_value::Value::IntValue(number)) => u64::try_from(*number).ok(),
            Some(any_value::Value::DoubleValue(number)) => count_of_double(*number),
            Some(any_value::Value::StringValue(text)) => text.trim().parse::<u64>().ok(),
            _ => None,
        }
    }

    /// Keys at or below `prefix`.
    pub(crate) fn keys_below(&self, prefix: &str) -> Vec<&'a str> {
        self.values
            .keys()
            .copied()
            .filter(|key| is_at_or_below(key, prefix) && *key != prefix)
            .collect()
    }
}

pub(crate) fn count_of_double(number: f64) -> Option<u64> {
    let in_range =
        number.is_finite() && number >= 0.0 && number.fract() == 0.0 && number < 18_446_744_073_709_551_616.0;
    // The range check above makes the cast exact.
    in_range.then_some(number as u64)
}

/// The text committed for a content attribute: the string itself, or the RFC 8785 JSON
/// text of the encoded value for any other type.
pub(crate) fn content_text_of(value: Option<&AnyValue>, key: &str) -> Result<String, String> {
    if let Some(any_value::Value::StringValue(text)) = value.and_then(|any| any.value.as_ref()) {
        return Ok(text.clone());
    }
    let encoded = encode_any_value_at(value, 0).map_err(|reason| format!("attribute {key:?}: {reason}"))?;
    serde_json_canonicalizer::to_string(&encoded).map_err(|error| format!("attribute {key:?}: {error}"))
}
