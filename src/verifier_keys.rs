//! The published verifier-key directory (`GET /v1/keys`): every log's C2SP verifier
//! keys, built from the store and kept until the store's directory stamp moves, so
//! unauthenticated traffic cannot make every call walk every tenant.

use serde::Serialize;

use crate::error::ApiError;
use crate::ledger::checkpoint::verifier_key;

/// `GET /v1/keys`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// Every verifier key of every log (retired keys stay published).
    pub keys: Vec<PublishedKey>,
}

/// One published verifier key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublishedKey {
    /// `<origin>+<hex8 key hash>+<base64(0x01 || public key)>`.
    pub verifier_key: String,
    /// The log origin (= key name).
    pub origin: String,
    /// Whether this key signs new checkpoints.
    pub active: bool,
    /// When the key was registered.
    pub created_at: String,
}

/// A strong entity tag of a response body.
pub fn etag_of(body: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(body)[..16]))
}

/// Answers of public endpoints kept between calls, so unauthenticated traffic cannot make
/// every call walk every tenant.
#[derive(Default)]
pub struct PublicCache {
    keys: tokio::sync::Mutex<Option<std::sync::Arc<KeyDirectory>>>,
}

/// The published keys of every log and their serialized answer.
pub struct KeyDirectory {
    /// The [`crate::store::Store::directory_stamp`] it was built at.
    pub stamp: [i64; 3],
    /// Every published key.
    pub keys: Vec<PublishedKey>,
    /// The [`KeyList`] of all of them, serialized.
    pub body: bytes::Bytes,
    /// Entity tag of `body`.
    pub etag: String,
}

impl PublicCache {
    /// The key directory at `stamp`, rebuilt from `store` only when the stamp moved. One
    /// caller rebuilds; the others wait for its answer.
    pub async fn keys(
        &self,
        stamp: [i64; 3],
        store: &dyn crate::store::Store,
    ) -> Result<std::sync::Arc<KeyDirectory>, ApiError> {
        let mut slot = self.keys.lock().await;
        if let Some(directory) = slot.as_ref().filter(|directory| directory.stamp == stamp) {
            return Ok(directory.clone());
        }
        let list = KeyList {
            keys: published_keys(store).await?,
        };
        let body = serde_json::to_vec(&list).map_err(|error| ApiError::Internal(error.into()))?;
        let directory = std::sync::Arc::new(KeyDirectory {
            stamp,
            etag: etag_of(&body),
            keys: list.keys,
            body: body.into(),
        });
        *slot = Some(directory.clone());
        Ok(directory)
    }
}

/// Every verifier key of every log.
async fn published_keys(store: &dyn crate::store::Store) -> Result<Vec<PublishedKey>, ApiError> {
    let tenants = store.tenants().await?;
    let signing_keys = store.signing_keys().await?;
    let mut published = Vec::new();
    for tenant in tenants {
        for key in &signing_keys {
            let Ok(bytes) = <[u8; 32]>::try_from(key.public_key.as_slice()) else {
                continue;
            };
            let Ok(verifying_key) = ed25519_dalek::VerifyingKey::from_bytes(&bytes) else {
                continue;
            };
            published.push(PublishedKey {
                verifier_key: verifier_key(&tenant.origin, &verifying_key),
                origin: tenant.origin.clone(),
                active: key.active,
                created_at: key.created_at.clone(),
            });
        }
    }
    Ok(published)
}
