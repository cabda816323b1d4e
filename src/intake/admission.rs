//! Admission of one OTLP export request, the same for HTTP and gRPC, between reading its
//! bytes and committing its entries.
//!
//! The caller has authenticated the request and reserved its raw bytes in the
//! [`MemoryBudget`]. [`admit`] then takes a decode slot (at most one per CPU) and, on
//! the blocking pool — never on the async workers that answer `/healthz` and every
//! other request:
//!
//! 1. inflates gzip (every member), growing the reservation before the output grows;
//! 2. walks the wire bytes ([`wire::walk`]): counts spans or log records, refusing the
//!    request as soon as there are too many, and estimates the decoded and normalized
//!    memory;
//! 3. grows the reservation to that estimate — 429 when it does not fit next to the
//!    requests in flight, 413 when it exceeds the whole budget — and only then
//! 4. decodes and normalizes.
//!
//! The reservation is held until the request is answered.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::ingest::budget::{BudgetError, MemoryBudget, Reservation};
use crate::ingest::logs::NormalizedLog;
use crate::ingest::otlp::{self, DecodeError, Encoding};
use crate::ingest::wire::{self, Signal, WalkLimits, WireError};
use crate::ingest::{IngestLimits, LogRejection, NormalizedSpan, SpanRejection};
use crate::store::Tenant;

use super::Intake;

/// Default of `--ingest-memory-budget-bytes`: memory all ingest requests in flight may
/// hold together (512 MiB).
pub const DEFAULT_MEMORY_BUDGET_BYTES: usize = 512 * 1024 * 1024;

/// Seconds a client is told to wait when the budget is held by others.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Shared ingest admission state: the memory budget, the decode slots, counters.
#[derive(Debug)]
pub struct IngestControl {
    budget: Arc<MemoryBudget>,
    decode_slots: Arc<Semaphore>,
    decoded: AtomicU64,
}

impl IngestControl {
    /// A budget of `budget_bytes`, and one decode slot per available CPU.
    pub fn new(budget_bytes: usize) -> Arc<Self> {
        let cpus = std::thread::available_parallelism().map_or(1, |count| count.get());
        Arc::new(IngestControl {
            budget: MemoryBudget::new(budget_bytes),
            decode_slots: Arc::new(Semaphore::new(cpus)),
            decoded: AtomicU64::new(0),
        })
    }

    /// The in-flight memory budget.
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// Full decodes of export messages started since start (observability and tests:
    /// a request refused before decoding does not count).
    pub fn decoded_messages(&self) -> u64 {
        self.decoded.load(Ordering::SeqCst)
    }
}

/// How the request bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    Identity,
    /// gzip (one or more members).
    Gzip,
}

/// The bytes of one export request as received.
#[derive(Debug)]
pub struct RawExport {
    /// The bytes (compressed or not).
    pub bytes: Bytes,
    /// Protobuf or JSON.
    pub encoding: Encoding,
    /// Compression of `bytes`.
    pub compression: Compression,
    /// Most bytes the message may inflate to.
    pub inflate_limit: usize,
}

/// Why a request was not admitted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// Not valid gzip, protobuf or JSON, or inflates past the limit.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Malformed, or more spans / log records than allowed (found before decoding).
    #[error(transparent)]
    Wire(WireError),
    /// The memory budget: held by others (retry), or too small for this request.
    #[error(transparent)]
    Budget(#[from] BudgetError),
    /// The blocking pool failed.
    #[error("decoding task failed")]
    Internal(#[source] anyhow::Error),
}

impl From<AdmitError> for ApiError {
    fn from(error: AdmitError) -> Self {
        match error {
            AdmitError::Decode(decode) => ApiError::from(decode),
            AdmitError::Wire(WireError::TooManyItems { .. }) => ApiError::PayloadTooLarge(error.to_string()),
            AdmitError::Wire(other) => ApiError::BadRequest(other.to_string()),
            AdmitError::Budget(budget) => budget.into(),
            AdmitError::Internal(inner) => ApiError::Internal(inner),
        }
    }
}

impl From<BudgetError> for ApiError {
    fn from(error: BudgetError) -> Self {
        match error {
            BudgetError::TooLarge { .. } => ApiError::PayloadTooLarge(error.to_string()),
            BudgetError::Exhausted { .. } => ApiError::TooManyRequests(error.to_string(), RETRY_AFTER_SECONDS),
        }
    }
}

/// One kind of export: traces or logs.
pub trait Export: Send + 'static {
    /// The decoded request.
    type Request: prost::Message + Default + serde::de::DeserializeOwned + Send + 'static;
    /// The OTLP response.
    type Response: prost::Message + Default + serde::Serialize + Send + 'static;
    /// The normalized request, ready to commit.
    type Prepared: Send + 'static;
    /// Which request the wire walk reads.
    const SIGNAL: Signal;
    /// The gRPC service name.
    const GRPC_SERVICE: &'static str;

    /// Normalizes a decoded request (pure, CPU-bound).
    fn prepare(request: &Self::Request, limits: &IngestLimits) -> Self::Prepared;

    /// Commits the prepared request for `tenant`; answers once it is durable.
    fn commit(
        intake: Intake<'_>,
        tenant: &Tenant,
        prepared: Self::Prepared,
    ) -> impl Future<Output = Result<Self::Response, ApiError>> + Send;
}

/// Trace exports.
#[derive(Debug)]
pub enum Traces {}

impl Export for Traces {
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;
    type Prepared = (Vec<NormalizedSpan>, Vec<SpanRejection>);
    const SIGNAL: Signal = Signal::Traces;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";

    fn prepare(request: &Self::Request, limits: &IngestLimits) -> Self::Prepared {
        crate::ingest::prepare_spans_with(request, limits)
    }

    fn commit(
        intake: Intake<'_>,
        tenant: &Tenant,
        prepared: Self::Prepared,
    ) -> impl Future<Output = Result<Self::Response, ApiError>> + Send {
        super::service::commit_traces(intake, tenant, prepared)
    }
}

/// Logs exports.
#[derive(Debug)]
pub enum Logs {}

impl Export for Logs {
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    type Prepared = (Vec<(NormalizedLog, [u8; 32])>, Vec<LogRejection>);
    const SIGNAL: Signal = Signal::Logs;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";

    fn prepare(request: &Self::Request, limits: &IngestLimits) -> Self::Prepared {
        crate::ingest::prepare_logs_with(request, limits)
    }

    fn commit(
        intake: Intake<'_>,
        tenant: &Tenant,
        prepared: Self::Prepared,
    ) -> impl Future<Output = Result<Self::Response, ApiError>> + Send {
        super::service::commit_logs(intake, tenant, prepared)
    }
}

/// Inflates, walks, reserves, decodes and normalizes `raw` off the async workers,
/// under a decode slot and `reservation` (which the caller keeps until it answers).
pub async fn admit<E: Export>(
    intake: Intake<'_>,
    raw: RawExport,
    reservation: &Arc<Reservation>,
) -> Result<E::Prepared, AdmitError> {
    let control = intake.control.clone();
    let permit = control
        .decode_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|error| AdmitError::Internal(error.into()))?;
    let limits = intake.limits;
    let reservation = reservation.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        decode_and_prepare::<E>(&control, raw, &reservation, &limits)
    })
    .await
    .map_err(|error| AdmitError::Internal(error.into()))?
}

fn decode_and_prepare<E: Export>(
    control: &IngestControl,
    raw: RawExport,
    reservation: &Reservation,
    limits: &IngestLimits,
) -> Result<E::Prepared, AdmitError> {
    let raw_len = raw.bytes.len();
    let body = match raw.compression {
        Compression::Identity => raw.bytes,
        Compression::Gzip => {
            let inflated = otlp::gunzip_within::<AdmitError>(&raw.bytes, raw.inflate_limit, |capacity| {
                Ok(reservation.grow_to(raw_len.saturating_add(capacity))?)
            })?;
            Bytes::from(inflated)
        }
    };
    let total = control.budget.total();
    let walk_limits = WalkLimits {
        max_items: limits.max_items_per_request,
        max_decoded_bytes: total,
    };
    let summary = match wire::walk(E::SIGNAL, &body, raw.encoding, walk_limits) {
        Ok(summary) => summary,
        Err(WireError::TooLarge { at_least }) => {
            return Err(BudgetError::TooLarge {
                needed: at_least,
                total,
            }
            .into())
        }
        Err(other) => return Err(AdmitError::Wire(other)),
    };
    let needed = raw_len
        .saturating_add(body.len())
        .saturating_add(summary.estimated_memory());
    reservation.grow_to(needed)?;
    control.decoded.fetch_add(1, Ordering::SeqCst);
    let request: E::Request = match raw.encoding {
        Encoding::Protobuf => {
            prost::Message::decode(body.as_ref()).map_err(|error| DecodeError::Protobuf(error.to_string()))?
        }
        Encoding::Json => serde_json::from_slice(&body).map_err(|error| DecodeError::Json(error.to_string()))?,
    };
    drop(body);
    Ok(E::prepare(&request, limits))
}
