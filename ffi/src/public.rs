//! `sealwire_public_identity`: a peer's verified public identity.

use core::ffi::c_char;

use sealwire_core::PublicIdentity;

use crate::panic::{guard, guard_result};
use crate::ptr::{char_buf, try_ref, try_slice, write_handle, Out, OutBuf};
use crate::result::sealwire_result;

/// A public identity: Ed25519 verifying key, X25519 exchange key and the signature binding
/// them. A handle always holds a verified identity.
///
/// Opaque. Created by `sealwire_public_identity_from_bytes()` or `sealwire_identity_public()`;
/// owned by the caller, who must release it exactly once with `sealwire_public_identity_free()`.
/// Never mutated after creation, so it may be used from several threads at once; it must not be
/// freed while another call is using it.
#[derive(Debug)] // redacted: core prints no key material
pub struct sealwire_public_identity {
    pub(crate) inner: PublicIdentity,
}

/// Decode and verify an encoded public identity (SEALWIRE_PUBLIC_IDENTITY_LEN bytes in this
/// version).
///
/// Strict: wrong magic, unknown version, truncation, trailing bytes, invalid or small-order
/// keys, unknown optional-key types and a bad binding signature are all errors. On success
/// `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER; SEALWIRE_TRUNCATED, SEALWIRE_TRAILING_BYTES,
/// SEALWIRE_BAD_MAGIC, SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_UNSUPPORTED_ALGORITHM;
/// SEALWIRE_INVALID_PUBLIC_KEY, SEALWIRE_BAD_SIGNATURE.
///
/// # Safety
/// `bytes` is NULL (only with `len` 0) or readable for `len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_public_identity_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `len` bytes (caller contract).
        let bytes = unsafe { try_slice(bytes, len) }?;
        let out = Out::new(out)?;
        let inner = PublicIdentity::from_bytes(bytes)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// The canonical encoding of a public identity, following the output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `public_identity` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_public_identity_to_bytes(
    public_identity: *const sealwire_public_identity,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let public = unsafe { try_ref(public_identity) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the encoding is ours.
        unsafe { out.fill(&public.inner.to_bytes()) }
    })
}

/// The identity's `did:key` (e.g. "did:key:z6Mk..."), as a NUL-terminated string following the
/// output-buffer convention (`*written` counts the NUL). A buffer of SEALWIRE_DID_BUFFER_LEN
/// bytes is always large enough.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// As `sealwire_public_identity_to_bytes()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_public_identity_did(
    public_identity: *const sealwire_public_identity,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let public = unsafe { try_ref(public_identity) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the string is ours.
        unsafe { out.fill_cstr(&public.inner.did()) }
    })
}

/// The identity's fingerprint for out-of-band comparison: 60 decimal digits in 12
/// space-separated groups of 5 (71 characters), as a NUL-terminated string following the
/// output-buffer convention (`*written` counts the NUL: SEALWIRE_FINGERPRINT_BUFFER_LEN).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// As `sealwire_public_identity_to_bytes()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_public_identity_fingerprint(
    public_identity: *const sealwire_public_identity,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let public = unsafe { try_ref(public_identity) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the string is ours.
        unsafe { out.fill_cstr(&public.inner.fingerprint()) }
    })
}

/// Verify an Ed25519 signature over `msg` made by `sealwire_identity_sign()` (strict
/// verification: non-canonical and malleated signatures are rejected).
///
/// Returns SEALWIRE_OK if the signature is valid.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (`sig_len` is not 64),
/// SEALWIRE_BAD_SIGNATURE.
///
/// # Safety
/// `public_identity` is NULL or a live handle; `msg` and `sig` are NULL (only with length 0) or
/// readable for their lengths.
#[no_mangle]
pub unsafe extern "C" fn sealwire_public_identity_verify(
    public_identity: *const sealwire_public_identity,
    msg: *const u8,
    msg_len: usize,
    sig: *const u8,
    sig_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let public = unsafe { try_ref(public_identity) }?;
        // SAFETY: readable for `msg_len` bytes (caller contract).
        let msg = unsafe { try_slice(msg, msg_len) }?;
        // SAFETY: readable for `sig_len` bytes (caller contract).
        let sig = unsafe { try_slice(sig, sig_len) }?;
        public.inner.verify(msg, sig)?;
        Ok(())
    })
}

/// Whether two public identities are the same (same keys and binding). Returns false if either
/// pointer is NULL.
///
/// # Safety
/// `a` and `b` are NULL or live handles.
#[no_mangle]
pub unsafe extern "C" fn sealwire_public_identity_equal(
    a: *const sealwire_public_identity,
    b: *const sealwire_public_identity,
) -> bool {
    guard(false, || {
        // SAFETY: NULL or live handles (caller contract).
        match unsafe { (try_ref(a), try_ref(b)) } {
            (Ok(a), Ok(b)) => a.inner == b.inner,
            _ => false,
        }
    })
}

/// Free a public identity handle. `public_identity` may be NULL (no-op).
///
/// # Safety
/// `public_identity` is NULL or a handle from this library that has not been freed yet and is
/// not in use by another thread; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_public_identity_free(public_identity: *mut sealwire_public_identity) {
    guard((), || {
        if !public_identity.is_null() {
            // SAFETY: a live handle created by `Box::into_raw` in this library, freed once.
            drop(unsafe { Box::from_raw(public_identity) });
        }
    })
}
