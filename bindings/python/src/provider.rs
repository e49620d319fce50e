//! Key providers: Python objects → `&dyn sealwire::envelope::KeyProvider`.
//!
//! A provider argument is a built-in object (`Keyring`, `KeyringKey`, `Identity`,
//! `PublicIdentity`, `XWingKeyPair`, `XWingPublicKey`, `KmsKey`) or any Python object
//! implementing the `sealwire.KeyProvider` protocol (`provider_id`, `key_id`, optional
//! `key_version`, `wrap(data_key, ctx)`, `unwrap(wrapped, ctx)`), which [`PythonProvider`]
//! adapts: it re-acquires the GIL for each call.
//!
//! Locking discipline (no deadlock between keyring locks and the GIL):
//!
//! * a keyring's `RwLock` is read-locked only inside [`crate::detach`] (never while holding
//!   the GIL), by [`with_providers`], in address order, once per keyring per call;
//! * keyring mutations take the write lock through `write_py_attached` (the GIL is given up
//!   while waiting) and hold it only for cheap work, or inside `detach`;
//! * a keyring already read-locked by an envelope call running on this thread (a Python
//!   provider or file object calling back into sealwire) is refused with `ParameterError`
//!   instead of deadlocking ([`ensure_not_held`]).

use std::cell::RefCell;
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard};

use pyo3::exceptions::{PyBaseException, PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use smallvec::SmallVec;
use sealwire::envelope::{
    DataKey, EncryptionContext, KeyProvider, Keyring, KeyringKey, WrapContext, WrappedKey,
    XWingKeyPair, XWingPublicKey,
};
use sealwire::ErrorKind;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::identity::{PyIdentity, PyPublicIdentity};
use crate::input::{type_name, BytesLike};
use crate::keyring::{PyKeyring, PyKeyringKey};
use crate::kms::PyKmsKey;
use crate::recipient::{PyXWingKeyPair, PyXWingPublicKey};

// --- Python exceptions raised inside a call ----------------------------------------------------

/// Python exceptions raised by Python providers and file objects during one call, each with
/// the kind it was reported to the core as. The core only sees `ProviderFailed` / `Io` (or a
/// passed-through kind); [`Causes::raise`] chains the original back as `__cause__`.
#[derive(Debug, Default)]
pub(crate) struct Causes {
    recorded: Mutex<Vec<(ErrorKind, PyErr)>>,
}

impl Causes {
    pub(crate) fn record(&self, kind: ErrorKind, err: PyErr) {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((kind, err));
    }

    /// Move what was recorded so far into a new `Causes` (for a long-lived recorder, such
    /// as a Python session store's, whose calls are settled one at a time: taken while the
    /// object's lock is still held, so that another thread's call cannot interleave).
    pub(crate) fn take(&self) -> Causes {
        let recorded =
            std::mem::take(&mut *self.recorded.lock().unwrap_or_else(PoisonError::into_inner));
        Causes {
            recorded: Mutex::new(recorded),
        }
    }

    /// The outcome of a call, with GIL held: `raise` for an error; on success, a recorded
    /// `KeyboardInterrupt` / `SystemExit` is still raised (another provider may have opened
    /// the envelope, but the interrupt must not be swallowed).
    pub(crate) fn finish<T>(&self, py: Python<'_>, result: Result<T>) -> Result<T> {
        match result {
            Err(e) => Err(self.raise(py, e)),
            Ok(v) => {
                let recorded = std::mem::take(
                    &mut *self.recorded.lock().unwrap_or_else(PoisonError::into_inner),
                );
                match recorded.into_iter().find(|(_, e)| is_control_flow(py, e)) {
                    Some((_, e)) => Err(Error::Python(e)),
                    None => Ok(v),
                }
            }
        }
    }

    /// For a call that succeeded but reports an error in its result
    /// (`RelayAgent.receive`'s `interrupted`): the exception of `err`, with a recorded
    /// exception of the same kind as its `__cause__`; a recorded `KeyboardInterrupt` /
    /// `SystemExit` is returned as `Err`, to be raised. Drains what was recorded.
    pub(crate) fn reported(&self, py: Python<'_>, err: Error) -> Result<PyErr> {
        match self.raise(py, err) {
            Error::Python(e) if is_control_flow(py, &e) => Err(Error::Python(e)),
            other => Ok(other.into()),
        }
    }

    /// The exception for `err`, the final error of a call, with GIL held. A recorded
    /// `BaseException` that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`) is
    /// re-raised as it is; otherwise the first recorded exception of the same kind becomes
    /// the `__cause__` of the sealwire exception. Drains what was recorded.
    fn raise(&self, py: Python<'_>, err: Error) -> Error {
        let recorded =
            std::mem::take(&mut *self.recorded.lock().unwrap_or_else(PoisonError::into_inner));
        if let Some((_, e)) = recorded.iter().find(|(_, e)| is_control_flow(py, e)) {
            return Error::Python(e.clone_ref(py));
        }
        let Some(kind) = err.kind() else {
            return err;
        };
        let Some((_, cause)) = recorded.into_iter().find(|(k, _)| *k == kind) else {
            return err;
        };
        let exc = PyErr::from(err);
        exc.set_cause(py, Some(cause));
        Error::Python(exc)
    }
}

/// `result.settle(&causes, py)`: [`Causes::finish`] for the result of a call.
pub(crate) trait Settle<T> {
    fn settle(self, causes: &Causes, py: Python<'_>) -> Result<T>;
}

impl<T> Settle<T> for Result<T> {
    fn settle(self, causes: &Causes, py: Python<'_>) -> Result<T> {
        causes.finish(py, self)
    }
}

/// A `BaseException` that is not an `Exception`: `KeyboardInterrupt`, `SystemExit`, ...
fn is_control_flow(py: Python<'_>, e: &PyErr) -> bool {
    e.is_instance_of::<PyBaseException>(py) && !e.is_instance_of::<PyException>(py)
}

/// What a Python provider's exception is reported to the core as: a `SealwireError` whose
/// code is one of these keeps it (so a provider can say "not my key" or "this entry does
/// not authenticate" like the built-in ones); anything else is `ProviderFailed`.
fn reported_kind(py: Python<'_>, err: &PyErr) -> ErrorKind {
    let code = err
        .value(py)
        .getattr("code")
        .ok()
        .and_then(|c| c.extract::<String>().ok());
    let passthrough = [
        ErrorKind::HeaderAuthFailed,
        ErrorKind::KeyNotFound,
        ErrorKind::KeyRetired,
        ErrorKind::NoMatchingKey,
    ];
    let is_sealwire = py
        .import("sealwire.exceptions")
        .and_then(|m| m.getattr("SealwireError"))
        .is_ok_and(|cls| err.value(py).is_instance(&cls).unwrap_or(false));
    match code {
        Some(code) if is_sealwire => passthrough
            .into_iter()
            .find(|k| k.code() == code)
            .unwrap_or(ErrorKind::ProviderFailed),
        _ => ErrorKind::ProviderFailed,
    }
}

fn core_error(kind: ErrorKind) -> sealwire::Error {
    match kind {
        ErrorKind::HeaderAuthFailed => sealwire::Error::HeaderAuthFailed,
        ErrorKind::KeyNotFound => sealwire::Error::KeyNotFound("reported by a Python key provider"),
        ErrorKind::KeyRetired => sealwire::Error::KeyRetired,
        ErrorKind::NoMatchingKey => sealwire::Error::NoMatchingKey,
        _ => sealwire::Error::ProviderFailed("a Python key provider raised an exception"),
    }
}

// --- the WrapContext handed to Python providers ----------------------------------------------

/// What a wrapped data key is bound to, handed to Python key providers.
///
/// A provider must bind `aad` to the wrapped key (as AEAD associated data, or as an
/// encryption-context entry of a KMS), so that a wrapped key copied into another envelope no
/// longer unwraps. `key_id` and `key_version` name the entry being unwrapped (None in
/// `wrap`).
#[pyclass(name = "WrapContext", module = "sealwire._native", frozen)]
pub(crate) struct PyWrapContext {
    message_id: Vec<u8>,
    context: Vec<(String, String)>,
    suite: &'static str,
    aad: Vec<u8>,
    key_id: Option<String>,
    key_version: Option<u32>,
}

impl PyWrapContext {
    fn new(ctx: &WrapContext<'_>, entry: Option<&WrappedKey>) -> Self {
        Self {
            message_id: ctx.message_id().to_vec(),
            context: context_pairs(ctx.encryption_context()),
            suite: ctx.suite().name(),
            aad: ctx.aad().to_vec(),
            key_id: entry.map(|e| e.key_id().to_owned()),
            key_version: entry.map(WrappedKey::key_version),
        }
    }
}

pub(crate) fn context_pairs(ctx: &EncryptionContext) -> Vec<(String, String)> {
    ctx.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

pub(crate) fn context_dict<'py>(
    py: Python<'py>,
    pairs: &[(String, String)],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in pairs {
        d.set_item(k, v)?;
    }
    Ok(d)
}

#[pymethods]
impl PyWrapContext {
    /// The envelope's random 32-byte message id.
    #[getter]
    fn message_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.message_id)
    }

    /// The envelope's encryption context (a new dict on every access).
    #[getter]
    fn context<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        context_dict(py, &self.context)
    }

    /// The payload suite: "chacha20-poly1305" or "aes-256-gcm".
    #[getter]
    fn suite(&self) -> &'static str {
        self.suite
    }

    /// The bytes the wrapped key must be bound to.
    #[getter]
    fn aad<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.aad)
    }

    /// The key id of the entry being unwrapped; None when wrapping.
    #[getter]
    fn key_id(&self) -> Option<String> {
        self.key_id.clone()
    }

    /// The key version of the entry being unwrapped; None when wrapping.
    #[getter]
    fn key_version(&self) -> Option<u32> {
        self.key_version
    }

    fn __repr__(&self) -> String {
        format!("<WrapContext {}>", self.suite)
    }
}

// --- Python-implemented providers ------------------------------------------------------------

/// A Python object implementing the `sealwire.KeyProvider` protocol. Its `provider_id`,
/// `key_id` and `key_version` are read once, when the call starts.
pub(crate) struct PythonProvider<'a> {
    obj: Py<PyAny>,
    provider_id: String,
    key_id: String,
    key_version: u32,
    causes: &'a Causes,
}

impl PythonProvider<'_> {
    /// Call `obj.<method>(data, ctx)` with the GIL and return the bytes-like result.
    fn call(
        &self,
        method: &str,
        data: &[u8],
        ctx: &WrapContext<'_>,
        entry: Option<&WrappedKey>,
    ) -> sealwire::Result<Zeroizing<Vec<u8>>> {
        Python::attach(|py| {
            let result = (|| -> PyResult<Zeroizing<Vec<u8>>> {
                let wctx = Py::new(py, PyWrapContext::new(ctx, entry))?;
                let out = self
                    .obj
                    .bind(py)
                    .call_method1(method, (PyBytes::new(py, data), wctx))?;
                let bytes = out.extract::<BytesLike<'_>>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "{method}() of a key provider must return a bytes-like object, not '{}'",
                        type_name(&out.as_borrowed())
                    ))
                })?;
                Ok(Zeroizing::new(bytes.to_vec()))
            })();
            result.map_err(|e| {
                let kind = reported_kind(py, &e);
                self.causes.record(kind, e);
                core_error(kind)
            })
        })
    }

    fn failed(&self, message: String) -> sealwire::Error {
        // A lazily built exception: no GIL needed to create it.
        self.causes
            .record(ErrorKind::ProviderFailed, PyTypeError::new_err(message));
        sealwire::Error::ProviderFailed("a Python key provider returned an invalid value")
    }
}

impl KeyProvider for PythonProvider<'_> {
    fn provider_id(&self) -> &str {
        &self.provider_id
    }

    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    fn key_version(&self) -> u32 {
        self.key_version
    }

    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> sealwire::Result<WrappedKey> {
        let wrapped = self.call("wrap", dek.as_bytes(), ctx, None)?;
        if wrapped.is_empty() || wrapped.len() > usize::from(u16::MAX) {
            return Err(self.failed(format!(
                "wrap() of a key provider must return 1 to 65535 bytes, not {}",
                wrapped.len()
            )));
        }
        WrappedKey::new(
            &self.provider_id,
            &self.key_id,
            self.key_version,
            wrapped.to_vec(),
        )
    }

    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> sealwire::Result<DataKey> {
        let dek = self.call("unwrap", entry.wrapped(), ctx, Some(entry))?;
        if dek.len() != sealwire::envelope::DATA_KEY_LEN {
            return Err(self.failed(format!(
                "unwrap() of a key provider must return the 32-byte data key, not {} bytes",
                dek.len()
            )));
        }
        DataKey::from_bytes(&dek)
    }
}

// --- argument conversion ---------------------------------------------------------------------

/// One provider argument, borrowed from the Python objects of the call.
pub(crate) enum Spec<'a> {
    Keyring(&'a PyKeyring),
    KeyringKey(&'a PyKeyring, &'a str),
    Identity(&'a sealwire::Identity),
    Public(&'a sealwire::PublicIdentity),
    XWingPair(&'a XWingKeyPair),
    XWingPublic(&'a XWingPublicKey),
    /// A remote KMS key: its calls are HTTP requests, so a call using one never keeps the
    /// GIL (`keep_gil` in `envelope.rs` keeps it for keyrings only).
    Kms(&'a sealwire::envelope::kms::RemoteKey),
    Python(PythonProvider<'a>),
}

const PROVIDER_TYPES: &str = "Keyring, KeyringKey, Identity, PublicIdentity, XWingKeyPair, \
                              XWingPublicKey, KmsKey or an object implementing \
                              sealwire.KeyProvider";

fn is_builtin(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyKeyring>()
        || obj.is_instance_of::<PyKeyringKey>()
        || obj.is_instance_of::<PyIdentity>()
        || obj.is_instance_of::<PyPublicIdentity>()
        || obj.is_instance_of::<PyXWingKeyPair>()
        || obj.is_instance_of::<PyXWingPublicKey>()
        || obj.is_instance_of::<PyKmsKey>()
}

fn is_protocol(obj: &Bound<'_, PyAny>) -> bool {
    ["provider_id", "key_id", "wrap", "unwrap"]
        .iter()
        .all(|a| obj.hasattr(*a).unwrap_or(false))
}

/// A provider argument as a list: one provider, or any iterable of providers.
pub(crate) fn provider_list<'py>(
    arg: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<SmallVec<[Bound<'py, PyAny>; 2]>> {
    // Lists and tuples first: asking them for the protocol's attributes raises (and
    // formats) an AttributeError each time, a good part of a 1 KiB seal.
    if let Ok(list) = arg.cast::<PyList>() {
        return Ok(list.iter().collect());
    }
    if let Ok(tuple) = arg.cast::<PyTuple>() {
        return Ok(tuple.iter().collect());
    }
    if is_builtin(arg) || is_protocol(arg) {
        return Ok(smallvec::smallvec![arg.clone()]);
    }
    let not_providers = || {
        PyTypeError::new_err(format!(
            "{what} must be a key provider or an iterable of key providers ({PROVIDER_TYPES}), \
             not '{}'",
            type_name(&arg.as_borrowed())
        ))
    };
    if arg.is_instance_of::<PyString>() || arg.is_instance_of::<PyBytes>() {
        return Err(not_providers());
    }
    let items = arg.try_iter().map_err(|_| not_providers())?;
    let mut out = SmallVec::new();
    for item in items {
        out.push(item?);
    }
    Ok(out)
}

/// Borrow each provider object. Python providers have their `provider_id`, `key_id` and
/// `key_version` read now.
/// The specs of one call: one or two without a heap allocation.
pub(crate) type Specs<'a> = SmallVec<[Spec<'a>; 2]>;

pub(crate) fn specs<'a>(
    objs: &'a [Bound<'_, PyAny>],
    causes: &'a Causes,
    what: &str,
) -> PyResult<Specs<'a>> {
    objs.iter().map(|obj| spec(obj, causes, what)).collect()
}

fn spec<'a>(obj: &'a Bound<'_, PyAny>, causes: &'a Causes, what: &str) -> PyResult<Spec<'a>> {
    if let Ok(r) = obj.cast::<PyKeyring>() {
        return Ok(Spec::Keyring(r.get()));
    }
    if let Ok(k) = obj.cast::<PyKeyringKey>() {
        let k = k.get();
        return Ok(Spec::KeyringKey(k.ring.get(), &k.id));
    }
    if let Ok(i) = obj.cast::<PyIdentity>() {
        return Ok(Spec::Identity(&i.get().inner));
    }
    if let Ok(p) = obj.cast::<PyPublicIdentity>() {
        return Ok(Spec::Public(&p.get().inner));
    }
    if let Ok(x) = obj.cast::<PyXWingKeyPair>() {
        return Ok(Spec::XWingPair(&x.get().inner));
    }
    if let Ok(x) = obj.cast::<PyXWingPublicKey>() {
        return Ok(Spec::XWingPublic(&x.get().inner));
    }
    if let Ok(k) = obj.cast::<PyKmsKey>() {
        return Ok(Spec::Kms(&k.get().inner));
    }
    if is_protocol(obj) {
        let text = |name: &str| -> PyResult<String> {
            obj.getattr(name)?
                .extract::<String>()
                .map_err(|_| PyTypeError::new_err(format!("a key provider's {name} must be a str")))
        };
        let key_version = match obj.getattr("key_version") {
            Ok(v) if !v.is_none() => v.extract::<u32>().map_err(|_| {
                PyTypeError::new_err(
                    "a key provider's key_version must be an int from 0 to 2**32 - 1",
                )
            })?,
            _ => 0,
        };
        return Ok(Spec::Python(PythonProvider {
            obj: obj.clone().unbind(),
            provider_id: text("provider_id")?,
            key_id: text("key_id")?,
            key_version,
            causes,
        }));
    }
    Err(PyTypeError::new_err(format!(
        "{what}: expected a {PROVIDER_TYPES}, not '{}'",
        type_name(&obj.as_borrowed())
    )))
}

// --- locking and the `&dyn KeyProvider` list -------------------------------------------------

thread_local! {
    /// Keyrings read-locked by envelope calls running on this thread (addresses).
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

const IN_USE: Error = Error::Binding(
    ErrorKind::InvalidParameter,
    "this Keyring is in use by an envelope call running on this thread (a key provider or \
     file object called back into sealwire)",
);

fn address(ring: &PyKeyring) -> usize {
    std::ptr::from_ref(ring) as usize
}

/// Refuse to lock `ring` again on a thread whose envelope call holds it (would deadlock).
pub(crate) fn ensure_not_held(ring: &PyKeyring) -> Result<()> {
    let a = address(ring);
    if HELD.with(|h| h.borrow().contains(&a)) {
        return Err(IN_USE);
    }
    Ok(())
}

/// Removes this call's keyrings from [`HELD`] when dropped.
struct HeldMark(Vec<usize>);

impl Drop for HeldMark {
    fn drop(&mut self) {
        HELD.with(|h| h.borrow_mut().retain(|a| !self.0.contains(a)));
    }
}

fn read(ring: &RwLock<Keyring>) -> RwLockReadGuard<'_, Keyring> {
    ring.read().unwrap_or_else(PoisonError::into_inner)
}

/// Run `f` with every spec as a `&dyn KeyProvider`, in order. Call inside [`crate::detach`]
/// only: keyrings are read-locked here (each once, in address order).
pub(crate) fn with_providers<T>(
    specs: &[Spec<'_>],
    f: impl FnOnce(&[&dyn KeyProvider]) -> sealwire::Result<T>,
) -> Result<T> {
    // One keyring provider (the common case): no Python code can run inside `f`, so there is
    // nothing to mark as held; lock, call, done — without the bookkeeping's allocations.
    match specs {
        [Spec::Keyring(r)] => {
            ensure_not_held(r)?;
            return Ok(f(&[&*read(&r.inner)])?);
        }
        [Spec::KeyringKey(r, id)] => {
            ensure_not_held(r)?;
            let guard = read(&r.inner);
            let key = guard.key(id)?;
            return Ok(f(&[&key])?);
        }
        _ => {}
    }
    let mut rings: Vec<&PyKeyring> = specs
        .iter()
        .filter_map(|s| match s {
            Spec::Keyring(r) | Spec::KeyringKey(r, _) => Some(*r),
            _ => None,
        })
        .collect();
    rings.sort_by_key(|r| address(r));
    rings.dedup_by_key(|r| address(r));
    for r in &rings {
        ensure_not_held(r)?;
    }
    let _mark = HeldMark(rings.iter().map(|r| address(r)).collect());
    HELD.with(|h| h.borrow_mut().extend(rings.iter().map(|r| address(r))));
    let guards: Vec<(usize, RwLockReadGuard<'_, Keyring>)> =
        rings.iter().map(|r| (address(r), read(&r.inner))).collect();
    let locked = |r: &PyKeyring| -> sealwire::Result<&Keyring> {
        let a = address(r);
        guards
            .iter()
            .find(|(b, _)| *b == a)
            .map(|(_, g)| &**g)
            .ok_or(sealwire::Error::KeyNotFound("keyring not locked"))
    };
    let mut keys: Vec<KeyringKey<'_>> = Vec::new();
    for s in specs {
        if let Spec::KeyringKey(r, id) = s {
            keys.push(locked(r)?.key(id)?);
        }
    }
    let mut keys = keys.iter();
    let mut dyns: Vec<&dyn KeyProvider> = Vec::with_capacity(specs.len());
    for s in specs {
        let p: &dyn KeyProvider = match s {
            Spec::Keyring(r) => locked(r)?,
            Spec::KeyringKey(..) => match keys.next() {
                Some(k) => k,
                None => return Err(sealwire::Error::KeyNotFound("keyring key").into()),
            },
            Spec::Identity(i) => *i,
            Spec::Public(p) => *p,
            Spec::XWingPair(x) => *x,
            Spec::XWingPublic(x) => *x,
            Spec::Kms(k) => *k,
            Spec::Python(p) => p,
        };
        dyns.push(p);
    }
    Ok(f(&dyns)?)
}
