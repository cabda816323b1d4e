//! Checkpoints: C2SP tlog-checkpoint text signed as a C2SP signed note with Ed25519.
//!
//! ```text
//! <origin>\n<tree size>\n<base64 root hash>\n\n— <key name> <base64(key hash[4] || signature[64])>\n
//! ```
//! The key name is the log's origin; the key hash is the first four bytes of
//! `SHA-256(key name || 0x0A || 0x01 || public key)`. Verifier keys are published as
//! `<name>+<8 hex key hash>+<base64(0x01 || public key)>`.
//!
//! Signing and verifying go through cloudflare's `signed_note` and `tlog_tiles`, which
//! pass the Go `sumdb/note` vectors (see `tests/vectors.rs`).

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::Checkpoint;

use super::Hash;

/// Errors of checkpoint signing, parsing and verification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note or its checkpoint text is not well-formed.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// The verifier key string is not a valid Ed25519 signed-note verifier key.
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(String),
    /// No signature by the given key verifies over the note text.
    #[error("checkpoint signature does not verify: {0}")]
    BadSignature(String),
    /// The checkpoint names another log than expected.
    #[error("checkpoint origin {found:?} is not the expected {expected:?}")]
    WrongOrigin {
        /// Origin the caller expected.
        expected: String,
        /// Origin found in the checkpoint.
        found: String,
    },
}

/// A signed-note signer for one log: the server's Ed25519 key under the log's origin.
#[derive(Clone)]
pub struct LogSigner {
    name: String,
    key_id: u32,
    signing_key: SigningKey,
}

impl LogSigner {
    /// A signer that signs as `origin` with `signing_key`.
    pub fn new(origin: &str, signing_key: SigningKey) -> Result<Self, CheckpointError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(CheckpointError::Malformed(format!(
                "origin {origin:?} is not a valid key name (no spaces or '+')"
            )));
        }
        let key_id = signed_note::key_id(origin, &encoded_public_key(&signing_key.verifying_key()));
        Ok(LogSigner {
            name: origin.to_owned(),
            key_id,
            signing_key,
        })
    }

    /// The published verifier key: `<origin>+<hex8 key hash>+<base64(0x01 || public key)>`.
    pub fn verifier_key(&self) -> String {
        verifier_key(&self.name, &self.signing_key.verifying_key())
    }

    /// Signs the checkpoint of a tree of `size` entries with root `root`; returns the note text.
    pub fn sign_checkpoint(&self, size: u64, root: &Hash) -> Result<String, CheckpointError> {
        let checkpoint = Checkpoint::new(&self.name, size, *root, "")
            .map_err(|error| CheckpointError::Malformed(error.to_string()))?;
        let mut note =
            Note::new(&checkpoint.to_bytes(), &[]).map_err(|error| CheckpointError::Malformed(error.to_string()))?;
        note.add_sigs(&[self])
            .map_err(|error| CheckpointError::Malformed(error.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|error| CheckpointError::Malformed(error.to_string()))
    }
}

impl signed_note::Signer for LogSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.signing_key.try_sign(msg)?.to_vec())
    }
}

/// `0x01 || public key`: the signed-note encoding of an Ed25519 public key.
fn encoded_public_key(key: &VerifyingKey) -> Vec<u8> {
    let mut encoded = Vec::with_capacity(33);
    encoded.push(0x01);
    encoded.extend_from_slice(key.as_bytes());
    encoded
}

/// The signed-note verifier key string for `name` and `key`.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    signed_note::new_ed25519_verifier_key(name, key)
}

/// The Ed25519 public key of a signed-note verifier key `<name>+<hex8>+<base64(0x01 || key)>`
/// (its key hash checked against name and key).
pub fn public_key_of_verifier_key(verifier_key: &str) -> Result<VerifyingKey, CheckpointError> {
    use base64::Engine;
    StandardVerifier::new(verifier_key).map_err(|error| CheckpointError::BadVerifierKey(error.to_string()))?;
    // `<name>+<hex8>+<base64>`: names hold no '+', base64 may.
    let encoded = verifier_key
        .splitn(3, '+')
        .nth(2)
        .ok_or_else(|| CheckpointError::BadVerifierKey("no key part".into()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| CheckpointError::BadVerifierKey(error.to_string()))?;
    let key: [u8; 32] = match bytes.split_first() {
        Some((0x01, key)) => key
            .try_into()
            .map_err(|_| CheckpointError::BadVerifierKey("an Ed25519 key has 32 bytes".into()))?,
        _ => return Err(CheckpointError::BadVerifierKey("not an Ed25519 verifier key".into())),
    };
    VerifyingKey::from_bytes(&key).map_err(|error| CheckpointError::BadVerifierKey(error.to_string()))
}

/// A checkpoint whose signature has been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCheckpoint {
    /// Log origin.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

/// Parses a signed checkpoint note and verifies it against `verifier_key`; the origin
/// must equal the key name (traceledger signs each log under its origin).
pub fn verify_checkpoint(note_text: &str, verifier_key: &str) -> Result<VerifiedCheckpoint, CheckpointError> {
    let verifier =
        StandardVerifier::new(verifier_key).map_err(|error| CheckpointError::BadVerifierKey(error.to_string()))?;
    let key_name = signed_note::Verifier::name(&verifier).to_owned();
    let note = Note::from_bytes(note_text.as_bytes()).map_err(|error| CheckpointError::Malformed(error.to_string()))?;
    note.verify(&VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|error| CheckpointError::BadSignature(error.to_string()))?;
    let checkpoint =
        Checkpoint::from_bytes(note.text()).map_err(|error| CheckpointError::Malformed(error.to_string()))?;
    if checkpoint.origin() != key_name {
        return Err(CheckpointError::WrongOrigin {
            expected: key_name,
            found: checkpoint.origin().to_owned(),
        });
    }
    Ok(VerifiedCheckpoint {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        root: *checkpoint.hash(),
    })
}

/// Parses the checkpoint text of a note without checking signatures (for display and
/// for locating the right key; never trust the result on its own).
pub fn parse_unverified(note_text: &str) -> Result<VerifiedCheckpoint, CheckpointError> {
    let note = Note::from_bytes(note_text.as_bytes()).map_err(|error| CheckpointError::Malformed(error.to_string()))?;
    let checkpoint =
        Checkpoint::from_bytes(note.text()).map_err(|error| CheckpointError::Malformed(error.to_string()))?;
    Ok(VerifiedCheckpoint {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        root: *checkpoint.hash(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LogSigner {
        LogSigner::new("traceledger.local/acme", SigningKey::from_bytes(&[7u8; 32])).unwrap()
    }

    #[test]
    fn signed_checkpoint_has_c2sp_shape_and_verifies() {
        let signer = signer();
        let root = tlog_tiles::record_hash(b"x");
        let note = signer.sign_checkpoint(5, &root).unwrap();
        let mut lines = note.lines();
        assert_eq!(lines.next(), Some("traceledger.local/acme"));
        assert_eq!(lines.next(), Some("5"));
        assert_eq!(lines.next(), Some(root.to_string().as_str()));
        assert_eq!(lines.next(), Some(""));
        assert!(lines.next().unwrap().starts_with("— traceledger.local/acme "));
        let verified = verify_checkpoint(&note, &signer.verifier_key()).unwrap();
        assert_eq!(verified.size, 5);
        assert_eq!(verified.root, root);
    }

    #[test]
    fn verifier_key_gives_back_its_public_key() {
        // Base64 may hold '+', the separator: try keys until one does.
        let mut saw_plus = false;
        for seed in 0..64u8 {
            let key = SigningKey::from_bytes(&[seed; 32]);
            let text = verifier_key("traceledger.local/acme", &key.verifying_key());
            saw_plus |= text.splitn(3, '+').nth(2).is_some_and(|encoded| encoded.contains('+'));
            assert_eq!(
                public_key_of_verifier_key(&text).unwrap(),
                key.verifying_key(),
                "{text}"
            );
        }
        assert!(saw_plus);
        let signer = signer();
        let mut wrong_hash = signer.verifier_key();
        let flipped = if &wrong_hash[23..24] == "0" { "1" } else { "0" };
        wrong_hash.replace_range(23..24, flipped);
        assert!(public_key_of_verifier_key(&wrong_hash).is_err());
        assert!(public_key_of_verifier_key("not a key").is_err());
    }

    #[test]
    fn altered_checkpoint_fails() {
        let signer = signer();
        let note = signer.sign_checkpoint(5, &tlog_tiles::record_hash(b"x")).unwrap();
        let altered = note.replacen("\n5\n", "\n6\n", 1);
        assert!(matches!(
            verify_checkpoint(&altered, &signer.verifier_key()),
            Err(CheckpointError::BadSignature(_))
        ));
    }

    #[test]
    fn key_hash_matches_contract() {
        use sha2::{Digest, Sha256};
        let signer = signer();
        let key = signer.signing_key.verifying_key();
        let mut hasher = Sha256::new();
        hasher.update(b"traceledger.local/acme\n\x01");
        hasher.update(key.as_bytes());
        let digest = hasher.finalize();
        let expected = format!("traceledger.local/acme+{}+", hex::encode(&digest[..4]));
        assert!(signer.verifier_key().starts_with(&expected));
    }
}
