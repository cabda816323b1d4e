//! One error type for the HTTP API: every failure maps to a status and an RFC 9457
//! `application/problem+json` body. Internal details are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::auth::AuthError;
use crate::sequencer::SubmitError;
use crate::store::StoreError;

/// An RFC 9457 problem detail. Every 4xx/5xx answer carries one, with
/// `Content-Type: application/problem+json`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

impl Problem {
    /// The problem of `status`: type `about:blank`, titled with the status's reason phrase.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("error").into(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    /// The problem as an `application/problem+json` answer with its status.
    fn into_response(self) -> Response {
        // `status` comes from a `StatusCode` (see `new`); a hand-built invalid one is a 500.
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// An API failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or unknown credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the key lacks a scope.
    #[error("{0}")]
    Forbidden(String),
    /// 404: not found (also for other tenants' data).
    #[error("{0}")]
    NotFound(String),
    /// 413: body too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: unsupported content type or encoding.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: back-pressure; retry after the given seconds.
    #[error("{0}")]
    TooManyRequests(String, u64),
    /// 503: the store is unavailable or the server is stopping; retry after the given seconds.
    #[error("{0}")]
    Unavailable(String, u64),
    /// 500: anything unexpected (details only in logs).
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(..) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(error) = &self {
            tracing::error!(error = %error, "internal error");
        }
        let mut response = Problem::new(status, self.to_string()).into_response();
        match &self {
            ApiError::TooManyRequests(_, seconds) | ApiError::Unavailable(_, seconds) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            ApiError::Unauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(error = %error, "store unavailable");
            return ApiError::Unavailable("storage is temporarily unavailable; retry later".into(), 2);
        }
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::provenance::evidence::EvidenceError> for ApiError {
    fn from(error: crate::provenance::evidence::EvidenceError) -> Self {
        use crate::provenance::evidence::EvidenceError;
        match error {
            EvidenceError::BadRequest(detail) => ApiError::BadRequest(detail),
            EvidenceError::Store(store) => store.into(),
            EvidenceError::Internal(detail) => ApiError::Internal(anyhow::anyhow!(detail)),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Missing => ApiError::Unauthorized("missing Authorization: Bearer <api key>".into()),
            AuthError::Invalid => ApiError::Unauthorized("invalid API key".into()),
            AuthError::Forbidden(scope) => ApiError::Forbidden(format!("this API key lacks the {scope} scope")),
            AuthError::Store(store) => store.into(),
        }
    }
}

impl From<crate::ingest::otlp::DecodeError> for ApiError {
    /// 400, or 413 for a decompression bomb.
    fn from(error: crate::ingest::otlp::DecodeError) -> Self {
        match error {
            crate::ingest::otlp::DecodeError::TooLarge { limit } => {
                ApiError::PayloadTooLarge(format!("decompressed body exceeds {limit} bytes"))
            }
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::Overloaded => ApiError::TooManyRequests("ingest queue is full; retry later".into(), 1),
            SubmitError::ShuttingDown => ApiError::Unavailable("server is shutting down; retry later".into(), 1),
            SubmitError::Invalid { reason, .. } => ApiError::BadRequest(format!("record refused: {reason}")),
            SubmitError::Store(store) => match std::sync::Arc::try_unwrap(store) {
                Ok(store) => store.into(),
                Err(shared) if shared.is_unavailable() => {
                    ApiError::Unavailable("storage is temporarily unavailable; retry later".into(), 2)
                }
                Err(shared) => ApiError::Internal(anyhow::anyhow!("{shared}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_pressure_maps_to_429_and_503_with_retry_after() {
        let response = ApiError::from(SubmitError::Overloaded).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        let response = ApiError::from(SubmitError::ShuttingDown).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let unavailable = StoreError::Database(sqlx::Error::PoolTimedOut);
        let response = ApiError::from(SubmitError::Store(std::sync::Arc::new(unavailable))).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn the_problem_body_has_exactly_the_four_members() {
        let response = ApiError::NotFound("trace 42".into()).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            problem,
            serde_json::json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "trace 42"})
        );
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let error = ApiError::Internal(anyhow::anyhow!("secret path /var/lib/x"));
        assert_eq!(error.to_string(), "internal error");
    }
}
