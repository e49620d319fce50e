//! `sealwire_noise_transport` (ordered) and `sealwire_noise_unordered_transport` (explicit
//! nonces): the Noise transport phase.

use sealwire_core::noise::{Transport, UnorderedTransport};
use zeroize::Zeroizing;

use crate::panic::{guard, guard_result};
use crate::ptr::{try_mut, try_ref, try_slice, OutBuf};
use crate::result::sealwire_result;
use crate::slot::Slot;

/// An ordered Noise transport: one key per direction, implicit counter nonces, so messages
/// must be decrypted in the order they were sent (TCP, pipes). Created by
/// `sealwire_noise_handshake_into_transport()`.
///
/// Opaque; owned by the caller, who must release it exactly once with
/// `sealwire_noise_transport_free()`, which zeroizes its keys. A failed call changes no state:
/// after a modified, truncated, reordered or replayed message the genuine next message still
/// decrypts, and a failed or queried encryption uses no nonce. For one-way patterns (`N`,
/// `K`, `X`) the initiator can only encrypt and the responder only decrypt
/// (SEALWIRE_OUT_OF_TURN otherwise).
///
/// Not for concurrent use: calls on one transport must not overlap (it may move between
/// threads; to send and receive on two threads, synchronize them).
#[derive(Debug)] // redacted: the core prints nonces and flags only
pub struct sealwire_noise_transport {
    slot: Slot<Transport>,
}

impl sealwire_noise_transport {
    pub(crate) fn new(transport: Transport) -> Self {
        Self { slot: Slot::new(transport) }
    }
}

/// An unordered Noise transport for datagrams that may be lost, duplicated or reordered: each
/// message carries its 8-byte nonce, and a window of the newest SEALWIRE_NOISE_REPLAY_WINDOW
/// nonces rejects duplicates and messages that are too old (SEALWIRE_REPLAY). Created by
/// `sealwire_noise_handshake_into_unordered_transport()`.
///
/// Opaque; owned by the caller, who must release it exactly once with
/// `sealwire_noise_unordered_transport_free()`, which zeroizes its keys. A failed call changes
/// no state (a rejected message does not mark its nonce as seen). Not for concurrent use.
#[derive(Debug)] // redacted: the core prints nonces and flags only
pub struct sealwire_noise_unordered_transport {
    slot: Slot<UnorderedTransport>,
}

impl sealwire_noise_unordered_transport {
    pub(crate) fn new(transport: UnorderedTransport) -> Self {
        Self { slot: Slot::new(transport) }
    }
}

/// Encrypt one message: `plaintext_len` (at most SEALWIRE_NOISE_MAX_PLAINTEXT_LEN) + 16
/// bytes, written to `out` by the output-buffer convention. A call with `out` NULL or too
/// small is a length query that uses no nonce. `out` must not overlap `plaintext`.
///
/// Errors (no nonce is used by any of them): SEALWIRE_NULL_POINTER,
/// SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_MESSAGE_TOO_LARGE, SEALWIRE_OUT_OF_TURN (receive-only
/// side of a one-way pattern), SEALWIRE_NONCE_EXHAUSTED.
///
/// # Safety
/// `transport` is NULL or a live handle not used concurrently; `plaintext` is NULL (only with
/// length 0) or readable for `plaintext_len` bytes; `out` is NULL or writable for `out_len`
/// bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_transport_encrypt(
    transport: *mut sealwire_noise_transport,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        // SAFETY: readable for `plaintext_len` bytes (caller contract).
        let plaintext = unsafe { try_slice(plaintext, plaintext_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        transport.slot.with_mut(|t| {
            let required = t.encrypted_len(plaintext.len())?;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            let message = t.encrypt(plaintext)?;
            // SAFETY: `out` writable for `out_len` >= `required` == message length.
            unsafe { out.fill(&message) }
        })
    })
}

/// Decrypt the next message from the peer: `msg_len - 16` bytes of plaintext, written to
/// `out` by the output-buffer convention (so a buffer of `msg_len` bytes always suffices; a
/// call with `out` NULL or too small is a length query that changes nothing). Because
/// `out = NULL` is always a query, decrypting an empty plaintext (a 16-byte message) needs a
/// non-NULL `out` (any pointer; `out_len` may be 0). `out` must not overlap `msg`.
///
/// Errors (the transport is unchanged after any of them): SEALWIRE_NULL_POINTER,
/// SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_TRUNCATED (under 16 bytes), SEALWIRE_MESSAGE_TOO_LARGE,
/// SEALWIRE_DECRYPTION_FAILED (modified, reordered or replayed message, or the keys differ),
/// SEALWIRE_OUT_OF_TURN (send-only side of a one-way pattern), SEALWIRE_NONCE_EXHAUSTED.
///
/// # Safety
/// `transport` is NULL or a live handle not used concurrently; `msg` is NULL (only with length
/// 0) or readable for `msg_len` bytes; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_transport_decrypt(
    transport: *mut sealwire_noise_transport,
    msg: *const u8,
    msg_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        // SAFETY: readable for `msg_len` bytes (caller contract).
        let msg = unsafe { try_slice(msg, msg_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        transport.slot.with_mut(|t| {
            let required = t.decrypted_len(msg.len())?;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            let plaintext = Zeroizing::new(t.decrypt(msg)?);
            // SAFETY: `out` writable for `out_len` >= `required` == plaintext length.
            unsafe { out.fill(&plaintext) }
        })
    })
}

/// Encrypt a payload of any size as a sequence of length-prefixed Noise messages (framing
/// documented in docs/FORMATS.md: each frame is `len:u16be || message`, one frame per
/// SEALWIRE_NOISE_MAX_FRAME_CHUNK bytes, at least one). The output is `payload_len` + 19 bytes
/// per frame, written to `out` by the output-buffer convention; a call with `out` NULL or too
/// small is a length query that uses no nonce. Uses one nonce per frame. `out` must not
/// overlap `payload`.
///
/// Errors (no nonce is used by any of them): SEALWIRE_NULL_POINTER,
/// SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_OUT_OF_TURN, SEALWIRE_NONCE_EXHAUSTED,
/// SEALWIRE_MESSAGE_TOO_LARGE (the output length would not fit in a size_t).
///
/// # Safety
/// As `sealwire_noise_transport_encrypt()` (`payload` for `plaintext`).
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_transport_encrypt_framed(
    transport: *mut sealwire_noise_transport,
    payload: *const u8,
    payload_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        // SAFETY: readable for `payload_len` bytes (caller contract).
        let payload = unsafe { try_slice(payload, payload_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        transport.slot.with_mut(|t| {
            let required = t.encrypted_framed_len(payload.len())?;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            let framed = t.encrypt_framed(payload)?;
            // SAFETY: `out` writable for `out_len` >= `required` == framed length.
            unsafe { out.fill(&framed) }
        })
    })
}

/// Decrypt the output of `sealwire_noise_transport_encrypt_framed()` (all frames at once),
/// strictly: truncation anywhere (SEALWIRE_TRUNCATED), bytes after the final frame
/// (SEALWIRE_TRAILING_BYTES), non-canonical framing (SEALWIRE_MALFORMED). All or nothing: on
/// any error the receiving state is unchanged.
///
/// The payload is written to `out` by the output-buffer convention. Its length is read from
/// the frame headers before anything is decrypted (exact for well-formed input, and always
/// less than `framed_len`, so a buffer of `framed_len` bytes always suffices); a call with
/// `out` NULL or too small is a length query that changes nothing. An empty payload needs a
/// non-NULL `out` (see `sealwire_noise_transport_decrypt()`). `out` must not overlap `framed`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_TRUNCATED,
/// SEALWIRE_TRAILING_BYTES, SEALWIRE_MALFORMED, SEALWIRE_DECRYPTION_FAILED,
/// SEALWIRE_OUT_OF_TURN, SEALWIRE_NONCE_EXHAUSTED.
///
/// # Safety
/// As `sealwire_noise_transport_decrypt()` (`framed` for `msg`).
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_transport_decrypt_framed(
    transport: *mut sealwire_noise_transport,
    framed: *const u8,
    framed_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        // SAFETY: readable for `framed_len` bytes (caller contract).
        let framed = unsafe { try_slice(framed, framed_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        transport.slot.with_mut(|t| {
            let required = t.decrypted_framed_len(framed)?;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            let payload = Zeroizing::new(t.decrypt_framed(framed)?);
            // SAFETY: `out` writable for `out_len` >= `required` == payload length for
            // well-formed input (the only input that decrypts).
            unsafe { out.fill(&payload) }
        })
    })
}

/// REKEY the sending key now (Noise §11.3). The peer must call
/// `sealwire_noise_transport_rekey_incoming()` at the same point of the message stream.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_OUT_OF_TURN (receive-only side of a one-way
/// pattern).
///
/// # Safety
/// `transport` is NULL or a live handle not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_transport_rekey_outgoing(transport: *mut sealwire_noise_transport) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        transport.slot.with_mut(|t| Ok(t.rekey_outgoing()?))
    })
}

/// REKEY the receiving key now (Noise §11.3), matching the peer's
/// `sealwire_noise_transport_rekey_outgoing()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_OUT_OF_TURN (send-only side of a one-way pattern).
///
/// # Safety
/// `transport` is NULL or a live handle not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_transport_rekey_incoming(transport: *mut sealwire_noise_transport) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        transport.slot.with_mut(|t| Ok(t.rekey_incoming()?))
    })
}

/// Rekey automatically after every `messages` messages in each direction (0, the default,
/// turns it off). Both parties must set the same interval at the same point of the stream.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `transport` is NULL or a live handle not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_transport_set_rekey_interval(
    transport: *mut sealwire_noise_transport,
    messages: u64,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        transport.slot.with_mut(|t| {
            t.set_rekey_interval(messages);
            Ok(())
        })
    })
}

/// The final handshake hash of the session (its channel-binding value, identical on both
/// sides; 32 or 64 bytes, SEALWIRE_NOISE_MAX_HASH_LEN always suffices), following the
/// output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `transport` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable for `out_len` bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_transport_handshake_hash(
    transport: *const sealwire_noise_transport,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let transport = unsafe { try_ref(transport) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the hash is ours.
        unsafe { out.fill(transport.slot.get()?.handshake_hash()) }
    })
}

/// Free an ordered transport and zeroize its keys. `transport` may be NULL (no-op).
///
/// # Safety
/// `transport` is NULL or a handle from this library that has not been freed yet and is not
/// in use by another thread; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_transport_free(transport: *mut sealwire_noise_transport) {
    guard((), || {
        if !transport.is_null() {
            // SAFETY: a live handle created by `Box::into_raw` in this library, freed once.
            drop(unsafe { Box::from_raw(transport) });
        }
    })
}

/// Encrypt one message under the next nonce: 8-byte big-endian nonce || ciphertext || tag,
/// `plaintext_len` (at most SEALWIRE_NOISE_MAX_UNORDERED_PLAINTEXT_LEN) + 24 bytes, written
/// to `out` by the output-buffer convention. A call with `out` NULL or too small is a length
/// query that uses no nonce. `out` must not overlap `plaintext`.
///
/// Errors (no nonce is used by any of them): SEALWIRE_NULL_POINTER,
/// SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_MESSAGE_TOO_LARGE, SEALWIRE_OUT_OF_TURN,
/// SEALWIRE_NONCE_EXHAUSTED.
///
/// # Safety
/// As `sealwire_noise_transport_encrypt()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_unordered_transport_encrypt(
    transport: *mut sealwire_noise_unordered_transport,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        // SAFETY: readable for `plaintext_len` bytes (caller contract).
        let plaintext = unsafe { try_slice(plaintext, plaintext_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        transport.slot.with_mut(|t| {
            let required = t.encrypted_len(plaintext.len())?;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            let message = t.encrypt(plaintext)?;
            // SAFETY: `out` writable for `out_len` >= `required` == message length.
            unsafe { out.fill(&message) }
        })
    })
}

/// Decrypt a message received in any order: `msg_len - 24` bytes of plaintext, written to
/// `out` by the output-buffer convention (a buffer of `msg_len` bytes always suffices; a call
/// with `out` NULL or too small is a length query that changes nothing; an empty plaintext
/// needs a non-NULL `out`). `out` must not overlap `msg`.
///
/// Errors (the transport is unchanged after any of them; a rejected message does not mark its
/// nonce as seen): SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_TRUNCATED
/// (under 24 bytes), SEALWIRE_MESSAGE_TOO_LARGE, SEALWIRE_REPLAY (already received, or older
/// than the window), SEALWIRE_DECRYPTION_FAILED, SEALWIRE_NONCE_EXHAUSTED,
/// SEALWIRE_OUT_OF_TURN.
///
/// # Safety
/// As `sealwire_noise_transport_decrypt()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_unordered_transport_decrypt(
    transport: *mut sealwire_noise_unordered_transport,
    msg: *const u8,
    msg_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        // SAFETY: readable for `msg_len` bytes (caller contract).
        let msg = unsafe { try_slice(msg, msg_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        transport.slot.with_mut(|t| {
            let required = t.decrypted_len(msg.len())?;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            let plaintext = Zeroizing::new(t.decrypt(msg)?);
            // SAFETY: `out` writable for `out_len` >= `required` == plaintext length.
            unsafe { out.fill(&plaintext) }
        })
    })
}

/// Rekey by nonce epochs: message `n` is encrypted under the key after `n / messages`
/// REKEYs, so the receiver can tell every message's key whatever the order of arrival.
/// `messages` must be 0 (off, the default) or at least SEALWIRE_NOISE_REPLAY_WINDOW, and is
/// set on both sides before the first message in either direction.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (interval below the window, or a
/// message was already sent or received).
///
/// # Safety
/// `transport` is NULL or a live handle not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_unordered_transport_set_rekey_interval(
    transport: *mut sealwire_noise_unordered_transport,
    messages: u64,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let transport = unsafe { try_mut(transport) }?;
        transport.slot.with_mut(|t| Ok(t.set_rekey_interval(messages)?))
    })
}

/// The final handshake hash of the session, as `sealwire_noise_transport_handshake_hash()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `transport` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable for `out_len` bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_unordered_transport_handshake_hash(
    transport: *const sealwire_noise_unordered_transport,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let transport = unsafe { try_ref(transport) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the hash is ours.
        unsafe { out.fill(transport.slot.get()?.handshake_hash()) }
    })
}

/// Free an unordered transport and zeroize its keys. `transport` may be NULL (no-op).
///
/// # Safety
/// `transport` is NULL or a handle from this library that has not been freed yet and is not
/// in use by another thread; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_noise_unordered_transport_free(transport: *mut sealwire_noise_unordered_transport) {
    guard((), || {
        if !transport.is_null() {
            // SAFETY: a live handle created by `Box::into_raw` in this library, freed once.
            drop(unsafe { Box::from_raw(transport) });
        }
    })
}
