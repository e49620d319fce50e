//! The relay's storage backend: one trait, implemented by SQLite (default, one machine)
//! and PostgreSQL (feature `scale-out`: several relay processes).
//! Every method is one transaction; the HTTP layer has already checked the input.

#[cfg(feature = "scale-out")]
pub mod postgres;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use sealwire::relay::BundleParts;

/// A backend call's future.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The backend failed; nothing was committed. The text is for the operator's log and holds
/// no request data.
#[derive(Debug)]
pub struct StoreError(pub String);

/// Unclaimed one-time prekeys of one owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrekeyCounts {
    pub one_time: u64,
    pub kem_one_time: u64,
    pub post_quantum: bool,
}

/// What a claim took out of the directory.
#[derive(Debug)]
pub struct Claim {
    pub head: Vec<u8>,
    pub one_time: Option<Vec<u8>>,
    /// The one-time ML-KEM entry, or else the last-resort one (post-quantum bundles).
    pub kem: Option<Vec<u8>>,
    pub kem_one_time: bool,
    pub mailbox: Option<Vec<u8>>,
}

/// Result of a deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deposit {
    Stored,
    Duplicate,
    UnknownMailbox,
    Full,
}

/// Per-mailbox quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub max_messages: u64,
    pub max_bytes: u64,
}

/// An owner's encoded public identity and, if published, its mailbox descriptor.
pub type IdentityAndMailbox = (Vec<u8>, Option<Vec<u8>>);

/// One listed message; `body` only when asked for.
#[derive(Debug)]
pub struct Listed {
    pub seq: u64,
    pub deposit_id: [u8; 32],
    pub body: Option<Vec<u8>>,
}

/// A page of a mailbox listing in increasing seq, and whether more follow.
pub type Page = (Vec<Listed>, bool);

/// Cut a listing (fetched with one extra row) to `limit` messages and, with bodies, to at
/// most `max` body bytes (at least one message); `more` tells whether anything was left.
pub fn page(mut rows: Vec<Listed>, limit: u32, bodies: Option<u64>) -> Page {
    let mut more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    if let Some(max) = bodies {
        let mut total = 0u64;
        let mut keep = 0;
        for r in &rows {
            let len = r.body.as_ref().map_or(0, |b| b.len() as u64);
            if keep > 0 && total + len > max {
                break;
            }
            total += len;
            keep += 1;
        }
        if keep < rows.len() {
            rows.truncate(keep);
            more = true;
        }
    }
    (rows, more)
}

/// Storage for the directory, the mailboxes and the request-nonce cache.
pub trait Backend: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn name(&self) -> &'static str;
    /// A trivial query: is the store answering?
    fn health(&self) -> BoxFut<'_, ()>;
    /// Record a request nonce; `false` if `(key, nonce)` is already there (a replay).
    fn record_nonce(&self, key: [u8; 32], nonce: [u8; 16], expires: u64) -> BoxFut<'_, bool>;
    /// Forget nonces that expired before `now`; returns how many.
    fn purge_nonces(&self, now: u64) -> BoxFut<'_, u64>;
    /// Publish or replace a bundle (docs/RELAY.md, "Publishing again").
    fn publish(&self, parts: BundleParts, identity: Vec<u8>, mailbox: Option<Vec<u8>>, reset: bool)
        -> BoxFut<'_, PrekeyCounts>;
    /// Counts for `owner`, or `None` without a bundle.
    fn status(&self, owner: [u8; 32]) -> BoxFut<'_, Option<PrekeyCounts>>;
    /// Claim one one-time prekey of each kind atomically; `None` without a bundle.
    fn claim(&self, owner: [u8; 32]) -> BoxFut<'_, Option<Claim>>;
    /// `owner`'s encoded identity and mailbox descriptor (if published); `None` without a bundle.
    fn mailbox_of(&self, owner: [u8; 32]) -> BoxFut<'_, Option<IdentityAndMailbox>>;
    /// Create a mailbox; `false` if it existed.
    fn open_mailbox(&self, address: [u8; 32]) -> BoxFut<'_, bool>;
    /// Store a message (quota checked in the same transaction).
    fn deposit(&self, address: [u8; 32], deposit_id: [u8; 32], body: Vec<u8>, quota: Quota) -> BoxFut<'_, Deposit>;
    /// Messages after `after`, at most `limit`; with `bodies = Some(max)` their bodies too,
    /// stopping before the total would exceed `max` bytes (but at least one message).
    /// `None` for an unknown mailbox.
    fn list(&self, address: [u8; 32], after: u64, limit: u32, bodies: Option<u64>) -> BoxFut<'_, Option<Page>>;
    /// One message's body.
    fn fetch(&self, address: [u8; 32], seq: u64) -> BoxFut<'_, Option<Vec<u8>>>;
    /// Delete one message; `false` if it was not there.
    fn ack(&self, address: [u8; 32], seq: u64) -> BoxFut<'_, bool>;
    /// Delete several messages in one transaction; returns how many were there.
    fn ack_many(&self, address: [u8; 32], seqs: Vec<u64>) -> BoxFut<'_, u64>;
}
