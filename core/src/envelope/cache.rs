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
        let wctx = WrapContext { message_id: &SHARED_MESSAGE_ID, shared: true, context, suite: options.suite(), aad: &aad, spare_nonce: None };
        let (dek, wrapped) = make_materials(providers, &wctx, DataKey::generate()?)?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::cell::Cell;

    use super::*;
    use crate::envelope::{open, EnvelopeHeader, EnvelopeReader, Keyring, Rewrap, Suite};
    use crate::identity::Identity;

    /// A keyring that counts how often it is asked to wrap (stands in for a KMS).
    struct Counting<'a> {
        inner: &'a Keyring,
        wraps: Cell<u64>,
    }
    impl KeyProvider for Counting<'_> {
        fn provider_id(&self) -> &str {
            self.inner.provider_id()
        }
        fn key_id(&self) -> String {
            self.inner.key_id()
        }
        fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
            self.wraps.set(self.wraps.get() + 1);
            self.inner.wrap(dek, ctx)
        }
        fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<DataKey> {
            self.inner.unwrap(entry, ctx)
        }
    }

    fn ring() -> Keyring {
        let mut k = Keyring::new();
        k.create_key("orders").unwrap();
        k
    }

    fn ctx(v: &str) -> EncryptionContext {
        EncryptionContext::from_pairs([("tenant", v)]).unwrap()
    }

    #[test]
    fn one_data_key_serves_a_batch_and_objects_open_plainly() {
        let ring = ring();
        let p = Counting { inner: &ring, wraps: Cell::new(0) };
        let cache = DataKeyCache::new(CacheLimits::new(Duration::from_secs(60), 5, 1 << 20).unwrap());
        let objs: Vec<Vec<u8>> = (0..12u8).map(|i| cache.seal(&[i; 100], &ctx("a"), &[&p]).unwrap()).collect();
        assert_eq!(p.wraps.get(), 3);
        let st = cache.stats();
        assert_eq!((st.misses, st.hits, st.evicted, st.entries), (3, 9, 2, 1));
        let headers: Vec<EnvelopeHeader> = objs.iter().map(|o| EnvelopeHeader::parse(o).unwrap()).collect();
        for (i, h) in headers.iter().enumerate() {
            assert!(h.shares_data_key());
            assert_eq!(h.suite(), Suite::ChaCha20Poly1305);
            // Same wrapped entry within a batch of 5, another across batches.
            assert!(h.wrapped_keys() == headers[i - i % 5].wrapped_keys());
            if i >= 5 {
                assert_ne!(h.wrapped_keys(), headers[i - 5].wrapped_keys());
            }
        }
        // Per-message values still differ: message ids and commitments (payload keys).
        let ids: std::collections::HashSet<_> = headers.iter().map(|h| *h.message_id()).collect();
        let commits: std::collections::HashSet<_> = headers.iter().map(|h| *h.commitment()).collect();
        assert_eq!((ids.len(), commits.len()), (12, 12));
        for (i, o) in objs.iter().enumerate() {
            assert_eq!(open(o, &ctx("a"), &[&ring]).unwrap(), vec![i as u8; 100]);
            let mut r = EnvelopeReader::new(&o[..], &ctx("a"), &[&ring]).unwrap();
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut out).unwrap();
            assert_eq!(out, vec![i as u8; 100]);
        }
        // Rewrap works on a shared envelope (the new entry is scope-bound too).
        let bob = Identity::from_secret_bytes(&[1; 32], &[2; 32]);
        let mut rw = Rewrap::open(&objs[0], &ctx("a"), &[&ring]).unwrap();
        rw.add(bob.public()).unwrap();
        let with_bob = rw.apply(&objs[0]).unwrap();
        assert!(EnvelopeHeader::parse(&with_bob).unwrap().shares_data_key());
        assert_eq!(open(&with_bob, &ctx("a"), &[&bob]).unwrap(), vec![0u8; 100]);
        cache.clear();
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn byte_age_and_entry_limits() {
        let ring = ring();
        let p = Counting { inner: &ring, wraps: Cell::new(0) };
        // 1000 bytes per key: three 300-byte messages, then a new key.
        let cache = DataKeyCache::new(CacheLimits::new(Duration::from_secs(60), 100, 1000).unwrap());
        for _ in 0..7 {
            cache.seal(&[0; 300], &ctx("a"), &[&p]).unwrap();
        }
        assert_eq!(p.wraps.get(), 3);
        // Larger than max_bytes: sealed on its own, not shared.
        let big = cache.seal(&[0; 1001], &ctx("a"), &[&p]).unwrap();
        assert!(!EnvelopeHeader::parse(&big).unwrap().shares_data_key());
        assert_eq!(cache.stats().bypassed, 1);
        assert_eq!(open(&big, &ctx("a"), &[&ring]).unwrap(), vec![0; 1001]);

        // Age.
        let cache = DataKeyCache::new(CacheLimits::new(Duration::from_millis(50), 100, 1 << 20).unwrap());
        let w0 = p.wraps.get();
        cache.seal(b"a", &ctx("a"), &[&p]).unwrap();
        cache.seal(b"b", &ctx("a"), &[&p]).unwrap();
        std::thread::sleep(Duration::from_millis(80));
        cache.seal(b"c", &ctx("a"), &[&p]).unwrap();
        assert_eq!(p.wraps.get() - w0, 2);

        // Entry count: contexts and options are separate entries; the oldest goes first.
        let limits = CacheLimits::new(Duration::from_secs(60), 100, 1 << 20).unwrap().with_max_entries(2).unwrap();
        let cache = DataKeyCache::new(limits);
        for c in ["a", "b", "c"] {
            cache.seal(b"x", &ctx(c), &[&p]).unwrap();
        }
        let aes = SealOptions::new(Suite::Aes256Gcm, 1024).unwrap();
        let o = cache.seal_with(b"x", &ctx("c"), &[&p], &aes).unwrap();
        assert_eq!(EnvelopeHeader::parse(&o).unwrap().suite(), Suite::Aes256Gcm);
        let st = cache.stats();
        assert_eq!((st.misses, st.entries, st.evicted), (4, 2, 2));
        assert!(CacheLimits::new(Duration::ZERO, 1, 1).is_err());
        assert!(CacheLimits::new(Duration::from_secs(1), 0, 1).is_err());
        assert!(CacheLimits::new(Duration::from_secs(1), 1, 0).is_err());
        assert!(limits.with_max_entries(0).is_err());
    }

    #[test]
    fn scope_binding_and_flag_are_authenticated() {
        let ring = ring();
        let cache = DataKeyCache::new(CacheLimits::default());
        let a = cache.seal(b"tenant a", &ctx("a"), &[&ring]).unwrap();
        let b = cache.seal(b"tenant b", &ctx("b"), &[&ring]).unwrap();
        // An entry of context b under context a: the scope differs, unwrap fails.
        let (ha, hb) = (EnvelopeHeader::parse(&a).unwrap(), EnvelopeHeader::parse(&b).unwrap());
        let (wa, wb) = (ha.wrapped_keys()[0].wrapped(), hb.wrapped_keys()[0].wrapped());
        let pos = a.windows(wa.len()).position(|w| w == wa).unwrap();
        let mut forged = a.clone();
        forged[pos..pos + wa.len()].copy_from_slice(wb);
        assert_eq!(open(&forged, &ctx("a"), &[&ring]).unwrap_err(), Error::HeaderAuthFailed);
        // Clearing the shared flag (header byte 9) changes the wrap binding: refused.
        let mut flipped = a.clone();
        assert_eq!(flipped[9], 0x81);
        flipped[9] = 0x01;
        assert_eq!(open(&flipped, &ctx("a"), &[&ring]).unwrap_err(), Error::HeaderAuthFailed);
        // Unknown flag bits stay unsupported.
        let mut bad = a.clone();
        bad[9] = 0xC1;
        assert_eq!(EnvelopeHeader::parse(&bad).unwrap_err(), Error::UnsupportedAlgorithm("envelope suite"));
        // A non-shared envelope's entry does not open as shared either.
        let plain = crate::envelope::seal(b"x", &ctx("a"), &[&ring]).unwrap();
        let mut set = plain.clone();
        set[9] = 0x81;
        assert_eq!(open(&set, &ctx("a"), &[&ring]).unwrap_err(), Error::HeaderAuthFailed);
    }
}
