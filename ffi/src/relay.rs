//! Asynchronous sessions, part 5: the relay (issue 7, `docs/RELAY.md`). `sealwire_relay_client`
//! names a relay (URL and time bounds); `sealwire_relay_agent` is a `sealwire_messenger` whose
//! transport is that relay — core's `RelayAgent`, which keeps the order of operations (send:
//! encrypt and commit, deposit, mark sent; receive: fetch, decrypt and commit, and only then
//! acknowledge on the relay). This layer converts arguments and maps errors, nothing else.
//!
//! Flow in C: `sealwire_relay_client_new()`; `sealwire_relay_agent_new(&messenger, client,
//! &agent)` (the messenger moves into the agent); `_publish()` once, `_maintain()` now and
//! then; `_connect()` to a peer's published identity; `_send()`; `_receive()` → handle each
//! message → `sealwire_messenger_ack()` on `sealwire_relay_agent_messenger(agent)`.

use core::ffi::c_char;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sealwire_core::relay::{PrekeyStatus, ReceiveReport, RelayAgent, RelayClient, RelayOptions};

use crate::messenger::{peer_id, sealwire_messenger, sealwire_received_list, Held, Store};
use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_ref, try_slice, try_str, write_handle, HandleVar, Out};
use crate::public::sealwire_public_identity;
use crate::result::{sealwire_result, FfiResult};

/// Default bound on connection setup to the relay, in milliseconds.
pub const SEALWIRE_RELAY_DEFAULT_CONNECT_TIMEOUT_MS: u32 = 2000;
/// Default bound on one whole HTTP exchange with the relay, in milliseconds.
pub const SEALWIRE_RELAY_DEFAULT_REQUEST_TIMEOUT_MS: u32 = 15000;
/// Largest accepted timeout (connection or request), in milliseconds (5 minutes).
pub const SEALWIRE_RELAY_MAX_TIMEOUT_MS: u32 = 300000;
/// Most messages one `sealwire_relay_agent_receive()` call fetches (the relay's page limit).
pub const SEALWIRE_RELAY_MAX_RECEIVE_LIMIT: u32 = 1000;
/// Longest long poll of `sealwire_relay_agent_receive()`, in seconds (the relay's limit).
pub const SEALWIRE_RELAY_MAX_WAIT_SECS: u32 = 30;

/// A relay to talk to: its URL and the time bounds of every exchange with it.
///
/// Opaque. Created by `sealwire_relay_client_new()` or `_new_with_options()`; owned by the
/// caller, who releases it once with `sealwire_relay_client_free()`. Immutable: may be used
/// from several threads at once. `sealwire_relay_agent_new()` copies what it needs (each
/// agent gets its own connection pool with the same URL and options): the client may be
/// freed right after, or used for more agents.
pub struct sealwire_relay_client {
    url: String,
    options: RelayOptions,
    inner: RelayClient,
}

impl core::fmt::Debug for sealwire_relay_client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("sealwire_relay_client(..)")
    }
}

/// What the relay holds of the owner's published prekeys (`sealwire_relay_agent_publish()`,
/// `_maintain()`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct sealwire_relay_prekey_status {
    /// Unclaimed one-time X25519 prekeys on the relay.
    pub one_time: u64,
    /// Unclaimed one-time ML-KEM prekeys on the relay.
    pub kem_one_time: u64,
    /// Whether the published bundle is post-quantum.
    pub post_quantum: bool,
    /// The relay asks the owner to replenish (a kind is below the relay's threshold);
    /// `sealwire_relay_agent_maintain()` does.
    pub replenish: bool,
}

impl From<PrekeyStatus> for sealwire_relay_prekey_status {
    fn from(s: PrekeyStatus) -> Self {
        Self { one_time: s.one_time, kem_one_time: s.kem_one_time, post_quantum: s.post_quantum, replenish: s.replenish }
    }
}

/// What one `sealwire_relay_agent_receive()` call did, besides the list of new messages.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct sealwire_relay_receive_report {
    /// New messages, committed to the messenger's inbox (the length of the returned list).
    pub received: usize,
    /// Copies of messages already received (a re-delivery after an acknowledgement that did
    /// not reach the relay): acknowledged on the relay, nothing else.
    pub duplicates: usize,
    /// Deposits that could not be opened or decrypted (anyone may deposit): acknowledged and
    /// dropped.
    pub rejected: usize,
    /// SEALWIRE_OK, or the relay error that ended the batch early *after* messages were
    /// committed (they are in the list; those not acknowledged come back as duplicates).
    pub interrupted: sealwire_result,
}

impl From<&ReceiveReport> for sealwire_relay_receive_report {
    fn from(r: &ReceiveReport) -> Self {
        Self {
            received: r.received.len(),
            duplicates: r.duplicates,
            rejected: r.rejected,
            interrupted: r.interrupted.as_ref().map_or(sealwire_result::OK, |e| sealwire_result::from_kind(e.kind())),
        }
    }
}

/// A messenger whose transport is a relay: it publishes its prekey bundle and mailbox on the
/// relay, claims peers' bundles there, deposits what it sends (sealed so that the relay does
/// not see the sender) and fetches what it receives. Order of operations (core's
/// `RelayAgent`): a message is committed (state + outbox record) before it leaves, and a
/// received message is committed (state + dedupe record + plaintext) before it is
/// acknowledged on the relay; after a crash nothing is lost and nothing is handled twice.
///
/// Opaque. Created by `sealwire_relay_agent_new()`, which TAKES OVER the messenger handle:
/// the caller's `sealwire_messenger *` variable is set to NULL (so a later
/// `sealwire_messenger_free()` of it is a no-op and any other call with it returns
/// SEALWIRE_NULL_POINTER). The agent owns the messenger from then on and lends it out with
/// `sealwire_relay_agent_messenger()`: every `sealwire_messenger_*` function works on that
/// pointer (ack, pending inbox, counter, ...), it stays valid until the agent is freed, and
/// `sealwire_messenger_free()` on it is a no-op. Owned by the caller, who releases it once
/// with `sealwire_relay_agent_free()` (which closes the messenger) or turns it back into a
/// messenger with `sealwire_relay_agent_into_messenger()`.
///
/// Internally locked together with its messenger: every function may be called from several
/// threads at once; calls run one after the other (a messenger call on the lent pointer waits
/// while an agent call is on the network).
///
/// BLOCKING: C has no event loop, so `_publish()`, `_maintain()`, `_connect()`, `_send()`,
/// `_flush_outbox()` and `_receive()` wait for the network on the calling thread. Each HTTP
/// exchange is bounded by the client's timeouts (connection setup, default 2 s; the whole
/// exchange, default 15 s); a connection the relay dropped is retried once at once; nothing
/// else is retried. A call makes at most: publish 2 exchanges, maintain 3, connect 1, send 2
/// (the peer's mailbox is looked up once per peer and agent), flush 2 per message, receive 2
/// (plus the long poll, which must be shorter than the request timeout). Call these from a
/// worker thread if the caller must not block.
pub struct sealwire_relay_agent {
    /// The messenger handle, holding `Held::Relay`; owned (freed in `Drop`), lent to C.
    messenger: NonNull<sealwire_messenger>,
    /// The client's request timeout (a long poll must end before it).
    request_timeout: Duration,
}

impl core::fmt::Debug for sealwire_relay_agent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("sealwire_relay_agent(..)")
    }
}

impl Drop for sealwire_relay_agent {
    fn drop(&mut self) {
        // SAFETY: `messenger` came from `Box::into_raw` (a messenger handle the agent took
        // over) and is freed only here, once (`into_messenger` skips this drop).
        drop(unsafe { Box::from_raw(self.messenger.as_ptr()) });
    }
}

impl sealwire_relay_agent {
    fn messenger(&self) -> &sealwire_messenger {
        // SAFETY: the agent owns a live messenger handle until it is dropped.
        unsafe { self.messenger.as_ref() }
    }
}

/// A timeout from C: 1 ..= SEALWIRE_RELAY_MAX_TIMEOUT_MS milliseconds.
fn timeout(ms: u32) -> FfiResult<Duration> {
    if ms == 0 || ms > SEALWIRE_RELAY_MAX_TIMEOUT_MS {
        return Err(sealwire_result::INVALID_PARAMETER);
    }
    Ok(Duration::from_millis(u64::from(ms)))
}

/// Shared body of the two constructors.
///
/// # Safety
/// As `sealwire_relay_client_new()`.
unsafe fn client_new(url: *const c_char, options: RelayOptions, out: *mut *mut sealwire_relay_client) -> FfiResult {
    // SAFETY: NULL or NUL-terminated (caller contract).
    let url = unsafe { try_str(url) }?;
    let out = Out::new(out)?;
    let inner = RelayClient::with_options(url, options)?;
    // SAFETY: `out` is writable (caller contract).
    unsafe { write_handle(out, sealwire_relay_client { url: url.to_owned(), options, inner }) };
    Ok(())
}

/// A client of the relay at `url` (NUL-terminated: `https://host[:port]`, or `http://` to a
/// loopback address such as `http://127.0.0.1:8790`; no path) with the default time bounds
/// (SEALWIRE_RELAY_DEFAULT_CONNECT_TIMEOUT_MS, SEALWIRE_RELAY_DEFAULT_REQUEST_TIMEOUT_MS).
/// Makes no network call (`sealwire_relay_client_health()` does).
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_INVALID_PARAMETER (not a
/// URL, another scheme, a path or query, plain http to a host that is not loopback).
///
/// # Safety
/// `url` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_client_new(
    url: *const c_char,
    out: *mut *mut sealwire_relay_client,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: forwarded caller contract.
        unsafe { client_new(url, RelayOptions::default(), out) }
    })
}

/// `sealwire_relay_client_new()` with explicit time bounds: `connect_timeout_ms` bounds
/// connection setup and `request_timeout_ms` one whole HTTP exchange (each 1 ..=
/// SEALWIRE_RELAY_MAX_TIMEOUT_MS); `allow_plain_http` also accepts `http://` to hosts that
/// are not loopback (test networks only: the relay's requests are signed and its messages
/// sealed, but plain http exposes the metadata to the network).
///
/// Errors: as `sealwire_relay_client_new()`; SEALWIRE_INVALID_PARAMETER also for a timeout
/// out of range.
///
/// # Safety
/// `url` is NULL or NUL-terminated; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_client_new_with_options(
    url: *const c_char,
    connect_timeout_ms: u32,
    request_timeout_ms: u32,
    allow_plain_http: bool,
    out: *mut *mut sealwire_relay_client,
) -> sealwire_result {
    guard_result(|| {
        let options = RelayOptions {
            connect_timeout: timeout(connect_timeout_ms)?,
            request_timeout: timeout(request_timeout_ms)?,
            allow_plain_http,
        };
        // SAFETY: forwarded caller contract.
        unsafe { client_new(url, options, out) }
    })
}

/// Ask the relay whether it and its store answer (`GET /v1/health`). Blocks (bounded by the
/// client's timeouts).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_RELAY_UNAVAILABLE (unreachable, or the store does
/// not answer), SEALWIRE_RELAY_TIMEOUT, other SEALWIRE_RELAY_* codes for unexpected answers.
///
/// # Safety
/// `client` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_client_health(client: *const sealwire_relay_client) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let client = unsafe { try_ref(client) }?;
        Ok(client.inner.health()?)
    })
}

/// Free a relay client. `client` may be NULL (no-op). Agents made from it keep their own
/// connections.
///
/// # Safety
/// `client` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_client_free(client: *mut sealwire_relay_client) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(client) }
    })
}

/// Make a relay agent of `*messenger` (mailbox epoch 0, see docs/RELAY.md) talking to the
/// relay of `client` (whose URL and options are copied). No network call: call
/// `sealwire_relay_agent_publish()` next (once, and after prekey changes).
///
/// OWNERSHIP: on success the messenger moves into the agent and `*messenger` is set to NULL;
/// reach it through `sealwire_relay_agent_messenger()` from then on. On failure nothing
/// moves: `*messenger` is unchanged and still the caller's.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER (`messenger`, `*messenger`, `client` or `out`),
/// SEALWIRE_INVALID_STATE (`*messenger` is the messenger of another agent, lent by
/// `sealwire_relay_agent_messenger()`), SEALWIRE_PANIC (poisoned messenger).
///
/// # Safety
/// `messenger` is NULL or points to a `sealwire_messenger *` variable that is NULL or a live
/// handle, not in use by another call; `client` is NULL or a live handle; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_new(
    messenger: *mut *mut sealwire_messenger,
    client: *const sealwire_relay_client,
    out: *mut *mut sealwire_relay_agent,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a readable and writable variable (caller contract).
        let (var, handle) = unsafe { HandleVar::new(messenger) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let client = unsafe { try_ref(client) }?;
        let out = Out::new(out)?;
        // SAFETY: a live messenger handle (caller contract).
        let m = unsafe { handle.as_ref() };
        if m.lent.load(Ordering::Acquire) {
            return Err(sealwire_result::INVALID_STATE);
        }
        let relay = RelayClient::with_options(&client.url, client.options)?;
        {
            let mut held = m.lock()?;
            match core::mem::replace(&mut *held, Held::Empty) {
                // `RelayAgent::new` only derives the mailbox keys (a hash): it does not fail
                // in practice; if it did, the messenger would be gone (`Held::Empty`:
                // SEALWIRE_INVALID_STATE on every later call, `_free()` still works).
                Held::Plain(inner) => *held = Held::Relay(RelayAgent::new(inner, relay)?),
                other => {
                    *held = other;
                    return Err(sealwire_result::INVALID_STATE);
                }
            }
        }
        m.lent.store(true, Ordering::Release);
        let agent = sealwire_relay_agent { messenger: handle, request_timeout: client.options.request_timeout };
        // SAFETY: the variable and `out` are writable (caller contract).
        unsafe {
            var.clear();
            write_handle(out, agent);
        }
        Ok(())
    })
}

/// The agent's messenger, BORROWED: valid until the agent is freed (or turned back with
/// `sealwire_relay_agent_into_messenger()`); every `sealwire_messenger_*` function works on
/// it; `sealwire_messenger_free()` on it is a no-op. NULL if `agent` is NULL.
///
/// # Safety
/// `agent` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_messenger(agent: *const sealwire_relay_agent) -> *mut sealwire_messenger {
    guard(core::ptr::null_mut(), || {
        // SAFETY: NULL or a live handle (caller contract).
        match unsafe { try_ref(agent) } {
            Ok(a) => a.messenger.as_ptr(),
            Err(_) => core::ptr::null_mut(),
        }
    })
}

/// Run `f` on the locked relay agent.
///
/// # Safety
/// `agent` is NULL or a live handle.
unsafe fn with_agent<T>(
    agent: *const sealwire_relay_agent,
    f: impl FnOnce(&mut RelayAgent<Store>, &sealwire_relay_agent) -> FfiResult<T>,
) -> FfiResult<T> {
    // SAFETY: NULL or a live handle (caller contract); internally locked.
    let agent = unsafe { try_ref(agent) }?;
    let mut held = agent.messenger().lock()?;
    match &mut *held {
        Held::Relay(a) => f(a, agent),
        _ => Err(sealwire_result::INVALID_STATE),
    }
}

/// Shared body of `_publish()`, `_publish_reset()` and `_maintain()`.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
unsafe fn status_call(
    agent: *mut sealwire_relay_agent,
    out: *mut sealwire_relay_prekey_status,
    f: impl FnOnce(&mut RelayAgent<Store>) -> sealwire_core::Result<PrekeyStatus>,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let status = unsafe { with_agent(agent, |a, _| Ok(f(a)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(status.into()) };
        Ok(())
    })
}

/// Open the agent's mailbox on the relay and publish its prekey bundle with the mailbox
/// descriptor (signed by the identity); `*out` receives the relay's prekey status. Call once
/// after `sealwire_relay_agent_new()` and after changing the prekeys through the messenger
/// (`sealwire_messenger_rotate_signed_prekey()`, `_replenish_prekeys()`). Prekeys already
/// claimed are never handed out again. Blocks (2 exchanges).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_RELAY_UNAVAILABLE, SEALWIRE_RELAY_TIMEOUT,
/// SEALWIRE_RELAY_AUTH_FAILED (e.g. a clock more than 5 minutes off), SEALWIRE_RELAY_REJECTED,
/// storage errors reading the prekeys, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_publish(
    agent: *mut sealwire_relay_agent,
    out: *mut sealwire_relay_prekey_status,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { status_call(agent, out, RelayAgent::publish) }
}

/// `sealwire_relay_agent_publish()` that first drops everything the relay holds for this
/// identity (its prekeys and the record of ids handed out): only for a messenger whose
/// prekeys were generated anew (recovery from a rolled-back store), whose ids start at 1
/// again. Blocks (2 exchanges).
///
/// Errors: as `sealwire_relay_agent_publish()`.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_publish_reset(
    agent: *mut sealwire_relay_agent,
    out: *mut sealwire_relay_prekey_status,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { status_call(agent, out, RelayAgent::publish_reset) }
}

/// Ask the relay how many one-time prekeys are left; when it asks to replenish, generate new
/// prekeys in the messenger (committed) until the relay is back at the counts the messenger
/// was created with, and publish again. `*out` receives the status after. Call it now and
/// then (e.g. hourly, and after receiving from new peers). Blocks (1 exchange, 3 when it
/// replenishes).
///
/// Errors: as `sealwire_relay_agent_publish()`; SEALWIRE_RELAY_NOT_FOUND (nothing published
/// yet), SEALWIRE_RANDOMNESS, SEALWIRE_STORAGE, SEALWIRE_STORE_CONFLICT.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_maintain(
    agent: *mut sealwire_relay_agent,
    out: *mut sealwire_relay_prekey_status,
) -> sealwire_result {
    // SAFETY: forwarded caller contract.
    unsafe { status_call(agent, out, RelayAgent::maintain) }
}

/// Start a session with `peer` (the identity the caller expects, pinned out of band) from a
/// bundle claimed on the relay (one one-time prekey of each kind is used up there), and
/// commit it; remember the peer's mailbox. Then `sealwire_relay_agent_send()` to it. An
/// existing session with `peer` is kept as an older one (as `sealwire_messenger_connect()`).
/// Blocks (1 exchange).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_RELAY_NOT_FOUND (the peer published nothing
/// here), SEALWIRE_IDENTITY_MISMATCH (the relay returned someone else's bundle), decoding and
/// signature errors of the bundle, SEALWIRE_RELAY_UNAVAILABLE, SEALWIRE_RELAY_TIMEOUT,
/// SEALWIRE_RANDOMNESS, SEALWIRE_STORAGE, SEALWIRE_STORE_CONFLICT, SEALWIRE_PANIC. Nothing is
/// committed after an error.
///
/// # Safety
/// `agent` and `peer` are NULL or live handles.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_connect(
    agent: *mut sealwire_relay_agent,
    peer: *const sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let peer = unsafe { try_ref(peer) }?;
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { with_agent(agent, |a, _| Ok(a.connect(&peer.inner)?)) }
    })
}

/// Encrypt `plaintext` (at most SEALWIRE_RATCHET_MAX_PLAINTEXT_LEN bytes) for the peer
/// `peer_id` (SEALWIRE_MESSENGER_PEER_ID_LEN = 32 bytes) and commit it with an outbox record,
/// seal it for the peer's mailbox and deposit it, then mark the record sent; `*out_id`
/// receives the outbox id. If the deposit fails (an error is returned) the message stays
/// committed in the outbox: `sealwire_relay_agent_flush_outbox()` deposits the same bytes
/// later, which the relay and the peer recognize as the same message (never re-encrypt).
/// The peer's mailbox comes from `_connect()`, else it is looked up on the relay once (the
/// peer that wrote first). Blocks (1 exchange, 2 for the first message to a peer).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_LENGTH (peer id), SEALWIRE_NO_SESSION,
/// SEALWIRE_INVALID_PARAMETER (plaintext too large), SEALWIRE_RELAY_NOT_FOUND (no mailbox of
/// the peer on the relay), SEALWIRE_RELAY_MAILBOX_FULL, SEALWIRE_RELAY_UNAVAILABLE,
/// SEALWIRE_RELAY_TIMEOUT, SEALWIRE_RELAY_REJECTED, SEALWIRE_RANDOMNESS, SEALWIRE_STORAGE,
/// SEALWIRE_STORE_CONFLICT, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `peer_id` and `plaintext` are NULL (only with length 0)
/// or readable for their lengths; `out_id` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_send(
    agent: *mut sealwire_relay_agent,
    peer_id: *const u8,
    peer_id_len: usize,
    plaintext: *const u8,
    plaintext_len: usize,
    out_id: *mut u64,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `peer_id_len` bytes (caller contract).
        let peer = self::peer_id(unsafe { try_slice(peer_id, peer_id_len) }?)?;
        // SAFETY: readable for `plaintext_len` bytes (caller contract).
        let plaintext = unsafe { try_slice(plaintext, plaintext_len) }?;
        let out_id = Out::new(out_id)?;
        // SAFETY: NULL or a live handle (caller contract).
        let id = unsafe { with_agent(agent, |a, _| Ok(a.send(&peer, plaintext)?)) }?;
        // SAFETY: `out_id` is writable (caller contract).
        unsafe { out_id.write(id) };
        Ok(())
    })
}

/// Deposit every outbox record not yet marked sent (after a restart, a failed
/// `sealwire_relay_agent_send()`, or `sealwire_messenger_send()` on the lent messenger),
/// oldest first, byte for byte, and mark each sent; stops at the first failure. `*out_count`
/// receives how many were deposited. Blocks (1 exchange per record, plus a mailbox lookup per
/// peer not yet known to this agent).
///
/// Errors: SEALWIRE_NULL_POINTER, the relay and storage errors of `sealwire_relay_agent_send()`
/// (the records not deposited stay in the outbox).
///
/// # Safety
/// `agent` is NULL or a live handle; `out_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_flush_outbox(
    agent: *mut sealwire_relay_agent,
    out_count: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        let out_count = Out::new(out_count)?;
        // SAFETY: NULL or a live handle (caller contract).
        let n = unsafe { with_agent(agent, |a, _| Ok(a.flush_outbox()?)) }?;
        // SAFETY: `out_count` is writable (caller contract).
        unsafe { out_count.write(n) };
        Ok(())
    })
}

/// Receive up to `limit` (1 ..= SEALWIRE_RELAY_MAX_RECEIVE_LIMIT) messages from the agent's
/// mailbox in deposit order: one request fetches the batch; each message is opened,
/// decrypted and committed by the messenger (state, dedupe record and plaintext in one
/// transaction); only then are the processed messages acknowledged on the relay (one more
/// request). With an empty mailbox and `wait_secs` > 0 (at most SEALWIRE_RELAY_MAX_WAIT_SECS,
/// and shorter than the client's request timeout), the relay holds the request until a
/// message arrives or the wait ends (a long poll).
///
/// On success `*out_list` receives a NEW `sealwire_received_list` with the new messages in
/// order (possibly empty; free it with `sealwire_received_list_free()`), and `*out_report`
/// the counts. Handle each message, then `sealwire_messenger_ack()` its id on
/// `sealwire_relay_agent_messenger(agent)`; after a crash, `sealwire_messenger_pending_inbox()`
/// holds what was committed but not acknowledged by the application. A relay error after
/// some messages were committed does not fail the call: it ends the batch and is reported in
/// `out_report->interrupted` (the committed messages are in the list; nothing is lost).
/// Blocks (2 exchanges, plus the long poll).
///
/// Errors (nothing written): SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (`limit`, or
/// `wait_secs` too long), SEALWIRE_RELAY_UNAVAILABLE, SEALWIRE_RELAY_TIMEOUT,
/// SEALWIRE_RELAY_AUTH_FAILED, SEALWIRE_RELAY_NOT_FOUND (mailbox not opened: publish first),
/// storage errors (SEALWIRE_STORAGE, SEALWIRE_STORE_CONFLICT: the message concerned is not
/// acknowledged and comes back), SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out_list` and `out_report` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_receive(
    agent: *mut sealwire_relay_agent,
    limit: u32,
    wait_secs: u32,
    out_list: *mut *mut sealwire_received_list,
    out_report: *mut sealwire_relay_receive_report,
) -> sealwire_result {
    guard_result(|| {
        let out_list = Out::new(out_list)?;
        let out_report = Out::new(out_report)?;
        if limit == 0 || limit > SEALWIRE_RELAY_MAX_RECEIVE_LIMIT || wait_secs > SEALWIRE_RELAY_MAX_WAIT_SECS {
            return Err(sealwire_result::INVALID_PARAMETER);
        }
        // SAFETY: NULL or a live handle (caller contract).
        let report = unsafe {
            with_agent(agent, |a, agent| {
                if Duration::from_secs(u64::from(wait_secs)) >= agent.request_timeout {
                    return Err(sealwire_result::INVALID_PARAMETER);
                }
                Ok(a.receive_waiting(limit, wait_secs)?)
            })
        }?;
        let counts = sealwire_relay_receive_report::from(&report);
        let list = sealwire_received_list::from_received(report.received);
        // SAFETY: both out-pointers are writable (caller contract).
        unsafe {
            write_handle(out_list, list);
            out_report.write(counts);
        }
        Ok(())
    })
}

/// Turn an agent back into a plain messenger: `*out` receives the messenger handle (owned by
/// the caller again: free it with `sealwire_messenger_free()`) and the agent is freed, with
/// `*agent` set to NULL. The messenger pointer lent by `sealwire_relay_agent_messenger()` is
/// this same handle. Nothing is lost: outbox and inbox are in the store.
///
/// Errors: SEALWIRE_NULL_POINTER (`agent`, `*agent` or `out`), SEALWIRE_PANIC (poisoned).
/// On failure nothing changes.
///
/// # Safety
/// `agent` is NULL or points to a `sealwire_relay_agent *` variable that is NULL or a live
/// handle, not in use by another call; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_into_messenger(
    agent: *mut *mut sealwire_relay_agent,
    out: *mut *mut sealwire_messenger,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a readable and writable variable (caller contract).
        let (var, handle) = unsafe { HandleVar::new(agent) }?;
        let out = Out::new(out)?;
        // SAFETY: a live agent handle (caller contract).
        let m = unsafe { handle.as_ref() }.messenger();
        {
            let mut held = m.lock()?;
            match core::mem::replace(&mut *held, Held::Empty) {
                Held::Relay(a) => *held = Held::Plain(a.into_messenger()),
                other => {
                    *held = other;
                    return Err(sealwire_result::INVALID_STATE);
                }
            }
        }
        m.lent.store(false, Ordering::Release);
        // SAFETY: a live handle created by `write_handle` (caller contract), taken back once;
        // its `Drop` (which would free the messenger) is skipped.
        let shell = ManuallyDrop::new(*unsafe { Box::from_raw(handle.as_ptr()) });
        // SAFETY: the variable and `out` are writable (caller contract).
        unsafe {
            var.clear();
            out.write(shell.messenger.as_ptr());
        }
        Ok(())
    })
}

/// Free a relay agent and close its messenger (everything committed stays in the store; the
/// messenger pointer it lent becomes invalid). `agent` may be NULL (no-op).
///
/// # Safety
/// `agent` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; neither it nor the messenger it lent may be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_relay_agent_free(agent: *mut sealwire_relay_agent) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(agent) }
    })
}
