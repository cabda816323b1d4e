//! Request examples shared by the document and the tests (which send them).

use serde_json::{json, Value};

/// An OTLP/JSON trace export: one GenAI chat span.
pub fn otlp_traces_request() -> Value {
    let text = |value: &str| json!({"stringValue": value});
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": text("support-rag-api")},
                {"key": "service.version", "value": text("1.4.0")},
                {"key": "deployment.environment.name", "value": text("production")}
            ]},
            "scopeSpans": [{
                "scope": {"name": "support_rag.pipeline", "version": "1.4.0"},
                "spans": [{
                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "spanId": "00f067aa0ba902b7",
                    "name": "chat gpt-4o-mini",
                    "kind": 3,
                    "startTimeUnixNano": "1767268800000000000",
                    "endTimeUnixNano": "1767268801250000000",
                    "attributes": [
                        {"key": "gen_ai.operation.name", "value": text("chat")},
                        {"key": "gen_ai.provider.name", "value": text("openai")},
                        {"key": "gen_ai.request.model", "value": text("gpt-4o-mini")},
                        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "42"}},
                        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "12"}},
                        {"key": "gen_ai.input.messages", "value": text(
                            r#"[{"role":"user","parts":[{"type":"text","content":"Was order 1234 delivered?"}]}]"#)},
                        {"key": "gen_ai.output.messages", "value": text(
                            r#"[{"role":"assistant","parts":[{"type":"text","content":"Yes. Order 1234 was delivered on 2 January."}],"finish_reason":"stop"}]"#)}
                    ],
                    "status": {"code": 1}
                }]
            }]
        }]
    })
}

/// An OTLP/JSON logs export: one GenAI event linked to the span above.
pub fn otlp_logs_request() -> Value {
    json!({
        "resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "support-rag-api"}}]},
            "scopeLogs": [{
                "scope": {"name": "support_rag.pipeline"},
                "logRecords": [{
                    "timeUnixNano": "1767268801250000000",
                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "spanId": "00f067aa0ba902b7",
                    "eventName": "gen_ai.choice",
                    "body": {"kvlistValue": {"values": [
                        {"key": "index", "value": {"intValue": "0"}},
                        {"key": "finish_reason", "value": {"stringValue": "stop"}}
                    ]}}
                }]
            }]
        }]
    })
}

/// A pipeline version (the service of the spans above).
pub fn pipeline_version_request() -> Value {
    json!({
        "name": "support-rag-api",
        "version": "1.4.0",
        "source_revision": "3f2c1e9a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e",
        "models": ["gpt-4o-mini"],
        "retrieval_index": {"id": "product_docs", "version": "2026-01"}
    })
}

/// The id the pipeline version above gets (content addressed).
pub const PIPELINE_VERSION_ID: &str = "pv_ab37838c654aa41ee9f3acdb638033ef";

/// A proof bundle approving the pipeline version above.
pub fn proof_bundle_request() -> Value {
    json!({
        "pipeline_version_id": PIPELINE_VERSION_ID,
        "evaluations": [{"name": "groundedness", "score": 0.97, "threshold": 0.9, "passed": true}],
        "test_runs": [{"name": "regression", "passed": 120, "failed": 0}],
        "approvals": [{"approver": "maria.lopez", "role": "ml-lead", "approved_at": "2026-01-01T12:00:00Z"}]
    })
}

/// A deployment of the pipeline version above.
pub fn deployment_request() -> Value {
    json!({
        "pipeline_version_id": PIPELINE_VERSION_ID,
        "environment": "production",
        "from": "2026-01-01T00:00:00Z"
    })
}

// The ledger examples below come from one real run (the span above, the logs above, the
// pipeline version and CI key below, in that order): they verify against each other
// (tests/openapi.rs checks it).

/// A checkpoint note of the run: tree size 4.
pub const CHECKPOINT: &str = "traceledger.local/default\n4\n3ZFw+b+TvDOmi1m3UJj4E1YaTR1TvOlwswzhyLNuobQ=\n\n— traceledger.local/default I0utelVtRd7TyxNDeP17FHzVPbKXMPlXk0NxuxBc6OH4GfY5kaie2saiMZmefBHsnxlprP1Hx5U1Ezcm5oPWcoZZ8AU=\n";

/// `GET /v1/keys` of the run: the key that signed [`CHECKPOINT`].
pub fn key_list() -> Value {
    json!({
        "keys": [
            {
                "active": true,
                "created_at": "2026-11-25T10:38:37.112279Z",
                "origin": "traceledger.local/default",
                "verifier_key": "traceledger.local/default+234bad7a+AUmT4k3IA/26xs5+D7fP/IdMAy50HmQAVhpH8T0dozLO"
            }
        ]
    })
}

/// `GET /v1/ledger/entries?start=0&end=1` of the run: the span above.
pub fn entry_page() -> Value {
    json!({
        "entries": [
            {
                "entry": {
                    "body": {
                        "attributes": {
                            "gen_ai.input.messages": {
                                "len": 81,
                                "sha256": "3c51b296e549bfa93e3ed7e3adbe8705df546b6337be3588a055b51529bcc556"
                            },
                            "gen_ai.operation.name": {
                                "stringValue": "chat"
                            },
                            "gen_ai.output.messages": {
                                "len": 127,
                                "sha256": "adfd6ae6c669af4d36bd69a4ee0dd47ee7c352e83d60e95ac1276750d1630fc5"
                            },
                            "gen_ai.provider.name": {
                                "stringValue": "openai"
                            },
                            "gen_ai.request.model": {
                                "stringValue": "gpt-4o-mini"
                            },
                            "gen_ai.usage.input_tokens": {
                                "intValue": "42"
                            },
                            "gen_ai.usage.output_tokens": {
                                "intValue": "12"
                            }
                        },
                        "end_time_unix_nano": "1767268801250000000",
                        "genai": {
                            "kind_source": "gen_ai.operation.name=chat",
                            "operation": "chat",
                            "pipeline": {
                                "environment": "production",
                                "service_name": "support-rag-api",
                                "service_version": "1.4.0"
                            },
                            "provider": "openai",
                            "request_model": "gpt-4o-mini",
                            "usage": {
                                "input_tokens": "42",
                                "output_tokens": "12"
                            }
                        },
                        "kind": "generation",
                        "link": {
                            "method": "none"
                        },
                        "name": "chat gpt-4o-mini",
                        "otel_kind": 3,
                        "resource": {
                            "attributes": {
                                "deployment.environment.name": {
                                    "stringValue": "production"
                                },
                                "service.name": {
                                    "stringValue": "support-rag-api"
                                },
                                "service.version": {
                                    "stringValue": "1.4.0"
                                }
                            }
                        },
                        "scope": {
                            "name": "support_rag.pipeline",
                            "version": "1.4.0"
                        },
                        "span_id": "00f067aa0ba902b7",
                        "start_time_unix_nano": "1767268800000000000",
                        "status": {
                            "code": 1,
                            "message": ""
                        },
                        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"
                    },
                    "index": 0,
                    "log": "traceledger.local/default",
                    "prev": "0000000000000000000000000000000000000000000000000000000000000000",
                    "time": "2026-11-25T10:38:37.126448Z",
                    "type": "span",
                    "v": 1
                },
                "entry_bytes": "eyJib2R5Ijp7ImF0dHJpYnV0ZXMiOnsiZ2VuX2FpLmlucHV0Lm1lc3NhZ2VzIjp7ImxlbiI6ODEsInNoYTI1NiI6IjNjNTFiMjk2ZTU0OWJmYTkzZTNlZDdlM2FkYmU4NzA1ZGY1NDZiNjMzN2JlMzU4OGEwNTViNTE1MjliY2M1NTYifSwiZ2VuX2FpLm9wZXJhdGlvbi5uYW1lIjp7InN0cmluZ1ZhbHVlIjoiY2hhdCJ9LCJnZW5fYWkub3V0cHV0Lm1lc3NhZ2VzIjp7ImxlbiI6MTI3LCJzaGEyNTYiOiJhZGZkNmFlNmM2NjlhZjRkMzZiZDY5YTRlZTBkZDQ3ZWU3YzM1MmU4M2Q2MGU5NWFjMTI3Njc1MGQxNjMwZmM1In0sImdlbl9haS5wcm92aWRlci5uYW1lIjp7InN0cmluZ1ZhbHVlIjoib3BlbmFpIn0sImdlbl9haS5yZXF1ZXN0Lm1vZGVsIjp7InN0cmluZ1ZhbHVlIjoiZ3B0LTRvLW1pbmkifSwiZ2VuX2FpLnVzYWdlLmlucHV0X3Rva2VucyI6eyJpbnRWYWx1ZSI6IjQyIn0sImdlbl9haS51c2FnZS5vdXRwdXRfdG9rZW5zIjp7ImludFZhbHVlIjoiMTIifX0sImVuZF90aW1lX3VuaXhfbmFubyI6IjE3NjcyNjg4MDEyNTAwMDAwMDAiLCJnZW5haSI6eyJraW5kX3NvdXJjZSI6Imdlbl9haS5vcGVyYXRpb24ubmFtZT1jaGF0Iiwib3BlcmF0aW9uIjoiY2hhdCIsInBpcGVsaW5lIjp7ImVudmlyb25tZW50IjoicHJvZHVjdGlvbiIsInNlcnZpY2VfbmFtZSI6InN1cHBvcnQtcmFnLWFwaSIsInNlcnZpY2VfdmVyc2lvbiI6IjEuNC4wIn0sInByb3ZpZGVyIjoib3BlbmFpIiwicmVxdWVzdF9tb2RlbCI6ImdwdC00by1taW5pIiwidXNhZ2UiOnsiaW5wdXRfdG9rZW5zIjoiNDIiLCJvdXRwdXRfdG9rZW5zIjoiMTIifX0sImtpbmQiOiJnZW5lcmF0aW9uIiwibGluayI6eyJtZXRob2QiOiJub25lIn0sIm5hbWUiOiJjaGF0IGdwdC00by1taW5pIiwib3RlbF9raW5kIjozLCJyZXNvdXJjZSI6eyJhdHRyaWJ1dGVzIjp7ImRlcGxveW1lbnQuZW52aXJvbm1lbnQubmFtZSI6eyJzdHJpbmdWYWx1ZSI6InByb2R1Y3Rpb24ifSwic2VydmljZS5uYW1lIjp7InN0cmluZ1ZhbHVlIjoic3VwcG9ydC1yYWctYXBpIn0sInNlcnZpY2UudmVyc2lvbiI6eyJzdHJpbmdWYWx1ZSI6IjEuNC4wIn19fSwic2NvcGUiOnsibmFtZSI6InN1cHBvcnRfcmFnLnBpcGVsaW5lIiwidmVyc2lvbiI6IjEuNC4wIn0sInNwYW5faWQiOiIwMGYwNjdhYTBiYTkwMmI3Iiwic3RhcnRfdGltZV91bml4X25hbm8iOiIxNzY3MjY4ODAwMDAwMDAwMDAwIiwic3RhdHVzIjp7ImNvZGUiOjEsIm1lc3NhZ2UiOiIifSwidHJhY2VfaWQiOiI0YmY5MmYzNTc3YjM0ZGE2YTNjZTkyOWQwZTBlNDczNiJ9LCJpbmRleCI6MCwibG9nIjoidHJhY2VsZWRnZXIubG9jYWwvZGVmYXVsdCIsInByZXYiOiIwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwIiwidGltZSI6IjIwMjYtMTEtMjVUMTA6Mzg6MzcuMTI2NDQ4WiIsInR5cGUiOiJzcGFuIiwidiI6MX0=",
                "index": 0
            }
        ]
    })
}

/// `GET /v1/ledger/proofs/inclusion?index=0` of the run (tree size 4).
pub fn inclusion_proof() -> Value {
    json!({
        "index": 0,
        "leaf_hash": "bcbbe418901a90a19613bf229e17adf48ca239557b573c301d8a64444d4ad289",
        "proof": [
            "e41541b207d41bf1dd27346238ca96e4a2192831d6c17170dac6330d62c41fba",
            "65aa4874e2c386f82c34ac08d82ee98c63fb9c5e65579d8d8044f92e8d489835"
        ],
        "tree_size": 4
    })
}

/// `GET /v1/ledger/proofs/consistency?first=1&second=4` of the run.
pub fn consistency_proof() -> Value {
    json!({
        "first": 1,
        "proof": [
            "e41541b207d41bf1dd27346238ca96e4a2192831d6c17170dac6330d62c41fba",
            "65aa4874e2c386f82c34ac08d82ee98c63fb9c5e65579d8d8044f92e8d489835"
        ],
        "second": 4
    })
}

/// A CI key.
pub fn ci_key_request() -> Value {
    json!({
        "name": "github-actions-release",
        "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    })
}
