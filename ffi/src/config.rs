//! The security configuration (docs/CONFIG.md): `sealwire_config_check()` runs core's
//! `SecurityConfig::check` and hands back its report as JSON (`Report::to_json_string`, the
//! same object `sealwire config check --json` prints); `sealwire_config_default_toml()` gives
//! the commented recommended configuration (`sealwire config init`). Every rule lives in core.

use core::ffi::c_char;

use sealwire_core::config::{Format, SecurityConfig};

use crate::ptr::{char_buf, try_utf8, Out, OutBuf};
use crate::panic::guard_result;
use crate::result::{sealwire_result, FfiResult};

/// How `sealwire_config_check()` reads the text. A plain integer type: other values are
/// refused with SEALWIRE_INVALID_PARAMETER.
pub type sealwire_config_format = u32;
/// JSON when the first non-blank character is `{`, TOML otherwise (what
/// `sealwire_agent_open()` does).
pub const SEALWIRE_CONFIG_FORMAT_AUTO: sealwire_config_format = 0;
/// TOML.
pub const SEALWIRE_CONFIG_FORMAT_TOML: sealwire_config_format = 1;
/// JSON (same structure as the TOML form).
pub const SEALWIRE_CONFIG_FORMAT_JSON: sealwire_config_format = 2;

/// The format of a configuration text, as `sealwire_agent_open()` and
/// `sealwire_config_check()` read it.
pub(crate) fn format(format: sealwire_config_format, text: &str) -> FfiResult<Format> {
    match format {
        SEALWIRE_CONFIG_FORMAT_AUTO => Ok(Format::detect(None, text)),
        SEALWIRE_CONFIG_FORMAT_TOML => Ok(Format::Toml),
        SEALWIRE_CONFIG_FORMAT_JSON => Ok(Format::Json),
        _ => Err(sealwire_result::INVALID_PARAMETER),
    }
}

/// Check a security configuration (`text`: `text_len` bytes of UTF-8, not NUL-terminated) as
/// `sealwire config check` does: strict parsing (types, known keys and values, every problem
/// with its key path) and the policy rules. The report goes to `out` as a NUL-terminated JSON
/// object by the output-buffer convention:
///
///     {"ok": true|false, "findings": [{"path": "cipher.nonce", "code": "nonce-unsafe",
///       "severity": "error"|"allowed"|"warning", "allow": "allow_…"|null, "message": "…",
///       "line": N|null}, …]}
///
/// (docs/CONFIG.md lists the codes). The verdict is also in `*accepted`: true when no finding
/// is an error (the configuration would be accepted by `sealwire_agent_open()`), false when
/// it is refused. A refused configuration is a successful check: the call returns SEALWIRE_OK
/// and writes both outputs. Checking is deterministic, so a length query (out = NULL) and
/// the real call give the same report; `*accepted` is written only by the call that succeeds.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8 (the text), SEALWIRE_INVALID_PARAMETER
/// (unknown `format`), SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `text` is NULL (only with length 0) or readable for `text_len` bytes; `out` is NULL or
/// writable for `out_len` bytes; `written` and `accepted` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_config_check(
    text: *const u8,
    text_len: usize,
    format: sealwire_config_format,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
    accepted: *mut bool,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `text_len` bytes (caller contract).
        let text = unsafe { try_utf8(text, text_len) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        let accepted = Out::new(accepted)?;
        let format = self::format(format, text)?;
        let report = SecurityConfig::check(text, format);
        // SAFETY: `out`/`written` writable (caller contract); the JSON is ours.
        unsafe { out.fill_cstr(&report.to_json_string()) }?;
        // SAFETY: `accepted` is writable (caller contract).
        unsafe { accepted.write(report.is_ok()) };
        Ok(())
    })
}

/// The recommended configuration as commented TOML (what `sealwire config init` writes; it
/// loads to the defaults), NUL-terminated, by the output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `out` is NULL or writable for `out_len` bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_config_default_toml(out: *mut c_char, out_len: usize, written: *mut usize) -> sealwire_result {
    guard_result(|| {
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the text is ours.
        unsafe { out.fill_cstr(SecurityConfig::DEFAULT_TOML) }
    })
}
