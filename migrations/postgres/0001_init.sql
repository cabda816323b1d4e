-- traceledger schema, PostgreSQL flavour. Keep in step with migrations/sqlite/.
CREATE TABLE tenants (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL UNIQUE,
    lookup_secret BYTEA NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    key_hash BYTEA NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE signing_keys (
    public_key BYTEA PRIMARY KEY,
    created_at TEXT NOT NULL,
    active BOOLEAN NOT NULL
);

CREATE TABLE log_heads (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id),
    size BIGINT NOT NULL,
    last_leaf BYTEA,
    root BYTEA NOT NULL
);

CREATE TABLE entries (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    idx BIGINT NOT NULL,
    entry_type TEXT NOT NULL,
    entry_bytes BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    trace_id TEXT,
    span_id TEXT,
    span_key TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, idx)
);
CREATE INDEX entries_trace ON entries (tenant_id, trace_id);
CREATE UNIQUE INDEX entries_span_key ON entries (tenant_id, span_key);

CREATE TABLE tree_hashes (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    hidx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, hidx)
);

CREATE TABLE contents (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    commitment TEXT NOT NULL,
    entry_idx BIGINT NOT NULL,
    field TEXT NOT NULL,
    salt BYTEA,
    content TEXT,
    erased_at TEXT,
    PRIMARY KEY (tenant_id, commitment)
);
CREATE INDEX contents_entry ON contents (tenant_id, entry_idx);

CREATE TABLE checkpoints (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, size)
);

CREATE TABLE output_index (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    digest BYTEA NOT NULL,
    entry_idx BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, digest, entry_idx)
);
