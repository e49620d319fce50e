//! Session stores implemented in Python: any object with the methods of the core's
//! `SessionStore` trait (`sealwire.SessionStore` in `sealwire/store.py`) behind a
//! `Messenger` (`Messenger.create_with_store` / `open_with_store`), and the record classes
//! it exchanges with the core: `OutboxRecord` (in `messenger.rs`), `InboxRecord` and
//! `ReceiveCommit`.
//!
//! [`PythonStore`] adapts the object: each trait method attaches to the interpreter (the
//! messenger calls it from inside [`crate::detach`], with its own lock held) and calls the
//! Python method of the same name with `bytes` and `int` arguments. Everything the store
//! sees is sealed or public (`core/src/store/traits.rs`), so no secret crosses here.
//!
//! Errors: a Python exception (or a return value of the wrong type) becomes
//! `Error::Storage` for the core, or `Error::StoreConflict` when it is a `SealwireError`
//! with code `ERR_SEALWIRE_STORE_CONFLICT` (how a Python store reports the counter rule of
//! the trait). The exception is recorded in the messenger's [`Causes`] and chained as
//! `__cause__` of the `StorageError` the call raises; `KeyboardInterrupt` and `SystemExit`
//! are re-raised unchanged. Nothing panics across the boundary.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt};
use sealwire::store::{InboxRecord, MessageId, OutboxRecord, PeerId, ReceiveCommit, SessionStore};
use sealwire::ErrorKind;

use crate::error::Result;
use crate::input::{type_name, BytesLike};
use crate::messenger::{array32, u64_arg, PyOutboxRecord};
use crate::provider::Causes;

// --- record classes -------------------------------------------------------------------------

/// A received message as the store keeps it until `ack`: the plaintext sealed under the
/// storage key (format `SWIN`), never in clear.
#[pyclass(name = "InboxRecord", module = "sealwire._native", frozen)]
pub(crate) struct PyInboxRecord {
    inner: InboxRecord,
}

#[pymethods]
impl PyInboxRecord {
    /// A record as a Python `SessionStore` returns it from `pending_inbox()`.
    #[new]
    fn new(
        id: &Bound<'_, PyInt>,
        peer: BytesLike<'_>,
        message_id: BytesLike<'_>,
        sealed: BytesLike<'_>,
    ) -> Result<Self> {
        Ok(Self {
            inner: InboxRecord {
                id: u64_arg(id, "an inbox id is a non-negative integer")?,
                peer: array32(&peer, "peer id")?,
                message_id: array32(&message_id, "message id")?,
                sealed: sealed.to_vec(),
            },
        })
    }

    /// Local id: the counter of the commit that created it.
    #[getter]
    fn id(&self) -> u64 {
        self.inner.id
    }

    /// The sender's peer id.
    #[getter]
    fn peer<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.peer)
    }

    /// Id of the ciphertext the message came from.
    #[getter]
    fn message_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.message_id)
    }

    /// The sealed plaintext (opened by the messenger with the storage key).
    #[getter]
    fn sealed<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.sealed)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!("<InboxRecord id={}>", self.inner.id)
    }
}

/// Everything one received message changes, handed to `SessionStore.commit_receive` to be
/// written in one transaction.
#[pyclass(name = "ReceiveCommit", module = "sealwire._native", frozen)]
pub(crate) struct PyReceiveCommit {
    counter: u64,
    peer: PeerId,
    session: Vec<u8>,
    prekeys: Option<Vec<u8>>,
    message_id: MessageId,
    inbox: Py<PyInboxRecord>,
}

#[pymethods]
impl PyReceiveCommit {
    /// For tests of a store implementation; the messenger builds its own.
    #[new]
    fn new(
        counter: &Bound<'_, PyInt>,
        peer: BytesLike<'_>,
        session: BytesLike<'_>,
        prekeys: Option<BytesLike<'_>>,
        message_id: BytesLike<'_>,
        inbox: Bound<'_, PyInboxRecord>,
    ) -> Result<Self> {
        Ok(Self {
            counter: u64_arg(counter, "a store counter is a non-negative integer")?,
            peer: array32(&peer, "peer id")?,
            session: session.to_vec(),
            prekeys: prekeys.map(|p| p.to_vec()),
            message_id: array32(&message_id, "message id")?,
            inbox: inbox.unbind(),
        })
    }

    /// The new store counter (the current one plus one).
    #[getter]
    fn counter(&self) -> u64 {
        self.counter
    }

    /// The sender's peer id.
    #[getter]
    fn peer<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.peer)
    }

    /// The sender's new sealed session record.
    #[getter]
    fn session<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.session)
    }

    /// The new sealed prekey store when the message started a session, else None.
    #[getter]
    fn prekeys<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.prekeys.as_ref().map(|p| PyBytes::new(py, p))
    }

    /// To record as seen (it must not have been seen before).
    #[getter]
    fn message_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.message_id)
    }

    /// The inbox record to add (its id equals `counter`).
    #[getter]
    fn inbox(&self, py: Python<'_>) -> Py<PyInboxRecord> {
        self.inbox.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!("<ReceiveCommit counter={}>", self.counter)
    }
}

// --- the adapter ----------------------------------------------------------------------------

/// A Python object implementing `sealwire.SessionStore`, as a core `SessionStore`.
pub(crate) struct PythonStore {
    obj: Py<PyAny>,
    causes: Arc<Causes>,
}

/// The methods a Python session store must have (checked when a messenger is made).
const METHODS: [&str; 15] = [
    "counter",
    "load_identity",
    "load_prekeys",
    "load_session",
    "peers",
    "seen",
    "pending_outbox",
    "pending_inbox",
    "commit_identity",
    "commit_prekeys",
    "commit_session",
    "commit_send",
    "commit_receive",
    "mark_sent",
    "ack",
];

impl PythonStore {
    /// Adapt `obj`, recording its exceptions in `causes`. `TypeError` unless it has every
    /// method of the protocol.
    pub(crate) fn new(obj: &Bound<'_, PyAny>, causes: Arc<Causes>) -> PyResult<Self> {
        let missing: Vec<&str> = METHODS
            .iter()
            .copied()
            .filter(|m| !obj.getattr(*m).is_ok_and(|a| a.is_callable()))
            .collect();
        if !missing.is_empty() {
            return Err(PyTypeError::new_err(format!(
                "store must implement sealwire.SessionStore; '{}' has no method {}",
                type_name(&obj.as_borrowed()),
                missing.join(", ")
            )));
        }
        Ok(Self {
            obj: obj.clone().unbind(),
            causes,
        })
    }

    /// Run `f` on the store object with the GIL; a Python exception is recorded and
    /// reported to the core as `Storage` (or `StoreConflict`, see the module docs).
    fn invoke<T>(
        &self,
        f: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> PyResult<T>,
    ) -> sealwire::Result<T> {
        Python::attach(|py| {
            f(self.obj.bind(py)).map_err(|e| {
                let err = reported(py, &e);
                self.causes.record(err.kind(), e);
                err
            })
        })
    }
}

/// What a Python store's exception is reported to the core as.
fn reported(py: Python<'_>, err: &PyErr) -> sealwire::Error {
    let value = err.value(py);
    let is_sealwire = py
        .import("sealwire.exceptions")
        .and_then(|m| m.getattr("SealwireError"))
        .is_ok_and(|cls| value.is_instance(&cls).unwrap_or(false));
    let code = value
        .getattr("code")
        .ok()
        .and_then(|c| c.extract::<String>().ok());
    match code {
        Some(code) if is_sealwire && code == ErrorKind::StoreConflict.code() => {
            sealwire::Error::StoreConflict
        }
        _ => sealwire::Error::Storage("a Python session store raised an exception"),
    }
}

/// `TypeError` for a method that returned the wrong type.
fn returned(method: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{method}() of a session store must return {expected}, not '{}'",
        type_name(&got.as_borrowed())
    ))
}

fn bytes_or_none(method: &str, out: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    if out.is_none() {
        return Ok(None);
    }
    match out.extract::<BytesLike<'_>>() {
        Ok(b) => Ok(Some(b.to_vec())),
        Err(_) => Err(returned(method, "a bytes-like object or None", out)),
    }
}

fn id32(method: &str, item: &Bound<'_, PyAny>) -> PyResult<[u8; 32]> {
    let bytes = item
        .extract::<BytesLike<'_>>()
        .map_err(|_| returned(method, "32-byte bytes-like values", item))?;
    <[u8; 32]>::try_from(&bytes[..]).map_err(|_| {
        PyTypeError::new_err(format!(
            "{method}() of a session store must return 32-byte values, not {} bytes",
            bytes.len()
        ))
    })
}

/// `[f(item) for item in out]` for a method returning an iterable.
fn each<T>(
    method: &str,
    expected: &str,
    out: &Bound<'_, PyAny>,
    mut f: impl FnMut(&Bound<'_, PyAny>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    let items = out
        .try_iter()
        .map_err(|_| returned(method, expected, out))?;
    let mut v = Vec::new();
    for item in items {
        v.push(f(&item?)?);
    }
    Ok(v)
}

fn bytes<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, b)
}

impl SessionStore for PythonStore {
    fn counter(&self) -> sealwire::Result<u64> {
        self.invoke(|s| {
            let out = s.call_method0("counter")?;
            out.extract::<u64>()
                .map_err(|_| returned("counter", "an int from 0 to 2**64 - 1", &out))
        })
    }

    fn load_identity(&self) -> sealwire::Result<Option<Vec<u8>>> {
        self.invoke(|s| bytes_or_none("load_identity", &s.call_method0("load_identity")?))
    }

    fn load_prekeys(&self) -> sealwire::Result<Option<Vec<u8>>> {
        self.invoke(|s| bytes_or_none("load_prekeys", &s.call_method0("load_prekeys")?))
    }

    fn load_session(&self, peer: &PeerId) -> sealwire::Result<Option<Vec<u8>>> {
        self.invoke(|s| {
            let out = s.call_method1("load_session", (bytes(s.py(), peer),))?;
            bytes_or_none("load_session", &out)
        })
    }

    fn peers(&self) -> sealwire::Result<Vec<PeerId>> {
        self.invoke(|s| {
            let out = s.call_method0("peers")?;
            each("peers", "an iterable of 32-byte peer ids", &out, |p| {
                id32("peers", p)
            })
        })
    }

    fn seen(&self, message_id: &MessageId) -> sealwire::Result<bool> {
        self.invoke(|s| {
            let out = s.call_method1("seen", (bytes(s.py(), message_id),))?;
            out.extract::<bool>()
                .map_err(|_| returned("seen", "a bool", &out))
        })
    }

    fn pending_outbox(&self) -> sealwire::Result<Vec<OutboxRecord>> {
        self.invoke(|s| {
            let out = s.call_method0("pending_outbox")?;
            each("pending_outbox", "an iterable of OutboxRecord", &out, |r| {
                r.cast::<PyOutboxRecord>()
                    .map(|r| r.get().inner.clone())
                    .map_err(|_| returned("pending_outbox", "OutboxRecord items", r))
            })
        })
    }

    fn pending_inbox(&self) -> sealwire::Result<Vec<InboxRecord>> {
        self.invoke(|s| {
            let out = s.call_method0("pending_inbox")?;
            each("pending_inbox", "an iterable of InboxRecord", &out, |r| {
                r.cast::<PyInboxRecord>()
                    .map(|r| r.get().inner.clone())
                    .map_err(|_| returned("pending_inbox", "InboxRecord items", r))
            })
        })
    }

    fn commit_identity(
        &mut self,
        counter: u64,
        identity: &[u8],
        prekeys: &[u8],
    ) -> sealwire::Result<()> {
        self.invoke(|s| {
            let py = s.py();
            s.call_method1(
                "commit_identity",
                (counter, bytes(py, identity), bytes(py, prekeys)),
            )?;
            Ok(())
        })
    }

    fn commit_prekeys(&mut self, counter: u64, prekeys: &[u8]) -> sealwire::Result<()> {
        self.invoke(|s| {
            s.call_method1("commit_prekeys", (counter, bytes(s.py(), prekeys)))?;
            Ok(())
        })
    }

    fn commit_session(
        &mut self,
        counter: u64,
        peer: &PeerId,
        session: &[u8],
    ) -> sealwire::Result<()> {
        self.invoke(|s| {
            let py = s.py();
            s.call_method1(
                "commit_session",
                (counter, bytes(py, peer), bytes(py, session)),
            )?;
            Ok(())
        })
    }

    fn commit_send(
        &mut self,
        counter: u64,
        peer: &PeerId,
        session: &[u8],
        outbox: &OutboxRecord,
    ) -> sealwire::Result<()> {
        self.invoke(|s| {
            let py = s.py();
            let record = Py::new(
                py,
                PyOutboxRecord {
                    inner: outbox.clone(),
                },
            )?;
            s.call_method1(
                "commit_send",
                (counter, bytes(py, peer), bytes(py, session), record),
            )?;
            Ok(())
        })
    }

    fn commit_receive(&mut self, c: &ReceiveCommit<'_>) -> sealwire::Result<()> {
        self.invoke(|s| {
            let py = s.py();
            let inbox = Py::new(
                py,
                PyInboxRecord {
                    inner: c.inbox.clone(),
                },
            )?;
            let commit = PyReceiveCommit {
                counter: c.counter,
                peer: *c.peer,
                session: c.session.to_vec(),
                prekeys: c.prekeys.map(<[u8]>::to_vec),
                message_id: *c.message_id,
                inbox,
            };
            s.call_method1("commit_receive", (Py::new(py, commit)?,))?;
            Ok(())
        })
    }

    fn mark_sent(&mut self, outbox_id: u64) -> sealwire::Result<()> {
        self.invoke(|s| {
            s.call_method1("mark_sent", (outbox_id,))?;
            Ok(())
        })
    }

    fn ack(&mut self, inbox_id: u64) -> sealwire::Result<()> {
        self.invoke(|s| {
            s.call_method1("ack", (inbox_id,))?;
            Ok(())
        })
    }
}
