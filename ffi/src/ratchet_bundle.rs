//! Asynchronous sessions, part 1: constants, `sealwire_key_agreement` and
//! `sealwire_prekey_bundle` (the published `SWPB` bundle).
//!
//! Flow in C: the owner keeps a `sealwire_prekey_store` (or a `sealwire_messenger`) and
//! publishes its bundle (`sealwire_prekey_bundle_to_bytes()`); an initiator decodes it with
//! `sealwire_prekey_bundle_from_bytes()` and starts a `sealwire_ratchet_session` (or
//! `sealwire_messenger_connect()`) while the owner is offline.

use sealwire_core::ratchet::{self, KeyAgreement, PrekeyBundle};

use crate::panic::{guard, guard_result};
use crate::ptr::{fill_array, free_handle, try_ref, try_slice, write_handle, Out, OutBuf};
use crate::public::sealwire_public_identity;
use crate::result::sealwire_result;

/// Length of the storage key that seals prekey stores, sessions and messenger stores, in
/// bytes.
pub const SEALWIRE_RATCHET_STORAGE_KEY_LEN: usize = 32;
/// Length of a session id (`sealwire_ratchet_session_session_id()`), in bytes.
pub const SEALWIRE_RATCHET_SESSION_ID_LEN: usize = 32;
/// Largest plaintext of one ratchet message (16 MiB), in bytes.
pub const SEALWIRE_RATCHET_MAX_PLAINTEXT_LEN: usize = 16777216;
/// Most one-time prekeys of each kind (X25519, ML-KEM-768) a store or bundle may hold.
pub const SEALWIRE_RATCHET_MAX_PREKEYS: usize = 1000;
/// Suggested number of one-time X25519 prekeys.
pub const SEALWIRE_RATCHET_DEFAULT_ONE_TIME_PREKEYS: u32 = 100;
/// Suggested number of one-time ML-KEM-768 prekeys.
pub const SEALWIRE_RATCHET_DEFAULT_KEM_ONE_TIME_PREKEYS: u32 = 100;
/// Suggested grace period (30 days, in seconds) for a replaced signed prekey, for
/// `sealwire_prekey_store_remove_expired_signed_prekeys()`.
pub const SEALWIRE_RATCHET_DEFAULT_SIGNED_PREKEY_GRACE_SECS: u64 = 2592000;
/// Most message keys one receiving chain may skip (a message further ahead is refused with
/// SEALWIRE_TOO_MANY_SKIPPED_MESSAGES).
pub const SEALWIRE_RATCHET_MAX_SKIP: u32 = 1000;

const _: () = assert!(SEALWIRE_RATCHET_STORAGE_KEY_LEN == ratchet::STORAGE_KEY_LEN);
const _: () = assert!(SEALWIRE_RATCHET_MAX_PLAINTEXT_LEN == ratchet::MAX_PLAINTEXT_LEN);
const _: () = assert!(SEALWIRE_RATCHET_MAX_PREKEYS == ratchet::MAX_PREKEYS);
const _: () = assert!(SEALWIRE_RATCHET_DEFAULT_ONE_TIME_PREKEYS == ratchet::DEFAULT_ONE_TIME_PREKEYS as u32);
const _: () = assert!(SEALWIRE_RATCHET_DEFAULT_KEM_ONE_TIME_PREKEYS == ratchet::DEFAULT_KEM_ONE_TIME_PREKEYS as u32);
const _: () = assert!(SEALWIRE_RATCHET_DEFAULT_SIGNED_PREKEY_GRACE_SECS == ratchet::DEFAULT_SIGNED_PREKEY_GRACE_SECS);
const _: () = assert!(SEALWIRE_RATCHET_MAX_SKIP == ratchet::MAX_SKIP);

/// Which key agreement started a session: SEALWIRE_KEY_AGREEMENT_X3DH or
/// SEALWIRE_KEY_AGREEMENT_PQXDH (the values of the initial message's agreement byte).
pub type sealwire_key_agreement = u32;
/// X3DH (Signal, revision 1): X25519 only.
pub const SEALWIRE_KEY_AGREEMENT_X3DH: sealwire_key_agreement = 1;
/// PQXDH (Signal): X3DH plus an ML-KEM-768 encapsulation.
pub const SEALWIRE_KEY_AGREEMENT_PQXDH: sealwire_key_agreement = 2;

pub(crate) fn key_agreement(k: KeyAgreement) -> sealwire_key_agreement {
    match k {
        KeyAgreement::X3dh => SEALWIRE_KEY_AGREEMENT_X3DH,
        KeyAgreement::Pqxdh => SEALWIRE_KEY_AGREEMENT_PQXDH,
    }
}

/// A published prekey bundle: the owner's public identity, its signed X25519 prekey, unused
/// one-time X25519 prekeys and (post-quantum owners) signed ML-KEM-768 prekeys. A handle
/// always holds a verified bundle (identity, every signature and every key checked).
///
/// Opaque. Created by `sealwire_prekey_bundle_from_bytes()`, `sealwire_prekey_bundle_select()`,
/// `sealwire_prekey_store_bundle()` or `sealwire_messenger_bundle()`; owned by the caller, who
/// releases it once with `sealwire_prekey_bundle_free()`. Never modified after creation, so it
/// may be used from several threads at once (not across a concurrent `_free`).
#[derive(Debug)] // redacted: core prints counts only
pub struct sealwire_prekey_bundle {
    pub(crate) inner: PrekeyBundle,
}

/// Decode and verify a prekey bundle (`SWPB`).
///
/// Strict: truncation, trailing bytes, wrong magic or version, unknown flags or KEM types,
/// unordered ids, KEM prekeys that do not match the post-quantum flag, invalid keys and every
/// bad signature are errors. On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER; SEALWIRE_TRUNCATED, SEALWIRE_TRAILING_BYTES,
/// SEALWIRE_BAD_MAGIC, SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_UNSUPPORTED_ALGORITHM,
/// SEALWIRE_MALFORMED; SEALWIRE_INVALID_PUBLIC_KEY, SEALWIRE_BAD_SIGNATURE.
///
/// # Safety
/// `bytes` is NULL (only with `len` 0) or readable for `len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut sealwire_prekey_bundle,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `len` bytes (caller contract).
        let bytes = unsafe { try_slice(bytes, len) }?;
        let out = Out::new(out)?;
        let inner = PrekeyBundle::from_bytes(bytes)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_prekey_bundle { inner }) };
        Ok(())
    })
}

/// The canonical encoding of the bundle (what to publish), following the output-buffer
/// convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `bundle` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes; `written`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_to_bytes(
    bundle: *const sealwire_prekey_bundle,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let bundle = unsafe { try_ref(bundle) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the encoding is ours.
        unsafe { out.fill(&bundle.inner.to_bytes()) }
    })
}

/// The owner's public identity, as a NEW `sealwire_public_identity` handle owned by the caller
/// (independent of `bundle`).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `bundle` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_identity(
    bundle: *const sealwire_prekey_bundle,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let bundle = unsafe { try_ref(bundle) }?;
        let out = Out::new(out)?;
        let inner = bundle.inner.identity().clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// Whether the owner publishes ML-KEM-768 prekeys (then every session started from this
/// bundle uses PQXDH; the flag is signed, so it cannot be stripped). False if `bundle` is NULL.
///
/// # Safety
/// `bundle` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_is_post_quantum(bundle: *const sealwire_prekey_bundle) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { try_ref(bundle) }.is_ok_and(|b| b.inner.is_post_quantum())
    })
}

/// The id of the signed prekey, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `bundle` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_signed_prekey_id(
    bundle: *const sealwire_prekey_bundle,
    out: *mut u32,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let bundle = unsafe { try_ref(bundle) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(bundle.inner.signed_prekey_id()) };
        Ok(())
    })
}

/// The number of one-time X25519 prekeys in the bundle, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `bundle` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_one_time_prekey_count(
    bundle: *const sealwire_prekey_bundle,
    out: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let bundle = unsafe { try_ref(bundle) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(bundle.inner.one_time_prekey_ids().len()) };
        Ok(())
    })
}

/// The ids of the one-time X25519 prekeys, increasing, into the array `out` of `out_len`
/// elements (the output-buffer convention counted in elements: `*written` = the number of ids;
/// SEALWIRE_BUFFER_TOO_SMALL if `out` is NULL or shorter).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `bundle` is NULL or a live handle; `out` is NULL or writable for `out_len` elements;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_one_time_prekey_ids(
    bundle: *const sealwire_prekey_bundle,
    out: *mut u32,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let bundle = unsafe { try_ref(bundle) }?;
        let written = Out::new(written)?;
        let ids = bundle.inner.one_time_prekey_ids();
        // SAFETY: `out` writable for `out_len` elements, `written` writable (caller contract).
        unsafe { fill_array(out, out_len, written, &ids) }
    })
}

/// The number of one-time ML-KEM-768 prekeys (the last-resort one not counted), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `bundle` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_kem_one_time_prekey_count(
    bundle: *const sealwire_prekey_bundle,
    out: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let bundle = unsafe { try_ref(bundle) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(bundle.inner.kem_one_time_prekey_ids().len()) };
        Ok(())
    })
}

/// The ids of the one-time ML-KEM-768 prekeys, increasing, as
/// `sealwire_prekey_bundle_one_time_prekey_ids()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// As `sealwire_prekey_bundle_one_time_prekey_ids()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_kem_one_time_prekey_ids(
    bundle: *const sealwire_prekey_bundle,
    out: *mut u32,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let bundle = unsafe { try_ref(bundle) }?;
        let written = Out::new(written)?;
        let ids = bundle.inner.kem_one_time_prekey_ids();
        // SAFETY: `out` writable for `out_len` elements, `written` writable (caller contract).
        unsafe { fill_array(out, out_len, written, &ids) }
    })
}

/// The id of the last-resort ML-KEM-768 prekey, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_KEY_NOT_FOUND (the bundle has none: not
/// post-quantum, or a selection naming a one-time ML-KEM prekey).
///
/// # Safety
/// `bundle` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_kem_last_resort_prekey_id(
    bundle: *const sealwire_prekey_bundle,
    out: *mut u32,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let bundle = unsafe { try_ref(bundle) }?;
        let out = Out::new(out)?;
        let id = bundle
            .inner
            .kem_last_resort_prekey_id()
            .ok_or(sealwire_result::KEY_NOT_FOUND)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(id) };
        Ok(())
    })
}

/// The bundle a directory hands to one initiator: the signed prekey, the one-time X25519
/// prekey `one_time_id` (only if `use_one_time`), and the ML-KEM-768 prekey `kem_id` (if
/// `use_kem`; otherwise the last-resort one). On success `*out` receives a NEW handle.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_UNKNOWN_PREKEY (an id not in the bundle),
/// SEALWIRE_MALFORMED (the selection would break the bundle's rules, e.g. no ML-KEM prekey
/// left for a post-quantum bundle).
///
/// # Safety
/// `bundle` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_select(
    bundle: *const sealwire_prekey_bundle,
    use_one_time: bool,
    one_time_id: u32,
    use_kem: bool,
    kem_id: u32,
    out: *mut *mut sealwire_prekey_bundle,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let bundle = unsafe { try_ref(bundle) }?;
        let out = Out::new(out)?;
        let inner = bundle
            .inner
            .select(use_one_time.then_some(one_time_id), use_kem.then_some(kem_id))?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_prekey_bundle { inner }) };
        Ok(())
    })
}

/// Whether two bundles are identical (same encoding). False if either pointer is NULL.
///
/// # Safety
/// `a` and `b` are NULL or live handles.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_equal(
    a: *const sealwire_prekey_bundle,
    b: *const sealwire_prekey_bundle,
) -> bool {
    guard(false, || {
        // SAFETY: NULL or live handles (caller contract).
        match unsafe { (try_ref(a), try_ref(b)) } {
            (Ok(a), Ok(b)) => a.inner == b.inner,
            _ => false,
        }
    })
}

/// Free a bundle handle. `bundle` may be NULL (no-op).
///
/// # Safety
/// `bundle` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_bundle_free(bundle: *mut sealwire_prekey_bundle) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(bundle) }
    })
}
