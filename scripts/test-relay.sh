#!/usr/bin/env bash
# Tests of `sealwire relay` (docs/RELAY.md): the core relay module (formats, signatures,
# bundle split), the protocol tests and the agent-process tests (two agents never online
# together; relay SIGKILLed mid-deposit/mid-ack) against real relay processes on 127.0.0.1
# (each test starts its own on a free port and stops it), and a smoke run of the built
# binary (start on a free port, health, SIGTERM → clean exit).
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target_dir="${CARGO_TARGET_DIR:-target}"

passed=0; failed=0; failures=()
step() {
  local name="$1"; shift
  echo "=================== relay: $name ==================="
  if "$@"; then passed=$((passed + 1)); echo "--- $name: ok"
  else failed=$((failed + 1)); failures+=("$name"); echo "--- $name: FAILED"; fi
}

smoke() {
  local bin="$target_dir/$CARGO_BUILD_TARGET/release/sealwire" dir out pid url status
  dir="$(mktemp -d)"
  out="$dir/stdout"
  "$bin" relay serve --listen 127.0.0.1:0 --db "$dir/relay.sqlite" >"$out" 2>"$dir/relay.log" &
  pid=$!
  for _ in $(seq 100); do grep -q '^listening on ' "$out" 2>/dev/null && break; sleep 0.1; done
  url="$(sed -n 's/^listening on //p' "$out")"
  [ -n "$url" ] || { echo "relay did not start"; cat "$dir/relay.log"; kill "$pid"; return 1; }
  curl -fsS "$url/v1/health" | grep -q '"status":"ok"' || { echo "health check failed"; kill "$pid"; return 1; }
  kill -TERM "$pid"
  wait "$pid"; status=$?
  grep -q '"event":"stopped"' "$dir/relay.log" || { echo "no graceful stop in the log"; status=1; }
  rm -rf "$dir"
  return "$status"
}

step "build" cargo build --release -p sealwire-cli
step "core relay module" cargo test --release -p sealwire --features relay --lib relay::
step "protocol tests (SQLite)" cargo test --release -p sealwire-cli --test relay_protocol
step "agent processes and faults (SQLite)" cargo test --release -p sealwire-cli --test relay_agents
step "smoke: serve, health, SIGTERM" smoke

echo
for f in "${failures[@]:-}"; do [ -n "$f" ] && echo "FAILED: $f"; done
echo "relay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
