//! Findings: what [`SecurityConfig::check`](super::SecurityConfig::check) and
//! [`SecurityConfig::validate`](super::SecurityConfig::validate) report.

use core::fmt;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The configuration is refused.
    Error,
    /// Would be an error, but the named `allow_…` flag is set: accepted, and reported so a
    /// reviewer sees every override in force.
    Allowed,
    /// Accepted; worth a look (an unused override, state that is not persisted, …).
    Warning,
}

impl Severity {
    /// `error`, `allowed` or `warning`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Allowed => "allowed",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! finding_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)+) => {
        /// The stable code of a finding. The strings are part of the API of every binding and
        /// of the CLI output; `docs/CONFIG.md` lists them all.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum FindingCode {
            $($(#[$doc])* $variant,)+
        }

        impl FindingCode {
            /// Every code.
            pub const ALL: &'static [FindingCode] = &[$(FindingCode::$variant,)+];

            /// The stable code string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(FindingCode::$variant => $text,)+
                }
            }

            /// The code named by `s`, if any.
            pub fn from_name(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|c| c.as_str() == s)
            }
        }
    };
}

finding_codes! {
    /// The text is not valid TOML / JSON.
    Syntax = "syntax",
    /// A key the format does not define (anywhere: unknown keys are never ignored).
    UnknownKey = "unknown-key",
    /// A string that is not one of the values the key accepts.
    UnknownValue = "unknown-value",
    /// A value of the wrong type (a string for a number, a negative count, …).
    WrongType = "wrong-type",
    /// A required key is absent (`version`).
    MissingKey = "missing-key",
    /// A key given twice.
    DuplicateKey = "duplicate-key",
    /// `version` is not a format version this build reads.
    UnsupportedVersion = "unsupported-version",
    /// A number outside the limits the library enforces.
    OutOfRange = "out-of-range",
    /// A field name or event prefix that is empty or malformed.
    InvalidName = "invalid-name",
    /// `handshake.first_contact` names a pattern that needs the peer's key in advance.
    HandshakeNeedsKnownPeer = "handshake-needs-known-peer",
    /// A handshake or key agreement without ML-KEM-768 while post-quantum is required.
    HandshakeNotHybrid = "handshake-not-hybrid",
    /// A handshake pattern that does not authenticate both parties (`NN`, `NK`).
    HandshakeUnauthenticated = "handshake-unauthenticated",
    /// A nonce strategy that is neither random with at least 96 bits nor a persisted counter.
    NonceUnsafe = "nonce-unsafe",
    /// Random 96-bit nonces with more messages per key than the collision bound allows.
    RandomNonceBound = "random-nonce-bound",
    /// A nonce strategy the chosen AEAD cannot use (192-bit nonces with AES-256-GCM).
    NonceAeadMismatch = "nonce-aead-mismatch",
    /// Double Ratchet headers in clear.
    RatchetHeadersClear = "ratchet-headers-clear",
    /// No one-time prekeys.
    NoOneTimePrekeys = "no-one-time-prekeys",
    /// Signed prekeys rotated less often than every 30 days.
    SignedPrekeyRotationLong = "signed-prekey-rotation-long",
    /// Objects stored in plaintext.
    PlaintextStorage = "plaintext-storage",
    /// Envelope storage (or identity storage under the KEK) with no KEK provider.
    KekMissing = "kek-missing",
    /// A remote KEK provider without a key URI.
    KekUriMissing = "kek-uri-missing",
    /// A KEK URI that is malformed or does not match the provider.
    KekUriInvalid = "kek-uri-invalid",
    /// A KEK provider configured that no storage setting uses.
    KekUnused = "kek-unused",
    /// KEK rotation turned off (`rotation_days = 0`).
    KekRotationNever = "kek-rotation-never",
    /// KEK rotation period beyond 365 days.
    KekRotationLong = "kek-rotation-long",
    /// A data-key cache entry living longer than one hour.
    CacheMaxAgeLong = "cache-max-age-long",
    /// Argon2id parameters below RFC 9106's recommendation (64 MiB).
    WeakKdf = "weak-kdf",
    /// Telemetry scrubbing turned off.
    ScrubbingOff = "scrubbing-off",
    /// Log retention beyond 90 days or trace retention beyond 30 days.
    RetentionLong = "retention-long",
    /// `post_quantum = "off"`.
    PostQuantumOff = "post-quantum-off",
    /// The identity is kept only in memory.
    IdentityNotPersisted = "identity-not-persisted",
    /// Sessions are kept only in memory.
    SessionsNotPersisted = "sessions-not-persisted",
    /// An extra scrub field the built-in list already covers, or listed twice.
    DuplicateField = "duplicate-field",
    /// An `allow_…` flag is set but nothing needs it.
    UnusedOverride = "unused-override",
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where: the dotted key path (`handshake.online`, `metadata.extra_fields[2]`); empty for
    /// the whole document.
    pub path: String,
    /// What, as a stable code.
    pub code: FindingCode,
    /// Whether it blocks the configuration.
    pub severity: Severity,
    /// For people: what is wrong and what to do.
    pub message: String,
    /// The `overrides.allow_…` flag that accepts it, when one does (set or not).
    pub allow: Option<&'static str>,
    /// 1-based line in the source text, when known (parse errors).
    pub line: Option<usize>,
}

impl Finding {
    pub(crate) fn new(path: impl Into<String>, code: FindingCode, severity: Severity, message: impl Into<String>) -> Self {
        Self { path: path.into(), code, severity, message: message.into(), allow: None, line: None }
    }

    /// Whether this finding refuses the configuration.
    pub fn is_blocking(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    /// `error[kek-rotation-long] storage.kek.rotation_days: … (override: overrides.allow_long_kek_rotation)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.severity.as_str(), self.code)?;
        if !self.path.is_empty() {
            write!(f, " {}", self.path)?;
        }
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        write!(f, ": {}", self.message)?;
        match (self.allow, self.severity) {
            (Some(flag), Severity::Error) => write!(f, " (override: overrides.{flag} = true)"),
            (Some(flag), Severity::Allowed) => write!(f, " (accepted by overrides.{flag})"),
            _ => Ok(()),
        }
    }
}

/// All findings about one configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    findings: Vec<Finding>,
}

impl Report {
    pub(crate) fn from_findings(findings: Vec<Finding>) -> Self {
        Self { findings }
    }

    /// Every finding, in document order of the checks.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// `true` when no finding is an error (overridden findings and warnings are fine).
    pub fn is_ok(&self) -> bool {
        !self.findings.iter().any(Finding::is_blocking)
    }

    /// The findings that refuse the configuration.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_blocking())
    }

    /// Whether a finding with this code exists.
    pub fn has(&self, code: FindingCode) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// The report as JSON — `{"ok": bool, "findings": [{"path", "code", "severity",
    /// "message", "allow" (string or null), "line" (number or null)}]}` — for tools and for
    /// bindings that pass findings across a language boundary as text.
    pub fn to_json_string(&self) -> String {
        let findings: Vec<serde_json::Value> = self
            .findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "path": f.path,
                    "code": f.code.as_str(),
                    "severity": f.severity.as_str(),
                    "message": f.message,
                    "allow": f.allow,
                    "line": f.line,
                })
            })
            .collect();
        serde_json::json!({ "ok": self.is_ok(), "findings": findings }).to_string()
    }
}

/// A configuration that did not parse or was refused: every finding, errors first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    report: Report,
}

impl ConfigError {
    pub(crate) fn new(report: Report) -> Self {
        Self { report }
    }

    /// The whole report (errors, overrides in force, warnings).
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Every finding.
    pub fn findings(&self) -> &[Finding] {
        self.report.findings()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors: Vec<&Finding> = self.report.errors().collect();
        write!(f, "security configuration refused ({} error{})", errors.len(), if errors.len() == 1 { "" } else { "s" })?;
        for e in errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for crate::Error {
    /// `InvalidParameter`, for callers that propagate with `?` into `sealwire::Result`. The
    /// findings are lost on this path; keep the `ConfigError` to show them.
    fn from(_: ConfigError) -> Self {
        crate::Error::InvalidParameter("security configuration refused")
    }
}
