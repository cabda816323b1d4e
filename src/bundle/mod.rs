//! Audit bundles (DESIGN §5): one JSON file an auditor checks offline, without the server.
//!
//! A bundle is a DSSE envelope whose payload is the JCS (RFC 8785) encoding of an in-toto
//! Statement v1. The statement's subjects are the disputed outputs (SHA-256 of their
//! text); its predicate carries the log's origin and verifier key, a signed checkpoint,
//! the selected entries with inclusion proofs against that checkpoint, the contents the
//! exporter may reveal, and what the export was (query, time, principal). The envelope is
//! signed with the log's Ed25519 key over the DSSE pre-authentication encoding.
//!
//! * [`format`](mod@format) — the serde types of envelope, statement and predicate, and the constants
//!   (media types, predicate version, the C2SP tlog-proof rendering).
//! * [`build`] — [`build::build_bundle`]: an export's pieces in, signed envelope bytes out.
//! * [`verify`] — [`verify::verify_bundle`]: every check of a bundle, in a fixed order,
//!   naming the first one that fails.
//!
//! Everything here is pure and synchronous — no storage, no async, no network — so the
//! offline verifier (`traceledger verify`) and the fuzz target carry no server weight.
//! Every byte of the format is documented in `docs/bundle-format.md`.

pub mod build;
pub mod format;
pub mod verify;
