//! [`Agent`]: one object that composes every layer for an application (cargo feature
//! `agent`): its home directory (identity, keyring, session store), live Noise channels to
//! online peers, the relay for offline peers, envelope sealing through the configured KEK,
//! and the key lifecycle as explicit [`Agent::maintain`] steps — all chosen by a
//! [`SecurityConfig`]. `docs/AGENT.md` documents the API, the home layout, every format and
//! the guarantees.
//!
//! Delivery design in one paragraph: every message is a Double Ratchet message committed by
//! the [`Messenger`] (state + outbox record) before it leaves. A live channel carries those
//! same ratchet bytes inside Noise transport records, and the receiver acknowledges each
//! one after `Messenger::receive` committed it; without a live channel, or when an
//! acknowledgement does not come in time, the same bytes go through the relay mailbox. The
//! receiver's messenger drops second copies by message id, so the application sees each
//! message once (by inbox id, across restarts).
//!
//! ```no_run
//! # fn main() -> sealwire::Result<()> {
//! use std::time::Duration;
//! use sealwire::agent::{Agent, AgentOptions, PeerSpec, Unlock};
//! use sealwire::config::SecurityConfig;
//!
//! let config = SecurityConfig::default();
//! let options = AgentOptions { relay_url: Some("http://127.0.0.1:8790".into()), ..AgentOptions::default() };
//! let mut alice = Agent::open("alice-home".as_ref(), &config, Unlock::passphrase("correct horse"), options)?;
//! alice.maintain(sealwire::agent::unix_now())?;            // publish prekeys, rotate keys when due
//! let bob = alice.connect(&PeerSpec::at("127.0.0.1:9000"))?.peer; // XX on first contact, IK later
//! alice.send(&bob, b"hello")?;                               // live if up, else the relay
//! for m in alice.receive(Duration::from_secs(1))? {
//!     // handle m.plaintext durably, keyed by m.id, then:
//!     alice.ack(m.id)?;
//! }
//! # Ok(()) }
//! ```

mod channel;
mod home;
mod link;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::ErrorKind as IoErrorKind;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use channel::{Channel, Protocols, Record, Setup};
use home::{derive_keys, AgentKeys, AgentState, Home};

pub use channel::{HELLO_MAGIC, HELLO_VERSION, PROLOGUE_LABEL, RECORD_ACK, RECORD_BUNDLE, RECORD_MESSAGE};
pub use home::{
    KnownPeer, IDENTITY_ENVELOPE_FILE, IDENTITY_FILE, KEYRING_FILE, LOCK_FILE, MAX_ADDRESS_LEN, MAX_PEERS, SESSIONS_FILE,
    STATE_FILE, STATE_MAGIC, STATE_VERSION,
};
pub use link::{memory_link_pair, Link, MemoryLink, TcpLink, MAX_LINK_FRAME};

use crate::config::{HandshakePattern, IdentityStorage, KekProvider, KeyringProtection, SecurityConfig, Topology};
use crate::envelope::{self, DataKeyCache, EncryptionContext, EnvelopeHeader, KeyProvider, Keyring, RootKey, SealOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Identity, KdfParams, PublicIdentity};
use crate::relay::{PrekeyStatus, RelayAgent, RelayClient, RelayOptions};
use crate::store::{message_id, peer_id, MemoryStore, Messenger, OutboxRecord, PeerId, Received, SessionStore, SqliteStore};

/// Largest message [`Agent::send`] accepts (192 KiB): after padding (at most 12 %) and the
/// ratchet and mailbox headers it stays below the relay's default deposit limit (256 KiB),
/// so any message can fall back to the relay.
pub const MAX_MESSAGE_LEN: usize = 192 * 1024;
/// The keyring key id the agent seals under.
pub const KEK_ID: &str = "agent";
/// The encryption context of the identity envelope (`identity.storage = "kek-envelope"`).
pub const IDENTITY_CONTEXT: (&str, &str) = ("sealwire", "agent-identity");
/// Most records read from one channel per poll (so one busy peer cannot starve the rest).
const MAX_RECORDS_PER_POLL: usize = 256;
/// Mailbox messages fetched per relay poll.
const RELAY_BATCH: u32 = 100;

/// The messenger's store: SQLite or memory, by configuration.
type Store = Box<dyn SessionStore + Send>;

/// Current Unix time in seconds (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The secret that unlocks an agent's home.
///
/// * `identity.storage = "passphrase-file"` needs [`Unlock::Passphrase`] (the identity
///   export is Argon2id-encrypted under it).
/// * `storage.kek.keyring_protection = "passphrase"` needs the passphrase too (the same one);
///   `"root-key"` takes the root key given here, or else the one in
///   `SEALWIRE_KEYRING_ROOT_KEY`.
/// * `identity.storage = "kek-envelope"` is unlocked by the KEK itself.
pub enum Unlock {
    /// A passphrase (any bytes).
    Passphrase(Zeroizing<Vec<u8>>),
    /// The keyring root key from `SEALWIRE_KEYRING_ROOT_KEY` (64 hex digits).
    RootKeyFromEnv,
    /// A keyring root key held by the application.
    RootKey(RootKey),
}

impl Unlock {
    /// [`Unlock::Passphrase`] from any bytes.
    pub fn passphrase(p: impl AsRef<[u8]>) -> Self {
        Self::Passphrase(Zeroizing::new(p.as_ref().to_vec()))
    }
}

impl core::fmt::Debug for Unlock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Passphrase(_) => "Unlock::Passphrase(..)",
            Self::RootKeyFromEnv => "Unlock::RootKeyFromEnv",
            Self::RootKey(_) => "Unlock::RootKey(..)",
        })
    }
}

/// Settings that are not security policy (those are in the [`SecurityConfig`]).
#[derive(Clone)]
pub struct AgentOptions {
    /// The relay (directory + mailbox), e.g. `http://127.0.0.1:8790`. Without one the agent
    /// works over live channels only.
    pub relay_url: Option<String>,
    /// Timeouts of the relay client.
    pub relay_options: RelayOptions,
    /// Bound on a TCP connection setup in [`Agent::connect`] (5 s).
    pub connect_timeout: Duration,
    /// Bound on a whole handshake, bundle exchange included (10 s).
    pub handshake_timeout: Duration,
    /// A live message not acknowledged within this time is also sent through the relay (5 s).
    pub ack_timeout: Duration,
    /// While [`Agent::receive`] waits on live channels, how often it also asks the relay
    /// (500 ms).
    pub relay_poll_interval: Duration,
    /// Vault / AWS credentials and addresses for a remote KEK (else from the environment).
    #[cfg(feature = "kms")]
    pub remote_key_settings: crate::envelope::kms::RemoteKeySettings,
}

impl Default for AgentOptions {
    fn default() -> Self {
        Self {
            relay_url: None,
            relay_options: RelayOptions::default(),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(5),
            relay_poll_interval: Duration::from_millis(500),
            #[cfg(feature = "kms")]
            remote_key_settings: Default::default(),
        }
    }
}

impl core::fmt::Debug for AgentOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AgentOptions")
            .field("relay", &self.relay_url.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("ack_timeout", &self.ack_timeout)
            .field("relay_poll_interval", &self.relay_poll_interval)
            .finish_non_exhaustive()
    }
}

/// Whom [`Agent::connect`] dials: an address, an identity, or both.
///
/// With an identity (given, or found in the peer table for the address) the handshake is
/// the configuration's `online` pattern (IK family); without, `first_contact` (XX family).
/// Without an address, the one last used for that identity (peer table).
#[derive(Clone, Default)]
pub struct PeerSpec {
    /// The peer's identity, if known.
    pub identity: Option<PublicIdentity>,
    /// `host:port`.
    pub address: Option<String>,
}

impl PeerSpec {
    /// Dial `address`; the identity comes from the peer table if we met it there before.
    pub fn at(address: impl Into<String>) -> Self {
        Self { identity: None, address: Some(address.into()) }
    }

    /// A peer we know, at the address the peer table holds for it.
    pub fn known(identity: PublicIdentity) -> Self {
        Self { identity: Some(identity), address: None }
    }

    /// A peer we know, at `address`.
    pub fn known_at(identity: PublicIdentity, address: impl Into<String>) -> Self {
        Self { identity: Some(identity), address: Some(address.into()) }
    }
}

impl core::fmt::Debug for PeerSpec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PeerSpec {{ identity: {}, address: {} }}", self.identity.is_some(), self.address.is_some())
    }
}

/// An established live channel.
#[derive(Clone)]
pub struct ChannelInfo {
    /// The peer, authenticated by the handshake.
    pub peer: PublicIdentity,
    /// The Noise protocol name that ran.
    pub protocol: String,
    /// Whether we initiated.
    pub initiator: bool,
}

impl core::fmt::Debug for ChannelInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChannelInfo").field("protocol", &self.protocol).field("initiator", &self.initiator).finish_non_exhaustive()
    }
}

/// How [`Agent::send`] handed a committed message on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Over a live channel; the outbox record is cleared when the peer acknowledges.
    Live,
    /// Deposited in the peer's relay mailbox.
    Relay,
    /// Neither worked now: the message waits in the outbox and goes with the next
    /// [`Agent::flush`] (which `receive` and `maintain` run).
    Queued,
}

impl Delivery {
    /// `"live"`, `"relay"`, `"queued"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Relay => "relay",
            Self::Queued => "queued",
        }
    }
}

/// What [`Agent::send`] did. The message is committed in every case: it will be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendReport {
    /// Outbox id (unique, increasing for the lifetime of the store).
    pub id: u64,
    /// Where it went.
    pub delivery: Delivery,
}

/// What [`Agent::flush`] did with the outbox.
#[derive(Debug, Default)]
pub struct FlushReport {
    /// Sent over live channels (awaiting acknowledgement).
    pub live: usize,
    /// Deposited on the relay.
    pub relayed: usize,
    /// Sent live recently, still awaiting their acknowledgement.
    pub waiting: usize,
    /// Could not be sent now (still in the outbox).
    pub failed: usize,
    /// The last transport error met, if any.
    pub error: Option<Error>,
}

/// Counters since the agent was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
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

/// One step of [`Agent::maintain`]. Each is idempotent: running it again, or after an
/// interruption at any point, does no harm and finishes what was left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaintainStep {
    /// Replace the signed prekey when it is `prekeys.signed_rotation_days` old (committed).
    RotateSignedPrekey,
    /// Forget replaced signed prekeys older than `prekeys.signed_grace_days`.
    ExpireSignedPrekeys,
    /// Publish the bundle when the relay lacks it or holds an older signed prekey; top up
    /// one-time prekeys when the relay says so.
    Publish,
    /// Rotate the keyring KEK when its primary version is `storage.kek.rotation_days` old;
    /// the old version keeps unwrapping for one more rotation period (the grace).
    RotateKek,
    /// Re-wrap the identity envelope under the current KEK version (`kek-envelope` only).
    RewrapIdentity,
    /// Send what waits in the outbox (live or relay).
    FlushOutbox,
    /// Save the messenger counter as the rollback anchor in the state file.
    SaveAnchor,
}

impl MaintainStep {
    /// Every step, in the order [`Agent::maintain`] runs them.
    pub const ALL: [MaintainStep; 7] = [
        Self::RotateSignedPrekey,
        Self::ExpireSignedPrekeys,
        Self::Publish,
        Self::RotateKek,
        Self::RewrapIdentity,
        Self::FlushOutbox,
        Self::SaveAnchor,
    ];

    /// A stable name: `rotate-signed-prekey`, `expire-signed-prekeys`, `publish`,
    /// `rotate-kek`, `rewrap-identity`, `flush-outbox`, `save-anchor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RotateSignedPrekey => "rotate-signed-prekey",
            Self::ExpireSignedPrekeys => "expire-signed-prekeys",
            Self::Publish => "publish",
            Self::RotateKek => "rotate-kek",
            Self::RewrapIdentity => "rewrap-identity",
            Self::FlushOutbox => "flush-outbox",
            Self::SaveAnchor => "save-anchor",
        }
    }

    /// The step named by [`MaintainStep::as_str`]; `InvalidParameter` (listing the names)
    /// for anything else.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name).ok_or(Error::InvalidParameter(
            "unknown maintenance step (rotate-signed-prekey, expire-signed-prekeys, publish, \
             rotate-kek, rewrap-identity, flush-outbox, save-anchor)",
        ))
    }
}

/// What [`Agent::maintain`] (or one step) changed.
#[derive(Debug, Default)]
pub struct MaintainReport {
    /// A new signed prekey was made.
    pub signed_prekey_rotated: bool,
    /// Replaced signed prekeys forgotten.
    pub signed_prekeys_expired: usize,
    /// The bundle was published (or re-published).
    pub published: bool,
    /// One-time prekeys were added and published because the relay ran low.
    pub prekeys_replenished: bool,
    /// The relay's view after the publish step.
    pub prekey_status: Option<PrekeyStatus>,
    /// The new KEK version, when the KEK was rotated.
    pub kek_rotated_to: Option<u32>,
    /// The identity envelope was re-wrapped.
    pub identity_rewrapped: bool,
    /// The outbox flush.
    pub flush: Option<FlushReport>,
    /// The anchor saved (the messenger counter).
    pub anchor: Option<u64>,
}

impl MaintainReport {
    /// Whether any step changed something durable (rotation, expiry, publication, KEK,
    /// identity). Flush and anchor do not count.
    pub fn changed_anything(&self) -> bool {
        self.signed_prekey_rotated
            || self.signed_prekeys_expired > 0
            || self.published
            || self.prekeys_replenished
            || self.kek_rotated_to.is_some()
            || self.identity_rewrapped
    }
}

/// How the keyring file is protected, kept to save it after a rotation.
enum KeyringSecret {
    Passphrase(Zeroizing<Vec<u8>>, KdfParams),
    RootKey(RootKey),
}

/// The configured KEK provider.
enum Kek {
    Keyring { ring: Keyring, secret: KeyringSecret },
    #[cfg(feature = "kms")]
    Remote(Box<crate::envelope::kms::RemoteKey>),
}

impl Kek {
    fn provider(&self) -> &dyn KeyProvider {
        match self {
            Kek::Keyring { ring, .. } => ring,
            #[cfg(feature = "kms")]
            Kek::Remote(r) => r.provider(),
        }
    }

    fn seal_keyring(ring: &mut Keyring, secret: &KeyringSecret) -> Result<Vec<u8>> {
        match secret {
            KeyringSecret::Passphrase(p, params) => ring.seal_with_passphrase(p, *params),
            KeyringSecret::RootKey(k) => ring.seal_with_root_key(k),
        }
    }

    fn open_keyring(bytes: &[u8], secret: &KeyringSecret) -> Result<Keyring> {
        match secret {
            KeyringSecret::Passphrase(p, _) => Keyring::open_with_passphrase(bytes, p),
            KeyringSecret::RootKey(k) => Keyring::open_with_root_key(bytes, k),
        }
    }
}

/// The messenger, alone or inside the relay agent.
enum Core {
    Relay(Box<RelayAgent<Store>>),
    Local(Box<Messenger<Store>>),
}

impl Core {
    fn messenger(&mut self) -> &mut Messenger<Store> {
        match self {
            Core::Relay(r) => r.messenger(),
            Core::Local(m) => m,
        }
    }
}

/// The secrets an [`Unlock`] provides.
struct Secrets {
    passphrase: Option<Zeroizing<Vec<u8>>>,
    root: Option<RootKey>,
}

impl Secrets {
    fn new(unlock: Unlock) -> Self {
        match unlock {
            Unlock::Passphrase(p) => Self { passphrase: Some(p), root: None },
            Unlock::RootKeyFromEnv => Self { passphrase: None, root: None },
            Unlock::RootKey(k) => Self { passphrase: None, root: Some(k) },
        }
    }

    fn passphrase(&self, what: &'static str) -> Result<Zeroizing<Vec<u8>>> {
        self.passphrase.clone().ok_or(Error::InvalidParameter(what))
    }

    /// The given root key, else `SEALWIRE_KEYRING_ROOT_KEY`.
    fn root(&mut self) -> Result<RootKey> {
        match self.root.take() {
            Some(k) => Ok(k),
            None => RootKey::from_env(),
        }
    }
}

/// An agent: identity, sessions, live channels, relay, sealing and key lifecycle, from one
/// home directory and one [`SecurityConfig`]. See the module documentation.
///
/// Not `Sync`; `Send`, so it can live on a worker thread. One `Agent` per home at a time
/// (an exclusive lock on `<home>/lock`).
pub struct Agent {
    config: SecurityConfig,
    options: AgentOptions,
    identity: Identity,
    keys: AgentKeys,
    home: Option<Home>,
    /// Held for the agent's lifetime (the advisory lock on `<home>/lock`).
    _lock: Option<File>,
    core: Core,
    kek: Option<Kek>,
    cache: Option<DataKeyCache>,
    seal_options: SealOptions,
    protocols: Protocols,
    state: AgentState,
    channels: HashMap<PeerId, Channel>,
    /// Live connections are taken here (set by [`Agent::listen`]); non-blocking.
    listener: Option<TcpListener>,
    /// Committed messages not yet returned by `receive` (the unacknowledged inbox at open,
    /// and anything received while sending).
    ready: VecDeque<Received>,
    last_relay_poll: Option<Instant>,
    last_error: Option<Error>,
    stats: AgentStats,
}

impl core::fmt::Debug for Agent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Agent")
            .field("persistent", &self.home.is_some())
            .field("relay", &matches!(self.core, Core::Relay(_)))
            .field("channels", &self.channels.len())
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

fn identity_context() -> Result<EncryptionContext> {
    EncryptionContext::from_pairs([IDENTITY_CONTEXT])
}

/// Relay failures that must not stop live traffic: remembered, reported, retried later.
fn is_relay_failure(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::RelayRejected
            | ErrorKind::RelayAuthFailed
            | ErrorKind::RelayNotFound
            | ErrorKind::RelayMailboxFull
            | ErrorKind::RelayUnavailable
            | ErrorKind::RelayTimeout
    )
}

fn check_config(config: &SecurityConfig) -> Result<Protocols> {
    if !config.validate().is_ok() {
        return Err(Error::InvalidParameter("the security configuration has errors (see SecurityConfig::validate)"));
    }
    if !matches!(config.handshake.online, HandshakePattern::Ik | HandshakePattern::IkHfs) {
        return Err(Error::InvalidParameter("an agent needs handshake.online = IKhfs or IK"));
    }
    if !matches!(config.handshake.first_contact, HandshakePattern::Xx | HandshakePattern::XxHfs) {
        return Err(Error::InvalidParameter("an agent needs handshake.first_contact = XXhfs or XX"));
    }
    Ok(Protocols { ik: config.noise_protocol(Topology::Online), xx: config.noise_protocol(Topology::FirstContact) })
}

/// The KEK provider the configuration names: a new keyring (`create`), the keyring file of
/// `home`, or a remote key.
fn make_kek(config: &SecurityConfig, secrets: &mut Secrets, options: &AgentOptions, home: Option<&Home>, create: bool) -> Result<Option<Kek>> {
    let kek = &config.storage.kek;
    match kek.provider {
        KekProvider::None => Ok(None),
        KekProvider::Keyring => {
            let secret = match kek.keyring_protection {
                KeyringProtection::Passphrase => KeyringSecret::Passphrase(
                    secrets.passphrase("the keyring is protected by a passphrase: open with Unlock::Passphrase")?,
                    config.kdf_params()?,
                ),
                KeyringProtection::RootKey => KeyringSecret::RootKey(secrets.root()?),
            };
            let ring = match home {
                Some(h) if !create => {
                    if !h.exists(KEYRING_FILE) {
                        return Err(Error::Storage("the home holds no keyring file (created with another configuration?)"));
                    }
                    Kek::open_keyring(&h.read(KEYRING_FILE)?, &secret)?
                }
                _ => {
                    let mut r = Keyring::new();
                    r.create_key(KEK_ID)?;
                    if let Some(h) = home {
                        h.write(KEYRING_FILE, &Kek::seal_keyring(&mut r, &secret)?)?;
                    }
                    r
                }
            };
            Ok(Some(Kek::Keyring { ring, secret }))
        }
        KekProvider::Vault | KekProvider::AwsKms => {
            let _ = options;
            #[cfg(feature = "kms")]
            {
                let uri = kek.uri.as_deref().ok_or(Error::InvalidParameter("storage.kek.uri is missing"))?;
                let remote = crate::envelope::kms::RemoteKey::from_uri(uri, &options.remote_key_settings)?;
                Ok(Some(Kek::Remote(Box::new(remote))))
            }
            #[cfg(not(feature = "kms"))]
            Err(Error::UnsupportedAlgorithm("a remote KEK (vault, aws-kms) needs the cargo feature `kms`"))
        }
    }
}

impl Agent {
    /// Create or open the agent whose home is `home` (see `docs/AGENT.md` for the layout).
    ///
    /// First open: creates the directory (0700), a keyring (if `storage.kek.provider =
    /// "keyring"`), a new identity (stored per `identity.storage`), the session store with
    /// fresh prekeys (`[prekeys]`), and the state file last. Later opens unlock and check
    /// them; nothing goes to the network (publish with [`Agent::maintain`]).
    ///
    /// Errors: [`Error::InvalidParameter`] for a configuration with errors, a handshake the
    /// agent cannot use, or an [`Unlock`] that does not fit the configuration;
    /// [`Error::DecryptionFailed`] for a wrong passphrase or root key;
    /// [`Error::StaleState`] when the session store is older than the state file's anchor
    /// (a restored copy: see `docs/STORE.md`); [`Error::Storage`] when another agent has the
    /// home open.
    pub fn open(home: &Path, config: &SecurityConfig, unlock: Unlock, options: AgentOptions) -> Result<Self> {
        Self::open_inner(home, config, unlock, options, false).map(|(a, _)| a)
    }

    /// Start the session store over after [`Agent::open`] failed with
    /// [`Error::StaleState`] (the store was restored from an older copy, or lost): the old
    /// file is moved into `stale-sessions-<unix>-<random>/`, a new store keeps the identity,
    /// gets new prekeys (published with `reset` by the next [`Agent::maintain`]) and a counter
    /// above both the old store's and the anchor (so no outbox or inbox id repeats). Returns
    /// the agent and the peers the old store had sessions with: the next message to each
    /// starts a new session (the peer takes it as its new current session). Messages of the
    /// lost interval are lost (docs/STORE.md, "Rollback").
    ///
    /// Do not call it on a store that opens: it discards its sessions and inbox.
    pub fn recover(home: &Path, config: &SecurityConfig, unlock: Unlock, options: AgentOptions) -> Result<(Self, Vec<PeerId>)> {
        Self::open_inner(home, config, unlock, options, true)
    }

    fn open_inner(
        home: &Path,
        config: &SecurityConfig,
        unlock: Unlock,
        options: AgentOptions,
        recover: bool,
    ) -> Result<(Self, Vec<PeerId>)> {
        let protocols = check_config(config)?;
        let seal_options = config.seal_options()?;
        let cache = config.cache_limits()?.map(DataKeyCache::new);
        let prekey_options = config.prekey_options()?;
        let mut secrets = Secrets::new(unlock);
        let now = unix_now();
        let mut recovered: Vec<PeerId> = Vec::new();

        let (home, lock, identity, kek, state, messenger) = if config.identity.storage == IdentityStorage::Memory {
            // An ephemeral agent: nothing is read from or written to `home`.
            let kek = make_kek(config, &mut secrets, &options, None, true)?;
            let identity = Identity::generate()?;
            let keys = derive_keys(&identity)?;
            let store: Store = Box::new(MemoryStore::new());
            let m = Messenger::create(store, identity.duplicate(), keys.storage.as_ref(), prekey_options, now)?;
            (None, None, identity, kek, AgentState::default(), m)
        } else {
            let (home, lock) = Home::lock(home)?;
            let create = !home.exists(STATE_FILE);
            if create {
                home.set_aside_incomplete(now)?;
            }
            let kek = make_kek(config, &mut secrets, &options, Some(&home), create)?;
            let identity = if create {
                let identity = Identity::generate()?;
                write_identity(config, &home, &identity, &secrets, kek.as_ref(), &seal_options)?;
                identity
            } else {
                read_identity(config, &home, &secrets, kek.as_ref())?
            };
            let keys = derive_keys(&identity)?;
            let mut state =
                if create { AgentState::default() } else { AgentState::open(&home.read(STATE_FILE)?, &keys.state)? };
            let sqlite = config.storage.session_store == crate::config::SessionStore::Sqlite;
            let open_store = || -> Result<Store> {
                Ok(if sqlite { Box::new(SqliteStore::open(home.path(SESSIONS_FILE))?) } else { Box::new(MemoryStore::new()) })
            };
            let mut store = open_store()?;
            let mut min_counter = state.anchor;
            if recover && sqlite {
                min_counter = min_counter.max(store.counter()?);
                recovered = store.peers()?;
                drop(store);
                home.set_aside_sessions(now)?;
                store = open_store()?;
            }
            let m = if store.load_identity()?.is_some() {
                Messenger::open(store, keys.storage.as_ref(), state.anchor)?
            } else if sqlite && !create && !recover {
                // The sessions file is gone (or empty): as stale as a store can be.
                return Err(Error::StaleState { found: store.counter()?, expected: state.anchor });
            } else {
                // A new store (first open, memory sessions, recovery): new prekeys numbered
                // from 1, so the relay must forget the old ones; ids continue above the anchor.
                if state.published_signed_prekey != 0 {
                    state.publish_reset = true;
                    state.published_signed_prekey = 0;
                }
                Messenger::create_above(store, identity.duplicate(), keys.storage.as_ref(), prekey_options, now, min_counter)?
            };
            if m.identity() != identity.public() {
                return Err(Error::IdentityMismatch("the session store belongs to another identity"));
            }
            state.anchor = m.counter();
            home.write(STATE_FILE, &state.seal(&keys.state)?)?;
            (Some(home), Some(lock), identity, kek, state, m)
        };

        let keys = derive_keys(&identity)?;
        let ready: VecDeque<Received> = messenger.pending_inbox()?.into();
        let core = match &options.relay_url {
            Some(url) => {
                let client = RelayClient::with_options(url, options.relay_options)?;
                Core::Relay(Box::new(RelayAgent::new(messenger, client)?))
            }
            None => Core::Local(Box::new(messenger)),
        };
        let agent = Self {
            config: config.clone(),
            options,
            identity,
            keys,
            home,
            _lock: lock,
            core,
            kek,
            cache,
            seal_options,
            protocols,
            state,
            channels: HashMap::new(),
            listener: None,
            ready,
            last_relay_poll: None,
            last_error: None,
            stats: AgentStats::default(),
        };
        Ok((agent, recovered))
    }

    /// Our public identity.
    pub fn public(&self) -> &PublicIdentity {
        self.identity.public()
    }

    /// Our peer id (Ed25519 public key).
    pub fn peer_id(&self) -> PeerId {
        peer_id(self.identity.public())
    }

    /// The configuration the agent runs with.
    pub fn config(&self) -> &SecurityConfig {
        &self.config
    }

    /// The peer table (peers met in a handshake), sorted by peer id.
    pub fn peers(&self) -> &[KnownPeer] {
        &self.state.peers
    }

    /// Counters since open.
    pub fn stats(&self) -> AgentStats {
        self.stats
    }

    /// The last relay or channel error that was absorbed (the relay being down must not stop
    /// live traffic), cleared by reading it.
    pub fn take_last_error(&mut self) -> Option<Error> {
        self.last_error.take()
    }

    /// The messenger counter (the rollback anchor [`MaintainStep::SaveAnchor`] saves).
    pub fn counter(&mut self) -> u64 {
        self.core.messenger().counter()
    }

    /// Messages committed for sending to `peer`, ever (committed with each outbox record:
    /// after a crash it tells exactly which messages were sent).
    pub fn sent_count(&mut self, peer: &PeerId) -> Result<u64> {
        self.core.messenger().sent_count(peer)
    }

    /// Messages received from `peer` and committed, ever.
    pub fn received_count(&mut self, peer: &PeerId) -> Result<u64> {
        self.core.messenger().received_count(peer)
    }

    /// Outbox records not yet acknowledged (live) or deposited (relay).
    pub fn pending_outbox_len(&mut self) -> Result<usize> {
        Ok(self.core.messenger().pending_outbox()?.len())
    }

    // ------------------------------------------------------------------ live channels

    /// Dial a peer over TCP and run the handshake: the `online` pattern (IK family) when the
    /// peer's identity is known (given in `peer`, or in the peer table for the address),
    /// otherwise `first_contact` (XX family). Replaces an existing channel to the same peer.
    /// Records the peer and the address in the peer table.
    pub fn connect(&mut self, peer: &PeerSpec) -> Result<ChannelInfo> {
        let known = match (&peer.identity, &peer.address) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(a)) => self.state.peer_by_address(a).map(|p| p.identity.clone()),
            (None, None) => return Err(Error::InvalidParameter("a peer spec needs an address or an identity")),
        };
        let address = match &peer.address {
            Some(a) => a.clone(),
            None => known
                .as_ref()
                .and_then(|id| self.state.peer(&peer_id(id)))
                .and_then(|p| p.address.clone())
                .ok_or(Error::InvalidParameter("no address is known for this peer"))?,
        };
        let link = TcpLink::connect(&address, self.options.connect_timeout)?;
        self.establish(Box::new(link), known.as_ref(), Some(&address), true)
    }

    /// [`Agent::connect`] over a link the application set up: IK when `peer` is given, XX
    /// otherwise.
    pub fn connect_link(&mut self, link: Box<dyn Link>, peer: Option<&PublicIdentity>) -> Result<ChannelInfo> {
        self.establish(link, peer, None, true)
    }

    /// Answer a handshake on an incoming link (e.g. from `TcpListener::accept` wrapped in
    /// [`TcpLink::new`]). Accepts exactly the two protocols of the configuration.
    pub fn accept(&mut self, link: Box<dyn Link>) -> Result<ChannelInfo> {
        self.establish(link, None, None, false)
    }

    fn establish(
        &mut self,
        link: Box<dyn Link>,
        peer: Option<&PublicIdentity>,
        address: Option<&str>,
        initiator: bool,
    ) -> Result<ChannelInfo> {
        if peer.is_some_and(|p| p == self.identity.public()) {
            return Err(Error::InvalidParameter("an agent cannot connect to itself"));
        }
        // Our bundle for the peer: no one-time prekeys (those are the relay's to hand out).
        let bundle = self.core.messenger().bundle()?.select(None, None)?;
        let setup = Setup {
            identity: &self.identity,
            protocols: &self.protocols,
            bundle: &bundle,
            timeout: self.options.handshake_timeout,
        };
        let ch = if initiator { Channel::initiate(link, &setup, peer)? } else { Channel::respond(link, &setup)? };
        let info = ChannelInfo { peer: ch.peer.clone(), protocol: ch.protocol.clone(), initiator: ch.initiator };
        let pid = peer_id(&ch.peer);
        self.state.upsert(&ch.peer, address, unix_now())?;
        self.save_state()?;
        // An older channel to the same peer is dropped; what it had in flight stays in the
        // outbox and goes with the next flush.
        self.channels.insert(pid, ch);
        self.stats.handshakes += 1;
        Ok(info)
    }

    /// Take live connections on `address` (`host:port`; port 0 picks a free one) and return
    /// the address bound. Connections are answered by [`Agent::accept_incoming`] and by
    /// every [`Agent::receive`] (so an application that only loops on `receive` serves
    /// peers too). Replaces an earlier listener.
    pub fn listen(&mut self, address: &str) -> Result<std::net::SocketAddr> {
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        self.listener = Some(listener);
        Ok(bound)
    }

    /// The address [`Agent::listen`] bound, if any.
    pub fn listening_on(&self) -> Option<std::net::SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Wait up to `wait` for a connection on the listener and answer its handshake
    /// ([`Agent::accept`]). `Ok(None)`: nobody connected in time. A handshake that fails
    /// is an error of this call (the connection is dropped; the agent is unchanged).
    pub fn accept_incoming(&mut self, wait: Duration) -> Result<Option<ChannelInfo>> {
        let deadline = Instant::now() + wait;
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return Err(Error::InvalidParameter("the agent is not listening (call listen first)"));
            };
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false)?;
                    return self.accept(Box::new(TcpLink::new(stream)?)).map(Some);
                }
                Err(e) if e.kind() == IoErrorKind::WouldBlock || e.kind() == IoErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(remaining.min(Duration::from_millis(10)));
        }
    }

    /// Answer every connection already waiting on the listener; a failed handshake is
    /// remembered ([`Agent::take_last_error`]) and does not stop the others.
    fn accept_pending(&mut self) {
        while self.listener.is_some() {
            match self.accept_incoming(Duration::ZERO) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => self.last_error = Some(e),
            }
        }
    }

    /// Whether a live channel to `peer` is up (as far as we know).
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.channels.contains_key(peer)
    }

    /// The live channels.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        self.channels
            .values()
            .map(|c| ChannelInfo { peer: c.peer.clone(), protocol: c.protocol.clone(), initiator: c.initiator })
            .collect()
    }

    /// Close the live channel to `peer` (messages in flight stay in the outbox). Returns
    /// whether there was one.
    pub fn disconnect(&mut self, peer: &PeerId) -> bool {
        self.channels.remove(peer).is_some()
    }

    fn drop_channel(&mut self, peer: &PeerId) {
        if self.channels.remove(peer).is_some() {
            self.stats.channels_dropped += 1;
        }
    }

    // ------------------------------------------------------------------ messages

    /// Send `data` to `peer`: start a ratchet session if there is none (from the bundle the
    /// peer sent over a live channel, else one claimed on the relay), commit the encrypted
    /// message (state + outbox), then hand it to a live channel if one is up, else to the
    /// relay. Once this returns `Ok`, the message is committed and will reach the peer
    /// exactly once (see [`Delivery`]); an `Err` means nothing was committed.
    pub fn send(&mut self, peer: &PublicIdentity, data: &[u8]) -> Result<SendReport> {
        if data.len() > MAX_MESSAGE_LEN {
            return Err(Error::MessageTooLarge { actual: data.len(), limit: MAX_MESSAGE_LEN });
        }
        let pid = peer_id(peer);
        if pid == self.peer_id() {
            return Err(Error::InvalidParameter("an agent cannot send to itself"));
        }
        if !self.core.messenger().has_session(&pid)? {
            self.start_session(peer)?;
        }
        let record = self.core.messenger().send(&pid, data)?;
        let delivery = self.deliver(&record);
        // Acknowledgements that arrived meanwhile (and messages, kept for `receive`).
        if let Err(e) = self.poll_channels(Duration::ZERO) {
            self.last_error = Some(e);
        }
        Ok(SendReport { id: record.id, delivery })
    }

    fn start_session(&mut self, peer: &PublicIdentity) -> Result<()> {
        let pid = peer_id(peer);
        let options = self.config.session_options();
        if let Some(bundle) = self.channels.get(&pid).map(|c| c.peer_bundle.clone()) {
            return self.core.messenger().connect_with_options(peer, &bundle, options);
        }
        match &mut self.core {
            Core::Relay(r) => {
                let claimed = r.client().claim_bundle(&pid)?;
                if claimed.bundle.identity() != peer {
                    return Err(Error::IdentityMismatch("the claimed bundle belongs to another identity"));
                }
                r.messenger().connect_with_options(peer, &claimed.bundle, options)
            }
            Core::Local(_) => Err(Error::NoSession),
        }
    }

    /// Live if a channel is up, else the relay; never fails (the record stays in the outbox).
    fn deliver(&mut self, record: &OutboxRecord) -> Delivery {
        if let Some(ch) = self.channels.get_mut(&record.peer) {
            match ch.send(&Record::Message(record.ciphertext.clone())) {
                Ok(()) => {
                    ch.in_flight.insert(record.message_id, (record.id, Instant::now()));
                    self.stats.sent_live += 1;
                    return Delivery::Live;
                }
                Err(e) => {
                    self.last_error = Some(e);
                    self.drop_channel(&record.peer);
                }
            }
        }
        self.deliver_relay(record)
    }

    fn deliver_relay(&mut self, record: &OutboxRecord) -> Delivery {
        let Core::Relay(r) = &mut self.core else { return Delivery::Queued };
        match r.deliver(&record.peer, &record.ciphertext).and_then(|()| r.messenger().mark_sent(record.id)) {
            Ok(()) => {
                self.stats.sent_relay += 1;
                if let Some(ch) = self.channels.get_mut(&record.peer) {
                    ch.in_flight.remove(&record.message_id);
                }
                Delivery::Relay
            }
            Err(e) => {
                self.last_error = Some(e);
                Delivery::Queued
            }
        }
    }

    /// Hand on every outbox record that is not waiting for a live acknowledgement: over a
    /// live channel when one is up, else through the relay. A live message unacknowledged
    /// for [`AgentOptions::ack_timeout`] goes through the relay too (the receiver drops the
    /// second copy). Runs inside [`Agent::receive`] and [`Agent::maintain`].
    pub fn flush(&mut self) -> Result<FlushReport> {
        let mut report = FlushReport::default();
        let relay = matches!(self.core, Core::Relay(_));
        for record in self.core.messenger().pending_outbox()? {
            let waiting = self.channels.get(&record.peer).and_then(|c| c.in_flight.get(&record.message_id)).map(|(_, t)| *t);
            let delivery = match waiting {
                Some(t) if t.elapsed() < self.options.ack_timeout => {
                    report.waiting += 1;
                    continue;
                }
                // Unacknowledged for too long: the relay too (or the channel again, without one).
                Some(_) if relay => self.deliver_relay(&record),
                _ => self.deliver(&record),
            };
            match delivery {
                Delivery::Live => report.live += 1,
                Delivery::Relay => report.relayed += 1,
                Delivery::Queued => report.failed += 1,
            }
        }
        if report.failed > 0 {
            report.error = self.last_error.clone();
        }
        Ok(report)
    }

    /// Messages received and committed, oldest first: first those committed before (the
    /// inbox not yet acknowledged when the agent was opened, then anything that arrived
    /// during other calls), then new ones from live channels and the relay, waiting up to
    /// `wait` for at least one. Handle each durably (keyed by its `id`), then
    /// [`Agent::ack`] it; an unacknowledged message is returned again after a restart,
    /// with the same id, never twice within one run.
    ///
    /// Also flushes the outbox. Relay and channel failures do not fail the call (see
    /// [`Agent::take_last_error`]); a store failure does, and the messages already
    /// committed in this call are kept for the next one.
    pub fn receive(&mut self, wait: Duration) -> Result<Vec<Received>> {
        let deadline = Instant::now() + wait;
        self.accept_pending();
        if let Err(e) = self.flush() {
            self.last_error = Some(e);
        }
        self.poll_channels(Duration::ZERO)?;
        self.poll_relay(0, false)?;
        while self.ready.is_empty() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            let relay = matches!(self.core, Core::Relay(_));
            self.accept_pending();
            if self.channels.is_empty() && relay && self.listener.is_none() && remaining >= Duration::from_secs(1) {
                // Nothing live to watch: a long poll on the relay.
                let secs = u32::try_from(remaining.as_secs().min(25)).unwrap_or(25);
                self.poll_relay(secs, true)?;
            } else if !self.channels.is_empty() {
                self.poll_channels(remaining.min(Duration::from_millis(50)))?;
                self.poll_relay(0, false)?;
                if let Err(e) = self.flush() {
                    self.last_error = Some(e);
                }
            } else {
                std::thread::sleep(remaining.min(Duration::from_millis(50)));
                self.poll_relay(0, false)?;
            }
        }
        Ok(self.ready.drain(..).collect())
    }

    /// The application has durably handled inbox message `id`: forget it. Idempotent.
    pub fn ack(&mut self, id: u64) -> Result<()> {
        self.core.messenger().ack(id)
    }

    /// Read what the live channels have, spreading `budget` over them.
    fn poll_channels(&mut self, budget: Duration) -> Result<()> {
        let peers: Vec<PeerId> = self.channels.keys().copied().collect();
        if peers.is_empty() {
            return Ok(());
        }
        let per = budget / u32::try_from(peers.len()).unwrap_or(u32::MAX);
        for pid in peers {
            for i in 0..MAX_RECORDS_PER_POLL {
                let timeout = if i == 0 { per } else { Duration::ZERO };
                let Some(ch) = self.channels.get_mut(&pid) else { break };
                let record = match ch.recv(timeout) {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        self.last_error = Some(e);
                        self.drop_channel(&pid);
                        break;
                    }
                };
                match record {
                    Record::Ack(mid) => {
                        if let Some((id, _)) = ch.in_flight.remove(&mid) {
                            self.core.messenger().mark_sent(id)?;
                        }
                    }
                    Record::Message(m) => {
                        let mid = message_id(&m);
                        match self.core.messenger().receive(&m) {
                            Ok(Some(r)) => {
                                self.stats.received_live += 1;
                                self.ready.push_back(r);
                            }
                            Ok(None) => self.stats.duplicates += 1,
                            // Never readable: acknowledged so that the sender stops.
                            Err(e) if crate::relay::is_rejection(e.kind()) => self.stats.rejected += 1,
                            // Not committed and not acknowledged: the sender sends it again.
                            Err(e) => return Err(e),
                        }
                        let sent = self.channels.get_mut(&pid).map(|c| c.send(&Record::Ack(mid)));
                        if let Some(Err(e)) = sent {
                            self.last_error = Some(e);
                            self.drop_channel(&pid);
                            break;
                        }
                    }
                    Record::Bundle(_) => {
                        self.last_error = Some(Error::Malformed("a second bundle on a live channel"));
                        self.drop_channel(&pid);
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// One relay mailbox batch (`force`: regardless of the poll interval).
    fn poll_relay(&mut self, wait_secs: u32, force: bool) -> Result<()> {
        let Core::Relay(r) = &mut self.core else { return Ok(()) };
        if !force && self.last_relay_poll.is_some_and(|t| t.elapsed() < self.options.relay_poll_interval) {
            return Ok(());
        }
        self.last_relay_poll = Some(Instant::now());
        match r.receive_waiting(RELAY_BATCH, wait_secs) {
            Ok(report) => {
                self.stats.received_relay += report.received.len() as u64;
                self.stats.duplicates += report.duplicates as u64;
                self.stats.rejected += report.rejected as u64;
                self.ready.extend(report.received);
                if let Some(e) = report.interrupted {
                    self.last_error = Some(e);
                }
                Ok(())
            }
            Err(e) if is_relay_failure(e.kind()) => {
                self.last_error = Some(e);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    // ------------------------------------------------------------------ storage

    fn kek(&self) -> Result<&Kek> {
        if self.config.storage.pattern != crate::config::StoragePattern::Envelope {
            return Err(Error::InvalidParameter("agent sealing needs storage.pattern = envelope"));
        }
        self.kek.as_ref().ok_or(Error::InvalidParameter("no KEK provider is configured (storage.kek.provider)"))
    }

    /// Seal `data` as an envelope under the configured KEK (the local keyring, or the KMS
    /// key of `storage.kek.uri`), bound to `context`; through the data-key cache when
    /// `storage.kek.cache.enabled`. Suite and segment size from the configuration.
    pub fn seal(&self, data: &[u8], context: &EncryptionContext) -> Result<Vec<u8>> {
        let kek = self.kek()?;
        let providers: [&dyn KeyProvider; 1] = [kek.provider()];
        match &self.cache {
            Some(c) => c.seal_with(data, context, &providers, &self.seal_options),
            None => envelope::seal_with(data, context, &providers, &self.seal_options),
        }
    }

    /// Open an envelope made by [`Agent::seal`] (any KEK version still allowed) or sealed
    /// for this agent's identity ([`Agent::seal_for`] by a peer). The context must match.
    pub fn open_sealed(&self, blob: &[u8], context: &EncryptionContext) -> Result<Vec<u8>> {
        match &self.kek {
            Some(k) => envelope::open(blob, context, &[k.provider(), &self.identity]),
            None => envelope::open(blob, context, &[&self.identity]),
        }
    }

    /// Seal `data` for peers by their public identities (HPKE with X25519: identities carry
    /// no ML-KEM key in version 1), bound to `context`. Only those peers can open it (with
    /// [`Agent::open_sealed`]); add [`Agent::public`] to read it back yourself.
    pub fn seal_for(&self, recipients: &[&PublicIdentity], data: &[u8], context: &EncryptionContext) -> Result<Vec<u8>> {
        let providers: Vec<&dyn KeyProvider> = recipients.iter().map(|p| *p as &dyn KeyProvider).collect();
        envelope::seal_with(data, context, &providers, &self.seal_options)
    }

    /// Re-wrap an envelope made by [`Agent::seal`] under the current KEK version (after a
    /// KEK rotation, before the old version's grace ends). The payload bytes are kept.
    pub fn rewrap_sealed(&self, blob: &[u8], context: &EncryptionContext) -> Result<Vec<u8>> {
        let kek = self.kek()?;
        let mut rw = envelope::Rewrap::open(blob, context, &[kek.provider()])?;
        rw.rewrap_with(kek.provider())?;
        rw.apply(blob)
    }

    // ------------------------------------------------------------------ maintenance

    /// Run every [`MaintainStep`] in order at time `now_unix`; stops at the first error
    /// (what ran before it is committed; run again to finish).
    pub fn maintain(&mut self, now_unix: u64) -> Result<MaintainReport> {
        let mut report = MaintainReport::default();
        for step in MaintainStep::ALL {
            self.maintain_step_into(step, now_unix, &mut report)?;
        }
        Ok(report)
    }

    /// Run one step (for applications that schedule them separately).
    pub fn maintain_step(&mut self, step: MaintainStep, now_unix: u64) -> Result<MaintainReport> {
        let mut report = MaintainReport::default();
        self.maintain_step_into(step, now_unix, &mut report)?;
        Ok(report)
    }

    fn maintain_step_into(&mut self, step: MaintainStep, now: u64, report: &mut MaintainReport) -> Result<()> {
        match step {
            MaintainStep::RotateSignedPrekey => {
                let period = u64::from(self.config.prekeys.signed_rotation_days) * 86_400;
                let created = self.core.messenger().signed_prekey_created_at()?;
                if now >= created.saturating_add(period) {
                    self.core.messenger().rotate_signed_prekey(now)?;
                    report.signed_prekey_rotated = true;
                }
            }
            MaintainStep::ExpireSignedPrekeys => {
                let grace = u64::from(self.config.prekeys.signed_grace_days) * 86_400;
                report.signed_prekeys_expired = self.core.messenger().remove_expired_signed_prekeys(now, grace)?;
            }
            MaintainStep::Publish => self.publish_step(report)?,
            MaintainStep::RotateKek => report.kek_rotated_to = self.rotate_kek(now)?,
            MaintainStep::RewrapIdentity => report.identity_rewrapped = self.rewrap_identity()?,
            MaintainStep::FlushOutbox => report.flush = Some(self.flush()?),
            MaintainStep::SaveAnchor => {
                self.save_state()?;
                report.anchor = Some(self.state.anchor);
            }
        }
        Ok(())
    }

    fn publish_step(&mut self, report: &mut MaintainReport) -> Result<()> {
        let Core::Relay(r) = &mut self.core else { return Ok(()) };
        let signed = r.messenger().bundle()?.signed_prekey_id();
        let status = match r.client().prekey_status(&self.identity) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == ErrorKind::RelayNotFound => None,
            Err(e) => return Err(e),
        };
        let mut status = match status {
            Some(s) if !self.state.publish_reset && self.state.published_signed_prekey == signed => s,
            _ => {
                let s = if self.state.publish_reset { r.publish_reset()? } else { r.publish()? };
                self.state.published_signed_prekey = signed;
                self.state.publish_reset = false;
                report.published = true;
                self.save_state()?;
                s
            }
        };
        if status.replenish {
            let Core::Relay(r) = &mut self.core else { return Ok(()) };
            let before = r.messenger().one_time_prekey_count()?;
            status = r.maintain()?;
            report.prekeys_replenished = r.messenger().one_time_prekey_count()? != before;
        }
        report.prekey_status = Some(status);
        Ok(())
    }

    /// Rotate the keyring KEK when due; the file is rewritten before the new version is
    /// used (on a write failure the keyring is reloaded from the file).
    fn rotate_kek(&mut self, now: u64) -> Result<Option<u32>> {
        let days = self.config.storage.kek.rotation_days;
        let Some(Kek::Keyring { ring, secret }) = &mut self.kek else { return Ok(None) };
        if days == 0 {
            return Ok(None);
        }
        let period = u64::from(days) * 86_400;
        let primary = ring.primary_version(KEK_ID)?;
        let created = ring.versions(KEK_ID)?.iter().find(|v| v.version == primary).map(|v| v.created_at).unwrap_or(0);
        if now < created.saturating_add(period) {
            return Ok(None);
        }
        ring.set_time(Some(now));
        let rotated = ring.rotate(KEK_ID, Some(now.saturating_add(period)));
        ring.set_time(None);
        let version = rotated?;
        if let Some(home) = &self.home {
            let written = Kek::seal_keyring(ring, secret).and_then(|bytes| home.write(KEYRING_FILE, &bytes));
            if let Err(e) = written {
                // The new version never reached the disk: forget it.
                *ring = Kek::open_keyring(&home.read(KEYRING_FILE)?, secret)?;
                return Err(e);
            }
        }
        // Cached data keys are wrapped under the old version.
        if let Some(c) = &self.cache {
            c.clear();
        }
        Ok(Some(version))
    }

    /// `kek-envelope` identities: re-wrap the identity file when any of its entries is not
    /// under the provider's current key version.
    fn rewrap_identity(&mut self) -> Result<bool> {
        if self.config.identity.storage != IdentityStorage::KekEnvelope {
            return Ok(false);
        }
        let (Some(home), Some(kek)) = (&self.home, &self.kek) else { return Ok(false) };
        let provider = kek.provider();
        let blob = home.read(IDENTITY_ENVELOPE_FILE)?;
        let header = EnvelopeHeader::parse(&blob)?;
        let versions = |h: &EnvelopeHeader| -> Vec<u32> {
            h.wrapped_keys().iter().filter(|w| provider.owns(w)).map(|w| w.key_version()).collect()
        };
        let before = versions(&header);
        // A keyring knows its current version; a remote KMS is asked (its rewrap answers
        // with the newest version, possibly the same one).
        let local = matches!(kek, Kek::Keyring { .. });
        if local && before.iter().all(|v| *v == provider.key_version()) {
            return Ok(false);
        }
        let mut rw = envelope::Rewrap::open(&blob, &identity_context()?, &[provider])?;
        rw.rewrap_with(provider)?;
        if versions(rw.header()) == before {
            return Ok(false);
        }
        let out = rw.apply(&blob)?;
        home.write(IDENTITY_ENVELOPE_FILE, &out)?;
        Ok(true)
    }

    /// Write the state file with the current messenger counter as the anchor.
    fn save_state(&mut self) -> Result<()> {
        self.state.anchor = self.core.messenger().counter();
        let Some(home) = &self.home else { return Ok(()) };
        let bytes = self.state.seal(&self.keys.state)?;
        home.write(STATE_FILE, &bytes)
    }

    /// Save the anchor and close (dropping the agent without `close` is safe too: the next
    /// open then checks against the anchor saved last).
    pub fn close(mut self) -> Result<()> {
        self.save_state()
    }
}

/// The identity file for a new home.
fn write_identity(
    config: &SecurityConfig,
    home: &Home,
    identity: &Identity,
    secrets: &Secrets,
    kek: Option<&Kek>,
    options: &SealOptions,
) -> Result<()> {
    match config.identity.storage {
        IdentityStorage::PassphraseFile => {
            let p = secrets.passphrase("the identity is protected by a passphrase: open with Unlock::Passphrase")?;
            home.write(IDENTITY_FILE, &identity.export_with_params(&p, config.kdf_params()?)?)
        }
        IdentityStorage::KekEnvelope => {
            let kek = kek.ok_or(Error::InvalidParameter("identity.storage = kek-envelope needs a KEK provider"))?;
            let (ed, x) = identity.secret_bytes();
            let mut body = Zeroizing::new([0u8; 64]);
            body[..32].copy_from_slice(ed.as_ref());
            body[32..].copy_from_slice(x.as_ref());
            let sealed = envelope::seal_with(body.as_ref(), &identity_context()?, &[kek.provider()], options)?;
            home.write(IDENTITY_ENVELOPE_FILE, &sealed)
        }
        IdentityStorage::Memory => Ok(()),
    }
}

/// The identity of an existing home.
fn read_identity(config: &SecurityConfig, home: &Home, secrets: &Secrets, kek: Option<&Kek>) -> Result<Identity> {
    match config.identity.storage {
        IdentityStorage::PassphraseFile => {
            if !home.exists(IDENTITY_FILE) {
                return Err(Error::Storage("the home holds no passphrase-protected identity (created with another configuration?)"));
            }
            let p = secrets.passphrase("the identity is protected by a passphrase: open with Unlock::Passphrase")?;
            Identity::import(&home.read(IDENTITY_FILE)?, &p)
        }
        IdentityStorage::KekEnvelope => {
            if !home.exists(IDENTITY_ENVELOPE_FILE) {
                return Err(Error::Storage("the home holds no identity envelope (created with another configuration?)"));
            }
            let kek = kek.ok_or(Error::InvalidParameter("identity.storage = kek-envelope needs a KEK provider"))?;
            let body = Zeroizing::new(envelope::open(&home.read(IDENTITY_ENVELOPE_FILE)?, &identity_context()?, &[kek.provider()])?);
            if body.len() != 64 {
                return Err(Error::InvalidLength { what: "identity envelope body", expected: 64, actual: body.len() });
            }
            let mut ed = Zeroizing::new([0u8; 32]);
            let mut x = Zeroizing::new([0u8; 32]);
            ed.copy_from_slice(&body[..32]);
            x.copy_from_slice(&body[32..]);
            Ok(Identity::from_secret_bytes(&ed, &x))
        }
        IdentityStorage::Memory => Err(Error::InvalidParameter("an ephemeral identity is never read")),
    }
}
