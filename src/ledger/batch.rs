//! Sealing a batch: the pure heart of the sequencer.
//!
//! Given the log head (size and last leaf hash) and the stored hashes the batch needs
//! from earlier entries, [`seal_batch`] assigns each pending entry its index and `prev`,
//! encodes it canonically, computes its leaf hash and the interior hashes it completes,
//! and returns the new root. Storage backends call it inside the transaction that holds
//! the log head, so the log cannot fork and every checkpoint extends the previous one.

use std::collections::HashMap;

use serde_json::Value;

use super::entry::{check_sealed_bytes, leaf_hash, prev_field, EntryError, EntryRef, ENTRY_VERSION};
use super::merkle::{self, leaf_stored_index, MapHashReader, MerkleError};
use super::Hash;

/// An entry waiting for its place in the log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PendingEntry {
    /// Entry type (`span`, `log`, ...).
    pub entry_type: String,
    /// Type-specific body, with content already replaced by commitments.
    pub body: Value,
}

/// The head of a log: how many entries it has and the leaf hash of the last one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogHead {
    /// Number of entries.
    pub size: u64,
    /// Leaf hash of entry `size - 1`, None for an empty log.
    pub last_leaf: Option<Hash>,
}

impl LogHead {
    /// The head of an empty log.
    pub const EMPTY: LogHead = LogHead {
        size: 0,
        last_leaf: None,
    };
}

/// One entry with its final index, bytes and leaf hash.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedEntry {
    /// Index in the log.
    pub index: u64,
    /// Entry type.
    pub entry_type: String,
    /// `JCS(entry)`.
    pub entry_bytes: Vec<u8>,
    /// `SHA-256(0x00 || entry_bytes)`.
    pub leaf_hash: Hash,
}

/// The result of sealing a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedBatch {
    /// The entries in log order.
    pub entries: Vec<SealedEntry>,
    /// Stored hashes created by this batch: `(stored hash index, hash)`.
    pub new_hashes: Vec<(u64, Hash)>,
    /// The new head.
    pub head: LogHead,
    /// Root hash of the tree after the batch.
    pub root: Hash,
}

/// Errors of sealing.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum SealError {
    /// An entry could not be encoded.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The tree could not be extended (a stored hash was missing).
    #[error(transparent)]
    Merkle(#[from] MerkleError),
}

/// Stored hash indexes of *earlier* entries that appending `count` entries after
/// `start` entries reads, including those needed for the new root. Sorted, unique.
pub fn prior_hashes_needed(start: u64, count: u64) -> Vec<u64> {
    let boundary = leaf_stored_index(start);
    let mut needed = Vec::new();
    for n in start..start + count {
        let completed_levels = (n + 1).trailing_zeros() as u8;
        for level in 0..completed_levels {
            needed.push(tlog_tiles::stored_hash_index(level, (n >> level) - 1));
        }
    }
    needed.extend(merkle::root_indexes(start + count));
    needed.retain(|index| *index < boundary);
    needed.sort_unstable();
    needed.dedup();
    needed
}

/// Seals `pending` onto `head`. `prior` must hold at least the hashes named by
/// [`prior_hashes_needed`]`(head.size, pending.len())`. All entries get the same `time`.
pub fn seal_batch<'a>(
    origin: &str,
    head: LogHead,
    time: &str,
    pending: impl IntoIterator<Item = &'a PendingEntry>,
    prior: &HashMap<u64, Hash>,
) -> Result<SealedBatch, SealError> {
    let pending = pending.into_iter();
    let mut hashes: HashMap<u64, Hash> = prior.clone();
    let mut new_hashes = Vec::with_capacity(pending.size_hint().0 * 2);
    let mut entries = Vec::with_capacity(pending.size_hint().0);
    let mut previous_leaf = head.last_leaf;
    let mut index = head.size;
    for item in pending {
        let prev = prev_field(previous_leaf.as_ref());
        let entry = EntryRef {
            v: ENTRY_VERSION,
            log: origin,
            index,
            prev: &prev,
            entry_type: &item.entry_type,
            time,
            body: &item.body,
        };
        let entry_bytes = entry.to_canonical_bytes()?;
        // Nothing is committed that a stock JSON parser cannot read back.
        check_sealed_bytes(&entry_bytes)?;
        let leaf = leaf_hash(&entry_bytes);
        let created = {
            let reader = MapHashReader::new(&hashes);
            tlog_tiles::stored_hashes_for_record_hash(index, leaf, &reader)
                .map_err(|_| MerkleError::InvalidInput(format!("stored hashes missing for entry {index}")))?
        };
        let first = leaf_stored_index(index);
        for (offset, hash) in created.into_iter().enumerate() {
            let stored_index = first + offset as u64;
            hashes.insert(stored_index, hash);
            new_hashes.push((stored_index, hash));
        }
        entries.push(SealedEntry {
            index,
            entry_type: item.entry_type.clone(),
            entry_bytes,
            leaf_hash: leaf,
        });
        previous_leaf = Some(leaf);
        index += 1;
    }
    let root = merkle::root(index, &hashes)?;
    Ok(SealedBatch {
        entries,
        new_hashes,
        head: LogHead {
            size: index,
            last_leaf: previous_leaf,
        },
        root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::merkle::MemoryTree;
    use serde_json::json;

    fn pending(n: usize) -> Vec<PendingEntry> {
        (0..n)
            .map(|i| PendingEntry {
                entry_type: "span".into(),
                body: json!({"i": i}),
            })
            .collect()
    }

    #[test]
    fn batches_of_any_split_give_the_same_log_as_one_by_one() {
        let mut reference = MemoryTree::new();
        let mut previous = None;
        for (i, item) in pending(37).into_iter().enumerate() {
            let sealed = seal_batch(
                "o",
                LogHead {
                    size: i as u64,
                    last_leaf: previous,
                },
                "t",
                [&item],
                reference.hashes(),
            )
            .unwrap();
            reference.append(sealed.entries[0].leaf_hash).unwrap();
            previous = Some(sealed.entries[0].leaf_hash);
        }
        for split in [1usize, 2, 3, 5, 8, 16, 37] {
            let mut stored: HashMap<u64, Hash> = HashMap::new();
            let mut head = LogHead::EMPTY;
            let mut all = pending(37).into_iter().peekable();
            while all.peek().is_some() {
                let chunk: Vec<_> = all.by_ref().take(split).collect();
                let needed = prior_hashes_needed(head.size, chunk.len() as u64);
                let prior: HashMap<u64, Hash> = needed.iter().map(|i| (*i, stored[i])).collect();
                let sealed = seal_batch("o", head, "t", &chunk, &prior).unwrap();
                for (i, h) in &sealed.new_hashes {
                    stored.insert(*i, *h);
                }
                assert_eq!(sealed.root, reference.root_at(sealed.head.size).unwrap());
                head = sealed.head;
            }
            assert_eq!(head.size, 37);
            assert_eq!(stored, *reference.hashes(), "split {split}");
        }
    }

    #[test]
    fn prev_links_chain_the_entries() {
        let sealed = seal_batch("o", LogHead::EMPTY, "t", &pending(3), &HashMap::new()).unwrap();
        let decoded: Vec<crate::ledger::entry::Entry> = sealed
            .entries
            .iter()
            .map(|sealed_entry| crate::ledger::entry::Entry::from_canonical_bytes(&sealed_entry.entry_bytes).unwrap())
            .collect();
        assert_eq!(decoded[0].prev, "0".repeat(64));
        assert_eq!(decoded[1].prev, hex::encode(sealed.entries[0].leaf_hash.0));
        assert_eq!(decoded[2].index, 2);
        assert_eq!(sealed.entries[2].index, 2);
    }

    #[test]
    fn an_entry_too_deep_for_readers_is_never_sealed() {
        let mut body = json!("leaf");
        for _ in 0..crate::ledger::entry::MAX_ENTRY_DEPTH {
            body = json!([body]);
        }
        let deep = PendingEntry {
            entry_type: "span".into(),
            body,
        };
        let result = seal_batch("o", LogHead::EMPTY, "t", [&deep], &HashMap::new());
        assert!(
            matches!(result, Err(SealError::Entry(EntryError::TooDeep { .. }))),
            "{result:?}"
        );
    }

    #[test]
    fn missing_prior_hash_is_an_error() {
        let result = seal_batch(
            "o",
            LogHead {
                size: 1,
                last_leaf: Some(Hash([1; 32])),
            },
            "t",
            &pending(1),
            &HashMap::new(),
        );
        assert!(result.is_err());
    }
}
