//! Governance records: pipeline versions, proof bundles, deployments and CI keys. Each
//! is a ledger entry; this module validates requests and builds the entry bodies (pure).
//!
//! A pipeline version is content addressed: its id is `pv_` + the first 32 hex digits of
//! SHA-256 over the RFC 8785 form of its configuration, so registering the same
//! configuration twice yields the same id (and no second entry).

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ledger::dsse::{self, Envelope};
use crate::store::{AppendItem, GovernanceRecord, GovernanceRow};

/// Entry type of pipeline versions.
pub const PIPELINE_VERSION: &str = "pipeline_version";
/// Entry type of proof bundles.
pub const PROOF_BUNDLE: &str = "proof_bundle";
/// Entry type of deployments.
pub const DEPLOYMENT: &str = "deployment";
/// Entry type of registered CI keys.
pub const CI_KEY: &str = "ci_key";

/// Validation failures (400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidRecord(pub String);

fn require(text: &str, field: &str) -> Result<(), InvalidRecord> {
    if text.trim().is_empty() {
        return Err(InvalidRecord(format!("{field} must not be empty")));
    }
    if text.len() > 256 {
        return Err(InvalidRecord(format!("{field} is longer than 256 bytes")));
    }
    Ok(())
}

fn digest_id(prefix: &str, value: &Value) -> Result<String, InvalidRecord> {
    let canonical = serde_json_canonicalizer::to_vec(value).map_err(|error| InvalidRecord(error.to_string()))?;
    Ok(format!("{prefix}{}", &hex::encode(Sha256::digest(&canonical))[..32]))
}

/// A prompt template of a pipeline version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptTemplate {
    /// Template name.
    pub name: String,
    /// Template version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// SHA-256 (hex) of the template text.
    pub sha256: String,
}

/// The retrieval index a pipeline version reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrievalIndex {
    /// Index id.
    pub id: String,
    /// Index version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `POST /v1/pipeline-versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineVersionRequest {
    /// Pipeline name (matched against `traceledger.pipeline.name` / `service.name`).
    pub name: String,
    /// Version (matched against `traceledger.pipeline.version` / `service.version`).
    pub version: String,
    /// Source revision (e.g. a git commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_revision: Option<String>,
    /// Prompt templates with their digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_templates: Vec<PromptTemplate>,
    /// Model ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Retrieval index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_index: Option<RetrievalIndex>,
    /// Guardrail settings (free-form JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<Value>,
    /// SHA-256 (hex) of the full configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
}

fn check_hex64(text: &str, field: &str) -> Result<(), InvalidRecord> {
    if text.len() != 64 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(InvalidRecord(format!("{field} must be 64 hex digits (SHA-256)")));
    }
    Ok(())
}

/// Validates a pipeline version and builds its append item; returns (id, item).
pub fn pipeline_version_item(request: &PipelineVersionRequest) -> Result<(String, AppendItem), InvalidRecord> {
    require(&request.name, "name")?;
    require(&request.version, "version")?;
    for template in &request.prompt_templates {
        require(&template.name, "prompt_templates[].name")?;
        check_hex64(&template.sha256, "prompt_templates[].sha256")?;
    }
    if let Some(digest) = &request.config_digest {
        check_hex64(digest, "config_digest")?;
    }
    let config = serde_json::to_value(request).map_err(|error| InvalidRecord(error.to_string()))?;
    let id = digest_id("pv_", &config)?;
    let mut body = config;
    if let Value::Object(object) = &mut body {
        object.insert("id".into(), Value::from(id.clone()));
    }
    Ok((id, governance_item(PIPELINE_VERSION, body)?))
}

/// One evaluation result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// Evaluation name (e.g. `groundedness`).
    pub name: String,
    /// Score.
    pub score: f64,
    /// Threshold the score had to reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Whether it passed.
    pub passed: bool,
    /// Dataset or suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// One test run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRun {
    /// Suite name.
    pub name: String,
    /// Passed tests.
    pub passed: u64,
    /// Failed tests.
    pub failed: u64,
    /// Link to the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Who approved.
    pub approver: String,
    /// Their role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// When (RFC 3339).
    pub approved_at: String,
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// An artifact digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// Artifact name.
    pub name: String,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// `POST /v1/proof-bundles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofBundleRequest {
    /// The pipeline version this evidence approves.
    pub pipeline_version_id: String,
    /// Evaluation results.
    #[serde(default)]
    pub evaluations: Vec<Evaluation>,
    /// Test runs.
    #[serde(default)]
    pub test_runs: Vec<TestRun>,
    /// Approvals.
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// Artifact digests.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// Optional DSSE envelope signed by a registered CI key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub attestation: Option<Envelope>,
}

/// Validates a proof bundle (the pipeline version must exist; an attestation must verify
/// against a registered CI key) and builds its append item; returns (id, item).
pub fn proof_bundle_item(
    request: &ProofBundleRequest,
    pipeline_versions: &[GovernanceRecord],
    ci_keys: &[GovernanceRecord],
) -> Result<(String, AppendItem), InvalidRecord> {
    if !pipeline_versions
        .iter()
        .any(|record| record.row.id == request.pipeline_version_id)
    {
        return Err(InvalidRecord(format!(
            "pipeline version {} is not registered",
            request.pipeline_version_id
        )));
    }
    for approval in &request.approvals {
        require(&approval.approver, "approvals[].approver")?;
        chrono::DateTime::parse_from_rfc3339(&approval.approved_at)
            .map_err(|_| InvalidRecord("approvals[].approved_at must be RFC 3339".into()))?;
    }
    for artifact in &request.artifacts {
        check_hex64(&artifact.sha256, "artifacts[].sha256")?;
    }
    let attestation = match &request.attestation {
        None => None,
        Some(envelope) => {
            let keys: Vec<(String, ed25519_dalek::VerifyingKey)> = ci_keys
                .iter()
                .filter_map(|record| {
                    let body: Value = serde_json::from_str(&record.row.body).ok()?;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(body["public_key"].as_str()?)
                        .ok()?;
                    let array: [u8; 32] = bytes.try_into().ok()?;
                    Some((
                        record.row.id.clone(),
                        ed25519_dalek::VerifyingKey::from_bytes(&array).ok()?,
                    ))
                })
                .collect();
            let verifying: Vec<_> = keys.iter().map(|(_, key)| *key).collect();
            let (payload, position) = dsse::verify_envelope(envelope, &verifying).map_err(|error| {
                InvalidRecord(format!(
                    "attestation does not verify against a registered CI key: {error}"
                ))
            })?;
            Some(json!({
                "verified": true,
                "ci_key_id": keys[position].0,
                "payload_type": envelope.payload_type,
                "payload_sha256": hex::encode(Sha256::digest(&payload)),
                "envelope": envelope,
            }))
        }
    };
    let mut body = serde_json::to_value(request).map_err(|error| InvalidRecord(error.to_string()))?;
    if let Value::Object(object) = &mut body {
        object.remove("attestation");
    }
    let id = digest_id("pb_", &body)?;
    if let Value::Object(object) = &mut body {
        object.insert("id".into(), Value::from(id.clone()));
        if let Some(attestation) = attestation {
            object.insert("attestation".into(), attestation);
        }
    }
    let approved = request.evaluations.iter().all(|evaluation| evaluation.passed)
        && request.test_runs.iter().all(|run| run.failed == 0)
        && !request.approvals.is_empty();
    if let Value::Object(object) = &mut body {
        object.insert("approved".into(), Value::from(approved));
    }
    Ok((id, governance_item(PROOF_BUNDLE, body)?))
}

/// `POST /v1/deployments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRequest {
    /// The pipeline version deployed.
    pub pipeline_version_id: String,
    /// Environment (matched against `deployment.environment.name`).
    pub environment: String,
    /// Live from (RFC 3339); default now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Live until (RFC 3339); open-ended when absent (a later deployment in the same
    /// environment takes over from its own `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

fn rfc3339_ns(text: &str, field: &str) -> Result<i64, InvalidRecord> {
    crate::domain::rfc3339_to_unix_nanos(text)
        .ok_or_else(|| InvalidRecord(format!("{field} must be an RFC 3339 time between 1677 and 2262")))
}

/// Validates a deployment and builds its append item; returns (id, item).
pub fn deployment_item(
    request: &DeploymentRequest,
    pipeline_versions: &[GovernanceRecord],
    now: &str,
) -> Result<(String, AppendItem), InvalidRecord> {
    if !pipeline_versions
        .iter()
        .any(|record| record.row.id == request.pipeline_version_id)
    {
        return Err(InvalidRecord(format!(
            "pipeline version {} is not registered",
            request.pipeline_version_id
        )));
    }
    require(&request.environment, "environment")?;
    let from = request.from.clone().unwrap_or_else(|| now.to_owned());
    let from_ns = rfc3339_ns(&from, "from")?;
    let to_ns = match &request.to {
        Some(to) => Some(rfc3339_ns(to, "to")?),
        None => None,
    };
    if to_ns.is_some_and(|to| to <= from_ns) {
        return Err(InvalidRecord("to must be after from".into()));
    }
    let mut body = json!({
        "pipeline_version_id": request.pipeline_version_id,
        "environment": request.environment,
        "from": from,
    });
    if let Some(to) = &request.to {
        body["to"] = Value::from(to.as_str());
    }
    let id = digest_id("dp_", &body)?;
    body["id"] = Value::from(id.clone());
    Ok((id, governance_item(DEPLOYMENT, body)?))
}

/// `POST /v1/ci-keys`: an Ed25519 public key whose DSSE attestations are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CiKeyRequest {
    /// A name for the key (e.g. `github-actions-release`).
    pub name: String,
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
}

/// Validates a CI key and builds its append item; returns (id, item).
pub fn ci_key_item(request: &CiKeyRequest) -> Result<(String, AppendItem), InvalidRecord> {
    require(&request.name, "name")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(request.public_key.trim())
        .map_err(|_| InvalidRecord("public_key must be base64".into()))?;
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| InvalidRecord("public_key must be 32 bytes (Ed25519)".into()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&array)
        .map_err(|_| InvalidRecord("public_key is not a valid Ed25519 key".into()))?;
    let body = json!({"name": request.name, "public_key": request.public_key.trim()});
    let id = digest_id("ck_", &body)?;
    let mut body = body;
    body["id"] = Value::from(id.clone());
    Ok((id, governance_item(CI_KEY, body)?))
}

fn governance_item(kind: &str, body: Value) -> Result<AppendItem, InvalidRecord> {
    let row = governance_row(kind, &body).ok_or_else(|| InvalidRecord(format!("not a valid {kind} record")))?;
    Ok(AppendItem {
        entry: crate::ledger::batch::PendingEntry {
            entry_type: kind.to_owned(),
            body,
        },
        dedupe_key: Some(format!("{kind}:{}", row.id)),
        governance: Some(row),
        ..AppendItem::default()
    })
}

/// The `governance` index row of a governance entry (type `kind`, body `body`), or
/// `None` for another entry type or a body that is not a record of that kind. Ingest
/// builds the row with it, and the audit and the governance reads re-derive it from the
/// entry with it, so the row can always be checked against the ledger.
pub fn governance_row(kind: &str, body: &Value) -> Option<GovernanceRow> {
    let text = |key: &str| body[key].as_str().map(str::to_owned);
    let row = GovernanceRow {
        kind: kind.to_owned(),
        id: text("id")?,
        body: body.to_string(),
        ..GovernanceRow::default()
    };
    match kind {
        PIPELINE_VERSION => Some(GovernanceRow {
            name: Some(text("name")?),
            version: Some(text("version")?),
            ..row
        }),
        PROOF_BUNDLE => Some(GovernanceRow {
            pipeline_version_id: Some(text("pipeline_version_id")?),
            ..row
        }),
        DEPLOYMENT => Some(GovernanceRow {
            pipeline_version_id: Some(text("pipeline_version_id")?),
            environment: Some(text("environment")?),
            valid_from_ns: Some(crate::domain::rfc3339_to_unix_nanos(&text("from")?)?),
            valid_to_ns: match text("to") {
                Some(to) => Some(crate::domain::rfc3339_to_unix_nanos(&to)?),
                None => None,
            },
            ..row
        }),
        CI_KEY => Some(GovernanceRow {
            name: Some(text("name")?),
            ..row
        }),
        _ => None,
    }
}

/// Whether a stored `governance` row says exactly what its entry says: every column,
/// and the body as JSON (compared in RFC 8785 form, so number spellings do not matter).
/// Returns the names of the columns that differ.
pub fn governance_row_differences(stored: &GovernanceRow, derived: &GovernanceRow) -> Vec<&'static str> {
    let mut differ = Vec::new();
    if stored.kind != derived.kind {
        differ.push("kind");
    }
    if stored.id != derived.id {
        differ.push("id");
    }
    if stored.name != derived.name {
        differ.push("name");
    }
    if stored.version != derived.version {
        differ.push("version");
    }
    if stored.pipeline_version_id != derived.pipeline_version_id {
        differ.push("pipeline_version_id");
    }
    if stored.environment != derived.environment {
        differ.push("environment");
    }
    if stored.valid_from_ns != derived.valid_from_ns {
        differ.push("valid_from_ns");
    }
    if stored.valid_to_ns != derived.valid_to_ns {
        differ.push("valid_to_ns");
    }
    let canonical = |text: &str| {
        serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|value| serde_json_canonicalizer::to_vec(&value).ok())
    };
    match (canonical(&stored.body), canonical(&derived.body)) {
        (Some(stored_body), Some(derived_body)) if stored_body == derived_body => {}
        _ => differ.push("body"),
    }
    differ
}

/// How a span was linked to a pipeline version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    /// The pipeline version id.
    pub pipeline_version_id: Option<String>,
    /// `explicit`, `deployment` or `none`.
    pub method: &'static str,
    /// The deployment that decided the link.
    pub deployment_id: Option<String>,
}

/// The governance state needed to link spans, read once per ingest request.
#[derive(Debug, Clone, Default)]
pub struct Linker {
    versions: Vec<GovernanceRecord>,
    deployments: Vec<GovernanceRecord>,
}

impl Linker {
    /// A linker over the tenant's pipeline versions and deployments.
    pub fn new(versions: Vec<GovernanceRecord>, deployments: Vec<GovernanceRecord>) -> Self {
        Linker { versions, deployments }
    }

    /// Links a span entry body. Explicit attributes (span, then resource) win:
    /// `traceledger.pipeline.version_id`; `traceledger.pipeline.name` +
    /// `traceledger.pipeline.version`; `service.name` + `service.version`. Failing that,
    /// the deployment live in the span's environment (`deployment.environment.name` /
    /// `deployment.environment`) at its start time.
    pub fn link(&self, body: &Value, start_ns: i64) -> Link {
        let attribute = |key: &str| clear_attribute(body, key);
        if let Some(id) = attribute("traceledger.pipeline.version_id") {
            if self.versions.iter().any(|record| record.row.id == id) {
                return Link {
                    pipeline_version_id: Some(id),
                    method: "explicit",
                    deployment_id: None,
                };
            }
        }
        for (name_key, version_key) in [
            ("traceledger.pipeline.name", "traceledger.pipeline.version"),
            ("service.name", "service.version"),
        ] {
            if let (Some(name), Some(version)) = (attribute(name_key), attribute(version_key)) {
                if let Some(record) = self.versions.iter().rev().find(|record| {
                    record.row.name.as_deref() == Some(name.as_str())
                        && record.row.version.as_deref() == Some(version.as_str())
                }) {
                    return Link {
                        pipeline_version_id: Some(record.row.id.clone()),
                        method: "explicit",
                        deployment_id: None,
                    };
                }
            }
        }
        if let Some(environment) = environment_of(body) {
            let live = self
                .deployments
                .iter()
                .filter(|record| record.row.environment.as_deref() == Some(environment.as_str()))
                .filter(|record| record.row.valid_from_ns.is_some_and(|from| from <= start_ns))
                .filter(|record| record.row.valid_to_ns.is_none_or(|to| start_ns < to))
                .max_by_key(|record| (record.row.valid_from_ns, record.entry_index));
            if let Some(record) = live {
                return Link {
                    pipeline_version_id: record.row.pipeline_version_id.clone(),
                    method: "deployment",
                    deployment_id: Some(record.row.id.clone()),
                };
            }
        }
        Link {
            pipeline_version_id: None,
            method: "none",
            deployment_id: None,
        }
    }
}

/// A clear string attribute of a span body: span attributes first, then resource.
pub fn clear_attribute(body: &Value, key: &str) -> Option<String> {
    body["attributes"][key]["stringValue"]
        .as_str()
        .or_else(|| body["resource"]["attributes"][key]["stringValue"].as_str())
        .map(str::to_owned)
}

/// The deployment environment of a span body.
pub fn environment_of(body: &Value) -> Option<String> {
    clear_attribute(body, "deployment.environment.name").or_else(|| clear_attribute(body, "deployment.environment"))
}

#[cfg(test)]
mod tests;
