"""Cross-language identity round trip, Python's turns.

Usage: step_python.py first DIR   — create Alice, export her, sign two messages
       step_python.py last DIR    — check what Node and C produced
"""
import pathlib
import sys

import sealwire

MIN = dict(memory_kib=19456, iterations=2, lanes=1)


def main() -> None:
    step, d = sys.argv[1], pathlib.Path(sys.argv[2])
    if step == "first":
        alice = sealwire.Identity.generate()
        (d / "alice.swk").write_bytes(alice.export("pässwörd-α", **MIN))
        (d / "alice.pub").write_bytes(alice.public.to_bytes())
        (d / "msg1").write_bytes(b"from python: hello node, hello c")
        (d / "alice.msg1.sig").write_bytes(alice.sign((d / "msg1").read_bytes()))
        (d / "msg3").write_bytes(b"deterministic signatures agree everywhere")
        (d / "alice.msg3.sig.py").write_bytes(alice.sign((d / "msg3").read_bytes()))
        (d / "alice.did.py").write_text(alice.public.did)
        (d / "alice.fp.py").write_text(alice.public.fingerprint)
        print("python: created alice, exported, signed msg1 and msg3")
    else:
        bob = sealwire.PublicIdentity.from_bytes((d / "bob.pub").read_bytes())
        bob.verify((d / "msg2").read_bytes(), (d / "bob.msg2.sig").read_bytes())
        try:
            bob.verify(b"tampered", (d / "bob.msg2.sig").read_bytes())
            raise SystemExit("python: tampered message verified")
        except sealwire.SignatureError:
            pass
        for lang in ("node", "c"):
            assert (d / f"alice.did.{lang}").read_text() == (d / "alice.did.py").read_text(), lang
            assert (d / f"alice.fp.{lang}").read_text() == (d / "alice.fp.py").read_text(), lang
            assert (d / f"alice.msg3.sig.{lang}").read_bytes() == (d / "alice.msg3.sig.py").read_bytes(), lang
        assert (d / "bob.did.c").read_text() == bob.did
        print("python: verified Bob's (Node) signature; did, fingerprint and signatures identical in Python, Node and C")


if __name__ == "__main__":
    main()
