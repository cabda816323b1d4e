//! The `Authorization: Bearer <api key>` extractor.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::auth::{authenticate, has_scope, AuthError};
use crate::domain::Scope;
use crate::error::ApiError;
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
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .ok_or(AuthError::Missing)?
            .trim();
        let record = authenticate(state.store.as_ref(), token).await?;
        Ok(Caller(record))
    }
}
