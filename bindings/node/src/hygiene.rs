//! `Scrubber`, `sizeBucket`, `fieldTokens`, `scrubFieldLists`: the core's telemetry scrubbing
//! rules (`sealwire::hygiene`, docs/CONFIG.md "Scrubbing rules").
//!
//! Thin: every decision (field class, keyed hash or drop, size bucket, identifiers in text,
//! sampling) is the core's. This module converts one field value at a time (string, number,
//! boolean, bigint) to the text or number the core scrubs; walking attribute maps, log
//! records and OpenTelemetry spans is `hygiene.js`'s, which calls these per field.

use napi::bindgen_prelude::{BigInt, ClassInstance, Either, Either4};
use napi::Env;
use napi_derive::napi;
use sealwire::hygiene::{self, EventSampler, ScrubMode, Scrubbed};

use crate::config::{load as load_config, SecurityConfig};
use crate::error::{as_rejection, to_js_error, Result};

fn mode_arg(mode: Option<&str>) -> Result<ScrubMode> {
    match mode {
        None => Ok(ScrubMode::Hash),
        Some(m) => ScrubMode::ALL
            .iter()
            .copied()
            .find(|x| x.as_str() == m)
            .ok_or_else(|| {
                to_js_error(sealwire::Error::InvalidParameter(
                    "mode must be 'hash' or 'drop'",
                ))
            }),
    }
}

fn kept(s: Scrubbed<'_>) -> Option<String> {
    match s {
        Scrubbed::Keep(v) => Some(v.into_owned()),
        Scrubbed::Drop => None,
    }
}

/// Options of `new Scrubber(options)`; every field optional.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct ScrubberOptions {
    /// `'hash'` (identifying values become a per-process keyed hash `h:` + 16 hex digits; the
    /// default) or `'drop'` (identifying fields are removed).
    #[napi(ts_type = "'hash' | 'drop'")]
    pub mode: Option<String>,
    /// The application's own identifying field names, scrubbed like the built-in list.
    pub extra_fields: Option<Vec<String>>,
    /// Replace identifiers found inside text values (default `true`).
    pub redact_values: Option<bool>,
    /// Fraction (0 ..= 1, default 1) of high-frequency events kept.
    pub sample_rate: Option<f64>,
    /// Name or target prefixes of the high-frequency events (default none).
    pub sample_prefixes: Option<Vec<String>>,
}

/// The core's scrubbing rules for telemetry fields, with sampling of high-frequency events.
/// `hygiene.js` (`require('sealwire/hygiene')`) applies it to attribute maps, log records and
/// OpenTelemetry spans.
#[napi]
pub struct Scrubber {
    inner: hygiene::Scrubber,
    sampler: EventSampler,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("mode", &self.inner.mode())
            .field("rate", &self.sampler.rate())
            .finish()
    }
}

impl Scrubber {
    fn build(inner: hygiene::Scrubber, rate: f64, prefixes: Vec<String>) -> Result<Self> {
        let sampler = EventSampler::new(rate, prefixes).map_err(to_js_error)?;
        Ok(Self { inner, sampler })
    }
}

#[napi]
impl Scrubber {
    /// A scrubber with the built-in field lists.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for an unknown mode or a
    /// sampling rate outside 0 ..= 1.
    #[napi(constructor)]
    pub fn new(options: Option<ScrubberOptions>) -> Result<Self> {
        let o = options.unwrap_or_default();
        let inner = hygiene::Scrubber::new(mode_arg(o.mode.as_deref())?)
            .with_extra_fields(o.extra_fields.unwrap_or_default())
            .with_value_redaction(o.redact_values.unwrap_or(true));
        Self::build(
            inner,
            o.sample_rate.unwrap_or(1.0),
            o.sample_prefixes.unwrap_or_default(),
        )
    }

    /// The scrubber of a configuration's `[metadata]` section (mode, extra fields, value
    /// redaction, sampling), or `null` when `metadata.scrub` is off. `config`: a
    /// `SecurityConfig`, or TOML / JSON text (`format` as `SecurityConfig.load`).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` (with `findings`) when the
    /// text does not load.
    #[napi]
    pub fn from_config(
        env: Env,
        #[napi(ts_arg_type = "SecurityConfig | string")] config: Either<
            ClassInstance<'_, SecurityConfig>,
            String,
        >,
        format: Option<String>,
    ) -> napi::Result<Option<Scrubber>> {
        let config = match config {
            Either::A(c) => c.inner.clone(),
            Either::B(text) => load_config(&text, format.as_deref()).map_err(|e| e.into_js(env))?,
        };
        let sampling = &config.metadata.sampling;
        match config.scrubber() {
            None => Ok(None),
            Some(inner) => Self::build(inner, sampling.rate, sampling.events.clone())
                .map(Some)
                .map_err(|e| as_rejection(env, e)),
        }
    }

    /// `'hash'` or `'drop'`.
    #[napi(getter, ts_return_type = "'hash' | 'drop'")]
    pub fn mode(&self) -> &'static str {
        self.inner.mode().as_str()
    }

    /// The fraction of high-frequency events kept.
    #[napi(getter)]
    pub fn sample_rate(&self) -> f64 {
        self.sampler.rate()
    }

    /// The name or target prefixes of the high-frequency events.
    #[napi(getter)]
    pub fn sample_prefixes(&self) -> Vec<String> {
        self.sampler.prefixes().to_vec()
    }

    /// The rule for a field name (token-suffix match, docs/CONFIG.md).
    #[napi(ts_return_type = "'secret' | 'identifying' | 'size' | 'other'")]
    pub fn classify(&self, name: String) -> &'static str {
        self.inner.classify(&name).as_str()
    }

    /// One field as the core scrubs it: the text to keep, or `null` to drop the field. A
    /// boolean is scrubbed as `true` / `false`; an integer number in 0 ..= 2^53 and a
    /// non-negative bigint below 2^64 as a number (sizes bucketed); any other number as its
    /// decimal text.
    #[napi(strict)]
    pub fn scrub(&self, name: String, value: Either4<String, f64, bool, BigInt>) -> Option<String> {
        let s = &self.inner;
        match value {
            Either4::A(text) => kept(s.scrub(&name, &text)),
            Either4::B(n) => {
                if n.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&n) {
                    // Exact: an integer of at most 2^53.
                    kept(s.scrub_u64(&name, n as u64))
                } else {
                    // Rust's decimal form, the same in every binding.
                    kept(s.scrub(&name, &n.to_string()))
                }
            }
            Either4::C(b) => kept(s.scrub(&name, if b { "true" } else { "false" })),
            Either4::D(big) => match bigint_u64(&big) {
                Some(v) => kept(s.scrub_u64(&name, v)),
                None => kept(s.scrub(&name, &bigint_text(&big))),
            },
        }
    }

    /// `text` with DIDs, fingerprints and long hex / base64 / base58 runs replaced by their
    /// keyed hash (mode `hash`) or `[redacted]` (mode `drop`).
    #[napi]
    pub fn redact_text(&self, text: String) -> String {
        self.inner.redact_text(&text).into_owned()
    }

    /// Sampling: `false` for a sampled-out event. Events whose `name` or `target` starts with
    /// one of the sampling prefixes are kept with probability `sampleRate`; others always.
    #[napi]
    pub fn keep_event(&self, name: String, target: Option<String>) -> bool {
        self.sampler.keep(name.as_str(), target.as_deref())
    }
}

/// A bigint in 0 ..= 2^64 - 1.
fn bigint_u64(big: &BigInt) -> Option<u64> {
    let high_zero = big.words.iter().skip(1).all(|w| *w == 0);
    let v = big.words.first().copied().unwrap_or(0);
    (high_zero && (!big.sign_bit || v == 0)).then_some(v)
}

/// The decimal text of a bigint (any sign, any size).
fn bigint_text(big: &BigInt) -> String {
    // Little-endian 64-bit words; repeated division by 10^19 gives the decimal digits.
    let mut words = big.words.clone();
    let mut chunks = Vec::new();
    while words.iter().any(|w| *w != 0) {
        let mut rem: u128 = 0;
        for w in words.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*w);
            *w = (cur / 10_000_000_000_000_000_000) as u64;
            rem = cur % 10_000_000_000_000_000_000;
        }
        chunks.push(rem as u64);
    }
    let mut out = String::new();
    if big.sign_bit && !chunks.is_empty() {
        out.push('-');
    }
    match chunks.split_last() {
        None => out.push('0'),
        Some((top, rest)) => {
            out.push_str(&top.to_string());
            for c in rest.iter().rev() {
                out.push_str(&format!("{c:019}"));
            }
        }
    }
    out
}

/// The size bucket of a length: `0`, `<=64`, `<=256`, `<=1KiB`, `<=4KiB`, `<=16KiB`,
/// `<=64KiB`, `<=256KiB`, `<=1MiB`, `<=16MiB` or `>16MiB`.
///
/// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for a negative or fractional length.
#[napi]
pub fn size_bucket(len: Either<f64, BigInt>) -> Result<&'static str> {
    let n = match len {
        Either::A(n) if n.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&n) => {
            n as u64
        }
        Either::B(big) => match bigint_u64(&big) {
            Some(v) => v,
            None => {
                return Err(to_js_error(sealwire::Error::InvalidParameter(
                    "a length is an integer from 0 to 2^64 - 1",
                )))
            }
        },
        Either::A(_) => {
            return Err(to_js_error(sealwire::Error::InvalidParameter(
                "a length is an integer from 0 to 2^53",
            )))
        }
    };
    Ok(hygiene::size_bucket(n))
}

/// The lower-case tokens a field name is matched by (`remotePeerID` → remote, peer, id).
#[napi]
pub fn field_tokens(name: String) -> Vec<String> {
    hygiene::field_tokens(&name)
}

/// The built-in field lists.
#[napi(object, object_from_js = false)]
pub struct ScrubFieldLists {
    /// Identifying fields (hashed or dropped), matched by token suffix.
    pub scrub: Vec<String>,
    /// Fields that may hold secrets: always dropped.
    pub secret: Vec<String>,
    /// Size fields: a number becomes its size bucket, anything else is dropped.
    pub size: Vec<String>,
}

/// The built-in field lists (`SCRUB_FIELDS`, `SECRET_FIELDS`, `SIZE_FIELDS` of the core).
#[napi]
pub fn scrub_field_lists() -> ScrubFieldLists {
    let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
    ScrubFieldLists {
        scrub: own(hygiene::SCRUB_FIELDS),
        secret: own(hygiene::SECRET_FIELDS),
        size: own(hygiene::SIZE_FIELDS),
    }
}

/// PRIVATE, for replaying tests/vectors/config/scrub.json: the keyed hash of `value` (a
/// string as UTF-8, or bytes) under an explicit 32-byte key. Scrubbers never use it.
#[napi(js_name = "_tokenWithKey")]
pub fn token_with_key(key: &[u8], value: Either<String, &[u8]>) -> Result<String> {
    let key: &[u8; 32] = key.try_into().map_err(|_| {
        to_js_error(sealwire::Error::InvalidParameter(
            "the key must be 32 bytes",
        ))
    })?;
    Ok(match value {
        Either::A(s) => hygiene::token_with_key(key, s.as_bytes()),
        Either::B(b) => hygiene::token_with_key(key, b),
    })
}
