//! DSSE (Dead Simple Signing Envelope) pre-authentication encoding and Ed25519
//! signatures over it, as used by audit bundles and CI attestations.
//!
//! `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, with LEN the
//! ASCII decimal byte length and SP one space (0x20).

use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Media type of the payload.
    pub payload_type: String,
    /// Base64 (standard, padded) payload.
    pub payload: String,
    /// Signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key id (free-form; never trusted on its own).
    #[serde(default)]
    pub keyid: String,
    /// Base64 signature.
    pub sig: String,
}

/// The pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Errors of envelope verification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DsseError {
    /// The payload is not valid base64.
    #[error("payload is not valid base64")]
    PayloadEncoding,
    /// No signature verifies with any of the given keys.
    #[error("no signature verifies with a trusted key")]
    NoValidSignature,
}

/// Verifies that some signature of `envelope` is valid under one of `keys`; returns the
/// decoded payload and the position of the key that verified.
pub fn verify_envelope(envelope: &Envelope, keys: &[VerifyingKey]) -> Result<(Vec<u8>, usize), DsseError> {
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .map_err(|_| DsseError::PayloadEncoding)?;
    let message = pae(&envelope.payload_type, &payload);
    for signature in &envelope.signatures {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&signature.sig) else {
            continue;
        };
        let Ok(array) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            continue;
        };
        let signature = Signature::from_bytes(&array);
        if let Some(position) = keys.iter().position(|key| key.verify(&message, &signature).is_ok()) {
            return Ok((payload, position));
        }
    }
    Err(DsseError::NoValidSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn pae_matches_the_spec_example() {
        // From the DSSE protocol description.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn envelope_verifies_only_with_the_right_key() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let payload = b"{\"a\":1}";
        let signature = key.sign(&pae("application/json", payload));
        let engine = base64::engine::general_purpose::STANDARD;
        let envelope = Envelope {
            payload_type: "application/json".into(),
            payload: engine.encode(payload),
            signatures: vec![EnvelopeSignature {
                keyid: "ci".into(),
                sig: engine.encode(signature.to_bytes()),
            }],
        };
        assert_eq!(
            verify_envelope(&envelope, &[other.verifying_key(), key.verifying_key()])
                .unwrap()
                .1,
            1
        );
        assert_eq!(
            verify_envelope(&envelope, &[other.verifying_key()]),
            Err(DsseError::NoValidSignature)
        );
        let mut tampered = envelope.clone();
        tampered.payload_type = "text/plain".into();
        assert_eq!(
            verify_envelope(&tampered, &[key.verifying_key()]),
            Err(DsseError::NoValidSignature)
        );
    }
}
