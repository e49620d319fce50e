//! `sealwire.PrekeyStore` and `sealwire.RatchetSession`: the ratchet layer's own objects
//! (`sealwire::ratchet`), for applications that persist sessions themselves instead of
//! through `Messenger`.
//!
//! Both classes are `frozen` and keep the core object in a `Mutex`, with the locking
//! discipline of the Noise classes (`noise.rs`): DH / KEM / AEAD work and sealing take the
//! lock inside [`detach`], without the GIL; cheap getters take it with the GIL through
//! `lock_py_attached`. `RatchetSession.accept` locks the prekey store it consumes from, and
//! only that lock. Every core operation here is all-or-nothing, so a lock poisoned by a
//! panic is recovered.
//!
//! **Test hook.** `generate`, `initiate`, `accept`, `encrypt`, `decrypt` and both `seal`s take
//! a private keyword `_random`: the exact bytes the call draws instead of the OS CSPRNG
//! (the core's `deterministic::ByteTape` and `*_with_entropy` functions, in the order of
//! `docs/FORMATS.md` → "Randomness"), for replaying `tests/vectors/ratchet.json`. The
//! call fails with `ParameterError` unless it consumes them exactly (an object it
//! changed is restored first). Like `NoiseHandshake._from_vector_inputs`, it is not part of
//! the API: fixed randomness reuses keys and nonces and destroys every security property.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt};
use sealwire::deterministic::{ByteTape, OsRandom, RandomSource};
use sealwire::ratchet::{
    KeyAgreement, PrekeyStore, Session, SessionOptions, DEFAULT_SIGNED_PREKEY_GRACE_SECS,
    STORAGE_KEY_LEN,
};
use sealwire::ErrorKind;
use zeroize::Zeroizing;

use crate::detach;
use crate::error::{Error, Result};
use crate::identity::{PyIdentity, PyPublicIdentity};
use crate::input::BytesLike;
use crate::messenger::{lock, lock_attached, now_arg, prekey_options, u64_arg, PyPrekeyBundle};

const UNCONSUMED: Error = Error::Binding(
    ErrorKind::InvalidParameter,
    "_random was not consumed exactly (private test hook)",
);

/// Run `f` with the OS CSPRNG, or (test hook) with `random` as a tape that must be used up.
fn with_entropy<T>(
    random: Option<&[u8]>,
    f: impl FnOnce(&mut dyn RandomSource) -> sealwire::Result<T>,
) -> Result<T> {
    match random {
        None => Ok(f(&mut OsRandom)?),
        Some(bytes) => {
            let mut tape = ByteTape::new(bytes);
            let out = f(&mut tape)?;
            if tape.remaining() != 0 {
                return Err(UNCONSUMED);
            }
            Ok(out)
        }
    }
}

/// A throwaway key for the test hook's snapshots (never leaves this process).
fn snapshot_key() -> sealwire::Result<Zeroizing<[u8; STORAGE_KEY_LEN]>> {
    let mut key = Zeroizing::new([0u8; STORAGE_KEY_LEN]);
    OsRandom.fill(key.as_mut())?;
    Ok(key)
}

/// [`with_entropy`] for an operation that changes `session`: with the test hook, the session
/// is restored if the tape was not used up.
fn on_session<T>(
    session: &mut Session,
    random: Option<&[u8]>,
    f: impl FnOnce(&mut Session, &mut dyn RandomSource) -> sealwire::Result<T>,
) -> Result<T> {
    let Some(bytes) = random else {
        return Ok(f(session, &mut OsRandom)?);
    };
    let key = snapshot_key()?;
    let before = Zeroizing::new(session.seal(key.as_ref())?);
    let mut tape = ByteTape::new(bytes);
    let out = f(session, &mut tape)?;
    if tape.remaining() != 0 {
        *session = Session::open(&before, key.as_ref())?;
        return Err(UNCONSUMED);
    }
    Ok(out)
}

/// `open` or, given the generation last committed, `open_checked`.
fn expected(generation: Option<&Bound<'_, PyInt>>) -> Result<Option<u64>> {
    generation
        .map(|g| u64_arg(g, "expected_generation must be a non-negative integer"))
        .transpose()
}

// --- PrekeyStore ----------------------------------------------------------------------------

/// The owner's private prekeys (see the stub).
#[pyclass(name = "PrekeyStore", module = "sealwire._native", frozen)]
pub(crate) struct PyPrekeyStore {
    inner: Mutex<PrekeyStore>,
}

impl PyPrekeyStore {
    fn wrap(inner: PrekeyStore) -> Self {
        Self {
            inner: Mutex::new(inner),
        }
    }

    /// Run a cheap `f` on the store, GIL held.
    fn peek<T>(&self, py: Python<'_>, f: impl FnOnce(&PrekeyStore) -> T) -> T {
        f(&lock_attached(py, &self.inner))
    }

    /// Run `f` on the store with the GIL released.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut PrekeyStore) -> Result<T> + Send,
    ) -> Result<T> {
        detach(py, || f(&mut lock(&self.inner)))
    }
}

#[pymethods]
impl PyPrekeyStore {
    /// New prekeys for `identity`: a signed prekey dated `now` (Unix seconds, default the
    /// system clock), one-time X25519 prekeys, and with `post_quantum` one-time and
    /// last-resort ML-KEM-768 prekeys. Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (
        identity, *, one_time_prekeys=100, kem_one_time_prekeys=None, post_quantum=true,
        now=None, _random=None
    ))]
    fn generate(
        py: Python<'_>,
        identity: &Bound<'_, PyIdentity>,
        one_time_prekeys: i64,
        kem_one_time_prekeys: Option<i64>,
        post_quantum: bool,
        now: Option<&Bound<'_, PyInt>>,
        _random: Option<BytesLike<'_>>,
    ) -> Result<Self> {
        let options = prekey_options(one_time_prekeys, kem_one_time_prekeys, post_quantum)?;
        let now = now_arg(now)?;
        let identity = &identity.get().inner;
        let inner = detach(py, || {
            with_entropy(_random.as_deref(), |rng| {
                PrekeyStore::generate_with_entropy(identity, options, now, rng)
            })
        })?;
        Ok(Self::wrap(inner))
    }

    /// The bundle to publish: current signed prekey, every unused one-time prekey, every
    /// current ML-KEM prekey. Releases the GIL (ML-KEM public keys are derived from seeds).
    fn bundle(&self, py: Python<'_>) -> Result<PyPrekeyBundle> {
        let inner = self.run(py, |s| Ok(s.bundle()))?;
        Ok(PyPrekeyBundle { inner })
    }

    /// The owner's public identity.
    #[getter]
    fn identity(&self, py: Python<'_>) -> PyPublicIdentity {
        self.peek(py, |s| PyPublicIdentity {
            inner: s.identity().clone(),
        })
    }

    /// Whether the store publishes ML-KEM-768 prekeys (initiators then use PQXDH).
    #[getter]
    fn is_post_quantum(&self, py: Python<'_>) -> bool {
        self.peek(py, |s| s.options().post_quantum)
    }

    /// Unused one-time X25519 prekeys.
    #[getter]
    fn one_time_prekey_count(&self, py: Python<'_>) -> usize {
        self.peek(py, PrekeyStore::one_time_prekey_count)
    }

    /// Unused one-time ML-KEM-768 prekeys.
    #[getter]
    fn kem_one_time_prekey_count(&self, py: Python<'_>) -> usize {
        self.peek(py, PrekeyStore::kem_one_time_prekey_count)
    }

    /// Id of the current signed prekey.
    #[getter]
    fn signed_prekey_id(&self, py: Python<'_>) -> u32 {
        self.peek(py, PrekeyStore::signed_prekey_id)
    }

    /// When the current signed prekey was made (Unix seconds, the `now` given then).
    #[getter]
    fn signed_prekey_created_at(&self, py: Python<'_>) -> u64 {
        self.peek(py, PrekeyStore::signed_prekey_created_at)
    }

    /// Ids of the replaced signed prekeys still accepted, newest first.
    #[getter]
    fn retired_signed_prekey_ids(&self, py: Python<'_>) -> Vec<u32> {
        self.peek(py, PrekeyStore::retired_signed_prekey_ids)
    }

    /// Incremented by every change; sealed into the blob (see `open`).
    #[getter]
    fn generation(&self, py: Python<'_>) -> u64 {
        self.peek(py, PrekeyStore::generation)
    }

    /// Replace the signed prekey (and the last-resort ML-KEM prekey); the old ones keep
    /// working until `remove_expired_signed_prekeys`. Publish `bundle()` again. Releases
    /// the GIL.
    #[pyo3(signature = (identity, now=None))]
    fn rotate_signed_prekey(
        &self,
        py: Python<'_>,
        identity: &Bound<'_, PyIdentity>,
        now: Option<&Bound<'_, PyInt>>,
    ) -> Result<()> {
        let now = now_arg(now)?;
        let identity = &identity.get().inner;
        self.run(py, |s| Ok(s.rotate_signed_prekey(identity, now)?))
    }

    /// Forget replaced signed prekeys retired more than `grace_secs` (default 30 days)
    /// before `now`; returns how many were removed.
    #[pyo3(signature = (now=None, grace_secs=None))]
    fn remove_expired_signed_prekeys(
        &self,
        py: Python<'_>,
        now: Option<&Bound<'_, PyInt>>,
        grace_secs: Option<&Bound<'_, PyInt>>,
    ) -> Result<usize> {
        let now = now_arg(now)?;
        let grace = match grace_secs {
            Some(g) => u64_arg(g, "grace_secs must be a non-negative integer")?,
            None => DEFAULT_SIGNED_PREKEY_GRACE_SECS,
        };
        let mut guard = lock_attached(py, &self.inner);
        Ok(guard.remove_expired_signed_prekeys(now, grace))
    }

    /// Generate one-time prekeys up to the counts the store was made with. Publish
    /// `bundle()` again. Releases the GIL.
    fn replenish(&self, py: Python<'_>, identity: &Bound<'_, PyIdentity>) -> Result<()> {
        let identity = &identity.get().inner;
        self.run(py, |s| Ok(s.replenish(identity)?))
    }

    /// The store sealed under `storage_key` (32 bytes): `SWPS`, with its generation bound.
    /// Seal and commit it after every change, atomically with the session an `accept`
    /// created. Releases the GIL.
    #[pyo3(signature = (storage_key, *, _random=None))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        storage_key: BytesLike<'_>,
        _random: Option<BytesLike<'_>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let blob = self.run(py, |s| {
            with_entropy(_random.as_deref(), |rng| {
                s.seal_with_entropy(&storage_key, rng)
            })
        })?;
        Ok(PyBytes::new(py, &blob))
    }

    /// Open a sealed store. With `expected_generation` (the generation last committed), an
    /// older blob is refused with `StaleStateError`: an old store would accept one-time
    /// prekeys already used. Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (blob, storage_key, expected_generation=None))]
    fn open(
        py: Python<'_>,
        blob: BytesLike<'_>,
        storage_key: BytesLike<'_>,
        expected_generation: Option<&Bound<'_, PyInt>>,
    ) -> Result<Self> {
        let expected = expected(expected_generation)?;
        let inner = detach(py, || match expected {
            Some(g) => PrekeyStore::open_checked(&blob, &storage_key, g),
            None => PrekeyStore::open(&blob, &storage_key),
        })?;
        Ok(Self::wrap(inner))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        self.peek(py, |s| {
            format!(
                "<PrekeyStore one_time={} kem_one_time={} generation={}>",
                s.one_time_prekey_count(),
                s.kem_one_time_prekey_count(),
                s.generation()
            )
        })
    }
}

// --- RatchetSession -------------------------------------------------------------------------

/// A Double Ratchet session with one peer (see the stub).
#[pyclass(name = "RatchetSession", module = "sealwire._native", frozen)]
pub(crate) struct PyRatchetSession {
    inner: Mutex<Session>,
}

fn agreement_name(a: KeyAgreement) -> &'static str {
    match a {
        KeyAgreement::X3dh => "X3DH",
        KeyAgreement::Pqxdh => "PQXDH",
    }
}

impl PyRatchetSession {
    fn wrap(inner: Session) -> Self {
        Self {
            inner: Mutex::new(inner),
        }
    }

    fn peek<T>(&self, py: Python<'_>, f: impl FnOnce(&Session) -> T) -> T {
        f(&lock_attached(py, &self.inner))
    }

    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Session) -> Result<T> + Send,
    ) -> Result<T> {
        detach(py, || f(&mut lock(&self.inner)))
    }
}

#[pymethods]
impl PyRatchetSession {
    /// Start a session with `peer` from its bundle (X3DH, or PQXDH for a post-quantum
    /// bundle); works offline. `RemoteKeyMismatchError` if the bundle is not `peer`'s.
    /// Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (identity, peer, bundle, *, header_encryption=true, _random=None))]
    fn initiate(
        py: Python<'_>,
        identity: &Bound<'_, PyIdentity>,
        peer: &Bound<'_, PyPublicIdentity>,
        bundle: &Bound<'_, PyPrekeyBundle>,
        header_encryption: bool,
        _random: Option<BytesLike<'_>>,
    ) -> Result<Self> {
        let (identity, peer, bundle) = (
            &identity.get().inner,
            &peer.get().inner,
            &bundle.get().inner,
        );
        let options = SessionOptions { header_encryption };
        let inner = detach(py, || {
            with_entropy(_random.as_deref(), |rng| {
                Session::initiate_with_entropy(identity, peer, bundle, options, rng)
            })
        })?;
        Ok(Self::wrap(inner))
    }

    /// Accept an initial message addressed to `identity`, whose prekeys are in
    /// `prekey_store`: returns the new session and the first message's plaintext. The
    /// one-time prekeys it used are removed from `prekey_store` only if it authenticated;
    /// seal both and commit them together. Check `peer_identity` before trusting the
    /// content. Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (identity, prekey_store, initial_message, *, _random=None))]
    fn accept<'py>(
        py: Python<'py>,
        identity: &Bound<'_, PyIdentity>,
        prekey_store: &Bound<'_, PyPrekeyStore>,
        initial_message: BytesLike<'_>,
        _random: Option<BytesLike<'_>>,
    ) -> Result<(Self, Bound<'py, PyBytes>)> {
        let identity = &identity.get().inner;
        let store = prekey_store.get();
        let (session, plaintext) = store.run(py, |s| {
            let Some(bytes) = _random.as_deref() else {
                return Ok(Session::accept(identity, s, &initial_message)?);
            };
            let key = snapshot_key()?;
            let before = Zeroizing::new(s.seal(key.as_ref())?);
            let mut tape = ByteTape::new(bytes);
            let out = Session::accept_with_entropy(identity, s, &initial_message, &mut tape)?;
            if tape.remaining() != 0 {
                *s = PrekeyStore::open(&before, key.as_ref())?;
                return Err(UNCONSUMED);
            }
            Ok(out)
        })?;
        let plaintext = Zeroizing::new(plaintext);
        Ok((Self::wrap(session), PyBytes::new(py, &plaintext)))
    }

    /// Encrypt the next message (at most 16 MiB of plaintext). Seal and commit the session
    /// *before* sending the result. Releases the GIL.
    #[pyo3(signature = (plaintext, *, _random=None))]
    fn encrypt<'py>(
        &self,
        py: Python<'py>,
        plaintext: BytesLike<'_>,
        _random: Option<BytesLike<'_>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let message = self.run(py, |s| {
            on_session(s, _random.as_deref(), |s, rng| {
                s.encrypt_with_entropy(&plaintext, rng)
            })
        })?;
        Ok(PyBytes::new(py, &message))
    }

    /// Decrypt a message of this session (out of order within 1000 per chain). On any
    /// error the session is unchanged. Releases the GIL.
    #[pyo3(signature = (message, *, _random=None))]
    fn decrypt<'py>(
        &self,
        py: Python<'py>,
        message: BytesLike<'_>,
        _random: Option<BytesLike<'_>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let plaintext = self.run(py, |s| {
            on_session(s, _random.as_deref(), |s, rng| {
                s.decrypt_with_entropy(&message, rng).map(Zeroizing::new)
            })
        })?;
        Ok(PyBytes::new(py, &plaintext))
    }

    /// The whole session sealed under `storage_key` (32 bytes): `SWSS`, generation bound.
    /// Releases the GIL.
    #[pyo3(signature = (storage_key, *, _random=None))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        storage_key: BytesLike<'_>,
        _random: Option<BytesLike<'_>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let blob = self.run(py, |s| {
            with_entropy(_random.as_deref(), |rng| {
                s.seal_with_entropy(&storage_key, rng)
            })
        })?;
        Ok(PyBytes::new(py, &blob))
    }

    /// Open a sealed session. With `expected_generation` (the generation last committed),
    /// an older blob is refused with `StaleStateError` (it would re-derive used message
    /// keys). Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (blob, storage_key, expected_generation=None))]
    fn open(
        py: Python<'_>,
        blob: BytesLike<'_>,
        storage_key: BytesLike<'_>,
        expected_generation: Option<&Bound<'_, PyInt>>,
    ) -> Result<Self> {
        let expected = expected(expected_generation)?;
        let inner = detach(py, || match expected {
            Some(g) => Session::open_checked(&blob, &storage_key, g),
            None => Session::open(&blob, &storage_key),
        })?;
        Ok(Self::wrap(inner))
    }

    /// Same on both sides: SHA-256 over a label and the initial message's prefix.
    #[getter]
    fn session_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let id = self.peek(py, Session::session_id);
        PyBytes::new(py, &id)
    }

    /// Incremented by every successful encrypt and decrypt; sealed into the blob.
    #[getter]
    fn generation(&self, py: Python<'_>) -> u64 {
        self.peek(py, Session::generation)
    }

    /// "X3DH" or "PQXDH".
    #[getter]
    fn key_agreement(&self, py: Python<'_>) -> &'static str {
        self.peek(py, |s| agreement_name(s.key_agreement()))
    }

    /// Whether message headers are encrypted.
    #[getter]
    fn header_encryption(&self, py: Python<'_>) -> bool {
        self.peek(py, Session::header_encryption)
    }

    /// Whether this side started the session.
    #[getter]
    fn is_initiator(&self, py: Python<'_>) -> bool {
        self.peek(py, Session::is_initiator)
    }

    /// The peer (for the responder: as authenticated by the initial message).
    #[getter]
    fn peer_identity(&self, py: Python<'_>) -> PyPublicIdentity {
        self.peek(py, |s| PyPublicIdentity {
            inner: s.peer_identity().clone(),
        })
    }

    /// Our own public identity.
    #[getter]
    fn local_identity(&self, py: Python<'_>) -> PyPublicIdentity {
        self.peek(py, |s| PyPublicIdentity {
            inner: s.local_identity().clone(),
        })
    }

    /// Initiator only: its messages still carry the initial-message prefix (nothing was
    /// decrypted from the responder yet).
    #[getter]
    fn awaiting_reply(&self, py: Python<'_>) -> bool {
        self.peek(py, Session::awaiting_reply)
    }

    /// Skipped message keys kept for late messages.
    #[getter]
    fn skipped_message_keys(&self, py: Python<'_>) -> usize {
        self.peek(py, Session::skipped_message_keys)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        self.peek(py, |s| {
            format!(
                "<RatchetSession {} {} generation={}>",
                agreement_name(s.key_agreement()),
                if s.is_initiator() {
                    "initiator"
                } else {
                    "responder"
                },
                s.generation()
            )
        })
    }
}
