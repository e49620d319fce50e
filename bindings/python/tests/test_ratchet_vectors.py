"""tests/vectors/ratchet.json through the Python binding.

* Every case is replayed step by step exactly like ``core/tests/ratchet_vectors.rs``: each
  recorded random input goes back in through the private ``_random`` hook, and every
  bundle, message, plaintext, sealed blob, generation and error code must match.
* The ``kdf`` section is recomputed independently with pyca/cryptography (HKDF, HMAC) and
  hashlib from the constructions written in docs/FORMATS.md ("KDF info strings and every
  derivation"), and the padding lengths from its PADMÉ definition: the binding exposes no
  KDF, so this checks the document and the core against each other.
* For the X3DH cases, the first sending chain of each side is decrypted with pyca alone
  (X25519, HKDF, HMAC, ChaCha20-Poly1305) from the private keys the file records: X3DH,
  the ratchet initialisation, one DH ratchet step, the message AAD and the padding.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import sealwire
from conftest import VECTORS_DIR
from sealwire import Identity, PrekeyBundle, PrekeyStore, RatchetSession

DOC: dict[str, Any] = json.loads((VECTORS_DIR / "ratchet.json").read_text(encoding="utf-8"))
STORAGE_KEY = bytes.fromhex(DOC["storage_key"])
# What the Rust replay asserts about the file itself.
EXPECTED_CASES = 5
AGREEMENT = {"X3dh": "X3DH", "Pqxdh": "PQXDH"}  # the file's names → the binding's


def h(v: str) -> bytes:
    return bytes.fromhex(v)


def identity(name: str) -> Identity:
    v = next(i for i in DOC["identities"] if i["name"] == name)
    ident = Identity.from_secret_bytes(h(v["ed25519_seed"]), h(v["x25519_secret"]))
    assert ident.public.to_bytes() == h(v["public_identity"])
    return ident


ALICE = identity("alice")
BOB = identity("bob")


def test_the_file_has_every_case() -> None:
    assert len(DOC["cases"]) == EXPECTED_CASES
    assert DOC["format_version"] == 1


@pytest.mark.parametrize("case", DOC["cases"], ids=lambda c: str(c["name"]))
def test_session_vectors_replay(case: dict[str, Any]) -> None:
    name = case["name"]
    o = case["prekey_options"]
    store = PrekeyStore.generate(
        BOB,
        one_time_prekeys=o["one_time_prekeys"],
        kem_one_time_prekeys=o["kem_one_time_prekeys"],
        post_quantum=o["post_quantum"],
        now=case["now_unix"],
        _random=h(case["store_random"]),
    )
    assert store.bundle().to_bytes() == h(case["published_bundle"]), name
    bundle = PrekeyBundle.from_bytes(h(case["bundle"]))
    a = RatchetSession.initiate(
        ALICE,
        BOB.public,
        bundle,
        header_encryption=case["header_encryption"],
        _random=h(case["initiate_random"]),
    )
    assert a.key_agreement == AGREEMENT[case["key_agreement"]], name
    assert a.header_encryption == case["header_encryption"]
    assert a.is_initiator and a.peer_identity == BOB.public and a.local_identity == ALICE.public
    b: RatchetSession | None = None

    counts: dict[str, int] = {}
    for i, step in enumerate(case["steps"]):
        ctx = f"{name} step {i}"
        op = step["op"]
        counts[op] = counts.get(op, 0) + 1
        if op == "accept":
            accepted, pt = RatchetSession.accept(
                BOB, store, h(step["message"]), _random=h(step["random"])
            )
            assert pt == h(step["plaintext"]), ctx
            assert accepted.session_id == h(case["session_id"]), ctx
            assert not accepted.is_initiator and accepted.peer_identity == ALICE.public, ctx
            b = accepted
        elif op == "accept_error":
            with pytest.raises(sealwire.SealwireError) as info:
                RatchetSession.accept(BOB, store, h(step["message"]))
            assert info.value.code == step["error"], ctx
        elif op == "seal_store":
            assert store.generation == step["generation"], ctx
            blob = store.seal(STORAGE_KEY, _random=h(step["random"]))
            assert blob == h(step["blob"]), ctx
            back = PrekeyStore.open(blob, STORAGE_KEY, expected_generation=store.generation)
            assert back.bundle() == store.bundle(), ctx
        else:
            s = a if step["party"] == "alice" else b
            assert s is not None, ctx
            if op == "encrypt":
                m = s.encrypt(h(step["plaintext"]), _random=h(step["random"]))
                assert m == h(step["message"]), ctx
            elif op == "decrypt":
                pt = s.decrypt(h(step["message"]), _random=h(step["random"]))
                assert pt == h(step["plaintext"]), ctx
            elif op == "decrypt_error":
                # No randomness may be consumed by a rejected message, and the session
                # must not change: its sealed form under a fixed nonce stays identical.
                nonce = bytes(24)
                before = (s.generation, s.seal(STORAGE_KEY, _random=nonce))
                with pytest.raises(sealwire.SealwireError) as info:
                    s.decrypt(h(step["message"]), _random=b"")
                assert info.value.code == step["error"], ctx
                assert (s.generation, s.seal(STORAGE_KEY, _random=nonce)) == before, ctx
            elif op == "seal_session":
                assert s.generation == step["generation"], ctx
                blob = s.seal(STORAGE_KEY, _random=h(step["random"]))
                assert blob == h(step["blob"]), ctx
                reopened = RatchetSession.open(blob, STORAGE_KEY, s.generation)
                assert reopened.session_id == s.session_id, ctx
                assert reopened.generation == s.generation, ctx
            else:  # pragma: no cover - a new op in the file must be replayed here too
                pytest.fail(f"{ctx}: unknown op {op}")
    # Every step ran (the same counts the file lists).
    assert sum(counts.values()) == len(case["steps"])
    assert counts["accept"] == 1 and counts["encrypt"] >= 1 and counts["decrypt"] >= 1
    assert b is not None


def test_random_hook_must_be_consumed_exactly() -> None:
    case = DOC["cases"][0]
    o = case["prekey_options"]
    kwargs: dict[str, Any] = {
        "one_time_prekeys": o["one_time_prekeys"],
        "kem_one_time_prekeys": o["kem_one_time_prekeys"],
        "post_quantum": o["post_quantum"],
        "now": case["now_unix"],
    }
    tape = h(case["store_random"])
    with pytest.raises(sealwire.ParameterError):
        PrekeyStore.generate(BOB, **kwargs, _random=tape + b"\x00")
    with pytest.raises(sealwire.ParameterError):
        PrekeyStore.generate(BOB, **kwargs, _random=tape[:-1])
    store = PrekeyStore.generate(BOB, **kwargs, _random=tape)
    bundle = PrekeyBundle.from_bytes(h(case["bundle"]))
    a = RatchetSession.initiate(ALICE, BOB.public, bundle, _random=h(case["initiate_random"]))
    # encrypt with a nonce left over: refused, and the session is as it was.
    step = case["steps"][0]
    assert step["op"] == "encrypt" and step["party"] == "alice"
    with pytest.raises(sealwire.ParameterError):
        a.encrypt(h(step["plaintext"]), _random=h(step["random"]) + b"\x01")
    assert a.generation == 0
    assert a.encrypt(h(step["plaintext"]), _random=h(step["random"])) == h(step["message"])
    # accept with a byte left over: refused, and no prekey consumed.
    accept = next(s for s in case["steps"] if s["op"] == "accept")
    before = store.one_time_prekey_count, store.generation
    with pytest.raises(sealwire.ParameterError):
        RatchetSession.accept(BOB, store, h(accept["message"]), _random=h(accept["random"]) + b"\x00")
    assert (store.one_time_prekey_count, store.generation) == before
    RatchetSession.accept(BOB, store, h(accept["message"]), _random=h(accept["random"]))
    assert store.generation == before[1] + 1


# --- the KDF section, recomputed from docs/FORMATS.md with pyca/cryptography --------------

ZERO_SALT = bytes(32)
KDF = DOC["kdf"]


def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def test_kdf_agreement_x3dh_and_pqxdh() -> None:
    # HKDF-SHA-256(salt = 0x00×32, IKM = 0xFF×32 ‖ KM, info, L = 96) → SK ‖ hka ‖ nhkb
    for section, info in (
        ("x3dh", b"SEALWIRE_X3DH_CURVE25519_SHA-256_v1"),
        ("pqxdh", b"SEALWIRE_PQXDH_CURVE25519_SHA-256_ML-KEM-768_v1"),
    ):
        v = KDF[section]
        out = hkdf(ZERO_SALT, b"\xff" * 32 + h(v["km"]), info, 96)
        assert out == h(v["sk_hka_nhkb"]), section
        # SK is exactly the specification's 32-byte SK (HKDF blocks do not depend on L).
        assert out[:32] == hkdf(ZERO_SALT, b"\xff" * 32 + h(v["km"]), info, 32)


def test_kdf_root_standard_and_header_encryption() -> None:
    v = KDF["kdf_rk"]
    assert hkdf(h(v["rk"]), h(v["dh_out"]), b"SEALWIRE_DR_ROOT_v1", 64) == h(v["output"])
    v = KDF["kdf_rk_he"]
    assert hkdf(h(v["rk"]), h(v["dh_out"]), b"SEALWIRE_DR_ROOT_HE_v1", 96) == h(v["output"])


def test_kdf_chain_and_message_key() -> None:
    v = KDF["kdf_ck"]
    ck = h(v["ck"])
    assert hmac.new(ck, b"\x01", hashlib.sha256).digest() == h(v["mk"])
    assert hmac.new(ck, b"\x02", hashlib.sha256).digest() == h(v["next_ck"])
    v = KDF["message_key"]
    out = hkdf(ZERO_SALT, h(v["mk"]), b"SEALWIRE_DR_MESSAGE_v1", 44)
    assert (out[:32], out[32:]) == (h(v["key"]), h(v["nonce"]))


def padme_padded_len(n: int) -> int:
    """max(32, PADMÉ(n + 1)) as docs/FORMATS.md defines it."""
    m = n + 1
    e = m.bit_length() - 1
    s = e.bit_length()  # ⌊log2 E⌋ + 1 (E ≥ 1 here)
    mask = (1 << (e - s)) - 1 if e >= s else 0
    return max(32, (m + mask) & ~mask)


def test_padded_lengths() -> None:
    for p in KDF["padded_len"]:
        assert padme_padded_len(p["plaintext_len"]) == p["padded_len"], p


# --- X3DH and the first chain of each side, recomputed with pyca/cryptography -----------
#
# Every private key of a vector case is in the file (the recorded randomness and the
# identities' secrets), so for the X3DH cases the first messages can be decrypted with no
# sealwire code at all: X3DH (DH1..DH3 [DH4]) → SK; Alice's RatchetInitAlice(HE) →
# her first sending chain; Bob's DH ratchet step on receiving it → his first sending chain;
# KDF_CK → message keys; ChaCha20-Poly1305 with AAD = len(AD) ‖ AD ‖ header bytes; PADMÉ
# unpadding. (PQXDH would need ML-KEM, which pyca/cryptography does not offer; header
# decryption would need XChaCha20-Poly1305, which it does not offer either, and is not
# needed to open a body.)

X3DH_CASES = [c for c in DOC["cases"] if c["key_agreement"] == "X3dh"]


def x25519_public(secret: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()


def x25519(secret: bytes, public: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(secret).exchange(
        X25519PublicKey.from_public_bytes(public)
    )


def kdf_rk(rk: bytes, dh_out: bytes, he: bool) -> tuple[bytes, bytes]:
    if he:
        out = hkdf(rk, dh_out, b"SEALWIRE_DR_ROOT_HE_v1", 96)
    else:
        out = hkdf(rk, dh_out, b"SEALWIRE_DR_ROOT_v1", 64)
    return out[:32], out[32:64]


def message_keys(ck: bytes, count: int) -> list[bytes]:
    mks = []
    for _ in range(count):
        mks.append(hmac.new(ck, b"\x01", hashlib.sha256).digest())
        ck = hmac.new(ck, b"\x02", hashlib.sha256).digest()
    return mks


def open_body(mk: bytes, ad: bytes, ratchet_message: bytes, he: bool) -> bytes:
    header_len = 86 if he else 46
    okm = hkdf(ZERO_SALT, mk, b"SEALWIRE_DR_MESSAGE_v1", 44)
    aad = len(ad).to_bytes(4, "big") + ad + ratchet_message[:header_len]
    padded = ChaCha20Poly1305(okm[:32]).decrypt(okm[32:], ratchet_message[header_len:], aad)
    unpadded = padded.rstrip(b"\x00")
    assert unpadded.endswith(b"\x80")
    plaintext = unpadded[:-1]
    assert len(padded) == padme_padded_len(len(plaintext))
    return plaintext


def embedded_ratchet_message(initial: bytes) -> bytes:
    """The SWRM message inside an X3DH initial message (docs/FORMATS.md, SWRI v1)."""
    assert initial[:5] == b"SWRI\x01" and initial[5] == 0x01  # X3DH
    p = 9 + int.from_bytes(initial[7:9], "big")
    flag = initial[p + 36]
    return initial[p + 37 + (4 if flag else 0) :]


@pytest.mark.parametrize("case", X3DH_CASES, ids=lambda c: str(c["name"]))
def test_x3dh_first_chains_decrypt_with_pyca(case: dict[str, Any]) -> None:
    he = case["header_encryption"]
    alice = next(i for i in DOC["identities"] if i["name"] == "alice")
    bob = next(i for i in DOC["identities"] if i["name"] == "bob")
    ik_a, ik_b = h(alice["x25519_secret"]), h(bob["x25519_secret"])
    store_random, initiate_random = h(case["store_random"]), h(case["initiate_random"])
    spk = store_random[:32]  # the signed prekey comes first, then the one-time prekeys
    opk = store_random[32:64] if case["one_time_prekeys_used"] else None
    ek, alice_dhs = initiate_random[:32], initiate_random[32:64]  # X3DH: no KEM message
    spk_pub = x25519_public(spk)

    km = x25519(ik_a, spk_pub) + x25519(ek, x25519_public(ik_b)) + x25519(ek, spk_pub)
    if opk is not None:
        km += x25519(ek, x25519_public(opk))
    sk = hkdf(ZERO_SALT, b"\xff" * 32 + km, b"SEALWIRE_X3DH_CURVE25519_SHA-256_v1", 96)[:32]
    ad = h(alice["public_identity"]) + h(bob["public_identity"])

    # Alice's first sending chain: RatchetInitAlice(HE) with DHr = SPK_B.
    _, alice_ck = kdf_rk(sk, x25519(alice_dhs, spk_pub), he)
    # Bob: receiving Alice's key ratchets his root (same chain), then his new key pair
    # (the accept randomness) starts his first sending chain.
    accept = next(s for s in case["steps"] if s["op"] == "accept")
    bob_dhs = h(accept["random"])
    rk1, bob_recv_ck = kdf_rk(sk, x25519(spk, x25519_public(alice_dhs)), he)
    assert bob_recv_ck == alice_ck
    _, bob_ck = kdf_rk(rk1, x25519(bob_dhs, x25519_public(alice_dhs)), he)

    steps = case["steps"]
    # Alice's messages before her first decrypt, and Bob's before his first decrypt of a
    # ratchet (non-initial) message, are the first chain of each.
    alice_first: list[dict[str, Any]] = []
    for s in steps:
        if s.get("party") == "alice" and s["op"].startswith("decrypt"):
            break
        if s.get("party") == "alice" and s["op"] == "encrypt":
            alice_first.append(s)
    bob_first: list[dict[str, Any]] = []
    for s in steps[steps.index(accept) + 1 :]:
        if s.get("party") == "bob" and s["op"] == "decrypt" and h(s["message"])[:4] == b"SWRM":
            break
        if s.get("party") == "bob" and s["op"] == "encrypt":
            bob_first.append(s)
    assert len(alice_first) >= 2 and len(bob_first) >= 2

    for s, mk in zip(alice_first, message_keys(alice_ck, len(alice_first))):
        rm = embedded_ratchet_message(h(s["message"]))
        if not he:  # the clear header names Alice's ratchet key
            assert rm[6:38] == x25519_public(alice_dhs)
        assert open_body(mk, ad, rm, he) == h(s["plaintext"])
    for s, mk in zip(bob_first, message_keys(bob_ck, len(bob_first))):
        rm = h(s["message"])
        if not he:
            assert rm[6:38] == x25519_public(bob_dhs)
        assert open_body(mk, ad, rm, he) == h(s["plaintext"])
