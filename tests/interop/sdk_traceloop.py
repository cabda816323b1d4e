#!/usr/bin/env python3
"""SDK matrix, OpenLLMetry row: ``traceloop-sdk`` (with its
``opentelemetry-instrumentation-openai``), unmodified, on the real ``openai`` client,
pointed at traceledger by ``TRACELOOP_BASE_URL`` and ``TRACELOOP_API_KEY`` only (the SDK
posts OTLP/HTTP protobuf to ``<base>/v1/traces`` with ``Authorization: Bearer <key>``).

Quirks handled here: metrics are switched off (``TRACELOOP_METRICS_ENABLED=false``) because
the SDK would export them to ``<base>/v1/metrics``, which traceledger does not serve yet;
the SDK's own usage telemetry is off (``TRACELOOP_TELEMETRY=false``); ``disable_batch=True``
exports each span as it ends; only the OpenAI instrumentation is loaded.

Makes one plain and one streamed chat completion against the local OpenAI stub, flushes,
and prints ``SDK_RESULT {json}``.

Usage: sdk_traceloop.py --endpoint http://127.0.0.1:PORT --api-key KEY
"""

from __future__ import annotations

import os
import sys

import sdk_common


def make_client(args, base_url: str):
    os.environ["TRACELOOP_BASE_URL"] = args.endpoint
    os.environ["TRACELOOP_API_KEY"] = args.api_key
    os.environ["TRACELOOP_METRICS_ENABLED"] = "false"
    os.environ["TRACELOOP_TELEMETRY"] = "false"
    os.environ["TRACELOOP_TRACE_CONTENT"] = "true"

    from openai import OpenAI
    from traceloop.sdk import Traceloop
    from traceloop.sdk.instruments import Instruments

    Traceloop.init(
        app_name="sdk-matrix-traceloop",
        disable_batch=True,
        telemetry_enabled=False,
        instruments={Instruments.OPENAI},
    )
    return OpenAI(base_url=base_url, api_key="sk-stub-not-a-real-key", max_retries=0)


def flush() -> None:
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    provider.force_flush()
    provider.shutdown()


if __name__ == "__main__":
    sys.exit(sdk_common.run(__doc__, make_client, flush))
