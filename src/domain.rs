//! Newtypes parsed once at the edge: ids, tenant names, scopes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Errors of parsing domain values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainError {
    /// A trace id must be 16 bytes and not all zero.
    #[error("invalid trace id: {0}")]
    TraceId(String),
    /// A span id must be 8 bytes and not all zero.
    #[error("invalid span id: {0}")]
    SpanId(String),
    /// Tenant names are 1-64 characters of `a-z0-9-_`.
    #[error("invalid tenant name {0:?}: use 1-64 characters of a-z, 0-9, '-' and '_'")]
    TenantName(String),
    /// Unknown scope name.
    #[error("unknown scope {0:?}: expected one of ingest, audit:read, audit:content, export, admin")]
    Scope(String),
}

/// Nanoseconds since the Unix epoch of an RFC 3339 time, if it parses and fits in an
/// `i64` (years 1677–2262).
pub fn rfc3339_to_unix_nanos(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text).ok()?.timestamp_nanos_opt()
}

/// A 16-byte W3C/OTLP trace id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

impl TraceId {
    /// Parses raw OTLP bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DomainError> {
        let array: [u8; 16] = bytes
            .try_into()
            .map_err(|_| DomainError::TraceId(format!("expected 16 bytes, got {}", bytes.len())))?;
        if array == [0u8; 16] {
            return Err(DomainError::TraceId("all zeros".into()));
        }
        Ok(TraceId(array))
    }

    /// Parses 32 hex characters.
    pub fn parse_hex(text: &str) -> Result<Self, DomainError> {
        let bytes = hex::decode(text).map_err(|_| DomainError::TraceId(format!("{text:?} is not hex")))?;
        Self::from_bytes(&bytes)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An 8-byte OTLP span id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

impl SpanId {
    /// Parses raw OTLP bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DomainError> {
        let array: [u8; 8] = bytes
            .try_into()
            .map_err(|_| DomainError::SpanId(format!("expected 8 bytes, got {}", bytes.len())))?;
        if array == [0u8; 8] {
            return Err(DomainError::SpanId("all zeros".into()));
        }
        Ok(SpanId(array))
    }

    /// Parses 16 hex characters.
    pub fn parse_hex(text: &str) -> Result<Self, DomainError> {
        let bytes = hex::decode(text).map_err(|_| DomainError::SpanId(format!("{text:?} is not hex")))?;
        Self::from_bytes(&bytes)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A tenant name: 1-64 characters of `a-z0-9-_`, so it is safe inside an origin string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantName(String);

impl TenantName {
    /// Parses and validates a tenant name.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(DomainError::TenantName(text.to_owned()));
        }
        Ok(TenantName(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantName {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantName> for String {
    fn from(value: TenantName) -> Self {
        value.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an API key may do inside its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Send telemetry.
    #[serde(rename = "ingest")]
    Ingest,
    /// Read metadata, entries and proofs.
    #[serde(rename = "audit:read")]
    AuditRead,
    /// Read plain content.
    #[serde(rename = "audit:content")]
    AuditContent,
    /// Export signed bundles.
    #[serde(rename = "export")]
    Export,
    /// Everything, including policy changes.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// All scopes.
    pub const ALL: [Scope; 5] = [
        Scope::Ingest,
        Scope::AuditRead,
        Scope::AuditContent,
        Scope::Export,
        Scope::Admin,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::AuditRead => "audit:read",
            Scope::AuditContent => "audit:content",
            Scope::Export => "export",
            Scope::Admin => "admin",
        }
    }
}

impl FromStr for Scope {
    type Err = DomainError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| DomainError::Scope(text.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_wrong_lengths_and_zeros() {
        assert!(TraceId::from_bytes(&[1u8; 15]).is_err());
        assert!(TraceId::from_bytes(&[0u8; 16]).is_err());
        assert_eq!(TraceId::from_bytes(&[0xab; 16]).unwrap().to_hex(), "ab".repeat(16));
        assert!(SpanId::from_bytes(&[0u8; 8]).is_err());
        assert!(SpanId::parse_hex("zz").is_err());
    }

    #[test]
    fn tenant_names_are_restricted() {
        assert!(TenantName::parse("acme-1").is_ok());
        assert!(TenantName::parse("Acme").is_err());
        assert!(TenantName::parse("a b").is_err());
        assert!(TenantName::parse("").is_err());
        assert!(TenantName::parse("a+b").is_err());
    }

    #[test]
    fn scopes_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
        }
        assert!("root".parse::<Scope>().is_err());
    }
}
