//! Metadata hygiene: the one list of telemetry fields that identify agents or expose traffic
//! metadata, and the rules that scrub them out of an application's logs, traces and metrics.
//!
//! The same rules are meant to drive every scrubber — the `tracing` layer here
//! ([`ScrubLayer`], cargo feature `tracing-scrub`), the Python `logging.Filter` and
//! OpenTelemetry span processor, and the Node log / span scrubber — so that a field is
//! treated alike in every language. `docs/CONFIG.md` ("Scrubbing rules") states them and
//! `tests/vectors/config/scrub.json` holds cases every implementation replays.
//!
//! * **Field classes.** A field name is split into lower-case tokens (at every character that
//!   is not a letter or digit, and at camelCase boundaries: `remotePeerID` → `remote peer id`).
//!   It belongs to a list when its tokens *end with* the tokens of an entry of that list
//!   (`remote_peer_id` and `peerId` end with `peer id`). [`SECRET_FIELDS`] are always dropped;
//!   [`SCRUB_FIELDS`] (and the application's extra fields) are dropped or replaced by a keyed
//!   hash ([`ScrubMode`]); [`SIZE_FIELDS`] are replaced by a size bucket ([`size_bucket`]),
//!   never an exact size. Other fields are kept, with identifiers inside their text redacted
//!   ([`Scrubber::redact_text`]) unless value redaction is turned off.
//! * **Keyed hash.** `h:` followed by the first 16 hex digits of HMAC-SHA-256 under a random key
//!   drawn once per process ([`token`]). The same value gives the same token everywhere in one
//!   process (so log lines about one peer can be correlated), and a different token in every
//!   other process (so tokens cannot be joined across processes or machines, nor reversed by
//!   hashing candidate identities). If the operating system's random generator fails, hashed
//!   fields are dropped instead (fail closed).
//! * **Sampling.** [`Sampler`] keeps a configured fraction of high-frequency events.
//!
//! sealwire's own `tracing` events (handshake done, decrypt failed, rekey, key rotation) never
//! carry a value this module would scrub: their fields come from a fixed set ([`EVENT_FIELDS`])
//! of protocol names, outcomes, error codes and size buckets.

mod events;
#[cfg(feature = "tracing-scrub")]
mod layer;
mod text;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub(crate) use events::emit;
pub use events::{EVENTS, EVENT_FIELDS};
#[cfg(feature = "tracing-scrub")]
pub use layer::{JsonLinesSink, ScrubLayer, ScrubSink, ScrubbedEvent, ScrubbedSpan};

/// Fields that identify an agent, a conversation or its routing: dropped, or replaced by a
/// keyed hash ([`ScrubMode`]). Matched by token suffix (module docs), so `peer_id` also covers
/// `remote_peer_id` and `peerId`.
pub const SCRUB_FIELDS: &[&str] = &[
    "peer_id",
    "peer",
    "routing_hint",
    "message_type",
    "did",
    "fingerprint",
    "mailbox",
    "mailbox_id",
    "mailbox_address",
    "identity",
    "public_key",
    "key_id",
    "session_id",
    "message_id",
    "prekey_id",
    "recipient",
    "recipient_id",
    "sender",
    "sender_id",
    "agent_id",
    "user_id",
    "remote_static",
    "handshake_hash",
    "signature",
    "ip",
    "ip_address",
    "remote_addr",
    "email",
    "email_address",
];

/// Fields that may hold secrets: always dropped, whatever the [`ScrubMode`].
pub const SECRET_FIELDS: &[&str] = &[
    "secret",
    "secrets",
    "secret_key",
    "private_key",
    "password",
    "passwords",
    "passphrase",
    "token",
    "api_key",
    "psk",
    "dek",
    "kek",
    "root_key",
    "storage_key",
    "seed",
    "authorization",
    "credential",
    "credentials",
    "cookie",
];

/// Fields holding sizes: an exact size is traffic metadata, so a number becomes its
/// [`size_bucket`] and anything else is dropped.
pub const SIZE_FIELDS: &[&str] = &["size", "len", "length", "bytes"];

/// What happens to an identifying field ([`SCRUB_FIELDS`] and the application's extra fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "config", derive(serde::Serialize, serde::Deserialize))]
pub enum ScrubMode {
    /// Replace the value by its per-process keyed hash ([`token`]). The default.
    #[default]
    #[cfg_attr(feature = "config", serde(rename = "hash"))]
    Hash,
    /// Remove the field.
    #[cfg_attr(feature = "config", serde(rename = "drop"))]
    Drop,
}

impl ScrubMode {
    /// Every mode.
    pub const ALL: &'static [ScrubMode] = &[ScrubMode::Hash, ScrubMode::Drop];

    /// The name used in configuration files.
    pub const fn as_str(self) -> &'static str {
        match self {
            ScrubMode::Hash => "hash",
            ScrubMode::Drop => "drop",
        }
    }
}

/// Which rule applies to a field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldClass {
    /// [`SECRET_FIELDS`]: always dropped.
    Secret,
    /// [`SCRUB_FIELDS`] or an extra field of the application: dropped or hashed.
    Identifying,
    /// [`SIZE_FIELDS`]: bucketed.
    Size,
    /// Anything else: kept (text values redacted).
    Other,
}

impl FieldClass {
    /// A stable lower-case name (`secret`, `identifying`, `size`, `other`).
    pub const fn as_str(self) -> &'static str {
        match self {
            FieldClass::Secret => "secret",
            FieldClass::Identifying => "identifying",
            FieldClass::Size => "size",
            FieldClass::Other => "other",
        }
    }
}

/// Split a field name into lower-case tokens: at every character that is not an ASCII letter
/// or digit, and at camelCase boundaries (`remotePeerID` → `remote`, `peer`, `id`;
/// `HTTPServer` → `http`, `server`). The rule every scrubber implements.
pub fn field_tokens(name: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        let chars: Vec<char> = word.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let (prev, cur) = (chars[i - 1], chars[i]);
            let next_lower = chars.get(i + 1).is_some_and(|c| c.is_ascii_lowercase());
            let boundary = (cur.is_ascii_uppercase() && (prev.is_ascii_lowercase() || prev.is_ascii_digit()))
                || (cur.is_ascii_uppercase() && prev.is_ascii_uppercase() && next_lower);
            if boundary {
                tokens.push(chars[start..i].iter().collect::<String>().to_ascii_lowercase());
                start = i;
            }
        }
        tokens.push(chars[start..].iter().collect::<String>().to_ascii_lowercase());
    }
    tokens
}

fn ends_with_entry(tokens: &[String], entry: &[String]) -> bool {
    !entry.is_empty() && tokens.len() >= entry.len() && tokens[tokens.len() - entry.len()..] == *entry
}

/// [`ends_with_entry`], or the same with the last token in the plural (`+s`, `+es`):
/// `peer_ids`, `recipients`, `mailbox_addresses`, `sizes`, `api_keys`. For secret entries
/// only entries of several tokens (`api_key` → `api_keys`): a plural of one word there is
/// usually a count (`prompt_tokens`, `tokens`).
fn ends_with_entry_or_plural(tokens: &[String], entry: &[String], single_token_plural: bool) -> bool {
    if ends_with_entry(tokens, entry) {
        return true;
    }
    if !single_token_plural && entry.len() < 2 {
        return false;
    }
    let (Some((last, head)), Some((entry_last, entry_head))) = (tokens.split_last(), entry.split_last()) else {
        return false;
    };
    let plural = last.strip_suffix('s').is_some_and(|l| l == entry_last)
        || last.strip_suffix("es").is_some_and(|l| l == entry_last);
    plural && (entry_head.is_empty() || ends_with_entry(head, entry_head))
}

fn tokenize_all(list: &[&str]) -> Vec<Vec<String>> {
    list.iter().map(|f| field_tokens(f)).collect()
}

/// The size bucket of a length: `0`, `<=64`, `<=256`, `<=1KiB`, `<=4KiB`, `<=16KiB`,
/// `<=64KiB`, `<=256KiB`, `<=1MiB`, `<=16MiB` or `>16MiB`. Events and scrubbed telemetry carry
/// this, never an exact size.
pub fn size_bucket(len: u64) -> &'static str {
    const BUCKETS: &[(u64, &str)] = &[
        (0, "0"),
        (64, "<=64"),
        (256, "<=256"),
        (1 << 10, "<=1KiB"),
        (4 << 10, "<=4KiB"),
        (16 << 10, "<=16KiB"),
        (64 << 10, "<=64KiB"),
        (256 << 10, "<=256KiB"),
        (1 << 20, "<=1MiB"),
        (16 << 20, "<=16MiB"),
    ];
    BUCKETS.iter().find(|(max, _)| len <= *max).map_or(">16MiB", |(_, name)| name)
}

fn process_key() -> Option<&'static [u8; 32]> {
    static KEY: OnceLock<Option<[u8; 32]>> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        crate::random::fill(&mut k).ok().map(|()| k)
    })
    .as_ref()
}

/// The keyed hash of `value` under an explicit key: `h:` and the first 16 hex digits of
/// HMAC-SHA-256(key, value). Only for replaying `tests/vectors/config/scrub.json`; scrubbers
/// use [`token`], whose key is drawn once per process.
#[doc(hidden)]
pub fn token_with_key(key: &[u8; 32], value: &[u8]) -> String {
    let mut out = String::with_capacity(18);
    out.push_str("h:");
    if let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        mac.update(value);
        for b in &mac.finalize().into_bytes()[..8] {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The per-process keyed hash of `value` (module docs): equal values give equal tokens within
/// this process, unrelated tokens in any other. `None` if no process key could be drawn from
/// the operating system (then the value must be dropped).
pub fn token(value: &[u8]) -> Option<String> {
    process_key().map(|k| token_with_key(k, value))
}

/// Scrubs telemetry fields by the rules of this module: the built-in lists, the application's
/// extra identifying fields, a [`ScrubMode`], and whether text values are searched for
/// identifiers.
#[derive(Debug, Clone)]
pub struct Scrubber {
    mode: ScrubMode,
    redact_values: bool,
    secret: Vec<Vec<String>>,
    identifying: Vec<Vec<String>>,
    size: Vec<Vec<String>>,
}

impl Default for Scrubber {
    fn default() -> Self {
        Self::new(ScrubMode::Hash)
    }
}

/// The result of scrubbing one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scrubbed<'a> {
    /// Keep the field with this value (possibly the original).
    Keep(Cow<'a, str>),
    /// Remove the field.
    Drop,
}

impl<'a> Scrubbed<'a> {
    /// The value kept, if any.
    pub fn value(&self) -> Option<&str> {
        match self {
            Scrubbed::Keep(v) => Some(v),
            Scrubbed::Drop => None,
        }
    }
}

impl Scrubber {
    /// The built-in lists with `mode` for identifying fields and value redaction on.
    pub fn new(mode: ScrubMode) -> Self {
        Self {
            mode,
            redact_values: true,
            secret: tokenize_all(SECRET_FIELDS),
            identifying: tokenize_all(SCRUB_FIELDS),
            size: tokenize_all(SIZE_FIELDS),
        }
    }

    /// Also treat these field names as identifying (the configuration's
    /// `metadata.extra_fields`). Names with no letter or digit are ignored.
    pub fn with_extra_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.identifying.extend(fields.into_iter().map(|f| field_tokens(f.as_ref())).filter(|t| !t.is_empty()));
        self
    }

    /// Turn the search for identifiers inside text values on or off (on by default).
    pub fn with_value_redaction(mut self, on: bool) -> Self {
        self.redact_values = on;
        self
    }

    /// The mode for identifying fields.
    pub fn mode(&self) -> ScrubMode {
        self.mode
    }

    /// Which rule applies to `name`. Secret wins over identifying, identifying over size.
    pub fn classify(&self, name: &str) -> FieldClass {
        let tokens = field_tokens(name);
        if self.secret.iter().any(|e| ends_with_entry_or_plural(&tokens, e, false)) {
            FieldClass::Secret
        } else if self.identifying.iter().any(|e| ends_with_entry_or_plural(&tokens, e, true)) {
            FieldClass::Identifying
        } else if self.size.iter().any(|e| ends_with_entry_or_plural(&tokens, e, true)) {
            FieldClass::Size
        } else {
            FieldClass::Other
        }
    }

    /// Scrub one field given as text (numbers as their decimal form).
    pub fn scrub<'a>(&self, name: &str, value: &'a str) -> Scrubbed<'a> {
        match self.classify(name) {
            FieldClass::Secret => Scrubbed::Drop,
            FieldClass::Identifying => self.identifying_value(value.as_bytes()),
            FieldClass::Size => match value.trim().parse::<u64>() {
                Ok(n) => Scrubbed::Keep(Cow::Borrowed(size_bucket(n))),
                Err(_) => Scrubbed::Drop,
            },
            FieldClass::Other => Scrubbed::Keep(self.redact_text(value)),
        }
    }

    /// Scrub one numeric field: identifying numbers are hashed or dropped, sizes bucketed,
    /// other numbers kept.
    pub fn scrub_u64(&self, name: &str, value: u64) -> Scrubbed<'static> {
        match self.classify(name) {
            FieldClass::Secret => Scrubbed::Drop,
            FieldClass::Identifying => match self.identifying_value(value.to_string().as_bytes()) {
                Scrubbed::Keep(v) => Scrubbed::Keep(Cow::Owned(v.into_owned())),
                Scrubbed::Drop => Scrubbed::Drop,
            },
            FieldClass::Size => Scrubbed::Keep(Cow::Borrowed(size_bucket(value))),
            FieldClass::Other => Scrubbed::Keep(Cow::Owned(value.to_string())),
        }
    }

    fn identifying_value(&self, value: &[u8]) -> Scrubbed<'static> {
        match self.mode {
            ScrubMode::Drop => Scrubbed::Drop,
            ScrubMode::Hash => token(value).map_or(Scrubbed::Drop, |t| Scrubbed::Keep(Cow::Owned(t))),
        }
    }

    /// Replace identifiers found inside free text — `did:key:z…`, safety-number fingerprints
    /// (four or more space-separated groups of five digits), hex runs of 32 or more digits,
    /// and base64 / base64url / base58 runs of 40 or more characters mixing upper case, lower
    /// case and digits — by their keyed hash (mode `hash`) or `[redacted]` (mode `drop`).
    /// Returns the text unchanged (borrowed) when value redaction is off or nothing matched.
    pub fn redact_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.redact_values {
            return Cow::Borrowed(text);
        }
        text::redact(text, |found| match self.identifying_value(found.as_bytes()) {
            Scrubbed::Keep(t) => t.into_owned(),
            Scrubbed::Drop => "[redacted]".to_owned(),
        })
    }
}

/// Keeps a fraction of events: `rate` 1 keeps all, 0 none, anything between keeps each event
/// independently with that probability (a SplitMix64 sequence seeded once from the operating
/// system; not for cryptographic use).
#[derive(Debug)]
pub struct Sampler {
    threshold: Option<u64>,
    state: AtomicU64,
}

impl Sampler {
    /// A sampler keeping `rate` of the events. `InvalidParameter` unless `0 ≤ rate ≤ 1`.
    pub fn new(rate: f64) -> crate::Result<Self> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(crate::Error::InvalidParameter("sampling rate must be 0 ..= 1"));
        }
        // `None` = keep everything; otherwise keep when the next draw is below the threshold.
        let threshold = if rate >= 1.0 {
            None
        } else {
            // rate < 1, so the product is below 2^64 and the cast saturates at worst.
            Some((rate * 18_446_744_073_709_551_616.0) as u64)
        };
        let mut seed = [0u8; 8];
        // A failed seed only makes the sequence predictable, which sampling tolerates.
        let _ = crate::random::fill(&mut seed);
        Ok(Self { threshold, state: AtomicU64::new(u64::from_le_bytes(seed)) })
    }

    /// Whether to keep the next event.
    pub fn keep(&self) -> bool {
        match self.threshold {
            None => true,
            Some(0) => false,
            Some(t) => {
                let s = self.state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
                splitmix64(s.wrapping_add(0x9E37_79B9_7F4A_7C15)) < t
            }
        }
    }

    /// The decision for a given 64-bit draw (for tests and for bindings that draw themselves):
    /// keep when `draw < rate · 2^64`.
    pub fn keep_draw(&self, draw: u64) -> bool {
        self.threshold.is_none_or(|t| draw < t)
    }
}

/// Sampling of high-frequency events (`[metadata.sampling]`): an event whose name or target
/// starts with one of `prefixes` is kept with probability `rate`; every other event is kept.
/// The one rule the `tracing` layer and the Python and Node scrubbers apply.
#[derive(Debug)]
pub struct EventSampler {
    sampler: Sampler,
    rate: f64,
    prefixes: Vec<String>,
}

impl EventSampler {
    /// `InvalidParameter` unless `0 ≤ rate ≤ 1`.
    pub fn new<I, S>(rate: f64, prefixes: I) -> crate::Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Ok(Self { sampler: Sampler::new(rate)?, rate, prefixes: prefixes.into_iter().map(Into::into).collect() })
    }

    /// Keeps every event.
    pub fn keep_all() -> Self {
        Self { sampler: Sampler { threshold: None, state: AtomicU64::new(0) }, rate: 1.0, prefixes: Vec::new() }
    }

    /// Whether the event `name` (of `target`, if it has one) is high-frequency.
    pub fn is_sampled(&self, name: &str, target: Option<&str>) -> bool {
        self.prefixes.iter().any(|p| name.starts_with(p.as_str()) || target.is_some_and(|t| t.starts_with(p.as_str())))
    }

    /// Whether to keep this event (a fresh draw for each high-frequency one).
    pub fn keep(&self, name: &str, target: Option<&str>) -> bool {
        !self.is_sampled(name, target) || self.sampler.keep()
    }

    /// The configured rate.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The configured prefixes.
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
