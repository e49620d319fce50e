"""sealwire: encrypted agent-to-agent communication.

Identities::

    import sealwire

    me = sealwire.Identity.generate()
    card = me.public.to_bytes()              # hand this to peers
    peer = sealwire.PublicIdentity.from_bytes(card)
    sig = me.sign(b"hello")
    peer.verify(b"hello", sig)               # raises sealwire.SignatureError on failure

    blob = me.export("passphrase")           # Argon2id + XChaCha20-Poly1305
    again = sealwire.Identity.from_encrypted(blob, "passphrase")

Every error is a :class:`sealwire.SealwireError` with a stable ``code``.
"""

from sealwire.exceptions import (
    DecodeError,
    DecryptionError,
    InvalidKeyError,
    ParameterError,
    RandomnessError,
    SealwireError,
    SignatureError,
)
from sealwire._native import Identity, PublicIdentity, __version__

__all__ = [
    "__version__",
    "Identity",
    "PublicIdentity",
    "SealwireError",
    "DecodeError",
    "InvalidKeyError",
    "SignatureError",
    "DecryptionError",
    "ParameterError",
    "RandomnessError",
]
