//! `sealwire_xwing_keypair` and `sealwire_xwing_public_key`: X-Wing (ML-KEM-768 + X25519)
//! keys, the post-quantum hybrid envelope recipients.

use std::sync::Arc;

use sealwire_core::envelope::{XWingKeyPair, XWingPublicKey, XWING_SEED_LEN};
use zeroize::Zeroizing;

use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_ref, try_slice, write_handle, Out, OutBuf};
use crate::result::sealwire_result;

/// An X-Wing key pair: the private key is a 32-byte seed (SEALWIRE_XWING_SEED_LEN).
///
/// Opaque. Created by `sealwire_xwing_keypair_generate()` or
/// `sealwire_xwing_keypair_from_seed()`; owned by the caller, who releases it once with
/// `sealwire_xwing_keypair_free()`, which zeroizes it (unless a `sealwire_key_set` still
/// shares it: then when the last such key set is freed). Never modified after creation: may
/// be used from several threads at once.
#[derive(Debug)] // redacted: core prints nothing secret
pub struct sealwire_xwing_keypair {
    pub(crate) inner: Arc<XWingKeyPair>,
}

/// An X-Wing public key (what senders need to seal to an X-Wing recipient).
///
/// Opaque. Created by `sealwire_xwing_public_key_from_bytes()`, `_from_raw_bytes()` or
/// `sealwire_xwing_keypair_public_key()`; owned by the caller, who releases it once with
/// `sealwire_xwing_public_key_free()`. Never modified: may be used from several threads.
#[derive(Debug)]
pub struct sealwire_xwing_public_key {
    pub(crate) inner: XWingPublicKey,
}

/// Generate an X-Wing key pair from the operating system's random number generator.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_RANDOMNESS.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_keypair_generate(out: *mut *mut sealwire_xwing_keypair) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        let inner = Arc::new(XWingKeyPair::generate()?);
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_xwing_keypair { inner }) };
        Ok(())
    })
}

/// The key pair of a 32-byte X-Wing seed (the X-Wing private key format). The library copies
/// the seed; the caller should wipe its copy.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (not 32 bytes).
///
/// # Safety
/// `seed` is NULL (only with length 0) or readable for `seed_len` bytes; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_keypair_from_seed(
    seed: *const u8,
    seed_len: usize,
    out: *mut *mut sealwire_xwing_keypair,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `seed_len` bytes (caller contract).
        let seed = unsafe { try_slice(seed, seed_len) }?;
        let out = Out::new(out)?;
        if seed.len() != XWING_SEED_LEN {
            return Err(sealwire_result::INVALID_LENGTH);
        }
        let mut s = Zeroizing::new([0u8; XWING_SEED_LEN]);
        s.copy_from_slice(seed);
        let inner = Arc::new(XWingKeyPair::from_seed(&s)?);
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_xwing_keypair { inner }) };
        Ok(())
    })
}

/// Export the 32-byte private seed (output-buffer convention). This is the secret key: keep
/// it encrypted and wipe the buffer after use.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `keypair` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_keypair_seed(
    keypair: *const sealwire_xwing_keypair,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keypair = unsafe { try_ref(keypair) }?;
        let out = OutBuf::new(out, out_len, written)?;
        let seed = keypair.inner.seed();
        // SAFETY: `out`/`written` writable (caller contract); the seed is ours (zeroized).
        unsafe { out.fill(seed.as_ref()) }
    })
}

/// The public key of a key pair, as a NEW handle owned by the caller (it stays valid after the
/// key pair is freed).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `keypair` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_keypair_public_key(
    keypair: *const sealwire_xwing_keypair,
    out: *mut *mut sealwire_xwing_public_key,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let keypair = unsafe { try_ref(keypair) }?;
        let out = Out::new(out)?;
        let inner = keypair.inner.public_key().clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_xwing_public_key { inner }) };
        Ok(())
    })
}

/// Free a key pair (zeroized now, or when the last key set sharing it is freed). `keypair`
/// may be NULL (no-op).
///
/// # Safety
/// `keypair` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_keypair_free(keypair: *mut sealwire_xwing_keypair) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(keypair) }
    })
}

/// Decode an X-Wing public key in the sealwire encoding (`"SWXP" || 0x01 || raw key`,
/// SEALWIRE_XWING_PUBLIC_KEY_ENCODED_LEN bytes). Strict; the ML-KEM-768 key is checked as
/// FIPS 203 requires.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_TRUNCATED, SEALWIRE_TRAILING_BYTES,
/// SEALWIRE_BAD_MAGIC, SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_INVALID_PUBLIC_KEY.
///
/// # Safety
/// `bytes` is NULL (only with length 0) or readable for `len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_public_key_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut sealwire_xwing_public_key,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `len` bytes (caller contract).
        let bytes = unsafe { try_slice(bytes, len) }?;
        let out = Out::new(out)?;
        let inner = XWingPublicKey::from_bytes(bytes)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_xwing_public_key { inner }) };
        Ok(())
    })
}

/// An X-Wing public key from its raw form (SEALWIRE_XWING_PUBLIC_KEY_LEN = 1216 bytes: the
/// ML-KEM-768 encapsulation key followed by the X25519 key, as in the X-Wing draft and HPKE
/// KEM 0x647A).
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH, SEALWIRE_INVALID_PUBLIC_KEY.
///
/// # Safety
/// As `sealwire_xwing_public_key_from_bytes()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_public_key_from_raw_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut sealwire_xwing_public_key,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `len` bytes (caller contract).
        let bytes = unsafe { try_slice(bytes, len) }?;
        let out = Out::new(out)?;
        let inner = XWingPublicKey::from_raw_bytes(bytes)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_xwing_public_key { inner }) };
        Ok(())
    })
}

/// The sealwire encoding of the public key (SEALWIRE_XWING_PUBLIC_KEY_ENCODED_LEN bytes),
/// following the output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `public_key` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_public_key_to_bytes(
    public_key: *const sealwire_xwing_public_key,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let public_key = unsafe { try_ref(public_key) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the encoding is ours.
        unsafe { out.fill(&public_key.inner.to_bytes()) }
    })
}

/// Whether two X-Wing public keys are equal. Returns false if either pointer is NULL.
///
/// # Safety
/// `a` and `b` are NULL or live handles.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_public_key_equal(
    a: *const sealwire_xwing_public_key,
    b: *const sealwire_xwing_public_key,
) -> bool {
    guard(false, || {
        // SAFETY: NULL or live handles (caller contract).
        match unsafe { (try_ref(a), try_ref(b)) } {
            (Ok(a), Ok(b)) => a.inner == b.inner,
            _ => false,
        }
    })
}

/// Free an X-Wing public key. `public_key` may be NULL (no-op).
///
/// # Safety
/// `public_key` is NULL or a handle from this library that has not been freed yet and is not
/// in use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_xwing_public_key_free(public_key: *mut sealwire_xwing_public_key) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(public_key) }
    })
}
