//! The ledger core: everything an outside verifier needs, and nothing else.
//!
//! This module is pure — no storage, no async, no network — so that the offline
//! verifier (`traceledger verify`, `traceledger audit`) carries no server weight.
//!
//! * [`entry`] — entry JSON, RFC 8785 canonical bytes, leaf hash, the `prev` chain.
//! * [`merkle`] — RFC 6962 / RFC 9162 tree over leaf hashes: stored interior hashes,
//!   roots, inclusion and consistency proofs (on top of `tlog_tiles`).
//! * [`checkpoint`] — C2SP tlog-checkpoint text signed as a C2SP signed note (Ed25519).
//! * [`commitment`] — salted SHA-256 commitments that stand in for content.
//! * [`dsse`] — DSSE envelopes: pre-authentication encoding and Ed25519 signatures.
//! * [`batch`] — sealing a batch of pending entries onto a log head (index, prev,
//!   leaf hashes, new interior hashes, new root) as one pure computation.
//!
//! Every byte of these formats is documented in `docs/formats.md`.

pub mod batch;
pub mod checkpoint;
pub mod commitment;
pub mod dsse;
pub mod entry;
pub mod merkle;

pub use tlog_tiles::Hash;

/// Hex encoding of a 32-byte hash, lowercase.
pub fn hash_hex(hash: &Hash) -> String {
    hex::encode(hash.0)
}

/// Parses a lowercase or uppercase 64-character hex string into a hash.
pub fn hash_from_hex(text: &str) -> Option<Hash> {
    let bytes = hex::decode(text).ok()?;
    let array: [u8; 32] = bytes.try_into().ok()?;
    Some(Hash(array))
}

/// Parses a 32-byte slice into a hash.
pub fn hash_from_slice(bytes: &[u8]) -> Option<Hash> {
    let array: [u8; 32] = bytes.try_into().ok()?;
    Some(Hash(array))
}

/// The `prev` of entry 0: 64 zeros.
pub const ZERO_HASH: Hash = Hash([0u8; 32]);
