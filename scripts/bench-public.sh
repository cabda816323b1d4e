#!/usr/bin/env bash
# Cost of the unauthenticated endpoints (GET /v1/keys, GET /readyz) with many tenants.
#
#   scripts/bench-public.sh [BINARY] [TENANTS] [REQUESTS]
#
# Starts BINARY (default target/release/traceledger) on 127.0.0.1 with a fresh SQLite data
# directory, adds TENANTS tenants (default 20000) straight into the database, then sends
# REQUESTS (default 200) sequential requests to each endpoint and prints the response
# size, the median and p90 wall time per request and the server's CPU time per request
# (from /proc/PID/stat). Loopback only; everything is removed afterwards.
set -euo pipefail
binary="${1:-target/release/traceledger}"
tenants="${2:-20000}"
requests="${3:-200}"
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed (apt-get install sqlite3)" >&2; exit 1; }
work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
"$binary" serve --data-dir "$work/data" --listen "127.0.0.1:$port" --grpc-listen "127.0.0.1:$((port + 1))" \
  >"$work/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }
{
  echo "BEGIN;"
  for i in $(seq 1 "$tenants"); do
    echo "INSERT INTO tenants (name, origin, lookup_secret, created_at) VALUES ('t$i', 'traceledger.local/t$i', randomblob(32), '2026-12-01T00:00:00Z');"
  done
  echo "COMMIT;"
} | sqlite3 -cmd ".timeout 10000" "$work/data/traceledger.db"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks_per_second="$(getconf CLK_TCK)"
for path in /v1/keys /readyz; do
  size="$(curl -fsS "http://127.0.0.1:$port$path" | wc -c)"
  before="$(cpu_ticks)"
  for _ in $(seq 1 "$requests"); do
    curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$path"
  done | sort -n >"$work/times"
  after="$(cpu_ticks)"
  median="$(awk -v n="$requests" 'NR == int((n + 1) / 2) {printf "%.2f", $1 * 1000}' "$work/times")"
  p90="$(awk -v n="$requests" 'NR == int(n * 0.9) {printf "%.2f", $1 * 1000}' "$work/times")"
  cpu_ms="$(awk -v t="$((after - before))" -v hz="$ticks_per_second" -v n="$requests" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')"
  printf '%-10s tenants=%s bytes=%s median=%sms p90=%sms server_cpu_per_request=%sms\n' \
    "$path" "$tenants" "$size" "$median" "$p90" "$cpu_ms"
done
