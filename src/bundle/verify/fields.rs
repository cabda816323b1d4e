//! Validation of the plain fields a bundle carries: lowercase hex ids and hashes, and the
//! `FieldMalformed` error that names where a field does not decode.

use super::error::VerifyError;
use crate::ledger::Hash;

/// The hashes of a proof, each checked by [`parse_hash`]; `field` names the list in errors.
pub(super) fn parse_hashes(texts: &[String], field: &str) -> Result<Vec<Hash>, VerifyError> {
    texts
        .iter()
        .enumerate()
        .map(|(position, text)| {
            parse_hash(text).ok_or_else(|| field_error(format!("{field}[{position}]"), "not 64 lowercase hex digits"))
        })
        .collect()
}

/// A hash from exactly 64 lowercase hex digits (the form the proof endpoints write).
pub(super) fn parse_hash(text: &str) -> Option<Hash> {
    if !is_lower_hex(text, 64) {
        return None;
    }
    crate::ledger::hash_from_hex(text)
}

/// Whether `text` is exactly `length` lowercase hex digits.
pub(super) fn is_lower_hex(text: &str, length: usize) -> bool {
    text.len() == length && text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

/// A [`VerifyError::FieldMalformed`] naming the field and what is wrong with it.
pub(super) fn field_error(field: String, reason: &str) -> VerifyError {
    VerifyError::FieldMalformed {
        field,
        reason: reason.to_owned(),
    }
}
