//! `sealwire_noise_handshake`: a Noise handshake in progress.

use sealwire_core::noise::Handshake;
use zeroize::Zeroizing;

use crate::noise_transport::{sealwire_noise_transport, sealwire_noise_unordered_transport};
use crate::panic::{guard, guard_result};
use crate::ptr::{try_mut, try_ref, try_slice, write_handle, Out, OutBuf};
use crate::public::sealwire_public_identity;
use crate::result::{sealwire_result, FfiResult};
use crate::slot::Slot;

/// One side of a Noise handshake in progress (Noise rev 34), created by
/// `sealwire_noise_builder_build()`.
///
/// Opaque; owned by the caller, who must release it exactly once with
/// `sealwire_noise_handshake_free()`, which zeroizes its keys -- also after
/// `sealwire_noise_handshake_into_transport()`, which moves the keys into the transport and
/// leaves an empty handle behind.
///
/// Call `sealwire_noise_handshake_write_message()` and `..._read_message()` in the order of
/// the pattern (`sealwire_noise_handshake_is_my_turn()` says which). Every failed call leaves
/// the handshake exactly as it was: after a corrupted, truncated or out-of-turn message the
/// genuine message can still be processed.
///
/// Not for concurrent use: calls on one handshake must not overlap (it may move between
/// threads).
#[derive(Debug)] // redacted: the core prints protocol, role and progress only
pub struct sealwire_noise_handshake {
    slot: Slot<Handshake>,
}

impl sealwire_noise_handshake {
    pub(crate) fn new(handshake: Handshake) -> Self {
        Self { slot: Slot::new(handshake) }
    }
}

/// Write the next handshake message, carrying `payload` (encrypted once the pattern has
/// established a key; in clear before that, e.g. in `XX` message 1).
///
/// Output-buffer convention, with the exact message length: a call with `out` NULL or too
/// small is a length query that changes nothing (no key is generated, no state advances) and
/// sets `*written` to the length of the message; repeat the call with a large enough buffer
/// to write it. The message is at most SEALWIRE_NOISE_MAX_MESSAGE_LEN bytes. `out` must not
/// overlap `payload`.
///
/// Errors (the handshake is unchanged after any of them): SEALWIRE_NULL_POINTER,
/// SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_OUT_OF_TURN (it is the peer's turn),
/// SEALWIRE_HANDSHAKE_COMPLETE, SEALWIRE_MESSAGE_TOO_LARGE (the message would exceed 65535
/// bytes), SEALWIRE_RANDOMNESS, SEALWIRE_NON_CONTRIBUTORY.
///
/// # Safety
/// `handshake` is NULL or a live handle not used concurrently; `payload` is NULL (only with
/// length 0) or readable for `payload_len` bytes; `out` is NULL or writable for `out_len`
/// bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_write_message(
    handshake: *mut sealwire_noise_handshake,
    payload: *const u8,
    payload_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let handshake = unsafe { try_mut(handshake) }?;
        // SAFETY: readable for `payload_len` bytes (caller contract).
        let payload = unsafe { try_slice(payload, payload_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        handshake.slot.with_mut(|h| {
            let required = h.next_message_len(payload.len())?;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            let message = h.write_message(payload)?;
            // SAFETY: `out` writable for `out_len` >= `required` == message length.
            unsafe { out.fill(&message) }
        })
    })
}

/// Read the peer's next handshake message and write its payload to `out`.
///
/// The payload is the message length minus a fixed overhead that depends only on the
/// pattern and the position in it, so a buffer of `msg_len` bytes always suffices, and a
/// call with `out` NULL or too small is a length query that changes nothing and sets
/// `*written` to the exact payload length. Because `out = NULL` is always a query, reading a
/// message whose payload is empty needs a non-NULL `out` (any pointer; `out_len` may be 0).
/// `out` must not overlap `msg`.
///
/// Errors (the handshake is unchanged after any of them, so the genuine message can still be
/// read): SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_OUT_OF_TURN,
/// SEALWIRE_HANDSHAKE_COMPLETE, SEALWIRE_MESSAGE_TOO_LARGE, SEALWIRE_TRUNCATED,
/// SEALWIRE_DECRYPTION_FAILED (modified message, wrong key, prologue or psk),
/// SEALWIRE_INVALID_PUBLIC_KEY, SEALWIRE_NON_CONTRIBUTORY, SEALWIRE_REMOTE_KEY_MISMATCH (the
/// peer sent a static key other than the one set with `..._set_remote_static/identity()`).
///
/// # Safety
/// `handshake` is NULL or a live handle not used concurrently; `msg` is NULL (only with length
/// 0) or readable for `msg_len` bytes; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_read_message(
    handshake: *mut sealwire_noise_handshake,
    msg: *const u8,
    msg_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let handshake = unsafe { try_mut(handshake) }?;
        // SAFETY: readable for `msg_len` bytes (caller contract).
        let msg = unsafe { try_slice(msg, msg_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        handshake.slot.with_mut(|h| {
            let required = h.next_payload_len(msg.len())?;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            let payload = Zeroizing::new(h.read_message(msg)?);
            // SAFETY: `out` writable for `out_len` >= `required` == payload length.
            unsafe { out.fill(&payload) }
        })
    })
}

/// True once every message of the pattern has been written or read (also after
/// `sealwire_noise_handshake_into_transport()`). False if `handshake` is NULL or poisoned.
///
/// # Safety
/// `handshake` is NULL or a live handle not being modified concurrently.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_is_finished(handshake: *const sealwire_noise_handshake) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live handle (caller contract).
        match unsafe { try_ref(handshake) } {
            Ok(h) => h.slot.is_taken() || h.slot.get().is_ok_and(Handshake::is_finished),
            Err(_) => false,
        }
    })
}

/// True when the next handshake message is this side's to write (false once finished, and if
/// `handshake` is NULL or poisoned).
///
/// # Safety
/// `handshake` is NULL or a live handle not being modified concurrently.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_is_my_turn(handshake: *const sealwire_noise_handshake) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live handle (caller contract).
        let handshake = unsafe { try_ref(handshake) };
        handshake.is_ok_and(|h| h.slot.get().is_ok_and(Handshake::is_my_turn))
    })
}

/// The current handshake hash `h` (32 or 64 bytes; SEALWIRE_NOISE_MAX_HASH_LEN always
/// suffices), following the output-buffer convention. After the last message it is the
/// channel-binding value of the session, identical on both sides.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_HANDSHAKE_COMPLETE
/// (the handshake was turned into a transport: ask the transport).
///
/// # Safety
/// `handshake` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable for `out_len` bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_hash(
    handshake: *const sealwire_noise_handshake,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let handshake = unsafe { try_ref(handshake) }?;
        let out = OutBuf::new(out, out_len, written)?;
        let h = handshake.slot.get()?;
        // SAFETY: `out`/`written` writable (caller contract); the hash is ours.
        unsafe { out.fill(h.handshake_hash()) }
    })
}

/// The peer's static X25519 public key (SEALWIRE_PUBLIC_KEY_LEN = 32 bytes), once known
/// (pre-shared, or received and authenticated), following the output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_HANDSHAKE_INCOMPLETE
/// (not known yet, or the pattern has none), SEALWIRE_HANDSHAKE_COMPLETE (turned into a
/// transport).
///
/// # Safety
/// As `sealwire_noise_handshake_hash()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_remote_static(
    handshake: *const sealwire_noise_handshake,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let handshake = unsafe { try_ref(handshake) }?;
        let out = OutBuf::new(out, out_len, written)?;
        let key = handshake.slot.get()?.remote_static().ok_or(sealwire_result::HANDSHAKE_INCOMPLETE)?;
        // SAFETY: `out`/`written` writable (caller contract); the key is ours.
        unsafe { out.fill(&key) }
    })
}

/// Check that the peer's static key is the X25519 key of `peer` (constant-time). Returns
/// SEALWIRE_OK if it is.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_REMOTE_KEY_MISMATCH, SEALWIRE_HANDSHAKE_INCOMPLETE
/// (the peer's key is not known yet), SEALWIRE_HANDSHAKE_COMPLETE (turned into a transport).
///
/// # Safety
/// `handshake` is NULL or a live handle not being modified concurrently; `peer` is NULL or a
/// live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_expect_remote_identity(
    handshake: *const sealwire_noise_handshake,
    peer: *const sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let handshake = unsafe { try_ref(handshake) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let peer = unsafe { try_ref(peer) }?;
        handshake.slot.get()?.expect_remote_identity(&peer.inner)?;
        Ok(())
    })
}

/// Decode the encoded public identity the peer sent as a handshake payload (see
/// `sealwire_noise_identity_payload()`), verify its binding signature, and check that its
/// X25519 key is the static key the peer proved in this handshake. This is how an agent
/// learns, on first contact (`XX`), which identity it is talking to.
///
/// On success `*out` receives a NEW public identity handle owned by the caller (free it with
/// `sealwire_public_identity_free()`).
///
/// Errors: SEALWIRE_NULL_POINTER; the decode errors of `sealwire_public_identity_from_bytes()`
/// (SEALWIRE_TRUNCATED, SEALWIRE_BAD_MAGIC, ..., SEALWIRE_BAD_SIGNATURE);
/// SEALWIRE_REMOTE_KEY_MISMATCH (a valid identity, but not the peer's);
/// SEALWIRE_HANDSHAKE_INCOMPLETE (the peer's static key is not known yet);
/// SEALWIRE_HANDSHAKE_COMPLETE (turned into a transport).
///
/// # Safety
/// `handshake` is NULL or a live handle not being modified concurrently; `payload` is NULL
/// (only with length 0) or readable for `payload_len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_verify_identity_payload(
    handshake: *const sealwire_noise_handshake,
    payload: *const u8,
    payload_len: usize,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let handshake = unsafe { try_ref(handshake) }?;
        // SAFETY: readable for `payload_len` bytes (caller contract).
        let payload = unsafe { try_slice(payload, payload_len) }?;
        let out = Out::new(out)?;
        let inner = handshake.slot.get()?.verify_identity_payload(payload)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// Move the finished handshake's state out of the handle, after the checks.
fn take_finished(handshake: &mut sealwire_noise_handshake) -> FfiResult<Handshake> {
    if !handshake.slot.get()?.is_finished() {
        return Err(sealwire_result::HANDSHAKE_INCOMPLETE);
    }
    handshake.slot.take()
}

/// Finish the handshake: an ordered transport (implicit counter nonces) for a reliable,
/// in-order channel such as TCP.
///
/// Ownership: on success `*out` receives a new transport owned by the caller (free it with
/// `sealwire_noise_transport_free()`), and the handshake's keys move into it. The handshake
/// handle itself stays valid but empty: every later call on it fails with
/// SEALWIRE_HANDSHAKE_COMPLETE (`..._is_finished()` returns true), and the caller must still
/// free it with `sealwire_noise_handshake_free()` -- so no pointer the caller holds ever
/// dangles. On failure nothing changes: the handshake keeps its state and can continue.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_HANDSHAKE_INCOMPLETE (messages remain),
/// SEALWIRE_HANDSHAKE_COMPLETE (already turned into a transport).
///
/// # Safety
/// `handshake` is NULL or a live handle not used concurrently; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_into_transport(
    handshake: *mut sealwire_noise_handshake,
    out: *mut *mut sealwire_noise_transport,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let handshake = unsafe { try_mut(handshake) }?;
        let out = Out::new(out)?;
        let transport = take_finished(handshake)?.into_transport()?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_noise_transport::new(transport)) };
        Ok(())
    })
}

/// Finish the handshake: an unordered transport (explicit nonces, replay window) for
/// datagrams that may be lost, duplicated or reordered.
///
/// Ownership exactly as `sealwire_noise_handshake_into_transport()`: on success `*out`
/// receives a new transport owned by the caller (free it with
/// `sealwire_noise_unordered_transport_free()`); the handshake handle is left empty and must
/// still be freed. On failure nothing changes.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_HANDSHAKE_INCOMPLETE, SEALWIRE_HANDSHAKE_COMPLETE.
///
/// # Safety
/// As `sealwire_noise_handshake_into_transport()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_into_unordered_transport(
    handshake: *mut sealwire_noise_handshake,
    out: *mut *mut sealwire_noise_unordered_transport,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let handshake = unsafe { try_mut(handshake) }?;
        let out = Out::new(out)?;
        let transport = take_finished(handshake)?.into_unordered_transport()?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_noise_unordered_transport::new(transport)) };
        Ok(())
    })
}

/// Free a handshake handle (in progress, finished or emptied by `..._into_transport()`) and
/// zeroize its keys. `handshake` may be NULL (no-op).
///
/// # Safety
/// `handshake` is NULL or a handle from this library that has not been freed yet and is not
/// in use by another thread; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_handshake_free(handshake: *mut sealwire_noise_handshake) {
    guard((), || {
        if !handshake.is_null() {
            // SAFETY: a live handle created by `Box::into_raw` in this library, freed once.
            drop(unsafe { Box::from_raw(handshake) });
        }
    })
}
