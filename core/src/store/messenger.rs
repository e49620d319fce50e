//! [`Messenger`]: Double Ratchet sessions with many peers over a [`SessionStore`], with
//! crash-safe sending and exactly-once receiving.
//!
//! Why it exists: a ratchet session is only safe if its state is committed *before* a
//! ciphertext leaves the process (otherwise a crash and restart re-derives a message key
//! already used, for a different plaintext), and a received message is only processed once
//! if the new state, the consumed one-time prekey and the fact that the message was seen
//! are committed together. `Messenger` is the one place that gets this order right:
//!
//! * [`Messenger::send`] encrypts, then commits the new session state *and* an outbox record
//!   holding the exact ciphertext in one transaction, then returns it. After a crash,
//!   [`Messenger::pending_outbox`] returns the same bytes to send again; nothing is ever
//!   re-encrypted.
//! * [`Messenger::receive`] recognizes an already-received message by its id (a hash of the
//!   ciphertext) without decrypting; otherwise it decrypts and commits the new session
//!   state, the consumed one-time prekeys (when the message started a session), the message
//!   id and the sealed plaintext (inbox) in one transaction. The application acknowledges
//!   the plaintext with [`Messenger::ack`] once it has durably handled it;
//!   [`Messenger::pending_inbox`] re-delivers what was not acknowledged before a crash.
//!
//! In memory, every operation works on the cached copy only after a successful commit: a
//! failed commit (or any error) leaves both the store and the messenger as they were.

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::records::{self, message_id, peer_id, PeerRecord};
use super::traits::{InboxRecord, MessageId, OutboxRecord, PeerId, ReceiveCommit, SessionStore};
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity};
use crate::random::OsRandom;
use crate::ratchet::{
    initial_message_sender, message_kind, MessageKind, PrekeyBundle, PrekeyOptions, PrekeyStore, Session,
    SessionOptions, STORAGE_KEY_LEN,
};

/// A message received and committed, waiting for [`Messenger::ack`].
#[derive(Clone, PartialEq, Eq)]
pub struct Received {
    /// Inbox id: increasing, unique for the lifetime of the store. Use it to make the
    /// application's handling idempotent (a message re-delivered by
    /// [`Messenger::pending_inbox`] after a crash has the same id).
    pub id: u64,
    /// The sender (authenticated by the session).
    pub peer: PeerId,
    /// Id of the ciphertext it came from.
    pub message_id: MessageId,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

impl core::fmt::Debug for Received {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Received {{ id: {}, len: {} }}", self.id, self.plaintext.len())
    }
}

/// An agent's asynchronous sessions with its peers, persisted in a [`SessionStore`].
///
/// One `Messenger` per store: a second writer makes the other's next commit fail with
/// [`Error::StoreConflict`] (never a forked ratchet).
pub struct Messenger<S: SessionStore> {
    store: S,
    key: Zeroizing<[u8; STORAGE_KEY_LEN]>,
    identity: Identity,
    /// Cached prekey store; `None` after a failed commit (reloaded on next use).
    prekeys: Option<PrekeyStore>,
    /// Cached session records; an entry is removed while an operation works on it and only
    /// put back after the operation's commit succeeded (or it changed nothing).
    records: HashMap<PeerId, PeerRecord>,
    /// The store counter as of our last commit.
    counter: u64,
}

impl<S: SessionStore> core::fmt::Debug for Messenger<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Messenger {{ counter: {}, cached_peers: {} }}", self.counter, self.records.len())
    }
}

fn check_storage_key(key: &[u8]) -> Result<Zeroizing<[u8; STORAGE_KEY_LEN]>> {
    let k: [u8; STORAGE_KEY_LEN] = key.try_into().map_err(|_| Error::InvalidLength {
        what: "storage key",
        expected: STORAGE_KEY_LEN,
        actual: key.len(),
    })?;
    Ok(Zeroizing::new(k))
}

impl<S: SessionStore> Messenger<S> {
    /// Set up an empty store for `identity`: generates its prekeys (`prekey_options`;
    /// `now_unix` dates the signed prekey) and commits both, sealed under `storage_key`
    /// (32 bytes). Publish [`Messenger::bundle`] afterwards.
    pub fn create(
        store: S,
        identity: Identity,
        storage_key: &[u8],
        prekey_options: PrekeyOptions,
        now_unix: u64,
    ) -> Result<Self> {
        Self::create_above(store, identity, storage_key, prekey_options, now_unix, 0)
    }

    /// [`Messenger::create`] whose first commit is above `min_counter`, so that outbox and
    /// inbox ids stay unique across a store that was lost or replaced (used by
    /// `agent::Agent`, which keeps the last counter in its state file).
    pub(crate) fn create_above(
        mut store: S,
        identity: Identity,
        storage_key: &[u8],
        prekey_options: PrekeyOptions,
        now_unix: u64,
        min_counter: u64,
    ) -> Result<Self> {
        let key = check_storage_key(storage_key)?;
        let counter = store.counter()?.max(min_counter).checked_add(1).ok_or(Error::StoreConflict)?;
        let prekeys = PrekeyStore::generate_with_options(&identity, prekey_options, now_unix)?;
        let sealed_identity = records::seal_identity(&identity, key.as_ref(), counter, &mut OsRandom)?;
        let sealed_prekeys = prekeys.seal_at(key.as_ref(), counter, &mut OsRandom)?;
        store.commit_identity(counter, &sealed_identity, &sealed_prekeys)?;
        Ok(Self { store, key, identity, prekeys: Some(prekeys), records: HashMap::new(), counter })
    }

    /// Start over after a rollback: [`Messenger::open`] refused `stale` with
    /// [`Error::StaleState`] and the newer state is lost. Sets up the empty store `fresh`
    /// with the identity from `stale`, **new** prekeys (the stale prekey store may still
    /// hold one-time prekeys already consumed) and a counter above `min_counter` (so no
    /// outbox or inbox id repeats). Nothing else is taken from `stale`: its sessions may
    /// re-derive message keys already used.
    ///
    /// Returns the new messenger and the peers `stale` had sessions with. Then: publish the
    /// new [`Messenger::bundle`], fetch each peer's bundle and [`Messenger::connect`] again
    /// (the peer's messenger takes the new initial message as a new current session), and
    /// treat messages of the lost interval as possibly lost. See `docs/STORE.md`.
    pub fn recover_from_rollback<T: SessionStore>(
        stale: T,
        mut fresh: S,
        storage_key: &[u8],
        min_counter: u64,
        prekey_options: PrekeyOptions,
        now_unix: u64,
    ) -> Result<(Self, Vec<PeerId>)> {
        let key = check_storage_key(storage_key)?;
        let blob = stale.load_identity()?.ok_or(Error::Storage("the store holds no identity"))?;
        let (identity, _) = records::open_identity(&blob, key.as_ref())?;
        let peers = stale.peers()?;
        let counter = min_counter
            .max(stale.counter()?)
            .max(fresh.counter()?)
            .checked_add(1)
            .ok_or(Error::StoreConflict)?;
        let prekeys = PrekeyStore::generate_with_options(&identity, prekey_options, now_unix)?;
        let sealed_identity = records::seal_identity(&identity, key.as_ref(), counter, &mut OsRandom)?;
        let sealed_prekeys = prekeys.seal_at(key.as_ref(), counter, &mut OsRandom)?;
        fresh.commit_identity(counter, &sealed_identity, &sealed_prekeys)?;
        let m = Self { store: fresh, key, identity, prekeys: Some(prekeys), records: HashMap::new(), counter };
        Ok((m, peers))
    }

    /// Open a store set up by [`Messenger::create`].
    ///
    /// `min_counter` is the lowest store counter the caller accepts: the
    /// [`Messenger::counter`] it saved after its last operation, kept *outside* this store
    /// (0 to skip the check). A smaller counter means an older copy of the store was
    /// restored: [`Error::StaleState`]. Do not use such a store for sessions (it would
    /// re-derive message keys already used); see `docs/STORE.md` for what to do.
    pub fn open(store: S, storage_key: &[u8], min_counter: u64) -> Result<Self> {
        let key = check_storage_key(storage_key)?;
        let counter = store.counter()?;
        if counter < min_counter {
            return Err(Error::StaleState { found: counter, expected: min_counter });
        }
        let blob = store.load_identity()?.ok_or(Error::Storage("the store holds no identity"))?;
        let (identity, generation) = records::open_identity(&blob, key.as_ref())?;
        check_not_newer(generation, counter)?;
        let mut m = Self { store, key, identity, prekeys: None, records: HashMap::new(), counter };
        let prekeys = m.take_prekeys()?;
        m.prekeys = Some(prekeys);
        Ok(m)
    }

    /// Our own public identity.
    pub fn identity(&self) -> &PublicIdentity {
        self.identity.public()
    }

    /// The private identity, for protocol code inside this crate (relay request signatures
    /// and mailbox keys). Never handed out.
    #[allow(dead_code)]
    pub(crate) fn identity_secret(&self) -> &Identity {
        &self.identity
    }

    /// Our peer id (Ed25519 public key).
    pub fn peer_id(&self) -> PeerId {
        peer_id(self.identity.public())
    }

    /// The store counter after our last commit. Save it outside the store (after each
    /// operation, or at least before shutting down) and pass it to [`Messenger::open`] to
    /// detect a rolled-back store.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Give the store back (closing the messenger).
    pub fn into_store(self) -> S {
        self.store
    }

    /// The prekey bundle to publish (current signed prekey, every unused one-time prekey).
    pub fn bundle(&mut self) -> Result<PrekeyBundle> {
        let p = self.take_prekeys()?;
        let b = p.bundle();
        self.prekeys = Some(p);
        Ok(b)
    }

    /// Unused one-time X25519 prekeys (accepted sessions consume them).
    pub fn one_time_prekey_count(&mut self) -> Result<usize> {
        let p = self.take_prekeys()?;
        let n = p.one_time_prekey_count();
        self.prekeys = Some(p);
        Ok(n)
    }

    /// When the current signed prekey was created (Unix seconds, the `now_unix` given to
    /// [`Messenger::create`] or [`Messenger::rotate_signed_prekey`]): what a rotation
    /// schedule compares against.
    pub fn signed_prekey_created_at(&mut self) -> Result<u64> {
        let p = self.take_prekeys()?;
        let t = p.signed_prekey_created_at();
        self.prekeys = Some(p);
        Ok(t)
    }

    /// Top the one-time prekeys back up and commit; publish [`Messenger::bundle`] again.
    pub fn replenish_prekeys(&mut self) -> Result<()> {
        let mut p = self.take_prekeys()?;
        p.replenish(&self.identity)?;
        self.commit_prekeys(p)
    }

    /// The directory (relay) still holds `remaining_one_time` / `remaining_kem_one_time`
    /// unclaimed one-time prekeys: add enough new ones to bring it back to the configured
    /// counts (see [`PrekeyStore::replenish_directory`]) and commit; publish
    /// [`Messenger::bundle`] again.
    pub fn replenish_directory_prekeys(&mut self, remaining_one_time: usize, remaining_kem_one_time: usize) -> Result<()> {
        let mut p = self.take_prekeys()?;
        p.replenish_directory(&self.identity, remaining_one_time, remaining_kem_one_time)?;
        self.commit_prekeys(p)
    }

    /// Replace the signed prekey (and last-resort ML-KEM prekey) and commit; publish
    /// [`Messenger::bundle`] again.
    pub fn rotate_signed_prekey(&mut self, now_unix: u64) -> Result<()> {
        let mut p = self.take_prekeys()?;
        p.rotate_signed_prekey(&self.identity, now_unix)?;
        self.commit_prekeys(p)
    }

    /// Forget replaced signed prekeys retired more than `grace_secs` ago (see
    /// [`PrekeyStore::remove_expired_signed_prekeys`]) and commit if any were removed.
    pub fn remove_expired_signed_prekeys(&mut self, now_unix: u64, grace_secs: u64) -> Result<usize> {
        let mut p = self.take_prekeys()?;
        let removed = p.remove_expired_signed_prekeys(now_unix, grace_secs);
        if removed == 0 {
            self.prekeys = Some(p);
            return Ok(0);
        }
        self.commit_prekeys(p)?;
        Ok(removed)
    }

    /// Start a session with `peer` from its bundle (header encryption on) and commit it.
    /// Works offline; the peer learns of the session from the first message sent. An
    /// existing session with `peer` is kept as an older session (its in-flight messages
    /// still decrypt), the new one becomes current.
    pub fn connect(&mut self, peer: &PublicIdentity, bundle: &PrekeyBundle) -> Result<()> {
        self.connect_with_options(peer, bundle, SessionOptions::default())
    }

    /// [`Messenger::connect`] with explicit session options.
    pub fn connect_with_options(
        &mut self,
        peer: &PublicIdentity,
        bundle: &PrekeyBundle,
        options: SessionOptions,
    ) -> Result<()> {
        let session = Session::initiate_with_options(&self.identity, peer, bundle, options)?;
        let pid = peer_id(peer);
        let record = match self.take_record(&pid)? {
            Some(mut r) => {
                r.push_current(session);
                r
            }
            None => PeerRecord::new(pid, session),
        };
        let counter = self.next_counter()?;
        let sealed = record.seal(self.key.as_ref(), counter, &mut OsRandom)?;
        self.store.commit_session(counter, &pid, &sealed)?;
        self.counter = counter;
        self.records.insert(pid, record);
        Ok(())
    }

    /// Whether a session with `peer` exists.
    pub fn has_session(&mut self, peer: &PeerId) -> Result<bool> {
        Ok(self.peek(peer, |_| ())?.is_some())
    }

    /// Every peer with a session.
    pub fn peers(&self) -> Result<Vec<PeerId>> {
        self.store.peers()
    }

    /// The public identity of `peer` as authenticated by its current session.
    pub fn peer_identity(&mut self, peer: &PeerId) -> Result<Option<PublicIdentity>> {
        self.peek(peer, |r| r.sessions[0].peer_identity().clone())
    }

    /// Messages committed for sending to `peer`, ever (0 without a session). Committed in
    /// the same transaction as each outbox record, so after a crash it tells exactly which
    /// messages were sent.
    pub fn sent_count(&mut self, peer: &PeerId) -> Result<u64> {
        Ok(self.peek(peer, |r| r.sent)?.unwrap_or(0))
    }

    /// Messages received from `peer` and committed, ever.
    pub fn received_count(&mut self, peer: &PeerId) -> Result<u64> {
        Ok(self.peek(peer, |r| r.received)?.unwrap_or(0))
    }

    /// Encrypt `plaintext` for `peer` with the current session, commit the new state and an
    /// outbox record holding the ciphertext (one transaction), and return the record. Send
    /// `record.ciphertext`, then call [`Messenger::mark_sent`]. If the process dies in
    /// between, [`Messenger::pending_outbox`] returns the same record after a restart.
    ///
    /// [`Error::NoSession`] without a session (see [`Messenger::connect`]).
    pub fn send(&mut self, peer: &PeerId, plaintext: &[u8]) -> Result<OutboxRecord> {
        let mut record = self.take_record(peer)?.ok_or(Error::NoSession)?;
        let ciphertext = match record.sessions[0].encrypt(plaintext) {
            Ok(c) => c,
            Err(e) => {
                // encrypt is all-or-nothing: the record is unchanged.
                self.records.insert(*peer, record);
                return Err(e);
            }
        };
        // From here on `record` is ahead of the store: on any error it is dropped and the
        // next operation reloads the committed state.
        record.sent = record.sent.checked_add(1).ok_or(Error::InvalidParameter("message count overflow"))?;
        let counter = self.next_counter()?;
        let sealed = record.seal(self.key.as_ref(), counter, &mut OsRandom)?;
        let outbox = OutboxRecord { id: counter, peer: *peer, message_id: message_id(&ciphertext), ciphertext };
        self.store.commit_send(counter, peer, &sealed, &outbox)?;
        self.counter = counter;
        self.records.insert(*peer, record);
        Ok(outbox)
    }

    /// Outbox records not yet marked sent, oldest first: after a restart, send each again
    /// (byte for byte) and mark it sent. The receiver drops the duplicates.
    pub fn pending_outbox(&self) -> Result<Vec<OutboxRecord>> {
        self.store.pending_outbox()
    }

    /// The transport has taken outbox record `id`: forget it. Idempotent.
    pub fn mark_sent(&mut self, id: u64) -> Result<()> {
        self.store.mark_sent(id)
    }

    /// Process one message from the wire.
    ///
    /// * `Ok(None)`: a message already received (same bytes); nothing changes.
    /// * `Ok(Some(received))`: decrypted, and the new session state, the consumed one-time
    ///   prekeys (for a message that started a session), the message id and the plaintext
    ///   were committed in one transaction. Handle the plaintext, then
    ///   [`Messenger::ack`] its id.
    /// * `Err(_)`: nothing committed, nothing changed ([`Error::Replay`] for a message whose
    ///   keys were already used, [`Error::DecryptionFailed`] for one no session can read).
    ///
    /// Initial messages (`SWRI`) name their sender and go to that peer's sessions, or start
    /// a new session. Ratchet messages (`SWRM`, headers encrypted) name nobody: every
    /// session is tried, current ones first.
    pub fn receive(&mut self, message: &[u8]) -> Result<Option<Received>> {
        let mid = message_id(message);
        if self.store.seen(&mid)? {
            return Ok(None);
        }
        match message_kind(message)? {
            MessageKind::Initial => self.receive_initial(message, mid).map(Some),
            MessageKind::Ratchet => self.receive_ratchet(message, mid).map(Some),
        }
    }

    /// Messages committed by [`Messenger::receive`] and not yet acknowledged, oldest first.
    /// After a restart, handle each whose id the application has not handled yet, and ack it.
    pub fn pending_inbox(&self) -> Result<Vec<Received>> {
        let mut out = Vec::new();
        for r in self.store.pending_inbox()? {
            check_not_newer(r.id, self.counter)?;
            let plaintext = records::open_inbox(&r.sealed, self.key.as_ref(), r.id, &r.peer, &r.message_id)?;
            out.push(Received { id: r.id, peer: r.peer, message_id: r.message_id, plaintext });
        }
        Ok(out)
    }

    /// The application has durably handled inbox message `id`: delete its plaintext.
    /// Idempotent.
    pub fn ack(&mut self, id: u64) -> Result<()> {
        self.store.ack(id)
    }

    fn receive_initial(&mut self, message: &[u8], mid: MessageId) -> Result<Received> {
        let sender = initial_message_sender(message)?;
        let pid = peer_id(&sender);
        let record = self.take_record(&pid)?;
        if let Some(mut r) = record {
            for i in 0..r.sessions.len() {
                match r.sessions[i].decrypt(message) {
                    Ok(plaintext) => {
                        r.promote(i);
                        return self.commit_received(r, None, mid, plaintext);
                    }
                    // Another session (or ours as initiator): keep looking.
                    Err(Error::SessionMismatch) => continue,
                    // This session's own initial message, rejected (replay, forgery): never
                    // start a second session from it.
                    Err(e) => {
                        self.records.insert(pid, r);
                        return Err(e);
                    }
                }
            }
            self.accept(message, mid, pid, Some(r))
        } else {
            self.accept(message, mid, pid, None)
        }
    }

    fn accept(&mut self, message: &[u8], mid: MessageId, pid: PeerId, record: Option<PeerRecord>) -> Result<Received> {
        let mut prekeys = self.take_prekeys()?;
        let (session, plaintext) = match Session::accept(&self.identity, &mut prekeys, message) {
            Ok(x) => x,
            Err(e) => {
                // accept is all-or-nothing: prekeys and record unchanged.
                self.prekeys = Some(prekeys);
                if let Some(r) = record {
                    self.records.insert(pid, r);
                }
                return Err(e);
            }
        };
        if peer_id(session.peer_identity()) != pid {
            return Err(Error::IdentityMismatch("initial message sender"));
        }
        let record = match record {
            Some(mut r) => {
                r.push_current(session);
                r
            }
            None => PeerRecord::new(pid, session),
        };
        self.commit_received(record, Some(prekeys), mid, plaintext)
    }

    fn receive_ratchet(&mut self, message: &[u8], mid: MessageId) -> Result<Received> {
        self.load_all()?;
        let peers: Vec<PeerId> = self.records.keys().copied().collect();
        // The most telling error wins: a replay, then anything but a failed trial decryption
        // (e.g. too many skipped messages), then DecryptionFailed.
        let mut best: Option<Error> = None;
        for pid in peers {
            let Some(mut r) = self.records.remove(&pid) else { continue };
            for i in 0..r.sessions.len() {
                match r.sessions[i].decrypt(message) {
                    Ok(plaintext) => {
                        r.promote(i);
                        return self.commit_received(r, None, mid, plaintext);
                    }
                    Err(e @ Error::Replay(_)) => best = Some(e),
                    Err(Error::DecryptionFailed) => {}
                    Err(e) => {
                        if !matches!(best, Some(Error::Replay(_))) {
                            best = Some(e);
                        }
                    }
                }
            }
            self.records.insert(pid, r);
        }
        Err(best.unwrap_or(Error::DecryptionFailed))
    }

    /// Commit a decrypted message. `record` (and `prekeys`) are ahead of the store: on error
    /// they are dropped, and the next operation reloads the committed state.
    fn commit_received(
        &mut self,
        mut record: PeerRecord,
        prekeys: Option<PrekeyStore>,
        mid: MessageId,
        plaintext: Vec<u8>,
    ) -> Result<Received> {
        record.received = record.received.checked_add(1).ok_or(Error::InvalidParameter("message count overflow"))?;
        let counter = self.next_counter()?;
        let key = self.key.as_ref();
        let sealed = record.seal(key, counter, &mut OsRandom)?;
        let sealed_prekeys = prekeys.as_ref().map(|p| p.seal_at(key, counter, &mut OsRandom)).transpose()?;
        let inbox = InboxRecord {
            id: counter,
            peer: record.peer,
            message_id: mid,
            sealed: records::seal_inbox(key, counter, &record.peer, &mid, &plaintext, &mut OsRandom)?,
        };
        self.store.commit_receive(&ReceiveCommit {
            counter,
            peer: &record.peer,
            session: &sealed,
            prekeys: sealed_prekeys.as_deref(),
            message_id: &mid,
            inbox: &inbox,
        })?;
        self.counter = counter;
        if prekeys.is_some() {
            self.prekeys = prekeys;
        }
        let peer = record.peer;
        self.records.insert(peer, record);
        Ok(Received { id: counter, peer, message_id: mid, plaintext })
    }

    fn commit_prekeys(&mut self, prekeys: PrekeyStore) -> Result<()> {
        let counter = self.next_counter()?;
        let sealed = prekeys.seal_at(self.key.as_ref(), counter, &mut OsRandom)?;
        self.store.commit_prekeys(counter, &sealed)?;
        self.counter = counter;
        self.prekeys = Some(prekeys);
        Ok(())
    }

    fn next_counter(&self) -> Result<u64> {
        self.counter.checked_add(1).ok_or(Error::StoreConflict)
    }

    /// The cached prekey store, or the committed one (checked against our identity).
    fn take_prekeys(&mut self) -> Result<PrekeyStore> {
        if let Some(p) = self.prekeys.take() {
            return Ok(p);
        }
        let blob = self.store.load_prekeys()?.ok_or(Error::Storage("the store holds no prekeys"))?;
        let p = PrekeyStore::open(&blob, self.key.as_ref())?;
        check_not_newer(p.generation(), self.counter)?;
        if p.identity() != self.identity.public() {
            return Err(Error::IdentityMismatch("the stored prekeys belong to another identity"));
        }
        Ok(p)
    }

    /// Remove `peer`'s record from the cache, or load the committed one.
    fn take_record(&mut self, peer: &PeerId) -> Result<Option<PeerRecord>> {
        if let Some(r) = self.records.remove(peer) {
            return Ok(Some(r));
        }
        let Some(blob) = self.store.load_session(peer)? else { return Ok(None) };
        let (r, generation) = PeerRecord::open(&blob, self.key.as_ref(), peer)?;
        check_not_newer(generation, self.counter)?;
        Ok(Some(r))
    }

    fn peek<T>(&mut self, peer: &PeerId, f: impl FnOnce(&PeerRecord) -> T) -> Result<Option<T>> {
        let Some(r) = self.take_record(peer)? else { return Ok(None) };
        let out = f(&r);
        self.records.insert(*peer, r);
        Ok(Some(out))
    }

    fn load_all(&mut self) -> Result<()> {
        for pid in self.store.peers()? {
            if !self.records.contains_key(&pid) {
                if let Some(r) = self.take_record(&pid)? {
                    self.records.insert(pid, r);
                }
            }
        }
        Ok(())
    }
}


/// A blob sealed at a generation above the store counter: the counter went back while the
/// blob did not (part of the store was restored). Refuse it.
fn check_not_newer(generation: u64, counter: u64) -> Result<()> {
    if generation > counter {
        return Err(Error::StaleState { found: counter, expected: generation });
    }
    Ok(())
}
