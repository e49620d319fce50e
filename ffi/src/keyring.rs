//! `sealwire_keyring`: the local keyring of named, versioned key-encryption keys (KEKs),
//! with rotation, decryption cutoffs and sealed files (passphrase or root key).

use core::ffi::c_char;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use sealwire_core::envelope::{KeyVersionInfo, Keyring, RootKey};
use sealwire_core::KdfParams;

use crate::panic::{guard, guard_result};
use crate::ptr::{
    char_buf, fill_array, free_handle, try_path, try_ref, try_slice, try_str, write_handle, write_owned_bytes, Out,
    OutBuf,
};
use crate::result::{sealwire_result, FfiResult};

/// A keyring shared between its handle and the key sets it was added to.
pub(crate) type SharedKeyring = Arc<RwLock<Keyring>>;

/// Read access. A lock poisoned by a panic during an earlier change gives SEALWIRE_PANIC.
pub(crate) fn read(ring: &SharedKeyring) -> FfiResult<RwLockReadGuard<'_, Keyring>> {
    ring.read().map_err(|_| sealwire_result::PANIC)
}

/// Write access (same poisoning rule as [`read`]).
fn write(ring: &SharedKeyring) -> FfiResult<RwLockWriteGuard<'_, Keyring>> {
    ring.write().map_err(|_| sealwire_result::PANIC)
}

/// A local keyring: named key-encryption keys, each with versions; one version per key is
/// primary and wraps new data keys. Rotation adds a version and retires the previous primary,
/// which keeps unwrapping until its optional cutoff (SEALWIRE_KEY_RETIRED after it). Sealed
/// to bytes or files under a passphrase (Argon2id) or a 32-byte root key.
///
/// Opaque. Created by `sealwire_keyring_new()`, `_open_with_*()` or `_load_with_*()`; owned by
/// the caller, who releases it once with `sealwire_keyring_free()`, which zeroizes the keys
/// (unless a `sealwire_key_set` still shares them: then when the last one is freed).
///
/// Internally locked: every function may be called from several threads at once, also the
/// ones that change it (they take a `sealwire_keyring *`). A key set the keyring was added to
/// refers to the same keyring, not a copy: keys created or rotated later are used by that key
/// set too. A keyring whose change panicked (a bug) is poisoned: later calls return
/// SEALWIRE_PANIC (and key sets using it SEALWIRE_PROVIDER_FAILED).
#[derive(Debug)] // redacted: Keyring prints key ids only
pub struct sealwire_keyring {
    pub(crate) inner: SharedKeyring,
}

impl sealwire_keyring {
    fn new(ring: Keyring) -> Self {
        Self { inner: Arc::new(RwLock::new(ring)) }
    }
}

/// What a keyring tells about one key version (never the key material).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct sealwire_key_version_info {
    /// Version number (1 or more).
    pub version: u32,
    /// Whether this version wraps new data keys.
    pub primary: bool,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// When it stopped being primary, Unix seconds; 0 = still primary.
    pub retired_at: u64,
    /// After this Unix time the version refuses to unwrap (SEALWIRE_KEY_RETIRED); 0 = no
    /// cutoff.
    pub decrypt_until: u64,
}

impl From<KeyVersionInfo> for sealwire_key_version_info {
    fn from(v: KeyVersionInfo) -> Self {
        Self {
            version: v.version,
            primary: v.primary,
            created_at: v.created_at,
            retired_at: v.retired_at.unwrap_or(0),
            decrypt_until: v.decrypt_until.unwrap_or(0),
        }
    }
}

/// 0 means "none" in the C API's time arguments.
fn optional_time(t: u64) -> Option<u64> {
    (t != 0).then_some(t)
}

/// Create an empty keyring (no keys yet: `sealwire_keyring_create_key()`).
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_new(out: *mut *mut sealwire_keyring) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_keyring::new(Keyring::new())) };
        Ok(())
    })
}

/// Create key `key_id` with a random version 1 as primary; `*out_version` receives 1. The
/// first key created becomes the default key (the one the keyring as a whole wraps under).
/// Key ids are 1-255 bytes of `A-Z a-z 0-9 . _ - : /` (NUL-terminated).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_INVALID_PARAMETER (bad id,
/// the id exists already, or 4096 keys), SEALWIRE_RANDOMNESS.
///
/// # Safety
/// `keyring` is NULL or a live handle; `key_id` is NULL or NUL-terminated; `out_version` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_create_key(
    keyring: *mut sealwire_keyring,
    key_id: *const c_char,
    out_version: *mut u32,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let id = unsafe { try_str(key_id) }?;
        let out_version = Out::new(out_version)?;
        let mut ring = write(&keyring.inner)?;
        if ring.key_ids().iter().any(|k| k == id) {
            // Core would add a version 1 to an existing key; creating twice is a caller error.
            return Err(sealwire_result::INVALID_PARAMETER);
        }
        let version = ring.create_key(id)?;
        // SAFETY: `out_version` is writable (caller contract).
        unsafe { out_version.write(version) };
        Ok(())
    })
}

/// Rotate key `key_id`: add a random new version (highest + 1) as primary and retire the
/// previous primary, which keeps unwrapping until `old_decrypt_until` (Unix seconds; 0 = no
/// cutoff). `*out_version` receives the new version.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_KEY_NOT_FOUND,
/// SEALWIRE_INVALID_PARAMETER (65535 versions), SEALWIRE_RANDOMNESS.
///
/// # Safety
/// As `sealwire_keyring_create_key()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_rotate(
    keyring: *mut sealwire_keyring,
    key_id: *const c_char,
    old_decrypt_until: u64,
    out_version: *mut u32,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let id = unsafe { try_str(key_id) }?;
        let out_version = Out::new(out_version)?;
        let version = write(&keyring.inner)?.rotate(id, optional_time(old_decrypt_until))?;
        // SAFETY: `out_version` is writable (caller contract).
        unsafe { out_version.write(version) };
        Ok(())
    })
}

/// Set (Unix seconds) or clear (0) the cutoff after which retired version `version` of
/// `key_id` refuses to unwrap (SEALWIRE_KEY_RETIRED). The primary version cannot have one.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_KEY_NOT_FOUND (key or
/// version), SEALWIRE_INVALID_PARAMETER (a cutoff for the primary version).
///
/// # Safety
/// `keyring` is NULL or a live handle; `key_id` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_set_decrypt_until(
    keyring: *mut sealwire_keyring,
    key_id: *const c_char,
    version: u32,
    decrypt_until: u64,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let id = unsafe { try_str(key_id) }?;
        write(&keyring.inner)?.set_decrypt_until(id, version, optional_time(decrypt_until))?;
        Ok(())
    })
}

/// Delete a retired version for good (crypto-shredding the objects only it wrapped).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_KEY_NOT_FOUND,
/// SEALWIRE_INVALID_PARAMETER (the primary version).
///
/// # Safety
/// As `sealwire_keyring_set_decrypt_until()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_remove_version(
    keyring: *mut sealwire_keyring,
    key_id: *const c_char,
    version: u32,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let id = unsafe { try_str(key_id) }?;
        write(&keyring.inner)?.remove_version(id, version)?;
        Ok(())
    })
}

/// Choose the default key: the key the keyring as a whole (`sealwire_key_set_add_keyring()`)
/// wraps new data keys under.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_KEY_NOT_FOUND.
///
/// # Safety
/// `keyring` is NULL or a live handle; `key_id` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_set_default_key(
    keyring: *mut sealwire_keyring,
    key_id: *const c_char,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let id = unsafe { try_str(key_id) }?;
        write(&keyring.inner)?.set_default_key(id)?;
        Ok(())
    })
}

/// The default key id as a NUL-terminated string (output-buffer convention; 256 bytes
/// always suffice).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_KEY_NOT_FOUND (the
/// keyring has no key yet).
///
/// # Safety
/// `keyring` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_default_key(
    keyring: *const sealwire_keyring,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keyring = unsafe { try_ref(keyring) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        let ring = read(&keyring.inner)?;
        let id = ring.default_key().ok_or(sealwire_result::KEY_NOT_FOUND)?;
        // SAFETY: `out`/`written` writable (caller contract); the id is ours.
        unsafe { out.fill_cstr(id) }
    })
}

/// The number of keys, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `keyring` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_key_count(keyring: *const sealwire_keyring, out: *mut usize) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keyring = unsafe { try_ref(keyring) }?;
        let out = Out::new(out)?;
        let n = read(&keyring.inner)?.key_ids().len();
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(n) };
        Ok(())
    })
}

/// Key id number `index` (0-based, ids sorted) as a NUL-terminated string (output-buffer
/// convention; 256 bytes always suffice).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_PARAMETER
/// (`index` out of range).
///
/// # Safety
/// As `sealwire_keyring_default_key()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_key_id_at(
    keyring: *const sealwire_keyring,
    index: usize,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keyring = unsafe { try_ref(keyring) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        let ids = read(&keyring.inner)?.key_ids();
        let id = ids.get(index).ok_or(sealwire_result::INVALID_PARAMETER)?;
        // SAFETY: `out`/`written` writable (caller contract); the id is ours.
        unsafe { out.fill_cstr(id) }
    })
}

/// The primary version of `key_id`, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_KEY_NOT_FOUND.
///
/// # Safety
/// `keyring` is NULL or a live handle; `key_id` is NULL or NUL-terminated; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_primary_version(
    keyring: *const sealwire_keyring,
    key_id: *const c_char,
    out: *mut u32,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let id = unsafe { try_str(key_id) }?;
        let out = Out::new(out)?;
        let v = read(&keyring.inner)?.primary_version(id)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(v) };
        Ok(())
    })
}

/// The versions of `key_id`, ascending, into the array `out` of `out_len` elements. The
/// output-buffer convention counted in elements: if `out` is NULL or `out_len` is smaller
/// than the number of versions, `*written` receives that number and the result is
/// SEALWIRE_BUFFER_TOO_SMALL; on success `*written` is the number of elements written.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_BUFFER_TOO_SMALL,
/// SEALWIRE_KEY_NOT_FOUND.
///
/// # Safety
/// `keyring` is NULL or a live handle; `key_id` is NULL or NUL-terminated; `out` is NULL or
/// writable for `out_len` elements; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_versions(
    keyring: *const sealwire_keyring,
    key_id: *const c_char,
    out: *mut sealwire_key_version_info,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let id = unsafe { try_str(key_id) }?;
        let written = Out::new(written)?;
        let infos: Vec<sealwire_key_version_info> =
            read(&keyring.inner)?.versions(id)?.into_iter().map(Into::into).collect();
        // SAFETY: `out` writable for `out_len` elements, `written` writable (caller contract).
        unsafe { fill_array(out, out_len, written, &infos) }
    })
}

/// Use a fixed clock (`now`, Unix seconds) for creation and retirement times and for cutoff
/// checks; 0 returns to the system clock. For tests and for replaying decisions. The setting
/// is not saved in keyring files.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `keyring` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_set_time(keyring: *mut sealwire_keyring, now: u64) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        write(&keyring.inner)?.set_time(optional_time(now));
        Ok(())
    })
}

/// How many times this keyring has been sealed (stored in the file and authenticated; lets a
/// caller detect that an older file was put back), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `keyring` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_generation(keyring: *const sealwire_keyring, out: *mut u64) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keyring = unsafe { try_ref(keyring) }?;
        let out = Out::new(out)?;
        let generation = read(&keyring.inner)?.generation();
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(generation) };
        Ok(())
    })
}

fn kdf_params(memory_kib: u32, iterations: u32, lanes: u32) -> FfiResult<KdfParams> {
    Ok(KdfParams::new(memory_kib, iterations, lanes)?)
}

fn root_key(bytes: &[u8]) -> FfiResult<RootKey> {
    Ok(RootKey::from_bytes(bytes)?)
}

/// Seal the keyring under `passphrase` (Argon2id with `memory_kib`, `iterations`, `lanes`:
/// the bounds of `sealwire_identity_export_with_params()`; the defaults are
/// SEALWIRE_KDF_DEFAULT_*) into a `SWKR` blob. Bumps the generation.
///
/// On success `*out_blob` / `*out_blob_len` receive a buffer allocated by this library
/// (randomized output, so no length query): release it with `sealwire_bytes_free()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (cost out of range),
/// SEALWIRE_RANDOMNESS.
///
/// # Safety
/// `keyring` is NULL or a live handle; `passphrase` is NULL (only with length 0) or readable
/// for `passphrase_len` bytes; `out_blob` and `out_blob_len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_seal_with_passphrase(
    keyring: *mut sealwire_keyring,
    passphrase: *const u8,
    passphrase_len: usize,
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
    out_blob: *mut *mut u8,
    out_blob_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: readable for `passphrase_len` bytes (caller contract).
        let passphrase = unsafe { try_slice(passphrase, passphrase_len) }?;
        let out_blob = Out::new(out_blob)?;
        let out_blob_len = Out::new(out_blob_len)?;
        let params = kdf_params(memory_kib, iterations, lanes)?;
        let blob = write(&keyring.inner)?.seal_with_passphrase(passphrase, params)?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_blob, out_blob_len, blob) };
        Ok(())
    })
}

/// Seal the keyring under a 32-byte root key (SEALWIRE_KEYRING_ROOT_KEY_LEN) into a `SWKR`
/// blob. Bumps the generation. Output as `sealwire_keyring_seal_with_passphrase()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (root key not 32 bytes),
/// SEALWIRE_RANDOMNESS.
///
/// # Safety
/// `keyring` is NULL or a live handle; `root_key` is NULL (only with length 0) or readable for
/// `root_key_len` bytes; `out_blob` and `out_blob_len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_seal_with_root_key(
    keyring: *mut sealwire_keyring,
    root_key: *const u8,
    root_key_len: usize,
    out_blob: *mut *mut u8,
    out_blob_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: readable for `root_key_len` bytes (caller contract).
        let root = unsafe { try_slice(root_key, root_key_len) }?;
        let out_blob = Out::new(out_blob)?;
        let out_blob_len = Out::new(out_blob_len)?;
        let root = self::root_key(root)?;
        let blob = write(&keyring.inner)?.seal_with_root_key(&root)?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_blob, out_blob_len, blob) };
        Ok(())
    })
}

/// Open a keyring blob sealed under a passphrase. Strict decoding; the stored Argon2id cost
/// must be within the export bounds.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER; decode errors (SEALWIRE_TRUNCATED, SEALWIRE_BAD_MAGIC,
/// SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_UNSUPPORTED_ALGORITHM, SEALWIRE_MALFORMED);
/// SEALWIRE_INVALID_PARAMETER (the blob is sealed under a root key);
/// SEALWIRE_DECRYPTION_FAILED (wrong passphrase or modified blob).
///
/// # Safety
/// `blob` and `passphrase` are NULL (only with length 0) or readable for their lengths; `out`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_open_with_passphrase(
    blob: *const u8,
    blob_len: usize,
    passphrase: *const u8,
    passphrase_len: usize,
    out: *mut *mut sealwire_keyring,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `blob_len` bytes (caller contract).
        let blob = unsafe { try_slice(blob, blob_len) }?;
        // SAFETY: readable for `passphrase_len` bytes (caller contract).
        let passphrase = unsafe { try_slice(passphrase, passphrase_len) }?;
        let out = Out::new(out)?;
        let ring = Keyring::open_with_passphrase(blob, passphrase)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_keyring::new(ring)) };
        Ok(())
    })
}

/// Open a keyring blob sealed under a 32-byte root key.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (root key not 32 bytes); decode
/// errors as `sealwire_keyring_open_with_passphrase()`; SEALWIRE_INVALID_PARAMETER (the blob
/// is sealed under a passphrase); SEALWIRE_DECRYPTION_FAILED (wrong root key or modified
/// blob).
///
/// # Safety
/// `blob` and `root_key` are NULL (only with length 0) or readable for their lengths; `out`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_open_with_root_key(
    blob: *const u8,
    blob_len: usize,
    root_key: *const u8,
    root_key_len: usize,
    out: *mut *mut sealwire_keyring,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `blob_len` bytes (caller contract).
        let blob = unsafe { try_slice(blob, blob_len) }?;
        // SAFETY: readable for `root_key_len` bytes (caller contract).
        let root = unsafe { try_slice(root_key, root_key_len) }?;
        let out = Out::new(out)?;
        let root = self::root_key(root)?;
        let ring = Keyring::open_with_root_key(blob, &root)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_keyring::new(ring)) };
        Ok(())
    })
}

/// Seal the keyring under a passphrase (as `sealwire_keyring_seal_with_passphrase()`) and
/// write it atomically to the file `path` (NUL-terminated; a temporary file in the same
/// directory with mode 0600, fsync, rename, fsync of the directory). Bumps the generation.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (cost out of range, empty path),
/// SEALWIRE_RANDOMNESS, SEALWIRE_IO.
///
/// # Safety
/// `keyring` is NULL or a live handle; `path` is NULL or NUL-terminated; `passphrase` is NULL
/// (only with length 0) or readable for `passphrase_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_save_with_passphrase(
    keyring: *mut sealwire_keyring,
    path: *const c_char,
    passphrase: *const u8,
    passphrase_len: usize,
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let path = unsafe { try_path(path) }?;
        // SAFETY: readable for `passphrase_len` bytes (caller contract).
        let passphrase = unsafe { try_slice(passphrase, passphrase_len) }?;
        let params = kdf_params(memory_kib, iterations, lanes)?;
        write(&keyring.inner)?.save_with_passphrase(path, passphrase, params)?;
        Ok(())
    })
}

/// Seal the keyring under a 32-byte root key and write it atomically to `path` (as
/// `sealwire_keyring_save_with_passphrase()`). Bumps the generation.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (root key not 32 bytes),
/// SEALWIRE_INVALID_PARAMETER (empty path), SEALWIRE_RANDOMNESS, SEALWIRE_IO.
///
/// # Safety
/// `keyring` is NULL or a live handle; `path` is NULL or NUL-terminated; `root_key` is NULL
/// (only with length 0) or readable for `root_key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_save_with_root_key(
    keyring: *mut sealwire_keyring,
    path: *const c_char,
    root_key: *const u8,
    root_key_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked.
        let keyring = unsafe { try_ref(keyring) }?;
        // SAFETY: NULL or NUL-terminated (caller contract).
        let path = unsafe { try_path(path) }?;
        // SAFETY: readable for `root_key_len` bytes (caller contract).
        let root = unsafe { try_slice(root_key, root_key_len) }?;
        let root = self::root_key(root)?;
        write(&keyring.inner)?.save_with_root_key(path, &root)?;
        Ok(())
    })
}

/// Read and open a passphrase-sealed keyring file.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (empty path, or the file is
/// sealed under a root key), SEALWIRE_IO (cannot read the file), decode errors,
/// SEALWIRE_DECRYPTION_FAILED (wrong passphrase or modified file).
///
/// # Safety
/// `path` is NULL or NUL-terminated; `passphrase` is NULL (only with length 0) or readable for
/// `passphrase_len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_load_with_passphrase(
    path: *const c_char,
    passphrase: *const u8,
    passphrase_len: usize,
    out: *mut *mut sealwire_keyring,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let path = unsafe { try_path(path) }?;
        // SAFETY: readable for `passphrase_len` bytes (caller contract).
        let passphrase = unsafe { try_slice(passphrase, passphrase_len) }?;
        let out = Out::new(out)?;
        let ring = Keyring::load_with_passphrase(path, passphrase)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_keyring::new(ring)) };
        Ok(())
    })
}

/// Read and open a root-key-sealed keyring file.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (root key not 32 bytes),
/// SEALWIRE_INVALID_PARAMETER (empty path, or the file is sealed under a passphrase),
/// SEALWIRE_IO, decode errors, SEALWIRE_DECRYPTION_FAILED (wrong root key or modified file).
///
/// # Safety
/// `path` is NULL or NUL-terminated; `root_key` is NULL (only with length 0) or readable for
/// `root_key_len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_load_with_root_key(
    path: *const c_char,
    root_key: *const u8,
    root_key_len: usize,
    out: *mut *mut sealwire_keyring,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let path = unsafe { try_path(path) }?;
        // SAFETY: readable for `root_key_len` bytes (caller contract).
        let root = unsafe { try_slice(root_key, root_key_len) }?;
        let out = Out::new(out)?;
        let root = self::root_key(root)?;
        let ring = Keyring::load_with_root_key(path, &root)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_keyring::new(ring)) };
        Ok(())
    })
}

/// Free a keyring handle. Its keys are zeroized now, or when the last key set sharing it is
/// freed. `keyring` may be NULL (no-op).
///
/// # Safety
/// `keyring` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_keyring_free(keyring: *mut sealwire_keyring) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(keyring) }
    })
}
