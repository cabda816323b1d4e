"""A local OpenAI-compatible chat completions server for the SDK matrix (Python stdlib only).

``OpenAIStub()`` binds 127.0.0.1 on a free port and serves, in a daemon thread,
``POST /v1/chat/completions``:

* plain: one ``chat.completion`` object;
* ``"stream": true``: server-sent events, one ``chat.completion.chunk`` per word of the
  answer (so instrumentation has to join many chunks), a last chunk with
  ``finish_reason: "stop"``, then — when ``stream_options.include_usage`` is set — a chunk
  with ``"choices": []`` and the ``usage``, then ``data: [DONE]``.

The answer is picked by the last user message (``ANSWERS``); token counts are fixed
(``USAGE``) so the test can check them exactly. Every request body is kept in
``requests`` for the script's own checks. Nothing here talks to anything but loopback.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: The model the scripts ask for, and the model the stub says answered.
REQUEST_MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
SYSTEM = "You are the matrix test assistant. Answer in one sentence."
PLAIN_PROMPT = "Which two rivers meet at Lyon, asked plainly?"
PLAIN_ANSWER = "The Rhone and the Saone meet at the Confluence district of Lyon."
STREAM_PROMPT = "Name the three additive primary colours, streamed word by word."
STREAM_ANSWER = "The three additive primary colours of light are red, green and blue."
ANSWERS = {PLAIN_PROMPT: PLAIN_ANSWER, STREAM_PROMPT: STREAM_ANSWER}
#: Fixed token counts of every answer (the test compares them with the ledger's).
USAGE = {"prompt_tokens": 31, "completion_tokens": 14, "total_tokens": 45}


def answer_chunks(answer: str) -> list[str]:
    """The answer split into word chunks (each but the first with its leading space)."""
    words = answer.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


class _Handler(BaseHTTPRequestHandler):
    server_version = "openai-stub/1"

    def log_message(self, format, *args):  # noqa: A002 - keep the test output quiet
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - http.server's naming
        if self.path.split("?")[0] != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        self.server.stub.requests.append(request)
        user_messages = [m for m in request.get("messages", []) if m.get("role") == "user"]
        prompt = user_messages[-1].get("content") if user_messages else None
        answer = ANSWERS.get(prompt if isinstance(prompt, str) else "")
        if answer is None:
            self._json(400, {"error": {"message": f"unknown prompt {prompt!r}", "type": "invalid_request_error"}})
            return
        self.server.stub.counter += 1
        completion_id = f"chatcmpl-stub{self.server.stub.counter:04d}"
        created = int(time.time())
        if request.get("stream"):
            self._stream(request, completion_id, created, answer)
            return
        self._json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": RESPONSE_MODEL,
                "system_fingerprint": "fp_stub",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": dict(USAGE),
            },
        )

    def _stream(self, request: dict, completion_id: str, created: int, answer: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

        def chunk(choices: list, usage=None) -> None:
            body = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": RESPONSE_MODEL,
                "system_fingerprint": "fp_stub",
                "choices": choices,
            }
            if usage is not None:
                body["usage"] = usage
            self.wfile.write(b"data: " + json.dumps(body).encode() + b"\n\n")
            self.wfile.flush()

        chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}])
        for piece in answer_chunks(answer):
            chunk([{"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}])
        chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}])
        if (request.get("stream_options") or {}).get("include_usage"):
            chunk([], usage=dict(USAGE))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


class OpenAIStub:
    """The stub server, serving from a daemon thread until ``close()``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.counter = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
