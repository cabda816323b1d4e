#!/usr/bin/env python3
"""Interop test: the real OpenTelemetry Python SDK exports a RAG-shaped trace to a running
traceledger server over OTLP/HTTP (protobuf), then this script verifies the server's
ledger with code that is NOT traceledger's (tlverify.py, DESIGN.md §3 and §7):

* the checkpoint's C2SP signed-note Ed25519 signature (``cryptography``), key hashes;
* every entry's bytes against an independent RFC 8785 implementation (``rfc8785``),
  the hash chain (``prev``), the RFC 6962 leaf hashes;
* every inclusion proof (RFC 9162 §2.1.3.2) and some consistency proofs (§2.1.4.2), and
  the tree root recomputed from all leaves (MTH);
* that the three spans are in the ledger as sent (ids, times, attributes, GenAI facts)
  and that no content text that was sent appears in the ledger entries.

Usage: export_and_verify.py --endpoint http://127.0.0.1:PORT --api-key KEY
Exit 0 only if everything verifies; 1 with a clear message otherwise. The last stdout line
is ``INTEROP_RESULT {json}`` (spans created, trace id, tree size) for the calling test.
"""

from __future__ import annotations

import argparse
import secrets
import sys

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

import tlverify


def scenario(args: argparse.Namespace, client: tlverify.Client) -> dict:
    exporter = OTLPSpanExporter(
        endpoint=f"{args.endpoint}/v1/traces", headers={"Authorization": f"Bearer {args.api_key}"}, timeout=30
    )
    sent = tlverify.export_rag_trace(exporter, secrets.token_hex(8), "traceledger-interop")
    print(f"exported {sent['spans']} spans of trace {sent['trace_id']} with the OpenTelemetry SDK in {sent['exports']} OTLP/HTTP request(s): SUCCESS")
    ledger = tlverify.verify_ledger(client)
    tlverify.print_ledger_summary(ledger)
    tlverify.check_rag_trace(ledger, sent)
    return {"spans": sent["spans"], "trace_id": sent["trace_id"], "tree_size": ledger["tree_size"], "origin": ledger["origin"]}


if __name__ == "__main__":
    sys.exit(tlverify.run(__doc__, scenario))
