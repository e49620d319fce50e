//! The agent facade (issue 8, docs/AGENT.md): `sealwire_agent` wraps core's `Agent` — a home
//! directory (identity, keyring, session store, state file), live Noise channels over TCP,
//! the relay for offline peers, sealing through the configured KEK and the key lifecycle as
//! maintenance steps, every choice taken from a security configuration (docs/CONFIG.md).
//! This layer converts arguments, holds the agent in a mutex and maps errors; the order of
//! operations is core's.
//!
//! Flow in C: `sealwire_agent_open()` (config text + unlock + options);
//! `sealwire_agent_maintain()` at start and then on a schedule; `sealwire_agent_listen()` /
//! `_accept_incoming()` (or `_accept_fd()`) to take live connections, `_connect()` to dial
//! (XX the first time, IK afterwards); `_send()`; `_receive()` → handle each message durably
//! by its id → `_ack()`; `_close()`, `_free()`.

use core::ffi::{c_char, c_int};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use sealwire_core::agent::{
    unix_now, Agent, AgentOptions, AgentStats, ChannelInfo, Delivery, FlushReport, MaintainReport, MaintainStep, PeerSpec,
    TcpLink, Unlock, MAX_MESSAGE_LEN,
};
use sealwire_core::config::SecurityConfig;
use sealwire_core::envelope::kms::RemoteKeySettings;
use sealwire_core::envelope::{opened_len, EnvelopeHeader, RootKey};
use sealwire_core::PublicIdentity;
use zeroize::Zeroizing;

use crate::config::{format, SEALWIRE_CONFIG_FORMAT_AUTO};
use crate::envelope_context::sealwire_context;
use crate::kms::sealwire_kms_settings;
use crate::messenger::sealwire_received_list;
use crate::panic::{guard, guard_result};
use crate::ptr::{
    char_buf, free_handle, try_handles, try_path, try_ref, try_slice, try_str, try_utf8, write_handle, write_owned_bytes, Out,
    OutBuf,
};
use crate::public::sealwire_public_identity;
use crate::relay::sealwire_relay_prekey_status;
use crate::result::{sealwire_result, FfiResult};

/// Largest message `sealwire_agent_send()` accepts (192 KiB): it always fits a relay deposit.
pub const SEALWIRE_AGENT_MAX_MESSAGE_LEN: usize = 196608;
/// Largest timeout `sealwire_agent_options_set_*()` accept, in milliseconds (5 minutes).
pub const SEALWIRE_AGENT_MAX_TIMEOUT_MS: u32 = 300000;
/// A buffer of this many bytes always holds a socket address string ("host:port", IPv6 in
/// brackets with its scope) and its NUL.
pub const SEALWIRE_AGENT_ADDRESS_BUFFER_LEN: usize = 72;
/// Length of a root key for SEALWIRE_AGENT_UNLOCK_ROOT_KEY, in bytes.
pub const SEALWIRE_AGENT_ROOT_KEY_LEN: usize = 32;

const _: () = assert!(SEALWIRE_AGENT_MAX_MESSAGE_LEN == MAX_MESSAGE_LEN);

/// What unlocks an agent's home (`sealwire_agent_open()`, docs/AGENT.md "Unlocking"). A plain
/// integer type: other values are refused with SEALWIRE_INVALID_PARAMETER.
pub type sealwire_agent_unlock = u32;
/// `secret` is the passphrase (any bytes): the identity file (`identity.storage =
/// "passphrase-file"`) and a passphrase-protected keyring. With `keyring_protection =
/// "root-key"` the keyring's root key then comes from `SEALWIRE_KEYRING_ROOT_KEY`.
pub const SEALWIRE_AGENT_UNLOCK_PASSPHRASE: sealwire_agent_unlock = 1;
/// `secret` is the keyring root key (SEALWIRE_AGENT_ROOT_KEY_LEN bytes), for
/// `storage.kek.keyring_protection = "root-key"`.
pub const SEALWIRE_AGENT_UNLOCK_ROOT_KEY: sealwire_agent_unlock = 2;
/// No secret (`secret` NULL, length 0): the keyring root key from the environment variable
/// `SEALWIRE_KEYRING_ROOT_KEY` (64 hex digits); also for `identity.storage = "memory"` and
/// remote KEKs.
pub const SEALWIRE_AGENT_UNLOCK_ROOT_KEY_FROM_ENV: sealwire_agent_unlock = 3;

/// How `sealwire_agent_send()` handed a committed message on. A plain integer type.
pub type sealwire_delivery = u32;
/// Over a live channel; the outbox record is cleared when the peer acknowledges.
pub const SEALWIRE_DELIVERY_LIVE: sealwire_delivery = 1;
/// Deposited in the peer's relay mailbox.
pub const SEALWIRE_DELIVERY_RELAY: sealwire_delivery = 2;
/// Neither worked now: the message waits in the outbox and goes with the next flush (which
/// `sealwire_agent_receive()` and `sealwire_agent_maintain()` run).
pub const SEALWIRE_DELIVERY_QUEUED: sealwire_delivery = 3;

/// One step of `sealwire_agent_maintain()`, for `sealwire_agent_maintain_step()`. A plain
/// integer type: other values are refused with SEALWIRE_INVALID_PARAMETER. The values are
/// in the order `sealwire_agent_maintain()` runs the steps.
pub type sealwire_maintain_step = u32;
/// "rotate-signed-prekey": a new signed prekey when the current one is
/// `prekeys.signed_rotation_days` old.
pub const SEALWIRE_MAINTAIN_ROTATE_SIGNED_PREKEY: sealwire_maintain_step = 1;
/// "expire-signed-prekeys": forget replaced signed prekeys past `prekeys.signed_grace_days`.
pub const SEALWIRE_MAINTAIN_EXPIRE_SIGNED_PREKEYS: sealwire_maintain_step = 2;
/// "publish": (relay only) publish the bundle when the relay lacks it or holds an older one;
/// top up one-time prekeys when the relay says so.
pub const SEALWIRE_MAINTAIN_PUBLISH: sealwire_maintain_step = 3;
/// "rotate-kek": (keyring only) a new KEK version when the primary is
/// `storage.kek.rotation_days` old.
pub const SEALWIRE_MAINTAIN_ROTATE_KEK: sealwire_maintain_step = 4;
/// "rewrap-identity": (`kek-envelope` only) re-wrap the identity under the current KEK version.
pub const SEALWIRE_MAINTAIN_REWRAP_IDENTITY: sealwire_maintain_step = 5;
/// "flush-outbox": `sealwire_agent_flush()`.
pub const SEALWIRE_MAINTAIN_FLUSH_OUTBOX: sealwire_maintain_step = 6;
/// "save-anchor": save the messenger counter as the rollback anchor.
pub const SEALWIRE_MAINTAIN_SAVE_ANCHOR: sealwire_maintain_step = 7;

/// Core's step for a C value (1-based index into `MaintainStep::ALL`).
fn maintain_step(step: sealwire_maintain_step) -> FfiResult<MaintainStep> {
    let index = usize::try_from(step).ok().and_then(|s| s.checked_sub(1)).ok_or(sealwire_result::INVALID_PARAMETER)?;
    MaintainStep::ALL.get(index).copied().ok_or(sealwire_result::INVALID_PARAMETER)
}

/// Settings of `sealwire_agent_open()` that are not security policy: the relay and the time
/// bounds. Defaults: no relay (live channels only), connection setup 5 s, handshake 10 s, ack
/// 5 s, relay poll 500 ms, relay timeouts 2 s / 15 s. A remote KEK (Vault, AWS KMS) takes its
/// address, token and credentials from the environment (`VAULT_ADDR`, `VAULT_TOKEN`, `AWS_*`).
///
/// Opaque. Created by `sealwire_agent_options_new()`, changed by the setters (one thread at a
/// time); owned by the caller, who releases it once with `sealwire_agent_options_free()`.
/// `sealwire_agent_open()` copies it: it may be freed right after, or used for more agents.
#[derive(Debug, Default)] // redacted: AgentOptions prints whether a relay is set, not its URL
pub struct sealwire_agent_options {
    inner: AgentOptions,
}

/// An agent (docs/AGENT.md): one home directory, one configuration, its live channels and
/// its relay. Opened by `sealwire_agent_open()`; owned by the caller, who closes it with
/// `sealwire_agent_close()` (saves the rollback anchor) and releases it once with
/// `sealwire_agent_free()` (which also closes an open agent: dropping is safe, the next open
/// checks against the anchor saved last).
///
/// THREADS: one call at a time per agent. The handle holds the agent in a mutex: calls from
/// several threads are safe and run one after the other — a second call blocks until the
/// first returns (`sealwire_agent_receive()` and `_accept_incoming()` hold the agent for their
/// whole wait, network calls for their timeouts). Never free it while another call runs. A
/// call that panicked (a bug) poisons the agent: every later call returns SEALWIRE_PANIC.
/// After `sealwire_agent_close()` every call returns SEALWIRE_INVALID_STATE.
///
/// BLOCKING: there is no background thread; live records are read when the application
/// calls `_receive()` (or `_send()`). `_open()` (Argon2id), `_connect()`, `_accept_incoming()`,
/// `_accept_fd()`, `_send()`, `_receive()`, `_flush()`, `_maintain()` and, with a remote KEK,
/// the sealing calls wait on the calling thread, bounded by the options' timeouts.
pub struct sealwire_agent {
    inner: Mutex<Option<Agent>>,
}

impl core::fmt::Debug for sealwire_agent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("sealwire_agent(..)")
    }
}

// What the documentation above promises: the agent may move between threads; the handle
// (a mutex around it) may be shared.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<sealwire_agent>();
};

impl sealwire_agent {
    /// The agent, locked: SEALWIRE_PANIC if a call panicked while holding it,
    /// SEALWIRE_INVALID_STATE once closed.
    fn with<R>(&self, f: impl FnOnce(&mut Agent) -> FfiResult<R>) -> FfiResult<R> {
        let mut held = self.lock()?;
        let agent = held.as_mut().ok_or(sealwire_result::INVALID_STATE)?;
        f(agent)
    }

    fn lock(&self) -> FfiResult<MutexGuard<'_, Option<Agent>>> {
        self.inner.lock().map_err(|_| sealwire_result::PANIC)
    }
}

/// Borrow the agent handle and run `f` on the locked agent.
///
/// # Safety
/// `agent` is NULL or a live handle.
unsafe fn with_agent<R>(agent: *const sealwire_agent, f: impl FnOnce(&mut Agent) -> FfiResult<R>) -> FfiResult<R> {
    // SAFETY: NULL or a live handle (caller contract).
    let agent = unsafe { try_ref(agent) }?;
    agent.with(f)
}

/// An established live channel: the peer (authenticated by the handshake), the Noise
/// protocol that ran and whether this agent initiated.
///
/// Opaque. Created by `sealwire_agent_connect()`, `_accept_incoming()` and `_accept_fd()`;
/// owned by the caller, who releases it once with `sealwire_channel_info_free()`. Immutable:
/// may be used from several threads at once. A snapshot: it stays valid when the channel
/// closes or the agent is freed.
#[derive(Debug)] // redacted: core prints the protocol and the role only
pub struct sealwire_channel_info {
    inner: ChannelInfo,
}

/// What `sealwire_agent_send()` did. The message is committed in every case.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct sealwire_agent_send_report {
    /// Outbox id (unique and increasing for the lifetime of the home).
    pub id: u64,
    /// SEALWIRE_DELIVERY_LIVE, _RELAY or _QUEUED.
    pub delivery: sealwire_delivery,
}

/// What `sealwire_agent_flush()` did with the outbox.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct sealwire_agent_flush_report {
    /// Sent over live channels (awaiting acknowledgement).
    pub live: usize,
    /// Deposited on the relay.
    pub relayed: usize,
    /// Sent live recently, still awaiting their acknowledgement.
    pub waiting: usize,
    /// Could not be sent now (still in the outbox).
    pub failed: usize,
    /// SEALWIRE_OK, or (when `failed` > 0) the last transport error met.
    pub error: sealwire_result,
}

/// What `sealwire_agent_maintain()` or `_maintain_step()` changed.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct sealwire_agent_maintain_report {
    /// A new signed prekey was made.
    pub signed_prekey_rotated: bool,
    /// Replaced signed prekeys forgotten.
    pub signed_prekeys_expired: usize,
    /// The bundle was published (or re-published) on the relay.
    pub published: bool,
    /// One-time prekeys were added and published because the relay ran low.
    pub prekeys_replenished: bool,
    /// Whether `prekey_status` holds the relay's view (after a publish step with a relay).
    pub has_prekey_status: bool,
    /// The relay's view after the publish step (all zero when `has_prekey_status` is false).
    pub prekey_status: sealwire_relay_prekey_status,
    /// The new KEK version when the KEK was rotated, else 0.
    pub kek_rotated_to: u32,
    /// The identity envelope was re-wrapped.
    pub identity_rewrapped: bool,
    /// Whether the flush step ran (`flush` holds its report).
    pub flushed: bool,
    /// The outbox flush (all zero when `flushed` is false).
    pub flush: sealwire_agent_flush_report,
    /// Whether the save-anchor step ran (`anchor` holds the anchor saved).
    pub has_anchor: bool,
    /// The anchor saved (the messenger counter), else 0.
    pub anchor: u64,
    /// Whether any step changed something durable (rotation, expiry, publication, KEK,
    /// identity); flush and anchor do not count. A second run at the same time gives false.
    pub changed_anything: bool,
}

/// Counters since the agent was opened (`sealwire_agent_stats()`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct sealwire_agent_counters {
    /// Handshakes completed (either role).
    pub handshakes: u64,
    /// Messages written to live channels (re-sends included).
    pub sent_live: u64,
    /// Messages deposited on the relay (re-sends included).
    pub sent_relay: u64,
    /// New messages received over live channels.
    pub received_live: u64,
    /// New messages received from the relay.
    pub received_relay: u64,
    /// Copies of messages already received (dropped).
    pub duplicates: u64,
    /// Messages no session could read (dropped).
    pub rejected: u64,
    /// Live channels closed because of an error.
    pub channels_dropped: u64,
}

impl From<AgentStats> for sealwire_agent_counters {
    fn from(s: AgentStats) -> Self {
        Self {
            handshakes: s.handshakes,
            sent_live: s.sent_live,
            sent_relay: s.sent_relay,
            received_live: s.received_live,
            received_relay: s.received_relay,
            duplicates: s.duplicates,
            rejected: s.rejected,
            channels_dropped: s.channels_dropped,
        }
    }
}

fn delivery(d: Delivery) -> sealwire_delivery {
    match d {
        Delivery::Live => SEALWIRE_DELIVERY_LIVE,
        Delivery::Relay => SEALWIRE_DELIVERY_RELAY,
        Delivery::Queued => SEALWIRE_DELIVERY_QUEUED,
    }
}

impl From<&FlushReport> for sealwire_agent_flush_report {
    fn from(r: &FlushReport) -> Self {
        Self {
            live: r.live,
            relayed: r.relayed,
            waiting: r.waiting,
            failed: r.failed,
            error: r.error.as_ref().map_or(sealwire_result::OK, |e| sealwire_result::from_kind(e.kind())),
        }
    }
}

const NO_FLUSH: sealwire_agent_flush_report =
    sealwire_agent_flush_report { live: 0, relayed: 0, waiting: 0, failed: 0, error: sealwire_result::OK };

impl From<&MaintainReport> for sealwire_agent_maintain_report {
    fn from(r: &MaintainReport) -> Self {
        Self {
            signed_prekey_rotated: r.signed_prekey_rotated,
            signed_prekeys_expired: r.signed_prekeys_expired,
            published: r.published,
            prekeys_replenished: r.prekeys_replenished,
            has_prekey_status: r.prekey_status.is_some(),
            prekey_status: r.prekey_status.map(Into::into).unwrap_or_default(),
            kek_rotated_to: r.kek_rotated_to.unwrap_or(0),
            identity_rewrapped: r.identity_rewrapped,
            flushed: r.flush.is_some(),
            flush: r.flush.as_ref().map_or(NO_FLUSH, Into::into),
            has_anchor: r.anchor.is_some(),
            anchor: r.anchor.unwrap_or(0),
            changed_anything: r.changed_anything(),
        }
    }
}

/// A timeout from C: 1 ..= SEALWIRE_AGENT_MAX_TIMEOUT_MS milliseconds.
fn timeout(ms: u32) -> FfiResult<Duration> {
    if ms == 0 || ms > SEALWIRE_AGENT_MAX_TIMEOUT_MS {
        return Err(sealwire_result::INVALID_PARAMETER);
    }
    Ok(Duration::from_millis(u64::from(ms)))
}

/// A wait from C: 0 ..= SEALWIRE_AGENT_MAX_TIMEOUT_MS milliseconds.
fn wait(ms: u32) -> FfiResult<Duration> {
    if ms > SEALWIRE_AGENT_MAX_TIMEOUT_MS {
        return Err(sealwire_result::INVALID_PARAMETER);
    }
    Ok(Duration::from_millis(u64::from(ms)))
}

// --- options ---------------------------------------------------------------------------------

/// Create options with the defaults (no relay).
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_options_new(out: *mut *mut sealwire_agent_options) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_agent_options::default()) };
        Ok(())
    })
}

/// Borrow the options mutably and apply `f` (last, so a failed check changes nothing).
///
/// # Safety
/// `options` is NULL or a live handle not used concurrently.
unsafe fn update(options: *mut sealwire_agent_options, f: impl FnOnce(&mut AgentOptions)) -> FfiResult {
    // SAFETY: NULL or a live handle with exclusive access (caller contract).
    let options = unsafe { crate::ptr::try_mut(options) }?;
    f(&mut options.inner);
    Ok(())
}

/// Use the relay at `url` (NUL-terminated: `https://host[:port]`, or `http://` to a loopback
/// address such as `http://127.0.0.1:8790`) for directory and mailbox; NULL removes it (live
/// channels only). The URL is checked by `sealwire_agent_open()`.
///
/// Errors: SEALWIRE_NULL_POINTER (`options`), SEALWIRE_INVALID_UTF8.
///
/// # Safety
/// `options` is NULL or a live handle not used concurrently; `url` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_options_set_relay_url(
    options: *mut sealwire_agent_options,
    url: *const c_char,
) -> sealwire_result {
    guard_result(|| {
        let url = if url.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated (caller contract).
            Some(unsafe { try_str(url) }?.to_owned())
        };
        // SAFETY: forwarded caller contract.
        unsafe { update(options, |o| o.relay_url = url) }
    })
}

/// The relay client's time bounds: connection setup and one whole HTTP exchange, each 1 ..=
/// SEALWIRE_AGENT_MAX_TIMEOUT_MS (defaults 2000 and 15000). `allow_plain_http` also accepts
/// `http://` relays that are not on loopback (test networks only).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (a timeout out of range).
///
/// # Safety
/// `options` is NULL or a live handle not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_options_set_relay_timeouts(
    options: *mut sealwire_agent_options,
    connect_timeout_ms: u32,
    request_timeout_ms: u32,
    allow_plain_http: bool,
) -> sealwire_result {
    guard_result(|| {
        let connect = timeout(connect_timeout_ms)?;
        let request = timeout(request_timeout_ms)?;
        // SAFETY: forwarded caller contract.
        unsafe {
            update(options, |o| {
                o.relay_options.connect_timeout = connect;
                o.relay_options.request_timeout = request;
                o.relay_options.allow_plain_http = allow_plain_http;
            })
        }
    })
}

/// The live-channel time bounds, each 1 ..= SEALWIRE_AGENT_MAX_TIMEOUT_MS milliseconds: TCP
/// connection setup in `sealwire_agent_connect()` (default 5000), a whole handshake with the
/// bundle exchange (10000), the wait for a live acknowledgement before the message also goes
/// through the relay (5000), and how often `sealwire_agent_receive()` asks the relay while it
/// waits on live channels (500).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (a value out of range).
///
/// # Safety
/// `options` is NULL or a live handle not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_options_set_timeouts(
    options: *mut sealwire_agent_options,
    connect_timeout_ms: u32,
    handshake_timeout_ms: u32,
    ack_timeout_ms: u32,
    relay_poll_interval_ms: u32,
) -> sealwire_result {
    guard_result(|| {
        let connect = timeout(connect_timeout_ms)?;
        let handshake = timeout(handshake_timeout_ms)?;
        let ack = timeout(ack_timeout_ms)?;
        let poll = timeout(relay_poll_interval_ms)?;
        // SAFETY: forwarded caller contract.
        unsafe {
            update(options, |o| {
                o.connect_timeout = connect;
                o.handshake_timeout = handshake;
                o.ack_timeout = ack;
                o.relay_poll_interval = poll;
            })
        }
    })
}

/// Explicit KMS settings (Vault / OpenBao address and token, AWS credentials) for a remote
/// KEK (`storage.kek.uri`): `settings` is copied (the caller may free it right after); values
/// it does not set are read from the environment, as by `sealwire_kms_key_from_uri()`. NULL
/// clears them (the environment only, the default).
///
/// Errors: SEALWIRE_NULL_POINTER (`options`).
///
/// # Safety
/// `options` is NULL or a live handle not used concurrently; `settings` is NULL or a live
/// handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_options_set_kms_settings(
    options: *mut sealwire_agent_options,
    settings: *const sealwire_kms_settings,
) -> sealwire_result {
    guard_result(|| {
        let settings = if settings.is_null() {
            RemoteKeySettings::default()
        } else {
            // SAFETY: non-NULL, a live handle (caller contract).
            unsafe { try_ref(settings) }?.inner.clone()
        };
        // SAFETY: forwarded caller contract.
        unsafe { update(options, |o| o.remote_key_settings = settings) }
    })
}

/// Free options. `options` may be NULL (no-op).
///
/// # Safety
/// `options` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_options_free(options: *mut sealwire_agent_options) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(options) }
    })
}

// --- open / close ----------------------------------------------------------------------------

/// Open the agent whose home is the directory `home` (NUL-terminated; created with mode 0700
/// on first open, docs/AGENT.md "Home directory"), with the security configuration `config`
/// (`config_len` bytes of UTF-8 text, TOML or JSON: JSON when the first non-blank character
/// is `{`; the rules of `sealwire_config_check()`), unlocked by `unlock` with `secret`:
///
/// * SEALWIRE_AGENT_UNLOCK_PASSPHRASE: `secret` is the passphrase (any bytes);
/// * SEALWIRE_AGENT_UNLOCK_ROOT_KEY: `secret` is the keyring root key
///   (SEALWIRE_AGENT_ROOT_KEY_LEN bytes);
/// * SEALWIRE_AGENT_UNLOCK_ROOT_KEY_FROM_ENV: no secret (NULL, 0).
///
/// `options` may be NULL (defaults: no relay). The secret is copied (into memory wiped when
/// the agent is freed): the caller may wipe its copy right after. First open: a new identity,
/// keyring, session store with fresh prekeys and state file. Later opens unlock and check
/// them. No network call (publish with `sealwire_agent_maintain()`), but Argon2id
/// (`identity.kdf`) makes it slow by design.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER; SEALWIRE_INVALID_UTF8 (config text, or a non-UTF-8 `home`
/// outside Unix); SEALWIRE_INVALID_PARAMETER (empty `home`, unknown `unlock`, a secret with
/// ROOT_KEY_FROM_ENV, a configuration with errors — see `sealwire_config_check()` for the
/// findings — or a handshake the agent cannot run, an unlock that does not fit the
/// configuration, a relay URL that is not acceptable); SEALWIRE_INVALID_LENGTH (root key);
/// SEALWIRE_DECRYPTION_FAILED (wrong passphrase or root key, a modified file; nothing is
/// written); SEALWIRE_STORAGE (another agent has this home open, or files of another
/// configuration); SEALWIRE_STALE_STATE (the session store is older than the state file's
/// anchor: a restored copy); SEALWIRE_IO; SEALWIRE_UNSUPPORTED_ALGORITHM; SEALWIRE_KMS_*
/// (remote KEK).
///
/// # Safety
/// `home` is NULL or NUL-terminated; `config` and `secret` are NULL (only with length 0) or
/// readable for their lengths; `options` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn sealwire_agent_open(
    home: *const c_char,
    config: *const u8,
    config_len: usize,
    unlock: sealwire_agent_unlock,
    secret: *const u8,
    secret_len: usize,
    options: *const sealwire_agent_options,
    out: *mut *mut sealwire_agent,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: forwarded caller contract.
        let args = unsafe { OpenArgs::read(home, config, config_len, unlock, secret, secret_len, options) }?;
        let agent = Agent::open(args.home, &args.config, args.unlock, args.options)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_agent { inner: Mutex::new(Some(agent)) }) };
        Ok(())
    })
}

/// The converted arguments of `sealwire_agent_open()` and `sealwire_agent_recover()`.
struct OpenArgs<'a> {
    home: &'a std::path::Path,
    config: SecurityConfig,
    unlock: Unlock,
    options: AgentOptions,
}

impl<'a> OpenArgs<'a> {
    /// Check and convert the C arguments (see `sealwire_agent_open()`).
    ///
    /// # Safety
    /// As `sealwire_agent_open()`: `home` is NULL or NUL-terminated; `config` and `secret` are
    /// NULL (only with length 0) or readable for their lengths; `options` is NULL or a live
    /// handle.
    unsafe fn read(
        home: *const c_char,
        config: *const u8,
        config_len: usize,
        unlock: sealwire_agent_unlock,
        secret: *const u8,
        secret_len: usize,
        options: *const sealwire_agent_options,
    ) -> FfiResult<Self> {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let home = unsafe { try_path(home) }?;
        // SAFETY: readable for `config_len` bytes (caller contract).
        let text = unsafe { try_utf8(config, config_len) }?;
        // SAFETY: readable for `secret_len` bytes (caller contract).
        let secret = unsafe { try_slice(secret, secret_len) }?;
        let options = if options.is_null() {
            AgentOptions::default()
        } else {
            // SAFETY: non-NULL, a live handle (caller contract).
            unsafe { try_ref(options) }?.inner.clone()
        };
        let unlock = match unlock {
            SEALWIRE_AGENT_UNLOCK_PASSPHRASE => Unlock::Passphrase(Zeroizing::new(secret.to_vec())),
            SEALWIRE_AGENT_UNLOCK_ROOT_KEY => {
                if secret.len() != SEALWIRE_AGENT_ROOT_KEY_LEN {
                    return Err(sealwire_result::INVALID_LENGTH);
                }
                Unlock::RootKey(RootKey::from_bytes(secret)?)
            }
            SEALWIRE_AGENT_UNLOCK_ROOT_KEY_FROM_ENV if secret.is_empty() => Unlock::RootKeyFromEnv,
            _ => return Err(sealwire_result::INVALID_PARAMETER),
        };
        let format = format(SEALWIRE_CONFIG_FORMAT_AUTO, text)?;
        let config = SecurityConfig::load(text, format).map_err(|_| sealwire_result::INVALID_PARAMETER)?;
        Ok(Self { home, config, unlock, options })
    }
}

/// Start the session store over after `sealwire_agent_open()` returned SEALWIRE_STALE_STATE
/// (the session store was restored from an older copy, or lost; docs/AGENT.md): the old store
/// is moved aside into `stale-sessions-<unix>-<random>/` in the home, a new one keeps the
/// identity, gets new prekeys (published, replacing the old ones, by the next
/// `sealwire_agent_maintain()`) and a counter above both the old store's and the anchor (no
/// outbox or inbox id repeats). Arguments as `sealwire_agent_open()`.
///
/// On success `*out` receives a new agent handle owned by the caller, and `*out_peers` /
/// `*out_peers_len` a buffer allocated by this library (release it with
/// `sealwire_bytes_free()`) holding the peer ids (SEALWIRE_MESSENGER_PEER_ID_LEN bytes each,
/// one after the other; `out_peers_len` is a multiple of it, possibly 0) of the peers the old
/// store had sessions with: the next message to each starts a new session. Messages of the
/// lost interval are lost.
///
/// Do not call it on a home that opens: it discards the store's sessions and inbox.
///
/// Errors: as `sealwire_agent_open()` (except SEALWIRE_STALE_STATE).
///
/// # Safety
/// As `sealwire_agent_open()`; `out_peers` and `out_peers_len` are NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn sealwire_agent_recover(
    home: *const c_char,
    config: *const u8,
    config_len: usize,
    unlock: sealwire_agent_unlock,
    secret: *const u8,
    secret_len: usize,
    options: *const sealwire_agent_options,
    out: *mut *mut sealwire_agent,
    out_peers: *mut *mut u8,
    out_peers_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        let out_peers = Out::new(out_peers)?;
        let out_peers_len = Out::new(out_peers_len)?;
        // SAFETY: forwarded caller contract.
        let args = unsafe { OpenArgs::read(home, config, config_len, unlock, secret, secret_len, options) }?;
        let (agent, peers) = Agent::recover(args.home, &args.config, args.unlock, args.options)?;
        let ids: Vec<u8> = peers.iter().flat_map(|p| p.iter().copied()).collect();
        // SAFETY: all out-pointers writable (caller contract).
        unsafe {
            write_handle(out, sealwire_agent { inner: Mutex::new(Some(agent)) });
            write_owned_bytes(out_peers, out_peers_len, ids);
        }
        Ok(())
    })
}

/// Close the agent: save the rollback anchor, drop the live channels and the listener and
/// release the home's lock (another process may open it now). The handle stays allocated:
/// free it with `sealwire_agent_free()`; every other call returns SEALWIRE_INVALID_STATE
/// from now on. The agent is closed even when saving fails (the next open then checks
/// against the anchor saved last).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_STATE (already closed), SEALWIRE_IO /
/// SEALWIRE_STORAGE (the state file could not be written), SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_close(agent: *mut sealwire_agent) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let agent = unsafe { try_ref(agent) }?;
        let taken = agent.lock()?.take().ok_or(sealwire_result::INVALID_STATE)?;
        Ok(taken.close()?)
    })
}

/// Free an agent (closing it first if `sealwire_agent_close()` was not called; secrets are
/// wiped). `agent` may be NULL (no-op).
///
/// # Safety
/// `agent` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call (on any thread); it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_free(agent: *mut sealwire_agent) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(agent) }
    })
}

// --- identity and state ----------------------------------------------------------------------

/// The agent's public identity, as a NEW handle in `*out` (free it with
/// `sealwire_public_identity_free()`; give it to peers, e.g. as
/// `sealwire_public_identity_to_bytes()`).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_STATE (closed), SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_public(
    agent: *const sealwire_agent,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let inner = unsafe { with_agent(agent, |a| Ok(a.public().clone())) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// The agent's peer id (its Ed25519 public key, SEALWIRE_MESSENGER_PEER_ID_LEN = 32 bytes:
/// what `sealwire_received_peer_id()` shows its peers), output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_STATE,
/// SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes; `written`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_peer_id(
    agent: *const sealwire_agent,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: NULL or a live handle (caller contract).
        let id = unsafe { with_agent(agent, |a| Ok(a.peer_id())) }?;
        // SAFETY: `out`/`written` writable (caller contract); the id is ours.
        unsafe { out.fill(&id) }
    })
}

/// Counters since the agent was opened, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_stats(agent: *const sealwire_agent, out: *mut sealwire_agent_counters) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let stats = unsafe { with_agent(agent, |a| Ok(a.stats())) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(stats.into()) };
        Ok(())
    })
}

/// The last relay or channel error the agent absorbed (the relay being down must not stop
/// live traffic; a failed incoming handshake inside `_receive()`), in `*out`, cleared by
/// reading it: SEALWIRE_OK when there was none.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_take_last_error(agent: *mut sealwire_agent, out: *mut sealwire_result) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let last = unsafe { with_agent(agent, |a| Ok(a.take_last_error())) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(last.map_or(sealwire_result::OK, |e| sealwire_result::from_kind(e.kind()))) };
        Ok(())
    })
}

/// The messenger counter (what the save-anchor step stores as rollback anchor), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_counter(agent: *mut sealwire_agent, out: *mut u64) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let n = unsafe { with_agent(agent, |a| Ok(a.counter())) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(n) };
        Ok(())
    })
}

/// The number of outbox records not yet acknowledged (live) or deposited (relay), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_STATE, SEALWIRE_STORAGE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_pending_outbox_len(agent: *mut sealwire_agent, out: *mut usize) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let n = unsafe { with_agent(agent, |a| Ok(a.pending_outbox_len()?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(n) };
        Ok(())
    })
}

// --- live channels ---------------------------------------------------------------------------

/// Write a channel info handle.
///
/// # Safety
/// As [`Out::write`].
unsafe fn write_info(out: Out<*mut sealwire_channel_info>, info: ChannelInfo) {
    // SAFETY: forwarded to our caller.
    unsafe { write_handle(out, sealwire_channel_info { inner: info }) }
}

/// Take live connections on `address` (NUL-terminated `host:port`; port 0 picks a free one),
/// replacing an earlier listener. The address bound goes to `out` as a NUL-terminated string
/// by the output-buffer convention — except that the buffer is checked against
/// SEALWIRE_AGENT_ADDRESS_BUFFER_LEN before anything is bound: a smaller buffer (or a length
/// query) gets SEALWIRE_BUFFER_TOO_SMALL with `*written` = SEALWIRE_AGENT_ADDRESS_BUFFER_LEN
/// and binds nothing. Connections are answered by `sealwire_agent_accept_incoming()` and by
/// every `sealwire_agent_receive()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_UTF8, SEALWIRE_BUFFER_TOO_SMALL,
/// SEALWIRE_IO (cannot bind, bad address), SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `address` is NULL or NUL-terminated; `out` is NULL or
/// writable for `out_len` bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_listen(
    agent: *mut sealwire_agent,
    address: *const c_char,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or NUL-terminated (caller contract).
        let address = unsafe { try_str(address) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        // SAFETY: `written` is writable (caller contract). Checked before binding.
        unsafe { out.reserve(SEALWIRE_AGENT_ADDRESS_BUFFER_LEN) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let bound = unsafe { with_agent(agent, |a| Ok(a.listen(address)?)) }?;
        // SAFETY: `out`/`written` writable (caller contract); the text is ours.
        unsafe { out.fill_cstr(&bound.to_string()) }
    })
}

/// The address the listener is bound to (`host:port`), NUL-terminated, output-buffer
/// convention (SEALWIRE_AGENT_ADDRESS_BUFFER_LEN bytes always suffice).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_STATE (not
/// listening, or closed), SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes; `written`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_listening_on(
    agent: *const sealwire_agent,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        // SAFETY: NULL or a live handle (caller contract).
        let bound = unsafe { with_agent(agent, |a| a.listening_on().ok_or(sealwire_result::INVALID_STATE)) }?;
        // SAFETY: `out`/`written` writable (caller contract); the text is ours.
        unsafe { out.fill_cstr(&bound.to_string()) }
    })
}

/// Wait up to `wait_ms` (0 ..= SEALWIRE_AGENT_MAX_TIMEOUT_MS; 0 = only what already waits)
/// for one connection on the listener and answer its handshake (the configuration's two
/// protocols only). On success `*out` receives a NEW `sealwire_channel_info`, or NULL when
/// nobody connected in time. A handshake that fails is this call's error (the connection is
/// dropped, the agent unchanged). A handshake that stalls holds the call for up to the
/// handshake timeout.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (`wait_ms`; not listening),
/// SEALWIRE_IO, SEALWIRE_UNSUPPORTED_ALGORITHM (the peer asked for a protocol outside the
/// configuration), Noise handshake errors, SEALWIRE_STORAGE, SEALWIRE_INVALID_STATE,
/// SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_accept_incoming(
    agent: *mut sealwire_agent,
    wait_ms: u32,
    out: *mut *mut sealwire_channel_info,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        let wait = wait(wait_ms)?;
        // SAFETY: NULL or a live handle (caller contract).
        let info = unsafe { with_agent(agent, |a| Ok(a.accept_incoming(wait)?)) }?;
        match info {
            // SAFETY: `out` is writable (caller contract).
            Some(info) => unsafe { write_info(out, info) },
            // SAFETY: `out` is writable (caller contract).
            None => unsafe { out.write(core::ptr::null_mut()) },
        }
        Ok(())
    })
}

/// Answer the handshake on `fd`, a connected stream socket the application accepted itself
/// (blocking mode is set). OWNERSHIP: the descriptor belongs to the library from the call on,
/// whatever the result (it is closed on failure and owned by the channel on success) — only
/// a negative `fd` (SEALWIRE_INVALID_PARAMETER) is not taken. Never use or close it
/// afterwards. On success `*out` receives a NEW `sealwire_channel_info`. Unix only (elsewhere
/// SEALWIRE_INVALID_PARAMETER).
///
/// Errors: as `sealwire_agent_accept_incoming()`.
///
/// # Safety
/// `agent` is NULL or a live handle; `fd` is negative or an open socket descriptor owned by
/// the caller and not used by it any more; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_accept_fd(
    agent: *mut sealwire_agent,
    fd: c_int,
    out: *mut *mut sealwire_channel_info,
) -> sealwire_result {
    guard_result(|| {
        if fd < 0 {
            return Err(sealwire_result::INVALID_PARAMETER);
        }
        #[cfg(unix)]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: an open socket descriptor whose ownership the caller hands over (caller
            // contract); from here it is closed when `stream` (or the link) drops.
            let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
            let out = Out::new(out)?;
            stream.set_nonblocking(false).map_err(|_| sealwire_result::IO)?;
            let link = TcpLink::new(stream)?;
            // SAFETY: NULL or a live handle (caller contract).
            let info = unsafe { with_agent(agent, |a| Ok(a.accept(Box::new(link))?)) }?;
            // SAFETY: `out` is writable (caller contract).
            unsafe { write_info(out, info) };
            Ok(())
        }
        #[cfg(not(unix))]
        {
            let _ = (agent, out);
            Err(sealwire_result::INVALID_PARAMETER)
        }
    })
}

/// Dial a peer over TCP and run the handshake: IK (the configuration's `handshake.online`)
/// when the peer's identity is known — given as `peer`, or found in the agent's peer table
/// for `address` — else XX (`handshake.first_contact`). `address` (NUL-terminated
/// `host:port`) may be NULL when `peer` is known with an address in the peer table; `peer`
/// may be NULL (first contact). A channel replaces an older one to the same peer; both sides
/// exchange prekey bundles before this returns. On success `*out` receives a NEW
/// `sealwire_channel_info`.
///
/// Errors: SEALWIRE_NULL_POINTER (`agent`, `out`), SEALWIRE_INVALID_UTF8,
/// SEALWIRE_INVALID_PARAMETER (neither address nor peer, no address known for `peer`, the
/// agent itself), SEALWIRE_IO (cannot connect, timeout, connection closed), Noise errors (an
/// IK handshake to the wrong identity fails), SEALWIRE_UNSUPPORTED_ALGORITHM,
/// SEALWIRE_STORAGE, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `address` is NULL or NUL-terminated; `peer` is NULL or a
/// live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_connect(
    agent: *mut sealwire_agent,
    address: *const c_char,
    peer: *const sealwire_public_identity,
    out: *mut *mut sealwire_channel_info,
) -> sealwire_result {
    guard_result(|| {
        let address = if address.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated (caller contract).
            Some(unsafe { try_str(address) }?.to_owned())
        };
        let identity = if peer.is_null() {
            None
        } else {
            // SAFETY: non-NULL, a live handle (caller contract).
            Some(unsafe { try_ref(peer) }?.inner.clone())
        };
        let out = Out::new(out)?;
        let spec = PeerSpec { identity, address };
        // SAFETY: NULL or a live handle (caller contract).
        let info = unsafe { with_agent(agent, |a| Ok(a.connect(&spec)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_info(out, info) };
        Ok(())
    })
}

/// Whether a live channel to `peer` is up (as far as the agent knows), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` and `peer` are NULL or live handles; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_is_connected(
    agent: *const sealwire_agent,
    peer: *const sealwire_public_identity,
    out: *mut bool,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let peer = unsafe { try_ref(peer) }?;
        let out = Out::new(out)?;
        let pid = sealwire_core::store::peer_id(&peer.inner);
        // SAFETY: NULL or a live handle (caller contract).
        let up = unsafe { with_agent(agent, |a| Ok(a.is_connected(&pid))) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(up) };
        Ok(())
    })
}

/// Close the live channel to `peer` (messages in flight stay in the outbox); `*out` tells
/// whether there was one.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` and `peer` are NULL or live handles; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_disconnect(
    agent: *mut sealwire_agent,
    peer: *const sealwire_public_identity,
    out: *mut bool,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let peer = unsafe { try_ref(peer) }?;
        let out = Out::new(out)?;
        let pid = sealwire_core::store::peer_id(&peer.inner);
        // SAFETY: NULL or a live handle (caller contract).
        let was = unsafe { with_agent(agent, |a| Ok(a.disconnect(&pid))) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(was) };
        Ok(())
    })
}

/// The Noise protocol name that ran (e.g. "Noise_XXhfs_25519+Kyber1024_ChaChaPoly_BLAKE2b"),
/// NUL-terminated, output-buffer convention.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `info` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes; `written`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_channel_info_protocol(
    info: *const sealwire_channel_info,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let info = unsafe { try_ref(info) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the text is ours.
        unsafe { out.fill_cstr(&info.inner.protocol) }
    })
}

/// The peer, authenticated by the handshake, as a NEW public identity handle in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `info` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_channel_info_peer(
    info: *const sealwire_channel_info,
    out: *mut *mut sealwire_public_identity,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let info = unsafe { try_ref(info) }?;
        let out = Out::new(out)?;
        let inner: PublicIdentity = info.inner.peer.clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_public_identity { inner }) };
        Ok(())
    })
}

/// Whether this agent initiated the channel, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `info` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_channel_info_initiator(info: *const sealwire_channel_info, out: *mut bool) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let info = unsafe { try_ref(info) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(info.inner.initiator) };
        Ok(())
    })
}

/// Free a channel info. `info` may be NULL (no-op). The channel itself stays up.
///
/// # Safety
/// `info` is NULL or a handle from this library that has not been freed yet and is not in use
/// by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_channel_info_free(info: *mut sealwire_channel_info) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(info) }
    })
}

// --- messages --------------------------------------------------------------------------------

/// Send `data` (at most SEALWIRE_AGENT_MAX_MESSAGE_LEN bytes) to `peer`: start a ratchet
/// session if there is none (from the bundle the peer sent over a live channel, else one
/// claimed on the relay), commit the encrypted message (state + outbox record), then hand it
/// to the live channel if one is up, else to the relay. SEALWIRE_OK means committed: the
/// message will reach the peer exactly once (`report->delivery` says how it left; QUEUED
/// waits in the outbox for the next flush). An error means nothing was committed.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_MESSAGE_TOO_LARGE, SEALWIRE_INVALID_PARAMETER (the
/// agent itself), SEALWIRE_NO_SESSION (no session, no channel and no relay),
/// SEALWIRE_RELAY_* (claiming the peer's bundle), SEALWIRE_IDENTITY_MISMATCH, bundle
/// decoding errors, SEALWIRE_STORAGE, SEALWIRE_STORE_CONFLICT, SEALWIRE_RANDOMNESS,
/// SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` and `peer` are NULL or live handles; `data` is NULL (only with length 0) or
/// readable for `data_len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_send(
    agent: *mut sealwire_agent,
    peer: *const sealwire_public_identity,
    data: *const u8,
    data_len: usize,
    out: *mut sealwire_agent_send_report,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let peer = unsafe { try_ref(peer) }?;
        // SAFETY: readable for `data_len` bytes (caller contract).
        let data = unsafe { try_slice(data, data_len) }?;
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let report = unsafe { with_agent(agent, |a| Ok(a.send(&peer.inner, data)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(sealwire_agent_send_report { id: report.id, delivery: delivery(report.delivery) }) };
        Ok(())
    })
}

/// Messages received and committed, oldest first, as a NEW `sealwire_received_list` in
/// `*out` (possibly empty; free it with `sealwire_received_list_free()`): first those
/// committed earlier and not yet returned (after a restart: every unacknowledged one, with
/// its id), then new ones from live channels and the relay, waiting up to `wait_ms` (0 ..=
/// SEALWIRE_AGENT_MAX_TIMEOUT_MS) for at least one. Also answers waiting connections on the
/// listener and flushes the outbox. Handle each message durably, keyed by its id
/// (`sealwire_received_id()`), then `sealwire_agent_ack()` it: each message is returned once
/// per run, and again after a restart until acknowledged. Relay and channel failures do not
/// fail the call (`sealwire_agent_take_last_error()`).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (`wait_ms`), SEALWIRE_STORAGE
/// (messages already committed by this call are kept for the next one),
/// SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_receive(
    agent: *mut sealwire_agent,
    wait_ms: u32,
    out: *mut *mut sealwire_received_list,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        let wait = wait(wait_ms)?;
        // SAFETY: NULL or a live handle (caller contract).
        let items = unsafe { with_agent(agent, |a| Ok(a.receive(wait)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_received_list::from_received(items)) };
        Ok(())
    })
}

/// The application has durably handled inbox message `id`: forget it (it will not come back
/// after a restart). Idempotent.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_STORAGE, SEALWIRE_STORE_CONFLICT,
/// SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_ack(agent: *mut sealwire_agent, id: u64) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { with_agent(agent, |a| Ok(a.ack(id)?)) }
    })
}

/// Hand on every outbox record not waiting for a live acknowledgement: live when a channel is
/// up, else through the relay (a live message unacknowledged for the ack timeout goes through
/// the relay too; the receiver drops the second copy). `sealwire_agent_receive()` and
/// `_maintain()` do this too. What happened goes to `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_STORAGE, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
/// Transport failures are counted in `out->failed`, not returned.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_flush(agent: *mut sealwire_agent, out: *mut sealwire_agent_flush_report) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        // SAFETY: NULL or a live handle (caller contract).
        let report = unsafe { with_agent(agent, |a| Ok(a.flush()?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write((&report).into()) };
        Ok(())
    })
}

// --- storage ---------------------------------------------------------------------------------

/// Seal `data` as an envelope under the configured KEK (the home's keyring, or the KMS key of
/// `storage.kek.uri`), bound to `context`; suite and segment size from the configuration
/// (`[cipher]`, `[storage]`), through the data-key cache when `storage.kek.cache.enabled`.
/// The output is randomized, so it is not length-queried: on success `*out` / `*out_len`
/// receive a buffer allocated by this library, released with `sealwire_bytes_free()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (`storage.pattern` is not
/// "envelope", or no KEK provider), SEALWIRE_RANDOMNESS, SEALWIRE_KEY_NOT_FOUND,
/// SEALWIRE_KMS_*, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` and `context` are NULL or live handles; `data` is NULL (only with length 0) or
/// readable for `data_len` bytes; `out` and `out_len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_seal(
    agent: *const sealwire_agent,
    data: *const u8,
    data_len: usize,
    context: *const sealwire_context,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `data_len` bytes (caller contract).
        let data = unsafe { try_slice(data, data_len) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        let out = Out::new(out)?;
        let out_len = Out::new(out_len)?;
        // SAFETY: NULL or a live handle (caller contract).
        let sealed = unsafe { with_agent(agent, |a| Ok(a.seal(data, &context.inner)?)) }?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out, out_len, sealed) };
        Ok(())
    })
}

/// Open an envelope made by `sealwire_agent_seal()` (any KEK version still in its grace) or
/// sealed for this agent's identity (`sealwire_agent_seal_for()` by a peer). `context` must
/// equal the sealed context exactly. The plaintext goes to `out` by the output-buffer
/// convention; its length follows from the header, so a length query (out = NULL) decrypts
/// nothing, and a buffer of `sealed_len` bytes always suffices.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL; as `sealwire_envelope_open()`:
/// header decoding errors, SEALWIRE_CONTEXT_MISMATCH, SEALWIRE_NO_MATCHING_KEY,
/// SEALWIRE_KEY_RETIRED, SEALWIRE_HEADER_AUTH_FAILED, SEALWIRE_COMMITMENT_MISMATCH,
/// SEALWIRE_TRUNCATED, SEALWIRE_DECRYPTION_FAILED, SEALWIRE_KMS_*; SEALWIRE_INVALID_STATE,
/// SEALWIRE_PANIC.
///
/// # Safety
/// `agent` and `context` are NULL or live handles; `sealed` is NULL (only with length 0) or
/// readable for `sealed_len` bytes; `out` is NULL or writable for `out_len` bytes and does not
/// overlap `sealed`; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_open_sealed(
    agent: *const sealwire_agent,
    sealed: *const u8,
    sealed_len: usize,
    context: *const sealwire_context,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `sealed_len` bytes (caller contract).
        let sealed = unsafe { try_slice(sealed, sealed_len) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: NULL or a live handle (caller contract).
        let agent = unsafe { try_ref(agent) }?;
        EnvelopeHeader::parse(sealed)?;
        // A structurally incomplete payload falls through: core reports the first failing check.
        if let Ok(required) = opened_len(sealed) {
            // SAFETY: `written` is writable (caller contract). Checked before decrypting.
            unsafe { out.reserve(required) }?;
        }
        let plaintext = Zeroizing::new(agent.with(|a| Ok(a.open_sealed(sealed, &context.inner)?))?);
        // SAFETY: `out` writable for `out_len` bytes, not overlapping `sealed` (caller
        // contract); `fill` checks the length again.
        unsafe { out.fill(&plaintext) }
    })
}

/// Seal `data` for peers by their public identities (`peers`: an array of `peer_count` >= 1
/// handles; HPKE with X25519), bound to `context`: only those peers open it (with
/// `sealwire_agent_open_sealed()`); include `sealwire_agent_public()` to read it back
/// yourself. Randomized: on success `*out` / `*out_len` receive a buffer allocated by this
/// library, released with `sealwire_bytes_free()`.
///
/// Errors: SEALWIRE_NULL_POINTER (also a NULL entry), SEALWIRE_INVALID_PARAMETER (no peers,
/// too many), SEALWIRE_RANDOMNESS, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` and `context` are NULL or live handles; `peers` is NULL (only with count 0) or
/// readable for `peer_count` pointers, each NULL or a live handle; `data` is NULL (only with
/// length 0) or readable for `data_len` bytes; `out` and `out_len` are NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn sealwire_agent_seal_for(
    agent: *const sealwire_agent,
    peers: *const *const sealwire_public_identity,
    peer_count: usize,
    data: *const u8,
    data_len: usize,
    context: *const sealwire_context,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: forwarded caller contract.
        let recipients: Vec<&PublicIdentity> =
            unsafe { try_handles(peers, peer_count) }?.into_iter().map(|h: &sealwire_public_identity| &h.inner).collect();
        // SAFETY: readable for `data_len` bytes (caller contract).
        let data = unsafe { try_slice(data, data_len) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        let out = Out::new(out)?;
        let out_len = Out::new(out_len)?;
        if recipients.is_empty() {
            return Err(sealwire_result::INVALID_PARAMETER);
        }
        // SAFETY: NULL or a live handle (caller contract).
        let sealed = unsafe { with_agent(agent, |a| Ok(a.seal_for(&recipients, data, &context.inner)?)) }?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out, out_len, sealed) };
        Ok(())
    })
}

/// Re-wrap an envelope made by `sealwire_agent_seal()` under the current KEK version (after a
/// KEK rotation, before the old version's grace ends); the payload bytes are kept. On success
/// `*out` / `*out_len` receive a buffer allocated by this library, released with
/// `sealwire_bytes_free()`.
///
/// Errors: as `sealwire_agent_seal()` and `sealwire_agent_open_sealed()`.
///
/// # Safety
/// `agent` and `context` are NULL or live handles; `sealed` is NULL (only with length 0) or
/// readable for `sealed_len` bytes; `out` and `out_len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_rewrap_sealed(
    agent: *const sealwire_agent,
    sealed: *const u8,
    sealed_len: usize,
    context: *const sealwire_context,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `sealed_len` bytes (caller contract).
        let sealed = unsafe { try_slice(sealed, sealed_len) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        let out = Out::new(out)?;
        let out_len = Out::new(out_len)?;
        // SAFETY: NULL or a live handle (caller contract).
        let blob = unsafe { with_agent(agent, |a| Ok(a.rewrap_sealed(sealed, &context.inner)?)) }?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out, out_len, blob) };
        Ok(())
    })
}

// --- maintenance -----------------------------------------------------------------------------

/// Run every maintenance step in order (SEALWIRE_MAINTAIN_ROTATE_SIGNED_PREKEY ..
/// SEALWIRE_MAINTAIN_SAVE_ANCHOR) at time `now_unix` (Unix seconds; 0 = the current time);
/// stops at the first error (what ran before is committed: run again to finish). Each step is
/// idempotent: a second run at the same time changes nothing (`changed_anything` false).
/// What changed goes to `*out`. Call it after open and then on a schedule (hourly is plenty).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_STORAGE, SEALWIRE_IO, SEALWIRE_RELAY_* (publish),
/// SEALWIRE_KMS_*, SEALWIRE_RANDOMNESS, SEALWIRE_INVALID_STATE, SEALWIRE_PANIC.
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_maintain(
    agent: *mut sealwire_agent,
    now_unix: u64,
    out: *mut sealwire_agent_maintain_report,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        let now = if now_unix == 0 { unix_now() } else { now_unix };
        // SAFETY: NULL or a live handle (caller contract).
        let report = unsafe { with_agent(agent, |a| Ok(a.maintain(now)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write((&report).into()) };
        Ok(())
    })
}

/// Run one maintenance step (`step`: a SEALWIRE_MAINTAIN_* value) at `now_unix` (0 = the
/// current time), for applications that schedule the steps separately. What changed goes to
/// `*out` (fields of other steps are zero).
///
/// Errors: as `sealwire_agent_maintain()`; SEALWIRE_INVALID_PARAMETER (unknown `step`).
///
/// # Safety
/// `agent` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_agent_maintain_step(
    agent: *mut sealwire_agent,
    step: sealwire_maintain_step,
    now_unix: u64,
    out: *mut sealwire_agent_maintain_report,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        let step = maintain_step(step)?;
        let now = if now_unix == 0 { unix_now() } else { now_unix };
        // SAFETY: NULL or a live handle (caller contract).
        let report = unsafe { with_agent(agent, |a| Ok(a.maintain_step(step, now)?)) }?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write((&report).into()) };
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn maintain_step_values_follow_core_order() {
        let c = [
            SEALWIRE_MAINTAIN_ROTATE_SIGNED_PREKEY,
            SEALWIRE_MAINTAIN_EXPIRE_SIGNED_PREKEYS,
            SEALWIRE_MAINTAIN_PUBLISH,
            SEALWIRE_MAINTAIN_ROTATE_KEK,
            SEALWIRE_MAINTAIN_REWRAP_IDENTITY,
            SEALWIRE_MAINTAIN_FLUSH_OUTBOX,
            SEALWIRE_MAINTAIN_SAVE_ANCHOR,
        ];
        let names = [
            "rotate-signed-prekey",
            "expire-signed-prekeys",
            "publish",
            "rotate-kek",
            "rewrap-identity",
            "flush-outbox",
            "save-anchor",
        ];
        for (v, name) in c.iter().zip(names) {
            assert_eq!(maintain_step(*v).unwrap().as_str(), name);
        }
        assert_eq!(c.len(), MaintainStep::ALL.len());
        assert_eq!(maintain_step(0), Err(sealwire_result::INVALID_PARAMETER));
        assert_eq!(maintain_step(8), Err(sealwire_result::INVALID_PARAMETER));
        assert_eq!(maintain_step(u32::MAX), Err(sealwire_result::INVALID_PARAMETER));
    }

    #[test]
    fn delivery_values_are_distinct() {
        let d = [delivery(Delivery::Live), delivery(Delivery::Relay), delivery(Delivery::Queued)];
        assert_eq!(d, [SEALWIRE_DELIVERY_LIVE, SEALWIRE_DELIVERY_RELAY, SEALWIRE_DELIVERY_QUEUED]);
    }
}
