//! The agent facade (`docs/AGENT.md`): `Agent`, a thin wrapper of `sealwire::agent::Agent`
//! (cargo feature `agent`). Home directory, live Noise channels, the relay, sealing and the
//! key lifecycle are the core's; nothing here re-implements an order of operations.
//!
//! Every operation that may block — opening (Argon2id), the network (channels, relay, a
//! remote KEK), SQLite commits, maintenance — returns a Promise computed on the libuv thread
//! pool (`AsyncTask`). The core agent is `Send`, not `Sync`: it lives in an
//! `Arc<Mutex<Option<…>>>`, so Promises on one agent run one at a time (a `receive(5000)` in
//! flight delays a `send` on the same agent until it returns; calls issued together may run
//! in any order — await one before the next when order matters); `None` after `close()`,
//! when every call rejects with `ERR_SEALWIRE_STORAGE`.
//!
//! The synchronous getters (`peers`, `stats`, `takeLastError()`) never take that lock (they
//! must not block the event loop behind a long `receive`): they read a snapshot the last
//! operation left, refreshed at the end of every operation while it still holds the lock.
//!
//! Errors: every failure rejects with an `Error` whose `code` is the core's code (the one
//! mapping in `error.rs`); bad arguments reject the Promise too (they never throw
//! synchronously). A configuration text that does not load rejects like
//! `SecurityConfig.load` throws (`ERR_SEALWIRE_INVALID_PARAMETER`, `findings`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use napi::bindgen_prelude::{
    AsyncTask, BigInt, Buffer, ClassInstance, Either, JsError, ToNapiValue, TypeName, Uint8Array,
    Unknown,
};
use napi::{Env, Task};
use napi_derive::napi;
use sealwire::agent::{
    AgentOptions, AgentStats as CoreStats, ChannelInfo as CoreChannelInfo,
    FlushReport as CoreFlushReport, KnownPeer, MaintainReport as CoreMaintainReport, MaintainStep,
    PeerSpec, SendReport as CoreSendReport, Unlock,
};
use sealwire::store::{PeerId, Received};
use sealwire::Error as CoreError;
use zeroize::Zeroizing;

use crate::config::{load as load_config, LoadError, SecurityConfig};
use crate::envelope::{context_from, RootKey};
use crate::error::rejection;
use crate::identity::PublicIdentity;
use crate::kms::{settings as kms_settings, KmsKeySettings};
use crate::messenger::{received_js, to_u64, ReceivedMessage};
use crate::relay::{relay_options, PrekeyStatus, RelayClientOptions};

type Core = sealwire::agent::Agent;
type CoreResult<T> = std::result::Result<T, CoreError>;
type Shared = Arc<Mutex<Option<Core>>>;

/// Largest timeout or wait accepted, in milliseconds (one hour).
const MAX_MS: f64 = 3_600_000.0;

// ---------------------------------------------------------------------------------------------
// Async work (libuv thread pool)
// ---------------------------------------------------------------------------------------------

type Work<T> = Box<dyn FnOnce() -> Result<T, LoadError> + Send>;

/// One agent operation on the libuv pool (or an argument error to reject with), and the
/// conversion of its result to JavaScript.
pub struct AgentJob<T: Send + 'static, J> {
    work: Option<Work<T>>,
    early: Option<LoadError>,
    conv: fn(T) -> J,
}

impl<T: Send + 'static, J> std::fmt::Debug for AgentJob<T, J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentJob(..)")
    }
}

impl<T: Send + 'static, J: ToNapiValue + TypeName> AgentJob<T, J> {
    fn new(
        conv: fn(T) -> J,
        work: impl FnOnce() -> Result<T, LoadError> + Send + 'static,
    ) -> AsyncTask<Self> {
        AsyncTask::new(Self {
            work: Some(Box::new(work)),
            early: None,
            conv,
        })
    }

    fn failed(conv: fn(T) -> J, err: LoadError) -> AsyncTask<Self> {
        AsyncTask::new(Self {
            work: None,
            early: Some(err),
            conv,
        })
    }
}

impl<T: Send + 'static, J: ToNapiValue + TypeName> Task for AgentJob<T, J> {
    type Output = Result<T, LoadError>;
    type JsValue = J;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(match (self.early.take(), self.work.take()) {
            (Some(e), _) => Err(e),
            (None, Some(w)) => w(),
            (None, None) => Err(LoadError::Core(CoreError::InvalidParameter("no work"))),
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<J> {
        match output {
            Ok(v) => Ok((self.conv)(v)),
            Err(LoadError::Core(e)) => Err(rejection(env, e)),
            Err(e) => Err(e.into_js(env)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------------

fn lock(shared: &Shared) -> MutexGuard<'_, Option<Core>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

fn closed_error() -> CoreError {
    CoreError::Storage("the agent is closed")
}

/// A duration in milliseconds: an integer in `min ..= 3600000`.
fn millis(v: Option<f64>, default: Duration, min: f64, what: &'static str) -> CoreResult<Duration> {
    match v {
        None => Ok(default),
        Some(ms) if ms.fract() == 0.0 && (min..=MAX_MS).contains(&ms) => {
            Ok(Duration::from_millis(ms as u64))
        }
        Some(_) => Err(CoreError::InvalidParameter(what)),
    }
}

fn now_arg(now: Option<Either<f64, BigInt>>) -> CoreResult<u64> {
    match now {
        None => Ok(sealwire::agent::unix_now()),
        Some(n) => to_u64(&n, "now must be a non-negative integer (Unix seconds)"),
    }
}

fn step_named(name: &str) -> CoreResult<MaintainStep> {
    MaintainStep::from_name(name)
}

// ---------------------------------------------------------------------------------------------
// Plain objects
// ---------------------------------------------------------------------------------------------

/// Options of `Agent.open`: the secret that unlocks the home (at most one of `passphrase`,
/// `rootKey`, `rootKeyFromEnv`; which one the configuration needs: docs/AGENT.md,
/// "Unlocking"), the relay, and timeouts. None of them is security policy (that is the
/// `SecurityConfig`).
#[napi(object, object_to_js = false)]
pub struct AgentOpenOptions<'a> {
    /// The passphrase of the identity file and/or the keyring (a string is taken as UTF-8).
    #[napi(ts_type = "string | Uint8Array")]
    pub passphrase: Option<Either<String, Uint8Array>>,
    /// The keyring root key (`storage.kek.keyring_protection = "root-key"`): a `RootKey` or its
    /// 32 bytes.
    #[napi(ts_type = "RootKey | Uint8Array")]
    pub root_key: Option<Either<ClassInstance<'a, RootKey>, Uint8Array>>,
    /// Take the keyring root key from `SEALWIRE_KEYRING_ROOT_KEY` (64 hex digits). Also what
    /// happens when no secret is given (enough for `identity.storage = "memory"`).
    pub root_key_from_env: Option<bool>,
    /// The relay (prekey directory and mailbox), e.g. `'http://127.0.0.1:8790'`. Without one
    /// the agent works over live channels only.
    pub relay_url: Option<String>,
    /// Timeouts of the relay client.
    pub relay_options: Option<RelayClientOptions>,
    /// Bound on a TCP connection setup in `connect`, in milliseconds (default 5000).
    pub connect_timeout_ms: Option<f64>,
    /// Bound on a whole handshake, bundle exchange included, in milliseconds (default 10000).
    pub handshake_timeout_ms: Option<f64>,
    /// A live message not acknowledged within this time also goes through the relay, in
    /// milliseconds (default 5000).
    pub ack_timeout_ms: Option<f64>,
    /// While `receive` waits on live channels, how often it also asks the relay, in
    /// milliseconds (default 500).
    pub relay_poll_interval_ms: Option<f64>,
    /// Vault / AWS addresses and credentials for a remote KEK (`storage.kek.provider =
    /// "vault"` / `"aws-kms"`); else from the environment.
    pub kms: Option<KmsKeySettings>,
}

impl std::fmt::Debug for AgentOpenOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentOpenOptions(..)")
    }
}

fn unlock_from(o: &mut AgentOpenOptions<'_>) -> CoreResult<Unlock> {
    let given = usize::from(o.passphrase.is_some())
        + usize::from(o.root_key.is_some())
        + usize::from(o.root_key_from_env == Some(true));
    if given > 1 {
        return Err(CoreError::InvalidParameter(
            "give at most one of passphrase, rootKey and rootKeyFromEnv",
        ));
    }
    if let Some(p) = o.passphrase.take() {
        // Moved (not copied) into zeroizing storage; the JS string itself cannot be wiped.
        return Ok(Unlock::Passphrase(match p {
            Either::A(text) => Zeroizing::new(text.into_bytes()),
            Either::B(bytes) => Zeroizing::new(bytes.to_vec()),
        }));
    }
    match o.root_key.take() {
        Some(Either::A(key)) => {
            // An explicit zeroized copy in Rust memory (the class shares its key in an `Arc`).
            Ok(Unlock::RootKey(key.inner.as_ref().clone()))
        }
        Some(Either::B(bytes)) => Ok(Unlock::RootKey(sealwire::envelope::RootKey::from_bytes(
            &bytes,
        )?)),
        None => Ok(Unlock::RootKeyFromEnv),
    }
}

fn agent_options(o: Option<AgentOpenOptions<'_>>) -> CoreResult<(Unlock, AgentOptions)> {
    let d = AgentOptions::default();
    let Some(mut o) = o else {
        return Ok((Unlock::RootKeyFromEnv, d));
    };
    let unlock = unlock_from(&mut o)?;
    let options = AgentOptions {
        relay_url: o.relay_url.clone(),
        relay_options: relay_options(o.relay_options.as_ref())?,
        connect_timeout: millis(
            o.connect_timeout_ms,
            d.connect_timeout,
            1.0,
            "connectTimeoutMs must be an integer from 1 to 3600000",
        )?,
        handshake_timeout: millis(
            o.handshake_timeout_ms,
            d.handshake_timeout,
            1.0,
            "handshakeTimeoutMs must be an integer from 1 to 3600000",
        )?,
        ack_timeout: millis(
            o.ack_timeout_ms,
            d.ack_timeout,
            1.0,
            "ackTimeoutMs must be an integer from 1 to 3600000",
        )?,
        relay_poll_interval: millis(
            o.relay_poll_interval_ms,
            d.relay_poll_interval,
            1.0,
            "relayPollIntervalMs must be an integer from 1 to 3600000",
        )?,
        remote_key_settings: kms_settings(o.kms),
    };
    Ok((unlock, options))
}

/// Options of `agent.connect`: whom to dial. An address alone runs XX on first contact (IK
/// when the peer table knows the peer at that address); a known `peer` runs IK (at `address`,
/// or the address the peer table holds).
#[napi(object, object_to_js = false)]
pub struct AgentConnectOptions<'a> {
    /// `host:port` to dial.
    pub address: Option<String>,
    /// The peer's public identity, when known.
    #[napi(ts_type = "PublicIdentity")]
    pub peer: Option<ClassInstance<'a, PublicIdentity>>,
}

impl std::fmt::Debug for AgentConnectOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentConnectOptions(..)")
    }
}

/// A live channel that came up (`connect`, `acceptIncoming`).
#[napi(object, object_from_js = false)]
pub struct ChannelInfo {
    /// The peer, as its handshake authenticated it.
    pub peer: PublicIdentity,
    /// Its 32-byte peer id (as in `ReceivedMessage.peer`).
    pub peer_id: Buffer,
    /// The Noise protocol name that ran, e.g. `'Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s'`.
    pub protocol: String,
    /// Whether this agent dialled.
    pub initiator: bool,
}

impl std::fmt::Debug for ChannelInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelInfo(..)")
    }
}

fn channel_js(c: CoreChannelInfo) -> ChannelInfo {
    ChannelInfo {
        peer_id: Buffer::from(sealwire::store::peer_id(&c.peer).to_vec()),
        peer: PublicIdentity { inner: c.peer },
        protocol: c.protocol,
        initiator: c.initiator,
    }
}

fn channel_opt_js(c: Option<CoreChannelInfo>) -> Option<ChannelInfo> {
    c.map(channel_js)
}

/// What `agent.send` did. The message is committed in every case: it will be delivered.
#[napi(object, object_from_js = false)]
#[derive(Debug)]
pub struct SendReport {
    /// Outbox id (unique, increasing for the lifetime of the home).
    pub id: BigInt,
    /// `'live'` (over a channel, until acknowledged), `'relay'` (in the peer's mailbox) or
    /// `'queued'` (in the outbox; the next `flush`, `receive` or `maintain` sends it).
    #[napi(ts_type = "'live' | 'relay' | 'queued'")]
    pub delivery: String,
}

fn send_js(r: CoreSendReport) -> SendReport {
    SendReport {
        id: BigInt::from(r.id),
        delivery: r.delivery.as_str().to_owned(),
    }
}

/// What `agent.flush` (or the `flush-outbox` maintenance step) did with the outbox.
#[napi(object, object_from_js = false)]
#[derive(Debug)]
pub struct FlushReport {
    /// Sent over live channels (awaiting acknowledgement).
    pub live: u32,
    /// Deposited on the relay.
    pub relayed: u32,
    /// Waiting for an acknowledgement still in time.
    pub waiting: u32,
    /// Not sent now (no channel and the relay failed): tried again by the next flush.
    pub failed: u32,
    /// The `code` of the first error absorbed, if any.
    pub error: Option<String>,
    /// Its message.
    pub error_message: Option<String>,
}

fn sat_u32<N: TryInto<u32>>(n: N) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

fn flush_js(r: CoreFlushReport) -> FlushReport {
    FlushReport {
        live: sat_u32(r.live),
        relayed: sat_u32(r.relayed),
        waiting: sat_u32(r.waiting),
        failed: sat_u32(r.failed),
        error: r.error.as_ref().map(|e| e.kind().code().to_owned()),
        error_message: r.error.as_ref().map(ToString::to_string),
    }
}

/// What `agent.maintain` (or one step) changed.
#[napi(object, object_from_js = false)]
#[derive(Debug)]
pub struct MaintainReport {
    /// A new signed prekey was made (`rotate-signed-prekey`).
    pub signed_prekey_rotated: bool,
    /// Replaced signed prekeys forgotten (`expire-signed-prekeys`).
    pub signed_prekeys_expired: u32,
    /// The bundle was published on the relay (`publish`).
    pub published: bool,
    /// One-time prekeys were replenished (`publish`).
    pub prekeys_replenished: bool,
    /// The relay's prekey status after `publish`, when the relay was asked.
    pub prekey_status: Option<PrekeyStatus>,
    /// The new keyring KEK version after a rotation (`rotate-kek`).
    pub kek_rotated_to: Option<u32>,
    /// The identity envelope was re-wrapped (`rewrap-identity`).
    pub identity_rewrapped: bool,
    /// What `flush-outbox` did.
    pub flush: Option<FlushReport>,
    /// The rollback anchor saved (`save-anchor`).
    pub anchor: Option<BigInt>,
    /// Whether anything above changed durable state (the same `maintain` run again at the
    /// same time changes nothing).
    pub changed_anything: bool,
}

fn maintain_js(r: CoreMaintainReport) -> MaintainReport {
    MaintainReport {
        changed_anything: r.changed_anything(),
        signed_prekey_rotated: r.signed_prekey_rotated,
        signed_prekeys_expired: sat_u32(r.signed_prekeys_expired),
        published: r.published,
        prekeys_replenished: r.prekeys_replenished,
        prekey_status: r.prekey_status.map(|s| PrekeyStatus {
            one_time: sat_u32(s.one_time),
            kem_one_time: sat_u32(s.kem_one_time),
            post_quantum: s.post_quantum,
            replenish: s.replenish,
        }),
        kek_rotated_to: r.kek_rotated_to,
        identity_rewrapped: r.identity_rewrapped,
        flush: r.flush.map(flush_js),
        anchor: r.anchor.map(BigInt::from),
    }
}

/// One entry of the agent's peer table (`agent.peers`).
#[napi(object, object_from_js = false)]
pub struct AgentPeer {
    /// The peer, as a handshake (or a ratchet session) authenticated it.
    pub identity: PublicIdentity,
    /// Its 32-byte peer id.
    pub peer_id: Buffer,
    /// The address we last reached it at (`host:port`), if we ever dialled it.
    pub address: Option<String>,
    /// First contact, Unix seconds.
    pub first_seen: f64,
    /// Last handshake, Unix seconds.
    pub last_seen: f64,
}

impl std::fmt::Debug for AgentPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentPeer(..)")
    }
}

/// Counters since the agent was opened (`agent.stats`).
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Copy)]
pub struct AgentStats {
    /// Handshakes completed (either side).
    pub handshakes: f64,
    /// Message records sent over live channels (first sends and re-sends).
    pub sent_live: f64,
    /// Messages deposited on the relay.
    pub sent_relay: f64,
    /// New messages received over live channels.
    pub received_live: f64,
    /// New messages received from the relay.
    pub received_relay: f64,
    /// Second copies dropped (live + relay, re-sends).
    pub duplicates: f64,
    /// Messages that could never be read (acknowledged and dropped).
    pub rejected: f64,
    /// Live channels closed because of an error.
    pub channels_dropped: f64,
}

fn stats_js(s: &CoreStats) -> AgentStats {
    AgentStats {
        handshakes: s.handshakes as f64,
        sent_live: s.sent_live as f64,
        sent_relay: s.sent_relay as f64,
        received_live: s.received_live as f64,
        received_relay: s.received_relay as f64,
        duplicates: s.duplicates as f64,
        rejected: s.rejected as f64,
        channels_dropped: s.channels_dropped as f64,
    }
}

fn buffer(v: Vec<u8>) -> Buffer {
    Buffer::from(v)
}

fn received_all_js(v: Vec<Received>) -> Vec<ReceivedMessage> {
    v.into_iter().map(received_js).collect()
}

fn unit(_: ()) {}

fn addr_js(a: std::net::SocketAddr) -> String {
    a.to_string()
}

// ---------------------------------------------------------------------------------------------
// Snapshot for the synchronous getters
// ---------------------------------------------------------------------------------------------

/// What the getters read without taking the agent's lock.
#[derive(Default)]
struct Snapshot {
    peers: Vec<KnownPeer>,
    /// `stats.handshakes` when `peers` was copied: the peer table only changes with a
    /// handshake (or a new entry), so the copy is refreshed only then.
    peers_at: Option<(u64, usize)>,
    stats: CoreStats,
    last_error: Option<CoreError>,
}

type SharedSnapshot = Arc<Mutex<Snapshot>>;

fn refresh(snapshot: &SharedSnapshot, agent: &mut Core) {
    let mut s = snapshot.lock().unwrap_or_else(PoisonError::into_inner);
    s.stats = agent.stats();
    let mark = (s.stats.handshakes, agent.peers().len());
    if s.peers_at != Some(mark) {
        s.peers = agent.peers().to_vec();
        s.peers_at = Some(mark);
    }
    if let Some(e) = agent.take_last_error() {
        s.last_error = Some(e);
    }
}

/// The converted arguments of `Agent.open` / `Agent.recover`.
fn open_args(
    path: String,
    config: Either<ClassInstance<'_, SecurityConfig>, String>,
    options: Option<AgentOpenOptions<'_>>,
) -> Result<(PathBuf, sealwire::config::SecurityConfig, Unlock, AgentOptions), LoadError> {
    let config = match config {
        Either::A(c) => c.inner.clone(),
        Either::B(text) => load_config(&text, None)?,
    };
    let (unlock, options) = agent_options(options).map_err(LoadError::Core)?;
    Ok((PathBuf::from(path), config, unlock, options))
}

/// What `Agent.recover` resolves to.
#[napi(object, object_from_js = false)]
pub struct AgentRecovery {
    /// The agent, open on its new session store.
    pub agent: Agent,
    /// The 32-byte peer ids of the peers the old store had sessions with.
    pub peers: Vec<Buffer>,
}

impl std::fmt::Debug for AgentRecovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentRecovery(..)")
    }
}

fn recovery_js((core, peers): (Core, Vec<PeerId>)) -> AgentRecovery {
    AgentRecovery {
        agent: Agent::wrap(core),
        peers: peers.iter().map(|p| Buffer::from(p.to_vec())).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Agent
// ---------------------------------------------------------------------------------------------

/// One agent: its home directory (identity, keyring, sessions, peer table), live Noise
/// channels to online peers, the relay for offline peers, sealing through the configured KEK,
/// and the key lifecycle (`maintain`) — every choice from a `SecurityConfig`
/// (docs/AGENT.md). Open it with `await Agent.open(home, config, options)`.
///
/// Every method that does work returns a Promise run on the libuv thread pool; calls on one
/// agent run one at a time (a long `receive` delays the next call on the same agent, never
/// the event loop). After `close()` every call rejects with `ERR_SEALWIRE_STORAGE`.
///
/// The application's loop: `maintain()` at start and then on a schedule; `connect` to peers
/// (XX the first time, IK after); `send` (resolves ⇒ committed ⇒ will be delivered);
/// `for (const m of await agent.receive(1000)) { handle m durably by m.id; await agent.ack(m.id) }`
/// — unacknowledged messages come back after a restart with the same `id`.
#[napi]
pub struct Agent {
    shared: Shared,
    snapshot: SharedSnapshot,
    closed: Arc<AtomicBool>,
    public: sealwire::PublicIdentity,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Agent(..)")
    }
}

impl Agent {
    fn wrap(mut core: Core) -> Self {
        let public = core.public().clone();
        let snapshot = SharedSnapshot::default();
        refresh(&snapshot, &mut core);
        Self {
            shared: Arc::new(Mutex::new(Some(core))),
            snapshot,
            closed: Arc::new(AtomicBool::new(false)),
            public,
        }
    }

    /// `f` on the open core agent, on the pool; the snapshot is refreshed after it.
    fn job<T: Send + 'static, J: ToNapiValue + TypeName>(
        &self,
        conv: fn(T) -> J,
        f: impl FnOnce(&mut Core) -> CoreResult<T> + Send + 'static,
    ) -> AsyncTask<AgentJob<T, J>> {
        let shared = Arc::clone(&self.shared);
        let snapshot = Arc::clone(&self.snapshot);
        AgentJob::new(conv, move || {
            let mut guard = lock(&shared);
            let agent = guard
                .as_mut()
                .ok_or_else(closed_error)
                .map_err(LoadError::Core)?;
            let result = f(agent);
            refresh(&snapshot, agent);
            result.map_err(LoadError::Core)
        })
    }

    /// `job` after an argument check.
    fn job_with<A: Send + 'static, T: Send + 'static, J: ToNapiValue + TypeName>(
        &self,
        conv: fn(T) -> J,
        args: CoreResult<A>,
        f: impl FnOnce(&mut Core, A) -> CoreResult<T> + Send + 'static,
    ) -> AsyncTask<AgentJob<T, J>> {
        match args {
            Ok(a) => self.job(conv, move |agent| f(agent, a)),
            Err(e) => AgentJob::failed(conv, LoadError::Core(e)),
        }
    }
}

#[napi]
impl Agent {
    /// Open (or create, on first use) the agent whose home directory is `path`, under
    /// `config` (a `SecurityConfig`, or its TOML / JSON text). Reads files only (no network),
    /// but Argon2id makes it slow: it runs on the libuv pool.
    ///
    /// Rejects with `ERR_SEALWIRE_DECRYPTION_FAILED` (wrong passphrase or root key: nothing is
    /// written), `ERR_SEALWIRE_STORAGE` (another agent holds the home; files of another
    /// configuration), `ERR_SEALWIRE_STALE_STATE` (a session store older than the home's
    /// rollback anchor), `ERR_SEALWIRE_INVALID_PARAMETER` (a configuration that does not
    /// load — with `findings` — or one the agent cannot run; options that do not fit).
    #[napi(ts_return_type = "Promise<Agent>")]
    pub fn open(
        path: String,
        #[napi(ts_arg_type = "SecurityConfig | string")] config: Either<
            ClassInstance<'_, SecurityConfig>,
            String,
        >,
        options: Option<AgentOpenOptions<'_>>,
    ) -> AsyncTask<AgentJob<Core, Agent>> {
        match open_args(path, config, options) {
            Ok((home, config, unlock, options)) => AgentJob::new(Agent::wrap, move || {
                Core::open(&home, &config, unlock, options).map_err(LoadError::Core)
            }),
            Err(e) => AgentJob::failed(Agent::wrap, e),
        }
    }

    /// Start the session store over after `open` rejected with `ERR_SEALWIRE_STALE_STATE`
    /// (the store was restored from an older copy, or lost; docs/AGENT.md): the old store is
    /// moved aside into `stale-sessions-<unix>-<random>/` in the home, a new one keeps the
    /// identity, gets new prekeys (published, replacing the old ones, by the next
    /// `maintain`) and a counter above both the old store's and the anchor (no outbox or
    /// inbox id repeats). Arguments as `open`. Resolves to the agent and the 32-byte peer ids
    /// of the peers the old store had sessions with: the next message to each starts a new
    /// session. Messages of the lost interval are lost.
    ///
    /// Do not call it on a home that opens: it discards the store's sessions and inbox.
    #[napi(ts_return_type = "Promise<AgentRecovery>")]
    pub fn recover(
        path: String,
        #[napi(ts_arg_type = "SecurityConfig | string")] config: Either<
            ClassInstance<'_, SecurityConfig>,
            String,
        >,
        options: Option<AgentOpenOptions<'_>>,
    ) -> AsyncTask<AgentJob<(Core, Vec<PeerId>), AgentRecovery>> {
        match open_args(path, config, options) {
            Ok((home, config, unlock, options)) => AgentJob::new(recovery_js, move || {
                Core::recover(&home, &config, unlock, options).map_err(LoadError::Core)
            }),
            Err(e) => AgentJob::failed(recovery_js, e),
        }
    }

    /// Our public identity.
    #[napi(getter)]
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            inner: self.public.clone(),
        }
    }

    /// Our 32-byte peer id (the Ed25519 public key): how peers name us.
    #[napi(getter)]
    pub fn peer_id(&self) -> Buffer {
        Buffer::from(sealwire::store::peer_id(&self.public).to_vec())
    }

    /// The peer table as the last operation left it: every peer met in a handshake (or a
    /// ratchet session), with the address we reached it at.
    #[napi(getter)]
    pub fn peers(&self) -> Vec<AgentPeer> {
        let s = self.snapshot.lock().unwrap_or_else(PoisonError::into_inner);
        s.peers
            .iter()
            .map(|p| AgentPeer {
                peer_id: Buffer::from(sealwire::store::peer_id(&p.identity).to_vec()),
                identity: PublicIdentity {
                    inner: p.identity.clone(),
                },
                address: p.address.clone(),
                first_seen: p.first_seen as f64,
                last_seen: p.last_seen as f64,
            })
            .collect()
    }

    /// Counters since the agent was opened, as the last operation left them.
    #[napi(getter)]
    pub fn stats(&self) -> AgentStats {
        let s = self.snapshot.lock().unwrap_or_else(PoisonError::into_inner);
        stats_js(&s.stats)
    }

    /// The last relay or channel error that an operation absorbed (the relay being down does
    /// not stop live traffic), as an `Error` with its `code`; `null` when none since the
    /// last call.
    #[napi(ts_return_type = "Error | null")]
    pub fn take_last_error<'e>(&self, env: &'e Env) -> Option<Unknown<'e>> {
        let e = self
            .snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
            .take()?;
        Some(JsError::from(crate::error::to_js_error(e)).into_unknown(*env))
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Listen for live connections on `address` (e.g. `'127.0.0.1:0'`); resolves with the
    /// address bound, `'host:port'`. The agent answers waiting connections in `receive` (and
    /// `acceptIncoming`).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn listen(&self, address: String) -> AsyncTask<AgentJob<std::net::SocketAddr, String>> {
        self.job(addr_js, move |a| a.listen(&address))
    }

    /// Wait up to `waitMs` (default 0) for one incoming connection on the listener and run its
    /// handshake; resolves with the channel, or `null` when none came.
    #[napi(ts_return_type = "Promise<ChannelInfo | null>")]
    pub fn accept_incoming(
        &self,
        wait_ms: Option<f64>,
    ) -> AsyncTask<AgentJob<Option<CoreChannelInfo>, Option<ChannelInfo>>> {
        let wait = millis(
            wait_ms,
            Duration::ZERO,
            0.0,
            "waitMs must be an integer from 0 to 3600000",
        );
        self.job_with(channel_opt_js, wait, |a, wait| a.accept_incoming(wait))
    }

    /// Dial a peer over TCP and run the handshake (XX on first contact, IK when the peer is
    /// known), then exchange prekey bundles. Resolves with the channel.
    ///
    /// Rejects with `ERR_SEALWIRE_IO` (connection), the Noise errors of a failed handshake,
    /// `ERR_SEALWIRE_UNSUPPORTED_ALGORITHM` (the peer refused our protocol),
    /// `ERR_SEALWIRE_INVALID_PARAMETER` (neither `address` nor a known `peer`).
    #[napi(ts_return_type = "Promise<ChannelInfo>")]
    pub fn connect(
        &self,
        options: AgentConnectOptions<'_>,
    ) -> AsyncTask<AgentJob<CoreChannelInfo, ChannelInfo>> {
        let spec = PeerSpec {
            identity: options.peer.as_ref().map(|p| p.inner.clone()),
            address: options.address,
        };
        let spec = if spec.identity.is_none() && spec.address.is_none() {
            Err(CoreError::InvalidParameter(
                "connect needs an address or a peer",
            ))
        } else {
            Ok(spec)
        };
        self.job_with(channel_js, spec, |a, spec| a.connect(&spec))
    }

    /// Encrypt `data` for `peer`, commit it (session state and outbox record), then hand it
    /// on: over a live channel, else to the peer's relay mailbox, else it waits in the outbox.
    /// Resolves ⇒ committed ⇒ will be delivered; rejects ⇒ nothing committed.
    ///
    /// Rejects with `ERR_SEALWIRE_NO_SESSION` (no session, no channel and no relay),
    /// `ERR_SEALWIRE_MESSAGE_TOO_LARGE` (above 192 KiB), `ERR_SEALWIRE_INVALID_PARAMETER`
    /// (sending to ourselves), relay codes (claiming a bundle).
    #[napi(ts_return_type = "Promise<SendReport>")]
    pub fn send(
        &self,
        peer: &PublicIdentity,
        data: Uint8Array,
    ) -> AsyncTask<AgentJob<CoreSendReport, SendReport>> {
        let peer = peer.inner.clone();
        let data = Zeroizing::new(data.to_vec());
        self.job(send_js, move |a| a.send(&peer, &data))
    }

    /// Read what arrived — live records, waiting connections, the relay mailbox — waiting up
    /// to `waitMs` (default 0) when nothing is ready. Resolves with the new messages, each
    /// committed; handle each durably by `id`, then `ack(id)`. Unacknowledged messages come
    /// back after a restart with the same `id`; duplicates never reach the application.
    #[napi(ts_return_type = "Promise<Array<ReceivedMessage>>")]
    pub fn receive(
        &self,
        wait_ms: Option<f64>,
    ) -> AsyncTask<AgentJob<Vec<Received>, Vec<ReceivedMessage>>> {
        let wait = millis(
            wait_ms,
            Duration::ZERO,
            0.0,
            "waitMs must be an integer from 0 to 3600000",
        );
        self.job_with(received_all_js, wait, |a, wait| a.receive(wait))
    }

    /// The application handled the message with inbox id `id` (a `number` or `bigint`): it is
    /// not delivered again.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn ack(&self, id: Either<f64, BigInt>) -> AsyncTask<AgentJob<(), ()>> {
        let id = to_u64(&id, "id must be a non-negative integer");
        self.job_with(unit, id, |a, id| a.ack(id))
    }

    /// Send what waits in the outbox (live if a channel is up, else the relay; live records
    /// unacknowledged for `ackTimeoutMs` also go to the relay).
    #[napi(ts_return_type = "Promise<FlushReport>")]
    pub fn flush(&self) -> AsyncTask<AgentJob<CoreFlushReport, FlushReport>> {
        self.job(flush_js, |a| a.flush())
    }

    /// Outbox records not yet acknowledged (live) or deposited (relay): 0 once everything
    /// sent has left this agent. A store read, on the pool.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn pending_outbox_len(&self) -> AsyncTask<AgentJob<usize, u32>> {
        self.job(|n| u32::try_from(n).unwrap_or(u32::MAX), |a| a.pending_outbox_len())
    }

    /// Seal `data` as an envelope (`SWEV`) under the configured KEK, bound to `context` (a
    /// string → string map; default empty). A remote KEK is called on the pool.
    ///
    /// Rejects with `ERR_SEALWIRE_INVALID_PARAMETER` when the configuration has no KEK
    /// (`storage.pattern` other than `envelope`, provider `none`), KMS codes.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn seal(
        &self,
        data: Uint8Array,
        context: Option<BTreeMap<String, String>>,
    ) -> AsyncTask<AgentJob<Vec<u8>, Buffer>> {
        let data = Zeroizing::new(data.to_vec());
        self.job_with(buffer, context_from(context), move |a, ctx| {
            a.seal(&data, &ctx)
        })
    }

    /// Open an envelope sealed by `seal` (any KEK version within its grace) or sealed for this
    /// agent's identity (`sealFor`). `context` must equal the sealed one exactly.
    ///
    /// Rejects with `ERR_SEALWIRE_CONTEXT_MISMATCH`, `ERR_SEALWIRE_NO_MATCHING_KEY`,
    /// `ERR_SEALWIRE_DECRYPTION_FAILED` and the envelope decoding codes.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn open_sealed(
        &self,
        blob: Uint8Array,
        context: Option<BTreeMap<String, String>>,
    ) -> AsyncTask<AgentJob<Vec<u8>, Buffer>> {
        let blob = blob.to_vec();
        self.job_with(buffer, context_from(context), move |a, ctx| {
            a.open_sealed(&blob, &ctx)
        })
    }

    /// Seal `data` for the given peers (HPKE recipient wrapping to each identity): only they
    /// open it (include `agent.public` to read it back).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn seal_for(
        &self,
        peers: Vec<ClassInstance<'_, PublicIdentity>>,
        data: Uint8Array,
        context: Option<BTreeMap<String, String>>,
    ) -> AsyncTask<AgentJob<Vec<u8>, Buffer>> {
        let peers: Vec<sealwire::PublicIdentity> = peers.iter().map(|p| p.inner.clone()).collect();
        let data = Zeroizing::new(data.to_vec());
        self.job_with(buffer, context_from(context), move |a, ctx| {
            let refs: Vec<&sealwire::PublicIdentity> = peers.iter().collect();
            a.seal_for(&refs, &data, &ctx)
        })
    }

    /// The same payload with its data key re-wrapped under the current KEK version (for
    /// objects kept across a KEK rotation).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn rewrap_sealed(
        &self,
        blob: Uint8Array,
        context: Option<BTreeMap<String, String>>,
    ) -> AsyncTask<AgentJob<Vec<u8>, Buffer>> {
        let blob = blob.to_vec();
        self.job_with(buffer, context_from(context), move |a, ctx| {
            a.rewrap_sealed(&blob, &ctx)
        })
    }

    /// Run every maintenance step in order (rotate and expire signed prekeys, publish, rotate
    /// the KEK, re-wrap the identity, flush the outbox, save the rollback anchor) at `now`
    /// (Unix seconds, default the clock). Each step is idempotent: run it at start and then on
    /// a schedule.
    #[napi(ts_return_type = "Promise<MaintainReport>")]
    pub fn maintain(
        &self,
        now: Option<Either<f64, BigInt>>,
    ) -> AsyncTask<AgentJob<CoreMaintainReport, MaintainReport>> {
        self.job_with(maintain_js, now_arg(now), |a, now| a.maintain(now))
    }

    /// Run one maintenance step: `'rotate-signed-prekey'`, `'expire-signed-prekeys'`,
    /// `'publish'`, `'rotate-kek'`, `'rewrap-identity'`, `'flush-outbox'` or `'save-anchor'`.
    #[napi(ts_return_type = "Promise<MaintainReport>")]
    pub fn maintain_step(
        &self,
        #[napi(
            ts_arg_type = "'rotate-signed-prekey' | 'expire-signed-prekeys' | 'publish' | 'rotate-kek' | 'rewrap-identity' | 'flush-outbox' | 'save-anchor'"
        )]
        name: String,
        now: Option<Either<f64, BigInt>>,
    ) -> AsyncTask<AgentJob<CoreMaintainReport, MaintainReport>> {
        let args = step_named(&name).and_then(|s| Ok((s, now_arg(now)?)));
        self.job_with(maintain_js, args, |a, (step, now)| {
            a.maintain_step(step, now)
        })
    }

    /// Close the agent: waits for an operation in flight, saves the rollback anchor and
    /// releases the home's lock. Every later call — and any still queued behind it — rejects
    /// with `ERR_SEALWIRE_STORAGE`. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<AgentJob<(), ()>> {
        let shared = Arc::clone(&self.shared);
        let closed = Arc::clone(&self.closed);
        closed.store(true, Ordering::SeqCst);
        AgentJob::new(unit, move || {
            let agent = lock(&shared).take();
            match agent {
                Some(a) => a.close().map_err(LoadError::Core),
                None => Ok(()),
            }
        })
    }
}
