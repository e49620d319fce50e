//! [`MemoryStore`]: the reference implementation of [`SessionStore`], in memory.
//!
//! It exists to pin the trait's semantics down in the simplest possible code (binding
//! authors can mirror it), and for tests: it is `Clone`, so a test can snapshot a store,
//! "crash" by dropping the messenger, and restore an older copy to exercise rollback
//! detection; [`MemoryStore::fail_next_commits`] injects commit failures.

use std::collections::{BTreeMap, BTreeSet};

use super::traits::{InboxRecord, MessageId, OutboxRecord, PeerId, ReceiveCommit, SessionStore};
use crate::error::{Error, Result};

/// An in-memory [`SessionStore`]. Nothing survives the process; use it for tests, or as the
/// model for a store of your own.
#[derive(Clone, Default)]
pub struct MemoryStore {
    counter: u64,
    identity: Option<Vec<u8>>,
    prekeys: Option<Vec<u8>>,
    sessions: BTreeMap<PeerId, Vec<u8>>,
    outbox: BTreeMap<u64, OutboxRecord>,
    inbox: BTreeMap<u64, InboxRecord>,
    seen: BTreeSet<MessageId>,
    fail_commits: u32,
}

impl core::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "MemoryStore {{ counter: {}, sessions: {}, outbox: {}, inbox: {}, seen: {} }}",
            self.counter,
            self.sessions.len(),
            self.outbox.len(),
            self.inbox.len(),
            self.seen.len()
        )
    }
}

impl MemoryStore {
    /// An empty store (counter 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Make the next `n` commits fail with [`Error::Storage`] without changing anything
    /// (for testing that a failed commit leaves the messenger consistent).
    pub fn fail_next_commits(&mut self, n: u32) {
        self.fail_commits = n;
    }

    /// The checks every commit starts with: injected failure, then the counter rule.
    fn begin(&mut self, counter: u64) -> Result<()> {
        if self.fail_commits > 0 {
            self.fail_commits -= 1;
            return Err(Error::Storage("injected commit failure"));
        }
        if Some(counter) != self.counter.checked_add(1) {
            return Err(Error::StoreConflict);
        }
        Ok(())
    }
}

impl SessionStore for MemoryStore {
    fn counter(&self) -> Result<u64> {
        Ok(self.counter)
    }

    fn load_identity(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.identity.clone())
    }

    fn load_prekeys(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.prekeys.clone())
    }

    fn load_session(&self, peer: &PeerId) -> Result<Option<Vec<u8>>> {
        Ok(self.sessions.get(peer).cloned())
    }

    fn peers(&self) -> Result<Vec<PeerId>> {
        Ok(self.sessions.keys().copied().collect())
    }

    fn seen(&self, message_id: &MessageId) -> Result<bool> {
        Ok(self.seen.contains(message_id))
    }

    fn pending_outbox(&self) -> Result<Vec<OutboxRecord>> {
        Ok(self.outbox.values().cloned().collect())
    }

    fn pending_inbox(&self) -> Result<Vec<InboxRecord>> {
        Ok(self.inbox.values().cloned().collect())
    }

    fn commit_identity(&mut self, counter: u64, identity: &[u8], prekeys: &[u8]) -> Result<()> {
        if self.fail_commits > 0 {
            self.fail_commits -= 1;
            return Err(Error::Storage("injected commit failure"));
        }
        if counter <= self.counter || self.identity.is_some() {
            return Err(Error::StoreConflict);
        }
        self.identity = Some(identity.to_vec());
        self.prekeys = Some(prekeys.to_vec());
        self.counter = counter;
        Ok(())
    }

    fn commit_prekeys(&mut self, counter: u64, prekeys: &[u8]) -> Result<()> {
        self.begin(counter)?;
        self.prekeys = Some(prekeys.to_vec());
        self.counter = counter;
        Ok(())
    }

    fn commit_session(&mut self, counter: u64, peer: &PeerId, session: &[u8]) -> Result<()> {
        self.begin(counter)?;
        self.sessions.insert(*peer, session.to_vec());
        self.counter = counter;
        Ok(())
    }

    fn commit_send(&mut self, counter: u64, peer: &PeerId, session: &[u8], outbox: &OutboxRecord) -> Result<()> {
        self.begin(counter)?;
        if outbox.id != counter || self.outbox.contains_key(&outbox.id) {
            return Err(Error::StoreConflict);
        }
        self.sessions.insert(*peer, session.to_vec());
        self.outbox.insert(outbox.id, outbox.clone());
        self.counter = counter;
        Ok(())
    }

    fn commit_receive(&mut self, c: &ReceiveCommit<'_>) -> Result<()> {
        self.begin(c.counter)?;
        if c.inbox.id != c.counter || self.seen.contains(c.message_id) || self.inbox.contains_key(&c.inbox.id) {
            return Err(Error::StoreConflict);
        }
        self.sessions.insert(*c.peer, c.session.to_vec());
        if let Some(p) = c.prekeys {
            self.prekeys = Some(p.to_vec());
        }
        self.seen.insert(*c.message_id);
        self.inbox.insert(c.inbox.id, c.inbox.clone());
        self.counter = c.counter;
        Ok(())
    }

    fn mark_sent(&mut self, outbox_id: u64) -> Result<()> {
        self.outbox.remove(&outbox_id);
        Ok(())
    }

    fn ack(&mut self, inbox_id: u64) -> Result<()> {
        self.inbox.remove(&inbox_id);
        Ok(())
    }
}
