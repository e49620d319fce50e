#!/usr/bin/env bash
# Cross-language round trip: Python → Node → C → Python over files, with identities exported
# in one language and imported in another. Needs the Python venv and Node addon built by the
# binding suites (scripts/test.sh runs those first) and builds the C step itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
triple="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
venv="${VENV:-/tmp/sealwire-venv-py}"
lib="$root/target/$triple/release"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p sealwire-ffi
cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$root/include" "$root/tests/cross/step_c.c" \
   -L"$lib" -Wl,-rpath,"$lib" -lsealwire -o "$work/step_c"

"$venv/bin/python" "$root/tests/cross/step_python.py" first "$work"
node "$root/tests/cross/step_node.mjs" "$work"
"$work/step_c" "$work"
"$venv/bin/python" "$root/tests/cross/step_python.py" last "$work"
echo "  ok  identity round trip Python -> Node -> C -> Python"

# Noise: a Python initiator against a Node responder and a C responder over pipes.
cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$root/include" "$root/tests/cross/noise_responder.c" \
   -L"$lib" -Wl,-rpath,"$lib" -lsealwire -o "$work/noise_responder"
"$venv/bin/python" "$root/tests/cross/noise_driver.py" "$root/tests/cross/noise_responder.mjs" "$work/noise_responder"
echo "cross-language: 2 passed, 0 failed"
