//! `sealwire_context`: the encryption context (string → string map) bound to an envelope.

use sealwire_core::envelope::EncryptionContext;

use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_mut, try_ref, try_utf8, write_handle, Out, OutBuf};
use crate::result::{sealwire_result, FfiResult};

/// An encryption context: UTF-8 key → UTF-8 value pairs bound to an envelope as associated
/// data (AWS KMS calls the same idea "encryption context"). Opening requires exactly the
/// context the envelope was sealed with (SEALWIRE_CONTEXT_MISMATCH otherwise). It is stored in
/// the clear in the envelope header: never put secrets in it.
///
/// Opaque. Created by `sealwire_context_new()` (or taken from a header with
/// `sealwire_envelope_header_context()`); owned by the caller, who releases it once with
/// `sealwire_context_free()`. `sealwire_context_insert()` modifies it (one thread at a time);
/// every other function takes it `const` and may share it between threads. Functions that
/// take a context copy what they need: it may be freed right after the call.
#[derive(Debug)] // redacted: core prints only the number of entries
pub struct sealwire_context {
    pub(crate) inner: EncryptionContext,
}

/// Create an empty encryption context.
///
/// On success `*out` receives a new handle owned by the caller (free it with
/// `sealwire_context_free()`).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_context_new(out: *mut *mut sealwire_context) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_context { inner: EncryptionContext::new() }) };
        Ok(())
    })
}

/// Insert an entry, or replace the value of an existing key. Key and value are UTF-8 byte
/// buffers (not NUL-terminated; `value` may be empty, then it may be NULL). Keys must be
/// non-empty; keys and values at most 65535 bytes; a context holds at most 1024 entries and
/// 64 KiB encoded. A failed insert leaves the context unchanged.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_INVALID_PARAMETER (empty
/// key, or a limit above).
///
/// # Safety
/// `context` is NULL or a live handle not used concurrently; `key` and `value` are NULL (only
/// with length 0) or readable for their lengths.
#[no_mangle]
pub unsafe extern "C" fn sealwire_context_insert(
    context: *mut sealwire_context,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let context = unsafe { try_mut(context) }?;
        // SAFETY: readable for `key_len` bytes (caller contract).
        let key = unsafe { try_utf8(key, key_len) }?;
        // SAFETY: readable for `value_len` bytes (caller contract).
        let value = unsafe { try_utf8(value, value_len) }?;
        // Edit a copy and commit it last, so that even a panic leaves the handle unchanged.
        let mut next = context.inner.clone();
        next.insert(key, value)?;
        context.inner = next;
        Ok(())
    })
}

/// The number of entries, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `context` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_context_count(context: *const sealwire_context, out: *mut usize) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(context.inner.len()) };
        Ok(())
    })
}

/// Entry `index` (0-based) in canonical order (keys sorted by their bytes).
fn entry_at(context: &EncryptionContext, index: usize) -> FfiResult<(&str, &str)> {
    context.iter().nth(index).ok_or(sealwire_result::INVALID_PARAMETER)
}

/// The key of entry `index` (0 ..= count - 1, in canonical order: sorted by the keys' bytes),
/// as UTF-8 bytes without a NUL, following the output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_PARAMETER
/// (`index` out of range).
///
/// # Safety
/// `context` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_context_key_at(
    context: *const sealwire_context,
    index: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        let out = OutBuf::new(out, out_len, written)?;
        let (key, _) = entry_at(&context.inner, index)?;
        // SAFETY: `out`/`written` writable (caller contract); the key is ours.
        unsafe { out.fill(key.as_bytes()) }
    })
}

/// The value of entry `index` (same order as `sealwire_context_key_at()`), as UTF-8 bytes
/// without a NUL, following the output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_PARAMETER
/// (`index` out of range).
///
/// # Safety
/// As `sealwire_context_key_at()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_context_value_at(
    context: *const sealwire_context,
    index: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        let out = OutBuf::new(out, out_len, written)?;
        let (_, value) = entry_at(&context.inner, index)?;
        // SAFETY: `out`/`written` writable (caller contract); the value is ours.
        unsafe { out.fill(value.as_bytes()) }
    })
}

/// The value stored under `key` (UTF-8 bytes), as UTF-8 bytes without a NUL, following the
/// output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_BUFFER_TOO_SMALL,
/// SEALWIRE_KEY_NOT_FOUND (no such key).
///
/// # Safety
/// `context` is NULL or a live handle; `key` is NULL (only with length 0) or readable for
/// `key_len` bytes; `out` is NULL or writable for `out_len` bytes; `written` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_context_get(
    context: *const sealwire_context,
    key: *const u8,
    key_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        // SAFETY: readable for `key_len` bytes (caller contract).
        let key = unsafe { try_utf8(key, key_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        let value = context.inner.get(key).ok_or(sealwire_result::KEY_NOT_FOUND)?;
        // SAFETY: `out`/`written` writable (caller contract); the value is ours.
        unsafe { out.fill(value.as_bytes()) }
    })
}

/// Whether two contexts hold exactly the same entries (what opening an envelope compares).
/// Returns false if either pointer is NULL.
///
/// # Safety
/// `a` and `b` are NULL or live handles.
#[no_mangle]
pub unsafe extern "C" fn sealwire_context_equal(a: *const sealwire_context, b: *const sealwire_context) -> bool {
    guard(false, || {
        // SAFETY: NULL or live handles (caller contract).
        match unsafe { (try_ref(a), try_ref(b)) } {
            (Ok(a), Ok(b)) => a.inner == b.inner,
            _ => false,
        }
    })
}

/// Free a context. `context` may be NULL (no-op).
///
/// # Safety
/// `context` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another thread; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_context_free(context: *mut sealwire_context) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(context) }
    })
}
