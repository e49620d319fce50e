"""Identity / PublicIdentity behaviour beyond the shared vectors."""

from __future__ import annotations

import array
import pickle
from typing import Any, Callable

import pytest

import sealwire
from conftest import FAST_KDF, VECTORS

ALICE = VECTORS["identities"][0]
ALICE_SEED = bytes.fromhex(ALICE["ed25519_seed"])
ALICE_X = bytes.fromhex(ALICE["x25519_secret"])
ALICE_PUB = bytes.fromhex(ALICE["public_identity"])
ALICE_SIG = ALICE["signatures"][1]
EXPORT = VECTORS["exports"][0]
EXPORT_BLOB = bytes.fromhex(EXPORT["blob"])
PASSPHRASE = EXPORT["passphrase"]


def alice() -> sealwire.Identity:
    return sealwire.Identity.from_secret_bytes(ALICE_SEED, ALICE_X)


# --- generation, signing, verification -------------------------------------------------


def test_generate_is_random_and_usable() -> None:
    a = sealwire.Identity.generate()
    b = sealwire.Identity.generate()
    assert a.public != b.public
    assert a.public.did != b.public.did
    sig = a.sign(b"msg")
    assert isinstance(sig, bytes) and len(sig) == 64
    a.public.verify(b"msg", sig)
    with pytest.raises(sealwire.SignatureError) as info:
        b.public.verify(b"msg", sig)
    assert info.value.code == "ERR_SEALWIRE_BAD_SIGNATURE"


def test_public_roundtrip_and_text_forms() -> None:
    pub = sealwire.Identity.generate().public
    encoded = pub.to_bytes()
    assert isinstance(encoded, bytes) and len(encoded) == 134
    assert sealwire.PublicIdentity.from_bytes(encoded) == pub
    assert pub.did.startswith("did:key:z6Mk")
    groups = pub.fingerprint.split(" ")
    assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)
    assert pub.matches_did(pub.did)
    assert not pub.matches_did("did:key:zNotBase58!")
    assert not pub.matches_did("")


def test_verify_rejects_modified_message_and_signature() -> None:
    pub = alice().public
    msg = bytes.fromhex(ALICE_SIG["message"])
    sig = bytearray.fromhex(ALICE_SIG["signature"])
    with pytest.raises(sealwire.SignatureError):
        pub.verify(msg + b"!", sig)
    sig[0] ^= 1
    with pytest.raises(sealwire.SignatureError) as info:
        pub.verify(msg, sig)
    assert info.value.code == "ERR_SEALWIRE_BAD_SIGNATURE"


@pytest.mark.parametrize("length", [0, 63, 65, 128])
def test_verify_wrong_signature_length_is_decode_error(length: int) -> None:
    with pytest.raises(sealwire.DecodeError) as info:
        alice().public.verify(b"m", bytes(length))
    assert info.value.code == "ERR_SEALWIRE_INVALID_LENGTH"


@pytest.mark.parametrize(
    "message", [b"SEALWIRE\x00", b"SEALWIRE\x00public-identity\x00", bytearray(b"SEALWIRE\x00x")]
)
def test_sign_refuses_reserved_prefix(message: bytes) -> None:
    with pytest.raises(sealwire.ParameterError) as info:
        alice().sign(message)
    assert info.value.code == "ERR_SEALWIRE_INVALID_PARAMETER"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("message", [b"SEALWIRE", b"SEALWIRE\x01", b"xSEALWIRE\x00", b"sealwire\x00"])
def test_sign_allows_near_misses_of_the_prefix(message: bytes) -> None:
    ident = alice()
    ident.public.verify(message, ident.sign(message))


def test_sign_is_deterministic_and_matches_vector() -> None:
    msg = bytes.fromhex(ALICE_SIG["message"])
    assert alice().sign(msg) == alice().sign(msg) == bytes.fromhex(ALICE_SIG["signature"])


# --- from_secret_bytes -----------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_from_secret_bytes_wrong_length(length: int) -> None:
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.Identity.from_secret_bytes(bytes(length), ALICE_X)
    assert info.value.code == "ERR_SEALWIRE_INVALID_LENGTH"
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.Identity.from_secret_bytes(ALICE_SEED, bytes(length))
    assert info.value.code == "ERR_SEALWIRE_INVALID_LENGTH"


def test_error_messages_do_not_leak_secrets() -> None:
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.Identity.from_secret_bytes(ALICE_SEED + b"\x01", ALICE_X)
    text = str(info.value) + repr(info.value)
    assert ALICE["ed25519_seed"] not in text and "1111" not in text
    with pytest.raises(sealwire.DecryptionError) as info2:
        sealwire.Identity.from_encrypted(EXPORT_BLOB, "hunter2-secret")
    assert "hunter2" not in str(info2.value) + repr(info2.value)


# --- bytes-like inputs -----------------------------------------------------------------

BYTES_LIKE: list[Callable[[bytes], Any]] = [
    bytes,
    bytearray,
    memoryview,
    lambda b: memoryview(bytearray(b)),
    lambda b: array.array("B", b),
    lambda b: memoryview(b"xx" + b + b"yy")[2:-2],  # a sliced view
    lambda b: memoryview(b"".join(bytes([x, 0]) for x in b))[::2],  # non-contiguous
]
BYTES_LIKE_IDS = ["bytes", "bytearray", "memoryview", "memoryview-bytearray", "array", "slice", "strided"]


@pytest.mark.parametrize("wrap", BYTES_LIKE, ids=BYTES_LIKE_IDS)
def test_bytes_like_inputs(wrap: Callable[[bytes], Any]) -> None:
    ident = sealwire.Identity.from_secret_bytes(wrap(ALICE_SEED), wrap(ALICE_X))
    assert ident.public.to_bytes() == ALICE_PUB
    pub = sealwire.PublicIdentity.from_bytes(wrap(ALICE_PUB))
    assert pub == ident.public
    msg = bytes.fromhex(ALICE_SIG["message"])
    sig = bytes.fromhex(ALICE_SIG["signature"])
    assert ident.sign(wrap(msg)) == sig
    pub.verify(wrap(msg), wrap(sig))
    # passphrases: bytes-like too
    assert sealwire.Identity.from_encrypted(wrap(EXPORT_BLOB), wrap(PASSPHRASE.encode())).public == pub


def test_multibyte_buffer_formats_are_read_as_raw_bytes() -> None:
    words = array.array("I", ALICE_PUB[:132])  # 33 four-byte items
    data = words.tobytes() + ALICE_PUB[132:]
    assert sealwire.PublicIdentity.from_bytes(memoryview(data)).to_bytes() == ALICE_PUB
    with pytest.raises(sealwire.DecodeError):  # the raw bytes of the array alone are truncated
        sealwire.PublicIdentity.from_bytes(words)


def test_mutable_input_is_not_modified() -> None:
    buf = bytearray(ALICE_SEED)
    view = memoryview(bytearray(ALICE_X))
    sealwire.Identity.from_secret_bytes(buf, view)
    assert bytes(buf) == ALICE_SEED and bytes(view) == ALICE_X
    view.release()  # our temporary view of it was released: the buffer can be resized
    buf.extend(b"ok")


@pytest.mark.parametrize("bad", ["text", 42, None, [1, 2, 3], 1.5, object()])
def test_non_bytes_inputs_raise_type_error(bad: Any) -> None:
    with pytest.raises(TypeError):
        sealwire.PublicIdentity.from_bytes(bad)
    with pytest.raises(TypeError):
        alice().sign(bad)
    with pytest.raises(TypeError):
        alice().public.verify(b"m", bad)


@pytest.mark.parametrize("bad", [42, None, [1, 2], 1.5])
def test_bad_passphrase_type_raises_type_error(bad: Any) -> None:
    with pytest.raises(TypeError):
        sealwire.Identity.from_encrypted(EXPORT_BLOB, bad)
    with pytest.raises(TypeError):
        alice().export(bad, **FAST_KDF)


# --- export / import -------------------------------------------------------------------


def test_export_import_roundtrip_str_and_bytes() -> None:
    ident = sealwire.Identity.generate()
    blob = ident.export("pässwörd ✓", **FAST_KDF)
    assert isinstance(blob, bytes) and blob[:4] == b"SWIK"
    assert sealwire.Identity.from_encrypted(blob, "pässwörd ✓").public == ident.public
    assert sealwire.Identity.from_encrypted(blob, "pässwörd ✓".encode()).public == ident.public
    # NFC vs NFD are different byte strings: no normalization is applied.
    with pytest.raises(sealwire.DecryptionError):
        sealwire.Identity.from_encrypted(blob, "pa\u0308sswo\u0308rd ✓")
    blob2 = ident.export(memoryview(b"\x00\xffbinary"), **FAST_KDF)
    assert sealwire.Identity.from_encrypted(blob2, bytearray(b"\x00\xffbinary")).public == ident.public


def test_export_with_default_parameters() -> None:
    ident = alice()
    blob = ident.export("pw")
    # header: magic, version, KDF id, then memory, iterations, lanes as big-endian u32
    assert blob[6:18] == (65536).to_bytes(4, "big") + (3).to_bytes(4, "big") + (4).to_bytes(4, "big")
    assert sealwire.Identity.from_encrypted(blob, "pw").public == ident.public


def test_export_partial_parameters_take_defaults() -> None:
    blob = alice().export("pw", memory_kib=19 * 1024, iterations=2, lanes=1)
    assert blob[6:18] == bytes.fromhex("00004c00" "00000002" "00000001")
    blob = alice().export("pw", memory_kib=20 * 1024)
    assert blob[6:18] == bytes.fromhex("00005000" "00000003" "00000004")


def test_empty_passphrase_roundtrips() -> None:
    blob = alice().export("", **FAST_KDF)
    assert sealwire.Identity.from_encrypted(blob, b"").public == alice().public


def test_wrong_passphrase() -> None:
    with pytest.raises(sealwire.DecryptionError) as info:
        sealwire.Identity.from_encrypted(EXPORT_BLOB, PASSPHRASE + " ")
    assert info.value.code == "ERR_SEALWIRE_DECRYPTION_FAILED"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory_kib": 1024},  # below 19 MiB
        {"memory_kib": 19 * 1024, "iterations": 1},  # below the OWASP minimum product
        {"iterations": 0},
        {"iterations": 65},
        {"lanes": 0},
        {"lanes": 17},
        {"memory_kib": -1},
        {"lanes": 2**32},
        {"iterations": 2**70},
    ],
)
def test_export_rejects_bad_kdf_parameters(kwargs: dict[str, int]) -> None:
    with pytest.raises(sealwire.ParameterError) as info:
        alice().export("pw", **kwargs)
    assert info.value.code == "ERR_SEALWIRE_INVALID_PARAMETER"


def test_export_kdf_parameters_are_keyword_only_ints() -> None:
    export: Any = alice().export  # bypass the stub's (correct) signature
    with pytest.raises(TypeError):
        export("pw", 19456)
    with pytest.raises(TypeError):
        export("pw", memory_kib="19456")
    with pytest.raises(TypeError):
        export("pw", memory_kib=19456.0)


def test_tampering_any_byte_of_an_export_is_detected() -> None:
    blob = alice().export("pw", **FAST_KDF)
    # Every byte of the header is authenticated, every ciphertext byte too.
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(sealwire.SealwireError) as info:
            sealwire.Identity.from_encrypted(tampered, "pw")
        assert info.value.code in {
            "ERR_SEALWIRE_DECRYPTION_FAILED",
            "ERR_SEALWIRE_BAD_MAGIC",
            "ERR_SEALWIRE_UNSUPPORTED_VERSION",
            "ERR_SEALWIRE_UNSUPPORTED_ALGORITHM",
            "ERR_SEALWIRE_MALFORMED",
        }, (i, info.value.code)


# --- strict decoding -------------------------------------------------------------------


def test_public_identity_truncated_everywhere() -> None:
    for n in range(len(ALICE_PUB)):
        with pytest.raises(sealwire.DecodeError) as info:
            sealwire.PublicIdentity.from_bytes(ALICE_PUB[:n])
        assert info.value.code == "ERR_SEALWIRE_TRUNCATED", n


@pytest.mark.parametrize("extra", [b"\x00", b"\xff" * 10])
def test_public_identity_trailing(extra: bytes) -> None:
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.PublicIdentity.from_bytes(ALICE_PUB + extra)
    assert info.value.code == "ERR_SEALWIRE_TRAILING_BYTES"


@pytest.mark.parametrize("version", [0, 2, 255])
def test_public_identity_wrong_version(version: int) -> None:
    data = bytearray(ALICE_PUB)
    data[4] = version
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.PublicIdentity.from_bytes(data)
    assert info.value.code == "ERR_SEALWIRE_UNSUPPORTED_VERSION"


def test_public_identity_bad_magic() -> None:
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.PublicIdentity.from_bytes(b"SWIK" + ALICE_PUB[4:])
    assert info.value.code == "ERR_SEALWIRE_BAD_MAGIC"


def test_export_truncated_trailing_version() -> None:
    for n in (0, 3, 5, 17, 40, len(EXPORT_BLOB) - 1):
        with pytest.raises(sealwire.DecodeError) as info:
            sealwire.Identity.from_encrypted(EXPORT_BLOB[:n], PASSPHRASE)
        assert info.value.code == "ERR_SEALWIRE_TRUNCATED"
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.Identity.from_encrypted(EXPORT_BLOB + b"\x00", PASSPHRASE)
    assert info.value.code == "ERR_SEALWIRE_TRAILING_BYTES"
    wrong_version = bytearray(EXPORT_BLOB)
    wrong_version[4] = 2
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.Identity.from_encrypted(wrong_version, PASSPHRASE)
    assert info.value.code == "ERR_SEALWIRE_UNSUPPORTED_VERSION"


def test_hostile_kdf_parameters_are_refused_before_deriving() -> None:
    # 4 GiB + 1 KiB of memory would be refused by export; import must refuse it too,
    # quickly, rather than try to allocate it.
    blob = bytearray(EXPORT_BLOB)
    blob[6:10] = (4 * 1024 * 1024 + 1).to_bytes(4, "big")
    with pytest.raises(sealwire.DecodeError) as info:
        sealwire.Identity.from_encrypted(blob, PASSPHRASE)
    assert info.value.code == "ERR_SEALWIRE_MALFORMED"


# --- object behaviour ------------------------------------------------------------------


def test_reprs_reveal_nothing() -> None:
    ident = alice()
    assert repr(ident) == "<Identity>"
    assert repr(ident.public) == "<PublicIdentity>"
    assert str(ident) == "<Identity>"
    for text in (repr(ident), str(ident), repr(ident.public), str(ident.public)):
        assert ALICE["did"] not in text and ALICE["ed25519_public"][:8] not in text


def test_secrets_are_not_reachable_as_attributes() -> None:
    ident = alice()
    public_names = {n for n in dir(ident) if not n.startswith("_")}
    assert public_names == {"generate", "from_secret_bytes", "from_encrypted", "public", "sign", "export"}
    assert not hasattr(ident, "__dict__")


def test_identity_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(alice())


def test_equality_and_hash() -> None:
    a1 = alice().public
    a2 = sealwire.PublicIdentity.from_bytes(ALICE_PUB)
    b = sealwire.PublicIdentity.from_bytes(bytes.fromhex(VECTORS["identities"][1]["public_identity"]))
    assert a1 == a2 and hash(a1) == hash(a2)
    assert a1 != b
    assert len({a1, a2, b}) == 2
    assert a1 != ALICE_PUB and a1 != None  # noqa: E711
    assert (a1 == ALICE_PUB) is False


def test_classes_are_final() -> None:
    with pytest.raises(TypeError):
        type("Sub", (sealwire.Identity,), {})
    with pytest.raises(TypeError):
        type("Sub", (sealwire.PublicIdentity,), {})


def test_no_public_constructor() -> None:
    with pytest.raises(TypeError):
        sealwire.Identity()
    with pytest.raises(TypeError):
        sealwire.PublicIdentity()


def test_version() -> None:
    assert isinstance(sealwire.__version__, str)
    assert sealwire.__version__.count(".") == 2
    from importlib.metadata import version

    assert version("sealwire") == sealwire.__version__


def test_released_memoryview_is_a_value_error() -> None:
    view = memoryview(b"x" * 32)
    view.release()
    with pytest.raises(ValueError) as info:
        sealwire.PublicIdentity.from_bytes(view)
    assert not isinstance(info.value, sealwire.SealwireError)
