//! Pure decoding of OTLP/HTTP trace bodies: protobuf or JSON, optionally gzip.

use std::io::Read;

use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// Picks the encoding from a Content-Type header value (parameters ignored).
    pub fn from_content_type(content_type: &str) -> Option<Encoding> {
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    /// The Content-Type of responses in this encoding.
    pub fn content_type(&self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The gzip stream is corrupt.
    #[error("body is not valid gzip: {0}")]
    Gzip(String),
    /// The decompressed body exceeds the limit.
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The protobuf is malformed.
    #[error("body is not a valid OTLP protobuf export request: {0}")]
    Protobuf(String),
    /// The JSON is malformed.
    #[error("body is not a valid OTLP/JSON export request: {0}")]
    Json(String),
}

/// Gunzips `body`, refusing to inflate past `limit` bytes (zip bombs).
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let decoder = flate2::read::GzDecoder::new(body);
    let mut out = Vec::new();
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| DecodeError::Gzip(error.to_string()))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// Decodes an ExportTraceServiceRequest in the given encoding.
pub fn decode_trace_request(body: &[u8], encoding: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    match encoding {
        Encoding::Protobuf => {
            ExportTraceServiceRequest::decode(body).map_err(|error| DecodeError::Protobuf(error.to_string()))
        }
        Encoding::Json => serde_json::from_slice(body).map_err(|error| DecodeError::Json(error.to_string())),
    }
}

/// Decodes an ExportLogsServiceRequest in the given encoding.
pub fn decode_logs_request(body: &[u8], encoding: Encoding) -> Result<ExportLogsServiceRequest, DecodeError> {
    match encoding {
        Encoding::Protobuf => {
            ExportLogsServiceRequest::decode(body).map_err(|error| DecodeError::Protobuf(error.to_string()))
        }
        Encoding::Json => serde_json::from_slice(body).map_err(|error| DecodeError::Json(error.to_string())),
    }
}

/// Encodes an ExportLogsServiceResponse in the given encoding.
pub fn encode_logs_response(response: &ExportLogsServiceResponse, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(response).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

/// Encodes an ExportTraceServiceResponse in the given encoding.
pub fn encode_trace_response(response: &ExportTraceServiceResponse, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        // Serializing a generated message with plain fields cannot fail.
        Encoding::Json => serde_json::to_vec(response).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            Encoding::from_content_type("application/x-protobuf"),
            Some(Encoding::Protobuf)
        );
        assert_eq!(
            Encoding::from_content_type("application/json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(Encoding::from_content_type("text/plain"), None);
    }

    #[test]
    fn gzip_limits() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&vec![b'a'; 10_000]).unwrap();
        let compressed = encoder.finish().unwrap();
        assert_eq!(gunzip(&compressed, 10_000).unwrap().len(), 10_000);
        assert!(matches!(gunzip(&compressed, 9_999), Err(DecodeError::TooLarge { .. })));
        assert!(matches!(gunzip(b"not gzip", 100), Err(DecodeError::Gzip(_))));
    }

    #[test]
    fn malformed_protobuf_is_an_error() {
        assert!(decode_trace_request(&[0xff, 0xff, 0xff], Encoding::Protobuf).is_err());
    }
}
