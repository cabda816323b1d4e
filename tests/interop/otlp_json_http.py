#!/usr/bin/env python3
"""Interop test: the OpenTelemetry Python OTLP/HTTP **JSON** exporter
(``opentelemetry-exporter-otlp-json-http``) sends the RAG-shaped trace of tlverify.py to
``/v1/traces`` as ``application/json``; then the ledger is verified independently
(signature, entry bytes, inclusion and consistency proofs, see tlverify.py) and the spans
are compared with what the SDK exported: ids (hex in OTLP/JSON), 64-bit times (decimal
strings in OTLP/JSON), int/double/bool/array attributes, commitments, GenAI facts.

The export goes through a loopback relay that records the request, so the script also
checks that what went over the wire really was OTLP/JSON: ``POST /v1/traces``,
``Content-Type: application/json``, the bearer key, a JSON body with hex ids and the
exported span count.

Usage: otlp_json_http.py --endpoint http://127.0.0.1:PORT --api-key KEY
Last stdout line: ``INTEROP_RESULT {json}`` (spans, trace_id, tree_size, origin, requests).
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter

import tlverify
from tlverify import check


def check_wire(relay: tlverify.Relay, api_key: str, sent: dict) -> int:
    requests_seen = [r for raw in relay.sent() for r in tlverify.http1_requests(raw)]
    check(requests_seen, "the relay saw no HTTP request")
    spans_on_wire = 0
    for request_line, headers, body in requests_seen:
        check(request_line.startswith("POST /v1/traces "), f"request line {request_line!r}, want POST /v1/traces")
        content_type = headers.get("content-type", "")
        check(content_type.split(";")[0].strip() == "application/json", f"Content-Type {content_type!r}, want application/json")
        check(headers.get("authorization") == f"Bearer {api_key}", "the exporter did not send the bearer key")
        check("content-encoding" not in headers, f"unexpected Content-Encoding {headers.get('content-encoding')!r}")
        document = json.loads(body)
        for resource_spans in document["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    check(re.fullmatch(r"[0-9a-f]{32}", span["traceId"]) is not None, f"traceId {span['traceId']!r} is not 32 hex (OTLP/JSON)")
                    check(re.fullmatch(r"[0-9a-f]{16}", span["spanId"]) is not None, f"spanId {span['spanId']!r} is not 16 hex (OTLP/JSON)")
                    check(span["traceId"] == sent["trace_id"], f"traceId {span['traceId']} on the wire, trace {sent['trace_id']} created")
                    spans_on_wire += 1
    check(spans_on_wire == sent["spans"], f"{spans_on_wire} spans in the JSON bodies, {sent['spans']} created")
    return len(requests_seen)


def scenario(args: argparse.Namespace, client: tlverify.Client) -> dict:
    server = urlsplit(args.endpoint)
    relay = tlverify.Relay(server.hostname, server.port)
    try:
        exporter = OTLPSpanExporter(
            endpoint=f"http://127.0.0.1:{relay.port}/v1/traces",
            headers={"Authorization": f"Bearer {args.api_key}"},
            timeout=30,
        )
        sent = tlverify.export_rag_trace(exporter, secrets.token_hex(8), "traceledger-interop-json")
        requests_seen = check_wire(relay, args.api_key, sent)
    finally:
        relay.close()
    print(f"exported {sent['spans']} spans of trace {sent['trace_id']} with the OTLP/HTTP JSON exporter in {requests_seen} application/json request(s): SUCCESS")
    ledger = tlverify.verify_ledger(client)
    tlverify.print_ledger_summary(ledger)
    tlverify.check_rag_trace(ledger, sent)
    return {
        "spans": sent["spans"],
        "trace_id": sent["trace_id"],
        "tree_size": ledger["tree_size"],
        "origin": ledger["origin"],
        "requests": requests_seen,
    }


if __name__ == "__main__":
    sys.exit(tlverify.run(__doc__, scenario))
