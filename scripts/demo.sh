#!/usr/bin/env bash
# Build the CLI and run the end-to-end demo on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
cargo build --release -q -p sealwire-cli
exec "target/$CARGO_BUILD_TARGET/release/sealwire" demo "$@"
