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

use std::sync::Arc;

use crate::ingest::IngestLimits;
use crate::sequencer::Sequencer;
use crate::store::Store;

/// What admitting and committing one export needs, borrowed from the application state
/// (the intake names no application or transport type).
#[derive(Clone, Copy)]
pub struct Intake<'a> {
    /// The store: verified governance records for linking.
    pub store: &'a dyn Store,
    /// Group commit in front of the store.
    pub sequencer: &'a Sequencer,
    /// The in-flight memory budget and decode slots.
    pub control: &'a Arc<admission::IngestControl>,
    /// Ingest limits.
    pub limits: IngestLimits,
}
