//! The OpenAPI 3.1 document of the HTTP API and the two routes that publish it:
//! `GET /openapi.json` (the document, byte for byte the committed `openapi/openapi.json`
//! without its trailing newline) and `GET /docs` (Swagger UI, its HTML, JavaScript and CSS
//! compiled into the binary: no CDN, the page works offline).
//!
//! # Adding an endpoint
//!
//! 1. Put `#[utoipa::path(...)]` on its handler: method, `path`, `tag`, `operation_id`,
//!    `params`, `request_body`, and `responses` — every 4xx/5xx as a reusable problem
//!    response, e.g. `(status = 400, response = crate::api::openapi::BadRequest)` — and
//!    the scope it needs, `security(("bearer" = ["audit:read"]))` (a public endpoint goes
//!    into [`PUBLIC_PATHS`] instead). Derive `utoipa::ToSchema` on its body types and
//!    `utoipa::IntoParams` on its query type.
//! 2. Add the handler to the `paths(...)` list of [`ApiDoc`] — one line.
//! 3. Add the path to `DOCUMENTED_PATHS` in `tests/openapi.rs`, then regenerate the
//!    committed document: `TRACELEDGER_UPDATE_OPENAPI=1 cargo test --test openapi`.
//!
//! `tests/openapi.rs` fails when a route of the router is missing from the document, when
//! the document names a path the server does not serve, and when `openapi/openapi.json`
//! is stale.
//!
//! # Security
//!
//! The `bearer` scheme (`Authorization: Bearer <api key>`) applies to the whole document;
//! operations list the scope they need as its role (OpenAPI 3.1 allows role names for
//! non-OAuth schemes). The paths in [`PUBLIC_PATHS`] are marked public (`security: []`)
//! by [`SecurityModifier`]; nothing else is.
//!
//! # Errors
//!
//! Every 4xx/5xx answer is an RFC 9457 `application/problem+json` body: the `problem`
//! schema, used through the reusable responses below ([`BadRequest`] … [`InternalError`]);
//! 429 and 503 carry `Retry-After`.
//!
//! Every operation is described on its handler, except the two that have no handler of
//! their own: the Langfuse alias `POST /api/public/otel/v1/traces` (the `POST /v1/traces`
//! handler serves it, and one function carries one `#[utoipa::path]`) and `GET /docs`
//! (served by [`swagger_ui`]). Those are described by the doc-only functions of
//! [`described_here`].

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};

/// Paths that need no API key.
pub const PUBLIC_PATHS: [&str; 5] = ["/healthz", "/readyz", "/v1/keys", "/openapi.json", "/docs"];

const DESCRIPTION: &str = "\
Compliance audit and provenance ledger for LLM applications: OTLP in, signed Merkle log out.

Every span (and log record, pipeline version, deployment, proof bundle…) becomes an entry of \
an append-only, per-tenant Merkle log (RFC 6962 / RFC 9162), hash-chained and covered by \
Ed25519-signed C2SP checkpoints. Content is committed with salted SHA-256 and stored apart, \
so it can be erased without breaking a proof.

**Authentication.** Every endpoint but `/healthz`, `/readyz`, `/v1/keys`, `/openapi.json` and \
`/docs` needs `Authorization: Bearer <api key>`; the key decides the tenant. Create one with \
`traceledger keys create --tenant default --scope ingest --scope audit:read`. Scopes: \
`ingest`, `audit:read`, `audit:content`, `export`, `admin` (grants all).

**Errors.** Every 4xx/5xx answer is an RFC 9457 `application/problem+json` body \
(`type`, `title`, `status`, `detail`). 429 and 503 carry `Retry-After` (seconds). Any \
request not answered within the server's request timeout (default 60 s) gets 408 if its body \
had not all arrived, else 503.

**OTLP.** `POST /v1/traces` and `POST /v1/logs` are standard OTLP/HTTP endpoints: point any \
OpenTelemetry exporter at this server. OTLP/gRPC is served on a separate port (default \
127.0.0.1:4317).";

/// The OpenAPI document. To document a new endpoint, add its handler to `paths(...)`
/// (see the module docs).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "traceledger",
        version = env!("CARGO_PKG_VERSION"),
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        // health
        super::healthz,
        super::readyz,
        // ledger
        super::ledger::keys,
        super::ledger::checkpoint,
        super::ledger::entries,
        super::ledger::inclusion,
        super::ledger::consistency,
        // ingest
        crate::api::otlp_http::export_traces,
        crate::api::otlp_http::export_logs,
        described_here::export_traces_langfuse,
        // provenance
        super::provenance::search,
        super::provenance::trace,
        super::provenance::spans,
        super::export::create_export,
        // governance
        super::governance::create_pipeline_version,
        super::governance::list_pipeline_versions,
        super::governance::get_pipeline_version,
        super::governance::create_proof_bundle,
        super::governance::list_proof_bundles,
        super::governance::create_deployment,
        super::governance::list_deployments,
        super::governance::create_ci_key,
        super::governance::list_ci_keys,
        // docs
        openapi_document,
        described_here::docs,
    ),
    components(
        schemas(
            Problem,
            super::ledger::PublishedKey,
            KeyList,
            LedgerEntry,
            EntryRecord,
            EntryPage,
            InclusionProof,
            ConsistencyProof,
            OtlpProtobuf,
            OtlpTracesRequest,
            OtlpTracesResponse,
            OtlpTracesPartialSuccess,
            OtlpLogsRequest,
            OtlpLogsResponse,
            OtlpLogsPartialSuccess,
            crate::provenance::evidence::SearchRequest,
            crate::provenance::export::ExportRequest,
            ProvenanceSearchResult,
            ProvenanceReport,
            crate::provenance::report::IndexMismatch,
            SpanSummary,
            SpanPage,
            crate::provenance::governance::PipelineVersionRequest,
            crate::provenance::governance::ProofBundleRequest,
            crate::provenance::governance::DeploymentRequest,
            crate::provenance::governance::CiKeyRequest,
            GovernanceWrite,
            GovernanceRecord,
            GovernanceRecords,
        ),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            PayloadTooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            Unavailable,
            InternalError,
        ),
    ),
    security(("bearer" = [])),
    modifiers(&SecurityModifier),
    tags(
        (name = "health", description = "Liveness and readiness (public)."),
        (name = "ledger", description = "Verifier keys, signed checkpoints, entries and RFC 9162 proofs."),
        (name = "ingest", description = "OTLP/HTTP trace and log export."),
        (name = "provenance", description = "Which trace, prompts, documents, models and pipeline produced an output."),
        (name = "governance", description = "Pipeline versions, proof bundles, deployments and CI keys (ledger entries)."),
        (name = "docs", description = "This document and its Swagger UI page (public)."),
    ),
)]
pub struct ApiDoc;

/// Adds the `bearer` and `basic` HTTP security schemes and marks [`PUBLIC_PATHS`] public.
pub struct SecurityModifier;

impl Modify for SecurityModifier {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("API key")
                    .description(Some(
                        "An API key from `traceledger keys create`; it decides the tenant. \
                         Operations name the scope they need.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "For Langfuse SDKs: user = the tenant name or the key id, password = the API key.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !PUBLIC_PATHS.contains(&path.as_str()) {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                operation.security = Some(Vec::new());
            }
        }
    }
}

/// The document as pretty-printed JSON (what `GET /openapi.json` serves and
/// `openapi/openapi.json` holds, plus a trailing newline there).
pub fn openapi_json() -> String {
    // The document holds only strings, numbers, booleans and string-keyed maps built by
    // utoipa, so serializing it cannot fail.
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
}

static DOCUMENT: LazyLock<String> = LazyLock::new(openapi_json);

/// The OpenAPI 3.1 document of this API
///
/// The same document is committed at `openapi/openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "get_openapi_document",
    tag = "docs",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document (this one).", body = Object, content_type = "application/json"),
    ),
)]
pub async fn openapi_document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

/// Swagger UI at `/docs`, reading `/openapi.json`. Its assets come from the binary
/// (`utoipa-swagger-ui` with `vendored`); the online validator badge is off so the page
/// makes no request to another host.
///
/// Swagger UI is only pointed at `/openapi.json` (served by [`openapi_document`], the
/// committed bytes): handing it the document with `SwaggerUi::url` would register a
/// second `/openapi.json` route, and the router panics on duplicate routes.
pub fn swagger_ui() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new("/docs").config(
        utoipa_swagger_ui::Config::new(["/openapi.json"])
            .validator_url("none")
            .persist_authorization(true),
    )
}

// ---------------------------------------------------------------------------------------
// Schemas of bodies the handlers build with `json!` (documentation only; the wire format
// is checked against them by tests/openapi.rs).
// ---------------------------------------------------------------------------------------

/// An RFC 9457 problem detail. Every 4xx/5xx answer carries one, with
/// `Content-Type: application/problem+json`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = problem, examples(json!({
    "type": "about:blank",
    "title": "Bad Request",
    "status": 400,
    "detail": "start 10 is after end 5"
})))]
pub struct Problem {
    /// A URI reference naming the problem type; `about:blank` (the status says it all).
    #[serde(rename = "type")]
    #[schema(format = "uri-reference", examples("about:blank"))]
    pub problem_type: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for humans. Internal details are never sent.
    pub detail: String,
}

/// `GET /v1/keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Every verifier key of every log (retired keys stay published).
    pub keys: Vec<super::ledger::PublishedKey>,
}

/// A ledger entry: `entry_bytes` are its RFC 8785 (JCS) form; the leaf hash is
/// `SHA-256(0x00 || entry_bytes)`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    /// Format version, always 1.
    pub v: u64,
    /// The log's origin, e.g. `traceledger.local/default`.
    pub log: String,
    /// Position in the log, from 0.
    pub index: u64,
    /// Hex leaf hash of entry `index - 1` (64 zeros for index 0): the hash chain.
    pub prev: String,
    /// Entry type: `span`, `log`, `pipeline_version`, `proof_bundle`, `deployment`, `ci_key`, ...
    #[serde(rename = "type")]
    pub entry_type: String,
    /// RFC 3339 UTC time at which the entry was sequenced.
    pub time: String,
    /// Type-specific body; 64-bit integers are decimal strings, content fields are
    /// commitments `{"sha256": "<hex>", "len": <bytes>}`.
    #[schema(value_type = Object)]
    pub body: Value,
}

/// One entry of `GET /v1/ledger/entries`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryRecord {
    /// Position in the log.
    pub index: u64,
    /// The entry, decoded.
    pub entry: LedgerEntry,
    /// Base64 of the exact canonical (JCS) bytes the leaf hash covers.
    #[schema(content_encoding = "base64")]
    pub entry_bytes: String,
}

/// `GET /v1/ledger/entries`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryPage {
    /// Entries `start..end` in order (at most 1000; fewer at the end of the log).
    pub entries: Vec<EntryRecord>,
}

/// An RFC 9162 §2.1.3 inclusion proof.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    /// The entry's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// Hex leaf hash of the entry.
    pub leaf_hash: String,
    /// Hex node hashes, leaf to root.
    pub proof: Vec<String>,
}

/// An RFC 9162 §2.1.4 consistency proof.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    /// The smaller tree size.
    pub first: u64,
    /// The larger tree size.
    pub second: u64,
    /// Hex node hashes.
    pub proof: Vec<String>,
}

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

// ---------------------------------------------------------------------------------------
// Reusable problem responses.
// ---------------------------------------------------------------------------------------

/// The request is malformed (query, body, encoding, or a value out of range).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "start 10 is after end 5"})
)]
pub struct BadRequest(pub Problem);

/// No API key, or an unknown one.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer`")),
    example = json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "missing Authorization: Bearer <api key>"})
)]
pub struct Unauthorized(pub Problem);

/// The API key lacks the scope the operation needs.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "this API key lacks the audit:read scope"})
)]
pub struct Forbidden(pub Problem);

/// No such record (also for other tenants' records).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "trace 4bf92f3577b34da6a3ce929d0e0e4736"})
)]
pub struct NotFound(pub Problem);

/// The body (or its decompressed form, or its item count) exceeds the server's limit.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "about:blank", "title": "Payload Too Large", "status": 413, "detail": "request body exceeds 16777216 bytes"})
)]
pub struct PayloadTooLarge(pub Problem);

/// Unsupported `Content-Type` or `Content-Encoding`.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "about:blank", "title": "Unsupported Media Type", "status": 415, "detail": "unsupported Content-Type \"text/plain\": use application/x-protobuf or application/json"})
)]
pub struct UnsupportedMediaType(pub Problem);

/// Back-pressure: the ingest queue is full. Retry after `Retry-After` seconds.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")),
    example = json!({"type": "about:blank", "title": "Too Many Requests", "status": 429, "detail": "ingest queue is full; retry later"})
)]
pub struct TooManyRequests(pub Problem);

/// The database is unreachable or the server is stopping. Retry after `Retry-After` seconds.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")),
    example = json!({"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "storage is temporarily unavailable; retry later"})
)]
pub struct Unavailable(pub Problem);

/// An unexpected failure (details only in the server's logs).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "about:blank", "title": "Internal Server Error", "status": 500, "detail": "internal error"})
)]
pub struct InternalError(pub Problem);

/// Operations that have no handler of their own: the Langfuse alias of `POST /v1/traces`
/// (served by [`crate::api::otlp_http::export_traces`], whose own attribute documents
/// `/v1/traces`) and `/docs` (served by [`swagger_ui`]). Never called: they only carry the
/// `#[utoipa::path]` attributes.
pub mod described_here {
    use super::{
        BadRequest, Forbidden, InternalError, OtlpProtobuf, OtlpTracesRequest, OtlpTracesResponse, PayloadTooLarge,
        TooManyRequests, Unauthorized, Unavailable, UnsupportedMediaType,
    };

    /// OTLP/HTTP trace export for Langfuse SDKs
    ///
    /// The same endpoint as `POST /v1/traces` at the path Langfuse SDKs post to, so only
    /// the host changes. Langfuse SDKs authenticate with Basic auth: user = the tenant
    /// name or the key id, password = the API key (a Bearer key works too). Scope `ingest`.
    #[utoipa::path(
        post,
        path = "/api/public/otel/v1/traces",
        operation_id = "export_traces_langfuse",
        tag = "ingest",
        security(("basic" = ["ingest"]), ("bearer" = ["ingest"])),
        params(
            ("Content-Encoding" = Option<String>, Header, nullable = false, description = "`gzip` or absent (`identity`)."),
        ),
        request_body(
            description = "An OTLP `ExportTraceServiceRequest` (protobuf or JSON).",
            content(
                (OtlpProtobuf = "application/x-protobuf"),
                (OtlpTracesRequest = "application/json", example = json!(super::examples::otlp_traces_request())),
            ),
        ),
        responses(
            (status = 200, description = "Every accepted span is durable. The body is an OTLP `ExportTraceServiceResponse` in the request's encoding.",
                content(
                    (OtlpProtobuf = "application/x-protobuf"),
                    (OtlpTracesResponse = "application/json", example = json!({"partialSuccess": null})),
                )),
            (status = 400, response = BadRequest),
            (status = 401, response = Unauthorized),
            (status = 403, response = Forbidden),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 429, response = TooManyRequests),
            (status = 500, response = InternalError),
            (status = 503, response = Unavailable),
        ),
    )]
    pub async fn export_traces_langfuse() {}

    /// API documentation (Swagger UI)
    ///
    /// Redirects to `/docs/`, an interactive page over this document. Its HTML, JavaScript
    /// and CSS are served by this server (no CDN): it works offline.
    #[utoipa::path(
        get,
        path = "/docs",
        operation_id = "get_docs",
        tag = "docs",
        responses(
            (status = 303, description = "Redirect to `/docs/`, the Swagger UI page (`text/html`).",
                headers(("Location" = String, description = "`/docs/`"))),
        ),
    )]
    pub async fn docs() {}
}

/// Request examples shared by the document and the tests (which send them).
pub mod examples {
    use serde_json::{json, Value};

    /// An OTLP/JSON trace export: one GenAI chat span.
    pub fn otlp_traces_request() -> Value {
        let text = |value: &str| json!({"stringValue": value});
        json!({
            "resourceSpans": [{
                "resource": {"attributes": [
                    {"key": "service.name", "value": text("support-rag-api")},
                    {"key": "service.version", "value": text("1.4.0")},
                    {"key": "deployment.environment.name", "value": text("production")}
                ]},
                "scopeSpans": [{
                    "scope": {"name": "support_rag.pipeline", "version": "1.4.0"},
                    "spans": [{
                        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                        "spanId": "00f067aa0ba902b7",
                        "name": "chat gpt-4o-mini",
                        "kind": 3,
                        "startTimeUnixNano": "1767268800000000000",
                        "endTimeUnixNano": "1767268801250000000",
                        "attributes": [
                            {"key": "gen_ai.operation.name", "value": text("chat")},
                            {"key": "gen_ai.provider.name", "value": text("openai")},
                            {"key": "gen_ai.request.model", "value": text("gpt-4o-mini")},
                            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "42"}},
                            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "12"}},
                            {"key": "gen_ai.input.messages", "value": text(
                                r#"[{"role":"user","parts":[{"type":"text","content":"Was order 1234 delivered?"}]}]"#)},
                            {"key": "gen_ai.output.messages", "value": text(
                                r#"[{"role":"assistant","parts":[{"type":"text","content":"Yes. Order 1234 was delivered on 2 January."}],"finish_reason":"stop"}]"#)}
                        ],
                        "status": {"code": 1}
                    }]
                }]
            }]
        })
    }

    /// An OTLP/JSON logs export: one GenAI event linked to the span above.
    pub fn otlp_logs_request() -> Value {
        json!({
            "resourceLogs": [{
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "support-rag-api"}}]},
                "scopeLogs": [{
                    "scope": {"name": "support_rag.pipeline"},
                    "logRecords": [{
                        "timeUnixNano": "1767268801250000000",
                        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                        "spanId": "00f067aa0ba902b7",
                        "eventName": "gen_ai.choice",
                        "body": {"kvlistValue": {"values": [
                            {"key": "index", "value": {"intValue": "0"}},
                            {"key": "finish_reason", "value": {"stringValue": "stop"}}
                        ]}}
                    }]
                }]
            }]
        })
    }

    /// A pipeline version (the service of the spans above).
    pub fn pipeline_version_request() -> Value {
        json!({
            "name": "support-rag-api",
            "version": "1.4.0",
            "source_revision": "3f2c1e9a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e",
            "models": ["gpt-4o-mini"],
            "retrieval_index": {"id": "product_docs", "version": "2026-01"}
        })
    }

    /// The id the pipeline version above gets (content addressed).
    pub const PIPELINE_VERSION_ID: &str = "pv_ab37838c654aa41ee9f3acdb638033ef";

    /// A proof bundle approving the pipeline version above.
    pub fn proof_bundle_request() -> Value {
        json!({
            "pipeline_version_id": PIPELINE_VERSION_ID,
            "evaluations": [{"name": "groundedness", "score": 0.97, "threshold": 0.9, "passed": true}],
            "test_runs": [{"name": "regression", "passed": 120, "failed": 0}],
            "approvals": [{"approver": "maria.lopez", "role": "ml-lead", "approved_at": "2026-01-01T12:00:00Z"}]
        })
    }

    /// A deployment of the pipeline version above.
    pub fn deployment_request() -> Value {
        json!({
            "pipeline_version_id": PIPELINE_VERSION_ID,
            "environment": "production",
            "from": "2026-01-01T00:00:00Z"
        })
    }

    // The ledger examples below come from one real run (the span above, the logs above, the
    // pipeline version and CI key below, in that order): they verify against each other
    // (tests/openapi.rs checks it).

    /// A checkpoint note of the run: tree size 4.
    pub const CHECKPOINT: &str = "traceledger.local/default\n4\n3ZFw+b+TvDOmi1m3UJj4E1YaTR1TvOlwswzhyLNuobQ=\n\n— traceledger.local/default I0utelVtRd7TyxNDeP17FHzVPbKXMPlXk0NxuxBc6OH4GfY5kaie2saiMZmefBHsnxlprP1Hx5U1Ezcm5oPWcoZZ8AU=\n";

    /// `GET /v1/keys` of the run: the key that signed [`CHECKPOINT`].
    pub fn key_list() -> Value {
        json!({
            "keys": [
                {
                    "active": true,
                    "created_at": "2026-11-25T10:38:37.112279Z",
                    "origin": "traceledger.local/default",
                    "verifier_key": "traceledger.local/default+234bad7a+AUmT4k3IA/26xs5+D7fP/IdMAy50HmQAVhpH8T0dozLO"
                }
            ]
        })
    }

    /// `GET /v1/ledger/entries?start=0&end=1` of the run: the span above.
    pub fn entry_page() -> Value {
        json!({
            "entries": [
                {
                    "entry": {
                        "body": {
                            "attributes": {
                                "gen_ai.input.messages": {
                                    "len": 81,
                                    "sha256": "3c51b296e549bfa93e3ed7e3adbe8705df546b6337be3588a055b51529bcc556"
                                },
                                "gen_ai.operation.name": {
                                    "stringValue": "chat"
                                },
                                "gen_ai.output.messages": {
                                    "len": 127,
                                    "sha256": "adfd6ae6c669af4d36bd69a4ee0dd47ee7c352e83d60e95ac1276750d1630fc5"
                                },
                                "gen_ai.provider.name": {
                                    "stringValue": "openai"
                                },
                                "gen_ai.request.model": {
                                    "stringValue": "gpt-4o-mini"
                                },
                                "gen_ai.usage.input_tokens": {
                                    "intValue": "42"
                                },
                                "gen_ai.usage.output_tokens": {
                                    "intValue": "12"
                                }
                            },
                            "end_time_unix_nano": "1767268801250000000",
                            "genai": {
                                "kind_source": "gen_ai.operation.name=chat",
                                "operation": "chat",
                                "pipeline": {
                                    "environment": "production",
                                    "service_name": "support-rag-api",
                                    "service_version": "1.4.0"
                                },
                                "provider": "openai",
                                "request_model": "gpt-4o-mini",
                                "usage": {
                                    "input_tokens": "42",
                                    "output_tokens": "12"
                                }
                            },
                            "kind": "generation",
                            "link": {
                                "method": "none"
                            },
                            "name": "chat gpt-4o-mini",
                            "otel_kind": 3,
                            "resource": {
                                "attributes": {
                                    "deployment.environment.name": {
                                        "stringValue": "production"
                                    },
                                    "service.name": {
                                        "stringValue": "support-rag-api"
                                    },
                                    "service.version": {
                                        "stringValue": "1.4.0"
                                    }
                                }
                            },
                            "scope": {
                                "name": "support_rag.pipeline",
                                "version": "1.4.0"
                            },
                            "span_id": "00f067aa0ba902b7",
                            "start_time_unix_nano": "1767268800000000000",
                            "status": {
                                "code": 1,
                                "message": ""
                            },
                            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"
                        },
                        "index": 0,
                        "log": "traceledger.local/default",
                        "prev": "0000000000000000000000000000000000000000000000000000000000000000",
                        "time": "2026-11-25T10:38:37.126448Z",
                        "type": "span",
                        "v": 1
                    },
                    "entry_bytes": "eyJib2R5Ijp7ImF0dHJpYnV0ZXMiOnsiZ2VuX2FpLmlucHV0Lm1lc3NhZ2VzIjp7ImxlbiI6ODEsInNoYTI1NiI6IjNjNTFiMjk2ZTU0OWJmYTkzZTNlZDdlM2FkYmU4NzA1ZGY1NDZiNjMzN2JlMzU4OGEwNTViNTE1MjliY2M1NTYifSwiZ2VuX2FpLm9wZXJhdGlvbi5uYW1lIjp7InN0cmluZ1ZhbHVlIjoiY2hhdCJ9LCJnZW5fYWkub3V0cHV0Lm1lc3NhZ2VzIjp7ImxlbiI6MTI3LCJzaGEyNTYiOiJhZGZkNmFlNmM2NjlhZjRkMzZiZDY5YTRlZTBkZDQ3ZWU3YzM1MmU4M2Q2MGU5NWFjMTI3Njc1MGQxNjMwZmM1In0sImdlbl9haS5wcm92aWRlci5uYW1lIjp7InN0cmluZ1ZhbHVlIjoib3BlbmFpIn0sImdlbl9haS5yZXF1ZXN0Lm1vZGVsIjp7InN0cmluZ1ZhbHVlIjoiZ3B0LTRvLW1pbmkifSwiZ2VuX2FpLnVzYWdlLmlucHV0X3Rva2VucyI6eyJpbnRWYWx1ZSI6IjQyIn0sImdlbl9haS51c2FnZS5vdXRwdXRfdG9rZW5zIjp7ImludFZhbHVlIjoiMTIifX0sImVuZF90aW1lX3VuaXhfbmFubyI6IjE3NjcyNjg4MDEyNTAwMDAwMDAiLCJnZW5haSI6eyJraW5kX3NvdXJjZSI6Imdlbl9haS5vcGVyYXRpb24ubmFtZT1jaGF0Iiwib3BlcmF0aW9uIjoiY2hhdCIsInBpcGVsaW5lIjp7ImVudmlyb25tZW50IjoicHJvZHVjdGlvbiIsInNlcnZpY2VfbmFtZSI6InN1cHBvcnQtcmFnLWFwaSIsInNlcnZpY2VfdmVyc2lvbiI6IjEuNC4wIn0sInByb3ZpZGVyIjoib3BlbmFpIiwicmVxdWVzdF9tb2RlbCI6ImdwdC00by1taW5pIiwidXNhZ2UiOnsiaW5wdXRfdG9rZW5zIjoiNDIiLCJvdXRwdXRfdG9rZW5zIjoiMTIifX0sImtpbmQiOiJnZW5lcmF0aW9uIiwibGluayI6eyJtZXRob2QiOiJub25lIn0sIm5hbWUiOiJjaGF0IGdwdC00by1taW5pIiwib3RlbF9raW5kIjozLCJyZXNvdXJjZSI6eyJhdHRyaWJ1dGVzIjp7ImRlcGxveW1lbnQuZW52aXJvbm1lbnQubmFtZSI6eyJzdHJpbmdWYWx1ZSI6InByb2R1Y3Rpb24ifSwic2VydmljZS5uYW1lIjp7InN0cmluZ1ZhbHVlIjoic3VwcG9ydC1yYWctYXBpIn0sInNlcnZpY2UudmVyc2lvbiI6eyJzdHJpbmdWYWx1ZSI6IjEuNC4wIn19fSwic2NvcGUiOnsibmFtZSI6InN1cHBvcnRfcmFnLnBpcGVsaW5lIiwidmVyc2lvbiI6IjEuNC4wIn0sInNwYW5faWQiOiIwMGYwNjdhYTBiYTkwMmI3Iiwic3RhcnRfdGltZV91bml4X25hbm8iOiIxNzY3MjY4ODAwMDAwMDAwMDAwIiwic3RhdHVzIjp7ImNvZGUiOjEsIm1lc3NhZ2UiOiIifSwidHJhY2VfaWQiOiI0YmY5MmYzNTc3YjM0ZGE2YTNjZTkyOWQwZTBlNDczNiJ9LCJpbmRleCI6MCwibG9nIjoidHJhY2VsZWRnZXIubG9jYWwvZGVmYXVsdCIsInByZXYiOiIwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwIiwidGltZSI6IjIwMjYtMTEtMjVUMTA6Mzg6MzcuMTI2NDQ4WiIsInR5cGUiOiJzcGFuIiwidiI6MX0=",
                    "index": 0
                }
            ]
        })
    }

    /// `GET /v1/ledger/proofs/inclusion?index=0` of the run (tree size 4).
    pub fn inclusion_proof() -> Value {
        json!({
            "index": 0,
            "leaf_hash": "bcbbe418901a90a19613bf229e17adf48ca239557b573c301d8a64444d4ad289",
            "proof": [
                "e41541b207d41bf1dd27346238ca96e4a2192831d6c17170dac6330d62c41fba",
                "65aa4874e2c386f82c34ac08d82ee98c63fb9c5e65579d8d8044f92e8d489835"
            ],
            "tree_size": 4
        })
    }

    /// `GET /v1/ledger/proofs/consistency?first=1&second=4` of the run.
    pub fn consistency_proof() -> Value {
        json!({
            "first": 1,
            "proof": [
                "e41541b207d41bf1dd27346238ca96e4a2192831d6c17170dac6330d62c41fba",
                "65aa4874e2c386f82c34ac08d82ee98c63fb9c5e65579d8d8044f92e8d489835"
            ],
            "second": 4
        })
    }

    /// A CI key.
    pub fn ci_key_request() -> Value {
        json!({
            "name": "github-actions-release",
            "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        })
    }
}
