#!/usr/bin/env bash
# KMS tests of the Node binding (test/kms.test.mjs) against the real local servers: OpenBao
# (Vault Transit) and moto (AWS KMS). Assumes what scripts/test-kms.sh sets up:
#   * the servers are running and SEALWIRE_KMS_ENV_FILE names the env file written by
#     `bash scripts/kms-servers.sh start`;
#   * the addon is built (`bash bindings/node/run-tests.sh` builds it and installs the npm
#     devDependencies).
# Runs with SEALWIRE_KMS_REQUIRED=1: a missing server setting fails the tests instead of
# skipping them. Exits non-zero on any failure. Called from anywhere.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[node-kms] %s\n' "$*" >&2; }

if [ -z "${SEALWIRE_KMS_ENV_FILE:-}" ]; then
  log "SEALWIRE_KMS_ENV_FILE is not set: start the servers with 'bash scripts/kms-servers.sh start' and export it"
  exit 1
fi
if [ ! -r "$SEALWIRE_KMS_ENV_FILE" ]; then
  log "SEALWIRE_KMS_ENV_FILE=$SEALWIRE_KMS_ENV_FILE is not readable: are the KMS servers running?"
  exit 1
fi
if ! command -v node >/dev/null 2>&1; then
  log "node not found (bindings/node/run-tests.sh installs it)"
  exit 1
fi

cd "$HERE"
if ! ls sealwire.*.node >/dev/null 2>&1; then
  log "the addon is not built: run 'bash bindings/node/run-tests.sh' first"
  exit 1
fi

log "running node:test test/kms.test.mjs (SEALWIRE_KMS_REQUIRED=1, env file $SEALWIRE_KMS_ENV_FILE)"
SEALWIRE_KMS_REQUIRED=1 node --test test/kms.test.mjs
