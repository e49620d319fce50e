//! Rewrap: change the wrapped-DEK entries of an envelope without touching its payload.
//!
//! The payload, the key commitment and every derived key depend only on the DEK and the
//! immutable header fields, never on the wrapped-key list; only the header tag covers the
//! list, and whoever holds the DEK can recompute it. So a rewrap authenticates the envelope
//! exactly like `open` (context, unwrap, commitment, header tag), edits the list, and
//! re-encodes the header with a fresh tag. The payload bytes are reused as they are.

use super::commit::{DataKey, MessageKeys, HEADER_TAG_LEN};
use super::context::EncryptionContext;
use super::format::{EnvelopeHeader, WrappedKey};
use super::provider::{KeyProvider, WrapContext};
use super::authenticate;
use crate::error::{Error, Result};

/// An authenticated envelope header open for editing its wrapped-DEK entries.
///
/// Holds the unwrapped data key (boxed, zeroized on drop) until dropped.
pub struct Rewrap {
    header: EnvelopeHeader,
    keys: MessageKeys,
    dek: DataKey,
    original_len: usize,
    aad: Vec<u8>,
}

impl core::fmt::Debug for Rewrap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Rewrap").field("header", &self.header).finish_non_exhaustive()
    }
}

impl Rewrap {
    /// Authenticate the header at the start of `sealed` (the payload may follow, or not:
    /// only the header is read) with any of `providers`.
    pub fn open(sealed: &[u8], expected: &EncryptionContext, providers: &[&dyn KeyProvider]) -> Result<Self> {
        let header = EnvelopeHeader::parse(sealed)?;
        let (keys, dek) = authenticate(&header, sealed, expected, providers)?;
        let original_len = header.len;
        let aad = header.wrap_aad();
        Ok(Self { header, keys, dek, original_len, aad })
    }

    fn ctx(&self) -> WrapContext<'_> {
        self.header.wrap_context(&self.aad)
    }

    /// The header as it currently stands (entries reflect the edits so far).
    pub fn header(&self) -> &EnvelopeHeader {
        &self.header
    }

    /// Length of the header as read: the payload starts at this offset in the original bytes.
    pub fn original_header_len(&self) -> usize {
        self.original_len
    }

    /// Add an entry wrapping the data key for `provider` (a new KEK or recipient). An entry
    /// of the same provider, key id and version is replaced rather than duplicated.
    pub fn add(&mut self, provider: &dyn KeyProvider) -> Result<()> {
        let entry = provider.wrap(&self.dek, &self.ctx())?;
        self.header.wrapped.retain(|w| {
            !(w.provider() == entry.provider() && w.key_id() == entry.key_id() && w.key_version() == entry.key_version())
        });
        self.header.wrapped.push(entry);
        Ok(())
    }

    /// Remove every entry of `provider_id` with `key_id` (all versions); returns how many.
    pub fn remove(&mut self, provider_id: &str, key_id: &str) -> usize {
        self.remove_where(|w| w.provider() == provider_id && w.key_id() == key_id)
    }

    /// Remove every entry matching `pred`; returns how many.
    pub fn remove_where(&mut self, pred: impl Fn(&WrappedKey) -> bool) -> usize {
        let before = self.header.wrapped.len();
        self.header.wrapped.retain(|w| !pred(w));
        before - self.header.wrapped.len()
    }

    /// Re-wrap every entry `provider` owns under its current key version
    /// ([`KeyProvider::rewrap`]); returns how many entries were replaced.
    pub fn rewrap_with(&mut self, provider: &dyn KeyProvider) -> Result<usize> {
        let mut n = 0;
        for i in 0..self.header.wrapped.len() {
            if provider.owns(&self.header.wrapped[i]) {
                let ctx = self.header.wrap_context(&self.aad);
                let new = provider.rewrap(&self.header.wrapped[i], &ctx)?;
                self.header.wrapped[i] = new;
                n += 1;
            }
        }
        Ok(n)
    }

    /// The new header bytes (fresh header tag). At least one entry must remain.
    pub fn header_bytes(&mut self) -> Result<Vec<u8>> {
        if self.header.wrapped.is_empty() {
            return Err(Error::InvalidParameter("a rewrap must leave at least one wrapped key"));
        }
        let mut out = Vec::with_capacity(self.header.encoded_len());
        self.header.encode_without_tag(&mut out)?;
        let tag = self.keys.header_tag(&out)?;
        out.extend_from_slice(&tag);
        debug_assert_eq!(out.len(), self.header.len);
        self.header.tag.copy_from_slice(&out[out.len() - HEADER_TAG_LEN..]);
        Ok(out)
    }

    /// The new header followed by the unchanged payload of `sealed` (the same bytes given
    /// to [`Rewrap::open`]).
    pub fn apply(&mut self, sealed: &[u8]) -> Result<Vec<u8>> {
        let h = EnvelopeHeader::parse(sealed)?;
        if h.message_id != self.header.message_id || h.len != self.original_len {
            return Err(Error::InvalidParameter("not the envelope this rewrap was opened on"));
        }
        let payload = &sealed[self.original_len..];
        let mut out = self.header_bytes()?;
        out.extend_from_slice(payload);
        Ok(out)
    }
}
