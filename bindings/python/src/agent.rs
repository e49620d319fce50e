//! `sealwire._native._Agent` (the base of `sealwire.Agent`, `python/sealwire/agent.py`) and
//! its result classes: the core's `sealwire::agent::Agent` (cargo feature `agent`,
//! `docs/AGENT.md`), one object per agent home. The core keeps every order of operations
//! (commit before send, commit before ack, the handshake choice, the maintenance steps);
//! this layer converts arguments and maps errors, nothing else.
//!
//! The core agent is `Send`, not `Sync`: the object keeps it in a `Mutex<Option<Agent>>`
//! (`None` once closed). Every call that may block — opening (Argon2id, a KMS), `connect`,
//! `accept*`, `send`, `receive`, `flush`, `maintain*`, sealing and opening (a remote KEK is
//! an HTTP call), `close` (writes the state file) — takes the lock *inside* [`detach`],
//! without the GIL, so other Python threads run meanwhile and calls on one agent run one
//! after the other. Cheap getters take the lock with the GIL held through `lock_attached`,
//! which gives the GIL up while it waits. `public` and `peer_id` are kept outside the lock
//! (they never change), so they never wait for a blocking `receive`. No Python code runs
//! while the lock is held, so no call can wait for the lock while holding it.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use pyo3::exceptions::{PyBaseException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyString};
use sealwire::agent::{
    Agent, AgentOptions, AgentStats, ChannelInfo, FlushReport, KnownPeer, MaintainReport,
    MaintainStep, PeerSpec, SendReport, TcpLink, Unlock,
};
use sealwire::envelope::kms::RemoteKeySettings;
use sealwire::envelope::RootKey;
use sealwire::relay::RelayOptions;
use sealwire::store::PeerId;
use sealwire::ErrorKind;
use zeroize::Zeroizing;

use crate::config::config_arg;
use crate::detach;
use crate::envelope::context_arg;
use crate::error::{Error, Result};
use crate::identity::PyPublicIdentity;
use crate::input::{type_name, BytesLike, Passphrase};
use crate::keyring::PyRootKey;
use crate::messenger::{lock, lock_attached, now_arg, peer_arg, u64_arg, PyReceived};
use crate::relay::PyPrekeyStatus;

/// Raised by every call on an agent after `close()`.
const CLOSED: Error = Error::Binding(ErrorKind::InvalidParameter, "this Agent is closed");

/// Largest timeout accepted, seconds (as the relay client's).
const MAX_TIMEOUT: f64 = 300.0;
/// Largest wait of `receive` / `accept_incoming`, seconds.
const MAX_WAIT: f64 = 3600.0;

/// A timeout in seconds: finite, above 0, at most [`MAX_TIMEOUT`].
fn timeout_arg(secs: f64, what: &'static str) -> Result<Duration> {
    if !(secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT) {
        return Err(sealwire::Error::InvalidParameter(what).into());
    }
    Ok(Duration::try_from_secs_f64(secs).map_err(|_| sealwire::Error::InvalidParameter(what))?)
}

/// A wait in seconds: finite, 0 ..= [`MAX_WAIT`].
fn wait_arg(secs: f64) -> Result<Duration> {
    const WHAT: &str = "timeout must be a number of seconds from 0 to 3600";
    if !(secs.is_finite() && (0.0..=MAX_WAIT).contains(&secs)) {
        return Err(sealwire::Error::InvalidParameter(WHAT).into());
    }
    Ok(Duration::try_from_secs_f64(secs).map_err(|_| sealwire::Error::InvalidParameter(WHAT))?)
}

/// A secret `str` setting, copied into a zeroizing Rust string (the type only in errors).
fn secret_setting(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Zeroizing<String>> {
    let s = value.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "kms_settings[{what:?}] must be a str, not '{}'",
            type_name(&value.as_borrowed())
        ))
    })?;
    Ok(Zeroizing::new(s.to_cow()?.into_owned()))
}

/// `kms_settings`: a mapping with the keyword names of `sealwire.KmsKey` (`vault_address`,
/// `vault_token`, `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`); what is
/// absent comes from the environment.
fn kms_settings_arg(obj: Option<&Bound<'_, PyAny>>) -> Result<RemoteKeySettings> {
    let mut s = RemoteKeySettings::default();
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(s);
    };
    let items = obj.call_method0("items").map_err(|_| {
        PyTypeError::new_err(format!(
            "kms_settings must be a mapping of str to str, not '{}'",
            type_name(&obj.as_borrowed())
        ))
    })?;
    for item in items.try_iter()? {
        let (k, v): (String, Bound<'_, PyAny>) = item?.extract()?;
        if v.is_none() {
            continue;
        }
        match k.as_str() {
            "vault_address" => s.vault_address = Some(v.extract()?),
            "vault_token" => s.vault_token = Some(secret_setting(&v, &k)?),
            "aws_access_key_id" => s.aws_access_key_id = Some(v.extract()?),
            "aws_secret_access_key" => s.aws_secret_access_key = Some(secret_setting(&v, &k)?),
            "aws_session_token" => s.aws_session_token = Some(secret_setting(&v, &k)?),
            _ => {
                return Err(sealwire::Error::InvalidParameter(
                    "kms_settings keys are vault_address, vault_token, aws_access_key_id, \
                     aws_secret_access_key, aws_session_token",
                )
                .into())
            }
        }
    }
    Ok(s)
}

/// `root_key`: a `sealwire.RootKey`, or its 32 raw bytes.
fn root_key_arg(obj: &Bound<'_, PyAny>) -> Result<RootKey> {
    if let Ok(key) = obj.cast::<PyRootKey>() {
        // An explicit zeroized copy in Rust memory (never a Python `str`).
        return Ok(key.get().inner.clone());
    }
    match obj.extract::<BytesLike<'_>>() {
        Ok(bytes) => Ok(RootKey::from_bytes(&bytes)?),
        Err(e) if e.is_instance_of::<PyTypeError>(obj.py()) => {
            Err(Error::Python(PyTypeError::new_err(format!(
                "root_key must be a RootKey or 32 bytes, not '{}'",
                type_name(&obj.as_borrowed())
            ))))
        }
        Err(e) => Err(e.into()),
    }
}

/// The one `Unlock` the keyword arguments name (none: the configuration needs no secret, or
/// takes the keyring root key from `SEALWIRE_KEYRING_ROOT_KEY`).
fn unlock_arg(
    passphrase: Option<Passphrase<'_>>,
    root_key: Option<&Bound<'_, PyAny>>,
    root_key_from_env: bool,
) -> Result<Unlock> {
    let root_key = root_key.filter(|r| !r.is_none());
    let given = usize::from(passphrase.is_some())
        + usize::from(root_key.is_some())
        + usize::from(root_key_from_env);
    if given > 1 {
        return Err(sealwire::Error::InvalidParameter(
            "give at most one of passphrase, root_key and root_key_from_env",
        )
        .into());
    }
    if let Some(p) = passphrase {
        return Ok(Unlock::passphrase(&*p));
    }
    if let Some(r) = root_key {
        return Ok(Unlock::RootKey(root_key_arg(r)?));
    }
    if root_key_from_env {
        // Read now, with the GIL held: Python threads change the environment with the GIL
        // held (`os.environ[...] = ...`), so this does not race them. Unset: the core reads
        // it again when (and only when) the configuration needs it, and reports it missing.
        if let Ok(k) = RootKey::from_env() {
            return Ok(Unlock::RootKey(k));
        }
    }
    Ok(Unlock::RootKeyFromEnv)
}

fn maintain_step_arg(name: &str) -> Result<MaintainStep> {
    Ok(MaintainStep::from_name(name)?)
}

/// An error as the exception object it maps to (for reports that carry one).
fn exception(py: Python<'_>, e: sealwire::Error) -> Py<PyBaseException> {
    PyErr::from(Error::Core(e)).into_value(py)
}

// --- results ----------------------------------------------------------------------------------

/// A live channel: the peer (authenticated by the handshake) and the Noise protocol run.
#[pyclass(name = "ChannelInfo", module = "sealwire._native", frozen)]
pub(crate) struct PyChannelInfo {
    peer: Py<PyPublicIdentity>,
    protocol: String,
    initiator: bool,
}

impl PyChannelInfo {
    fn new(py: Python<'_>, info: ChannelInfo) -> PyResult<Self> {
        Ok(Self {
            peer: Py::new(py, PyPublicIdentity { inner: info.peer })?,
            protocol: info.protocol,
            initiator: info.initiator,
        })
    }
}

#[pymethods]
impl PyChannelInfo {
    /// The peer's public identity.
    #[getter]
    fn peer(&self, py: Python<'_>) -> Py<PyPublicIdentity> {
        self.peer.clone_ref(py)
    }

    /// The Noise protocol name, e.g. `Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s`.
    #[getter]
    fn protocol(&self) -> &str {
        &self.protocol
    }

    /// Whether this agent dialled.
    #[getter]
    fn initiator(&self) -> bool {
        self.initiator
    }

    fn __repr__(&self) -> String {
        // No identity (it identifies the peer): the protocol and the role only.
        format!(
            "<ChannelInfo {} initiator={}>",
            self.protocol,
            if self.initiator { "True" } else { "False" }
        )
    }
}

/// What `Agent.send` did: the outbox id and where the committed message went.
#[pyclass(name = "SendReport", module = "sealwire._native", frozen)]
pub(crate) struct PySendReport {
    inner: SendReport,
}

#[pymethods]
impl PySendReport {
    /// Outbox id (unique and increasing for the home).
    #[getter]
    fn id(&self) -> u64 {
        self.inner.id
    }

    /// "live" (a channel; cleared when the peer acknowledges), "relay" (deposited in the
    /// peer's mailbox) or "queued" (neither now; the next flush sends it).
    #[getter]
    fn delivery(&self) -> &'static str {
        self.inner.delivery.as_str()
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!(
            "<SendReport id={} delivery={}>",
            self.inner.id,
            self.inner.delivery.as_str()
        )
    }
}

/// What `Agent.flush` (or the flush step of `maintain`) did with the outbox.
#[pyclass(name = "FlushReport", module = "sealwire._native", frozen)]
pub(crate) struct PyFlushReport {
    live: usize,
    relayed: usize,
    waiting: usize,
    failed: usize,
    error: Option<Py<PyBaseException>>,
}

impl PyFlushReport {
    fn new(py: Python<'_>, r: FlushReport) -> Self {
        Self {
            live: r.live,
            relayed: r.relayed,
            waiting: r.waiting,
            failed: r.failed,
            error: r.error.map(|e| exception(py, e)),
        }
    }
}

#[pymethods]
impl PyFlushReport {
    /// Records sent over a live channel.
    #[getter]
    fn live(&self) -> usize {
        self.live
    }

    /// Records deposited on the relay.
    #[getter]
    fn relayed(&self) -> usize {
        self.relayed
    }

    /// Live records still within the acknowledgement timeout.
    #[getter]
    fn waiting(&self) -> usize {
        self.waiting
    }

    /// Records that could go nowhere now (they stay in the outbox).
    #[getter]
    fn failed(&self) -> usize {
        self.failed
    }

    /// The last error when `failed > 0` (a `SealwireError`), else None.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<Py<PyBaseException>> {
        self.error.as_ref().map(|e| e.clone_ref(py))
    }

    fn __repr__(&self) -> String {
        format!(
            "<FlushReport live={} relayed={} waiting={} failed={}>",
            self.live, self.relayed, self.waiting, self.failed
        )
    }
}

/// What `Agent.maintain` (or one step) changed.
#[pyclass(name = "MaintainReport", module = "sealwire._native", frozen)]
pub(crate) struct PyMaintainReport {
    signed_prekey_rotated: bool,
    signed_prekeys_expired: usize,
    published: bool,
    prekeys_replenished: bool,
    kek_rotated_to: Option<u32>,
    identity_rewrapped: bool,
    flush: Option<Py<PyFlushReport>>,
    prekey_status: Option<Py<PyPrekeyStatus>>,
    anchor: Option<u64>,
    changed_anything: bool,
}

impl PyMaintainReport {
    fn new(py: Python<'_>, r: MaintainReport) -> PyResult<Self> {
        let changed_anything = r.changed_anything();
        Ok(Self {
            signed_prekey_rotated: r.signed_prekey_rotated,
            signed_prekeys_expired: r.signed_prekeys_expired,
            published: r.published,
            prekeys_replenished: r.prekeys_replenished,
            kek_rotated_to: r.kek_rotated_to,
            identity_rewrapped: r.identity_rewrapped,
            flush: r
                .flush
                .map(|f| Py::new(py, PyFlushReport::new(py, f)))
                .transpose()?,
            prekey_status: r
                .prekey_status
                .map(|inner| Py::new(py, PyPrekeyStatus { inner }))
                .transpose()?,
            anchor: r.anchor,
            changed_anything,
        })
    }
}

#[pymethods]
impl PyMaintainReport {
    /// A new signed prekey was made.
    #[getter]
    fn signed_prekey_rotated(&self) -> bool {
        self.signed_prekey_rotated
    }

    /// Replaced signed prekeys forgotten.
    #[getter]
    fn signed_prekeys_expired(&self) -> usize {
        self.signed_prekeys_expired
    }

    /// The bundle was published (or re-published) on the relay.
    #[getter]
    fn published(&self) -> bool {
        self.published
    }

    /// One-time prekeys were added and published because the relay ran low.
    #[getter]
    fn prekeys_replenished(&self) -> bool {
        self.prekeys_replenished
    }

    /// The new KEK version, when the keyring KEK was rotated.
    #[getter]
    fn kek_rotated_to(&self) -> Option<u32> {
        self.kek_rotated_to
    }

    /// The identity envelope was re-wrapped under the current KEK version.
    #[getter]
    fn identity_rewrapped(&self) -> bool {
        self.identity_rewrapped
    }

    /// The outbox flush, when that step ran.
    #[getter]
    fn flush(&self, py: Python<'_>) -> Option<Py<PyFlushReport>> {
        self.flush.as_ref().map(|f| f.clone_ref(py))
    }

    /// The relay's view of the published prekeys after the publish step (with a relay only).
    #[getter]
    fn prekey_status(&self, py: Python<'_>) -> Option<Py<PyPrekeyStatus>> {
        self.prekey_status.as_ref().map(|s| s.clone_ref(py))
    }

    /// The rollback anchor saved (the messenger counter), when that step ran.
    #[getter]
    fn anchor(&self) -> Option<u64> {
        self.anchor
    }

    /// Whether a step changed something durable (rotation, expiry, publication, KEK,
    /// identity); the flush and the anchor do not count.
    #[getter]
    fn changed_anything(&self) -> bool {
        self.changed_anything
    }

    fn __repr__(&self) -> String {
        format!(
            "<MaintainReport changed_anything={}>",
            if self.changed_anything {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// Counters of an agent since it was opened.
#[pyclass(name = "AgentStats", module = "sealwire._native", frozen, eq, get_all)]
#[derive(PartialEq, Eq)]
pub(crate) struct PyAgentStats {
    /// Handshakes completed (either role).
    handshakes: u64,
    /// Messages handed to a live channel.
    sent_live: u64,
    /// Messages deposited on the relay.
    sent_relay: u64,
    /// New messages from live channels.
    received_live: u64,
    /// New messages from the relay.
    received_relay: u64,
    /// Second copies dropped.
    duplicates: u64,
    /// Messages that could not be read (acknowledged and dropped).
    rejected: u64,
    /// Live channels lost.
    channels_dropped: u64,
}

impl From<AgentStats> for PyAgentStats {
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

#[pymethods]
impl PyAgentStats {
    fn __repr__(&self) -> String {
        format!(
            "<AgentStats handshakes={} sent_live={} sent_relay={} received_live={} \
             received_relay={} duplicates={} rejected={} channels_dropped={}>",
            self.handshakes,
            self.sent_live,
            self.sent_relay,
            self.received_live,
            self.received_relay,
            self.duplicates,
            self.rejected,
            self.channels_dropped
        )
    }
}

/// A peer of the agent's peer table.
#[pyclass(name = "KnownPeer", module = "sealwire._native", frozen)]
pub(crate) struct PyKnownPeer {
    identity: Py<PyPublicIdentity>,
    address: Option<String>,
    first_seen: u64,
    last_seen: u64,
}

impl PyKnownPeer {
    fn new(py: Python<'_>, p: &KnownPeer) -> PyResult<Self> {
        Ok(Self {
            identity: Py::new(
                py,
                PyPublicIdentity {
                    inner: p.identity.clone(),
                },
            )?,
            address: p.address.clone(),
            first_seen: p.first_seen,
            last_seen: p.last_seen,
        })
    }
}

#[pymethods]
impl PyKnownPeer {
    /// The peer, as authenticated by a handshake.
    #[getter]
    fn identity(&self, py: Python<'_>) -> Py<PyPublicIdentity> {
        self.identity.clone_ref(py)
    }

    /// The address last reached it at (`host:port`), if this agent ever dialled it.
    #[getter]
    fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// First contact, Unix seconds.
    #[getter]
    fn first_seen(&self) -> u64 {
        self.first_seen
    }

    /// Last handshake, Unix seconds.
    #[getter]
    fn last_seen(&self) -> u64 {
        self.last_seen
    }

    fn __repr__(&self) -> &'static str {
        // Identities and addresses identify peers: not shown.
        "<KnownPeer>"
    }
}

// --- Agent ------------------------------------------------------------------------------------

/// One agent home: identity, sessions, live channels, relay, sealing, key lifecycle (see the
/// stub and the module documentation).
#[pyclass(name = "_Agent", module = "sealwire._native", frozen, subclass)]
pub(crate) struct PyAgent {
    inner: Mutex<Option<Agent>>,
    /// The agent's public identity (never changes): read without the lock.
    public: sealwire::PublicIdentity,
    peer_id: PeerId,
    /// With `recover=True`: the peers the set-aside session store had sessions with.
    recovered: Vec<PeerId>,
}

impl PyAgent {
    /// Run `f` on the open agent with the GIL released (the lock taken inside).
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Agent) -> sealwire::Result<T> + Send,
    ) -> Result<T> {
        detach(py, || {
            let mut guard = lock(&self.inner);
            let agent = guard.as_mut().ok_or(CLOSED)?;
            f(agent).map_err(Error::from)
        })
    }

    /// The lock, taken with the GIL held (given up while waiting): for cheap calls.
    fn attached<'a>(&'a self, py: Python<'_>) -> MutexGuard<'a, Option<Agent>> {
        lock_attached(py, &self.inner)
    }

    fn peek<T>(&self, py: Python<'_>, f: impl FnOnce(&mut Agent) -> T) -> Result<T> {
        let mut guard = self.attached(py);
        Ok(f(guard.as_mut().ok_or(CLOSED)?))
    }
}

#[pymethods]
impl PyAgent {
    /// Create or open the agent whose home is `path` (see the stub). Releases the GIL while
    /// it unlocks (Argon2id, or a KMS) and reads or creates the home.
    #[new]
    #[pyo3(signature = (
        path, config, *, passphrase=None, root_key=None, root_key_from_env=false,
        relay_url=None, connect_timeout=5.0, handshake_timeout=10.0, ack_timeout=5.0,
        relay_poll_interval=0.5, relay_connect_timeout=2.0, relay_request_timeout=15.0,
        allow_plain_http=false, kms_settings=None, recover=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        config: &Bound<'_, PyAny>,
        passphrase: Option<Passphrase<'_>>,
        root_key: Option<&Bound<'_, PyAny>>,
        root_key_from_env: bool,
        relay_url: Option<String>,
        connect_timeout: f64,
        handshake_timeout: f64,
        ack_timeout: f64,
        relay_poll_interval: f64,
        relay_connect_timeout: f64,
        relay_request_timeout: f64,
        allow_plain_http: bool,
        kms_settings: Option<&Bound<'_, PyAny>>,
        recover: bool,
    ) -> Result<Self> {
        let config = config_arg(py, config)?;
        let options = AgentOptions {
            relay_url,
            relay_options: RelayOptions {
                connect_timeout: timeout_arg(
                    relay_connect_timeout,
                    "relay_connect_timeout must be a number of seconds above 0 and at most 300",
                )?,
                request_timeout: timeout_arg(
                    relay_request_timeout,
                    "relay_request_timeout must be a number of seconds above 0 and at most 300",
                )?,
                allow_plain_http,
            },
            connect_timeout: timeout_arg(
                connect_timeout,
                "connect_timeout must be a number of seconds above 0 and at most 300",
            )?,
            handshake_timeout: timeout_arg(
                handshake_timeout,
                "handshake_timeout must be a number of seconds above 0 and at most 300",
            )?,
            ack_timeout: timeout_arg(
                ack_timeout,
                "ack_timeout must be a number of seconds above 0 and at most 300",
            )?,
            relay_poll_interval: timeout_arg(
                relay_poll_interval,
                "relay_poll_interval must be a number of seconds above 0 and at most 300",
            )?,
            remote_key_settings: kms_settings_arg(kms_settings)?,
        };
        let unlock = unlock_arg(passphrase, root_key, root_key_from_env)?;
        // `recover`: `Agent::recover` (after `StaleStateError`), which sets the old session
        // store aside and starts a new one.
        let (agent, recovered) = detach(py, move || {
            if recover {
                Agent::recover(&path, &config, unlock, options)
            } else {
                Agent::open(&path, &config, unlock, options).map(|a| (a, Vec::new()))
            }
        })?;
        Ok(Self {
            public: agent.public().clone(),
            peer_id: agent.peer_id(),
            inner: Mutex::new(Some(agent)),
            recovered,
        })
    }

    /// Our public identity (hand it to peers).
    #[getter]
    fn public(&self) -> PyPublicIdentity {
        PyPublicIdentity {
            inner: self.public.clone(),
        }
    }

    /// Our peer id: the 32-byte Ed25519 key of the identity.
    #[getter]
    fn peer_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.peer_id)
    }

    /// After `Agent.recover(...)`: the peer ids (32 bytes) the set-aside session store had
    /// sessions with (the next message to each starts a new session); else empty.
    #[getter]
    fn recovered_peers<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.recovered.iter().map(|p| PyBytes::new(py, p)).collect()
    }

    /// The peer table: every peer met in a handshake.
    #[getter]
    fn peers(&self, py: Python<'_>) -> Result<Vec<PyKnownPeer>> {
        let peers = self.peek(py, |a| a.peers().to_vec())?;
        Ok(peers
            .iter()
            .map(|p| PyKnownPeer::new(py, p))
            .collect::<PyResult<Vec<_>>>()?)
    }

    /// Counters since open.
    #[getter]
    fn stats(&self, py: Python<'_>) -> Result<PyAgentStats> {
        self.peek(py, |a| a.stats().into())
    }

    /// The last relay or channel error a call absorbed (a `SealwireError`), once; else None.
    fn take_last_error(&self, py: Python<'_>) -> Result<Option<Py<PyBaseException>>> {
        let e = self.peek(py, Agent::take_last_error)?;
        Ok(e.map(|e| exception(py, e)))
    }

    /// The messenger counter (what `maintain` saves as the rollback anchor). Releases the GIL.
    #[getter]
    fn counter(&self, py: Python<'_>) -> Result<u64> {
        self.run(py, |a| Ok(a.counter()))
    }

    /// Outbox records not yet delivered (or not yet acknowledged live). Releases the GIL.
    fn pending_outbox_len(&self, py: Python<'_>) -> Result<usize> {
        self.run(py, Agent::pending_outbox_len)
    }

    /// Take live connections on `address` (`host:port`; port 0 picks a free one); the
    /// address bound, as `"host:port"`. `receive` and `accept_incoming` answer them.
    fn listen(&self, py: Python<'_>, address: String) -> Result<String> {
        self.run(py, move |a| a.listen(&address))
            .map(|addr| addr.to_string())
    }

    /// The address `listen` bound, or None.
    #[getter]
    fn listening_on(&self, py: Python<'_>) -> Result<Option<String>> {
        self.peek(py, |a| a.listening_on().map(|s| s.to_string()))
    }

    /// Wait up to `timeout` seconds for one connection on the listener and run its
    /// handshake; None when nobody connected in time. Releases the GIL.
    #[pyo3(signature = (timeout=0.0))]
    fn accept_incoming(&self, py: Python<'_>, timeout: f64) -> Result<Option<PyChannelInfo>> {
        let wait = wait_arg(timeout)?;
        let info = self.run(py, move |a| a.accept_incoming(wait))?;
        Ok(info.map(|i| PyChannelInfo::new(py, i)).transpose()?)
    }

    /// Take over a connected TCP `socket.socket` (this call detaches it: the socket object
    /// is closed afterwards and the agent owns the connection) and answer its handshake as
    /// the responder. Releases the GIL.
    fn accept(&self, py: Python<'_>, sock: &Bound<'_, PyAny>) -> Result<PyChannelInfo> {
        let stream = take_socket(py, sock)?;
        let info = self.run(py, move |a| {
            let link = TcpLink::new(stream)?;
            a.accept(Box::new(link))
        })?;
        Ok(PyChannelInfo::new(py, info)?)
    }

    /// Open a live channel (TCP): to `address` (`host:port`), to `peer` (a
    /// `PublicIdentity`) at the address the peer table holds, or both. IK when the peer is
    /// known (given, or met at that address), XX otherwise. Releases the GIL.
    #[pyo3(signature = (address=None, peer=None))]
    fn connect(
        &self,
        py: Python<'_>,
        address: Option<String>,
        peer: Option<&Bound<'_, PyPublicIdentity>>,
    ) -> Result<PyChannelInfo> {
        if address.is_none() && peer.is_none() {
            return Err(sealwire::Error::InvalidParameter(
                "connect needs an address, a peer, or both",
            )
            .into());
        }
        let spec = PeerSpec {
            identity: peer.map(|p| p.get().inner.clone()),
            address,
        };
        let info = self.run(py, move |a| a.connect(&spec))?;
        Ok(PyChannelInfo::new(py, info)?)
    }

    /// Whether a live channel to `peer` (a `PublicIdentity` or a 32-byte peer id) is up.
    fn is_connected(&self, py: Python<'_>, peer: &Bound<'_, PyAny>) -> Result<bool> {
        let pid = peer_arg(peer)?;
        self.peek(py, |a| a.is_connected(&pid))
    }

    /// The live channels.
    fn channels(&self, py: Python<'_>) -> Result<Vec<PyChannelInfo>> {
        let list = self.peek(py, |a| a.channels())?;
        Ok(list
            .into_iter()
            .map(|i| PyChannelInfo::new(py, i))
            .collect::<PyResult<Vec<_>>>()?)
    }

    /// Close the live channel to `peer` (messages in flight stay in the outbox); whether
    /// there was one.
    fn disconnect(&self, py: Python<'_>, peer: &Bound<'_, PyAny>) -> Result<bool> {
        let pid = peer_arg(peer)?;
        self.peek(py, |a| a.disconnect(&pid))
    }

    /// Send `data` (at most 192 KiB) to `peer`: committed (session + outbox) before it
    /// leaves, live if a channel is up, else through the relay. Releases the GIL.
    fn send(
        &self,
        py: Python<'_>,
        peer: &Bound<'_, PyPublicIdentity>,
        data: BytesLike<'_>,
    ) -> Result<PySendReport> {
        let peer = &peer.get().inner;
        let inner = self.run(py, |a| a.send(peer, &data))?;
        Ok(PySendReport { inner })
    }

    /// Messages received and committed, oldest first, waiting up to `timeout` seconds for
    /// at least one; also answers waiting connections and flushes the outbox. Handle each
    /// durably (keyed by `id`), then `ack(id)`. Releases the GIL.
    #[pyo3(signature = (timeout=0.0))]
    fn receive(&self, py: Python<'_>, timeout: f64) -> Result<Vec<PyReceived>> {
        let wait = wait_arg(timeout)?;
        let got = self.run(py, move |a| a.receive(wait))?;
        Ok(got.into_iter().map(PyReceived::from).collect())
    }

    /// The application has durably handled inbox message `id`. Idempotent. Releases the GIL.
    fn ack(&self, py: Python<'_>, id: &Bound<'_, PyInt>) -> Result<()> {
        let id = u64_arg(id, "id must be a non-negative integer")?;
        self.run(py, move |a| a.ack(id))
    }

    /// Hand on every outbox record (live, else the relay). Releases the GIL.
    fn flush(&self, py: Python<'_>) -> Result<PyFlushReport> {
        let r = self.run(py, Agent::flush)?;
        Ok(PyFlushReport::new(py, r))
    }

    /// Seal `data` as an envelope under the configured KEK, bound to `context` (a mapping
    /// of str to str). Releases the GIL.
    #[pyo3(signature = (data, context=None))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        data: BytesLike<'_>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let ctx = context_arg(context)?;
        let out = self.run(py, |a| a.seal(&data, &ctx))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Open an envelope sealed under the KEK, or for this agent's identity; the context
    /// must be the one it was sealed with. Releases the GIL.
    #[pyo3(signature = (blob, context=None))]
    fn open_sealed<'py>(
        &self,
        py: Python<'py>,
        blob: BytesLike<'_>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let ctx = context_arg(context)?;
        let out = self.run(py, |a| a.open_sealed(&blob, &ctx).map(Zeroizing::new))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Seal `data` for each of `peers` (`PublicIdentity` objects; include `agent.public`
    /// to read it back). Releases the GIL.
    #[pyo3(signature = (peers, data, context=None))]
    fn seal_for<'py>(
        &self,
        py: Python<'py>,
        peers: &Bound<'_, PyAny>,
        data: BytesLike<'_>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let mut list: Vec<sealwire::PublicIdentity> = Vec::new();
        for p in peers.try_iter()? {
            let p = p?;
            let id = p.cast::<PyPublicIdentity>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "peers must be PublicIdentity objects, not '{}'",
                    type_name(&p.as_borrowed())
                ))
            })?;
            list.push(id.get().inner.clone());
        }
        let ctx = context_arg(context)?;
        let out = self.run(py, |a| {
            let refs: Vec<&sealwire::PublicIdentity> = list.iter().collect();
            a.seal_for(&refs, &data, &ctx)
        })?;
        Ok(PyBytes::new(py, &out))
    }

    /// The same envelope with its data key re-wrapped under the current KEK version.
    /// Releases the GIL.
    #[pyo3(signature = (blob, context=None))]
    fn rewrap_sealed<'py>(
        &self,
        py: Python<'py>,
        blob: BytesLike<'_>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let ctx = context_arg(context)?;
        let out = self.run(py, |a| a.rewrap_sealed(&blob, &ctx))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Run every maintenance step at `now` (Unix seconds; default the clock). Idempotent.
    /// Releases the GIL.
    #[pyo3(signature = (now=None))]
    fn maintain(&self, py: Python<'_>, now: Option<&Bound<'_, PyInt>>) -> Result<PyMaintainReport> {
        let now = now_arg(now)?;
        let r = self.run(py, move |a| a.maintain(now))?;
        Ok(PyMaintainReport::new(py, r)?)
    }

    /// Run one maintenance step by name (`rotate-signed-prekey`, `expire-signed-prekeys`,
    /// `publish`, `rotate-kek`, `rewrap-identity`, `flush-outbox`, `save-anchor`). Releases
    /// the GIL.
    #[pyo3(signature = (name, now=None))]
    fn maintain_step(
        &self,
        py: Python<'_>,
        name: &str,
        now: Option<&Bound<'_, PyInt>>,
    ) -> Result<PyMaintainReport> {
        let step = maintain_step_arg(name)?;
        let now = now_arg(now)?;
        let r = self.run(py, move |a| a.maintain_step(step, now))?;
        Ok(PyMaintainReport::new(py, r)?)
    }

    /// Save the rollback anchor and close (releases the home's lock). Idempotent. Waits for
    /// a call running on another thread. Releases the GIL.
    fn close(&self, py: Python<'_>) -> Result<()> {
        detach(py, || {
            let taken = lock(&self.inner).take();
            match taken {
                Some(agent) => agent.close().map_err(Error::from),
                None => Ok(()),
            }
        })
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.attached(py).is_none()
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> Result<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// The maintenance step names, in the order `maintain` runs them.
    #[staticmethod]
    fn maintain_steps() -> Vec<&'static str> {
        MaintainStep::ALL.iter().map(|s| s.as_str()).collect()
    }

    fn __repr__(&self, py: Python<'_>) -> &'static str {
        if self.closed(py) {
            "<Agent closed>"
        } else {
            "<Agent>"
        }
    }
}

/// Take a connected TCP `socket.socket` over: check it, make it blocking, detach its file
/// descriptor (the Python object no longer closes it) and own it as a `TcpStream`.
#[cfg(unix)]
fn take_socket(py: Python<'_>, sock: &Bound<'_, PyAny>) -> Result<std::net::TcpStream> {
    use std::os::fd::{FromRawFd, OwnedFd};

    let socket_mod = py.import("socket")?;
    let not_tcp = || {
        Error::Python(PyTypeError::new_err(
            "accept needs a connected TCP socket.socket (AF_INET or AF_INET6, SOCK_STREAM)",
        ))
    };
    if !sock.is_instance(&socket_mod.getattr("socket")?)? {
        return Err(not_tcp());
    }
    let family: i64 = sock.getattr("family")?.extract()?;
    let kind: i64 = sock.getattr("type")?.extract()?;
    let inet: i64 = socket_mod.getattr("AF_INET")?.extract()?;
    let inet6: i64 = socket_mod.getattr("AF_INET6")?.extract()?;
    let stream_type: i64 = socket_mod.getattr("SOCK_STREAM")?.extract()?;
    if !(family == inet || family == inet6) || kind != stream_type {
        return Err(not_tcp());
    }
    // Connected: getpeername raises OSError otherwise.
    sock.call_method0("getpeername")?;
    sock.call_method1("setblocking", (true,))?;
    let fd: i32 = sock.call_method0("detach")?.extract()?;
    if fd < 0 {
        return Err(not_tcp());
    }
    // SAFETY: `detach()` handed us the descriptor of an open, connected TCP socket and gave
    // up its own ownership of it; nothing else closes it, so we may own it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(std::net::TcpStream::from(owned))
}

#[cfg(not(unix))]
fn take_socket(_py: Python<'_>, _sock: &Bound<'_, PyAny>) -> Result<std::net::TcpStream> {
    Err(sealwire::Error::InvalidParameter(
        "accept(socket) is available on Unix; use listen() and accept_incoming()",
    )
    .into())
}
