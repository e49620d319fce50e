//! The Noise layer: `NoiseHandshake` → `NoiseTransport` (ordered) or
//! `NoiseUnorderedTransport` (explicit nonces, replay window), and `noiseIdentityPayload`.
//!
//! Everything is synchronous: a handshake message costs well under a millisecond (a few
//! X25519 operations, or one ML-KEM-768 operation for `hfs`). Each class wraps one core
//! object; the handshake is held in an `Option` so `intoTransport()` can move it out, after
//! which every use throws `ERR_SEALWIRE_HANDSHAKE_COMPLETE` (see `error::spent_handshake`).

use napi::bindgen_prelude::{BigInt, Buffer, ClassInstance, Either, Uint8Array};
use napi_derive::napi;
use sealwire::noise::{Handshake, NoiseBuilder, Role, Transport, UnorderedTransport};

use crate::error::{spent_handshake, to_js_error, Result};
use crate::identity::{Identity, PublicIdentity};

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// A pre-shared key for the `pskN` modifier of the protocol name.
#[napi(object, object_to_js = false)]
pub struct NoisePsk {
    /// The `N` of `pskN` (`0` for `psk0`, ...). A location the pattern does not name throws
    /// `ERR_SEALWIRE_INVALID_PARAMETER`.
    pub location: f64,
    /// The 32-byte key (`ERR_SEALWIRE_INVALID_LENGTH` otherwise).
    pub key: Uint8Array,
}

/// What one side of a Noise handshake needs besides the protocol name. Every field is
/// optional; which ones are required depends on the pattern, and a missing or superfluous
/// one throws `ERR_SEALWIRE_INVALID_PARAMETER` when the handshake is created.
#[napi(object, object_to_js = false)]
pub struct NoiseOptions<'a> {
    /// Our identity: its X25519 key is the local static key (`s`). Required when our side of
    /// the pattern has one (the initiator of `IK`/`XX`/`KK`..., the responder of every
    /// pattern except `?N`).
    pub identity: Option<ClassInstance<'a, Identity>>,
    /// The peer: a `PublicIdentity` or its raw 32-byte X25519 public key. Required when the
    /// pattern pre-shares the peer's key (`IK`, `NK`, `KK`... on the initiator side). In
    /// patterns where the peer sends its key (`XX`...), a given `remote` is the key the peer
    /// must send: any other fails that message with `ERR_SEALWIRE_REMOTE_KEY_MISMATCH`.
    pub remote: Option<Either<ClassInstance<'a, PublicIdentity>, Uint8Array>>,
    /// One entry per `pskN` modifier of the protocol name.
    pub psks: Option<Vec<NoisePsk>>,
    /// Data both sides must agree on, hashed into the handshake but never sent (default
    /// empty). A mismatch makes the first encrypted payload fail with
    /// `ERR_SEALWIRE_DECRYPTION_FAILED`.
    pub prologue: Option<Uint8Array>,
}

/// FOR TESTING ONLY (replaying published test vectors): fixed secrets and randomness for
/// `NoiseHandshake._fromVectorInputs`. A fixed ephemeral key or fixed KEM randomness destroys
/// forward secrecy; never use these outside tests.
#[napi(object, object_to_js = false)]
pub struct NoiseVectorInputs {
    /// Raw 32-byte X25519 private key used as the local static key (instead of
    /// `options.identity`).
    pub local_static: Option<Uint8Array>,
    /// Fixed 32-byte X25519 ephemeral private key.
    pub ephemeral: Option<Uint8Array>,
    /// Fixed 64-byte ML-KEM-768 key-generation seed `d ‖ z` (for the side that sends `e1`).
    pub kem_seed: Option<Uint8Array>,
    /// Fixed 32-byte ML-KEM-768 encapsulation randomness `m` (for the side that sends
    /// `ekem1`).
    pub kem_encaps_m: Option<Uint8Array>,
}

// Manual `Debug`: these hold keys and secrets, which must never be printed.
impl std::fmt::Debug for NoisePsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoisePsk(..)")
    }
}

impl std::fmt::Debug for NoiseOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoiseOptions(..)")
    }
}

impl std::fmt::Debug for NoiseVectorInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoiseVectorInputs(..)")
    }
}

fn psk_location(location: f64) -> std::result::Result<u8, sealwire::Error> {
    if location.fract() == 0.0 && (0.0..=f64::from(u8::MAX)).contains(&location) {
        Ok(location as u8)
    } else {
        Err(sealwire::Error::InvalidParameter(
            "psk location must be an integer from 0 to 255",
        ))
    }
}

fn builder(
    protocol_name: &str,
    options: Option<&NoiseOptions<'_>>,
    vector: Option<&NoiseVectorInputs>,
) -> std::result::Result<NoiseBuilder, sealwire::Error> {
    let mut b = NoiseBuilder::new(protocol_name)?;
    if let Some(o) = options {
        if let Some(identity) = &o.identity {
            b = b.local_identity(&identity.inner);
        }
        match &o.remote {
            Some(Either::A(peer)) => b = b.remote_identity(&peer.inner),
            Some(Either::B(key)) => b = b.remote_static(key)?,
            None => {}
        }
        for psk in o.psks.iter().flatten() {
            b = b.psk(psk_location(psk.location)?, &psk.key)?;
        }
        if let Some(prologue) = &o.prologue {
            b = b.prologue(prologue);
        }
    }
    if let Some(v) = vector {
        if let Some(secret) = &v.local_static {
            if options.is_some_and(|o| o.identity.is_some()) {
                return Err(sealwire::Error::InvalidParameter(
                    "give options.identity or localStatic, not both",
                ));
            }
            b = b.local_static_secret(secret)?;
        }
        if let Some(e) = &v.ephemeral {
            b = b.fixed_ephemeral_for_vectors(e)?;
        }
        if let Some(seed) = &v.kem_seed {
            b = b.fixed_kem_seed_for_vectors(seed)?;
        }
        if let Some(m) = &v.kem_encaps_m {
            b = b.fixed_kem_encapsulation_for_vectors(m)?;
        }
    }
    Ok(b)
}

fn build(
    protocol_name: &str,
    role: Role,
    options: Option<&NoiseOptions<'_>>,
    vector: Option<&NoiseVectorInputs>,
) -> Result<NoiseHandshake> {
    builder(protocol_name, options, vector)
        .and_then(|b| b.build(role))
        .map(|hs| NoiseHandshake { inner: Some(hs) })
        .map_err(to_js_error)
}

/// A rekey interval given as a JS number (a safe non-negative integer) or a bigint
/// (0 ..= 2^64 − 1).
fn rekey_interval(value: Either<f64, BigInt>) -> std::result::Result<u64, sealwire::Error> {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    match value {
        Either::A(n) if n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&n) => Ok(n as u64),
        Either::B(big) => match big.get_u64() {
            (false, n, true) => Ok(n),
            _ => Err(sealwire::Error::InvalidParameter(
                "rekey interval must be a non-negative integer below 2^64",
            )),
        },
        Either::A(_) => Err(sealwire::Error::InvalidParameter(
            "rekey interval must be a non-negative safe integer (or a bigint)",
        )),
    }
}

fn key_buffer(key: Option<[u8; 32]>) -> Option<Buffer> {
    key.map(|k| Buffer::from(k.to_vec()))
}

/// The handshake payload by which an agent presents its identity in a Noise handshake: the
/// canonical encoding of its `PublicIdentity`. Send it where the payload is encrypted (in
/// `XX`: the second and third messages; in `IK`: both); the receiver checks it with
/// `NoiseHandshake.verifyIdentityPayload`.
#[napi(strict)]
pub fn noise_identity_payload(identity: &Identity) -> Buffer {
    Buffer::from(sealwire::noise::identity_payload(&identity.inner))
}

// ---------------------------------------------------------------------------------------------
// NoiseHandshake
// ---------------------------------------------------------------------------------------------

/// A Noise Protocol Framework (revision 34) handshake in progress, for one side.
///
/// The protocol is chosen by its standard name, e.g. `Noise_XX_25519_ChaChaPoly_BLAKE2s`,
/// `Noise_IKpsk2_25519_AESGCM_SHA256` or the hybrid post-quantum
/// `Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s`. Patterns: `NN NK NX KN KK KX XN XK XX IN
/// IK IX` and one-way `N K X`, modifiers `pskN` and `hfs`; ciphers `ChaChaPoly`, `AESGCM`;
/// hashes `SHA256`, `SHA512`, `BLAKE2s`, `BLAKE2b`. An unknown name throws
/// `ERR_SEALWIRE_MALFORMED` or `ERR_SEALWIRE_UNSUPPORTED_ALGORITHM`.
///
/// Call `writeMessage` / `readMessage` in turn (`isMyTurn` says whose turn it is) until
/// `isFinished`, then `intoTransport()` or `intoUnorderedTransport()`. A message that fails
/// (truncated, modified, wrong key, out of turn) leaves the handshake unchanged, so the genuine
/// message can still be read. After `intoTransport()` / `intoUnorderedTransport()` the object
/// is spent: every method and getter throws `ERR_SEALWIRE_HANDSHAKE_COMPLETE`.
///
/// Create with `NoiseHandshake.initiator(...)` or `NoiseHandshake.responder(...)`;
/// `new NoiseHandshake()` is not allowed. Secrets stay inside (zeroized when collected).
#[napi]
pub struct NoiseHandshake {
    inner: Option<Handshake>,
}

impl std::fmt::Debug for NoiseHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoiseHandshake(..)")
    }
}

impl NoiseHandshake {
    fn get(&self) -> Result<&Handshake> {
        self.inner.as_ref().ok_or_else(spent_handshake)
    }

    fn get_mut(&mut self) -> Result<&mut Handshake> {
        self.inner.as_mut().ok_or_else(spent_handshake)
    }

    /// Move the finished handshake out. An unfinished one stays where it is (the core's
    /// `into_*` would consume it even on failure).
    fn take_finished(&mut self) -> Result<Handshake> {
        if !self.get()?.is_finished() {
            return Err(to_js_error(sealwire::Error::HandshakeIncomplete(
                "messages remain in the handshake pattern",
            )));
        }
        self.inner.take().ok_or_else(spent_handshake)
    }
}

#[napi]
impl NoiseHandshake {
    /// Start the initiator's side (it writes the first message).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_MALFORMED` / `ERR_SEALWIRE_UNSUPPORTED_ALGORITHM`
    /// for the protocol name; `ERR_SEALWIRE_INVALID_PARAMETER` when `options` do not fit the
    /// pattern (a key or psk missing or superfluous); `ERR_SEALWIRE_INVALID_LENGTH` /
    /// `ERR_SEALWIRE_INVALID_PUBLIC_KEY` for a bad raw `remote` key or psk.
    #[napi(factory, strict)]
    pub fn initiator(protocol_name: String, options: Option<NoiseOptions<'_>>) -> Result<Self> {
        build(&protocol_name, Role::Initiator, options.as_ref(), None)
    }

    /// Start the responder's side (it reads the first message). Same errors as `initiator`.
    #[napi(factory, strict)]
    pub fn responder(protocol_name: String, options: Option<NoiseOptions<'_>>) -> Result<Self> {
        build(&protocol_name, Role::Responder, options.as_ref(), None)
    }

    /// FOR TESTING ONLY: build a handshake with fixed secrets and randomness, to replay
    /// published test vectors (cacophony, `tests/vectors/noise-hfs.json`) byte for byte.
    /// A fixed ephemeral key or fixed KEM randomness destroys forward secrecy: never use
    /// this outside tests. `initiator` chooses the role; `options` are as for
    /// `initiator()` / `responder()` (with `vector.localStatic` instead of
    /// `options.identity`).
    #[napi(factory, strict, js_name = "_fromVectorInputs")]
    pub fn from_vector_inputs(
        protocol_name: String,
        initiator: bool,
        options: Option<NoiseOptions<'_>>,
        vector: Option<NoiseVectorInputs>,
    ) -> Result<Self> {
        let role = if initiator {
            Role::Initiator
        } else {
            Role::Responder
        };
        build(&protocol_name, role, options.as_ref(), vector.as_ref())
    }

    /// Write our next handshake message, carrying `payload` (default empty; encrypted once
    /// the pattern has produced a key, in clear before that — e.g. in the first message of
    /// `XX`). The whole message may be at most 65535 bytes.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_OUT_OF_TURN` if it is the peer's turn,
    /// `ERR_SEALWIRE_HANDSHAKE_COMPLETE` once finished, `ERR_SEALWIRE_MESSAGE_TOO_LARGE`.
    #[napi(strict)]
    pub fn write_message(&mut self, payload: Option<&[u8]>) -> Result<Buffer> {
        self.get_mut()?
            .write_message(payload.unwrap_or_default())
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// Read the peer's next handshake message and return its payload. On any error the
    /// handshake is unchanged.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_TRUNCATED`, `ERR_SEALWIRE_DECRYPTION_FAILED`
    /// (modified message, wrong key, psk or prologue), `ERR_SEALWIRE_REMOTE_KEY_MISMATCH`
    /// (the peer's static key is not the expected `remote`), `ERR_SEALWIRE_INVALID_PUBLIC_KEY`,
    /// `ERR_SEALWIRE_NON_CONTRIBUTORY`, `ERR_SEALWIRE_OUT_OF_TURN`,
    /// `ERR_SEALWIRE_HANDSHAKE_COMPLETE`, `ERR_SEALWIRE_MESSAGE_TOO_LARGE`.
    #[napi(strict)]
    pub fn read_message(&mut self, message: &[u8]) -> Result<Buffer> {
        self.get_mut()?
            .read_message(message)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// True once every message of the pattern has been written or read.
    #[napi(getter)]
    pub fn is_finished(&self) -> Result<bool> {
        Ok(self.get()?.is_finished())
    }

    /// True when the next handshake message is ours to write (false once finished).
    #[napi(getter)]
    pub fn is_my_turn(&self) -> Result<bool> {
        Ok(self.get()?.is_my_turn())
    }

    /// True on the initiator's side.
    #[napi(getter)]
    pub fn is_initiator(&self) -> Result<bool> {
        Ok(self.get()?.is_initiator())
    }

    /// The protocol name this handshake runs.
    #[napi(getter)]
    pub fn protocol_name(&self) -> Result<String> {
        Ok(self.get()?.protocol_name().to_owned())
    }

    /// The current handshake hash `h`; once finished, the channel-binding value of the
    /// session (the same on both sides, unique to the session).
    #[napi(getter)]
    pub fn handshake_hash(&self) -> Result<Buffer> {
        Ok(Buffer::from(self.get()?.handshake_hash().to_vec()))
    }

    /// The peer's static X25519 public key (32 bytes) once known (pre-shared or received),
    /// otherwise `null`.
    #[napi(getter)]
    pub fn remote_static(&self) -> Result<Option<Buffer>> {
        Ok(key_buffer(self.get()?.remote_static()))
    }

    /// Check that the peer's static key is the X25519 key of `peer` (constant-time).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_REMOTE_KEY_MISMATCH` if it is not,
    /// `ERR_SEALWIRE_HANDSHAKE_INCOMPLETE` if the peer's key is not known yet.
    #[napi(strict)]
    pub fn expect_remote_identity(&self, peer: &PublicIdentity) -> Result<()> {
        self.get()?
            .expect_remote_identity(&peer.inner)
            .map_err(to_js_error)
    }

    /// Decode the encoded `PublicIdentity` the peer sent as a handshake payload (see
    /// `noiseIdentityPayload`) and check that its X25519 key is the static key the peer proved
    /// in this handshake. Returns the verified identity: on first contact (`XX`) this is how
    /// an agent learns whom it talks to.
    ///
    /// @throws {Error} a decoding code (`ERR_SEALWIRE_TRUNCATED`, `ERR_SEALWIRE_BAD_MAGIC`,
    /// `ERR_SEALWIRE_BAD_SIGNATURE`, ...) for a malformed payload,
    /// `ERR_SEALWIRE_REMOTE_KEY_MISMATCH` for another agent's identity,
    /// `ERR_SEALWIRE_HANDSHAKE_INCOMPLETE` before the peer's static key is known.
    #[napi(strict)]
    pub fn verify_identity_payload(&self, payload: &[u8]) -> Result<PublicIdentity> {
        self.get()?
            .verify_identity_payload(payload)
            .map(|inner| PublicIdentity { inner })
            .map_err(to_js_error)
    }

    /// Finish: a `NoiseTransport` for an ordered, reliable channel (TCP, pipes, streams).
    /// This handshake object is spent afterwards.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_HANDSHAKE_INCOMPLETE` if messages remain (the
    /// handshake stays usable).
    // `&mut self`: napi methods cannot take the JS object by value; the handshake is moved
    // out of its `Option` instead.
    #[allow(clippy::wrong_self_convention)]
    #[napi]
    pub fn into_transport(&mut self) -> Result<NoiseTransport> {
        self.take_finished()?
            .into_transport()
            .map(|inner| NoiseTransport { inner })
            .map_err(to_js_error)
    }

    /// Finish: a `NoiseUnorderedTransport` for datagrams or queues that may lose, duplicate
    /// or reorder messages. This handshake object is spent afterwards.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_HANDSHAKE_INCOMPLETE` if messages remain.
    // `&mut self`: napi methods cannot take the JS object by value; the handshake is moved
    // out of its `Option` instead.
    #[allow(clippy::wrong_self_convention)]
    #[napi]
    pub fn into_unordered_transport(&mut self) -> Result<NoiseUnorderedTransport> {
        self.take_finished()?
            .into_unordered_transport()
            .map(|inner| NoiseUnorderedTransport { inner })
            .map_err(to_js_error)
    }
}

// ---------------------------------------------------------------------------------------------
// NoiseTransport
// ---------------------------------------------------------------------------------------------

/// The transport phase for an ordered, reliable channel: each message is a plain Noise
/// transport message (`ciphertext ‖ 16-byte tag`, at most 65535 bytes) under implicit counter
/// nonces, so messages must be decrypted in the order they were encrypted. A failed
/// decryption changes nothing: the genuine next message still decrypts.
///
/// One-way patterns (`N`, `K`, `X`): the initiator can only encrypt and the responder only
/// decrypt (`ERR_SEALWIRE_OUT_OF_TURN` otherwise). Obtained from
/// `NoiseHandshake.intoTransport()`; `new NoiseTransport()` is not allowed.
#[napi]
pub struct NoiseTransport {
    inner: Transport,
}

impl std::fmt::Debug for NoiseTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoiseTransport(..)")
    }
}

#[napi]
impl NoiseTransport {
    /// Encrypt one message (at most 65519 bytes of plaintext).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_MESSAGE_TOO_LARGE`,
    /// `ERR_SEALWIRE_NONCE_EXHAUSTED`, `ERR_SEALWIRE_OUT_OF_TURN` (receive-only side).
    #[napi(strict)]
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Buffer> {
        self.inner
            .encrypt(plaintext)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// Decrypt the peer's next message.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_DECRYPTION_FAILED` (modified, reordered or
    /// foreign message), `ERR_SEALWIRE_TRUNCATED` (shorter than a tag),
    /// `ERR_SEALWIRE_MESSAGE_TOO_LARGE`, `ERR_SEALWIRE_NONCE_EXHAUSTED`,
    /// `ERR_SEALWIRE_OUT_OF_TURN` (send-only side).
    #[napi(strict)]
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Buffer> {
        self.inner
            .decrypt(message)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// Encrypt a payload of any size as a sequence of length-prefixed Noise messages
    /// (`docs/FORMATS.md`, Noise framing); one sending nonce per 65518-byte chunk.
    #[napi(strict)]
    pub fn encrypt_framed(&mut self, payload: &[u8]) -> Result<Buffer> {
        self.inner
            .encrypt_framed(payload)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// Decrypt the output of `encryptFramed` (all or nothing: on any error the receiving
    /// state is unchanged).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_TRUNCATED` (cut anywhere, including a missing
    /// final frame), `ERR_SEALWIRE_TRAILING_BYTES`, `ERR_SEALWIRE_MALFORMED`,
    /// `ERR_SEALWIRE_DECRYPTION_FAILED`.
    #[napi(strict)]
    pub fn decrypt_framed(&mut self, framed: &[u8]) -> Result<Buffer> {
        self.inner
            .decrypt_framed(framed)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// REKEY the sending key now (Noise §11.3). The peer must call `rekeyIncoming()` at the
    /// same point of the message stream.
    #[napi]
    pub fn rekey_outgoing(&mut self) -> Result<()> {
        self.inner.rekey_outgoing().map_err(to_js_error)
    }

    /// REKEY the receiving key now (Noise §11.3).
    #[napi]
    pub fn rekey_incoming(&mut self) -> Result<()> {
        self.inner.rekey_incoming().map_err(to_js_error)
    }

    /// Rekey automatically after every `messages` messages in each direction (0, the
    /// default, turns it off). Both sides must use the same interval.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` unless `messages` is a
    /// non-negative safe integer or a bigint below 2^64.
    #[napi(strict)]
    pub fn set_rekey_interval(&mut self, messages: Either<f64, BigInt>) -> Result<()> {
        let n = rekey_interval(messages).map_err(to_js_error)?;
        self.inner.set_rekey_interval(n);
        Ok(())
    }

    /// The final handshake hash: the channel-binding value of this session.
    #[napi(getter)]
    pub fn handshake_hash(&self) -> Buffer {
        Buffer::from(self.inner.handshake_hash().to_vec())
    }

    /// The peer's static X25519 public key, or `null` if the pattern has none.
    #[napi(getter)]
    pub fn remote_static(&self) -> Option<Buffer> {
        key_buffer(self.inner.remote_static())
    }

    /// True on the side that initiated the handshake.
    #[napi(getter)]
    pub fn is_initiator(&self) -> bool {
        self.inner.is_initiator()
    }

    /// Number of messages sent so far (the next sending nonce), or `null` on the
    /// receive-only side of a one-way pattern.
    #[napi(getter)]
    pub fn sending_nonce(&self) -> Option<BigInt> {
        self.inner.sending_nonce().map(BigInt::from)
    }

    /// Number of messages received so far (the next receiving nonce), or `null` on the
    /// send-only side of a one-way pattern.
    #[napi(getter)]
    pub fn receiving_nonce(&self) -> Option<BigInt> {
        self.inner.receiving_nonce().map(BigInt::from)
    }
}

// ---------------------------------------------------------------------------------------------
// NoiseUnorderedTransport
// ---------------------------------------------------------------------------------------------

/// The transport phase for channels that may lose, duplicate or reorder messages (UDP,
/// queues that redeliver). Each message is `nonce (8 bytes, big-endian) ‖ ciphertext ‖ tag`
/// (at most 65535 bytes); the receiver accepts each nonce once, within a window of the newest
/// 1024 nonces, in any order. A failed decryption changes nothing.
///
/// Obtained from `NoiseHandshake.intoUnorderedTransport()`; `new NoiseUnorderedTransport()`
/// is not allowed.
#[napi]
pub struct NoiseUnorderedTransport {
    inner: UnorderedTransport,
}

impl std::fmt::Debug for NoiseUnorderedTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoiseUnorderedTransport(..)")
    }
}

#[napi]
impl NoiseUnorderedTransport {
    /// Encrypt one message (at most 65511 bytes of plaintext) under the next nonce, which is
    /// sent in front of it.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_MESSAGE_TOO_LARGE`,
    /// `ERR_SEALWIRE_NONCE_EXHAUSTED`, `ERR_SEALWIRE_OUT_OF_TURN` (receive-only side).
    #[napi(strict)]
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Buffer> {
        self.inner
            .encrypt(plaintext)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// Decrypt a message, in any order.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_REPLAY` (a duplicate, or older than the replay
    /// window), `ERR_SEALWIRE_DECRYPTION_FAILED`, `ERR_SEALWIRE_TRUNCATED`,
    /// `ERR_SEALWIRE_MESSAGE_TOO_LARGE`, `ERR_SEALWIRE_NONCE_EXHAUSTED`.
    #[napi(strict)]
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Buffer> {
        self.inner
            .decrypt(message)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// Rekey by nonce epochs: nonces `[j·messages, (j+1)·messages)` use the key after `j`
    /// REKEYs (0, the default, never rekeys). Both sides must set the same value before the
    /// first message in either direction.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` unless `messages` is 0 or at
    /// least 1024 (a safe integer or a bigint below 2^64), or if a message was already sent
    /// or received.
    #[napi(strict)]
    pub fn set_rekey_interval(&mut self, messages: Either<f64, BigInt>) -> Result<()> {
        let n = rekey_interval(messages).map_err(to_js_error)?;
        self.inner.set_rekey_interval(n).map_err(to_js_error)
    }

    /// The final handshake hash: the channel-binding value of this session.
    #[napi(getter)]
    pub fn handshake_hash(&self) -> Buffer {
        Buffer::from(self.inner.handshake_hash().to_vec())
    }

    /// The peer's static X25519 public key, or `null` if the pattern has none.
    #[napi(getter)]
    pub fn remote_static(&self) -> Option<Buffer> {
        key_buffer(self.inner.remote_static())
    }

    /// True on the side that initiated the handshake.
    #[napi(getter)]
    pub fn is_initiator(&self) -> bool {
        self.inner.is_initiator()
    }

    /// The nonce the next sent message will carry, or `null` on the receive-only side of a
    /// one-way pattern.
    #[napi(getter)]
    pub fn sending_nonce(&self) -> Option<BigInt> {
        self.inner.sending_nonce().map(BigInt::from)
    }
}
