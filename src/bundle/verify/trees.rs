//! Step 9: every selected trace is whole — each span entry's parent is a span of the
//! bundle or is declared in `outside_selection`.

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

use super::entries::CheckedEntry;
use super::error::VerifyError;
use super::fields::{field_error, is_lower_hex};
use crate::bundle::format::Predicate;

/// Checks that every span's parent is present or declared outside; returns the number of
/// span entries and of distinct traces.
pub(super) fn check_trees(predicate: &Predicate, entries: &[CheckedEntry]) -> Result<(u64, u64), VerifyError> {
    let mut outside: HashSet<(&str, &str)> = HashSet::with_capacity(predicate.outside_selection.len());
    for (position, span) in predicate.outside_selection.iter().enumerate() {
        if !is_lower_hex(&span.trace_id, 32) {
            return Err(field_error(
                format!("outside_selection[{position}].trace_id"),
                "not 32 lowercase hex digits",
            ));
        }
        if !is_lower_hex(&span.span_id, 16) {
            return Err(field_error(
                format!("outside_selection[{position}].span_id"),
                "not 16 lowercase hex digits",
            ));
        }
        outside.insert((span.trace_id.as_str(), span.span_id.as_str()));
    }

    struct SpanRef<'a> {
        trace_id: &'a str,
        span_id: &'a str,
        parent: Option<&'a str>,
    }
    let mut spans = Vec::new();
    for checked in entries.iter().filter(|checked| checked.entry.entry_type == "span") {
        let body = &checked.entry.body;
        let text = |name: &str| -> Result<Option<&str>, VerifyError> {
            match body.get(name) {
                None => Ok(None),
                Some(Value::String(value)) => Ok(Some(value.as_str())),
                Some(_) => Err(VerifyError::EntryMalformed {
                    index: checked.index,
                    reason: format!("span body {name} is not a string"),
                }),
            }
        };
        let missing = |name: &str| VerifyError::EntryMalformed {
            index: checked.index,
            reason: format!("span body has no {name}"),
        };
        spans.push(SpanRef {
            trace_id: text("trace_id")?.ok_or_else(|| missing("trace_id"))?,
            span_id: text("span_id")?.ok_or_else(|| missing("span_id"))?,
            parent: text("parent_span_id")?,
        });
    }
    let present: HashSet<(&str, &str)> = spans.iter().map(|span| (span.trace_id, span.span_id)).collect();
    for span in &spans {
        let Some(parent) = span.parent else { continue };
        if !present.contains(&(span.trace_id, parent)) && !outside.contains(&(span.trace_id, parent)) {
            return Err(VerifyError::IncompleteTree {
                trace_id: span.trace_id.to_owned(),
                span_id: span.span_id.to_owned(),
                missing_parent: parent.to_owned(),
            });
        }
    }
    let traces: BTreeSet<&str> = spans.iter().map(|span| span.trace_id).collect();
    Ok((spans.len() as u64, traces.len() as u64))
}
