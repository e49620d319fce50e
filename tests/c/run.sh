#!/usr/bin/env bash
# C ABI tests: builds sealwire-ffi, checks the committed header (cargo test: header drift +
# Rust tests of the FFI layer), then runs the five C11 test programs (test_sealwire.c:
# identities; test_noise.c: Noise handshakes, transports and vectors; test_envelope.c:
# envelopes, keyrings, key providers and envelope.json; test_ratchet.c: prekey bundles and
# stores, Double Ratchet sessions, the Messenger on SQLite files and ratchet.json;
# test_agent.c: the security configuration (config/cases.json) and two agents over TCP on
# 127.0.0.1), each linked three ways (shared library, static library, static library under
# ASan+UBSan with leak detection), and the C++17 test.
#
# Usage (from anywhere): bash tests/c/run.sh
# Exits non-zero on any failure. Last line: "c-api: N passed, 0 failed".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"

LIBDIR="$ROOT/target/$CARGO_BUILD_TARGET/release"
OUT="$ROOT/target/c-tests"
VECTORS="$ROOT/tests/vectors/identity.json"
NOISE_VECTORS=("$ROOT/tests/vectors/noise-hfs.json" "$ROOT/tests/vectors/cacophony.json")
CC="${CC:-gcc}"
CXX="${CXX:-g++}"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -I"$ROOT/include")
CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic -O1 -g -I"$ROOT/include")
# What a Rust staticlib needs from the system on Linux (`--print native-static-libs`).
STATIC_LIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

# cJSON parses the shared vectors (Debian libcjson-dev).
if [ ! -f /usr/include/cjson/cJSON.h ]; then
    echo "== installing libcjson-dev"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q libcjson-dev >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q libcjson-dev >/dev/null; }
fi

echo "== cargo build --release -p sealwire-ffi"
cargo build --release -p sealwire-ffi

echo "== cargo test --release -p sealwire-ffi (header drift + FFI unit tests)"
cargo test --release -p sealwire-ffi

mkdir -p "$OUT"
total_passed=0
total_failed=0

run_suite() { # name, command...
    local name="$1"; shift
    local log="$OUT/$name.log" status=0
    echo "== $name"
    "$@" >"$log" 2>&1 || status=$?
    cat "$log"
    local last passed failed
    last="$(tail -n 1 "$log")"
    if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed="${BASH_REMATCH[1]}"; failed="${BASH_REMATCH[2]}"
    else
        passed=0; failed=1
        echo "$name: no result line (exit status $status)"
    fi
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
}

echo "== header compiles as pedantic C11 and C++17"
printf '#include "sealwire.h"\nint sealwire_header_check;\n' >"$OUT/header_only.c"
"$CC" "${CFLAGS[@]}" -c "$OUT/header_only.c" -o "$OUT/header_only.o"
printf '#include "sealwire.h"\nint sealwire_header_check;\n' >"$OUT/header_only.cpp"
"$CXX" "${CXXFLAGS[@]}" -c "$OUT/header_only.cpp" -o "$OUT/header_only_cpp.o"

echo "== compile: C11 test, shared library (rpath)"
"$CC" "${CFLAGS[@]}" tests/c/test_sealwire.c -o "$OUT/test_shared" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire -lcjson
run_suite c-shared "$OUT/test_shared" "$VECTORS"

echo "== compile: C11 test, static library"
"$CC" "${CFLAGS[@]}" tests/c/test_sealwire.c -o "$OUT/test_static" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite c-static "$OUT/test_static" "$VECTORS"

echo "== compile: C11 test, static library, -fsanitize=address,undefined"
"$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    tests/c/test_sealwire.c -o "$OUT/test_asan" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite c-asan env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$OUT/test_asan" "$VECTORS"

echo "== compile: C11 Noise test, shared library (rpath)"
"$CC" "${CFLAGS[@]}" tests/c/test_noise.c -o "$OUT/test_noise_shared" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire -lcjson
run_suite noise-shared "$OUT/test_noise_shared" "${NOISE_VECTORS[@]}"

echo "== compile: C11 Noise test, static library"
"$CC" "${CFLAGS[@]}" tests/c/test_noise.c -o "$OUT/test_noise_static" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite noise-static "$OUT/test_noise_static" "${NOISE_VECTORS[@]}"

echo "== compile: C11 Noise test, static library, -fsanitize=address,undefined"
"$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    tests/c/test_noise.c -o "$OUT/test_noise_asan" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite noise-asan env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$OUT/test_noise_asan" "${NOISE_VECTORS[@]}"

ENVELOPE_VECTORS="$ROOT/tests/vectors/envelope.json"

echo "== compile: C11 envelope test, shared library (rpath)"
"$CC" "${CFLAGS[@]}" tests/c/test_envelope.c -o "$OUT/test_envelope_shared" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire -lcjson -lpthread
run_suite envelope-shared "$OUT/test_envelope_shared" "$ENVELOPE_VECTORS"

echo "== compile: C11 envelope test, static library"
"$CC" "${CFLAGS[@]}" tests/c/test_envelope.c -o "$OUT/test_envelope_static" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite envelope-static "$OUT/test_envelope_static" "$ENVELOPE_VECTORS"

echo "== compile: C11 envelope test, static library, -fsanitize=address,undefined"
"$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    tests/c/test_envelope.c -o "$OUT/test_envelope_asan" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite envelope-asan env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$OUT/test_envelope_asan" "$ENVELOPE_VECTORS"

RATCHET_VECTORS="$ROOT/tests/vectors/ratchet.json"

echo "== compile: C11 ratchet test, shared library (rpath)"
"$CC" "${CFLAGS[@]}" tests/c/test_ratchet.c -o "$OUT/test_ratchet_shared" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire -lcjson -lpthread
run_suite ratchet-shared "$OUT/test_ratchet_shared" "$RATCHET_VECTORS"

echo "== compile: C11 ratchet test, static library"
"$CC" "${CFLAGS[@]}" tests/c/test_ratchet.c -o "$OUT/test_ratchet_static" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite ratchet-static "$OUT/test_ratchet_static" "$RATCHET_VECTORS"

echo "== compile: C11 ratchet test, static library, -fsanitize=address,undefined"
"$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    tests/c/test_ratchet.c -o "$OUT/test_ratchet_asan" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite ratchet-asan env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$OUT/test_ratchet_asan" "$RATCHET_VECTORS"

CONFIG_VECTORS="$ROOT/tests/vectors/config"

echo "== compile: C11 agent test, shared library (rpath)"
"$CC" "${CFLAGS[@]}" tests/c/test_agent.c -o "$OUT/test_agent_shared" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire -lcjson -lpthread
run_suite agent-shared "$OUT/test_agent_shared" "$CONFIG_VECTORS"

echo "== compile: C11 agent test, static library"
"$CC" "${CFLAGS[@]}" tests/c/test_agent.c -o "$OUT/test_agent_static" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite agent-static "$OUT/test_agent_static" "$CONFIG_VECTORS"

echo "== compile: C11 agent test, static library, -fsanitize=address,undefined"
"$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    tests/c/test_agent.c -o "$OUT/test_agent_asan" \
    "$LIBDIR/libsealwire.a" -lcjson "${STATIC_LIBS[@]}"
run_suite agent-asan env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$OUT/test_agent_asan" "$CONFIG_VECTORS"

echo "== compile: C++17 test"
"$CXX" "${CXXFLAGS[@]}" tests/c/test_cpp.cpp -o "$OUT/test_cpp" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire
run_suite cpp "$OUT/test_cpp"

echo "c-api: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
