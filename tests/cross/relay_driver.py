"""Cross-language agents through one relay: a Python, a Node and a C agent, each a separate
process per step (so no two are ever online at the same time), exchange messages through a
`sealwire relay` on 127.0.0.1. The per-language programs are tests/cross/relay_python.py,
relay_node.mjs and the compiled relay_c.c; their contract is at the top of each file:

    PROGRAM RELAY_URL HOME_DIR STORAGE_KEY_HEX init            -> prints the public identity (hex)
    PROGRAM RELAY_URL HOME_DIR STORAGE_KEY_HEX send PEER_IDENTITY_HEX TEXT...
    PROGRAM RELAY_URL HOME_DIR STORAGE_KEY_HEX receive N       -> "FROM_PEER_ID_HEX TEXT" lines

Usage: relay_driver.py RELAY_URL WORKDIR LANG=COMMAND... (e.g. python="/venv/bin/python relay_python.py")
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys


def main() -> int:
    url, work = sys.argv[1], sys.argv[2]
    progs = {}
    for spec in sys.argv[3:]:
        lang, cmd = spec.split("=", 1)
        progs[lang] = shlex.split(cmd)
    key = os.urandom(32).hex()

    def run(lang: str, *args: str) -> list[str]:
        home = os.path.join(work, lang)
        os.makedirs(home, exist_ok=True)
        p = subprocess.run(progs[lang] + [url, home, key, *args], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"{lang} {' '.join(args[:2])} failed ({p.returncode}): {p.stderr.strip()}")
        return [line for line in p.stdout.splitlines() if line.strip()]

    ident = {lang: run(lang, "init")[-1].strip() for lang in progs}
    # peer id = Ed25519 key = bytes 5..37 of the SWPI encoding (magic 4, version 1)
    peer_id = {lang: ident[lang][10:74] for lang in progs}
    langs = list(progs)
    expected: dict[str, list[tuple[str, str]]] = {lang: [] for lang in langs}
    sent = 0
    # Every ordered pair: the sender sends two messages while the recipient is offline.
    for rnd in range(2):
        for a in langs:
            for b in langs:
                if a == b:
                    continue
                texts = [f"{a}-to-{b}-r{rnd}-m{i}" for i in range(2)]
                run(a, "send", ident[b], *texts)
                expected[b] += [(peer_id[a], t) for t in texts]
                sent += len(texts)
        # Each recipient comes online alone and reads everything waiting for it.
        for b in langs:
            want = expected[b]
            got = [tuple(line.split(" ", 1)) for line in run(b, "receive", str(len(want)))]
            for sender in {s for s, _ in want}:
                exp = [t for s, t in want if s == sender]
                have = [t for s, t in got if s == sender]
                assert have == exp, f"{b} from {sender[:8]}: {have} != {exp}"
            assert len(got) == len(want), f"{b}: {len(got)} messages, expected {len(want)}"
            expected[b] = []
    print(f"relay cross-language: {sent} messages between {', '.join(langs)}, each delivered once, in order per sender")
    return 0


if __name__ == "__main__":
    sys.exit(main())
