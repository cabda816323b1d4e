#!/usr/bin/env bash
# The ingest memory attacks of issue 9 (findings 2 and 3) against a real server on
# 127.0.0.1: peak RSS (VmHWM) of the server and the slowest /healthz answer per scenario.
# Every scenario starts a fresh `traceledger serve` on a temporary data directory and
# sends a bounded number of requests to loopback only.
#   scripts/attack-ingest.sh                      # every scenario, this checkout's server
#   scripts/attack-ingest.sh grpc-bomb-x4         # one scenario
#   TL_ATTACK_BIN=/path/to/traceledger scripts/attack-ingest.sh   # another build's server
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin traceledger --example attack_ingest
exec target/release/examples/attack_ingest --bin "${TL_ATTACK_BIN:-target/release/traceledger}" "$@"
