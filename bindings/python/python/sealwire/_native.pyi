# Hand-written stub for the PyO3 extension module; checked by `python -m mypy.stubtest
# sealwire._native`. Keep in step with bindings/python/src/*.rs.
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, final

from typing_extensions import Buffer

from sealwire.envelope import Providers as _Providers
from sealwire.envelope import SuiteName as _SuiteName

__all__ = [
    "__version__",
    "Identity",
    "PublicIdentity",
    "NoiseHandshake",
    "NoiseTransport",
    "NoiseUnorderedTransport",
    "noise_identity_payload",
    "EnvelopeHeader",
    "Keyring",
    "KeyringKey",
    "KeyVersionInfo",
    "RootKey",
    "WrapContext",
    "XWingKeyPair",
    "XWingPublicKey",
    "seal",
    "unseal",
    "rewrap",
    "seal_file",
    "unseal_file",
    "provider_info",
    "_EnvelopeReader",
    "_EnvelopeWriter",
    "_error_classes",
    "_raise_error",
]

__version__: str

@final
class Identity:
    """An agent's private identity: Ed25519 signing key and X25519 exchange key."""

    @staticmethod
    def generate() -> Identity: ...
    @staticmethod
    def from_secret_bytes(ed25519_seed: Buffer, x25519_secret: Buffer) -> Identity: ...
    @staticmethod
    def from_encrypted(blob: Buffer, passphrase: str | Buffer) -> Identity: ...
    @property
    def public(self) -> PublicIdentity: ...
    def sign(self, message: Buffer) -> bytes: ...
    def export(
        self,
        passphrase: str | Buffer,
        *,
        memory_kib: int | None = None,
        iterations: int | None = None,
        lanes: int | None = None,
    ) -> bytes: ...

@final
class PublicIdentity:
    """A peer's verified public identity."""

    @staticmethod
    def from_bytes(data: Buffer) -> PublicIdentity: ...
    def to_bytes(self) -> bytes: ...
    @property
    def did(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def ed25519_key(self) -> bytes: ...
    @property
    def x25519_key(self) -> bytes: ...
    def verify(self, message: Buffer, signature: Buffer) -> None: ...
    def matches_did(self, did: str) -> bool: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class NoiseHandshake:
    """One side of a Noise handshake (Noise rev 34; ``hfs`` with ML-KEM-768)."""

    def __new__(
        cls,
        protocol_name: str,
        *,
        initiator: bool,
        identity: Identity | None = None,
        remote: PublicIdentity | Buffer | None = None,
        psks: Mapping[int, Buffer] | None = None,
        prologue: Buffer = b"",
    ) -> NoiseHandshake: ...
    @staticmethod
    def _from_vector_inputs(
        protocol_name: str,
        *,
        initiator: bool,
        static_secret: Buffer | None = None,
        remote_static: Buffer | None = None,
        psks: Mapping[int, Buffer] | None = None,
        prologue: Buffer = b"",
        ephemeral: Buffer | None = None,
        kem_seed: Buffer | None = None,
        kem_encaps_m: Buffer | None = None,
    ) -> NoiseHandshake:
        """PRIVATE, test vectors only: raw static secret, fixed ephemeral and ML-KEM
        randomness. Not part of the API; fixed randomness destroys forward secrecy."""
    def write_message(self, payload: Buffer = b"") -> bytes: ...
    def read_message(self, message: Buffer) -> bytes: ...
    @property
    def is_finished(self) -> bool: ...
    @property
    def is_my_turn(self) -> bool: ...
    @property
    def is_initiator(self) -> bool: ...
    @property
    def protocol_name(self) -> str: ...
    @property
    def handshake_hash(self) -> bytes: ...
    @property
    def remote_static(self) -> bytes | None: ...
    def expect_remote_identity(self, peer: PublicIdentity) -> None: ...
    def expect_remote_static(self, key: Buffer) -> None: ...
    def verify_identity_payload(self, payload: Buffer) -> PublicIdentity: ...
    def into_transport(self) -> NoiseTransport: ...
    def into_unordered_transport(self) -> NoiseUnorderedTransport: ...

@final
class NoiseTransport:
    """Ordered Noise transport (implicit nonces)."""

    def encrypt(self, plaintext: Buffer) -> bytes: ...
    def decrypt(self, message: Buffer) -> bytes: ...
    def encrypt_framed(self, payload: Buffer) -> bytes: ...
    def decrypt_framed(self, framed: Buffer) -> bytes: ...
    def rekey_outgoing(self) -> None: ...
    def rekey_incoming(self) -> None: ...
    def set_rekey_interval(self, messages: int) -> None: ...
    @property
    def handshake_hash(self) -> bytes: ...
    @property
    def remote_static(self) -> bytes | None: ...
    @property
    def is_initiator(self) -> bool: ...
    @property
    def sending_nonce(self) -> int | None: ...
    @property
    def receiving_nonce(self) -> int | None: ...

@final
class NoiseUnorderedTransport:
    """Unordered Noise transport (explicit nonces, replay window)."""

    def encrypt(self, plaintext: Buffer) -> bytes: ...
    def decrypt(self, message: Buffer) -> bytes: ...
    def set_rekey_interval(self, messages: int) -> None: ...
    @property
    def handshake_hash(self) -> bytes: ...
    @property
    def remote_static(self) -> bytes | None: ...
    @property
    def is_initiator(self) -> bool: ...
    @property
    def sending_nonce(self) -> int | None: ...

def noise_identity_payload(identity: Identity) -> bytes: ...

# --- envelope layer -------------------------------------------------------------------------

_Path = str | os.PathLike[str]

def seal(
    plaintext: Buffer,
    *,
    to: _Providers,
    context: Mapping[str, str] | None = None,
    suite: _SuiteName = "chacha20-poly1305",
    segment_size: int = 65536,
) -> bytes: ...
def unseal(
    sealed: Buffer,
    *,
    keys: _Providers,
    context: Mapping[str, str] | None = None,
) -> bytes: ...
def rewrap(
    sealed: Buffer,
    *,
    keys: _Providers,
    context: Mapping[str, str] | None = None,
    add: _Providers | None = None,
    remove: tuple[str, str] | Iterable[tuple[str, str] | _Providers] | None = None,
    rewrap_with: _Providers | None = None,
) -> bytes: ...
def seal_file(
    src: _Path,
    dst: _Path,
    *,
    to: _Providers,
    context: Mapping[str, str] | None = None,
    suite: _SuiteName = "chacha20-poly1305",
    segment_size: int = 65536,
) -> None: ...
def unseal_file(
    src: _Path,
    dst: _Path,
    *,
    keys: _Providers,
    context: Mapping[str, str] | None = None,
) -> None: ...
def provider_info(provider: _Providers) -> tuple[str, str, int]: ...

@final
class EnvelopeHeader:
    """A decoded (not yet authenticated) envelope header."""

    PREFIX_LEN: ClassVar[int]
    @staticmethod
    def parse(data: Buffer) -> EnvelopeHeader: ...
    @staticmethod
    def length(prefix: Buffer) -> int: ...
    @property
    def suite(self) -> str: ...
    @property
    def segment_size(self) -> int: ...
    @property
    def message_id(self) -> bytes: ...
    @property
    def context(self) -> dict[str, str]: ...
    @property
    def wrapped_keys(self) -> list[tuple[str, str, int]]: ...
    @property
    def header_len(self) -> int: ...

@final
class WrapContext:
    """What a wrapped data key is bound to (handed to Python key providers)."""

    @property
    def message_id(self) -> bytes: ...
    @property
    def context(self) -> dict[str, str]: ...
    @property
    def suite(self) -> str: ...
    @property
    def aad(self) -> bytes: ...
    @property
    def key_id(self) -> str | None: ...
    @property
    def key_version(self) -> int | None: ...

@final
class Keyring:
    """Named, versioned key-encryption keys: the local key provider."""

    def __new__(cls) -> Keyring: ...
    def create_key(self, id: str) -> int: ...
    def rotate(self, id: str, *, old_decrypt_until: int | datetime | None = None) -> int: ...
    def set_decrypt_until(self, id: str, version: int, until: int | datetime | None) -> None: ...
    def remove_version(self, id: str, version: int) -> None: ...
    def versions(self, id: str) -> list[KeyVersionInfo]: ...
    @property
    def key_ids(self) -> list[str]: ...
    def primary_version(self, id: str) -> int: ...
    @property
    def default_key(self) -> str | None: ...
    def set_default_key(self, id: str) -> None: ...
    @property
    def generation(self) -> int: ...
    def key(self, id: str) -> KeyringKey: ...
    def to_bytes(
        self,
        *,
        passphrase: str | Buffer | None = None,
        root_key: RootKey | None = None,
        memory_kib: int | None = None,
        iterations: int | None = None,
        lanes: int | None = None,
    ) -> bytes: ...
    def save(
        self,
        path: _Path,
        *,
        passphrase: str | Buffer | None = None,
        root_key: RootKey | None = None,
        memory_kib: int | None = None,
        iterations: int | None = None,
        lanes: int | None = None,
    ) -> None: ...
    @staticmethod
    def from_bytes(
        data: Buffer, *, passphrase: str | Buffer | None = None, root_key: RootKey | None = None
    ) -> Keyring: ...
    @staticmethod
    def load(
        path: _Path, *, passphrase: str | Buffer | None = None, root_key: RootKey | None = None
    ) -> Keyring: ...
    def _set_time(self, now: int | datetime | None) -> None:
        """PRIVATE, tests only: a fixed clock (None: the system clock)."""
    def __contains__(self, id: str, /) -> bool: ...

@final
class KeyringKey:
    """One key of a Keyring as a provider."""

    @property
    def keyring(self) -> Keyring: ...
    @property
    def key_id(self) -> str: ...
    @property
    def provider_id(self) -> str: ...
    @property
    def key_version(self) -> int: ...

@final
class KeyVersionInfo:
    """One key version (never its material). Times are Unix seconds."""

    @property
    def version(self) -> int: ...
    @property
    def primary(self) -> bool: ...
    @property
    def created_at(self) -> int: ...
    @property
    def retired_at(self) -> int | None: ...
    @property
    def decrypt_until(self) -> int | None: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class RootKey:
    """A 32-byte key sealing a keyring file."""

    @staticmethod
    def generate() -> RootKey: ...
    @staticmethod
    def from_bytes(data: Buffer) -> RootKey: ...
    @staticmethod
    def from_hex(text: str) -> RootKey: ...
    @staticmethod
    def from_env(name: str | None = None) -> RootKey: ...
    def to_hex(self) -> str: ...

@final
class XWingKeyPair:
    """An X-Wing (ML-KEM-768 + X25519) key pair."""

    @staticmethod
    def generate() -> XWingKeyPair: ...
    @staticmethod
    def from_seed(seed: Buffer) -> XWingKeyPair: ...
    def seed(self) -> bytes: ...
    @property
    def public_key(self) -> XWingPublicKey: ...

@final
class XWingPublicKey:
    """An X-Wing public key (SWXP encoding)."""

    @staticmethod
    def from_bytes(data: Buffer) -> XWingPublicKey: ...
    @staticmethod
    def from_raw_bytes(data: Buffer) -> XWingPublicKey: ...
    def to_bytes(self) -> bytes: ...
    def raw_bytes(self) -> bytes: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class _EnvelopeWriter:
    def __new__(
        cls,
        fileobj: Any,
        *,
        to: _Providers,
        context: Mapping[str, str] | None = None,
        suite: _SuiteName = "chacha20-poly1305",
        segment_size: int = 65536,
    ) -> _EnvelopeWriter: ...
    def write(self, data: Buffer) -> int: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...
    @property
    def closed(self) -> bool: ...

@final
class _EnvelopeReader:
    def __new__(
        cls, fileobj: Any, *, keys: _Providers, context: Mapping[str, str] | None = None
    ) -> _EnvelopeReader: ...
    def read(self, size: int = -1) -> bytes: ...
    def close(self) -> None: ...
    @property
    def header(self) -> EnvelopeHeader: ...
    @property
    def is_finished(self) -> bool: ...

def _error_classes() -> list[tuple[str, str]]:
    """PRIVATE, tests only: (code, class name) for every core error kind."""

def _raise_error(code: str) -> None:
    """PRIVATE, tests only: raise the exception an error of this code becomes."""
