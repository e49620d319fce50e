#!/usr/bin/env bash
# Cross-language round trips: identities (Python → Node → C → Python), Noise over pipes,
# envelopes, and ratchet sessions moving between languages through sealed state. Needs the
# Python venv and Node addon built by the binding suites (scripts/test.sh runs those first)
# and builds the C programs itself.
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
echo "  ok  noise: Python initiator against Node and C responders"

# Envelope: Python -> Node -> C -> CLI -> Python, one shared root-key keyring plus recipients.
cargo build --release -q -p sealwire-cli
cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$root/include" "$root/tests/cross/envelope_c.c" \
   -L"$lib" -Wl,-rpath,"$lib" -lsealwire -o "$work/envelope_c"
env_dir="$work/envelope"
mkdir -p "$env_dir"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$env_dir/root.hex"
"$venv/bin/python" "$root/tests/cross/envelope_python.py" first "$env_dir"
node "$root/tests/cross/envelope_node.mjs" "$env_dir"
"$work/envelope_c" "$env_dir"
export SEALWIRE_KEYRING_ROOT_KEY="$(cat "$env_dir/root.hex")"
ctx=(-c agent=alice -c kind=memory -c object=cross/1)
cli="$root/target/$triple/release/sealwire"
"$cli" open "$env_dir/obj4.swev" --keyring "$env_dir/ring.swkr" "${ctx[@]}" -o "$env_dir/obj4.cli"
cmp "$env_dir/obj4.cli" "$env_dir/obj4.plain"
"$cli" open "$env_dir/obj1.swev" --keyring "$env_dir/ring.swkr" "${ctx[@]}" -o "$env_dir/obj1.cli"
cmp "$env_dir/obj1.cli" "$env_dir/obj1.plain"
head -c 2000000 /dev/urandom > "$env_dir/obj5.plain"
"$cli" seal "$env_dir/obj5.plain" --keyring "$env_dir/ring.swkr" "${ctx[@]}" -o "$env_dir/obj5.swev"
"$venv/bin/python" "$root/tests/cross/envelope_python.py" last "$env_dir"
echo "  ok  envelope: sealed and opened across Python, Node, C and the CLI"

# Ratchet: one conversation whose ends move between Python, Node and C every round, carried
# only by sealed state (established in Python and continued in Node and C, and the reverse).
cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$root/include" "$root/tests/cross/ratchet_step.c" \
   -L"$lib" -Wl,-rpath,"$lib" -lsealwire -lcjson -o "$work/ratchet_step"
mkdir -p "$work/ratchet"
"$venv/bin/python" "$root/tests/cross/ratchet_driver.py" "$venv/bin/python" node "$work/ratchet_step" "$work/ratchet"
echo "  ok  ratchet: sessions continued across Python, Node and C from sealed state"
echo "cross-language: 4 passed, 0 failed"
