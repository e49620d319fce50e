"""Cross-checks against pyca/cryptography, an independent Ed25519 / X25519 implementation."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import sealwire
from conftest import VECTORS

IDENTITIES = VECTORS["identities"]
NAMES = [v["name"] for v in IDENTITIES]


def raw(key: Any) -> bytes:
    out: bytes = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return out


@pytest.mark.parametrize("v", IDENTITIES, ids=NAMES)
def test_vector_public_keys_match_cryptography_derivation(v: dict[str, Any]) -> None:
    seed = bytes.fromhex(v["ed25519_seed"])
    secret = bytes.fromhex(v["x25519_secret"])
    ed_pub = raw(Ed25519PrivateKey.from_private_bytes(seed).public_key())
    x_pub = raw(X25519PrivateKey.from_private_bytes(secret).public_key())
    assert ed_pub.hex() == v["ed25519_public"]
    assert x_pub.hex() == v["x25519_public"]
    pub = sealwire.Identity.from_secret_bytes(seed, secret).public
    assert pub.ed25519_key == ed_pub
    assert pub.x25519_key == x_pub
    # the encoding carries both keys at fixed offsets (docs/FORMATS.md)
    encoded = pub.to_bytes()
    assert encoded[5:37] == ed_pub and encoded[37:69] == x_pub


@pytest.mark.parametrize("v", IDENTITIES, ids=NAMES)
def test_vector_signatures_verify_with_cryptography(v: dict[str, Any]) -> None:
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(v["ed25519_public"]))
    for s in v["signatures"]:
        msg = bytes.fromhex(s["message"])
        sig = bytes.fromhex(s["signature"])
        key.verify(sig, msg)  # raises InvalidSignature on mismatch
        with pytest.raises(InvalidSignature):
            key.verify(sig, msg + b"\x00")


@pytest.mark.parametrize("v", IDENTITIES, ids=NAMES)
def test_binding_signature_verifies_with_cryptography(v: dict[str, Any]) -> None:
    # The public identity's last 64 bytes sign "SEALWIRE\0public-identity\0" || the rest.
    encoded = bytes.fromhex(v["public_identity"])
    key = Ed25519PublicKey.from_public_bytes(encoded[5:37])
    key.verify(encoded[-64:], b"SEALWIRE\x00public-identity\x00" + encoded[:-64])


def test_sealwire_and_cryptography_agree_both_ways() -> None:
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    x = X25519PrivateKey.generate().private_bytes_raw()
    ours = sealwire.Identity.from_secret_bytes(seed, x)
    theirs = Ed25519PrivateKey.from_private_bytes(seed)
    msg = b"interop message"
    # Ed25519 is deterministic: both produce the same signature bytes.
    assert ours.sign(msg) == theirs.sign(msg)
    theirs.public_key().verify(ours.sign(msg), msg)
    ours.public.verify(msg, theirs.sign(msg))
    # an identity made by cryptography's keys decodes through sealwire
    assert sealwire.PublicIdentity.from_bytes(ours.public.to_bytes()) == ours.public
