//! A data-key cache for sealing (as the AWS Encryption SDK's caching materials manager): one
//! data key and its wrapped entries serve several envelopes of the same scope, so a
//! high-rate agent calls its KMS once per cache entry instead of once per object.
//!
//! Off by default: plain [`seal`](super::seal) never caches; sealing through a
//! [`DataKeyCache`] opts in. An entry is keyed by (suite, segment size, encryption context,
//! provider ids and key ids) and retired when it reaches any limit: age, number of messages,
//! bytes of plaintext. Retired entries are dropped at once (the data key is zeroized).
//!
//! **Security trade-off.** Envelopes sealed from one cache entry share a data key: whoever
//! obtains it (by unwrapping any of them) can open all of them, and its compromise exposes
//! every message of that entry instead of one. Payload keys, nonces, commitments and header
//! keys still differ per envelope (each has a fresh random message id, and HKDF derives them
//! from data key, message id and header digest), so no nonce is ever reused. The wrapped
//! entries are bound to the scope — suite, segment size, context — instead of to one message
//! (the header says so with its shared-data-key flag): an entry copied between two envelopes
//! of the same scope still unwraps, which grants nothing the shared data key did not already
//! grant. Bound the exposure with the limits; keep contexts specific (an entry never crosses
//! contexts).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::commit::{DataKey, MESSAGE_ID_LEN};
use super::context::EncryptionContext;
use super::format::WrappedKey;
use super::provider::{make_materials, KeyProvider, WrapContext};
use super::{seal_parts, seal_with, shared_wrap_aad, KeySource, SealOptions, SHARED_MESSAGE_ID};
use crate::error::{Error, Result};
use crate::random;

/// Limits of one [`DataKeyCache`] entry, and of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    max_age: Duration,
    max_messages: u64,
    max_bytes: u64,
    max_entries: usize,
}

impl Default for CacheLimits {
    /// 5 minutes, 4096 messages, 1 GiB of plaintext per data key; 64 entries.
    fn default() -> Self {
        Self { max_age: Duration::from_secs(300), max_messages: 4096, max_bytes: 1 << 30, max_entries: 64 }
    }
}

impl CacheLimits {
    /// A data key serves envelopes for at most `max_age` (≤ 24 h), at most `max_messages`
    /// envelopes (1 ..= 2^32) and at most `max_bytes` of plaintext in all (≥ 1); a message
    /// larger than `max_bytes` is sealed without the cache. At most 64 entries (see
    /// [`CacheLimits::with_max_entries`]).
    pub fn new(max_age: Duration, max_messages: u64, max_bytes: u64) -> Result<Self> {
        if max_age.is_zero() || max_age > Duration::from_secs(24 * 3600) {
            return Err(Error::InvalidParameter("cache max age must be 1 ns ..= 24 h"));
        }
        if !(1..=1u64 << 32).contains(&max_messages) {
            return Err(Error::InvalidParameter("cache max messages must be 1 ..= 2^32"));
        }
        if max_bytes == 0 {
            return Err(Error::InvalidParameter("cache max bytes must be at least 1"));
        }
        Ok(Self { max_age, max_messages, max_bytes, max_entries: 64 })
    }

    /// At most `n` (1 ..= 65 536) entries (distinct contexts / provider sets) at once; the
    /// oldest goes first.
    pub fn with_max_entries(mut self, n: usize) -> Result<Self> {
        if !(1..=65_536).contains(&n) {
            return Err(Error::InvalidParameter("cache max entries must be 1 ..= 65536"));
        }
        self.max_entries = n;
        Ok(self)
    }

    /// Longest time one data key serves.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }
    /// Most envelopes per data key.
    pub fn max_messages(&self) -> u64 {
        self.max_messages
    }
    /// Most plaintext bytes per data key.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
    /// Most entries at once.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }
}

/// Counters of a [`DataKeyCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Seals served by a cached data key.
    pub hits: u64,
    /// Seals that made a new data key (and called the providers).
    pub misses: u64,
    /// Seals too large for the cache (sealed with their own data key).
    pub bypassed: u64,
    /// Entries dropped for a limit (age, messages, bytes, entry count) or by `clear`.
    pub evicted: u64,
    /// Entries held now.
    pub entries: usize,
}

struct Entry {
    dek: DataKey,
    wrapped: Vec<WrappedKey>,
    created: Instant,
    messages: u64,
    bytes: u64,
}

/// A cache of data keys for sealing. `Send + Sync`: share one per process (or per tenant).
/// See the module documentation for the security trade-off.
pub struct DataKeyCache {
    limits: CacheLimits,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
    bypassed: AtomicU64,
    evicted: AtomicU64,
}

impl core::fmt::Debug for DataKeyCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DataKeyCache").field("limits", &self.limits).field("stats", &self.stats()).finish()
    }
}

/// The cache key: suite, segment size, context and the providers' ids and key ids.
fn partition(options: &SealOptions, context: &EncryptionContext, providers: &[&dyn KeyProvider]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"SEALWIRE\x00dek-cache-v1\x00");
    h.update([options.suite().id()]);
    h.update(options.segment_size().to_be_bytes());
    let c = context.to_bytes();
    h.update((c.len() as u64).to_be_bytes());
    h.update(&c);
    h.update((providers.len() as u64).to_be_bytes());
    for p in providers {
        let id = p.provider_id();
        let key = p.key_id();
        h.update((id.len() as u64).to_be_bytes());
        h.update(id.as_bytes());
        h.update((key.len() as u64).to_be_bytes());
        h.update(key.as_bytes());
    }
    h.finalize().into()
}

impl DataKeyCache {
    /// An empty cache with these limits.
    pub fn new(limits: CacheLimits) -> Self {
        Self {
            limits,
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bypassed: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        }
    }

    /// The limits.
    pub fn limits(&self) -> CacheLimits {
        self.limits
    }

    /// Counters and the current number of entries.
    pub fn stats(&self) -> CacheStats {
        let entries = self.entries.lock().map(|m| m.len()).unwrap_or(0);
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bypassed: self.bypassed.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            entries,
        }
    }

    /// Drop every entry (their data keys are zeroized).
    pub fn clear(&self) {
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.evicted.fetch_add(m.len() as u64, Ordering::Relaxed);
        m.clear();
    }

    /// [`seal`](super::seal) through the cache, default options.
    pub fn seal(&self, plaintext: &[u8], context: &EncryptionContext, providers: &[&dyn KeyProvider]) -> Result<Vec<u8>> {
        self.seal_with(plaintext, context, providers, &SealOptions::default())
    }

    /// [`seal_with`](super::seal_with) through the cache: reuse the data key of a live entry
    /// for this (options, context, providers), or make one (one provider call each) and keep
    /// it. The envelope opens with plain [`open`](super::open) and the same providers.
    pub fn seal_with(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
        providers: &[&dyn KeyProvider],
        options: &SealOptions,
    ) -> Result<Vec<u8>> {
        if providers.is_empty() {
            return Err(Error::InvalidParameter("at least one key provider is needed"));
        }
        let len = plaintext.len() as u64;
        if len > self.limits.max_bytes {
            self.bypassed.fetch_add(1, Ordering::Relaxed);
            return seal_with(plaintext, context, providers, options);
        }
        let key = partition(options, context, providers);
        let mut message_id = [0u8; MESSAGE_ID_LEN];
        random::fill(&mut message_id)?;
        if let Some((dek, wrapped)) = self.take_use(&key, len) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return seal_parts(plaintext, context, options, message_id, KeySource::Shared(&dek, &wrapped));
        }
        // Miss: make shared materials outside the lock (providers may be remote).
        self.misses.fetch_add(1, Ordering::Relaxed);
        let aad = shared_wrap_aad(options, context);
        let wctx = WrapContext { message_id: &SHARED_MESSAGE_ID, shared: true, context, suite: options.suite(), aad: &aad };
        let (dek, wrapped) = make_materials(providers, &wctx)?;
        let sealed = seal_parts(plaintext, context, options, message_id, KeySource::Shared(&dek, &wrapped))?;
        self.insert(key, Entry { dek, wrapped, created: Instant::now(), messages: 1, bytes: len });
        Ok(sealed)
    }

    /// Count one use of `len` bytes against a live entry and copy its materials; retire the
    /// entry if it cannot take the use.
    fn take_use(&self, key: &[u8; 32], len: u64) -> Option<(DataKey, Vec<WrappedKey>)> {
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.get_mut(key)?;
        let usable = e.created.elapsed() < self.limits.max_age
            && e.messages < self.limits.max_messages
            && e.bytes.saturating_add(len) <= self.limits.max_bytes;
        if usable {
            if let Ok(dek) = DataKey::from_bytes(e.dek.as_bytes()) {
                e.messages += 1;
                e.bytes += len;
                return Some((dek, e.wrapped.clone()));
            }
        }
        m.remove(key);
        self.evicted.fetch_add(1, Ordering::Relaxed);
        None
    }

    fn insert(&self, key: [u8; 32], entry: Entry) {
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Expired entries go first, then the oldest while over the entry limit.
        let before = m.len();
        m.retain(|_, e| e.created.elapsed() < self.limits.max_age);
        let mut dropped = (before - m.len()) as u64;
        if m.insert(key, entry).is_some() {
            dropped += 1;
        }
        while m.len() > self.limits.max_entries {
            let oldest = m.iter().min_by_key(|(_, e)| e.created).map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    m.remove(&k);
                    dropped += 1;
                }
                None => break,
            }
        }
        self.evicted.fetch_add(dropped, Ordering::Relaxed);
    }
}
