#!/usr/bin/env python3
"""Interop test of the OTLP **logs** path: inside a span, the OpenTelemetry Python SDK's
LoggerProvider emits one GenAI event log record (``gen_ai.client.inference.operation.details``)
carrying the span's trace context and a ``gen_ai.output.messages`` attribute (a JSON
string); the span goes to ``/v1/traces`` and the record to ``/v1/logs``, both with the
OTLP/HTTP protobuf exporters. Then the ledger is verified independently (signature, entry
bytes, inclusion and consistency proofs, see tlverify.py) and:

* the span is committed as a ``span`` entry, exactly as exported;
* the record is committed as one ``log`` entry linked to that span (``trace_id`` and
  ``span_id``), with its event name, times and severity as sent, and
  ``gen_ai.output.messages`` as a commitment of the JSON string's length;
* neither the question nor the answer appears in clear in any entry.

Usage: otlp_logs.py --endpoint http://127.0.0.1:PORT --api-key KEY
Last stdout line: ``INTEROP_RESULT {json}`` (spans, logs, trace_id, tree_size, origin).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

import tlverify
from tlverify import check

EVENT_NAME = "gen_ai.client.inference.operation.details"


def export(endpoint: str, api_key: str, nonce: str) -> dict:
    headers = {"Authorization": f"Bearer {api_key}"}
    question = f"logs-question-{nonce}: which warranty applies to the X100 pump?"
    answer = f"logs-answer-{nonce}: The 24 month warranty applies."
    output_messages = json.dumps(
        [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
    )
    input_messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": question}]}])
    resource = Resource.create({"service.name": "traceledger-interop-logs"})

    tracer_provider = TracerProvider(resource=resource)
    span_exporter = tlverify.RecordingSpanExporter(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers=headers, timeout=30))
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter, schedule_delay_millis=60_000))
    logger_provider = LoggerProvider(resource=resource)
    log_exporter = tlverify.RecordingLogExporter(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", headers=headers, timeout=30))
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter, schedule_delay_millis=60_000))

    tracer = tracer_provider.get_tracer("traceledger.interop.logs", "1.0.0")
    logger = logger_provider.get_logger("traceledger.interop.logs", "1.0.0")
    with tracer.start_as_current_span(
        "chat gpt-4o-mini",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 21,
            "gen_ai.usage.output_tokens": 9,
        },
    ) as span:
        # The log record takes the current span's context (trace id, span id, flags).
        logger.emit(
            event_name=EVENT_NAME,
            severity_number=SeverityNumber.INFO,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.input.messages": input_messages,
                "gen_ai.output.messages": output_messages,
            },
        )
        context = span.get_span_context()

    # Spans first, then the log record that points at them.
    check(tracer_provider.force_flush(timeout_millis=60_000), "TracerProvider.force_flush() returned False")
    check(logger_provider.force_flush(timeout_millis=60_000), "LoggerProvider.force_flush() returned False")
    tracer_provider.shutdown()
    logger_provider.shutdown()
    span_exporter.check_success(created=1)
    log_exporter.check_success(created=1)
    return {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "span": span_exporter.spans[0],
        "log": log_exporter.records[0],
        "output_messages": output_messages,
        "exports": len(span_exporter.results) + len(log_exporter.results),
        "secrets": [nonce, question, answer],
    }


def scenario(args: argparse.Namespace, client: tlverify.Client) -> dict:
    sent = export(args.endpoint, args.api_key, secrets.token_hex(8))
    print(f"exported 1 span and 1 log record ({EVENT_NAME}) of trace {sent['trace_id']} over OTLP/HTTP in {sent['exports']} request(s): SUCCESS")
    ledger = tlverify.verify_ledger(client)
    tlverify.print_ledger_summary(ledger)

    spans = tlverify.entries_of_trace(ledger, sent["trace_id"], "span")
    logs = tlverify.entries_of_trace(ledger, sent["trace_id"], "log")
    check(len(spans) == 1, f"{len(spans)} span entries of trace {sent['trace_id']}, want 1")
    check(len(logs) == 1, f"{len(logs)} log entries of trace {sent['trace_id']}, want 1: {[r['entry']['type'] for r in tlverify.entries_of_trace(ledger, sent['trace_id'])]}")
    tlverify.check_span_entry(spans[0], sent["span"])

    log, body = logs[0], logs[0]["entry"]["body"]
    where = f"log entry {log['index']}"
    record = sent["log"].log_record
    check(body.get("trace_id") == sent["trace_id"] and body.get("span_id") == sent["span_id"], f"{where}: linked to {body.get('trace_id')}/{body.get('span_id')}, want {sent['trace_id']}/{sent['span_id']}")
    check(body.get("event_name") == EVENT_NAME, f"{where}: event_name {body.get('event_name')!r}")
    check(body.get("severity_number") == record.severity_number.value, f"{where}: severity_number {body.get('severity_number')!r}, sent {record.severity_number}")
    check(body.get("observed_time_unix_nano") == str(record.observed_timestamp), f"{where}: observed_time_unix_nano {body.get('observed_time_unix_nano')!r}, sent {record.observed_timestamp}")
    check(body.get("time_unix_nano") == str(record.timestamp or 0), f"{where}: time_unix_nano {body.get('time_unix_nano')!r}, sent {record.timestamp}")
    check(body.get("flags", 0) == int(record.trace_flags or 0), f"{where}: flags {body.get('flags')!r}, sent trace flags {record.trace_flags!r}")
    check("body" not in body, f"{where}: a body although the record had none: {body.get('body')!r}")
    commitments = tlverify.check_attributes(where, body.get("attributes"), record.attributes)
    output = body["attributes"]["gen_ai.output.messages"]
    check(
        tlverify.is_commitment(output) and output["len"] == len(sent["output_messages"].encode()),
        f"{where}: gen_ai.output.messages is {output!r}, want a commitment of {len(sent['output_messages'].encode())} bytes",
    )
    tlverify.check_resource_and_scope(where, body, sent["log"].resource, sent["log"].instrumentation_scope)
    check(body.get("genai", {}).get("request_model") == "gpt-4o-mini", f"{where}: genai {body.get('genai')!r}")
    tlverify.check_no_clear_text(ledger, sent["secrets"])
    print(f"span entry {spans[0]['index']} and log entry {log['index']} (linked to span {sent['span_id']}): as sent, no content in the clear ({commitments} commitments in the log)")
    return {
        "spans": 1,
        "logs": 1,
        "trace_id": sent["trace_id"],
        "tree_size": ledger["tree_size"],
        "origin": ledger["origin"],
        "log_index": log["index"],
    }


if __name__ == "__main__":
    sys.exit(tlverify.run(__doc__, scenario))
