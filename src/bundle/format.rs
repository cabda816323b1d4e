//! The bundle's wire types: DSSE envelope, in-toto Statement v1, traceledger predicate.
//!
//! ```text
//! envelope  = {"payloadType":"application/vnd.in-toto+json","payload":B64(payload_bytes),
//!              "signatures":[{"keyid":VERIFIER_KEY,"sig":B64(Ed25519(PAE(payloadType, payload_bytes)))}]}
//! payload_bytes = JCS(statement)
//! statement = {"_type":"https://in-toto.io/Statement/v1",
//!              "subject":[{"name":"output-<i>","digest":{"sha256":HEX}}...]
//!                     or [{"name":"entries","digest":{"sha256":ENTRIES_DIGEST}}] (no output in question),
//!              "predicateType":"https://traceledger.dev/audit-bundle/v1",
//!              "predicate":PREDICATE}
//! ```
//!
//! The predicate's members are the fields of [`Predicate`]. Parsing tolerates unknown extra
//! members everywhere (a newer writer may add some); it never tolerates a missing required
//! one. Hashes in proofs are lowercase hex, as in the proof endpoints; salts, entry bytes,
//! the payload and signatures are standard base64 with padding.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ledger::Hash;

pub use crate::ledger::dsse::{pae, Envelope, EnvelopeSignature};

/// The envelope's `payloadType`: an in-toto statement in JSON.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The statement's `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The statement's `predicateType`.
pub const PREDICATE_TYPE: &str = "https://traceledger.dev/audit-bundle/v1";
/// The predicate's `version` this code writes and reads.
pub const BUNDLE_VERSION: u64 = 1;
/// First line of a C2SP tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Prefix of every output subject name; the suffix is the position in `outputs`.
pub const SUBJECT_NAME_PREFIX: &str = "output-";
/// Name of the subject a bundle with no output in question carries instead: the selected
/// entries themselves, by [`entries_digest`]. in-toto Statement v1 requires at least one
/// subject.
pub const ENTRIES_SUBJECT_NAME: &str = "entries";
/// Domain prefix of [`entries_digest`].
pub const ENTRIES_DIGEST_DOMAIN: &[u8] = b"traceledger/audit-bundle/entries/v1\n";

/// The digest of the `entries` subject: lowercase hex
/// `SHA-256("traceledger/audit-bundle/entries/v1\n" || leaf_hash_0 || leaf_hash_1 || ...)`
/// over the raw 32-byte leaf hashes of the predicate's entries, in their order (sorted by
/// index). An empty selection digests the prefix alone.
pub fn entries_digest<'a>(leaf_hashes: impl IntoIterator<Item = &'a Hash>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(ENTRIES_DIGEST_DOMAIN);
    for leaf in leaf_hashes {
        hasher.update(leaf.0);
    }
    hex::encode(hasher.finalize())
}

/// The in-toto Statement v1 carried in the envelope. The predicate stays a generic JSON
/// value here so that its `version` can be checked before its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The outputs in question, or, when there is none, the [`ENTRIES_SUBJECT_NAME`]
    /// subject.
    pub subject: Vec<Subject>,
    /// Always [`PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The [`Predicate`], as JSON.
    pub predicate: Value,
}

/// One subject: an output text, by its SHA-256, or the selected entries (`entries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// `output-<i>`, `i` the position of the output in the predicate's `outputs`; or
    /// [`ENTRIES_SUBJECT_NAME`].
    pub name: String,
    /// Algorithm → lowercase hex digest; traceledger writes and checks `sha256`.
    pub digest: BTreeMap<String, String>,
}

/// The traceledger audit-bundle predicate, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    /// [`BUNDLE_VERSION`].
    pub version: u64,
    /// The log the entries come from.
    pub log: LogInfo,
    /// The signed checkpoint note (C2SP tlog-checkpoint + signed-note), verbatim.
    pub checkpoint: String,
    /// The selected entries, sorted by index, unique.
    pub entries: Vec<BundleEntry>,
    /// The revealed contents (salt and text of commitments found in the entries).
    pub contents: Vec<RevealedContent>,
    /// One item per subject: the output text and where it was committed.
    pub outputs: Vec<BundleOutput>,
    /// Parent spans the exporter knowingly left out of the selection.
    pub outside_selection: Vec<OutsideSpan>,
    /// Optional proof that the bundle's checkpoint is a prefix of a newer one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
    /// The export's selector, as the exporter received it (any JSON).
    #[serde(default)]
    pub query: Value,
    /// RFC 3339 time of the export.
    pub exported_at: String,
    /// Who exported: `{"tenant":T,"key_id":K}` (any JSON object).
    #[serde(default)]
    pub principal: Value,
}

/// The log: its origin and its signed-note verifier key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    /// The log's origin, e.g. `traceledger.local/acme`; also the key name.
    pub origin: String,
    /// `<origin>+<hex8 key hash>+<base64(0x01 || public key)>`.
    pub verifier_key: String,
}

/// One entry with its inclusion proof against the bundle's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEntry {
    /// The entry's index in the log.
    pub index: u64,
    /// Base64 of the exact `entry_bytes` (JCS of the entry).
    pub entry_bytes: String,
    /// RFC 9162 audit path, bottom-up, lowercase hex.
    pub inclusion_proof: Vec<String>,
    /// The same proof as a C2SP tlog-proof text (see [`render_tlog_proof`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlog_proof: Option<String>,
}

/// A revealed content: opens the commitment `sha256` of some included entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealedContent {
    /// Lowercase hex `SHA-256(salt || utf8 content)`: the commitment's digest.
    pub sha256: String,
    /// Base64 of the salt.
    pub salt: String,
    /// The content text.
    pub content: String,
}

/// A subject's output: its text, the entry that emitted it, the content that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleOutput {
    /// Lowercase hex SHA-256 of the UTF-8 text: the subject digest.
    pub sha256: String,
    /// The output text.
    pub text: String,
    /// Index of the entry that committed the content holding the text.
    pub entry_index: u64,
    /// Digest of the revealed content (a commitment of entry `entry_index`) that contains `text`.
    pub commitment: String,
}

/// A span outside the bundle that a span inside names as its parent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutsideSpan {
    /// 32 lowercase hex.
    pub trace_id: String,
    /// 16 lowercase hex.
    pub span_id: String,
}

/// Consistency of the bundle's checkpoint with a newer checkpoint of the same log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consistency {
    /// The newer signed checkpoint note, verbatim.
    pub checkpoint: String,
    /// RFC 9162 consistency proof from the bundle's checkpoint size to the newer size, hex.
    pub proof: Vec<String>,
}

/// The C2SP tlog-proof (<https://c2sp.org/tlog-proof>, v1) of entry `index`:
///
/// ```text
/// c2sp.org/tlog-proof@v1\n
/// index <index>\n
/// <base64 proof[0]>\n ... <base64 proof[n-1]>\n
/// \n
/// <checkpoint note, verbatim (it ends with \n)>
/// ```
///
/// No `extra` line is written.
pub fn render_tlog_proof(index: u64, proof: &[Hash], checkpoint_note: &str) -> String {
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut text = String::with_capacity(64 + proof.len() * 45 + checkpoint_note.len());
    text.push_str(TLOG_PROOF_HEADER);
    text.push('\n');
    text.push_str("index ");
    text.push_str(&index.to_string());
    text.push('\n');
    for hash in proof {
        text.push_str(&base64.encode(hash.0));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(checkpoint_note);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlog_proof_has_the_c2sp_layout() {
        let note = "o\n2\nAAAA\n\n— o sig\n";
        let text = render_tlog_proof(7, &[Hash([0u8; 32]), Hash([0xff; 32])], note);
        assert_eq!(
            text,
            "c2sp.org/tlog-proof@v1\nindex 7\n\
             AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\
             //////////////////////////////////////////8=\n\
             \no\n2\nAAAA\n\n— o sig\n"
        );
        assert_eq!(
            render_tlog_proof(0, &[], note),
            "c2sp.org/tlog-proof@v1\nindex 0\n\no\n2\nAAAA\n\n— o sig\n"
        );
    }

    #[test]
    fn predicate_tolerates_unknown_members_but_not_missing_ones() {
        let mut value = serde_json::json!({
            "version": 1,
            "log": {"origin": "o", "verifier_key": "k", "extra": true},
            "checkpoint": "c",
            "entries": [],
            "contents": [],
            "outputs": [],
            "outside_selection": [],
            "exported_at": "2026-01-02T03:04:05Z",
            "future": {"anything": 1}
        });
        let predicate: Predicate = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(predicate.query, Value::Null);
        assert!(predicate.consistency.is_none());
        if let Some(object) = value.as_object_mut() {
            object.remove("outside_selection");
        }
        assert!(serde_json::from_value::<Predicate>(value).is_err());
    }
}
