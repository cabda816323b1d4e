//! The `Authorization: Bearer <api key>` extractor.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::auth::{authenticate, has_scope, AuthError};
use crate::domain::Scope;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{ApiKeyRecord, Tenant};

/// An authenticated caller.
pub struct Caller(pub ApiKeyRecord);

impl Caller {
    /// Fails with 403 unless the key grants `scope`.
    pub fn require(&self, scope: Scope) -> Result<&Tenant, ApiError> {
        if has_scope(&self.0, scope) {
            Ok(&self.0.tenant)
        } else {
            Err(AuthError::Forbidden(scope).into())
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header_value = parts.headers.get(header::AUTHORIZATION).ok_or(AuthError::Missing)?;
        let text = header_value.to_str().map_err(|_| AuthError::Invalid)?;
        let token = token_from_authorization(text)?;
        let record = authenticate(state.store.as_ref(), &token).await?;
        if let Some(user) = basic_user(text) {
            // Basic auth (Langfuse SDKs): the user part must name the key or its tenant.
            if user != record.id && user != record.tenant.name.as_str() {
                return Err(AuthError::Invalid.into());
            }
        }
        Ok(Caller(record))
    }
}

/// The API key in an `Authorization` value: `Bearer <key>`, or `Basic base64(user:key)`
/// as Langfuse SDKs send it (public key = the key id or tenant name, secret key = the
/// API key).
pub fn token_from_authorization(value: &str) -> Result<String, AuthError> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').ok_or(AuthError::Missing)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let token = rest.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        return Ok(token.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let (_, secret) = decode_basic(rest).ok_or(AuthError::Invalid)?;
        return Ok(secret);
    }
    Err(AuthError::Missing)
}

fn basic_user(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    decode_basic(rest).map(|(user, _)| user)
}

fn decode_basic(encoded: &str) -> Option<(String, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, secret) = text.split_once(':')?;
    Some((user.to_owned(), secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_forms() {
        assert_eq!(token_from_authorization("Bearer abc").unwrap(), "abc");
        assert_eq!(token_from_authorization("bearer  abc ").unwrap(), "abc");
        assert!(matches!(token_from_authorization("Bearer "), Err(AuthError::Missing)));
        assert!(matches!(token_from_authorization("Token abc"), Err(AuthError::Missing)));
        // "pk:tl_x" in base64
        assert_eq!(token_from_authorization("Basic cGs6dGxfeA==").unwrap(), "tl_x");
        assert_eq!(basic_user("Basic cGs6dGxfeA==").as_deref(), Some("pk"));
        assert!(matches!(token_from_authorization("Basic !!!"), Err(AuthError::Invalid)));
    }
}
