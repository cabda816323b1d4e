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

/// Gunzips every member of `body` (RFC 1952 allows several, concatenated), refusing to
/// inflate past `limit` bytes (zip bombs) and bytes after the last member that are not
/// gzip.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    gunzip_within(body, limit, |_| Ok(()))
}

/// Bytes inflated between two calls of the `reserve` callback of [`gunzip_within`].
pub const INFLATE_STEP: usize = 64 * 1024;

/// [`gunzip`], calling `reserve(n)` before the output buffer grows to a capacity of `n`
/// bytes, so that memory is accounted before it is used; an error from `reserve` stops
/// the inflation.
pub fn gunzip_within<E: From<DecodeError>>(
    body: &[u8],
    limit: usize,
    mut reserve: impl FnMut(usize) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    let mut decoder = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    let mut out = Vec::new();
    let mut step = vec![0u8; INFLATE_STEP];
    loop {
        let read = decoder
            .read(&mut step)
            .map_err(|error| DecodeError::Gzip(error.to_string()))?;
        if read == 0 {
            return Ok(out);
        }
        if out.len() + read > limit {
            return Err(DecodeError::TooLarge { limit }.into());
        }
        let needed = out.len() + read;
        if needed > out.capacity() {
            // Grow as a vector does (doubling), but account for the allocation first.
            let capacity = needed.max(out.capacity() * 2).min(limit);
            reserve(capacity)?;
            out.reserve_exact(capacity - out.len());
        }
        out.extend_from_slice(&step[..read]);
    }
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

/// Encodes an OTLP response in the given encoding.
pub fn encode_response<R: Message + serde::Serialize>(response: &R, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        // Serializing a generated message with plain fields cannot fail.
        Encoding::Json => serde_json::to_vec(response).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

/// Encodes an ExportLogsServiceResponse in the given encoding.
pub fn encode_logs_response(response: &ExportLogsServiceResponse, encoding: Encoding) -> Vec<u8> {
    encode_response(response, encoding)
}

/// Encodes an ExportTraceServiceResponse in the given encoding.
pub fn encode_trace_response(response: &ExportTraceServiceResponse, encoding: Encoding) -> Vec<u8> {
    encode_response(response, encoding)
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
    fn every_gzip_member_is_inflated_and_trailing_bytes_are_refused() {
        use std::io::Write;
        let member = |text: &[u8]| {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(text).unwrap();
            encoder.finish().unwrap()
        };
        let mut two = member(b"first ");
        two.extend(member(b"second"));
        assert_eq!(gunzip(&two, 100).unwrap(), b"first second");
        assert!(matches!(gunzip(&two, 11), Err(DecodeError::TooLarge { limit: 11 })));
        let mut trailing = member(b"first");
        trailing.extend_from_slice(b"junk");
        assert!(matches!(gunzip(&trailing, 100), Err(DecodeError::Gzip(_))));
    }

    #[test]
    fn inflation_reserves_before_it_grows() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&vec![7u8; 300_000]).unwrap();
        let compressed = encoder.finish().unwrap();
        let mut reserved = Vec::new();
        let out = gunzip_within::<DecodeError>(&compressed, 1 << 20, |total| {
            reserved.push(total);
            Ok(())
        })
        .unwrap();
        assert_eq!(out.len(), 300_000);
        assert!(reserved
            .last()
            .is_some_and(|last| *last >= 300_000 && *last <= 2 * 300_000));
        assert!(reserved.windows(2).all(|pair| pair[1] > pair[0]));
        let refused = gunzip_within(&compressed, 1 << 20, |total| {
            if total > 100_000 {
                Err(DecodeError::Gzip("budget".into()))
            } else {
                Ok(())
            }
        });
        assert!(matches!(refused, Err(DecodeError::Gzip(message)) if message == "budget"));
    }

    #[test]
    fn malformed_protobuf_is_an_error() {
        assert!(decode_trace_request(&[0xff, 0xff, 0xff], Encoding::Protobuf).is_err());
    }
}
