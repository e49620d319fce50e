#!/usr/bin/env bash
# Tests of `sealwire relay` (docs/RELAY.md): the core relay module (formats, signatures,
# bundle split), the protocol tests and the agent-process tests (two agents never online
# together; relay SIGKILLed mid-deposit/mid-ack) against real relay processes on 127.0.0.1
# (each test starts its own on a free port and stops it), and a smoke run of the built
# binary (start on a free port, health, SIGTERM → clean exit) — first with SQLite, then the
# same tests with PostgreSQL + NATS JetStream (Debian packages, installed if missing,
# started on 127.0.0.1 by scripts/relay-services.sh and stopped at the end), plus two relay
# processes sharing them. SEALWIRE_RELAY_SKIP_POSTGRES=1 skips the second half.
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
# The C binding against a relay of its own (the Node and Python relay tests run in their
# binding suites, which scripts/test.sh runs first).
step "C relay client (plain + ASan/UBSan)" bash tests/c/run-relay.sh
step "cross-language agents (C, Node, Python) through one relay" bash tests/cross/relay.sh
step "cross-language Agent facade (Python, Node, C): live and through the relay" bash tests/cross/agent.sh

if [ "${SEALWIRE_RELAY_SKIP_POSTGRES:-0}" != 1 ]; then
  services="$(mktemp -d /tmp/sealwire-relay-services.XXXXXX)"
  chmod 755 "$services"
  trap 'bash scripts/relay-services.sh stop "$services"; rm -rf "$services"' EXIT
  if env_lines="$(bash scripts/relay-services.sh start "$services")"; then
    eval "$env_lines"
    step "protocol tests (PostgreSQL + NATS)" cargo test --release -p sealwire-cli --test relay_protocol
    step "agent processes and faults (PostgreSQL + NATS)" cargo test --release -p sealwire-cli --test relay_agents
    step "two relays sharing PostgreSQL and NATS" \
      cargo test --release -p sealwire-cli --test relay_agents two_relays_sharing_postgres_and_nats -- --ignored
    unset SEALWIRE_RELAY_TEST_POSTGRES SEALWIRE_RELAY_TEST_NATS
  else
    failed=$((failed + 1)); failures+=("start PostgreSQL and NATS")
  fi
fi

echo
for f in "${failures[@]:-}"; do [ -n "$f" ] && echo "FAILED: $f"; done
echo "relay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
