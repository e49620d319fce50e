//! ML-KEM-768 (FIPS 203) as the HFS KEM, through the `ml-kem` crate.
//!
//! Randomness is always drawn by the caller and passed in (the 64-byte key-generation seed
//! `d ‖ z` and the 32-byte encapsulation message `m`), so the normal path and the
//! fixed-randomness path used for published vectors run the same code.

use ml_kem::array::Array;
use ml_kem::{Decapsulate, DecapsulationKey, EncapsulationKey, KeyExport, MlKem768};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Encoded ML-KEM-768 encapsulation (public) key length.
pub(crate) const PUBLIC_LEN: usize = 1184;
/// ML-KEM-768 ciphertext length.
pub(crate) const CIPHERTEXT_LEN: usize = 1088;
/// Key-generation seed length (`d ‖ z`).
pub(crate) const SEED_LEN: usize = 64;
/// Encapsulation randomness length (`m`).
pub(crate) const ENCAPS_RANDOMNESS_LEN: usize = 32;
/// Shared secret length.
pub(crate) const SHARED_LEN: usize = 32;

/// An ephemeral ML-KEM-768 key pair (the HFS `e1`). The decapsulation key is boxed and
/// zeroized on drop by the `ml-kem` crate (feature `zeroize`).
#[derive(Clone)]
pub(crate) struct KemKeypair {
    dk: Box<DecapsulationKey<MlKem768>>,
    public: Vec<u8>,
}

impl core::fmt::Debug for KemKeypair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KemKeypair(..)")
    }
}

impl KemKeypair {
    /// ML-KEM.KeyGen_internal(d, z) with `seed = d ‖ z`.
    pub(crate) fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        let dk = Box::new(DecapsulationKey::<MlKem768>::from_seed(Array::from(*seed)));
        let public = dk.encapsulation_key().to_bytes().to_vec();
        Self { dk, public }
    }

    pub(crate) fn public(&self) -> &[u8] {
        &self.public
    }

    /// ML-KEM.Decaps. Implicit rejection: a wrong ciphertext yields an unrelated secret, so a
    /// tampered `ekem1` surfaces as a decryption failure later in the handshake.
    pub(crate) fn decapsulate(&self, ciphertext: &[u8]) -> Result<Zeroizing<[u8; SHARED_LEN]>> {
        let ct = Array::try_from(ciphertext).map_err(|_| Error::InvalidLength {
            what: "ML-KEM-768 ciphertext",
            expected: CIPHERTEXT_LEN,
            actual: ciphertext.len(),
        })?;
        let mut shared = self.dk.decapsulate(&ct);
        Ok(take_shared(&mut shared))
    }
}

/// Check a received encapsulation key (length and FIPS 203 modulus check) as soon as it
/// arrives, so a bad `e1` fails the message that carried it.
pub(crate) fn validate_public(public: &[u8]) -> Result<()> {
    parse_public(public).map(|_| ())
}

fn parse_public(public: &[u8]) -> Result<EncapsulationKey<MlKem768>> {
    let key = Array::try_from(public).map_err(|_| Error::InvalidLength {
        what: "ML-KEM-768 encapsulation key",
        expected: PUBLIC_LEN,
        actual: public.len(),
    })?;
    EncapsulationKey::<MlKem768>::new(&key)
        .map_err(|_| Error::InvalidPublicKey("ML-KEM-768 encapsulation key fails the modulus check"))
}

/// ML-KEM.Encaps_internal(ek, m): returns the ciphertext and the shared secret. The key is
/// checked as FIPS 203 §7.2 requires (modulus check) and refused as `InvalidPublicKey`.
pub(crate) fn encapsulate(
    public: &[u8],
    m: &[u8; ENCAPS_RANDOMNESS_LEN],
) -> Result<(Vec<u8>, Zeroizing<[u8; SHARED_LEN]>)> {
    let ek = parse_public(public)?;
    let mut m = Array::from(*m);
    let (ct, mut shared) = ek.encapsulate_deterministic(&m);
    m.as_mut_slice().zeroize();
    Ok((ct.to_vec(), take_shared(&mut shared)))
}

/// Move a shared secret into a zeroizing array and wipe the library's copy.
fn take_shared(shared: &mut [u8]) -> Zeroizing<[u8; SHARED_LEN]> {
    let mut out = Zeroizing::new([0u8; SHARED_LEN]);
    for (dst, src) in out.iter_mut().zip(shared.iter()) {
        *dst = *src;
    }
    shared.zeroize();
    out
}
