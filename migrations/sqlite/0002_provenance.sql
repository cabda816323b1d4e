-- Query indexes over the ledger (derived data: every row can be rebuilt from entries).

CREATE TABLE spans (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    entry_idx INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    model TEXT,
    provider TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    status_code INTEGER NOT NULL,
    pipeline_version_id TEXT,
    environment TEXT,
    link_method TEXT NOT NULL,
    PRIMARY KEY (tenant_id, entry_idx)
);
CREATE INDEX spans_trace ON spans (tenant_id, trace_id);
CREATE INDEX spans_start ON spans (tenant_id, start_ns, entry_idx);
CREATE INDEX spans_kind_start ON spans (tenant_id, kind, start_ns);
CREATE INDEX spans_duration ON spans (tenant_id, duration_ns);
CREATE INDEX spans_model ON spans (tenant_id, model);
CREATE INDEX spans_output_tokens ON spans (tenant_id, output_tokens);
CREATE INDEX spans_pipeline ON spans (tenant_id, pipeline_version_id);

-- Clear (non-content) string attribute values of spans, for equality filters.
CREATE TABLE span_attributes (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    entry_idx INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, entry_idx, key)
);
CREATE INDEX span_attributes_lookup ON span_attributes (tenant_id, key, value);

-- Governance records: pipeline versions, proof bundles, deployments, CI keys.
CREATE TABLE governance (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    entry_idx INTEGER NOT NULL,
    name TEXT,
    version TEXT,
    pipeline_version_id TEXT,
    environment TEXT,
    valid_from_ns INTEGER,
    valid_to_ns INTEGER,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, id)
);
CREATE INDEX governance_name ON governance (tenant_id, kind, name, version);
CREATE INDEX governance_pipeline ON governance (tenant_id, kind, pipeline_version_id);
CREATE INDEX governance_environment ON governance (tenant_id, kind, environment, valid_from_ns);
