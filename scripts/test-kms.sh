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
# The bindings' KMS tests, against the same servers. Each runner needs its binding built
# (scripts/test.sh builds them first and sets SEALWIRE_KMS_BINDINGS_REQUIRED=1); run alone,
# this script skips a binding that is not built.
binding() { # name, artifact that must exist, command...
  local name="$1" artifact="$2"; shift 2
  if ! compgen -G "$artifact" >/dev/null; then
    if [ "${SEALWIRE_KMS_BINDINGS_REQUIRED:-0}" = 1 ]; then
      echo "test-kms: $name binding is not built ($artifact)" >&2; rc=1
    else
      echo "test-kms: $name binding not built, its KMS tests skipped"
    fi
    return
  fi
  echo "== $name KMS tests"
  "$@" || rc=1
}
binding node "bindings/node/sealwire.*.node" bash bindings/node/test-kms.sh
[ -f tests/c/run-kms.sh ] && binding c "target/$CARGO_BUILD_TARGET/release/libsealwire.so" bash tests/c/run-kms.sh
[ -f bindings/python/test-kms.sh ] && binding python "${VENV:-/tmp/sealwire-venv-py}/bin/python" bash bindings/python/test-kms.sh
if [ "$rc" -ne 0 ]; then
  for f in "$KMS_STATE_DIR"/*.log; do [ -f "$f" ] && { echo "--- $f (tail)"; tail -20 "$f"; }; done
fi
exit "$rc"
