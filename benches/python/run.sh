#!/usr/bin/env bash
# Python benchmarks, run against the binding's release wheel:
#
#   bash benches/python/run.sh [envelope] [bench_envelope.py options]   (from anywhere)
#       sealwire envelopes vs Tink KmsEnvelopeAead vs raw OpenSSL AEADs (the default)
#   bash benches/python/run.sh ratchet [bench_ratchet.py options]
#       sealwire RatchetSession vs vodozemac (Olm) sessions
#   bash benches/python/run.sh kms [bench_kms.py options]
#       sealwire KmsKey (Vault Transit, AWS KMS) with and without DataKeyCache vs Tink
#       KmsEnvelopeAead over AWS KMS; starts and stops OpenBao and moto itself
#       (scripts/kms-servers.sh, private KMS_STATE_DIR)
#   e.g. bash benches/python/run.sh --markdown /tmp/perf-envelope-py.md
#        bash benches/python/run.sh --quick                    (smoke run, ~10 s)
#        bash benches/python/run.sh ratchet --markdown /tmp/perf-ratchet-py.md
#        bash benches/python/run.sh kms --objects 10000 --markdown /tmp/perf-kms-py.md
#
# Environment: BENCH_VENV (default /tmp/sealwire-bench-venv-py) is created if missing and
# reused (set BENCH_VENV_CLEAR=1 to recreate it); PYTHON picks the interpreter that creates
# it; CARGO_BUILD_TARGET (default x86_64-unknown-linux-gnu) is shared with every other
# cargo build of the workspace, so the binding's release wheel reuses target/<triple>/release;
# SEALWIRE_CARGO_FEATURES (optional, e.g. "sealwire/aead-ring") builds the binding with
# those cargo features of its dependencies.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${BENCH_VENV:-/tmp/sealwire-bench-venv-py}"
PYTHON="${PYTHON:-python3}"
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '==> %s\n' "$*" >&2; }

if [[ "${BENCH_VENV_CLEAR:-0}" == 1 || ! -x "$VENV/bin/python" ]]; then
    step "venv at $VENV"
    "$PYTHON" -m venv --clear "$VENV"
fi
PY="$VENV/bin/python"

BENCH=envelope
case "${1:-}" in
    envelope|ratchet|kms) BENCH="$1"; shift ;;
esac
case "$BENCH" in
    envelope) deps=(tink cryptography maturin) ;;
    ratchet) deps=(vodozemac maturin) ;;
    # tink's AWS KMS integration (boto3); the servers come from scripts/kms-servers.sh.
    kms) deps=('tink[awskms]' maturin) ;;
esac

step "pip install ${deps[*]}"
"$PY" -m pip install -q "${deps[@]}"

build_args=()
if [[ -n "${SEALWIRE_CARGO_FEATURES:-}" ]]; then
    build_args=(--config-settings "build-args=--features ${SEALWIRE_CARGO_FEATURES}")
fi
step "pip install ./bindings/python (maturin, release, $CARGO_BUILD_TARGET${SEALWIRE_CARGO_FEATURES:+, features $SEALWIRE_CARGO_FEATURES})"
cd "$ROOT"
if ! "$PY" -m pip install -q --force-reinstall --no-deps "${build_args[@]}" ./bindings/python \
    >"$VENV/pip-install.log" 2>&1; then
    cat "$VENV/pip-install.log" >&2
    echo "pip install ./bindings/python failed" >&2
    exit 1
fi

# Run from outside the source tree so the installed wheel is what gets imported.
cd "$VENV"
step "bench_$BENCH.py $*"
exec "$PY" "$HERE/bench_$BENCH.py" "$@"
