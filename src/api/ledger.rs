//! Ledger read endpoints (DESIGN §7, contract): verifier keys, the latest checkpoint,
//! entries, inclusion and consistency proofs.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use crate::domain::Scope;
use crate::error::ApiError;
use crate::ledger::checkpoint::LogSigner;
use crate::ledger::merkle;
use crate::ledger::{hash_hex, Hash};
use crate::state::AppState;
use crate::store::Tenant;
use crate::verifier_keys::{etag_of, KeyList};

/// Largest page of `GET /v1/ledger/entries`.
pub const MAX_ENTRIES_PAGE: u64 = 1000;

/// Query of `GET /v1/keys`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeysQuery {
    /// Only keys for this log origin.
    pub origin: Option<String>,
}

/// `GET /v1/keys` — public: every verifier key of every log (old keys stay published).
#[utoipa::path(
    get,
    path = "/v1/keys",
    operation_id = "list_verifier_keys",
    tag = "ledger",
    summary = "Verifier keys (public)",
    description = "Every verifier key of every log, as C2SP signed-note verifier keys \
        `<origin>+<hex8 key hash>+<base64(0x01 || Ed25519 public key)>`. Retired keys stay \
        published, so old checkpoints keep verifying. No API key needed. The answer carries \
        an `ETag`; a request with a matching `If-None-Match` gets 304.",
    params(
        KeysQuery,
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "An `ETag` of an earlier answer."),
    ),
    responses(
        (status = 200, description = "The verifier keys.", body = KeyList,
            headers(("ETag" = String, description = "Entity tag of this answer.")),
            example = json!(super::openapi::examples::key_list())),
        (status = 304, description = "Unchanged since the answer whose `ETag` was sent in `If-None-Match`."),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn keys(
    State(state): State<AppState>,
    Query(query): Query<KeysQuery>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    // Public and unauthenticated: one indexed query per call; the directory itself is
    // walked only when it changed.
    let stamp = state.store.directory_stamp().await?;
    let directory = state.public.keys(stamp, state.store.as_ref()).await?;
    let (body, etag) = match &query.origin {
        None => (directory.body.clone(), directory.etag.clone()),
        Some(origin) => {
            let selected = KeyList {
                keys: directory
                    .keys
                    .iter()
                    .filter(|key| &key.origin == origin)
                    .cloned()
                    .collect(),
            };
            let body = serde_json::to_vec(&selected).map_err(|error| ApiError::Internal(error.into()))?;
            let etag = etag_of(&body);
            (axum::body::Bytes::from(body), etag)
        }
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|candidate| candidate.trim() == etag));
    let mut response = if not_modified {
        axum::http::StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    if let Ok(value) = axum::http::HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// `GET /v1/ledger/checkpoint` — the latest signed checkpoint (text/plain).
#[utoipa::path(
    get,
    path = "/v1/ledger/checkpoint",
    operation_id = "get_checkpoint",
    tag = "ledger",
    summary = "The latest signed checkpoint",
    description = "The caller's tenant log's latest checkpoint as a C2SP tlog-checkpoint, \
        signed as a C2SP signed note (Ed25519): origin, tree size, base64 root hash, a blank \
        line, then `— <key name> <base64(key hash[4] || signature[64])>`. Verify it with any \
        conforming signed-note verifier and a key from `GET /v1/keys`. An empty log answers \
        a signed checkpoint of size 0. Scope `audit:read`.",
    security(("bearer" = ["audit:read"])),
    responses(
        (status = 200, description = "The signed checkpoint note.", body = String,
            content_type = "text/plain; charset=utf-8",
            example = json!(super::openapi::examples::CHECKPOINT)),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn checkpoint(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?;
    let note = match state.store.latest_checkpoint(tenant).await? {
        Some(checkpoint) => checkpoint.note,
        // An empty log has no stored checkpoint; the empty tree is consistent with any later one.
        None => signer_for(&state, tenant)?
            .sign_checkpoint(0, &tlog_tiles::EMPTY_HASH)
            .map_err(|error| ApiError::Internal(error.into()))?,
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note))
}

fn signer_for(state: &AppState, tenant: &Tenant) -> Result<LogSigner, ApiError> {
    LogSigner::new(&tenant.origin, state.signing_key.clone()).map_err(|error| ApiError::Internal(error.into()))
}

/// Query of `GET /v1/ledger/entries`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// First index (inclusive).
    pub start: u64,
    /// End index (exclusive).
    pub end: u64,
}

/// `GET /v1/ledger/entries`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryPage {
    /// Entries `start..end` in order (at most 1000; fewer at the end of the log).
    pub entries: Vec<EntryRecord>,
}

/// One entry of `GET /v1/ledger/entries`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryRecord {
    /// Position in the log.
    pub index: u64,
    /// The entry, decoded.
    // The stored bytes decoded as they are rather than through `Entry`: a row whose bytes
    // were altered is served as it is (its leaf hash gives it away), neither refused nor
    // trimmed to the known fields.
    #[schema(value_type = crate::ledger::entry::Entry)]
    pub entry: serde_json::Value,
    /// Base64 of the exact canonical (JCS) bytes the leaf hash covers.
    #[schema(content_encoding = "base64")]
    pub entry_bytes: String,
}

/// `GET /v1/ledger/entries?start=A&end=B` — half-open range, at most
/// [`MAX_ENTRIES_PAGE`] entries; `end` beyond the tree is clamped.
#[utoipa::path(
    get,
    path = "/v1/ledger/entries",
    operation_id = "get_entries",
    tag = "ledger",
    summary = "Ledger entries",
    description = "Entries `start` (inclusive) to `end` (exclusive), at most 1000 per page; \
        `end` beyond the tree is clamped. Each comes decoded and as the base64 of its exact \
        RFC 8785 bytes, whose leaf hash is `SHA-256(0x00 || entry_bytes)`. Content fields \
        are commitments. Scope `audit:read`.",
    security(("bearer" = ["audit:read"])),
    params(EntriesQuery),
    responses(
        (status = 200, description = "The entries.", body = EntryPage,
            example = json!(super::openapi::examples::entry_page())),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<EntriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EntryPage>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?;
    let Query(query) = query.map_err(|error| ApiError::BadRequest(format!("invalid query: {}", error.body_text())))?;
    // Indexes are stored as signed 64-bit integers; no entry can lie beyond that.
    if i64::try_from(query.start).is_err() {
        return Err(ApiError::BadRequest(format!(
            "start {} is above the largest possible index {}",
            query.start,
            i64::MAX
        )));
    }
    if query.start > query.end {
        return Err(ApiError::BadRequest(format!(
            "start {} is after end {}",
            query.start, query.end
        )));
    }
    let end = query
        .end
        .min(query.start.saturating_add(MAX_ENTRIES_PAGE))
        .min(i64::MAX as u64);
    let rows = state.store.entries(tenant, query.start, end).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let entry = crate::ledger::entry::parse_entry_value(&row.entry_bytes)
            .map_err(|error| ApiError::Internal(anyhow::anyhow!("entry {}: {error}", row.index)))?;
        out.push(EntryRecord {
            index: row.index,
            entry,
            entry_bytes: base64::engine::general_purpose::STANDARD.encode(&row.entry_bytes),
        });
    }
    Ok(Json(EntryPage { entries: out }))
}

/// Query of the inclusion proof endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// Entry index.
    pub index: u64,
    /// Tree size; defaults to the current size.
    pub tree_size: Option<u64>,
}

/// An RFC 9162 §2.1.3 inclusion proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// `GET /v1/ledger/proofs/inclusion?index=N&tree_size=M`.
#[utoipa::path(
    get,
    path = "/v1/ledger/proofs/inclusion",
    operation_id = "get_inclusion_proof",
    tag = "ledger",
    summary = "Inclusion proof",
    description = "The RFC 9162 §2.1.3 inclusion proof of entry `index` in the tree of \
        `tree_size` entries (default: the current size). Scope `audit:read`.",
    security(("bearer" = ["audit:read"])),
    params(InclusionQuery),
    responses(
        (status = 200, description = "The proof (hex hashes).", body = InclusionProof,
            example = json!(super::openapi::examples::inclusion_proof())),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn inclusion(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<InclusionProof>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?;
    let Query(query) = query.map_err(|error| ApiError::BadRequest(format!("invalid query: {}", error.body_text())))?;
    let current = state.store.tree_size(tenant).await?;
    let tree_size = query.tree_size.unwrap_or(current);
    if tree_size > current {
        return Err(ApiError::BadRequest(format!(
            "tree_size {tree_size} exceeds the current size {current}"
        )));
    }
    let (leaf_hash, proof) = inclusion_proof(&state, tenant, query.index, tree_size).await?;
    Ok(Json(InclusionProof {
        index: query.index,
        tree_size,
        leaf_hash: hash_hex(&leaf_hash),
        proof: proof.iter().map(hash_hex).collect(),
    }))
}

/// Leaf hash and inclusion proof of `index` in the tree of `tree_size` (O(log n) reads).
pub async fn inclusion_proof(
    state: &AppState,
    tenant: &Tenant,
    index: u64,
    tree_size: u64,
) -> Result<(Hash, Vec<Hash>), ApiError> {
    let mut needed =
        merkle::inclusion_proof_indexes(index, tree_size).map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let leaf_index = merkle::leaf_stored_index(index);
    needed.push(leaf_index);
    let hashes = state.store.stored_hashes(tenant, &needed).await?;
    let leaf_hash = *hashes
        .get(&leaf_index)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("leaf hash {index} missing")))?;
    let proof = merkle::inclusion_proof(index, tree_size, &hashes).map_err(|error| ApiError::Internal(error.into()))?;
    Ok((leaf_hash, proof))
}

/// Query of the consistency proof endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// Smaller tree size (at least 1).
    pub first: u64,
    /// Larger tree size (at most the current size).
    pub second: u64,
}

/// An RFC 9162 §2.1.4 consistency proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    /// The smaller tree size.
    pub first: u64,
    /// The larger tree size.
    pub second: u64,
    /// Hex node hashes.
    pub proof: Vec<String>,
}

/// `GET /v1/ledger/proofs/consistency?first=A&second=B`.
#[utoipa::path(
    get,
    path = "/v1/ledger/proofs/consistency",
    operation_id = "get_consistency_proof",
    tag = "ledger",
    summary = "Consistency proof",
    description = "The RFC 9162 §2.1.4 consistency proof between the trees of `first` and \
        `second` entries (`1 <= first <= second <=` the current size). Scope `audit:read`.",
    security(("bearer" = ["audit:read"])),
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof (hex hashes).", body = ConsistencyProof,
            example = json!(super::openapi::examples::consistency_proof())),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn consistency(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let tenant = caller.require(Scope::AuditRead)?;
    let Query(query) = query.map_err(|error| ApiError::BadRequest(format!("invalid query: {}", error.body_text())))?;
    let current = state.store.tree_size(tenant).await?;
    if query.second > current {
        return Err(ApiError::BadRequest(format!(
            "second {} exceeds the current size {current}",
            query.second
        )));
    }
    let needed = merkle::consistency_proof_indexes(query.first, query.second)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let hashes = state.store.stored_hashes(tenant, &needed).await?;
    let proof = merkle::consistency_proof(query.first, query.second, &hashes)
        .map_err(|error| ApiError::Internal(error.into()))?;
    Ok(Json(ConsistencyProof {
        first: query.first,
        second: query.second,
        proof: proof.iter().map(hash_hex).collect(),
    }))
}
