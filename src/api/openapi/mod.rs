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
        super::langfuse::projects,
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
            crate::error::Problem,
            crate::verifier_keys::PublishedKey,
            crate::verifier_keys::KeyList,
            crate::ledger::entry::Entry,
            super::ledger::EntryRecord,
            super::ledger::EntryPage,
            super::ledger::InclusionProof,
            super::ledger::ConsistencyProof,
            OtlpProtobuf,
            OtlpTracesRequest,
            OtlpTracesResponse,
            OtlpTracesPartialSuccess,
            OtlpLogsRequest,
            OtlpLogsResponse,
            OtlpLogsPartialSuccess,
            super::langfuse::LangfuseProjects,
            super::langfuse::LangfuseProject,
            super::langfuse::LangfuseOrganization,
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

pub mod described_here;
pub mod examples;
mod responses;
mod schemas;

pub use responses::*;
pub use schemas::*;
