"""Cross-language ratchet steps, Python's program (contract: notes RATCHET_CROSS.md).

Usage: ratchet_step.py IN.json OUT.json

IN.json names an "action" (prekeys, initiate, accept, continue) and carries a 32-byte
"storage_key"; every byte string is lowercase hex; identities are
{"ed25519_seed", "x25519_secret"}. OUT.json holds sealed state (SWPS / SWSS blobs under the
storage key), generations and per-op results. Only the binding's public API is used.

On any error: a message on stderr, exit status 1, and no OUT file.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

import sealwire
from sealwire import Identity, PrekeyBundle, PrekeyStore, RatchetSession

HEX = re.compile(r"(?:[0-9a-f]{2})*")


class InputError(Exception):
    pass


def unhex(doc: dict[str, Any], key: str) -> bytes:
    value = doc.get(key)
    if not isinstance(value, str) or HEX.fullmatch(value) is None:
        raise InputError(f"{key!r} must be a lowercase hex string")
    return bytes.fromhex(value)


def integer(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"{key!r} must be a non-negative integer")
    return value


def boolean(doc: dict[str, Any], key: str) -> bool:
    value = doc.get(key)
    if not isinstance(value, bool):
        raise InputError(f"{key!r} must be true or false")
    return value


def identity(doc: dict[str, Any]) -> Identity:
    v = doc.get("identity")
    if not isinstance(v, dict):
        raise InputError("'identity' must be an object")
    return Identity.from_secret_bytes(unhex(v, "ed25519_seed"), unhex(v, "x25519_secret"))


def apply_ops(session: RatchetSession, doc: dict[str, Any]) -> list[dict[str, str]]:
    ops = doc.get("ops")
    if not isinstance(ops, list):
        raise InputError("'ops' must be a list")
    results = []
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise InputError(f"ops[{i}] must be an object")
        kind = op.get("op")
        if kind == "encrypt":
            results.append({"message": session.encrypt(unhex(op, "plaintext")).hex()})
        elif kind == "decrypt":
            results.append({"plaintext": session.decrypt(unhex(op, "message")).hex()})
        else:
            raise InputError(f"ops[{i}]: unknown op {kind!r}")
    return results


def run(doc: dict[str, Any]) -> dict[str, Any]:
    key = unhex(doc, "storage_key")
    if len(key) != 32:
        raise InputError("'storage_key' must be 32 bytes")
    action = doc.get("action")
    if action == "prekeys":
        n = integer(doc, "one_time_prekeys")
        store = PrekeyStore.generate(
            identity(doc),
            one_time_prekeys=n,
            post_quantum=boolean(doc, "post_quantum"),
            now=integer(doc, "now"),
        )
        return {"prekey_store": store.seal(key).hex(), "bundle": store.bundle().to_bytes().hex()}
    if action == "initiate":
        bundle = PrekeyBundle.from_bytes(unhex(doc, "peer_bundle"))
        session = RatchetSession.initiate(
            identity(doc),
            bundle.identity,
            bundle,
            header_encryption=boolean(doc, "header_encryption"),
        )
        results = apply_ops(session, doc)
        return {"session": session.seal(key).hex(), "generation": session.generation, "results": results}
    if action == "accept":
        me = identity(doc)
        store = PrekeyStore.open(unhex(doc, "prekey_store"), key, integer(doc, "prekey_generation"))
        session, plaintext = RatchetSession.accept(me, store, unhex(doc, "initial_message"))
        results = [{"plaintext": plaintext.hex()}, *apply_ops(session, doc)]
        return {
            "session": session.seal(key).hex(),
            "generation": session.generation,
            "prekey_store": store.seal(key).hex(),
            "prekey_generation": store.generation,
            "results": results,
        }
    if action == "continue":
        session = RatchetSession.open(unhex(doc, "session"), key, integer(doc, "generation"))
        results = apply_ops(session, doc)
        return {"session": session.seal(key).hex(), "generation": session.generation, "results": results}
    raise InputError(f"unknown action {action!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: ratchet_step.py IN.json OUT.json", file=sys.stderr)
        return 1
    _, in_path, out_path = argv
    try:
        with open(in_path, encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict):
            raise InputError("IN.json must hold an object")
        out = run(doc)
    except (OSError, ValueError, InputError, sealwire.SealwireError) as e:
        code = getattr(e, "code", None)
        print(f"ratchet_step.py: {type(e).__name__}{f' ({code})' if code else ''}: {e}", file=sys.stderr)
        return 1
    # Written to a temporary name and renamed: OUT exists only when complete.
    tmp = f"{out_path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(out, f)
        os.replace(tmp, out_path)
    except OSError as e:
        print(f"ratchet_step.py: cannot write {out_path}: {e}", file=sys.stderr)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
