#!/usr/bin/env bash
# The one test command: Rust, KMS (OpenBao + moto), relay (SQLite, PostgreSQL + NATS), C (plain +
# sanitized), C++, Python and Node suites, the shared
# vectors in all four languages, Wycheproof, and the header-drift check.
# Installs what it needs itself (cargo, pip into private venvs, npm, apt for libcjson).
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

passed=0; failed=0; failures=()
suite() {
  local name="$1"; shift
  echo
  echo "=================== $name ==================="
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "--- $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "--- $name: FAILED ($((SECONDS - start)) s)"
  fi
}

# Rust: core (unit, vectors, Wycheproof, crash and offline tests), ffi (header drift), cli
# (end-to-end). The workspace build unifies core with the `aead-ring` feature the shipped
# artifacts use; the core suite runs once more alone for the default pure-Rust AEAD backend.
suite "rust" cargo test --release --workspace --exclude sealwire-python --exclude sealwire-node
suite "rust-core-default-backend" cargo test --release -p sealwire
suite "c" bash tests/c/run.sh
suite "python" bash bindings/python/run-tests.sh
suite "node" bash bindings/node/run-tests.sh
# Remote KMS providers (feature `kms`) against real OpenBao and moto servers on loopback: core,
# CLI, and the C, Python and Node bindings (built by the suites above; required here).
SEALWIRE_KMS_BINDINGS_REQUIRED=1 suite "kms" bash scripts/test-kms.sh
# The relay (prekey directory + mailbox): embedded SQLite, then PostgreSQL + NATS JetStream
# (Debian packages, started on 127.0.0.1 and stopped by the script), two relays sharing them.
SEALWIRE_CROSS_RELAY_ALL=1 suite "relay" bash scripts/test-relay.sh
if [ -x tests/cross/run.sh ]; then suite "cross-language" bash tests/cross/run.sh; fi

echo
echo "=================== summary ==================="
for f in "${failures[@]:-}"; do [ -n "$f" ] && echo "FAILED: $f"; done
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
