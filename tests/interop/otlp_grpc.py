#!/usr/bin/env python3
"""Interop test: the OpenTelemetry Python OTLP/**gRPC** exporter
(``opentelemetry-exporter-otlp-proto-grpc`` on ``grpcio``) sends the RAG-shaped trace of
tlverify.py to the server's OTLP/gRPC port (plain-text h2c, ``insecure=True``), with gzip
compression and the API key as ``authorization: Bearer`` metadata; then the ledger is
verified independently (signature, entry bytes, inclusion and consistency proofs, see
tlverify.py) and the spans are compared with what the SDK exported.

The export goes through a loopback relay that records the HTTP/2 connection, so the
script also checks that the gRPC messages really were gzip-compressed (compressed flag 1
in every length-prefixed message) and that, gunzipped, they are
ExportTraceServiceRequests holding the exported spans.

Usage: otlp_grpc.py --endpoint http://127.0.0.1:HTTP_PORT --grpc 127.0.0.1:GRPC_PORT --api-key KEY
Last stdout line: ``INTEROP_RESULT {json}`` (spans, trace_id, tree_size, origin, messages).
"""

from __future__ import annotations

import argparse
import gzip
import secrets
import sys

from grpc import Compression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

import tlverify
from tlverify import check


def check_wire(relay: tlverify.Relay, sent: dict) -> int:
    messages = [m for raw in relay.sent() for m in tlverify.grpc_messages(raw)]
    check(messages, "the relay saw no gRPC message")
    spans_on_wire = 0
    for stream_id, compressed, payload in messages:
        check(compressed == 1, f"stream {stream_id}: gRPC message not compressed (flag {compressed}) although compression=Gzip")
        try:
            request = ExportTraceServiceRequest.FromString(gzip.decompress(payload))
        except (OSError, EOFError) as error:
            raise tlverify.VerificationError(f"stream {stream_id}: compressed message is not gzip: {error}") from None
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    check(span.trace_id.hex() == sent["trace_id"], f"trace id {span.trace_id.hex()} on the wire, trace {sent['trace_id']} created")
                    spans_on_wire += 1
    check(spans_on_wire == sent["spans"], f"{spans_on_wire} spans in the gRPC messages, {sent['spans']} created")
    return len(messages)


def check_wrong_key_refused(grpc_address: str) -> None:
    """The same exporter with a key the server does not know: the export must fail
    (UNAUTHENTICATED), so SUCCESS below means something."""
    exporter = tlverify.RecordingSpanExporter(
        OTLPSpanExporter(
            endpoint=f"http://{grpc_address}",
            insecure=True,
            headers=(("authorization", "Bearer tl_00000000_not-a-key"),),
            timeout=10,
            compression=Compression.Gzip,
            channel_options=(("grpc.enable_http_proxy", 0),),
        )
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    print("exporting one span with an unknown key (the exporter logs the expected UNAUTHENTICATED error)", file=sys.stderr)
    with provider.get_tracer("traceledger.interop").start_as_current_span("refused"):
        pass
    provider.shutdown()
    check(exporter.results != [], "the exporter with the unknown key was never called")
    check(
        all(result is SpanExportResult.FAILURE for _, result in exporter.results),
        f"the server accepted an export with an unknown key: {exporter.results}",
    )


def scenario(args: argparse.Namespace, client: tlverify.Client) -> dict:
    check_wrong_key_refused(args.grpc)
    print("an export with an unknown key: FAILURE, as it should")
    host, _, port = args.grpc.rpartition(":")
    relay = tlverify.Relay(host, int(port))
    try:
        exporter = OTLPSpanExporter(
            endpoint=f"http://127.0.0.1:{relay.port}",
            insecure=True,
            headers=(("authorization", f"Bearer {args.api_key}"),),
            timeout=30,
            compression=Compression.Gzip,
            channel_options=(("grpc.enable_http_proxy", 0),),
        )
        sent = tlverify.export_rag_trace(exporter, secrets.token_hex(8), "traceledger-interop-grpc")
        messages = check_wire(relay, sent)
    finally:
        relay.close()
    print(f"exported {sent['spans']} spans of trace {sent['trace_id']} with the OTLP/gRPC exporter in {messages} gzip-compressed message(s): SUCCESS")
    ledger = tlverify.verify_ledger(client)
    tlverify.print_ledger_summary(ledger)
    tlverify.check_rag_trace(ledger, sent)
    return {
        "spans": sent["spans"],
        "trace_id": sent["trace_id"],
        "tree_size": ledger["tree_size"],
        "origin": ledger["origin"],
        "messages": messages,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grpc", required=True, help="the server's OTLP/gRPC address, host:port")


if __name__ == "__main__":
    sys.exit(tlverify.run(__doc__, scenario, add_arguments))
