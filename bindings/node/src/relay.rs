//! The relay (prekey directory and offline mailbox, `docs/RELAY.md`): `RelayClient` and
//! `RelayAgent`, thin wrappers of the core's `sealwire::relay::RelayClient` and
//! `sealwire::relay::RelayAgent` (cargo feature `relay`). The order of operations (commit
//! before deposit; fetch → decrypt → commit → acknowledge) is the core agent's; nothing here
//! re-implements it.
//!
//! Every network operation is a Promise (`AsyncTask`) computed on the libuv thread pool;
//! there is no synchronous form. Relay failures reject with the core codes
//! `ERR_SEALWIRE_RELAY_REJECTED`, `…_AUTH_FAILED`, `…_NOT_FOUND`, `…_MAILBOX_FULL`,
//! `…_UNAVAILABLE`, `…_TIMEOUT` (through the one mapping in `error.rs`).
//!
//! Ownership: `new RelayAgent(messenger, client)` takes the messenger's core object over (it
//! moves into the core agent), but both handles share one lock, so the `Messenger` stays
//! usable for everything local (`pendingInbox`, `ack`, `counter`, …) and reaches the same
//! state; `close()` on either closes both. A messenger has at most one agent: a new
//! `RelayAgent` over it replaces the previous one, whose later calls reject with
//! `ERR_SEALWIRE_INVALID_PARAMETER`; `intoMessenger()` gives it back without an agent. A
//! messenger over a JavaScript `SessionStore` is refused (its callbacks cannot run on the
//! pool, and running network I/O on the JavaScript thread would block the event loop).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, BigInt, Buffer, ClassInstance, Either, Uint8Array};
use napi::{Env, Task};
use napi_derive::napi;
use sealwire::relay::{PrekeyStatus as CorePrekeyStatus, ReceiveReport, RelayOptions};
use sealwire::Error as CoreError;
use zeroize::Zeroizing;

use crate::error::{to_js_error, Result};
use crate::identity::PublicIdentity;
use crate::messenger::{
    closed, job_task, lock, to_peer, try_lock, CoreAgent, Held, Messenger, MessengerJob,
    ReceivedMessage, Shared,
};

type CoreResult<T> = std::result::Result<T, CoreError>;

/// Largest timeout accepted (one hour).
const MAX_TIMEOUT_MS: f64 = 3_600_000.0;
/// The relay's bounds on a listing (`docs/RELAY.md`).
const MAX_LIMIT: u32 = 1000;
const MAX_WAIT_SECONDS: u32 = 30;
const DEFAULT_LIMIT: u32 = 100;

/// Names each `RelayAgent`, so that one replaced by a newer agent over the same messenger
/// (or released by `intoMessenger`) no longer reaches it.
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

// ---------------------------------------------------------------------------------------------
// Plain objects
// ---------------------------------------------------------------------------------------------

/// Options of `new RelayClient(url, options)`.
#[napi(object)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RelayClientOptions {
    /// Bound on connection setup, in milliseconds (default 2000).
    pub connect_timeout_ms: Option<f64>,
    /// Bound on one whole HTTP exchange, in milliseconds (default 15000). A long-polling
    /// `receiveAsync` must wait less than this.
    pub request_timeout_ms: Option<f64>,
    /// Allow `http://` to a host that is not loopback (default false: test networks only).
    pub allow_plain_http: Option<bool>,
}

/// The owner's prekeys on the relay (`publishAsync`, `maintainAsync`).
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Copy)]
pub struct PrekeyStatus {
    /// Unclaimed one-time X25519 prekeys left on the relay.
    pub one_time: u32,
    /// Unclaimed one-time ML-KEM-768 prekeys left on the relay.
    pub kem_one_time: u32,
    /// Whether the published bundle is post-quantum.
    pub post_quantum: bool,
    /// The relay asks the owner to replenish (`maintainAsync` does it).
    pub replenish: bool,
}

/// Options of `RelayAgent.receiveAsync`.
#[napi(object)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RelayReceiveOptions {
    /// Most messages processed by this call (1 ..= 1000, default 100).
    pub limit: Option<f64>,
    /// With an empty mailbox, wait up to this many seconds for a deposit (a long poll;
    /// 0 ..= 30, below the client's `requestTimeoutMs`; default 0).
    pub wait_seconds: Option<f64>,
}

/// What one `RelayAgent.receiveAsync` call did.
#[napi(object, object_from_js = false)]
pub struct RelayReceiveReport {
    /// New messages, committed to the messenger's inbox, in order: handle each, then
    /// `messenger.ack(id)` / `ackAsync(id)`.
    pub received: Vec<ReceivedMessage>,
    /// Copies of messages received before (acknowledged on the relay, nothing else).
    pub duplicates: u32,
    /// Deposits that could not be opened or decrypted (anyone may deposit): acknowledged
    /// on the relay and dropped.
    pub rejected: u32,
    /// The `code` of a relay error that ended the call *after* messages were committed (they
    /// are in `received`; any that were not acknowledged come back as duplicates). Without a
    /// committed message the Promise rejects with that error instead.
    pub interrupted: Option<String>,
    /// The message of that error.
    pub interrupted_message: Option<String>,
}

impl std::fmt::Debug for RelayReceiveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayReceiveReport(..)")
    }
}

fn sat_u32<N: TryInto<u32>>(n: N) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

fn status_js(s: CorePrekeyStatus) -> PrekeyStatus {
    PrekeyStatus {
        one_time: sat_u32(s.one_time),
        kem_one_time: sat_u32(s.kem_one_time),
        post_quantum: s.post_quantum,
        replenish: s.replenish,
    }
}

fn report_js(r: ReceiveReport) -> RelayReceiveReport {
    RelayReceiveReport {
        received: r
            .received
            .into_iter()
            .map(crate::messenger::received_js)
            .collect(),
        duplicates: sat_u32(r.duplicates),
        rejected: sat_u32(r.rejected),
        interrupted: r.interrupted.as_ref().map(|e| e.kind().code().to_owned()),
        interrupted_message: r.interrupted.as_ref().map(ToString::to_string),
    }
}

job_task!(CorePrekeyStatus, PrekeyStatus, status_js);
job_task!(u64, BigInt, BigInt::from);
job_task!(usize, u32, sat_u32);
job_task!(ReceiveReport, RelayReceiveReport, report_js);

// ---------------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------------

fn timeout(v: Option<f64>, default: Duration, what: &'static str) -> CoreResult<Duration> {
    match v {
        None => Ok(default),
        Some(ms) if ms.fract() == 0.0 && (1.0..=MAX_TIMEOUT_MS).contains(&ms) => {
            Ok(Duration::from_millis(ms as u64))
        }
        Some(_) => Err(CoreError::InvalidParameter(what)),
    }
}

pub(crate) fn relay_options(o: Option<&RelayClientOptions>) -> CoreResult<RelayOptions> {
    let d = RelayOptions::default();
    Ok(RelayOptions {
        connect_timeout: timeout(
            o.and_then(|o| o.connect_timeout_ms),
            d.connect_timeout,
            "connectTimeoutMs must be an integer from 1 to 3600000",
        )?,
        request_timeout: timeout(
            o.and_then(|o| o.request_timeout_ms),
            d.request_timeout,
            "requestTimeoutMs must be an integer from 1 to 3600000",
        )?,
        allow_plain_http: o.and_then(|o| o.allow_plain_http).unwrap_or(d.allow_plain_http),
    })
}

fn bounded(v: Option<f64>, default: u32, range: std::ops::RangeInclusive<u32>, what: &'static str) -> CoreResult<u32> {
    match v {
        None => Ok(default),
        Some(n) if n.fract() == 0.0 && (f64::from(*range.start())..=f64::from(*range.end())).contains(&n) => {
            Ok(n as u32)
        }
        Some(_) => Err(CoreError::InvalidParameter(what)),
    }
}

/// `(limit, wait_secs)` of a receive, the wait checked against the client's request timeout
/// (a longer wait would always end in `ERR_SEALWIRE_RELAY_TIMEOUT`).
fn receive_args(o: Option<&RelayReceiveOptions>, options: &RelayOptions) -> CoreResult<(u32, u32)> {
    let limit = bounded(
        o.and_then(|o| o.limit),
        DEFAULT_LIMIT,
        1..=MAX_LIMIT,
        "limit must be an integer from 1 to 1000",
    )?;
    let wait = bounded(
        o.and_then(|o| o.wait_seconds),
        0,
        0..=MAX_WAIT_SECONDS,
        "waitSeconds must be an integer from 0 to 30",
    )?;
    if wait > 0 && Duration::from_secs(u64::from(wait)) >= options.request_timeout {
        return Err(CoreError::InvalidParameter(
            "waitSeconds must be below the client's requestTimeoutMs",
        ));
    }
    Ok((limit, wait))
}

// ---------------------------------------------------------------------------------------------
// RelayClient
// ---------------------------------------------------------------------------------------------

/// A client of one relay (`https://host:port`, or `http://` on loopback). It holds no key:
/// requests are signed by the `RelayAgent` that uses it. Pass it to `new RelayAgent`.
#[napi]
#[derive(Clone)]
pub struct RelayClient {
    url: String,
    options: RelayOptions,
    inner: Arc<sealwire::relay::RelayClient>,
}

impl std::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayClient(..)")
    }
}

#[napi]
impl RelayClient {
    /// A client of the relay at `url`. Nothing is sent yet (`healthAsync` checks the relay).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for a URL that is not
    /// `https://host[:port]` (or `http://` on loopback, unless `allowPlainHttp`) or bad
    /// options.
    #[napi(constructor, strict)]
    pub fn new(url: String, options: Option<RelayClientOptions>) -> Result<Self> {
        let options = relay_options(options.as_ref()).map_err(to_js_error)?;
        let inner = sealwire::relay::RelayClient::with_options(&url, options).map_err(to_js_error)?;
        Ok(Self {
            url,
            options,
            inner: Arc::new(inner),
        })
    }

    /// `GET /v1/health` on the libuv pool: resolves when the relay and its store answer.
    /// Rejects with `ERR_SEALWIRE_RELAY_UNAVAILABLE` (unreachable, or its store does not
    /// answer) or `ERR_SEALWIRE_RELAY_TIMEOUT`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn health_async(&self) -> AsyncTask<MessengerJob<()>> {
        let inner = Arc::clone(&self.inner);
        MessengerJob::new(move || inner.health())
    }

    /// The request timeout in milliseconds (`receiveAsync`'s `waitSeconds` must stay below).
    #[napi(getter)]
    pub fn request_timeout_ms(&self) -> f64 {
        self.options.request_timeout.as_millis() as f64
    }

    /// The connection setup timeout in milliseconds.
    #[napi(getter)]
    pub fn connect_timeout_ms(&self) -> f64 {
        self.options.connect_timeout.as_millis() as f64
    }
}

// ---------------------------------------------------------------------------------------------
// RelayAgent
// ---------------------------------------------------------------------------------------------

/// The core agent named `token` in `shared`, or the reason it cannot be used.
fn with_agent<T>(
    shared: &Shared,
    token: u64,
    f: impl FnOnce(&mut CoreAgent) -> CoreResult<T>,
) -> CoreResult<T> {
    let mut guard = lock(shared);
    match guard.as_mut() {
        None => Err(closed()),
        Some(Held::Agent { token: t, agent }) if *t == token => f(agent),
        Some(_) => Err(released()),
    }
}

fn released() -> CoreError {
    CoreError::InvalidParameter(
        "this RelayAgent no longer holds its messenger (intoMessenger() was called, or a newer \
         RelayAgent took the messenger over)",
    )
}

/// A `Messenger` whose transport is a relay: publishes its prekey bundle and mailbox,
/// starts sessions from bundles claimed on the relay, deposits sealed messages in the peers'
/// mailboxes, and reads its own mailbox — committing each message before acknowledging it
/// on the relay (a crash or a relay failure in between re-delivers it, and the messenger
/// recognizes the copy).
///
/// Every network operation returns a Promise and runs on the libuv thread pool. The agent
/// and its messenger are one object behind one lock: operations run one at a time, so while
/// one is in flight (up to the client's timeouts, or the `waitSeconds` of a long poll) the
/// others wait for it — await the `…Async` forms; a *synchronous* `Messenger` call made
/// meanwhile would block the JavaScript thread until the operation ends.
///
/// `new RelayAgent(messenger, client)` takes the messenger over: it must be a SQLite
/// messenger (`Messenger.create` / `open`; one over a JavaScript `SessionStore` is refused
/// with `ERR_SEALWIRE_INVALID_PARAMETER`). The `Messenger` object stays usable for local
/// operations (`pendingInbox`, `ack`, `counter`, …) on the same state; `close()` on either
/// closes both. A newer `RelayAgent` over the same messenger replaces this one;
/// `intoMessenger()` releases it. Nothing is sent until `publishAsync` (once, then after
/// prekey changes).
#[napi]
pub struct RelayAgent {
    shared: Shared,
    token: u64,
    identity: sealwire::PublicIdentity,
    address: [u8; 32],
    client: RelayClient,
}

impl std::fmt::Debug for RelayAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayAgent(..)")
    }
}

impl RelayAgent {
    /// An operation on the pool.
    fn job<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut CoreAgent) -> CoreResult<T> + Send + 'static,
    ) -> AsyncTask<MessengerJob<T>>
    where
        MessengerJob<T>: Task,
    {
        let shared = Arc::clone(&self.shared);
        let token = self.token;
        MessengerJob::new(move || with_agent(&shared, token, f))
    }
}

#[napi]
impl RelayAgent {
    /// Take `messenger` over (see the class) with `client` as its relay. Waits for a pending
    /// operation of the messenger. Local: nothing is sent.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` (a messenger over a JavaScript
    /// store), `ERR_SEALWIRE_STORAGE` (a closed messenger).
    #[napi(constructor, strict)]
    pub fn new(messenger: &Messenger, client: &RelayClient) -> Result<Self> {
        let core_client =
            sealwire::relay::RelayClient::with_options(&client.url, client.options).map_err(to_js_error)?;
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let shared = messenger
            .attach_agent(token, |core| CoreAgent::new(core, core_client))
            .map_err(to_js_error)?;
        let (identity, address) = with_agent(&shared, token, |a| {
            Ok((a.messenger().identity().clone(), a.mailbox().address()))
        })
        .map_err(to_js_error)?;
        Ok(Self {
            shared,
            token,
            identity,
            address,
            client: client.clone(),
        })
    }

    /// Open our mailbox on the relay and publish our prekey bundle with its mailbox
    /// descriptor (signed by the identity). Resolves with the relay's prekey status.
    #[napi(ts_return_type = "Promise<PrekeyStatus>")]
    pub fn publish_async(&self) -> AsyncTask<MessengerJob<CorePrekeyStatus>> {
        self.job(|a| a.publish())
    }

    /// `publishAsync`, first dropping everything the relay holds for us (after a recovery
    /// that renumbered the prekeys).
    #[napi(ts_return_type = "Promise<PrekeyStatus>")]
    pub fn publish_reset_async(&self) -> AsyncTask<MessengerJob<CorePrekeyStatus>> {
        self.job(|a| a.publish_reset())
    }

    /// Ask the relay how many one-time prekeys are left; when it says to replenish, add new
    /// prekeys (committed) and publish again. Resolves with the status after. Call it
    /// periodically.
    #[napi(ts_return_type = "Promise<PrekeyStatus>")]
    pub fn maintain_async(&self) -> AsyncTask<MessengerJob<CorePrekeyStatus>> {
        self.job(|a| a.maintain())
    }

    /// Start a session with `peer` (its identity pinned out of band) from a bundle claimed on
    /// the relay (one one-time prekey of each kind is used up), and commit it.
    ///
    /// Rejects with `ERR_SEALWIRE_RELAY_NOT_FOUND` (nothing published for `peer`),
    /// `ERR_SEALWIRE_IDENTITY_MISMATCH` (the relay returned someone else's bundle).
    #[napi(strict, ts_return_type = "Promise<void>")]
    pub fn connect_async(&self, peer: &PublicIdentity) -> AsyncTask<MessengerJob<()>> {
        let peer = peer.inner.clone();
        self.job(move |a| a.connect(&peer))
    }

    /// Encrypt `plaintext` for `peer` (a `PublicIdentity` or its 32-byte peer id), commit it
    /// with an outbox record, deposit it sealed in the peer's mailbox, and mark it sent.
    /// Resolves with the outbox id. If the deposit fails the Promise rejects (relay code) and
    /// the message stays in the outbox: `flushOutboxAsync` deposits it later, byte for byte,
    /// under the same deposit id (so the relay stores it once).
    ///
    /// Rejects with `ERR_SEALWIRE_NO_SESSION` without a session (`connectAsync` first).
    #[napi(strict, ts_return_type = "Promise<bigint>")]
    pub fn send_async(
        &self,
        peer: Either<ClassInstance<'_, PublicIdentity>, Uint8Array>,
        plaintext: &[u8],
    ) -> AsyncTask<MessengerJob<u64>> {
        match to_peer(&peer) {
            Ok(pid) => {
                let plaintext = Zeroizing::new(plaintext.to_vec());
                self.job(move |a| a.send(&pid, &plaintext))
            }
            Err(e) => MessengerJob::failed(e),
        }
    }

    /// Deposit every outbox record not yet marked sent (after a restart or a failed
    /// deposit), oldest first; stops at the first failure (rejecting with it). Resolves with
    /// how many were deposited.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn flush_outbox_async(&self) -> AsyncTask<MessengerJob<usize>> {
        self.job(|a| a.flush_outbox())
    }

    /// Read up to `limit` messages from our mailbox in deposit order: each is decrypted and
    /// committed to the messenger's inbox, and only then acknowledged on the relay. With
    /// `waitSeconds` and an empty mailbox, the relay holds the request until a deposit
    /// arrives or the wait ends (a long poll, on the pool: the event loop keeps running).
    ///
    /// Rejects (relay code) when nothing was committed; a relay error after commits resolves
    /// with the committed messages and `interrupted` set. After a crash, handle
    /// `messenger.pendingInbox()` first.
    #[napi(strict, ts_return_type = "Promise<RelayReceiveReport>")]
    pub fn receive_async(
        &self,
        options: Option<RelayReceiveOptions>,
    ) -> AsyncTask<MessengerJob<ReceiveReport>> {
        match receive_args(options.as_ref(), &self.client.options) {
            Ok((limit, wait)) => self.job(move |a| a.receive_waiting(limit, wait)),
            Err(e) => MessengerJob::failed(e),
        }
    }

    /// Our own public identity.
    #[napi(getter)]
    pub fn identity(&self) -> PublicIdentity {
        PublicIdentity {
            inner: self.identity.clone(),
        }
    }

    /// Our 32-byte mailbox address (a hash of the mailbox signing key derived from the
    /// identity, not the identity itself).
    #[napi(getter)]
    pub fn mailbox_address(&self) -> Buffer {
        Buffer::from(self.address.to_vec())
    }

    /// A handle on the messenger this agent uses (the same state as the `Messenger` given to
    /// the constructor): inbox, acknowledgements, counter.
    #[napi(getter)]
    pub fn messenger(&self) -> Messenger {
        Messenger::from_shared(Arc::clone(&self.shared))
    }

    /// The relay client.
    #[napi(getter)]
    pub fn client(&self) -> RelayClient {
        self.client.clone()
    }

    /// Release the messenger (no agent any more; this `RelayAgent` is unusable after) and
    /// return it. Waits for a pending operation.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_STORAGE` (closed), `ERR_SEALWIRE_INVALID_PARAMETER`
    /// (released or replaced already).
    #[napi(js_name = "intoMessenger")]
    pub fn release_messenger(&self) -> Result<Messenger> {
        let mut guard = lock(&self.shared);
        match guard.take() {
            Some(Held::Agent { token, agent }) if token == self.token => {
                *guard = Some(Held::Plain(Box::new(agent.into_messenger())));
                Ok(Messenger::from_shared(Arc::clone(&self.shared)))
            }
            other => {
                let err = if other.is_none() { closed() } else { released() };
                *guard = other;
                Err(to_js_error(err))
            }
        }
    }

    /// Close the messenger (the database): waits for a pending operation. Every later use of
    /// the agent or of its messenger fails with `ERR_SEALWIRE_STORAGE`. Idempotent; does
    /// nothing once the agent was released or replaced.
    #[napi]
    pub fn close(&self) {
        let mut guard = lock(&self.shared);
        if matches!(guard.as_ref(), Some(Held::Agent { token, .. }) if *token == self.token) {
            guard.take();
        }
    }

    /// Whether the messenger is closed (`false` while an operation is running).
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        try_lock(&self.shared).is_ok_and(|g| g.is_none())
    }
}
