//! Conventions as data: the tables that map what real LLM instrumentation sends
//! (OpenTelemetry GenAI semantic conventions, OpenInference, OpenLLMetry/Traceloop,
//! Langfuse) onto the ledger's entry body.
//!
//! One file per concern, in the order of the sections of `docs/conventions.md`, which
//! documents every table row by row (change one, change the other):
//!
//! * [`span_kinds`] — §3: which attribute value decides the canonical span kind.
//! * [`content_keys`] — §4: which attribute keys carry content (committed, never in clear).
//! * [`genai_summary`] — §5: which clear attributes feed the `genai` summary (ids, models,
//!   finish reasons, parameters, token usage, agent, tool, pipeline).
//! * [`retrieval`] — §5 "retrieval": the retrieval summary and its documents.
//! * [`outputs`] — §6: the output texts of a span or log record, for provenance lookup.
//! * [`roles`] — §7: which keys carry which part of a call's story (prompt, system
//!   instructions, template, output, tool arguments / result, model, parameters, metadata,
//!   retrieval query / documents) per convention; what readers of bodies (the provenance
//!   report) look up.
//!
//! Everything here is pure: no I/O, no clock, no randomness except the salts that
//! [`crate::ingest::ContentSink`] draws.

pub mod content_keys;
pub mod genai_summary;
pub mod outputs;
pub mod retrieval;
pub mod roles;
pub mod span_kinds;
