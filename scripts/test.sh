#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, and every test on SQLite AND
# PostgreSQL, including the interop tests with the real OpenTelemetry Python SDK and the
# real-SDK matrix (Langfuse, OpenLLMetry, OpenInference, OTel openai-v2 on the real openai
# client against a local OpenAI stub; tests/api/sdk_matrix.rs).
#
#   scripts/test.sh
#
# PostgreSQL: TRACELEDGER_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test).
# If it is not reachable this script starts the local cluster (Debian's pg_ctlcluster,
# installing the postgresql package if needed) or FAILS — the PostgreSQL half of the
# suite is never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

export TRACELEDGER_TEST_PG_URL="${TRACELEDGER_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFATAL: %s\n' "$*" >&2; exit 1; }

pg_ready() { psql "$TRACELEDGER_TEST_PG_URL" -Atqc 'select 1' >/dev/null 2>&1; }

step "PostgreSQL at ${TRACELEDGER_TEST_PG_URL%%\?*}"
if ! command -v psql >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "psql is missing and apt-get is unavailable: install PostgreSQL"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-client >/dev/null || die "could not install PostgreSQL"
fi
if ! pg_ready; then
  echo "not reachable; starting the local cluster"
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "no PostgreSQL cluster and apt-get is unavailable"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null || die "could not install PostgreSQL"
  fi
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_ready && break; sleep 0.5; done
  pg_ready || die "PostgreSQL is still unreachable at $TRACELEDGER_TEST_PG_URL; the suite must run on both backends"
fi
# Leftovers of earlier (interrupted) runs.
psql "$TRACELEDGER_TEST_PG_URL" -Atqc "select datname from pg_database where datname like 'tl_test_%'" \
  | while read -r name; do [ -n "$name" ] && psql "$TRACELEDGER_TEST_PG_URL" -qc "drop database if exists \"$name\"" >/dev/null; done
echo "ok"

step "Python environments for the interop tests and the SDK matrix (pinned, cached in target/)"
TRACELEDGER_PYTHON="$(scripts/python-env.sh | tail -n 1)"
export TRACELEDGER_PYTHON
echo "$TRACELEDGER_PYTHON"
# Langfuse and OpenLLMetry pin opentelemetry versions that conflict with the default venv:
# each gets its own (tests/interop/requirements-NAME.txt, tests/api/sdk_matrix.rs).
TRACELEDGER_PYTHON_LANGFUSE="$(scripts/python-env.sh langfuse | tail -n 1)"
TRACELEDGER_PYTHON_TRACELOOP="$(scripts/python-env.sh traceloop | tail -n 1)"
export TRACELEDGER_PYTHON_LANGFUSE TRACELEDGER_PYTHON_TRACELOOP
echo "$TRACELEDGER_PYTHON_LANGFUSE"
echo "$TRACELEDGER_PYTHON_TRACELOOP"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

step "cargo doc (intra-doc links)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

step "cargo check --lib --no-default-features (the pure core builds without the server)"
cargo check --lib --no-default-features --quiet
if cargo tree --no-default-features --edges normal --prefix none | grep -Eq '^(sqlx|tokio|axum|tonic|hyper)[ -]'; then
  die "the library without the server feature depends on sqlx, tokio, axum, tonic or hyper"
fi

step "cargo test (SQLite and PostgreSQL)"
cargo test --all-targets --quiet
cargo test --doc --quiet

step "all tests passed"
