#!/usr/bin/env bash
# Node binding tests: install the pinned npm devDependencies, build the addon with the napi
# CLI (release profile, shared workspace target dir), check that the generated index.js /
# index.d.ts in the tree are current, type-check the declarations (the hand-written
# sealwire.d.ts re-exports the generated index.d.ts), build the relay binary, then run
# node:test (which also checks tests/cross/ratchet_step.mjs and tests/cross/relay_node.mjs
# against their contracts; the relay tests start real relay processes on 127.0.0.1).
# Exits non-zero on any failure.
# Called from anywhere (the top-level test script calls it from the repo root).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# One target triple for every cargo/napi call, so the workspace target dir
# (target/x86_64-unknown-linux-gnu/release) is shared and nothing is built twice.
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"

log() { printf '[node] %s\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "node/npm not found; installing from apt"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
# @napi-rs/cli 3 needs Node >= 20.17.
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=17)?0:1)'; then
  log "Node $(node --version) is too old: need >= 20.17"
  exit 1
fi

cd "$HERE"
log "installing npm devDependencies"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --prefer-offline
else
  npm install --no-audit --no-fund
fi

# Drift check: the generated index.js / index.d.ts in the tree (what gets committed) must be
# exactly what this build generates. Compared against a copy taken before the build, so the
# check also holds before the regenerated files are committed (in a clean checkout the tree
# is the commit).
snapshot="$(mktemp -d)"
trap 'rm -rf "$snapshot"' EXIT
for f in index.js index.d.ts; do
  if [ -f "$f" ]; then cp "$f" "$snapshot/$f"; else : > "$snapshot/$f"; fi
done

log "building the addon (napi build --platform --release --target $CARGO_BUILD_TARGET)"
npx --no-install napi build --platform --release --target "$CARGO_BUILD_TARGET"

log "checking that index.js / index.d.ts were current"
for f in index.js index.d.ts; do
  if ! diff -u "$snapshot/$f" "$f"; then
    log "FAIL: bindings/node/$f changed when regenerated (now rewritten): review and commit it"
    exit 1
  fi
done
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  for f in index.js index.d.ts; do
    if ! git -C "$ROOT" ls-files --error-unmatch "bindings/node/$f" >/dev/null 2>&1; then
      log "note: bindings/node/$f is not committed yet"
    elif ! git -C "$ROOT" diff --quiet -- "bindings/node/$f"; then
      log "note: bindings/node/$f is current but differs from the last commit: commit it"
    fi
  done
fi

log "type-checking the declarations (sealwire.d.ts, index.d.ts) against typecheck/usage.ts"
npx --no-install tsc -p typecheck

# The relay tests (test/relay.test.mjs) run a real `sealwire relay serve`: build the CLI
# (a no-op when the Rust suite built it already) unless SEALWIRE_BIN names a binary.
if [ -z "${SEALWIRE_BIN:-}" ]; then
  log "building the relay binary (cargo build --release -p sealwire-cli)"
  (cd "$ROOT" && cargo build --release -p sealwire-cli)
fi

log "running node:test"
node --test test/
