#!/usr/bin/env python3
"""SDK matrix, OpenInference row: ``openinference-instrumentation-openai``, unmodified, on
the real ``openai`` client, exporting with the standard OTLP/HTTP protobuf span exporter
configured by the standard environment variables only (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``). OpenInference records content by default
(``llm.input_messages.*``, ``llm.output_messages.*``, ``input.value``, ``output.value``).

Makes one plain and one streamed chat completion against the local OpenAI stub, flushes,
and prints ``SDK_RESULT {json}``.

Usage: sdk_openinference_openai.py --endpoint http://127.0.0.1:PORT --api-key KEY
"""

from __future__ import annotations

import os
import sys
import urllib.parse

import sdk_common

providers = []


def make_client(args, base_url: str):
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = args.endpoint
    os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    os.environ["OTEL_EXPORTER_OTLP_HEADERS"] = "Authorization=" + urllib.parse.quote(f"Bearer {args.api_key}")
    os.environ["OTEL_SERVICE_NAME"] = "sdk-matrix-openinference-openai"

    from openai import OpenAI
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    tracer_provider = TracerProvider(resource=Resource.create())
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    providers.append(tracer_provider)
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    return OpenAI(base_url=base_url, api_key="sk-stub-not-a-real-key", max_retries=0)


def flush() -> None:
    for provider in providers:
        provider.force_flush()
        provider.shutdown()


if __name__ == "__main__":
    sys.exit(sdk_common.run(__doc__, make_client, flush))
