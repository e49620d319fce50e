"""Cross-language test of the Agent facade: a Python (P), a Node (N) and a C (C) agent, each
step its own process (tests/cross/agent_py.py, agent_node.mjs, the compiled agent_c.c; their
contract is at the top of each file), live over Noise/TCP on 127.0.0.1 and through one
`sealwire relay`, with restarts:

1. each opens its home and runs maintain (publishes), prints its public identity; exits;
2. live: P listens and receives; N connects (first contact: Noise XX), sends 3 messages of
   different lengths, P answers each live; both acknowledge; exactly once on both sides;
3. P closed: C sends 3 messages to P by its identity (relay), N 2 more (relay);
4. P reopens: the 5 messages exactly once (3 from C, 2 from N, in order per sender), none again;
5. P answers C through the relay; C reopens and receives it exactly once.

Usage: agent_driver.py RELAY_URL WORKDIR py=COMMAND node=COMMAND c=COMMAND
Exits non-zero (AssertionError) on any failure.
"""

from __future__ import annotations

import os
import queue
import shlex
import subprocess
import sys
import threading
import time

# The default configuration with the cheapest Argon2id the core accepts (tests only) and small
# prekey batches, as core/src/agent/tests.rs.
FAST = """version = 1
[identity.kdf]
memory_kib = 19456
iterations = 2
lanes = 1
[prekeys]
batch_size = 10
kem_batch_size = 10
[overrides]
allow_weak_kdf = true
"""
PASS = "cross-language agent passphrase"
STEP_TIMEOUT = 60


def main() -> int:
    url, work = sys.argv[1], sys.argv[2]
    progs = {}
    for spec in sys.argv[3:]:
        lang, cmd = spec.split("=", 1)
        progs[lang] = shlex.split(cmd)
    assert set(progs) == {"py", "node", "c"}, f"need py, node and c programs, got {sorted(progs)}"
    config = os.path.join(work, "config.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(FAST)

    def argv(lang: str, *args: str) -> list[str]:
        home = os.path.join(work, lang)
        return progs[lang] + [home, config, PASS, url, *args]

    def run(lang: str, *args: str) -> list[list[str]]:
        t = time.monotonic()
        p = subprocess.run(argv(lang, *args), capture_output=True, text=True, timeout=STEP_TIMEOUT)
        if p.returncode != 0:
            raise AssertionError(f"{lang} {args[0]} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
        print(f"  {lang} {args[0]}: ok ({time.monotonic() - t:.1f} s)", flush=True)
        return [line.split() for line in p.stdout.splitlines() if line.strip()]

    def field(lines: list[list[str]], key: str) -> list[str]:
        return [line[1] for line in lines if line[0] == key]

    def msgs(lines: list[list[str]]) -> list[tuple[str, int, bytes]]:
        """(sender peer id hex, inbox id, plaintext) of every MSG line."""
        return [
            (line[1], int(line[2]), bytes.fromhex(line[3] if len(line) > 3 else ""))
            for line in lines
            if line[0] == "MSG"
        ]

    # 1. Each agent: open (create), maintain (publish), exit.
    ident, peer = {}, {}
    for lang in ("py", "node", "c"):
        out = run(lang, "init")
        (ident[lang],), (peer[lang],) = field(out, "ID"), field(out, "PEER")
        assert field(out, "PUBLISHED") == ["1"], f"{lang}: maintain did not publish: {out}"
        # the peer id is the Ed25519 key inside the public identity (SWPI: magic 4, version 1)
        assert ident[lang][10:74] == peer[lang], f"{lang}: peer id not in its identity"
    assert len(set(ident.values())) == 3, "three distinct identities"
    # A second maintain of the same home publishes nothing new (restart keeps the identity).
    again = run("c", "init")
    assert field(again, "ID") == [ident["c"]] and field(again, "PUBLISHED") == ["0"], again

    # 2. Live: P listens and answers; N connects (first contact) and sends 3 messages.
    live_msgs = [b"L", bytes(range(256)) * 4, os.urandom(20_000)]
    server = subprocess.Popen(
        argv("py", "serve", "3", "30000"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=STEP_TIMEOUT)
        if not (first and first.startswith("LISTEN ")):
            server.kill()
            _, err = server.communicate(timeout=5)
            raise AssertionError(f"P did not listen: {first!r} {err.strip()[-2000:]}")
        address = first.split()[1]
        n_out = run("node", "connect", address, "3", "30000", *(m.hex() for m in live_msgs))
        server.wait(timeout=STEP_TIMEOUT)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.stderr is not None
    p_err = server.stderr.read()
    assert server.returncode == 0, f"P serve failed ({server.returncode}): {p_err.strip()[-2000:]}"
    p_out = []
    while (line := lines.get(timeout=5)) is not None:
        if line.strip():
            p_out.append(line.split())
    print("  py serve + node connect: ok", flush=True)

    (protocol,) = field(n_out, "PROTOCOL")
    assert protocol.startswith("Noise_XX"), f"first contact ran {protocol}"
    assert field(n_out, "CHANNEL_PEER") == [ident["py"]], "N's channel is not authenticated as P"
    assert field(n_out, "SENT") == ["live"] * 3, f"N's sends: {field(n_out, 'SENT')}"
    assert field(p_out, "SENT") == ["live"] * 3, f"P's answers: {field(p_out, 'SENT')}"
    p_got, n_got = msgs(p_out), msgs(n_out)
    assert [(s, m) for s, _, m in p_got] == [(peer["node"], m) for m in live_msgs], (
        "P: not exactly N's 3 messages"
    )
    assert len({i for _, i, _ in p_got}) == 3, "P: inbox ids not distinct"
    assert [(s, m) for s, _, m in n_got] == [(peer["py"], b"re:" + m) for m in live_msgs], (
        "N: not exactly P's 3 answers"
    )
    assert field(p_out, "PENDING") == ["0"], "P's answers were not all acknowledged"
    assert field(n_out, "PENDING") == ["0"], "N's messages were not all acknowledged"

    # 3. P offline: C (first contact, through the relay) and N (no live channel) write to P.
    c_msgs = [b"from C #1", b"from C #2 " + b"x" * 500, b"from C #3 " + b"y" * 5000]
    n_msgs = [b"from N #4", b"from N #5 " + b"z" * 3000]
    out = run("c", "send", ident["py"], *(m.hex() for m in c_msgs))
    assert field(out, "SENT") == ["relay"] * 3, f"C's sends: {out}"
    out = run("node", "send", ident["py"], *(m.hex() for m in n_msgs))
    assert field(out, "SENT") == ["relay"] * 2, f"N's sends: {out}"

    # 4. P restarts: all 5 exactly once, per sender in order; the extra receive brings nothing.
    got = msgs(run("py", "receive", "5", "20000"))
    assert len(got) == 5, f"P received {len(got)} messages, expected 5"
    assert [m for s, _, m in got if s == peer["c"]] == c_msgs, "P: C's messages"
    assert [m for s, _, m in got if s == peer["node"]] == n_msgs, "P: N's messages"
    assert len({i for _, i, _ in got}) == 5, "P: inbox ids not distinct"
    # and again after another restart: everything was acknowledged
    assert msgs(run("py", "receive", "0", "0")) == [], "P: a message came back after its ack"

    # 5. P answers C through the relay; C reopens and receives it exactly once.
    answer = b"P to C, through the relay"
    out = run("py", "send", ident["c"], answer.hex())
    assert field(out, "SENT") == ["relay"], f"P's answer: {out}"
    got = msgs(run("c", "receive", "1", "20000"))
    assert [(s, m) for s, _, m in got] == [(peer["py"], answer)], f"C received {got}"
    assert msgs(run("c", "receive", "0", "0")) == [], "C: the answer came back after its ack"

    print("agent cross-language: init x3, live 3+3 (N->P Noise XX), relay 3 (C->P) + 2 (N->P) "
          "after P's restart, 1 (P->C): each delivered exactly once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
