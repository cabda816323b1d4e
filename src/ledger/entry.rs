//! Ledger entries: the JSON object, its canonical bytes and its leaf hash.
//!
//! An entry is `{"v":1,"log":ORIGIN,"index":N,"prev":HEX64,"type":T,"time":RFC3339,"body":{...}}`.
//! `entry_bytes = JCS(entry)` (RFC 8785) and `leaf_hash = SHA-256(0x00 || entry_bytes)`.
//! `prev` is the hex leaf hash of entry `index - 1`, or 64 zeros for entry 0.
//!
//! `v`, `index` (and `len` in content commitments) are JSON numbers as in the contract;
//! every OTLP 64-bit integer inside `body` (nanosecond times, token counts, int attributes)
//! is a decimal string so no verifier ever loses precision.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{hash_from_hex, hash_hex, Hash};

/// The entry format version this code writes and reads.
pub const ENTRY_VERSION: u64 = 1;

/// Errors met while decoding or checking an entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryError {
    /// The bytes are not JSON, or not an object with the required fields.
    #[error("entry is not a valid entry object: {0}")]
    Malformed(String),
    /// The bytes are valid JSON but not in RFC 8785 canonical form.
    #[error("entry bytes are not RFC 8785 canonical JSON")]
    NotCanonical,
    /// The entry's version is not one this code understands.
    #[error("unsupported entry version {0}")]
    UnsupportedVersion(u64),
}

/// The fields every entry carries; `body` is type-specific.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Format version, always 1.
    pub v: u64,
    /// The log's origin string, e.g. `traceledger.local/acme`.
    pub log: String,
    /// Position of the entry in its log, from 0.
    pub index: u64,
    /// Hex leaf hash of entry `index - 1` (64 zeros for index 0).
    pub prev: String,
    /// Entry type: `span`, `log`, `pipeline_version`, `erasure`, ...
    #[serde(rename = "type")]
    pub entry_type: String,
    /// RFC 3339 UTC time at which the entry was sequenced.
    pub time: String,
    /// Type-specific body.
    pub body: Value,
}

/// A borrowed view of an entry, serialized exactly like [`Entry`] (used when sealing,
/// so bodies are encoded without being copied).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EntryRef<'a> {
    /// Format version.
    pub v: u64,
    /// Log origin.
    pub log: &'a str,
    /// Index.
    pub index: u64,
    /// Hex leaf hash of the previous entry.
    pub prev: &'a str,
    /// Entry type.
    #[serde(rename = "type")]
    pub entry_type: &'a str,
    /// RFC 3339 time.
    pub time: &'a str,
    /// Body.
    pub body: &'a Value,
}

impl EntryRef<'_> {
    /// The canonical (RFC 8785) bytes of this entry.
    pub fn to_canonical_bytes(&self) -> Result<Vec<u8>, EntryError> {
        serde_json_canonicalizer::to_vec(self).map_err(|error| EntryError::Malformed(error.to_string()))
    }
}

impl Entry {
    /// The canonical (RFC 8785) bytes of this entry.
    pub fn to_canonical_bytes(&self) -> Result<Vec<u8>, EntryError> {
        EntryRef {
            v: self.v,
            log: &self.log,
            index: self.index,
            prev: &self.prev,
            entry_type: &self.entry_type,
            time: &self.time,
            body: &self.body,
        }
        .to_canonical_bytes()
    }

    /// Parses entry bytes, insisting that they are exactly the canonical encoding.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Entry, EntryError> {
        let entry: Entry = serde_json::from_slice(bytes).map_err(|error| EntryError::Malformed(error.to_string()))?;
        if entry.v != ENTRY_VERSION {
            return Err(EntryError::UnsupportedVersion(entry.v));
        }
        // Re-encode through a generic value so unknown extra fields also count.
        let value: Value = serde_json::from_slice(bytes).map_err(|error| EntryError::Malformed(error.to_string()))?;
        let canonical =
            serde_json_canonicalizer::to_vec(&value).map_err(|error| EntryError::Malformed(error.to_string()))?;
        if canonical != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }

    /// The `prev` field as a hash, if well-formed.
    pub fn prev_hash(&self) -> Option<Hash> {
        hash_from_hex(&self.prev)
    }
}

/// `SHA-256(0x00 || entry_bytes)`: the RFC 6962 leaf hash of an entry.
pub fn leaf_hash(entry_bytes: &[u8]) -> Hash {
    tlog_tiles::record_hash(entry_bytes)
}

/// The `prev` value for an entry that follows the entry with `previous_leaf` (None for index 0).
pub fn prev_field(previous_leaf: Option<&Hash>) -> String {
    match previous_leaf {
        Some(hash) => hash_hex(hash),
        None => hash_hex(&super::ZERO_HASH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Entry {
        Entry {
            v: 1,
            log: "traceledger.local/acme".into(),
            index: 0,
            prev: prev_field(None),
            entry_type: "span".into(),
            time: "2026-01-02T03:04:05.000000Z".into(),
            body: json!({"z": 1, "a": "é", "n": 0.8099999999999999}),
        }
    }

    #[test]
    fn canonical_bytes_sort_keys_and_round_trip() {
        let entry = sample();
        let bytes = entry.to_canonical_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(r#"{"body":{"a":"é","n":0.8099999999999999,"z":1},"index":0,"log":"#));
        assert_eq!(Entry::from_canonical_bytes(&bytes).unwrap(), entry);
    }

    #[test]
    fn non_canonical_bytes_are_rejected() {
        let bytes = br#"{"v":1,"log":"x","index":0,"prev":"00","type":"span","time":"t","body":{}}"#;
        assert_eq!(Entry::from_canonical_bytes(bytes), Err(EntryError::NotCanonical));
    }

    #[test]
    fn leaf_hash_is_sha256_of_zero_prefixed_bytes() {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update([0u8]);
        hasher.update(b"abc");
        let expected: [u8; 32] = hasher.finalize().into();
        assert_eq!(leaf_hash(b"abc").0, expected);
    }

    #[test]
    fn first_prev_is_64_zeros() {
        assert_eq!(prev_field(None), "0".repeat(64));
    }
}
