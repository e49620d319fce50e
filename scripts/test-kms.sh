#!/usr/bin/env bash
# KMS integration tests against real servers: start OpenBao and moto on 127.0.0.1
# (scripts/kms-servers.sh), run the Vault and AWS test binaries of the `kms` feature and the
# CLI's `--kms` tests (cli/tests/kms_cli.rs), stop the servers. The tests may NOT skip here:
# SEALWIRE_KMS_REQUIRED=1 turns "servers not configured" into a failure. Exit status:
# non-zero if anything failed (core or CLI tests).
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
export KMS_STATE_DIR="${KMS_STATE_DIR:-/tmp/sealwire-kms-test.$$}"
export SEALWIRE_KMS_ENV_FILE="$KMS_STATE_DIR/kms.env"
export SEALWIRE_KMS_REQUIRED=1

cleanup() { bash scripts/kms-servers.sh stop || true; rm -rf "$KMS_STATE_DIR"; }
trap cleanup EXIT

if ! bash scripts/kms-servers.sh start; then
  echo "test-kms: could not start the KMS test servers" >&2
  for f in "$KMS_STATE_DIR"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
fi

cargo test --release -p sealwire --features kms --test kms_vault --test kms_aws --test kms_logging
rc=$?
# The CLI's --kms tests, against the same servers (run even if the core tests failed).
cargo test --release -p sealwire-cli --test kms_cli
cli_rc=$?
[ "$rc" -eq 0 ] && rc=$cli_rc
if [ "$rc" -ne 0 ]; then
  for f in "$KMS_STATE_DIR"/*.log; do [ -f "$f" ] && { echo "--- $f (tail)"; tail -20 "$f"; }; done
fi
exit "$rc"
