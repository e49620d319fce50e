//! `sealwire.PrekeyBundle`, `sealwire.Messenger`, `sealwire.OutboxRecord` and
//! `sealwire.Received`: asynchronous sessions (X3DH / PQXDH, then the Double Ratchet) with
//! crash-safe persistence, from the core's `sealwire::store::Messenger` (`docs/STORE.md`).
//!
//! `Messenger` is `frozen` and keeps the core messenger in a `Mutex` (the same locking
//! discipline as the Noise classes, see `noise.rs`): every call that touches the store or
//! does DH / KEM / AEAD work takes the lock *inside* [`detach`], without the GIL; the cheap
//! getters take it with the GIL held through `lock_py_attached`, which gives the GIL up
//! while it waits. The core messenger is transactional (a failed operation leaves the store
//! and its cache as they were), so a lock poisoned by a panic is recovered.
//!
//! Peers are named by their *peer id*, the 32-byte Ed25519 key of their identity
//! (`PublicIdentity.ed25519_key`); every method taking a peer accepts a `PublicIdentity` or
//! a peer id. Records (`OutboxRecord`, `Received`) carry the peer id as `bytes`.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyBytes, PyInt};
use sealwire::ratchet::{PrekeyBundle, PrekeyOptions, DEFAULT_SIGNED_PREKEY_GRACE_SECS};
use sealwire::store::{self, MemoryStore, OutboxRecord, PeerId, SessionStore, SqliteStore};
use sealwire::ErrorKind;
use zeroize::Zeroizing;

use crate::detach;
use crate::error::{Error, Result};
use crate::identity::{PyIdentity, PyPublicIdentity};
use crate::input::{type_name, BytesLike};

type Store = Box<dyn SessionStore + Send>;
type Inner = store::Messenger<Store>;

/// Raised by every call on a messenger after `close()`.
const CLOSED: Error = Error::Binding(ErrorKind::InvalidParameter, "this Messenger is closed");

/// Lock without the GIL (inside [`detach`]).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lock with the GIL held; the GIL is released while waiting.
fn lock_attached<'a, T>(py: Python<'_>, m: &'a Mutex<T>) -> MutexGuard<'a, T> {
    m.lock_py_attached(py)
        .unwrap_or_else(PoisonError::into_inner)
}

// --- arguments ------------------------------------------------------------------------------

/// A non-negative integer argument that fits a u64, or `ParameterError`.
fn u64_arg(value: &Bound<'_, PyInt>, out_of_range: &'static str) -> Result<u64> {
    Ok(value
        .extract::<u64>()
        .map_err(|_| sealwire::Error::InvalidParameter(out_of_range))?)
}

/// `now` in Unix seconds: the argument, or the system clock.
fn now_arg(now: Option<&Bound<'_, PyInt>>) -> Result<u64> {
    match now {
        Some(v) => u64_arg(v, "now must be a non-negative Unix time in seconds"),
        None => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())),
    }
}

/// A peer: a `PublicIdentity` or its 32-byte peer id (Ed25519 key), as a peer id.
fn peer_arg(obj: &Bound<'_, PyAny>) -> Result<PeerId> {
    if let Ok(identity) = obj.cast::<PyPublicIdentity>() {
        return Ok(store::peer_id(&identity.get().inner));
    }
    let bytes = match obj.extract::<BytesLike<'_>>() {
        Ok(b) => b,
        Err(e) if e.is_instance_of::<PyTypeError>(obj.py()) => {
            return Err(Error::Python(PyTypeError::new_err(format!(
                "peer must be a PublicIdentity or a 32-byte peer id, not '{}'",
                type_name(&obj.as_borrowed())
            ))))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(
        PeerId::try_from(&bytes[..]).map_err(|_| sealwire::Error::InvalidLength {
            what: "peer id",
            expected: 32,
            actual: bytes.len(),
        })?,
    )
}

/// Prekey options from the keyword arguments (`kem_one_time_prekeys` defaults to
/// `one_time_prekeys`). The core refuses more than 1000 of each kind.
fn prekey_options(
    one_time: i64,
    kem_one_time: Option<i64>,
    post_quantum: bool,
) -> Result<PrekeyOptions> {
    let count = |n: i64| {
        u16::try_from(n).map_err(|_| {
            sealwire::Error::InvalidParameter("at most 1000 one-time prekeys of each kind")
        })
    };
    Ok(PrekeyOptions {
        one_time_prekeys: count(one_time)?,
        kem_one_time_prekeys: count(kem_one_time.unwrap_or(one_time))?,
        post_quantum,
    })
}


// --- PrekeyBundle ---------------------------------------------------------------------------

/// A published prekey bundle: what an initiator needs to start a session with its owner
/// while the owner is offline. Always verified: `from_bytes` checks the owner's identity,
/// every signature and every key.
#[pyclass(name = "PrekeyBundle", module = "sealwire._native", frozen)]
pub(crate) struct PyPrekeyBundle {
    inner: PrekeyBundle,
}

#[pymethods]
impl PyPrekeyBundle {
    /// Decode and verify a bundle (strict). Releases the GIL.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: BytesLike<'_>) -> Result<Self> {
        let inner = detach(py, || PrekeyBundle::from_bytes(&data))?;
        Ok(Self { inner })
    }

    /// The canonical encoding, to publish.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }

    /// The owner's public identity.
    #[getter]
    fn identity(&self) -> PyPublicIdentity {
        PyPublicIdentity {
            inner: self.inner.identity().clone(),
        }
    }

    /// Whether the bundle carries ML-KEM-768 prekeys (sessions started from it use PQXDH).
    #[getter]
    fn is_post_quantum(&self) -> bool {
        self.inner.is_post_quantum()
    }

    /// Id of the signed X25519 prekey.
    #[getter]
    fn signed_prekey_id(&self) -> u32 {
        self.inner.signed_prekey_id()
    }

    /// Ids of the one-time X25519 prekeys it offers.
    #[getter]
    fn one_time_prekey_ids(&self) -> Vec<u32> {
        self.inner.one_time_prekey_ids()
    }

    /// Ids of the one-time ML-KEM-768 prekeys it offers.
    #[getter]
    fn kem_one_time_prekey_ids(&self) -> Vec<u32> {
        self.inner.kem_one_time_prekey_ids()
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!(
            "<PrekeyBundle one_time={} post_quantum={}>",
            self.inner.one_time_prekey_ids().len(),
            if self.inner.is_post_quantum() {
                "True"
            } else {
                "False"
            }
        )
    }
}

// --- records --------------------------------------------------------------------------------

/// A ciphertext committed for sending by `Messenger.send`, kept until `mark_sent(id)`.
#[pyclass(name = "OutboxRecord", module = "sealwire._native", frozen)]
pub(crate) struct PyOutboxRecord {
    inner: OutboxRecord,
}

#[pymethods]
impl PyOutboxRecord {
    /// Local id (increasing); pass it to `Messenger.mark_sent`.
    #[getter]
    fn id(&self) -> u64 {
        self.inner.id
    }

    /// The recipient's peer id (its 32-byte Ed25519 key).
    #[getter]
    fn peer<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.peer)
    }

    /// The message id: SHA-256 over a domain label and the ciphertext.
    #[getter]
    fn message_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.message_id)
    }

    /// The exact bytes to put on the wire (again, after a restart; never re-encrypted).
    #[getter]
    fn ciphertext<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.ciphertext)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!(
            "<OutboxRecord id={} len={}>",
            self.inner.id,
            self.inner.ciphertext.len()
        )
    }
}

/// A message received and committed by `Messenger.receive`, kept (sealed) until `ack(id)`.
#[pyclass(name = "Received", module = "sealwire._native", frozen)]
pub(crate) struct PyReceived {
    id: u64,
    peer: PeerId,
    message_id: [u8; 32],
    plaintext: Zeroizing<Vec<u8>>,
}

impl From<store::Received> for PyReceived {
    fn from(r: store::Received) -> Self {
        Self {
            id: r.id,
            peer: r.peer,
            message_id: r.message_id,
            plaintext: Zeroizing::new(r.plaintext),
        }
    }
}

#[pymethods]
impl PyReceived {
    /// Inbox id (increasing; the same when `pending_inbox` re-delivers it after a restart).
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// The sender's peer id (its 32-byte Ed25519 key), authenticated by the session.
    #[getter]
    fn peer<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.peer)
    }

    /// Id of the ciphertext it came from.
    #[getter]
    fn message_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.message_id)
    }

    /// The plaintext.
    #[getter]
    fn plaintext<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.plaintext)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.id == other.id
            && self.peer == other.peer
            && self.message_id == other.message_id
            && self.plaintext == other.plaintext
    }

    fn __repr__(&self) -> String {
        format!("<Received id={} len={}>", self.id, self.plaintext.len())
    }
}

fn outbox_list(records: Vec<OutboxRecord>) -> Vec<PyOutboxRecord> {
    records
        .into_iter()
        .map(|inner| PyOutboxRecord { inner })
        .collect()
}

// --- Messenger ------------------------------------------------------------------------------

/// An agent's asynchronous sessions with its peers, persisted in a store (see the stub).
#[pyclass(name = "Messenger", module = "sealwire._native", frozen)]
pub(crate) struct PyMessenger {
    inner: Mutex<Option<Inner>>,
}

impl PyMessenger {
    fn wrap(inner: Inner) -> Self {
        Self {
            inner: Mutex::new(Some(inner)),
        }
    }

    /// Run `f` on the open messenger with the GIL released.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Inner) -> sealwire::Result<T> + Send,
    ) -> Result<T> {
        detach(py, || {
            let mut guard = lock(&self.inner);
            let m = guard.as_mut().ok_or(CLOSED)?;
            Ok(f(m)?)
        })
    }

    /// Run a cheap `f` on the open messenger, GIL held.
    fn peek<T>(&self, py: Python<'_>, f: impl FnOnce(&Inner) -> T) -> Result<T> {
        let guard = lock_attached(py, &self.inner);
        Ok(f(guard.as_ref().ok_or(CLOSED)?))
    }

    fn create_in(
        py: Python<'_>,
        open_store: impl FnOnce() -> sealwire::Result<Store> + Send,
        identity: &Bound<'_, PyIdentity>,
        storage_key: BytesLike<'_>,
        options: PrekeyOptions,
    ) -> Result<Self> {
        let identity = &identity.get().inner;
        let now = now_arg(None)?;
        let inner = detach(py, || {
            let store = open_store()?;
            let owned = identity.duplicate();
            Inner::create(store, owned, &storage_key, options, now)
        })?;
        Ok(Self::wrap(inner))
    }
}

#[pymethods]
impl PyMessenger {
    /// Set up a new SQLite store at `path` for `identity`, sealed under `storage_key`
    /// (32 bytes), with freshly generated prekeys. Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (
        path, identity, storage_key, *, one_time_prekeys=100, kem_one_time_prekeys=None,
        post_quantum=true
    ))]
    fn create(
        py: Python<'_>,
        path: PathBuf,
        identity: &Bound<'_, PyIdentity>,
        storage_key: BytesLike<'_>,
        one_time_prekeys: i64,
        kem_one_time_prekeys: Option<i64>,
        post_quantum: bool,
    ) -> Result<Self> {
        let options = prekey_options(one_time_prekeys, kem_one_time_prekeys, post_quantum)?;
        Self::create_in(
            py,
            move || Ok(Box::new(SqliteStore::open(&path)?) as Store),
            identity,
            storage_key,
            options,
        )
    }

    /// `create` over an in-memory store: nothing survives the object. For tests.
    #[staticmethod]
    #[pyo3(signature = (
        identity, storage_key, *, one_time_prekeys=100, kem_one_time_prekeys=None,
        post_quantum=true
    ))]
    fn create_in_memory(
        py: Python<'_>,
        identity: &Bound<'_, PyIdentity>,
        storage_key: BytesLike<'_>,
        one_time_prekeys: i64,
        kem_one_time_prekeys: Option<i64>,
        post_quantum: bool,
    ) -> Result<Self> {
        let options = prekey_options(one_time_prekeys, kem_one_time_prekeys, post_quantum)?;
        Self::create_in(
            py,
            || Ok(Box::new(MemoryStore::new()) as Store),
            identity,
            storage_key,
            options,
        )
    }

    /// Open the SQLite store at `path` set up by `create`. `min_counter` is the `counter`
    /// saved outside the store after the last operation (0 skips the check); a store whose
    /// counter is lower was rolled back: `StaleStateError`. Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (path, storage_key, *, min_counter))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        storage_key: BytesLike<'_>,
        min_counter: &Bound<'_, PyInt>,
    ) -> Result<Self> {
        let min_counter = u64_arg(min_counter, "min_counter must be a non-negative integer")?;
        let inner = detach(py, || {
            let store: Store = Box::new(SqliteStore::open(&path)?);
            Inner::open(store, &storage_key, min_counter)
        })?;
        Ok(Self::wrap(inner))
    }

    /// Start over after `open` refused the store at `stale_path` with `StaleStateError`
    /// (the newer state is lost): set up the new, empty store at `fresh_path` with the
    /// identity from the stale store, **new** prekeys and a counter above `min_counter`
    /// (the anchor `open` was given). Nothing else is taken from the stale store (its
    /// sessions could re-derive message keys already used).
    ///
    /// Returns the new messenger and the peer ids the stale store had sessions with: publish
    /// the new `bundle()`, fetch each peer's bundle and `connect` again, and treat messages
    /// of the lost interval as possibly lost (`docs/STORE.md`). Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (
        stale_path, fresh_path, storage_key, *, min_counter, one_time_prekeys=100,
        kem_one_time_prekeys=None, post_quantum=true
    ))]
    #[allow(clippy::too_many_arguments)]
    fn recover_from_rollback<'py>(
        py: Python<'py>,
        stale_path: PathBuf,
        fresh_path: PathBuf,
        storage_key: BytesLike<'_>,
        min_counter: &Bound<'_, PyInt>,
        one_time_prekeys: i64,
        kem_one_time_prekeys: Option<i64>,
        post_quantum: bool,
    ) -> Result<(Self, Vec<Bound<'py, PyBytes>>)> {
        let min_counter = u64_arg(min_counter, "min_counter must be a non-negative integer")?;
        let options = prekey_options(one_time_prekeys, kem_one_time_prekeys, post_quantum)?;
        let now = now_arg(None)?;
        let (inner, peers) = detach(py, || {
            let stale = SqliteStore::open(&stale_path)?;
            let fresh: Store = Box::new(SqliteStore::open(&fresh_path)?);
            Inner::recover_from_rollback(stale, fresh, &storage_key, min_counter, options, now)
        })?;
        let peers = peers.iter().map(|p| PyBytes::new(py, p)).collect();
        Ok((Self::wrap(inner), peers))
    }

    /// Our own public identity.
    #[getter]
    fn identity(&self, py: Python<'_>) -> Result<PyPublicIdentity> {
        self.peek(py, |m| PyPublicIdentity {
            inner: m.identity().clone(),
        })
    }

    /// Our peer id (the 32-byte Ed25519 key of our identity).
    #[getter]
    fn peer_id<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyBytes>> {
        let id = self.peek(py, Inner::peer_id)?;
        Ok(PyBytes::new(py, &id))
    }

    /// The store counter after our last commit: save it outside the store and pass it as
    /// `min_counter` to `open`.
    #[getter]
    fn counter(&self, py: Python<'_>) -> Result<u64> {
        self.peek(py, Inner::counter)
    }

    /// The prekey bundle to publish. Releases the GIL.
    fn bundle(&self, py: Python<'_>) -> Result<PyPrekeyBundle> {
        let inner = self.run(py, Inner::bundle)?;
        Ok(PyPrekeyBundle { inner })
    }

    /// Unused one-time X25519 prekeys. Releases the GIL.
    fn one_time_prekey_count(&self, py: Python<'_>) -> Result<usize> {
        self.run(py, Inner::one_time_prekey_count)
    }

    /// Top the one-time prekeys back up and commit; publish `bundle()` again.
    /// Releases the GIL.
    fn replenish_prekeys(&self, py: Python<'_>) -> Result<()> {
        self.run(py, Inner::replenish_prekeys)
    }

    /// Replace the signed prekey (and the last-resort ML-KEM prekey) and commit; publish
    /// `bundle()` again. `now`: Unix seconds (default: the system clock). Releases the GIL.
    #[pyo3(signature = (now=None))]
    fn rotate_signed_prekey(&self, py: Python<'_>, now: Option<&Bound<'_, PyInt>>) -> Result<()> {
        let now = now_arg(now)?;
        self.run(py, |m| m.rotate_signed_prekey(now))
    }

    /// Forget replaced signed prekeys retired more than `grace_secs` ago (default 30
    /// days); returns how many were removed. Releases the GIL.
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
        self.run(py, |m| m.remove_expired_signed_prekeys(now, grace))
    }

    /// Start a session with `peer` from its published bundle and commit it (works offline;
    /// the peer learns of it from the first message). Releases the GIL.
    fn connect(
        &self,
        py: Python<'_>,
        peer: &Bound<'_, PyPublicIdentity>,
        bundle: &Bound<'_, PyPrekeyBundle>,
    ) -> Result<()> {
        let peer = &peer.get().inner;
        let bundle = &bundle.get().inner;
        self.run(py, |m| m.connect(peer, bundle))
    }

    /// Whether a session with `peer` exists. Releases the GIL.
    fn has_session(&self, py: Python<'_>, peer: &Bound<'_, PyAny>) -> Result<bool> {
        let peer = peer_arg(peer)?;
        self.run(py, |m| m.has_session(&peer))
    }

    /// Peer ids of every peer with a session. Releases the GIL.
    fn peers<'py>(&self, py: Python<'py>) -> Result<Vec<Bound<'py, PyBytes>>> {
        let peers = self.run(py, |m| m.peers())?;
        Ok(peers.iter().map(|p| PyBytes::new(py, p)).collect())
    }

    /// The public identity of `peer` as authenticated by its current session, or None
    /// without a session. Releases the GIL.
    fn peer_identity(
        &self,
        py: Python<'_>,
        peer: &Bound<'_, PyAny>,
    ) -> Result<Option<PyPublicIdentity>> {
        let peer = peer_arg(peer)?;
        let identity = self.run(py, |m| m.peer_identity(&peer))?;
        Ok(identity.map(|inner| PyPublicIdentity { inner }))
    }

    /// Messages committed for sending to `peer`, ever. Releases the GIL.
    fn sent_count(&self, py: Python<'_>, peer: &Bound<'_, PyAny>) -> Result<u64> {
        let peer = peer_arg(peer)?;
        self.run(py, |m| m.sent_count(&peer))
    }

    /// Messages received from `peer` and committed, ever. Releases the GIL.
    fn received_count(&self, py: Python<'_>, peer: &Bound<'_, PyAny>) -> Result<u64> {
        let peer = peer_arg(peer)?;
        self.run(py, |m| m.received_count(&peer))
    }

    /// Encrypt `plaintext` for `peer`, commit the new state and an outbox record holding
    /// the ciphertext, and return the record: send `record.ciphertext`, then
    /// `mark_sent(record.id)`. `ProtocolError` without a session. Releases the GIL.
    fn send(
        &self,
        py: Python<'_>,
        peer: &Bound<'_, PyAny>,
        plaintext: BytesLike<'_>,
    ) -> Result<PyOutboxRecord> {
        let peer = peer_arg(peer)?;
        let inner = self.run(py, |m| m.send(&peer, &plaintext))?;
        Ok(PyOutboxRecord { inner })
    }

    /// Outbox records not yet marked sent, oldest first. Releases the GIL.
    fn pending_outbox(&self, py: Python<'_>) -> Result<Vec<PyOutboxRecord>> {
        Ok(outbox_list(self.run(py, |m| m.pending_outbox())?))
    }

    /// The transport has taken outbox record `id`: forget it. Idempotent. Releases the GIL.
    fn mark_sent(&self, py: Python<'_>, id: &Bound<'_, PyInt>) -> Result<()> {
        let id = u64_arg(id, "an outbox id is a non-negative integer")?;
        self.run(py, |m| m.mark_sent(id))
    }

    /// Process one message from the wire: a `Received` (committed; handle it, then
    /// `ack(received.id)`), or None for a message already received. On error nothing
    /// changed. Releases the GIL.
    fn receive(&self, py: Python<'_>, message: BytesLike<'_>) -> Result<Option<PyReceived>> {
        let received = self.run(py, |m| m.receive(&message))?;
        Ok(received.map(PyReceived::from))
    }

    /// Messages received and not yet acknowledged, oldest first. Releases the GIL.
    fn pending_inbox(&self, py: Python<'_>) -> Result<Vec<PyReceived>> {
        let inbox = self.run(py, |m| m.pending_inbox())?;
        Ok(inbox.into_iter().map(PyReceived::from).collect())
    }

    /// The application has durably handled inbox message `id`: delete its plaintext.
    /// Idempotent. Releases the GIL.
    fn ack(&self, py: Python<'_>, id: &Bound<'_, PyInt>) -> Result<()> {
        let id = u64_arg(id, "an inbox id is a non-negative integer")?;
        self.run(py, |m| m.ack(id))
    }

    /// Close the store (idempotent). Every later call raises `ParameterError`.
    fn close(&self, py: Python<'_>) {
        let messenger = lock_attached(py, &self.inner).take();
        // Closing SQLite checkpoints the WAL into the database file: off the GIL.
        detach(py, move || drop(messenger));
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        lock_attached(py, &self.inner).is_none()
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match lock_attached(py, &self.inner).as_ref() {
            Some(m) => format!("<Messenger counter={}>", m.counter()),
            None => "<Messenger closed>".to_owned(),
        }
    }
}
