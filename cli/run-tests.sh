#!/usr/bin/env bash
# The CLI's tests: unit tests, end-to-end tests of the built `sealwire` binary (keygen,
# keyring, seal/open/inspect/rewrap, X-Wing keys, no secrets on disk) and the demo.
# Self-contained: cargo builds everything it needs. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
cargo test --release -p sealwire-cli "$@"
target/"$CARGO_BUILD_TARGET"/release/sealwire demo > /dev/null
echo "cli: all tests passed"
