#!/usr/bin/env bash
# Idle-socket attack on a local traceledger (finding 4 of issue 9): starts `traceledger serve`
# under a small open-file limit, opens SOCKETS idle TCP connections to it that send nothing,
# then measures whether /healthz answers, how fast, and how many fds the server holds.
# Loopback only, bounded in count and time; cleans up after itself.
#
#   scripts/attack-idle.sh [BIN]       # default target/debug/traceledger
#   SOCKETS=150 NOFILE=128:128 TARGET=http|grpc WAIT_AFTER=12 scripts/attack-idle.sh
#
# NOFILE is soft:hard for prlimit; the server raises its soft limit to the hard one at
# start, so 128:128 keeps it at 128. TARGET picks the port the idle sockets go to
# (/healthz is always asked on the HTTP port). WAIT_AFTER seconds later the fds are
# counted again (idle connections closed by the header-read timeout).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/debug/traceledger}"
sockets="${SOCKETS:-150}"
nofile="${NOFILE:-128:128}"
target="${TARGET:-http}"
wait_after="${WAIT_AFTER:-12}"
[ "$sockets" -le 1000 ] || { echo "SOCKETS is capped at 1000" >&2; exit 2; }
[ -x "$bin" ] || { echo "no executable $bin (cargo build first)" >&2; exit 2; }

work="$(mktemp -d)"
server_pid=""
held=()
cleanup() {
  for fd in "${held[@]}"; do exec {fd}>&- 2>/dev/null || true; done
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

prlimit --nofile="$nofile" "$bin" serve --data-dir "$work/data" \
  --listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 2>"$work/server.log" &
server_pid=$!
http_addr="" grpc_addr=""
for _ in $(seq 1 300); do
  line="$(grep -m1 'traceledger listening on http://' "$work/server.log" || true)"
  if [ -n "$line" ]; then
    http_addr="$(sed -E 's#.*listening on http://([0-9.]+:[0-9]+).*#\1#' <<<"$line")"
    grpc_addr="$(sed -E 's#.*OTLP/gRPC on ([0-9.]+:[0-9]+).*#\1#' <<<"$line")"
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$http_addr" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
case "$target" in
  http) attack_addr="$http_addr" ;;
  grpc) attack_addr="$grpc_addr" ;;
  *) echo "TARGET must be http or grpc" >&2; exit 2 ;;
esac

fds() { ls "/proc/$server_pid/fd" 2>/dev/null | wc -l; }
healthz() {
  curl -s -o /dev/null --max-time 20 -w '%{http_code} %{time_total}s' "http://$http_addr/healthz" || true
}

echo "binary: $bin   nofile: $nofile   idle sockets: $sockets -> $target ($attack_addr)"
grep -E 'open-file|connections per listener|lowered' "$work/server.log" \
  | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^/server log: /' || true
echo "server $(grep 'Max open files' "/proc/$server_pid/limits" | tr -s ' ')"
echo "server fds before: $(fds)"
echo "/healthz before: $(healthz)"

host="${attack_addr%:*}" port="${attack_addr##*:}"
opened=0
for _ in $(seq 1 "$sockets"); do
  if exec {fd}<>"/dev/tcp/$host/$port" 2>/dev/null; then
    held+=("$fd"); opened=$((opened + 1))
  fi
done
sleep 1 # let the server accept what it will
echo "idle sockets opened: $opened"
echo "server fds during attack: $(fds)"
echo "/healthz during attack (http_code time; 000 = no answer within 20 s): $(healthz)"
echo "server fds after /healthz: $(fds)"
if [ "$wait_after" -gt 0 ]; then
  sleep "$wait_after"
  echo "server fds ${wait_after}s later: $(fds)"
  echo "/healthz ${wait_after}s later: $(healthz)"
fi
