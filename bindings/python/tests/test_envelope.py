"""Envelope encryption through the Python binding: seal/unseal with every provider type,
multi-wrap, wrong keys and contexts, tampering and truncation, rewrap, the keyring
(rotation, cutoffs, persistence), Python-implemented key providers, X-Wing recipients,
headers and files. Streaming is in test_envelope_stream.py; vectors in
test_envelope_vectors.py."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import sealwire
from conftest import FAST_KDF

CTX = {"tenant": "acme", "object": "invoices/2024-01.pdf"}
T0 = 1_700_000_000


# --- fixtures and helpers --------------------------------------------------------------------


class AesKms:
    """A KMS-like Python key provider: AES-256-GCM under its own KEK, bound to ctx.aad."""

    provider_id = "test-kms"

    def __init__(self, key_id: str = "kms-key-1", key_version: int = 3) -> None:
        self.key_id = key_id
        self.key_version = key_version
        self.kek = AESGCM.generate_key(256)
        self.seen: list[tuple[str, sealwire.WrapContext]] = []

    def wrap(self, data_key: bytes, ctx: sealwire.WrapContext) -> bytes:
        assert len(data_key) == 32
        self.seen.append(("wrap", ctx))
        nonce = os.urandom(12)
        return nonce + AESGCM(self.kek).encrypt(nonce, data_key, ctx.aad)

    def unwrap(self, wrapped: bytes, ctx: sealwire.WrapContext) -> bytes:
        self.seen.append(("unwrap", ctx))
        try:
            return AESGCM(self.kek).decrypt(wrapped[:12], wrapped[12:], ctx.aad)
        except InvalidTag as e:
            # Say what the built-in providers say: this entry does not authenticate.
            raise sealwire.DecryptionError("not my key", "ERR_SEALWIRE_HEADER_AUTH_FAILED") from e


class Raising:
    """A provider whose wrap/unwrap raise `exc` (after a successful wrap if `wrap_ok`)."""

    provider_id = "raising"
    key_id = "k"
    key_version = 0

    def __init__(self, exc: BaseException, wrap_ok: bool = False) -> None:
        self.exc = exc
        self.inner = AesKms() if wrap_ok else None

    def wrap(self, data_key: bytes, ctx: sealwire.WrapContext) -> bytes:
        if self.inner is not None:
            return self.inner.wrap(data_key, ctx)
        raise self.exc

    def unwrap(self, wrapped: bytes, ctx: sealwire.WrapContext) -> bytes:
        raise self.exc


class Returning:
    """A provider returning fixed values."""

    provider_id = "returning"
    key_id = "k"

    def __init__(self, wrap_result: Any, unwrap_result: Any) -> None:
        self.wrap_result = wrap_result
        self.unwrap_result = unwrap_result

    def wrap(self, data_key: bytes, ctx: sealwire.WrapContext) -> Any:
        return self.wrap_result

    def unwrap(self, wrapped: bytes, ctx: sealwire.WrapContext) -> Any:
        return self.unwrap_result


@pytest.fixture
def ring() -> sealwire.Keyring:
    r = sealwire.Keyring()
    r._set_time(T0)
    assert r.create_key("orders") == 1
    assert r.create_key("payroll") == 1
    return r


@pytest.fixture(scope="module")
def bob() -> sealwire.Identity:
    return sealwire.Identity.generate()


@pytest.fixture(scope="module")
def carol() -> sealwire.XWingKeyPair:
    return sealwire.XWingKeyPair.generate()


def raises(code: str, cls: type[sealwire.SealwireError], call: Callable[[], object]) -> sealwire.SealwireError:
    with pytest.raises(sealwire.SealwireError) as info:
        call()
    assert info.value.code == code, (info.value.code, str(info.value))
    assert type(info.value) is cls
    return info.value


# --- round trips -----------------------------------------------------------------------------


def test_round_trip_each_provider(ring: sealwire.Keyring, bob: sealwire.Identity, carol: sealwire.XWingKeyPair) -> None:
    kms = AesKms()
    pairs: list[tuple[Any, Any]] = [
        (ring, ring),
        (ring, ring.key("orders")),
        (ring.key("payroll"), ring.key("payroll")),
        (ring.key("payroll"), ring),
        (bob.public, bob),
        (bob, bob),
        (carol.public_key, carol),
        (carol, carol),
        (kms, kms),
    ]
    for i, (to, keys) in enumerate(pairs):
        data = os.urandom(i * 1000)
        sealed = sealwire.seal(data, to=to, context=CTX)
        assert sealwire.unseal(sealed, keys=keys, context=CTX) == data, i
        assert sealwire.unseal(sealed, keys=[keys], context=CTX) == data, i
        assert sealwire.unseal(sealed, keys=(k for k in [keys]), context=CTX) == data, i
        assert sealwire.EnvelopeHeader.parse(sealed).wrapped_keys == [sealwire.provider_info(to)]


def test_public_keys_only_wrap(bob: sealwire.Identity, carol: sealwire.XWingKeyPair) -> None:
    sealed = sealwire.seal(b"x", to=[bob.public, carol.public_key])
    for pub in (bob.public, carol.public_key):
        raises("ERR_SEALWIRE_NO_MATCHING_KEY", sealwire.KeyNotAvailableError, lambda: sealwire.unseal(sealed, keys=pub))


def test_multi_wrap_each_recipient_opens_alone(
    ring: sealwire.Keyring, bob: sealwire.Identity, carol: sealwire.XWingKeyPair
) -> None:
    kms = AesKms()
    to: list[Any] = [ring.key("orders"), bob.public, carol.public_key, kms]
    data = os.urandom(200_000)
    sealed = sealwire.seal(data, to=to, context=CTX, suite="aes-256-gcm", segment_size=4096)
    header = sealwire.EnvelopeHeader.parse(sealed)
    assert header.wrapped_keys == [sealwire.provider_info(p) for p in to]
    assert header.wrapped_keys[0] == ("keyring", "orders", 1)
    assert header.wrapped_keys[3] == ("test-kms", "kms-key-1", 3)
    assert header.suite == "aes-256-gcm" and header.segment_size == 4096 and header.context == CTX
    openers: list[list[Any]] = [[ring], [bob], [carol], [kms], [AesKms(), carol]]
    for keys in openers:
        assert sealwire.unseal(sealed, keys=keys, context=CTX) == data


def test_python_provider_sees_the_envelope_binding(ring: sealwire.Keyring) -> None:
    kms = AesKms(key_version=7)
    sealed = sealwire.seal(b"data", to=kms, context=CTX)
    h = sealwire.EnvelopeHeader.parse(sealed)
    assert sealwire.unseal(sealed, keys=kms, context=CTX) == b"data"
    (w_op, w), (u_op, u) = kms.seen
    assert (w_op, u_op) == ("wrap", "unwrap")
    ctx_enc = len(CTX).to_bytes(2, "big") + b"".join(
        len(k.encode()).to_bytes(2, "big") + k.encode() + len(v.encode()).to_bytes(2, "big") + v.encode()
        for k, v in sorted(CTX.items(), key=lambda kv: kv[0].encode())
    )
    d = hashlib.sha256(
        b"SEALWIRE\x00envelope-v1\x00header\x00\x01" + (65536).to_bytes(4, "big") + h.message_id + ctx_enc
    ).digest()
    for ctx in (w, u):
        assert ctx.message_id == h.message_id
        assert ctx.context == CTX
        assert ctx.suite == "chacha20-poly1305"
        assert ctx.aad == b"SEALWIRE\x00envelope-v1\x00wrap\x00" + d
    assert (w.key_id, w.key_version) == (None, None)
    assert (u.key_id, u.key_version) == ("kms-key-1", 7)
    assert "acme" not in repr(w)


def test_inputs_and_parameters(ring: sealwire.Keyring) -> None:
    data = os.urandom(5000)
    for buf in (data, bytearray(data), memoryview(data)):
        assert sealwire.unseal(sealwire.seal(buf, to=ring), keys=ring) == data
    for suite in ("chacha20-poly1305", "aes-256-gcm", "chacha20poly1305", "aes256gcm", "AES-256-GCM"):
        sealed = sealwire.seal(data, to=ring, suite=suite)  # type: ignore[arg-type]
        assert sealwire.EnvelopeHeader.parse(sealed).suite in ("chacha20-poly1305", "aes-256-gcm")
        assert sealwire.unseal(sealed, keys=ring) == data
    for seg in (64, 65, 1000, 16 * 1024 * 1024):
        sealed = sealwire.seal(data, to=ring, segment_size=seg)
        assert sealwire.unseal(sealed, keys=ring) == data
        full, rest = divmod(len(data), seg)
        assert len(sealed) == sealwire.EnvelopeHeader.parse(sealed).header_len + len(data) + 16 * (full + 1)
    for seg in (63, 16 * 1024 * 1024 + 1, 0, -1, 2**40):
        raises("ERR_SEALWIRE_INVALID_PARAMETER", sealwire.ParameterError, lambda: sealwire.seal(b"", to=ring, segment_size=seg))
    raises("ERR_SEALWIRE_INVALID_PARAMETER", sealwire.ParameterError, lambda: sealwire.seal(b"", to=ring, suite="rot13"))  # type: ignore[arg-type]
    raises("ERR_SEALWIRE_INVALID_PARAMETER", sealwire.ParameterError, lambda: sealwire.seal(b"", to=[]))
    raises("ERR_SEALWIRE_INVALID_PARAMETER", sealwire.ParameterError, lambda: sealwire.seal(b"", to=ring, context={"": "x"}))
    with pytest.raises(TypeError):
        sealwire.seal("text", to=ring)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key provider"):
        sealwire.seal(b"", to=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key provider"):
        sealwire.seal(b"", to="keyring")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key provider"):
        sealwire.seal(b"", to=[ring, object()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="context"):
        sealwire.seal(b"", to=ring, context={"a": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="context"):
        sealwire.seal(b"", to=ring, context=[("a", "b")])  # type: ignore[arg-type]
    untyped: Any = sealwire.seal  # mypy versions disagree on the error code of the next call
    with pytest.raises(TypeError):
        untyped(b"", ring)
    # An empty keyring has no default key to wrap under.
    raises("ERR_SEALWIRE_KEY_NOT_FOUND", sealwire.KeyNotAvailableError, lambda: sealwire.seal(b"", to=sealwire.Keyring()))


def test_context_must_match_exactly(ring: sealwire.Keyring) -> None:
    sealed = sealwire.seal(b"data", to=ring, context=CTX)
    assert sealwire.unseal(sealed, keys=ring, context=dict(reversed(list(CTX.items())))) == b"data"
    for other in ({}, None, {"tenant": "acme"}, {**CTX, "x": ""}, {**CTX, "tenant": "Acme"}):
        err = raises(
            "ERR_SEALWIRE_CONTEXT_MISMATCH",
            sealwire.ContextMismatchError,
            lambda: sealwire.unseal(sealed, keys=ring, context=other),
        )
        assert "acme" not in str(err)
    unicode_ctx = {"ключ": "значение", "emoji": "🔑", "empty": ""}
    sealed = sealwire.seal(b"data", to=ring, context=unicode_ctx)
    assert sealwire.EnvelopeHeader.parse(sealed).context == unicode_ctx
    assert sealwire.unseal(sealed, keys=ring, context=unicode_ctx) == b"data"


def test_wrong_keys(ring: sealwire.Keyring, bob: sealwire.Identity, carol: sealwire.XWingKeyPair) -> None:
    sealed = sealwire.seal(b"data", to=[bob.public, carol.public_key])
    mallory = sealwire.Identity.generate()
    other_ring = sealwire.Keyring()
    other_ring.create_key("orders")
    wrong: list[list[Any]] = [[mallory], [sealwire.XWingKeyPair.generate()], [ring], [AesKms()], [mallory, ring]]
    for keys in wrong:
        err = raises("ERR_SEALWIRE_NO_MATCHING_KEY", sealwire.KeyNotAvailableError, lambda: sealwire.unseal(sealed, keys=keys))
        assert isinstance(err, LookupError)
    # Same key id in another keyring: the entry is "owned" but does not authenticate.
    sealed = sealwire.seal(b"data", to=ring.key("orders"))
    raises("ERR_SEALWIRE_HEADER_AUTH_FAILED", sealwire.DecryptionError, lambda: sealwire.unseal(sealed, keys=other_ring))
    raises("ERR_SEALWIRE_NO_MATCHING_KEY", sealwire.KeyNotAvailableError, lambda: sealwire.unseal(sealed, keys=ring.key("payroll")))
    raises("ERR_SEALWIRE_NO_MATCHING_KEY", sealwire.KeyNotAvailableError, lambda: sealwire.unseal(sealed, keys=[]))


def test_any_flipped_bit_is_refused(ring: sealwire.Keyring) -> None:
    """Every byte of a small multi-segment envelope, header included, is authenticated."""
    data = os.urandom(300)
    sealed = sealwire.seal(data, to=ring, context={"k": "v"}, segment_size=64)
    codes = set()
    for i in range(len(sealed)):
        for bit in (0x01, 0x80):
            bad = bytearray(sealed)
            bad[i] ^= bit
            with pytest.raises(sealwire.SealwireError) as info:
                sealwire.unseal(bytes(bad), keys=ring, context={"k": "v"})
            codes.add(info.value.code)
    assert {
        "ERR_SEALWIRE_DECRYPTION_FAILED",
        "ERR_SEALWIRE_HEADER_AUTH_FAILED",
        "ERR_SEALWIRE_COMMITMENT_MISMATCH",
        "ERR_SEALWIRE_CONTEXT_MISMATCH",
        "ERR_SEALWIRE_BAD_MAGIC",
    } <= codes


def test_truncation_and_extension_are_refused(ring: sealwire.Keyring) -> None:
    data = os.urandom(64 * 4)  # exactly 4 full segments: the final one is empty
    sealed = sealwire.seal(data, to=ring, segment_size=64)
    hlen = sealwire.EnvelopeHeader.parse(sealed).header_len
    codes = set()
    for n in range(len(sealed)):
        with pytest.raises(sealwire.SealwireError) as info:
            sealwire.unseal(sealed[:n], keys=ring)
        codes.add(info.value.code)
        if n >= hlen and (n - hlen) % 80 == 0:
            assert info.value.code == "ERR_SEALWIRE_TRUNCATED"  # cut at a segment boundary
    assert codes == {"ERR_SEALWIRE_TRUNCATED", "ERR_SEALWIRE_DECRYPTION_FAILED"}
    for extra in (b"\x00", sealed[hlen : hlen + 80], sealed[-16:]):
        raises("ERR_SEALWIRE_DECRYPTION_FAILED", sealwire.DecryptionError, lambda: sealwire.unseal(sealed + extra, keys=ring))


def test_commitment_is_checked(ring: sealwire.Keyring) -> None:
    sealed = bytearray(sealwire.seal(b"data", to=ring))
    sealed[48] ^= 1  # first commitment byte (empty context: 2 bytes at offset 46)
    raises("ERR_SEALWIRE_COMMITMENT_MISMATCH", sealwire.DecryptionError, lambda: sealwire.unseal(sealed, keys=ring))


def test_header_inspection_without_keys(ring: sealwire.Keyring) -> None:
    sealed = sealwire.seal(b"x" * 100, to=[ring, ring.key("payroll")], context=CTX, segment_size=64)
    h = sealwire.EnvelopeHeader.parse(sealed)
    assert h.wrapped_keys == [("keyring", "orders", 1), ("keyring", "payroll", 1)]
    assert len(h.message_id) == 32
    assert h.context == CTX and h.context is not h.context
    assert repr(h) == "<EnvelopeHeader chacha20-poly1305, 64-byte segments, 2 wrapped keys>"
    assert sealwire.EnvelopeHeader.PREFIX_LEN == 9
    assert sealwire.EnvelopeHeader.length(sealed[:9]) == h.header_len
    raises("ERR_SEALWIRE_TRUNCATED", sealwire.DecodeError, lambda: sealwire.EnvelopeHeader.length(sealed[:8]))
    raises("ERR_SEALWIRE_BAD_MAGIC", sealwire.DecodeError, lambda: sealwire.EnvelopeHeader.parse(b"SWKR" + sealed[4:]))
    raises("ERR_SEALWIRE_TRUNCATED", sealwire.DecodeError, lambda: sealwire.EnvelopeHeader.parse(sealed[:100]))


# --- rewrap ----------------------------------------------------------------------------------


def test_rewrap_add_and_remove_keeps_payload(
    ring: sealwire.Keyring, bob: sealwire.Identity, carol: sealwire.XWingKeyPair
) -> None:
    data = os.urandom(10_000)
    sealed = sealwire.seal(data, to=ring, context=CTX, segment_size=1024)
    h = sealwire.EnvelopeHeader.parse(sealed)

    added = sealwire.rewrap(sealed, keys=ring, context=CTX, add=[bob.public, carol.public_key])
    h2 = sealwire.EnvelopeHeader.parse(added)
    assert added[h2.header_len :] == sealed[h.header_len :]  # payload bytes identical
    assert h2.message_id == h.message_id
    assert h2.wrapped_keys == h.wrapped_keys + [sealwire.provider_info(bob), sealwire.provider_info(carol)]
    for keys in (ring, bob, carol):
        assert sealwire.unseal(added, keys=keys, context=CTX) == data

    # Hand-off: bob (who can open it) removes the keyring entry, by tuple.
    handed = sealwire.rewrap(added, keys=bob, context=CTX, remove=("keyring", "orders"))
    assert [w[0] for w in sealwire.EnvelopeHeader.parse(handed).wrapped_keys] == ["hpke-x25519", "hpke-xwing"]
    raises("ERR_SEALWIRE_NO_MATCHING_KEY", sealwire.KeyNotAvailableError, lambda: sealwire.unseal(handed, keys=ring, context=CTX))
    # ... and carol's, by provider object; a list may mix both forms.
    only_bob = sealwire.rewrap(handed, keys=carol, context=CTX, remove=[carol.public_key, ("none", "none")])
    assert sealwire.EnvelopeHeader.parse(only_bob).wrapped_keys == [sealwire.provider_info(bob.public)]
    assert sealwire.unseal(only_bob, keys=bob, context=CTX) == data
    assert only_bob[-len(data) :] != data  # still encrypted
    assert only_bob[sealwire.EnvelopeHeader.parse(only_bob).header_len :] == sealed[h.header_len :]

    # Replace: remove then add the same recipient gives a fresh entry, not a duplicate.
    again = sealwire.rewrap(only_bob, keys=bob, context=CTX, remove=[bob], add=[bob])
    assert len(sealwire.EnvelopeHeader.parse(again).wrapped_keys) == 1
    raises(
        "ERR_SEALWIRE_INVALID_PARAMETER",
        sealwire.ParameterError,
        lambda: sealwire.rewrap(only_bob, keys=bob, context=CTX, remove=[bob]),
    )
    raises(
        "ERR_SEALWIRE_CONTEXT_MISMATCH",
        sealwire.ContextMismatchError,
        lambda: sealwire.rewrap(only_bob, keys=bob, context={}, add=ring),
    )
    raises(
        "ERR_SEALWIRE_NO_MATCHING_KEY",
        sealwire.KeyNotAvailableError,
        lambda: sealwire.rewrap(only_bob, keys=carol, context=CTX, add=ring),
    )
    with pytest.raises(TypeError):
        sealwire.rewrap(only_bob, keys=bob, context=CTX, remove="keyring")  # type: ignore[arg-type]
    # The header alone is enough to authenticate; the payload is carried over as is.
    tampered = bytearray(only_bob)
    tampered[-1] ^= 1
    moved = sealwire.rewrap(tampered, keys=bob, context=CTX, add=ring)
    raises("ERR_SEALWIRE_DECRYPTION_FAILED", sealwire.DecryptionError, lambda: sealwire.unseal(moved, keys=ring, context=CTX))


def test_rotation_and_rewrap_to_the_new_version(ring: sealwire.Keyring) -> None:
    old = sealwire.seal(b"old data", to=ring, context=CTX)
    assert sealwire.EnvelopeHeader.parse(old).wrapped_keys == [("keyring", "orders", 1)]
    ring._set_time(T0 + 100)
    assert ring.rotate("orders", old_decrypt_until=T0 + 1000) == 2
    assert ring.primary_version("orders") == 2
    assert sealwire.provider_info(ring) == ("keyring", "orders", 2)
    assert ring.key("orders").key_version == 2
    assert ring.versions("orders") == ring.versions("orders")  # value equality
    v1, v2 = ring.versions("orders")
    assert (v1.version, v1.primary, v1.created_at, v1.retired_at, v1.decrypt_until) == (1, False, T0, T0 + 100, T0 + 1000)
    assert (v2.version, v2.primary, v2.created_at, v2.retired_at, v2.decrypt_until) == (2, True, T0 + 100, None, None)
    assert repr(v2) == f"KeyVersionInfo(version=2, primary=True, created_at={T0 + 100}, retired_at=None, decrypt_until=None)"

    new = sealwire.seal(b"new data", to=ring, context=CTX)
    assert sealwire.EnvelopeHeader.parse(new).wrapped_keys == [("keyring", "orders", 2)]
    assert sealwire.unseal(old, keys=ring, context=CTX) == b"old data"  # v1 still unwraps

    # Rewrap the old object to the primary version before the cutoff.
    moved = sealwire.rewrap(old, keys=ring, context=CTX, rewrap_with=ring)
    assert sealwire.EnvelopeHeader.parse(moved).wrapped_keys == [("keyring", "orders", 2)]

    ring._set_time(T0 + 1000)  # the cutoff
    raises("ERR_SEALWIRE_KEY_RETIRED", sealwire.KeyNotAvailableError, lambda: sealwire.unseal(old, keys=ring, context=CTX))
    assert sealwire.unseal(moved, keys=ring, context=CTX) == b"old data"
    ring.set_decrypt_until("orders", 1, None)  # lift the cutoff
    assert sealwire.unseal(old, keys=ring, context=CTX) == b"old data"
    ring.set_decrypt_until("orders", 1, datetime.fromtimestamp(T0 + 500, timezone.utc))
    assert ring.versions("orders")[0].decrypt_until == T0 + 500
    raises("ERR_SEALWIRE_KEY_RETIRED", sealwire.KeyNotAvailableError, lambda: sealwire.unseal(old, keys=ring, context=CTX))
    ring._set_time(datetime.fromtimestamp(T0 + 10, timezone(timedelta(hours=5))))
    assert sealwire.unseal(old, keys=ring, context=CTX) == b"old data"

    # Crypto-shredding: drop v1 for good.
    ring.remove_version("orders", 1)
    raises("ERR_SEALWIRE_KEY_NOT_FOUND", sealwire.KeyNotAvailableError, lambda: sealwire.unseal(old, keys=ring, context=CTX))
    assert sealwire.unseal(moved, keys=ring, context=CTX) == b"old data"

    # Without a cutoff, and a third version.
    assert ring.rotate("orders") == 3
    assert ring.versions("orders")[-2].decrypt_until is None
    assert sealwire.unseal(new, keys=ring, context=CTX) == b"new data"


def test_keyring_management_errors(ring: sealwire.Keyring) -> None:
    def p(call: Callable[[], object]) -> None:
        raises("ERR_SEALWIRE_INVALID_PARAMETER", sealwire.ParameterError, call)

    def nf(call: Callable[[], object]) -> None:
        raises("ERR_SEALWIRE_KEY_NOT_FOUND", sealwire.KeyNotAvailableError, call)

    p(lambda: ring.create_key("orders"))  # exists
    p(lambda: ring.create_key("with space"))
    p(lambda: ring.create_key(""))
    p(lambda: ring.create_key("x" * 256))
    p(lambda: ring.set_decrypt_until("orders", 1, T0 + 5))  # the primary cannot have a cutoff
    p(lambda: ring.remove_version("orders", 1))  # nor be removed
    p(lambda: ring.rotate("orders", old_decrypt_until=0))
    p(lambda: ring.rotate("orders", old_decrypt_until=-5))
    p(lambda: ring.rotate("orders", old_decrypt_until=datetime(2030, 1, 1)))  # naive
    p(lambda: ring.set_decrypt_until("orders", -1, None))
    p(lambda: ring.set_decrypt_until("orders", 2**32, None))
    with pytest.raises(TypeError):
        ring.rotate("orders", old_decrypt_until=True)
    with pytest.raises(TypeError):
        ring.rotate("orders", old_decrypt_until="2030-01-01")  # type: ignore[arg-type]
    nf(lambda: ring.rotate("nope"))
    nf(lambda: ring.versions("nope"))
    nf(lambda: ring.primary_version("nope"))
    nf(lambda: ring.key("nope"))
    nf(lambda: ring.set_default_key("nope"))
    nf(lambda: ring.set_decrypt_until("orders", 9, None))
    nf(lambda: ring.remove_version("orders", 9))
    assert ring.versions("orders")[0].primary  # nothing above changed the ring
    assert ring.key_ids == ["orders", "payroll"]
    assert "orders" in ring and "nope" not in ring
    assert ring.default_key == "orders"
    ring.set_default_key("payroll")
    assert sealwire.EnvelopeHeader.parse(sealwire.seal(b"", to=ring)).wrapped_keys[0][1] == "payroll"
    assert repr(ring) == "<Keyring with 2 keys>"
    k = ring.key("orders")
    assert (k.provider_id, k.key_id, k.key_version, repr(k)) == ("keyring", "orders", 1, "<KeyringKey 'orders'>")
    assert k.keyring is ring
    empty = sealwire.Keyring()
    assert (empty.key_ids, empty.default_key, empty.generation) == ([], None, 0)
    assert sealwire.provider_info(empty) == ("keyring", "", 0)


def test_keyring_persistence(tmp_path: Path, ring: sealwire.Keyring) -> None:
    sealed = sealwire.seal(b"data", to=ring)
    path = tmp_path / "keys" / "ring.swkr"
    path.parent.mkdir()
    ring.save(
        path,
        passphrase="correct horse",
        memory_kib=FAST_KDF["memory_kib"],
        iterations=FAST_KDF["iterations"],
        lanes=FAST_KDF["lanes"],
    )
    assert ring.generation == 1
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["ring.swkr"]  # no temp file left
    loaded = sealwire.Keyring.load(path, passphrase=b"correct horse")
    assert loaded.generation == 1 and loaded.key_ids == ring.key_ids
    assert sealwire.unseal(sealed, keys=loaded) == b"data"
    raises("ERR_SEALWIRE_DECRYPTION_FAILED", sealwire.DecryptionError, lambda: sealwire.Keyring.load(path, passphrase="wrong"))
    raises(
        "ERR_SEALWIRE_INVALID_PARAMETER",
        sealwire.ParameterError,
        lambda: sealwire.Keyring.load(path, root_key=sealwire.RootKey.generate()),
    )

    root = sealwire.RootKey.generate()
    blob = loaded.to_bytes(root_key=root)
    assert loaded.generation == 2 and blob[:5] == b"SWKR\x01"
    again = sealwire.Keyring.from_bytes(blob, root_key=sealwire.RootKey.from_hex(root.to_hex().upper()))
    assert again.generation == 2 and sealwire.unseal(sealed, keys=again) == b"data"
    ring.save(str(path), root_key=root)
    assert sealwire.Keyring.load(str(path), root_key=root).key_ids == ["orders", "payroll"]

    with pytest.raises(TypeError, match="exactly one"):
        ring.to_bytes()
    with pytest.raises(TypeError, match="exactly one"):
        ring.to_bytes(passphrase="x", root_key=root)
    raises("ERR_SEALWIRE_INVALID_PARAMETER", sealwire.ParameterError, lambda: ring.to_bytes(passphrase="x", memory_kib=8))
    err = raises("ERR_SEALWIRE_IO", sealwire.StorageError, lambda: sealwire.Keyring.load(tmp_path / "missing", root_key=root))
    assert isinstance(err, sealwire.StorageError) and isinstance(err, OSError)
    assert err.errno == errno.ENOENT and err.filename == str(tmp_path / "missing")
    raises("ERR_SEALWIRE_IO", sealwire.StorageError, lambda: ring.save(tmp_path / "no" / "dir", root_key=root))
    raises("ERR_SEALWIRE_TRUNCATED", sealwire.DecodeError, lambda: sealwire.Keyring.from_bytes(b"SWKR", root_key=root))


def test_root_key(monkeypatch: pytest.MonkeyPatch) -> None:
    root = sealwire.RootKey.generate()
    hex_key = root.to_hex()
    assert len(hex_key) == 64 and hex_key == hex_key.lower()
    assert repr(root) == "<RootKey>"
    monkeypatch.setenv("SEALWIRE_KEYRING_ROOT_KEY", f"  {hex_key}\n")
    monkeypatch.setenv("MY_ROOT", hex_key.upper())
    ring = sealwire.Keyring()
    ring.create_key("k")
    blob = ring.to_bytes(root_key=root)
    for r in (sealwire.RootKey.from_env(), sealwire.RootKey.from_env("MY_ROOT"), sealwire.RootKey.from_bytes(bytes.fromhex(hex_key))):
        assert r.to_hex() == hex_key
        assert sealwire.Keyring.from_bytes(blob, root_key=r).key_ids == ["k"]
    monkeypatch.delenv("SEALWIRE_KEYRING_ROOT_KEY")
    raises("ERR_SEALWIRE_KEY_NOT_FOUND", sealwire.KeyNotAvailableError, sealwire.RootKey.from_env)
    raises("ERR_SEALWIRE_INVALID_ENCODING", sealwire.DecodeError, lambda: sealwire.RootKey.from_hex("zz" * 32))
    raises("ERR_SEALWIRE_INVALID_LENGTH", sealwire.DecodeError, lambda: sealwire.RootKey.from_bytes(b"short"))


# --- Python key providers --------------------------------------------------------------------


def test_python_provider_exception_is_chained(ring: sealwire.Keyring) -> None:
    boom = RuntimeError("KMS unreachable")
    err = raises("ERR_SEALWIRE_PROVIDER_FAILED", sealwire.ProviderError, lambda: sealwire.seal(b"x", to=[ring, Raising(boom)]))
    assert err.__cause__ is boom
    sealed = sealwire.seal(b"x", to=Raising(boom, wrap_ok=True))
    err = raises("ERR_SEALWIRE_PROVIDER_FAILED", sealwire.ProviderError, lambda: sealwire.unseal(sealed, keys=Raising(boom)))
    assert err.__cause__ is boom
    # Another provider that opens the envelope makes the call succeed.
    both = sealwire.seal(b"x", to=[Raising(boom, wrap_ok=True), ring])
    assert sealwire.unseal(both, keys=[Raising(boom), ring]) == b"x"


def test_python_provider_control_flow_exceptions_pass_through(ring: sealwire.Keyring) -> None:
    with pytest.raises(KeyboardInterrupt):
        sealwire.seal(b"x", to=[ring, Raising(KeyboardInterrupt())])
    sealed = sealwire.seal(b"x", to=Raising(KeyboardInterrupt(), wrap_ok=True))
    with pytest.raises(SystemExit):
        sealwire.unseal(sealed, keys=Raising(SystemExit(3)))
    # Not swallowed even when another provider opens the envelope.
    both = sealwire.seal(b"x", to=[Raising(KeyboardInterrupt(), wrap_ok=True), ring])
    with pytest.raises(KeyboardInterrupt):
        sealwire.unseal(both, keys=[Raising(KeyboardInterrupt()), ring])


def test_python_provider_sealwire_codes_are_kept(ring: sealwire.Keyring) -> None:
    kms, other = AesKms(), AesKms()  # same provider and key id, different KEKs
    sealed = sealwire.seal(b"x", to=kms)
    err = raises("ERR_SEALWIRE_HEADER_AUTH_FAILED", sealwire.DecryptionError, lambda: sealwire.unseal(sealed, keys=other))
    assert isinstance(err.__cause__, sealwire.DecryptionError)
    assert isinstance(err.__cause__.__cause__, InvalidTag)
    assert sealwire.unseal(sealed, keys=[other, kms]) == b"x"
    retired = Raising(sealwire.KeyNotAvailableError("gone", "ERR_SEALWIRE_KEY_RETIRED"))
    sealed = sealwire.seal(b"x", to=Raising(RuntimeError(), wrap_ok=True))
    raises("ERR_SEALWIRE_KEY_RETIRED", sealwire.KeyNotAvailableError, lambda: sealwire.unseal(sealed, keys=retired))
    # Any other SealwireError raised by a provider is a provider failure.
    odd = Raising(sealwire.ParameterError("odd", "ERR_SEALWIRE_INVALID_PARAMETER"))
    err = raises("ERR_SEALWIRE_PROVIDER_FAILED", sealwire.ProviderError, lambda: sealwire.unseal(sealed, keys=odd))
    assert type(err.__cause__) is sealwire.ParameterError


def test_python_provider_invalid_results(ring: sealwire.Keyring) -> None:
    for result in ("text", None, 42, b"", bytes(65536)):
        err = raises("ERR_SEALWIRE_PROVIDER_FAILED", sealwire.ProviderError, lambda: sealwire.seal(b"x", to=Returning(result, None)))
        assert isinstance(err.__cause__, TypeError)
    sealed = sealwire.seal(b"x", to=Returning(bytearray(b"wrapped"), None))
    assert sealwire.EnvelopeHeader.parse(sealed).wrapped_keys == [("returning", "k", 0)]
    for result in (b"short", None, bytes(33)):
        err = raises(
            "ERR_SEALWIRE_PROVIDER_FAILED", sealwire.ProviderError, lambda: sealwire.unseal(sealed, keys=Returning(None, result))
        )
        assert isinstance(err.__cause__, TypeError)
    # 32 bytes that are not the data key: the key commitment catches it.
    raises(
        "ERR_SEALWIRE_COMMITMENT_MISMATCH",
        sealwire.DecryptionError,
        lambda: sealwire.unseal(sealed, keys=Returning(None, bytes(32))),
    )


def test_python_provider_attributes() -> None:
    class NoKeyId:
        provider_id = "p"

        def wrap(self, data_key: bytes, ctx: sealwire.WrapContext) -> bytes:
            return b"w"

        def unwrap(self, wrapped: bytes, ctx: sealwire.WrapContext) -> bytes:
            return b""

    with pytest.raises(TypeError, match="key provider"):
        sealwire.seal(b"x", to=NoKeyId())  # type: ignore[arg-type]

    class Bad(NoKeyId):
        key_id = "k"

    bad = Bad()
    bad.provider_id = "has space"
    raises("ERR_SEALWIRE_INVALID_PARAMETER", sealwire.ParameterError, lambda: sealwire.seal(b"x", to=bad))
    bad.provider_id = 5  # type: ignore[assignment]
    with pytest.raises(TypeError, match="provider_id must be a str"):
        sealwire.seal(b"x", to=bad)
    good = Bad()
    good.key_version = -1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="key_version"):
        sealwire.seal(b"x", to=good)
    good.key_version = None  # type: ignore[attr-defined]
    assert sealwire.provider_info(good) == ("p", "k", 0)


def test_callbacks_cannot_deadlock_on_a_keyring_in_use(ring: sealwire.Keyring) -> None:
    """A provider that calls back into sealwire with a keyring the outer call holds gets a
    ParameterError (chained under the outer ProviderError) instead of hanging."""
    inner_errors: list[BaseException] = []

    class Reentrant(AesKms):
        def wrap(self, data_key: bytes, ctx: sealwire.WrapContext) -> bytes:
            for call in (
                lambda: sealwire.seal(b"inner", to=ring),
                lambda: ring.rotate("orders"),
                lambda: ring.versions("orders"),
            ):
                try:
                    call()
                except sealwire.ParameterError as e:
                    inner_errors.append(e)
            sealwire.seal(b"inner", to=sealwire.Keyring.from_bytes(ring_copy, root_key=root))  # another ring: fine
            return super().wrap(data_key, ctx)

    root = sealwire.RootKey.generate()
    ring_copy = ring.to_bytes(root_key=root)
    sealed = sealwire.seal(b"x", to=[ring, Reentrant()])
    assert len(inner_errors) == 3
    assert all(getattr(e, "code", None) == "ERR_SEALWIRE_INVALID_PARAMETER" for e in inner_errors)
    assert sealwire.unseal(sealed, keys=ring) == b"x"
    assert ring.primary_version("orders") == 1  # the ring is usable again


# --- X-Wing ----------------------------------------------------------------------------------


def test_xwing_keys() -> None:
    kp = sealwire.XWingKeyPair.generate()
    pub = kp.public_key
    assert len(pub.to_bytes()) == 1221 and len(pub.raw_bytes()) == 1216 and len(kp.seed()) == 32
    assert sealwire.XWingKeyPair.from_seed(kp.seed()).public_key == pub
    assert sealwire.XWingPublicKey.from_bytes(pub.to_bytes()) == pub
    assert hash(sealwire.XWingPublicKey.from_bytes(pub.to_bytes())) == hash(pub)
    assert pub != sealwire.XWingKeyPair.generate().public_key
    assert repr(kp) == "<XWingKeyPair>" and repr(pub) == "<XWingPublicKey>"
    raises("ERR_SEALWIRE_BAD_MAGIC", sealwire.DecodeError, lambda: sealwire.XWingPublicKey.from_bytes(b"SWXQ" + pub.to_bytes()[4:]))
    raises("ERR_SEALWIRE_TRAILING_BYTES", sealwire.DecodeError, lambda: sealwire.XWingPublicKey.from_bytes(pub.to_bytes() + b"\x00"))
    raises("ERR_SEALWIRE_INVALID_LENGTH", sealwire.DecodeError, lambda: sealwire.XWingPublicKey.from_raw_bytes(b"\x00" * 10))
    raises("ERR_SEALWIRE_INVALID_LENGTH", sealwire.DecodeError, lambda: sealwire.XWingKeyPair.from_seed(b"\x00" * 31))
    # An ML-KEM key with an out-of-range coefficient fails the FIPS 203 check.
    raises("ERR_SEALWIRE_INVALID_PUBLIC_KEY", sealwire.InvalidKeyError, lambda: sealwire.XWingPublicKey.from_raw_bytes(b"\xff" * 1216))


# --- files -----------------------------------------------------------------------------------


@pytest.fixture
def big_file(tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    data = os.urandom(3 * 1024 * 1024 + 12345)
    path = tmp_path / "plain.bin"
    path.write_bytes(data)
    yield path, data


def test_seal_file_and_unseal_file(
    tmp_path: Path, big_file: tuple[Path, bytes], ring: sealwire.Keyring, bob: sealwire.Identity
) -> None:
    src, data = big_file
    sealed_path = tmp_path / "plain.bin.swev"
    sealwire.seal_file(src, sealed_path, to=[ring, bob.public], context=CTX, segment_size=100_000)
    sealed = sealed_path.read_bytes()
    assert sealwire.unseal(sealed, keys=bob, context=CTX) == data
    out = tmp_path / "out.bin"
    sealwire.unseal_file(str(sealed_path), str(out), keys=ring, context=CTX)
    assert out.read_bytes() == data
    if os.name == "posix":
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # A one-shot envelope opens as a file too, and the destination is replaced.
    (tmp_path / "one.swev").write_bytes(sealwire.seal(b"small", to=ring))
    sealwire.unseal_file(tmp_path / "one.swev", out, keys=ring)
    assert out.read_bytes() == b"small"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.swev", "out.bin", "plain.bin", "plain.bin.swev"]


def test_unseal_file_leaves_destination_alone_on_failure(
    tmp_path: Path, big_file: tuple[Path, bytes], ring: sealwire.Keyring
) -> None:
    src, data = big_file
    sealed_path = tmp_path / "s.swev"
    sealwire.seal_file(src, sealed_path, to=ring)
    sealed = sealed_path.read_bytes()
    out = tmp_path / "out.bin"
    out.write_bytes(b"previous content")
    bad = tmp_path / "bad.swev"
    hlen = sealwire.EnvelopeHeader.parse(sealed).header_len
    for broken, code in (
        (sealed[: hlen + 10 * (65536 + 16)], "ERR_SEALWIRE_TRUNCATED"),
        (sealed[: len(sealed) - 100_000], "ERR_SEALWIRE_DECRYPTION_FAILED"),
        (sealed[:-1] + bytes([sealed[-1] ^ 1]), "ERR_SEALWIRE_DECRYPTION_FAILED"),
        (sealed[:100], "ERR_SEALWIRE_TRUNCATED"),  # inside the header
    ):
        bad.write_bytes(broken)
        with pytest.raises(sealwire.SealwireError) as info:
            sealwire.unseal_file(bad, out, keys=ring)
        assert info.value.code == code
        assert out.read_bytes() == b"previous content"
    raises("ERR_SEALWIRE_NO_MATCHING_KEY", sealwire.KeyNotAvailableError, lambda: sealwire.unseal_file(sealed_path, out, keys=sealwire.Keyring()))
    raises("ERR_SEALWIRE_CONTEXT_MISMATCH", sealwire.ContextMismatchError, lambda: sealwire.unseal_file(sealed_path, out, keys=ring, context=CTX))
    assert out.read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.swev", "out.bin", "plain.bin", "s.swev"]


def test_file_errors_are_storage_errors(tmp_path: Path, ring: sealwire.Keyring) -> None:
    missing = tmp_path / "missing"
    err = raises("ERR_SEALWIRE_IO", sealwire.StorageError, lambda: sealwire.seal_file(missing, tmp_path / "x", to=ring))
    assert isinstance(err, sealwire.StorageError) and isinstance(err, OSError)
    assert (err.errno, err.filename) == (errno.ENOENT, str(missing))
    assert "No such file" in str(err) and str(missing) in str(err)
    err = raises("ERR_SEALWIRE_IO", sealwire.StorageError, lambda: sealwire.unseal_file(missing, tmp_path / "x", keys=ring))
    assert isinstance(err, sealwire.StorageError) and err.errno == errno.ENOENT
    src = tmp_path / "src"
    src.write_bytes(b"data")
    nowhere = tmp_path / "no" / "such" / "dir" / "out"
    err = raises("ERR_SEALWIRE_IO", sealwire.StorageError, lambda: sealwire.seal_file(src, nowhere, to=ring))
    assert isinstance(err, sealwire.StorageError)
    assert (err.errno, err.filename) == (errno.ENOENT, str(nowhere))
    err = raises("ERR_SEALWIRE_IO", sealwire.StorageError, lambda: sealwire.seal_file(tmp_path, tmp_path / "x", to=ring))
    assert isinstance(err, sealwire.StorageError) and err.errno == errno.EISDIR
    raises("ERR_SEALWIRE_INVALID_PARAMETER", sealwire.ParameterError, lambda: sealwire.seal_file(src, "/", to=ring))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


# --- every envelope error code, provoked for real --------------------------------------------


def test_every_envelope_code_is_provoked(tmp_path: Path, ring: sealwire.Keyring, bob: sealwire.Identity) -> None:
    seen: dict[str, type[BaseException]] = {}

    def record(call: Callable[[], object]) -> None:
        with pytest.raises(sealwire.SealwireError) as info:
            call()
        seen[info.value.code] = type(info.value)

    sealed = sealwire.seal(b"data", to=ring.key("orders"), context=CTX)
    record(lambda: sealwire.unseal_file(tmp_path / "missing", tmp_path / "out", keys=ring))
    bad = bytearray(sealed)
    bad[46 + 2 + sum(4 + len(k) + len(v) for k, v in CTX.items())] ^= 1
    record(lambda: sealwire.unseal(bad, keys=ring, context=CTX))
    bad = bytearray(sealed)
    bad[sealwire.EnvelopeHeader.parse(sealed).header_len - 1] ^= 1
    record(lambda: sealwire.unseal(bad, keys=ring, context=CTX))
    record(lambda: sealwire.unseal(sealed, keys=ring, context={}))
    record(lambda: sealwire.unseal(sealed, keys=bob, context=CTX))
    ring.rotate("orders", old_decrypt_until=T0 + 1)
    ring._set_time(T0 + 1)
    record(lambda: sealwire.unseal(sealed, keys=ring, context=CTX))
    ring.remove_version("orders", 1)
    record(lambda: sealwire.unseal(sealed, keys=ring, context=CTX))
    record(lambda: sealwire.seal(b"", to=Raising(ValueError())))
    assert seen == {
        "ERR_SEALWIRE_IO": sealwire.StorageError,
        "ERR_SEALWIRE_COMMITMENT_MISMATCH": sealwire.DecryptionError,
        "ERR_SEALWIRE_HEADER_AUTH_FAILED": sealwire.DecryptionError,
        "ERR_SEALWIRE_CONTEXT_MISMATCH": sealwire.ContextMismatchError,
        "ERR_SEALWIRE_NO_MATCHING_KEY": sealwire.KeyNotAvailableError,
        "ERR_SEALWIRE_KEY_RETIRED": sealwire.KeyNotAvailableError,
        "ERR_SEALWIRE_KEY_NOT_FOUND": sealwire.KeyNotAvailableError,
        "ERR_SEALWIRE_PROVIDER_FAILED": sealwire.ProviderError,
    }
