#!/usr/bin/env bash
# Runs the multi-replica tests many times (CI runs them once per backend).
#   scripts/replica-soak.sh [RUNS]     # default 50
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-50}"
cargo test -q --test api --no-run
for run in $(seq 1 "$runs"); do
  cargo test -q --test api replicas >/dev/null 2>&1 || { echo "run $run FAILED"; cargo test --test api replicas; exit 1; }
  echo "run $run ok"
done
echo "all $runs runs passed"
