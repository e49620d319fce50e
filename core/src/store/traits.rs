//! The store interface: what [`super::Messenger`] needs from persistent storage.
//!
//! Modelled on libsignal's store traits (identity, prekeys, sessions), with one difference
//! that is the point of this layer: every state change is a single *commit* that writes all
//! the rows it touches in one transaction. libsignal's separate `store_session` /
//! `remove_pre_key` calls leave a window where a crash keeps one and loses the other; here
//! "new ratchet state + outbox record" and "new ratchet state + consumed prekey + dedupe
//! record + inbox record" are indivisible.
//!
//! The trait is object-safe and speaks only bytes and integers, so that an application (or
//! a Python / Node binding through callbacks) can implement it over its own database. Every
//! value it stores is either already sealed by the messenger (identity, prekeys, sessions,
//! inbox plaintexts: AEAD under the caller's storage key) or public (outbox ciphertexts,
//! message ids, peer ids, the counter); an implementation never sees a secret.

use crate::error::Result;

/// A peer's id: its Ed25519 public key (32 bytes), the same key `did:key` encodes.
pub type PeerId = [u8; 32];

/// Id of one message on the wire: `SHA-256("SEALWIRE_MESSAGE_ID_v1" ‖ message bytes)`.
/// Both sides compute it from the ciphertext alone; the receiver keeps it to recognize a
/// message it has already processed without decrypting it again.
pub type MessageId = [u8; 32];

/// A ciphertext committed for sending, kept until [`SessionStore::mark_sent`].
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// Local id: the counter value of the commit that created it (increasing).
    pub id: u64,
    /// Recipient.
    pub peer: PeerId,
    /// [`MessageId`] of `ciphertext`.
    pub message_id: MessageId,
    /// The exact bytes to (re)send. Never re-encrypted.
    pub ciphertext: Vec<u8>,
}

impl core::fmt::Debug for OutboxRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "OutboxRecord {{ id: {}, len: {} }}", self.id, self.ciphertext.len())
    }
}

/// A decrypted message committed for delivery, kept (sealed) until [`SessionStore::ack`].
#[derive(Clone, PartialEq, Eq)]
pub struct InboxRecord {
    /// Local id: the counter value of the commit that created it (increasing).
    pub id: u64,
    /// Sender.
    pub peer: PeerId,
    /// [`MessageId`] of the ciphertext it came from.
    pub message_id: MessageId,
    /// The plaintext, sealed under the storage key (format `SWIN`, see `docs/STORE.md`).
    pub sealed: Vec<u8>,
}

impl core::fmt::Debug for InboxRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "InboxRecord {{ id: {} }}", self.id)
    }
}

/// Everything one received message changes, written by [`SessionStore::commit_receive`]
/// in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct ReceiveCommit<'a> {
    /// The new store counter (exactly one more than the current one).
    pub counter: u64,
    /// The sender.
    pub peer: &'a PeerId,
    /// The sender's new sealed session record.
    pub session: &'a [u8],
    /// The new sealed prekey store when the message started a session (its one-time prekeys
    /// are then consumed), else `None`.
    pub prekeys: Option<&'a [u8]>,
    /// Recorded as seen; must not have been seen before.
    pub message_id: &'a MessageId,
    /// The decrypted message, for delivery.
    pub inbox: &'a InboxRecord,
}

/// Persistent storage for a [`super::Messenger`]: the agent's sealed identity and prekeys,
/// one sealed session record per peer, an outbox, an inbox, the set of message ids already
/// received, and a monotonic commit counter.
///
/// # Contract
///
/// * Every `commit_*` method is **one transaction**: all of its writes become durable
///   together before it returns `Ok`, or none of them do (after an error, and after a crash
///   at any point). "Durable" means surviving power loss, e.g. SQLite with
///   `synchronous=FULL`.
/// * Every `commit_*` method sets the store counter to its `counter` argument, which must be
///   exactly the current counter plus one; otherwise it changes nothing and returns
///   [`crate::Error::StoreConflict`] (this catches two writers on one store). The counter
///   of an empty store is 0. Only [`SessionStore::commit_identity`] may jump ahead (any
///   counter above the current one), so that a store rebuilt after a rollback never reuses
///   an outbox or inbox id.
/// * [`SessionStore::mark_sent`] and [`SessionStore::ack`] delete one record and are
///   idempotent (deleting a missing id is `Ok`); they do not change the counter.
/// * Reads return what the last successful commit wrote.
/// * Failures are reported as [`crate::Error::Storage`] (or `StoreConflict`); a binding's
///   callback error becomes `Storage`.
///
/// [`MemoryStore`](super::MemoryStore) is the reference implementation;
/// `SqliteStore` (feature `sqlite`) the persistent one.
pub trait SessionStore {
    /// The counter of the last commit (0 for an empty store).
    fn counter(&self) -> Result<u64>;
    /// The sealed identity (`SWSI`), if the store was set up.
    fn load_identity(&self) -> Result<Option<Vec<u8>>>;
    /// The sealed prekey store (`SWPS`), if the store was set up.
    fn load_prekeys(&self) -> Result<Option<Vec<u8>>>;
    /// The sealed session record (`SWSR`) for `peer`, if any.
    fn load_session(&self, peer: &PeerId) -> Result<Option<Vec<u8>>>;
    /// Every peer with a session record, in any order.
    fn peers(&self) -> Result<Vec<PeerId>>;
    /// Whether a message with this id was received (committed by `commit_receive`).
    fn seen(&self, message_id: &MessageId) -> Result<bool>;
    /// Outbox records not yet marked sent, in increasing id order.
    fn pending_outbox(&self) -> Result<Vec<OutboxRecord>>;
    /// Inbox records not yet acknowledged, in increasing id order.
    fn pending_inbox(&self) -> Result<Vec<InboxRecord>>;

    /// Set up an empty store: the sealed identity and prekey store. `counter` may be any
    /// value above the current counter. Fails with [`crate::Error::StoreConflict`] if an
    /// identity is already stored.
    fn commit_identity(&mut self, counter: u64, identity: &[u8], prekeys: &[u8]) -> Result<()>;
    /// Replace the sealed prekey store (rotation, replenishment, expiry).
    fn commit_prekeys(&mut self, counter: u64, prekeys: &[u8]) -> Result<()>;
    /// Replace (or create) `peer`'s sealed session record (a session started locally).
    fn commit_session(&mut self, counter: u64, peer: &PeerId, session: &[u8]) -> Result<()>;
    /// Replace `peer`'s sealed session record and add `outbox`, whose id equals `counter`.
    fn commit_send(&mut self, counter: u64, peer: &PeerId, session: &[u8], outbox: &OutboxRecord) -> Result<()>;
    /// Replace the sender's session record, optionally the prekey store, record the message
    /// id as seen and add the inbox record (whose id equals the counter).
    fn commit_receive(&mut self, commit: &ReceiveCommit<'_>) -> Result<()>;
    /// Delete an outbox record: the transport has taken the ciphertext.
    fn mark_sent(&mut self, outbox_id: u64) -> Result<()>;
    /// Delete an inbox record: the application has durably handled the plaintext.
    fn ack(&mut self, inbox_id: u64) -> Result<()>;
}

impl<T: SessionStore + ?Sized> SessionStore for Box<T> {
    fn counter(&self) -> Result<u64> {
        (**self).counter()
    }
    fn load_identity(&self) -> Result<Option<Vec<u8>>> {
        (**self).load_identity()
    }
    fn load_prekeys(&self) -> Result<Option<Vec<u8>>> {
        (**self).load_prekeys()
    }
    fn load_session(&self, peer: &PeerId) -> Result<Option<Vec<u8>>> {
        (**self).load_session(peer)
    }
    fn peers(&self) -> Result<Vec<PeerId>> {
        (**self).peers()
    }
    fn seen(&self, message_id: &MessageId) -> Result<bool> {
        (**self).seen(message_id)
    }
    fn pending_outbox(&self) -> Result<Vec<OutboxRecord>> {
        (**self).pending_outbox()
    }
    fn pending_inbox(&self) -> Result<Vec<InboxRecord>> {
        (**self).pending_inbox()
    }
    fn commit_identity(&mut self, counter: u64, identity: &[u8], prekeys: &[u8]) -> Result<()> {
        (**self).commit_identity(counter, identity, prekeys)
    }
    fn commit_prekeys(&mut self, counter: u64, prekeys: &[u8]) -> Result<()> {
        (**self).commit_prekeys(counter, prekeys)
    }
    fn commit_session(&mut self, counter: u64, peer: &PeerId, session: &[u8]) -> Result<()> {
        (**self).commit_session(counter, peer, session)
    }
    fn commit_send(&mut self, counter: u64, peer: &PeerId, session: &[u8], outbox: &OutboxRecord) -> Result<()> {
        (**self).commit_send(counter, peer, session, outbox)
    }
    fn commit_receive(&mut self, commit: &ReceiveCommit<'_>) -> Result<()> {
        (**self).commit_receive(commit)
    }
    fn mark_sent(&mut self, outbox_id: u64) -> Result<()> {
        (**self).mark_sent(outbox_id)
    }
    fn ack(&mut self, inbox_id: u64) -> Result<()> {
        (**self).ack(inbox_id)
    }
}
