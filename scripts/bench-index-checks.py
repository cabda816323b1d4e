#!/usr/bin/env python3
"""Cost of checking index rows against their entries (security note, findings 6-7).

Starts `traceledger serve` (SQLite, fresh data directory), registers a pipeline version,
a proof bundle and a deployment, ingests TRACES copies of the a_rag_semconv fixture
(6 spans each, fresh ids, a distinct answer per trace) in requests of 10 traces, then
times, as medians over repeated requests:

  ingest      one request of 10 traces (60 spans) with governance records present
  spans100    GET /v1/spans?limit=100
  spans1000   GET /v1/spans?limit=1000
  search      POST /v1/provenance/search {"output": ...}
  audit       traceledger audit of the whole store (server stopped), one run

Run it against two builds to compare, e.g.

  scripts/bench-index-checks.py --bin target/release/traceledger --traces 2000

Only the Python standard library is used. Prints one JSON object.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "shared", "fixtures", "a_rag_semconv", "2.json")
ANSWER_END = "2026-02-01."


def request(method, url, key=None, body=None, content_type="application/json"):
    data = None
    headers = {}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=300) as response:
        return response.status, response.read()


def timed(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def copies(template, first, count, rng):
    """`count` copies of the fixture trace with fresh ids and a distinct answer each."""
    text = json.dumps(template)
    resource_spans = []
    for number in range(first, first + count):
        trace_id = "%032x" % rng.getrandbits(128)
        copy = text.replace(template_trace_id(template), trace_id)
        for span_id in template_span_ids(template):
            copy = copy.replace(span_id, "%016x" % rng.getrandbits(64))
        copy = copy.replace(ANSWER_END, f"{ANSWER_END} #{number}")
        resource_spans.extend(json.loads(copy)["resourceSpans"])
    return {"resourceSpans": resource_spans}


def template_trace_id(template):
    return template["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]


def template_span_ids(template):
    return [span["spanId"] for span in template["resourceSpans"][0]["scopeSpans"][0]["spans"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the traceledger binary")
    parser.add_argument("--traces", type=int, default=2000)
    parser.add_argument("--port", type=int, default=14518)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(FIXTURE) as handle:
        template = json.load(handle)
    data_dir = tempfile.mkdtemp(prefix="tl-bench-index-")
    url = f"http://127.0.0.1:{args.port}"
    env = dict(os.environ, TRACELEDGER_LOG="warn")
    server = subprocess.Popen(
        [args.bin, "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{args.port}",
         "--grpc-listen", f"127.0.0.1:{args.port + 1}"],
        stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        for line in server.stderr:
            if line.startswith("traceledger listening on"):
                break
        key = subprocess.run(
            [args.bin, "keys", "create", "--data-dir", data_dir, "--tenant", "default", "--scope", "admin"],
            capture_output=True, text=True, check=True, env=env,
        ).stdout.strip()
        _, created = request("POST", f"{url}/v1/pipeline-versions", key,
                             {"name": "support-rag-api", "version": "1.4.0", "models": ["gpt-4o-mini"]})
        version_id = json.loads(created)["id"]
        request("POST", f"{url}/v1/proof-bundles", key, {
            "pipeline_version_id": version_id,
            "test_runs": [{"name": "rag-regression", "passed": 120, "failed": 0}],
            "approvals": [{"approver": "maria.lopez", "approved_at": "2026-01-01T12:00:00Z"}],
        })
        request("POST", f"{url}/v1/deployments", key,
                {"pipeline_version_id": version_id, "environment": "staging", "from": "2020-01-01T00:00:00Z"})

        ingest_times = []
        for first in range(0, args.traces, 10):
            body = json.dumps(copies(template, first, min(10, args.traces - first), rng)).encode()
            start = time.perf_counter()
            status, _ = request("POST", f"{url}/v1/traces", key, body)
            ingest_times.append((time.perf_counter() - start) * 1000)
            assert status == 200, status
        results = {
            "traces": args.traces,
            "entries": args.traces * 6 + 3,
            "ingest_ms_per_request_of_60_spans": round(statistics.median(ingest_times), 2),
            "spans100_ms": timed(lambda: request("GET", f"{url}/v1/spans?limit=100", key), 30),
            "spans1000_ms": timed(lambda: request("GET", f"{url}/v1/spans?limit=1000", key), 10),
        }
        fixture_answer = template_answer(template)
        answer = fixture_answer.replace(ANSWER_END, f"{ANSWER_END} #{args.traces // 2}")

        def search():
            _, found = request("POST", f"{url}/v1/provenance/search", key, {"output": answer})
            assert len(json.loads(found)["results"]) == 1

        results["search_ms"] = timed(search, 30)
    finally:
        server.terminate()
        server.wait()
    start = time.perf_counter()
    audit = subprocess.run([args.bin, "audit", "--data-dir", data_dir], capture_output=True, text=True, env=env)
    results["audit_s"] = round(time.perf_counter() - start, 2)
    results["audit_exit"] = audit.returncode
    results["audit_summary"] = audit.stdout.strip().splitlines()[-2:]
    print(json.dumps(results, indent=1))


def template_answer(template):
    for span in template["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        if span.get("parentSpanId"):
            continue
        for attribute in span["attributes"]:
            if attribute["key"] == "gen_ai.output.messages":
                messages = json.loads(attribute["value"]["stringValue"])
                return "".join(part.get("content", "") for part in messages[0]["parts"])
    raise SystemExit("no answer in the fixture")


if __name__ == "__main__":
    main()
