//! Asynchronous sessions, part 2: `sealwire_prekey_store`, the owner's private prekeys.

use sealwire_core::ratchet::{PrekeyOptions, PrekeyStore, MAX_PREKEYS};

use crate::identity::sealwire_identity;
use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_mut, try_ref, try_slice, write_handle, write_owned_bytes, Out};
use crate::public::sealwire_public_identity;
use crate::ratchet_bundle::sealwire_prekey_bundle;
use crate::ratchet_tape::with_tape;
use crate::result::{sealwire_result, FfiResult};
use crate::slot::Slot;

/// Prekey counts from C (`uint32_t`, so no silent truncation to the core's `u16`). More than
/// SEALWIRE_RATCHET_MAX_PREKEYS of a kind is refused here already (the core refuses it too),
/// so that `sealwire_messenger_create()` fails before it touches a file.
pub(crate) fn prekey_options(one_time: u32, kem_one_time: u32, post_quantum: bool) -> FfiResult<PrekeyOptions> {
    let count = |n: u32| {
        u16::try_from(n)
            .ok()
            .filter(|n| usize::from(*n) <= MAX_PREKEYS)
            .ok_or(sealwire_result::INVALID_PARAMETER)
    };
    Ok(PrekeyOptions {
        one_time_prekeys: count(one_time)?,
        kem_one_time_prekeys: count(kem_one_time)?,
        post_quantum,
    })
}

/// The owner's private prekeys: the current and recently replaced signed prekeys, the unused
/// one-time X25519 prekeys and the ML-KEM-768 prekeys (post-quantum stores). Its public half
/// is `sealwire_prekey_store_bundle()`.
///
/// Opaque. Created by `sealwire_prekey_store_generate()` or `sealwire_prekey_store_open*()`;
/// owned by the caller, who releases it once with `sealwire_prekey_store_free()`, which
/// zeroizes the private keys. Changed by `_rotate_signed_prekey()`, `_replenish()`,
/// `_remove_expired_signed_prekeys()` and `sealwire_ratchet_session_accept()` (which deletes
/// the one-time prekeys it used): seal and store it after each of them, together with the
/// session `accept` created. A failed call changes nothing. Not for concurrent use: one
/// thread at a time (it may move between threads). A handle whose call panicked is poisoned
/// (later calls return SEALWIRE_PANIC).
#[derive(Debug)] // redacted: core prints counts only
pub struct sealwire_prekey_store {
    pub(crate) slot: Slot<PrekeyStore>,
}

impl sealwire_prekey_store {
    fn new(inner: PrekeyStore) -> Self {
        Self { slot: Slot::new(inner) }
    }
}

/// Generate a prekey store for `identity`: a signed prekey dated `now_unix` (Unix seconds,
/// for rotation decisions), `one_time_prekeys` one-time X25519 prekeys and, if
/// `post_quantum`, `kem_one_time_prekeys` one-time ML-KEM-768 prekeys plus a last-resort one
/// (each count 0 ..= SEALWIRE_RATCHET_MAX_PREKEYS; the suggested values are
/// SEALWIRE_RATCHET_DEFAULT_*). Without `post_quantum` only X3DH is possible. ML-KEM key
/// generation makes this take a few milliseconds per hundred prekeys.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (a count above 1000),
/// SEALWIRE_RANDOMNESS.
///
/// # Safety
/// `identity` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_generate(
    identity: *const sealwire_identity,
    one_time_prekeys: u32,
    kem_one_time_prekeys: u32,
    post_quantum: bool,
    now_unix: u64,
    out: *mut *mut sealwire_prekey_store,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        let out = Out::new(out)?;
        let options = prekey_options(one_time_prekeys, kem_one_time_prekeys, post_quantum)?;
        let inner = PrekeyStore::generate_with_options(&identity.inner, options, now_unix)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_prekey_store::new(inner)) };
        Ok(())
    })
}

/// TESTING ONLY -- `sealwire_prekey_store_generate()` with every random byte taken from
/// `random` (the tape of tests/vectors/ratchet.json: signed prekey (32), each one-time
/// X25519 secret (32), each one-time ML-KEM seed (64), the last-resort ML-KEM seed (64)), to
/// reproduce test vectors. The private keys are then known to whoever knows the tape: never
/// call this in production code.
///
/// Errors: as `sealwire_prekey_store_generate()`; SEALWIRE_INVALID_PARAMETER also when the
/// tape is too short or not used up exactly (no handle is created then).
///
/// # Safety
/// `identity` is NULL or a live handle; `random` is NULL (only with length 0) or readable for
/// `random_len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_generate_for_vectors(
    identity: *const sealwire_identity,
    one_time_prekeys: u32,
    kem_one_time_prekeys: u32,
    post_quantum: bool,
    now_unix: u64,
    random: *const u8,
    random_len: usize,
    out: *mut *mut sealwire_prekey_store,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        // SAFETY: readable for `random_len` bytes (caller contract).
        let random = unsafe { try_slice(random, random_len) }?;
        let out = Out::new(out)?;
        let options = prekey_options(one_time_prekeys, kem_one_time_prekeys, post_quantum)?;
        let inner = with_tape(random, |t| PrekeyStore::generate_with_entropy(&identity.inner, options, now_unix, t))?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_prekey_store::new(inner)) };
        Ok(())
    })
}

/// The owner's public identity, as a NEW `sealwire_public_identity` handle.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// `store` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_identity(
    store: *const sealwire_prekey_store,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let store = unsafe { try_ref(store) }?;
        let out = Out::new(out)?;
        let inner = store.slot.get()?.identity().clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// The full bundle to publish (current signed prekey, every unused one-time prekey, the
/// unused one-time ML-KEM prekeys and the current last-resort one), as a NEW
/// `sealwire_prekey_bundle` handle. Fetch it again after every change of the store.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// `store` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_bundle(
    store: *const sealwire_prekey_store,
    out: *mut *mut sealwire_prekey_bundle,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let store = unsafe { try_ref(store) }?;
        let out = Out::new(out)?;
        let inner = store.slot.get()?.bundle();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_prekey_bundle { inner }) };
        Ok(())
    })
}

/// Read one value of a store into `*out`.
///
/// # Safety
/// `store` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable.
unsafe fn get<T>(
    store: *const sealwire_prekey_store,
    out: *mut T,
    f: impl FnOnce(&PrekeyStore) -> T,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let store = unsafe { try_ref(store) }?;
        let out = Out::new(out)?;
        let value = f(store.slot.get()?);
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(value) };
        Ok(())
    })
}

/// The number of unused one-time X25519 prekeys, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// `store` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_one_time_prekey_count(
    store: *const sealwire_prekey_store,
    out: *mut usize,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { get(store, out, PrekeyStore::one_time_prekey_count) }
}

/// The number of unused one-time ML-KEM-768 prekeys, in `*out` (0 for a store that is not
/// post-quantum).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// As `sealwire_prekey_store_one_time_prekey_count()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_kem_one_time_prekey_count(
    store: *const sealwire_prekey_store,
    out: *mut usize,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { get(store, out, PrekeyStore::kem_one_time_prekey_count) }
}

/// The id of the current signed prekey, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// As `sealwire_prekey_store_one_time_prekey_count()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_signed_prekey_id(
    store: *const sealwire_prekey_store,
    out: *mut u32,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { get(store, out, PrekeyStore::signed_prekey_id) }
}

/// When the current signed prekey was made (the `now_unix` given then), in `*out`: rotate
/// it with `sealwire_prekey_store_rotate_signed_prekey()` when it is old enough (weekly to
/// monthly).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// As `sealwire_prekey_store_one_time_prekey_count()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_signed_prekey_created_at(
    store: *const sealwire_prekey_store,
    out: *mut u64,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { get(store, out, PrekeyStore::signed_prekey_created_at) }
}

/// The generation: incremented by every change (and written into the sealed form), in
/// `*out`. Record it with every sealed copy you commit and pass it to
/// `sealwire_prekey_store_open_checked()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// As `sealwire_prekey_store_one_time_prekey_count()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_generation(
    store: *const sealwire_prekey_store,
    out: *mut u64,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { get(store, out, PrekeyStore::generation) }
}

/// Replace the signed prekey (and, post-quantum, the last-resort ML-KEM prekey), dating the
/// new one `now_unix`. The old ones keep accepting initial messages until
/// `sealwire_prekey_store_remove_expired_signed_prekeys()` drops them (at most 8 are kept).
/// Publish the new bundle afterwards. `identity` must be the owner.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_IDENTITY_MISMATCH (not the owner),
/// SEALWIRE_RANDOMNESS, SEALWIRE_PANIC (poisoned handle). The store is unchanged after any
/// error.
///
/// # Safety
/// `store` is NULL or a live handle not used concurrently; `identity` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_rotate_signed_prekey(
    store: *mut sealwire_prekey_store,
    identity: *const sealwire_identity,
    now_unix: u64,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let store = unsafe { try_mut(store) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        store
            .slot
            .with_mut(|s| Ok(s.rotate_signed_prekey(&identity.inner, now_unix)?))
    })
}

/// Forget replaced signed prekeys (and last-resort ML-KEM prekeys) retired more than
/// `grace_secs` before `now_unix` (suggested: SEALWIRE_RATCHET_DEFAULT_SIGNED_PREKEY_GRACE_SECS);
/// `*removed` receives how many signed prekeys went. The generation changes only if some did.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// `store` is NULL or a live handle not used concurrently; `removed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_remove_expired_signed_prekeys(
    store: *mut sealwire_prekey_store,
    now_unix: u64,
    grace_secs: u64,
    removed: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let store = unsafe { try_mut(store) }?;
        let removed = Out::new(removed)?;
        let n = store
            .slot
            .with_mut(|s| Ok(s.remove_expired_signed_prekeys(now_unix, grace_secs)))?;
        // SAFETY: `removed` is writable (caller contract).
        unsafe { removed.write(n) };
        Ok(())
    })
}

/// Generate one-time prekeys (X25519 and, post-quantum, ML-KEM-768) until the counts given
/// at generation are reached again; publish the new bundle afterwards. `identity` must be
/// the owner.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_IDENTITY_MISMATCH, SEALWIRE_INVALID_PARAMETER (the
/// prekey id space is used up), SEALWIRE_RANDOMNESS, SEALWIRE_PANIC (poisoned handle). The
/// store is unchanged after any error.
///
/// # Safety
/// `store` is NULL or a live handle not used concurrently; `identity` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_replenish(
    store: *mut sealwire_prekey_store,
    identity: *const sealwire_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let store = unsafe { try_mut(store) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        store.slot.with_mut(|s| Ok(s.replenish(&identity.inner)?))
    })
}

/// Seal the store under a 32-byte storage key (SEALWIRE_RATCHET_STORAGE_KEY_LEN) into an
/// `SWPS` blob carrying the generation (authenticated).
///
/// On success `*out_blob` / `*out_blob_len` receive a buffer allocated by this library
/// (randomized output, so no length query): release it with `sealwire_bytes_free()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (storage key not 32 bytes),
/// SEALWIRE_RANDOMNESS, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// `store` is NULL or a live handle not being modified concurrently; `storage_key` is NULL
/// (only with length 0) or readable for `storage_key_len` bytes; `out_blob` and
/// `out_blob_len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_seal(
    store: *const sealwire_prekey_store,
    storage_key: *const u8,
    storage_key_len: usize,
    out_blob: *mut *mut u8,
    out_blob_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let store = unsafe { try_ref(store) }?;
        // SAFETY: readable for `storage_key_len` bytes (caller contract).
        let key = unsafe { try_slice(storage_key, storage_key_len) }?;
        let out_blob = Out::new(out_blob)?;
        let out_blob_len = Out::new(out_blob_len)?;
        let blob = store.slot.get()?.seal(key)?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_blob, out_blob_len, blob) };
        Ok(())
    })
}

/// TESTING ONLY -- `sealwire_prekey_store_seal()` with the 24-byte nonce taken from `random`,
/// to reproduce test vectors. Reusing a nonce under one storage key breaks the encryption:
/// never call this in production code.
///
/// Errors: as `sealwire_prekey_store_seal()`; SEALWIRE_INVALID_PARAMETER also when the tape
/// is not exactly 24 bytes.
///
/// # Safety
/// As `sealwire_prekey_store_seal()`; `random` is NULL (only with length 0) or readable for
/// `random_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_seal_for_vectors(
    store: *const sealwire_prekey_store,
    storage_key: *const u8,
    storage_key_len: usize,
    random: *const u8,
    random_len: usize,
    out_blob: *mut *mut u8,
    out_blob_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let store = unsafe { try_ref(store) }?;
        // SAFETY: readable for `storage_key_len` bytes (caller contract).
        let key = unsafe { try_slice(storage_key, storage_key_len) }?;
        // SAFETY: readable for `random_len` bytes (caller contract).
        let random = unsafe { try_slice(random, random_len) }?;
        let out_blob = Out::new(out_blob)?;
        let out_blob_len = Out::new(out_blob_len)?;
        let s = store.slot.get()?;
        let blob = with_tape(random, |t| s.seal_with_entropy(key, t))?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_blob, out_blob_len, blob) };
        Ok(())
    })
}

/// Open a sealed prekey store. Strict; a wrong key or any modification is
/// SEALWIRE_DECRYPTION_FAILED. Compare `sealwire_prekey_store_generation()` with the
/// generation you last committed, or use `sealwire_prekey_store_open_checked()`: an old copy
/// would accept one-time prekeys already used.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (storage key), SEALWIRE_TRUNCATED,
/// SEALWIRE_BAD_MAGIC, SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_MALFORMED,
/// SEALWIRE_DECRYPTION_FAILED.
///
/// # Safety
/// `blob` and `storage_key` are NULL (only with length 0) or readable for their lengths; `out`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_open(
    blob: *const u8,
    blob_len: usize,
    storage_key: *const u8,
    storage_key_len: usize,
    out: *mut *mut sealwire_prekey_store,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `blob_len` bytes (caller contract).
        let blob = unsafe { try_slice(blob, blob_len) }?;
        // SAFETY: readable for `storage_key_len` bytes (caller contract).
        let key = unsafe { try_slice(storage_key, storage_key_len) }?;
        let out = Out::new(out)?;
        let inner = PrekeyStore::open(blob, key)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_prekey_store::new(inner)) };
        Ok(())
    })
}

/// `sealwire_prekey_store_open()`, refusing a store whose generation is below
/// `expected_generation` (the generation last committed) with SEALWIRE_STALE_STATE.
///
/// Errors: as `sealwire_prekey_store_open()`, and SEALWIRE_STALE_STATE.
///
/// # Safety
/// As `sealwire_prekey_store_open()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_open_checked(
    blob: *const u8,
    blob_len: usize,
    storage_key: *const u8,
    storage_key_len: usize,
    expected_generation: u64,
    out: *mut *mut sealwire_prekey_store,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `blob_len` bytes (caller contract).
        let blob = unsafe { try_slice(blob, blob_len) }?;
        // SAFETY: readable for `storage_key_len` bytes (caller contract).
        let key = unsafe { try_slice(storage_key, storage_key_len) }?;
        let out = Out::new(out)?;
        let inner = PrekeyStore::open_checked(blob, key, expected_generation)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_prekey_store::new(inner)) };
        Ok(())
    })
}

/// Free a prekey store and zeroize its private keys. `store` may be NULL (no-op).
///
/// # Safety
/// `store` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_prekey_store_free(store: *mut sealwire_prekey_store) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(store) }
    })
}
