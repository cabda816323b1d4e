//! Schemas of the bodies the handlers build with `json!` (documentation only; the wire
//! format is checked against them by tests/openapi.rs).

use super::*;

// ---------------------------------------------------------------------------------------
// Schemas of bodies the handlers build with `json!` (documentation only; the wire format
// is checked against them by tests/openapi.rs).
// ---------------------------------------------------------------------------------------

/// A binary protobuf message (OTLP, `application/x-protobuf`).
#[derive(Debug, Clone, ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "application/x-protobuf")]
pub struct OtlpProtobuf(pub Vec<u8>);

/// An OTLP/JSON `ExportTraceServiceRequest` (opentelemetry-proto
/// `collector/trace/v1`): lowerCamelCase fields, hex trace and span ids, 64-bit integers
/// as strings or numbers, enums as integers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtlpTracesRequest {
    /// Spans grouped by resource and instrumentation scope.
    #[schema(value_type = Vec<Object>)]
    pub resource_spans: Vec<Value>,
}

/// An OTLP/JSON `ExportTraceServiceResponse`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtlpTracesResponse {
    /// Set when some spans were rejected; `null` when every span was accepted.
    pub partial_success: Option<OtlpTracesPartialSuccess>,
}

/// Which spans were rejected and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtlpTracesPartialSuccess {
    /// How many spans were rejected.
    pub rejected_spans: i64,
    /// The rejected spans (position in the request, name) and the reasons.
    pub error_message: String,
}

/// An OTLP/JSON `ExportLogsServiceRequest` (opentelemetry-proto `collector/logs/v1`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtlpLogsRequest {
    /// Log records grouped by resource and instrumentation scope.
    #[schema(value_type = Vec<Object>)]
    pub resource_logs: Vec<Value>,
}

/// An OTLP/JSON `ExportLogsServiceResponse`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtlpLogsResponse {
    /// Set when some log records were rejected; `null` when every record was accepted.
    pub partial_success: Option<OtlpLogsPartialSuccess>,
}

/// Which log records were rejected and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtlpLogsPartialSuccess {
    /// How many log records were rejected.
    pub rejected_log_records: i64,
    /// The rejected records and the reasons.
    pub error_message: String,
}

/// `POST /v1/provenance/search`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProvenanceSearchResult {
    /// SHA-256 (hex) of the output text, when searched by `output` or `output_sha256`.
    pub output_sha256: Option<String>,
    /// Which form of the searched output matched: `exact` (byte for byte) or `normalized`
    /// (after Unicode NFC, unified newlines, collapsed whitespace and removal of zero-width
    /// characters on both sides); null when nothing matched or the search was by trace id.
    pub matched: Option<crate::provenance::lookup::MatchedForm>,
    /// One report per matching trace (at most 20).
    pub results: Vec<ProvenanceReport>,
    /// Present only when an `output_index` row named an entry that does not emit the
    /// output (checked against the entry's committed content): such entries are not
    /// reported as matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_mismatches: Option<Vec<crate::provenance::report::IndexMismatch>>,
}

/// Everything known about one trace: its span tree in causal order, prompt construction,
/// retrievals, model and tool calls, guardrails, linked logs, the pipeline version /
/// deployment / proof bundles it ran under, and every entry's inclusion proof against the
/// latest checkpoint with a server-side verification status. Content fields are revealed
/// only to keys with `audit:content`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProvenanceReport {
    /// Trace id (32 hex digits).
    pub trace_id: String,
    /// Indexes of the entries whose output matched the search (empty for a search by trace id).
    pub matched_entries: Vec<u64>,
    /// The span that emitted the output: the first matched span, else the last generation.
    #[schema(value_type = Option<Object>)]
    pub output_span: Option<Value>,
    /// The span tree (roots with their children, logs attached).
    #[schema(value_type = Vec<Object>)]
    pub tree: Vec<Value>,
    /// Prompt construction steps.
    #[schema(value_type = Vec<Object>)]
    pub prompts: Vec<Value>,
    /// Retrieval steps with their documents (id, URI, score, rank).
    #[schema(value_type = Vec<Object>)]
    pub retrievals: Vec<Value>,
    /// Model calls (provider, model, parameters, usage, latency).
    #[schema(value_type = Vec<Object>)]
    pub model_calls: Vec<Value>,
    /// Tool calls with arguments and results.
    #[schema(value_type = Vec<Object>)]
    pub tool_calls: Vec<Value>,
    /// Guardrail spans.
    #[schema(value_type = Vec<Object>)]
    pub guardrails: Vec<Value>,
    /// Log records linked to the trace's spans.
    #[schema(value_type = Vec<Object>)]
    pub logs: Vec<Value>,
    /// `{"status": "linked", "link", "version", "deployment", "proof_bundles"}` or
    /// `{"status": "unlinked", "detail"}`. Each governance record is its ledger entry's
    /// body with `entry_index`, `leaf_hash`, `inclusion_proof` and `verified` (the proof
    /// against `checkpoint`), and `index_mismatch: true` when its index row disagreed.
    #[schema(value_type = Object)]
    pub pipeline: Value,
    /// The checkpoint the proofs are against: `{"note", "size", "root"}`.
    #[schema(value_type = Object)]
    pub checkpoint: Value,
    /// Every entry of the trace: `{"index", "type", "leaf_hash", "inclusion_proof", "verified"}`.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Value>,
    /// `{"status": "verified" | "failed", "entries_checked", "failed_entries",
    /// "governance_entries_checked", "failed_governance_entries", "index_mismatches"?}`:
    /// `failed` when a proof fails or an index row (governance, output index) disagrees
    /// with its entry; `index_mismatches` lists those rows and is present only then.
    #[schema(value_type = Object)]
    pub verification: Value,
    /// Whether content was revealed (the key has `audit:content` and content is stored).
    pub content_revealed: bool,
}

/// One span of `GET /v1/spans`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SpanSummary {
    /// The span's ledger entry.
    pub entry_index: u64,
    /// Trace id (hex).
    pub trace_id: String,
    /// Span id (hex).
    pub span_id: String,
    /// Parent span id (hex).
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// Span kind (generation, retrieval, tool, chain, agent, guardrail, embedding, rerank, other).
    pub kind: String,
    /// Start time, nanoseconds since the epoch (decimal string).
    pub start_time_unix_nano: String,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// Model (response model, else request model).
    pub model: Option<String>,
    /// Provider.
    pub provider: Option<String>,
    /// Input tokens.
    pub input_tokens: Option<i64>,
    /// Output tokens.
    pub output_tokens: Option<i64>,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    pub status_code: i64,
    /// The pipeline version the span is linked to.
    pub pipeline_version_id: Option<String>,
    /// Deployment environment.
    pub environment: Option<String>,
    /// How the span was linked (explicit attributes, service name/version, deployment).
    pub link_method: Option<String>,
    /// Present (`true`) only when the span's index rows disagreed with its entry; the
    /// values above are always the entry's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_mismatch: Option<bool>,
}

/// `GET /v1/spans`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SpanPage {
    /// The spans of this page.
    pub spans: Vec<SpanSummary>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Present only when index rows of this page disagree with their entries (spans
    /// whose entry is not a readable span are left out of `spans`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_mismatches: Option<Vec<crate::provenance::report::IndexMismatch>>,
}

/// The answer to registering a governance record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GovernanceWrite {
    /// The record's id (content addressed: `pv_`, `pb_`, `dp_`, `ck_` + 32 hex digits).
    pub id: String,
    /// The ledger entry holding the record.
    pub entry_index: u64,
    /// `true` when this request created the record, `false` when it already existed.
    pub created: bool,
    /// The record as stored in the ledger.
    #[schema(value_type = Object)]
    pub record: Value,
}

/// A governance record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GovernanceRecord {
    /// The record's id.
    pub id: String,
    /// The ledger entry holding the record.
    pub entry_index: u64,
    /// The record as stored in the ledger (the entry's body, never the index row's).
    #[schema(value_type = Object)]
    pub record: Value,
    /// Present (`true`) only when the record's index row disagreed with its entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_mismatch: Option<bool>,
}

/// A list of governance records, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GovernanceRecords {
    /// The records.
    pub records: Vec<GovernanceRecord>,
    /// Present only when index rows disagree with their entries; a row whose entry is
    /// not such a record is left out of `records`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_mismatches: Option<Vec<crate::provenance::report::IndexMismatch>>,
}
