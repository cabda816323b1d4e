//! Reusable problem responses: every 4xx/5xx answer is an RFC 9457 problem.

use super::*;
use crate::error::Problem;

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
