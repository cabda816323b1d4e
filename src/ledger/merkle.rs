//! The RFC 6962 / RFC 9162 Merkle tree over leaf hashes, built on `tlog_tiles`.
//!
//! Interior hashes are stored by their *stored hash index* (the Go `sumdb/tlog` numbering
//! that C2SP tlog-tiles uses): about two hashes per entry, and any root, inclusion proof or
//! consistency proof needs at most `O(log n)` of them. Storage is not our business here:
//! callers ask which indexes a computation needs ([`inclusion_proof_indexes`],
//! [`consistency_proof_indexes`], [`root_indexes`]), fetch those in one query, and hand
//! them back as a [`HashMap`].
//!
//! Verification functions follow RFC 9162 §2.1.3.2 and §2.1.4.2 and pass the
//! transparency-dev/merkle vectors, including their edge cases: consistency from size 0
//! is rejected, and equal sizes demand an empty proof and equal roots.

use std::cell::RefCell;
use std::collections::HashMap;

use tlog_tiles::{Hash, HashReader};

/// Errors of Merkle computations and proof checks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MerkleError {
    /// The proof does not lead to the claimed root.
    #[error("proof does not verify")]
    InvalidProof,
    /// The arguments cannot describe a valid proof (index beyond size, size 0, ...).
    #[error("invalid proof request: {0}")]
    InvalidInput(String),
    /// A stored hash that the computation needs is missing.
    #[error("stored hash {0} is missing")]
    MissingHash(u64),
}

impl From<tlog_tiles::Error> for MerkleError {
    fn from(error: tlog_tiles::Error) -> Self {
        match error {
            tlog_tiles::Error::InvalidProof => MerkleError::InvalidProof,
            other => MerkleError::InvalidInput(other.to_string()),
        }
    }
}

/// A [`HashReader`] over hashes already fetched into memory.
pub struct MapHashReader<'a> {
    hashes: &'a HashMap<u64, Hash>,
    missing: RefCell<Option<u64>>,
}

impl<'a> MapHashReader<'a> {
    /// Reads from `hashes`.
    pub fn new(hashes: &'a HashMap<u64, Hash>) -> Self {
        MapHashReader {
            hashes,
            missing: RefCell::new(None),
        }
    }

    fn error_for(&self, error: tlog_tiles::Error) -> MerkleError {
        match *self.missing.borrow() {
            Some(index) => MerkleError::MissingHash(index),
            None => error.into(),
        }
    }
}

impl HashReader for MapHashReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let mut out = Vec::with_capacity(indexes.len());
        for index in indexes {
            match self.hashes.get(index) {
                Some(hash) => out.push(*hash),
                None => {
                    *self.missing.borrow_mut() = Some(*index);
                    return Err(tlog_tiles::Error::IndexesNotInTree);
                }
            }
        }
        Ok(out)
    }
}

/// A [`HashReader`] that only records which indexes were asked for. The indexes a
/// proof needs depend on the sizes alone, never on hash values, so a dry run tells
/// exactly what to fetch.
#[derive(Default)]
struct RecordingReader {
    requested: RefCell<Vec<u64>>,
}

impl HashReader for RecordingReader {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.requested.borrow_mut().extend_from_slice(indexes);
        Ok(vec![Hash([0u8; 32]); indexes.len()])
    }
}

/// Stored hash index of the leaf hash of entry `index`.
pub fn leaf_stored_index(index: u64) -> u64 {
    tlog_tiles::stored_hash_index(0, index)
}

/// Number of stored hashes in a tree of `size` entries.
pub fn stored_hash_count(size: u64) -> u64 {
    tlog_tiles::stored_hash_count(size)
}

/// Stored hash indexes needed to compute the root of a tree of `size` entries.
pub fn root_indexes(size: u64) -> Vec<u64> {
    if size == 0 {
        return Vec::new();
    }
    tlog_tiles::sub_tree_index(0, size, Vec::new())
}

/// Root hash of the tree of `size` entries (SHA-256 of "" for the empty tree).
pub fn root(size: u64, hashes: &HashMap<u64, Hash>) -> Result<Hash, MerkleError> {
    let reader = MapHashReader::new(hashes);
    tlog_tiles::tree_hash(size, &reader).map_err(|error| reader.error_for(error))
}

/// Stored hash indexes needed to prove entry `index` in the tree of `tree_size`.
pub fn inclusion_proof_indexes(index: u64, tree_size: u64) -> Result<Vec<u64>, MerkleError> {
    check_inclusion_request(index, tree_size)?;
    let recorder = RecordingReader::default();
    tlog_tiles::prove_record(tree_size, index, &recorder)?;
    Ok(recorder.requested.into_inner())
}

/// RFC 9162 inclusion proof (audit path, bottom-up) of entry `index` in the tree of `tree_size`.
pub fn inclusion_proof(index: u64, tree_size: u64, hashes: &HashMap<u64, Hash>) -> Result<Vec<Hash>, MerkleError> {
    check_inclusion_request(index, tree_size)?;
    let reader = MapHashReader::new(hashes);
    tlog_tiles::prove_record(tree_size, index, &reader).map_err(|error| reader.error_for(error))
}

/// Stored hash indexes needed for the consistency proof from `first` to `second`.
pub fn consistency_proof_indexes(first: u64, second: u64) -> Result<Vec<u64>, MerkleError> {
    check_consistency_request(first, second)?;
    let recorder = RecordingReader::default();
    tlog_tiles::prove_tree(second, first, &recorder)?;
    Ok(recorder.requested.into_inner())
}

/// RFC 9162 consistency proof from the tree of size `first` to the tree of size `second`.
pub fn consistency_proof(first: u64, second: u64, hashes: &HashMap<u64, Hash>) -> Result<Vec<Hash>, MerkleError> {
    check_consistency_request(first, second)?;
    let reader = MapHashReader::new(hashes);
    tlog_tiles::prove_tree(second, first, &reader).map_err(|error| reader.error_for(error))
}

/// Checks that `proof` shows `leaf_hash` at `index` in the tree of `tree_size` with `root`.
pub fn verify_inclusion(
    index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    check_inclusion_request(index, tree_size)?;
    tlog_tiles::check_record(&proof.to_vec(), tree_size, *root, index, *leaf_hash)?;
    Ok(())
}

/// Checks that `proof` shows the tree (`first`, `first_root`) is a prefix of
/// (`second`, `second_root`).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    check_consistency_request(first, second)?;
    if first == second {
        // RFC 9162 §2.1.4.2: equal sizes need an empty proof and equal roots.
        if proof.is_empty() && first_root == second_root {
            return Ok(());
        }
        return Err(MerkleError::InvalidProof);
    }
    tlog_tiles::check_tree(&proof.to_vec(), second, *second_root, first, *first_root)?;
    Ok(())
}

fn check_inclusion_request(index: u64, tree_size: u64) -> Result<(), MerkleError> {
    if index >= tree_size {
        return Err(MerkleError::InvalidInput(format!(
            "index {index} is not below tree size {tree_size}"
        )));
    }
    Ok(())
}

fn check_consistency_request(first: u64, second: u64) -> Result<(), MerkleError> {
    if first == 0 {
        return Err(MerkleError::InvalidInput(
            "consistency from size 0 proves nothing".into(),
        ));
    }
    if first > second {
        return Err(MerkleError::InvalidInput(format!(
            "first size {first} is greater than second size {second}"
        )));
    }
    Ok(())
}

/// An in-memory tree: the stored hashes of every entry appended so far. Used by the
/// offline auditor and by tests; the server keeps the same hashes in its database.
#[derive(Default, Debug, Clone)]
pub struct MemoryTree {
    hashes: HashMap<u64, Hash>,
    size: u64,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash and returns the stored hashes it created, from
    /// `leaf_stored_index(index)` upwards.
    pub fn append(&mut self, leaf_hash: Hash) -> Result<Vec<Hash>, MerkleError> {
        let reader = MapHashReader::new(&self.hashes);
        let new_hashes = tlog_tiles::stored_hashes_for_record_hash(self.size, leaf_hash, &reader)
            .map_err(|error| reader.error_for(error))?;
        let first = leaf_stored_index(self.size);
        for (offset, hash) in new_hashes.iter().enumerate() {
            self.hashes.insert(first + offset as u64, *hash);
        }
        self.size += 1;
        Ok(new_hashes)
    }

    /// The stored hashes.
    pub fn hashes(&self) -> &HashMap<u64, Hash> {
        &self.hashes
    }

    /// Root of the prefix of `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, MerkleError> {
        root(size, &self.hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u64) -> Hash {
        tlog_tiles::record_hash(format!("entry {i}").as_bytes())
    }

    /// Reference RFC 6962 MTH computed recursively from the leaves.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => tlog_tiles::EMPTY_HASH,
            1 => leaves[0],
            n => {
                let k = (n as u64).next_power_of_two() as usize / 2;
                let k = if k == n { n / 2 } else { k };
                tlog_tiles::node_hash(reference_root(&leaves[..k]), reference_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_and_proofs_agree_with_reference_for_small_trees() {
        let mut tree = MemoryTree::new();
        let mut leaves = Vec::new();
        for i in 0..40u64 {
            leaves.push(leaf(i));
            tree.append(leaf(i)).unwrap();
            let size = i + 1;
            let root_now = tree.root_at(size).unwrap();
            assert_eq!(root_now, reference_root(&leaves), "root at size {size}");
            for index in 0..size {
                let proof = inclusion_proof(index, size, tree.hashes()).unwrap();
                verify_inclusion(index, size, &leaves[index as usize], &proof, &root_now).unwrap();
                let needed = inclusion_proof_indexes(index, size).unwrap();
                assert!(needed.len() <= 2 * (64 - size.leading_zeros() as usize) + 1);
            }
            for first in 1..=size {
                let proof = consistency_proof(first, size, tree.hashes()).unwrap();
                let first_root = tree.root_at(first).unwrap();
                verify_consistency(first, size, &first_root, &root_now, &proof).unwrap();
            }
        }
    }

    #[test]
    fn tampered_proofs_fail() {
        let mut tree = MemoryTree::new();
        for i in 0..13 {
            tree.append(leaf(i)).unwrap();
        }
        let root13 = tree.root_at(13).unwrap();
        let mut proof = inclusion_proof(5, 13, tree.hashes()).unwrap();
        proof[1].0[0] ^= 1;
        assert_eq!(
            verify_inclusion(5, 13, &leaf(5), &proof, &root13),
            Err(MerkleError::InvalidProof)
        );
        assert!(verify_inclusion(13, 13, &leaf(5), &[], &root13).is_err());
        assert!(verify_consistency(0, 13, &root13, &root13, &[]).is_err());
    }

    #[test]
    fn missing_hash_is_reported_not_panicking() {
        let empty = HashMap::new();
        assert_eq!(root(3, &empty), Err(MerkleError::MissingHash(root_indexes(3)[0])));
    }
}
