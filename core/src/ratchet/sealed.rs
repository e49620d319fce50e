//! Sealed storage blobs (session state, prekey store).
//!
//! ```text
//! magic (4) ‖ version 0x01 (1) ‖ generation (u64, 8) ‖ nonce (24) ‖ XChaCha20-Poly1305 ciphertext ‖ tag (16)
//! ```
//! The first 37 bytes are the AEAD's associated data, so the generation cannot be changed
//! without detection. The AEAD key is `HKDF-SHA-256(salt = 0^32, IKM = storage key,
//! info = "SEALWIRE_SEALED_STATE_v1" ‖ magic)`, so one storage key can seal several formats.

use zeroize::Zeroizing;

use super::kdf;
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::random::RandomSource;

pub(crate) const VERSION: u8 = 1;
pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const HEADER_LEN: usize = 4 + 1 + 8 + NONCE_LEN;
const TAG_LEN: usize = 16;
/// Length of a caller-supplied storage key.
pub const STORAGE_KEY_LEN: usize = 32;

fn storage_key(key: &[u8]) -> Result<&[u8; STORAGE_KEY_LEN]> {
    key.try_into().map_err(|_| Error::InvalidLength {
        what: "storage key",
        expected: STORAGE_KEY_LEN,
        actual: key.len(),
    })
}

pub(crate) fn seal(
    magic: &[u8; 4],
    generation: u64,
    key: &[u8],
    plaintext: &[u8],
    rng: &mut dyn RandomSource,
) -> Result<Vec<u8>> {
    let key = kdf::sealing_key(storage_key(key)?, magic);
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce)?;
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(magic);
    out.push(VERSION);
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&nonce);
    let ct = crate::xchacha::seal(key.bytes(), &nonce, &out, plaintext)?;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Open a sealed blob: returns its generation and the plaintext.
pub(crate) fn open(magic: &[u8; 4], what: &'static str, blob: &[u8], key: &[u8]) -> Result<(u64, Zeroizing<Vec<u8>>)> {
    let key = kdf::sealing_key(storage_key(key)?, magic);
    let mut r = Reader::new(blob, what);
    if r.take(4)? != magic {
        return Err(Error::BadMagic(what));
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(Error::UnsupportedVersion { what, version });
    }
    let generation = u64::from_be_bytes(r.array()?);
    let nonce: [u8; NONCE_LEN] = r.array()?;
    if r.remaining() < TAG_LEN {
        return Err(Error::Truncated(what));
    }
    let ct = r.rest();
    let pt = crate::xchacha::open(key.bytes(), &nonce, &blob[..HEADER_LEN], ct)?;
    Ok((generation, pt))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn seal_open_and_tamper() {
        let key = [4u8; 32];
        let blob = seal(b"TEST", 7, &key, b"state", &mut OsRandom).unwrap();
        let (g, pt) = open(b"TEST", "test", &blob, &key).unwrap();
        assert_eq!((g, pt.as_slice()), (7, &b"state"[..]));
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 0x01;
            assert!(open(b"TEST", "test", &t, &key).is_err(), "bit flip at {i} accepted");
        }
        for n in 0..blob.len() {
            assert!(open(b"TEST", "test", &blob[..n], &key).is_err());
        }
        assert_eq!(open(b"TEST", "test", &blob, &[5u8; 32]).unwrap_err(), Error::DecryptionFailed);
        assert_eq!(open(b"TEST", "test", &blob, &[5u8; 31]).unwrap_err().kind(), crate::ErrorKind::InvalidLength);
        // Same key, other format: the derived key differs.
        let mut other = blob.clone();
        other[..4].copy_from_slice(b"TESU");
        assert_eq!(open(b"TESU", "test", &other, &key).unwrap_err(), Error::DecryptionFailed);
    }
}
