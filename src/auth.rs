//! API keys: random, shown once, stored as SHA-256, compared in constant time.
//!
//! A key reads `tl_<id>_<secret>` where `<id>` (8 hex characters) is public and safe
//! to log, and `<secret>` is 43 characters of base64url (32 random bytes). Only
//! `SHA-256(key)` is stored.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::Scope;
use crate::store::{ApiKeyRecord, Store, StoreError};

/// A freshly generated key: the secret text (shown once) and what gets stored.
pub struct NewApiKey {
    /// The full key, to print once.
    pub secret: String,
    /// Public id.
    pub id: String,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
}

/// Generates a new random key.
pub fn generate_key() -> NewApiKey {
    let mut id_bytes = [0u8; 4];
    let mut secret_bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id_bytes);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret_bytes);
    let id = hex::encode(id_bytes);
    let secret = format!(
        "tl_{id}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_bytes)
    );
    let hash = hash_key(&secret);
    NewApiKey { secret, id, hash }
}

/// SHA-256 of the key text.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Why a request was not authenticated or not authorized.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    Missing,
    /// Unknown or revoked key.
    #[error("invalid API key")]
    Invalid,
    /// The key lacks the scope.
    #[error("API key lacks the {0} scope")]
    Forbidden(Scope),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Looks a presented key up and checks it in constant time.
pub async fn authenticate(store: &dyn Store, presented: &str) -> Result<ApiKeyRecord, AuthError> {
    let hash = hash_key(presented);
    let record = store.api_key_by_hash(&hash).await?.ok_or(AuthError::Invalid)?;
    // The lookup is by hash already; compare again in constant time so that a
    // database collation or index quirk can never let a different key through.
    if !bool::from(record.key_hash.as_slice().ct_eq(hash.as_slice())) {
        return Err(AuthError::Invalid);
    }
    Ok(record)
}

/// Whether `record` grants `scope` (`admin` grants every scope of its tenant).
pub fn has_scope(record: &ApiKeyRecord, scope: Scope) -> bool {
    record
        .scopes
        .iter()
        .any(|granted| *granted == scope || *granted == Scope::Admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_hash_stably() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(&format!("tl_{}_", a.id)));
        assert_eq!(hash_key(&a.secret), a.hash);
        assert_eq!(a.secret.len(), 3 + 8 + 1 + 43);
    }
}
