#!/usr/bin/env bash
# Creates (or reuses) a pinned Python virtual environment for the interop tests.
#
#   scripts/python-env.sh          -> the default venv (tests/api/interop.rs and the
#                                     OpenInference / OTel openai-v2 rows of
#                                     tests/api/sdk_matrix.rs): tests/interop/requirements.txt,
#                                     the OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC
#                                     exporters, the OTLP logs exporter, LangChain traced by
#                                     OpenInference, and the real `openai` client with
#                                     openinference-instrumentation-openai and
#                                     opentelemetry-instrumentation-openai-v2
#   scripts/python-env.sh NAME     -> a named venv from tests/interop/requirements-NAME.txt
#                                     (`langfuse`, `traceloop`: SDKs whose opentelemetry pins
#                                     conflict with the default set)
#
# Prints the venv's python path as the last stdout line.
#
# Venv location: the default one ${TRACELEDGER_VENV:-<repo>/target/interop-venv}; a named one
# <repo>/target/interop-venv-NAME. Interpreter used to create it:
# ${TRACELEDGER_BOOTSTRAP_PYTHON:-python3}. Idempotent: a stamp file in the venv holds the
# sha256 of its requirements file; when it matches (and the venv's python runs) nothing is
# done. When requirements change, the venv is rebuilt from scratch. Concurrent runs (tests
# run in parallel) serialize on a lock file next to the venv. After installing, the modules
# named on the requirements file's `# check-import: ...` lines (and, for the default venv,
# the interop scripts' own imports) must import. Any failure exits non-zero with a message
# on stderr; progress messages also go to stderr so stdout carries only the python path.
set -euo pipefail

fail() {
    echo "python-env.sh: ERROR: $*" >&2
    exit 1
}
trap 'echo "python-env.sh: ERROR: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${1:-}"
if [[ -z "$name" ]]; then
    requirements="$repo/tests/interop/requirements.txt"
    venv="${TRACELEDGER_VENV:-$repo/target/interop-venv}"
else
    [[ "$name" =~ ^[a-z0-9][a-z0-9_-]*$ ]] || fail "bad venv name '$name' (expected [a-z0-9_-]+)"
    requirements="$repo/tests/interop/requirements-$name.txt"
    venv="$repo/target/interop-venv-$name"
fi
bootstrap="${TRACELEDGER_BOOTSTRAP_PYTHON:-python3}"

[[ -f "$requirements" ]] || fail "requirements file not found: $requirements"
command -v sha256sum >/dev/null || fail "sha256sum not found (coreutils)"
command -v flock >/dev/null || fail "flock not found (util-linux)"

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
# What the scripts import; checked once after installing.
imports="$(sed -n 's/^# check-import: *\(.*\)$/import \1/p' "$requirements")"
if [[ -z "$name" ]]; then
    imports+='
import cryptography, grpc, requests, rfc8785
import opentelemetry.sdk.trace, opentelemetry.sdk._logs
import opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.exporter.otlp.proto.http._log_exporter
import opentelemetry.exporter.otlp.proto.grpc.trace_exporter, opentelemetry.exporter.otlp.json.http.trace_exporter
import langchain_core.language_models.fake_chat_models, openinference.instrumentation.langchain
import in_toto_attestation.v1.statement'
fi
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
