//! The security configuration: one documented file (TOML, or JSON for the bindings) that
//! fixes every security-relevant choice of an agent — identity algorithms and key storage,
//! the handshake per topology, cipher, KDF and nonce strategy, prekey batches, the storage
//! pattern and KEK provider with its rotation, metadata scrubbing, log retention hints and
//! sampling. Cargo feature `config`.
//!
//! * Strict: unknown keys, unknown values and wrong types are findings, never ignored; keys left
//!   out take the recommended default ([`SecurityConfig::default`]); only `version` is required.
//! * [`SecurityConfig::validate`] returns **every** problem as a [`Finding`] (dotted path,
//!   stable [`FindingCode`], message, the `allow_…` flag that would accept it). Unsafe or
//!   contradictory values are errors unless their named flag in `[overrides]` is set.
//! * [`SecurityConfig::check`] parses and validates, turning parse errors into findings too
//!   (what `sealwire config check` prints); [`SecurityConfig::load`] returns a configuration
//!   only when nothing blocks it.
//!
//! The format, field by field, every finding code and every flag: `docs/CONFIG.md`. Its JSON
//! Schema: `docs/security-config.schema.json`. Example files with the findings they must give
//! (replayed by every binding): `tests/vectors/config/`. A configuration holds no secret
//! (KMS credentials come from the environment or explicit settings, never from here).
//!
//! ```
//! use sealwire::config::{Format, SecurityConfig};
//! let text = "version = 1\n[ratchet]\nheader_encryption = false\n";
//! let report = SecurityConfig::check(text, Format::Toml);
//! assert!(!report.is_ok());
//! assert_eq!(report.findings()[0].code.as_str(), "ratchet-headers-clear");
//! assert_eq!(report.findings()[0].allow, Some("allow_clear_ratchet_headers"));
//! let ok = SecurityConfig::load(SecurityConfig::DEFAULT_TOML, Format::Toml).unwrap();
//! assert_eq!(ok, SecurityConfig::default());
//! ```

mod finding;
mod parse;
mod validate;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use serde::{Deserialize, Serialize};

pub use finding::{ConfigError, Finding, FindingCode, Report, Severity};
pub use parse::Format;

pub use crate::hygiene::ScrubMode;
use crate::envelope::{CacheLimits, SealOptions, Suite};
use crate::ratchet::{PrekeyOptions, SessionOptions};
use crate::KdfParams;

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

macro_rules! config_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ } default $default:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in the order the documentation lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value as written in configuration files.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

config_enum! {
    /// Whether every key agreement must include ML-KEM-768.
    PostQuantum {
        /// Hybrid (X25519 + ML-KEM-768) everywhere; anything else is an error unless
        /// `allow_classical_handshake`.
        Required = "required",
        /// Hybrid recommended; a classical choice is a warning.
        Preferred = "preferred",
        /// No requirement (a warning: recorded traffic may fall to a future quantum computer).
        Off = "off",
    } default Required
}

config_enum! {
    /// Identity signature algorithm (the only one sealwire implements).
    SignatureAlgorithm {
        /// Ed25519 with strict verification.
        Ed25519 = "ed25519",
    } default Ed25519
}

config_enum! {
    /// Identity key-agreement algorithm (the only one sealwire implements).
    KeyAgreementAlgorithm {
        /// X25519, non-contributory results refused.
        X25519 = "x25519",
    } default X25519
}

config_enum! {
    /// Where the agent's identity (private keys) is kept.
    IdentityStorage {
        /// Argon2id passphrase-encrypted export file (`Identity::export_with_params`).
        PassphraseFile = "passphrase-file",
        /// The export sealed as an envelope under the storage KEK (`storage.kek`).
        KekEnvelope = "kek-envelope",
        /// Memory only: a new identity every start (tests, throw-away agents).
        Memory = "memory",
    } default PassphraseFile
}

config_enum! {
    /// A Noise handshake pattern (Noise rev 34), `hfs` = hybrid with ML-KEM-768.
    HandshakePattern {
        /// Initiator knows the responder's key; both authenticated; one round trip.
        IkHfs = "IKhfs",
        /// [`HandshakePattern::IkHfs`] without ML-KEM.
        Ik = "IK",
        /// Keys exchanged in the handshake; both authenticated; 1.5 round trips.
        XxHfs = "XXhfs",
        /// [`HandshakePattern::XxHfs`] without ML-KEM.
        Xx = "XX",
        /// Both know each other's keys in advance.
        KkHfs = "KKhfs",
        /// [`HandshakePattern::KkHfs`] without ML-KEM.
        Kk = "KK",
        /// Only the responder is authenticated (the initiator is anonymous).
        NkHfs = "NKhfs",
        /// [`HandshakePattern::NkHfs`] without ML-KEM.
        Nk = "NK",
        /// Nobody is authenticated.
        NnHfs = "NNhfs",
        /// [`HandshakePattern::NnHfs`] without ML-KEM.
        Nn = "NN",
    } default IkHfs
}

impl HandshakePattern {
    /// Whether the pattern mixes in ML-KEM-768 (`hfs`).
    pub const fn is_hybrid(self) -> bool {
        matches!(self, Self::IkHfs | Self::XxHfs | Self::KkHfs | Self::NkHfs | Self::NnHfs)
    }

    /// Whether the initiator must know the responder's static key before starting.
    pub const fn needs_known_responder(self) -> bool {
        matches!(self, Self::IkHfs | Self::Ik | Self::KkHfs | Self::Kk | Self::NkHfs | Self::Nk)
    }

    /// Whether both parties are authenticated by their static keys.
    pub const fn is_mutual(self) -> bool {
        matches!(self, Self::IkHfs | Self::Ik | Self::XxHfs | Self::Xx | Self::KkHfs | Self::Kk)
    }
}

config_enum! {
    /// Key agreement for asynchronous sessions (prekey bundles, then the Double Ratchet).
    OfflineAgreement {
        /// PQXDH: X3DH plus a signed ML-KEM-768 prekey.
        Pqxdh = "pqxdh",
        /// X3DH only.
        X3dh = "x3dh",
    } default Pqxdh
}

config_enum! {
    /// The AEAD for Noise transport and handshake and for envelope segments.
    Aead {
        /// ChaCha20-Poly1305 (RFC 8439).
        ChaCha20Poly1305 = "chacha20-poly1305",
        /// AES-256-GCM.
        Aes256Gcm = "aes-256-gcm",
    } default ChaCha20Poly1305
}

config_enum! {
    /// The KDF of the Noise handshakes: HKDF over the Noise hash function. (The ratchet and
    /// envelope key schedules are fixed to HKDF-SHA-256 by their formats.)
    Kdf {
        /// HKDF with BLAKE2s (`_BLAKE2s`).
        HkdfBlake2s = "hkdf-blake2s",
        /// HKDF with SHA-256 (`_SHA256`).
        HkdfSha256 = "hkdf-sha256",
        /// HKDF with BLAKE2b (`_BLAKE2b`).
        HkdfBlake2b = "hkdf-blake2b",
        /// HKDF with SHA-512 (`_SHA512`).
        HkdfSha512 = "hkdf-sha512",
    } default HkdfBlake2s
}

config_enum! {
    /// How AEAD nonces are chosen for data under long-lived keys.
    NonceStrategy {
        /// Key and nonce derived per object from the data key and a fresh random 256-bit
        /// message id (sealwire's envelope format); single-use message keys in the ratchet.
        Derived = "derived",
        /// A fresh random 96-bit nonce per message: safe only up to a message bound per key.
        Random96 = "random-96",
        /// A fresh random 192-bit nonce (XChaCha20-Poly1305).
        Random192 = "random-192",
        /// A counter committed to durable storage before each use.
        CounterPersisted = "counter-persisted",
        /// A counter kept in memory only: repeats after a restart under the same key.
        CounterVolatile = "counter-volatile",
    } default Derived
}

config_enum! {
    /// How objects at rest are protected.
    StoragePattern {
        /// Envelope encryption: a data key per object, wrapped by the KEK (`storage.kek`).
        Envelope = "envelope",
        /// Sealed directly under one storage key held by the application.
        Direct = "direct",
        /// Not encrypted.
        Plaintext = "plaintext",
    } default Envelope
}

config_enum! {
    /// Where ratchet sessions are kept.
    SessionStore {
        /// SQLite, crash-safe (`store::SqliteStore`).
        Sqlite = "sqlite",
        /// Memory only (`store::MemoryStore`): sessions are lost at exit.
        Memory = "memory",
    } default Sqlite
}

config_enum! {
    /// Who holds the key-encryption key.
    KekProvider {
        /// A local sealwire keyring file.
        Keyring = "keyring",
        /// Vault / OpenBao Transit (`vault://…` URI).
        Vault = "vault",
        /// AWS KMS (`aws-kms://…` URI).
        AwsKms = "aws-kms",
        /// No KEK (only with `storage.pattern` `direct` or `plaintext`).
        None = "none",
    } default Keyring
}

config_enum! {
    /// How a local keyring file is protected.
    KeyringProtection {
        /// Argon2id over a passphrase (`identity.kdf` parameters).
        Passphrase = "passphrase",
        /// A 256-bit root key from the environment (`SEALWIRE_KEYRING_ROOT_KEY`).
        RootKey = "root-key",
    } default Passphrase
}

/// The whole configuration. Field docs give the defaults; `docs/CONFIG.md` the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Format version: must be [`FORMAT_VERSION`]. Required.
    pub version: u32,
    /// Post-quantum policy (`required`).
    #[serde(default)]
    pub post_quantum: PostQuantum,
    /// Identity algorithms and key storage.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// Handshake per topology.
    #[serde(default)]
    pub handshake: HandshakeConfig,
    /// Cipher, KDF, nonce strategy.
    #[serde(default)]
    pub cipher: CipherConfig,
    /// Double Ratchet options.
    #[serde(default)]
    pub ratchet: RatchetConfig,
    /// Prekey batches and rotation.
    #[serde(default)]
    pub prekeys: PrekeyConfig,
    /// Storage pattern, session store, KEK provider and rotation.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Telemetry scrubbing, retention hints, sampling.
    #[serde(default)]
    pub metadata: MetadataConfig,
    /// Named `allow_…` flags accepting otherwise refused values.
    #[serde(default)]
    pub overrides: Overrides,
}

/// `[identity]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// `ed25519`.
    pub signature: SignatureAlgorithm,
    /// `x25519`.
    pub key_agreement: KeyAgreementAlgorithm,
    /// `passphrase-file`.
    pub storage: IdentityStorage,
    /// Argon2id parameters for every passphrase-protected file (identity export, keyring).
    pub kdf: KdfConfig,
}

/// `[identity.kdf]`: Argon2id parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KdfConfig {
    /// Memory in KiB (65536 = 64 MiB).
    pub memory_kib: u32,
    /// Passes (3).
    pub iterations: u32,
    /// Lanes (4).
    pub lanes: u32,
}

impl Default for KdfConfig {
    fn default() -> Self {
        let d = KdfParams::default();
        Self { memory_kib: d.memory_kib(), iterations: d.iterations(), lanes: d.lanes() }
    }
}

/// `[handshake]`: one choice per topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandshakeConfig {
    /// Both online, the initiator knows the responder's identity (`IKhfs`).
    pub online: HandshakePattern,
    /// Both online, identities learned in the handshake (`XXhfs`).
    pub first_contact: HandshakePattern,
    /// The peer may be offline: prekey bundle key agreement (`pqxdh`).
    pub offline: OfflineAgreement,
}

impl Default for HandshakeConfig {
    fn default() -> Self {
        Self { online: HandshakePattern::IkHfs, first_contact: HandshakePattern::XxHfs, offline: OfflineAgreement::Pqxdh }
    }
}

/// `[cipher]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CipherConfig {
    /// `chacha20-poly1305`.
    pub aead: Aead,
    /// `hkdf-blake2s`.
    pub kdf: Kdf,
    /// `derived`.
    pub nonce: NonceStrategy,
    /// Most messages under one key with `random-96` nonces (2^32).
    pub max_messages_per_key: u64,
}

/// NIST SP 800-38D §8.3: at most 2^32 invocations with random 96-bit IVs per key.
pub const RANDOM_96_MESSAGE_BOUND: u64 = 1 << 32;

impl Default for CipherConfig {
    fn default() -> Self {
        Self {
            aead: Aead::ChaCha20Poly1305,
            kdf: Kdf::HkdfBlake2s,
            nonce: NonceStrategy::Derived,
            max_messages_per_key: RANDOM_96_MESSAGE_BOUND,
        }
    }
}

/// `[ratchet]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RatchetConfig {
    /// Encrypt Double Ratchet headers (`true`).
    pub header_encryption: bool,
}

impl Default for RatchetConfig {
    fn default() -> Self {
        Self { header_encryption: true }
    }
}

/// `[prekeys]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrekeyConfig {
    /// One-time X25519 prekeys kept published (100; 0 ..= 1000).
    pub batch_size: u32,
    /// One-time ML-KEM-768 prekeys kept published with PQXDH (100; 0 ..= 1000).
    pub kem_batch_size: u32,
    /// Days between signed-prekey rotations (7; 1 ..= 365).
    pub signed_rotation_days: u32,
    /// Days a replaced signed prekey still accepts initial messages (30; 0 ..= 365).
    pub signed_grace_days: u32,
}

impl Default for PrekeyConfig {
    fn default() -> Self {
        Self {
            batch_size: u32::from(crate::ratchet::DEFAULT_ONE_TIME_PREKEYS),
            kem_batch_size: u32::from(crate::ratchet::DEFAULT_KEM_ONE_TIME_PREKEYS),
            signed_rotation_days: 7,
            signed_grace_days: (crate::ratchet::DEFAULT_SIGNED_PREKEY_GRACE_SECS / 86_400) as u32,
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `envelope`.
    pub pattern: StoragePattern,
    /// `sqlite`.
    pub session_store: SessionStore,
    /// Envelope segment size in bytes (65536; 64 ..= 16 MiB).
    pub segment_size: u32,
    /// The key-encryption key.
    pub kek: KekConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            pattern: StoragePattern::Envelope,
            session_store: SessionStore::Sqlite,
            segment_size: crate::envelope::DEFAULT_SEGMENT_SIZE,
            kek: KekConfig::default(),
        }
    }
}

/// `[storage.kek]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KekConfig {
    /// `keyring`.
    pub provider: KekProvider,
    /// The key URI for `vault` / `aws-kms` (the syntax `RemoteKey::from_uri` accepts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// For `keyring`: `passphrase`.
    pub keyring_protection: KeyringProtection,
    /// Days between KEK rotations (90; 0 = never, refused unless allowed).
    pub rotation_days: u32,
    /// The data-key cache (`envelope::DataKeyCache`).
    pub cache: CacheConfig,
}

impl Default for KekConfig {
    fn default() -> Self {
        Self {
            provider: KekProvider::Keyring,
            uri: None,
            keyring_protection: KeyringProtection::Passphrase,
            rotation_days: 90,
            cache: CacheConfig::default(),
        }
    }
}

/// `[storage.kek.cache]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Seal through a data-key cache (`false`).
    pub enabled: bool,
    /// Seconds one data key serves (300; 1 ..= 86400).
    pub max_age_secs: u64,
    /// Envelopes per data key (4096; 1 ..= 2^32).
    pub max_messages: u64,
    /// Plaintext bytes per data key (1 GiB; ≥ 1).
    pub max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        let d = CacheLimits::default();
        Self { enabled: false, max_age_secs: d.max_age().as_secs(), max_messages: d.max_messages(), max_bytes: d.max_bytes() }
    }
}

/// `[metadata]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataConfig {
    /// Scrub the application's telemetry (`true`).
    pub scrub: bool,
    /// Identifying fields: `hash` (per-process keyed hash) or `drop`.
    pub mode: ScrubMode,
    /// Also search text values for identifiers (`true`).
    pub redact_values: bool,
    /// Field names scrubbed like the built-in list (`[]`).
    pub extra_fields: Vec<String>,
    /// Sampling of high-frequency events.
    pub sampling: SamplingConfig,
    /// Retention hints for exported telemetry.
    pub retention: RetentionConfig,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        Self {
            scrub: true,
            mode: ScrubMode::Hash,
            redact_values: true,
            extra_fields: Vec::new(),
            sampling: SamplingConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

/// `[metadata.sampling]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingConfig {
    /// Fraction of high-frequency events kept (1.0; 0 ..= 1).
    pub rate: f64,
    /// Name or target prefixes of the high-frequency events (`[]`).
    pub events: Vec<String>,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self { rate: 1.0, events: Vec::new() }
    }
}

/// `[metadata.retention]`: hints passed to the telemetry pipeline (sealwire deletes nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days to keep logs (30; ≤ 90 unless allowed; ≤ 3650).
    pub log_days: u32,
    /// Days to keep traces (7; ≤ 30 unless allowed; ≤ 3650).
    pub trace_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { log_days: 30, trace_days: 7 }
    }
}

macro_rules! overrides {
    ($($(#[$doc:meta])* $flag:ident,)+) => {
        /// `[overrides]`: each flag accepts the findings that name it. All `false` by default.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Overrides {
            $($(#[$doc])* pub $flag: bool,)+
        }

        impl Overrides {
            /// Every flag name.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($flag),)+];

            /// The flag named `name`, if it exists.
            pub fn get(&self, name: &str) -> Option<bool> {
                match name {
                    $(stringify!($flag) => Some(self.$flag),)+
                    _ => None,
                }
            }
        }
    };
}

overrides! {
    /// Accept `nonce-unsafe`.
    allow_unsafe_nonce,
    /// Accept `random-nonce-bound`.
    allow_random_nonce_beyond_bound,
    /// Accept `handshake-not-hybrid`.
    allow_classical_handshake,
    /// Accept `handshake-unauthenticated`.
    allow_unauthenticated_handshake,
    /// Accept `ratchet-headers-clear`.
    allow_clear_ratchet_headers,
    /// Accept `no-one-time-prekeys`.
    allow_no_one_time_prekeys,
    /// Accept `signed-prekey-rotation-long`.
    allow_long_signed_prekey_rotation,
    /// Accept `plaintext-storage`.
    allow_plaintext_storage,
    /// Accept `kek-rotation-never`.
    allow_no_kek_rotation,
    /// Accept `kek-rotation-long`.
    allow_long_kek_rotation,
    /// Accept `cache-max-age-long`.
    allow_long_cache_max_age,
    /// Accept `weak-kdf`.
    allow_weak_kdf,
    /// Accept `scrubbing-off`.
    allow_no_scrubbing,
    /// Accept `retention-long`.
    allow_long_log_retention,
}

impl Default for SecurityConfig {
    /// The recommended configuration (the same as [`SecurityConfig::DEFAULT_TOML`]).
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            post_quantum: PostQuantum::Required,
            identity: IdentityConfig::default(),
            handshake: HandshakeConfig::default(),
            cipher: CipherConfig::default(),
            ratchet: RatchetConfig::default(),
            prekeys: PrekeyConfig::default(),
            storage: StorageConfig::default(),
            metadata: MetadataConfig::default(),
            overrides: Overrides::default(),
        }
    }
}

/// The two online topologies a Noise handshake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topology {
    /// `handshake.online`.
    Online,
    /// `handshake.first_contact`.
    FirstContact,
}

impl SecurityConfig {
    /// The recommended configuration as a commented TOML file (what `sealwire config init`
    /// writes). Parses to [`SecurityConfig::default`] and validates clean.
    pub const DEFAULT_TOML: &'static str = include_str!("default.toml");

    /// Parse TOML strictly (types, known keys and values), without the policy checks of
    /// [`SecurityConfig::validate`]. The error holds every parse finding.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        parse::parse(text, Format::Toml).map_err(|f| ConfigError::new(Report::from_findings(f)))
    }

    /// Parse JSON strictly (same structure as the TOML form); no policy checks.
    pub fn from_json_str(text: &str) -> Result<Self, ConfigError> {
        parse::parse(text, Format::Json).map_err(|f| ConfigError::new(Report::from_findings(f)))
    }

    /// This configuration as TOML (every key, no comments).
    pub fn to_toml_string(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| {
            ConfigError::new(Report::from_findings(vec![Finding::new(
                "",
                FindingCode::WrongType,
                Severity::Error,
                format!("cannot write as TOML: {e}"),
            )]))
        })
    }

    /// This configuration as pretty-printed JSON (every key).
    pub fn to_json_string(&self) -> String {
        // Serializing these plain structs to JSON cannot fail except for a non-finite
        // `sampling.rate`, which JSON writes as `null` (and validation refuses).
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Every problem, as findings (module docs). Pure: no I/O, no environment.
    pub fn validate(&self) -> Report {
        Report::from_findings(validate::validate(self))
    }

    /// Parse and validate, with parse errors reported as findings as well: what
    /// `sealwire config check` prints and what the vector files list.
    pub fn check(text: &str, format: Format) -> Report {
        match parse::parse(text, format) {
            Ok(c) => c.validate(),
            Err(f) => Report::from_findings(f),
        }
    }

    /// Parse and validate: the configuration when nothing blocks it, otherwise every finding.
    pub fn load(text: &str, format: Format) -> Result<Self, ConfigError> {
        let config = parse::parse(text, format).map_err(|f| ConfigError::new(Report::from_findings(f)))?;
        let report = config.validate();
        if report.is_ok() {
            Ok(config)
        } else {
            Err(ConfigError::new(report))
        }
    }

    /// The Noise protocol name for a topology, e.g.
    /// `Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s` (accepted by `NoiseBuilder::new`).
    pub fn noise_protocol(&self, topology: Topology) -> String {
        let pattern = match topology {
            Topology::Online => self.handshake.online,
            Topology::FirstContact => self.handshake.first_contact,
        };
        let dh = if pattern.is_hybrid() { "25519+MLKEM768" } else { "25519" };
        let cipher = match self.cipher.aead {
            Aead::ChaCha20Poly1305 => "ChaChaPoly",
            Aead::Aes256Gcm => "AESGCM",
        };
        let hash = match self.cipher.kdf {
            Kdf::HkdfBlake2s => "BLAKE2s",
            Kdf::HkdfSha256 => "SHA256",
            Kdf::HkdfBlake2b => "BLAKE2b",
            Kdf::HkdfSha512 => "SHA512",
        };
        format!("Noise_{}_{dh}_{cipher}_{hash}", pattern.as_str())
    }

    /// Options for `PrekeyStore::generate_with_options`. `InvalidParameter` for counts the
    /// store refuses (validate first).
    pub fn prekey_options(&self) -> crate::Result<PrekeyOptions> {
        let count = |n: u32| {
            u16::try_from(n)
                .ok()
                .filter(|&n| usize::from(n) <= crate::ratchet::MAX_PREKEYS)
                .ok_or(crate::Error::InvalidParameter("at most 1000 one-time prekeys of each kind"))
        };
        Ok(PrekeyOptions {
            one_time_prekeys: count(self.prekeys.batch_size)?,
            kem_one_time_prekeys: count(self.prekeys.kem_batch_size)?,
            post_quantum: self.handshake.offline == OfflineAgreement::Pqxdh,
        })
    }

    /// Options for `Session::initiate_with_options`.
    pub fn session_options(&self) -> SessionOptions {
        SessionOptions { header_encryption: self.ratchet.header_encryption }
    }

    /// Argon2id parameters for passphrase-protected files.
    pub fn kdf_params(&self) -> crate::Result<KdfParams> {
        let k = &self.identity.kdf;
        KdfParams::new(k.memory_kib, k.iterations, k.lanes)
    }

    /// Envelope suite and segment size.
    pub fn seal_options(&self) -> crate::Result<SealOptions> {
        let suite = match self.cipher.aead {
            Aead::ChaCha20Poly1305 => Suite::ChaCha20Poly1305,
            Aead::Aes256Gcm => Suite::Aes256Gcm,
        };
        SealOptions::new(suite, self.storage.segment_size)
    }

    /// Data-key cache limits, when the cache is enabled.
    pub fn cache_limits(&self) -> crate::Result<Option<CacheLimits>> {
        let c = &self.storage.kek.cache;
        if !c.enabled {
            return Ok(None);
        }
        CacheLimits::new(std::time::Duration::from_secs(c.max_age_secs), c.max_messages, c.max_bytes).map(Some)
    }

    /// A telemetry scrubber for `[metadata]`, or `None` when scrubbing is off.
    pub fn scrubber(&self) -> Option<crate::hygiene::Scrubber> {
        let m = &self.metadata;
        m.scrub.then(|| {
            crate::hygiene::Scrubber::new(m.mode).with_extra_fields(&m.extra_fields).with_value_redaction(m.redact_values)
        })
    }
}
