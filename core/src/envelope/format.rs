//! The envelope header (`SWEV` v1): encoding and strict decoding. Layout in
//! `docs/FORMATS.md ("Envelope encryption")`.

use super::aead::Suite;
use super::commit::{header_digest_raw, scope_digest, wrap_aad, wrap_aad_shared, COMMITMENT_LEN, HEADER_TAG_LEN, MESSAGE_ID_LEN};
use super::context::EncryptionContext;
use crate::encoding::Reader;
use crate::error::{Error, Result};

/// Magic bytes opening every envelope.
pub const MAGIC: &[u8; 4] = b"SWEV";
/// Envelope format version.
pub const VERSION: u8 = 1;
/// Smallest allowed plaintext segment size.
pub const MIN_SEGMENT_SIZE: u32 = 64;
/// Largest allowed plaintext segment size (16 MiB).
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;
/// Default plaintext segment size (64 KiB).
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// Largest allowed header (1 MiB).
pub const MAX_HEADER_LEN: usize = 1024 * 1024;
/// Most wrapped-DEK entries a header may carry.
pub const MAX_WRAPPED_KEYS: usize = 1024;
/// Longest provider name.
pub const MAX_PROVIDER_LEN: usize = 64;
/// Longest key id.
pub const MAX_KEY_ID_LEN: usize = 2048;
/// Longest wrapped-key blob.
pub const MAX_WRAPPED_LEN: usize = u16::MAX as usize;
/// Flag bit of header byte 9 (the suite byte): the envelope uses a data key shared with other
/// envelopes of the same scope (the data-key cache), so its wrapped keys are bound to the
/// scope (suite, segment size, context) instead of to the message.
pub const SHARED_DATA_KEY_FLAG: u8 = 0x80;
/// Bytes before anything else can be decoded: magic, version, header length.
pub const HEADER_PREFIX_LEN: usize = 4 + 1 + 4;
/// Shortest structurally possible header (no context entries, no wrapped keys).
pub(crate) const MIN_HEADER_LEN: usize = HEADER_PREFIX_LEN + 1 + 4 + MESSAGE_ID_LEN + 2 + COMMITMENT_LEN + 2 + HEADER_TAG_LEN;

const WHAT: &str = "envelope header";

/// One wrapped-DEK entry: which provider and key wrapped the data key, and the wrapped bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    provider: String,
    key_id: String,
    key_version: u32,
    wrapped: Vec<u8>,
}

impl core::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WrappedKey")
            .field("provider", &self.provider)
            .field("key_id", &self.key_id)
            .field("key_version", &self.key_version)
            .field("wrapped_len", &self.wrapped.len())
            .finish()
    }
}

fn check_provider(p: &str) -> bool {
    (1..=MAX_PROVIDER_LEN).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_graphic())
}

fn check_key_id(k: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&k.len()) && !k.chars().any(char::is_control)
}

impl WrappedKey {
    /// A new entry. `provider`: 1–64 printable ASCII bytes; `key_id`: 1–2048 bytes of UTF-8
    /// without control characters; `wrapped`: 1–65 535 bytes.
    pub fn new(provider: &str, key_id: &str, key_version: u32, wrapped: Vec<u8>) -> Result<Self> {
        if !check_provider(provider) {
            return Err(Error::InvalidParameter("provider name must be 1-64 printable ASCII bytes"));
        }
        if !check_key_id(key_id) {
            return Err(Error::InvalidParameter("key id must be 1-2048 bytes without control characters"));
        }
        if wrapped.is_empty() || wrapped.len() > MAX_WRAPPED_LEN {
            return Err(Error::InvalidParameter("wrapped key must be 1-65535 bytes"));
        }
        Ok(Self { provider: provider.to_owned(), key_id: key_id.to_owned(), key_version, wrapped })
    }

    /// The provider that wrapped the key ("keyring", "hpke-x25519", "hpke-xwing", …).
    pub fn provider(&self) -> &str {
        &self.provider
    }
    /// The wrapping key's id, as the provider names it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// The wrapping key's version (0 where the provider has no versions).
    pub fn key_version(&self) -> u32 {
        self.key_version
    }
    /// The wrapped bytes (opaque to everything but the provider).
    pub fn wrapped(&self) -> &[u8] {
        &self.wrapped
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        // Lengths were bounded by `new` / `decode`.
        out.push(self.provider.len() as u8);
        out.extend_from_slice(self.provider.as_bytes());
        out.extend_from_slice(&(self.key_id.len() as u16).to_be_bytes());
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.key_version.to_be_bytes());
        out.extend_from_slice(&(self.wrapped.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.wrapped);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let plen = usize::from(r.u8()?);
        let provider = r.take(plen)?;
        let klen = usize::from(r.u16()?);
        let key_id = r.take(klen)?;
        let key_version = r.u32()?;
        let wlen = usize::from(r.u16()?);
        let wrapped = r.take(wlen)?;
        let provider = core::str::from_utf8(provider).map_err(|_| Error::Malformed("wrapped key provider name"))?;
        let key_id = core::str::from_utf8(key_id).map_err(|_| Error::Malformed("wrapped key id"))?;
        if !check_provider(provider) {
            return Err(Error::Malformed("wrapped key provider name"));
        }
        if !check_key_id(key_id) {
            return Err(Error::Malformed("wrapped key id"));
        }
        if wrapped.is_empty() {
            return Err(Error::Malformed("empty wrapped key"));
        }
        Ok(Self { provider: provider.to_owned(), key_id: key_id.to_owned(), key_version, wrapped: wrapped.to_vec() })
    }
}

/// A decoded envelope header. Decoding checks structure only; [`super::open`] and the
/// reader authenticate it (commitment and header tag) once a data key is unwrapped.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvelopeHeader {
    pub(crate) suite: Suite,
    /// The data key is shared with other envelopes of the same scope (data-key cache).
    pub(crate) shared: bool,
    pub(crate) segment_size: u32,
    pub(crate) message_id: [u8; MESSAGE_ID_LEN],
    pub(crate) context: EncryptionContext,
    pub(crate) context_bytes: Vec<u8>,
    pub(crate) commitment: [u8; COMMITMENT_LEN],
    pub(crate) wrapped: Vec<WrappedKey>,
    pub(crate) tag: [u8; HEADER_TAG_LEN],
    /// Encoded length (as read, or as it will be written).
    pub(crate) len: usize,
}

impl core::fmt::Debug for EnvelopeHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EnvelopeHeader")
            .field("suite", &self.suite)
            .field("shared", &self.shared)
            .field("segment_size", &self.segment_size)
            .field("wrapped", &self.wrapped)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Header length announced by the first [`HEADER_PREFIX_LEN`] bytes, after checking magic,
/// version and bounds. Lets a stream reader know how much to read.
pub fn header_len(prefix: &[u8]) -> Result<usize> {
    let mut r = Reader::new(prefix, WHAT);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(Error::BadMagic("envelope"));
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(Error::UnsupportedVersion { what: "envelope", version });
    }
    let len = r.u32()? as usize;
    if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&len) {
        return Err(Error::Malformed("envelope header length out of range"));
    }
    Ok(len)
}

impl EnvelopeHeader {
    /// Decode the header at the start of `bytes` (payload bytes may follow). Structural
    /// checks only; nothing is authenticated yet.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let len = header_len(bytes)?;
        if bytes.len() < len {
            return Err(Error::Truncated(WHAT));
        }
        let (body, tag) = bytes[HEADER_PREFIX_LEN..len].split_at(len - HEADER_PREFIX_LEN - HEADER_TAG_LEN);
        let mut r = Reader::new(body, WHAT);
        let suite_byte = r.u8()?;
        let shared = suite_byte & SHARED_DATA_KEY_FLAG != 0;
        let suite = Suite::from_id(suite_byte & !SHARED_DATA_KEY_FLAG)?;
        let segment_size = r.u32()?;
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(Error::Malformed("envelope segment size out of range"));
        }
        let message_id: [u8; MESSAGE_ID_LEN] = r.array()?;
        let before = r.remaining();
        let context = EncryptionContext::decode(&mut r)?;
        let ctx_len = before - r.remaining();
        let ctx_start = HEADER_PREFIX_LEN + 1 + 4 + MESSAGE_ID_LEN;
        let context_bytes = bytes[ctx_start..ctx_start + ctx_len].to_vec();
        let commitment: [u8; COMMITMENT_LEN] = r.array()?;
        let count = usize::from(r.u16()?);
        if count == 0 || count > MAX_WRAPPED_KEYS {
            return Err(Error::Malformed("envelope must carry 1-1024 wrapped keys"));
        }
        let mut wrapped = Vec::with_capacity(count);
        for _ in 0..count {
            wrapped.push(WrappedKey::decode(&mut r)?);
        }
        r.finish()?;
        let mut t = [0u8; HEADER_TAG_LEN];
        t.copy_from_slice(tag);
        Ok(Self { suite, shared, segment_size, message_id, context, context_bytes, commitment, wrapped, tag: t, len })
    }

    pub(crate) fn new(
        suite: Suite,
        shared: bool,
        segment_size: u32,
        message_id: [u8; MESSAGE_ID_LEN],
        context: &EncryptionContext,
    ) -> Result<Self> {
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(Error::InvalidParameter("segment size must be 64 B ..= 16 MiB"));
        }
        Ok(Self {
            suite,
            shared,
            segment_size,
            message_id,
            context: context.clone(),
            context_bytes: context.to_bytes(),
            commitment: [0; COMMITMENT_LEN],
            wrapped: Vec::new(),
            tag: [0; HEADER_TAG_LEN],
            len: 0,
        })
    }

    /// `D`, the digest of the immutable fields.
    pub(crate) fn digest(&self) -> [u8; 32] {
        header_digest_raw(self.suite_byte(), self.segment_size, &self.message_id, &self.context_bytes)
    }

    /// Header byte 9: the suite id, with [`SHARED_DATA_KEY_FLAG`] where the data key is shared.
    pub(crate) fn suite_byte(&self) -> u8 {
        if self.shared {
            self.suite.id() | SHARED_DATA_KEY_FLAG
        } else {
            self.suite.id()
        }
    }

    /// The context handed to providers to unwrap or re-wrap this header's entries.
    pub(crate) fn wrap_context<'a>(&'a self, aad: &'a [u8]) -> super::provider::WrapContext<'a> {
        let message_id = if self.shared { &super::SHARED_MESSAGE_ID } else { &self.message_id };
        super::provider::WrapContext { message_id, shared: self.shared, context: &self.context, suite: self.suite, aad, spare_nonce: None }
    }

    /// What every wrapped key of this header is bound to: `"…wrap\0" ‖ D`, or for a
    /// shared data key `"…wrap-shared\0" ‖ S` (S: the scope digest, without the message id).
    pub(crate) fn wrap_aad(&self) -> Vec<u8> {
        self.wrap_aad_with(&self.digest())
    }

    /// [`Self::wrap_aad`] for a caller that already computed `D` ([`Self::digest`]): the
    /// digest is hashed once per seal or open, not twice.
    pub(crate) fn wrap_aad_with(&self, digest: &[u8; 32]) -> Vec<u8> {
        if self.shared {
            wrap_aad_shared(&scope_digest(self.suite_byte(), self.segment_size, &self.context_bytes))
        } else {
            wrap_aad(digest)
        }
    }

    /// Encoded length for the current field values.
    pub(crate) fn encoded_len(&self) -> usize {
        HEADER_PREFIX_LEN
            + 1
            + 4
            + MESSAGE_ID_LEN
            + self.context_bytes.len()
            + COMMITMENT_LEN
            + 2
            + self
                .wrapped
                .iter()
                .map(|w| 1 + w.provider.len() + 2 + w.key_id.len() + 4 + 2 + w.wrapped.len())
                .sum::<usize>()
            + HEADER_TAG_LEN
    }

    /// Everything but the tag, with the header length filled in. Sets `self.len`.
    pub(crate) fn encode_without_tag(&mut self, out: &mut Vec<u8>) -> Result<()> {
        if self.wrapped.is_empty() || self.wrapped.len() > MAX_WRAPPED_KEYS {
            return Err(Error::InvalidParameter("an envelope needs 1-1024 wrapped keys"));
        }
        let len = self.encoded_len();
        if len > MAX_HEADER_LEN {
            return Err(Error::InvalidParameter("envelope header larger than 1 MiB"));
        }
        self.len = len;
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.push(self.suite_byte());
        out.extend_from_slice(&self.segment_size.to_be_bytes());
        out.extend_from_slice(&self.message_id);
        out.extend_from_slice(&self.context_bytes);
        out.extend_from_slice(&self.commitment);
        out.extend_from_slice(&(self.wrapped.len() as u16).to_be_bytes());
        for w in &self.wrapped {
            w.encode_into(out);
        }
        Ok(())
    }

    /// The payload algorithm suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }
    /// True when the envelope was sealed with a data key shared with other envelopes of the
    /// same context (the data-key cache): its wrapped keys are bound to the scope (suite,
    /// segment size, context), not to this message. Payload keys still differ per message.
    pub fn shares_data_key(&self) -> bool {
        self.shared
    }
    /// Plaintext bytes per segment (every segment but the last holds exactly this many).
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }
    /// The random 32-byte message id.
    pub fn message_id(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.message_id
    }
    /// The encryption context stored in (and bound to) the envelope.
    pub fn context(&self) -> &EncryptionContext {
        &self.context
    }
    /// The wrapped-DEK entries.
    pub fn wrapped_keys(&self) -> &[WrappedKey] {
        &self.wrapped
    }
    /// The key commitment.
    pub fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }
    /// Encoded length of the header in bytes; the payload starts at this offset.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Always false: a header is never empty (present for API symmetry with `len`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
