//! `sealwire_identity`: the private identity handle.

use std::sync::Arc;

use sealwire_core::{Identity, KdfParams};
use zeroize::Zeroizing;

use crate::panic::{guard, guard_result};
use crate::ptr::{try_ref, try_slice, write_handle, write_owned_bytes, Out, OutBuf};
use crate::public::sealwire_public_identity;
use crate::result::{sealwire_result, FfiResult};
use crate::{SEALWIRE_ED25519_SEED_LEN, SEALWIRE_X25519_SECRET_LEN};

/// An agent's private identity: an Ed25519 signing key and an X25519 exchange key.
///
/// Opaque. Created by `sealwire_identity_generate()`, `sealwire_identity_from_secret_bytes()`
/// or `sealwire_identity_import()`; owned by the caller, who must release it exactly once with
/// `sealwire_identity_free()`, which zeroizes the secrets. Never mutated after creation, so a
/// `const sealwire_identity *` may be used from several threads at once; it must not be freed
/// while another call is using it.
///
/// A `sealwire_key_set` that an identity was added to shares its keys (they are not copied):
/// the secrets are zeroized when the last of the handle and those key sets is freed.
#[derive(Debug)] // redacted: core prints no key material
pub struct sealwire_identity {
    // Shared (never mutated) so that key sets can hold the identity without duplicating its
    // secrets; `Identity` itself is deliberately not `Clone`.
    pub(crate) inner: Arc<Identity>,
}

impl sealwire_identity {
    pub(crate) fn new(inner: Identity) -> Self {
        Self { inner: Arc::new(inner) }
    }
}

/// Generate a new identity from the operating system's random number generator.
///
/// On success `*out` receives a new handle owned by the caller (free it with
/// `sealwire_identity_free()`).
///
/// Errors: SEALWIRE_NULL_POINTER (`out` is NULL), SEALWIRE_RANDOMNESS.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_identity_generate(out: *mut *mut sealwire_identity) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        let inner = Identity::generate()?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_identity::new(inner)) };
        Ok(())
    })
}

/// Rebuild an identity from its two secrets: the 32-byte Ed25519 seed and the 32-byte X25519
/// private key (SEALWIRE_ED25519_SEED_LEN and SEALWIRE_X25519_SECRET_LEN). Deterministic: for
/// test vectors and migrations; prefer `sealwire_identity_generate()` and
/// `sealwire_identity_import()`.
///
/// The library copies the secrets and does not keep the caller's pointers; the caller should
/// wipe its own copies. On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (a length is not 32).
///
/// # Safety
/// `ed25519_seed` and `x25519_secret` are NULL or readable for their lengths; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_identity_from_secret_bytes(
    ed25519_seed: *const u8,
    ed25519_seed_len: usize,
    x25519_secret: *const u8,
    x25519_secret_len: usize,
    out: *mut *mut sealwire_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for the given lengths (caller contract).
        let ed = unsafe { try_slice(ed25519_seed, ed25519_seed_len) }?;
        // SAFETY: as above.
        let x = unsafe { try_slice(x25519_secret, x25519_secret_len) }?;
        let out = Out::new(out)?;
        if ed.len() != SEALWIRE_ED25519_SEED_LEN || x.len() != SEALWIRE_X25519_SECRET_LEN {
            return Err(sealwire_result::INVALID_LENGTH);
        }
        // Copy straight into zeroizing storage (no unwiped temporary arrays).
        let mut ed_seed = Zeroizing::new([0u8; SEALWIRE_ED25519_SEED_LEN]);
        let mut x_secret = Zeroizing::new([0u8; SEALWIRE_X25519_SECRET_LEN]);
        ed_seed.copy_from_slice(ed);
        x_secret.copy_from_slice(x);
        let inner = Identity::from_secret_bytes(&ed_seed, &x_secret);
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_identity::new(inner)) };
        Ok(())
    })
}

/// Free an identity handle and zeroize its secrets (unless a `sealwire_key_set` still shares
/// them: then when the last such key set is freed). `identity` may be NULL (no-op).
///
/// # Safety
/// `identity` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another thread; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_identity_free(identity: *mut sealwire_identity) {
    guard((), || {
        if !identity.is_null() {
            // SAFETY: a live handle created by `Box::into_raw` in this library, freed once.
            drop(unsafe { Box::from_raw(identity) });
        }
    })
}

/// The public half of an identity, as a NEW `sealwire_public_identity` handle.
///
/// On success `*out` receives a handle owned by the caller, independent of `identity` (free it
/// with `sealwire_public_identity_free()`; it stays valid after `identity` is freed).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `identity` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_identity_public(
    identity: *const sealwire_identity,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        let out = Out::new(out)?;
        let inner = identity.inner.public().clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// Sign `msg` (plain RFC 8032 Ed25519, deterministic) into `out`: SEALWIRE_SIGNATURE_LEN (64)
/// bytes, following the output-buffer convention (`*written` = 64 on success).
///
/// Messages that start with the 9 bytes "SEALWIRE\0" are refused with
/// SEALWIRE_INVALID_PARAMETER: that prefix is reserved for sealwire's own protocol signatures.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_PARAMETER.
///
/// # Safety
/// `identity` is NULL or a live handle; `msg` is NULL (only with `msg_len` 0) or readable for
/// `msg_len` bytes; `out` is NULL or writable for `out_len` bytes; `written` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_identity_sign(
    identity: *const sealwire_identity,
    msg: *const u8,
    msg_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        // SAFETY: readable for `msg_len` bytes (caller contract).
        let msg = unsafe { try_slice(msg, msg_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        let signature = identity.inner.sign(msg)?;
        // SAFETY: `out`/`written` writable (caller contract); `signature` is ours.
        unsafe { out.fill(&signature) }
    })
}

/// Encrypt the identity under `passphrase` with the default Argon2id cost (64 MiB, 3 passes,
/// 4 lanes) and XChaCha20-Poly1305, for storage or transfer.
///
/// On success `*out_blob` and `*out_blob_len` receive a buffer allocated by this library; the
/// caller owns it and must release it with `sealwire_bytes_free(*out_blob, *out_blob_len)`.
/// The passphrase is arbitrary bytes (it may be empty: then `passphrase` may be NULL).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_RANDOMNESS.
///
/// # Safety
/// `identity` is NULL or a live handle; `passphrase` is NULL (only with length 0) or readable
/// for `passphrase_len` bytes; `out_blob` and `out_blob_len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_identity_export(
    identity: *const sealwire_identity,
    passphrase: *const u8,
    passphrase_len: usize,
    out_blob: *mut *mut u8,
    out_blob_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: forwarded caller contract, same parameters.
        unsafe { export(identity, passphrase, passphrase_len, None, out_blob, out_blob_len) }
    })
}

/// As `sealwire_identity_export()`, with explicit Argon2id cost: `memory_kib` (19456 ..=
/// 4194304), `iterations` (1 ..= 64), `lanes` (1 ..= 16), and memory x iterations at least
/// 19 MiB x 2. The cheapest accepted setting is SEALWIRE_KDF_MIN_MEMORY_KIB,
/// SEALWIRE_KDF_MIN_ITERATIONS, SEALWIRE_KDF_MIN_LANES. The parameters are stored in the blob;
/// import needs only the passphrase.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (cost out of range),
/// SEALWIRE_RANDOMNESS.
///
/// # Safety
/// As `sealwire_identity_export()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_identity_export_with_params(
    identity: *const sealwire_identity,
    passphrase: *const u8,
    passphrase_len: usize,
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
    out_blob: *mut *mut u8,
    out_blob_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        let params = Some((memory_kib, iterations, lanes));
        // SAFETY: forwarded caller contract, same parameters.
        unsafe { export(identity, passphrase, passphrase_len, params, out_blob, out_blob_len) }
    })
}

/// Shared body of the two export functions. `params` is (memory_kib, iterations, lanes), or
/// `None` for the default cost. Pointers are checked before the parameters.
///
/// # Safety
/// As `sealwire_identity_export()`.
unsafe fn export(
    identity: *const sealwire_identity,
    passphrase: *const u8,
    passphrase_len: usize,
    params: Option<(u32, u32, u32)>,
    out_blob: *mut *mut u8,
    out_blob_len: *mut usize,
) -> FfiResult {
    // SAFETY: NULL or a live handle (caller contract).
    let identity = unsafe { try_ref(identity) }?;
    // SAFETY: readable for `passphrase_len` bytes (caller contract).
    let passphrase = unsafe { try_slice(passphrase, passphrase_len) }?;
    let out_blob = Out::new(out_blob)?;
    let out_blob_len = Out::new(out_blob_len)?;
    let blob = match params {
        Some((m, t, p)) => identity
            .inner
            .export_with_params(passphrase, KdfParams::new(m, t, p)?)?,
        None => identity.inner.export(passphrase)?,
    };
    // SAFETY: both out-pointers writable (caller contract).
    unsafe { write_owned_bytes(out_blob, out_blob_len, blob) };
    Ok(())
}

/// Decrypt an identity exported by `sealwire_identity_export()` (or any sealwire binding).
///
/// Strict: truncated, extended, modified or unknown-version blobs are rejected, as are stored
/// Argon2id costs outside the export bounds (so a hostile blob cannot demand unbounded memory).
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER; decode errors (SEALWIRE_TRUNCATED, SEALWIRE_TRAILING_BYTES,
/// SEALWIRE_BAD_MAGIC, SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_UNSUPPORTED_ALGORITHM,
/// SEALWIRE_MALFORMED); SEALWIRE_DECRYPTION_FAILED (wrong passphrase or modified blob).
///
/// # Safety
/// `blob` and `passphrase` are NULL (only with length 0) or readable for their lengths; `out`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_identity_import(
    blob: *const u8,
    blob_len: usize,
    passphrase: *const u8,
    passphrase_len: usize,
    out: *mut *mut sealwire_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `blob_len` bytes (caller contract).
        let blob = unsafe { try_slice(blob, blob_len) }?;
        // SAFETY: readable for `passphrase_len` bytes (caller contract).
        let passphrase = unsafe { try_slice(passphrase, passphrase_len) }?;
        let out = Out::new(out)?;
        let inner = Identity::import(blob, passphrase)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_identity::new(inner)) };
        Ok(())
    })
}
