//! Audit bundles end to end, without a server: a small log is sealed with the pure ledger
//! core, a bundle is built from it, and then verified as is, after every kind of tampering
//! (each must fail with the right `VerifyError`), through the `traceledger verify` binary,
//! and as the frozen example in `tests/bundle-vectors/`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Value};

use traceledger::bundle::build::{build_bundle, build_statement, sign_statement, BundleError, BundleInput};
use traceledger::bundle::format::{pae, PAYLOAD_TYPE};
use traceledger::bundle::verify::{verify_bundle, VerifyError};
use traceledger::ledger::batch::{seal_batch, LogHead, PendingEntry, SealedEntry};
use traceledger::ledger::checkpoint::LogSigner;
use traceledger::ledger::commitment::{commit_with_salt, CommittedContent};
use traceledger::ledger::entry::{leaf_hash, EntryRef};
use traceledger::ledger::merkle::{consistency_proof, inclusion_proof, MemoryTree};
use traceledger::ledger::{hash_hex, Hash};

const ORIGIN: &str = "traceledger.local/example";
const SEED: [u8; 32] = [0x07; 32];
const TIME: &str = "2026-01-02T03:04:05.000000Z";
const EXPORTED_AT: &str = "2026-01-02T03:05:00.000000Z";
/// The verifier key of SEED under ORIGIN (also in docs/formats.md §13 and the vectors' README).
const VERIFIER_KEY: &str = "traceledger.local/example+0bd6ffa2+AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";

const TRACE_1: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACE_2: &str = "0af7651916cd43dd8448eb211c80319c";
/// Parent of the root span of TRACE_1: a span of an upstream service, never in this log.
const UPSTREAM: &str = "b7ad6b7169203331";
const SPAN_CHAIN: &str = "00f067aa0ba902b7";
const SPAN_RETRIEVAL: &str = "53995c3f42cd8ad8";
const SPAN_GENERATION: &str = "e457b5a2e4d86bd1";
const SPAN_OTHER_ROOT: &str = "a1b2c3d4e5f60718";
const SPAN_OTHER_CHILD: &str = "0f1e2d3c4b5a6978";

const QUESTION: &str = "What is the answer to the ultimate question?";
const ANSWER: &str = "The answer is 42.";

/// The default selection: the pipeline version, the whole of TRACE_1, the deployment.
const SELECTION: [u64; 5] = [0, 1, 2, 3, 6];
/// The size of the bundle's checkpoint; the log has one more entry after it.
const SIZE: u64 = 7;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn span_body(trace_id: &str, span_id: &str, parent: Option<&str>, name: &str, kind: &str, attributes: Value) -> Value {
    let mut body = json!({
        "attributes": attributes,
        "end_time_unix_nano": "1767323045250000000",
        "genai": {"kind_source": "default"},
        "kind": kind,
        "name": name,
        "otel_kind": 1,
        "span_id": span_id,
        "start_time_unix_nano": "1767323045000000000",
        "status": {"code": 0, "message": ""},
        "trace_id": trace_id,
    });
    if let (Some(parent), Some(object)) = (parent, body.as_object_mut()) {
        object.insert("parent_span_id".into(), json!(parent));
    }
    body
}

fn commitment_json(committed: &CommittedContent) -> Value {
    json!({"len": committed.commitment.len, "sha256": committed.commitment.sha256})
}

/// A log of eight entries, sealed with the real core:
/// 0 pipeline_version · 1 chain span (root of TRACE_1, parent upstream) · 2 retrieval span ·
/// 3 generation span with committed input and output · 4, 5 a second trace ·
/// 6 deployment · 7 a log record (after the bundle's checkpoint).
struct Log {
    key: SigningKey,
    signer: LogSigner,
    sealed: Vec<SealedEntry>,
    tree: MemoryTree,
    question: CommittedContent,
    answer: CommittedContent,
}

impl Log {
    fn new() -> Log {
        let key = SigningKey::from_bytes(&SEED);
        let signer = LogSigner::new(ORIGIN, key.clone()).unwrap();
        let question = commit_with_salt(QUESTION.to_owned(), [0x11; 32]);
        let answer = commit_with_salt(ANSWER.to_owned(), [0x22; 32]);
        let pending = |entry_type: &str, body: Value| PendingEntry {
            entry_type: entry_type.to_owned(),
            body,
        };
        let first_batch = [
            pending(
                "pipeline_version",
                json!({"id": "pv_6c1f0e2d3b4a59687766554433221100", "name": "rag-bot", "version": "1.2.0",
                       "models": ["gpt-4o-mini"]}),
            ),
            pending(
                "span",
                span_body(TRACE_1, SPAN_CHAIN, Some(UPSTREAM), "rag", "chain", json!({})),
            ),
            pending(
                "span",
                span_body(
                    TRACE_1,
                    SPAN_RETRIEVAL,
                    Some(SPAN_CHAIN),
                    "retrieve",
                    "retrieval",
                    json!({"retrieval.documents.0.document.id": {"stringValue": "doc-7"}}),
                ),
            ),
            pending(
                "span",
                span_body(
                    TRACE_1,
                    SPAN_GENERATION,
                    Some(SPAN_CHAIN),
                    "chat",
                    "generation",
                    json!({
                        "gen_ai.request.model": {"stringValue": "gpt-4o-mini"},
                        "input.value": commitment_json(&question),
                        "output.value": commitment_json(&answer),
                    }),
                ),
            ),
            pending(
                "span",
                span_body(TRACE_2, SPAN_OTHER_ROOT, None, "other", "agent", json!({})),
            ),
            pending(
                "span",
                span_body(
                    TRACE_2,
                    SPAN_OTHER_CHILD,
                    Some(SPAN_OTHER_ROOT),
                    "tool",
                    "tool",
                    json!({}),
                ),
            ),
            pending(
                "deployment",
                json!({"id": "dp_00112233445566778899aabbccddeeff", "pipeline_version_id": "pv_6c1f0e2d3b4a59687766554433221100",
                       "environment": "production", "from": "2026-01-01T00:00:00Z"}),
            ),
        ];
        let mut tree = MemoryTree::new();
        let batch = seal_batch(ORIGIN, LogHead::EMPTY, TIME, &first_batch, tree.hashes()).unwrap();
        for sealed in &batch.entries {
            tree.append(sealed.leaf_hash).unwrap();
        }
        let later = [pending(
            "log",
            json!({"event_name": "gen_ai.client.inference.operation.details", "trace_id": TRACE_2,
                   "span_id": SPAN_OTHER_CHILD, "attributes": {}}),
        )];
        let second = seal_batch(ORIGIN, batch.head, TIME, &later, tree.hashes()).unwrap();
        for sealed in &second.entries {
            tree.append(sealed.leaf_hash).unwrap();
        }
        let mut sealed = batch.entries;
        sealed.extend(second.entries);
        Log {
            key,
            signer,
            sealed,
            tree,
            question,
            answer,
        }
    }

    fn verifier_key(&self) -> String {
        self.signer.verifier_key()
    }

    fn checkpoint(&self, size: u64) -> String {
        self.signer
            .sign_checkpoint(size, &self.tree.root_at(size).unwrap())
            .unwrap()
    }

    fn entry(&self, index: u64, size: u64) -> (u64, Vec<u8>, Vec<Hash>) {
        let proof = inclusion_proof(index, size, self.tree.hashes()).unwrap();
        (index, self.sealed[index as usize].entry_bytes.clone(), proof)
    }

    /// The bundle input for `selection` against the checkpoint of `size`.
    fn input(&self, selection: &[u64], size: u64) -> BundleInput {
        let reveal = |committed: &CommittedContent| {
            (
                committed.commitment.sha256.clone(),
                committed.salt.to_vec(),
                committed.content.clone(),
            )
        };
        BundleInput {
            origin: ORIGIN.to_owned(),
            signing_key: self.key.clone(),
            checkpoint_note: self.checkpoint(size),
            tree_size: size,
            entries: selection.iter().map(|index| self.entry(*index, size)).collect(),
            contents: vec![reveal(&self.question), reveal(&self.answer)],
            outputs: vec![(ANSWER.to_owned(), 3, self.answer.commitment.sha256.clone())],
            outside_selection: vec![(TRACE_1.to_owned(), UPSTREAM.to_owned())],
            consistency: None,
            query: json!({"output_sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(ANSWER.as_bytes()))}),
            exported_at: EXPORTED_AT.to_owned(),
            principal: json!({"tenant": "example", "key_id": "0a1b2c3d"}),
        }
    }

    /// Like [`Log::input`] but revealing nothing and claiming no output.
    fn bare_input(&self, selection: &[u64], size: u64) -> BundleInput {
        let mut input = self.input(selection, size);
        input.contents.clear();
        input.outputs.clear();
        input
    }

    /// The default bundle, with a consistency proof to the checkpoint of size 8.
    fn bundle(&self) -> Vec<u8> {
        let mut input = self.input(&SELECTION, SIZE);
        input.consistency = Some((
            self.checkpoint(8),
            consistency_proof(SIZE, 8, self.tree.hashes()).unwrap(),
        ));
        build_bundle(input).unwrap()
    }

    fn resign(&self, statement: &Value) -> Vec<u8> {
        sign_statement(statement, &self.key, &self.verifier_key()).unwrap()
    }
}

fn envelope_of(bundle: &[u8]) -> Value {
    serde_json::from_slice(bundle).unwrap()
}

fn statement_of(bundle: &[u8]) -> Value {
    let envelope = envelope_of(bundle);
    let payload = b64().decode(envelope["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Alters the statement and re-signs it with the log's own key, so only the checks
/// behind the envelope signature can catch the change.
fn alter_statement(log: &Log, bundle: &[u8], alter: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut statement = statement_of(bundle);
    alter(&mut statement);
    log.resign(&statement)
}

/// Alters the envelope itself (no re-signing).
fn alter_envelope(bundle: &[u8], alter: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut envelope = envelope_of(bundle);
    alter(&mut envelope);
    serde_json::to_vec(&envelope).unwrap()
}

/// Applies `alter` to the text of entry bytes (base64 inside the predicate).
fn alter_entry_text(entry: &mut Value, alter: impl FnOnce(String) -> String) {
    let bytes = b64().decode(entry["entry_bytes"].as_str().unwrap()).unwrap();
    let altered = alter(String::from_utf8(bytes).unwrap());
    entry["entry_bytes"] = json!(b64().encode(altered));
}

fn flip_hex_digit(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    chars[0] = if chars[0] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

fn entry_position(statement: &Value, index: u64) -> usize {
    statement["predicate"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .position(|entry| entry["index"] == json!(index))
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------

#[test]
fn a_built_bundle_verifies_with_and_without_the_key() {
    let log = Log::new();
    let bundle = log.bundle();

    let report = verify_bundle(&bundle, Some(&log.verifier_key())).unwrap();
    assert!(report.key_trusted);
    assert_eq!(report.origin, ORIGIN);
    assert_eq!(report.verifier_key, VERIFIER_KEY);
    assert_eq!(report.entries, 5);
    assert_eq!(report.contents, 2);
    assert_eq!(report.span_entries, 3);
    assert_eq!(report.traces, 1);
    assert_eq!(report.subjects, 1);
    assert_eq!(report.checkpoint_size, SIZE);
    assert_eq!(report.checkpoint_root, hash_hex(&log.tree.root_at(SIZE).unwrap()));
    assert_eq!(report.consistent_with_size, Some(8));
    assert_eq!(report.exported_at, EXPORTED_AT);
    assert_eq!(report.principal["tenant"], "example");
    let pipeline: Vec<(u64, &str, Option<&str>, Option<&str>)> = report
        .pipeline_entries
        .iter()
        .map(|entry| {
            (
                entry.index,
                entry.entry_type.as_str(),
                entry.name.as_deref(),
                entry.version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        pipeline,
        vec![
            (0, "pipeline_version", Some("rag-bot"), Some("1.2.0")),
            (6, "deployment", None, None)
        ]
    );

    let untrusted = verify_bundle(&bundle, None).unwrap();
    assert!(!untrusted.key_trusted);
    assert_eq!(untrusted.entries, 5);
}

#[test]
fn the_statement_has_the_contract_shape() {
    let log = Log::new();
    let bundle = log.bundle();
    let envelope = envelope_of(&bundle);
    assert_eq!(envelope["payloadType"], PAYLOAD_TYPE);
    assert_eq!(envelope["signatures"][0]["keyid"], VERIFIER_KEY);
    let statement = statement_of(&bundle);
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://traceledger.dev/audit-bundle/v1");
    assert_eq!(statement["subject"][0]["name"], "output-0");
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(ANSWER.as_bytes()))
    );
    let predicate = &statement["predicate"];
    assert_eq!(predicate["version"], 1);
    assert_eq!(predicate["log"]["origin"], ORIGIN);
    assert_eq!(predicate["log"]["verifier_key"], VERIFIER_KEY);
    assert_eq!(predicate["checkpoint"], log.checkpoint(SIZE));
    let indexes: Vec<u64> = predicate["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, SELECTION);
    let entry_3 = &predicate["entries"][3];
    let proof = inclusion_proof(3, SIZE, log.tree.hashes()).unwrap();
    assert_eq!(
        entry_3["inclusion_proof"],
        json!(proof.iter().map(hash_hex).collect::<Vec<_>>())
    );
    let mut expected_tlog_proof = String::from("c2sp.org/tlog-proof@v1\nindex 3\n");
    for hash in &proof {
        expected_tlog_proof.push_str(&b64().encode(hash.0));
        expected_tlog_proof.push('\n');
    }
    expected_tlog_proof.push('\n');
    expected_tlog_proof.push_str(&log.checkpoint(SIZE));
    assert_eq!(entry_3["tlog_proof"], expected_tlog_proof);
    assert_eq!(predicate["outputs"][0]["entry_index"], 3);
    assert_eq!(predicate["outputs"][0]["commitment"], log.answer.commitment.sha256);
    assert_eq!(
        predicate["outside_selection"],
        json!([{"trace_id": TRACE_1, "span_id": UPSTREAM}])
    );
    assert_eq!(predicate["consistency"]["checkpoint"], log.checkpoint(8));

    // The payload is exactly the JCS of the statement, and the signature is over its PAE.
    let payload = b64().decode(envelope["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, serde_json_canonicalizer::to_vec(&statement).unwrap());
    let signature = log.key.sign(&pae(PAYLOAD_TYPE, &payload));
    assert_eq!(envelope["signatures"][0]["sig"], b64().encode(signature.to_bytes()));
}

#[test]
fn the_builder_refuses_what_would_not_verify() {
    let log = Log::new();
    // Dropping the chain span leaves its children without their parent.
    let error = build_bundle(log.input(&[0, 2, 3, 6], SIZE)).unwrap_err();
    assert!(matches!(
        error,
        BundleError::SelfCheck(VerifyError::IncompleteTree { .. })
    ));
    // A checkpoint for another size than the proofs.
    let mut input = log.input(&SELECTION, SIZE);
    input.tree_size = 8;
    assert!(matches!(
        build_bundle(input).unwrap_err(),
        BundleError::TreeSizeMismatch { expected: 8, found: 7 }
    ));
    // The same entry twice.
    assert!(matches!(
        build_bundle(log.input(&[1, 2, 3, 3], SIZE)).unwrap_err(),
        BundleError::DuplicateEntry(3)
    ));
    // A checkpoint by another key.
    let mut input = log.input(&SELECTION, SIZE);
    input.signing_key = SigningKey::from_bytes(&[0x99; 32]);
    assert!(matches!(build_bundle(input).unwrap_err(), BundleError::Checkpoint(_)));
}

#[test]
fn selections_that_leave_gaps_or_declare_parents_outside_verify() {
    let log = Log::new();
    // Dropping a leaf span in the middle of a consecutive run: 1, _, 3 are not neighbours,
    // so the chain check must not fire.
    let bundle = build_bundle(log.input(&[0, 1, 3, 4, 5, 6], SIZE)).unwrap();
    let report = verify_bundle(&bundle, Some(VERIFIER_KEY)).unwrap();
    assert_eq!((report.entries, report.span_entries, report.traces), (6, 4, 2));

    // Dropping the chain span is fine once the exporter says it left it out.
    let mut input = log.input(&[2, 3], SIZE);
    input
        .outside_selection
        .push((TRACE_1.to_owned(), SPAN_CHAIN.to_owned()));
    let bundle = build_bundle(input).unwrap();
    assert_eq!(verify_bundle(&bundle, Some(VERIFIER_KEY)).unwrap().entries, 2);

    // A bundle without outputs, contents or entries still verifies (nothing is claimed).
    // Its one subject is the (empty) selection: in-toto Statement v1 needs a subject.
    let bundle = build_bundle(log.bare_input(&[], SIZE)).unwrap();
    let report = verify_bundle(&bundle, Some(VERIFIER_KEY)).unwrap();
    assert_eq!((report.entries, report.subjects), (0, 1));
    let subject = &statement_of(&bundle)["subject"];
    assert_eq!(
        *subject,
        json!([{"name": "entries", "digest": {"sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"traceledger/audit-bundle/entries/v1\n"))}}])
    );
}

// ---------------------------------------------------------------------------------------
// Tampering: each case fails with the right error
// ---------------------------------------------------------------------------------------

type Expectation = Box<dyn Fn(&VerifyError) -> bool>;

fn expect(expected: VerifyError) -> Expectation {
    Box::new(move |error| *error == expected)
}

fn expect_code(code: &'static str) -> Expectation {
    Box::new(move |error| error.code() == code)
}

#[test]
fn every_tampering_fails_with_the_right_error() {
    let log = Log::new();
    let bundle = log.bundle();
    let other_key = SigningKey::from_bytes(&[0x99; 32]);
    let other_signer = LogSigner::new(ORIGIN, other_key.clone()).unwrap();
    let other_verifier_key = other_signer.verifier_key();
    let answer_sha256 = log.answer.commitment.sha256.clone();

    let mut cases: Vec<(&str, Vec<u8>, Option<&str>, Expectation)> = Vec::new();

    // --- envelope ------------------------------------------------------------------------
    cases.push((
        "payload byte flipped",
        alter_envelope(&bundle, |envelope| {
            let mut payload = b64().decode(envelope["payload"].as_str().unwrap()).unwrap();
            let middle = payload.len() / 2;
            payload[middle] ^= 0x01;
            envelope["payload"] = json!(b64().encode(payload));
        }),
        None,
        expect(VerifyError::BadEnvelopeSignature),
    ));
    cases.push((
        "signature byte flipped",
        alter_envelope(&bundle, |envelope| {
            let mut sig = b64()
                .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
                .unwrap();
            sig[10] ^= 0x80;
            envelope["signatures"][0]["sig"] = json!(b64().encode(sig));
        }),
        Some(VERIFIER_KEY),
        expect(VerifyError::BadEnvelopeSignature),
    ));
    cases.push((
        "payload type changed",
        alter_envelope(&bundle, |envelope| envelope["payloadType"] = json!("application/json")),
        None,
        expect(VerifyError::WrongPayloadType("application/json".into())),
    ));
    cases.push((
        "payload not canonical (signed as pretty JSON)",
        {
            let payload = serde_json::to_vec_pretty(&statement_of(&bundle)).unwrap();
            let signature = log.key.sign(&pae(PAYLOAD_TYPE, &payload));
            alter_envelope(&bundle, |envelope| {
                envelope["payload"] = json!(b64().encode(&payload));
                envelope["signatures"][0]["sig"] = json!(b64().encode(signature.to_bytes()));
            })
        },
        None,
        expect(VerifyError::PayloadNotCanonical),
    ));

    // --- the key -------------------------------------------------------------------------
    cases.push((
        "wrong --key",
        bundle.clone(),
        Some(other_verifier_key.as_str()),
        expect(VerifyError::UntrustedKey {
            found: VERIFIER_KEY.to_owned(),
        }),
    ));
    cases.push((
        "envelope re-signed by another key, predicate unchanged",
        sign_statement(&statement_of(&bundle), &other_key, &other_signer.verifier_key()).unwrap(),
        None,
        expect(VerifyError::KeyMismatch {
            expected: other_signer.verifier_key(),
            found: VERIFIER_KEY.to_owned(),
        }),
    ));
    let forged = {
        // A complete forgery by another key under the same origin: consistent in itself.
        let mut statement = statement_of(&bundle);
        let predicate = &mut statement["predicate"];
        predicate["log"]["verifier_key"] = json!(other_signer.verifier_key());
        let note = other_signer
            .sign_checkpoint(SIZE, &log.tree.root_at(SIZE).unwrap())
            .unwrap();
        predicate["checkpoint"] = json!(note);
        predicate["consistency"] = json!(null);
        if let Some(object) = predicate.as_object_mut() {
            object.remove("consistency");
        }
        for entry in predicate["entries"].as_array_mut().unwrap() {
            if let Some(object) = entry.as_object_mut() {
                object.remove("tlog_proof");
            }
        }
        sign_statement(&statement, &other_key, &other_signer.verifier_key()).unwrap()
    };
    assert!(
        !verify_bundle(&forged, None).unwrap().key_trusted,
        "a self-consistent forgery verifies only as untrusted"
    );
    cases.push((
        "self-consistent forgery by another key, checked with the real key",
        forged,
        Some(VERIFIER_KEY),
        expect(VerifyError::UntrustedKey {
            found: other_signer.verifier_key(),
        }),
    ));
    cases.push((
        "predicate names another verifier key",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["log"]["verifier_key"] = json!(other_signer.verifier_key());
        }),
        Some(VERIFIER_KEY),
        expect(VerifyError::UntrustedKey {
            found: other_signer.verifier_key(),
        }),
    ));

    // --- statement -----------------------------------------------------------------------
    cases.push((
        "wrong predicate type",
        alter_statement(&log, &bundle, |statement| {
            statement["predicateType"] = json!("https://slsa.dev/provenance/v1")
        }),
        None,
        expect(VerifyError::WrongPredicateType("https://slsa.dev/provenance/v1".into())),
    ));
    cases.push((
        "future version",
        alter_statement(&log, &bundle, |statement| statement["predicate"]["version"] = json!(2)),
        None,
        expect(VerifyError::UnsupportedVersion(2)),
    ));
    cases.push((
        "predicate member missing",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"].as_object_mut().unwrap().remove("entries");
        }),
        None,
        expect_code("statement_malformed"),
    ));

    // --- checkpoint ----------------------------------------------------------------------
    cases.push((
        "checkpoint signed by another key",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["checkpoint"] = json!(other_signer
                .sign_checkpoint(SIZE, &log.tree.root_at(SIZE).unwrap())
                .unwrap());
        }),
        Some(VERIFIER_KEY),
        expect_code("bad_checkpoint_signature"),
    ));
    cases.push((
        "checkpoint for another size",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["checkpoint"] = json!(log.checkpoint(8));
        }),
        Some(VERIFIER_KEY),
        expect(VerifyError::InclusionProofFailed { index: 0 }),
    ));
    cases.push((
        "checkpoint smaller than an entry's index",
        alter_statement(&log, &build_bundle(log.bare_input(&[6], SIZE)).unwrap(), |statement| {
            statement["predicate"]["checkpoint"] = json!(log.checkpoint(4));
        }),
        Some(VERIFIER_KEY),
        expect(VerifyError::EntryBeyondCheckpoint { index: 6, size: 4 }),
    ));
    cases.push((
        "predicate origin changed",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["log"]["origin"] = json!("traceledger.local/other")
        }),
        Some(VERIFIER_KEY),
        expect(VerifyError::OriginMismatch {
            expected: "traceledger.local/other".into(),
            found: ORIGIN.into(),
        }),
    ));

    // --- entries -------------------------------------------------------------------------
    cases.push((
        "entry bytes changed (canonical, re-signed)",
        alter_statement(&log, &bundle, |statement| {
            alter_entry_text(&mut statement["predicate"]["entries"][0], |text| {
                text.replace("rag-bot", "rag-bou")
            });
        }),
        Some(VERIFIER_KEY),
        expect(VerifyError::InclusionProofFailed { index: 0 }),
    ));
    cases.push((
        "entry bytes not canonical",
        alter_statement(&log, &bundle, |statement| {
            alter_entry_text(&mut statement["predicate"]["entries"][1], |text| {
                text.replacen("{\"body\":", "{ \"body\":", 1)
            });
        }),
        None,
        expect(VerifyError::EntryNotCanonical { index: 1 }),
    ));
    cases.push((
        "entry bytes of another log",
        alter_statement(&log, &bundle, |statement| {
            alter_entry_text(&mut statement["predicate"]["entries"][2], |text| {
                text.replace("traceledger.local/example", "traceledger.local/exampla")
            });
        }),
        None,
        expect(VerifyError::EntryWrongLog {
            index: 2,
            found: "traceledger.local/exampla".into(),
        }),
    ));
    cases.push((
        "entry listed under another index",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["entries"][4]["index"] = json!(5);
        }),
        None,
        expect(VerifyError::EntryIndexMismatch { index: 5, found: 6 }),
    ));
    cases.push((
        "inclusion proof hash changed",
        alter_statement(&log, &bundle, |statement| {
            let hash = &mut statement["predicate"]["entries"][3]["inclusion_proof"][1];
            *hash = json!(flip_hex_digit(hash.as_str().unwrap()));
        }),
        Some(VERIFIER_KEY),
        expect(VerifyError::InclusionProofFailed { index: 3 }),
    ));
    cases.push((
        "inclusion proof hash in upper case",
        alter_statement(&log, &bundle, |statement| {
            let hash = &mut statement["predicate"]["entries"][3]["inclusion_proof"][0];
            *hash = json!(hash.as_str().unwrap().to_uppercase());
        }),
        None,
        expect_code("field_malformed"),
    ));
    cases.push((
        "tlog_proof does not match",
        alter_statement(&log, &bundle, |statement| {
            let text = statement["predicate"]["entries"][2]["tlog_proof"]
                .as_str()
                .unwrap()
                .replace("index 2\n", "index 20\n");
            statement["predicate"]["entries"][2]["tlog_proof"] = json!(text);
        }),
        None,
        expect(VerifyError::TlogProofMismatch { index: 2 }),
    ));
    cases.push((
        "entries reordered",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["entries"].as_array_mut().unwrap().swap(1, 2);
        }),
        None,
        expect(VerifyError::DuplicateOrUnsortedEntry { index: 1 }),
    ));
    cases.push((
        "entry duplicated",
        alter_statement(&log, &bundle, |statement| {
            let entries = statement["predicate"]["entries"].as_array_mut().unwrap();
            let copy = entries[2].clone();
            entries.insert(2, copy);
        }),
        None,
        expect(VerifyError::DuplicateOrUnsortedEntry { index: 2 }),
    ));

    // --- contents ------------------------------------------------------------------------
    cases.push((
        "revealed content changed",
        alter_statement(&log, &bundle, |statement| {
            for content in statement["predicate"]["contents"].as_array_mut().unwrap() {
                if content["content"] == ANSWER {
                    content["content"] = json!("The answer is 43.");
                }
            }
        }),
        Some(VERIFIER_KEY),
        expect(VerifyError::ContentMismatch {
            sha256: answer_sha256.clone(),
        }),
    ));
    cases.push((
        "revealed content whose commitment no entry carries",
        alter_statement(&log, &bundle, |statement| {
            let stray = commit_with_salt("stray".into(), [0x33; 32]);
            statement["predicate"]["contents"].as_array_mut().unwrap().push(json!({
                "sha256": stray.commitment.sha256, "salt": b64().encode(stray.salt), "content": "stray"
            }));
        }),
        None,
        expect(VerifyError::ContentNotCommitted {
            sha256: commit_with_salt("stray".into(), [0x33; 32]).commitment.sha256,
        }),
    ));
    cases.push((
        "revealed content whose entry is not in the bundle",
        alter_statement(&log, &bundle, |statement| {
            let position = entry_position(statement, 3);
            statement["predicate"]["entries"]
                .as_array_mut()
                .unwrap()
                .remove(position);
        }),
        None,
        Box::new(|error| matches!(error, VerifyError::ContentNotCommitted { .. })),
    ));

    // --- trees ---------------------------------------------------------------------------
    cases.push((
        "entry a child span needs is dropped",
        alter_statement(&log, &bundle, |statement| {
            let position = entry_position(statement, 1);
            statement["predicate"]["entries"]
                .as_array_mut()
                .unwrap()
                .remove(position);
        }),
        Some(VERIFIER_KEY),
        expect(VerifyError::IncompleteTree {
            trace_id: TRACE_1.into(),
            span_id: SPAN_RETRIEVAL.into(),
            missing_parent: SPAN_CHAIN.into(),
        }),
    ));
    cases.push((
        "outside_selection emptied",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["outside_selection"] = json!([]);
        }),
        None,
        expect(VerifyError::IncompleteTree {
            trace_id: TRACE_1.into(),
            span_id: SPAN_CHAIN.into(),
            missing_parent: UPSTREAM.into(),
        }),
    ));

    // --- outputs and subjects ------------------------------------------------------------
    let selection = build_bundle(log.bare_input(&[0, 1], SIZE)).unwrap();
    assert_eq!(statement_of(&selection)["subject"][0]["name"], "entries");
    cases.push((
        "entries subject digest changed",
        alter_statement(&log, &selection, |statement| {
            let digest = &mut statement["subject"][0]["digest"]["sha256"];
            *digest = json!(flip_hex_digit(digest.as_str().unwrap()));
        }),
        Some(VERIFIER_KEY),
        expect_code("entries_subject_mismatch"),
    ));
    cases.push((
        "entry dropped under the entries subject",
        alter_statement(&log, &selection, |statement| {
            statement["predicate"]["entries"].as_array_mut().unwrap().pop();
        }),
        Some(VERIFIER_KEY),
        expect_code("entries_subject_mismatch"),
    ));
    cases.push((
        "subject digest does not match",
        alter_statement(&log, &bundle, |statement| {
            let digest = &mut statement["subject"][0]["digest"]["sha256"];
            *digest = json!(flip_hex_digit(digest.as_str().unwrap()));
        }),
        Some(VERIFIER_KEY),
        Box::new(|error| matches!(error, VerifyError::SubjectNotCommitted { .. })),
    ));
    cases.push((
        "output text changed",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["outputs"][0]["text"] = json!("The answer is 43.");
        }),
        None,
        expect_code("output_not_committed"),
    ));
    cases.push((
        "output attributed to an entry that does not commit it",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["outputs"][0]["entry_index"] = json!(2);
        }),
        None,
        expect_code("output_not_committed"),
    ));
    cases.push((
        "output attributed to a content that does not contain it",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["outputs"][0]["commitment"] = json!(log.question.commitment.sha256);
        }),
        None,
        expect_code("output_not_committed"),
    ));

    // --- consistency ---------------------------------------------------------------------
    cases.push((
        "consistency proof hash changed",
        alter_statement(&log, &bundle, |statement| {
            let hash = &mut statement["predicate"]["consistency"]["proof"][0];
            *hash = json!(flip_hex_digit(hash.as_str().unwrap()));
        }),
        Some(VERIFIER_KEY),
        expect_code("consistency_failed"),
    ));
    cases.push((
        "consistency checkpoint signed by another key",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["consistency"]["checkpoint"] =
                json!(other_signer.sign_checkpoint(8, &log.tree.root_at(8).unwrap()).unwrap());
        }),
        Some(VERIFIER_KEY),
        expect_code("consistency_checkpoint_invalid"),
    ));
    cases.push((
        "consistency to an older checkpoint",
        alter_statement(&log, &bundle, |statement| {
            statement["predicate"]["consistency"]["checkpoint"] = json!(log.checkpoint(5));
        }),
        None,
        expect_code("consistency_failed"),
    ));

    let mut failures = Vec::new();
    for (name, bytes, trusted_key, expected) in &cases {
        match verify_bundle(bytes, *trusted_key) {
            Ok(_) => failures.push(format!("{name}: verified")),
            Err(error) if expected(&error) => {}
            Err(error) => failures.push(format!("{name}: wrong error {error:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A poor man's fuzzer for machines without cargo-fuzz (`fuzz/` has the real target):
/// random byte changes, in the envelope and — re-signed, so they reach the deeper checks —
/// in the payload and in entry bytes, must give errors, never panics.
#[test]
fn random_corruption_never_panics() {
    let log = Log::new();
    let bundle = log.bundle();
    let payload = serde_json_canonicalizer::to_vec(&statement_of(&bundle)).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |bound: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % bound
    };
    for round in 0..150 {
        let mut envelope_bytes = bundle.clone();
        let position = next(envelope_bytes.len());
        envelope_bytes[position] = next(256) as u8;
        let _ = verify_bundle(&envelope_bytes, None);

        let mut payload_bytes = payload.clone();
        for _ in 0..=round % 3 {
            let position = next(payload_bytes.len());
            payload_bytes[position] = next(256) as u8;
        }
        let signature = log.key.sign(&pae(PAYLOAD_TYPE, &payload_bytes));
        let resigned = alter_envelope(&bundle, |envelope| {
            envelope["payload"] = json!(b64().encode(&payload_bytes));
            envelope["signatures"][0]["sig"] = json!(b64().encode(signature.to_bytes()));
        });
        // Mostly errors; a change in an unchecked place (an unknown member's name, the
        // export time) may still verify. Either way: no panic.
        let _ = verify_bundle(&resigned, None);

        let entry = next(SELECTION.len());
        let altered = alter_statement(&log, &bundle, |statement| {
            let item = &mut statement["predicate"]["entries"][entry];
            let mut bytes = b64().decode(item["entry_bytes"].as_str().unwrap()).unwrap();
            let position = next(bytes.len());
            bytes[position] = next(256) as u8;
            item["entry_bytes"] = json!(b64().encode(&bytes));
        });
        let _ = verify_bundle(&altered, Some(VERIFIER_KEY));
    }
}

// ---------------------------------------------------------------------------------------
// The hash chain, on a log whose operator broke it
// ---------------------------------------------------------------------------------------

/// Three span entries of TRACE_1 encoded by hand; entry `bad_index` gets a wrong `prev`.
/// The tree and checkpoint are honest about those bytes, so only the chain check can tell.
fn log_with_broken_chain(bad_index: u64) -> (LogSigner, SigningKey, Vec<(Vec<u8>, Hash)>, MemoryTree) {
    let key = SigningKey::from_bytes(&SEED);
    let signer = LogSigner::new(ORIGIN, key.clone()).unwrap();
    let bodies = [
        span_body(TRACE_1, SPAN_CHAIN, None, "rag", "chain", json!({})),
        span_body(
            TRACE_1,
            SPAN_RETRIEVAL,
            Some(SPAN_CHAIN),
            "retrieve",
            "retrieval",
            json!({}),
        ),
        span_body(
            TRACE_1,
            SPAN_GENERATION,
            Some(SPAN_CHAIN),
            "chat",
            "generation",
            json!({}),
        ),
    ];
    let mut tree = MemoryTree::new();
    let mut entries = Vec::new();
    let mut previous: Option<Hash> = None;
    for (index, body) in bodies.iter().enumerate() {
        let index = index as u64;
        let prev = if index == bad_index {
            "ab".repeat(32)
        } else {
            hash_hex(&previous.unwrap_or(Hash([0; 32])))
        };
        let bytes = EntryRef {
            v: 1,
            log: ORIGIN,
            index,
            prev: &prev,
            entry_type: "span",
            time: TIME,
            body,
        }
        .to_canonical_bytes()
        .unwrap();
        let leaf = leaf_hash(&bytes);
        tree.append(leaf).unwrap();
        previous = Some(leaf);
        entries.push((bytes, leaf));
    }
    (signer, key, entries, tree)
}

fn chain_bundle(bad_index: u64, selection: &[u64], outside: &[&str]) -> Vec<u8> {
    let (signer, key, entries, tree) = log_with_broken_chain(bad_index);
    let size = entries.len() as u64;
    let input = BundleInput {
        origin: ORIGIN.to_owned(),
        signing_key: key.clone(),
        checkpoint_note: signer.sign_checkpoint(size, &tree.root_at(size).unwrap()).unwrap(),
        tree_size: size,
        entries: selection
            .iter()
            .map(|index| {
                (
                    *index,
                    entries[*index as usize].0.clone(),
                    inclusion_proof(*index, size, tree.hashes()).unwrap(),
                )
            })
            .collect(),
        contents: Vec::new(),
        outputs: Vec::new(),
        outside_selection: outside
            .iter()
            .map(|span| (TRACE_1.to_owned(), span.to_string()))
            .collect(),
        consistency: None,
        query: json!({"trace_id": TRACE_1}),
        exported_at: EXPORTED_AT.to_owned(),
        principal: json!({"tenant": "example", "key_id": "0a1b2c3d"}),
    };
    // The builder refuses to produce a bundle that fails; build the statement and sign it.
    let statement = build_statement(&input).unwrap();
    sign_statement(&statement, &key, &signer.verifier_key()).unwrap()
}

#[test]
fn a_broken_prev_link_between_neighbours_fails() {
    assert_eq!(
        verify_bundle(&chain_bundle(1, &[0, 1, 2], &[]), Some(VERIFIER_KEY)),
        Err(VerifyError::BrokenChain { index: 1 })
    );
    assert_eq!(
        verify_bundle(&chain_bundle(2, &[1, 2], &[]), Some(VERIFIER_KEY)),
        Err(VerifyError::BrokenChain { index: 2 })
    );
    assert_eq!(
        verify_bundle(&chain_bundle(0, &[0], &[]), Some(VERIFIER_KEY)),
        Err(VerifyError::BrokenChain { index: 0 })
    );
}

#[test]
fn a_gap_in_the_selection_is_not_a_broken_chain() {
    // Entry 1's prev is wrong, but neither of its neighbours is in the bundle.
    let report = verify_bundle(&chain_bundle(1, &[0, 2], &[]), Some(VERIFIER_KEY)).unwrap();
    assert_eq!(report.entries, 2);
    // Entry 2's prev is wrong, but entry 1 is not in the bundle.
    let report = verify_bundle(&chain_bundle(2, &[0, 2], &[]), Some(VERIFIER_KEY)).unwrap();
    assert_eq!(report.entries, 2);
    // And an honest chain verifies whole.
    assert!(verify_bundle(&chain_bundle(9, &[0, 1, 2], &[]), Some(VERIFIER_KEY)).is_ok());
}

// ---------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------

fn run_verify(arguments: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_traceledger"))
        .arg("verify")
        .args(arguments)
        .env("TRACELEDGER_LOG", "off")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn the_cli_verifies_offline_and_names_the_first_failure() {
    let log = Log::new();
    let directory = tempfile::tempdir().unwrap();
    let good = directory.path().join("bundle.json");
    std::fs::write(&good, log.bundle()).unwrap();
    let good = good.to_str().unwrap();

    let (code, stdout) = run_verify(&[good]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with(
            "bundle OK: 5 entries, 2 contents, 1 traces whole, 1 subjects, checkpoint size 7, key UNTRUSTED (pass --key)\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("pipeline_version #0 rag-bot 1.2.0"), "{stdout}");

    let (code, stdout) = run_verify(&[good, "--key", VERIFIER_KEY]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("checkpoint size 7, key trusted\n"), "{stdout}");

    let (code, stdout) = run_verify(&[good, "--key", VERIFIER_KEY, "--json"]);
    assert_eq!(code, 0, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["entries"], 5);
    assert_eq!(report["key_trusted"], true);
    assert_eq!(report["consistent_with_size"], 8);
    assert_eq!(report["pipeline_entries"][0]["name"], "rag-bot");

    let tampered = directory.path().join("tampered.json");
    let bytes = alter_statement(&log, &log.bundle(), |statement| {
        let hash = &mut statement["predicate"]["entries"][3]["inclusion_proof"][0];
        *hash = json!(flip_hex_digit(hash.as_str().unwrap()));
    });
    std::fs::write(&tampered, bytes).unwrap();
    let tampered = tampered.to_str().unwrap();
    let (code, stdout) = run_verify(&[tampered, "--key", VERIFIER_KEY]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(stdout, "bundle INVALID: inclusion proof of entry 3 does not verify\n");

    let (code, stdout) = run_verify(&[tampered, "--json"]);
    assert_eq!(code, 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["error"]["code"], "inclusion_proof_failed");

    let other_key = LogSigner::new(ORIGIN, SigningKey::from_bytes(&[0x99; 32]))
        .unwrap()
        .verifier_key();
    let (code, stdout) = run_verify(&[good, "--key", &other_key]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("bundle INVALID: bundle key "), "{stdout}");

    let missing = directory.path().join("missing.json");
    let (code, stdout) = run_verify(&[missing.to_str().unwrap(), "--json"]);
    assert_eq!(code, 2);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["error"]["code"], "unreadable_file");
}

// ---------------------------------------------------------------------------------------
// The frozen example
// ---------------------------------------------------------------------------------------

fn vector_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bundle-vectors/example-bundle.json")
}

/// The checked-in example must keep verifying: a bundle handed to an auditor today has to
/// verify with every later version of `traceledger verify`.
#[test]
fn the_frozen_example_bundle_still_verifies() {
    let bytes = std::fs::read(vector_path()).unwrap();
    let report = verify_bundle(&bytes, Some(VERIFIER_KEY)).unwrap();
    assert_eq!(
        (
            report.entries,
            report.contents,
            report.span_entries,
            report.traces,
            report.subjects,
            report.checkpoint_size,
            report.consistent_with_size
        ),
        (5, 2, 3, 1, 1, 7, Some(8))
    );
    assert!(report.key_trusted);
}

/// The builder still writes the example byte for byte (fixed key, salts, times; Ed25519
/// signatures are deterministic). Regenerate after a deliberate format change with
/// `TRACELEDGER_REGENERATE_BUNDLE_VECTORS=1 cargo test --test bundle`.
#[test]
fn the_builder_reproduces_the_example_bundle() {
    let bytes = Log::new().bundle();
    if std::env::var_os("TRACELEDGER_REGENERATE_BUNDLE_VECTORS").is_some() {
        std::fs::write(vector_path(), &bytes).unwrap();
    }
    let frozen = std::fs::read(vector_path()).unwrap();
    assert!(
        frozen == bytes,
        "the builder's output changed; if deliberate, regenerate the vector (see the test's doc)"
    );
}

#[test]
fn the_example_log_is_what_the_docs_say() {
    let log = Log::new();
    assert_eq!(log.verifier_key(), VERIFIER_KEY);
    let types: HashMap<u64, String> = log
        .sealed
        .iter()
        .map(|sealed| (sealed.index, sealed.entry_type.clone()))
        .collect();
    assert_eq!(types[&0], "pipeline_version");
    assert_eq!(types[&6], "deployment");
    assert_eq!(log.tree.size(), 8);
}
