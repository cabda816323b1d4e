-- traceledger schema, SQLite flavour. Keep in step with migrations/postgres/.
CREATE TABLE tenants (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL UNIQUE,
    lookup_secret BLOB NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    key_hash BLOB NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE signing_keys (
    public_key BLOB PRIMARY KEY,
    created_at TEXT NOT NULL,
    active BOOLEAN NOT NULL
);

CREATE TABLE log_heads (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id),
    size INTEGER NOT NULL,
    last_leaf BLOB,
    root BLOB NOT NULL
);

CREATE TABLE entries (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    idx INTEGER NOT NULL,
    entry_type TEXT NOT NULL,
    entry_bytes BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    trace_id TEXT,
    span_id TEXT,
    span_key TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, idx)
);
CREATE INDEX entries_trace ON entries (tenant_id, trace_id);
CREATE UNIQUE INDEX entries_span_key ON entries (tenant_id, span_key);

CREATE TABLE tree_hashes (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    hidx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (tenant_id, hidx)
);

CREATE TABLE contents (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    commitment TEXT NOT NULL,
    entry_idx INTEGER NOT NULL,
    field TEXT NOT NULL,
    salt BLOB,
    content TEXT,
    erased_at TEXT,
    PRIMARY KEY (tenant_id, commitment)
);
CREATE INDEX contents_entry ON contents (tenant_id, entry_idx);

CREATE TABLE checkpoints (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, size)
);

CREATE TABLE output_index (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    digest BLOB NOT NULL,
    entry_idx INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, digest, entry_idx)
);
