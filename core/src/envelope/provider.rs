//! The key-provider abstraction: anything that can wrap a data key under a key-encryption key
//! (KEK) or a recipient's public key, and unwrap it again.
//!
//! Implemented in core by the local [`super::Keyring`] (and its per-key handle
//! [`super::KeyringKey`]), by public-key recipients ([`crate::PublicIdentity`],
//! [`super::XWingPublicKey`]) and by their private halves ([`crate::Identity`],
//! [`super::XWingKeyPair`]). Bindings implement it over Python/Node callbacks; remote KMS
//! providers (Vault Transit, AWS KMS) implement it over HTTP.

use super::aead::Suite;
use super::commit::{DataKey, MESSAGE_ID_LEN};
use super::context::EncryptionContext;
use super::format::WrappedKey;
use crate::error::{Error, Result};

use core::sync::atomic::{AtomicBool, Ordering};

/// Length of a spare wrap nonce: the keyring's XChaCha20-Poly1305 nonce.
pub(crate) const SPARE_NONCE_LEN: usize = 24;

/// A wrap nonce drawn in the same `getrandom` call as the data key and the message id. A
/// system call costs 1–2 µs on some virtual machines (a quarter of a 1 KiB seal), so a seal
/// to a keyring makes one instead of two. The first wrap that asks takes it; any later wrap
/// of the same seal draws its own ([`WrapContext::fresh_nonce`]). Nonces are public (they are
/// stored in the header); the bytes of one draw are independent of each other.
pub(crate) struct SpareNonce {
    taken: AtomicBool,
    bytes: [u8; SPARE_NONCE_LEN],
}

impl SpareNonce {
    pub(crate) fn new(bytes: [u8; SPARE_NONCE_LEN]) -> Self {
        Self { taken: AtomicBool::new(false), bytes }
    }

    /// The nonce, once; `None` afterwards.
    fn take(&self) -> Option<[u8; SPARE_NONCE_LEN]> {
        (!self.taken.swap(true, Ordering::Relaxed)).then_some(self.bytes)
    }
}

impl core::fmt::Debug for SpareNonce {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SpareNonce {{ taken: {} }}", self.taken.load(Ordering::Relaxed))
    }
}

/// What a wrapped data key is bound to. Every provider must bind [`WrapContext::aad`] to the
/// wrapped key (as AEAD associated data, or — for services that only take a string map,
/// like AWS KMS — as an extra encryption-context entry: `"sealwire:wrap"` = hex of SHA-256 of it),
/// so that a wrapped key copied into another envelope no longer unwraps.
#[derive(Debug, Clone, Copy)]
pub struct WrapContext<'a> {
    pub(crate) message_id: &'a [u8; MESSAGE_ID_LEN],
    /// Shared-data-key (cached) wrap: bound to the scope, not to one message.
    pub(crate) shared: bool,
    pub(crate) context: &'a EncryptionContext,
    pub(crate) suite: Suite,
    pub(crate) aad: &'a [u8],
    /// A nonce drawn with the data key, for the first wrap that needs one (fresh seals only).
    pub(crate) spare_nonce: Option<&'a SpareNonce>,
}

impl<'a> WrapContext<'a> {
    /// A fresh random wrap nonce: the spare one drawn with the data key if no other wrap of
    /// this seal took it, else a new draw from the OS generator.
    pub(crate) fn fresh_nonce(&self) -> Result<[u8; SPARE_NONCE_LEN]> {
        if let Some(n) = self.spare_nonce.and_then(SpareNonce::take) {
            return Ok(n);
        }
        let mut n = [0u8; SPARE_NONCE_LEN];
        crate::random::fill(&mut n)?;
        Ok(n)
    }

    /// The envelope's message id (all zero for a shared-data-key wrap, which serves several
    /// messages: see [`WrapContext::shares_data_key`]).
    pub fn message_id(&self) -> &'a [u8; MESSAGE_ID_LEN] {
        self.message_id
    }
    /// True when the data key is shared by several envelopes of one scope (the data-key
    /// cache); [`WrapContext::aad`] then binds suite, segment size and context but no
    /// message id.
    pub fn shares_data_key(&self) -> bool {
        self.shared
    }
    /// The envelope's encryption context (AWS KMS providers pass it as `EncryptionContext`).
    pub fn encryption_context(&self) -> &'a EncryptionContext {
        self.context
    }
    /// The envelope's payload suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }
    /// The bytes the wrapped key must be bound to:
    /// `"SEALWIRE\0envelope-v1\0wrap\0" ‖ D` (D = digest of suite, segment size, message id
    /// and context; see `docs/FORMATS.md ("Envelope encryption")`), or for a shared data key
    /// `"SEALWIRE\0envelope-v1\0wrap-shared\0" ‖ S` (S = the same without the message id).
    pub fn aad(&self) -> &'a [u8] {
        self.aad
    }
}

/// A key-encryption key or recipient that wraps and unwraps data keys. Object-safe: envelopes
/// take `&[&dyn KeyProvider]`.
///
/// Error conventions for implementors: an entry that is addressed to this provider but fails
/// to authenticate → [`Error::HeaderAuthFailed`]; unknown key id or version →
/// [`Error::KeyNotFound`]; a retired version past its cutoff → [`Error::KeyRetired`]; a
/// failure of the provider itself (network, callback) → [`Error::ProviderFailed`] or
/// [`Error::Io`].
pub trait KeyProvider {
    /// The provider name written into the entries it creates (`"keyring"`, `"hpke-x25519"`,
    /// `"hpke-xwing"`; later `"vault-transit"`, `"aws-kms"`, …). 1–64 printable ASCII bytes.
    fn provider_id(&self) -> &str;

    /// The id of the key this provider wraps under (a keyring key id, a KMS key ARN, a
    /// recipient's key fingerprint).
    fn key_id(&self) -> String;

    /// The version of that key new wraps use (the keyring's primary version; 0 where the
    /// provider has no versions, as for public-key recipients).
    fn key_version(&self) -> u32 {
        0
    }

    /// Whether this provider should try to unwrap `entry`. The default: same provider name
    /// and same key id.
    fn owns(&self, entry: &WrappedKey) -> bool {
        entry.provider() == self.provider_id() && entry.key_id() == self.key_id().as_str()
    }

    /// Wrap `dek`, binding it to `ctx.aad()`. The returned entry names this provider, the
    /// key id and the key version used.
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey>;

    /// Optionally generate the data key itself and return it with its wrapped entry, bound
    /// to `ctx.aad()` (AWS KMS `GenerateDataKey`, Vault Transit `datakey/plaintext`). Sealing
    /// asks the first provider of the list; the default (`Ok(None)`) means "no": the data
    /// key then comes from the OS random generator and every provider [`wrap`s](KeyProvider::wrap) it.
    fn generate_data_key(&self, ctx: &WrapContext<'_>) -> Result<Option<(DataKey, WrappedKey)>> {
        let _ = ctx;
        Ok(None)
    }

    /// Unwrap an entry this provider [`owns`](KeyProvider::owns).
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<DataKey>;

    /// Re-wrap an entry under this provider's current key version (for rotation). The
    /// default unwraps and wraps again; a KMS can do it server-side (AWS `ReEncrypt`,
    /// Vault `rewrap`) without the data key leaving the service.
    fn rewrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        let dek = self.unwrap(entry, ctx)?;
        self.wrap(&dek, ctx)
    }
}

/// The data key and its wrapped entries for a new envelope: the first provider may generate
/// the data key ([`KeyProvider::generate_data_key`]); otherwise it is `fresh` (drawn by the
/// caller from the OS random generator). Every other provider wraps it.
pub(crate) fn make_materials(
    providers: &[&dyn KeyProvider],
    ctx: &WrapContext<'_>,
    fresh: DataKey,
) -> Result<(DataKey, Vec<WrappedKey>)> {
    let (first, rest) = providers.split_first().ok_or(Error::InvalidParameter("at least one key provider is needed"))?;
    let mut entries = Vec::with_capacity(providers.len());
    let dek = match first.generate_data_key(ctx)? {
        Some((dek, entry)) => {
            entries.push(entry);
            dek
        }
        None => {
            entries.push(first.wrap(&fresh, ctx)?);
            fresh
        }
    };
    for p in rest {
        entries.push(p.wrap(&dek, ctx)?);
    }
    Ok((dek, entries))
}

/// Try every entry against every provider that owns it; the first success wins. If no entry
/// is owned by any provider → `NoMatchingKey`; if owned entries all failed, the first
/// failure that is not a plain authentication failure is reported (a retired key, a
/// provider outage), else `HeaderAuthFailed`.
pub(crate) fn unwrap_any(
    entries: &[WrappedKey],
    providers: &[&dyn KeyProvider],
    ctx: &WrapContext<'_>,
) -> Result<(DataKey, usize)> {
    let mut first_err: Option<Error> = None;
    for (i, entry) in entries.iter().enumerate() {
        for p in providers {
            if !p.owns(entry) {
                continue;
            }
            match p.unwrap(entry, ctx) {
                Ok(dek) => return Ok((dek, i)),
                Err(e) => {
                    let better = match &first_err {
                        None => true,
                        Some(Error::HeaderAuthFailed) => !matches!(e, Error::HeaderAuthFailed),
                        Some(_) => false,
                    };
                    if better {
                        first_err = Some(e);
                    }
                }
            }
        }
    }
    Err(first_err.unwrap_or(Error::NoMatchingKey))
}
