"""Cross-language Noise: a Python initiator against a Node responder and a C responder.

Each responder runs as a child process; handshake and transport messages cross its stdin and
stdout as length-prefixed frames (u32 big-endian). For each protocol the driver checks: the
handshake completes, both sides have the same handshake hash (channel binding), first-contact
identities are verified both ways (XX), transport messages decrypt both ways, a payload larger
than one Noise message goes through the framing helper, and a tampered message is refused.

Usage: noise_driver.py NODE_RESPONDER C_RESPONDER
"""
from __future__ import annotations

import struct
import subprocess
import sys

import sealwire

PROTOCOLS = [
    "Noise_IK_25519_ChaChaPoly_BLAKE2s",
    "Noise_XX_25519_AESGCM_SHA256",
    "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_SHA256",
    "Noise_XXhfs_25519+MLKEM768_AESGCM_BLAKE2b",
]


class Peer:
    def __init__(self, argv: list[str], protocol: str) -> None:
        self.proc = subprocess.Popen(argv + [protocol], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(struct.pack(">I", len(data)) + data)
        self.proc.stdin.flush()

    def recv(self) -> bytes:
        assert self.proc.stdout is not None
        head = self.proc.stdout.read(4)
        if len(head) != 4:
            raise SystemExit(f"responder exited early (code {self.proc.wait()})")
        (n,) = struct.unpack(">I", head)
        body = self.proc.stdout.read(n)
        assert len(body) == n
        return body

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=30)
        if code != 0:
            raise SystemExit(f"responder failed with exit code {code}")


def run(name: str, argv: list[str], protocol: str) -> None:
    me = sealwire.Identity.generate()
    peer = Peer(argv, protocol)
    # The responder announces its public identity (as a directory would publish it).
    responder = sealwire.PublicIdentity.from_bytes(peer.recv())
    xx = "_XX" in protocol
    hs = sealwire.NoiseHandshake(protocol, initiator=True, identity=me, remote=None if xx else responder)
    verified = None
    while not hs.is_finished:
        if hs.is_my_turn:
            # In XX our identity goes in message 3 (encrypted); IK carries it in message 1.
            payload = sealwire.noise_identity_payload(me) if (not xx or hs.remote_static is not None) else b""
            peer.send(hs.write_message(payload))
        else:
            payload = hs.read_message(peer.recv())
            if payload:
                verified = hs.verify_identity_payload(payload)
    assert verified == responder, f"{name}: responder identity not verified"
    hash_ = hs.handshake_hash
    t = hs.into_transport()
    assert peer.recv() == hash_, f"{name}: handshake hashes differ"
    # The responder tells us (encrypted) which did it verified for us.
    assert t.decrypt(peer.recv()).decode() == me.public.did, f"{name}: responder verified the wrong identity"
    for i in range(3):
        msg = f"message {i} from python over {protocol}".encode()
        peer.send(t.encrypt(msg))
        assert t.decrypt(peer.recv()) == b"echo:" + msg[::-1]
    big = bytes(range(256)) * 600  # 153,600 bytes: more than two Noise messages
    peer.send(t.encrypt_framed(big))
    assert t.decrypt_framed(peer.recv()) == big[::-1]
    bad = bytearray(t.encrypt(b"tamper me"))
    bad[-1] ^= 1
    peer.send(bytes(bad))
    assert peer.recv() == b"refused:ERR_SEALWIRE_DECRYPTION_FAILED", f"{name}: tampered message accepted"
    peer.close()
    print(f"  ok  python initiator <-> {name} responder: {protocol}")


def main() -> None:
    responders = {"node": ["node", sys.argv[1]], "c": [sys.argv[2]]}
    count = 0
    for name, argv in responders.items():
        for protocol in PROTOCOLS:
            run(name, argv, protocol)
            count += 1
    print(f"noise cross-language: {count} passed, 0 failed")


if __name__ == "__main__":
    main()
