//! Argument conversion: bytes-like objects and passphrases.
//!
//! Every byte argument accepts any object with the buffer protocol (`bytes`, `bytearray`,
//! `memoryview`, `array.array`, numpy arrays, ...), like pyca/cryptography.
//!
//! * `bytes` is immutable, so it is borrowed without a copy and may be read while the GIL
//!   is released (the caller's reference keeps it alive for the whole call).
//! * Anything else is mutable by other threads once the GIL is released, so it is copied
//!   into Rust-owned memory first; that copy is zeroized when the argument is dropped.
//!
//! PyO3's `PyBuffer` is only available in the limited API from Python 3.11; this crate
//! builds one abi3 wheel for Python >= 3.9, so other buffers are read through `bytearray`
//! (whose constructor uses the buffer protocol) and that temporary is wiped afterwards.

use std::ops::Deref;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString};
use zeroize::{Zeroize, Zeroizing};

/// A bytes-like argument: borrowed from `bytes`, or a zeroize-on-drop copy of any other
/// buffer.
pub(crate) enum BytesLike<'a> {
    Borrowed(&'a [u8]),
    Copied(Zeroizing<Vec<u8>>),
}

impl Deref for BytesLike<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            BytesLike::Borrowed(b) => b,
            BytesLike::Copied(v) => v.as_slice(),
        }
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for BytesLike<'a> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyBytes>() {
            return Ok(BytesLike::Borrowed(obj.extract::<&'a [u8]>()?));
        }
        if let Ok(bytearray) = obj.cast::<PyByteArray>() {
            return Ok(BytesLike::Copied(Zeroizing::new(bytearray.to_vec())));
        }
        // Only objects exporting a buffer get past this point (never `str` or `int`,
        // which `bytearray(...)` would otherwise accept).
        let view = PyMemoryView::from(&obj).map_err(|e| {
            if e.is_instance_of::<PyTypeError>(obj.py()) {
                not_bytes_like(&obj)
            } else {
                e // e.g. ValueError for a released memoryview
            }
        })?;
        let temporary = PyByteArray::from(view.as_any())?;
        let copy = Zeroizing::new(temporary.to_vec());
        wipe(&temporary);
        // Release the exporter's buffer now rather than when the view is collected.
        view.call_method0("release")?;
        Ok(BytesLike::Copied(copy))
    }
}

/// Overwrite a `bytearray` this module created and has not shared.
fn wipe(temporary: &Bound<'_, PyByteArray>) {
    // SAFETY: `temporary` was created by the caller from a copy of the input and is
    // referenced by nothing else, so no other code can observe or resize it while the
    // slice lives; the GIL is held throughout.
    unsafe { temporary.as_bytes_mut() }.zeroize();
}

fn not_bytes_like(obj: &Borrowed<'_, '_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "a bytes-like object is required, not '{}'",
        type_name(obj)
    ))
}

pub(crate) fn type_name(obj: &Borrowed<'_, '_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

/// A passphrase: `str` (encoded as UTF-8, no normalization) or any bytes-like object.
pub(crate) enum Passphrase<'a> {
    Text(Zeroizing<Vec<u8>>),
    Bytes(BytesLike<'a>),
}

impl Deref for Passphrase<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Passphrase::Text(v) => v.as_slice(),
            Passphrase::Bytes(b) => b,
        }
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Passphrase<'a> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(text) = obj.cast::<PyString>() {
            let utf8 = text.to_cow()?;
            return Ok(Passphrase::Text(Zeroizing::new(utf8.as_bytes().to_vec())));
        }
        match BytesLike::extract(obj) {
            Ok(b) => Ok(Passphrase::Bytes(b)),
            Err(e) if !e.is_instance_of::<PyTypeError>(obj.py()) => Err(e),
            Err(_) => Err(PyTypeError::new_err(format!(
                "a passphrase must be str or a bytes-like object, not '{}'",
                type_name(&obj)
            ))),
        }
    }
}
