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
//! The store is SQLite, memory, or a Python object (`create_with_store` / `open_with_store`,
//! adapted in `store.rs`). A Python store is called from inside [`detach`] with the lock
//! held: it attaches to the interpreter for each call, which cannot deadlock because no
//! thread waits for this lock while holding the GIL (`lock_py_attached` gives it up). The
//! one way to wait for the lock while holding it — the store calling back into the same
//! messenger on the same thread — is refused with `ParameterError` ([`PyMessenger::enter`]).
//! The store's exceptions are recorded in the messenger's `Causes`, taken before the lock
//! is released, and become the `__cause__` of the `StorageError`.
//!
//! The lock guards a [`Held`]: the core messenger, alone or moved into the core relay agent
//! of a `sealwire.RelayAgent` (`relay.rs`), which then runs its network calls under the same
//! lock; every `Messenger` method keeps working on the same state. `identity` and `peer_id`
//! are kept outside the lock (immutable), so they never wait for a long poll.
//!
//! Peers are named by their *peer id*, the 32-byte Ed25519 key of their identity
//! (`PublicIdentity.ed25519_key`); every method taking a peer accepts a `PublicIdentity` or
//! a peer id. Records (`OutboxRecord`, `Received`) carry the peer id as `bytes`.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyBytes, PyInt};
use sealwire::ratchet::{PrekeyBundle, PrekeyOptions, DEFAULT_SIGNED_PREKEY_GRACE_SECS};
use sealwire::relay::RelayAgent;
use sealwire::store::{self, MemoryStore, OutboxRecord, PeerId, SessionStore, SqliteStore};
use sealwire::ErrorKind;
use zeroize::Zeroizing;

use crate::detach;
use crate::error::{Error, Result};
use crate::identity::{PyIdentity, PyPublicIdentity};
use crate::input::{type_name, BytesLike};
use crate::provider::Causes;
use crate::store::PythonStore;

type Store = Box<dyn SessionStore + Send>;
type Inner = store::Messenger<Store>;
/// The core relay agent over a messenger of this module (`relay.rs`).
pub(crate) type Agent = RelayAgent<Store>;

/// What a `Messenger` object holds: its core messenger, alone or inside the core relay agent
/// of a `sealwire.RelayAgent` (which then owns it; every `Messenger` method still reaches it
/// through `RelayAgent::messenger`), or nothing once closed. (One per `Messenger` object:
/// the variants' sizes do not matter.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Held {
    Closed,
    Plain(Inner),
    /// Taken over by the `RelayAgent` whose token this is (`relay.rs`).
    Relay(Box<Agent>, u64),
}

impl Held {
    /// The core messenger, wherever it is.
    fn messenger(&mut self) -> Option<&mut Inner> {
        match self {
            Held::Closed => None,
            Held::Plain(m) => Some(m),
            Held::Relay(a, _) => Some(a.messenger()),
        }
    }
}

/// Raised by every call on a messenger after `close()`.
pub(crate) const CLOSED: Error =
    Error::Binding(ErrorKind::InvalidParameter, "this Messenger is closed");

/// Lock without the GIL (inside [`detach`]).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lock with the GIL held; the GIL is released while waiting.
pub(crate) fn lock_attached<'a, T>(py: Python<'_>, m: &'a Mutex<T>) -> MutexGuard<'a, T> {
    m.lock_py_attached(py)
        .unwrap_or_else(PoisonError::into_inner)
}

// --- arguments ------------------------------------------------------------------------------

/// A non-negative integer argument that fits a u64, or `ParameterError`.
pub(crate) fn u64_arg(value: &Bound<'_, PyInt>, out_of_range: &'static str) -> Result<u64> {
    Ok(value
        .extract::<u64>()
        .map_err(|_| sealwire::Error::InvalidParameter(out_of_range))?)
}

/// `now` in Unix seconds: the argument, or the system clock.
pub(crate) fn now_arg(now: Option<&Bound<'_, PyInt>>) -> Result<u64> {
    match now {
        Some(v) => u64_arg(v, "now must be a non-negative Unix time in seconds"),
        None => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())),
    }
}

/// A peer: a `PublicIdentity` or its 32-byte peer id (Ed25519 key), as a peer id.
pub(crate) fn peer_arg(obj: &Bound<'_, PyAny>) -> Result<PeerId> {
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
pub(crate) fn prekey_options(
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
    pub(crate) inner: PrekeyBundle,
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
    pub(crate) inner: OutboxRecord,
}

/// A 32-byte value (peer id, message id) from a bytes-like argument, or `DecodeError`.
pub(crate) fn array32(bytes: &[u8], what: &'static str) -> Result<[u8; 32]> {
    Ok(
        <[u8; 32]>::try_from(bytes).map_err(|_| sealwire::Error::InvalidLength {
            what,
            expected: 32,
            actual: bytes.len(),
        })?,
    )
}

#[pymethods]
impl PyOutboxRecord {
    /// A record as a `SessionStore` implemented in Python returns it from
    /// `pending_outbox()` (normally the very object `commit_send` was given, or one rebuilt
    /// from its fields).
    #[new]
    fn new(
        id: &Bound<'_, PyInt>,
        peer: BytesLike<'_>,
        message_id: BytesLike<'_>,
        ciphertext: BytesLike<'_>,
    ) -> Result<Self> {
        Ok(Self {
            inner: OutboxRecord {
                id: u64_arg(id, "an outbox id is a non-negative integer")?,
                peer: array32(&peer, "peer id")?,
                message_id: array32(&message_id, "message id")?,
                ciphertext: ciphertext.to_vec(),
            },
        })
    }

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
    inner: Mutex<Held>,
    /// The messenger's public identity (it never changes): read without the lock, so that
    /// `identity` / `peer_id` do not wait for a relay agent's call (a long poll).
    public: sealwire::PublicIdentity,
    /// Set when `inner` becomes `Held::Closed` ([`PyMessenger::close_held`]).
    is_closed: AtomicBool,
    /// Exceptions raised by a Python session store during the current call (empty for the
    /// built-in stores); taken while `inner` is still locked, settled with the GIL.
    causes: Arc<Causes>,
}

thread_local! {
    /// Messengers whose lock is held by a call running on this thread (addresses). A Python
    /// session store calling back into the messenger that is calling it would deadlock on
    /// that lock; [`PyMessenger::enter`] refuses it instead.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

const IN_USE: Error = Error::Binding(
    ErrorKind::InvalidParameter,
    "this Messenger is in use by a call running on this thread (its session store called \
     back into it)",
);

/// Removes a messenger from [`HELD`] when dropped.
struct HeldMark(usize);

impl Drop for HeldMark {
    fn drop(&mut self) {
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(i) = h.iter().rposition(|a| *a == self.0) {
                h.remove(i);
            }
        });
    }
}

impl PyMessenger {
    fn wrap(inner: Inner, causes: Arc<Causes>) -> Self {
        Self {
            public: inner.identity().clone(),
            inner: Mutex::new(Held::Plain(inner)),
            is_closed: AtomicBool::new(false),
            causes,
        }
    }

    /// Close: what the messenger held (drop it off the GIL: SQLite checkpoints its WAL).
    pub(crate) fn close_held(&self, held: &mut Held) -> Held {
        self.is_closed.store(true, Ordering::Release);
        std::mem::replace(held, Held::Closed)
    }

    /// The public identity, unless closed. No lock.
    fn public(&self) -> Result<&sealwire::PublicIdentity> {
        if self.is_closed.load(Ordering::Acquire) {
            return Err(CLOSED);
        }
        Ok(&self.public)
    }

    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Refuse a call from this messenger's own store callback; otherwise mark the messenger
    /// as held by this thread until the returned mark is dropped.
    fn enter(&self) -> Result<HeldMark> {
        let a = self.address();
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if h.contains(&a) {
                return Err(IN_USE);
            }
            h.push(a);
            Ok(HeldMark(a))
        })
    }

    /// Lock with the GIL held (cheap calls), unless this thread already holds the lock.
    fn lock_py<'a>(&'a self, py: Python<'_>) -> Result<(HeldMark, MutexGuard<'a, Held>)> {
        let mark = self.enter()?;
        Ok((mark, lock_attached(py, &self.inner)))
    }

    /// Run `f` on what the messenger holds with the GIL released (the lock taken inside);
    /// returns its result and what a Python store recorded meanwhile, to settle with the GIL
    /// (`Causes::finish`). Also the way `relay.rs` runs the core relay agent.
    pub(crate) fn run_held<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Held) -> Result<T> + Send,
    ) -> Result<(Result<T>, Causes)> {
        let mark = self.enter()?;
        let outcome = detach(py, || {
            let mut guard = lock(&self.inner);
            let result = f(&mut guard);
            (result, self.causes.take())
        });
        drop(mark);
        Ok(outcome)
    }

    /// Run `f` on the open messenger with the GIL released; a Python store's exceptions
    /// become the `__cause__` of the error.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Inner) -> sealwire::Result<T> + Send,
    ) -> Result<T> {
        let (result, causes) = self.run_held(py, |held| match held.messenger() {
            Some(m) => f(m).map_err(Error::from),
            None => Err(CLOSED),
        })?;
        causes.finish(py, result)
    }

    /// Run a cheap `f` on the open messenger, GIL held.
    fn peek<T>(&self, py: Python<'_>, f: impl FnOnce(&Inner) -> T) -> Result<T> {
        let (_mark, mut guard) = self.lock_py(py)?;
        Ok(f(guard.messenger().ok_or(CLOSED)?))
    }

    /// Run a cheap `f` on what the messenger holds, GIL held (released while waiting for
    /// the lock). For `relay.rs`: attaching and releasing a relay agent.
    pub(crate) fn with_held_attached<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Held) -> T,
    ) -> Result<T> {
        let (_mark, mut guard) = self.lock_py(py)?;
        Ok(f(&mut guard))
    }

    /// Make a messenger: `make` runs without the GIL; `causes` is the recorder of the
    /// Python store it uses, if any.
    fn make(
        py: Python<'_>,
        causes: Arc<Causes>,
        make: impl FnOnce() -> sealwire::Result<Inner> + Send,
    ) -> Result<Self> {
        let result = detach(py, || make().map_err(Error::from));
        let inner = causes.take().finish(py, result)?;
        Ok(Self::wrap(inner, causes))
    }

    fn create_in(
        py: Python<'_>,
        open_store: impl FnOnce() -> sealwire::Result<Store> + Send,
        causes: Arc<Causes>,
        identity: &Bound<'_, PyIdentity>,
        storage_key: BytesLike<'_>,
        options: PrekeyOptions,
    ) -> Result<Self> {
        let identity = &identity.get().inner;
        let now = now_arg(None)?;
        Self::make(py, causes, move || {
            Inner::create(
                open_store()?,
                identity.duplicate(),
                &storage_key,
                options,
                now,
            )
        })
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
            Arc::default(),
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
            Arc::default(),
            identity,
            storage_key,
            options,
        )
    }

    /// `create` over `store`, any object implementing `sealwire.SessionStore` (see
    /// `store.rs`); it is called with the GIL, from the thread making the call. Releases the
    /// GIL for everything else.
    #[staticmethod]
    #[pyo3(signature = (
        store, identity, storage_key, *, one_time_prekeys=100, kem_one_time_prekeys=None,
        post_quantum=true
    ))]
    fn create_with_store(
        py: Python<'_>,
        store: &Bound<'_, PyAny>,
        identity: &Bound<'_, PyIdentity>,
        storage_key: BytesLike<'_>,
        one_time_prekeys: i64,
        kem_one_time_prekeys: Option<i64>,
        post_quantum: bool,
    ) -> Result<Self> {
        let options = prekey_options(one_time_prekeys, kem_one_time_prekeys, post_quantum)?;
        let causes = Arc::new(Causes::default());
        let store: Store = Box::new(PythonStore::new(store, Arc::clone(&causes))?);
        Self::create_in(
            py,
            move || Ok(store),
            causes,
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
        Self::make(py, Arc::default(), || {
            let store: Store = Box::new(SqliteStore::open(&path)?);
            Inner::open(store, &storage_key, min_counter)
        })
    }

    /// Open the messenger `create_with_store` set up in `store` (the same object, or one
    /// over the same database). `min_counter` as for `open`. Releases the GIL except while
    /// the store is called.
    #[staticmethod]
    #[pyo3(signature = (store, storage_key, *, min_counter=None))]
    fn open_with_store(
        py: Python<'_>,
        store: &Bound<'_, PyAny>,
        storage_key: BytesLike<'_>,
        min_counter: Option<&Bound<'_, PyInt>>,
    ) -> Result<Self> {
        let min_counter = match min_counter {
            Some(c) => u64_arg(c, "min_counter must be a non-negative integer")?,
            None => 0,
        };
        let causes = Arc::new(Causes::default());
        let store: Store = Box::new(PythonStore::new(store, Arc::clone(&causes))?);
        Self::make(py, causes, move || {
            Inner::open(store, &storage_key, min_counter)
        })
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
        Ok((Self::wrap(inner, Arc::default()), peers))
    }

    /// Our own public identity. Does not wait for a call in progress.
    #[getter]
    fn identity(&self) -> Result<PyPublicIdentity> {
        Ok(PyPublicIdentity {
            inner: self.public()?.clone(),
        })
    }

    /// Our peer id (the 32-byte Ed25519 key of our identity). Does not wait for a call in
    /// progress.
    #[getter]
    fn peer_id<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &store::peer_id(self.public()?)))
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

    /// Close the store (idempotent). Every later call raises `ParameterError`. A
    /// `RelayAgent` using this messenger is closed with it.
    pub(crate) fn close(&self, py: Python<'_>) -> Result<()> {
        let messenger = self.close_held(&mut self.lock_py(py)?.1);
        // Closing SQLite checkpoints the WAL into the database file: off the GIL.
        detach(py, move || drop(messenger));
        Ok(())
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self, py: Python<'_>) -> Result<bool> {
        Ok(matches!(*self.lock_py(py)?.1, Held::Closed))
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> Result<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match self.lock_py(py) {
            Ok((_mark, mut guard)) => match guard.messenger() {
                Some(m) => format!("<Messenger counter={}>", m.counter()),
                None => "<Messenger closed>".to_owned(),
            },
            Err(_) => "<Messenger in use>".to_owned(),
        }
    }
}
