//! Step 9b and the report's pipeline context: every pipeline version or deployment a span
//! is linked to has its governance entry in the bundle, and the `pipeline_version`,
//! `proof_bundle` and `deployment` entries are listed for the auditor.

use std::collections::HashSet;

use serde_json::Value;

use super::entries::CheckedEntry;
use super::error::VerifyError;
use super::PipelineEntry;

/// Entry types listed in the report as the pipeline context of the bundle.
const PIPELINE_ENTRY_TYPES: [&str; 3] = ["pipeline_version", "proof_bundle", "deployment"];

/// Step 9b: every pipeline link a span claims must be backed by its governance entry.
pub(super) fn check_pipeline_context(entries: &[CheckedEntry]) -> Result<(), VerifyError> {
    let governance: HashSet<(&str, &str)> = entries
        .iter()
        .filter_map(|checked| {
            let id = checked.entry.body.get("id")?.as_str()?;
            Some((checked.entry.entry_type.as_str(), id))
        })
        .collect();
    for checked in entries.iter().filter(|checked| checked.entry.entry_type == "span") {
        let link = checked.entry.body.get("link");
        for (field, kind) in [
            ("pipeline_version_id", "pipeline_version"),
            ("deployment_id", "deployment"),
        ] {
            if let Some(id) = link.and_then(|link| link.get(field)).and_then(Value::as_str) {
                if !governance.contains(&(kind, id)) {
                    return Err(VerifyError::MissingPipelineContext {
                        index: checked.index,
                        kind: kind.to_owned(),
                        id: id.to_owned(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The pipeline-context entries of the bundle, in index order.
pub(super) fn pipeline_entries(entries: &[CheckedEntry]) -> Vec<PipelineEntry> {
    entries
        .iter()
        .filter(|checked| PIPELINE_ENTRY_TYPES.contains(&checked.entry.entry_type.as_str()))
        .map(|checked| {
            let text = |name: &str| checked.entry.body.get(name).and_then(Value::as_str).map(str::to_owned);
            PipelineEntry {
                index: checked.index,
                entry_type: checked.entry.entry_type.clone(),
                id: text("id"),
                name: text("name"),
                version: text("version"),
            }
        })
        .collect()
}
