"""tests/vectors/envelope.json replayed through the Python binding.

* the root-key-sealed keyring file opens (from bytes and from a file) with the listed keys,
  versions, times, default key and generation;
* every envelope opens for each listed opener, one-shot and streaming, and its header
  parses to the listed fields;
* every invalid envelope fails with the listed code, as the class exceptions.py lists;
* independent cross-checks (hashlib, hmac, pyca/cryptography): the header digest, the HKDF
  key schedule, the recipient key ids and the header tag are recomputed from the vector's
  inputs, and every payload segment is decrypted with cryptography's ChaCha20Poly1305 /
  AESGCM under the vector's payload key and STREAM nonces.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

import sealwire
from conftest import load_envelope_vectors

DOC = load_envelope_vectors()
ENVELOPES: list[dict[str, Any]] = DOC["envelopes"]
INVALID: list[dict[str, Any]] = DOC["invalid_envelopes"]
KEYS: dict[str, Any] = DOC["keys"]
RING: dict[str, Any] = KEYS["keyring"]

LABEL = b"SEALWIRE\x00envelope-v1\x00"

# The class each code of this file must surface as (see sealwire/exceptions.py).
EXPECTED_CLASS: dict[str, type[sealwire.SealwireError]] = {
    "ERR_SEALWIRE_TRUNCATED": sealwire.DecodeError,
    "ERR_SEALWIRE_BAD_MAGIC": sealwire.DecodeError,
    "ERR_SEALWIRE_UNSUPPORTED_VERSION": sealwire.DecodeError,
    "ERR_SEALWIRE_UNSUPPORTED_ALGORITHM": sealwire.DecodeError,
    "ERR_SEALWIRE_MALFORMED": sealwire.DecodeError,
    "ERR_SEALWIRE_DECRYPTION_FAILED": sealwire.DecryptionError,
    "ERR_SEALWIRE_HEADER_AUTH_FAILED": sealwire.DecryptionError,
    "ERR_SEALWIRE_COMMITMENT_MISMATCH": sealwire.DecryptionError,
    "ERR_SEALWIRE_CONTEXT_MISMATCH": sealwire.ContextMismatchError,
    "ERR_SEALWIRE_NO_MATCHING_KEY": sealwire.KeyNotAvailableError,
    "ERR_SEALWIRE_KEY_RETIRED": sealwire.KeyNotAvailableError,
}


def context(pairs: list[list[str]]) -> dict[str, str]:
    return {k: v for k, v in pairs}


def root_key() -> sealwire.RootKey:
    return sealwire.RootKey.from_hex(RING["root_key"])


def vector_keyring(now: int | None = None) -> sealwire.Keyring:
    ring = sealwire.Keyring.from_bytes(bytes.fromhex(RING["file"]), root_key=root_key())
    ring._set_time(RING["open_at"] if now is None else now)
    return ring


def recipient(group: str, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in KEYS[group] if r["name"] == name]
    assert len(found) == 1
    return found[0]


def x25519_identity(name: str) -> sealwire.Identity:
    v = recipient("x25519_recipients", name)
    return sealwire.Identity.from_secret_bytes(
        bytes.fromhex(v["ed25519_seed"]), bytes.fromhex(v["x25519_secret"])
    )


def xwing(name: str) -> sealwire.XWingKeyPair:
    v = recipient("xwing_recipients", name)
    return sealwire.XWingKeyPair.from_seed(bytes.fromhex(v["seed"]))


def opener(name: str, now: int | None = None) -> sealwire.Keyring | sealwire.Identity | sealwire.XWingKeyPair:
    if name == "keyring":
        return vector_keyring(now)
    if name in ("bob", "mallory"):
        return x25519_identity(name)
    if name == "carol-xwing":
        return xwing(name)
    raise AssertionError(f"unknown opener {name}")


# --- keys ------------------------------------------------------------------------------------


def test_keyring_file_opens_with_listed_contents(tmp_path: Path) -> None:
    file = bytes.fromhex(RING["file"])
    path = tmp_path / "ring.swkr"
    path.write_bytes(file)
    for ring in (
        sealwire.Keyring.from_bytes(file, root_key=root_key()),
        sealwire.Keyring.load(path, root_key=root_key()),
        sealwire.Keyring.load(str(path), root_key=sealwire.RootKey.from_bytes(bytes.fromhex(RING["root_key"]))),
    ):
        assert ring.generation == RING["file_generation"]
        assert ring.default_key == RING["default_key"]
        assert ring.key_ids == sorted(k["id"] for k in RING["keys"])
        for key in RING["keys"]:
            assert ring.primary_version(key["id"]) == key["primary"]
            infos = ring.versions(key["id"])
            assert [i.version for i in infos] == [v["version"] for v in key["versions"]]
            for info, v in zip(infos, key["versions"]):
                assert info.primary == (v["version"] == key["primary"])
                assert info.created_at == v["created_at"]
                assert info.retired_at == v.get("retired_at")
                assert info.decrypt_until == v.get("decrypt_until")
                assert "material" not in repr(info) and v["material"] not in repr(info)


def test_keyring_file_refuses_wrong_root_key_and_passphrase() -> None:
    file = bytes.fromhex(RING["file"])
    with pytest.raises(sealwire.DecryptionError) as info:
        sealwire.Keyring.from_bytes(file, root_key=sealwire.RootKey.generate())
    assert info.value.code == "ERR_SEALWIRE_DECRYPTION_FAILED"
    with pytest.raises(sealwire.ParameterError):
        sealwire.Keyring.from_bytes(file, passphrase="not a passphrase file")
    tampered = bytearray(file)
    tampered[-1] ^= 1
    with pytest.raises(sealwire.DecryptionError):
        sealwire.Keyring.from_bytes(tampered, root_key=root_key())


@pytest.mark.parametrize("group", ["x25519_recipients", "xwing_recipients"])
def test_recipient_key_ids(group: str) -> None:
    """key id = hex(SHA-256(label || kem id || raw public key)[:16]), recomputed with hashlib."""
    for v in KEYS[group]:
        if group == "x25519_recipients":
            ident = x25519_identity(v["name"])
            raw = bytes.fromhex(v["x25519_public"])
            assert ident.public.x25519_key == raw
            kem = 0x0020
            provider = sealwire.provider_info(ident)
            assert sealwire.provider_info(ident.public) == provider
        else:
            kp = xwing(v["name"])
            encoded = bytes.fromhex(v["public_key"])
            assert kp.public_key.to_bytes() == encoded
            assert sealwire.XWingPublicKey.from_bytes(encoded) == kp.public_key
            raw = kp.public_key.raw_bytes()
            assert encoded == b"SWXP\x01" + raw and len(raw) == 1216
            assert sealwire.XWingPublicKey.from_raw_bytes(raw) == kp.public_key
            assert kp.seed() == bytes.fromhex(v["seed"])
            kem = 0x647A
            provider = sealwire.provider_info(kp)
            assert sealwire.provider_info(kp.public_key) == provider
        digest = hashlib.sha256(LABEL + b"recipient\x00" + kem.to_bytes(2, "big") + raw).digest()
        assert digest[:16].hex() == v["key_id"]
        name = "hpke-x25519" if kem == 0x0020 else "hpke-xwing"
        assert provider == (name, v["key_id"], 0)


# --- envelopes -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ENVELOPES, ids=[c["name"] for c in ENVELOPES])
def test_envelope_opens(case: dict[str, Any]) -> None:
    sealed = bytes.fromhex(case["sealed"])
    plaintext = bytes.fromhex(case["plaintext"])
    ctx = context(case["context"])
    assert case["openers"]
    for name in case["openers"]:
        assert sealwire.unseal(sealed, keys=opener(name), context=ctx) == plaintext
        assert sealwire.unseal(bytearray(sealed), keys=[opener(name)], context=ctx) == plaintext
        with sealwire.EnvelopeReader(io.BytesIO(sealed), keys=opener(name), context=ctx) as r:
            assert r.read() == plaintext
            assert r.is_finished
            assert r.read() == b""


@pytest.mark.parametrize("case", ENVELOPES, ids=[c["name"] for c in ENVELOPES])
def test_envelope_header(case: dict[str, Any]) -> None:
    sealed = bytes.fromhex(case["sealed"])
    for data in (sealed, sealed[: case["header_len"]]):
        h = sealwire.EnvelopeHeader.parse(data)
        assert h.suite == case["suite"]
        assert h.segment_size == case["segment_size"]
        assert h.message_id.hex() == case["message_id"]
        assert h.context == context(case["context"])
        assert h.header_len == case["header_len"]
        assert h.wrapped_keys == [
            (w["provider"], w["key_id"], w["key_version"]) for w in case["wrapped_keys"]
        ]
    assert sealwire.EnvelopeHeader.length(sealed[: sealwire.EnvelopeHeader.PREFIX_LEN]) == case["header_len"]
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.EnvelopeHeader.parse(sealed[: case["header_len"] - 1])
    assert info.value.code == "ERR_SEALWIRE_TRUNCATED"


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


@pytest.mark.parametrize("case", ENVELOPES, ids=[c["name"] for c in ENVELOPES])
def test_key_schedule_and_segments_match_independent_implementations(case: dict[str, Any]) -> None:
    """Recompute D, the HKDF outputs and the header tag with hashlib/hmac/cryptography, then
    decrypt every segment with cryptography's AEAD (the STREAM nonce: prefix || u32 index ||
    last-segment flag; associated data D)."""
    sealed = bytes.fromhex(case["sealed"])
    dek = bytes.fromhex(case["dek"])
    message_id = bytes.fromhex(case["message_id"])
    ctx_encoding = bytes.fromhex(case["context_encoding"])
    seg = case["segment_size"]
    hlen = case["header_len"]

    # The header's fixed fields sit where docs/ENVELOPE_FORMATS.md says.
    assert sealed[:5] == b"SWEV\x01"
    assert int.from_bytes(sealed[5:9], "big") == hlen
    assert sealed[9] == case["suite_id"]
    assert int.from_bytes(sealed[10:14], "big") == seg
    assert sealed[14:46] == message_id
    assert sealed[46 : 46 + len(ctx_encoding)] == ctx_encoding
    commitment = sealed[46 + len(ctx_encoding) : 78 + len(ctx_encoding)]

    digest = hashlib.sha256(
        LABEL + b"header\x00" + bytes([case["suite_id"]]) + seg.to_bytes(4, "big") + message_id + ctx_encoding
    ).digest()
    assert digest.hex() == case["header_digest"]
    prk = hmac.new(message_id, dek, hashlib.sha256).digest()  # HKDF-Extract(salt=message id)
    payload_key = hkdf_expand(prk, LABEL + b"payload-key\x00" + digest, 32)
    nonce_prefix = hkdf_expand(prk, LABEL + b"nonce-prefix\x00" + digest, 7)
    header_key = hkdf_expand(prk, LABEL + b"header-mac\x00" + digest, 32)
    assert payload_key.hex() == case["payload_key"]
    assert nonce_prefix.hex() == case["nonce_prefix"]
    assert hkdf_expand(prk, LABEL + b"commitment\x00" + digest, 32).hex() == case["commitment"]
    assert commitment.hex() == case["commitment"]
    assert header_key.hex() == case["header_mac_key"]
    assert (LABEL + b"wrap\x00" + digest).hex() == case["wrap_aad"]
    tag = hmac.new(header_key, sealed[: hlen - 32], hashlib.sha256).digest()
    assert tag == sealed[hlen - 32 : hlen]

    aead = ChaCha20Poly1305(payload_key) if case["suite"] == "chacha20-poly1305" else AESGCM(payload_key)
    payload = sealed[hlen:]
    chunks = [payload[i : i + seg + 16] for i in range(0, len(payload), seg + 16)]
    if len(payload) % (seg + 16) == 0:
        chunks.append(b"")  # never happens in a valid envelope: the final segment is short
    assert chunks[-1] != b""
    out = b""
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        nonce = nonce_prefix + i.to_bytes(4, "big") + bytes([1 if last else 0])
        out += aead.decrypt(nonce, chunk, digest)
    assert out.hex() == case["plaintext"]


def test_vector_wrapped_keys_carry_the_listed_versions() -> None:
    """Keyring entries name the KEK version; rewrap moves them to the primary one."""
    ring = vector_keyring()
    for case in ENVELOPES:
        if "keyring" not in case["openers"]:
            continue
        sealed = bytes.fromhex(case["sealed"])
        ctx = context(case["context"])
        again = sealwire.rewrap(sealed, keys=ring, context=ctx, rewrap_with=ring)
        h, h2 = sealwire.EnvelopeHeader.parse(sealed), sealwire.EnvelopeHeader.parse(again)
        assert again[h2.header_len :] == sealed[h.header_len :]
        for (p, k, _), (p2, k2, v2) in zip(h.wrapped_keys, h2.wrapped_keys):
            assert (p, k) == (p2, k2)
            if p == "keyring":
                assert v2 == ring.primary_version(k)
        assert sealwire.unseal(again, keys=ring, context=ctx).hex() == case["plaintext"]


# --- invalid envelopes -----------------------------------------------------------------------


@pytest.mark.parametrize("case", INVALID, ids=[c["description"] for c in INVALID])
def test_invalid_envelope_one_shot(case: dict[str, Any]) -> None:
    sealed = bytes.fromhex(case["sealed"])
    with pytest.raises(sealwire.SealwireError) as info:
        sealwire.unseal(sealed, keys=opener(case["opener"], case.get("now")), context=context(case["context"]))
    assert info.value.code == case["error"]
    assert type(info.value) is EXPECTED_CLASS[case["error"]]


@pytest.mark.parametrize("case", INVALID, ids=[c["description"] for c in INVALID])
def test_invalid_envelope_streaming(case: dict[str, Any]) -> None:
    """The streaming reader reports the same code, and hands out no byte of a segment that
    did not verify."""
    sealed = bytes.fromhex(case["sealed"])
    got = bytearray()
    with pytest.raises(sealwire.SealwireError) as info:
        with sealwire.EnvelopeReader(
            io.BytesIO(sealed), keys=opener(case["opener"], case.get("now")), context=context(case["context"])
        ) as r:
            while chunk := r.read(64):
                got += chunk
    assert info.value.code == case["error"]
    assert type(info.value) is EXPECTED_CLASS[case["error"]]
    # Reading one segment's worth at a time, what was released before the error is made
    # of whole segments (each verified before any of its bytes came out).
    if got:
        assert len(got) % sealwire.EnvelopeHeader.parse(sealed).segment_size == 0


def test_every_listed_code_is_covered() -> None:
    assert {c["error"] for c in INVALID} == set(EXPECTED_CLASS)
