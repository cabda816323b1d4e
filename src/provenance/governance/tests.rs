//! Tests of the governance record builders, the index-row derivation and span linking.

use super::*;

fn version() -> PipelineVersionRequest {
    PipelineVersionRequest {
        name: "support-rag-api".into(),
        version: "1.4.0".into(),
        source_revision: Some("abc123".into()),
        prompt_templates: vec![],
        models: vec!["gpt-4o-mini".into()],
        retrieval_index: None,
        guardrails: None,
        config_digest: None,
    }
}

#[test]
fn pipeline_versions_are_content_addressed() {
    let (first, _) = pipeline_version_item(&version()).unwrap();
    let (second, _) = pipeline_version_item(&version()).unwrap();
    assert_eq!(first, second);
    let mut changed = version();
    changed.models.push("gpt-4o".into());
    assert_ne!(pipeline_version_item(&changed).unwrap().0, first);
    assert!(first.starts_with("pv_") && first.len() == 35);
    let mut empty = version();
    empty.name = " ".into();
    assert!(pipeline_version_item(&empty).is_err());
}

/// The row of every kind of record re-derives from its entry body as a reader gets it
/// back (RFC 8785 bytes, parsed: `1.0` comes back as `1`), and a changed row does not.
#[test]
fn index_rows_rederive_from_their_entries() {
    let (version_id, version) = pipeline_version_item(&version()).unwrap();
    let versions = vec![record(version.governance.clone().unwrap(), 0)];
    let bundle_request: ProofBundleRequest = serde_json::from_value(json!({
        "pipeline_version_id": version_id,
        "evaluations": [{"name": "groundedness", "score": 1.0, "threshold": 0.9, "passed": true}],
        "approvals": [{"approver": "maria", "approved_at": "2026-01-01T12:00:00Z"}],
    }))
    .unwrap();
    let (_, bundle) = proof_bundle_item(&bundle_request, &versions, &[]).unwrap();
    let deployment_request = DeploymentRequest {
        pipeline_version_id: version_id.clone(),
        environment: "prod".into(),
        from: Some("2026-01-01T00:00:00Z".into()),
        to: Some("2026-02-01T00:00:00Z".into()),
    };
    let (_, deployment) = deployment_item(&deployment_request, &versions, "2026-01-01T00:00:00Z").unwrap();
    let ci_key = CiKeyRequest {
        name: "ci".into(),
        public_key: base64::engine::general_purpose::STANDARD.encode([3u8; 32]),
    };
    let (_, key) = ci_key_item(&ci_key).unwrap();
    for item in [version, bundle, deployment, key] {
        let row = item.governance.clone().unwrap();
        let bytes = serde_json_canonicalizer::to_vec(&item.entry.body).unwrap();
        let read_back: Value = serde_json::from_slice(&bytes).unwrap();
        let derived = governance_row(&item.entry.entry_type, &read_back).unwrap();
        assert!(governance_row_differences(&row, &derived).is_empty(), "{row:?}");
        let mut forged = row.clone();
        forged.body = forged.body.replace("\"approved\":true", "\"approved\":false");
        forged.environment = forged.environment.map(|_| "staging".to_owned());
        if forged != row {
            assert!(!governance_row_differences(&forged, &derived).is_empty());
        }
    }
    assert_eq!(governance_row("span", &json!({"id": "x"})), None);
}

fn record(row: GovernanceRow, entry_index: u64) -> GovernanceRecord {
    GovernanceRecord { row, entry_index }
}

#[test]
fn linking_prefers_explicit_attributes_then_live_deployments() {
    let (id, item) = pipeline_version_item(&version()).unwrap();
    let versions = vec![record(item.governance.unwrap(), 0)];
    let deployment = |id: &str, from: i64, to: Option<i64>, index| {
        record(
            GovernanceRow {
                kind: DEPLOYMENT.into(),
                id: id.into(),
                pipeline_version_id: Some(format!("pv_{id}")),
                environment: Some("staging".into()),
                valid_from_ns: Some(from),
                valid_to_ns: to,
                ..GovernanceRow::default()
            },
            index,
        )
    };
    let linker = Linker::new(
        versions,
        vec![deployment("a", 100, None, 1), deployment("b", 200, Some(300), 2)],
    );
    let explicit = json!({"resource": {"attributes": {
        "service.name": {"stringValue": "support-rag-api"},
        "service.version": {"stringValue": "1.4.0"}}}});
    assert_eq!(linker.link(&explicit, 0).pipeline_version_id, Some(id));
    let staging = json!({"resource": {"attributes": {"deployment.environment.name": {"stringValue": "staging"}}}});
    assert_eq!(linker.link(&staging, 150).deployment_id.as_deref(), Some("a"));
    assert_eq!(linker.link(&staging, 250).deployment_id.as_deref(), Some("b"));
    assert_eq!(
        linker.link(&staging, 350).deployment_id.as_deref(),
        Some("a"),
        "b ended at 300"
    );
    assert_eq!(linker.link(&staging, 50).method, "none");
}
