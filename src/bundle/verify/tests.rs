//! Unit tests of the verifier on hand-made envelopes and of its error codes; the end-to-end
//! tampering tests are in `tests/bundle.rs`.

use std::collections::HashSet;

use super::fields::parse_hash;
use super::*;

#[test]
fn garbage_is_an_envelope_error_not_a_panic() {
    for input in [&b""[..], b"null", b"[]", b"{}", b"{\"payloadType\":1}", &[0xff, 0xfe]] {
        assert!(matches!(
            verify_bundle(input, None),
            Err(VerifyError::EnvelopeMalformed(_))
        ));
    }
    let no_signatures = br#"{"payloadType":"application/vnd.in-toto+json","payload":"","signatures":[]}"#;
    assert_eq!(
        verify_bundle(no_signatures, None),
        Err(VerifyError::EnvelopeMalformed("no signatures".into()))
    );
}

#[test]
fn wrong_payload_type_comes_before_the_key() {
    let envelope = br#"{"payloadType":"text/plain","payload":"","signatures":[{"keyid":"x","sig":""}]}"#;
    assert_eq!(
        verify_bundle(envelope, None),
        Err(VerifyError::WrongPayloadType("text/plain".into()))
    );
}

#[test]
fn keyid_must_be_a_verifier_key() {
    let envelope =
        br#"{"payloadType":"application/vnd.in-toto+json","payload":"","signatures":[{"keyid":"x","sig":""}]}"#;
    assert!(matches!(
        verify_bundle(envelope, None),
        Err(VerifyError::BadVerifierKey(_))
    ));
    assert_eq!(
        verify_bundle(envelope, Some("y")),
        Err(VerifyError::UntrustedKey { found: "x".into() })
    );
}

#[test]
fn hex_parsing_is_strict() {
    assert!(parse_hash(&"a".repeat(64)).is_some());
    assert!(parse_hash(&"A".repeat(64)).is_none());
    assert!(parse_hash(&"a".repeat(63)).is_none());
    assert!(parse_hash("é").is_none());
}

#[test]
fn every_error_has_a_distinct_snake_case_code() {
    let text = String::new;
    let errors = [
        VerifyError::EnvelopeMalformed(text()),
        VerifyError::WrongPayloadType(text()),
        VerifyError::UntrustedKey { found: text() },
        VerifyError::BadVerifierKey(text()),
        VerifyError::BadEnvelopeSignature,
        VerifyError::PayloadNotCanonical,
        VerifyError::StatementMalformed(text()),
        VerifyError::WrongStatementType(text()),
        VerifyError::WrongPredicateType(text()),
        VerifyError::UnsupportedVersion(2),
        VerifyError::KeyMismatch {
            expected: text(),
            found: text(),
        },
        VerifyError::FieldMalformed {
            field: text(),
            reason: text(),
        },
        VerifyError::CheckpointMalformed(text()),
        VerifyError::BadCheckpointSignature(text()),
        VerifyError::OriginMismatch {
            expected: text(),
            found: text(),
        },
        VerifyError::DuplicateOrUnsortedEntry { index: 0 },
        VerifyError::EntryMalformed {
            index: 0,
            reason: text(),
        },
        VerifyError::EntryNotCanonical { index: 0 },
        VerifyError::EntryIndexMismatch { index: 0, found: 1 },
        VerifyError::EntryWrongLog {
            index: 0,
            found: text(),
        },
        VerifyError::EntryBeyondCheckpoint { index: 0, size: 0 },
        VerifyError::InclusionProofFailed { index: 0 },
        VerifyError::TlogProofMismatch { index: 0 },
        VerifyError::BrokenChain { index: 0 },
        VerifyError::ContentMismatch { sha256: text() },
        VerifyError::ContentNotCommitted { sha256: text() },
        VerifyError::IncompleteTree {
            trace_id: text(),
            span_id: text(),
            missing_parent: text(),
        },
        VerifyError::MissingPipelineContext {
            index: 0,
            kind: text(),
            id: text(),
        },
        VerifyError::OutputNotCommitted {
            sha256: text(),
            reason: text(),
        },
        VerifyError::SubjectNotCommitted { digest: text() },
        VerifyError::ConsistencyCheckpointInvalid(text()),
        VerifyError::ConsistencyFailed(text()),
    ];
    let codes: HashSet<&str> = errors.iter().map(VerifyError::code).collect();
    assert_eq!(codes.len(), errors.len());
    assert!(codes
        .iter()
        .all(|code| code.bytes().all(|byte| byte == b'_' || byte.is_ascii_lowercase())));
}
