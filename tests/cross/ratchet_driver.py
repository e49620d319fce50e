"""Cross-language ratchet sessions: one conversation whose two ends move between Python, Node
and C after every few messages, carried only by sealed state (SWPS / SWSS blobs under a
storage key) — the programs are tests/cross/ratchet_step.{py,mjs,c}, contract in their
docstrings. Checks every plaintext, out-of-order delivery across languages, and that each
language refuses a stale snapshot (an older generation than expected).

Usage: ratchet_driver.py PYTHON NODE C_PROGRAM WORKDIR
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

STEP_DIR = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    python, node, c_prog, work = sys.argv[1:5]
    progs = {
        "python": [python, os.path.join(STEP_DIR, "ratchet_step.py")],
        "node": [node, os.path.join(STEP_DIR, "ratchet_step.mjs")],
        "c": [c_prog],
    }
    counter = [0]

    def run(lang: str, request: dict[str, Any], expect_fail: bool = False) -> dict[str, Any]:
        counter[0] += 1
        inp = os.path.join(work, f"r{counter[0]}.in.json")
        out = os.path.join(work, f"r{counter[0]}.out.json")
        with open(inp, "w") as f:
            json.dump(request, f)
        p = subprocess.run(progs[lang] + [inp, out], capture_output=True, text=True)
        if expect_fail:
            if p.returncode == 0 or os.path.exists(out):
                raise AssertionError(f"{lang} {request['action']}: expected a refusal, got success")
            return {}
        if p.returncode != 0:
            raise AssertionError(f"{lang} {request['action']} failed: {p.stderr.strip()}")
        with open(out) as f:
            return json.load(f)

    def ident(seed: int) -> dict[str, str]:
        return {"ed25519_seed": (bytes([seed]) * 32).hex(),
                "x25519_secret": (bytes([seed + 1]) * 32).hex()}

    key = os.urandom(32).hex()
    alice, bob = ident(0x11), ident(0x21)
    orders = {
        "python->node->c": ["python", "node", "c"],
        "c->node->python": ["c", "node", "python"],
    }
    checked = 0
    for name, langs in orders.items():
        for pq in (True, False):
            for he in (True, False):
                tag = f"{name} pq={pq} he={he}"
                L = lambda i: langs[i % 3]  # noqa: E731
                msg = lambda s: s.encode().hex()  # noqa: E731
                pre = run(L(2), {"action": "prekeys", "storage_key": key, "identity": bob,
                                 "one_time_prekeys": 3, "post_quantum": pq, "now": 1_750_000_000})
                # Alice starts in L(0): two messages while Bob is offline.
                a = run(L(0), {"action": "initiate", "storage_key": key, "identity": alice,
                               "peer_bundle": pre["bundle"], "header_encryption": he,
                               "ops": [{"op": "encrypt", "plaintext": msg("m1")},
                                       {"op": "encrypt", "plaintext": msg("m2")}]})
                m1, m2 = (r["message"] for r in a["results"])
                # Bob accepts in L(1), reads m2, replies.
                b = run(L(1), {"action": "accept", "storage_key": key, "identity": bob,
                               "prekey_store": pre["prekey_store"], "prekey_generation": 0,
                               "initial_message": m1,
                               "ops": [{"op": "decrypt", "message": m2},
                                       {"op": "encrypt", "plaintext": msg("r1")}]})
                assert [r.get("plaintext") for r in b["results"][:2]] == [msg("m1"), msg("m2")], tag
                r1 = b["results"][2]["message"]
                a_state, b_state = (a["session"], a["generation"]), (b["session"], b["generation"])
                a_plain: list[str] = []
                b_plain: list[str] = []
                # Six more rounds; each side moves to the next language every round.
                for rnd in range(6):
                    la, lb = L(rnd + 1), L(rnd + 2)
                    ops = [{"op": "decrypt", "message": r1}] if rnd == 0 else [
                        {"op": "decrypt", "message": m} for m in pending_for_a]
                    ops += [{"op": "encrypt", "plaintext": msg(f"a{rnd}.{i}")} for i in range(3)]
                    a = run(la, {"action": "continue", "storage_key": key, "session": a_state[0],
                                 "generation": a_state[1], "ops": ops})
                    n_dec = len(ops) - 3
                    a_plain += [r["plaintext"] for r in a["results"][:n_dec]]
                    sent = [r["message"] for r in a["results"][n_dec:]]
                    # Stale snapshot: the state from before this round, claimed as current.
                    run(lb, {"action": "continue", "storage_key": key, "session": a_state[0],
                             "generation": a["generation"], "ops": []}, expect_fail=True)
                    a_state = (a["session"], a["generation"])
                    # Bob reads Alice's three out of order, replies twice.
                    bops = [{"op": "decrypt", "message": sent[i]} for i in (2, 0, 1)]
                    bops += [{"op": "encrypt", "plaintext": msg(f"b{rnd}.{i}")} for i in range(2)]
                    b = run(lb, {"action": "continue", "storage_key": key, "session": b_state[0],
                                 "generation": b_state[1], "ops": bops})
                    got = [r["plaintext"] for r in b["results"][:3]]
                    assert got == [msg(f"a{rnd}.{i}") for i in (2, 0, 1)], (tag, rnd, got)
                    b_plain += got
                    pending_for_a = [r["message"] for r in b["results"][3:]]
                    b_state = (b["session"], b["generation"])
                    if rnd > 0:
                        assert a_plain[-2:] == [msg(f"b{rnd - 1}.{i}") for i in range(2)], (tag, rnd)
                    checked += 1
                assert a_plain[0] == msg("r1"), tag
                print(f"  ok  ratchet {tag}: {len(a_plain) + len(b_plain) + 2} messages across languages")
    print(f"ratchet cross-language: {checked} rounds checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
