//! Noise: constants, `sealwire_noise_builder` and the identity payload.
//!
//! Flow in C: `sealwire_noise_builder_new()` + setters → `sealwire_noise_builder_build()` →
//! `sealwire_noise_handshake` (write/read messages) → `sealwire_noise_handshake_into_transport()`
//! (ordered) or `..._into_unordered_transport()` (explicit nonces, replay window).

use core::ffi::c_char;

use sealwire_core::noise::{self, NoiseBuilder, Role};

use crate::identity::sealwire_identity;
use crate::noise_handshake::sealwire_noise_handshake;
use crate::panic::{guard, guard_result};
use crate::ptr::{try_mut, try_ref, try_slice, try_str, write_handle, Out, OutBuf};
use crate::public::sealwire_public_identity;
use crate::result::{sealwire_result, FfiResult};

/// Length of a Noise pre-shared key, in bytes.
pub const SEALWIRE_NOISE_PSK_LEN: usize = 32;
/// Largest Noise message (handshake or transport), in bytes.
pub const SEALWIRE_NOISE_MAX_MESSAGE_LEN: usize = 65535;
/// Length of the authentication tag of every encrypted Noise field and message, in bytes.
pub const SEALWIRE_NOISE_TAG_LEN: usize = 16;
/// Largest plaintext of one ordered transport message (65535 - 16).
pub const SEALWIRE_NOISE_MAX_PLAINTEXT_LEN: usize = 65519;
/// Length of the explicit nonce in front of each unordered transport message, in bytes.
pub const SEALWIRE_NOISE_EXPLICIT_NONCE_LEN: usize = 8;
/// Largest plaintext of one unordered transport message (65535 - 8 - 16).
pub const SEALWIRE_NOISE_MAX_UNORDERED_PLAINTEXT_LEN: usize = 65511;
/// Largest application chunk in one frame of `sealwire_noise_transport_encrypt_framed()`.
pub const SEALWIRE_NOISE_MAX_FRAME_CHUNK: usize = 65518;
/// How many nonces behind the newest one an unordered transport still accepts.
pub const SEALWIRE_NOISE_REPLAY_WINDOW: u64 = 1024;
/// A buffer of this many bytes always holds a handshake hash (32 bytes for SHA256 and
/// BLAKE2s, 64 for SHA512 and BLAKE2b).
pub const SEALWIRE_NOISE_MAX_HASH_LEN: usize = 64;

const _: () = assert!(SEALWIRE_NOISE_PSK_LEN == noise::PSK_LEN);
const _: () = assert!(SEALWIRE_NOISE_MAX_MESSAGE_LEN == noise::MAX_MESSAGE_LEN);
const _: () = assert!(SEALWIRE_NOISE_MAX_PLAINTEXT_LEN == noise::MAX_PLAINTEXT_LEN);
const _: () = assert!(SEALWIRE_NOISE_TAG_LEN == noise::MAX_MESSAGE_LEN - noise::MAX_PLAINTEXT_LEN);
const _: () = assert!(SEALWIRE_NOISE_EXPLICIT_NONCE_LEN == noise::EXPLICIT_NONCE_LEN);
const _: () = assert!(SEALWIRE_NOISE_MAX_UNORDERED_PLAINTEXT_LEN == noise::MAX_UNORDERED_PLAINTEXT_LEN);
const _: () = assert!(SEALWIRE_NOISE_MAX_FRAME_CHUNK == noise::MAX_FRAME_CHUNK);
const _: () = assert!(SEALWIRE_NOISE_REPLAY_WINDOW == noise::REPLAY_WINDOW);

/// Which side of a Noise handshake a party plays: SEALWIRE_NOISE_INITIATOR (sends the first
/// message) or SEALWIRE_NOISE_RESPONDER. A plain integer type, so any value C passes is
/// defined behaviour: other values are refused with SEALWIRE_INVALID_PARAMETER.
pub type sealwire_noise_role = u32;
/// The party that sends the first handshake message.
pub const SEALWIRE_NOISE_INITIATOR: sealwire_noise_role = 0;
/// The party that answers it.
pub const SEALWIRE_NOISE_RESPONDER: sealwire_noise_role = 1;

/// Configuration of one side of a Noise handshake: protocol name, local static key, the
/// peer's static key, psks and prologue.
///
/// Opaque. Created by `sealwire_noise_builder_new()`; owned by the caller, who must release it
/// exactly once with `sealwire_noise_builder_free()` (which zeroizes the keys it holds). The
/// setters modify it (a failed setter leaves it unchanged); `sealwire_noise_builder_build()`
/// does not, so one builder can build several handshakes. Not for concurrent use: a builder
/// may be used by one thread at a time (it may move between threads).
#[derive(Debug)] // redacted: NoiseBuilder prints only the protocol name
pub struct sealwire_noise_builder {
    inner: NoiseBuilder,
}

impl sealwire_noise_builder {
    /// Apply a fallible setter to a copy and commit it only on success.
    fn update(&mut self, f: impl FnOnce(NoiseBuilder) -> sealwire_core::Result<NoiseBuilder>) -> FfiResult {
        self.inner = f(self.inner.clone())?;
        Ok(())
    }
}

/// Start a builder for a protocol name such as "Noise_XX_25519_ChaChaPoly_BLAKE2s" or
/// "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_SHA256" (NUL-terminated).
///
/// On success `*out` receives a new builder owned by the caller (free it with
/// `sealwire_noise_builder_free()`).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_MALFORMED (not a valid
/// Noise protocol name), SEALWIRE_UNSUPPORTED_ALGORITHM (a pattern, DH, cipher or hash this
/// library does not implement).
///
/// # Safety
/// `protocol_name` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_new(
    protocol_name: *const c_char,
    out: *mut *mut sealwire_noise_builder,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let name = unsafe { try_str(protocol_name) }?;
        let out = Out::new(out)?;
        let inner = NoiseBuilder::new(name)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_noise_builder { inner }) };
        Ok(())
    })
}

/// Use the X25519 exchange key of `identity` as the local static key (the builder keeps its
/// own copy: `identity` may be freed afterwards).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `builder` is NULL or a live builder not used concurrently; `identity` is NULL or a live
/// handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_set_local_identity(
    builder: *mut sealwire_noise_builder,
    identity: *const sealwire_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder with exclusive access (caller contract).
        let builder = unsafe { try_mut(builder) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        builder.update(|b| Ok(b.local_identity(&identity.inner)))
    })
}

/// Use a raw 32-byte X25519 private key as the local static key (for interoperability and
/// test vectors; prefer `sealwire_noise_builder_set_local_identity()`). The library copies
/// the key; the caller should wipe its own copy.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (`secret_len` is not 32).
///
/// # Safety
/// `builder` is NULL or a live builder not used concurrently; `secret` is NULL (only with
/// length 0) or readable for `secret_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_set_local_static_secret(
    builder: *mut sealwire_noise_builder,
    secret: *const u8,
    secret_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder with exclusive access (caller contract).
        let builder = unsafe { try_mut(builder) }?;
        // SAFETY: readable for `secret_len` bytes (caller contract).
        let secret = unsafe { try_slice(secret, secret_len) }?;
        builder.update(|b| b.local_static_secret(secret))
    })
}

/// Set the peer's static X25519 public key (32 bytes; validated: canonical, not of small
/// order).
///
/// Required when the pattern pre-shares the peer's key (`IK`, `NK`, `KK`, ...). For patterns
/// where the peer sends its key (`XX`, ...) it is the key the peer must present: any other
/// makes the message carrying it fail with SEALWIRE_REMOTE_KEY_MISMATCH.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH, SEALWIRE_INVALID_PUBLIC_KEY.
///
/// # Safety
/// `builder` is NULL or a live builder not used concurrently; `public_key` is NULL (only with
/// length 0) or readable for `public_key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_set_remote_static(
    builder: *mut sealwire_noise_builder,
    public_key: *const u8,
    public_key_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder with exclusive access (caller contract).
        let builder = unsafe { try_mut(builder) }?;
        // SAFETY: readable for `public_key_len` bytes (caller contract).
        let key = unsafe { try_slice(public_key, public_key_len) }?;
        builder.update(|b| b.remote_static(key))
    })
}

/// `sealwire_noise_builder_set_remote_static()` with the X25519 key of a verified public
/// identity (the builder keeps a copy: `peer` may be freed afterwards).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `builder` is NULL or a live builder not used concurrently; `peer` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_set_remote_identity(
    builder: *mut sealwire_noise_builder,
    peer: *const sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder with exclusive access (caller contract).
        let builder = unsafe { try_mut(builder) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let peer = unsafe { try_ref(peer) }?;
        builder.update(|b| Ok(b.remote_identity(&peer.inner)))
    })
}

/// Set the pre-shared key of modifier `psk<location>` (SEALWIRE_NOISE_PSK_LEN = 32 bytes).
/// Every psk the pattern names must be given before building; setting a location again
/// replaces its key. The library copies the key.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (the pattern has no psk at
/// `location`), SEALWIRE_INVALID_LENGTH.
///
/// # Safety
/// `builder` is NULL or a live builder not used concurrently; `psk` is NULL (only with length
/// 0) or readable for `psk_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_add_psk(
    builder: *mut sealwire_noise_builder,
    location: u8,
    psk: *const u8,
    psk_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder with exclusive access (caller contract).
        let builder = unsafe { try_mut(builder) }?;
        // SAFETY: readable for `psk_len` bytes (caller contract).
        let psk = unsafe { try_slice(psk, psk_len) }?;
        builder.update(|b| b.psk(location, psk))
    })
}

/// Set the prologue: data both parties must agree on, hashed into the handshake but never
/// sent (a mismatch makes the first encrypted payload fail with
/// SEALWIRE_DECRYPTION_FAILED). Replaces any previous prologue; may be empty.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `builder` is NULL or a live builder not used concurrently; `prologue` is NULL (only with
/// length 0) or readable for `prologue_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_set_prologue(
    builder: *mut sealwire_noise_builder,
    prologue: *const u8,
    prologue_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder with exclusive access (caller contract).
        let builder = unsafe { try_mut(builder) }?;
        // SAFETY: readable for `prologue_len` bytes (caller contract).
        let prologue = unsafe { try_slice(prologue, prologue_len) }?;
        builder.update(|b| Ok(b.prologue(prologue)))
    })
}

/// TESTING ONLY -- fix the ephemeral X25519 private key (32 bytes) to reproduce test vectors.
/// Reusing an ephemeral key destroys forward secrecy and can reveal more: never call this in
/// production code.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH.
///
/// # Safety
/// As `sealwire_noise_builder_set_local_static_secret()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_fixed_ephemeral_for_vectors(
    builder: *mut sealwire_noise_builder,
    secret: *const u8,
    secret_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder with exclusive access (caller contract).
        let builder = unsafe { try_mut(builder) }?;
        // SAFETY: readable for `secret_len` bytes (caller contract).
        let secret = unsafe { try_slice(secret, secret_len) }?;
        builder.update(|b| b.fixed_ephemeral_for_vectors(secret))
    })
}

/// TESTING ONLY -- fix the ML-KEM-768 key-generation seed `d || z` (64 bytes) used for the
/// `e1` token of `hfs` patterns, to reproduce test vectors. Never call this in production
/// code. Building a handshake for a pattern without `hfs` then fails with
/// SEALWIRE_INVALID_PARAMETER.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH.
///
/// # Safety
/// As `sealwire_noise_builder_set_local_static_secret()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_fixed_kem_seed_for_vectors(
    builder: *mut sealwire_noise_builder,
    seed: *const u8,
    seed_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder with exclusive access (caller contract).
        let builder = unsafe { try_mut(builder) }?;
        // SAFETY: readable for `seed_len` bytes (caller contract).
        let seed = unsafe { try_slice(seed, seed_len) }?;
        builder.update(|b| b.fixed_kem_seed_for_vectors(seed))
    })
}

/// TESTING ONLY -- fix the ML-KEM-768 encapsulation randomness `m` (32 bytes) used for the
/// `ekem1` token of `hfs` patterns, to reproduce test vectors. Never call this in production
/// code.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH.
///
/// # Safety
/// As `sealwire_noise_builder_set_local_static_secret()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_fixed_kem_encapsulation_for_vectors(
    builder: *mut sealwire_noise_builder,
    m: *const u8,
    m_len: usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder with exclusive access (caller contract).
        let builder = unsafe { try_mut(builder) }?;
        // SAFETY: readable for `m_len` bytes (caller contract).
        let m = unsafe { try_slice(m, m_len) }?;
        builder.update(|b| b.fixed_kem_encapsulation_for_vectors(m))
    })
}

/// Build one side of the handshake (`role` is SEALWIRE_NOISE_INITIATOR or
/// SEALWIRE_NOISE_RESPONDER), after checking the configuration against the pattern: a local
/// static key exactly when this side has one, the peer's key when the pattern pre-shares it,
/// every psk. The builder is not modified and may build more handshakes.
///
/// On success `*out` receives a new handshake owned by the caller (free it with
/// `sealwire_noise_handshake_free()`); it does not refer to the builder, which may be freed.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (unknown role, or a missing or
/// superfluous key or psk).
///
/// # Safety
/// `builder` is NULL or a live builder not being modified concurrently; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_build(
    builder: *const sealwire_noise_builder,
    role: sealwire_noise_role,
    out: *mut *mut sealwire_noise_handshake,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live builder (caller contract).
        let builder = unsafe { try_ref(builder) }?;
        let out = Out::new(out)?;
        let role = match role {
            SEALWIRE_NOISE_INITIATOR => Role::Initiator,
            SEALWIRE_NOISE_RESPONDER => Role::Responder,
            _ => return Err(sealwire_result::INVALID_PARAMETER),
        };
        let handshake = builder.inner.build(role)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_noise_handshake::new(handshake)) };
        Ok(())
    })
}

/// Free a builder and zeroize the keys it holds. `builder` may be NULL (no-op).
///
/// # Safety
/// `builder` is NULL or a builder from this library that has not been freed yet and is not in
/// use by another thread; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_builder_free(builder: *mut sealwire_noise_builder) {
    guard((), || {
        if !builder.is_null() {
            // SAFETY: a live handle created by `Box::into_raw` in this library, freed once.
            drop(unsafe { Box::from_raw(builder) });
        }
    })
}

/// The handshake payload by which an agent presents its identity: the canonical encoding of
/// its public identity (SEALWIRE_PUBLIC_IDENTITY_LEN bytes), following the output-buffer
/// convention. Send it as the payload of a handshake message that is encrypted (in `XX`:
/// messages 2 and 3; in `IK`: either message); the receiver checks it with
/// `sealwire_noise_handshake_verify_identity_payload()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `identity` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_identity_payload(
    identity: *const sealwire_identity,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the payload is ours.
        unsafe { out.fill(&noise::identity_payload(&identity.inner)) }
    })
}
