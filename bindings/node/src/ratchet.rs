//! The ratchet layer's building blocks, for applications that persist state themselves
//! (`Messenger` does it for you): `PrekeyStore` (the owner's private prekeys; its `bundle()`
//! is published) and `RatchetSession` (X3DH / PQXDH from a bundle or an initial message,
//! then the Double Ratchet), each sealed under a 32-byte storage key with a generation
//! counter for rollback detection.
//!
//! Test-vector hooks. The methods whose names start with `_` and end in `ForVectors` replay
//! recorded randomness (`random`, consumed front to back through the core's
//! `sealwire::deterministic::ByteTape`, in the order `tests/vectors/ratchet.json` lists
//! under `randomness_order`) to reproduce `tests/vectors/ratchet.json` byte for byte, like
//! `NoiseHandshake._fromVectorInputs` does for Noise. They fail with
//! `ERR_SEALWIRE_INVALID_PARAMETER` if the tape runs out or is not consumed exactly, and then
//! change nothing. Fixed randomness reuses keys and nonces: never use them outside tests.

use napi::bindgen_prelude::{BigInt, Buffer, Either};
use napi_derive::napi;
use sealwire::deterministic::ByteTape;
use sealwire::ratchet::{
    KeyAgreement, PrekeyOptions, PrekeyStore as CorePrekeyStore, Session, SessionOptions,
    DEFAULT_SIGNED_PREKEY_GRACE_SECS,
};
use sealwire::Error as CoreError;
use zeroize::Zeroizing;

use crate::error::{to_js_error, Result};
use crate::identity::{Identity, PublicIdentity};
use crate::messenger::{now_unix, prekey_options_from, to_u64, PrekeyBundle};

type CoreResult<T> = std::result::Result<T, CoreError>;

const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Unix seconds given as a `number` (a non-negative safe integer), or now.
fn unix_seconds(v: Option<f64>, what: &'static str) -> CoreResult<u64> {
    match v {
        None => Ok(now_unix()),
        Some(n) if n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&n) => Ok(n as u64),
        Some(_) => Err(CoreError::InvalidParameter(what)),
    }
}

/// A `u64` as a JS number (the values here — seconds, counts — are far below 2^53).
fn as_number(v: u64) -> f64 {
    v as f64
}

fn checked_generation(v: Option<&Either<f64, BigInt>>) -> CoreResult<Option<u64>> {
    v.map(|g| to_u64(g, "expectedGeneration must be a non-negative integer"))
        .transpose()
}

/// Run `f` with a tape over `random`; fail unless it consumed exactly all of it.
fn replay<T>(random: &[u8], f: impl FnOnce(&mut ByteTape) -> CoreResult<T>) -> CoreResult<T> {
    let mut tape = ByteTape::new(random);
    let out = f(&mut tape)?;
    if tape.remaining() != 0 {
        return Err(CoreError::InvalidParameter(
            "the random tape was not consumed exactly",
        ));
    }
    Ok(out)
}

/// An in-memory copy (through the sealed form, under a throwaway key) for the test hooks
/// that must leave the original untouched when the tape check fails afterwards. (The core
/// types are deliberately not `Clone`.)
const COPY_KEY: [u8; 32] = [0; 32];

fn copy_session(s: &Session) -> CoreResult<Session> {
    // Under a known key the blob is as secret as the state: wiped after use.
    let blob = Zeroizing::new(s.seal_with_entropy(&COPY_KEY, &mut ByteTape::new(&[0; 24]))?);
    Session::open(&blob, &COPY_KEY)
}

fn copy_store(s: &CorePrekeyStore) -> CoreResult<CorePrekeyStore> {
    let blob = Zeroizing::new(s.seal_with_entropy(&COPY_KEY, &mut ByteTape::new(&[0; 24]))?);
    CorePrekeyStore::open(&blob, &COPY_KEY)
}

// ---------------------------------------------------------------------------------------------
// PrekeyStore
// ---------------------------------------------------------------------------------------------

/// Options of `PrekeyStore.generate`.
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PrekeyStoreOptions {
    /// One-time prekeys to keep published (X25519 and, with `postQuantum`, ML-KEM-768 each;
    /// 0 ..= 1000, default 100).
    pub one_time_prekeys: Option<f64>,
    /// One-time ML-KEM-768 prekeys, if different from `oneTimePrekeys` (0 ..= 1000).
    pub kem_one_time_prekeys: Option<f64>,
    /// Publish ML-KEM-768 prekeys so that peers use PQXDH (default true).
    pub post_quantum: Option<bool>,
    /// Unix time in seconds dating the signed prekey, for rotation decisions (default: now).
    pub now: Option<f64>,
}

fn store_options(o: Option<&PrekeyStoreOptions>) -> CoreResult<(PrekeyOptions, u64)> {
    let opts = prekey_options_from(
        o.and_then(|o| o.one_time_prekeys),
        o.and_then(|o| o.kem_one_time_prekeys),
        o.and_then(|o| o.post_quantum),
    )?;
    let now = unix_seconds(
        o.and_then(|o| o.now),
        "now must be a non-negative integer (Unix seconds)",
    )?;
    Ok((opts, now))
}

/// The owner's private prekeys: the current and recently replaced signed prekeys, unused
/// one-time X25519 prekeys and ML-KEM-768 prekeys. Publish `bundle()`; accept initial
/// messages with `RatchetSession.accept`, which consumes one-time prekeys — then `seal` the
/// store (with the new session) before anything else, and keep `generation` to detect a
/// rolled-back copy on `open`. Nothing secret is readable from JavaScript.
/// `new PrekeyStore()` is not allowed: use `generate` / `open`.
#[napi]
pub struct PrekeyStore {
    inner: CorePrekeyStore,
}

impl std::fmt::Debug for PrekeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrekeyStore(..)")
    }
}

#[napi]
impl PrekeyStore {
    /// Generate the prekeys of `identity` (defaults: 100 one-time X25519 and 100 one-time
    /// ML-KEM-768 prekeys, a last-resort ML-KEM-768 prekey, dated now).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for bad options.
    #[napi(factory, strict)]
    pub fn generate(identity: &Identity, options: Option<PrekeyStoreOptions>) -> Result<Self> {
        let (opts, now) = store_options(options.as_ref()).map_err(to_js_error)?;
        CorePrekeyStore::generate_with_options(&identity.inner, opts, now)
            .map(|inner| Self { inner })
            .map_err(to_js_error)
    }

    /// FOR TESTING ONLY (vector replay): `generate` drawing its randomness from `random`
    /// (signed prekey 32, each one-time prekey 32, each one-time ML-KEM seed 64, the
    /// last-resort ML-KEM seed 64), which must be consumed exactly.
    #[napi(factory, strict, js_name = "_generateForVectors")]
    pub fn generate_for_vectors(
        identity: &Identity,
        options: Option<PrekeyStoreOptions>,
        random: &[u8],
    ) -> Result<Self> {
        let (opts, now) = store_options(options.as_ref()).map_err(to_js_error)?;
        replay(random, |t| {
            CorePrekeyStore::generate_with_entropy(&identity.inner, opts, now, t)
        })
        .map(|inner| Self { inner })
        .map_err(to_js_error)
    }

    /// Open a sealed store. With `expectedGeneration` (the `generation` saved when it was
    /// last sealed), an older copy is refused: it would accept one-time prekeys already used.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_STALE_STATE` (older than `expectedGeneration`),
    /// `ERR_SEALWIRE_DECRYPTION_FAILED` (wrong key or modified blob),
    /// `ERR_SEALWIRE_INVALID_LENGTH` (storage key), decoding codes for garbage.
    #[napi(factory, strict)]
    pub fn open(
        blob: &[u8],
        storage_key: &[u8],
        expected_generation: Option<Either<f64, BigInt>>,
    ) -> Result<Self> {
        let expected = checked_generation(expected_generation.as_ref()).map_err(to_js_error)?;
        match expected {
            None => CorePrekeyStore::open(blob, storage_key),
            Some(g) => CorePrekeyStore::open_checked(blob, storage_key, g),
        }
        .map(|inner| Self { inner })
        .map_err(to_js_error)
    }

    /// Seal the store under a 32-byte storage key (fresh random nonce; the generation is
    /// authenticated).
    #[napi(strict)]
    pub fn seal(&self, storage_key: &[u8]) -> Result<Buffer> {
        self.inner
            .seal(storage_key)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// FOR TESTING ONLY (vector replay): `seal` with the 24-byte nonce from `random`.
    #[napi(strict, js_name = "_sealForVectors")]
    pub fn seal_for_vectors(&self, storage_key: &[u8], random: &[u8]) -> Result<Buffer> {
        replay(random, |t| self.inner.seal_with_entropy(storage_key, t))
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// The bundle to publish: the current signed prekey, every unused one-time prekey, every
    /// unused one-time ML-KEM prekey and the current last-resort one.
    #[napi]
    pub fn bundle(&self) -> PrekeyBundle {
        PrekeyBundle {
            inner: self.inner.bundle(),
        }
    }

    /// The owner's public identity.
    #[napi(getter)]
    pub fn identity(&self) -> PublicIdentity {
        PublicIdentity {
            inner: self.inner.identity().clone(),
        }
    }

    /// Whether ML-KEM-768 prekeys are published (sessions use PQXDH).
    #[napi(getter)]
    pub fn is_post_quantum(&self) -> bool {
        self.inner.options().post_quantum
    }

    /// Unused one-time X25519 prekeys.
    #[napi(getter)]
    pub fn one_time_prekey_count(&self) -> u32 {
        u32::try_from(self.inner.one_time_prekey_count()).unwrap_or(u32::MAX)
    }

    /// Unused one-time ML-KEM-768 prekeys.
    #[napi(getter)]
    pub fn kem_one_time_prekey_count(&self) -> u32 {
        u32::try_from(self.inner.kem_one_time_prekey_count()).unwrap_or(u32::MAX)
    }

    /// Id of the current signed prekey.
    #[napi(getter)]
    pub fn signed_prekey_id(&self) -> u32 {
        self.inner.signed_prekey_id()
    }

    /// When the current signed prekey was made (Unix seconds, the `now` given then).
    #[napi(getter)]
    pub fn signed_prekey_created_at(&self) -> f64 {
        as_number(self.inner.signed_prekey_created_at())
    }

    /// Ids of the replaced signed prekeys still accepted, newest first.
    #[napi(getter)]
    pub fn retired_signed_prekey_ids(&self) -> Vec<u32> {
        self.inner.retired_signed_prekey_ids()
    }

    /// Incremented by every change (and written into the sealed form): save it with the
    /// sealed blob and pass it to `open` as `expectedGeneration`.
    #[napi(getter)]
    pub fn generation(&self) -> BigInt {
        BigInt::from(self.inner.generation())
    }

    /// Replace the signed prekey (and the last-resort ML-KEM prekey); the old ones stay
    /// accepted until `removeExpiredSignedPrekeys`. Publish `bundle()` again.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_IDENTITY_MISMATCH` if `identity` does not own
    /// the store.
    #[napi(strict)]
    pub fn rotate_signed_prekey(&mut self, identity: &Identity, now: Option<f64>) -> Result<()> {
        let now = unix_seconds(now, "now must be a non-negative integer (Unix seconds)")
            .map_err(to_js_error)?;
        self.inner
            .rotate_signed_prekey(&identity.inner, now)
            .map_err(to_js_error)
    }

    /// Forget replaced signed prekeys retired more than `graceSeconds` (default 30 days)
    /// before `now` (default: now). Returns how many were removed.
    #[napi(strict)]
    pub fn remove_expired_signed_prekeys(
        &mut self,
        now: Option<f64>,
        grace_seconds: Option<f64>,
    ) -> Result<u32> {
        let now = unix_seconds(now, "now must be a non-negative integer (Unix seconds)")
            .map_err(to_js_error)?;
        let grace = match grace_seconds {
            None => DEFAULT_SIGNED_PREKEY_GRACE_SECS,
            Some(g) => unix_seconds(Some(g), "graceSeconds must be a non-negative integer")
                .map_err(to_js_error)?,
        };
        let removed = self.inner.remove_expired_signed_prekeys(now, grace);
        Ok(u32::try_from(removed).unwrap_or(u32::MAX))
    }

    /// Generate one-time prekeys until the configured counts are reached again. Publish
    /// `bundle()` again.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_IDENTITY_MISMATCH` if `identity` does not own
    /// the store.
    #[napi(strict)]
    pub fn replenish(&mut self, identity: &Identity) -> Result<()> {
        self.inner.replenish(&identity.inner).map_err(to_js_error)
    }
}

// ---------------------------------------------------------------------------------------------
// RatchetSession
// ---------------------------------------------------------------------------------------------

/// Options of `RatchetSession.initiate`.
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RatchetSessionOptions {
    /// Encrypt the Double Ratchet headers (default true). Without it the ratchet public key
    /// and the message counters travel in clear and link messages together.
    pub header_encryption: Option<bool>,
}

fn session_options(o: Option<&RatchetSessionOptions>) -> SessionOptions {
    let mut opts = SessionOptions::default();
    if let Some(he) = o.and_then(|o| o.header_encryption) {
        opts.header_encryption = he;
    }
    opts
}

/// What `RatchetSession.accept` returns.
#[napi(object, object_from_js = false)]
pub struct RatchetAcceptResult {
    /// The new session (the responder's side).
    pub session: RatchetSession,
    /// The plaintext of the first message, carried by the initial message. Check
    /// `session.peerIdentity` before trusting it.
    pub plaintext: Buffer,
}

impl std::fmt::Debug for RatchetAcceptResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RatchetAcceptResult(..)")
    }
}

/// An end-to-end encrypted conversation with one peer: started from the peer's prekey
/// bundle (`initiate`, X3DH or PQXDH) or from an initial message (`accept`), then carried on
/// with the Double Ratchet. Every operation is all-or-nothing: a message that fails to
/// decrypt leaves the session as it was.
///
/// Persistence is the caller's: `seal` after every `encrypt` (before sending) and every
/// `decrypt`, save `generation` with the blob, and `open` with it as `expectedGeneration`.
/// `new RatchetSession()` is not allowed: use `initiate` / `accept` / `open`.
#[napi]
pub struct RatchetSession {
    inner: Session,
}

impl std::fmt::Debug for RatchetSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RatchetSession(..)")
    }
}

fn accepted((inner, plaintext): (Session, Vec<u8>)) -> RatchetAcceptResult {
    RatchetAcceptResult {
        session: RatchetSession { inner },
        plaintext: Buffer::from(plaintext),
    }
}

#[napi]
impl RatchetSession {
    /// Start a session with `peer` from its prekey `bundle` (PQXDH if the bundle is
    /// post-quantum, X3DH otherwise). Works offline: the first `encrypt` produces the
    /// initial message that starts the session on the other side.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_IDENTITY_MISMATCH` if the bundle is not `peer`'s.
    #[napi(factory, strict)]
    pub fn initiate(
        identity: &Identity,
        peer: &PublicIdentity,
        bundle: &PrekeyBundle,
        options: Option<RatchetSessionOptions>,
    ) -> Result<Self> {
        Session::initiate_with_options(
            &identity.inner,
            &peer.inner,
            &bundle.inner,
            session_options(options.as_ref()),
        )
        .map(|inner| Self { inner })
        .map_err(to_js_error)
    }

    /// FOR TESTING ONLY (vector replay): `initiate` drawing its randomness from `random`
    /// (ephemeral key 32, for PQXDH the ML-KEM encapsulation message 32, the first ratchet
    /// key 32), which must be consumed exactly.
    #[napi(factory, strict, js_name = "_initiateForVectors")]
    pub fn initiate_for_vectors(
        identity: &Identity,
        peer: &PublicIdentity,
        bundle: &PrekeyBundle,
        options: Option<RatchetSessionOptions>,
        random: &[u8],
    ) -> Result<Self> {
        let opts = session_options(options.as_ref());
        replay(random, |t| {
            Session::initiate_with_entropy(&identity.inner, &peer.inner, &bundle.inner, opts, t)
        })
        .map(|inner| Self { inner })
        .map_err(to_js_error)
    }

    /// Accept an initial message addressed to `identity`, whose prekeys are in
    /// `prekeyStore`: returns the new session and the first message's plaintext. The
    /// one-time prekeys it used are removed from `prekeyStore` only if the whole message
    /// authenticated; seal both together afterwards.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_PREKEY_ALREADY_USED` (a second initial message
    /// naming a consumed one-time prekey), `ERR_SEALWIRE_UNKNOWN_PREKEY`,
    /// `ERR_SEALWIRE_DECRYPTION_FAILED`, `ERR_SEALWIRE_IDENTITY_MISMATCH` (the store is not
    /// `identity`'s), decoding codes for garbage. `prekeyStore` is then unchanged.
    #[napi(strict)]
    pub fn accept(
        identity: &Identity,
        prekey_store: &mut PrekeyStore,
        initial_message: &[u8],
    ) -> Result<RatchetAcceptResult> {
        Session::accept(&identity.inner, &mut prekey_store.inner, initial_message)
            .map(accepted)
            .map_err(to_js_error)
    }

    /// FOR TESTING ONLY (vector replay): `accept` drawing the responder's next ratchet key
    /// (32) from `random`, which must be consumed exactly.
    #[napi(strict, js_name = "_acceptForVectors")]
    pub fn accept_for_vectors(
        identity: &Identity,
        prekey_store: &mut PrekeyStore,
        initial_message: &[u8],
        random: &[u8],
    ) -> Result<RatchetAcceptResult> {
        let mut store = copy_store(&prekey_store.inner).map_err(to_js_error)?;
        let result = replay(random, |t| {
            Session::accept_with_entropy(&identity.inner, &mut store, initial_message, t)
        })
        .map_err(to_js_error)?;
        prekey_store.inner = store;
        Ok(accepted(result))
    }

    /// Encrypt `plaintext` (at most 16 MiB) as the next message. Until the peer's first
    /// reply arrives, the initiator's messages are initial messages (each can start the
    /// session on the other side). Seal the session before sending the result.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for a plaintext over 16 MiB.
    #[napi(strict)]
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Buffer> {
        self.inner
            .encrypt(plaintext)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// FOR TESTING ONLY (vector replay): `encrypt` drawing the header nonce (24, header
    /// encryption only) from `random`, which must be consumed exactly.
    #[napi(strict, js_name = "_encryptForVectors")]
    pub fn encrypt_for_vectors(&mut self, plaintext: &[u8], random: &[u8]) -> Result<Buffer> {
        let mut next = copy_session(&self.inner).map_err(to_js_error)?;
        let out =
            replay(random, |t| next.encrypt_with_entropy(plaintext, t)).map_err(to_js_error)?;
        self.inner = next;
        Ok(Buffer::from(out))
    }

    /// Decrypt a message of this session (out of order is fine within the skip limits). On
    /// any error the session is unchanged.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_DECRYPTION_FAILED`, `ERR_SEALWIRE_REPLAY` (seen
    /// before), `ERR_SEALWIRE_SESSION_MISMATCH` (an initial message of another session),
    /// `ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES`, decoding codes for garbage.
    #[napi(strict)]
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Buffer> {
        self.inner
            .decrypt(message)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// FOR TESTING ONLY (vector replay): `decrypt` drawing a new ratchet key (32, only when
    /// the message starts a new receiving chain) from `random`, which must be consumed
    /// exactly.
    #[napi(strict, js_name = "_decryptForVectors")]
    pub fn decrypt_for_vectors(&mut self, message: &[u8], random: &[u8]) -> Result<Buffer> {
        let mut next = copy_session(&self.inner).map_err(to_js_error)?;
        let out = replay(random, |t| next.decrypt_with_entropy(message, t)).map_err(to_js_error)?;
        self.inner = next;
        Ok(Buffer::from(out))
    }

    /// Seal the whole session under a 32-byte storage key (fresh random nonce; the
    /// generation is authenticated).
    #[napi(strict)]
    pub fn seal(&self, storage_key: &[u8]) -> Result<Buffer> {
        self.inner
            .seal(storage_key)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// FOR TESTING ONLY (vector replay): `seal` with the 24-byte nonce from `random`.
    #[napi(strict, js_name = "_sealForVectors")]
    pub fn seal_for_vectors(&self, storage_key: &[u8], random: &[u8]) -> Result<Buffer> {
        replay(random, |t| self.inner.seal_with_entropy(storage_key, t))
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// Open a sealed session. With `expectedGeneration` (the `generation` saved when it was
    /// last sealed), an older copy is refused: it would re-derive message keys already used.
    /// On `ERR_SEALWIRE_STALE_STATE` do not use the old state: start a new session.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_STALE_STATE`, `ERR_SEALWIRE_DECRYPTION_FAILED`
    /// (wrong key or modified blob), `ERR_SEALWIRE_INVALID_LENGTH` (storage key), decoding
    /// codes for garbage.
    #[napi(factory, strict)]
    pub fn open(
        blob: &[u8],
        storage_key: &[u8],
        expected_generation: Option<Either<f64, BigInt>>,
    ) -> Result<Self> {
        let expected = checked_generation(expected_generation.as_ref()).map_err(to_js_error)?;
        match expected {
            None => Session::open(blob, storage_key),
            Some(g) => Session::open_checked(blob, storage_key, g),
        }
        .map(|inner| Self { inner })
        .map_err(to_js_error)
    }

    /// The same 32 bytes on both sides (derived from the initial message).
    #[napi(getter)]
    pub fn session_id(&self) -> Buffer {
        Buffer::from(self.inner.session_id().to_vec())
    }

    /// Incremented by every successful `encrypt` and `decrypt`; written into the sealed
    /// form. Save it with the blob and pass it to `open` as `expectedGeneration`.
    #[napi(getter)]
    pub fn generation(&self) -> BigInt {
        BigInt::from(self.inner.generation())
    }

    /// `'X3DH'` or `'PQXDH'`.
    #[napi(getter, ts_return_type = "'X3DH' | 'PQXDH'")]
    pub fn key_agreement(&self) -> &'static str {
        match self.inner.key_agreement() {
            KeyAgreement::X3dh => "X3DH",
            KeyAgreement::Pqxdh => "PQXDH",
        }
    }

    /// Whether the Double Ratchet headers are encrypted.
    #[napi(getter)]
    pub fn header_encryption(&self) -> bool {
        self.inner.header_encryption()
    }

    /// Whether this side started the session (`initiate`).
    #[napi(getter)]
    pub fn is_initiator(&self) -> bool {
        self.inner.is_initiator()
    }

    /// Whether this side's messages are still initial messages (initiator, until the peer's
    /// first reply was decrypted).
    #[napi(getter)]
    pub fn awaiting_reply(&self) -> bool {
        self.inner.awaiting_reply()
    }

    /// The peer's public identity (for the responder: as authenticated by the initial
    /// message).
    #[napi(getter)]
    pub fn peer_identity(&self) -> PublicIdentity {
        PublicIdentity {
            inner: self.inner.peer_identity().clone(),
        }
    }

    /// Our own public identity.
    #[napi(getter)]
    pub fn local_identity(&self) -> PublicIdentity {
        PublicIdentity {
            inner: self.inner.local_identity().clone(),
        }
    }

    /// Message keys kept for late (skipped) messages.
    #[napi(getter)]
    pub fn skipped_message_keys(&self) -> u32 {
        u32::try_from(self.inner.skipped_message_keys()).unwrap_or(u32::MAX)
    }
}
