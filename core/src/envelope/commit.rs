//! Data keys and the per-message key schedule: payload key, nonce prefix, key commitment and
//! header-authentication key, all derived with HKDF-SHA256 from the data key (DEK) and the
//! message id, each under its own info string. The DEK itself never keys an AEAD.
//!
//! ```text
//! D   = SHA-256("SEALWIRE\0envelope-v1\0header\0" ‖ suite ‖ segment size ‖ message id ‖ context)
//! PRK = HKDF-Extract(salt = message id, IKM = DEK)
//! payload key  = HKDF-Expand(PRK, "SEALWIRE\0envelope-v1\0payload-key\0"  ‖ D, 32)
//! nonce prefix = HKDF-Expand(PRK, "SEALWIRE\0envelope-v1\0nonce-prefix\0" ‖ D, 7)
//! commitment   = HKDF-Expand(PRK, "SEALWIRE\0envelope-v1\0commitment\0"   ‖ D, 32)
//! header key   = HKDF-Expand(PRK, "SEALWIRE\0envelope-v1\0header-mac\0"   ‖ D, 32)
//! ```

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::aead::{Suite, SuiteAead, NONCE_LEN};
use super::provider::{SpareNonce, SPARE_NONCE_LEN};
use crate::error::{Error, Result};
use crate::random;

/// Length of a data key (DEK).
pub const DATA_KEY_LEN: usize = 32;
/// Length of a message id.
pub const MESSAGE_ID_LEN: usize = 32;
/// Length of the derived nonce prefix.
pub const NONCE_PREFIX_LEN: usize = 7;
/// Length of the key commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Length of the header authentication tag.
pub const HEADER_TAG_LEN: usize = 32;

pub(crate) const LABEL_HEADER: &[u8] = b"SEALWIRE\x00envelope-v1\x00header\x00";
pub(crate) const LABEL_PAYLOAD_KEY: &[u8] = b"SEALWIRE\x00envelope-v1\x00payload-key\x00";
pub(crate) const LABEL_NONCE_PREFIX: &[u8] = b"SEALWIRE\x00envelope-v1\x00nonce-prefix\x00";
pub(crate) const LABEL_COMMITMENT: &[u8] = b"SEALWIRE\x00envelope-v1\x00commitment\x00";
pub(crate) const LABEL_HEADER_MAC: &[u8] = b"SEALWIRE\x00envelope-v1\x00header-mac\x00";
pub(crate) const LABEL_WRAP: &[u8] = b"SEALWIRE\x00envelope-v1\x00wrap\x00";
/// Scope digest of a shared-data-key envelope (data-key cache): the immutable fields but the
/// message id.
pub(crate) const LABEL_SCOPE: &[u8] = b"SEALWIRE\x00envelope-v1\x00scope\x00";
/// Wrap associated data of a shared-data-key envelope.
pub(crate) const LABEL_WRAP_SHARED: &[u8] = b"SEALWIRE\x00envelope-v1\x00wrap-shared\x00";

/// A 32-byte data key (DEK): one per object, fresh from the OS CSPRNG.
///
/// Boxed and zeroized on drop, never printed by `Debug`, not `Clone`. Key providers receive
/// it to wrap and return it from unwrap; nothing in sealwire ever writes it to storage.
pub struct DataKey(Box<Zeroizing<[u8; DATA_KEY_LEN]>>);

impl core::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Result<Self> {
        let mut k = Box::new(Zeroizing::new([0u8; DATA_KEY_LEN]));
        random::fill(k.as_mut_slice())?;
        Ok(Self(k))
    }

    /// A fresh data key, a fresh message id and a spare wrap nonce from one read of the OS
    /// generator (one system call instead of three: on a virtual machine here each
    /// `getrandom` cost about 1.7 µs, most of a 1 KiB seal).
    pub(crate) fn generate_for_seal() -> Result<(Self, [u8; MESSAGE_ID_LEN], SpareNonce)> {
        let mut all = Zeroizing::new([0u8; DATA_KEY_LEN + MESSAGE_ID_LEN + SPARE_NONCE_LEN]);
        random::fill(all.as_mut_slice())?;
        let (key, rest) = all.split_at(DATA_KEY_LEN);
        let (id_bytes, nonce_bytes) = rest.split_at(MESSAGE_ID_LEN);
        let mut k = Box::new(Zeroizing::new([0u8; DATA_KEY_LEN]));
        k.copy_from_slice(key);
        let mut id = [0u8; MESSAGE_ID_LEN];
        id.copy_from_slice(id_bytes);
        let mut nonce = [0u8; SPARE_NONCE_LEN];
        nonce.copy_from_slice(nonce_bytes);
        Ok((Self(k), id, SpareNonce::new(nonce)))
    }

    /// A data key from 32 bytes (what a key provider's unwrap produces). Any other length is
    /// `InvalidLength`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != DATA_KEY_LEN {
            return Err(Error::InvalidLength { what: "data key", expected: DATA_KEY_LEN, actual: bytes.len() });
        }
        let mut k = Box::new(Zeroizing::new([0u8; DATA_KEY_LEN]));
        k.copy_from_slice(bytes);
        Ok(Self(k))
    }

    /// The raw key, for key providers to wrap. Never store it.
    pub fn as_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

/// `D`, the digest of the header's immutable fields (see the module documentation).
pub(crate) fn header_digest(suite: Suite, segment_size: u32, message_id: &[u8; MESSAGE_ID_LEN], context: &[u8]) -> [u8; 32] {
    header_digest_raw(suite.id(), segment_size, message_id, context)
}

/// `D` over the raw suite byte (suite id, with the shared-data-key flag where set).
pub(crate) fn header_digest_raw(suite_byte: u8, segment_size: u32, message_id: &[u8; MESSAGE_ID_LEN], context: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL_HEADER);
    h.update([suite_byte]);
    h.update(segment_size.to_be_bytes());
    h.update(message_id);
    h.update(context);
    h.finalize().into()
}

/// The associated data every wrapped-DEK entry is bound to: `LABEL_WRAP ‖ D`.
pub(crate) fn wrap_aad(digest: &[u8; 32]) -> Vec<u8> {
    let mut v = Vec::with_capacity(LABEL_WRAP.len() + 32);
    v.extend_from_slice(LABEL_WRAP);
    v.extend_from_slice(digest);
    v
}

/// `S`, the scope digest of a shared-data-key envelope: like `D` without the message id.
pub(crate) fn scope_digest(suite_byte: u8, segment_size: u32, context: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL_SCOPE);
    h.update([suite_byte]);
    h.update(segment_size.to_be_bytes());
    h.update(context);
    h.finalize().into()
}

/// The associated data the wrapped keys of a shared-data-key envelope are bound to:
/// `LABEL_WRAP_SHARED ‖ S`.
pub(crate) fn wrap_aad_shared(scope: &[u8; 32]) -> Vec<u8> {
    let mut v = Vec::with_capacity(LABEL_WRAP_SHARED.len() + 32);
    v.extend_from_slice(LABEL_WRAP_SHARED);
    v.extend_from_slice(scope);
    v
}

/// The derived per-message keys.
pub(crate) struct MessageKeys {
    pub(crate) aead: SuiteAead,
    pub(crate) nonce_prefix: [u8; NONCE_PREFIX_LEN],
    pub(crate) commitment: [u8; COMMITMENT_LEN],
    header_key: Zeroizing<[u8; 32]>,
    /// `D`: also the associated data of every segment.
    pub(crate) digest: [u8; 32],
}

fn expand(hk: &Hkdf<Sha256>, label: &[u8], digest: &[u8; 32], out: &mut [u8]) -> Result<()> {
    hk.expand_multi_info(&[label, digest], out).map_err(|_| Error::InvalidParameter("HKDF output length"))
}

impl MessageKeys {
    pub(crate) fn derive(dek: &DataKey, message_id: &[u8; MESSAGE_ID_LEN], suite: Suite, digest: [u8; 32]) -> Result<Self> {
        let hk = Hkdf::<Sha256>::new(Some(message_id), dek.as_bytes());
        let mut payload_key = Zeroizing::new([0u8; 32]);
        expand(&hk, LABEL_PAYLOAD_KEY, &digest, payload_key.as_mut())?;
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        expand(&hk, LABEL_NONCE_PREFIX, &digest, &mut nonce_prefix)?;
        let mut commitment = [0u8; COMMITMENT_LEN];
        expand(&hk, LABEL_COMMITMENT, &digest, &mut commitment)?;
        let mut header_key = Zeroizing::new([0u8; 32]);
        expand(&hk, LABEL_HEADER_MAC, &digest, header_key.as_mut())?;
        Ok(Self { aead: SuiteAead::new(suite, payload_key.as_ref())?, nonce_prefix, commitment, header_key, digest })
    }

    /// Constant-time comparison with the commitment stored in a header.
    pub(crate) fn check_commitment(&self, stored: &[u8; COMMITMENT_LEN]) -> Result<()> {
        if bool::from(self.commitment.ct_eq(stored)) {
            Ok(())
        } else {
            Err(Error::CommitmentMismatch)
        }
    }

    fn mac(&self) -> Result<Hmac<Sha256>> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.header_key.as_ref())
            .map_err(|_| Error::InvalidParameter("HMAC key"))
    }

    /// HMAC-SHA256 over the header bytes before the tag.
    pub(crate) fn header_tag(&self, header_without_tag: &[u8]) -> Result<[u8; HEADER_TAG_LEN]> {
        let mut m = self.mac()?;
        m.update(header_without_tag);
        Ok(m.finalize().into_bytes().into())
    }

    pub(crate) fn verify_header_tag(&self, header_without_tag: &[u8], tag: &[u8]) -> Result<()> {
        let mut m = self.mac()?;
        m.update(header_without_tag);
        m.verify_slice(tag).map_err(|_| Error::HeaderAuthFailed)
    }

    /// `nonce prefix (7) ‖ segment index (u32, big-endian) ‖ last-segment flag (1)`.
    pub(crate) fn nonce(&self, index: u32, last: bool) -> [u8; NONCE_LEN] {
        let mut n = [0u8; NONCE_LEN];
        n[..NONCE_PREFIX_LEN].copy_from_slice(&self.nonce_prefix);
        n[NONCE_PREFIX_LEN..NONCE_PREFIX_LEN + 4].copy_from_slice(&index.to_be_bytes());
        n[NONCE_LEN - 1] = u8::from(last);
        n
    }
}

/// Every value of the key schedule for one message, exposed only so the vector generator can
/// publish them and the replay test can check them.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScheduleForVectors {
    /// `D`.
    pub header_digest: [u8; 32],
    /// Payload AEAD key.
    pub payload_key: [u8; 32],
    /// Nonce prefix.
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
    /// Key commitment.
    pub commitment: [u8; COMMITMENT_LEN],
    /// Header HMAC key.
    pub header_key: [u8; 32],
    /// Wrap associated data.
    pub wrap_aad: Vec<u8>,
}

/// Compute the key schedule (see the module documentation): only for test vectors.
#[doc(hidden)]
pub fn key_schedule_for_vectors(
    dek: &DataKey,
    message_id: &[u8; MESSAGE_ID_LEN],
    suite: Suite,
    segment_size: u32,
    context: &super::context::EncryptionContext,
) -> Result<KeyScheduleForVectors> {
    let d = header_digest(suite, segment_size, message_id, &context.to_bytes());
    let hk = Hkdf::<Sha256>::new(Some(message_id), dek.as_bytes());
    let mut ks = KeyScheduleForVectors {
        header_digest: d,
        payload_key: [0; 32],
        nonce_prefix: [0; NONCE_PREFIX_LEN],
        commitment: [0; COMMITMENT_LEN],
        header_key: [0; 32],
        wrap_aad: wrap_aad(&d),
    };
    expand(&hk, LABEL_PAYLOAD_KEY, &d, &mut ks.payload_key)?;
    expand(&hk, LABEL_NONCE_PREFIX, &d, &mut ks.nonce_prefix)?;
    expand(&hk, LABEL_COMMITMENT, &d, &mut ks.commitment)?;
    expand(&hk, LABEL_HEADER_MAC, &d, &mut ks.header_key)?;
    Ok(ks)
}
