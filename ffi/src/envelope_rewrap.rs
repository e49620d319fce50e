//! `sealwire_envelope_rewrap`: change an envelope's wrapped-key entries (add a recipient or
//! KEK, remove one, re-wrap under a rotated key version) without touching the payload.

use core::ffi::c_char;

use sealwire_core::envelope::{DataKey, KeyProvider, Rewrap, WrapContext, WrappedKey};
use sealwire_core::Error;

use crate::envelope::sealwire_envelope_header;
use crate::envelope_context::sealwire_context;
use crate::key_set::sealwire_key_set;
use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_mut, try_ref, try_slice, try_str, write_handle, Out, OutBuf};
use crate::result::{sealwire_result, FfiResult};
use crate::slot::Slot;

/// An envelope header opened for editing its wrapped-key entries. Opening authenticates the
/// envelope like `sealwire_envelope_open()` (context, unwrap, key commitment, header tag) and
/// keeps the data key (zeroized on free); edits change only the entry list; the new header
/// gets a fresh tag and the payload bytes are reused unchanged.
///
/// Opaque. Created by `sealwire_envelope_rewrap_open()`; owned by the caller, who releases it
/// once with `sealwire_envelope_rewrap_free()`. Not for concurrent use (it may move between
/// threads). A failed call changes nothing; a rewrap whose call panicked is poisoned
/// (SEALWIRE_PANIC).
#[derive(Debug)]
pub struct sealwire_envelope_rewrap {
    slot: Slot<Rewrap>,
}

/// A provider that "wraps" by returning a stored entry: puts saved entries back after a
/// failed edit (core's `Rewrap` has no other way to insert an existing entry).
struct Restore(WrappedKey);

impl KeyProvider for Restore {
    fn provider_id(&self) -> &str {
        self.0.provider()
    }
    fn key_id(&self) -> String {
        self.0.key_id().to_owned()
    }
    fn key_version(&self) -> u32 {
        self.0.key_version()
    }
    fn owns(&self, _entry: &WrappedKey) -> bool {
        false
    }
    fn wrap(&self, _dek: &DataKey, _ctx: &WrapContext<'_>) -> sealwire_core::Result<WrappedKey> {
        Ok(self.0.clone())
    }
    fn unwrap(&self, _entry: &WrappedKey, _ctx: &WrapContext<'_>) -> sealwire_core::Result<DataKey> {
        Err(Error::NoMatchingKey)
    }
}

/// Run an edit of several steps; if it fails, put the entry list back as it was.
fn transactional<T>(rw: &mut Rewrap, edit: impl FnOnce(&mut Rewrap) -> FfiResult<T>) -> FfiResult<T> {
    let saved: Vec<WrappedKey> = rw.header().wrapped_keys().to_vec();
    let result = edit(rw);
    if result.is_err() {
        rw.remove_where(|_| true);
        for entry in saved {
            // Cannot fail: `Restore::wrap` returns the entry. (Two saved entries with the same
            // provider, key id and version would collapse into one; headers made by sealwire
            // never hold such duplicates.)
            let _ = rw.add(&Restore(entry));
        }
    }
    result
}

/// Authenticate the header at the start of `sealed` (the payload may follow, or not: only the
/// header is read) with `context` and the providers of `key_set`, and open it for editing.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: as `sealwire_envelope_open()` up to and including the header checks
/// (no payload errors).
///
/// # Safety
/// `sealed` is NULL (only with length 0) or readable for `sealed_len` bytes; `context` and
/// `key_set` are NULL or live handles; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_rewrap_open(
    sealed: *const u8,
    sealed_len: usize,
    context: *const sealwire_context,
    key_set: *const sealwire_key_set,
    out: *mut *mut sealwire_envelope_rewrap,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `sealed_len` bytes (caller contract).
        let sealed = unsafe { try_slice(sealed, sealed_len) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out = Out::new(out)?;
        let rewrap = Rewrap::open(sealed, &context.inner, &key_set.as_dyn())?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_envelope_rewrap { slot: Slot::new(rewrap) }) };
        Ok(())
    })
}

/// Add an entry wrapping the data key for every provider of `key_set` (new recipients or
/// KEKs; an existing entry with the same provider, key id and version is replaced). All or
/// nothing: if one provider fails, the entries are left as they were.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (empty key set), provider errors
/// (SEALWIRE_KEY_NOT_FOUND, SEALWIRE_PROVIDER_FAILED, SEALWIRE_IO, SEALWIRE_RANDOMNESS,
/// SEALWIRE_KMS_*).
///
/// # Safety
/// `rewrap` is NULL or a live handle not used concurrently; `key_set` is NULL or a live
/// handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_rewrap_add(
    rewrap: *mut sealwire_envelope_rewrap,
    key_set: *const sealwire_key_set,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let rewrap = unsafe { try_mut(rewrap) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        if key_set.providers.is_empty() {
            return Err(sealwire_result::INVALID_PARAMETER);
        }
        rewrap.slot.with_mut(|rw| {
            transactional(rw, |rw| {
                for p in key_set.as_dyn() {
                    rw.add(p)?;
                }
                Ok(())
            })
        })
    })
}

/// Remove every entry of provider `provider_id` with key id `key_id` (all versions; both
/// NUL-terminated); `*out_removed` receives how many (0 is not an error). Removing the last
/// entry is allowed here, but `_header_bytes()` / `_apply()` then refuse
/// (SEALWIRE_INVALID_PARAMETER): an envelope keeps at least one entry.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8.
///
/// # Safety
/// `rewrap` is NULL or a live handle not used concurrently; `provider_id` and `key_id` are
/// NULL or NUL-terminated; `out_removed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_rewrap_remove(
    rewrap: *mut sealwire_envelope_rewrap,
    provider_id: *const c_char,
    key_id: *const c_char,
    out_removed: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let rewrap = unsafe { try_mut(rewrap) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let provider_id = unsafe { try_str(provider_id) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let key_id = unsafe { try_str(key_id) }?;
        let out_removed = Out::new(out_removed)?;
        let n = rewrap.slot.with_mut(|rw| Ok(rw.remove(provider_id, key_id)))?;
        // SAFETY: `out_removed` is writable (caller contract).
        unsafe { out_removed.write(n) };
        Ok(())
    })
}

/// Re-wrap every entry that a provider of `key_set` owns under that provider's current key
/// version (after a keyring rotation: the entries of the rotated key move to its new primary
/// version; a KMS key re-wraps on the server, where the data key stays: Vault Transit
/// `rewrap` to the key's latest version, AWS `ReEncrypt`); `*out_replaced` receives how many
/// entries were replaced. All or nothing.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_KEY_RETIRED, SEALWIRE_HEADER_AUTH_FAILED, provider
/// errors.
///
/// # Safety
/// `rewrap` is NULL or a live handle not used concurrently; `key_set` is NULL or a live
/// handle; `out_replaced` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_rewrap_rotate(
    rewrap: *mut sealwire_envelope_rewrap,
    key_set: *const sealwire_key_set,
    out_replaced: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let rewrap = unsafe { try_mut(rewrap) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out_replaced = Out::new(out_replaced)?;
        let n = rewrap.slot.with_mut(|rw| {
            transactional(rw, |rw| {
                let mut n = 0usize;
                for p in key_set.as_dyn() {
                    n += rw.rewrap_with(p)?;
                }
                Ok(n)
            })
        })?;
        // SAFETY: `out_replaced` is writable (caller contract).
        unsafe { out_replaced.write(n) };
        Ok(())
    })
}

/// The header as edited so far, as a NEW handle owned by the caller (entries reflect the
/// edits; free it with `sealwire_envelope_header_free()`).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `rewrap` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_rewrap_header(
    rewrap: *const sealwire_envelope_rewrap,
    out: *mut *mut sealwire_envelope_header,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let rewrap = unsafe { try_ref(rewrap) }?;
        let out = Out::new(out)?;
        let inner = rewrap.slot.get()?.header().clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_envelope_header { inner }) };
        Ok(())
    })
}

/// The length of the header as it was read: the payload starts at this offset in the
/// original envelope. In `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `rewrap` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_rewrap_original_header_len(
    rewrap: *const sealwire_envelope_rewrap,
    out: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let rewrap = unsafe { try_ref(rewrap) }?;
        let out = Out::new(out)?;
        let n = rewrap.slot.get()?.original_header_len();
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(n) };
        Ok(())
    })
}

/// The new header alone (fresh header tag), by the output-buffer convention: for envelopes
/// kept in files, write it followed by the original bytes from offset
/// `sealwire_envelope_rewrap_original_header_len()` on. Deterministic for the current
/// entries, so a length query followed by the real call gives the same bytes.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_PARAMETER (no
/// entry left, or the header would exceed 1 MiB).
///
/// # Safety
/// `rewrap` is NULL or a live handle not used concurrently; `out` is NULL or writable for
/// `out_len` bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_rewrap_header_bytes(
    rewrap: *mut sealwire_envelope_rewrap,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let rewrap = unsafe { try_mut(rewrap) }?;
        let out = OutBuf::new(out, out_len, written)?;
        let bytes = rewrap.slot.with_mut(|rw| Ok(rw.header_bytes()?))?;
        // SAFETY: `out`/`written` writable (caller contract); the bytes are ours.
        unsafe { out.fill(&bytes) }
    })
}

/// The whole rewrapped envelope: the new header followed by the unchanged payload of
/// `sealed` (the same envelope given to `sealwire_envelope_rewrap_open()`, with its payload),
/// by the output-buffer convention. Deterministic: a length query gives the exact length.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, header decoding errors,
/// SEALWIRE_INVALID_PARAMETER (not the envelope this rewrap was opened on, or no entry left).
///
/// # Safety
/// `rewrap` is NULL or a live handle not used concurrently; `sealed` is NULL (only with
/// length 0) or readable for `sealed_len` bytes; `out` is NULL or writable for `out_len`
/// bytes and does not overlap `sealed`; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_rewrap_apply(
    rewrap: *mut sealwire_envelope_rewrap,
    sealed: *const u8,
    sealed_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let rewrap = unsafe { try_mut(rewrap) }?;
        // SAFETY: readable for `sealed_len` bytes (caller contract).
        let sealed = unsafe { try_slice(sealed, sealed_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        rewrap.slot.with_mut(|rw| {
            let header = rw.header_bytes()?;
            let original = rw.original_header_len();
            let payload_len = sealed.len().checked_sub(original).ok_or(sealwire_result::TRUNCATED)?;
            // SAFETY: `written` is writable (caller contract). Checked before copying.
            unsafe { out.reserve(header.len() + payload_len) }?;
            let bytes = rw.apply(sealed)?;
            // SAFETY: `out` writable for `out_len` bytes (caller contract); `fill` checks the
            // length again.
            unsafe { out.fill(&bytes) }
        })
    })
}

/// Free a rewrap handle (zeroizing the data key). `rewrap` may be NULL (no-op).
///
/// # Safety
/// `rewrap` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_rewrap_free(rewrap: *mut sealwire_envelope_rewrap) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(rewrap) }
    })
}
