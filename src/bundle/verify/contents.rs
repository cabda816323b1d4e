//! Step 8: every revealed content opens its salted commitment, and some entry of the bundle
//! carries that commitment `{"len":N,"sha256":HEX}`.

use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;

use super::entries::CheckedEntry;
use super::error::VerifyError;
use super::fields::{field_error, is_lower_hex};
use crate::bundle::format::Predicate;
use crate::ledger::commitment::commitment_digest;

/// Commitment digest → (entry index, `len`) of every `{"len":N,"sha256":HEX}` object in the
/// entries' bodies.
pub(super) fn collect_commitments(entries: &[CheckedEntry]) -> HashMap<String, Vec<(u64, u64)>> {
    fn walk(value: &Value, index: u64, found: &mut HashMap<String, Vec<(u64, u64)>>) {
        match value {
            Value::Object(object) => {
                if object.len() == 2 {
                    if let (Some(Value::String(sha256)), Some(len)) =
                        (object.get("sha256"), object.get("len").and_then(Value::as_u64))
                    {
                        found.entry(sha256.clone()).or_default().push((index, len));
                        return;
                    }
                }
                for member in object.values() {
                    walk(member, index, found);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, index, found);
                }
            }
            _ => {}
        }
    }
    let mut found = HashMap::new();
    for checked in entries {
        walk(&checked.entry.body, checked.index, &mut found);
    }
    found
}

/// Checks every revealed content; returns commitment digest → content text.
pub(super) fn check_contents<'a>(
    predicate: &'a Predicate,
    commitments: &HashMap<String, Vec<(u64, u64)>>,
) -> Result<HashMap<&'a str, &'a str>, VerifyError> {
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut revealed = HashMap::with_capacity(predicate.contents.len());
    for (position, content) in predicate.contents.iter().enumerate() {
        if !is_lower_hex(&content.sha256, 64) {
            return Err(field_error(
                format!("contents[{position}].sha256"),
                "not 64 lowercase hex digits",
            ));
        }
        let salt = base64
            .decode(&content.salt)
            .map_err(|error| field_error(format!("contents[{position}].salt"), &format!("not base64: {error}")))?;
        if commitment_digest(&salt, &content.content) != content.sha256 {
            return Err(VerifyError::ContentMismatch {
                sha256: content.sha256.clone(),
            });
        }
        let length = content.content.len() as u64;
        let committed = commitments
            .get(&content.sha256)
            .is_some_and(|places| places.iter().any(|(_, len)| *len == length));
        if !committed {
            return Err(VerifyError::ContentNotCommitted {
                sha256: content.sha256.clone(),
            });
        }
        revealed.insert(content.sha256.as_str(), content.content.as_str());
    }
    Ok(revealed)
}
