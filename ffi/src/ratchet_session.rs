//! Asynchronous sessions, part 3: `sealwire_ratchet_session` (X3DH / PQXDH, then the Double
//! Ratchet) without a store, and message classification.
//!
//! Flow in C: `sealwire_ratchet_session_initiate()` (from the peer's bundle, offline) →
//! `sealwire_ratchet_session_encrypt()` → the peer's `sealwire_ratchet_session_accept()`
//! (with its `sealwire_prekey_store`) → `_encrypt()` / `_decrypt()` both ways; after every
//! change `sealwire_ratchet_session_seal()` and store the blob *before* sending, and reopen
//! with `sealwire_ratchet_session_open_checked()`. `sealwire_messenger` does all of this
//! (and the storage) for many peers.

use sealwire_core::ratchet::{self, MessageKind, Session, SessionOptions};

use crate::identity::sealwire_identity;
use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_mut, try_ref, try_slice, write_handle, write_owned_bytes, Out, OutBuf};
use crate::public::sealwire_public_identity;
use crate::ratchet_bundle::{key_agreement, sealwire_key_agreement, sealwire_prekey_bundle};
use crate::ratchet_prekeys::sealwire_prekey_store;
use crate::ratchet_tape::{copy_prekeys, copy_session, with_tape};
use crate::result::{sealwire_result, FfiResult};
use crate::slot::Slot;

/// The kind of a ratchet-layer message, from its magic bytes: SEALWIRE_RATCHET_MESSAGE_INITIAL
/// or SEALWIRE_RATCHET_MESSAGE_RATCHET.
pub type sealwire_ratchet_message_type = u32;
/// `SWRI`: starts a session (`sealwire_ratchet_session_accept()`), or repeats the start of one.
pub const SEALWIRE_RATCHET_MESSAGE_INITIAL: sealwire_ratchet_message_type = 1;
/// `SWRM`: a Double Ratchet message of an established session.
pub const SEALWIRE_RATCHET_MESSAGE_RATCHET: sealwire_ratchet_message_type = 2;

/// An end-to-end encrypted conversation with one peer: started from the peer's prekey bundle
/// (`sealwire_ratchet_session_initiate()`, X3DH or PQXDH) or from an initial message
/// (`sealwire_ratchet_session_accept()`), then carried on with the Double Ratchet.
///
/// Opaque. Created by `_initiate()`, `_accept()` or `_open*()`; owned by the caller, who
/// releases it once with `sealwire_ratchet_session_free()`, which zeroizes its keys. Every call
/// is all-or-nothing: a message that fails to decrypt (modified, replayed, too far ahead,
/// another session's) leaves the session exactly as it was. Not for concurrent use: one
/// thread at a time (it may move between threads). A handle whose call panicked is poisoned
/// (later calls return SEALWIRE_PANIC).
///
/// Persistence is the caller's job here: seal the session after every successful
/// `_encrypt()` (before sending the message) and `_decrypt()`, record its generation, and
/// reopen with `sealwire_ratchet_session_open_checked()`. Restoring an older state would
/// reuse message keys.
#[derive(Debug)] // redacted: core prints role, agreement and generation only
pub struct sealwire_ratchet_session {
    slot: Slot<Session>,
}

impl sealwire_ratchet_session {
    fn new(inner: Session) -> Self {
        Self { slot: Slot::new(inner) }
    }
}

/// Start a session with `peer` from its prekey bundle: PQXDH when the bundle is post-quantum,
/// X3DH otherwise. Works offline; the peer learns of the session from the first message
/// `sealwire_ratchet_session_encrypt()` produces (every message until the peer's first reply
/// is an initial message able to start the session). `header_encryption` encrypts the Double
/// Ratchet headers (recommended: `true`; without it ratchet keys and counters travel in clear
/// and link messages together).
///
/// `peer` is who the caller means to talk to: a bundle of anyone else is refused. On success
/// `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_IDENTITY_MISMATCH (the bundle is not `peer`'s),
/// SEALWIRE_NON_CONTRIBUTORY, SEALWIRE_RANDOMNESS.
///
/// # Safety
/// `identity`, `peer` and `bundle` are NULL or live handles; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_initiate(
    identity: *const sealwire_identity,
    peer: *const sealwire_public_identity,
    bundle: *const sealwire_prekey_bundle,
    header_encryption: bool,
    out: *mut *mut sealwire_ratchet_session,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or live handles (caller contract).
        let (identity, peer, bundle) = unsafe { (try_ref(identity)?, try_ref(peer)?, try_ref(bundle)?) };
        let out = Out::new(out)?;
        let options = SessionOptions { header_encryption };
        let inner = Session::initiate_with_options(&identity.inner, &peer.inner, &bundle.inner, options)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_ratchet_session::new(inner)) };
        Ok(())
    })
}

/// TESTING ONLY -- `sealwire_ratchet_session_initiate()` with every random byte taken from
/// `random` (the ephemeral key (32), for PQXDH the ML-KEM encapsulation randomness (32), the
/// first ratchet key (32)), to reproduce test vectors. Whoever knows the tape can decrypt the
/// session: never call this in production code.
///
/// Errors: as `sealwire_ratchet_session_initiate()`; SEALWIRE_INVALID_PARAMETER also when the
/// tape is too short or not used up exactly (no handle is created then).
///
/// # Safety
/// As `sealwire_ratchet_session_initiate()`; `random` is NULL (only with length 0) or
/// readable for `random_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_initiate_for_vectors(
    identity: *const sealwire_identity,
    peer: *const sealwire_public_identity,
    bundle: *const sealwire_prekey_bundle,
    header_encryption: bool,
    random: *const u8,
    random_len: usize,
    out: *mut *mut sealwire_ratchet_session,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or live handles (caller contract).
        let (identity, peer, bundle) = unsafe { (try_ref(identity)?, try_ref(peer)?, try_ref(bundle)?) };
        // SAFETY: readable for `random_len` bytes (caller contract).
        let random = unsafe { try_slice(random, random_len) }?;
        let out = Out::new(out)?;
        let options = SessionOptions { header_encryption };
        let inner = with_tape(random, |t| {
            Session::initiate_with_entropy(&identity.inner, &peer.inner, &bundle.inner, options, t)
        })?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_ratchet_session::new(inner)) };
        Ok(())
    })
}

/// Checked out-parameters of the two accept functions.
struct AcceptOut {
    session: Out<*mut sealwire_ratchet_session>,
    plaintext: Out<*mut u8>,
    plaintext_len: Out<usize>,
}

impl AcceptOut {
    fn new(
        session: *mut *mut sealwire_ratchet_session,
        plaintext: *mut *mut u8,
        plaintext_len: *mut usize,
    ) -> FfiResult<Self> {
        Ok(Self { session: Out::new(session)?, plaintext: Out::new(plaintext)?, plaintext_len: Out::new(plaintext_len)? })
    }

    /// # Safety
    /// The three out-pointers are writable.
    unsafe fn write(self, session: Session, plaintext: Vec<u8>) {
        // SAFETY: forwarded to our caller.
        unsafe {
            write_handle(self.session, sealwire_ratchet_session::new(session));
            write_owned_bytes(self.plaintext, self.plaintext_len, plaintext);
        }
    }
}

/// Accept an initial message addressed to `identity`, whose prekeys are in `prekey_store`:
/// creates the responder's session and decrypts the embedded first message.
///
/// All or nothing: the one-time prekeys the message used are deleted from `prekey_store` only
/// if the whole message authenticated (a second initial message naming the same one-time
/// prekey then fails with SEALWIRE_PREKEY_ALREADY_USED). Seal and store `prekey_store` and
/// the new session together afterwards. Check `sealwire_ratchet_session_peer_identity()`
/// before trusting the content.
///
/// On success `*out_session` receives a new session handle and `*out_plaintext` /
/// `*out_plaintext_len` the first message's plaintext in a buffer allocated by this library
/// (release it with `sealwire_bytes_free()`, which zeroizes it; an empty plaintext is a
/// non-NULL pointer with length 0, freed the same way).
///
/// Errors: SEALWIRE_NULL_POINTER; decoding (SEALWIRE_TRUNCATED, SEALWIRE_BAD_MAGIC,
/// SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_UNSUPPORTED_ALGORITHM, SEALWIRE_MALFORMED,
/// SEALWIRE_INVALID_PUBLIC_KEY, SEALWIRE_BAD_SIGNATURE); SEALWIRE_IDENTITY_MISMATCH
/// (`identity` does not own the store), SEALWIRE_UNKNOWN_PREKEY, SEALWIRE_PREKEY_ALREADY_USED,
/// SEALWIRE_DECRYPTION_FAILED, SEALWIRE_NON_CONTRIBUTORY, SEALWIRE_RANDOMNESS, SEALWIRE_PANIC
/// (poisoned store).
///
/// # Safety
/// `identity` is NULL or a live handle; `prekey_store` is NULL or a live handle not used
/// concurrently; `message` is NULL (only with length 0) or readable for `message_len` bytes;
/// the three out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_accept(
    identity: *const sealwire_identity,
    prekey_store: *mut sealwire_prekey_store,
    message: *const u8,
    message_len: usize,
    out_session: *mut *mut sealwire_ratchet_session,
    out_plaintext: *mut *mut u8,
    out_plaintext_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let store = unsafe { try_mut(prekey_store) }?;
        // SAFETY: readable for `message_len` bytes (caller contract).
        let message = unsafe { try_slice(message, message_len) }?;
        let out = AcceptOut::new(out_session, out_plaintext, out_plaintext_len)?;
        let (session, plaintext) = store
            .slot
            .with_mut(|s| Ok(Session::accept(&identity.inner, s, message)?))?;
        // SAFETY: the out-pointers are writable (caller contract).
        unsafe { out.write(session, plaintext) };
        Ok(())
    })
}

/// TESTING ONLY -- `sealwire_ratchet_session_accept()` with the responder's next ratchet key
/// (32 bytes) taken from `random`, to reproduce test vectors. Never call this in production
/// code.
///
/// Errors: as `sealwire_ratchet_session_accept()`; SEALWIRE_INVALID_PARAMETER also when the
/// tape is not used up exactly (then `prekey_store` is unchanged and nothing is created).
///
/// # Safety
/// As `sealwire_ratchet_session_accept()`; `random` is NULL (only with length 0) or readable
/// for `random_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_accept_for_vectors(
    identity: *const sealwire_identity,
    prekey_store: *mut sealwire_prekey_store,
    message: *const u8,
    message_len: usize,
    random: *const u8,
    random_len: usize,
    out_session: *mut *mut sealwire_ratchet_session,
    out_plaintext: *mut *mut u8,
    out_plaintext_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let identity = unsafe { try_ref(identity) }?;
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let store = unsafe { try_mut(prekey_store) }?;
        // SAFETY: readable for `message_len` bytes (caller contract).
        let message = unsafe { try_slice(message, message_len) }?;
        // SAFETY: readable for `random_len` bytes (caller contract).
        let random = unsafe { try_slice(random, random_len) }?;
        let out = AcceptOut::new(out_session, out_plaintext, out_plaintext_len)?;
        let (session, plaintext) = store.slot.with_mut(|s| {
            let mut next = copy_prekeys(s)?;
            let result = with_tape(random, |t| Session::accept_with_entropy(&identity.inner, &mut next, message, t))?;
            *s = next;
            Ok(result)
        })?;
        // SAFETY: the out-pointers are writable (caller contract).
        unsafe { out.write(session, plaintext) };
        Ok(())
    })
}

/// Encrypt `plaintext` (at most SEALWIRE_RATCHET_MAX_PLAINTEXT_LEN bytes; padded, so the
/// length is hidden up to the padding bucket) as the next message. Until the peer's first
/// message arrives, the initiator's messages are initial messages (`SWRI`).
///
/// On success `*out_message` / `*out_message_len` receive the message in a buffer allocated by
/// this library (randomized output, so no length query): release it with
/// `sealwire_bytes_free()`. Seal and store the session *before* sending it.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (plaintext too large, or the
/// sending chain's counter used up), SEALWIRE_RANDOMNESS, SEALWIRE_PANIC (poisoned handle).
/// The session is unchanged after any error.
///
/// # Safety
/// `session` is NULL or a live handle not used concurrently; `plaintext` is NULL (only with
/// length 0) or readable for `plaintext_len` bytes; `out_message` and `out_message_len` are
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_encrypt(
    session: *mut sealwire_ratchet_session,
    plaintext: *const u8,
    plaintext_len: usize,
    out_message: *mut *mut u8,
    out_message_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let session = unsafe { try_mut(session) }?;
        // SAFETY: readable for `plaintext_len` bytes (caller contract).
        let plaintext = unsafe { try_slice(plaintext, plaintext_len) }?;
        let out_message = Out::new(out_message)?;
        let out_message_len = Out::new(out_message_len)?;
        let message = session.slot.with_mut(|s| Ok(s.encrypt(plaintext)?))?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_message, out_message_len, message) };
        Ok(())
    })
}

/// TESTING ONLY -- `sealwire_ratchet_session_encrypt()` with the header nonce (24 bytes with
/// header encryption, nothing without) taken from `random`, to reproduce test vectors. Never
/// call this in production code.
///
/// Errors: as `sealwire_ratchet_session_encrypt()`; SEALWIRE_INVALID_PARAMETER also when the
/// tape is not used up exactly (the session is unchanged then).
///
/// # Safety
/// As `sealwire_ratchet_session_encrypt()`; `random` is NULL (only with length 0) or readable
/// for `random_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_encrypt_for_vectors(
    session: *mut sealwire_ratchet_session,
    plaintext: *const u8,
    plaintext_len: usize,
    random: *const u8,
    random_len: usize,
    out_message: *mut *mut u8,
    out_message_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let session = unsafe { try_mut(session) }?;
        // SAFETY: readable for `plaintext_len` bytes (caller contract).
        let plaintext = unsafe { try_slice(plaintext, plaintext_len) }?;
        // SAFETY: readable for `random_len` bytes (caller contract).
        let random = unsafe { try_slice(random, random_len) }?;
        let out_message = Out::new(out_message)?;
        let out_message_len = Out::new(out_message_len)?;
        let message = session.slot.with_mut(|s| {
            let mut next = copy_session(s)?;
            let message = with_tape(random, |t| next.encrypt_with_entropy(plaintext, t))?;
            *s = next;
            Ok(message)
        })?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_message, out_message_len, message) };
        Ok(())
    })
}

/// Decrypt a message of this session: a ratchet message, or (responder) a repeated initial
/// message of this same session. Messages may arrive out of order (up to
/// SEALWIRE_RATCHET_MAX_SKIP skipped per chain).
///
/// On success `*out_plaintext` / `*out_plaintext_len` receive the plaintext in a buffer
/// allocated by this library (the padded length hides the real one until decryption, so
/// there is no length query): release it with `sealwire_bytes_free()`, which zeroizes it. An
/// empty plaintext is a non-NULL pointer with length 0, freed the same way.
///
/// Errors (the session is unchanged after every one): SEALWIRE_NULL_POINTER; decoding
/// (SEALWIRE_TRUNCATED, SEALWIRE_BAD_MAGIC, SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_MALFORMED,
/// ...); SEALWIRE_DECRYPTION_FAILED (modified, or not of this session); SEALWIRE_REPLAY
/// (already decrypted); SEALWIRE_TOO_MANY_SKIPPED_MESSAGES; SEALWIRE_SESSION_MISMATCH (an
/// initial message that started another session); SEALWIRE_RANDOMNESS; SEALWIRE_PANIC
/// (poisoned handle).
///
/// # Safety
/// `session` is NULL or a live handle not used concurrently; `message` is NULL (only with
/// length 0) or readable for `message_len` bytes; `out_plaintext` and `out_plaintext_len` are
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_decrypt(
    session: *mut sealwire_ratchet_session,
    message: *const u8,
    message_len: usize,
    out_plaintext: *mut *mut u8,
    out_plaintext_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let session = unsafe { try_mut(session) }?;
        // SAFETY: readable for `message_len` bytes (caller contract).
        let message = unsafe { try_slice(message, message_len) }?;
        let out_plaintext = Out::new(out_plaintext)?;
        let out_plaintext_len = Out::new(out_plaintext_len)?;
        let plaintext = session.slot.with_mut(|s| Ok(s.decrypt(message)?))?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_plaintext, out_plaintext_len, plaintext) };
        Ok(())
    })
}

/// TESTING ONLY -- `sealwire_ratchet_session_decrypt()` with the new ratchet key (32 bytes,
/// only when the message starts a new receiving chain; else nothing) taken from `random`, to
/// reproduce test vectors. Never call this in production code.
///
/// Errors: as `sealwire_ratchet_session_decrypt()`; SEALWIRE_INVALID_PARAMETER also when the
/// tape is not used up exactly (the session is unchanged then). A rejected message uses no
/// randomness: its error is reported with an empty tape.
///
/// # Safety
/// As `sealwire_ratchet_session_decrypt()`; `random` is NULL (only with length 0) or readable
/// for `random_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_decrypt_for_vectors(
    session: *mut sealwire_ratchet_session,
    message: *const u8,
    message_len: usize,
    random: *const u8,
    random_len: usize,
    out_plaintext: *mut *mut u8,
    out_plaintext_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let session = unsafe { try_mut(session) }?;
        // SAFETY: readable for `message_len` bytes (caller contract).
        let message = unsafe { try_slice(message, message_len) }?;
        // SAFETY: readable for `random_len` bytes (caller contract).
        let random = unsafe { try_slice(random, random_len) }?;
        let out_plaintext = Out::new(out_plaintext)?;
        let out_plaintext_len = Out::new(out_plaintext_len)?;
        let plaintext = session.slot.with_mut(|s| {
            let mut next = copy_session(s)?;
            let plaintext = with_tape(random, |t| next.decrypt_with_entropy(message, t))?;
            *s = next;
            Ok(plaintext)
        })?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_plaintext, out_plaintext_len, plaintext) };
        Ok(())
    })
}

/// Seal the whole session under a 32-byte storage key (SEALWIRE_RATCHET_STORAGE_KEY_LEN) into
/// an `SWSS` blob carrying the generation (authenticated). Two seals of one state differ
/// (fresh nonce).
///
/// On success `*out_blob` / `*out_blob_len` receive a buffer allocated by this library:
/// release it with `sealwire_bytes_free()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (storage key), SEALWIRE_RANDOMNESS,
/// SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// `session` is NULL or a live handle not being modified concurrently; `storage_key` is NULL
/// (only with length 0) or readable for `storage_key_len` bytes; `out_blob` and
/// `out_blob_len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_seal(
    session: *const sealwire_ratchet_session,
    storage_key: *const u8,
    storage_key_len: usize,
    out_blob: *mut *mut u8,
    out_blob_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let session = unsafe { try_ref(session) }?;
        // SAFETY: readable for `storage_key_len` bytes (caller contract).
        let key = unsafe { try_slice(storage_key, storage_key_len) }?;
        let out_blob = Out::new(out_blob)?;
        let out_blob_len = Out::new(out_blob_len)?;
        let blob = session.slot.get()?.seal(key)?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_blob, out_blob_len, blob) };
        Ok(())
    })
}

/// TESTING ONLY -- `sealwire_ratchet_session_seal()` with the 24-byte nonce taken from
/// `random`, to reproduce test vectors. Reusing a nonce under one storage key breaks the
/// encryption: never call this in production code.
///
/// Errors: as `sealwire_ratchet_session_seal()`; SEALWIRE_INVALID_PARAMETER also when the
/// tape is not exactly 24 bytes.
///
/// # Safety
/// As `sealwire_ratchet_session_seal()`; `random` is NULL (only with length 0) or readable
/// for `random_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_seal_for_vectors(
    session: *const sealwire_ratchet_session,
    storage_key: *const u8,
    storage_key_len: usize,
    random: *const u8,
    random_len: usize,
    out_blob: *mut *mut u8,
    out_blob_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let session = unsafe { try_ref(session) }?;
        // SAFETY: readable for `storage_key_len` bytes (caller contract).
        let key = unsafe { try_slice(storage_key, storage_key_len) }?;
        // SAFETY: readable for `random_len` bytes (caller contract).
        let random = unsafe { try_slice(random, random_len) }?;
        let out_blob = Out::new(out_blob)?;
        let out_blob_len = Out::new(out_blob_len)?;
        let s = session.slot.get()?;
        let blob = with_tape(random, |t| s.seal_with_entropy(key, t))?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_blob, out_blob_len, blob) };
        Ok(())
    })
}

/// Open a sealed session. A wrong key or any modification is SEALWIRE_DECRYPTION_FAILED.
/// Prefer `sealwire_ratchet_session_open_checked()`: a restored older snapshot would
/// re-derive message keys already used.
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
pub unsafe extern "C" fn sealwire_ratchet_session_open(
    blob: *const u8,
    blob_len: usize,
    storage_key: *const u8,
    storage_key_len: usize,
    out: *mut *mut sealwire_ratchet_session,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `blob_len` bytes (caller contract).
        let blob = unsafe { try_slice(blob, blob_len) }?;
        // SAFETY: readable for `storage_key_len` bytes (caller contract).
        let key = unsafe { try_slice(storage_key, storage_key_len) }?;
        let out = Out::new(out)?;
        let inner = Session::open(blob, key)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_ratchet_session::new(inner)) };
        Ok(())
    })
}

/// `sealwire_ratchet_session_open()`, refusing a state whose generation is below
/// `expected_generation` (the generation of the state last committed) with
/// SEALWIRE_STALE_STATE. Then do not use the old state: start a new session from a fresh
/// bundle.
///
/// Errors: as `sealwire_ratchet_session_open()`, and SEALWIRE_STALE_STATE.
///
/// # Safety
/// As `sealwire_ratchet_session_open()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_open_checked(
    blob: *const u8,
    blob_len: usize,
    storage_key: *const u8,
    storage_key_len: usize,
    expected_generation: u64,
    out: *mut *mut sealwire_ratchet_session,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `blob_len` bytes (caller contract).
        let blob = unsafe { try_slice(blob, blob_len) }?;
        // SAFETY: readable for `storage_key_len` bytes (caller contract).
        let key = unsafe { try_slice(storage_key, storage_key_len) }?;
        let out = Out::new(out)?;
        let inner = Session::open_checked(blob, key, expected_generation)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_ratchet_session::new(inner)) };
        Ok(())
    })
}

/// The session id (SEALWIRE_RATCHET_SESSION_ID_LEN = 32 bytes, equal on both sides: a hash of
/// the initial message's prefix), following the output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// `session` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable for `out_len` bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_session_id(
    session: *const sealwire_ratchet_session,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let session = unsafe { try_ref(session) }?;
        let out = OutBuf::new(out, out_len, written)?;
        let id = session.slot.get()?.session_id();
        // SAFETY: `out`/`written` writable (caller contract); the id is ours.
        unsafe { out.fill(&id) }
    })
}

/// Read one value of a session into `*out`.
///
/// # Safety
/// `session` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable.
unsafe fn get<T>(session: *const sealwire_ratchet_session, out: *mut T, f: impl FnOnce(&Session) -> T) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let session = unsafe { try_ref(session) }?;
        let out = Out::new(out)?;
        let value = f(session.slot.get()?);
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(value) };
        Ok(())
    })
}

/// A predicate of a session; false if `session` is NULL or poisoned.
///
/// # Safety
/// `session` is NULL or a live handle not being modified concurrently.
unsafe fn flag(session: *const sealwire_ratchet_session, f: impl FnOnce(&Session) -> bool) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live handle (caller contract).
        match unsafe { try_ref(session) } {
            Ok(s) => s.slot.get().is_ok_and(f),
            Err(_) => false,
        }
    })
}

/// The generation, in `*out`: incremented by every successful encrypt and decrypt, written
/// into the sealed state. Record it with every sealed state you commit (for
/// `sealwire_ratchet_session_open_checked()`).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// `session` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_generation(
    session: *const sealwire_ratchet_session,
    out: *mut u64,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { get(session, out, Session::generation) }
}

/// The key agreement that started the session (SEALWIRE_KEY_AGREEMENT_X3DH or _PQXDH), in
/// `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// As `sealwire_ratchet_session_generation()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_key_agreement(
    session: *const sealwire_ratchet_session,
    out: *mut sealwire_key_agreement,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { get(session, out, |s| key_agreement(s.key_agreement())) }
}

/// The number of skipped message keys kept for late messages, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// As `sealwire_ratchet_session_generation()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_skipped_message_keys(
    session: *const sealwire_ratchet_session,
    out: *mut usize,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { get(session, out, Session::skipped_message_keys) }
}

/// Whether the Double Ratchet headers are encrypted. False if `session` is NULL or poisoned.
///
/// # Safety
/// `session` is NULL or a live handle not being modified concurrently.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_header_encryption(session: *const sealwire_ratchet_session) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { flag(session, Session::header_encryption) }
}

/// Whether this side started the session. False if `session` is NULL or poisoned.
///
/// # Safety
/// As `sealwire_ratchet_session_header_encryption()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_is_initiator(session: *const sealwire_ratchet_session) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { flag(session, Session::is_initiator) }
}

/// Whether this side's messages are still initial messages (initiator, until the peer's
/// first message was decrypted). False if `session` is NULL or poisoned.
///
/// # Safety
/// As `sealwire_ratchet_session_header_encryption()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_awaiting_reply(session: *const sealwire_ratchet_session) -> bool {
    // SAFETY: forwarded caller contract.
    unsafe { flag(session, Session::awaiting_reply) }
}

/// Write a public identity taken from a session as a NEW handle.
///
/// # Safety
/// As `sealwire_ratchet_session_peer_identity()`.
unsafe fn identity_of(
    session: *const sealwire_ratchet_session,
    out: *mut *mut sealwire_public_identity,
    f: impl FnOnce(&Session) -> &sealwire_core::PublicIdentity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let session = unsafe { try_ref(session) }?;
        let out = Out::new(out)?;
        let inner = f(session.slot.get()?).clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// The peer's public identity (for the responder: as authenticated by the initial message),
/// as a NEW `sealwire_public_identity` handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// `session` is NULL or a live handle not being modified concurrently; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_peer_identity(
    session: *const sealwire_ratchet_session,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { identity_of(session, out, Session::peer_identity) }
}

/// Our own public identity in this session, as a NEW `sealwire_public_identity` handle.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned handle).
///
/// # Safety
/// As `sealwire_ratchet_session_peer_identity()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_local_identity(
    session: *const sealwire_ratchet_session,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { identity_of(session, out, Session::local_identity) }
}

/// Free a session and zeroize its keys. `session` may be NULL (no-op).
///
/// # Safety
/// `session` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_session_free(session: *mut sealwire_ratchet_session) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(session) }
    })
}

/// Classify a message by its magic and version without decrypting it
/// (SEALWIRE_RATCHET_MESSAGE_INITIAL or _RATCHET), in `*out`: an initial message goes to
/// `sealwire_ratchet_session_accept()` unless a session it started exists.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_TRUNCATED, SEALWIRE_BAD_MAGIC,
/// SEALWIRE_UNSUPPORTED_VERSION.
///
/// # Safety
/// `message` is NULL (only with length 0) or readable for `message_len` bytes; `out` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_message_kind(
    message: *const u8,
    message_len: usize,
    out: *mut sealwire_ratchet_message_type,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `message_len` bytes (caller contract).
        let message = unsafe { try_slice(message, message_len) }?;
        let out = Out::new(out)?;
        let kind = match ratchet::message_kind(message)? {
            MessageKind::Initial => SEALWIRE_RATCHET_MESSAGE_INITIAL,
            MessageKind::Ratchet => SEALWIRE_RATCHET_MESSAGE_RATCHET,
        };
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(kind) };
        Ok(())
    })
}

/// The sender named by an initial message, as a NEW `sealwire_public_identity` handle (its
/// binding signature verified; the message itself is NOT authenticated until it is accepted
/// or decrypted): to find the sender's sessions.
///
/// Errors: SEALWIRE_NULL_POINTER; decoding (SEALWIRE_TRUNCATED, SEALWIRE_BAD_MAGIC -- also
/// for a ratchet message --, SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_UNSUPPORTED_ALGORITHM,
/// SEALWIRE_MALFORMED); SEALWIRE_INVALID_PUBLIC_KEY, SEALWIRE_BAD_SIGNATURE.
///
/// # Safety
/// `message` is NULL (only with length 0) or readable for `message_len` bytes; `out` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_ratchet_initial_message_sender(
    message: *const u8,
    message_len: usize,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `message_len` bytes (caller contract).
        let message = unsafe { try_slice(message, message_len) }?;
        let out = Out::new(out)?;
        let inner = ratchet::initial_message_sender(message)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}
