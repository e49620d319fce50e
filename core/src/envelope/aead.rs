//! The two payload AEADs behind one small interface: 32-byte key, 12-byte nonce, detached
//! 16-byte tag, in-place. Everything the envelope seals goes through [`SuiteAead`]; the
//! Wycheproof AEAD sets are run through it too (see `tests.rs`).

use aes_gcm::Aes256Gcm;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;

use crate::error::{Error, Result};

/// Key length of both suites.
pub(crate) const KEY_LEN: usize = 32;
/// Nonce length of both suites.
pub(crate) const NONCE_LEN: usize = 12;
/// Tag length of both suites.
pub(crate) const TAG_LEN: usize = 16;

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

/// A keyed AEAD of either suite. Key schedules are boxed and zeroized on drop (both crates'
/// `zeroize` features are on).
pub(crate) enum SuiteAead {
    ChaCha(Box<ChaCha20Poly1305>),
    Aes(Box<Aes256Gcm>),
}

impl SuiteAead {
    pub(crate) fn new(suite: Suite, key: &[u8]) -> Result<Self> {
        if key.len() != KEY_LEN {
            return Err(Error::InvalidLength { what: "AEAD key", expected: KEY_LEN, actual: key.len() });
        }
        Ok(match suite {
            Suite::ChaCha20Poly1305 => SuiteAead::ChaCha(Box::new(
                ChaCha20Poly1305::new_from_slice(key).map_err(|_| Error::InvalidParameter("AEAD key"))?,
            )),
            Suite::Aes256Gcm => SuiteAead::Aes(Box::new(
                Aes256Gcm::new_from_slice(key).map_err(|_| Error::InvalidParameter("AEAD key"))?,
            )),
        })
    }

    fn nonce(nonce: &[u8]) -> Result<&[u8; NONCE_LEN]> {
        nonce
            .try_into()
            .map_err(|_| Error::InvalidLength { what: "AEAD nonce", expected: NONCE_LEN, actual: nonce.len() })
    }

    /// Encrypt `buf` in place; returns the tag.
    pub(crate) fn seal_in_place(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        let nonce = Self::nonce(nonce)?;
        let tag = match self {
            SuiteAead::ChaCha(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
            SuiteAead::Aes(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
        }
        .map_err(|_| Error::InvalidParameter("AEAD input too long"))?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&tag);
        Ok(out)
    }

    /// Decrypt `buf` in place after checking `tag`. On failure `buf` is wiped (it would hold
    /// unauthenticated keystream-XORed bytes otherwise) and `DecryptionFailed` is returned.
    pub(crate) fn open_in_place(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<()> {
        let nonce = Self::nonce(nonce)?;
        let tag: &[u8; TAG_LEN] = tag
            .try_into()
            .map_err(|_| Error::InvalidLength { what: "AEAD tag", expected: TAG_LEN, actual: tag.len() })?;
        let res = match self {
            SuiteAead::ChaCha(c) => c.decrypt_inout_detached(nonce.into(), aad, (&mut *buf).into(), tag.into()),
            SuiteAead::Aes(c) => c.decrypt_inout_detached(nonce.into(), aad, (&mut *buf).into(), tag.into()),
        };
        if res.is_err() {
            zeroize::Zeroize::zeroize(buf);
            return Err(Error::DecryptionFailed);
        }
        Ok(())
    }
}
