//! The integration test binary: every test spawns the real server on port 0 with a
//! fresh database, on SQLite and on PostgreSQL (see `helpers::both_backends!`).

mod helpers;

mod audit_cli;
mod erasure_audit;
mod exports;
mod grpc;
mod hardening;
mod hardening_conn;
mod ingest;
mod ingest_limits;
mod interop;
mod ledger_api;
mod logs;
mod provenance;
mod replicas;
mod sdk_matrix;
mod store_conformance;
mod tampering;
mod trusted_keys;
