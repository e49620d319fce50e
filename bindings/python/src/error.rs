//! The one place where a `sealwire::Error` becomes a Python exception.
//!
//! The exception classes are defined in Python (`sealwire/exceptions.py`) so they can be
//! subclassed, pickled and documented like any Python class; Rust imports each class once
//! and caches it.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
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

const EXCEPTIONS_MODULE: &str = "sealwire.exceptions";

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

impl From<Error> for PyErr {
    /// Map an error to `sealwire.exceptions.<Class>(message, code)`.
    ///
    /// The message is the core's `Display` (or the binding's own static text), which never
    /// contains secrets or identities; `code` is the stable `ErrorKind::code()` string shared
    /// with the other bindings.
    fn from(err: Error) -> PyErr {
        let (kind, message) = match err {
            Error::Core(e) => (e.kind(), e.to_string()),
            Error::Binding(kind, message) => (kind, message.to_owned()),
            Error::Python(e) => return e,
        };
        let (cell, name) = match kind {
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
            ErrorKind::DecryptionFailed => (&DECRYPTION_ERROR, "DecryptionError"),
            ErrorKind::Replay => (&REPLAY_ERROR, "ReplayError"),
            ErrorKind::InvalidParameter | ErrorKind::MessageTooLarge => {
                (&PARAMETER_ERROR, "ParameterError")
            }
            ErrorKind::Randomness => (&RANDOMNESS_ERROR, "RandomnessError"),
            ErrorKind::OutOfTurn
            | ErrorKind::HandshakeComplete
            | ErrorKind::HandshakeIncomplete
            | ErrorKind::NonceExhausted => (&PROTOCOL_ERROR, "ProtocolError"),
            ErrorKind::RemoteKeyMismatch => (&REMOTE_KEY_MISMATCH_ERROR, "RemoteKeyMismatchError"),
            // `ErrorKind` is non-exhaustive: a kind added to core later still surfaces as
            // the base class, with its own code.
            _ => (&SEALWIRE_ERROR, "SealwireError"),
        };
        Python::attach(|py| {
            let instance = cell
                .import(py, EXCEPTIONS_MODULE, name)
                .and_then(|cls| cls.call1((message, kind.code())));
            match instance {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            }
        })
    }
}
