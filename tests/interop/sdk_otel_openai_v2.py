#!/usr/bin/env python3
"""SDK matrix, OpenTelemetry row: ``opentelemetry-instrumentation-openai-v2`` (the
OpenTelemetry project's own OpenAI instrumentation), unmodified, on the real ``openai``
client, exporting with the standard OTLP/HTTP protobuf exporters configured by the standard
environment variables only (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``).

Content capture: the latest GenAI conventions (``OTEL_SEMCONV_STABILITY_OPT_IN=
gen_ai_latest_experimental``) in ``span_and_event`` mode
(``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=span_and_event``, read by
``opentelemetry-util-genai``): messages on the span as ``gen_ai.input.messages`` /
``gen_ai.output.messages`` and as ``gen_ai.client.inference.operation.details`` log events,
which go to ``/v1/logs``.

Makes one plain and one streamed chat completion against the local OpenAI stub, flushes,
and prints ``SDK_RESULT {json}``.

Usage: sdk_otel_openai_v2.py --endpoint http://127.0.0.1:PORT --api-key KEY
"""

from __future__ import annotations

import os
import sys
import urllib.parse

import sdk_common

providers = []


def make_client(args, base_url: str):
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_and_event"
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = args.endpoint
    os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    os.environ["OTEL_EXPORTER_OTLP_HEADERS"] = "Authorization=" + urllib.parse.quote(f"Bearer {args.api_key}")
    os.environ["OTEL_SERVICE_NAME"] = "sdk-matrix-otel-openai-v2"

    from openai import OpenAI
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource = Resource.create()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    providers.extend([tracer_provider, logger_provider])
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    return OpenAI(base_url=base_url, api_key="sk-stub-not-a-real-key", max_retries=0)


def flush() -> None:
    for provider in providers:
        provider.force_flush()
        provider.shutdown()


if __name__ == "__main__":
    sys.exit(sdk_common.run(__doc__, make_client, flush))
