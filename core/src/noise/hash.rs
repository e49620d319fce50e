//! Noise hash functions (rev 34 §12.5–12.8) and the HKDF of §4.3.
//!
//! Noise's `HKDF(chaining_key, input_key_material, num_outputs)` is RFC 5869 HKDF with
//! `salt = chaining_key`, empty `info` and `L = num_outputs × HASHLEN`: the extract step is
//! `HMAC(chaining_key, ikm)` and the expand blocks are `HMAC(prk, T(i−1) ‖ i)`, exactly the
//! spec's `output1`, `output2`, `output3`. So the audited `hkdf` crate is used as is
//! (`SimpleHkdf`, which works for BLAKE2 as well as SHA-2).

use hkdf::SimpleHkdf;
use sha2::digest::{block_api::BlockSizeUser, Digest};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The hash named in the protocol name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashKind {
    Sha256,
    Sha512,
    Blake2s,
    Blake2b,
}

impl HashKind {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "SHA256" => Self::Sha256,
            "SHA512" => Self::Sha512,
            "BLAKE2s" => Self::Blake2s,
            "BLAKE2b" => Self::Blake2b,
            _ => return None,
        })
    }

    /// HASHLEN in bytes.
    pub(crate) fn len(self) -> usize {
        match self {
            Self::Sha256 | Self::Blake2s => 32,
            Self::Sha512 | Self::Blake2b => 64,
        }
    }

    /// HASH(a ‖ b).
    pub(crate) fn hash2(self, a: &[u8], b: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => digest2::<sha2::Sha256>(a, b),
            Self::Sha512 => digest2::<sha2::Sha512>(a, b),
            Self::Blake2s => digest2::<blake2::Blake2s256>(a, b),
            Self::Blake2b => digest2::<blake2::Blake2b512>(a, b),
        }
    }

    /// `HKDF(ck, ikm, outputs)`: the outputs concatenated, each HASHLEN bytes.
    pub(crate) fn hkdf(self, ck: &[u8], ikm: &[u8], outputs: usize) -> Result<Zeroizing<Vec<u8>>> {
        let mut okm = Zeroizing::new(vec![0u8; outputs * self.len()]);
        match self {
            Self::Sha256 => expand::<sha2::Sha256>(ck, ikm, &mut okm)?,
            Self::Sha512 => expand::<sha2::Sha512>(ck, ikm, &mut okm)?,
            Self::Blake2s => expand::<blake2::Blake2s256>(ck, ikm, &mut okm)?,
            Self::Blake2b => expand::<blake2::Blake2b512>(ck, ikm, &mut okm)?,
        }
        Ok(okm)
    }
}

fn digest2<H: Digest>(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut h = H::new();
    h.update(a);
    h.update(b);
    h.finalize().to_vec()
}

fn expand<H: Digest + BlockSizeUser + Clone>(ck: &[u8], ikm: &[u8], okm: &mut [u8]) -> Result<()> {
    SimpleHkdf::<H>::new(Some(ck), ikm)
        .expand(&[], okm)
        // Only reachable for outputs > 255 × HASHLEN; Noise asks for at most 3.
        .map_err(|_| Error::InvalidParameter("HKDF output too long"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The HKDF above against the spec's definition written out with HMAC by hand.
    #[test]
    fn hkdf_matches_noise_definition() {
        use hkdf::hmac::{KeyInit, Mac, SimpleHmac};
        fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            let mut m = <SimpleHmac<blake2::Blake2s256> as KeyInit>::new_from_slice(key).unwrap();
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }
        let ck = [7u8; 32];
        let ikm = b"input key material";
        let temp = hmac(&ck, &[ikm]);
        let o1 = hmac(&temp, &[&[1]]);
        let o2 = hmac(&temp, &[&o1, &[2]]);
        let o3 = hmac(&temp, &[&o2, &[3]]);
        let got = HashKind::Blake2s.hkdf(&ck, ikm, 3).unwrap();
        assert_eq!(&got[..], [o1, o2, o3].concat().as_slice());
    }
}
