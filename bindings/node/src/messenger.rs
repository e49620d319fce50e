//! Asynchronous sessions (X3DH / PQXDH, then the Double Ratchet) through the core's
//! persistent `Messenger`, over a SQLite file or over a `SessionStore` written in JavaScript
//! (`js_store.rs`): `PrekeyBundle`, `Messenger`, `peerId`.
//!
//! Every operation that touches the store has a Promise form (`createAsync`, `openAsync`,
//! `connectAsync`, `sendAsync`, `receiveAsync`, `markSentAsync`, `ackAsync`) next to the
//! synchronous form. Over SQLite it runs on the libuv thread pool. The core messenger
//! therefore lives in an `Arc<Mutex<Option<…>>>`: a pending task holds the lock while it
//! commits, a synchronous call made meanwhile waits for it (SQLite commits are fsync-bound, a
//! few milliseconds). The `Option` is `None` after `close()`; any later use throws
//! `ERR_SEALWIRE_STORAGE`.
//!
//! Over a JavaScript store (`createWithStore` / `openWithStore`), whose methods can only be
//! called on the JavaScript thread, the Promise forms run the operation synchronously on the
//! calling thread, before returning, and return a Promise already settled with its result
//! (rejected with the same `code` on failure): code written against the Promise forms works
//! with any store. Such a messenger is never handed to the pool, and its lock is only tried:
//! a store callback that calls back into its own messenger gets `ERR_SEALWIRE_INVALID_PARAMETER`
//! instead of a deadlock.
//!
//! A `RelayAgent` (`relay.rs`) takes a SQLite messenger over: the core messenger moves into
//! the core relay agent (`Held::Agent`), behind the same lock, so this handle keeps working on
//! the same state.
//!
//! Ids: store counters, outbox and inbox ids are `bigint` (u64); arguments accept a `number`
//! (safe integer) or a `bigint`. Peers are named by their 32-byte peer id (the Ed25519
//! public key, `peerId(publicIdentity)`) or by a `PublicIdentity`.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use napi::bindgen_prelude::{AsyncTask, BigInt, Buffer, ClassInstance, Either, Object, Uint8Array};
use napi::{Env, Task};
use napi_derive::napi;
use sealwire::ratchet::PrekeyOptions;
use sealwire::store::{OutboxRecord, PeerId, Received, SessionStore, SqliteStore};
use sealwire::{Error as CoreError, ErrorKind};
use zeroize::Zeroizing;

use crate::error::{as_rejection, to_js_error, ErrorCode, Result};
use crate::identity::{Identity, PublicIdentity};
use crate::js_store::{with_failure, Failure, FailureSlot, JsSessionStore};

type CoreResult<T> = std::result::Result<T, CoreError>;
type Store = Box<dyn SessionStore + Send>;
pub(crate) type Core = sealwire::store::Messenger<Store>;
/// The core relay agent of a `RelayAgent` (`relay.rs`): it owns the core messenger.
pub(crate) type CoreAgent = sealwire::relay::RelayAgent<Store>;
pub(crate) type Shared = Arc<Mutex<Option<Held>>>;

/// What a `Messenger` handle holds: the core messenger alone, or inside the core relay
/// agent of the `RelayAgent` that took it over (`token` names that `RelayAgent`). Either
/// way the `Messenger` methods reach the same core messenger, under the same lock.
pub(crate) enum Held {
    Plain(Box<Core>),
    Agent { token: u64, agent: Box<CoreAgent> },
}

impl Held {
    fn messenger(&mut self) -> &mut Core {
        match self {
            Held::Plain(core) => core,
            Held::Agent { agent, .. } => agent.messenger(),
        }
    }
}

const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

// ---------------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------------

/// A non-negative integer given as a safe-integer `number` or a `bigint` that fits in u64.
pub(crate) fn to_u64(v: &Either<f64, BigInt>, what: &'static str) -> CoreResult<u64> {
    match v {
        Either::A(n) if n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(n) => Ok(*n as u64),
        Either::B(big) => match big.get_u64() {
            (false, value, true) => Ok(value),
            _ => Err(CoreError::InvalidParameter(what)),
        },
        Either::A(_) => Err(CoreError::InvalidParameter(what)),
    }
}

/// A peer given as a `PublicIdentity` or its 32-byte peer id.
pub(crate) fn to_peer(peer: &Either<ClassInstance<'_, PublicIdentity>, Uint8Array>) -> CoreResult<PeerId> {
    match peer {
        Either::A(p) => Ok(sealwire::store::peer_id(&p.inner)),
        Either::B(bytes) => {
            let b: &[u8] = bytes;
            b.try_into().map_err(|_| CoreError::InvalidLength {
                what: "peer id",
                expected: 32,
                actual: b.len(),
            })
        }
    }
}

pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn prekey_options(o: Option<&MessengerCreateOptions>) -> CoreResult<PrekeyOptions> {
    prekey_options_from(
        o.and_then(|o| o.one_time_prekeys),
        o.and_then(|o| o.kem_one_time_prekeys),
        o.and_then(|o| o.post_quantum),
    )
}

/// Core prekey options from the JS options `oneTimePrekeys` (both kinds),
/// `kemOneTimePrekeys` (overrides the ML-KEM count) and `postQuantum`; the core defaults
/// otherwise.
pub(crate) fn prekey_options_from(
    one_time_prekeys: Option<f64>,
    kem_one_time_prekeys: Option<f64>,
    post_quantum: Option<bool>,
) -> CoreResult<PrekeyOptions> {
    let mut p = PrekeyOptions::default();
    let count = |v: Option<f64>, what: &'static str| -> CoreResult<Option<u16>> {
        match v {
            None => Ok(None),
            Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u16::MAX)).contains(&n) => {
                Ok(Some(n as u16))
            }
            Some(_) => Err(CoreError::InvalidParameter(what)),
        }
    };
    if let Some(n) = count(one_time_prekeys, "oneTimePrekeys must be an integer")? {
        p.one_time_prekeys = n;
        p.kem_one_time_prekeys = n;
    }
    if let Some(n) = count(kem_one_time_prekeys, "kemOneTimePrekeys must be an integer")? {
        p.kem_one_time_prekeys = n;
    }
    if let Some(pq) = post_quantum {
        p.post_quantum = pq;
    }
    Ok(p)
}

fn create_core(
    path: &str,
    identity: &sealwire::Identity,
    storage_key: &[u8],
    options: PrekeyOptions,
) -> CoreResult<Core> {
    let identity = identity.duplicate();
    let store = SqliteStore::open(path)?;
    Core::create(Box::new(store), identity, storage_key, options, now_unix())
}

fn open_core(path: &str, storage_key: &[u8], min_counter: u64) -> CoreResult<Core> {
    // SqliteStore::open would create an empty database file: refuse a missing path instead.
    if !Path::new(path).exists() {
        return Err(CoreError::Storage("no sealwire store at this path"));
    }
    Core::open(Box::new(SqliteStore::open(path)?), storage_key, min_counter)
}

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, Option<Held>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn closed() -> CoreError {
    CoreError::Storage("the messenger is closed")
}

/// A JavaScript-backed messenger used from one of its own store's callbacks.
fn busy() -> CoreError {
    CoreError::InvalidParameter(
        "the messenger is in use by an operation in progress (a SessionStore callback cannot \
         use its own messenger)",
    )
}

/// Run `f` on the open messenger (waiting for a pending async task, if any).
fn with_core<T>(shared: &Shared, f: impl FnOnce(&mut Core) -> CoreResult<T>) -> CoreResult<T> {
    let mut guard = lock(shared);
    let core = guard.as_mut().ok_or_else(closed)?.messenger();
    f(core)
}

/// The lock of a JavaScript-backed messenger, only tried: it is only ever held by an
/// operation running on this same thread, i.e. one whose store callback is calling back.
pub(crate) fn try_lock(shared: &Shared) -> CoreResult<MutexGuard<'_, Option<Held>>> {
    match shared.try_lock() {
        Ok(g) => Ok(g),
        Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(TryLockError::WouldBlock) => Err(busy()),
    }
}

// ---------------------------------------------------------------------------------------------
// Plain result objects
// ---------------------------------------------------------------------------------------------

/// Options of `Messenger.create` / `Messenger.createAsync`.
#[napi(object)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MessengerCreateOptions {
    /// One-time prekeys to keep published (X25519 and, with `postQuantum`, ML-KEM-768 each;
    /// 0 ..= 1000, default 100).
    pub one_time_prekeys: Option<f64>,
    /// One-time ML-KEM-768 prekeys, if different from `oneTimePrekeys` (0 ..= 1000).
    pub kem_one_time_prekeys: Option<f64>,
    /// Publish ML-KEM-768 prekeys so that peers use PQXDH (default true). Without it only
    /// X3DH is possible.
    pub post_quantum: Option<bool>,
}

/// Options of `Messenger.open` / `Messenger.openAsync`.
#[napi(object, object_to_js = false)]
pub struct MessengerOpenOptions {
    /// The lowest store counter accepted: the `counter` saved (outside the store) after the
    /// last operation. A store whose counter is smaller is an older copy (restored backup,
    /// snapshot): `open` fails with `ERR_SEALWIRE_STALE_STATE`. `0` skips the check.
    pub min_counter: Either<f64, BigInt>,
}

impl std::fmt::Debug for MessengerOpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessengerOpenOptions(..)")
    }
}

/// A ciphertext committed for sending (returned by `send`, listed by `pendingOutbox`).
#[napi(object, object_from_js = false)]
pub struct OutboxMessage {
    /// Outbox id (increasing): pass it to `markSent` once the transport has taken the bytes.
    pub id: BigInt,
    /// The recipient's 32-byte peer id.
    pub peer: Buffer,
    /// 32-byte id of the ciphertext (what the receiver uses to drop duplicates).
    pub message_id: Buffer,
    /// The exact bytes to send (and, after a restart, to send again).
    pub ciphertext: Buffer,
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutboxMessage(..)")
    }
}

/// A message received and committed (returned by `receive`, listed by `pendingInbox`).
#[napi(object, object_from_js = false)]
pub struct ReceivedMessage {
    /// Inbox id (increasing, the same when re-delivered by `pendingInbox`): `ack` it once
    /// the plaintext is durably handled.
    pub id: BigInt,
    /// The sender's 32-byte peer id (authenticated by the session).
    pub peer: Buffer,
    /// 32-byte id of the ciphertext it came from.
    pub message_id: Buffer,
    /// The plaintext.
    pub plaintext: Buffer,
}

impl std::fmt::Debug for ReceivedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReceivedMessage(..)")
    }
}

fn outbox_js(r: OutboxRecord) -> OutboxMessage {
    OutboxMessage {
        id: BigInt::from(r.id),
        peer: Buffer::from(r.peer.to_vec()),
        message_id: Buffer::from(r.message_id.to_vec()),
        ciphertext: Buffer::from(r.ciphertext),
    }
}

pub(crate) fn received_js(r: Received) -> ReceivedMessage {
    ReceivedMessage {
        id: BigInt::from(r.id),
        peer: Buffer::from(r.peer.to_vec()),
        message_id: Buffer::from(r.message_id.to_vec()),
        plaintext: Buffer::from(r.plaintext),
    }
}

fn received_opt_js(r: Option<Received>) -> Option<ReceivedMessage> {
    r.map(received_js)
}

/// The 32-byte peer id of a public identity (its Ed25519 public key): how `Messenger` names
/// peers (`send`, `hasSession`, `ReceivedMessage.peer`).
#[napi]
pub fn peer_id(identity: &PublicIdentity) -> Buffer {
    Buffer::from(sealwire::store::peer_id(&identity.inner).to_vec())
}

// ---------------------------------------------------------------------------------------------
// Async work (libuv thread pool)
// ---------------------------------------------------------------------------------------------

type Work<T> = Box<dyn FnOnce() -> CoreResult<T> + Send>;

/// One messenger operation on the libuv pool, or a result computed already: an argument
/// error to reject with (so bad arguments of an `…Async` call reject its Promise instead of
/// throwing), or the outcome of an operation run synchronously on a JavaScript-backed
/// messenger (with the store callback's failure, if one caused the error).
pub struct MessengerJob<T: Send + 'static> {
    work: Option<Work<T>>,
    early: Option<CoreResult<T>>,
    failure: Option<Failure>,
}

impl<T: Send + 'static> std::fmt::Debug for MessengerJob<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessengerJob(..)")
    }
}

impl<T: Send + 'static> MessengerJob<T>
where
    Self: Task,
{
    pub(crate) fn new(work: impl FnOnce() -> CoreResult<T> + Send + 'static) -> AsyncTask<Self> {
        AsyncTask::new(Self {
            work: Some(Box::new(work)),
            early: None,
            failure: None,
        })
    }

    fn on(
        shared: &Shared,
        f: impl FnOnce(&mut Core) -> CoreResult<T> + Send + 'static,
    ) -> AsyncTask<Self> {
        let shared = Arc::clone(shared);
        Self::new(move || with_core(&shared, f))
    }

    pub(crate) fn failed(err: CoreError) -> AsyncTask<Self> {
        Self::settled(Err(err), None)
    }

    fn settled(result: CoreResult<T>, failure: Option<Failure>) -> AsyncTask<Self> {
        AsyncTask::new(Self {
            work: None,
            early: Some(result),
            failure,
        })
    }

    pub(crate) fn run(&mut self) -> napi::Result<Option<CoreResult<T>>> {
        Ok(match (self.early.take(), self.work.take()) {
            (Some(r), _) => Some(r),
            (None, Some(w)) => Some(w()),
            (None, None) => Some(Err(CoreError::InvalidParameter("no work"))),
        })
    }

    pub(crate) fn reject(&mut self, env: Env, err: CoreError) -> napi::Error {
        as_rejection(env, with_failure(err, self.failure.take()))
    }
}

// `Output` is an `Option` only so that `compute` has something to return without `T: Default`.
macro_rules! job_task {
    ($t:ty, $js:ty, $conv:expr) => {
        impl Task for MessengerJob<$t> {
            type Output = Option<CoreResult<$t>>;
            type JsValue = $js;
            fn compute(&mut self) -> napi::Result<Self::Output> {
                self.run()
            }
            fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<$js> {
                match output {
                    Some(Ok(v)) => Ok($conv(v)),
                    Some(Err(e)) => Err(self.reject(env, e)),
                    None => Err(self.reject(env, CoreError::InvalidParameter("no work"))),
                }
            }
        }
    };
}

pub(crate) use job_task;

job_task!(Core, Messenger, Messenger::wrap);
job_task!(OutboxRecord, OutboxMessage, outbox_js);
job_task!(Option<Received>, Option<ReceivedMessage>, received_opt_js);
job_task!((), (), |()| ());

// ---------------------------------------------------------------------------------------------
// PrekeyBundle
// ---------------------------------------------------------------------------------------------

/// A published prekey bundle: what an initiator needs to start a session with its owner
/// while the owner is offline (`Messenger.connect`). Every instance has been verified
/// (identity, signatures, keys). Public: publish `toBytes()` anywhere.
#[napi]
pub struct PrekeyBundle {
    pub(crate) inner: sealwire::ratchet::PrekeyBundle,
}

impl std::fmt::Debug for PrekeyBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrekeyBundle(..)")
    }
}

#[napi]
impl PrekeyBundle {
    /// Decode and verify a bundle (strict: bad magic, unknown version, truncation, trailing
    /// bytes, invalid keys and bad signatures all throw with their codes).
    #[napi(factory, strict)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        sealwire::ratchet::PrekeyBundle::from_bytes(bytes)
            .map(|inner| Self { inner })
            .map_err(to_js_error)
    }

    /// The canonical encoding (`docs/RATCHET_FORMATS.md`).
    #[napi]
    pub fn to_bytes(&self) -> Buffer {
        Buffer::from(self.inner.to_bytes())
    }

    /// The owner's public identity.
    #[napi(getter)]
    pub fn identity(&self) -> PublicIdentity {
        PublicIdentity {
            inner: self.inner.identity().clone(),
        }
    }

    /// Whether the bundle carries ML-KEM-768 prekeys (sessions started from it use PQXDH).
    #[napi(getter)]
    pub fn is_post_quantum(&self) -> bool {
        self.inner.is_post_quantum()
    }

    /// Number of one-time X25519 prekeys in the bundle.
    #[napi(getter)]
    pub fn one_time_prekey_count(&self) -> u32 {
        u32::try_from(self.inner.one_time_prekey_ids().len()).unwrap_or(u32::MAX)
    }
}

// ---------------------------------------------------------------------------------------------
// Messenger
// ---------------------------------------------------------------------------------------------

/// An agent's asynchronous sessions with its peers, persisted in one SQLite file (WAL,
/// `synchronous=FULL`), everything secret sealed under a 32-byte storage key.
///
/// `send` commits the new ratchet state and the ciphertext (outbox) before returning it;
/// after a crash, `pendingOutbox()` returns the same bytes to send again. `receive` commits
/// state, consumed prekey, duplicate marker and plaintext (inbox) in one transaction and
/// returns `null` for a message already received. Save `counter` outside the store after each
/// operation and pass it to `open` as `minCounter` to detect a rolled-back store.
///
/// One `Messenger` per file. Await each `…Async` call before the next operation on the same
/// messenger if order matters. `new Messenger()` is not allowed: use `create` / `open`.
///
/// Any other storage: `createWithStore` / `openWithStore` take an object implementing
/// `SessionStore` (`MemorySessionStore` is the reference implementation). Its methods are
/// called synchronously on the JavaScript thread; so over such a store the `…Async` forms
/// run the operation synchronously too and return a Promise already settled with its result.
#[napi]
pub struct Messenger {
    shared: Shared,
    /// `Some` for a messenger over a JavaScript store: where its callbacks' failures are
    /// recorded.
    js: Option<FailureSlot>,
}

impl std::fmt::Debug for Messenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Messenger(..)")
    }
}

impl Messenger {
    fn wrap(core: Core) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Some(Held::Plain(Box::new(core))))),
            js: None,
        }
    }

    /// Run `f` on the open messenger, here and now.
    fn call<T>(&self, f: impl FnOnce(&mut Core) -> CoreResult<T>) -> CoreResult<T> {
        match &self.js {
            None => with_core(&self.shared, f),
            Some(slot) => {
                let mut guard = try_lock(&self.shared)?;
                slot.take(); // forget a failure of an earlier operation
                let core = guard.as_mut().ok_or_else(closed)?.messenger();
                f(core)
            }
        }
    }

    /// The JS error for `err`, with the store callback's failure that caused it, if any.
    fn error(&self, err: CoreError) -> napi::Error<ErrorCode> {
        let failure = self.failure_for(&err);
        with_failure(err, failure)
    }

    /// The recorded store-callback failure behind `err`: only storage errors come from the
    /// store (and a refused reentrant call must not take the failure of the operation it
    /// interrupted).
    fn failure_for(&self, err: &CoreError) -> Option<Failure> {
        match err.kind() {
            ErrorKind::Storage | ErrorKind::StoreConflict => {
                self.js.as_ref().and_then(FailureSlot::take)
            }
            _ => None,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Core) -> CoreResult<T>) -> Result<T> {
        self.call(f).map_err(|e| self.error(e))
    }

    /// The Promise form of an operation: on the libuv pool over SQLite; run now, settled,
    /// over a JavaScript store.
    fn job<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> CoreResult<T> + Send + 'static,
    ) -> AsyncTask<MessengerJob<T>>
    where
        MessengerJob<T>: Task,
    {
        match &self.js {
            None => MessengerJob::on(&self.shared, f),
            Some(_) => {
                let result = self.call(f);
                let failure = result.as_ref().err().and_then(|e| self.failure_for(e));
                MessengerJob::settled(result, failure)
            }
        }
    }

    /// A second handle on the same messenger (`RelayAgent.messenger`, `intoMessenger`).
    pub(crate) fn from_shared(shared: Shared) -> Self {
        Self { shared, js: None }
    }

    /// Hand the core messenger over to a core relay agent built by `make`, named `token`
    /// (`new RelayAgent`); an agent that had it before gives it back first (and its
    /// `RelayAgent` no longer reaches it). Waits for a pending operation. Returns the lock
    /// shared with this handle.
    ///
    /// Refused for a messenger over a JavaScript store: the agent's network operations run
    /// on the libuv pool, where that store's callbacks cannot be called.
    pub(crate) fn attach_agent(
        &self,
        token: u64,
        make: impl FnOnce(Core) -> CoreResult<CoreAgent>,
    ) -> CoreResult<Shared> {
        if self.js.is_some() {
            return Err(CoreError::InvalidParameter(
                "a RelayAgent needs a messenger over SQLite (Messenger.create / open): the \
                 relay's network calls run on the libuv thread pool, where a JavaScript \
                 SessionStore cannot be called",
            ));
        }
        let mut guard = lock(&self.shared);
        let core = match guard.take().ok_or_else(closed)? {
            Held::Plain(core) => *core,
            Held::Agent { agent, .. } => agent.into_messenger(),
        };
        // `RelayAgent::new` only derives the mailbox keys; if it failed the handle would be
        // left closed (the store on disk is untouched).
        let agent = make(core)?;
        *guard = Some(Held::Agent {
            token,
            agent: Box::new(agent),
        });
        Ok(Arc::clone(&self.shared))
    }

    fn with_js_store(
        env: &Env,
        store: &Object<'_>,
        f: impl FnOnce(Store) -> CoreResult<Core>,
    ) -> Result<Self> {
        let slot = FailureSlot::default();
        let js = JsSessionStore::new(env, store, slot.clone()).map_err(to_js_error)?;
        match f(Box::new(js)) {
            Ok(core) => Ok(Self {
                shared: Arc::new(Mutex::new(Some(Held::Plain(Box::new(core))))),
                js: Some(slot),
            }),
            Err(e) => Err(with_failure(e, slot.take())),
        }
    }
}

#[napi]
impl Messenger {
    /// Set up a new store at `path` (the file must not hold another store) for `identity`:
    /// generates the prekeys and commits both, sealed under `storageKey` (32 bytes). Then
    /// publish `bundle()`. Blocks on disk I/O and one Argon2id run: prefer `createAsync`.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_LENGTH` (storage key), `ERR_SEALWIRE_STORAGE`
    /// (the database), `ERR_SEALWIRE_STORE_CONFLICT` (the file already holds a store),
    /// `ERR_SEALWIRE_INVALID_PARAMETER` (options).
    #[napi(factory, strict)]
    pub fn create(
        path: String,
        identity: &Identity,
        storage_key: &[u8],
        options: Option<MessengerCreateOptions>,
    ) -> Result<Self> {
        let opts = prekey_options(options.as_ref()).map_err(to_js_error)?;
        create_core(&path, &identity.inner, storage_key, opts)
            .map(Self::wrap)
            .map_err(to_js_error)
    }

    /// Like `create`, on the libuv thread pool. Rejections carry the same `code`s.
    #[napi(strict, ts_return_type = "Promise<Messenger>")]
    pub fn create_async(
        path: String,
        identity: &Identity,
        storage_key: &[u8],
        options: Option<MessengerCreateOptions>,
    ) -> AsyncTask<MessengerJob<Core>> {
        match prekey_options(options.as_ref()) {
            Ok(opts) => {
                let identity = Arc::clone(&identity.inner);
                let key = Zeroizing::new(storage_key.to_vec());
                MessengerJob::new(move || create_core(&path, &identity, &key, opts))
            }
            Err(e) => MessengerJob::failed(e),
        }
    }

    /// Open the store at `path` set up by `create`.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_STALE_STATE` if the store's counter is below
    /// `options.minCounter` (an older copy of the store: do not use it for sessions),
    /// `ERR_SEALWIRE_DECRYPTION_FAILED` for a wrong storage key, `ERR_SEALWIRE_STORAGE` for a
    /// missing or unreadable file.
    #[napi(factory, strict)]
    pub fn open(path: String, storage_key: &[u8], options: MessengerOpenOptions) -> Result<Self> {
        let min = to_u64(
            &options.min_counter,
            "minCounter must be a non-negative integer",
        )
        .map_err(to_js_error)?;
        open_core(&path, storage_key, min)
            .map(Self::wrap)
            .map_err(to_js_error)
    }

    /// Like `open`, on the libuv thread pool. Rejections carry the same `code`s.
    #[napi(strict, ts_return_type = "Promise<Messenger>")]
    pub fn open_async(
        path: String,
        storage_key: &[u8],
        options: MessengerOpenOptions,
    ) -> AsyncTask<MessengerJob<Core>> {
        match to_u64(
            &options.min_counter,
            "minCounter must be a non-negative integer",
        ) {
            Ok(min) => {
                let key = Zeroizing::new(storage_key.to_vec());
                MessengerJob::new(move || open_core(&path, &key, min))
            }
            Err(e) => MessengerJob::failed(e),
        }
    }

    /// Set up a new messenger over `store`, a `SessionStore` written in JavaScript (for
    /// instance over the application's own database; `MemorySessionStore` is the reference
    /// implementation): like `create`, the prekeys are generated and committed with the
    /// identity (`store.commitIdentity`), everything secret sealed under `storageKey`.
    ///
    /// The store's methods are called synchronously, on this thread, during each operation
    /// (see `SessionStore`). The `…Async` forms of such a messenger run synchronously too
    /// and return a Promise already settled with the result.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` (`store` lacks a method, bad
    /// options), `ERR_SEALWIRE_INVALID_LENGTH` (storage key), `ERR_SEALWIRE_STORAGE` (a store
    /// method threw or returned a wrong value: the message names it, `cause` is what it
    /// threw), `ERR_SEALWIRE_STORE_CONFLICT` (the store already holds an identity).
    #[napi(
        factory,
        strict,
        ts_args_type = "store: import('./sealwire').SessionStore, identity: Identity, storageKey: Uint8Array, options?: MessengerCreateOptions | undefined | null"
    )]
    pub fn create_with_store(
        env: Env,
        store: Object<'_>,
        identity: &Identity,
        storage_key: &[u8],
        options: Option<MessengerCreateOptions>,
    ) -> Result<Self> {
        let opts = prekey_options(options.as_ref()).map_err(to_js_error)?;
        let id = identity.inner.duplicate();
        Self::with_js_store(&env, &store, |s| {
            Core::create(s, id, storage_key, opts, now_unix())
        })
    }

    /// Open a messenger over a JavaScript `store` set up by `createWithStore` (for instance
    /// after a restart, over the same database). `options.minCounter` as for `open`.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_STALE_STATE` (the store's counter is below
    /// `minCounter`), `ERR_SEALWIRE_DECRYPTION_FAILED` (wrong storage key),
    /// `ERR_SEALWIRE_STORAGE` (the store holds no identity, or a store method failed).
    #[napi(
        factory,
        strict,
        ts_args_type = "store: import('./sealwire').SessionStore, storageKey: Uint8Array, options: MessengerOpenOptions"
    )]
    pub fn open_with_store(
        env: Env,
        store: Object<'_>,
        storage_key: &[u8],
        options: MessengerOpenOptions,
    ) -> Result<Self> {
        let min = to_u64(
            &options.min_counter,
            "minCounter must be a non-negative integer",
        )
        .map_err(to_js_error)?;
        Self::with_js_store(&env, &store, |s| Core::open(s, storage_key, min))
    }

    /// Our own public identity.
    #[napi(getter)]
    pub fn identity(&self) -> Result<PublicIdentity> {
        self.with(|m| {
            Ok(PublicIdentity {
                inner: m.identity().clone(),
            })
        })
    }

    /// The store counter after our last commit. Save it outside the store and pass it to
    /// `open` as `minCounter`.
    #[napi(getter)]
    pub fn counter(&self) -> Result<BigInt> {
        self.with(|m| Ok(BigInt::from(m.counter())))
    }

    /// The prekey bundle to publish (current signed prekey, every unused one-time prekey).
    #[napi]
    pub fn bundle(&self) -> Result<PrekeyBundle> {
        self.with(|m| m.bundle().map(|inner| PrekeyBundle { inner }))
    }

    /// Unused one-time X25519 prekeys (each accepted session consumes one).
    #[napi]
    pub fn one_time_prekey_count(&self) -> Result<u32> {
        self.with(|m| {
            m.one_time_prekey_count()
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    /// Top the one-time prekeys back up and commit; publish `bundle()` again.
    #[napi]
    pub fn replenish_prekeys(&self) -> Result<()> {
        self.with(|m| m.replenish_prekeys())
    }

    /// Start a session with `peer` from its bundle and commit it (offline: the peer learns
    /// of the session from the first message). An existing session is kept as an older one.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_IDENTITY_MISMATCH` if the bundle is not `peer`'s.
    #[napi(strict)]
    pub fn connect(&self, peer: &PublicIdentity, bundle: &PrekeyBundle) -> Result<()> {
        self.with(|m| m.connect(&peer.inner, &bundle.inner))
    }

    /// Like `connect`, on the libuv thread pool.
    #[napi(strict, ts_return_type = "Promise<void>")]
    pub fn connect_async(
        &self,
        peer: &PublicIdentity,
        bundle: &PrekeyBundle,
    ) -> AsyncTask<MessengerJob<()>> {
        let peer = peer.inner.clone();
        let bundle = bundle.inner.clone();
        self.job(move |m| m.connect(&peer, &bundle))
    }

    /// Whether a session with `peer` (a `PublicIdentity` or a 32-byte peer id) exists.
    #[napi(strict)]
    pub fn has_session(
        &self,
        peer: Either<ClassInstance<'_, PublicIdentity>, Uint8Array>,
    ) -> Result<bool> {
        let pid = to_peer(&peer).map_err(to_js_error)?;
        self.with(|m| m.has_session(&pid))
    }

    /// The peer ids of every peer with a session.
    #[napi]
    pub fn peers(&self) -> Result<Vec<Buffer>> {
        self.with(|m| m.peers())
            .map(|ps| ps.into_iter().map(|p| Buffer::from(p.to_vec())).collect())
    }

    /// Encrypt `plaintext` for `peer`, commit the new state and the ciphertext (outbox), and
    /// return the record: send `ciphertext`, then `markSent(id)`.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_NO_SESSION` without a session (`connect` first),
    /// `ERR_SEALWIRE_INVALID_PARAMETER` (plaintext over 16 MiB), `ERR_SEALWIRE_STORAGE` /
    /// `ERR_SEALWIRE_STORE_CONFLICT` (nothing committed, nothing to send).
    #[napi(strict)]
    pub fn send(
        &self,
        peer: Either<ClassInstance<'_, PublicIdentity>, Uint8Array>,
        plaintext: &[u8],
    ) -> Result<OutboxMessage> {
        let pid = to_peer(&peer).map_err(to_js_error)?;
        self.with(|m| m.send(&pid, plaintext)).map(outbox_js)
    }

    /// Like `send`, on the libuv thread pool.
    #[napi(strict, ts_return_type = "Promise<OutboxMessage>")]
    pub fn send_async(
        &self,
        peer: Either<ClassInstance<'_, PublicIdentity>, Uint8Array>,
        plaintext: &[u8],
    ) -> AsyncTask<MessengerJob<OutboxRecord>> {
        match to_peer(&peer) {
            Ok(pid) => {
                let plaintext = Zeroizing::new(plaintext.to_vec());
                self.job(move |m| m.send(&pid, &plaintext))
            }
            Err(e) => MessengerJob::failed(e),
        }
    }

    /// Outbox records not yet marked sent, oldest first: after a restart, send each again
    /// (byte for byte) and `markSent` it.
    #[napi]
    pub fn pending_outbox(&self) -> Result<Vec<OutboxMessage>> {
        self.with(|m| m.pending_outbox())
            .map(|v| v.into_iter().map(outbox_js).collect())
    }

    /// The transport has taken outbox record `id`: forget it. Idempotent.
    #[napi(strict)]
    pub fn mark_sent(&self, id: Either<f64, BigInt>) -> Result<()> {
        let id = to_u64(&id, "id must be a non-negative integer").map_err(to_js_error)?;
        self.with(|m| m.mark_sent(id))
    }

    /// Like `markSent`, on the libuv thread pool.
    #[napi(strict, ts_return_type = "Promise<void>")]
    pub fn mark_sent_async(&self, id: Either<f64, BigInt>) -> AsyncTask<MessengerJob<()>> {
        match to_u64(&id, "id must be a non-negative integer") {
            Ok(id) => self.job(move |m| m.mark_sent(id)),
            Err(e) => MessengerJob::failed(e),
        }
    }

    /// Process one message from the wire: `null` for a message already received (same
    /// bytes; nothing changes), otherwise the committed message (handle it, then `ack(id)`).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_DECRYPTION_FAILED` (no session can read it),
    /// `ERR_SEALWIRE_REPLAY` (its keys were already used), a decoding code for garbage;
    /// nothing is committed.
    #[napi(strict)]
    pub fn receive(&self, message: &[u8]) -> Result<Option<ReceivedMessage>> {
        self.with(|m| m.receive(message))
            .map(|r| r.map(received_js))
    }

    /// Like `receive`, on the libuv thread pool.
    #[napi(strict, ts_return_type = "Promise<ReceivedMessage | null>")]
    pub fn receive_async(&self, message: &[u8]) -> AsyncTask<MessengerJob<Option<Received>>> {
        let message = message.to_vec();
        self.job(move |m| m.receive(&message))
    }

    /// Messages received and not yet acknowledged, oldest first (after a restart: handle
    /// those not handled yet, by id, and `ack` them).
    #[napi]
    pub fn pending_inbox(&self) -> Result<Vec<ReceivedMessage>> {
        self.with(|m| m.pending_inbox())
            .map(|v| v.into_iter().map(received_js).collect())
    }

    /// The application has durably handled inbox message `id`: delete its plaintext.
    /// Idempotent.
    #[napi(strict)]
    pub fn ack(&self, id: Either<f64, BigInt>) -> Result<()> {
        let id = to_u64(&id, "id must be a non-negative integer").map_err(to_js_error)?;
        self.with(|m| m.ack(id))
    }

    /// Like `ack`, on the libuv thread pool.
    #[napi(strict, ts_return_type = "Promise<void>")]
    pub fn ack_async(&self, id: Either<f64, BigInt>) -> AsyncTask<MessengerJob<()>> {
        match to_u64(&id, "id must be a non-negative integer") {
            Ok(id) => self.job(move |m| m.ack(id)),
            Err(e) => MessengerJob::failed(e),
        }
    }

    /// Close the database (waits for a pending async operation), or let go of the JavaScript
    /// store. Every later use throws `ERR_SEALWIRE_STORAGE`. Idempotent. Without it the file
    /// is closed (the store let go of) when the object is garbage-collected.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` if called from a callback of
    /// this messenger's own JavaScript store.
    #[napi]
    pub fn close(&self) -> Result<()> {
        if self.js.is_some() {
            try_lock(&self.shared).map_err(to_js_error)?.take();
        } else {
            lock(&self.shared).take();
        }
        Ok(())
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        if self.js.is_some() {
            // Busy means an operation of this messenger is running: not closed.
            try_lock(&self.shared).is_ok_and(|g| g.is_none())
        } else {
            lock(&self.shared).is_none()
        }
    }
}
