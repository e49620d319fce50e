//! `sealwire._native._EnvelopeWriter` / `_EnvelopeReader`: streaming seal and open over
//! Python file objects, wrapped as `io.RawIOBase` classes by `sealwire/envelope.py`.
//!
//! The core's `EnvelopeWriter` / `EnvelopeReader` run with the GIL released (each object
//! keeps its core state in a `Mutex`, locked inside [`detach`]); the file object is called
//! through [`PySink`] / [`PySource`], which re-acquire the GIL for each segment. Memory stays
//! bounded by one segment. An exception raised by the file object becomes `StorageError`
//! (`ERR_SEALWIRE_IO`) with the original as `__cause__`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::{PyBlockingIOError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::PyBytes;
use sealwire::envelope::{EnvelopeHeader, EnvelopeReader, EnvelopeWriter};
use sealwire::ErrorKind;
use zeroize::{Zeroize, Zeroizing};

use crate::detach;
use crate::envelope::{context_arg, options, ProviderArgs, PyEnvelopeHeader};
use crate::error::{Error, Result};
use crate::input::BytesLike;
use crate::provider::{with_providers, Causes, Settle};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lock_attached<'a, T>(py: Python<'_>, m: &'a Mutex<T>) -> MutexGuard<'a, T> {
    m.lock_py_attached(py)
        .unwrap_or_else(PoisonError::into_inner)
}

fn io_failed(causes: &Causes, e: PyErr) -> std::io::Error {
    causes.record(ErrorKind::Io, e);
    std::io::Error::other("the Python file object raised an exception")
}

/// A Python file object as `io::Write`: `fileobj.write(bytes)` per sealed segment (with the
/// GIL). `write` may return the count written (the rest is written again) or None (taken
/// as "all of it", as `shutil.copyfileobj` does).
struct PySink {
    file: Py<PyAny>,
    causes: Arc<Causes>,
}

impl std::io::Write for PySink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let written = (|| -> PyResult<usize> {
                let n = self
                    .file
                    .bind(py)
                    .call_method1("write", (PyBytes::new(py, data),))?;
                if n.is_none() {
                    return Ok(data.len());
                }
                let n: usize = n.extract()?;
                if n > data.len() {
                    return Err(PyValueError::new_err(
                        "the file object's write() reported more bytes than it was given",
                    ));
                }
                Ok(n)
            })();
            written.map_err(|e| io_failed(&self.causes, e))
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Python::attach(|py| {
            let file = self.file.bind(py);
            let flushed = match file.hasattr("flush") {
                Ok(true) => file.call_method0("flush").map(|_| ()),
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            flushed.map_err(|e| io_failed(&self.causes, e))
        })
    }
}

/// A Python file object as `io::Read`: `fileobj.read(n)` (with the GIL). `b""` is the end
/// of the stream; None (a non-blocking stream with no data) is an error.
struct PySource {
    file: Py<PyAny>,
    causes: Arc<Causes>,
}

impl std::io::Read for PySource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let got = (|| -> PyResult<usize> {
                let data = self.file.bind(py).call_method1("read", (buf.len(),))?;
                if data.is_none() {
                    return Err(PyBlockingIOError::new_err(
                        "the file object has no data available (non-blocking stream)",
                    ));
                }
                let data = data.extract::<BytesLike<'_>>()?;
                let n = data.len();
                if n > buf.len() {
                    return Err(PyValueError::new_err(
                        "the file object's read(n) returned more than n bytes",
                    ));
                }
                buf[..n].copy_from_slice(&data);
                Ok(n)
            })();
            got.map_err(|e| io_failed(&self.causes, e))
        })
    }
}

fn closed(what: &str) -> Error {
    Error::Python(PyValueError::new_err(format!(
        "I/O operation on a closed {what}"
    )))
}

enum WriterState {
    Open(Box<EnvelopeWriter<PySink>>),
    Closed,
}

/// Native half of `sealwire.EnvelopeWriter` (use that class).
#[pyclass(name = "_EnvelopeWriter", module = "sealwire._native", frozen)]
pub(crate) struct PyEnvelopeWriter {
    state: Mutex<WriterState>,
    causes: Arc<Causes>,
}

#[pymethods]
impl PyEnvelopeWriter {
    /// Wrap a fresh data key for `to` and write the header to `fileobj`. Releases the GIL.
    #[new]
    #[pyo3(signature = (fileobj, *, to, context=None, suite="chacha20-poly1305", segment_size=65536))]
    fn new(
        py: Python<'_>,
        fileobj: &Bound<'_, PyAny>,
        to: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        suite: &str,
        segment_size: i64,
    ) -> Result<Self> {
        let ctx = context_arg(context)?;
        let opts = options(suite, segment_size)?;
        let args = ProviderArgs::new().required(to, "to")?;
        let causes = Arc::new(Causes::default());
        let specs = args.specs(&causes)?;
        let sink = PySink {
            file: fileobj.clone().unbind(),
            causes: Arc::clone(&causes),
        };
        let writer = detach(py, || {
            with_providers(&specs, |ps| EnvelopeWriter::new(sink, &ctx, ps, &opts))
        })
        .settle(&causes, py)?;
        drop(specs); // borrows `causes`
        Ok(Self {
            state: Mutex::new(WriterState::Open(Box::new(writer))),
            causes,
        })
    }

    /// Seal and write every full segment of `data`; returns len(data). Releases the GIL.
    fn write(&self, py: Python<'_>, data: BytesLike<'_>) -> Result<usize> {
        detach(py, || match &mut *lock(&self.state) {
            WriterState::Open(w) => Ok(w.write_plaintext(&data)?),
            WriterState::Closed => Err(closed("envelope writer")),
        })
        .settle(&self.causes, py)?;
        Ok(data.len())
    }

    /// Seal the final segment and flush the file object. The writer is closed afterwards,
    /// whether or not this succeeded. Releases the GIL.
    fn finish(&self, py: Python<'_>) -> Result<()> {
        let sink = detach(py, || {
            match std::mem::replace(&mut *lock(&self.state), WriterState::Closed) {
                WriterState::Open(w) => Ok(w.finish()?),
                WriterState::Closed => Err(closed("envelope writer")),
            }
        })
        .settle(&self.causes, py)?;
        drop(sink);
        Ok(())
    }

    /// Close without the final segment: what was written can never be opened (it reads as
    /// truncated). Buffered plaintext is wiped.
    fn abort(&self, py: Python<'_>) {
        let old = std::mem::replace(&mut *lock_attached(py, &self.state), WriterState::Closed);
        drop(old);
    }

    /// True once finished or aborted.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        matches!(*lock_attached(py, &self.state), WriterState::Closed)
    }
}

/// Native half of `sealwire.EnvelopeReader` (use that class).
#[pyclass(name = "_EnvelopeReader", module = "sealwire._native", frozen)]
pub(crate) struct PyEnvelopeReader {
    state: Mutex<Option<EnvelopeReader<PySource>>>,
    header: EnvelopeHeader,
    causes: Arc<Causes>,
}

/// `read(n)` up to this size decrypts straight into the returned `bytes`, allocated at the
/// requested size as `io.FileIO.read(n)` does; a larger `n` (or `read()`) gathers chunks of
/// at most [`READ_CHUNK`] first, so `read(2**40)` on a short stream allocates only what the
/// stream holds.
const DIRECT_READ_MAX: usize = 64 << 20;

/// Chunk size of the gathering path (at least one sealed segment, so that whole segments
/// are opened in place by the core).
const READ_CHUNK: usize = 1 << 20;

/// The AEAD tag after each sealed segment (16 bytes in both suites, docs/FORMATS.md).
const SEGMENT_TAG_LEN: usize = 16;

/// Fill `out` from `r` until it is full or the stream ends; returns the bytes written.
fn fill(r: &mut EnvelopeReader<PySource>, out: &mut [u8]) -> sealwire::Result<usize> {
    let mut filled = 0;
    while filled < out.len() {
        let n = r.read_plaintext(&mut out[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

impl PyEnvelopeReader {
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&mut EnvelopeReader<PySource>) -> sealwire::Result<T>,
    ) -> Result<T> {
        let mut guard = lock(&self.state);
        let r = guard.as_mut().ok_or_else(|| closed("envelope reader"))?;
        Ok(f(r)?)
    }

    /// `read(n)`, `n <= DIRECT_READ_MAX`: one `bytes` of `n` bytes, decrypted into in place
    /// with the GIL released (whole segments are opened right there by the core: no copy).
    /// Short only at the end of the stream: then the bytes read are copied into a `bytes`
    /// of their size and the large one is wiped. On an error the bytes gathered by this call
    /// are wiped and the error raised: a short read never hides a failure.
    fn read_direct<'py>(&self, py: Python<'py>, n: usize) -> Result<Bound<'py, PyBytes>> {
        let mut short: Option<Bound<'py, PyBytes>> = None;
        let full = PyBytes::new_with(py, n, |out| {
            let got = detach(py, || self.with_reader(|r| fill(r, out)));
            let got = match got.settle(&self.causes, py) {
                Ok(got) => got,
                Err(e) => {
                    out.zeroize();
                    return Err(e.into());
                }
            };
            if got < n {
                short = Some(PyBytes::new(py, &out[..got]));
                out[..got].zeroize();
            }
            Ok(())
        })?;
        Ok(short.unwrap_or(full))
    }

    /// `read()` or `read(n)` with a large `n`: chunks of at most `READ_CHUNK` bytes (each
    /// allocated only once the previous one filled), then one `bytes` of the total.
    fn read_gathered<'py>(
        &self,
        py: Python<'py>,
        limit: Option<usize>,
    ) -> Result<Bound<'py, PyBytes>> {
        let step = READ_CHUNK.max(self.header.segment_size() as usize + SEGMENT_TAG_LEN);
        let chunks = detach(py, || {
            self.with_reader(|r| {
                let mut chunks: Vec<Zeroizing<Vec<u8>>> = Vec::new();
                let mut total = 0usize;
                loop {
                    let want = match limit {
                        Some(n) => (n - total).min(step),
                        None => step,
                    };
                    if want == 0 {
                        break;
                    }
                    let mut buf = Zeroizing::new(vec![0u8; want]);
                    let got = fill(r, &mut buf)?;
                    buf.truncate(got);
                    total += got;
                    if got > 0 {
                        chunks.push(buf);
                    }
                    if got < want {
                        break;
                    }
                }
                Ok(chunks)
            })
        })
        .settle(&self.causes, py)?;
        if let [one] = chunks.as_slice() {
            return Ok(PyBytes::new(py, one));
        }
        let total = chunks.iter().map(|c| c.len()).sum();
        Ok(PyBytes::new_with(py, total, |out| {
            detach(py, || {
                let mut at = 0;
                for c in &chunks {
                    out[at..at + c.len()].copy_from_slice(c);
                    at += c.len();
                }
            });
            Ok(())
        })?)
    }
}

#[pymethods]
impl PyEnvelopeReader {
    /// Read and authenticate the header from `fileobj` with any of `keys`. Releases the GIL.
    #[new]
    #[pyo3(signature = (fileobj, *, keys, context=None))]
    fn new(
        py: Python<'_>,
        fileobj: &Bound<'_, PyAny>,
        keys: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> Result<Self> {
        let ctx = context_arg(context)?;
        let args = ProviderArgs::new().required(keys, "keys")?;
        let causes = Arc::new(Causes::default());
        let specs = args.specs(&causes)?;
        let source = PySource {
            file: fileobj.clone().unbind(),
            causes: Arc::clone(&causes),
        };
        let reader = detach(py, || {
            with_providers(&specs, |ps| EnvelopeReader::new(source, &ctx, ps))
        })
        .settle(&causes, py)?;
        drop(specs); // borrows `causes`
        Ok(Self {
            header: reader.header().clone(),
            state: Mutex::new(Some(reader)),
            causes,
        })
    }

    /// Up to `size` bytes of verified plaintext (all that is left if `size` is negative);
    /// fewer only at the end. Releases the GIL.
    // `text_signature` spelled out: PyO3 prints a negative default as `...`.
    #[pyo3(signature = (size=-1), text_signature = "($self, size=-1)")]
    fn read<'py>(&self, py: Python<'py>, size: i64) -> Result<Bound<'py, PyBytes>> {
        match usize::try_from(size) {
            Ok(n) if n <= DIRECT_READ_MAX => self.read_direct(py, n),
            Ok(n) => self.read_gathered(py, Some(n)),
            Err(_) => self.read_gathered(py, None),
        }
    }

    /// Release the stream (buffered plaintext is wiped). The file object is not closed.
    fn close(&self, py: Python<'_>) {
        let old = lock_attached(py, &self.state).take();
        drop(old);
    }

    /// The authenticated header.
    #[getter]
    fn header(&self) -> PyEnvelopeHeader {
        PyEnvelopeHeader {
            inner: self.header.clone(),
        }
    }

    /// True once the final segment verified and all plaintext was read.
    #[getter]
    fn is_finished(&self, py: Python<'_>) -> bool {
        lock_attached(py, &self.state)
            .as_ref()
            .is_some_and(EnvelopeReader::is_finished)
    }
}
