#!/usr/bin/env bash
# Cross-language test of the Agent facade: starts `sealwire relay serve` on a free 127.0.0.1
# port, builds the C agent program (tests/cross/agent_c.c), and runs tests/cross/agent_driver.py
# with the Python, Node and C agent programs (each step a separate process): live Noise over
# TCP between Python and Node, messages through the relay while Python is closed, restarts,
# exactly-once delivery. Needs the CLI and libsealwire built (cargo), the Node addon and the
# Python venv (VENV, default /tmp/sealwire-venv-py) built by their suites, as tests/cross/relay.sh;
# SEALWIRE_CROSS_RELAY_ALL=1 (set by scripts/test.sh) makes a missing binding a failure
# instead of a skip.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
triple="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
lib="$root/${CARGO_TARGET_DIR:-target}/$triple/release"
venv="${VENV:-/tmp/sealwire-venv-py}"
work="$(mktemp -d)"
relay_pid=""
cleanup() { [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

missing=()
ls "$root"/bindings/node/sealwire.*.node >/dev/null 2>&1 || missing+=(node)
"$venv/bin/python" -c 'import sealwire; sealwire.Agent' 2>/dev/null || missing+=(python)
if [ "${#missing[@]}" -gt 0 ]; then
  # The scenario needs all three languages.
  if [ "${SEALWIRE_CROSS_RELAY_ALL:-0}" = 1 ]; then echo "cross agent: not built: ${missing[*]}" >&2; exit 1; fi
  echo "cross agent: skipping (not built: ${missing[*]})"
  exit 0
fi
cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$root/include" "$root/tests/cross/agent_c.c" \
   -L"$lib" -Wl,-rpath,"$lib" -lsealwire -o "$work/agent_c"

"$lib/sealwire" relay serve --listen 127.0.0.1:0 --db "$work/relay.sqlite" >"$work/relay.out" 2>"$work/relay.log" &
relay_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/relay.out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$work/relay.out")"
[ -n "$url" ] || { echo "relay did not start"; cat "$work/relay.log"; exit 1; }
mkdir -p "$work/agents"
timeout 300 python3 "$root/tests/cross/agent_driver.py" "$url" "$work/agents" \
  "py=$venv/bin/python $root/tests/cross/agent_py.py" \
  "node=node $root/tests/cross/agent_node.mjs" \
  "c=$work/agent_c"
