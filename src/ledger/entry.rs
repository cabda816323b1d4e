//! Ledger entries: the JSON object, its canonical bytes and its leaf hash.
//!
//! An entry is `{"v":1,"log":ORIGIN,"index":N,"prev":HEX64,"type":T,"time":RFC3339,"body":{...}}`.
//! `entry_bytes = JCS(entry)` (RFC 8785) and `leaf_hash = SHA-256(0x00 || entry_bytes)`.
//! `prev` is the hex leaf hash of entry `index - 1`, or 64 zeros for entry 0.
//!
//! `v`, `index` (and `len` in content commitments) are JSON numbers as in the contract;
//! every OTLP 64-bit integer inside `body` (nanosecond times, token counts, int attributes)
//! is a decimal string so no verifier ever loses precision.
//!
//! # Nesting
//!
//! Common JSON parsers refuse deep nesting (serde_json stops at 128 levels), so an entry
//! they cannot parse would make the log unverifiable for everyone. Writers therefore
//! refuse any entry nested deeper than [`MAX_ENTRY_DEPTH`] levels (the entry object itself
//! is level 1) and check before commit that the sealed bytes parse back
//! ([`check_sealed_bytes`]). Readers are more lenient than writers: [`parse_entry_value`]
//! and [`Entry::from_canonical_bytes`] accept up to [`MAX_READ_DEPTH`] levels, on a grown
//! stack, so entries written before the limit existed stay readable.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{hash_from_hex, hash_hex, Hash};

/// The entry format version this code writes and reads.
pub const ENTRY_VERSION: u64 = 1;

/// Deepest nesting of an entry that writers accept, counting the entry object as level 1
/// (so a body may nest `MAX_ENTRY_DEPTH - 1` levels). Far below the 128 levels of
/// serde_json's default limit and the limits of other common parsers, so every outside
/// verifier can parse every entry.
pub const MAX_ENTRY_DEPTH: usize = 64;

/// Deepest nesting readers accept. Entries written before [`MAX_ENTRY_DEPTH`] was enforced
/// nest at most about 270 levels (64 levels of OTLP `kvlistValue`, four JSON levels each).
pub const MAX_READ_DEPTH: usize = 512;

/// Nesting up to which parsing runs on the caller's stack with serde_json's own limit.
const SHALLOW_DEPTH: usize = 100;

/// Stack given to the parsing and re-encoding of a deeper entry.
const DEEP_STACK_BYTES: usize = 32 * 1024 * 1024;

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
    /// The entry nests deeper than the limit.
    #[error("entry is nested {depth} levels deep, above the limit of {limit}")]
    TooDeep {
        /// Nesting depth of the entry (the entry object is level 1).
        depth: usize,
        /// The limit that applies.
        limit: usize,
    },
}

/// A ledger entry: `entry_bytes` are its RFC 8785 (JCS) form; the leaf hash is
/// `SHA-256(0x00 || entry_bytes)`.
// With the `server` feature, also the `LedgerEntry` schema of the OpenAPI document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema), schema(as = LedgerEntry))]
pub struct Entry {
    /// Format version, always 1.
    pub v: u64,
    /// The log's origin, e.g. `traceledger.local/default`.
    pub log: String,
    /// Position in the log, from 0.
    pub index: u64,
    /// Hex leaf hash of entry `index - 1` (64 zeros for index 0): the hash chain.
    pub prev: String,
    /// Entry type: `span`, `log`, `pipeline_version`, `proof_bundle`, `deployment`, `ci_key`, ...
    #[serde(rename = "type")]
    pub entry_type: String,
    /// RFC 3339 UTC time at which the entry was sequenced.
    pub time: String,
    /// Type-specific body; 64-bit integers are decimal strings, content fields are
    /// commitments `{"sha256": "<hex>", "len": <bytes>}`.
    #[cfg_attr(feature = "server", schema(value_type = Object))]
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
    /// Accepts nesting up to [`MAX_READ_DEPTH`].
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Entry, EntryError> {
        with_stack_for(bytes, || {
            // Re-encode through a generic value so unknown extra fields also count.
            let value: Value = parse_unbounded(bytes)?;
            let canonical =
                serde_json_canonicalizer::to_vec(&value).map_err(|error| EntryError::Malformed(error.to_string()))?;
            if canonical != bytes {
                return Err(EntryError::NotCanonical);
            }
            let entry: Entry =
                serde_json::from_value(value).map_err(|error| EntryError::Malformed(error.to_string()))?;
            if entry.v != ENTRY_VERSION {
                return Err(EntryError::UnsupportedVersion(entry.v));
            }
            Ok(entry)
        })
    }

    /// The `prev` field as a hash, if well-formed.
    pub fn prev_hash(&self) -> Option<Hash> {
        hash_from_hex(&self.prev)
    }
}

/// Parses stored entry bytes (or any JSON written by the ledger) into a generic value,
/// accepting nesting up to [`MAX_READ_DEPTH`]. Readers use this instead of
/// `serde_json::from_slice`, whose 128-level limit an old entry may exceed.
pub fn parse_entry_value(bytes: &[u8]) -> Result<Value, EntryError> {
    with_stack_for(bytes, || parse_unbounded(bytes))
}

/// The nesting depth of `value`: 0 for a scalar, 1 for a flat array or object.
/// Iterative, so it cannot overflow the stack whatever the input.
pub fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((current, depth)) = pending.pop() {
        match current {
            Value::Array(items) => {
                deepest = deepest.max(depth + 1);
                pending.extend(items.iter().map(|item| (item, depth + 1)));
            }
            Value::Object(object) => {
                deepest = deepest.max(depth + 1);
                pending.extend(object.values().map(|item| (item, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// Refuses a body that would make an entry deeper than [`MAX_ENTRY_DEPTH`]: writers call
/// it before an entry is queued, so one request cannot poison the log for every reader.
///
/// ```
/// use serde_json::json;
/// use traceledger::ledger::entry::{check_body_depth, EntryError, MAX_ENTRY_DEPTH};
///
/// let mut body = json!("leaf");
/// for _ in 0..MAX_ENTRY_DEPTH - 1 {
///     body = json!([body]);
/// }
/// assert!(check_body_depth(&body).is_ok()); // the entry object makes it 64 levels
/// let deeper = json!([body]);
/// assert!(matches!(check_body_depth(&deeper), Err(EntryError::TooDeep { depth: 65, .. })));
/// ```
pub fn check_body_depth(body: &Value) -> Result<(), EntryError> {
    let depth = json_depth(body) + 1;
    if depth > MAX_ENTRY_DEPTH {
        return Err(EntryError::TooDeep {
            depth,
            limit: MAX_ENTRY_DEPTH,
        });
    }
    Ok(())
}

/// The last check before sealed bytes are committed: they nest no deeper than
/// [`MAX_ENTRY_DEPTH`] and parse back with a stock parser at its default limits.
pub fn check_sealed_bytes(bytes: &[u8]) -> Result<(), EntryError> {
    let depth = bytes_depth(bytes);
    if depth > MAX_ENTRY_DEPTH {
        return Err(EntryError::TooDeep {
            depth,
            limit: MAX_ENTRY_DEPTH,
        });
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|error| EntryError::Malformed(error.to_string()))
}

/// The nesting depth of JSON text, by a scan that skips strings (no parsing, no
/// allocation). Exact for valid JSON; only a bound for anything else.
fn bytes_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in bytes {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Runs `parse` on the caller's stack for ordinary entries, on a grown stack for deep
/// ones, and refuses entries deeper than [`MAX_READ_DEPTH`] without parsing them.
fn with_stack_for<T>(bytes: &[u8], parse: impl FnOnce() -> Result<T, EntryError>) -> Result<T, EntryError> {
    let depth = bytes_depth(bytes);
    if depth <= SHALLOW_DEPTH {
        return parse();
    }
    if depth > MAX_READ_DEPTH {
        return Err(EntryError::TooDeep {
            depth,
            limit: MAX_READ_DEPTH,
        });
    }
    stacker::grow(DEEP_STACK_BYTES, parse)
}

/// serde_json without its recursion limit; only called once the depth is known to be
/// bounded by [`MAX_READ_DEPTH`] (and on a grown stack when deep).
fn parse_unbounded<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, EntryError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    let value = T::deserialize(&mut deserializer).map_err(|error| EntryError::Malformed(error.to_string()))?;
    deserializer
        .end()
        .map_err(|error| EntryError::Malformed(error.to_string()))?;
    Ok(value)
}

/// `SHA-256(0x00 || entry_bytes)`: the RFC 6962 leaf hash of an entry.
///
/// ```
/// use sha2::{Digest, Sha256};
/// use traceledger::ledger::entry::leaf_hash;
///
/// let bytes = br#"{"body":{},"index":0,"log":"traceledger.local/default"}"#;
/// let expected: [u8; 32] = Sha256::new().chain_update([0u8]).chain_update(bytes).finalize().into();
/// assert_eq!(leaf_hash(bytes).0, expected);
/// ```
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

    /// An entry whose body nests `levels` arrays deep, as canonical bytes.
    fn nested_entry_bytes(levels: usize) -> Vec<u8> {
        let mut body = json!("leaf");
        for _ in 0..levels {
            body = json!({ "k": [body] });
        }
        let mut entry = sample();
        entry.body = body;
        entry.to_canonical_bytes().unwrap()
    }

    #[test]
    fn deep_entries_written_before_the_limit_stay_readable() {
        // 2 levels per step: about 270 levels, like a 64-level kvlist written by an old
        // version. serde_json alone refuses it.
        let bytes = nested_entry_bytes(135);
        assert!(serde_json::from_slice::<Value>(&bytes).is_err());
        let entry = Entry::from_canonical_bytes(&bytes).unwrap();
        assert_eq!(json_depth(&entry.body), 270);
        assert_eq!(json_depth(&parse_entry_value(&bytes).unwrap()), 271);
        assert!(matches!(
            Entry::from_canonical_bytes(&nested_entry_bytes(300)),
            Err(EntryError::TooDeep {
                depth: 601,
                limit: MAX_READ_DEPTH
            })
        ));
    }

    #[test]
    fn writers_refuse_what_stock_parsers_cannot_read() {
        let mut body = json!(1);
        for _ in 0..(MAX_ENTRY_DEPTH - 1) {
            body = json!([body]);
        }
        assert_eq!(check_body_depth(&body), Ok(()));
        let deeper = json!([body]);
        assert_eq!(
            check_body_depth(&deeper),
            Err(EntryError::TooDeep {
                depth: MAX_ENTRY_DEPTH + 1,
                limit: MAX_ENTRY_DEPTH
            })
        );
        assert_eq!(check_sealed_bytes(&nested_entry_bytes(31)), Ok(()));
        assert!(matches!(
            check_sealed_bytes(&nested_entry_bytes(32)),
            Err(EntryError::TooDeep { depth: 65, .. })
        ));
        // Braces inside strings do not count.
        assert_eq!(bytes_depth(br#"{"a":"[[[{{{\"[[","b":[1]}"#), 2);
    }

    #[test]
    fn first_prev_is_64_zeros() {
        assert_eq!(prev_field(None), "0".repeat(64));
    }
}
