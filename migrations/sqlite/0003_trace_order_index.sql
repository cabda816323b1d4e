-- Entries of a trace in index order straight from one index (the planner otherwise walks
-- the primary key to satisfy ORDER BY idx and scans the whole log).
DROP INDEX entries_trace;
CREATE INDEX entries_trace ON entries (tenant_id, trace_id, idx);

-- Span search by kind, newest first, straight from one index (ties broken by entry index).
DROP INDEX spans_kind_start;
CREATE INDEX spans_kind_start ON spans (tenant_id, kind, start_ns, entry_idx);
