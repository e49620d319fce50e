//! Envelope encryption for data at rest: one fresh data key (DEK) per object, the payload
//! sealed locally in framed segments, the DEK wrapped by one or more key-encryption keys
//! (the local [`Keyring`], later Vault/AWS KMS) and/or recipients' public keys (HPKE with
//! DHKEM(X25519) or X-Wing), and the wrapped DEKs stored in the header beside the payload.
//!
//! * One-shot: [`seal`] / [`seal_with`] / [`open`] for payloads that fit in memory (one
//!   allocation each way).
//! * Streaming: [`EnvelopeWriter`] / [`EnvelopeReader`] seal and open any size in memory
//!   bounded by one segment; the reader releases only verified segments.
//! * Rewrap: [`Rewrap`] adds, removes or re-wraps wrapped-DEK entries (new KEK version, new
//!   recipient) without touching the payload bytes.
//! * Data-key cache: [`DataKeyCache`] lets one data key serve several envelopes of the same
//!   context within limits, so remote KMS providers are not called per object.
//! * Remote KMS (cargo feature `kms`): [`kms::VaultTransit`] and [`kms::AwsKms`].
//! * Inspection: [`EnvelopeHeader::parse`] shows suite, context and wrapped-key entries
//!   (which KEK versions an object uses) without any key.
//!
//! Binding, in short (all of it in `docs/FORMATS.md ("Envelope encryption")`): the header's immutable
//! fields (suite, segment size, message id, context) are hashed into `D`; the payload key,
//! nonce prefix, key commitment and header-MAC key are HKDF-SHA256 outputs of
//! (DEK, message id, D); each wrapped DEK is bound to `D` as associated data; the header tag
//! (HMAC-SHA256) covers the whole header including the mutable list of wrapped keys, so a
//! rewrap only recomputes the header. Opening checks, in order: context, unwrap, key
//! commitment, header tag — all before the first segment is decrypted.

mod aead;
mod cache;
mod commit;
mod context;
mod format;
mod keyring;
mod provider;
mod recipient;
mod rewrap;
pub(crate) mod rng;
mod stream;

#[cfg(feature = "kms")]
pub mod kms;

#[cfg(test)]
mod tests;

pub use aead::Suite;
pub use cache::{CacheLimits, CacheStats, DataKeyCache};
#[doc(hidden)]
pub use commit::{key_schedule_for_vectors, KeyScheduleForVectors};
pub use commit::{DataKey, COMMITMENT_LEN, DATA_KEY_LEN, HEADER_TAG_LEN, MESSAGE_ID_LEN, NONCE_PREFIX_LEN};
pub use context::{EncryptionContext, MAX_CONTEXT_ENCODED_LEN, MAX_CONTEXT_ENTRIES, MAX_CONTEXT_FIELD_LEN};
pub use format::{
    header_len, EnvelopeHeader, WrappedKey, DEFAULT_SEGMENT_SIZE, HEADER_PREFIX_LEN, MAGIC, MAX_HEADER_LEN,
    MAX_SEGMENT_SIZE, MAX_WRAPPED_KEYS, MIN_SEGMENT_SIZE, SHARED_DATA_KEY_FLAG, VERSION,
};
pub use keyring::{
    KeyVersionInfo, Keyring, KeyringKey, RootKey, KEYRING_MAGIC, KEYRING_PROVIDER, KEYRING_VERSION, ROOT_KEY_ENV,
};
pub use provider::{KeyProvider, WrapContext};
#[allow(unused_imports)]
pub(crate) use keyring::write_atomic;
pub use recipient::{
    recipient_key_id, XWingKeyPair, XWingPublicKey, HPKE_INFO, HPKE_X25519_PROVIDER, HPKE_XWING_PROVIDER,
    XWING_PUBLIC_KEY_LEN, XWING_SEED_LEN,
};
#[doc(hidden)]
pub use recipient::wrap_x25519_deterministic_for_vectors;
pub use rewrap::Rewrap;
pub use stream::{EnvelopeReader, EnvelopeWriter};

use zeroize::Zeroizing;

use aead::TAG_LEN;
use commit::MessageKeys;
use provider::SpareNonce;
use crate::error::{Error, Result};

/// Parameters of a new envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealOptions {
    suite: Suite,
    segment_size: u32,
}

impl Default for SealOptions {
    /// ChaCha20-Poly1305, 64 KiB segments.
    fn default() -> Self {
        Self { suite: Suite::ChaCha20Poly1305, segment_size: DEFAULT_SEGMENT_SIZE }
    }
}

impl SealOptions {
    /// Validated constructor: `segment_size` in 64 B ..= 16 MiB.
    pub fn new(suite: Suite, segment_size: u32) -> Result<Self> {
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(Error::InvalidParameter("segment size must be 64 B ..= 16 MiB"));
        }
        Ok(Self { suite, segment_size })
    }
    /// The payload suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }
    /// The plaintext segment size.
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }
}

/// Sealed payload length for a plaintext of `len` bytes: every segment but the last holds
/// exactly `segment_size` bytes, the last holds `len mod segment_size` (possibly 0), and each
/// adds a 16-byte tag. `InvalidParameter` past 2^32 segments.
pub fn sealed_payload_len(len: u64, segment_size: u32) -> Result<u64> {
    if segment_size == 0 {
        return Err(Error::InvalidParameter("segment size"));
    }
    let full = len / u64::from(segment_size);
    if full > u64::from(u32::MAX) {
        return Err(Error::InvalidParameter("payload exceeds 2^32 segments"));
    }
    Ok(len + (full + 1) * TAG_LEN as u64)
}

/// Seal `plaintext` with the default options (ChaCha20-Poly1305, 64 KiB segments), wrapping
/// the fresh data key for every provider in `providers` (at least one).
pub fn seal(plaintext: &[u8], context: &EncryptionContext, providers: &[&dyn KeyProvider]) -> Result<Vec<u8>> {
    seal_with(plaintext, context, providers, &SealOptions::default())
}

/// [`seal`] with explicit options. The data key comes from the first provider when it
/// generates data keys ([`KeyProvider::generate_data_key`], e.g. AWS KMS `GenerateDataKey`),
/// else from the OS random generator; every other provider wraps it.
pub fn seal_with(
    plaintext: &[u8],
    context: &EncryptionContext,
    providers: &[&dyn KeyProvider],
    options: &SealOptions,
) -> Result<Vec<u8>> {
    if providers.is_empty() {
        return Err(Error::InvalidParameter("at least one key provider is needed"));
    }
    let (dek, message_id, spare) = DataKey::generate_for_seal()?;
    seal_parts(plaintext, context, options, message_id, KeySource::Providers(providers, dek, &spare))
}

/// Seal with a caller-fixed data key and message id and caller-made wrapped keys: only for
/// generating test vectors. Never use a fixed DEK or message id otherwise.
#[doc(hidden)]
pub fn seal_deterministic_for_vectors(
    plaintext: &[u8],
    context: &EncryptionContext,
    options: &SealOptions,
    dek: &DataKey,
    message_id: [u8; MESSAGE_ID_LEN],
    wrap: &dyn Fn(&WrapContext<'_>) -> Result<Vec<WrappedKey>>,
) -> Result<Vec<u8>> {
    seal_parts(plaintext, context, options, message_id, KeySource::Fixed(dek, wrap))
}

/// Where the data key and the wrapped entries of a new header come from.
pub(crate) enum KeySource<'a> {
    /// A caller-fixed data key and a wrap function (test vectors).
    Fixed(&'a DataKey, &'a dyn Fn(&WrapContext<'_>) -> Result<Vec<WrappedKey>>),
    /// Fresh materials from providers ([`provider::make_materials`]).
    /// Fresh materials from the providers; the data key was drawn with the message id and
    /// is used unless the first provider generates its own.
    Providers(&'a [&'a dyn KeyProvider], DataKey, &'a SpareNonce),
    /// A data key shared by several envelopes of one scope and its scope-bound entries
    /// (the data-key cache); the header gets the shared-data-key flag.
    Shared(&'a DataKey, &'a [WrappedKey]),
}

/// The wrap associated data of a shared-data-key envelope with these options and context
/// (what the data-key cache wraps its shared data keys under).
pub(crate) fn shared_wrap_aad(options: &SealOptions, context: &EncryptionContext) -> Vec<u8> {
    let byte = options.suite.id() | SHARED_DATA_KEY_FLAG;
    commit::wrap_aad_shared(&commit::scope_digest(byte, options.segment_size, &context.to_bytes()))
}

/// The all-zero message id handed to providers for shared-data-key wraps.
pub(crate) const SHARED_MESSAGE_ID: [u8; MESSAGE_ID_LEN] = [0; MESSAGE_ID_LEN];

/// Build and authenticate a header for `message_id`, with the data key and entries `source`
/// gives. Returns the header bytes (with `extra` spare capacity) and the message keys.
pub(crate) fn build_header(
    context: &EncryptionContext,
    options: &SealOptions,
    message_id: [u8; MESSAGE_ID_LEN],
    source: KeySource<'_>,
    extra: usize,
) -> Result<(Vec<u8>, MessageKeys)> {
    let shared = matches!(source, KeySource::Shared(..));
    let mut header = EnvelopeHeader::new(options.suite, shared, options.segment_size, message_id, context)?;
    let digest = header.digest();
    let aad = header.wrap_aad_with(&digest);
    let spare_nonce = match &source {
        KeySource::Providers(_, _, spare) => Some(*spare),
        _ => None,
    };
    let wctx = WrapContext { message_id: &message_id, shared: false, context, suite: options.suite, aad: &aad, spare_nonce };
    let keys = match source {
        KeySource::Fixed(dek, wrap) => {
            header.wrapped = wrap(&wctx)?;
            MessageKeys::derive(dek, &message_id, options.suite, digest)?
        }
        KeySource::Providers(providers, fresh, _) => {
            let (dek, entries) = provider::make_materials(providers, &wctx, fresh)?;
            header.wrapped = entries;
            MessageKeys::derive(&dek, &message_id, options.suite, digest)?
        }
        KeySource::Shared(dek, entries) => {
            header.wrapped = entries.to_vec();
            MessageKeys::derive(dek, &message_id, options.suite, digest)?
        }
    };
    header.commitment = keys.commitment;
    let mut out = Vec::with_capacity(header.encoded_len().saturating_add(extra));
    header.encode_without_tag(&mut out)?;
    let tag = keys.header_tag(&out)?;
    out.extend_from_slice(&tag);
    Ok((out, keys))
}

pub(crate) fn seal_parts(
    plaintext: &[u8],
    context: &EncryptionContext,
    options: &SealOptions,
    message_id: [u8; MESSAGE_ID_LEN],
    source: KeySource<'_>,
) -> Result<Vec<u8>> {
    let payload_len = sealed_payload_len(plaintext.len() as u64, options.segment_size)?;
    let payload_len = usize::try_from(payload_len).map_err(|_| Error::InvalidParameter("payload too large"))?;
    let (mut out, keys) = build_header(context, options, message_id, source, payload_len)?;
    let seg = options.segment_size as usize;
    let too_many = || Error::InvalidParameter("payload exceeds 2^32 segments");
    for (i, chunk) in plaintext.chunks(seg).enumerate() {
        // Every chunk but the last is full; only a short chunk is sealed as the final one.
        let last = chunk.len() < seg;
        let index = u32::try_from(i).map_err(|_| too_many())?;
        let start = out.len();
        crate::aead::extend_chunked(&mut out, chunk);
        let tag = keys.aead.seal_in_place(&keys.nonce(index, last), &keys.digest, &mut out[start..])?;
        out.extend_from_slice(&tag);
    }
    if plaintext.len().is_multiple_of(seg) {
        // The final segment is always short: here it is empty.
        let index = u32::try_from(plaintext.len() / seg).map_err(|_| too_many())?;
        let tag = keys.aead.seal_in_place(&keys.nonce(index, true), &keys.digest, &mut [])?;
        out.extend_from_slice(&tag);
    }
    Ok(out)
}

/// A seal prepared up to its header: the data key is drawn and wrapped, the header written
/// and authenticated. For callers that allocate the output themselves (the bindings seal
/// straight into a Python `bytes` or a Node `Buffer`, so a 1 MiB seal allocates 1 MiB once).
pub struct PreparedSeal {
    header: Vec<u8>,
    keys: MessageKeys,
    segment_size: u32,
}

impl core::fmt::Debug for PreparedSeal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreparedSeal").field("header_len", &self.header.len()).finish_non_exhaustive()
    }
}

/// [`seal_with`] in two steps: [`prepare_seal`], then [`PreparedSeal::seal_into`] a buffer of
/// [`PreparedSeal::sealed_len`] bytes. Same output format, same guarantees.
pub fn prepare_seal(context: &EncryptionContext, providers: &[&dyn KeyProvider], options: &SealOptions) -> Result<PreparedSeal> {
    if providers.is_empty() {
        return Err(Error::InvalidParameter("at least one key provider is needed"));
    }
    let (dek, message_id, spare) = DataKey::generate_for_seal()?;
    let (header, keys) = build_header(context, options, message_id, KeySource::Providers(providers, dek, &spare), 0)?;
    Ok(PreparedSeal { header, keys, segment_size: options.segment_size })
}

impl PreparedSeal {
    /// The envelope length for a plaintext of `plaintext_len` bytes.
    pub fn sealed_len(&self, plaintext_len: usize) -> Result<usize> {
        let payload = sealed_payload_len(plaintext_len as u64, self.segment_size)?;
        usize::try_from(payload)
            .ok()
            .and_then(|p| p.checked_add(self.header.len()))
            .ok_or(Error::InvalidParameter("payload too large"))
    }

    /// Seal `plaintext` into `out`, which must be exactly [`Self::sealed_len`] bytes.
    /// Consumes the preparation: its keys and message id are used once.
    pub fn seal_into(self, plaintext: &[u8], out: &mut [u8]) -> Result<()> {
        let expected = self.sealed_len(plaintext.len())?;
        if out.len() != expected {
            return Err(Error::InvalidLength { what: "envelope buffer", expected, actual: out.len() });
        }
        let (head, mut rest) = out.split_at_mut(self.header.len());
        head.copy_from_slice(&self.header);
        let seg = self.segment_size as usize;
        let too_many = || Error::InvalidParameter("payload exceeds 2^32 segments");
        let mut chunks = plaintext.chunks(seg);
        let mut index: u32 = 0;
        loop {
            let chunk = chunks.next().unwrap_or(&[]);
            let last = chunk.len() < seg;
            let (dst, tail) = core::mem::take(&mut rest).split_at_mut(chunk.len() + TAG_LEN);
            let (body, tag) = dst.split_at_mut(chunk.len());
            crate::aead::copy_chunked(body, chunk);
            tag.copy_from_slice(&self.keys.aead.seal_in_place(&self.keys.nonce(index, last), &self.keys.digest, body)?);
            rest = tail;
            if last {
                return Ok(());
            }
            index = index.checked_add(1).ok_or_else(too_many)?;
        }
    }
}

/// Check context, unwrap a data key, check the key commitment and the header tag. Nothing
/// is decrypted before all four pass.
pub(crate) fn authenticate(
    header: &EnvelopeHeader,
    header_bytes: &[u8],
    expected: &EncryptionContext,
    providers: &[&dyn KeyProvider],
) -> Result<(MessageKeys, DataKey)> {
    if header.context() != expected {
        return Err(Error::ContextMismatch);
    }
    let digest = header.digest();
    let aad = header.wrap_aad_with(&digest);
    let wctx = header.wrap_context(&aad);
    let (dek, _) = provider::unwrap_any(&header.wrapped, providers, &wctx)?;
    let keys = MessageKeys::derive(&dek, &header.message_id, header.suite, digest)?;
    keys.check_commitment(&header.commitment)?;
    let body_len = header.len - HEADER_TAG_LEN;
    keys.verify_header_tag(&header_bytes[..body_len], &header.tag)?;
    Ok((keys, dek))
}

/// Open an envelope sealed by [`seal`] or [`EnvelopeWriter`]. `expected` must equal the
/// stored context exactly (`ContextMismatch` otherwise); `providers` are tried against the
/// wrapped keys they own.
///
/// Errors: decode errors for a malformed header; `NoMatchingKey`, `HeaderAuthFailed`,
/// `CommitmentMismatch` before any decryption; then `Truncated` (payload ends before its
/// final segment), `DecryptionFailed` (a segment was modified, reordered, duplicated, or data
/// was appended). No plaintext is returned unless every segment verified.
pub fn open(sealed: &[u8], expected: &EncryptionContext, providers: &[&dyn KeyProvider]) -> Result<Vec<u8>> {
    ParsedEnvelope::parse(sealed)?.open(expected, providers)
}

/// The plaintext length of an envelope, from its header and payload length (nothing is
/// authenticated): the size of the buffer [`open_into`] needs.
pub fn opened_len(sealed: &[u8]) -> Result<usize> {
    Ok(ParsedEnvelope::parse(sealed)?.plaintext_len())
}

/// [`open`] into a caller-provided buffer of exactly [`opened_len`] bytes (the bindings
/// decrypt straight into a Python `bytes` or a Node `Buffer`). On any error `out` is wiped.
pub fn open_into(sealed: &[u8], expected: &EncryptionContext, providers: &[&dyn KeyProvider], out: &mut [u8]) -> Result<()> {
    match ParsedEnvelope::parse(sealed) {
        Ok(parsed) => parsed.open_into(expected, providers, out),
        Err(e) => {
            zeroize::Zeroize::zeroize(out);
            Err(e)
        }
    }
}

/// An envelope whose header and segment layout were decoded once (structure only: nothing
/// is authenticated until [`ParsedEnvelope::open_into`]). For callers that size the output
/// first and then open into it — [`opened_len`] followed by [`open_into`] decodes the header
/// twice; this decodes it once.
pub struct ParsedEnvelope<'a> {
    sealed: &'a [u8],
    header: EnvelopeHeader,
    segments: Segments<'a>,
}

impl core::fmt::Debug for ParsedEnvelope<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParsedEnvelope")
            .field("header", &self.header)
            .field("plaintext_len", &self.segments.plaintext_len)
            .finish()
    }
}

impl<'a> ParsedEnvelope<'a> {
    /// Decode the header of `sealed` and check the payload's segment layout. Errors as
    /// [`EnvelopeHeader::parse`], and `Truncated` for a payload that ends before its final
    /// segment.
    pub fn parse(sealed: &'a [u8]) -> Result<Self> {
        let header = EnvelopeHeader::parse(sealed)?;
        let segments = Segments::new(&sealed[header.len..], header.segment_size)?;
        Ok(Self { sealed, header, segments })
    }

    /// The decoded header (not yet authenticated).
    pub fn header(&self) -> &EnvelopeHeader {
        &self.header
    }

    /// The plaintext length the payload layout announces: the size [`Self::open_into`] needs.
    pub fn plaintext_len(&self) -> usize {
        self.segments.plaintext_len
    }

    /// [`open`] this envelope.
    pub fn open(&self, expected: &EncryptionContext, providers: &[&dyn KeyProvider]) -> Result<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; self.segments.plaintext_len]);
        self.open_into(expected, providers, &mut out)?;
        Ok(core::mem::take(&mut *out))
    }

    /// [`open_into`] this envelope: `out` must be exactly [`Self::plaintext_len`] bytes; on
    /// any error it is wiped.
    pub fn open_into(&self, expected: &EncryptionContext, providers: &[&dyn KeyProvider], out: &mut [u8]) -> Result<()> {
        let result = self.open_into_inner(expected, providers, out);
        if result.is_err() {
            zeroize::Zeroize::zeroize(out);
        }
        result
    }

    fn open_into_inner(&self, expected: &EncryptionContext, providers: &[&dyn KeyProvider], out: &mut [u8]) -> Result<()> {
        let segments = &self.segments;
        if out.len() != segments.plaintext_len {
            return Err(Error::InvalidLength { what: "plaintext buffer", expected: segments.plaintext_len, actual: out.len() });
        }
        let (keys, _dek) = authenticate(&self.header, self.sealed, expected, providers)?;
        let mut pos = 0;
        for (nonce, ct, tag) in segments.iter(&keys) {
            let dst = &mut out[pos..pos + ct.len()];
            crate::aead::copy_chunked(dst, ct);
            keys.aead.open_in_place(&nonce, &keys.digest, dst, tag)?;
            pos += ct.len();
        }
        Ok(())
    }
}

/// The segment layout of an envelope payload: every segment but the last is full
/// (`segment_size` bytes of ciphertext and a tag); the last is shorter, possibly empty.
struct Segments<'a> {
    payload: &'a [u8],
    segment_size: usize,
    final_index: u32,
    plaintext_len: usize,
}

impl<'a> Segments<'a> {
    fn new(payload: &'a [u8], segment_size: u32) -> Result<Self> {
        let seg = segment_size as usize;
        let full = seg + TAG_LEN;
        let n_full = payload.len() / full;
        if payload.len() % full < TAG_LEN {
            return Err(Error::Truncated("envelope payload (ends before its final segment)"));
        }
        let final_index = u32::try_from(n_full).map_err(|_| Error::Malformed("envelope payload exceeds 2^32 segments"))?;
        Ok(Self { payload, segment_size: seg, final_index, plaintext_len: payload.len() - (n_full + 1) * TAG_LEN })
    }

    /// `(nonce, ciphertext, tag)` of each segment, in order.
    fn iter<'k>(&'k self, keys: &'k MessageKeys) -> impl Iterator<Item = ([u8; aead::NONCE_LEN], &'a [u8], &'a [u8])> + 'k {
        let full = self.segment_size + TAG_LEN;
        let n_full = self.final_index as usize;
        self.payload.chunks(full).enumerate().map(move |(i, chunk)| {
            let last = i == n_full;
            let index = if last { self.final_index } else { i as u32 };
            let (ct, tag) = chunk.split_at(chunk.len() - TAG_LEN);
            (keys.nonce(index, last), ct, tag)
        })
    }
}
