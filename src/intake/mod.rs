//! Intake: one OTLP export from either transport, admitted and committed.
//!
//! * [`admission`] — the same for both transports: inflate, walk, reserve, decode and
//!   normalize on the blocking pool under the memory budget ([`crate::ingest::budget`]).
//! * [`service`] — the transport-independent commit of one normalized request: linking,
//!   the sequencer, the OTLP response.
//!
//! The adapters ([`crate::api::otlp_http`], [`crate::grpc`]) authenticate, read the bytes
//! under the budget, [`admission::admit`] them and answer only when the sequencer says the
//! batch is durable. The pure decoding and normalization are in [`crate::ingest`].

pub mod admission;
pub mod service;
