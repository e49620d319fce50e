#!/usr/bin/env python3
"""Independent check of tests/vectors/noise-hfs.json, written from the Noise rev 34 and HFS
rev 1 texts with pyca/cryptography (OpenSSL: X25519, AEADs, ML-KEM-768) and hashlib/hmac.

It replays every vector from the initiator's side: it rebuilds each initiator message from the
fixed keys and KEM seed and compares the bytes; it reads each responder message, which only
succeeds if the responder derived the same keys (including the ML-KEM shared secret, obtained
here by decapsulating the ciphertext in ekem1); then it checks the handshake hash and every
transport message. No sealwire code is used.

    python3 tests/vectors/check_noise_hfs.py [tests/vectors/noise-hfs.json]
"""
import hashlib
import hmac
import json
import sys

from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

HASHES = {"SHA256": hashlib.sha256, "SHA512": hashlib.sha512, "BLAKE2s": hashlib.blake2s, "BLAKE2b": hashlib.blake2b}
PATTERNS = {  # from DESIGN.md / HFS rev 1 section 5 text
    "XXhfs": (False, [["e", "e1"], ["e", "ee", "ekem1", "s", "es"], ["s", "se"]]),
    "IKhfs": (True, [["e", "es", "e1", "s", "ss"], ["e", "ee", "ekem1", "se"]]),
}
KEM_PUB, KEM_CT = 1184, 1088


class Cipher:
    def __init__(self, name):
        self.name, self.k, self.n = name, None, 0

    def _aead(self):
        return ChaCha20Poly1305(self.k) if self.name == "ChaChaPoly" else AESGCM(self.k)

    def _nonce(self, n):
        return b"\0" * 4 + (n.to_bytes(8, "little") if self.name == "ChaChaPoly" else n.to_bytes(8, "big"))

    def enc(self, ad, pt):
        if self.k is None:
            return pt
        out = self._aead().encrypt(self._nonce(self.n), pt, ad)
        self.n += 1
        return out

    def dec(self, ad, ct):
        if self.k is None:
            return ct
        out = self._aead().decrypt(self._nonce(self.n), ct, ad)
        self.n += 1
        return out


class Symmetric:
    def __init__(self, name, cipher, hash_name):
        self.H = HASHES[hash_name]
        self.hlen = self.H().digest_size
        raw = name.encode()
        self.h = raw.ljust(self.hlen, b"\0") if len(raw) <= self.hlen else self.H(raw).digest()
        self.ck = self.h
        self.c = Cipher(cipher)
        self.cipher = cipher

    def hkdf(self, ikm, n):
        temp = hmac.new(self.ck, ikm, self.H).digest()
        outs, prev = [], b""
        for i in range(1, n + 1):
            prev = hmac.new(temp, prev + bytes([i]), self.H).digest()
            outs.append(prev)
        return outs

    def mix_hash(self, data):
        self.h = self.H(self.h + data).digest()

    def mix_key(self, ikm):
        self.ck, k = self.hkdf(ikm, 2)
        self.c.k, self.c.n = k[:32], 0

    def enc_hash(self, pt):
        ct = self.c.enc(self.h, pt)
        self.mix_hash(ct)
        return ct

    def dec_hash(self, ct):
        pt = self.c.dec(self.h, ct)
        self.mix_hash(ct)
        return pt


def dh(priv, pub):
    return priv.exchange(X25519PublicKey.from_public_bytes(pub))


def pub(priv):
    return priv.public_key().public_bytes_raw()


def check(v):
    _, pattern, dhname, cipher, hash_name = v["protocol_name"].split("_")
    assert dhname == "25519+MLKEM768"
    pre_rs, messages = PATTERNS[pattern]
    x = lambda key: bytes.fromhex(v[key])
    st = Symmetric(v["protocol_name"], cipher, hash_name)
    st.mix_hash(x("init_prologue"))
    s = X25519PrivateKey.from_private_bytes(x("init_static"))
    e = X25519PrivateKey.from_private_bytes(x("init_ephemeral"))
    rs = x("init_remote_static") if pre_rs else None
    if pre_rs:
        st.mix_hash(rs)
    kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(x("init_kem_seed"))
    re = None
    for i, tokens in enumerate(messages):
        msg = bytes.fromhex(v["messages"][i]["ciphertext"])
        payload = bytes.fromhex(v["messages"][i]["payload"])
        if i % 2 == 0:  # we write: rebuild and compare
            out = b""
            for t in tokens:
                if t == "e":
                    out += pub(e)
                    st.mix_hash(pub(e))
                elif t == "s":
                    out += st.enc_hash(pub(s))
                elif t == "e1":
                    out += st.enc_hash(kem.public_key().public_bytes_raw())
                elif t == "es":
                    st.mix_key(dh(e, rs))
                elif t == "ss":
                    st.mix_key(dh(s, rs))
                elif t == "se":
                    st.mix_key(dh(s, re))
                else:
                    raise ValueError(t)
            out += st.enc_hash(payload)
            assert out == msg, f"{v['protocol_name']}: message {i} differs"
        else:  # the responder wrote: read it
            pos = 0
            tag = lambda: 16 if st.c.k is not None else 0
            for t in tokens:
                if t == "e":
                    re = msg[pos:pos + 32]
                    pos += 32
                    st.mix_hash(re)
                elif t == "ee":
                    st.mix_key(dh(e, re))
                elif t == "ekem1":
                    n = KEM_CT + tag()
                    ct = st.dec_hash(msg[pos:pos + n])
                    pos += n
                    st.mix_key(kem.decapsulate(ct))
                elif t == "s":
                    n = 32 + tag()
                    rs = st.dec_hash(msg[pos:pos + n])
                    pos += n
                    assert rs == pub(X25519PrivateKey.from_private_bytes(x("resp_static")))
                elif t == "es":
                    st.mix_key(dh(e, rs))
                elif t == "se":
                    st.mix_key(dh(s, re))
                else:
                    raise ValueError(t)
            assert st.dec_hash(msg[pos:]) == payload, f"{v['protocol_name']}: payload {i}"
    assert st.h.hex() == v["handshake_hash"], f"{v['protocol_name']}: handshake hash"
    k1, k2 = st.hkdf(b"", 2)
    send, recv = Cipher(cipher), Cipher(cipher)
    send.k, recv.k = k1[:32], k2[:32]
    for i in range(len(messages), len(v["messages"])):
        m = v["messages"][i]
        payload, ct = bytes.fromhex(m["payload"]), bytes.fromhex(m["ciphertext"])
        if i % 2 == 0:
            assert send.enc(b"", payload) == ct, f"{v['protocol_name']}: transport {i}"
        else:
            assert recv.dec(b"", ct) == payload, f"{v['protocol_name']}: transport {i}"


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/vectors/noise-hfs.json"
    vectors = json.load(open(path))["vectors"]
    for v in vectors:
        check(v)
    print(f"{len(vectors)} passed, 0 failed")


if __name__ == "__main__":
    main()
