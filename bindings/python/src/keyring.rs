//! `sealwire.Keyring`, `sealwire.KeyringKey`, `sealwire.KeyVersionInfo`, `sealwire.RootKey`:
//! the local keyring of the envelope layer (`sealwire::envelope::Keyring`).
//!
//! A `Keyring` keeps its core object in an `RwLock`: envelope calls read-lock it without the
//! GIL (see `provider.rs`); mutations write-lock it through `write_py_attached`, which gives
//! the GIL up while waiting.

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::RwLockExt;
use pyo3::types::{PyBytes, PyInt, PyString};
use sealwire::envelope::{Keyring, RootKey, ROOT_KEY_ENV};
use sealwire::KdfParams;

use crate::detach;
use crate::error::{Error, Result};
use crate::identity::kdf_params;
use crate::input::{type_name, BytesLike, Passphrase};
use crate::provider::ensure_not_held;

fn read_attached<'a>(py: Python<'_>, l: &'a RwLock<Keyring>) -> RwLockReadGuard<'a, Keyring> {
    l.read_py_attached(py)
        .unwrap_or_else(PoisonError::into_inner)
}

fn write_attached<'a>(py: Python<'_>, l: &'a RwLock<Keyring>) -> RwLockWriteGuard<'a, Keyring> {
    l.write_py_attached(py)
        .unwrap_or_else(PoisonError::into_inner)
}

/// A version number: `ParameterError` unless it fits in 32 unsigned bits.
fn version_arg(v: &Bound<'_, PyInt>) -> Result<u32> {
    Ok(v.extract::<u32>().map_err(|_| {
        sealwire::Error::InvalidParameter("key versions are ints from 1 to 2**32 - 1")
    })?)
}

/// A point in time: Unix seconds (int ≥ 1) or a timezone-aware `datetime`; None stays None.
pub(crate) fn unix_time(value: Option<&Bound<'_, PyAny>>) -> Result<Option<u64>> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.is_none() {
        return Ok(None);
    }
    let out_of_range = sealwire::Error::InvalidParameter(
        "times are Unix seconds from 1 to 2**64 - 1, or timezone-aware datetimes",
    );
    if let Ok(i) = value.cast::<PyInt>() {
        if value.is_instance_of::<pyo3::types::PyBool>() {
            return Err(
                PyTypeError::new_err("a time must be an int or a datetime, not bool").into(),
            );
        }
        return match i.extract::<u64>() {
            Ok(t) if t >= 1 => Ok(Some(t)),
            _ => Err(out_of_range.into()),
        };
    }
    let datetime = value.py().import("datetime")?.getattr("datetime")?;
    if !value.is_instance(&datetime)? {
        return Err(PyTypeError::new_err(format!(
            "a time must be an int (Unix seconds) or a datetime, not '{}'",
            type_name(&value.as_borrowed())
        ))
        .into());
    }
    if value.getattr("tzinfo")?.is_none() {
        return Err(sealwire::Error::InvalidParameter(
            "a datetime must be timezone-aware (e.g. datetime.now(timezone.utc))",
        )
        .into());
    }
    let ts: f64 = value.call_method0("timestamp")?.extract()?;
    let ts = ts.floor();
    if !(1.0..1.8e19).contains(&ts) {
        return Err(out_of_range.into());
    }
    // In range and integral: the conversion is exact enough for seconds.
    Ok(Some(ts as u64))
}

/// How a keyring file is sealed: exactly one of a passphrase (Argon2id) or a root key.
enum Protection<'a> {
    Passphrase(Passphrase<'a>, KdfParams),
    RootKey(&'a RootKey),
}

fn protection<'a>(
    passphrase: Option<Passphrase<'a>>,
    root_key: Option<&'a Bound<'_, PyRootKey>>,
    params: KdfParams,
) -> Result<Protection<'a>> {
    match (passphrase, root_key) {
        (Some(p), None) => Ok(Protection::Passphrase(p, params)),
        (None, Some(r)) => Ok(Protection::RootKey(&r.get().inner)),
        _ => Err(PyTypeError::new_err("pass exactly one of passphrase= or root_key=").into()),
    }
}

/// A set of named, versioned key-encryption keys (KEKs): the local key provider.
///
/// Each key has one primary version (wraps new data keys) and possibly retired versions
/// (still unwrap, until their optional cutoff time). As a provider, the keyring wraps under
/// its default key (the first created, or `set_default_key`) and unwraps entries of any key
/// it holds; `keyring.key(id)` is a provider for one key. Thread-safe.
#[pyclass(name = "Keyring", module = "sealwire._native", frozen)]
pub(crate) struct PyKeyring {
    pub(crate) inner: RwLock<Keyring>,
}

impl PyKeyring {
    /// Run a cheap mutation with the write lock (GIL held, given up while waiting).
    fn mutate<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Keyring) -> sealwire::Result<T>,
    ) -> Result<T> {
        ensure_not_held(self)?;
        Ok(f(&mut write_attached(py, &self.inner))?)
    }

    fn view<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Keyring) -> sealwire::Result<T>,
    ) -> Result<T> {
        ensure_not_held(self)?;
        Ok(f(&read_attached(py, &self.inner))?)
    }

    /// Seal with the write lock held (the generation is bumped), GIL released.
    fn seal(&self, py: Python<'_>, how: &Protection<'_>) -> Result<Vec<u8>> {
        ensure_not_held(self)?;
        detach(py, || {
            let mut ring = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            Ok(match how {
                Protection::Passphrase(p, params) => ring.seal_with_passphrase(p, *params)?,
                Protection::RootKey(r) => ring.seal_with_root_key(r)?,
            })
        })
    }
}

#[pymethods]
impl PyKeyring {
    /// An empty keyring.
    #[new]
    fn new() -> Self {
        Self {
            inner: RwLock::new(Keyring::new()),
        }
    }

    /// Create key `id` with a random version 1 as primary; returns 1. The first key created
    /// becomes the default key. Ids: 1-255 bytes of A-Z a-z 0-9 . _ - : /
    fn create_key(&self, py: Python<'_>, id: &str) -> Result<u32> {
        self.mutate(py, |r| r.create_key(id))
    }

    /// Add a random new version of key `id` as primary and retire the previous primary,
    /// which keeps unwrapping until `old_decrypt_until` (Unix seconds or an aware datetime;
    /// None: no cutoff). Returns the new version.
    #[pyo3(signature = (id, *, old_decrypt_until=None))]
    fn rotate(
        &self,
        py: Python<'_>,
        id: &str,
        old_decrypt_until: Option<&Bound<'_, PyAny>>,
    ) -> Result<u32> {
        let until = unix_time(old_decrypt_until)?;
        self.mutate(py, |r| r.rotate(id, until))
    }

    /// Set (or clear, with None) the time after which retired version `version` of key `id`
    /// refuses to unwrap (KeyNotAvailableError, code ERR_SEALWIRE_KEY_RETIRED). The primary
    /// version cannot have one.
    fn set_decrypt_until(
        &self,
        py: Python<'_>,
        id: &str,
        version: &Bound<'_, PyInt>,
        until: Option<&Bound<'_, PyAny>>,
    ) -> Result<()> {
        let version = version_arg(version)?;
        let until = unix_time(until)?;
        self.mutate(py, |r| r.set_decrypt_until(id, version, until))
    }

    /// Delete a retired version for good: objects only it wrapped can no longer be opened.
    fn remove_version(&self, py: Python<'_>, id: &str, version: &Bound<'_, PyInt>) -> Result<()> {
        let version = version_arg(version)?;
        self.mutate(py, |r| r.remove_version(id, version))
    }

    /// The versions of key `id`, ascending (never the key material).
    fn versions(&self, py: Python<'_>, id: &str) -> Result<Vec<PyKeyVersionInfo>> {
        let infos = self.view(py, |r| r.versions(id))?;
        Ok(infos
            .into_iter()
            .map(|i| PyKeyVersionInfo {
                version: i.version,
                primary: i.primary,
                created_at: i.created_at,
                retired_at: i.retired_at,
                decrypt_until: i.decrypt_until,
            })
            .collect())
    }

    /// The key ids, sorted.
    #[getter]
    fn key_ids(&self, py: Python<'_>) -> Result<Vec<String>> {
        self.view(py, |r| Ok(r.key_ids()))
    }

    /// The primary version of key `id`.
    fn primary_version(&self, py: Python<'_>, id: &str) -> Result<u32> {
        self.view(py, |r| r.primary_version(id))
    }

    /// The key the keyring itself wraps under (None while it is empty).
    #[getter]
    fn default_key(&self, py: Python<'_>) -> Result<Option<String>> {
        self.view(py, |r| Ok(r.default_key().map(str::to_owned)))
    }

    /// Choose the key the keyring itself wraps under.
    fn set_default_key(&self, py: Python<'_>, id: &str) -> Result<()> {
        self.mutate(py, |r| r.set_default_key(id))
    }

    /// How many times this keyring has been sealed (saved); stored in the file.
    #[getter]
    fn generation(&self, py: Python<'_>) -> Result<u64> {
        self.view(py, |r| Ok(r.generation()))
    }

    /// A provider for key `id` alone: wraps under its primary version, unwraps its entries.
    fn key(slf: &Bound<'_, Self>, id: String) -> Result<PyKeyringKey> {
        slf.get().view(slf.py(), |r| r.key(&id).map(|_| ()))?;
        Ok(PyKeyringKey {
            ring: slf.clone().unbind(),
            id,
        })
    }

    /// The sealed keyring file (SWKR v1), under a passphrase (Argon2id; omitted parameters
    /// take the identity-export defaults) or a RootKey. Bumps `generation`. Releases the GIL.
    #[pyo3(signature = (*, passphrase=None, root_key=None, memory_kib=None, iterations=None, lanes=None))]
    fn to_bytes<'py>(
        &self,
        py: Python<'py>,
        passphrase: Option<Passphrase<'_>>,
        root_key: Option<&Bound<'_, PyRootKey>>,
        memory_kib: Option<&Bound<'py, PyInt>>,
        iterations: Option<&Bound<'py, PyInt>>,
        lanes: Option<&Bound<'py, PyInt>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let params = kdf_params(memory_kib, iterations, lanes)?;
        let how = protection(passphrase, root_key, params)?;
        let bytes = zeroize::Zeroizing::new(self.seal(py, &how)?);
        Ok(PyBytes::new(py, &bytes))
    }

    /// Seal like `to_bytes` and write to `path` atomically (temp file, fsync, rename; mode
    /// 0600). Releases the GIL.
    #[pyo3(signature = (path, *, passphrase=None, root_key=None, memory_kib=None, iterations=None, lanes=None))]
    #[allow(clippy::too_many_arguments)]
    fn save<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        passphrase: Option<Passphrase<'_>>,
        root_key: Option<&Bound<'_, PyRootKey>>,
        memory_kib: Option<&Bound<'py, PyInt>>,
        iterations: Option<&Bound<'py, PyInt>>,
        lanes: Option<&Bound<'py, PyInt>>,
    ) -> Result<()> {
        let params = kdf_params(memory_kib, iterations, lanes)?;
        let how = protection(passphrase, root_key, params)?;
        ensure_not_held(self)?;
        detach(py, || {
            let mut ring = self.inner.write().unwrap_or_else(PoisonError::into_inner);
            match &how {
                Protection::Passphrase(p, params) => {
                    ring.save_with_passphrase(&path, p, *params)?
                }
                Protection::RootKey(r) => ring.save_with_root_key(&path, r)?,
            }
            Ok(())
        })
    }

    /// Open a sealed keyring file's bytes (wrong passphrase or root key, or any modified
    /// byte: DecryptionError). Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (data, *, passphrase=None, root_key=None))]
    fn from_bytes(
        py: Python<'_>,
        data: BytesLike<'_>,
        passphrase: Option<Passphrase<'_>>,
        root_key: Option<&Bound<'_, PyRootKey>>,
    ) -> Result<Self> {
        let how = protection(passphrase, root_key, KdfParams::default())?;
        open(py, &data, &how)
    }

    /// Read and open a keyring file written by `save`. Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (path, *, passphrase=None, root_key=None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        passphrase: Option<Passphrase<'_>>,
        root_key: Option<&Bound<'_, PyRootKey>>,
    ) -> Result<Self> {
        let how = protection(passphrase, root_key, KdfParams::default())?;
        let data = detach(py, || {
            std::fs::read(&path).map_err(|e| Error::Os(e, Some(path.clone())))
        })?;
        let data = zeroize::Zeroizing::new(data);
        open(py, &data, &how)
    }

    /// PRIVATE, for tests: a fixed clock (Unix seconds or an aware datetime) for creation and
    /// retirement times and cutoff checks; None returns to the system clock.
    fn _set_time(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> Result<()> {
        let now = unix_time(now)?;
        self.mutate(py, |r| {
            r.set_time(now);
            Ok(())
        })
    }

    fn __contains__(&self, py: Python<'_>, id: &str) -> Result<bool> {
        self.view(py, |r| Ok(r.primary_version(id).is_ok()))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match self.view(py, |r| Ok(r.key_ids().len())) {
            Ok(n) => format!("<Keyring with {n} key{}>", if n == 1 { "" } else { "s" }),
            Err(_) => "<Keyring (in use)>".to_owned(),
        }
    }
}

fn open(py: Python<'_>, data: &[u8], how: &Protection<'_>) -> Result<PyKeyring> {
    let ring = detach(py, || match how {
        Protection::Passphrase(p, _) => Keyring::open_with_passphrase(data, p),
        Protection::RootKey(r) => Keyring::open_with_root_key(data, r),
    })?;
    Ok(PyKeyring {
        inner: RwLock::new(ring),
    })
}

/// One key of a Keyring as a provider: wraps under the key's current primary version and
/// unwraps that key's entries (any version the keyring still allows).
#[pyclass(name = "KeyringKey", module = "sealwire._native", frozen)]
pub(crate) struct PyKeyringKey {
    pub(crate) ring: Py<PyKeyring>,
    pub(crate) id: String,
}

#[pymethods]
impl PyKeyringKey {
    /// The keyring this key belongs to.
    #[getter]
    fn keyring(&self, py: Python<'_>) -> Py<PyKeyring> {
        self.ring.clone_ref(py)
    }

    /// The key id.
    #[getter]
    fn key_id(&self) -> &str {
        &self.id
    }

    /// Always "keyring".
    #[getter]
    fn provider_id(&self) -> &'static str {
        sealwire::envelope::KEYRING_PROVIDER
    }

    /// The primary version (the one new wraps use).
    #[getter]
    fn key_version(&self, py: Python<'_>) -> Result<u32> {
        self.ring.get().view(py, |r| r.primary_version(&self.id))
    }

    fn __repr__(&self) -> String {
        format!("<KeyringKey '{}'>", self.id)
    }
}

/// What a keyring tells about one key version (never the key material). Times are Unix
/// seconds.
#[pyclass(
    name = "KeyVersionInfo",
    module = "sealwire._native",
    frozen,
    get_all,
    eq
)]
#[derive(PartialEq, Eq)]
pub(crate) struct PyKeyVersionInfo {
    /// Version number (>= 1).
    version: u32,
    /// Whether this version wraps new data keys.
    primary: bool,
    /// Creation time.
    created_at: u64,
    /// When it stopped being primary; None while primary.
    retired_at: Option<u64>,
    /// After this time the version refuses to unwrap; None: no cutoff.
    decrypt_until: Option<u64>,
}

#[pymethods]
impl PyKeyVersionInfo {
    fn __repr__(&self) -> String {
        let opt = |v: Option<u64>| v.map_or_else(|| "None".to_owned(), |t| t.to_string());
        format!(
            "KeyVersionInfo(version={}, primary={}, created_at={}, retired_at={}, decrypt_until={})",
            self.version,
            if self.primary { "True" } else { "False" },
            self.created_at,
            opt(self.retired_at),
            opt(self.decrypt_until),
        )
    }
}

/// A 32-byte root key that seals a keyring file instead of a passphrase. Never printed.
#[pyclass(name = "RootKey", module = "sealwire._native", frozen)]
pub(crate) struct PyRootKey {
    pub(crate) inner: RootKey,
}

#[pymethods]
impl PyRootKey {
    /// A fresh random root key.
    #[staticmethod]
    fn generate() -> Result<Self> {
        Ok(Self {
            inner: RootKey::generate()?,
        })
    }

    /// From 32 raw bytes.
    #[staticmethod]
    fn from_bytes(data: BytesLike<'_>) -> Result<Self> {
        Ok(Self {
            inner: RootKey::from_bytes(&data)?,
        })
    }

    /// From 64 hexadecimal digits (either case; surrounding whitespace ignored).
    #[staticmethod]
    fn from_hex(text: &str) -> Result<Self> {
        Ok(Self {
            inner: RootKey::from_hex(text)?,
        })
    }

    /// From an environment variable holding 64 hex digits (default
    /// SEALWIRE_KEYRING_ROOT_KEY). Unset: KeyNotAvailableError (ERR_SEALWIRE_KEY_NOT_FOUND).
    #[staticmethod]
    #[pyo3(signature = (name=None))]
    fn from_env(name: Option<&str>) -> Result<Self> {
        Ok(Self {
            inner: RootKey::from_env_var(name.unwrap_or(ROOT_KEY_ENV))?,
        })
    }

    /// The key as 64 lowercase hex digits: an explicit export of the secret.
    fn to_hex<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::new(py, &self.inner.to_hex())
    }

    fn __repr__(&self) -> &'static str {
        "<RootKey>"
    }
}
