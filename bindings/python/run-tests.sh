#!/usr/bin/env bash
# Build and test the Python binding exactly as a user installs it.
#
#   bash bindings/python/run-tests.sh        (from anywhere; usually the repository root)
#
# Environment: VENV (default /tmp/sealwire-venv-py) is recreated on every run;
# CARGO_BUILD_TARGET (default x86_64-unknown-linux-gnu) is shared with every other cargo
# build of the workspace so maturin reuses target/<triple>/release; PYTHON picks the
# interpreter that creates the venv (default python3, must be >= 3.10).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-/tmp/sealwire-venv-py}"
PYTHON="${PYTHON:-python3}"
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '==> %s\n' "$*"; }

step "fresh venv at $VENV"
"$PYTHON" -m venv --clear "$VENV"
PY="$VENV/bin/python"

# noiseprotocol: an independent pure-Python Noise implementation for the live interop tests;
# opentelemetry-sdk: the real SDK (in-memory exporter) behind tests/test_hygiene.py.
step "pip install maturin pytest mypy cryptography noiseprotocol opentelemetry-sdk"
"$PY" -m pip install -q maturin pytest mypy cryptography noiseprotocol opentelemetry-sdk

step "pip install ./bindings/python (maturin, release, $CARGO_BUILD_TARGET)"
cd "$ROOT"
if ! "$PY" -m pip install -q ./bindings/python >"$VENV/pip-install.log" 2>&1; then
    cat "$VENV/pip-install.log"
    echo "pip install ./bindings/python failed" >&2
    exit 1
fi

# Everything below runs against the installed wheel, never the source tree.
cd "$HERE"

step "pytest"
SEALWIRE_REQUIRE_NOISEPROTOCOL=1 "$PY" -m pytest -q tests

step "mypy.stubtest sealwire._native"
"$PY" -m mypy.stubtest sealwire._native

step "mypy --strict (package and tests, through the stubs)"
"$PY" -m mypy --strict --no-incremental -p sealwire
MYPYPATH="$HERE/tests" "$PY" -m mypy --strict --no-incremental tests

step "python binding: all checks passed"
