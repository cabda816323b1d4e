//! A cheap look at an OTLP export request before it is decoded.
//!
//! Decoding protobuf (or OTLP/JSON) builds every message of the request at once, and an
//! adversarial request expands a lot: two wire bytes (`0a 00`) become an empty
//! `ResourceSpans` of ~100 bytes in a vector that doubles as it grows, so 16 MiB of
//! them take ~2 GB. Normalizing then copies each span's resource and scope into its
//! entry, so one large resource shared by many spans multiplies again.
//!
//! [`walk`] reads the wire bytes once, builds nothing, and returns a [`WireSummary`]:
//! the number of spans (or log records) — refused as soon as it passes the limit — and
//! an estimate of the memory the decoded and normalized request needs, from the known
//! OTLP schema: the size of each message struct as it sits in its vector (twice, for
//! the growth slack), each string or byte field, and for each span the data it carries
//! with the resource and scope it inherits. Unknown fields are skipped (the decoder
//! drops them too). Pure: no I/O, no allocation proportional to the input.
//!
//! * `schema` — the part of the OTLP schema the walk knows: messages, fields, sizes.
//! * `estimate` — the running totals: what each message, string and item is charged.
//! * `protobuf` and `json` — the walk over each encoding.

mod estimate;
mod json;
mod protobuf;
mod schema;

use std::mem::size_of;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use self::estimate::Walk;
use self::schema::Msg;
use super::otlp::Encoding;

/// Normalized memory per byte of data a span carries into its entry (with its resource
/// and scope): the JSON value tree, the span row and attribute index, the canonical
/// entry bytes, the content rows. Measured with dhat on real and adversarial requests
/// (`tests/wire_estimate.rs`), which checks that the estimate covers them.
pub const NORMALIZED_BYTES_PER_DATA_BYTE: usize = 8;
/// Fixed normalized memory per span or log record: ids, the `genai` summary, the span
/// row, the append item, the entry's hashes.
pub const NORMALIZED_BYTES_PER_ITEM: usize = 4096;
/// Fixed memory per request (vectors of the batch, the response).
pub const BYTES_PER_REQUEST: usize = 64 * 1024;

/// Which export request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `ExportTraceServiceRequest`; the items are spans.
    Traces,
    /// `ExportLogsServiceRequest`; the items are log records.
    Logs,
}

impl Signal {
    /// The items' name in messages: `spans`, `log records`.
    pub fn items(&self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Logs => "log records",
        }
    }

    fn root(&self) -> Msg {
        match self {
            Signal::Traces => Msg::TraceRequest,
            Signal::Logs => Msg::LogsRequest,
        }
    }

    fn item(&self) -> Msg {
        match self {
            Signal::Traces => Msg::Span,
            Signal::Logs => Msg::LogRecord,
        }
    }
}

/// What the walk found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireSummary {
    /// Spans (or log records) in the request.
    pub items: usize,
    /// Estimated heap bytes of the decoded request.
    pub decoded_bytes: usize,
    /// Bytes of data the items carry into their entries, each with the resource and
    /// scope it inherits.
    pub normalized_data_bytes: usize,
}

impl WireSummary {
    /// Estimated memory needed to decode and normalize the request, on top of its bytes.
    pub fn estimated_memory(&self) -> usize {
        self.decoded_bytes
            .saturating_add(
                self.normalized_data_bytes
                    .saturating_mul(NORMALIZED_BYTES_PER_DATA_BYTE),
            )
            .saturating_add(self.items.saturating_mul(NORMALIZED_BYTES_PER_ITEM))
            .saturating_add(BYTES_PER_REQUEST)
    }
}

/// Why the walk stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The bytes are not a valid export request.
    #[error("{0}")]
    Malformed(String),
    /// More items than allowed (the walk stopped at the first one over the limit).
    #[error("request carries at least {at_least} {what}, above the limit of {limit}; send smaller batches")]
    TooManyItems {
        /// Items counted when the walk stopped.
        at_least: usize,
        /// The limit.
        limit: usize,
        /// `spans` or `log records`.
        what: &'static str,
    },
    /// The decoded request would need more memory than allowed (the walk stopped there).
    #[error("decoding the request needs more than {at_least} bytes of memory")]
    TooLarge {
        /// Estimated bytes when the walk stopped.
        at_least: usize,
    },
}

/// Limits checked while walking.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    /// Most items (spans or log records).
    pub max_items: usize,
    /// Most estimated decoded bytes; the walk stops past it.
    pub max_decoded_bytes: usize,
}

/// Walks an export request in `encoding` without decoding it.
pub fn walk(signal: Signal, body: &[u8], encoding: Encoding, limits: WalkLimits) -> Result<WireSummary, WireError> {
    let mut state = Walk {
        item: signal.item(),
        what: signal.items(),
        items: 0,
        limits,
        decoded: size_of::<ExportTraceServiceRequest>().max(size_of::<ExportLogsServiceRequest>()),
    };
    let walked = match encoding {
        Encoding::Protobuf => protobuf::walk_protobuf(body, signal.root(), 0, &mut state)?,
        Encoding::Json => json::walk_document(body, signal.root(), &mut state)?,
    };
    let decoded_bytes = match encoding {
        Encoding::Protobuf => state.decoded,
        // OTLP/JSON values are first parsed into a `serde_json::Value`, then converted.
        Encoding::Json => state.decoded.saturating_mul(2),
    };
    Ok(WireSummary {
        items: state.items,
        decoded_bytes,
        normalized_data_bytes: walked.normalized,
    })
}

#[cfg(test)]
mod tests;
