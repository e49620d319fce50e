"""Shared vectors (tests/vectors/identity.json): byte-identical outputs, every invalid case."""

from __future__ import annotations

from typing import Any

import pytest

import sealwire
from conftest import VECTORS

IDENTITIES = VECTORS["identities"]
EXPORTS = VECTORS["exports"]
INVALID_PUBLIC = VECTORS["invalid_public_identities"]
INVALID_EXPORTS = VECTORS["invalid_exports"]

# Which exception class each stable code must surface as.
CLASS_FOR_CODE: dict[str, type[sealwire.SealwireError]] = {
    "ERR_SEALWIRE_TRUNCATED": sealwire.DecodeError,
    "ERR_SEALWIRE_TRAILING_BYTES": sealwire.DecodeError,
    "ERR_SEALWIRE_INVALID_LENGTH": sealwire.DecodeError,
    "ERR_SEALWIRE_BAD_MAGIC": sealwire.DecodeError,
    "ERR_SEALWIRE_UNSUPPORTED_VERSION": sealwire.DecodeError,
    "ERR_SEALWIRE_UNSUPPORTED_ALGORITHM": sealwire.DecodeError,
    "ERR_SEALWIRE_MALFORMED": sealwire.DecodeError,
    "ERR_SEALWIRE_INVALID_ENCODING": sealwire.DecodeError,
    "ERR_SEALWIRE_INVALID_PUBLIC_KEY": sealwire.InvalidKeyError,
    "ERR_SEALWIRE_NON_CONTRIBUTORY": sealwire.InvalidKeyError,
    "ERR_SEALWIRE_BAD_SIGNATURE": sealwire.SignatureError,
    "ERR_SEALWIRE_DECRYPTION_FAILED": sealwire.DecryptionError,
    "ERR_SEALWIRE_INVALID_PARAMETER": sealwire.ParameterError,
    "ERR_SEALWIRE_RANDOMNESS": sealwire.RandomnessError,
    "ERR_SEALWIRE_MESSAGE_TOO_LARGE": sealwire.ParameterError,
    "ERR_SEALWIRE_OUT_OF_TURN": sealwire.ProtocolError,
    "ERR_SEALWIRE_REMOTE_KEY_MISMATCH": sealwire.RemoteKeyMismatchError,
    "ERR_SEALWIRE_HANDSHAKE_COMPLETE": sealwire.ProtocolError,
    "ERR_SEALWIRE_HANDSHAKE_INCOMPLETE": sealwire.ProtocolError,
    "ERR_SEALWIRE_NONCE_EXHAUSTED": sealwire.ProtocolError,
    "ERR_SEALWIRE_REPLAY": sealwire.ReplayError,
}


def _ids(cases: list[dict[str, Any]], key: str) -> list[str]:
    return [str(c[key]) for c in cases]


def identity_from_vector(v: dict[str, Any]) -> sealwire.Identity:
    return sealwire.Identity.from_secret_bytes(
        bytes.fromhex(v["ed25519_seed"]), bytes.fromhex(v["x25519_secret"])
    )


def test_vector_file_is_nonempty() -> None:
    assert VECTORS["format_version"] == 1
    assert IDENTITIES and EXPORTS and INVALID_PUBLIC and INVALID_EXPORTS


@pytest.mark.parametrize("v", IDENTITIES, ids=_ids(IDENTITIES, "name"))
def test_identity_public_outputs(v: dict[str, Any]) -> None:
    ident = identity_from_vector(v)
    pub = ident.public
    assert pub.to_bytes() == bytes.fromhex(v["public_identity"])
    assert pub.did == v["did"]
    assert pub.fingerprint == v["fingerprint"]
    assert pub.ed25519_key == bytes.fromhex(v["ed25519_public"])
    assert pub.x25519_key == bytes.fromhex(v["x25519_public"])
    assert pub.matches_did(v["did"])


@pytest.mark.parametrize("v", IDENTITIES, ids=_ids(IDENTITIES, "name"))
def test_public_identity_decodes(v: dict[str, Any]) -> None:
    encoded = bytes.fromhex(v["public_identity"])
    pub = sealwire.PublicIdentity.from_bytes(encoded)
    assert pub.to_bytes() == encoded
    assert pub.did == v["did"]
    assert pub.fingerprint == v["fingerprint"]
    assert pub == identity_from_vector(v).public


@pytest.mark.parametrize("v", IDENTITIES, ids=_ids(IDENTITIES, "name"))
def test_signatures(v: dict[str, Any]) -> None:
    assert v["signatures"], "vector without signatures"
    ident = identity_from_vector(v)
    pub = sealwire.PublicIdentity.from_bytes(bytes.fromhex(v["public_identity"]))
    for s in v["signatures"]:
        msg = bytes.fromhex(s["message"])
        sig = bytes.fromhex(s["signature"])
        assert ident.sign(msg) == sig
        pub.verify(msg, sig)  # returns None, raises on failure


def test_dids_differ_between_identities() -> None:
    assert len({v["did"] for v in IDENTITIES}) == len(IDENTITIES)
    alice = identity_from_vector(IDENTITIES[0]).public
    for other in IDENTITIES[1:]:
        assert not alice.matches_did(other["did"])


@pytest.mark.parametrize("e", EXPORTS, ids=_ids(EXPORTS, "identity"))
def test_import_vector_export(e: dict[str, Any]) -> None:
    v = next(i for i in IDENTITIES if i["name"] == e["identity"])
    blob = bytes.fromhex(e["blob"])
    ident = sealwire.Identity.from_encrypted(blob, e["passphrase"])
    assert ident.public.to_bytes() == bytes.fromhex(v["public_identity"])
    # The same passphrase given as UTF-8 bytes is the same passphrase.
    ident2 = sealwire.Identity.from_encrypted(blob, e["passphrase"].encode())
    assert ident2.public == ident.public
    # Re-export with the vector's parameters round-trips (salt and nonce are fresh).
    again = ident.export(
        e["passphrase"],
        memory_kib=e["memory_kib"],
        iterations=e["iterations"],
        lanes=e["lanes"],
    )
    assert again != blob
    assert again[:18] == blob[:18]  # magic, version, KDF id and parameters
    assert sealwire.Identity.from_encrypted(again, e["passphrase"]).public == ident.public


@pytest.mark.parametrize("case", INVALID_PUBLIC, ids=_ids(INVALID_PUBLIC, "description"))
def test_invalid_public_identities(case: dict[str, Any]) -> None:
    expected = CLASS_FOR_CODE[case["error"]]
    with pytest.raises(expected) as info:
        sealwire.PublicIdentity.from_bytes(bytes.fromhex(case["bytes"]))
    assert type(info.value) is expected
    assert info.value.code == case["error"]


@pytest.mark.parametrize("case", INVALID_EXPORTS, ids=_ids(INVALID_EXPORTS, "description"))
def test_invalid_exports(case: dict[str, Any]) -> None:
    expected = CLASS_FOR_CODE[case["error"]]
    with pytest.raises(expected) as info:
        sealwire.Identity.from_encrypted(bytes.fromhex(case["blob"]), case["passphrase"])
    assert type(info.value) is expected
    assert info.value.code == case["error"]
