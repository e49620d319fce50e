#!/usr/bin/env bash
# Cross-language agents through one relay: starts `sealwire relay serve` on a free 127.0.0.1
# port, builds the C agent program, and runs tests/cross/relay_driver.py with the C, Node and
# Python agent programs (each step a separate process: no two agents are ever online at the
# same time). Needs the CLI and libsealwire built (cargo), the Node addon and the Python venv
# (VENV, default /tmp/sealwire-venv-py) built by their suites; SEALWIRE_CROSS_RELAY_ALL=1
# (set by scripts/test.sh) makes a missing binding a failure instead of a skip.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
triple="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
lib="$root/${CARGO_TARGET_DIR:-target}/$triple/release"
venv="${VENV:-/tmp/sealwire-venv-py}"
work="$(mktemp -d)"
relay_pid=""
cleanup() { [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$root/include" "$root/tests/cross/relay_c.c" \
   -L"$lib" -Wl,-rpath,"$lib" -lsealwire -o "$work/relay_c"
progs=("c=$work/relay_c")
missing=()
if ls "$root"/bindings/node/sealwire.*.node >/dev/null 2>&1; then
  progs+=("node=node $root/tests/cross/relay_node.mjs")
else missing+=(node); fi
if [ -f "$root/tests/cross/relay_python.py" ] && "$venv/bin/python" -c 'import sealwire; sealwire.RelayAgent' 2>/dev/null; then
  progs+=("python=$venv/bin/python $root/tests/cross/relay_python.py")
else missing+=(python); fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "${SEALWIRE_CROSS_RELAY_ALL:-0}" = 1 ]; then echo "cross relay: not built: ${missing[*]}" >&2; exit 1; fi
  echo "cross relay: skipping ${missing[*]} (not built)"
fi

"$lib/sealwire" relay serve --listen 127.0.0.1:0 --db "$work/relay.sqlite" >"$work/relay.out" 2>"$work/relay.log" &
relay_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/relay.out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$work/relay.out")"
[ -n "$url" ] || { echo "relay did not start"; cat "$work/relay.log"; exit 1; }
mkdir -p "$work/agents"
python3 "$root/tests/cross/relay_driver.py" "$url" "$work/agents" "${progs[@]}"
