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

use std::mem::size_of;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

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
/// Heap bytes charged for one non-empty string or byte field (allocator rounding).
const MIN_ALLOCATION: usize = 32;
/// Data bytes charged for a message's own structure: each becomes a JSON object or map
/// entry, its key and value copied into the attribute index.
const MESSAGE_DATA_BYTES: usize = 64;
/// Data bytes charged for a scalar field, and on top of each string's length.
const FIELD_DATA_BYTES: usize = 32;
/// Extra data bytes per control character: the canonical JSON writes it as `\u00XX`.
const ESCAPE_DATA_BYTES: usize = 5;
/// Deepest nesting accepted, as prost's decoder (its recursion limit is 100).
const MAX_DEPTH: usize = 100;

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
        Encoding::Protobuf => walk_protobuf(body, signal.root(), 0, &mut state)?,
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

/// The OTLP messages of trace and logs exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    TraceRequest,
    ResourceSpans,
    ScopeSpans,
    Span,
    Event,
    Link,
    SpanStatus,
    LogsRequest,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
    Resource,
    Scope,
    EntityRef,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

impl Msg {
    /// Size of the decoded struct (as an element of its parent's vector).
    fn struct_size(self) -> usize {
        match self {
            Msg::TraceRequest => size_of::<ExportTraceServiceRequest>(),
            Msg::ResourceSpans => size_of::<ResourceSpans>(),
            Msg::ScopeSpans => size_of::<ScopeSpans>(),
            Msg::Span => size_of::<Span>(),
            Msg::Event => size_of::<span::Event>(),
            Msg::Link => size_of::<span::Link>(),
            Msg::SpanStatus => size_of::<Status>(),
            Msg::LogsRequest => size_of::<ExportLogsServiceRequest>(),
            Msg::ResourceLogs => size_of::<ResourceLogs>(),
            Msg::ScopeLogs => size_of::<ScopeLogs>(),
            Msg::LogRecord => size_of::<LogRecord>(),
            Msg::Resource => size_of::<Resource>(),
            Msg::Scope => size_of::<InstrumentationScope>(),
            Msg::EntityRef => size_of::<EntityRef>(),
            Msg::KeyValue => size_of::<KeyValue>(),
            Msg::AnyValue => size_of::<AnyValue>(),
            Msg::ArrayValue => size_of::<ArrayValue>(),
            Msg::KeyValueList => size_of::<KeyValueList>(),
        }
    }

    /// The field holding the children whose entries inherit this message's other
    /// fields (resource, scope, schema URLs), if this is such a container.
    fn children_field(self) -> Option<u32> {
        match self {
            Msg::TraceRequest | Msg::LogsRequest => Some(1),
            Msg::ResourceSpans | Msg::ScopeSpans | Msg::ResourceLogs | Msg::ScopeLogs => Some(2),
            _ => None,
        }
    }

    /// A protobuf field of this message.
    fn proto_field(self, number: u32) -> Field {
        use Cardinality::{Many, One};
        use Field::{Bytes, Message, Other};
        match (self, number) {
            (Msg::TraceRequest, 1) => Message(Msg::ResourceSpans, Many),
            (Msg::ResourceSpans, 1) => Message(Msg::Resource, One),
            (Msg::ResourceSpans, 2) => Message(Msg::ScopeSpans, Many),
            (Msg::ScopeSpans, 1) | (Msg::ScopeLogs, 1) => Message(Msg::Scope, One),
            (Msg::ScopeSpans, 2) => Message(Msg::Span, Many),
            (Msg::Span, 1..=5) => Bytes(One),
            (Msg::Span, 9) => Message(Msg::KeyValue, Many),
            (Msg::Span, 11) => Message(Msg::Event, Many),
            (Msg::Span, 13) => Message(Msg::Link, Many),
            (Msg::Span, 15) => Message(Msg::SpanStatus, One),
            (Msg::Event, 2) => Bytes(One),
            (Msg::Event, 3) => Message(Msg::KeyValue, Many),
            (Msg::Link, 1..=3) => Bytes(One),
            (Msg::Link, 4) => Message(Msg::KeyValue, Many),
            (Msg::SpanStatus, 2) => Bytes(One),
            (Msg::LogsRequest, 1) => Message(Msg::ResourceLogs, Many),
            (Msg::ResourceLogs, 1) => Message(Msg::Resource, One),
            (Msg::ResourceLogs, 2) => Message(Msg::ScopeLogs, Many),
            (Msg::ScopeLogs, 2) => Message(Msg::LogRecord, Many),
            (Msg::ResourceSpans, 3) | (Msg::ScopeSpans, 3) | (Msg::ResourceLogs, 3) | (Msg::ScopeLogs, 3) => Bytes(One),
            (Msg::LogRecord, 3 | 9 | 10 | 12) => Bytes(One),
            (Msg::LogRecord, 5) => Message(Msg::AnyValue, One),
            (Msg::LogRecord, 6) => Message(Msg::KeyValue, Many),
            (Msg::Resource, 1) => Message(Msg::KeyValue, Many),
            (Msg::Resource, 3) => Message(Msg::EntityRef, Many),
            (Msg::Scope, 1 | 2) => Bytes(One),
            (Msg::Scope, 3) => Message(Msg::KeyValue, Many),
            (Msg::EntityRef, 1 | 2) => Bytes(One),
            (Msg::EntityRef, 3 | 4) => Bytes(Many),
            (Msg::KeyValue, 1) => Bytes(One),
            (Msg::KeyValue, 2) => Message(Msg::AnyValue, One),
            (Msg::AnyValue, 1 | 7) => Bytes(One),
            (Msg::AnyValue, 5) => Message(Msg::ArrayValue, One),
            (Msg::AnyValue, 6) => Message(Msg::KeyValueList, One),
            (Msg::ArrayValue, 1) => Message(Msg::AnyValue, Many),
            (Msg::KeyValueList, 1) => Message(Msg::KeyValue, Many),
            _ => Other,
        }
    }

    /// An OTLP/JSON field of this message (lowerCamelCase, as the decoder accepts them),
    /// with its protobuf number.
    fn json_field(self, name: &str) -> Option<u32> {
        let number = match (self, name) {
            (Msg::TraceRequest, "resourceSpans") | (Msg::LogsRequest, "resourceLogs") => 1,
            (Msg::ResourceSpans | Msg::ResourceLogs, "resource") => 1,
            (Msg::ResourceSpans, "scopeSpans") | (Msg::ResourceLogs, "scopeLogs") => 2,
            (Msg::ResourceSpans | Msg::ScopeSpans | Msg::ResourceLogs | Msg::ScopeLogs, "schemaUrl") => 3,
            (Msg::ScopeSpans | Msg::ScopeLogs, "scope") => 1,
            (Msg::ScopeSpans, "spans") | (Msg::ScopeLogs, "logRecords") => 2,
            (Msg::Span, "traceId") => 1,
            (Msg::Span, "spanId") => 2,
            (Msg::Span, "traceState") => 3,
            (Msg::Span, "parentSpanId") => 4,
            (Msg::Span, "name") => 5,
            (Msg::Span, "attributes") => 9,
            (Msg::Span, "events") => 11,
            (Msg::Span, "links") => 13,
            (Msg::Span, "status") => 15,
            (Msg::Event, "name") => 2,
            (Msg::Event, "attributes") => 3,
            (Msg::Link, "traceId") => 1,
            (Msg::Link, "spanId") => 2,
            (Msg::Link, "traceState") => 3,
            (Msg::Link, "attributes") => 4,
            (Msg::SpanStatus, "message") => 2,
            (Msg::LogRecord, "severityText") => 3,
            (Msg::LogRecord, "body") => 5,
            (Msg::LogRecord, "attributes") => 6,
            (Msg::LogRecord, "traceId") => 9,
            (Msg::LogRecord, "spanId") => 10,
            (Msg::LogRecord, "eventName") => 12,
            (Msg::Resource, "attributes") => 1,
            (Msg::Resource, "entityRefs") => 3,
            (Msg::Scope, "name") => 1,
            (Msg::Scope, "version") => 2,
            (Msg::Scope, "attributes") => 3,
            (Msg::EntityRef, "schemaUrl") => 1,
            (Msg::EntityRef, "type") => 2,
            (Msg::EntityRef, "idKeys") => 3,
            (Msg::EntityRef, "descriptionKeys") => 4,
            (Msg::KeyValue, "key") => 1,
            (Msg::KeyValue, "value") => 2,
            (Msg::AnyValue, "stringValue") => 1,
            (Msg::AnyValue, "arrayValue") => 5,
            (Msg::AnyValue, "kvlistValue") => 6,
            (Msg::AnyValue, "bytesValue") => 7,
            (Msg::ArrayValue | Msg::KeyValueList, "values") => 1,
            _ => return None,
        };
        Some(number)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cardinality {
    One,
    Many,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// An embedded message.
    Message(Msg, Cardinality),
    /// A string or bytes field.
    Bytes(Cardinality),
    /// A scalar, or a field the decoder does not know.
    Other,
}

/// The walk's running totals.
struct Walk {
    item: Msg,
    what: &'static str,
    items: usize,
    limits: WalkLimits,
    decoded: usize,
}

impl Walk {
    fn charge(&mut self, bytes: usize) -> Result<(), WireError> {
        self.decoded = self.decoded.saturating_add(bytes);
        if self.decoded > self.limits.max_decoded_bytes {
            return Err(WireError::TooLarge { at_least: self.decoded });
        }
        Ok(())
    }

    /// Charges one embedded message about to be walked; counts items.
    fn enter(&mut self, child: Msg, cardinality: Cardinality) -> Result<(), WireError> {
        if cardinality == Cardinality::Many {
            self.charge(2 * child.struct_size())?;
        }
        if child == self.item {
            self.items += 1;
            if self.items > self.limits.max_items {
                return Err(WireError::TooManyItems {
                    at_least: self.items,
                    limit: self.limits.max_items,
                    what: self.what,
                });
            }
        }
        Ok(())
    }

    /// Charges one string or bytes field; returns the data bytes it carries.
    fn string(&mut self, text: &[u8], cardinality: Cardinality) -> Result<usize, WireError> {
        if cardinality == Cardinality::Many {
            self.charge(2 * size_of::<String>())?;
        }
        if text.is_empty() {
            return Ok(FIELD_DATA_BYTES);
        }
        self.charge((text.len() + 16).max(MIN_ALLOCATION))?;
        let escaped = text.iter().filter(|byte| **byte < 0x20).count();
        Ok(text.len() + FIELD_DATA_BYTES + escaped * ESCAPE_DATA_BYTES)
    }
}

/// What one walked message contributes to its parent.
#[derive(Debug, Clone, Copy, Default)]
struct Walked {
    /// Data bytes in the message (strings, scalars, structure).
    data: usize,
    /// Items in the message.
    items: usize,
    /// Data the message's items carry into their entries, with what they inherit.
    normalized: usize,
}

/// Folds the children of a container with what they inherit from it.
#[derive(Debug, Default)]
struct Fold {
    data: usize,
    children_data: usize,
    items: usize,
    children_normalized: usize,
}

impl Fold {
    fn add(&mut self, msg: Msg, number: u32, walked: Walked) {
        self.data = self.data.saturating_add(walked.data);
        if msg.children_field() == Some(number) {
            self.children_data = self.children_data.saturating_add(walked.data);
            self.items = self.items.saturating_add(walked.items);
            self.children_normalized = self.children_normalized.saturating_add(walked.normalized);
        }
    }

    fn finish(self, msg: Msg, item: Msg) -> Walked {
        let data = self.data.saturating_add(MESSAGE_DATA_BYTES);
        if msg == item {
            return Walked {
                data,
                items: 1,
                normalized: data,
            };
        }
        match msg.children_field() {
            Some(_) => {
                let inherited = data.saturating_sub(self.children_data);
                Walked {
                    data,
                    items: self.items,
                    normalized: self
                        .children_normalized
                        .saturating_add(self.items.saturating_mul(inherited)),
                }
            }
            None => Walked {
                data,
                items: 0,
                normalized: 0,
            },
        }
    }
}

fn malformed(what: &str) -> WireError {
    WireError::Malformed(format!("body is not a valid OTLP protobuf export request: {what}"))
}

fn read_varint(buf: &[u8], position: &mut usize) -> Result<u64, WireError> {
    let mut value = 0u64;
    for shift in 0..10 {
        let byte = *buf.get(*position).ok_or_else(|| malformed("truncated varint"))?;
        *position += 1;
        value |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(malformed("varint longer than 10 bytes"))
}

fn skip(buf: &[u8], position: &mut usize, bytes: usize) -> Result<(), WireError> {
    let end = position.checked_add(bytes).filter(|end| *end <= buf.len());
    *position = end.ok_or_else(|| malformed("truncated field"))?;
    Ok(())
}

fn walk_protobuf(buf: &[u8], msg: Msg, depth: usize, walk: &mut Walk) -> Result<Walked, WireError> {
    if depth > MAX_DEPTH {
        return Err(malformed("recursion limit reached"));
    }
    let mut fold = Fold::default();
    let mut position = 0;
    while position < buf.len() {
        let key = read_varint(buf, &mut position)?;
        let number = u32::try_from(key >> 3).map_err(|_| malformed("invalid field number"))?;
        if number == 0 {
            return Err(malformed("invalid tag value: 0"));
        }
        match key & 7 {
            0 => {
                read_varint(buf, &mut position)?;
                fold.data += FIELD_DATA_BYTES;
            }
            1 => {
                skip(buf, &mut position, 8)?;
                fold.data += FIELD_DATA_BYTES;
            }
            5 => {
                skip(buf, &mut position, 4)?;
                fold.data += FIELD_DATA_BYTES;
            }
            2 => {
                let len = usize::try_from(read_varint(buf, &mut position)?).map_err(|_| malformed("length"))?;
                let start = position;
                skip(buf, &mut position, len)?;
                match msg.proto_field(number) {
                    Field::Message(child, cardinality) => {
                        walk.enter(child, cardinality)?;
                        let walked = walk_protobuf(&buf[start..position], child, depth + 1, walk)?;
                        fold.add(msg, number, walked);
                    }
                    Field::Bytes(cardinality) => {
                        let data = walk.string(&buf[start..position], cardinality)?;
                        fold.data = fold.data.saturating_add(data);
                    }
                    // Unknown fields are dropped by the decoder; a known scalar sent
                    // length-delimited fails the decode later.
                    Field::Other => {}
                }
            }
            3 | 4 => return Err(malformed("protobuf groups are not part of OTLP")),
            other => return Err(malformed(&format!("invalid wire type value: {other}"))),
        }
    }
    Ok(fold.finish(msg, walk.item))
}

/// The same walk over OTLP/JSON, with serde visitors that keep nothing.
mod json {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::{Cardinality, Field, Fold, Msg, Walk, Walked, WireError, FIELD_DATA_BYTES};

    pub(super) fn walk_document(body: &[u8], root: Msg, walk: &mut Walk) -> Result<Walked, WireError> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let mut stopped = None;
        let walked = MessageSeed {
            msg: root,
            entered_as: None,
            walk,
            stopped: &mut stopped,
        }
        .deserialize(&mut deserializer)
        .and_then(|walked| deserializer.end().map(|()| walked));
        match (walked, stopped) {
            (_, Some(stop)) => Err(stop),
            (Ok(walked), None) => Ok(walked),
            (Err(error), None) => Err(WireError::Malformed(format!(
                "body is not a valid OTLP/JSON export request: {error}"
            ))),
        }
    }

    /// A limit hit inside a visitor: kept aside (serde errors are strings) and reported.
    fn stop<E: serde::de::Error>(stopped: &mut Option<WireError>, error: WireError) -> E {
        let message = error.to_string();
        *stopped = Some(error);
        E::custom(message)
    }

    /// One message; `entered_as` charges it (and counts it) once it turns out to exist.
    struct MessageSeed<'a> {
        msg: Msg,
        entered_as: Option<Cardinality>,
        walk: &'a mut Walk,
        stopped: &'a mut Option<WireError>,
    }

    impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
        type Value = Walked;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Walked, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for MessageSeed<'_> {
        type Value = Walked;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(formatter, "an OTLP {:?} object", self.msg)
        }

        fn visit_unit<E>(self) -> Result<Walked, E> {
            Ok(Walked::default())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Walked, A::Error> {
            if let Some(cardinality) = self.entered_as {
                if let Err(error) = self.walk.enter(self.msg, cardinality) {
                    return Err(stop(self.stopped, error));
                }
            }
            let mut fold = Fold::default();
            while let Some(key) = map.next_key_seed(KeySeed { msg: self.msg })? {
                let Some(number) = key else {
                    map.next_value::<IgnoredAny>()?;
                    fold.data += FIELD_DATA_BYTES;
                    continue;
                };
                match self.msg.proto_field(number) {
                    Field::Message(child, Cardinality::One) => {
                        let walked = map.next_value_seed(MessageSeed {
                            msg: child,
                            entered_as: Some(Cardinality::One),
                            walk: self.walk,
                            stopped: self.stopped,
                        })?;
                        fold.add(self.msg, number, walked);
                    }
                    Field::Message(child, Cardinality::Many) => {
                        let walked = map.next_value_seed(ListSeed {
                            child,
                            walk: self.walk,
                            stopped: self.stopped,
                        })?;
                        fold.add(self.msg, number, walked);
                    }
                    Field::Bytes(cardinality) => {
                        let len = map.next_value_seed(StringSeed {
                            cardinality,
                            walk: self.walk,
                            stopped: self.stopped,
                        })?;
                        fold.data = fold.data.saturating_add(len);
                    }
                    Field::Other => {
                        map.next_value::<IgnoredAny>()?;
                        fold.data += FIELD_DATA_BYTES;
                    }
                }
            }
            Ok(fold.finish(self.msg, self.walk.item))
        }
    }

    /// A repeated message field: the children of a container fold as one.
    struct ListSeed<'a> {
        child: Msg,
        walk: &'a mut Walk,
        stopped: &'a mut Option<WireError>,
    }

    impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
        type Value = Walked;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Walked, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for ListSeed<'_> {
        type Value = Walked;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(formatter, "an array of OTLP {:?} objects", self.child)
        }

        fn visit_unit<E>(self) -> Result<Walked, E> {
            Ok(Walked::default())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Walked, A::Error> {
            let mut total = Walked::default();
            while let Some(walked) = seq.next_element_seed(MessageSeed {
                msg: self.child,
                entered_as: Some(Cardinality::Many),
                walk: self.walk,
                stopped: self.stopped,
            })? {
                total.data = total.data.saturating_add(walked.data);
                total.items = total.items.saturating_add(walked.items);
                total.normalized = total.normalized.saturating_add(walked.normalized);
            }
            Ok(total)
        }
    }

    /// A string (or list of strings) field; returns its length in bytes.
    struct StringSeed<'a> {
        cardinality: Cardinality,
        walk: &'a mut Walk,
        stopped: &'a mut Option<WireError>,
    }

    impl StringSeed<'_> {
        fn charge<E: serde::de::Error>(&mut self, text: &str) -> Result<usize, E> {
            self.walk
                .string(text.as_bytes(), self.cardinality)
                .map_err(|error| stop(self.stopped, error))
        }
    }

    impl<'de> DeserializeSeed<'de> for StringSeed<'_> {
        type Value = usize;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for StringSeed<'_> {
        type Value = usize;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a string")
        }

        fn visit_str<E: serde::de::Error>(mut self, value: &str) -> Result<usize, E> {
            self.charge(value)
        }

        fn visit_unit<E>(self) -> Result<usize, E> {
            Ok(0)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut total = 0usize;
            while let Some(data) = seq.next_element_seed(StringSeed {
                cardinality: Cardinality::Many,
                walk: &mut *self.walk,
                stopped: &mut *self.stopped,
            })? {
                total = total.saturating_add(data);
            }
            Ok(total)
        }
    }

    /// A field name, resolved to its protobuf number without allocating.
    struct KeySeed {
        msg: Msg,
    }

    impl<'de> DeserializeSeed<'de> for KeySeed {
        type Value = Option<u32>;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<u32>, D::Error> {
            deserializer.deserialize_str(self)
        }
    }

    impl Visitor<'_> for KeySeed {
        type Value = Option<u32>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a field name")
        }

        fn visit_str<E>(self, value: &str) -> Result<Option<u32>, E> {
            Ok(self.msg.json_field(value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    const UNLIMITED: WalkLimits = WalkLimits {
        max_items: usize::MAX,
        max_decoded_bytes: usize::MAX,
    };

    fn request(spans_per_scope: usize, resource_attribute: usize) -> ExportTraceServiceRequest {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        let attribute = |key: &str, size: usize| KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue("v".repeat(size))),
            }),
            ..Default::default()
        };
        let spans = (0..spans_per_scope)
            .map(|i| Span {
                trace_id: vec![1; 16],
                span_id: vec![i as u8 + 1; 8],
                name: "span".into(),
                start_time_unix_nano: 1,
                attributes: vec![attribute("a", 100)],
                ..Default::default()
            })
            .collect::<Vec<_>>();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![attribute("service.name", resource_attribute)],
                    ..Default::default()
                }),
                scope_spans: vec![
                    ScopeSpans {
                        spans: spans.clone(),
                        ..Default::default()
                    },
                    ScopeSpans {
                        spans,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn counts_spans_in_both_encodings() {
        let message = request(3, 10);
        let protobuf = walk(Signal::Traces, &message.encode_to_vec(), Encoding::Protobuf, UNLIMITED).unwrap();
        assert_eq!(protobuf.items, 6);
        let json = serde_json::to_vec(&message).unwrap();
        let from_json = walk(Signal::Traces, &json, Encoding::Json, UNLIMITED).unwrap();
        assert_eq!(from_json.items, 6);
        assert!(from_json.decoded_bytes >= protobuf.decoded_bytes);
        assert_eq!(
            walk(Signal::Traces, b"", Encoding::Protobuf, UNLIMITED).unwrap().items,
            0
        );
        assert_eq!(walk(Signal::Traces, b"{}", Encoding::Json, UNLIMITED).unwrap().items, 0);
    }

    #[test]
    fn stops_at_the_first_item_over_the_limit() {
        let mut bytes = request(3, 10).encode_to_vec();
        bytes.extend_from_slice(&[0xff, 0xff, 0xff]);
        let limits = WalkLimits {
            max_items: 5,
            max_decoded_bytes: usize::MAX,
        };
        assert_eq!(
            walk(Signal::Traces, &bytes, Encoding::Protobuf, limits),
            Err(WireError::TooManyItems {
                at_least: 6,
                limit: 5,
                what: "spans"
            })
        );
        let json = serde_json::to_vec(&request(3, 10)).unwrap();
        assert!(matches!(
            walk(Signal::Traces, &json, Encoding::Json, limits),
            Err(WireError::TooManyItems { at_least: 6, .. })
        ));
    }

    #[test]
    fn inherited_resources_count_once_per_span() {
        let small = walk(
            Signal::Traces,
            &request(50, 10).encode_to_vec(),
            Encoding::Protobuf,
            UNLIMITED,
        )
        .unwrap();
        let large = walk(
            Signal::Traces,
            &request(50, 100_000).encode_to_vec(),
            Encoding::Protobuf,
            UNLIMITED,
        )
        .unwrap();
        let extra = large.normalized_data_bytes - small.normalized_data_bytes;
        assert!(extra >= 100 * (100_000 - 10), "{extra}");
    }

    #[test]
    fn empty_messages_are_charged_their_struct_size() {
        let bytes = [0x0a, 0x00].repeat(1000);
        let summary = walk(Signal::Traces, &bytes, Encoding::Protobuf, UNLIMITED).unwrap();
        assert!(
            summary.decoded_bytes >= 1000 * size_of::<ResourceSpans>(),
            "{summary:?}"
        );
        let limits = WalkLimits {
            max_items: usize::MAX,
            max_decoded_bytes: 10_000,
        };
        assert!(matches!(
            walk(Signal::Traces, &bytes, Encoding::Protobuf, limits),
            Err(WireError::TooLarge { .. })
        ));
        let json = format!("{{\"resourceSpans\":[{}{{}}]}}", "{},".repeat(999));
        let summary = walk(Signal::Traces, json.as_bytes(), Encoding::Json, UNLIMITED).unwrap();
        assert!(
            summary.decoded_bytes >= 1000 * size_of::<ResourceSpans>(),
            "{summary:?}"
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bytes in [
            &[0xff][..],
            &[0x0a, 0x05, 0x00],
            &[0x00],
            &[0x0b],
            &[0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
        ] {
            assert!(matches!(
                walk(Signal::Traces, bytes, Encoding::Protobuf, UNLIMITED),
                Err(WireError::Malformed(_))
            ));
        }
        assert!(matches!(
            walk(Signal::Logs, b"{\"resourceLogs\": 3}", Encoding::Json, UNLIMITED),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            walk(Signal::Logs, b"{} trailing", Encoding::Json, UNLIMITED),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn nesting_deeper_than_the_decoder_allows_is_refused() {
        // ResourceSpans > Resource > KeyValue > AnyValue > (ArrayValue > AnyValue)*
        let mut value = Vec::new();
        for _ in 0..120 {
            let mut array = vec![0x0a];
            array.extend(encode_len(value.len()));
            array.extend(&value);
            let mut any = vec![0x2a];
            any.extend(encode_len(array.len()));
            any.extend(array);
            value = any;
        }
        let mut key_value = vec![0x12];
        key_value.extend(encode_len(value.len()));
        key_value.extend(value);
        let mut resource = vec![0x0a];
        resource.extend(encode_len(key_value.len()));
        resource.extend(key_value);
        let mut resource_spans = vec![0x0a];
        resource_spans.extend(encode_len(resource.len()));
        resource_spans.extend(resource);
        let mut request = vec![0x0a];
        request.extend(encode_len(resource_spans.len()));
        request.extend(resource_spans);
        assert!(ExportTraceServiceRequest::decode(request.as_slice()).is_err());
        assert!(matches!(
            walk(Signal::Traces, &request, Encoding::Protobuf, UNLIMITED),
            Err(WireError::Malformed(message)) if message.contains("recursion")
        ));
    }

    fn encode_len(len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(len as u64, &mut out);
        out
    }

    #[test]
    fn logs_count_records() {
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        let message = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); 4],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let summary = walk(Signal::Logs, &message.encode_to_vec(), Encoding::Protobuf, UNLIMITED).unwrap();
        assert_eq!(summary.items, 4);
        let json = serde_json::to_vec(&message).unwrap();
        assert_eq!(walk(Signal::Logs, &json, Encoding::Json, UNLIMITED).unwrap().items, 4);
    }
}
