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

/// Validate an X25519 public key received inside a sealwire format.
///
/// Stricter than RFC 7748 decoding: the encoding must be canonical (top bit clear, value
/// below 2^255 − 19) and the point must not be of small order (checked by multiplying by a
/// fixed clamped scalar: clamping makes the scalar a multiple of the cofactor, so exactly the
/// small-order points map to zero).
pub fn validate_public(key: &[u8; X25519_LEN]) -> Result<()> {
    if key[31] & 0x80 != 0 {
        return Err(Error::InvalidPublicKey("non-canonical X25519 key (top bit set)"));
    }
    // Values p .. 2^255-1 are 0xed..0xff, 0xff * 30, 0x7f in little-endian.
    if key[31] == 0x7f && key[1..31].iter().all(|b| *b == 0xff) && key[0] >= 0xed {
        return Err(Error::InvalidPublicKey("non-canonical X25519 key (not reduced)"));
    }
    let probe = StaticSecret::from([0x5a; X25519_LEN]);
    match diffie_hellman(&probe, key) {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::InvalidPublicKey("X25519 key of small order")),
    }
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
}
