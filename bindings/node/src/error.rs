//! The one mapping from core errors to JS errors.
//!
//! Every error the binding raises for a sealwire failure is a plain JS `Error` whose own `code`
//! property is the stable core code (`sealwire::ErrorKind::code()`, e.g.
//! `"ERR_SEALWIRE_TRUNCATED"`). Messages come from the core and never contain key material or
//! identities.

use napi::bindgen_prelude::JsError;
use napi::Env;
use sealwire::ErrorKind;

/// The `code` carried by every error raised for a sealwire failure
/// (e.g. `"ERR_SEALWIRE_TRUNCATED"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(&'static str);

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Result of a synchronous binding call: the error turns into a thrown JS `Error` whose
/// `code` property is the sealwire code.
pub type Result<T> = napi::Result<T, ErrorCode>;

/// The one mapping from a core error to a JS error: `code` is the stable core code, the
/// message is the core's (which never contains key material or identities).
pub fn to_js_error(err: sealwire::Error) -> napi::Error<ErrorCode> {
    napi::Error::new(ErrorCode(err.kind().code()), err.to_string())
}

/// A promise rejection for a core error: the JS error object is built through [`to_js_error`]
/// (so it carries the same `code`) and handed back to the async-work machinery as is.
pub fn rejection(env: Env, err: sealwire::Error) -> napi::Error {
    as_rejection(env, to_js_error(err))
}

/// A promise rejection carrying an error built by this module.
pub fn as_rejection(env: Env, err: napi::Error<ErrorCode>) -> napi::Error {
    napi::Error::from(JsError::from(err).into_unknown(env))
}

/// A core error caused by a JavaScript callback that threw (a `SessionStore` method): the
/// core's code and message, followed by `detail` (which callback, and the message of what
/// it threw — the application's own text, never key material), with the thrown value as
/// `cause`.
pub fn callback_error(
    err: sealwire::Error,
    detail: &str,
    cause: Option<napi::Error>,
) -> napi::Error<ErrorCode> {
    let mut out = napi::Error::new(ErrorCode(err.kind().code()), format!("{err}: {detail}"));
    if let Some(cause) = cause {
        out.set_cause(cause);
    }
    out
}

/// The error for any use of a `NoiseHandshake` after `intoTransport()` /
/// `intoUnorderedTransport()` consumed it. The code is the core's
/// `ERR_SEALWIRE_HANDSHAKE_COMPLETE` (the handshake did complete: only a finished handshake
/// can be turned into a transport); the message says what happened.
pub fn spent_handshake() -> napi::Error<ErrorCode> {
    napi::Error::new(
        ErrorCode(ErrorKind::HandshakeComplete.code()),
        "the handshake is already complete: this NoiseHandshake was turned into a transport \
         and can no longer be used"
            .to_owned(),
    )
}
