//! The state every request handler shares. A leaf above the services: it names the
//! store, the sequencer, the intake and the configuration, and nothing of the transports
//! or the application that builds it ([`crate::app::build`]).

use std::sync::Arc;

use ed25519_dalek::SigningKey;

use crate::config::StoreArgs;
use crate::intake::Intake;
use crate::sequencer::Sequencer;
use crate::store::Store;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Group commit in front of the store.
    pub sequencer: Arc<Sequencer>,
    /// The checkpoint signing key.
    pub signing_key: SigningKey,
    /// Configuration.
    pub config: Arc<AppConfig>,
    /// Cached answers of the public endpoints.
    pub public: Arc<crate::verifier_keys::PublicCache>,
    /// Ingest admission: the in-flight memory budget and decode slots.
    pub ingest: Arc<crate::intake::admission::IngestControl>,
}

/// The parts of the configuration handlers need.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Ingest limits.
    pub limits: crate::ingest::IngestLimits,
    /// Largest OTLP/gRPC message after decompression.
    pub grpc_max_message_bytes: usize,
    /// Storage settings.
    pub store: StoreArgs,
    /// Connection limits of each listener, fitted to the open-file limit.
    pub connections: crate::connections::ConnectionLimits,
}

impl AppState {
    /// The parts of the state the intake needs to admit and commit an export.
    pub fn intake(&self) -> Intake<'_> {
        Intake {
            store: self.store.as_ref(),
            sequencer: &self.sequencer,
            control: &self.ingest,
            limits: self.config.limits,
        }
    }
}
