//! `POST /v1/traces` (and Langfuse's `POST /api/public/otel/v1/traces`) and
//! `POST /v1/logs`: the OTLP/HTTP adapter. Authenticate, read the body under the memory
//! budget, hand it to [`crate::intake::admission`] and [`crate::intake::service`], answer in the
//! request's encoding.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::api::auth::Caller;
use crate::domain::Scope;
use crate::error::ApiError;
use crate::ingest::budget::Reservation;
use crate::ingest::otlp::{self, Encoding};
use crate::intake::admission::{admit, Compression, Export, Logs, RawExport, Traces};
use crate::state::AppState;

/// Handles an OTLP/HTTP trace export.
#[utoipa::path(
    post,
    path = "/v1/traces",
    operation_id = "export_traces",
    tag = "ingest",
    summary = "OTLP/HTTP trace export",
    description = "A standard OTLP/HTTP traces endpoint: point any OpenTelemetry exporter \
        here. The body is an `ExportTraceServiceRequest`, protobuf or JSON, optionally \
        gzip-compressed. Answers 200 only once every accepted span is durable in the \
        ledger, with an `ExportTraceServiceResponse` in the request's encoding whose partial \
        success names the rejected spans and why. Re-sent spans are recognized (no second \
        entry). Under back-pressure: 429 or 503 with `Retry-After`. Scope `ingest`.",
    security(("bearer" = ["ingest"])),
    params(
        ("Content-Encoding" = Option<String>, Header, nullable = false, description = "`gzip` or absent (`identity`)."),
    ),
    request_body(
        description = "An OTLP `ExportTraceServiceRequest`.",
        content(
            (crate::api::openapi::OtlpProtobuf = "application/x-protobuf"),
            (crate::api::openapi::OtlpTracesRequest = "application/json",
                example = json!(crate::api::openapi::examples::otlp_traces_request())),
        ),
    ),
    responses(
        (status = 200, description = "Every accepted span is durable. The body is an OTLP \
            `ExportTraceServiceResponse` in the request's encoding.",
            content(
                (crate::api::openapi::OtlpProtobuf = "application/x-protobuf"),
                (crate::api::openapi::OtlpTracesResponse = "application/json", examples(
                    ("accepted" = (summary = "Every span accepted", value = json!({"partialSuccess": null}))),
                    ("partial" = (summary = "Some spans rejected", value = json!({"partialSuccess": {
                        "rejectedSpans": 1,
                        "errorMessage": "span 3 (\"chat\"): attribute \"gen_ai.input.messages\" has 2097152 bytes, above the limit of 1048576"
                    }}))),
                )),
            )),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, response = crate::api::openapi::Forbidden),
        (status = 413, response = crate::api::openapi::PayloadTooLarge),
        (status = 415, response = crate::api::openapi::UnsupportedMediaType),
        (status = 429, response = crate::api::openapi::TooManyRequests),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable),
    ),
)]
pub async fn export_traces(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    export::<Traces>(state, caller, headers, body).await
}

/// Handles an OTLP/HTTP logs export (`POST /v1/logs`).
#[utoipa::path(
    post,
    path = "/v1/logs",
    operation_id = "export_logs",
    tag = "ingest",
    summary = "OTLP/HTTP logs export",
    description = "A standard OTLP/HTTP logs endpoint (GenAI content events): each record \
        becomes a `log` entry linked to its span by trace and span id, content committed \
        like span content. Same encodings, durability and back-pressure as \
        `POST /v1/traces`. Scope `ingest`.",
    security(("bearer" = ["ingest"])),
    params(
        ("Content-Encoding" = Option<String>, Header, nullable = false, description = "`gzip` or absent (`identity`)."),
    ),
    request_body(
        description = "An OTLP `ExportLogsServiceRequest`.",
        content(
            (crate::api::openapi::OtlpProtobuf = "application/x-protobuf"),
            (crate::api::openapi::OtlpLogsRequest = "application/json",
                example = json!(crate::api::openapi::examples::otlp_logs_request())),
        ),
    ),
    responses(
        (status = 200, description = "Every accepted record is durable. The body is an OTLP \
            `ExportLogsServiceResponse` in the request's encoding.",
            content(
                (crate::api::openapi::OtlpProtobuf = "application/x-protobuf"),
                (crate::api::openapi::OtlpLogsResponse = "application/json",
                    example = json!({"partialSuccess": null})),
            )),
        (status = 400, response = crate::api::openapi::BadRequest),
        (status = 401, response = crate::api::openapi::Unauthorized),
        (status = 403, response = crate::api::openapi::Forbidden),
        (status = 413, response = crate::api::openapi::PayloadTooLarge),
        (status = 415, response = crate::api::openapi::UnsupportedMediaType),
        (status = 429, response = crate::api::openapi::TooManyRequests),
        (status = 500, response = crate::api::openapi::InternalError),
        (status = 503, response = crate::api::openapi::Unavailable),
    ),
)]
pub async fn export_logs(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    export::<Logs>(state, caller, headers, body).await
}

/// Authenticated (the `Caller` extractor ran before the body was touched), then: the
/// body read under the memory budget, admitted, committed. The reservation is held
/// until the response is built.
async fn export<E: Export>(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = caller.require(Scope::Ingest)?.clone();
    let reservation = Arc::new(state.ingest.budget().reservation());
    let raw = read_otlp_body(&state, &headers, body, &reservation).await?;
    let encoding = raw.encoding;
    let prepared = admit::<E>(state.intake(), raw, &reservation).await?;
    let response = E::commit(state.intake(), &tenant, prepared).await?;
    Ok(otlp_response(otlp::encode_response(&response, encoding), encoding))
}

/// Checks the content type and encoding, then reads the body within the body limit and
/// the memory budget: a `Content-Length` is reserved before the first byte is read,
/// a body without one is reserved as it arrives.
pub async fn read_otlp_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    reservation: &Reservation,
) -> Result<RawExport, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let encoding = Encoding::from_content_type(content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {content_type:?}: use application/x-protobuf or application/json"
        ))
    })?;
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let compression = match content_encoding.as_str() {
        "" | "identity" => Compression::Identity,
        "gzip" => Compression::Gzip,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported Content-Encoding {other:?}: use gzip or none"
            )))
        }
    };
    let limit = state.config.max_body_bytes;
    let too_large = || ApiError::PayloadTooLarge(format!("request body exceeds {limit} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<usize>().ok());
    let mut raw = Vec::new();
    if let Some(length) = declared {
        if length > limit {
            return Err(too_large());
        }
        reservation.grow_to(length)?;
        raw.reserve_exact(length);
    }
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| ApiError::BadRequest(format!("could not read request body: {error}")))?;
        let Ok(data) = frame.into_data() else { continue };
        let needed = raw.len() + data.len();
        if needed > limit {
            return Err(too_large());
        }
        if needed > raw.capacity() {
            // Grow as a vector does, but reserve the memory before allocating it.
            let capacity = needed.max(raw.capacity() * 2).min(limit);
            reservation.grow_to(capacity)?;
            raw.reserve_exact(capacity - raw.len());
        }
        raw.extend_from_slice(&data);
    }
    Ok(RawExport {
        bytes: Bytes::from(raw),
        encoding,
        compression,
        inflate_limit: limit,
    })
}

/// A 200 response with an encoded OTLP message.
pub fn otlp_response(body: Vec<u8>, encoding: Encoding) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
    response
}
