//! The memory estimate of the wire walk: what each embedded message, string field and
//! item is charged while walking, and how the data a container's items inherit (its
//! resource, scope and schema URLs) is counted once per item. Both encodings share it.

use std::mem::size_of;

use super::schema::{Cardinality, Msg};
use super::{WalkLimits, WireError};

/// Heap bytes charged for one non-empty string or byte field (allocator rounding).
const MIN_ALLOCATION: usize = 32;
/// Data bytes charged for a message's own structure: each becomes a JSON object or map
/// entry, its key and value copied into the attribute index.
const MESSAGE_DATA_BYTES: usize = 64;
/// Data bytes charged for a scalar field, and on top of each string's length.
pub(super) const FIELD_DATA_BYTES: usize = 32;
/// Extra data bytes per control character: the canonical JSON writes it as `\u00XX`.
const ESCAPE_DATA_BYTES: usize = 5;

/// The walk's running totals.
pub(super) struct Walk {
    pub(super) item: Msg,
    pub(super) what: &'static str,
    pub(super) items: usize,
    pub(super) limits: WalkLimits,
    pub(super) decoded: usize,
}

impl Walk {
    fn charge(&mut self, bytes: usize) -> Result<(), WireError> {
        self.decoded = self.decoded.saturating_add(bytes);
        if self.decoded > self.limits.max_decoded_bytes {
            return Err(WireError::TooLarge { at_least: self.decoded });
        }
        Ok(())
    }

    /// Charges one embedded message about to be walked; counts items.
    pub(super) fn enter(&mut self, child: Msg, cardinality: Cardinality) -> Result<(), WireError> {
        if cardinality == Cardinality::Many {
            self.charge(2 * child.struct_size())?;
        }
        if child == self.item {
            self.items += 1;
            if self.items > self.limits.max_items {
                return Err(WireError::TooManyItems {
                    at_least: self.items,
                    limit: self.limits.max_items,
                    what: self.what,
                });
            }
        }
        Ok(())
    }

    /// Charges one string or bytes field; returns the data bytes it carries.
    pub(super) fn string(&mut self, text: &[u8], cardinality: Cardinality) -> Result<usize, WireError> {
        if cardinality == Cardinality::Many {
            self.charge(2 * size_of::<String>())?;
        }
        if text.is_empty() {
            return Ok(FIELD_DATA_BYTES);
        }
        self.charge((text.len() + 16).max(MIN_ALLOCATION))?;
        let escaped = text.iter().filter(|byte| **byte < 0x20).count();
        Ok(text.len() + FIELD_DATA_BYTES + escaped * ESCAPE_DATA_BYTES)
    }
}

/// What one walked message contributes to its parent.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Walked {
    /// Data bytes in the message (strings, scalars, structure).
    pub(super) data: usize,
    /// Items in the message.
    pub(super) items: usize,
    /// Data the message's items carry into their entries, with what they inherit.
    pub(super) normalized: usize,
}

/// Folds the children of a container with what they inherit from it.
#[derive(Debug, Default)]
pub(super) struct Fold {
    pub(super) data: usize,
    children_data: usize,
    items: usize,
    children_normalized: usize,
}

impl Fold {
    pub(super) fn add(&mut self, msg: Msg, number: u32, walked: Walked) {
        self.data = self.data.saturating_add(walked.data);
        if msg.children_field() == Some(number) {
            self.children_data = self.children_data.saturating_add(walked.data);
            self.items = self.items.saturating_add(walked.items);
            self.children_normalized = self.children_normalized.saturating_add(walked.normalized);
        }
    }

    pub(super) fn finish(self, msg: Msg, item: Msg) -> Walked {
        let data = self.data.saturating_add(MESSAGE_DATA_BYTES);
        if msg == item {
            return Walked {
                data,
                items: 1,
                normalized: data,
            };
        }
        match msg.children_field() {
            Some(_) => {
                let inherited = data.saturating_sub(self.children_data);
                Walked {
                    data,
                    items: self.items,
                    normalized: self
                        .children_normalized
                        .saturating_add(self.items.saturating_mul(inherited)),
                }
            }
            None => Walked {
                data,
                items: 0,
                normalized: 0,
            },
        }
    }
}
