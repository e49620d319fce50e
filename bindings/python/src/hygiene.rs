//! `sealwire._native._Scrubber` and the private helpers behind `sealwire.hygiene`: the core's
//! telemetry scrubbing rules (`sealwire::hygiene`, docs/CONFIG.md "Scrubbing rules").
//!
//! Thin: every decision (field class, keyed hash or drop, size bucket, identifiers in text,
//! sampling) is the core's. This module converts one field value at a time from Python
//! (`str`, `int`, `float`, `bool`) to the text or number the core scrubs; walking attribute
//! maps, `logging` records and OpenTelemetry spans is `sealwire/hygiene.py`'s, which calls
//! these per field. The names are private (`_`-prefixed) because `hygiene.py` wraps them in
//! the documented, typed API.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyTuple};
use sealwire::hygiene::{self, EventSampler, ScrubMode, Scrubbed, Scrubber};

use crate::error::{Error, Result};
use crate::input::{type_name, BytesLike};

fn mode_arg(mode: &str) -> Result<ScrubMode> {
    ScrubMode::ALL
        .iter()
        .copied()
        .find(|m| m.as_str() == mode)
        .ok_or_else(|| {
            sealwire::Error::InvalidParameter("mode must be \"hash\" or \"drop\"").into()
        })
}

fn kept(s: Scrubbed<'_>) -> Option<String> {
    match s {
        Scrubbed::Keep(v) => Some(v.into_owned()),
        Scrubbed::Drop => None,
    }
}

/// The core scrubber with its sampling of high-frequency events (`metadata.sampling`).
#[pyclass(name = "_Scrubber", module = "sealwire._native", frozen)]
pub(crate) struct PyScrubber {
    inner: Scrubber,
    sampler: EventSampler,
}

impl PyScrubber {
    fn build(inner: Scrubber, rate: f64, prefixes: Vec<String>) -> Result<Self> {
        let sampler = EventSampler::new(rate, prefixes)?;
        Ok(Self { inner, sampler })
    }
}

#[pymethods]
impl PyScrubber {
    #[new]
    #[pyo3(signature = (mode="hash", extra_fields=Vec::new(), redact_values=true, sample_rate=1.0, sample_prefixes=Vec::new()))]
    fn new(
        mode: &str,
        extra_fields: Vec<String>,
        redact_values: bool,
        sample_rate: f64,
        sample_prefixes: Vec<String>,
    ) -> Result<Self> {
        let inner = Scrubber::new(mode_arg(mode)?)
            .with_extra_fields(&extra_fields)
            .with_value_redaction(redact_values);
        Self::build(inner, sample_rate, sample_prefixes)
    }

    /// The scrubber of a configuration's `[metadata]` section (`SecurityConfig::scrubber`), or
    /// None when `metadata.scrub` is off. `config`: a `SecurityConfig`, TOML / JSON text or a
    /// mapping (loaded and validated by the core).
    #[staticmethod]
    fn from_config(py: Python<'_>, config: &Bound<'_, PyAny>) -> Result<Option<Self>> {
        let config = crate::config::config_arg(py, config)?;
        let sampling = &config.metadata.sampling;
        match config.scrubber() {
            None => Ok(None),
            Some(inner) => Self::build(inner, sampling.rate, sampling.events.clone()).map(Some),
        }
    }

    #[getter]
    fn mode(&self) -> &'static str {
        self.inner.mode().as_str()
    }

    #[getter]
    fn sample_rate(&self) -> f64 {
        self.sampler.rate()
    }

    #[getter]
    fn sample_prefixes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.sampler.prefixes())
    }

    /// `secret`, `identifying`, `size` or `other`.
    fn classify(&self, name: &str) -> &'static str {
        self.inner.classify(name).as_str()
    }

    /// One field, as the core scrubs it: the value to keep as text, or None to drop it.
    /// `bool` is scrubbed as `true` / `false`, a non-negative `int` below 2^64 as a number
    /// (sizes bucketed), any other `int` and a `float` as their decimal text.
    fn scrub(&self, name: &str, value: &Bound<'_, PyAny>) -> Result<Option<String>> {
        if let Ok(b) = value.cast::<PyBool>() {
            let text = if b.is_true() { "true" } else { "false" };
            return Ok(kept(self.inner.scrub(name, text)));
        }
        if value.cast::<PyInt>().is_ok() {
            if let Ok(n) = value.extract::<u64>() {
                return Ok(kept(self.inner.scrub_u64(name, n)));
            }
            let text = value.str()?.to_cow()?.into_owned();
            return Ok(kept(self.inner.scrub(name, &text)));
        }
        if let Ok(f) = value.cast::<PyFloat>() {
            // Rust's decimal form, the same in every binding (`1234` for 1234.0).
            let text = f.value().to_string();
            return Ok(kept(self.inner.scrub(name, &text)));
        }
        if let Ok(s) = value.cast::<PyString>() {
            return Ok(kept(self.inner.scrub(name, &s.to_cow()?)));
        }
        Err(Error::Python(PyTypeError::new_err(format!(
            "a field value must be str, int, float or bool, not '{}'",
            type_name(&value.as_borrowed())
        ))))
    }

    /// `text` with identifiers (DIDs, fingerprints, long hex / base64 / base58 runs) replaced.
    fn redact_text(&self, text: &str) -> String {
        self.inner.redact_text(text).into_owned()
    }

    /// Whether to keep an event: events whose `name` or `target` starts with one of the
    /// sampling prefixes are kept with probability `sample_rate`; all others always.
    #[pyo3(signature = (name, target=None))]
    fn keep_event(&self, name: &str, target: Option<&str>) -> bool {
        self.sampler.keep(name, target)
    }

    fn __repr__(&self) -> String {
        format!(
            "<Scrubber mode={} sample_rate={}>",
            self.inner.mode().as_str(),
            self.sampler.rate()
        )
    }
}

/// The size bucket of a length (`0`, `<=64`, …, `>16MiB`).
#[pyfunction]
pub(crate) fn _size_bucket(n: u64) -> &'static str {
    hygiene::size_bucket(n)
}

/// The lower-case tokens of a field name (the matching rule of docs/CONFIG.md).
#[pyfunction]
pub(crate) fn _field_tokens(name: &str) -> Vec<String> {
    hygiene::field_tokens(name)
}

/// The built-in lists: `(SCRUB_FIELDS, SECRET_FIELDS, SIZE_FIELDS)`.
#[pyfunction]
pub(crate) fn _field_lists() -> (Vec<&'static str>, Vec<&'static str>, Vec<&'static str>) {
    (
        hygiene::SCRUB_FIELDS.to_vec(),
        hygiene::SECRET_FIELDS.to_vec(),
        hygiene::SIZE_FIELDS.to_vec(),
    )
}

/// PRIVATE, for replaying tests/vectors/config/scrub.json: the keyed hash of `value` (a
/// `str` as UTF-8, or bytes) under an explicit 32-byte key. Scrubbers never use it.
#[pyfunction]
pub(crate) fn _token_with_key(key: BytesLike<'_>, value: &Bound<'_, PyAny>) -> Result<String> {
    let key: &[u8; 32] = (*key)
        .try_into()
        .map_err(|_| sealwire::Error::InvalidParameter("the key must be 32 bytes"))?;
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(hygiene::token_with_key(key, s.to_cow()?.as_bytes()));
    }
    let bytes: BytesLike<'_> = value.extract()?;
    Ok(hygiene::token_with_key(key, &bytes))
}

/// Add this module's class and functions to `sealwire._native`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyScrubber>()?;
    m.add_function(wrap_pyfunction!(_size_bucket, m)?)?;
    m.add_function(wrap_pyfunction!(_field_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(_field_lists, m)?)?;
    m.add_function(wrap_pyfunction!(_token_with_key, m)?)?;
    Ok(())
}
