//! The one place where core errors become user-facing messages: the core's message, a hint
//! for the envelope errors a user can act on, and the stable error code.

use sealwire::{Error, ErrorKind};

/// Phrase a core error for stderr (never contains key material: core messages carry none).
pub fn core(e: Error) -> String {
    let hint = match e.kind() {
        ErrorKind::ContextMismatch => {
            "; the context given with -c must equal the one the object was sealed with (`sealwire inspect` shows it)"
        }
        ErrorKind::NoMatchingKey => "; `sealwire inspect` lists the keys the object is wrapped for",
        ErrorKind::KeyRetired => "; `sealwire keyring list` shows the cutoff dates",
        ErrorKind::KeyNotFound => "; `sealwire keyring list` shows the key ids and versions this keyring holds",
        ErrorKind::Truncated => "; the input is incomplete",
        ErrorKind::KmsAuthFailed => "; check VAULT_TOKEN / BAO_TOKEN or the AWS_* credentials (not shown)",
        ErrorKind::KmsUnavailable | ErrorKind::KmsTimeout => {
            "; check VAULT_ADDR / BAO_ADDR or the AWS endpoint and region, and that the server is reachable"
        }
        _ => "",
    };
    format!("{e}{hint} ({})", e.kind().code())
}

/// Prefix a core error with what was being done (`"cannot open x.swev"`).
pub fn core_in(what: impl std::fmt::Display) -> impl Fn(Error) -> String {
    move |e| format!("{what}: {}", core(e))
}
