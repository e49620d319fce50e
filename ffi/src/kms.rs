//! Remote KMS key providers: `sealwire_kms_settings` (explicit address, token and credentials,
//! overriding the environment) and `sealwire_kms_key` (a Vault / OpenBao Transit or AWS KMS
//! key named by a URI, built by core's `RemoteKey::from_uri`). A KMS key joins a key set with
//! `sealwire_key_set_add_kms_key()` (`key_set.rs`) and then works wherever the envelope API
//! takes a key set.

use core::ffi::c_char;
use std::sync::Arc;

use sealwire_core::envelope::kms::{KmsStats, RemoteKey, RemoteKeySettings};
use zeroize::Zeroizing;

use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_mut, try_ref, try_str, write_handle, Out};
use crate::result::{sealwire_result, FfiResult};

/// Explicit settings for `sealwire_kms_key_from_uri()`: a Vault / OpenBao address and token,
/// AWS credentials. Every value set here takes precedence over the environment; a value not
/// set is read from the environment (`VAULT_ADDR` / `BAO_ADDR`, `VAULT_TOKEN` / `BAO_TOKEN`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) when a key is built.
///
/// Opaque. Created by `sealwire_kms_settings_new()` (empty), filled with the
/// `sealwire_kms_settings_set_*()` functions; owned by the caller, who releases it once with
/// `sealwire_kms_settings_free()`. The library copies the strings (the caller may wipe its
/// own copies right after a setter returns); tokens and secret keys are held in memory that is
/// wiped when they are replaced and when the settings are freed. Keys built from the settings
/// keep their own copies: the settings may be freed right after. The setters change it (one
/// thread at a time); `sealwire_kms_key_from_uri()` takes it `const`.
#[derive(Debug, Default)] // redacted: RemoteKeySettings shows which fields are set, never values
pub struct sealwire_kms_settings {
    pub(crate) inner: RemoteKeySettings,
}

/// Request counters of one KMS key (`sealwire_kms_key_stats()`), counted since the key was
/// built, over every key set, reader and cache that uses it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct sealwire_kms_stats {
    /// KMS operations started (generate data key, encrypt, decrypt, re-encrypt, key reads).
    pub operations: u64,
    /// HTTP exchanges attempted (operations plus retries).
    pub http_requests: u64,
    /// Retries after throttling, server errors or dropped connections.
    pub retries: u64,
    /// Operations that ended in an error.
    pub failures: u64,
}

impl From<KmsStats> for sealwire_kms_stats {
    fn from(s: KmsStats) -> Self {
        Self {
            operations: s.operations,
            http_requests: s.http_requests,
            retries: s.retries,
            failures: s.failures,
        }
    }
}

/// A remote KMS key: a Vault / OpenBao Transit key (provider "vault-transit") or an AWS KMS key
/// (provider "aws-kms"), to add to key sets with `sealwire_key_set_add_kms_key()`.
///
/// Opaque. Created by `sealwire_kms_key_from_uri()`; owned by the caller, who releases it once
/// with `sealwire_kms_key_free()` (which wipes the token or credentials unless a key set, reader
/// or rewrap still shares the key: then when the last one goes). Never modified through the
/// handle: may be used from several threads at once. It keeps a pool of connections; create
/// one per KMS key and share it.
///
/// BLOCKING: C has no event loop, so every call that reaches a KMS key waits for the network
/// on the calling thread: `sealwire_envelope_seal()`, `sealwire_data_key_cache_seal()` (on a
/// cache miss), `sealwire_envelope_open()`, `sealwire_envelope_writer_new()`,
/// `sealwire_envelope_reader_read()` / `_finish()` (the call that completes the header) and
/// `sealwire_envelope_rewrap_open()` / `_add()` / `_rotate()`. The wait is bounded:
/// connection setup 2 s, one HTTP exchange 10 s, at most 4 attempts (only throttling, 5xx and
/// dropped connections are retried, with jittered waits of 50, 100, 200 ms). A refused
/// connection, an unknown host, a TLS failure, bad credentials or an unknown key fail at once,
/// so an object wrapped for several KMS keys opens through the next one without delay.
/// Call these functions from a worker thread if the caller must not block.
#[derive(Debug)] // redacted: the providers print no token or credential
pub struct sealwire_kms_key {
    pub(crate) inner: Arc<RemoteKey>,
}

/// Create empty settings (everything from the environment until set).
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_kms_settings_new(out: *mut *mut sealwire_kms_settings) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_kms_settings::default()) };
        Ok(())
    })
}

/// Shared body of the setters: borrow the settings mutably and apply `f` (the last step, so a
/// failed argument check leaves the settings unchanged).
///
/// # Safety
/// `settings` is NULL or a live handle not used concurrently.
unsafe fn update(settings: *mut sealwire_kms_settings, f: impl FnOnce(&mut RemoteKeySettings)) -> FfiResult {
    // SAFETY: NULL or a live handle with exclusive access (caller contract).
    let settings = unsafe { try_mut(settings) }?;
    f(&mut settings.inner);
    Ok(())
}

/// Set the Vault / OpenBao address (NUL-terminated, e.g. "https://vault.example:8200";
/// plain "http://" only on loopback), used instead of `VAULT_ADDR` / `BAO_ADDR`. Replaces an
/// earlier value. Checked when a key is built.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8.
///
/// # Safety
/// `settings` is NULL or a live handle not used concurrently; `address` is NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sealwire_kms_settings_set_vault_address(
    settings: *mut sealwire_kms_settings,
    address: *const c_char,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let address = unsafe { try_str(address) }?;
        // SAFETY: forwarded caller contract.
        unsafe { update(settings, |s| s.vault_address = Some(address.to_owned())) }
    })
}

/// Set the Vault / OpenBao token (NUL-terminated), used instead of `VAULT_TOKEN` /
/// `BAO_TOKEN`. Copied into memory that is wiped when replaced or freed; the caller may wipe
/// its own copy after the call. Replaces an earlier value. Checked when a key is built.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8.
///
/// # Safety
/// `settings` is NULL or a live handle not used concurrently; `token` is NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sealwire_kms_settings_set_vault_token(
    settings: *mut sealwire_kms_settings,
    token: *const c_char,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let token = unsafe { try_str(token) }?;
        // SAFETY: forwarded caller contract.
        unsafe { update(settings, |s| s.vault_token = Some(Zeroizing::new(token.to_owned()))) }
    })
}

/// Set static AWS credentials (NUL-terminated strings), used instead of `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`: the access key id, the secret access key
/// and, for temporary credentials, the session token (NULL = none; the environment's session
/// token is then not used either). Copied into memory that is wiped when replaced or freed.
/// Replaces earlier credentials.
///
/// Errors: SEALWIRE_NULL_POINTER (`access_key_id` or `secret_access_key` NULL),
/// SEALWIRE_INVALID_UTF8.
///
/// # Safety
/// `settings` is NULL or a live handle not used concurrently; the strings are NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sealwire_kms_settings_set_aws_credentials(
    settings: *mut sealwire_kms_settings,
    access_key_id: *const c_char,
    secret_access_key: *const c_char,
    session_token: *const c_char,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let id = unsafe { try_str(access_key_id) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let secret = unsafe { try_str(secret_access_key) }?;
        let session = if session_token.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated (caller contract).
            Some(unsafe { try_str(session_token) }?)
        };
        // SAFETY: forwarded caller contract.
        unsafe {
            update(settings, |s| {
                s.aws_access_key_id = Some(id.to_owned());
                s.aws_secret_access_key = Some(Zeroizing::new(secret.to_owned()));
                s.aws_session_token = session.map(|t| Zeroizing::new(t.to_owned()));
            })
        }
    })
}

/// Free settings, wiping the token and secrets they hold. `settings` may be NULL (no-op).
///
/// # Safety
/// `settings` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_kms_settings_free(settings: *mut sealwire_kms_settings) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(settings) }
    })
}

/// Build a remote KMS key from a URI (NUL-terminated), the same strings the CLI's `--kms`, and
/// the Python and Node bindings accept:
///
/// * `vault://KEYNAME[?mount=MOUNT]` -- Vault / OpenBao Transit (mount "transit" by default;
///   the key must be a derived key, `derived=true`); address and token from `settings`, else
///   `VAULT_ADDR` / `VAULT_TOKEN` (or `BAO_ADDR` / `BAO_TOKEN`); namespace from
///   `VAULT_NAMESPACE` / `BAO_NAMESPACE`.
/// * `aws-kms://KEY_ID_OR_ARN[?region=R&endpoint=URL]` -- AWS KMS; credentials from
///   `settings`, else the `AWS_*` variables; region from `?region=`, else `AWS_REGION` /
///   `AWS_DEFAULT_REGION`, else the key ARN's; endpoint from `?endpoint=`, else
///   `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`, else `https://kms.REGION.amazonaws.com`.
///
/// Query values are percent-decoded. Secrets never come from the URI. `settings` may be NULL:
/// everything from the environment. Makes no network call (see `sealwire_kms_key` for the
/// calls that do, and their time bounds).
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_INVALID_PARAMETER (malformed
/// URI, unknown scheme or query parameter, no address / token / credentials / region, a
/// malformed address, plain http off loopback, a bad key name).
///
/// # Safety
/// `uri` is NULL or NUL-terminated; `settings` is NULL or a live handle; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_kms_key_from_uri(
    uri: *const c_char,
    settings: *const sealwire_kms_settings,
    out: *mut *mut sealwire_kms_key,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let uri = unsafe { try_str(uri) }?;
        let out = Out::new(out)?;
        let from_env = RemoteKeySettings::default();
        let settings = if settings.is_null() {
            &from_env
        } else {
            // SAFETY: non-NULL, a live handle (caller contract).
            &unsafe { try_ref(settings) }?.inner
        };
        let key = RemoteKey::from_uri(uri, settings)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_kms_key { inner: Arc::new(key) }) };
        Ok(())
    })
}

/// The request counters of a KMS key so far (shared by every key set, reader, rewrap and
/// cache using it), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `key` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_kms_key_stats(key: *const sealwire_kms_key, out: *mut sealwire_kms_stats) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let key = unsafe { try_ref(key) }?;
        let out = Out::new(out)?;
        let stats = match key.inner.as_ref() {
            RemoteKey::Vault(v) => v.stats(),
            RemoteKey::Aws(a) => a.stats(),
            // `RemoteKey` is non-exhaustive: a provider added to core without a case here.
            _ => return Err(sealwire_result::INTERNAL_ERROR),
        };
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(stats.into()) };
        Ok(())
    })
}

/// Free a KMS key handle. Key sets, readers and rewraps it was added to keep their own
/// reference; the token or credentials are wiped when the last one goes. `key` may be NULL
/// (no-op).
///
/// # Safety
/// `key` is NULL or a handle from this library that has not been freed yet and is not in use
/// by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_kms_key_free(key: *mut sealwire_kms_key) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(key) }
    })
}
