//! Salted content commitments.
//!
//! Every content field (prompt, completion, document text, tool arguments and results)
//! is replaced inside the entry by `{"sha256": HEX(SHA-256(salt || utf8 content)), "len": BYTES}`
//! with a fresh 32-byte random salt. Salt and content are stored beside the entry; erasure
//! deletes both and keeps the commitment, so every proof still verifies and the erased text
//! cannot be guessed back from the hash.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Length of the random salt in bytes.
pub const SALT_LEN: usize = 32;

/// The commitment that stands in the entry for one piece of content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// Lowercase hex SHA-256 of `salt || utf8 content`.
    pub sha256: String,
    /// Content length in bytes (UTF-8).
    pub len: u64,
}

/// A commitment with the salt and content it commits to (kept apart from the entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedContent {
    /// The commitment written into the entry.
    pub commitment: Commitment,
    /// The random salt.
    pub salt: [u8; SALT_LEN],
    /// The plain content.
    pub content: String,
}

/// `SHA-256(salt || content)` as lowercase hex.
pub fn commitment_digest(salt: &[u8], content: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(content.as_bytes());
    hex::encode(hasher.finalize())
}

/// Commits to `content` with the given salt.
pub fn commit_with_salt(content: String, salt: [u8; SALT_LEN]) -> CommittedContent {
    let commitment = Commitment {
        sha256: commitment_digest(&salt, &content),
        len: content.len() as u64,
    };
    CommittedContent {
        commitment,
        salt,
        content,
    }
}

/// Commits to `content` with a fresh random salt from the operating system.
pub fn commit(content: String) -> CommittedContent {
    let mut salt = [0u8; SALT_LEN];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    commit_with_salt(content, salt)
}

/// Whether `salt` and `content` open `commitment`.
pub fn opens(commitment: &Commitment, salt: &[u8], content: &str) -> bool {
    let digest = commitment_digest(salt, content);
    subtle::ConstantTimeEq::ct_eq(digest.as_bytes(), commitment.sha256.as_bytes()).into()
        && commitment.len == content.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitment_opens_only_with_its_salt_and_content() {
        let committed = commit("hello".to_string());
        assert!(opens(&committed.commitment, &committed.salt, "hello"));
        assert!(!opens(&committed.commitment, &committed.salt, "hellp"));
        assert!(!opens(&committed.commitment, &[0u8; 32], "hello"));
        assert_eq!(committed.commitment.len, 5);
    }

    #[test]
    fn same_content_gets_different_commitments() {
        assert_ne!(
            commit("x".into()).commitment.sha256,
            commit("x".into()).commitment.sha256
        );
    }

    #[test]
    fn known_answer() {
        let committed = commit_with_salt("abc".into(), [0u8; 32]);
        // SHA-256 of 32 zero bytes followed by "abc", computed independently with Python hashlib.
        assert_eq!(
            committed.commitment.sha256,
            "365aa7d8f7f9402c4b9434502b4cc89ddb09fe50d7cd95b493b834c62d5a5370"
        );
    }
}
