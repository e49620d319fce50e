//! X25519 Diffie-Hellman with the checks the raw primitive leaves to the caller.
//!
//! RFC 7748 §6.1 allows a peer to force an all-zero shared secret by sending a low-order
//! point. Every exchange in sealwire goes through [`diffie_hellman`], which rejects that
//! result in constant time with [`Error::NonContributory`].

use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};

/// Length of an X25519 public key, private key and shared secret.
pub const X25519_LEN: usize = 32;

/// The output of a Diffie-Hellman exchange. Zeroized on drop; not `Debug`-printable.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SharedSecret([u8; X25519_LEN]);

impl SharedSecret {
    /// The raw 32 bytes. Feed them to a KDF, never use them directly as a key.
    pub fn as_bytes(&self) -> &[u8; X25519_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

/// X25519(secret, peer) rejecting the all-zero (non-contributory) output.
///
/// The peer key is taken as 32 raw bytes exactly as RFC 7748 decodes them (the top bit is
/// masked), so any value is accepted as input; only the result is checked.
pub fn diffie_hellman(secret: &StaticSecret, peer: &[u8; X25519_LEN]) -> Result<SharedSecret> {
    let shared = secret.diffie_hellman(&PublicKey::from(*peer));
    let out = SharedSecret(*shared.as_bytes());
    if bool::from(out.0.ct_eq(&[0u8; X25519_LEN])) {
        return Err(Error::NonContributory);
    }
    Ok(out)
}

/// The canonical encodings (below p, top bit clear) of every X25519 u-coordinate of small
/// order on the curve or its twist: 0 (order 2), 1 and p − 1 (order 4, one on the curve and
/// one on the twist) and the two order-8 points of the curve — the same five values as
/// libsodium's blocklist. RFC 7748 decoding maps every other small-order encoding
/// (p, p + 1, and the top-bit-set aliases) onto these, and those are refused as
/// non-canonical before this table is consulted. The test `table_matches_scalar_check`
/// re-derives the table from the definition (k·P = 0 for a clamped k).
const SMALL_ORDER: [[u8; X25519_LEN]; 5] = [
    [0; 32],
    {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
        0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
        0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57,
    ],
    {
        let mut pm1 = [0xffu8; 32];
        pm1[0] = 0xec;
        pm1[31] = 0x7f;
        pm1
    },
];

/// Validate an X25519 public key received inside a sealwire format.
///
/// Stricter than RFC 7748 decoding: the encoding must be canonical (top bit clear, value
/// below 2^255 − 19) and the point must not be of small order.
pub fn validate_public(key: &[u8; X25519_LEN]) -> Result<()> {
    if key[31] & 0x80 != 0 {
        return Err(Error::InvalidPublicKey("non-canonical X25519 key (top bit set)"));
    }
    // Values p .. 2^255-1 are 0xed..0xff, 0xff * 30, 0x7f in little-endian.
    if key[31] == 0x7f && key[1..31].iter().all(|b| *b == 0xff) && key[0] >= 0xed {
        return Err(Error::InvalidPublicKey("non-canonical X25519 key (not reduced)"));
    }
    let mut small = subtle::Choice::from(0u8);
    for bad in &SMALL_ORDER {
        small |= key.ct_eq(bad);
    }
    if bool::from(small) {
        return Err(Error::InvalidPublicKey("X25519 key of small order"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_zero_and_small_order() {
        let s = StaticSecret::from([7u8; 32]);
        assert_eq!(diffie_hellman(&s, &[0u8; 32]).unwrap_err(), Error::NonContributory);
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(diffie_hellman(&s, &one).unwrap_err(), Error::NonContributory);
        assert!(validate_public(&one).is_err());
        // p - 1 (order 2) and p (== 0, non-canonical)
        let mut pm1 = [0xffu8; 32];
        pm1[0] = 0xec;
        pm1[31] = 0x7f;
        assert!(matches!(validate_public(&pm1), Err(Error::InvalidPublicKey(_))));
        let mut p = pm1;
        p[0] = 0xed;
        assert!(matches!(validate_public(&p), Err(Error::InvalidPublicKey(_))));
        let mut hi = [9u8; 32];
        hi[31] |= 0x80;
        assert!(matches!(validate_public(&hi), Err(Error::InvalidPublicKey(_))));
        // The base point is fine.
        let mut nine = [0u8; 32];
        nine[0] = 9;
        assert!(validate_public(&nine).is_ok());
    }

    /// Every canonical encoding whose clamped multiple is zero is in the table, and nothing
    /// else: checked over the table and over every single-byte perturbation of it.
    #[test]
    fn table_matches_scalar_check() {
        let probe = StaticSecret::from([0x5a; X25519_LEN]);
        let is_small = |k: &[u8; 32]| diffie_hellman(&probe, k).is_err();
        for bad in &SMALL_ORDER {
            assert!(is_small(bad));
            assert!(validate_public(bad).is_err());
            for i in 0..32 {
                for d in [1u8, 0x80] {
                    let mut k = *bad;
                    k[i] ^= d;
                    let canonical = k[31] & 0x80 == 0
                        && !(k[31] == 0x7f && k[1..31].iter().all(|b| *b == 0xff) && k[0] >= 0xed);
                    if canonical {
                        assert_eq!(validate_public(&k).is_err(), is_small(&k), "{k:02x?}");
                    }
                }
            }
        }
        for seed in 0u8..=255 {
            let k = x25519_dalek::PublicKey::from(&StaticSecret::from([seed; 32])).to_bytes();
            assert!(validate_public(&k).is_ok());
        }
        let mut nine = [0u8; 32];
        nine[0] = 9;
        assert!(validate_public(&nine).is_ok());
    }
}
