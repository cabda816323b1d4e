//! The ledger core against public test vectors (see `tests/vectors/README.md`):
//!
//! * transparency-dev/merkle (Apache-2.0): every inclusion and consistency proof vector,
//!   positive and negative, through `ledger::merkle::verify_inclusion` and
//!   `ledger::merkle::verify_consistency`;
//! * golang.org/x/mod/sumdb/note (BSD): the `PeterNeumann` signed-note vector, signed by
//!   `ledger::checkpoint::LogSigner` and verified by `signed_note`, plus a checkpoint
//!   round trip through `ledger::checkpoint::verify_checkpoint`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use serde_json::Value;
use signed_note::{Note, StandardVerifier, VerifierList};
use traceledger::ledger::checkpoint::{verify_checkpoint, LogSigner};
use traceledger::ledger::merkle::{verify_consistency, verify_inclusion};
use traceledger::ledger::{hash_from_slice, Hash};

/// Vectors where our result knowingly differs from the reference's `wantErr`, with the
/// reason. Each entry must still diverge (the test fails if it starts to agree, so the
/// list cannot go stale), and nothing else may.
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[(
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
    "root1 = root2 = base64 of the 12 bytes \"don't care 2\"; the Go reference compares \
     roots as byte strings of any length when size1 == size2, so it accepts them. \
     traceledger hashes are [u8; 32], so a 12-byte root is an input error here. The \
     intent (equal sizes, empty proof, equal roots => ok) is checked with 32-byte roots.",
)];

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/transparency-dev-merkle/testdata")
}

/// All `*.json` files below `dir`, recursively, sorted (std::fs only).
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries =
            fs::read_dir(&current).unwrap_or_else(|error| panic!("cannot read {}: {error}", current.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Path relative to `testdata/`, with '/' separators, for messages and the divergence list.
fn relative(path: &Path) -> String {
    let rel = path.strip_prefix(testdata()).expect("file below testdata");
    rel.components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

fn field_u64(vector: &Value, name: &str, file: &str) -> u64 {
    vector[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{file}: field {name} is not a u64"))
}

fn field_str<'a>(vector: &'a Value, name: &str, file: &str) -> &'a str {
    vector[name]
        .as_str()
        .unwrap_or_else(|| panic!("{file}: field {name} is not a string"))
}

/// A base64 hash. Anything that does not decode to exactly 32 bytes is an input error.
fn decode_hash(text: &str) -> Result<Hash, String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|error| format!("bad base64 {text:?}: {error}"))?;
    hash_from_slice(&bytes).ok_or_else(|| format!("{text:?} decodes to {} bytes, not 32", bytes.len()))
}

/// The `proof` field: a list of base64 hashes, or `null` for an empty proof (Go nil slice).
fn decode_proof(vector: &Value, file: &str) -> Result<Vec<Hash>, String> {
    match &vector["proof"] {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                decode_hash(
                    item.as_str()
                        .unwrap_or_else(|| panic!("{file}: proof item not a string")),
                )
            })
            .collect(),
        other => panic!("{file}: proof is neither a list nor null: {other}"),
    }
}

/// Tally of one vector directory.
#[derive(Default)]
struct Tally {
    checked: usize,
    /// Files per immediate subdirectory (`0`, `1`, ..., `additional`, `single-entry`).
    per_subdir: BTreeMap<String, usize>,
    want_ok: usize,
    want_err: usize,
    /// Of the expected errors, how many were already input (decoding) errors.
    input_errors: usize,
    diverged_as_documented: Vec<String>,
    failures: Vec<String>,
}

/// Runs every vector of `category` through `check`, which returns the outcome
/// (`Err` = rejected, with the reason) and whether it came from decoding.
fn run_category(category: &str, check: impl Fn(&Value, &str) -> (Result<(), String>, bool)) -> Tally {
    let dir = testdata().join(category);
    let mut tally = Tally::default();
    for path in json_files(&dir) {
        let file = relative(&path);
        let vector = read_json(&path);
        let want_err = vector["wantErr"]
            .as_bool()
            .unwrap_or_else(|| panic!("{file}: wantErr is not a bool"));
        let desc = vector["desc"].as_str().unwrap_or("");
        let (outcome, from_decoding) = check(&vector, &file);

        tally.checked += 1;
        let subdir = file.split('/').nth(1).unwrap_or("").to_owned();
        *tally.per_subdir.entry(subdir).or_default() += 1;
        if want_err {
            tally.want_err += 1;
            if from_decoding {
                tally.input_errors += 1;
            }
        } else {
            tally.want_ok += 1;
        }

        let documented = KNOWN_DIVERGENCES.iter().find(|(name, _)| *name == file);
        let agrees = outcome.is_err() == want_err;
        match (agrees, documented) {
            (true, None) => {}
            (false, Some(_)) => tally.diverged_as_documented.push(file),
            (true, Some(_)) => tally.failures.push(format!(
                "{file} ({desc}): listed in KNOWN_DIVERGENCES but now agrees with wantErr={want_err}; \
                 remove it from the list"
            )),
            (false, None) => tally.failures.push(format!(
                "{file} ({desc}): wantErr={want_err}, got {}",
                match &outcome {
                    Ok(()) => "Ok".to_owned(),
                    Err(reason) => format!("Err({reason})"),
                }
            )),
        }
    }
    tally
}

fn report(category: &str, tally: &Tally) {
    eprintln!(
        "{category}: {} vectors checked ({} want ok, {} want err, {} of those rejected at decoding), \
         per subdirectory {:?}, documented divergences {:?}",
        tally.checked,
        tally.want_ok,
        tally.want_err,
        tally.input_errors,
        tally.per_subdir,
        tally.diverged_as_documented
    );
    assert!(tally.checked > 0, "no {category} vectors found: the walk found nothing");
    assert!(tally.per_subdir.values().all(|count| *count > 0));
    assert!(
        tally.want_ok > 0 && tally.want_err > 0,
        "{category}: need both positive and negative vectors"
    );
    assert!(
        tally.failures.is_empty(),
        "{} of {} {category} vectors failed:\n{}",
        tally.failures.len(),
        tally.checked,
        tally.failures.join("\n")
    );
}

#[test]
fn transparency_dev_inclusion_vectors() {
    let tally = run_category("inclusion", |vector, file| {
        let index = field_u64(vector, "leafIdx", file);
        let tree_size = field_u64(vector, "treeSize", file);
        let decoded = (|| {
            let root = decode_hash(field_str(vector, "root", file))?;
            let leaf_hash = decode_hash(field_str(vector, "leafHash", file))?;
            let proof = decode_proof(vector, file)?;
            Ok::<_, String>((root, leaf_hash, proof))
        })();
        match decoded {
            Err(reason) => (Err(format!("input: {reason}")), true),
            Ok((root, leaf_hash, proof)) => (
                verify_inclusion(index, tree_size, &leaf_hash, &proof, &root).map_err(|error| error.to_string()),
                false,
            ),
        }
    });
    report("inclusion", &tally);
    // Every subdirectory of testdata/inclusion contributed vectors.
    for subdir in ["0", "1", "2", "3", "4", "additional", "single-entry"] {
        assert!(
            tally.per_subdir.get(subdir).copied().unwrap_or(0) > 0,
            "inclusion/{subdir} is empty"
        );
    }
}

#[test]
fn transparency_dev_consistency_vectors() {
    let tally = run_category("consistency", |vector, file| {
        let first = field_u64(vector, "size1", file);
        let second = field_u64(vector, "size2", file);
        let decoded = (|| {
            let first_root = decode_hash(field_str(vector, "root1", file))?;
            let second_root = decode_hash(field_str(vector, "root2", file))?;
            let proof = decode_proof(vector, file)?;
            Ok::<_, String>((first_root, second_root, proof))
        })();
        match decoded {
            Err(reason) => (Err(format!("input: {reason}")), true),
            Ok((first_root, second_root, proof)) => (
                verify_consistency(first, second, &first_root, &second_root, &proof).map_err(|error| error.to_string()),
                false,
            ),
        }
    });
    report("consistency", &tally);
    for subdir in ["0", "1", "2", "3", "4", "additional"] {
        assert!(
            tally.per_subdir.get(subdir).copied().unwrap_or(0) > 0,
            "consistency/{subdir} is empty"
        );
    }
    assert_eq!(
        tally.diverged_as_documented,
        KNOWN_DIVERGENCES
            .iter()
            .map(|(name, _)| name.to_string())
            .collect::<Vec<_>>(),
        "every documented divergence must still be present"
    );

    // The intent of the divergent vector, with representable (32-byte) roots: equal sizes,
    // empty proof and equal roots verify; unequal roots or a non-empty proof do not.
    let root = Hash([0x5a; 32]);
    let other = Hash([0xa5; 32]);
    assert!(verify_consistency(1, 1, &root, &root, &[]).is_ok());
    assert!(verify_consistency(1, 1, &root, &other, &[]).is_err());
    assert!(verify_consistency(1, 1, &root, &root, &[root]).is_err());
}

/// `subtreeinclusion/` and `subtreeconsistency/` test the subtree proof APIs of
/// transparency-dev/merkle (`VerifySubtreeInclusion`, `VerifySubtreeConsistency`: a
/// subtree `[start, end)` instead of a whole tree), which traceledger does not have. They
/// are skipped; this test checks that they really use that other schema (`start`, `end`,
/// and no `treeSize` / `size1` / `size2`), so no plain vector hides among them.
#[test]
fn subtree_directories_use_the_subtree_schema() {
    for (category, forbidden) in [
        ("subtreeinclusion", &["treeSize"][..]),
        ("subtreeconsistency", &["size1", "size2"][..]),
    ] {
        let files = json_files(&testdata().join(category));
        assert!(!files.is_empty(), "no {category} vectors found");
        for path in &files {
            let vector = read_json(path);
            let file = relative(path);
            assert!(
                vector.get("start").is_some() && vector.get("end").is_some(),
                "{file}: expected the subtree schema (start, end)"
            );
            for name in forbidden {
                assert!(
                    vector.get(*name).is_none(),
                    "{file}: has {name}, the plain-proof schema"
                );
            }
        }
        eprintln!(
            "{category}: {} files confirmed as subtree-API vectors, skipped",
            files.len()
        );
    }
}

/// The Go sumdb/note vector (see `tests/vectors/sumdb-note.json`).
struct NoteVector {
    verifier_key: String,
    signer_key: String,
    key_name: String,
    key_hash: u32,
    text: String,
    signature_line: String,
}

fn note_vector() -> NoteVector {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/sumdb-note.json");
    let json = read_json(&path);
    let get = |name: &str| {
        json[name]
            .as_str()
            .unwrap_or_else(|| panic!("sumdb-note.json: {name}"))
            .to_owned()
    };
    NoteVector {
        verifier_key: get("verifier_key"),
        signer_key: get("signer_key"),
        key_name: get("key_name"),
        key_hash: u32::from_str_radix(&get("key_hash"), 16).expect("hex key hash"),
        text: get("text"),
        signature_line: get("signature_line"),
    }
}

/// `PRIVATE+KEY+<name>+<hex8>+base64(0x01 || seed)` -> (name, key hash, seed).
fn parse_signer_key(skey: &str) -> (String, u32, [u8; 32]) {
    // The base64 part may itself contain '+', so split into at most five fields.
    let parts: Vec<&str> = skey.splitn(5, '+').collect();
    assert_eq!(parts.len(), 5, "signer key has five '+'-separated fields");
    assert_eq!(&parts[..2], &["PRIVATE", "KEY"]);
    let key_hash = u32::from_str_radix(parts[3], 16).expect("hex key hash");
    let encoded = STANDARD.decode(parts[4]).expect("base64 key");
    assert_eq!(encoded.len(), 33, "0x01 || 32-byte seed");
    assert_eq!(encoded[0], 0x01, "algorithm byte: Ed25519");
    let seed: [u8; 32] = encoded[1..].try_into().unwrap();
    (parts[2].to_owned(), key_hash, seed)
}

fn peter_signer(vector: &NoteVector) -> LogSigner {
    let (name, key_hash, seed) = parse_signer_key(&vector.signer_key);
    assert_eq!(name, vector.key_name);
    assert_eq!(key_hash, vector.key_hash);
    LogSigner::new(&name, SigningKey::from_bytes(&seed)).expect("valid key name")
}

fn peter_verifiers(vector: &NoteVector) -> VerifierList {
    VerifierList::new(vec![Box::new(
        StandardVerifier::new(&vector.verifier_key).expect("verifier key"),
    )])
}

#[test]
fn sumdb_note_signing_reproduces_reference_signature() {
    let vector = note_vector();
    let signer = peter_signer(&vector);
    assert_eq!(signer.verifier_key(), vector.verifier_key);
    assert_eq!(signed_note::Signer::key_id(&signer), vector.key_hash);

    let mut note = Note::new(vector.text.as_bytes(), &[]).expect("note text");
    note.add_sigs(&[&signer]).expect("sign");
    let bytes = note.to_bytes();
    let expected_tail = format!("{}\n", vector.signature_line);
    assert!(
        bytes.ends_with(expected_tail.as_bytes()),
        "signed note does not end with the reference signature line:\n{}",
        String::from_utf8_lossy(&bytes)
    );
    // Whole note: text, blank line, exactly one signature line.
    assert_eq!(bytes, format!("{}\n{}", vector.text, expected_tail).into_bytes());
}

#[test]
fn sumdb_note_reference_note_verifies_and_tampering_fails() {
    let vector = note_vector();
    let message = format!("{}\n{}\n", vector.text, vector.signature_line);
    let verifiers = peter_verifiers(&vector);

    let note = Note::from_bytes(message.as_bytes()).expect("reference note parses");
    let (verified, unverified) = note.verify(&verifiers).expect("reference note verifies");
    assert_eq!(verified.len(), 1);
    assert!(unverified.is_empty());
    assert_eq!(verified[0].name(), vector.key_name);
    assert_eq!(verified[0].id(), vector.key_hash);
    assert_eq!(note.text(), vector.text.as_bytes());

    // Flip one character of the text ("cryptography" -> "Cryptography").
    let tampered = message.replacen("cryptography", "Cryptography", 1);
    assert_ne!(tampered, message);
    let tampered_note = Note::from_bytes(tampered.as_bytes()).expect("tampered note still parses");
    assert!(
        tampered_note.verify(&verifiers).is_err(),
        "tampered text must not verify"
    );

    // And flipping a character of the signature fails too.
    let bad_sig = message.replacen("x08go", "x08gp", 1);
    let bad_sig_note = Note::from_bytes(bad_sig.as_bytes()).expect("parses");
    assert!(
        bad_sig_note.verify(&verifiers).is_err(),
        "altered signature must not verify"
    );
}

#[test]
fn checkpoint_round_trip_and_wrong_keys() {
    // A real tree from the transparency-dev vectors: size 8 and its root.
    let vector = read_json(&testdata().join("inclusion/1/happy-path.json"));
    let size = vector["treeSize"].as_u64().unwrap();
    let root = decode_hash(vector["root"].as_str().unwrap()).unwrap();
    assert_eq!(size, 8);

    let key = SigningKey::from_bytes(&[42u8; 32]);
    let signer = LogSigner::new("traceledger.local/acme", key.clone()).unwrap();
    let note = signer.sign_checkpoint(size, &root).unwrap();

    let verified = verify_checkpoint(&note, &signer.verifier_key()).expect("own checkpoint verifies");
    assert_eq!(verified.origin, "traceledger.local/acme");
    assert_eq!(verified.size, size);
    assert_eq!(verified.root, root);

    // Against the PeterNeumann verifier key: another key name and key.
    let peter = note_vector();
    assert!(verify_checkpoint(&note, &peter.verifier_key).is_err());

    // The same key signing under another origin: unknown key name for acme's verifier key.
    let other = LogSigner::new("traceledger.local/other", key.clone()).unwrap();
    let other_note = other.sign_checkpoint(size, &root).unwrap();
    assert!(verify_checkpoint(&other_note, &signer.verifier_key()).is_err());
    assert!(verify_checkpoint(&other_note, &other.verifier_key()).is_ok());

    // A validly signed note by acme's key whose checkpoint names another origin.
    let foreign_text = format!("traceledger.local/other\n{size}\n{}\n", STANDARD.encode(root.0));
    let mut foreign = Note::new(foreign_text.as_bytes(), &[]).unwrap();
    foreign.add_sigs(&[&signer]).unwrap();
    let foreign = String::from_utf8(foreign.to_bytes()).unwrap();
    assert!(verify_checkpoint(&foreign, &signer.verifier_key()).is_err());

    // Altering the size breaks the signature.
    let altered = note.replacen("\n8\n", "\n9\n", 1);
    assert_ne!(altered, note);
    assert!(verify_checkpoint(&altered, &signer.verifier_key()).is_err());
}
