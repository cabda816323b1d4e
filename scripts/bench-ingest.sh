#!/usr/bin/env bash
# Ingest throughput on SQLite and PostgreSQL (same bench, same run).
#   scripts/bench-ingest.sh           # short mode (30k spans per backend)
#   scripts/bench-ingest.sh full      # full mode (1M spans per backend; takes minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "full" ]; then export TL_BENCH_SPANS="${TL_BENCH_SPANS:-1000000}"; fi
exec cargo bench --bench ingest
