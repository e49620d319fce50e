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

Envelopes (data at rest: a fresh data key per object, wrapped for each key provider)::

    ring = sealwire.Keyring()
    ring.create_key("orders")
    ctx = {"tenant": "acme"}                        # bound to the envelope, stored in clear
    sealed = sealwire.seal(b"data", to=[ring, bob.public], context=ctx)
    assert sealwire.unseal(sealed, keys=bob_identity, context=ctx) == b"data"

    with open("out.swev", "wb") as f, sealwire.EnvelopeWriter(f, to=ring) as w:
        w.write(b"any amount of data")              # streamed, one segment in memory

Remote KMS keys (Vault / OpenBao Transit, AWS KMS; the same URIs as the CLI's ``--kms``)
and the data-key cache; KMS calls run with the GIL released (``sealwire.aio`` for asyncio)::

    vault = sealwire.KmsKey("vault://orders")       # VAULT_ADDR / VAULT_TOKEN, or keywords
    aws = sealwire.KmsKey("aws-kms://arn:aws:kms:eu-west-1:111122223333:key/...")
    sealed = sealwire.seal(b"data", to=[vault, aws], context=ctx)  # opens with either
    cache = sealwire.DataKeyCache(max_messages=10_000)
    sealed = cache.seal(b"data", to=vault, context=ctx)  # one KMS call per 10 000 objects

Asynchronous sessions (X3DH / PQXDH, then the Double Ratchet), persisted crash-safely::

    key = os.urandom(32)                            # the storage key, from your key store
    bob = sealwire.Messenger.create("bob.db", bob_identity, key)
    published = bob.bundle().to_bytes()             # Bob publishes, then may go offline
    anchor = bob.counter                            # saved outside the store

    alice = sealwire.Messenger.create("alice.db", alice_identity, key)
    alice.connect(bob_identity.public, sealwire.PrekeyBundle.from_bytes(published))
    rec = alice.send(bob_identity.public, b"hello")  # committed before you see the bytes
    transport.put(rec.ciphertext); alice.mark_sent(rec.id)

    bob = sealwire.Messenger.open("bob.db", key, min_counter=anchor)
    got = bob.receive(ciphertext)                   # None for a duplicate
    handle(got.plaintext); bob.ack(got.id)
    bob.send(got.peer, b"hi alice")                 # peer: PublicIdentity or 32-byte peer id

The same over a store of your own (any object implementing :class:`sealwire.SessionStore`;
:class:`sealwire.MemorySessionStore` is the reference implementation)::

    store = MySqlSessionStore(...)                  # called with the GIL, one call at a time
    alice = sealwire.Messenger.create_with_store(store, alice_identity, key)
    alice = sealwire.Messenger.open_with_store(store, key, min_counter=anchor)

Through a relay (``sealwire relay serve``: prekey directory and offline mailbox; every call
also as ``await agent.<name>_async(...)``; :mod:`sealwire.relay`)::

    agent = sealwire.RelayAgent(alice, sealwire.RelayClient("https://relay.example"))
    agent.publish()                                 # bundle + mailbox; alice is agent.messenger
    agent.connect(bob_identity.public)              # claims Bob's bundle on the relay
    agent.send(bob_identity.public, b"hello")       # committed, deposited, marked sent
    for got in agent.receive(wait_seconds=10).received:  # committed before acknowledged
        handle(got.plaintext); alice.ack(got.id)

Or the ratchet layer's objects alone, persisted by the application (seal and commit
after every change, *before* sending)::

    prekeys = sealwire.PrekeyStore.generate(bob_identity)
    published = prekeys.bundle().to_bytes()
    a = sealwire.RatchetSession.initiate(alice_identity, bob_identity.public,
                                         sealwire.PrekeyBundle.from_bytes(published))
    first = a.encrypt(b"hello")
    b, text = sealwire.RatchetSession.accept(bob_identity, prekeys, first)
    blob, gen = b.seal(key), b.generation          # keep gen next to the blob
    b = sealwire.RatchetSession.open(blob, key, expected_generation=gen)

The agent facade (:mod:`sealwire.agent`): one object per home directory, every choice
from a :class:`sealwire.SecurityConfig` (``sealwire.check_config(text)`` reports findings
without raising); blocking calls release the GIL, ``<name>_async`` twins for asyncio::

    config = sealwire.SecurityConfig.from_file("sealwire.toml")
    with sealwire.Agent.open("alice-home", config, passphrase="...",
                             relay_url="https://relay.example") as alice:
        alice.maintain()                              # publish prekeys, rotate when due
        bob = alice.connect("127.0.0.1:9000").peer    # Noise XX first, IK afterwards
        alice.send(bob, b"hello")                     # .delivery: "live", "relay", "queued"
        for m in alice.receive(timeout=1.0):
            handle(m.plaintext); alice.ack(m.id)      # durably, keyed by m.id

Every error is a :class:`sealwire.SealwireError` with a stable ``code``.
"""

from sealwire.exceptions import (
    ContextMismatchError,
    DecodeError,
    DecryptionError,
    InvalidKeyError,
    KeyNotAvailableError,
    ParameterError,
    ProtocolError,
    ProviderError,
    RandomnessError,
    RemoteKeyMismatchError,
    ReplayError,
    SealwireError,
    SignatureError,
    StaleStateError,
    RelayError,
    StorageError,
)
from sealwire._native import (
    AgentStats,
    ChannelInfo,
    ConfigFinding,
    ConfigReport,
    DataKeyCache,
    DataKeyCacheStats,
    EnvelopeHeader,
    FlushReport,
    Identity,
    InboxRecord,
    Keyring,
    KeyringKey,
    KeyVersionInfo,
    KmsKey,
    KmsStats,
    KnownPeer,
    MaintainReport,
    Messenger,
    NoiseHandshake,
    NoiseTransport,
    NoiseUnorderedTransport,
    OutboxRecord,
    PrekeyBundle,
    PrekeyStatus,
    PrekeyStore,
    PublicIdentity,
    RatchetSession,
    Received,
    ReceiveCommit,
    ReceiveReport,
    RootKey,
    SecurityConfig,
    SendReport,
    WrapContext,
    XWingKeyPair,
    XWingPublicKey,
    __version__,
    check_config,
    noise_identity_payload,
    provider_info,
    rewrap,
    seal,
    seal_file,
    unseal,
    unseal_file,
)
from sealwire.agent import Agent
from sealwire.envelope import EnvelopeReader, EnvelopeWriter, KeyProvider
from sealwire.relay import RelayAgent, RelayClient
from sealwire.store import MemorySessionStore, SessionStore

__all__ = [
    "__version__",
    "Identity",
    "PublicIdentity",
    "NoiseHandshake",
    "NoiseTransport",
    "NoiseUnorderedTransport",
    "noise_identity_payload",
    "seal",
    "unseal",
    "rewrap",
    "seal_file",
    "unseal_file",
    "provider_info",
    "EnvelopeWriter",
    "EnvelopeReader",
    "EnvelopeHeader",
    "KeyProvider",
    "WrapContext",
    "Keyring",
    "KeyringKey",
    "KeyVersionInfo",
    "RootKey",
    "XWingKeyPair",
    "XWingPublicKey",
    "KmsKey",
    "KmsStats",
    "DataKeyCache",
    "DataKeyCacheStats",
    "PrekeyBundle",
    "Messenger",
    "OutboxRecord",
    "Received",
    "SessionStore",
    "MemorySessionStore",
    "InboxRecord",
    "ReceiveCommit",
    "PrekeyStore",
    "RatchetSession",
    "RelayClient",
    "RelayAgent",
    "PrekeyStatus",
    "ReceiveReport",
    "SecurityConfig",
    "ConfigReport",
    "ConfigFinding",
    "check_config",
    "Agent",
    "ChannelInfo",
    "SendReport",
    "FlushReport",
    "MaintainReport",
    "AgentStats",
    "KnownPeer",
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
    "ContextMismatchError",
    "KeyNotAvailableError",
    "ProviderError",
    "StorageError",
    "StaleStateError",
    "RelayError",
]
