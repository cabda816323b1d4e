//! The index tables of one page of entries (`spans`, `span_attributes`, `governance`,
//! `output_index`): each entry's rows are re-derived with the code ingest used and
//! compared with the stored ones; rows no entry claims are failures too.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ledger::entry::Entry;
use crate::store::{GovernanceRow, SpanIndexRows, StoredSpanRow, Tenant};

use super::TenantAudit;
use crate::provenance::outputs::{expected_output_digests, ExpectedOutputs};

/// The index rows of one page of entries, taken out as their entries claim them; what
/// is left names no entry that has it.
pub(super) struct PageIndexes {
    spans: BTreeMap<i64, StoredSpanRow>,
    attributes: BTreeMap<i64, BTreeMap<String, String>>,
    governance: BTreeMap<i64, Vec<GovernanceRow>>,
    outputs: BTreeMap<i64, BTreeSet<Vec<u8>>>,
}

impl PageIndexes {
    pub(super) fn new(
        rows: SpanIndexRows,
        governance: &mut BTreeMap<i64, Vec<GovernanceRow>>,
        outputs: &mut BTreeMap<i64, BTreeSet<Vec<u8>>>,
        start: u64,
        end: u64,
    ) -> Self {
        // Page bounds are below 2^63 (entry indexes are stored as i64).
        let (start, end) = (start as i64, end as i64);
        let mut attributes: BTreeMap<i64, BTreeMap<String, String>> = BTreeMap::new();
        for (entry_index, key, value) in rows.attributes {
            attributes.entry(entry_index).or_default().insert(key, value);
        }
        let mut page_governance = governance.split_off(&start);
        governance.append(&mut page_governance.split_off(&end));
        let mut page_outputs = outputs.split_off(&start);
        outputs.append(&mut page_outputs.split_off(&end));
        PageIndexes {
            spans: rows.spans.into_iter().map(|row| (row.entry_index, row)).collect(),
            attributes,
            governance: page_governance,
            outputs: page_outputs,
        }
    }

    /// Drops the rows of an entry that cannot be judged (its failure is named already).
    pub(super) fn forget(&mut self, entry_index: u64) {
        let key = entry_index as i64;
        self.spans.remove(&key);
        self.attributes.remove(&key);
        self.governance.remove(&key);
        self.outputs.remove(&key);
    }

    pub(super) fn report_leftovers(self, report: &mut TenantAudit) {
        for entry_index in self.spans.keys() {
            report.fail(format!(
                "entry {entry_index}: spans: an index row names this entry, which is not a span"
            ));
        }
        for (entry_index, attributes) in &self.attributes {
            report.fail(format!(
                "entry {entry_index}: span_attributes: {} row(s) name this entry, which is not a span",
                attributes.len()
            ));
        }
        for (entry_index, rows) in &self.governance {
            for row in rows {
                report.fail(format!(
                    "entry {entry_index}: governance row {} {} names this entry, which is not a {}",
                    row.kind, row.id, row.kind
                ));
            }
        }
        for (entry_index, digests) in &self.outputs {
            report.fail(format!(
                "entry {entry_index}: output_index: {} row(s) name this entry, which has no outputs",
                digests.len()
            ));
        }
    }
}

/// Re-derives the index rows of one entry and compares them with the stored ones.
pub(super) fn check_index_rows(
    tenant: &Tenant,
    entry_index: u64,
    entry: &Entry,
    opened: &HashMap<String, String>,
    indexes: &mut PageIndexes,
    report: &mut TenantAudit,
) {
    let key = entry_index as i64;
    if entry.entry_type == "span" {
        let derived = crate::provenance::span_row(&entry.body);
        match indexes.spans.remove(&key) {
            None => report.fail(format!(
                "entry {entry_index}: spans: the index row of this span is missing"
            )),
            Some(stored) => {
                let mut differences = crate::provenance::span_row_differences(&stored.row, &derived);
                let duration = derived.end_ns.saturating_sub(derived.start_ns);
                if stored.duration_ns != duration {
                    differences.push(format!("duration_ns: index {}, entry {duration}", stored.duration_ns));
                }
                if differences.is_empty() {
                    report.index_rows += 1;
                } else {
                    report.fail(format!(
                        "entry {entry_index}: spans: the index row differs from the entry: {}",
                        differences.join("; ")
                    ));
                }
            }
        }
        let expected = crate::provenance::indexed_attributes(&derived);
        let stored = indexes.attributes.remove(&key).unwrap_or_default();
        let mut differences = Vec::new();
        for (name, value) in &expected {
            match stored.get(name) {
                None => differences.push(format!("{name} is missing")),
                Some(found) if found != value => differences.push(format!("{name}: index {found:?}, entry {value:?}")),
                Some(_) => report.index_rows += 1,
            }
        }
        for name in stored.keys().filter(|name| !expected.contains_key(*name)) {
            differences.push(format!("{name} is not in the entry"));
        }
        if !differences.is_empty() {
            report.fail(format!(
                "entry {entry_index}: span_attributes differ from the entry: {}",
                differences.join("; ")
            ));
        }
    }

    let governance = crate::provenance::governance::governance_row(&entry.entry_type, &entry.body);
    let stored_governance = indexes.governance.remove(&key).unwrap_or_default();
    match &governance {
        Some(derived) => {
            if stored_governance.is_empty() {
                report.fail(format!(
                    "entry {entry_index}: governance: the index row of this {} {} is missing",
                    derived.kind, derived.id
                ));
            }
            for stored in &stored_governance {
                let differences = crate::provenance::governance::governance_row_differences(stored, derived);
                if differences.is_empty() {
                    report.index_rows += 1;
                } else {
                    let verb = if differences.len() == 1 { "differs" } else { "differ" };
                    report.fail(format!(
                        "entry {entry_index}: governance row {} {}: {} {verb} from the entry",
                        stored.kind,
                        stored.id,
                        differences.join(", ")
                    ));
                }
            }
        }
        None => {
            for stored in &stored_governance {
                report.fail(format!(
                    "entry {entry_index}: governance row {} {} names this entry, a {}",
                    stored.kind, stored.id, entry.entry_type
                ));
            }
        }
    }

    let stored_outputs = indexes.outputs.remove(&key).unwrap_or_default();
    let digests: BTreeSet<[u8; 32]> = stored_outputs
        .iter()
        .filter_map(|digest| <[u8; 32]>::try_from(digest.as_slice()).ok())
        .collect();
    if digests.len() != stored_outputs.len() {
        report.fail(format!("entry {entry_index}: output_index: a digest is not 32 bytes"));
    }
    match expected_output_digests(&entry.entry_type, &entry.body, opened, &tenant.lookup_secret) {
        ExpectedOutputs::Unknown(_) => report.outputs_not_rederived += 1,
        expected if expected.allows(&digests) => report.index_rows += digests.len() as u64,
        ExpectedOutputs::None => report.fail(format!(
            "entry {entry_index}: output_index: {} row(s) name this {} entry, which has no outputs",
            digests.len(),
            entry.entry_type
        )),
        ExpectedOutputs::OneOf(sets) => {
            let likeliest = sets.first().cloned().unwrap_or_default();
            let missing = likeliest.difference(&digests).count();
            let extra = digests.difference(&likeliest).count();
            let mut what = Vec::new();
            if missing > 0 {
                what.push(format!(
                    "{missing} digest(s) of its outputs missing (a search by those outputs finds nothing)"
                ));
            }
            if extra > 0 {
                what.push(format!("{extra} digest(s) that are not of its outputs"));
            }
            report.fail(format!("entry {entry_index}: output_index: {}", what.join("; ")));
        }
    }
}
