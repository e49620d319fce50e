//! `sealwire_data_key_cache`: one data key (and its wrapped entries) serves several envelopes
//! of the same scope, so a high-rate agent calls its KMS once per cache entry instead of once
//! per object (core's `DataKeyCache`; security trade-off in docs/KMS.md, "Data-key cache").

use std::time::Duration;

use sealwire_core::envelope::{CacheLimits, CacheStats, DataKeyCache};

use crate::envelope::{seal_options, sealwire_envelope_suite};
use crate::envelope_context::sealwire_context;
use crate::key_set::sealwire_key_set;
use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_ref, try_slice, write_handle, write_owned_bytes, Out};
use crate::result::sealwire_result;

/// Longest `max_age_seconds` of `sealwire_data_key_cache_new()` (24 hours).
pub const SEALWIRE_DATA_KEY_CACHE_MAX_AGE_SECONDS: u64 = 86400;
/// Largest `max_messages` of `sealwire_data_key_cache_new()` (2^32).
pub const SEALWIRE_DATA_KEY_CACHE_MAX_MESSAGES: u64 = 4294967296;
/// Number of entries (distinct contexts, options and provider sets) a cache holds at once; the
/// oldest goes first.
pub const SEALWIRE_DATA_KEY_CACHE_MAX_ENTRIES: usize = 64;

const _: () = assert!(SEALWIRE_DATA_KEY_CACHE_MAX_MESSAGES == 1u64 << 32);

/// Counters of a data-key cache (`sealwire_data_key_cache_stats()`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct sealwire_cache_stats {
    /// Seals served by a cached data key (no provider call).
    pub hits: u64,
    /// Seals that made a new data key (one call to each provider of the key set).
    pub misses: u64,
    /// Seals larger than `max_bytes`, sealed with their own data key.
    pub bypassed: u64,
    /// Entries dropped for a limit (age, messages, bytes, entry count) or by
    /// `sealwire_data_key_cache_clear()`.
    pub evicted: u64,
    /// Entries held now.
    pub entries: usize,
}

impl From<CacheStats> for sealwire_cache_stats {
    fn from(s: CacheStats) -> Self {
        Self {
            hits: s.hits,
            misses: s.misses,
            bypassed: s.bypassed,
            evicted: s.evicted,
            entries: s.entries,
        }
    }
}

/// A cache of data keys for sealing. Off unless used: only `sealwire_data_key_cache_seal()`
/// goes through it; `sealwire_envelope_seal()` never caches.
///
/// An entry is keyed by (suite, segment size, encryption context, the key set's provider ids
/// and key ids) and serves seals until it reaches a limit (age, messages, bytes of plaintext);
/// then it is dropped and its data key wiped. Security trade-off: the envelopes sealed from one
/// entry share a data key, so whoever unwraps one of them can open all of them; per-envelope
/// payload keys, nonces and commitments still differ (fresh message id each). Bound the
/// exposure with the limits and keep contexts specific (an entry never crosses contexts).
/// Envelopes sealed through the cache open with plain `sealwire_envelope_open()` / readers and
/// the same providers, and can be rewrapped (their header says so:
/// `sealwire_envelope_header_shares_data_key()`).
///
/// Opaque. Created by `sealwire_data_key_cache_new()`; owned by the caller, who releases it
/// once with `sealwire_data_key_cache_free()` (which wipes the cached data keys). Internally
/// locked: every function may be called from several threads at once, also the ones that
/// change it (they take a `sealwire_data_key_cache *`). The providers are called outside the
/// lock.
#[derive(Debug)] // redacted: limits and counters only
pub struct sealwire_data_key_cache {
    inner: DataKeyCache,
}

/// Create an empty cache: a data key serves envelopes for at most `max_age_seconds`
/// (1 ..= SEALWIRE_DATA_KEY_CACHE_MAX_AGE_SECONDS), at most `max_messages` envelopes
/// (1 ..= SEALWIRE_DATA_KEY_CACHE_MAX_MESSAGES) and at most `max_bytes` bytes of plaintext in
/// all (at least 1; a message larger than `max_bytes` is sealed without the cache). At most
/// SEALWIRE_DATA_KEY_CACHE_MAX_ENTRIES entries at once.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (a limit out of range).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_data_key_cache_new(
    max_age_seconds: u64,
    max_messages: u64,
    max_bytes: u64,
    out: *mut *mut sealwire_data_key_cache,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        let limits = CacheLimits::new(Duration::from_secs(max_age_seconds), max_messages, max_bytes)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_data_key_cache { inner: DataKeyCache::new(limits) }) };
        Ok(())
    })
}

/// `sealwire_envelope_seal()` through the cache: the data key and wrapped entries of a live
/// entry for (suite, segment size, `context`, the providers of `key_set`) are reused, or a new
/// data key is made (one call to each provider: a KMS round trip, see `sealwire_kms_key`) and
/// kept. Arguments, output and errors as `sealwire_envelope_seal()`; the output is released
/// with `sealwire_bytes_free()`.
///
/// Errors: as `sealwire_envelope_seal()` (SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER,
/// SEALWIRE_RANDOMNESS, provider errors such as SEALWIRE_KMS_UNAVAILABLE or
/// SEALWIRE_KMS_AUTH_FAILED on a miss). A failed seal caches nothing.
///
/// # Safety
/// `cache` is NULL or a live handle; otherwise as `sealwire_envelope_seal()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_data_key_cache_seal(
    cache: *mut sealwire_data_key_cache,
    plaintext: *const u8,
    plaintext_len: usize,
    context: *const sealwire_context,
    key_set: *const sealwire_key_set,
    suite: sealwire_envelope_suite,
    segment_size: u32,
    out_sealed: *mut *mut u8,
    out_sealed_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked, `&` suffices.
        let cache = unsafe { try_ref(cache) }?;
        // SAFETY: readable for `plaintext_len` bytes (caller contract).
        let plaintext = unsafe { try_slice(plaintext, plaintext_len) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out_sealed = Out::new(out_sealed)?;
        let out_sealed_len = Out::new(out_sealed_len)?;
        let options = seal_options(suite, segment_size)?;
        let sealed = cache.inner.seal_with(plaintext, &context.inner, &key_set.as_dyn(), &options)?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_sealed, out_sealed_len, sealed) };
        Ok(())
    })
}

/// The cache's counters and current number of entries, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `cache` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_data_key_cache_stats(
    cache: *const sealwire_data_key_cache,
    out: *mut sealwire_cache_stats,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let cache = unsafe { try_ref(cache) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(cache.inner.stats().into()) };
        Ok(())
    })
}

/// Drop every entry (their data keys are wiped; counted as evicted). The next seal of each
/// scope makes a new data key.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `cache` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_data_key_cache_clear(cache: *mut sealwire_data_key_cache) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract); internally locked, `&` suffices.
        let cache = unsafe { try_ref(cache) }?;
        cache.inner.clear();
        Ok(())
    })
}

/// Free a cache, wiping its data keys. `cache` may be NULL (no-op).
///
/// # Safety
/// `cache` is NULL or a handle from this library that has not been freed yet and is not in use
/// by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_data_key_cache_free(cache: *mut sealwire_data_key_cache) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(cache) }
    })
}
