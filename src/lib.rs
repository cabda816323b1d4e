//! traceledger — a compliance audit and provenance ledger for LLM applications.
//!
//! OpenTelemetry traces come in over OTLP; every span becomes an entry in a per-tenant,
//! append-only, hash-chained Merkle log with signed checkpoints; proofs and audit views
//! come out.
//!
//! # Layout
//!
//! * [`ledger`] — pure core: entries (JCS), leaf hashes, the `prev` chain, the RFC 6962
//!   tree and proofs, signed checkpoints, content commitments, batch sealing. No I/O.
//! * [`domain`] — newtypes parsed at the edge: trace/span ids, tenant names, scopes.
//! * [`ingest`] — pure OTLP decoding, the wire walk, the memory budget and span
//!   normalization; no web framework.
//! * [`intake`] — one export from either transport admitted under the budget and
//!   committed through the sequencer.
//! * [`store`] — the `Store` trait and its SQLite and PostgreSQL implementations
//!   (one shared SQL body).
//! * [`provenance`] — governance records, span linking, the span index, keyed output
//!   lookup digests, re-deriving an entry's outputs from its committed content, and
//!   provenance reports.
//! * [`sequencer`] — one group-commit task per tenant log in front of the store.
//! * [`signing`] — the server's Ed25519 key: generated on the first start of an empty store
//!   (0600) or loaded.
//! * [`auth`] — API keys: generation, hashing, constant-time checks, scopes.
//! * [`audit`] — the offline re-verification of a store (chain, tree, checkpoints against
//!   trusted keys, contents, index tables).
//! * [`verifier_keys`] — the published verifier-key directory (`GET /v1/keys`).
//! * [`state`] — `AppState`, the leaf every handler shares.
//! * [`bundle`] — audit bundles: signed DSSE/in-toto export and pure offline verification.
//! * [`api`] — axum routers, the bearer-key extractor and the OTLP/HTTP adapter.
//! * [`grpc`] — the OTLP/gRPC adapter (tonic): authentication before the message is read.
//! * [`error`] — one API error type mapped to status codes and problem+json.
//! * [`config`] — flags and environment variables.
//! * [`app`] — builds the application from configuration and serves it.
//! * [`connections`] — connection cap, header-read/idle/request timeouts, the HTTP
//!   accept loop.
//! * [`os`] — process settings at start: private umask, open-file limit.
//! * [`cli`] — the `traceledger` command line.
//!
//! The modules form layers — pure core ([`ledger`], [`domain`], [`bundle`], [`ingest`]) →
//! storage ([`store`]) → services → transport → application ([`app`], [`cli`]) — with no
//! cycle; `tests/layers.rs` keeps it so (docs/architecture.md §2).
//!
//! # Features
//!
//! `server` (default) builds everything above. Without it (`--no-default-features`) the
//! library is the pure core alone — [`ledger`], [`domain`] and [`bundle`] (format, build and
//! the offline verifier) — with no sqlx, tokio, axum or tonic among its dependencies.
#![forbid(unsafe_code)]

#[cfg(feature = "server")]
pub mod api;
#[cfg(feature = "server")]
pub mod app;
#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod auth;
pub mod bundle;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod connections;
pub mod domain;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod grpc;
#[cfg(feature = "server")]
pub mod ingest;
#[cfg(feature = "server")]
pub mod intake;
pub mod ledger;
#[cfg(feature = "server")]
pub mod os;
#[cfg(feature = "server")]
pub mod provenance;
#[cfg(feature = "server")]
pub mod sequencer;
#[cfg(feature = "server")]
pub mod signing;
#[cfg(feature = "server")]
pub mod state;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod verifier_keys;
