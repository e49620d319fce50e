//! The policy checks of [`SecurityConfig::validate`]: hard limits (errors no flag accepts),
//! unsafe or contradictory values (errors unless their `allow_…` flag is set) and warnings.
//! Every rule is listed in docs/CONFIG.md ("Findings").

use std::collections::BTreeSet;

use super::finding::{Finding, FindingCode as C, Severity};
use super::*;
use crate::hygiene::{field_tokens, FieldClass, Scrubber};

const MAX_PREKEYS: u32 = crate::ratchet::MAX_PREKEYS as u32;
const KEK_ROTATION_MAX_DAYS: u32 = 365;
const SIGNED_PREKEY_ROTATION_MAX_DAYS: u32 = 30;
const CACHE_MAX_AGE_RECOMMENDED_SECS: u64 = 3600;
const CACHE_MAX_AGE_LIMIT_SECS: u64 = 24 * 3600;
const LOG_RETENTION_MAX_DAYS: u32 = 90;
const TRACE_RETENTION_MAX_DAYS: u32 = 30;
const RETENTION_LIMIT_DAYS: u32 = 3650;
/// RFC 9106 §4, second recommended option: 64 MiB × 3 passes.
const KDF_RECOMMENDED_COST: u64 = 64 * 1024 * 3;

struct Checker<'a> {
    cfg: &'a SecurityConfig,
    findings: Vec<Finding>,
    used: BTreeSet<&'static str>,
}

impl Checker<'_> {
    fn error(&mut self, path: &str, code: C, message: String) {
        self.findings.push(Finding::new(path, code, Severity::Error, message));
    }

    fn warning(&mut self, path: &str, code: C, message: String) {
        self.findings.push(Finding::new(path, code, Severity::Warning, message));
    }

    /// Refused unless `flag` is set.
    fn policy(&mut self, path: &str, code: C, flag: &'static str, message: String) {
        let allowed = self.cfg.overrides.get(flag) == Some(true);
        if allowed {
            self.used.insert(flag);
        }
        let severity = if allowed { Severity::Allowed } else { Severity::Error };
        let mut f = Finding::new(path, code, severity, message);
        f.allow = Some(flag);
        self.findings.push(f);
    }

    fn range<T: PartialOrd + core::fmt::Display>(&mut self, path: &str, value: T, min: T, max: T, unit: &str) -> bool {
        let ok = value >= min && value <= max;
        if !ok {
            self.error(path, C::OutOfRange, format!("{value} is outside {min} ..= {max}{unit}"));
        }
        ok
    }
}

pub(super) fn validate(cfg: &SecurityConfig) -> Vec<Finding> {
    let mut c = Checker { cfg, findings: Vec::new(), used: BTreeSet::new() };
    if cfg.version != FORMAT_VERSION {
        c.error(
            "version",
            C::UnsupportedVersion,
            format!("format version {} is not supported (this build reads version {FORMAT_VERSION})", cfg.version),
        );
        return c.findings;
    }
    if cfg.post_quantum == PostQuantum::Off {
        c.warning(
            "post_quantum",
            C::PostQuantumOff,
            "no post-quantum requirement: traffic recorded today may be decrypted by a future quantum computer".into(),
        );
    }
    identity(&mut c);
    handshake(&mut c);
    cipher(&mut c);
    prekeys(&mut c);
    storage(&mut c);
    metadata(&mut c);
    for &flag in Overrides::NAMES {
        if cfg.overrides.get(flag) == Some(true) && !c.used.contains(flag) {
            c.warning(
                &format!("overrides.{flag}"),
                C::UnusedOverride,
                "set, but nothing in this configuration needs it: remove it so it cannot silently accept a later change".into(),
            );
        }
    }
    c.findings
}

fn identity(c: &mut Checker<'_>) {
    let id = &c.cfg.identity;
    match id.storage {
        IdentityStorage::Memory => c.warning(
            "identity.storage",
            C::IdentityNotPersisted,
            "the identity lives in memory only: every start is a new agent that peers cannot recognise".into(),
        ),
        IdentityStorage::KekEnvelope if c.cfg.storage.kek.provider == KekProvider::None => c.error(
            "identity.storage",
            C::KekMissing,
            "kek-envelope needs a KEK provider: set storage.kek.provider".into(),
        ),
        _ => {}
    }
    let k = &id.kdf;
    let ok = c.range("identity.kdf.memory_kib", k.memory_kib, 19 * 1024, 4 * 1024 * 1024, " KiB")
        & c.range("identity.kdf.iterations", k.iterations, 1, 64, "")
        & c.range("identity.kdf.lanes", k.lanes, 1, 16, "");
    if !ok {
        return;
    }
    let cost = u64::from(k.memory_kib) * u64::from(k.iterations);
    if cost < 19 * 1024 * 2 {
        c.error(
            "identity.kdf",
            C::OutOfRange,
            format!("memory × iterations = {cost} KiB is below the OWASP minimum for Argon2id (19 MiB × 2)"),
        );
    } else if cost < KDF_RECOMMENDED_COST {
        c.policy(
            "identity.kdf",
            C::WeakKdf,
            "allow_weak_kdf",
            format!(
                "Argon2id memory × iterations = {cost} KiB is below RFC 9106's recommendation (64 MiB × 3): passphrases are cheaper to guess offline"
            ),
        );
    }
}

fn hybrid_rule(c: &mut Checker<'_>, path: &str, what: &str) {
    match c.cfg.post_quantum {
        PostQuantum::Required => c.policy(
            path,
            C::HandshakeNotHybrid,
            "allow_classical_handshake",
            format!("{what} without ML-KEM-768 while post_quantum = \"required\": recorded traffic is exposed to a future quantum computer"),
        ),
        PostQuantum::Preferred => {
            c.warning(path, C::HandshakeNotHybrid, format!("{what} without ML-KEM-768 while post_quantum = \"preferred\""))
        }
        PostQuantum::Off => {}
    }
}

fn handshake(c: &mut Checker<'_>) {
    let h = c.cfg.handshake.clone();
    for (path, pattern) in [("handshake.online", h.online), ("handshake.first_contact", h.first_contact)] {
        if path == "handshake.first_contact" && pattern.needs_known_responder() {
            c.error(
                path,
                C::HandshakeNeedsKnownPeer,
                format!("{pattern} needs the responder's key before the first message, which first contact does not have: use XXhfs"),
            );
        }
        if !pattern.is_mutual() {
            let who = if pattern.needs_known_responder() { "the initiator is not authenticated" } else { "neither party is authenticated" };
            c.policy(
                path,
                C::HandshakeUnauthenticated,
                "allow_unauthenticated_handshake",
                format!("{pattern}: {who}, so anyone can open a session under any name"),
            );
        }
        if !pattern.is_hybrid() {
            hybrid_rule(c, path, &format!("handshake {pattern}"));
        }
    }
    if h.offline == OfflineAgreement::X3dh {
        hybrid_rule(c, "handshake.offline", "x3dh key agreement");
    }
}

fn cipher(c: &mut Checker<'_>) {
    let x = c.cfg.cipher.clone();
    match x.nonce {
        NonceStrategy::CounterVolatile => c.policy(
            "cipher.nonce",
            C::NonceUnsafe,
            "allow_unsafe_nonce",
            "a counter kept only in memory repeats after a restart under the same key (nonce reuse breaks the AEAD); use derived, random-96 or wider, or counter-persisted".into(),
        ),
        NonceStrategy::Random192 if x.aead == Aead::Aes256Gcm => c.error(
            "cipher.nonce",
            C::NonceAeadMismatch,
            "192-bit random nonces exist only for XChaCha20-Poly1305; with aes-256-gcm use derived or random-96".into(),
        ),
        _ => {}
    }
    if x.max_messages_per_key == 0 {
        c.error("cipher.max_messages_per_key", C::OutOfRange, "0 messages per key: must be at least 1".into());
    } else if x.nonce == NonceStrategy::Random96 && x.max_messages_per_key > RANDOM_96_MESSAGE_BOUND {
        c.policy(
            "cipher.max_messages_per_key",
            C::RandomNonceBound,
            "allow_random_nonce_beyond_bound",
            format!(
                "{} messages per key with random 96-bit nonces exceeds 2^32 (NIST SP 800-38D): a nonce collision becomes likely, which with {} reveals the authentication key",
                x.max_messages_per_key, x.aead
            ),
        );
    }
    if !c.cfg.ratchet.header_encryption {
        c.policy(
            "ratchet.header_encryption",
            C::RatchetHeadersClear,
            "allow_clear_ratchet_headers",
            "ratchet headers in clear expose the ratchet key and counters, linking every message of a conversation".into(),
        );
    }
}

fn prekeys(c: &mut Checker<'_>) {
    let p = c.cfg.prekeys.clone();
    if c.range("prekeys.batch_size", p.batch_size, 0, MAX_PREKEYS, "") && p.batch_size == 0 {
        c.policy(
            "prekeys.batch_size",
            C::NoOneTimePrekeys,
            "allow_no_one_time_prekeys",
            "without one-time prekeys an initial message can be replayed and loses the one-time key's forward secrecy".into(),
        );
    }
    c.range("prekeys.kem_batch_size", p.kem_batch_size, 0, MAX_PREKEYS, "");
    if c.range("prekeys.signed_rotation_days", p.signed_rotation_days, 1, 365, " days")
        && p.signed_rotation_days > SIGNED_PREKEY_ROTATION_MAX_DAYS
    {
        c.policy(
            "prekeys.signed_rotation_days",
            C::SignedPrekeyRotationLong,
            "allow_long_signed_prekey_rotation",
            format!(
                "signed prekeys rotated every {} days (more than {SIGNED_PREKEY_ROTATION_MAX_DAYS}): a stolen signed prekey stays useful that long",
                p.signed_rotation_days
            ),
        );
    }
    c.range("prekeys.signed_grace_days", p.signed_grace_days, 0, 365, " days");
}

fn storage(c: &mut Checker<'_>) {
    let s = c.cfg.storage.clone();
    let kek = &s.kek;
    if s.pattern == StoragePattern::Plaintext {
        c.policy(
            "storage.pattern",
            C::PlaintextStorage,
            "allow_plaintext_storage",
            "objects at rest are not encrypted: whoever reads the store reads everything".into(),
        );
    }
    if s.pattern == StoragePattern::Envelope && kek.provider == KekProvider::None {
        c.error(
            "storage.kek.provider",
            C::KekMissing,
            "envelope storage wraps each data key with a KEK: choose keyring, vault or aws-kms".into(),
        );
    }
    c.range(
        "storage.segment_size",
        s.segment_size,
        crate::envelope::MIN_SEGMENT_SIZE,
        crate::envelope::MAX_SEGMENT_SIZE,
        " bytes",
    );
    if s.session_store == SessionStore::Memory {
        c.warning(
            "storage.session_store",
            C::SessionsNotPersisted,
            "sessions live in memory only: a restart loses every conversation".into(),
        );
    }
    let uses_kek = s.pattern == StoragePattern::Envelope || c.cfg.identity.storage == IdentityStorage::KekEnvelope;
    if kek.provider != KekProvider::None && !uses_kek {
        c.warning(
            "storage.kek.provider",
            C::KekUnused,
            format!("a {} KEK is configured but storage.pattern is {} and the identity is not stored under it", kek.provider, s.pattern),
        );
    }
    let wanted = match kek.provider {
        KekProvider::Vault => Some("vault"),
        KekProvider::AwsKms => Some("aws-kms"),
        KekProvider::Keyring | KekProvider::None => None,
    };
    match (wanted, &kek.uri) {
        (Some(scheme), None) => c.error(
            "storage.kek.uri",
            C::KekUriMissing,
            format!("the {} provider needs a key URI ({scheme}://…)", kek.provider),
        ),
        (Some(scheme), Some(uri)) => match crate::kms_uri::check_syntax(uri) {
            Err(e) => {
                let why = match e {
                    crate::Error::InvalidParameter(m) => m,
                    _ => "malformed KMS URI",
                };
                c.error(
                    "storage.kek.uri",
                    C::KekUriInvalid,
                    format!("{why} (vault://KEY[?mount=M] or aws-kms://KEY_OR_ARN[?region=R&endpoint=URL])"),
                )
            }
            Ok(found) if found != scheme => c.error(
                "storage.kek.uri",
                C::KekUriInvalid,
                format!("a {found}:// URI for the {} provider (expected {scheme}://…)", kek.provider),
            ),
            Ok(_) => {}
        },
        (None, Some(_)) => c.error(
            "storage.kek.uri",
            C::KekUriInvalid,
            format!("the {} provider takes no URI (only vault and aws-kms do)", kek.provider),
        ),
        (None, None) => {}
    }
    if kek.provider != KekProvider::None {
        if kek.rotation_days == 0 {
            c.policy(
                "storage.kek.rotation_days",
                C::KekRotationNever,
                "allow_no_kek_rotation",
                "0 turns KEK rotation off: one key would protect every data key forever".into(),
            );
        } else if kek.rotation_days > KEK_ROTATION_MAX_DAYS {
            c.policy(
                "storage.kek.rotation_days",
                C::KekRotationLong,
                "allow_long_kek_rotation",
                format!("KEK rotated every {} days, more than {KEK_ROTATION_MAX_DAYS}", kek.rotation_days),
            );
        }
    }
    let cache = &kek.cache;
    let age_ok = c.range("storage.kek.cache.max_age_secs", cache.max_age_secs, 1, CACHE_MAX_AGE_LIMIT_SECS, " s");
    c.range("storage.kek.cache.max_messages", cache.max_messages, 1, 1 << 32, "");
    c.range("storage.kek.cache.max_bytes", cache.max_bytes, 1, u64::MAX, " bytes");
    if cache.enabled && age_ok && cache.max_age_secs > CACHE_MAX_AGE_RECOMMENDED_SECS {
        c.policy(
            "storage.kek.cache.max_age_secs",
            C::CacheMaxAgeLong,
            "allow_long_cache_max_age",
            format!(
                "one data key serves envelopes for {} s (more than {CACHE_MAX_AGE_RECOMMENDED_SECS}): its compromise exposes every envelope of that span",
                cache.max_age_secs
            ),
        );
    }
}

fn valid_event_prefix(p: &str) -> bool {
    !p.is_empty() && !p.chars().any(|ch| ch.is_whitespace() || ch.is_control())
}

fn metadata(c: &mut Checker<'_>) {
    let m = c.cfg.metadata.clone();
    if !m.scrub {
        c.policy(
            "metadata.scrub",
            C::ScrubbingOff,
            "allow_no_scrubbing",
            "telemetry is exported unscrubbed: peer ids, routing hints and message types reach the logs".into(),
        );
    }
    let builtin = Scrubber::new(m.mode);
    let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
    for (i, name) in m.extra_fields.iter().enumerate() {
        let path = format!("metadata.extra_fields[{i}]");
        let tokens = field_tokens(name);
        if tokens.is_empty() {
            c.error(&path, C::InvalidName, format!("{name:?} has no letter or digit"));
        } else if !seen.insert(tokens) {
            c.warning(&path, C::DuplicateField, format!("{name:?} is listed twice"));
        } else if matches!(builtin.classify(name), FieldClass::Identifying | FieldClass::Secret) {
            c.warning(&path, C::DuplicateField, format!("{name:?} is already scrubbed by the built-in list"));
        }
    }
    if !(0.0..=1.0).contains(&m.sampling.rate) {
        c.error("metadata.sampling.rate", C::OutOfRange, format!("{} is outside 0 ..= 1", m.sampling.rate));
    }
    for (i, p) in m.sampling.events.iter().enumerate() {
        if !valid_event_prefix(p) {
            c.error(
                &format!("metadata.sampling.events[{i}]"),
                C::InvalidName,
                format!("{p:?}: an event prefix is non-empty and has no whitespace"),
            );
        }
    }
    let r = &m.retention;
    if c.range("metadata.retention.log_days", r.log_days, 0, RETENTION_LIMIT_DAYS, " days") && r.log_days > LOG_RETENTION_MAX_DAYS {
        c.policy(
            "metadata.retention.log_days",
            C::RetentionLong,
            "allow_long_log_retention",
            format!("logs kept {} days (more than {LOG_RETENTION_MAX_DAYS})", r.log_days),
        );
    }
    if c.range("metadata.retention.trace_days", r.trace_days, 0, RETENTION_LIMIT_DAYS, " days")
        && r.trace_days > TRACE_RETENTION_MAX_DAYS
    {
        c.policy(
            "metadata.retention.trace_days",
            C::RetentionLong,
            "allow_long_log_retention",
            format!("traces kept {} days (more than {TRACE_RETENTION_MAX_DAYS})", r.trace_days),
        );
    }
}
