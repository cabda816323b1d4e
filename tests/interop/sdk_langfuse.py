#!/usr/bin/env python3
"""SDK matrix, Langfuse row: the Langfuse Python SDK's OpenAI integration
(``from langfuse.openai import OpenAI``), unmodified, pointed at traceledger by base URL and
key only. The SDK posts gzip OTLP/protobuf to ``<base>/api/public/otel/v1/traces`` with
Basic auth ``base64(public_key:secret_key)``; traceledger takes the secret key as its API
key and the public key as the tenant name (or key id).

Makes one plain and one streamed chat completion against the local OpenAI stub, flushes,
and prints ``SDK_RESULT {json}``. ``auth_check()`` is not called: it would need
``GET /api/public/projects``, which traceledger does not serve yet.

Usage: sdk_langfuse.py --endpoint http://127.0.0.1:PORT --api-key KEY
"""

from __future__ import annotations

import os
import sys

import sdk_common


def make_client(args, base_url: str):
    os.environ["LANGFUSE_BASE_URL"] = args.endpoint
    os.environ["LANGFUSE_PUBLIC_KEY"] = "default"
    os.environ["LANGFUSE_SECRET_KEY"] = args.api_key
    os.environ["LANGFUSE_TRACING_ENVIRONMENT"] = "sdk-matrix"
    # Imported only now: the SDK reads its environment when its client is first built.
    from langfuse.openai import OpenAI

    return OpenAI(base_url=base_url, api_key="sk-stub-not-a-real-key", max_retries=0)


def flush() -> None:
    from langfuse import get_client

    client = get_client()
    client.flush()
    client.shutdown()


if __name__ == "__main__":
    sys.exit(sdk_common.run(__doc__, make_client, flush))
