//! Step 10: every `outputs` item is backed by a revealed content that an entry of the
//! bundle commits to, and every subject of the statement is one of those outputs — or
//! the `entries` subject, the digest of the selected entries (a bundle with no output in
//! question).

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::entries::CheckedEntry;
use super::error::VerifyError;
use super::fields::{field_error, is_lower_hex};
use crate::bundle::format::{entries_digest, Predicate, Subject, ENTRIES_SUBJECT_NAME};

/// Step 10, first half: each output's text hashes to its `sha256`, lies in a revealed
/// content, and that content's commitment is carried by the entry the output names.
pub(super) fn check_outputs(
    predicate: &Predicate,
    entries: &[CheckedEntry],
    commitments: &HashMap<String, Vec<(u64, u64)>>,
    revealed: &HashMap<&str, &str>,
) -> Result<(), VerifyError> {
    let selected: HashSet<u64> = entries.iter().map(|checked| checked.index).collect();
    for output in &predicate.outputs {
        let fail = |reason: String| VerifyError::OutputNotCommitted {
            sha256: output.sha256.clone(),
            reason,
        };
        if hex::encode(Sha256::digest(output.text.as_bytes())) != output.sha256 {
            return Err(fail("sha256 is not the SHA-256 of the text".into()));
        }
        let Some(content) = revealed.get(output.commitment.as_str()) else {
            return Err(fail(format!(
                "commitment {} is not a revealed content",
                output.commitment
            )));
        };
        if !content.contains(output.text.as_str()) {
            return Err(fail(format!(
                "revealed content {} does not contain the text",
                output.commitment
            )));
        }
        if !selected.contains(&output.entry_index) {
            return Err(fail(format!("entry {} is not in the bundle", output.entry_index)));
        }
        let committed_there = commitments
            .get(&output.commitment)
            .is_some_and(|places| places.iter().any(|(index, _)| *index == output.entry_index));
        if !committed_there {
            return Err(fail(format!(
                "entry {} does not commit to {}",
                output.entry_index, output.commitment
            )));
        }
    }
    Ok(())
}

/// Step 10, second half: every subject digest is the `sha256` of some `outputs` item,
/// except the `entries` subject, whose digest must be [`entries_digest`] of the
/// bundle's entries.
pub(super) fn check_subjects(
    predicate: &Predicate,
    entries: &[CheckedEntry],
    subjects: &[Subject],
) -> Result<(), VerifyError> {
    let output_digests: HashSet<&str> = predicate.outputs.iter().map(|output| output.sha256.as_str()).collect();
    for (position, subject) in subjects.iter().enumerate() {
        let Some(digest) = subject.digest.get("sha256") else {
            return Err(field_error(format!("subject[{position}].digest"), "no sha256 digest"));
        };
        if !is_lower_hex(digest, 64) {
            return Err(field_error(
                format!("subject[{position}].digest.sha256"),
                "not 64 lowercase hex digits",
            ));
        }
        if subject.name == ENTRIES_SUBJECT_NAME {
            let expected = entries_digest(entries.iter().map(|checked| &checked.leaf));
            if *digest != expected {
                return Err(VerifyError::EntriesSubjectMismatch {
                    found: digest.clone(),
                    expected,
                });
            }
            continue;
        }
        if !output_digests.contains(digest.as_str()) {
            return Err(VerifyError::SubjectNotCommitted { digest: digest.clone() });
        }
    }
    Ok(())
}
