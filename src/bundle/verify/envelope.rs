//! Steps 1–4: the DSSE envelope, the key, the envelope signature, and the canonical
//! in-toto statement with its predicate. Nothing inside the payload is read before the
//! signature over `PAE(payloadType, payload)` verifies.

use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

use super::error::VerifyError;
use crate::bundle::format::{
    pae, Envelope, Predicate, Statement, Subject, BUNDLE_VERSION, PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE,
};

/// A statement whose envelope signature verified, and the key that signed it.
pub(super) struct SignedStatement {
    /// The signed-note verifier key of steps 2–4: the trusted key, or the envelope's.
    pub verifier_key: String,
    /// The statement's subjects (the outputs in question).
    pub subjects: Vec<Subject>,
    /// The parsed predicate; its `log.verifier_key` is `verifier_key`.
    pub predicate: Predicate,
}

/// Steps 1–4 of the verification order (see the module docs of [`super`]).
pub(super) fn open_envelope(bytes: &[u8], trusted_key: Option<&str>) -> Result<SignedStatement, VerifyError> {
    let base64 = base64::engine::general_purpose::STANDARD;

    // 1. Envelope shape and payload type.
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|error| VerifyError::EnvelopeMalformed(error.to_string()))?;
    let Some(first_signature) = envelope.signatures.first() else {
        return Err(VerifyError::EnvelopeMalformed("no signatures".into()));
    };
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(VerifyError::WrongPayloadType(envelope.payload_type));
    }

    // 2. The key.
    let key_text = trusted_key.unwrap_or(&first_signature.keyid);
    let Some(signature) = envelope.signatures.iter().find(|signature| signature.keyid == key_text) else {
        return Err(VerifyError::UntrustedKey {
            found: first_signature.keyid.clone(),
        });
    };
    let verifying_key = parse_verifier_key(key_text)?;

    // 3. The DSSE signature, before anything inside the payload is read.
    let payload = base64
        .decode(&envelope.payload)
        .map_err(|error| VerifyError::EnvelopeMalformed(format!("payload is not base64: {error}")))?;
    let signature_bytes = base64
        .decode(&signature.sig)
        .map_err(|_| VerifyError::BadEnvelopeSignature)?;
    let signature_array: [u8; 64] = signature_bytes
        .as_slice()
        .try_into()
        .map_err(|_| VerifyError::BadEnvelopeSignature)?;
    verifying_key
        .verify_strict(
            &pae(&envelope.payload_type, &payload),
            &Signature::from_bytes(&signature_array),
        )
        .map_err(|_| VerifyError::BadEnvelopeSignature)?;

    // 4. Canonical payload, statement, predicate, and the key the predicate names.
    let payload_value: Value = serde_json::from_slice(&payload)
        .map_err(|error| VerifyError::StatementMalformed(format!("payload is not JSON: {error}")))?;
    let canonical = serde_json_canonicalizer::to_vec(&payload_value)
        .map_err(|error| VerifyError::StatementMalformed(error.to_string()))?;
    if canonical != payload {
        return Err(VerifyError::PayloadNotCanonical);
    }
    let statement: Statement =
        serde_json::from_value(payload_value).map_err(|error| VerifyError::StatementMalformed(error.to_string()))?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(VerifyError::WrongStatementType(statement.statement_type));
    }
    if statement.predicate_type != PREDICATE_TYPE {
        return Err(VerifyError::WrongPredicateType(statement.predicate_type));
    }
    let version = statement
        .predicate
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| VerifyError::StatementMalformed("predicate.version is not a number".into()))?;
    if version != BUNDLE_VERSION {
        return Err(VerifyError::UnsupportedVersion(version));
    }
    let predicate: Predicate = serde_json::from_value(statement.predicate)
        .map_err(|error| VerifyError::StatementMalformed(format!("predicate: {error}")))?;
    if predicate.log.verifier_key != key_text {
        return Err(match trusted_key {
            Some(_) => VerifyError::UntrustedKey {
                found: predicate.log.verifier_key,
            },
            None => VerifyError::KeyMismatch {
                expected: key_text.to_owned(),
                found: predicate.log.verifier_key,
            },
        });
    }
    Ok(SignedStatement {
        verifier_key: key_text.to_owned(),
        subjects: statement.subject,
        predicate,
    })
}

/// The Ed25519 public key of a signed-note verifier key `<name>+<hex8>+<base64(0x01 || key)>`,
/// after checking the key hash and algorithm.
fn parse_verifier_key(text: &str) -> Result<VerifyingKey, VerifyError> {
    signed_note::StandardVerifier::new(text).map_err(|error| VerifyError::BadVerifierKey(error.to_string()))?;
    // The name cannot contain '+' and the key hash is hex, so the third part is the key.
    let encoded = text
        .splitn(3, '+')
        .nth(2)
        .ok_or_else(|| VerifyError::BadVerifierKey("not <name>+<hex8>+<base64>".into()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| VerifyError::BadVerifierKey(error.to_string()))?;
    let Some((&0x01, public_key)) = bytes.split_first() else {
        return Err(VerifyError::BadVerifierKey("not an Ed25519 key".into()));
    };
    let public_key: [u8; 32] = public_key
        .try_into()
        .map_err(|_| VerifyError::BadVerifierKey("public key is not 32 bytes".into()))?;
    VerifyingKey::from_bytes(&public_key).map_err(|error| VerifyError::BadVerifierKey(error.to_string()))
}
