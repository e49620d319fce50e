//! The two payload AEADs behind one small interface: 32-byte key, 12-byte nonce, detached
//! 16-byte tag, in-place. Everything the envelope seals goes through [`SuiteAead`]; the
//! Wycheproof AEAD sets are run through it too (see `tests.rs`).

pub(crate) use crate::aead::{KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::aead::{AeadKey, Algorithm};
use crate::error::{Error, Result};

/// The payload algorithm suite of an envelope (header byte 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Suite {
    /// ChaCha20-Poly1305 (RFC 8439) segments, HKDF-SHA256 key schedule. The default.
    #[default]
    ChaCha20Poly1305,
    /// AES-256-GCM segments, HKDF-SHA256 key schedule.
    Aes256Gcm,
}

impl Suite {
    /// The one-byte identifier written in the header.
    pub const fn id(self) -> u8 {
        match self {
            Suite::ChaCha20Poly1305 => 0x01,
            Suite::Aes256Gcm => 0x02,
        }
    }

    /// The suite with identifier `id`.
    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            0x01 => Ok(Suite::ChaCha20Poly1305),
            0x02 => Ok(Suite::Aes256Gcm),
            _ => Err(Error::UnsupportedAlgorithm("envelope suite")),
        }
    }

    /// A stable lowercase name ("chacha20-poly1305", "aes-256-gcm").
    pub const fn name(self) -> &'static str {
        match self {
            Suite::ChaCha20Poly1305 => "chacha20-poly1305",
            Suite::Aes256Gcm => "aes-256-gcm",
        }
    }
}

/// A keyed AEAD of either suite: the crate's AEAD backend (`crate::aead`, RustCrypto or,
/// with the `aead-ring` feature, ring) with the envelope's argument checks. The expanded key
/// is kept for all segments and wiped on drop.
pub(crate) struct SuiteAead(AeadKey);

impl SuiteAead {
    pub(crate) fn new(suite: Suite, key: &[u8]) -> Result<Self> {
        let key: &[u8; KEY_LEN] =
            key.try_into().map_err(|_| Error::InvalidLength { what: "AEAD key", expected: KEY_LEN, actual: key.len() })?;
        let alg = match suite {
            Suite::ChaCha20Poly1305 => Algorithm::ChaCha20Poly1305,
            Suite::Aes256Gcm => Algorithm::Aes256Gcm,
        };
        Ok(SuiteAead(AeadKey::new(alg, key)?))
    }

    fn nonce(nonce: &[u8]) -> Result<&[u8; NONCE_LEN]> {
        nonce
            .try_into()
            .map_err(|_| Error::InvalidLength { what: "AEAD nonce", expected: NONCE_LEN, actual: nonce.len() })
    }

    /// Encrypt `buf` in place; returns the tag.
    pub(crate) fn seal_in_place(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        self.0.seal_in_place(Self::nonce(nonce)?, aad, buf)
    }

    /// Decrypt `buf` in place after checking `tag`. On failure `buf` is wiped (it would hold
    /// unauthenticated keystream-XORed bytes otherwise) and `DecryptionFailed` is returned.
    pub(crate) fn open_in_place(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<()> {
        let nonce = Self::nonce(nonce)?;
        let tag: &[u8; TAG_LEN] = tag
            .try_into()
            .map_err(|_| Error::InvalidLength { what: "AEAD tag", expected: TAG_LEN, actual: tag.len() })?;
        self.0.open_in_place(nonce, aad, buf, tag)
    }
}
