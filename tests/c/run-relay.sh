#!/usr/bin/env bash
# C ABI tests of the relay client (tests/c/test_relay.c) and of the agent facade with a relay
# (tests/c/test_agent_relay.c) against a REAL relay: builds sealwire-ffi and the CLI
# (`sealwire relay serve`), starts a relay on 127.0.0.1 (any free port, SQLite in a temporary
# directory), waits until GET /v1/health answers, runs each test
# twice (shared library; static library under ASan+UBSan with leak detection; each run gets a
# fresh relay database) with SEALWIRE_RELAY_URL, then checks the cross-language program
# tests/cross/relay_c.c (init / send / receive between two homes), and stops the relay
# (SIGTERM, also on failure or interruption).
#
# Usage (from anywhere): bash tests/c/run-relay.sh
# Exits non-zero on any failure. Last line: "N passed, 0 failed".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"

LIBDIR="$ROOT/target/$CARGO_BUILD_TARGET/release"
CLI="$LIBDIR/sealwire"
OUT="$ROOT/target/c-tests"
CC="${CC:-gcc}"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -I"$ROOT/include")
# What a Rust staticlib needs from the system on Linux (`--print native-static-libs`).
STATIC_LIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

WORK="$(mktemp -d /tmp/sealwire-c-relay-run-XXXXXX)"
RELAY_PID=""

stop_relay() {
    if [ -n "$RELAY_PID" ] && kill -0 "$RELAY_PID" 2>/dev/null; then
        kill -TERM "$RELAY_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$RELAY_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$RELAY_PID" 2>/dev/null; then kill -KILL "$RELAY_PID" 2>/dev/null || true; fi
        wait "$RELAY_PID" 2>/dev/null || true
    fi
    RELAY_PID=""
}
cleanup() {
    stop_relay
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== cargo build --release -p sealwire-ffi -p sealwire-cli"
cargo build --release -p sealwire-ffi -p sealwire-cli
if ! "$CLI" relay serve --help >/dev/null 2>&1; then
    echo "run-relay.sh: $CLI has no 'relay serve'" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

# Start a relay on a fresh database; sets RELAY_URL. The relay prints
# "listening on http://127.0.0.1:PORT" once bound (port 0: any free port).
start_relay() { # name
    local dir="$WORK/$1" port="" i
    mkdir -p "$dir"
    "$CLI" relay serve --listen 127.0.0.1:0 --db "$dir/relay.db" >"$dir/stdout" 2>"$dir/stderr" &
    RELAY_PID=$!
    for i in $(seq 1 200); do
        port="$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$#\1#p' "$dir/stdout")"
        [ -n "$port" ] && break
        kill -0 "$RELAY_PID" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        echo "run-relay.sh: the relay did not start:" >&2
        cat "$dir/stderr" >&2
        return 1
    fi
    RELAY_URL="http://127.0.0.1:$port"
    # Ready when GET /v1/health answers 200.
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port" &&
            printf 'GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 &&
            head -n 1 <&3 | grep -q ' 200 ') 2>/dev/null; then
            echo "   relay up at $RELAY_URL (pid $RELAY_PID)"
            return 0
        fi
        sleep 0.05
    done
    echo "run-relay.sh: the relay at $RELAY_URL never became healthy:" >&2
    cat "$dir/stderr" >&2
    return 1
}

mkdir -p "$OUT"
total_passed=0
total_failed=0

run_suite() { # name, command...
    local name="$1"; shift
    local log="$OUT/$name.log" status=0
    echo "== $name"
    if ! start_relay "$name"; then
        total_failed=$((total_failed + 1))
        return
    fi
    SEALWIRE_RELAY_URL="$RELAY_URL" "$@" >"$log" 2>&1 || status=$?
    stop_relay
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

echo "== compile: C11 relay test, shared library (rpath)"
"$CC" "${CFLAGS[@]}" tests/c/test_relay.c -o "$OUT/test_relay_shared" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire -lpthread
run_suite relay-shared "$OUT/test_relay_shared"

echo "== compile: C11 relay test, static library, -fsanitize=address,undefined"
"$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    tests/c/test_relay.c -o "$OUT/test_relay_asan" \
    "$LIBDIR/libsealwire.a" "${STATIC_LIBS[@]}"
run_suite relay-asan env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$OUT/test_relay_asan"

# The agent facade with a relay (tests/c/test_agent_relay.c): an offline peer's mailbox, the
# reply, a relay that does not answer.
echo "== compile: C11 agent relay test, shared library (rpath)"
"$CC" "${CFLAGS[@]}" tests/c/test_agent_relay.c -o "$OUT/test_agent_relay_shared" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire -lpthread
run_suite agent-relay-shared "$OUT/test_agent_relay_shared"

echo "== compile: C11 agent relay test, static library, -fsanitize=address,undefined"
"$CC" "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    tests/c/test_agent_relay.c -o "$OUT/test_agent_relay_asan" \
    "$LIBDIR/libsealwire.a" "${STATIC_LIBS[@]}"
run_suite agent-relay-asan env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$OUT/test_agent_relay_asan"

# The cross-language program (tests/cross/relay_c.c, driven by the lead's cross test): two
# homes that are never online together, through its documented contract.
echo "== compile: tests/cross/relay_c.c, shared library (rpath)"
"$CC" "${CFLAGS[@]}" tests/cross/relay_c.c -o "$OUT/relay_c" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lsealwire
echo "== relay-c-program"
if start_relay relay-c-program; then
    smoke_ok=1
    key="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    mkdir -p "$WORK/alice" "$WORK/bob"
    relay_c() { "$OUT/relay_c" "$RELAY_URL" "$@"; }
    alice_pub="$(relay_c "$WORK/alice" "$key" init)" || smoke_ok=0
    bob_pub="$(relay_c "$WORK/bob" "$key" init)" || smoke_ok=0
    # Public identity hex: "SWPI", version, then the Ed25519 key = the peer id (bytes 5..37).
    alice_pid="${alice_pub:10:64}"
    bob_pid="${bob_pub:10:64}"
    [ "${#alice_pub}" -eq 268 ] && [ "${#bob_pub}" -eq 268 ] || smoke_ok=0
    relay_c "$WORK/alice" "$key" send "$bob_pub" "hello bob" "second, with spaces" || smoke_ok=0
    got="$(relay_c "$WORK/bob" "$key" receive 2)" || smoke_ok=0
    want="$(printf '%s hello bob\n%s second, with spaces' "$alice_pid" "$alice_pid")"
    [ "$got" = "$want" ] || { smoke_ok=0; echo "bob received: $got"; }
    relay_c "$WORK/bob" "$key" send "$alice_pub" "pong" || smoke_ok=0
    got="$(relay_c "$WORK/alice" "$key" receive 1)" || smoke_ok=0
    [ "$got" = "$bob_pid pong" ] || { smoke_ok=0; echo "alice received: $got"; }
    # Nothing more: receive 1 gives up after 10 s with exit status 1.
    if relay_c "$WORK/alice" "$key" receive 1 >/dev/null 2>&1; then smoke_ok=0; fi
    stop_relay
    if [ "$smoke_ok" -eq 1 ]; then
        echo "  ok  relay_c: init, send, receive, reply"
        total_passed=$((total_passed + 1))
    else
        echo "  FAIL relay_c program"
        total_failed=$((total_failed + 1))
    fi
else
    total_failed=$((total_failed + 1))
fi

echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
