#!/usr/bin/env bash
# C ABI tests of the remote KMS key providers and the data-key cache (tests/c/test_kms.c),
# against the local OpenBao (Vault Transit) and moto (AWS KMS) servers. Builds sealwire-ffi,
# then the test twice (shared library; static library under ASan+UBSan with leak detection)
# and runs both with SEALWIRE_KMS_REQUIRED=1 (the server tests may not skip).
#
# The servers must already be running: `bash scripts/kms-servers.sh start` writes the env file
# this script reads through SEALWIRE_KMS_ENV_FILE (default /tmp/sealwire-kms/kms.env);
# scripts/test-kms.sh starts them, runs this, and stops them.
#
# Usage (from anywhere): SEALWIRE_KMS_ENV_FILE=/path/kms.env bash tests/c/run-kms.sh
# Exits non-zero on any failure. Last line: "N passed, 0 failed".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
export SEALWIRE_KMS_ENV_FILE="${SEALWIRE_KMS_ENV_FILE:-/tmp/sealwire-kms/kms.env}"
export SEALWIRE_KMS_REQUIRED=1

LIBDIR="$ROOT/target/$CARGO_BUILD_TARGET/release"
OUT="$ROOT/target/c-tests"
CC="${CC:-gcc}"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -I"$ROOT/include")
# What a Rust staticlib needs from the system on Linux (`--print native-static-libs`).
STATIC_LIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

if [ ! -f "$SEALWIRE_KMS_ENV_FILE" ]; then
    echo "run-kms.sh: no KMS env file at $SEALWIRE_KMS_ENV_FILE; start the servers first:" >&2
    echo "    bash scripts/kms-servers.sh start" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

echo "== cargo build --release -p sealwire-ffi"
cargo build --release -p sealwire-ffi

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

echo "== compile: C11 KMS test, shared library (rpath)"
"$CC" "${CFLAGS[@]}" tests/c/test_kms.c -o "$OUT/test_kms_shared" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire -lpthread
run_suite kms-shared "$OUT/test_kms_shared"

echo "== compile: C11 KMS test, static library, -fsanitize=address,undefined"
"$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    tests/c/test_kms.c -o "$OUT/test_kms_asan" \
    "$LIBDIR/libsealwire.a" "${STATIC_LIBS[@]}"
run_suite kms-asan env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$OUT/test_kms_asan"

echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
