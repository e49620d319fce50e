//! `sealwire.SecurityConfig`, `sealwire.ConfigReport`, `sealwire.ConfigFinding` and
//! `sealwire.check_config`: the security configuration (`docs/CONFIG.md`), from the core's
//! `sealwire::config` (cargo feature `config`).
//!
//! Thin: parsing, validation and both writers are the core's. A configuration is given as
//! TOML or JSON text (`format` "toml" / "json", or detected: JSON when the text starts with
//! `{`), or as a mapping, which is written as JSON by Python's `json` module first. A
//! configuration that does not load raises `ParameterError` (code
//! `ERR_SEALWIRE_INVALID_PARAMETER`, the class `error.rs` maps that kind to) whose message
//! is the core's `ConfigError` text (every blocking finding, one a line) and whose `report`
//! attribute is the whole `ConfigReport`.

use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use sealwire::config::{ConfigError, Finding, Format, Report, SecurityConfig};
use sealwire::ErrorKind;

use crate::error::{Error, Result};
use crate::input::type_name;

/// The format argument: "toml", "json" (any case) or None (detected from the text).
fn format_arg(format: Option<&str>, text: &str, file_name: Option<&str>) -> Result<Format> {
    match format.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(Format::detect(file_name, text)),
        Some("toml") => Ok(Format::Toml),
        Some("json") => Ok(Format::Json),
        Some(_) => Err(sealwire::Error::InvalidParameter(
            "format must be \"toml\", \"json\" or None",
        )
        .into()),
    }
}

/// A configuration argument as text: a `str`, or a mapping written as JSON (then the format
/// is JSON whatever `format` says is refused unless it is None or "json").
fn text_arg(obj: &Bound<'_, PyAny>, format: Option<&str>) -> Result<(String, Format)> {
    if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_cow()?.into_owned();
        let f = format_arg(format, &text, None)?;
        return Ok((text, f));
    }
    if obj.cast::<PyDict>().is_ok() || obj.hasattr("items")? {
        if format.is_some_and(|f| !f.eq_ignore_ascii_case("json")) {
            return Err(sealwire::Error::InvalidParameter(
                "a mapping is read as JSON: format must be None or \"json\"",
            )
            .into());
        }
        let py = obj.py();
        let plain = if obj.cast::<PyDict>().is_ok() {
            obj.clone()
        } else {
            PyDict::from_sequence(&obj.call_method0("items")?)?.into_any()
        };
        let text: String = py
            .import("json")?
            .call_method1("dumps", (plain,))?
            .extract()?;
        return Ok((text, Format::Json));
    }
    Err(Error::Python(PyTypeError::new_err(format!(
        "a configuration must be a str (TOML or JSON) or a mapping, not '{}'",
        type_name(&obj.as_borrowed())
    ))))
}

/// Raise `ParameterError` for a configuration that did not load: the core's message (every
/// blocking finding) and the report as `report`.
fn refused(py: Python<'_>, e: &ConfigError) -> Error {
    let err = PyErr::from(Error::Binding(
        ErrorKind::InvalidParameter,
        "security configuration refused",
    ));
    let value = err.value(py);
    let enrich = || -> PyResult<()> {
        value.setattr("args", PyTuple::new(py, [e.to_string()])?)?;
        value.setattr(
            "report",
            Py::new(py, PyConfigReport::from(e.report().clone()))?,
        )?;
        Ok(())
    };
    match enrich() {
        Ok(()) => Error::Python(err),
        Err(other) => Error::Python(other),
    }
}

/// A configuration object, or text / a mapping that loads (validated) into one.
pub(crate) fn config_arg(py: Python<'_>, obj: &Bound<'_, PyAny>) -> Result<SecurityConfig> {
    if let Ok(c) = obj.cast::<PySecurityConfig>() {
        return Ok(c.get().inner.clone());
    }
    let (text, format) = text_arg(obj, None)?;
    SecurityConfig::load(&text, format).map_err(|e| refused(py, &e))
}

// --- SecurityConfig -------------------------------------------------------------------------

/// A loaded, validated security configuration (immutable). No secret in it.
#[pyclass(name = "SecurityConfig", module = "sealwire._native", frozen)]
pub(crate) struct PySecurityConfig {
    pub(crate) inner: SecurityConfig,
}

#[pymethods]
impl PySecurityConfig {
    /// The recommended configuration (what `sealwire config init` writes).
    #[staticmethod]
    fn default() -> Self {
        Self {
            inner: SecurityConfig::default(),
        }
    }

    /// Parse and validate TOML or JSON text (or a mapping, as JSON). `ParameterError` with
    /// every finding when something blocks it.
    #[staticmethod]
    #[pyo3(signature = (text, format=None))]
    fn load(py: Python<'_>, text: &Bound<'_, PyAny>, format: Option<&str>) -> Result<Self> {
        let (text, format) = text_arg(text, format)?;
        let inner = SecurityConfig::load(&text, format).map_err(|e| refused(py, &e))?;
        Ok(Self { inner })
    }

    /// Read and load a file (format by extension `.toml` / `.json`, else by content).
    /// `StorageError` (an `OSError`) when it cannot be read, `ParameterError` as `load`.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> Result<Self> {
        let bytes = std::fs::read(&path).map_err(|e| Error::Os(e, Some(path.clone())))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            sealwire::Error::InvalidParameter("the configuration file is not UTF-8")
        })?;
        let name = path.file_name().and_then(|n| n.to_str());
        let format = Format::detect(name, &text);
        let inner = SecurityConfig::load(&text, format).map_err(|e| refused(py, &e))?;
        Ok(Self { inner })
    }

    /// Every key as TOML (no comments); loads back to an equal configuration.
    fn to_toml(&self, py: Python<'_>) -> Result<String> {
        self.inner.to_toml_string().map_err(|e| refused(py, &e))
    }

    /// Every key as pretty-printed JSON; loads back to an equal configuration.
    fn to_json(&self) -> String {
        self.inner.to_json_string()
    }

    /// The findings of this configuration (warnings and overrides in force; never an
    /// error, since it loaded).
    fn validate(&self) -> PyConfigReport {
        self.inner.validate().into()
    }

    /// The Noise protocol name of a topology: "online" (IK family) or "first-contact"
    /// (XX family), e.g. `Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s`.
    fn noise_protocol(&self, topology: &str) -> Result<String> {
        let t = match topology {
            "online" => sealwire::config::Topology::Online,
            "first-contact" | "first_contact" => sealwire::config::Topology::FirstContact,
            _ => {
                return Err(sealwire::Error::InvalidParameter(
                    "topology must be \"online\" or \"first-contact\"",
                )
                .into())
            }
        };
        Ok(self.inner.noise_protocol(t))
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!(
            "<SecurityConfig post_quantum={} identity.storage={} storage.kek.provider={}>",
            self.inner.post_quantum.as_str(),
            self.inner.identity.storage.as_str(),
            self.inner.storage.kek.provider.as_str()
        )
    }
}

// --- reports ----------------------------------------------------------------------------------

/// One finding about a configuration.
#[pyclass(name = "ConfigFinding", module = "sealwire._native", frozen)]
pub(crate) struct PyConfigFinding {
    inner: Finding,
}

#[pymethods]
impl PyConfigFinding {
    /// The stable code, e.g. "kek-rotation-long" (docs/CONFIG.md lists them all).
    #[getter]
    fn code(&self) -> &'static str {
        self.inner.code.as_str()
    }

    /// "error" (refuses the configuration), "allowed" (an error accepted by its override
    /// flag) or "warning".
    #[getter]
    fn severity(&self) -> &'static str {
        self.inner.severity.as_str()
    }

    /// The dotted key path (`storage.kek.rotation_days`); "" for the whole document.
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }

    /// For people: what is wrong and what to do.
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }

    /// The `overrides` flag that accepts this finding, when one does.
    #[getter]
    fn allow(&self) -> Option<&'static str> {
        self.inner.allow
    }

    /// 1-based line in the text, when known (parse errors).
    #[getter]
    fn line(&self) -> Option<usize> {
        self.inner.line
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "<ConfigFinding {}[{}] {:?}>",
            self.inner.severity.as_str(),
            self.inner.code.as_str(),
            self.inner.path
        )
    }
}

/// Every finding about one configuration.
#[pyclass(name = "ConfigReport", module = "sealwire._native", frozen)]
pub(crate) struct PyConfigReport {
    inner: Report,
}

impl From<Report> for PyConfigReport {
    fn from(inner: Report) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyConfigReport {
    /// True when no finding is an error (overrides in force and warnings do not block).
    #[getter]
    fn ok(&self) -> bool {
        self.inner.is_ok()
    }

    /// Every finding, in the order of the checks.
    #[getter]
    fn findings(&self) -> Vec<PyConfigFinding> {
        self.inner
            .findings()
            .iter()
            .map(|f| PyConfigFinding { inner: f.clone() })
            .collect()
    }

    /// The blocking findings.
    #[getter]
    fn errors(&self) -> Vec<PyConfigFinding> {
        self.inner
            .errors()
            .map(|f| PyConfigFinding { inner: f.clone() })
            .collect()
    }

    /// `{"ok": bool, "findings": [{"path", "code", "severity", "message", "allow", "line"}]}`
    /// (the CLI's `config check --json`).
    fn to_json(&self) -> String {
        self.inner.to_json_string()
    }

    fn __len__(&self) -> usize {
        self.inner.findings().len()
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        let errors = self.inner.errors().count();
        format!(
            "<ConfigReport ok={} findings={} errors={}>",
            if self.inner.is_ok() { "True" } else { "False" },
            self.inner.findings().len(),
            errors
        )
    }
}

/// Parse and validate without raising: every finding, parse errors included (what
/// `sealwire config check` reports).
#[pyfunction]
#[pyo3(signature = (text, format=None))]
pub(crate) fn check_config(
    text: &Bound<'_, PyAny>,
    format: Option<&str>,
) -> Result<PyConfigReport> {
    let (text, format) = text_arg(text, format)?;
    Ok(SecurityConfig::check(&text, format).into())
}
