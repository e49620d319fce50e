//! The one place where a `sealwire::Error` becomes a Python exception.
//!
//! The exception classes are defined in Python (`sealwire/exceptions.py`) so they can be
//! subclassed, pickled and documented like any Python class; Rust imports each class once
//! and caches it. [`class_of`] is the code → class table; `exceptions.py` documents the
//! same table and the tests check that the two agree for every `ErrorKind::ALL`.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyType};
use sealwire::ErrorKind;

/// Error type of every binding function: a core error (mapped lazily, in [`From`] below) or
/// an exception that is already Python's (argument type errors and the like).
#[derive(Debug)]
pub(crate) enum Error {
    Core(sealwire::Error),
    Python(PyErr),
    /// A failure detected by the binding itself, classified (and coded) as a core kind but
    /// with its own message, e.g. a `NoiseHandshake` used after `into_transport()`.
    Binding(ErrorKind, &'static str),
    /// A file the binding opened or wrote itself failed: `StorageError` (code
    /// `ERR_SEALWIRE_IO`) with `errno`, `strerror` and `filename` set like Python's own
    /// `OSError`.
    Os(std::io::Error, Option<PathBuf>),
}

pub(crate) type Result<T, E = Error> = core::result::Result<T, E>;

impl From<sealwire::Error> for Error {
    fn from(e: sealwire::Error) -> Self {
        Error::Core(e)
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error::Python(e)
    }
}

impl Error {
    /// The stable kind this error is raised as (`None` for an exception that is Python's).
    pub(crate) fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Core(e) => Some(e.kind()),
            Error::Binding(kind, _) => Some(*kind),
            Error::Os(..) => Some(ErrorKind::Io),
            Error::Python(_) => None,
        }
    }
}

const EXCEPTIONS_MODULE: &str = "sealwire.exceptions";

type Class = (&'static PyOnceLock<Py<PyType>>, &'static str);

static SEALWIRE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DECODE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INVALID_KEY_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SIGNATURE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DECRYPTION_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PARAMETER_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static RANDOMNESS_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PROTOCOL_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static REMOTE_KEY_MISMATCH_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static REPLAY_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CONTEXT_MISMATCH_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static KEY_NOT_AVAILABLE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PROVIDER_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STORAGE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STALE_STATE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static RELAY_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The exception class of each kind. Every kind of `ErrorKind::ALL` is listed explicitly
/// (checked by `tests/test_exceptions.py` through `_error_classes()`).
fn class_of(kind: ErrorKind) -> Class {
    match kind {
        ErrorKind::Truncated
        | ErrorKind::TrailingBytes
        | ErrorKind::InvalidLength
        | ErrorKind::BadMagic
        | ErrorKind::UnsupportedVersion
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::Malformed
        | ErrorKind::InvalidEncoding => (&DECODE_ERROR, "DecodeError"),
        ErrorKind::InvalidPublicKey | ErrorKind::NonContributory => {
            (&INVALID_KEY_ERROR, "InvalidKeyError")
        }
        ErrorKind::BadSignature => (&SIGNATURE_ERROR, "SignatureError"),
        // Envelopes: a modified header, a wrapped key moved from another object, or a data
        // key that is not the one the header commits to are all "modified data".
        ErrorKind::DecryptionFailed
        | ErrorKind::CommitmentMismatch
        | ErrorKind::HeaderAuthFailed
        // Ratchet: the message would skip too many keys; drop it, the session is unchanged.
        | ErrorKind::TooManySkippedMessages => (&DECRYPTION_ERROR, "DecryptionError"),
        // Noise datagrams and ratchet initial messages that were already accepted.
        ErrorKind::Replay | ErrorKind::PrekeyAlreadyUsed => (&REPLAY_ERROR, "ReplayError"),
        ErrorKind::InvalidParameter | ErrorKind::MessageTooLarge => {
            (&PARAMETER_ERROR, "ParameterError")
        }
        ErrorKind::Randomness => (&RANDOMNESS_ERROR, "RandomnessError"),
        ErrorKind::OutOfTurn
        | ErrorKind::HandshakeComplete
        | ErrorKind::HandshakeIncomplete
        | ErrorKind::NonceExhausted
        | ErrorKind::SessionMismatch
        // Store: no session with this peer yet (start one from its prekey bundle).
        | ErrorKind::NoSession => (&PROTOCOL_ERROR, "ProtocolError"),
        ErrorKind::RemoteKeyMismatch | ErrorKind::IdentityMismatch => {
            (&REMOTE_KEY_MISMATCH_ERROR, "RemoteKeyMismatchError")
        }
        ErrorKind::ContextMismatch => (&CONTEXT_MISMATCH_ERROR, "ContextMismatchError"),
        ErrorKind::NoMatchingKey
        | ErrorKind::KeyRetired
        | ErrorKind::KeyNotFound
        | ErrorKind::UnknownPrekey => (&KEY_NOT_AVAILABLE_ERROR, "KeyNotAvailableError"),
        // A key provider, including the remote KMS providers, failed for its own reason.
        ErrorKind::ProviderFailed
        | ErrorKind::KmsAuthFailed
        | ErrorKind::KmsKeyNotFound
        | ErrorKind::KmsKeyDisabled
        | ErrorKind::KmsUnavailable
        | ErrorKind::KmsTimeout
        | ErrorKind::KmsThrottled => (&PROVIDER_ERROR, "ProviderError"),
        // Files, streams and the session store; nothing was committed.
        ErrorKind::Io | ErrorKind::Storage | ErrorKind::StoreConflict => {
            (&STORAGE_ERROR, "StorageError")
        }
        ErrorKind::StaleState => (&STALE_STATE_ERROR, "StaleStateError"),
        // The relay client (prekey directory and mailbox).
        ErrorKind::RelayRejected
        | ErrorKind::RelayAuthFailed
        | ErrorKind::RelayNotFound
        | ErrorKind::RelayMailboxFull
        | ErrorKind::RelayUnavailable
        | ErrorKind::RelayTimeout => (&RELAY_ERROR, "RelayError"),
        // `ErrorKind` is non-exhaustive: a kind added to core later still surfaces as
        // the base class, with its own code.
        _ => (&SEALWIRE_ERROR, "SealwireError"),
    }
}

/// `sealwire.exceptions.<Class>(message, code)` for `kind`.
fn instantiate(py: Python<'_>, kind: ErrorKind, message: String) -> PyResult<Bound<'_, PyAny>> {
    let (cell, name) = class_of(kind);
    cell.import(py, EXCEPTIONS_MODULE, name)?
        .call1((message, kind.code()))
}

impl From<Error> for PyErr {
    /// Map an error to `sealwire.exceptions.<Class>(message, code)`.
    ///
    /// The message is the core's `Display` (or the binding's own static text), which never
    /// contains secrets or identities; `code` is the stable `ErrorKind::code()` string shared
    /// with the other bindings.
    fn from(err: Error) -> PyErr {
        let (kind, message, os) = match err {
            Error::Core(e) => (e.kind(), e.to_string(), None),
            Error::Binding(kind, message) => (kind, message.to_owned(), None),
            Error::Os(e, path) => (ErrorKind::Io, e.to_string(), Some((e, path))),
            Error::Python(e) => return e,
        };
        Python::attach(|py| {
            let instance = instantiate(py, kind, message).and_then(|exc| {
                if let Some((e, path)) = os {
                    // What Python's own OSError carries; str() then reads like one too.
                    if let Some(errno) = e.raw_os_error() {
                        exc.setattr("errno", errno)?;
                        exc.setattr("strerror", strerror(&e))?;
                    }
                    if let Some(path) = path {
                        // A str, as Python's own OSError has for str paths.
                        exc.setattr("filename", path.into_os_string())?;
                    }
                }
                Ok(exc)
            });
            match instance {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            }
        })
    }
}

/// The OS's description of an I/O error, without Rust's " (os error N)" suffix.
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// PRIVATE, for the tests: `(code, class name)` for every kind the core defines, in
/// declaration order, as this module maps it.
#[pyfunction]
pub(crate) fn _error_classes(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let rows: Vec<(&'static str, &'static str)> = ErrorKind::ALL
        .iter()
        .map(|k| (k.code(), class_of(*k).1))
        .collect();
    PyList::new(py, rows)
}

/// PRIVATE, for the tests: raise the exception that an error of kind `code` becomes
/// (message "test"). `ValueError` for a code the core does not define.
#[pyfunction]
pub(crate) fn _raise_error(code: &str) -> PyResult<()> {
    match ErrorKind::ALL.iter().find(|k| k.code() == code) {
        Some(kind) => Err(Error::Binding(*kind, "test").into()),
        None => Err(pyo3::exceptions::PyValueError::new_err(
            "unknown error code",
        )),
    }
}
