#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment of the interop test
# (tests/api/interop.rs runs the scripts of tests/interop/ with it: the OTLP/HTTP protobuf,
# OTLP/HTTP JSON and OTLP/gRPC exporters, the OTLP logs exporter, LangChain traced by
# OpenInference, and the in-toto Statement validator).
#
#   scripts/python-env.sh        -> prints the venv's python path as the last stdout line
#
# Venv location: ${TRACELEDGER_VENV:-<repo>/target/interop-venv}. Interpreter used to create
# it: ${TRACELEDGER_BOOTSTRAP_PYTHON:-python3}. Idempotent: a stamp file in the venv holds
# the sha256 of tests/interop/requirements.txt; when it matches (and the venv's python runs)
# nothing is done. When requirements change, the venv is rebuilt from scratch. Concurrent
# runs (tests run in parallel) serialize on a lock file next to the venv. Any failure exits
# non-zero with a message on stderr; progress messages also go to stderr so stdout carries
# only the python path.
set -euo pipefail

fail() {
    echo "python-env.sh: ERROR: $*" >&2
    exit 1
}
trap 'echo "python-env.sh: ERROR: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$repo/tests/interop/requirements.txt"
venv="${TRACELEDGER_VENV:-$repo/target/interop-venv}"
bootstrap="${TRACELEDGER_BOOTSTRAP_PYTHON:-python3}"

[[ -f "$requirements" ]] || fail "requirements file not found: $requirements"
command -v sha256sum >/dev/null || fail "sha256sum not found (coreutils)"
command -v flock >/dev/null || fail "flock not found (util-linux)"

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
# What the interop scripts import; checked once after installing.
imports='import cryptography, grpc, requests, rfc8785
import opentelemetry.sdk.trace, opentelemetry.sdk._logs
import opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.exporter.otlp.proto.http._log_exporter
import opentelemetry.exporter.otlp.proto.grpc.trace_exporter, opentelemetry.exporter.otlp.json.http.trace_exporter
import langchain_core.language_models.fake_chat_models, openinference.instrumentation.langchain
import in_toto_attestation.v1.statement'
python="$venv/bin/python"
stamp="$venv/.requirements.sha256"

is_ready() {
    [[ -x "$python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$python" -c 'import sys' 2>/dev/null
}

mkdir -p "$(dirname "$venv")" || fail "cannot create the parent directory of $venv"
exec 9>"$venv.lock" || fail "cannot open lock file $venv.lock"
flock 9 || fail "cannot lock $venv.lock"

if ! is_ready; then
    command -v "$bootstrap" >/dev/null || fail "'$bootstrap' not found: Python 3 is needed to create $venv"
    if [[ -e "$venv" ]]; then
        # Only ever delete something that is recognisably a venv.
        if [[ -f "$venv/pyvenv.cfg" ]]; then
            echo "python-env.sh: requirements changed or venv broken; rebuilding $venv" >&2
            rm -rf -- "$venv" || fail "cannot remove the stale venv $venv"
        elif [[ -d "$venv" && -z "$(ls -A "$venv")" ]]; then
            rmdir -- "$venv"
        else
            fail "$venv exists and is not a virtual environment; refusing to touch it (set TRACELEDGER_VENV elsewhere)"
        fi
    fi
    echo "python-env.sh: creating $venv with $("$bootstrap" --version 2>&1)" >&2
    "$bootstrap" -m venv "$venv" >&2 \
        || fail "'$bootstrap -m venv $venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
    echo "python-env.sh: installing $requirements" >&2
    "$python" -m pip install --disable-pip-version-check --no-input -q -r "$requirements" >&2 \
        || fail "pip install -r $requirements into $venv failed (see pip's output above)"
    "$python" -c "$imports" || fail "the venv at $venv was installed but its packages do not import"
    printf '%s\n' "$want" >"$stamp.tmp" && mv -f "$stamp.tmp" "$stamp" || fail "cannot write stamp $stamp"
    echo "python-env.sh: ready" >&2
fi

echo "$python"
