//! Asynchronous sessions, part 4: `sealwire_messenger`, crash-safe sessions with many peers in
//! one SQLite file (or in memory), and its records (`sealwire_outbox_record`,
//! `sealwire_received` and their lists).
//!
//! Flow in C: `sealwire_messenger_create()` once (then `_open()`), publish
//! `sealwire_messenger_bundle()`; `sealwire_messenger_connect()` with a peer's bundle;
//! `sealwire_messenger_send()` → hand the record's ciphertext to the transport →
//! `sealwire_messenger_mark_sent()`; `sealwire_messenger_receive()` → handle the plaintext →
//! `sealwire_messenger_ack()`. After a restart `_pending_outbox()` / `_pending_inbox()` give
//! back what was not marked sent / acknowledged. Design: `docs/STORE.md`.

use core::ffi::c_char;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use sealwire_core::relay::RelayAgent;
use sealwire_core::store::{self, MemoryStore, Messenger, OutboxRecord, PeerId, Received, SessionStore, SqliteStore};
use sealwire_core::{Identity, PublicIdentity};
use zeroize::Zeroizing;

use crate::identity::sealwire_identity;
use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_path, try_ref, try_slice, write_handle, Out, OutBuf};
use crate::public::sealwire_public_identity;
use crate::ratchet_bundle::{sealwire_prekey_bundle, SEALWIRE_RATCHET_STORAGE_KEY_LEN};
use crate::ratchet_prekeys::prekey_options;
use crate::result::{sealwire_result, FfiResult};

/// Length of a peer id (the peer's Ed25519 public key), in bytes.
pub const SEALWIRE_MESSENGER_PEER_ID_LEN: usize = 32;
/// Length of a message id (SHA-256 over a label and the wire message), in bytes.
pub const SEALWIRE_MESSENGER_MESSAGE_ID_LEN: usize = 32;
/// Most sessions kept per peer (the current one and older ones whose in-flight messages
/// still decrypt).
pub const SEALWIRE_MESSENGER_MAX_SESSIONS_PER_PEER: usize = 5;

const _: () = assert!(SEALWIRE_MESSENGER_PEER_ID_LEN == core::mem::size_of::<PeerId>());
const _: () = assert!(SEALWIRE_MESSENGER_MESSAGE_ID_LEN == core::mem::size_of::<store::MessageId>());
const _: () = assert!(SEALWIRE_MESSENGER_MAX_SESSIONS_PER_PEER == store::MAX_SESSIONS_PER_PEER);

pub(crate) type Store = Box<dyn SessionStore + Send>;
pub(crate) type Inner = Messenger<Store>;

/// An agent's asynchronous sessions with its peers, persisted in one store: its identity,
/// its prekeys, one record of sessions per peer, an outbox, an inbox and the ids of the
/// messages already received, all sealed under the caller's 32-byte storage key.
/// `_send()` commits the new state and the ciphertext before returning it; `_receive()`
/// commits state, consumed prekeys, dedupe record and plaintext in one transaction.
///
/// Opaque. Created by `sealwire_messenger_create()`, `_create_in_memory()` or `_open()`;
/// owned by the caller, who releases it once with `sealwire_messenger_free()` (which closes
/// the database and zeroizes the keys it holds). Internally locked: every function may be
/// called from several threads at once (calls run one after the other); the functions that
/// change the store take a `sealwire_messenger *`. A failed call commits nothing and leaves
/// the messenger as it was. A messenger whose call panicked (a bug) is poisoned: later
/// calls return SEALWIRE_PANIC. One messenger per database file: a second writer makes the
/// other's next commit fail with SEALWIRE_STORE_CONFLICT.
///
/// `sealwire_relay_agent_new()` takes a messenger over (it sets the caller's pointer to
/// NULL); `sealwire_relay_agent_messenger()` then lends it back, borrowed from the agent:
/// every function here works on that pointer, and `sealwire_messenger_free()` on it is a
/// no-op (see `sealwire_relay_agent`).
#[derive(Debug)] // redacted: core prints the counter and the number of cached peers
pub struct sealwire_messenger {
    inner: Mutex<Held>,
    /// Owned by a `sealwire_relay_agent` (which lends this handle out): `_free()` ignores it.
    pub(crate) lent: AtomicBool,
}

/// What a messenger handle holds: the messenger itself, or (once a relay agent took it
/// over) the relay agent that wraps it. `Empty` only if `RelayAgent::new` failed after
/// taking the messenger (it cannot fail in practice: the mailbox keys are a hash).
#[derive(Debug)] // redacted: core prints no secrets
pub(crate) enum Held {
    Plain(Inner),
    Relay(RelayAgent<Store>),
    Empty,
}

impl Held {
    /// The messenger inside, wherever it is.
    fn messenger(&mut self) -> FfiResult<&mut Inner> {
        match self {
            Held::Plain(m) => Ok(m),
            Held::Relay(a) => Ok(a.messenger()),
            Held::Empty => Err(sealwire_result::INVALID_STATE),
        }
    }
}

// What the documentation above promises: the messenger (also inside a relay agent) may move
// between threads.
const _: () = {
    const fn send<T: Send>() {}
    send::<Inner>();
    send::<RelayAgent<Store>>();
};

impl sealwire_messenger {
    fn new(inner: Inner) -> Self {
        Self { inner: Mutex::new(Held::Plain(inner)), lent: AtomicBool::new(false) }
    }

    /// The held value, locked. A lock poisoned by a panic gives SEALWIRE_PANIC.
    pub(crate) fn lock(&self) -> FfiResult<MutexGuard<'_, Held>> {
        self.inner.lock().map_err(|_| sealwire_result::PANIC)
    }
}

/// A 32-byte peer id from C.
pub(crate) fn peer_id(bytes: &[u8]) -> FfiResult<PeerId> {
    PeerId::try_from(bytes).map_err(|_| sealwire_result::INVALID_LENGTH)
}

/// A storage key of the right length, checked before any file is touched.
fn storage_key(bytes: &[u8]) -> FfiResult<&[u8]> {
    if bytes.len() != SEALWIRE_RATCHET_STORAGE_KEY_LEN {
        return Err(sealwire_result::INVALID_LENGTH);
    }
    Ok(bytes)
}

/// The shared body of the two create functions: `path` `None` = in memory.
///
/// # Safety
/// As `sealwire_messenger_create()`.
#[allow(clippy::too_many_arguments)]
unsafe fn create(
    path: Option<*const c_char>,
    identity: *const sealwire_identity,
    storage_key: *const u8,
    storage_key_len: usize,
    one_time_prekeys: u32,
    kem_one_time_prekeys: u32,
    post_quantum: bool,
    now_unix: u64,
    out: *mut *mut sealwire_messenger,
) -> FfiResult {
    let path = match path {
        // SAFETY: NULL or NUL-terminated (caller contract).
        Some(p) => Some(unsafe { try_path(p) }?),
        None => None,
    };
    // SAFETY: NULL or a live handle (caller contract).
    let identity = unsafe { try_ref(identity) }?;
    // SAFETY: readable for `storage_key_len` bytes (caller contract).
    let key = self::storage_key(unsafe { try_slice(storage_key, storage_key_len) }?)?;
    let out = Out::new(out)?;
    let options = prekey_options(one_time_prekeys, kem_one_time_prekeys, post_quantum)?;
    let store: Store = match path {
        Some(p) => Box::new(SqliteStore::open(p)?),
        None => Box::new(MemoryStore::new()),
    };
    let owned: Identity = identity.inner.duplicate();
    let inner = Messenger::create(store, owned, key, options, now_unix)?;
    // SAFETY: `out` is writable (caller contract).
    unsafe { write_handle(out, sealwire_messenger::new(inner)) };
    Ok(())
}

/// Set up a new store in the SQLite file `path` (created if missing; it must hold no other
/// data) for `identity` (copied), sealed under `storage_key` (SEALWIRE_RATCHET_STORAGE_KEY_LEN
/// = 32 bytes, from the application's key store), with freshly generated prekeys as in
/// `sealwire_prekey_store_generate()` (`now_unix` dates the signed prekey). Publish
/// `sealwire_messenger_bundle()` afterwards. Save `sealwire_messenger_counter()` outside the
/// store after every operation, for `sealwire_messenger_open()`.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (empty path, a prekey count
/// above 1000), SEALWIRE_INVALID_LENGTH (storage key), SEALWIRE_INVALID_UTF8 (non-UTF-8 path
/// outside Unix), SEALWIRE_STORAGE (the file cannot be opened or holds other tables),
/// SEALWIRE_UNSUPPORTED_VERSION (newer schema), SEALWIRE_STORE_CONFLICT (the file already
/// holds a sealwire store: use `_open()`), SEALWIRE_RANDOMNESS.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `identity` is NULL or a live handle;
/// `storage_key` is NULL (only with length 0) or readable for `storage_key_len` bytes; `out`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_create(
    path: *const c_char,
    identity: *const sealwire_identity,
    storage_key: *const u8,
    storage_key_len: usize,
    one_time_prekeys: u32,
    kem_one_time_prekeys: u32,
    post_quantum: bool,
    now_unix: u64,
    out: *mut *mut sealwire_messenger,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            create(
                Some(path),
                identity,
                storage_key,
                storage_key_len,
                one_time_prekeys,
                kem_one_time_prekeys,
                post_quantum,
                now_unix,
                out,
            )
        }
    })
}

/// `sealwire_messenger_create()` over a store in memory: nothing survives
/// `sealwire_messenger_free()`. For tests and short-lived agents.
///
/// Errors: as `sealwire_messenger_create()` (no storage errors).
///
/// # Safety
/// `identity` is NULL or a live handle; `storage_key` is NULL (only with length 0) or readable
/// for `storage_key_len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_create_in_memory(
    identity: *const sealwire_identity,
    storage_key: *const u8,
    storage_key_len: usize,
    one_time_prekeys: u32,
    kem_one_time_prekeys: u32,
    post_quantum: bool,
    now_unix: u64,
    out: *mut *mut sealwire_messenger,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: forwarded caller contract.
        unsafe {
            create(
                None,
                identity,
                storage_key,
                storage_key_len,
                one_time_prekeys,
                kem_one_time_prekeys,
                post_quantum,
                now_unix,
                out,
            )
        }
    })
}

/// Open the store in the SQLite file `path` set up by `sealwire_messenger_create()` (or any
/// sealwire binding). `min_counter` is the `sealwire_messenger_counter()` value saved outside
/// the store after the last operation (0 skips the check): a store whose counter is lower was
/// rolled back to an older copy and is refused with SEALWIRE_STALE_STATE (using it would
/// re-derive message keys already used; see docs/STORE.md). Like the other bindings, a path
/// without a store is created as an empty database, then refused with SEALWIRE_STORAGE.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (empty path),
/// SEALWIRE_INVALID_LENGTH (storage key), SEALWIRE_STORAGE, SEALWIRE_UNSUPPORTED_VERSION,
/// SEALWIRE_STALE_STATE, SEALWIRE_DECRYPTION_FAILED (wrong storage key or modified records),
/// decoding errors of the stored records.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `storage_key` is NULL (only with length 0) or
/// readable for `storage_key_len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_open(
    path: *const c_char,
    storage_key: *const u8,
    storage_key_len: usize,
    min_counter: u64,
    out: *mut *mut sealwire_messenger,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let path = unsafe { try_path(path) }?;
        // SAFETY: readable for `storage_key_len` bytes (caller contract).
        let key = self::storage_key(unsafe { try_slice(storage_key, storage_key_len) }?)?;
        let out = Out::new(out)?;
        let store: Store = Box::new(SqliteStore::open(path)?);
        let inner = Messenger::open(store, key, min_counter)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_messenger::new(inner)) };
        Ok(())
    })
}

/// Free a messenger: close its store and zeroize the keys it holds. `messenger` may be NULL
/// (no-op). Everything committed stays in the file. A messenger lent by a relay agent
/// (`sealwire_relay_agent_messenger()`) belongs to the agent: freeing it here is a no-op
/// (`sealwire_relay_agent_free()` closes it).
///
/// # Safety
/// `messenger` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call (on any thread); it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_free(messenger: *mut sealwire_messenger) {
    guard((), || {
        // SAFETY: NULL or a live handle (caller contract).
        if let Ok(m) = unsafe { try_ref(messenger.cast_const()) } {
            if m.lent.load(Ordering::Acquire) {
                return;
            }
        }
        // SAFETY: NULL or a live handle not lent to an agent, freed once (caller contract).
        unsafe { free_handle(messenger) }
    })
}

/// Run `f` on the locked messenger.
///
/// # Safety
/// `messenger` is NULL or a live handle.
unsafe fn with<T>(messenger: *const sealwire_messenger, f: impl FnOnce(&mut Inner) -> FfiResult<T>) -> FfiResult<T> {
    // SAFETY: NULL or a live handle (caller contract); internally locked.
    let messenger = unsafe { try_ref(messenger) }?;
    let mut guard = messenger.lock()?;
    f(guard.messenger()?)
}

/// Our own public identity, as a NEW `sealwire_public_identity` handle.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC (poisoned messenger).
///
/// # Safety
/// `messenger` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_identity(
    messenger: *const sealwire_messenger,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let inner = unsafe { with(messenger, |m| Ok(m.identity().clone())) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// Our peer id (SEALWIRE_MESSENGER_PEER_ID_LEN = 32 bytes: our Ed25519 public key, what peers
/// pass to `sealwire_messenger_send()`), following the output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_PANIC.
///
/// # Safety
/// `messenger` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_peer_id(
    messenger: *const sealwire_messenger,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: NULL or a live handle (caller contract).
        let id = unsafe { with(messenger, |m| Ok(m.peer_id())) }?;
        // SAFETY: `out`/`written` writable (caller contract); the id is ours.
        unsafe { out.fill(&id) }
    })
}

/// The store counter after our last commit, in `*out`. Save it outside the store after each
/// operation (at least before shutting down) and pass it to `sealwire_messenger_open()` to
/// detect a rolled-back store. Outbox and inbox ids are counter values.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC.
///
/// # Safety
/// `messenger` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_counter(
    messenger: *const sealwire_messenger,
    out: *mut u64,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let counter = unsafe { with(messenger, |m| Ok(m.counter())) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(counter) };
        Ok(())
    })
}

/// The prekey bundle to publish, as a NEW `sealwire_prekey_bundle` handle. Fetch it again
/// after `_replenish_prekeys()`, `_rotate_signed_prekey()` and accepted sessions (which
/// consume one-time prekeys).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, storage and decoding errors of the stored
/// prekeys (SEALWIRE_STORAGE, SEALWIRE_DECRYPTION_FAILED, SEALWIRE_STALE_STATE, ...).
///
/// # Safety
/// `messenger` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_bundle(
    messenger: *const sealwire_messenger,
    out: *mut *mut sealwire_prekey_bundle,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let inner = unsafe { with(messenger, |m| Ok(m.bundle()?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_prekey_bundle { inner }) };
        Ok(())
    })
}

/// The number of unused one-time X25519 prekeys, in `*out` (accepted sessions consume them;
/// top them up with `sealwire_messenger_replenish_prekeys()`).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, storage errors.
///
/// # Safety
/// `messenger` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_one_time_prekey_count(
    messenger: *const sealwire_messenger,
    out: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let n = unsafe { with(messenger, |m| Ok(m.one_time_prekey_count()?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(n) };
        Ok(())
    })
}

/// Top the one-time prekeys back up to the counts given at creation and commit; publish the
/// bundle again.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, SEALWIRE_RANDOMNESS, SEALWIRE_STORAGE,
/// SEALWIRE_STORE_CONFLICT.
///
/// # Safety
/// `messenger` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_replenish_prekeys(messenger: *mut sealwire_messenger) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { with(messenger, |m| Ok(m.replenish_prekeys()?)) }
    })
}

/// Replace the signed prekey (and last-resort ML-KEM prekey), dating it `now_unix`, and
/// commit; publish the bundle again. The old ones keep accepting initial messages until
/// `sealwire_messenger_remove_expired_signed_prekeys()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, SEALWIRE_RANDOMNESS, SEALWIRE_STORAGE,
/// SEALWIRE_STORE_CONFLICT.
///
/// # Safety
/// `messenger` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_rotate_signed_prekey(
    messenger: *mut sealwire_messenger,
    now_unix: u64,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { with(messenger, |m| Ok(m.rotate_signed_prekey(now_unix)?)) }
    })
}

/// Forget replaced signed prekeys retired more than `grace_secs` before `now_unix` and commit
/// if any were removed; `*removed` receives how many.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, SEALWIRE_STORAGE, SEALWIRE_STORE_CONFLICT.
///
/// # Safety
/// `messenger` is NULL or a live handle; `removed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_remove_expired_signed_prekeys(
    messenger: *mut sealwire_messenger,
    now_unix: u64,
    grace_secs: u64,
    removed: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        let removed = Out::new(removed)?;
        // SAFETY: NULL or a live handle (caller contract).
        let n = unsafe { with(messenger, |m| Ok(m.remove_expired_signed_prekeys(now_unix, grace_secs)?)) }?;
        // SAFETY: `removed` is writable (caller contract).
        unsafe { removed.write(n) };
        Ok(())
    })
}

/// Start a session with `peer` from its bundle (header encryption on) and commit it. Works
/// offline; the peer learns of the session from the first message sent. An existing session
/// with `peer` is kept as an older one (its in-flight messages still decrypt); the new one
/// becomes current.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, SEALWIRE_IDENTITY_MISMATCH (the bundle is not
/// `peer`'s), SEALWIRE_NON_CONTRIBUTORY, SEALWIRE_RANDOMNESS, SEALWIRE_STORAGE,
/// SEALWIRE_STORE_CONFLICT.
///
/// # Safety
/// `messenger`, `peer` and `bundle` are NULL or live handles.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_connect(
    messenger: *mut sealwire_messenger,
    peer: *const sealwire_public_identity,
    bundle: *const sealwire_prekey_bundle,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or live handles (caller contract).
        let (peer, bundle) = unsafe { (try_ref(peer)?, try_ref(bundle)?) };
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { with(messenger, |m| Ok(m.connect(&peer.inner, &bundle.inner)?)) }
    })
}

/// Whether a session with the peer `peer_id` (32 bytes) exists, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (peer id), SEALWIRE_PANIC, storage
/// and decoding errors of the stored record.
///
/// # Safety
/// `messenger` is NULL or a live handle; `peer_id` is NULL (only with length 0) or readable
/// for `peer_id_len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_has_session(
    messenger: *const sealwire_messenger,
    peer_id: *const u8,
    peer_id_len: usize,
    out: *mut bool,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `peer_id_len` bytes (caller contract).
        let peer = self::peer_id(unsafe { try_slice(peer_id, peer_id_len) }?)?;
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let has = unsafe { with(messenger, |m| Ok(m.has_session(&peer)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(has) };
        Ok(())
    })
}

/// The public identity of the peer `peer_id` as authenticated by its current session, as a
/// NEW `sealwire_public_identity` handle.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH, SEALWIRE_NO_SESSION, SEALWIRE_PANIC,
/// storage errors.
///
/// # Safety
/// As `sealwire_messenger_has_session()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_peer_identity(
    messenger: *const sealwire_messenger,
    peer_id: *const u8,
    peer_id_len: usize,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `peer_id_len` bytes (caller contract).
        let peer = self::peer_id(unsafe { try_slice(peer_id, peer_id_len) }?)?;
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let found = unsafe { with(messenger, |m| Ok(m.peer_identity(&peer)?)) }?;
        let inner: PublicIdentity = found.ok_or(sealwire_result::NO_SESSION)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// Messages committed for sending to `peer_id`, ever (0 without a session), in `*out`.
/// Committed with each outbox record, so after a crash it tells which messages were sent.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH, SEALWIRE_PANIC, storage errors.
///
/// # Safety
/// As `sealwire_messenger_has_session()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_sent_count(
    messenger: *const sealwire_messenger,
    peer_id: *const u8,
    peer_id_len: usize,
    out: *mut u64,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `peer_id_len` bytes (caller contract).
        let peer = self::peer_id(unsafe { try_slice(peer_id, peer_id_len) }?)?;
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let n = unsafe { with(messenger, |m| Ok(m.sent_count(&peer)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(n) };
        Ok(())
    })
}

/// Messages received from `peer_id` and committed, ever, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH, SEALWIRE_PANIC, storage errors.
///
/// # Safety
/// As `sealwire_messenger_has_session()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_received_count(
    messenger: *const sealwire_messenger,
    peer_id: *const u8,
    peer_id_len: usize,
    out: *mut u64,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `peer_id_len` bytes (caller contract).
        let peer = self::peer_id(unsafe { try_slice(peer_id, peer_id_len) }?)?;
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let n = unsafe { with(messenger, |m| Ok(m.received_count(&peer)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(n) };
        Ok(())
    })
}

/// Encrypt `plaintext` (at most SEALWIRE_RATCHET_MAX_PLAINTEXT_LEN bytes) for the peer
/// `peer_id` with the current session, commit the new state and an outbox record holding the
/// ciphertext (one transaction), and return the record. Send its ciphertext
/// (`sealwire_outbox_record_ciphertext()`), then call `sealwire_messenger_mark_sent()` with
/// its id. If the process dies in between, `sealwire_messenger_pending_outbox()` returns the
/// same record after a restart (never re-encrypted).
///
/// On success `*out` receives a new record handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (peer id), SEALWIRE_NO_SESSION
/// (connect first), SEALWIRE_INVALID_PARAMETER (plaintext too large), SEALWIRE_RANDOMNESS,
/// SEALWIRE_STORAGE, SEALWIRE_STORE_CONFLICT, SEALWIRE_PANIC. Nothing is committed after any
/// error.
///
/// # Safety
/// `messenger` is NULL or a live handle; `peer_id` and `plaintext` are NULL (only with length
/// 0) or readable for their lengths; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_send(
    messenger: *mut sealwire_messenger,
    peer_id: *const u8,
    peer_id_len: usize,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut *mut sealwire_outbox_record,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `peer_id_len` bytes (caller contract).
        let peer = self::peer_id(unsafe { try_slice(peer_id, peer_id_len) }?)?;
        // SAFETY: readable for `plaintext_len` bytes (caller contract).
        let plaintext = unsafe { try_slice(plaintext, plaintext_len) }?;
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let inner = unsafe { with(messenger, |m| Ok(m.send(&peer, plaintext)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_outbox_record { inner }) };
        Ok(())
    })
}

/// The outbox records not yet marked sent, oldest first, as a NEW `sealwire_outbox_list`
/// handle: after a restart, send each again (byte for byte) and mark it sent; the receiver
/// drops duplicates.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, SEALWIRE_STORAGE.
///
/// # Safety
/// `messenger` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_pending_outbox(
    messenger: *const sealwire_messenger,
    out: *mut *mut sealwire_outbox_list,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let items = unsafe { with(messenger, |m| Ok(m.pending_outbox()?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_outbox_list { items }) };
        Ok(())
    })
}

/// The transport has taken outbox record `id`: forget it. Idempotent (an unknown id is fine).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, SEALWIRE_STORAGE.
///
/// # Safety
/// `messenger` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_mark_sent(messenger: *mut sealwire_messenger, id: u64) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { with(messenger, |m| Ok(m.mark_sent(id)?)) }
    })
}

/// Process one message from the wire.
///
/// On success `*out` receives either a new `sealwire_received` handle (decrypted; the new
/// session state, the consumed one-time prekeys of a message that started a session, the
/// message id and the plaintext were committed in one transaction: handle the plaintext,
/// then `sealwire_messenger_ack()` its id), or **NULL if the message was already received**
/// (a duplicate: same bytes; nothing changed).
///
/// Initial messages name their sender and go to that peer's sessions, or start a new
/// session. Ratchet messages (headers encrypted) name nobody: every session is tried.
///
/// Errors (nothing committed, nothing changed): SEALWIRE_NULL_POINTER; decoding
/// (SEALWIRE_TRUNCATED, SEALWIRE_BAD_MAGIC, ...); SEALWIRE_DECRYPTION_FAILED (no session can
/// read it); SEALWIRE_REPLAY (its keys were already used); SEALWIRE_PREKEY_ALREADY_USED,
/// SEALWIRE_UNKNOWN_PREKEY, SEALWIRE_TOO_MANY_SKIPPED_MESSAGES, SEALWIRE_RANDOMNESS,
/// SEALWIRE_STORAGE, SEALWIRE_STORE_CONFLICT, SEALWIRE_PANIC.
///
/// # Safety
/// `messenger` is NULL or a live handle; `message` is NULL (only with length 0) or readable
/// for `message_len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_receive(
    messenger: *mut sealwire_messenger,
    message: *const u8,
    message_len: usize,
    out: *mut *mut sealwire_received,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `message_len` bytes (caller contract).
        let message = unsafe { try_slice(message, message_len) }?;
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let received = unsafe { with(messenger, |m| Ok(m.receive(message)?)) }?;
        match received {
            // SAFETY: `out` is writable (caller contract).
            Some(r) => unsafe { write_handle(out, sealwire_received::from(r)) },
            // SAFETY: `out` is writable (caller contract). A duplicate: success, no record.
            None => unsafe { out.write(core::ptr::null_mut()) },
        }
        Ok(())
    })
}

/// The messages committed by `sealwire_messenger_receive()` and not yet acknowledged, oldest
/// first, as a NEW `sealwire_received_list` handle: after a restart, handle each whose id the
/// application has not handled yet, and ack it.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, SEALWIRE_STORAGE, SEALWIRE_STALE_STATE,
/// SEALWIRE_DECRYPTION_FAILED / decoding errors (modified inbox records).
///
/// # Safety
/// `messenger` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_pending_inbox(
    messenger: *const sealwire_messenger,
    out: *mut *mut sealwire_received_list,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let items = unsafe { with(messenger, |m| Ok(m.pending_inbox()?)) }?;
        let items = items.into_iter().map(sealwire_received::from).collect();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_received_list { items }) };
        Ok(())
    })
}

/// The application has durably handled inbox message `id`: delete its plaintext from the
/// store. Idempotent.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_PANIC, SEALWIRE_STORAGE.
///
/// # Safety
/// `messenger` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_messenger_ack(messenger: *mut sealwire_messenger, id: u64) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { with(messenger, |m| Ok(m.ack(id)?)) }
    })
}

/// The peer id of a public identity (SEALWIRE_MESSENGER_PEER_ID_LEN = 32 bytes: its Ed25519
/// public key), as the messenger functions take it; output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `public_identity` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_public_identity_peer_id(
    public_identity: *const sealwire_public_identity,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let public = unsafe { try_ref(public_identity) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the id is ours.
        unsafe { out.fill(&store::peer_id(&public.inner)) }
    })
}

// --- records --------------------------------------------------------------------------------

/// A ciphertext committed for sending: outbox id, recipient peer id, message id and the exact
/// bytes to (re)send.
///
/// Opaque. Created by `sealwire_messenger_send()` and `sealwire_outbox_list_get()`; owned by
/// the caller, who releases it once with `sealwire_outbox_record_free()`. Immutable: may be
/// used from several threads at once. Independent of the messenger (may outlive it).
#[derive(Debug)] // redacted: core prints the id and the length
pub struct sealwire_outbox_record {
    inner: OutboxRecord,
}

/// A message received and committed, waiting for `sealwire_messenger_ack()`: inbox id, sender
/// peer id, message id and plaintext.
///
/// Opaque. Created by `sealwire_messenger_receive()` and `sealwire_received_list_get()`; owned
/// by the caller, who releases it once with `sealwire_received_free()` (which zeroizes the
/// plaintext). Immutable: may be used from several threads at once. Independent of the
/// messenger (may outlive it).
pub struct sealwire_received {
    id: u64,
    peer: PeerId,
    message_id: store::MessageId,
    plaintext: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for sealwire_received {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "sealwire_received {{ id: {}, len: {} }}", self.id, self.plaintext.len())
    }
}

impl From<Received> for sealwire_received {
    fn from(r: Received) -> Self {
        Self { id: r.id, peer: r.peer, message_id: r.message_id, plaintext: Zeroizing::new(r.plaintext) }
    }
}

impl Clone for sealwire_received {
    fn clone(&self) -> Self {
        Self { id: self.id, peer: self.peer, message_id: self.message_id, plaintext: self.plaintext.clone() }
    }
}

/// Write one `u64` field of a record.
///
/// # Safety
/// `record` is NULL or a live handle; `out` is NULL or writable.
unsafe fn record_u64<R>(record: *const R, out: *mut u64, f: impl FnOnce(&R) -> u64) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let record = unsafe { try_ref(record) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(f(record)) };
        Ok(())
    })
}

/// Copy one byte field of a record into a caller buffer.
///
/// # Safety
/// `record` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes; `written`
/// is NULL or writable.
unsafe fn record_bytes<R>(
    record: *const R,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
    f: impl FnOnce(&R) -> &[u8],
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let record = unsafe { try_ref(record) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the bytes are the record's.
        unsafe { out.fill(f(record)) }
    })
}

/// The outbox id (pass it to `sealwire_messenger_mark_sent()`), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `record` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_outbox_record_id(record: *const sealwire_outbox_record, out: *mut u64) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { record_u64(record, out, |r| r.inner.id) }
}

/// The recipient's peer id (32 bytes), output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `record` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes; `written`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_outbox_record_peer_id(
    record: *const sealwire_outbox_record,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { record_bytes(record, out, out_len, written, |r| &r.inner.peer) }
}

/// The message id of the ciphertext (32 bytes; the receiver recognizes duplicates by it),
/// output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// As `sealwire_outbox_record_peer_id()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_outbox_record_message_id(
    record: *const sealwire_outbox_record,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { record_bytes(record, out, out_len, written, |r| &r.inner.message_id) }
}

/// The ciphertext to send (exactly these bytes, also when resending), output-buffer
/// convention (a query with `out` NULL gives its length).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// As `sealwire_outbox_record_peer_id()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_outbox_record_ciphertext(
    record: *const sealwire_outbox_record,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { record_bytes(record, out, out_len, written, |r| &r.inner.ciphertext) }
}

/// Free an outbox record. `record` may be NULL (no-op). The store keeps its copy until
/// `sealwire_messenger_mark_sent()`.
///
/// # Safety
/// `record` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_outbox_record_free(record: *mut sealwire_outbox_record) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(record) }
    })
}

/// The inbox id (pass it to `sealwire_messenger_ack()`; a message re-delivered by
/// `sealwire_messenger_pending_inbox()` has the same id), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `received` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_received_id(received: *const sealwire_received, out: *mut u64) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { record_u64(received, out, |r| r.id) }
}

/// The sender's peer id (32 bytes; authenticated by the session), output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `received` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_received_peer_id(
    received: *const sealwire_received,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { record_bytes(received, out, out_len, written, |r| &r.peer) }
}

/// The message id of the ciphertext it came from (32 bytes), output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// As `sealwire_received_peer_id()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_received_message_id(
    received: *const sealwire_received,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { record_bytes(received, out, out_len, written, |r| &r.message_id) }
}

/// The plaintext, output-buffer convention (a query with `out` NULL gives its length; an
/// empty plaintext needs a non-NULL `out`, any pointer with `out_len` 0).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// As `sealwire_received_peer_id()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_received_plaintext(
    received: *const sealwire_received,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { record_bytes(received, out, out_len, written, |r| r.plaintext.as_slice()) }
}

/// Free a received message and zeroize its plaintext. `received` may be NULL (no-op). The
/// store keeps its (sealed) copy until `sealwire_messenger_ack()`.
///
/// # Safety
/// `received` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_received_free(received: *mut sealwire_received) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(received) }
    })
}

// --- lists ----------------------------------------------------------------------------------

/// The pending outbox records (`sealwire_messenger_pending_outbox()`), oldest first.
///
/// Opaque; owned by the caller, who releases it once with `sealwire_outbox_list_free()`.
/// Immutable: may be used from several threads at once.
#[derive(Debug)] // redacted: records print ids and lengths only
pub struct sealwire_outbox_list {
    items: Vec<OutboxRecord>,
}

/// The pending inbox messages (`sealwire_messenger_pending_inbox()`), or the messages one
/// `sealwire_relay_agent_receive()` committed, oldest first.
///
/// Opaque; owned by the caller, who releases it once with `sealwire_received_list_free()`
/// (which zeroizes the plaintexts). Immutable: may be used from several threads at once.
#[derive(Debug)] // redacted: records print ids and lengths only
pub struct sealwire_received_list {
    items: Vec<sealwire_received>,
}

impl sealwire_received_list {
    /// A list of messages committed by the messenger (also `sealwire_relay_agent_receive()`).
    pub(crate) fn from_received(items: Vec<Received>) -> Self {
        Self { items: items.into_iter().map(sealwire_received::from).collect() }
    }
}

/// The number of records in the list, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `list` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_outbox_list_count(list: *const sealwire_outbox_list, out: *mut usize) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let list = unsafe { try_ref(list) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(list.items.len()) };
        Ok(())
    })
}

/// Record number `index` (0-based, oldest first), as a NEW `sealwire_outbox_record` handle (a
/// copy: it outlives the list).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (`index` out of range).
///
/// # Safety
/// `list` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_outbox_list_get(
    list: *const sealwire_outbox_list,
    index: usize,
    out: *mut *mut sealwire_outbox_record,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let list = unsafe { try_ref(list) }?;
        let out = Out::new(out)?;
        let inner = list.items.get(index).ok_or(sealwire_result::INVALID_PARAMETER)?.clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_outbox_record { inner }) };
        Ok(())
    })
}

/// Free an outbox list. `list` may be NULL (no-op).
///
/// # Safety
/// `list` is NULL or a handle from this library that has not been freed yet and is not in use
/// by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_outbox_list_free(list: *mut sealwire_outbox_list) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(list) }
    })
}

/// The number of messages in the list, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `list` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_received_list_count(
    list: *const sealwire_received_list,
    out: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let list = unsafe { try_ref(list) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(list.items.len()) };
        Ok(())
    })
}

/// Message number `index` (0-based, oldest first), as a NEW `sealwire_received` handle (a
/// copy: it outlives the list).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (`index` out of range).
///
/// # Safety
/// `list` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_received_list_get(
    list: *const sealwire_received_list,
    index: usize,
    out: *mut *mut sealwire_received,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let list = unsafe { try_ref(list) }?;
        let out = Out::new(out)?;
        let item = list.items.get(index).ok_or(sealwire_result::INVALID_PARAMETER)?.clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, item) };
        Ok(())
    })
}

/// Free a received list and zeroize its plaintexts. `list` may be NULL (no-op).
///
/// # Safety
/// `list` is NULL or a handle from this library that has not been freed yet and is not in use
/// by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_received_list_free(list: *mut sealwire_received_list) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(list) }
    })
}
