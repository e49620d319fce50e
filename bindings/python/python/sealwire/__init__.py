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

Noise (XX on first contact: each side presents its identity and verifies the other's)::

    name = "Noise_XX_25519_ChaChaPoly_BLAKE2s"    # or Noise_XXhfs_25519+MLKEM768_...
    alice = sealwire.NoiseHandshake(name, initiator=True, identity=alice_identity)
    bob = sealwire.NoiseHandshake(name, initiator=False, identity=bob_identity)

    bob.read_message(alice.write_message())
    m2 = bob.write_message(sealwire.noise_identity_payload(bob_identity))
    bob_public = alice.verify_identity_payload(alice.read_message(m2))
    m3 = alice.write_message(sealwire.noise_identity_payload(alice_identity))
    alice_public = bob.verify_identity_payload(bob.read_message(m3))

    a, b = alice.into_transport(), bob.into_transport()
    assert b.decrypt(a.encrypt(b"hello")) == b"hello"

Every error is a :class:`sealwire.SealwireError` with a stable ``code``.
"""

from sealwire.exceptions import (
    DecodeError,
    DecryptionError,
    InvalidKeyError,
    ParameterError,
    ProtocolError,
    RandomnessError,
    RemoteKeyMismatchError,
    ReplayError,
    SealwireError,
    SignatureError,
)
from sealwire._native import (
    Identity,
    NoiseHandshake,
    NoiseTransport,
    NoiseUnorderedTransport,
    PublicIdentity,
    __version__,
    noise_identity_payload,
)

__all__ = [
    "__version__",
    "Identity",
    "PublicIdentity",
    "NoiseHandshake",
    "NoiseTransport",
    "NoiseUnorderedTransport",
    "noise_identity_payload",
    "SealwireError",
    "DecodeError",
    "InvalidKeyError",
    "SignatureError",
    "DecryptionError",
    "ParameterError",
    "RandomnessError",
    "ReplayError",
    "RemoteKeyMismatchError",
    "ProtocolError",
]
