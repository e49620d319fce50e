//! Remote KMS keys (`KmsKey`: Vault / OpenBao Transit and AWS KMS, from the same URIs as the
//! CLI's `--kms` and every other binding) and the data-key cache (`DataKeyCache`).
//!
//! A `KmsKey` is a built-in key provider like a `Keyring`, accepted in `to`, `keys`,
//! `rewrapWith` and `add`. Its wraps and unwraps are HTTP calls (bounded timeouts and
//! retries, in the core), so only the asynchronous forms accept it — `sealAsync`,
//! `unsealAsync`, `rewrapAsync`, `EnvelopeSealer.createAsync` / `EnvelopeOpener.createAsync`
//! (and through them the stream and file helpers), `DataKeyCache.sealAsync` — and they run
//! the calls on the libuv thread pool. The synchronous forms refuse it with
//! `ERR_SEALWIRE_INVALID_PARAMETER`: the event loop never waits for the network.
//!
//! Secrets (tokens, secret keys) are copied into zeroizing buffers at once; no error, getter
//! or `Debug` output shows them.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Buffer, Uint8Array};
use napi::Env;
use napi_derive::napi;
use sealwire::envelope::kms::{RemoteKey, RemoteKeySettings};
use sealwire::envelope::{CacheLimits, KeyProvider};
use zeroize::Zeroizing;

use crate::envelope::{
    all_builtin, builtin_refs, invalid, refs, refuse_kms, refuse_kms_with_js, seal_args, throw,
    with_js_providers, with_providers, Causes, Job, SealOptions, Work, CACHE_KMS,
};
use crate::error::{to_js_error, Result};

type CoreResult<T> = std::result::Result<T, sealwire::Error>;

/// Explicit settings of `KmsKey.fromUri`; each one given takes precedence over the
/// environment (`VAULT_ADDR` / `VAULT_TOKEN` or `BAO_*`, `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`).
#[napi(object, object_to_js = false)]
pub struct KmsKeySettings {
    /// Vault / OpenBao address, e.g. `'https://vault.example:8200'` (plain `http://` only on
    /// loopback).
    pub vault_address: Option<String>,
    /// Vault / OpenBao token (sent as `X-Vault-Token`).
    pub vault_token: Option<String>,
    /// AWS access key id (with `awsSecretAccessKey`).
    pub aws_access_key_id: Option<String>,
    /// AWS secret access key.
    pub aws_secret_access_key: Option<String>,
    /// AWS session token (temporary credentials).
    pub aws_session_token: Option<String>,
}

impl std::fmt::Debug for KmsKeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KmsKeySettings(..)")
    }
}

pub(crate) fn settings(s: Option<KmsKeySettings>) -> RemoteKeySettings {
    let Some(s) = s else {
        return RemoteKeySettings::default();
    };
    RemoteKeySettings {
        vault_address: s.vault_address,
        vault_token: s.vault_token.map(Zeroizing::new),
        aws_access_key_id: s.aws_access_key_id,
        aws_secret_access_key: s.aws_secret_access_key.map(Zeroizing::new),
        aws_session_token: s.aws_session_token.map(Zeroizing::new),
    }
}

/// Request counters of a `KmsKey` (shared by every use of it).
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Copy)]
pub struct KmsStats {
    /// KMS operations started (data keys, encrypt, decrypt, re-encrypt, key reads).
    pub operations: f64,
    /// HTTP exchanges attempted (operations plus retries).
    pub http_requests: f64,
    /// Retries after throttling, server errors or dropped connections.
    pub retries: f64,
    /// Operations that ended in an error.
    pub failures: f64,
}

/// A remote KMS key as a key provider: Vault / OpenBao Transit (`vault://KEY[?mount=M]`) or
/// AWS KMS (`aws-kms://KEY_ID_OR_ARN[?region=R&endpoint=URL]`), named as everywhere in
/// sealwire (docs/KMS.md). Pass it in `to` / `keys` / `rewrapWith` / `add` of the
/// asynchronous forms only (`sealAsync`, `unsealAsync`, `rewrapAsync`, the stream and file
/// helpers, `DataKeyCache.sealAsync`): its calls run on the libuv thread pool, and the
/// synchronous forms refuse it with `ERR_SEALWIRE_INVALID_PARAMETER`. One `KmsKey` keeps a
/// connection pool: make one per key and share it.
///
/// KMS failures reject with `ERR_SEALWIRE_KMS_AUTH_FAILED`, `ERR_SEALWIRE_KMS_KEY_NOT_FOUND`,
/// `ERR_SEALWIRE_KMS_KEY_DISABLED`, `ERR_SEALWIRE_KMS_UNAVAILABLE`, `ERR_SEALWIRE_KMS_TIMEOUT`,
/// `ERR_SEALWIRE_KMS_THROTTLED`; a wrapped key moved to another object or context with
/// `ERR_SEALWIRE_CONTEXT_MISMATCH`.
#[napi]
pub struct KmsKey {
    inner: Arc<RemoteKey>,
}

impl std::fmt::Debug for KmsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KmsKey(..)")
    }
}

impl KmsKey {
    pub(crate) fn shared(&self) -> Arc<RemoteKey> {
        Arc::clone(&self.inner)
    }
}

#[napi]
impl KmsKey {
    /// The key a KMS URI names, with addresses and secrets from `settings`, else from the
    /// environment. Makes no network call (a wrong token or key shows at the first use).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for a malformed URI, an
    /// unknown scheme or query parameter, or missing configuration (no address, token,
    /// credentials or region).
    #[napi(factory)]
    pub fn from_uri(uri: String, settings: Option<KmsKeySettings>) -> Result<Self> {
        let settings = self::settings(settings);
        RemoteKey::from_uri(&uri, &settings)
            .map(|k| Self { inner: Arc::new(k) })
            .map_err(to_js_error)
    }

    /// The provider name written in envelope entries: `'vault-transit'` or `'aws-kms'`.
    #[napi(getter, ts_return_type = "'vault-transit' | 'aws-kms'")]
    pub fn provider_id(&self) -> String {
        self.inner.provider_id().to_owned()
    }

    /// The key id written in envelope entries: the Transit key name, or the configured AWS
    /// key id / ARN.
    #[napi(getter)]
    pub fn key_id(&self) -> String {
        self.inner.key_id()
    }

    /// The request counters so far.
    #[napi]
    pub fn stats(&self) -> KmsStats {
        let s = match &*self.inner {
            RemoteKey::Vault(v) => v.stats(),
            RemoteKey::Aws(a) => a.stats(),
            _ => Default::default(),
        };
        KmsStats {
            operations: s.operations as f64,
            http_requests: s.http_requests as f64,
            retries: s.retries as f64,
            failures: s.failures as f64,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DataKeyCache
// ---------------------------------------------------------------------------------------------

/// Limits of a `DataKeyCache` (each optional; defaults: 300 s, 4096 messages, 1 GiB, 64
/// entries).
#[napi(object)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DataKeyCacheLimits {
    /// Longest time one data key serves, in seconds (> 0, ≤ 86400; fractions allowed).
    pub max_age_seconds: Option<f64>,
    /// Most envelopes sealed under one data key (1 ..= 2^32).
    pub max_messages: Option<f64>,
    /// Most plaintext bytes sealed under one data key (≥ 1); a larger message is sealed with
    /// its own data key.
    pub max_bytes: Option<f64>,
    /// Most entries (distinct context / suite / segment size / provider sets) held at once
    /// (1 ..= 65536); the oldest goes first.
    pub max_entries: Option<f64>,
}

/// Counters of a `DataKeyCache`.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Copy)]
pub struct DataKeyCacheStats {
    /// Seals served by a cached data key (no provider call).
    pub hits: f64,
    /// Seals that made a new data key (one call per provider).
    pub misses: f64,
    /// Seals larger than `maxBytes` (sealed with their own data key).
    pub bypassed: f64,
    /// Entries dropped for a limit or by `clear`.
    pub evicted: f64,
    /// Entries held now.
    pub entries: f64,
}

/// A JS number that must be an integer in `0 ..= 2^53 - 1`.
fn to_count(v: f64, what: &'static str) -> CoreResult<u64> {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    if v.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&v) {
        Ok(v as u64)
    } else {
        Err(invalid(what))
    }
}

fn limits(l: DataKeyCacheLimits) -> CoreResult<CacheLimits> {
    let d = CacheLimits::default();
    let age = match l.max_age_seconds {
        None => d.max_age(),
        Some(v) => Duration::try_from_secs_f64(v).map_err(|_| {
            invalid("maxAgeSeconds must be a number of seconds above 0 and at most 86400")
        })?,
    };
    let messages = match l.max_messages {
        None => d.max_messages(),
        Some(v) => to_count(v, "maxMessages must be an integer from 1 to 4294967296")?,
    };
    let bytes = match l.max_bytes {
        None => d.max_bytes(),
        Some(v) => to_count(v, "maxBytes must be a positive safe integer")?,
    };
    let mut limits = CacheLimits::new(age, messages, bytes)?;
    if let Some(v) = l.max_entries {
        let n = to_count(v, "maxEntries must be an integer from 1 to 65536")?;
        let n = usize::try_from(n)
            .map_err(|_| invalid("maxEntries must be an integer from 1 to 65536"))?;
        limits = limits.with_max_entries(n)?;
    }
    Ok(limits)
}

/// A cache of data keys for sealing: one data key (and its wrapped entries) serves several
/// envelopes with the same context, suite, segment size and providers, until it reaches a
/// limit (age, messages, bytes), so a high-rate agent calls its KMS once per entry instead of
/// once per object. The envelopes open with plain `unseal` / `unsealAsync` and the same keys.
///
/// Trade-off: envelopes sealed from one entry share a data key — whoever unwraps one can open
/// them all. Per-message keys and nonces still differ (no nonce reuse). Bound the exposure
/// with the limits and keep contexts specific (an entry never crosses contexts). See
/// docs/KMS.md, "Data-key cache".
#[napi]
pub struct DataKeyCache {
    inner: Arc<sealwire::envelope::DataKeyCache>,
}

impl std::fmt::Debug for DataKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKeyCache(..)")
    }
}

#[napi]
impl DataKeyCache {
    /// An empty cache.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for a limit out of range.
    #[napi(constructor)]
    pub fn new(limits: Option<DataKeyCacheLimits>) -> Result<Self> {
        let limits = self::limits(limits.unwrap_or_default()).map_err(to_js_error)?;
        Ok(Self {
            inner: Arc::new(sealwire::envelope::DataKeyCache::new(limits)),
        })
    }

    /// The limits in force (every field set).
    #[napi(getter)]
    pub fn limits(&self) -> DataKeyCacheLimits {
        let l = self.inner.limits();
        DataKeyCacheLimits {
            max_age_seconds: Some(l.max_age().as_secs_f64()),
            max_messages: Some(l.max_messages() as f64),
            max_bytes: Some(l.max_bytes() as f64),
            max_entries: Some(l.max_entries() as f64),
        }
    }

    /// Like `seal`, through the cache (local providers only: a `KmsKey` is refused with
    /// `ERR_SEALWIRE_INVALID_PARAMETER`, use `sealAsync`).
    ///
    /// @throws {Error} as `seal`.
    #[napi(strict)]
    pub fn seal(&self, env: Env, plaintext: &[u8], options: SealOptions<'_>) -> Result<Buffer> {
        let a = seal_args(&env, options).map_err(to_js_error)?;
        refuse_kms(&a.providers, CACHE_KMS).map_err(to_js_error)?;
        throw(with_js_providers(&a.providers, |ps| {
            self.inner.seal_with(plaintext, &a.context, ps, &a.options)
        }))
        .map(Buffer::from)
    }

    /// Like `sealAsync`, through the cache: reuse the data key of a live entry for these
    /// options and providers, or make one (one call per provider, e.g. one KMS
    /// `GenerateDataKey`) and keep it. With only built-in providers (`KmsKey` included) it
    /// runs on the libuv thread pool; with a JavaScript provider it runs on this thread and
    /// the Promise is already settled (a `KmsKey` cannot be combined with one).
    /// `plaintext` is copied. Rejections carry the `code`s of `sealAsync`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn seal_async(
        &self,
        env: Env,
        plaintext: Uint8Array,
        options: SealOptions<'_>,
    ) -> AsyncTask<Job<Vec<u8>>> {
        let plaintext = Zeroizing::new(plaintext.to_vec());
        let a = match seal_args(&env, options) {
            Ok(a) => a,
            Err(e) => return Job::failed(e, Causes::default()),
        };
        let cache = Arc::clone(&self.inner);
        if let Some(builtins) = all_builtin(&a.providers) {
            let (context, options) = (a.context, a.options);
            return Job::new(move || {
                with_providers(&builtin_refs(&builtins), &RefCell::default(), |ps| {
                    cache.seal_with(&plaintext, &context, ps, &options)
                })
            });
        }
        if let Err(e) = refuse_kms_with_js(&a.providers) {
            return Job::failed(e, Causes::default());
        }
        let causes = RefCell::new(Causes::default());
        let done = with_providers(&refs(&a.providers), &causes, |ps| {
            cache.seal_with(&plaintext, &a.context, ps, &a.options)
        });
        Job::from_result(
            done.map(|out| -> Work<Vec<u8>> { Box::new(move || Ok(out)) })
                .map_err(|e| (e, causes.into_inner())),
        )
    }

    /// The counters and the number of entries held.
    #[napi]
    pub fn stats(&self) -> DataKeyCacheStats {
        let s = self.inner.stats();
        DataKeyCacheStats {
            hits: s.hits as f64,
            misses: s.misses as f64,
            bypassed: s.bypassed as f64,
            evicted: s.evicted as f64,
            entries: s.entries as f64,
        }
    }

    /// Drop every entry (their data keys are wiped); the next seal makes a new one.
    #[napi]
    pub fn clear(&self) {
        self.inner.clear();
    }
}
