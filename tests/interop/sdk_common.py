"""What every script of the SDK matrix (tests/api/sdk_matrix.rs) shares: the command line,
the local OpenAI stub, the two chat calls made with the real ``openai`` client, and the
``SDK_RESULT {json}`` line the Rust test reads. Python stdlib only (besides ``openai``), so
it runs in every venv of the matrix.

Each ``sdk_<library>.py`` sets its library up pointed at traceledger by endpoint and key
only, then calls ``run(doc, make_client, flush)``: ``make_client(base_url)`` returns the
(instrumented) OpenAI client, ``flush()`` makes the library export everything it holds.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from typing import Callable

import openai_stub


def parse_args(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True, help="traceledger base URL, e.g. http://127.0.0.1:4318")
    parser.add_argument("--api-key", required=True, help="a traceledger API key with scope ingest")
    return parser.parse_args()


def chat_calls(client) -> list[dict]:
    """One plain and one streamed chat completion; checks the SDK handed the stub's answers
    back to the application unchanged."""
    calls = []
    plain = client.chat.completions.create(
        model=openai_stub.REQUEST_MODEL,
        messages=[
            {"role": "system", "content": openai_stub.SYSTEM},
            {"role": "user", "content": openai_stub.PLAIN_PROMPT},
        ],
        temperature=0.2,
        max_tokens=64,
    )
    plain_text = plain.choices[0].message.content
    if plain_text != openai_stub.PLAIN_ANSWER:
        raise AssertionError(f"plain call returned {plain_text!r}, not the stub's answer")
    if plain.usage is None or plain.usage.total_tokens != openai_stub.USAGE["total_tokens"]:
        raise AssertionError(f"plain call usage {plain.usage!r}")
    calls.append({"mode": "plain", "prompt": openai_stub.PLAIN_PROMPT, "answer": plain_text, "chunks": 1})

    stream = client.chat.completions.create(
        model=openai_stub.REQUEST_MODEL,
        messages=[
            {"role": "system", "content": openai_stub.SYSTEM},
            {"role": "user", "content": openai_stub.STREAM_PROMPT},
        ],
        temperature=0.2,
        max_tokens=64,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces = []
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta is not None and choice.delta.content:
                pieces.append(choice.delta.content)
    streamed_text = "".join(pieces)
    if streamed_text != openai_stub.STREAM_ANSWER:
        raise AssertionError(f"streamed call returned {streamed_text!r}, not the stub's answer")
    if usage is None or usage.total_tokens != openai_stub.USAGE["total_tokens"]:
        raise AssertionError(f"streamed call usage {usage!r}")
    if len(pieces) < 5:
        raise AssertionError(f"the answer came in {len(pieces)} chunks; the test needs many")
    calls.append({"mode": "stream", "prompt": openai_stub.STREAM_PROMPT, "answer": streamed_text, "chunks": len(pieces)})
    return calls


def run(doc: str, make_client: Callable[[argparse.Namespace, str], object], flush: Callable[[], None]) -> int:
    """Starts the stub, makes the two calls, flushes, prints ``SDK_RESULT``. Exit code 0
    only if every step worked."""
    args = parse_args(doc)
    stub = openai_stub.OpenAIStub()
    try:
        client = make_client(args, stub.base_url)
        calls = chat_calls(client)
        flush()
        if len(stub.requests) != 2:
            raise AssertionError(f"the stub saw {len(stub.requests)} requests, expected 2")
        result = {
            "calls": calls,
            "request_model": openai_stub.REQUEST_MODEL,
            "response_model": openai_stub.RESPONSE_MODEL,
            "system": openai_stub.SYSTEM,
            "usage": openai_stub.USAGE,
        }
        print("SDK_RESULT " + json.dumps(result), flush=True)
        return 0
    except Exception:  # noqa: BLE001 - report any failure with its traceback
        traceback.print_exc()
        print("FAILED", file=sys.stderr)
        return 1
    finally:
        stub.close()
