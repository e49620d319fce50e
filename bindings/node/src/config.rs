//! The security configuration (`docs/CONFIG.md`): `SecurityConfig`, `ConfigReport`,
//! `checkConfig` — thin wrappers of `sealwire::config` (cargo feature `config`).
//!
//! A configuration is given as TOML or JSON text (a plain JavaScript object: pass
//! `JSON.stringify(object)`). Checking is pure and fast (no file, no environment, no network),
//! so everything here is synchronous. A configuration that does not load throws an `Error`
//! whose `code` is `ERR_SEALWIRE_INVALID_PARAMETER`, whose message lists every blocking
//! finding, and whose `findings` property holds them all (`ConfigFinding[]`).

use napi::bindgen_prelude::{JsError, Object};
use napi::Env;
use napi_derive::napi;
use sealwire::config::{ConfigError, Finding, Format, Report};

use crate::error::{callback_error, to_js_error};

/// One finding about a configuration (a problem, an override in force, or a warning).
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone)]
pub struct ConfigFinding {
    /// The stable finding code (`docs/CONFIG.md`), e.g. `'weak-kdf'`, `'unknown-key'`.
    pub code: String,
    /// `'error'` (refuses the configuration), `'allowed'` (an error accepted by the named
    /// `overrides` flag) or `'warning'`.
    #[napi(ts_type = "'error' | 'allowed' | 'warning'")]
    pub severity: String,
    /// The dotted key path (`'handshake.online'`, `'metadata.extra_fields[2]'`); empty for the
    /// whole document.
    pub path: String,
    /// For people: what is wrong and what to do.
    pub message: String,
    /// The `overrides.allow_…` flag that accepts this finding, when one does (set or not).
    pub allow: Option<String>,
    /// 1-based line in the text, when known (parse errors).
    pub line: Option<u32>,
}

fn finding_js(f: &Finding) -> ConfigFinding {
    ConfigFinding {
        code: f.code.as_str().to_owned(),
        severity: f.severity.as_str().to_owned(),
        path: f.path.clone(),
        message: f.message.clone(),
        allow: f.allow.map(str::to_owned),
        line: f.line.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
    }
}

/// The format argument: `'toml'`, `'json'`, or absent (JSON when the text starts with `{`,
/// TOML otherwise).
pub(crate) fn format_of(format: Option<&str>, text: &str) -> Result<Format, sealwire::Error> {
    match format {
        None => Ok(Format::detect(None, text)),
        Some(f) if f.eq_ignore_ascii_case("toml") => Ok(Format::Toml),
        Some(f) if f.eq_ignore_ascii_case("json") => Ok(Format::Json),
        Some(_) => Err(sealwire::Error::InvalidParameter(
            "format must be 'toml' or 'json'",
        )),
    }
}

/// The JS error for a configuration that does not load: code `ERR_SEALWIRE_INVALID_PARAMETER`
/// (through the one mapping of `error.rs`), the findings in the message and as `findings`.
pub(crate) fn config_error(env: Env, err: &ConfigError) -> napi::Error {
    let base = callback_error(
        sealwire::Error::InvalidParameter("security configuration"),
        &err.to_string(),
        None,
    );
    let value = JsError::from(base).into_unknown(env);
    // SAFETY: `value` was just created by `JsError::into_unknown` and is an Error object.
    if let Ok(mut object) = unsafe { value.cast::<Object>() } {
        let findings: Vec<ConfigFinding> = err.findings().iter().map(finding_js).collect();
        // Best effort: without the property the error still has its code and message.
        let _ = object.set("findings", findings);
    }
    napi::Error::from(value)
}

fn core_error(env: Env, err: sealwire::Error) -> napi::Error {
    crate::error::as_rejection(env, to_js_error(err))
}

/// Parse and validate `text` as a configuration.
pub(crate) fn load(
    text: &str,
    format: Option<&str>,
) -> Result<sealwire::config::SecurityConfig, LoadError> {
    let format = format_of(format, text).map_err(LoadError::Core)?;
    sealwire::config::SecurityConfig::load(text, format).map_err(LoadError::Config)
}

/// Why a configuration (or an agent operation) failed: a core error, or a configuration
/// refused with findings.
#[derive(Debug)]
pub enum LoadError {
    Core(sealwire::Error),
    Config(ConfigError),
}

impl LoadError {
    pub(crate) fn into_js(self, env: Env) -> napi::Error {
        match self {
            LoadError::Core(e) => core_error(env, e),
            LoadError::Config(e) => config_error(env, &e),
        }
    }
}

/// Every finding about one configuration (`checkConfig`, `SecurityConfig.validate`).
#[napi]
pub struct ConfigReport {
    inner: Report,
}

impl std::fmt::Debug for ConfigReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigReport(..)")
    }
}

#[napi]
impl ConfigReport {
    /// `true` when no finding is an error (overridden findings and warnings are fine).
    #[napi(getter)]
    pub fn ok(&self) -> bool {
        self.inner.is_ok()
    }

    /// Every finding, in the order of the checks.
    #[napi(getter)]
    pub fn findings(&self) -> Vec<ConfigFinding> {
        self.inner.findings().iter().map(finding_js).collect()
    }

    /// The report as JSON text, the same as `sealwire config check --json` prints:
    /// `{"ok": bool, "findings": [{"path", "code", "severity", "message", "allow", "line"}]}`.
    #[napi(js_name = "toJson")]
    pub fn to_json(&self) -> String {
        self.inner.to_json_string()
    }
}

/// Parse and validate a configuration without loading it: every finding, parse errors
/// included (what `sealwire config check` reports). `format` is `'toml'` or `'json'`;
/// without it, JSON when the text starts with `{`, else TOML.
///
/// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` only for an unknown `format`.
#[napi(strict)]
pub fn check_config(
    env: Env,
    text: String,
    #[napi(ts_arg_type = "'toml' | 'json'")] format: Option<String>,
) -> napi::Result<ConfigReport> {
    let format = format_of(format.as_deref(), &text).map_err(|e| core_error(env, e))?;
    Ok(ConfigReport {
        inner: sealwire::config::SecurityConfig::check(&text, format),
    })
}

/// A security configuration that loaded: parsed strictly and refused by no finding. It holds
/// no secret. Pass it (or its text) to `Agent.open`.
#[napi]
#[derive(Clone)]
pub struct SecurityConfig {
    pub(crate) inner: sealwire::config::SecurityConfig,
}

impl std::fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecurityConfig(..)")
    }
}

#[napi]
impl SecurityConfig {
    /// Parse and validate TOML or JSON text (`format` `'toml'` / `'json'`; without it, JSON
    /// when the text starts with `{`, else TOML).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` when any finding is an error
    /// (or for an unknown `format`); the message lists the errors and the error's
    /// `findings` property holds every finding (`ConfigFinding[]`).
    #[napi(factory, strict)]
    pub fn load(
        env: Env,
        text: String,
        #[napi(ts_arg_type = "'toml' | 'json'")] format: Option<String>,
    ) -> napi::Result<Self> {
        load(&text, format.as_deref())
            .map(|inner| Self { inner })
            .map_err(|e| e.into_js(env))
    }

    /// The recommended configuration (every default; what `sealwire config init` writes).
    #[napi(factory, js_name = "default")]
    pub fn default_config() -> Self {
        Self {
            inner: sealwire::config::SecurityConfig::default(),
        }
    }

    /// The recommended configuration as commented TOML text (`sealwire config init`).
    #[napi]
    pub fn default_toml() -> String {
        sealwire::config::SecurityConfig::DEFAULT_TOML.to_owned()
    }

    /// This configuration as TOML (every key, no comments); `SecurityConfig.load` reads it back
    /// to an equal configuration.
    #[napi]
    pub fn to_toml(&self, env: Env) -> napi::Result<String> {
        self.inner
            .to_toml_string()
            .map_err(|e| config_error(env, &e))
    }

    /// This configuration as pretty-printed JSON (every key).
    #[napi(js_name = "toJson")]
    pub fn to_json(&self) -> String {
        self.inner.to_json_string()
    }

    /// Every finding about this configuration (overrides in force and warnings; never an
    /// error, since it loaded).
    #[napi]
    pub fn validate(&self) -> ConfigReport {
        ConfigReport {
            inner: self.inner.validate(),
        }
    }

    /// Whether `other` is the same configuration (every field).
    #[napi(strict)]
    pub fn equals(&self, other: &SecurityConfig) -> bool {
        self.inner == other.inner
    }

    /// The Noise protocol name for a topology: `'online'` (e.g.
    /// `'Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s'`) or `'first-contact'`.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for another topology.
    #[napi(strict)]
    pub fn noise_protocol(
        &self,
        env: Env,
        #[napi(ts_arg_type = "'online' | 'first-contact'")] topology: String,
    ) -> napi::Result<String> {
        use sealwire::config::Topology;
        let t = match topology.as_str() {
            "online" => Topology::Online,
            "first-contact" => Topology::FirstContact,
            _ => {
                return Err(core_error(
                    env,
                    sealwire::Error::InvalidParameter(
                        "topology must be 'online' or 'first-contact'",
                    ),
                ))
            }
        };
        Ok(self.inner.noise_protocol(t))
    }
}
