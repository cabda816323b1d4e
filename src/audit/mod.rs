//! Audit: keyed output digests for provenance lookup, the re-derivation of a span's or
//! log record's outputs from its entry and stored content ([`outputs`]), and the offline
//! re-verification of a whole store ([`fsck`]).

pub mod fsck;
pub mod outputs;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// HMAC-SHA-256 of an output text under the tenant's lookup secret. The index holds
/// only these keyed digests, never a plain hash, so outputs cannot be confirmed by
/// guessing without the secret.
///
/// The MAC is taken over `SHA-256(output)`, so a search by the output's plain SHA-256
/// (`{"output_sha256": ...}`) finds the same rows as a search by its text.
pub fn output_digest(secret: &[u8], output: &str) -> [u8; 32] {
    use sha2::Digest;
    output_digest_from_sha256(secret, &Sha256::digest(output.as_bytes()).into())
}

/// The `output_index` digests versions before the normalized lookup digest wrote for a
/// span's output texts: one per text and, for an answer delivered in several parts, the
/// parts joined without and with `\n`. Ingest now writes
/// [`crate::provenance::lookup::output_index_digests`]; the audit accepts either.
pub fn legacy_span_output_digests(secret: &[u8], outputs: &[String]) -> Vec<[u8; 32]> {
    crate::provenance::lookup::indexed_texts(outputs)
        .iter()
        .map(|text| output_digest(secret, text))
        .collect()
}

/// The `output_index` digests versions before the normalized lookup digest wrote for a
/// log record's output texts: one per text.
pub fn legacy_log_output_digests(secret: &[u8], outputs: &[String]) -> Vec<[u8; 32]> {
    outputs.iter().map(|output| output_digest(secret, output)).collect()
}

/// [`output_digest`] from the output's SHA-256.
pub fn output_digest_from_sha256(secret: &[u8], output_sha256: &[u8; 32]) -> [u8; 32] {
    keyed_digest(secret, output_sha256)
}

/// HMAC-SHA-256 of `data` under the tenant's lookup secret.
pub fn keyed_digest(secret: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; the error case cannot happen.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return [0u8; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}
