//! The part of the OTLP schema the wire walk knows: the messages of trace and logs
//! exports, their protobuf field numbers and OTLP/JSON names, and the size of each
//! decoded struct. Fields not listed are skipped, as the decoder drops them.

use std::mem::size_of;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

/// The OTLP messages of trace and logs exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Msg {
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
    pub(super) fn struct_size(self) -> usize {
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
    pub(super) fn children_field(self) -> Option<u32> {
        match self {
            Msg::TraceRequest | Msg::LogsRequest => Some(1),
            Msg::ResourceSpans | Msg::ScopeSpans | Msg::ResourceLogs | Msg::ScopeLogs => Some(2),
            _ => None,
        }
    }

    /// A protobuf field of this message.
    pub(super) fn proto_field(self, number: u32) -> Field {
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
    pub(super) fn json_field(self, name: &str) -> Option<u32> {
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
pub(super) enum Cardinality {
    One,
    Many,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// An embedded message.
    Message(Msg, Cardinality),
    /// A string or bytes field.
    Bytes(Cardinality),
    /// A scalar, or a field the decoder does not know.
    Other,
}
