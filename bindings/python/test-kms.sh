#!/usr/bin/env bash
# KMS tests of the Python binding (tests/test_kms.py) against the real local servers:
# OpenBao (Vault Transit) and moto (AWS KMS). Assumes what scripts/test-kms.sh sets up:
#   * the servers are running and SEALWIRE_KMS_ENV_FILE names the env file written by
#     `bash scripts/kms-servers.sh start`;
#   * the binding is installed in the venv VENV (default /tmp/sealwire-venv-py) by
#     `bash bindings/python/run-tests.sh`.
# Runs with SEALWIRE_KMS_REQUIRED=1: a missing server setting fails the tests instead of
# skipping them. Exits non-zero on any failure. Called from anywhere.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${VENV:-/tmp/sealwire-venv-py}"
PY="$VENV/bin/python"

log() { printf '[python-kms] %s\n' "$*" >&2; }

if [ -z "${SEALWIRE_KMS_ENV_FILE:-}" ]; then
  log "SEALWIRE_KMS_ENV_FILE is not set: start the servers with 'bash scripts/kms-servers.sh start' and export it"
  exit 1
fi
if [ ! -r "$SEALWIRE_KMS_ENV_FILE" ]; then
  log "SEALWIRE_KMS_ENV_FILE=$SEALWIRE_KMS_ENV_FILE is not readable: are the KMS servers running?"
  exit 1
fi
if ! "$PY" -c 'import sealwire, pytest; sealwire.KmsKey' >/dev/null 2>&1; then
  log "no venv with the binding (and pytest) at $VENV: run 'bash bindings/python/run-tests.sh' first"
  exit 1
fi

# From the tests directory's parent, against the installed wheel (never the source tree).
cd "$HERE"
log "running pytest tests/test_kms.py (SEALWIRE_KMS_REQUIRED=1, env file $SEALWIRE_KMS_ENV_FILE)"
SEALWIRE_KMS_REQUIRED=1 "$PY" -m pytest -q -ra -p no:cacheprovider tests/test_kms.py
