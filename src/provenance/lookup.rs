//! Finding a produced output again: the keyed digests held in the output index.
//!
//! Every output text a span or log record emitted is indexed under two keyed digests
//! (HMAC-SHA-256 with the tenant's lookup secret, never a plain hash):
//!
//! * **exact** — `HMAC(secret, SHA-256(text))`, so a search by the text or by its plain
//!   SHA-256 finds it;
//! * **normalized** — `HMAC(secret, "traceledger/output/normalized/v1\n" ||
//!   SHA-256(normalize(text)))`, so an answer pasted back from a browser, an e-mail or a
//!   ticket still finds it when only invisible details changed. The prefix keeps the two
//!   families apart: a normalized digest never equals the exact digest of another text.
//!
//! [`normalize_output`] applies, in order: Unicode NFC; CRLF and lone CR to LF;
//! removal of zero-width characters (U+200B, U+200C, U+200D, U+2060, U+FEFF); every run
//! of whitespace (newlines included) to one space; trimming. A search tries the exact
//! form first and says which form matched.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// Domain prefix of the normalized digest.
const NORMALIZED_DOMAIN: &[u8] = b"traceledger/output/normalized/v1\n";

/// Which form of a searched output matched the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MatchedForm {
    /// The text byte for byte (or its SHA-256).
    Exact,
    /// Only after [`normalize_output`] on both sides.
    Normalized,
}

/// Characters that render as nothing and are dropped by [`normalize_output`].
fn is_zero_width(character: char) -> bool {
    matches!(
        character,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// The normalized form of an output text (see the module docs).
///
/// ```
/// use traceledger::provenance::lookup::normalize_output;
///
/// // CRLF, a zero-width space, doubled and trailing blanks: invisible in a browser.
/// let pasted = "  Yes.\r\nOrder\u{200B} 1234  was delivered.\n";
/// assert_eq!(normalize_output(pasted), "Yes. Order 1234 was delivered.");
/// // NFD and NFC spell "café" alike once normalized.
/// assert_eq!(normalize_output("cafe\u{301}"), normalize_output("caf\u{e9}"));
/// ```
pub fn normalize_output(text: &str) -> String {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut normalized = String::with_capacity(unified.len());
    let mut pending_space = false;
    for character in unified.nfc().filter(|character| !is_zero_width(*character)) {
        if character.is_whitespace() {
            pending_space = !normalized.is_empty();
            continue;
        }
        if pending_space {
            normalized.push(' ');
            pending_space = false;
        }
        normalized.push(character);
    }
    normalized
}

/// The exact keyed digest of an output text: HMAC-SHA-256 under the tenant's lookup
/// secret, taken over `SHA-256(text)`, so a search by the output's plain SHA-256
/// (`{"output_sha256": ...}`) finds the same rows as a search by its text. The index
/// holds only keyed digests, never a plain hash, so outputs cannot be confirmed by
/// guessing without the secret.
pub fn exact_digest(secret: &[u8], text: &str) -> [u8; 32] {
    exact_digest_from_sha256(secret, &Sha256::digest(text.as_bytes()).into())
}

/// [`exact_digest`] from the output's SHA-256.
pub fn exact_digest_from_sha256(secret: &[u8], output_sha256: &[u8; 32]) -> [u8; 32] {
    keyed_digest(secret, output_sha256)
}

/// HMAC-SHA-256 of `data` under the tenant's lookup secret.
pub fn keyed_digest(secret: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, KeyInit, Mac};
    // HMAC accepts keys of any length; the error case cannot happen.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return [0u8; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The `output_index` digests versions before the normalized lookup digest wrote for a
/// span's output texts: the exact digest of each [`indexed_texts`] entry. Ingest now
/// writes [`output_index_digests`]; the audit accepts either.
pub fn legacy_span_output_digests(secret: &[u8], outputs: &[String]) -> Vec<[u8; 32]> {
    indexed_texts(outputs)
        .iter()
        .map(|text| exact_digest(secret, text))
        .collect()
}

/// The `output_index` digests versions before the normalized lookup digest wrote for a
/// log record's output texts: one exact digest per text.
pub fn legacy_log_output_digests(secret: &[u8], outputs: &[String]) -> Vec<[u8; 32]> {
    outputs.iter().map(|output| exact_digest(secret, output)).collect()
}

/// The normalized keyed digest of an output text.
pub fn normalized_digest(secret: &[u8], text: &str) -> [u8; 32] {
    let mut preimage = NORMALIZED_DOMAIN.to_vec();
    preimage.extend_from_slice(&Sha256::digest(normalize_output(text).as_bytes()));
    keyed_digest(secret, &preimage)
}

/// The texts an output list is findable by: each part and, for an answer delivered in
/// several parts (messages, choices), the parts joined with nothing and with newlines.
pub fn indexed_texts(outputs: &[String]) -> Vec<std::borrow::Cow<'_, str>> {
    let mut texts: Vec<std::borrow::Cow<'_, str>> = outputs.iter().map(|output| output.as_str().into()).collect();
    if outputs.len() > 1 {
        for separator in ["", "\n"] {
            texts.push(outputs.join(separator).into());
        }
    }
    texts
}

/// Every index digest of the outputs one record emitted: exact and normalized digests
/// of each part and, for an answer delivered in several parts (messages, choices), of
/// the parts joined with nothing and with newlines. Sorted, without duplicates.
pub fn output_index_digests(secret: &[u8], outputs: &[String]) -> Vec<[u8; 32]> {
    let mut digests: Vec<[u8; 32]> = indexed_texts(outputs)
        .iter()
        .flat_map(|text| [exact_digest(secret, text), normalized_digest(secret, text)])
        .collect();
    digests.sort_unstable();
    digests.dedup();
    digests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_variants_normalize_alike() {
        let produced = "Yes. Order 1234 was delivered on Tuesday.\nThanks — café";
        let variants = [
            // NFD instead of NFC
            "Yes. Order 1234 was delivered on Tuesday.\nThanks — cafe\u{301}",
            // trailing newline, CRLF
            "Yes. Order 1234 was delivered on Tuesday.\r\nThanks — café\n",
            // zero-width space, doubled spaces, leading blank
            "  Yes. Order 1234 was\u{200B} delivered  on Tuesday.\n\nThanks — café",
        ];
        for variant in variants {
            assert_ne!(variant, produced);
            assert_eq!(normalize_output(variant), normalize_output(produced), "{variant:?}");
        }
        assert_eq!(
            normalize_output(produced),
            "Yes. Order 1234 was delivered on Tuesday. Thanks — café"
        );
        // Visible changes still differ.
        assert_ne!(normalize_output("Order 1234"), normalize_output("Order 1235"));
    }

    #[test]
    fn the_two_digest_families_never_meet() {
        let secret = [7u8; 32];
        // "a b" is the normalized form of "a  b": its exact digest is still not the
        // normalized digest of either.
        assert_ne!(exact_digest(&secret, "a b"), normalized_digest(&secret, "a  b"));
        assert_eq!(normalized_digest(&secret, "a b"), normalized_digest(&secret, "a  b"));
        let digests = output_index_digests(&secret, &["a".into(), "b".into()]);
        // a, b, "ab", "a\nb": exact + normalized each, minus none equal.
        assert_eq!(digests.len(), 8);
        assert!(digests.contains(&normalized_digest(&secret, "a b")));
    }
}
