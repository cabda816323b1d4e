//! `POST /v1/traces`: the OTLP/HTTP adapter. Decode → normalize → sequencer → answer
//! in the request's encoding, only once the spans are durable.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};

use super::otlp::{self, DecodeError, Encoding};
use super::{prepare_spans, NormalizedSpan, SpanRejection};
use crate::api::auth::Caller;
use crate::app::AppState;
use crate::domain::Scope;
use crate::error::ApiError;
use crate::store::{AppendItem, Tenant};

/// Handles an OTLP/HTTP trace export.
pub async fn export_traces(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = caller.require(Scope::Ingest)?.clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let encoding = Encoding::from_content_type(content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {content_type:?}: use application/x-protobuf or application/json"
        ))
    })?;
    let limit = state.config.max_body_bytes;
    let raw = axum::body::to_bytes(body, limit).await.map_err(|error| {
        if is_length_limit(&error) {
            ApiError::PayloadTooLarge(format!("request body exceeds {limit} bytes"))
        } else {
            ApiError::BadRequest(format!("could not read request body: {error}"))
        }
    })?;
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let decoded_body = match content_encoding.as_str() {
        "" | "identity" => raw.to_vec(),
        "gzip" => otlp::gunzip(&raw, limit).map_err(decode_error)?,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported Content-Encoding {other:?}: use gzip or none"
            )))
        }
    };
    let request = otlp::decode_trace_request(&decoded_body, encoding).map_err(decode_error)?;
    let (accepted, rejected) = prepare_spans(&request);
    if accepted.is_empty() && !rejected.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "all {} spans were rejected: {}",
            rejected.len(),
            summarize_rejections(&rejected)
        )));
    }
    let accepted_count = accepted.len();
    if accepted_count > 0 {
        let items = accepted
            .into_iter()
            .map(|span| span_append_item(&tenant, span))
            .collect();
        let receipt = state.sequencer.submit(&tenant, items).await?;
        tracing::info!(
            tenant = %tenant.name,
            spans = accepted_count,
            new = crate::sequencer::count_new(&receipt),
            rejected = rejected.len(),
            tree_size = receipt.tree_size,
            "spans committed"
        );
    }
    let partial_success = if rejected.is_empty() {
        None
    } else {
        Some(ExportTracePartialSuccess {
            rejected_spans: rejected.len() as i64,
            error_message: summarize_rejections(&rejected),
        })
    };
    let response = ExportTraceServiceResponse { partial_success };
    let mut http_response = (StatusCode::OK, otlp::encode_trace_response(&response, encoding)).into_response();
    http_response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
    Ok(http_response)
}

/// The append item for a normalized span: deduplicated by trace id + span id, outputs
/// indexed by keyed digest.
pub fn span_append_item(tenant: &Tenant, span: NormalizedSpan) -> AppendItem {
    let trace_id = span.trace_id.to_hex();
    let span_id = span.span_id.to_hex();
    let output_digests = span
        .outputs
        .iter()
        .map(|output| crate::audit::output_digest(&tenant.lookup_secret, output))
        .collect();
    AppendItem {
        entry: crate::ledger::batch::PendingEntry {
            entry_type: "span".into(),
            body: span.body,
        },
        contents: span.contents,
        dedupe_key: Some(format!("span:{trace_id}:{span_id}")),
        trace_id: Some(trace_id),
        span_id: Some(span_id),
        output_digests,
    }
}

fn summarize_rejections(rejected: &[SpanRejection]) -> String {
    const SHOWN: usize = 10;
    let mut parts: Vec<String> = rejected.iter().take(SHOWN).map(ToString::to_string).collect();
    if rejected.len() > SHOWN {
        parts.push(format!("and {} more", rejected.len() - SHOWN));
    }
    parts.join("; ")
}

fn decode_error(error: DecodeError) -> ApiError {
    match error {
        DecodeError::TooLarge { limit } => {
            ApiError::PayloadTooLarge(format!("decompressed body exceeds {limit} bytes"))
        }
        other => ApiError::BadRequest(other.to_string()),
    }
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}
