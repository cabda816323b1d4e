//! Produces the worked example of `docs/formats.md` with the real code: run
//! `cargo run --example worked_example` and compare with the document.
//!
//! Everything is fixed so that the output is reproducible byte for byte: the Ed25519
//! key (seed = 32 bytes of 0x07; Ed25519 signatures are deterministic), the origin, the
//! sealing time, the spans and the content salt (32 zero bytes — real commitments use a
//! fresh random salt per content item).

use std::collections::HashMap;

use base64::Engine;
use ed25519_dalek::SigningKey;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use sha2::{Digest, Sha256};

use traceledger::ingest::normalize::{normalize_span, SpanContext};
use traceledger::ingest::ContentSink;
use traceledger::ledger::batch::{seal_batch, LogHead, PendingEntry};
use traceledger::ledger::checkpoint::{verify_checkpoint, LogSigner};
use traceledger::ledger::commitment::commit_with_salt;
use traceledger::ledger::{hash_hex, merkle, Hash};

const ORIGIN: &str = "traceledger.local/example";
const TIME: &str = "2026-01-02T03:04:05.000000Z";

fn string_attribute(key: &str, text: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(text.to_owned())),
        }),
        ..Default::default()
    }
}

fn int_attribute(key: &str, number: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(number)),
        }),
        ..Default::default()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base64 = base64::engine::general_purpose::STANDARD;

    // --- Key and verifier key -------------------------------------------------------
    let signing_key = SigningKey::from_bytes(&[0x07; 32]);
    let public_key = signing_key.verifying_key();
    let signer = LogSigner::new(ORIGIN, signing_key.clone())?;
    let mut key_hash_input = Vec::new();
    key_hash_input.extend_from_slice(ORIGIN.as_bytes());
    key_hash_input.push(0x0a);
    key_hash_input.push(0x01);
    key_hash_input.extend_from_slice(public_key.as_bytes());
    let key_hash_digest = Sha256::digest(&key_hash_input);
    println!("== key");
    println!("seed (hex)         {}", hex::encode([0x07u8; 32]));
    println!("public key (hex)   {}", hex::encode(public_key.as_bytes()));
    println!(
        "SHA-256(name || 0x0A || 0x01 || pubkey) = {}",
        hex::encode(key_hash_digest)
    );
    println!("key hash (hex)     {}", hex::encode(&key_hash_digest[..4]));
    println!("verifier key       {}", signer.verifier_key());

    // --- Two spans, normalized by the real ingest code --------------------------------
    let resource = Resource {
        attributes: vec![string_attribute("service.name", "example-app")],
        ..Default::default()
    };
    let context = SpanContext {
        resource: Some(&resource),
        resource_schema_url: "",
        scope: None,
        scope_schema_url: "",
    };
    let chat = Span {
        trace_id: vec![0x11; 16],
        span_id: vec![0x22; 8],
        name: "chat".to_owned(),
        kind: 3, // SPAN_KIND_CLIENT
        start_time_unix_nano: 1_767_323_045_000_000_000,
        end_time_unix_nano: 1_767_323_045_250_000_000,
        attributes: vec![
            string_attribute("gen_ai.operation.name", "chat"),
            string_attribute("gen_ai.request.model", "gpt-4o-mini"),
            int_attribute("gen_ai.usage.input_tokens", 3),
            string_attribute("input.value", "abc"),
        ],
        ..Default::default()
    };
    let tool = Span {
        trace_id: vec![0x11; 16],
        span_id: vec![0x33; 8],
        parent_span_id: vec![0x22; 8],
        name: "lookup".to_owned(),
        kind: 1, // SPAN_KIND_INTERNAL
        start_time_unix_nano: 1_767_323_045_100_000_000,
        end_time_unix_nano: 1_767_323_045_200_000_000,
        attributes: vec![
            string_attribute("gen_ai.operation.name", "execute_tool"),
            string_attribute("gen_ai.tool.name", "search"),
        ],
        ..Default::default()
    };
    let mut pending = Vec::new();
    let mut committed = Vec::new();
    for span in [&chat, &tool] {
        let mut sink = ContentSink::with_fixed_salt([0x00; 32]);
        let normalized = normalize_span(&context, span, &mut sink)?;
        committed.extend(normalized.contents.clone());
        pending.push(PendingEntry {
            entry_type: "span".into(),
            body: normalized.body,
        });
    }

    // --- Seal both entries as one batch onto the empty log ----------------------------
    let sealed = seal_batch(ORIGIN, LogHead::EMPTY, TIME, &pending, &HashMap::new())?;
    for entry in &sealed.entries {
        println!();
        let decoded = traceledger::ledger::entry::Entry::from_canonical_bytes(&entry.entry_bytes)?;
        println!("== entry {}", entry.index);
        println!("prev               {}", decoded.prev);
        println!("entry_bytes ({} bytes, JCS):", entry.entry_bytes.len());
        println!("{}", String::from_utf8(entry.entry_bytes.clone())?);
        println!("entry_bytes (base64, as in /v1/ledger/entries):");
        println!("{}", base64.encode(&entry.entry_bytes));
        println!("leaf hash          {}", hash_hex(&entry.leaf_hash));
    }

    println!();
    println!("== content rows (stored beside the entries, not in them)");
    for item in &committed {
        println!(
            "field {}  salt {}  content {:?}  -> {{\"sha256\":\"{}\",\"len\":{}}}",
            item.field,
            hex::encode(item.committed.salt),
            item.committed.content,
            item.committed.commitment.sha256,
            item.committed.commitment.len
        );
    }

    // --- Stored hashes and root ---------------------------------------------------------
    println!();
    println!("== stored hashes (tree_hashes.hidx -> hash)");
    let mut stored: HashMap<u64, Hash> = HashMap::new();
    for (index, hash) in &sealed.new_hashes {
        let (level, n) = tlog_tiles::split_stored_hash_index(*index);
        println!("hidx {index}  (level {level}, n {n})  {}", hash_hex(hash));
        stored.insert(*index, *hash);
    }
    println!("root (hex)         {}", hash_hex(&sealed.root));
    println!("root (base64)      {}", sealed.root);

    // --- Proofs -------------------------------------------------------------------------
    println!();
    println!("== proofs");
    for index in 0..2u64 {
        let needed = merkle::inclusion_proof_indexes(index, 2)?;
        let proof = merkle::inclusion_proof(index, 2, &stored)?;
        merkle::verify_inclusion(
            index,
            2,
            &sealed.entries[index as usize].leaf_hash,
            &proof,
            &sealed.root,
        )?;
        let response = serde_json::json!({
            "index": index,
            "tree_size": 2,
            "leaf_hash": hash_hex(&sealed.entries[index as usize].leaf_hash),
            "proof": proof.iter().map(hash_hex).collect::<Vec<_>>(),
        });
        println!("inclusion index={index} tree_size=2 reads hidx {needed:?}");
        println!("{}", serde_json::to_string_pretty(&response)?);
    }
    let root_one = merkle::root(1, &stored)?;
    let consistency = merkle::consistency_proof(1, 2, &stored)?;
    merkle::verify_consistency(1, 2, &root_one, &sealed.root, &consistency)?;
    println!(
        "consistency first=1 second=2 reads hidx {:?}",
        merkle::consistency_proof_indexes(1, 2)?
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "first": 1,
            "second": 2,
            "proof": consistency.iter().map(hash_hex).collect::<Vec<_>>(),
        }))?
    );

    // --- Checkpoint ---------------------------------------------------------------------
    let note = signer.sign_checkpoint(sealed.head.size, &sealed.root)?;
    let verified = verify_checkpoint(&note, &signer.verifier_key())?;
    assert_eq!(verified.root, sealed.root);
    let signed_text_len = note.find("\n\n").map(|position| position + 1).unwrap_or(0);
    let signature_line = note.lines().last().unwrap_or("");
    let signature_b64 = signature_line.rsplit(' ').next().unwrap_or("");
    let signature_blob = base64.decode(signature_b64)?;
    println!();
    println!("== checkpoint note (between the markers, exactly; every line ends with 0x0A)");
    println!("-----BEGIN-----");
    print!("{note}");
    println!("-----END-----");
    println!("signed message = the first {signed_text_len} bytes (origin, size, root lines with their newlines)");
    println!("note bytes (hex):");
    println!("{}", hex::encode(note.as_bytes()));
    println!(
        "signature blob ({} bytes) = key hash {} || signature {}",
        signature_blob.len(),
        hex::encode(&signature_blob[..4]),
        hex::encode(&signature_blob[4..])
    );

    // --- Commitment known answer -------------------------------------------------------
    let abc = commit_with_salt("abc".into(), [0x00; 32]);
    println!();
    println!("== commitment of \"abc\" with salt = 32 zero bytes");
    println!(
        "{}",
        serde_json::to_string(&serde_json::json!({"sha256": abc.commitment.sha256, "len": abc.commitment.len}))?
    );

    // --- Stored hash index layout for 8 leaves -------------------------------------------
    println!();
    println!("== stored hash index numbering, tree of 8 leaves (level: index of n = 0, 1, ...)");
    for level in 0..=3u8 {
        let count = 8u64 >> level;
        let indexes: Vec<u64> = (0..count).map(|n| tlog_tiles::stored_hash_index(level, n)).collect();
        println!("level {level}: {indexes:?}");
    }
    println!("stored_hash_count(8) = {}", merkle::stored_hash_count(8));
    Ok(())
}
