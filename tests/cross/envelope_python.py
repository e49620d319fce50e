"""Cross-language envelope round trip, Python's turns (see run.sh).

first DIR: create a root-key keyring and two recipient identities (for Node and C), seal
           obj1 to the keyring and both recipients, write everything to DIR.
last DIR:  open what Node (obj2, obj3), C (obj4) and the CLI (obj5) sealed.
"""
import hashlib
import pathlib
import sys

import sealwire

CTX = {"agent": "alice", "kind": "memory", "object": "cross/1"}
MIN = dict(memory_kib=19456, iterations=2, lanes=1)


def payload(n: int, seed: bytes) -> bytes:
    out = bytearray()
    block = seed
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


def main() -> None:
    step, d = sys.argv[1], pathlib.Path(sys.argv[2])
    root = sealwire.RootKey.from_hex((d / "root.hex").read_text().strip())
    if step == "first":
        ring = sealwire.Keyring()
        ring.create_key("memories")
        ring.save(d / "ring.swkr", root_key=root)
        node_id, c_id = sealwire.Identity.generate(), sealwire.Identity.generate()
        (d / "node.swk").write_bytes(node_id.export("node-pass", **MIN))
        (d / "c.swk").write_bytes(c_id.export("c-pass", **MIN))
        (d / "c.pub").write_bytes(c_id.public.to_bytes())
        obj1 = payload(300_000, b"obj1")
        (d / "obj1.plain").write_bytes(obj1)
        sealed = sealwire.seal(obj1, to=[ring, node_id.public, c_id.public], context=CTX)
        (d / "obj1.swev").write_bytes(sealed)
        print("python: sealed obj1 (300 kB) to the keyring, Node's and C's identities")
    else:
        ring = sealwire.Keyring.load(d / "ring.swkr", root_key=root)
        for name in ("obj2", "obj3", "obj4", "obj5"):
            got = sealwire.unseal((d / f"{name}.swev").read_bytes(), keys=[ring], context=CTX)
            assert got == (d / f"{name}.plain").read_bytes(), name
        try:
            sealwire.unseal((d / "obj2.swev").read_bytes(), keys=[ring], context={**CTX, "object": "other"})
            raise SystemExit("python: wrong context accepted")
        except sealwire.ContextMismatchError:
            pass
        print("python: opened Node's obj2 (AES-256-GCM) and obj3 (stream), C's obj4 and the CLI's obj5")


if __name__ == "__main__":
    main()
