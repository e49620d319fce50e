//! `sealwire.KmsKey` (a Vault / OpenBao Transit or AWS KMS key named by a URI, core's
//! `RemoteKey::from_uri`, the same strings as the CLI's `--kms` and the C and Node
//! constructors) and `sealwire.DataKeyCache` (core's `DataKeyCache`).
//!
//! A `KmsKey` is a built-in key provider ([`crate::provider::Spec::Kms`]): accepted wherever
//! providers are (`to=`, `keys=`, `add=`, `rewrap_with=`, `remove=`, the streaming classes,
//! the file functions, `provider_info`, `DataKeyCache.seal`). Its wraps and unwraps are HTTP
//! calls (bounded timeouts and retries, in the core), and every call that may reach it runs
//! with the GIL released: `keep_gil` in `envelope.rs` keeps the GIL only when every provider
//! is a keyring, so a `KmsKey` always takes the `detach` path.
//!
//! Secrets (Vault token, AWS secret key and session token) are copied into zeroizing Rust
//! strings at once (the Python `str` arguments themselves cannot be wiped); no repr, error
//! or `Debug` output shows them.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt};
use sealwire::envelope::kms::{KmsStats, RemoteKey, RemoteKeySettings};
use sealwire::envelope::{CacheLimits, CacheStats, KeyProvider};
use zeroize::Zeroizing;

use crate::envelope::{context_arg, keep_gil, maybe_detach, options, ProviderArgs};
use crate::error::{Error, Result};
use crate::input::{type_name, BytesLike};
use crate::provider::{with_providers, Causes, Settle};

/// A remote KMS key as a key provider: Vault / OpenBao Transit (`vault://KEY[?mount=M]`) or
/// AWS KMS (`aws-kms://KEY_ID_OR_ARN[?region=R&endpoint=URL]`), see docs/KMS.md. Explicit
/// settings take precedence over the environment. Makes no network call; a wrong token or
/// key shows at the first use. Thread-safe; keeps a connection pool: make one per KMS key
/// and share it.
#[pyclass(name = "KmsKey", module = "sealwire._native", frozen)]
pub(crate) struct PyKmsKey {
    pub(crate) inner: RemoteKey,
}

/// A secret argument: `str` only, copied into a zeroizing Rust string.
fn secret(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Zeroizing<String>>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => {
            let s = v.cast::<pyo3::types::PyString>().map_err(|_| {
                // The type only: never the value.
                PyTypeError::new_err(format!(
                    "{what} must be a str, not '{}'",
                    type_name(&v.as_borrowed())
                ))
            })?;
            Ok(Some(Zeroizing::new(s.to_cow()?.into_owned())))
        }
    }
}

#[pymethods]
impl PyKmsKey {
    /// The key a KMS URI names, with addresses and secrets from the keyword arguments, else
    /// from the environment (`VAULT_ADDR` / `VAULT_TOKEN` or `BAO_*`; `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL_KMS`).
    /// `ParameterError` for a malformed URI, an unknown scheme or query parameter, or missing
    /// configuration.
    #[new]
    #[pyo3(signature = (uri, *, vault_address=None, vault_token=None, aws_access_key_id=None,
                        aws_secret_access_key=None, aws_session_token=None))]
    fn new(
        uri: &str,
        vault_address: Option<String>,
        vault_token: Option<&Bound<'_, PyAny>>,
        aws_access_key_id: Option<String>,
        aws_secret_access_key: Option<&Bound<'_, PyAny>>,
        aws_session_token: Option<&Bound<'_, PyAny>>,
    ) -> Result<Self> {
        let settings = RemoteKeySettings {
            vault_address,
            vault_token: secret(vault_token, "vault_token")?,
            aws_access_key_id,
            aws_secret_access_key: secret(aws_secret_access_key, "aws_secret_access_key")?,
            aws_session_token: secret(aws_session_token, "aws_session_token")?,
        };
        // No network call. The GIL stays held: the core reads the environment here, and
        // Python threads change it (`os.environ[...] = ...` calls `putenv`) with the GIL held,
        // so holding it keeps the two from racing.
        Ok(Self {
            inner: RemoteKey::from_uri(uri, &settings)?,
        })
    }

    /// The provider name written into envelope entries: "vault-transit" or "aws-kms".
    #[getter]
    fn provider_id(&self) -> &str {
        self.inner.provider_id()
    }

    /// The key id written into envelope entries: the Transit key name, or the configured AWS
    /// key id / ARN.
    #[getter]
    fn key_id(&self) -> String {
        self.inner.key_id()
    }

    /// The request counters of this key so far (every use of it, from every thread).
    fn stats(&self) -> PyKmsStats {
        self.inner.stats().into()
    }

    fn __repr__(&self) -> String {
        // Provider and key id only: a URI never holds a secret, the settings are not shown.
        format!(
            "<KmsKey {} '{}'>",
            self.inner.provider_id(),
            self.inner.key_id()
        )
    }
}

/// Request counters of a `KmsKey`.
#[pyclass(name = "KmsStats", module = "sealwire._native", frozen, eq, get_all)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PyKmsStats {
    /// KMS operations started (data keys, encrypt, decrypt, re-encrypt, key reads).
    operations: u64,
    /// HTTP exchanges attempted (operations plus retries).
    http_requests: u64,
    /// Retries after throttling, server errors or dropped connections.
    retries: u64,
    /// Operations that ended in an error.
    failures: u64,
}

impl From<KmsStats> for PyKmsStats {
    fn from(s: KmsStats) -> Self {
        Self {
            operations: s.operations,
            http_requests: s.http_requests,
            retries: s.retries,
            failures: s.failures,
        }
    }
}

#[pymethods]
impl PyKmsStats {
    fn __repr__(&self) -> String {
        format!(
            "KmsStats(operations={}, http_requests={}, retries={}, failures={})",
            self.operations, self.http_requests, self.retries, self.failures
        )
    }
}

// --- DataKeyCache ----------------------------------------------------------------------------

/// Counters of a `DataKeyCache`.
#[pyclass(
    name = "DataKeyCacheStats",
    module = "sealwire._native",
    frozen,
    eq,
    get_all
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PyDataKeyCacheStats {
    /// Seals served by a cached data key (no provider call).
    hits: u64,
    /// Seals that made a new data key (one call per provider).
    misses: u64,
    /// Seals larger than `max_bytes` (sealed with their own data key).
    bypassed: u64,
    /// Entries dropped for a limit or by `clear()`.
    evicted: u64,
    /// Entries held now.
    entries: usize,
}

impl From<CacheStats> for PyDataKeyCacheStats {
    fn from(s: CacheStats) -> Self {
        Self {
            hits: s.hits,
            misses: s.misses,
            bypassed: s.bypassed,
            evicted: s.evicted,
            entries: s.entries,
        }
    }
}

#[pymethods]
impl PyDataKeyCacheStats {
    fn __repr__(&self) -> String {
        format!(
            "DataKeyCacheStats(hits={}, misses={}, bypassed={}, evicted={}, entries={})",
            self.hits, self.misses, self.bypassed, self.evicted, self.entries
        )
    }
}

fn invalid(message: &'static str) -> Error {
    sealwire::Error::InvalidParameter(message).into()
}

/// A count limit: an `int` (not `bool`); out of `u64` range is a `ParameterError`.
fn count(value: Option<&Bound<'_, PyAny>>, what: &str, range: &'static str) -> Result<Option<u64>> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if !v.is_instance_of::<PyInt>() || v.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an int, not '{}'",
            type_name(&v.as_borrowed())
        ))
        .into());
    }
    v.extract::<u64>().map(Some).map_err(|_| invalid(range))
}

/// A cache of data keys for sealing: one data key (and its wrapped entries) serves several
/// envelopes with the same context, suite, segment size and providers until it reaches a
/// limit, so a high-rate agent calls its KMS once per entry instead of once per object. The
/// envelopes open with plain `unseal` and the same keys. Thread-safe.
///
/// Trade-off: envelopes sealed from one entry share a data key: whoever unwraps one can open
/// them all (payload keys and nonces still differ per envelope). Bound the exposure with the
/// limits and keep contexts specific. See docs/KMS.md, "Data-key cache".
#[pyclass(name = "DataKeyCache", module = "sealwire._native", frozen)]
pub(crate) struct PyDataKeyCache {
    inner: sealwire::envelope::DataKeyCache,
}

#[pymethods]
impl PyDataKeyCache {
    /// An empty cache. Limits left out (or None) take the core defaults: 300 s, 4096
    /// messages, 1 GiB of plaintext per data key, 64 entries. `ParameterError` for a limit
    /// out of range (age: above 0 and at most 86400 s; messages: 1 to 2**32; bytes: at least
    /// 1; entries: 1 to 65536).
    #[new]
    #[pyo3(signature = (*, max_age_seconds=None, max_messages=None, max_bytes=None, max_entries=None))]
    fn new(
        max_age_seconds: Option<&Bound<'_, PyAny>>,
        max_messages: Option<&Bound<'_, PyAny>>,
        max_bytes: Option<&Bound<'_, PyAny>>,
        max_entries: Option<&Bound<'_, PyAny>>,
    ) -> Result<Self> {
        let d = CacheLimits::default();
        let age = match max_age_seconds.filter(|v| !v.is_none()) {
            None => d.max_age(),
            Some(v) => {
                if !(v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>())
                    || v.is_instance_of::<PyBool>()
                {
                    return Err(PyTypeError::new_err(format!(
                        "max_age_seconds must be an int or a float, not '{}'",
                        type_name(&v.as_borrowed())
                    ))
                    .into());
                }
                let secs: f64 = v.extract()?;
                Duration::try_from_secs_f64(secs).map_err(|_| {
                    invalid("max_age_seconds must be a number of seconds above 0 and at most 86400")
                })?
            }
        };
        let messages = count(
            max_messages,
            "max_messages",
            "max_messages must be an integer from 1 to 4294967296",
        )?
        .unwrap_or(d.max_messages());
        let bytes = count(
            max_bytes,
            "max_bytes",
            "max_bytes must be an integer from 1 to 2**64 - 1",
        )?
        .unwrap_or(d.max_bytes());
        let mut limits = CacheLimits::new(age, messages, bytes)?;
        if let Some(n) = count(
            max_entries,
            "max_entries",
            "max_entries must be an integer from 1 to 65536",
        )? {
            let n = usize::try_from(n)
                .map_err(|_| invalid("max_entries must be an integer from 1 to 65536"))?;
            limits = limits.with_max_entries(n)?;
        }
        Ok(Self {
            inner: sealwire::envelope::DataKeyCache::new(limits),
        })
    }

    /// Longest time one data key serves, in seconds.
    #[getter]
    fn max_age_seconds(&self) -> f64 {
        self.inner.limits().max_age().as_secs_f64()
    }

    /// Most envelopes sealed under one data key.
    #[getter]
    fn max_messages(&self) -> u64 {
        self.inner.limits().max_messages()
    }

    /// Most plaintext bytes sealed under one data key (a larger message is sealed with its
    /// own data key).
    #[getter]
    fn max_bytes(&self) -> u64 {
        self.inner.limits().max_bytes()
    }

    /// Most entries (distinct context / suite / segment size / provider sets) held at once.
    #[getter]
    fn max_entries(&self) -> usize {
        self.inner.limits().max_entries()
    }

    /// Like `sealwire.seal`, through the cache: reuse the data key of a live entry for these
    /// options and providers, or make one (one call per provider, e.g. one KMS
    /// GenerateDataKey) and keep it. Releases the GIL (as `seal` does).
    #[pyo3(signature = (plaintext, *, to, context=None, suite="chacha20-poly1305", segment_size=65536))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        plaintext: BytesLike<'_>,
        to: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
        suite: &str,
        segment_size: i64,
    ) -> Result<Bound<'py, PyBytes>> {
        let ctx = context_arg(context)?;
        let opts = options(suite, segment_size)?;
        let args = ProviderArgs::new().required(to, "to")?;
        let causes = Causes::default();
        let specs = args.specs(&causes)?;
        let hold = keep_gil(plaintext.len(), &specs);
        let sealed = maybe_detach(py, hold, || {
            with_providers(&specs, |ps| {
                self.inner.seal_with(&plaintext, &ctx, ps, &opts)
            })
        })
        .settle(&causes, py)?;
        Ok(PyBytes::new(py, &sealed))
    }

    /// The counters and the number of entries held.
    fn stats(&self) -> PyDataKeyCacheStats {
        self.inner.stats().into()
    }

    /// Drop every entry (their data keys are wiped); the next seal makes a new one.
    fn clear(&self) {
        self.inner.clear();
    }

    fn __repr__(&self) -> String {
        let s = self.inner.stats();
        format!(
            "<DataKeyCache {} entr{}>",
            s.entries,
            if s.entries == 1 { "y" } else { "ies" }
        )
    }
}
