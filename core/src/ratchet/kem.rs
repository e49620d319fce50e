//! ML-KEM-768 (FIPS 203) through the `ml-kem` crate: decapsulation keys kept as their 64-byte
//! seed `d ‖ z`, encapsulation keys checked (FIPS 203 §7.2 modulus check) before use.

use ml_kem::array::Array;
use ml_kem::ml_kem_768::{Ciphertext, DecapsulationKey, EncapsulationKey};
use ml_kem::{Decapsulate, KeyExport};
use zeroize::{Zeroize, Zeroizing};

use super::secret::Secret;
use crate::error::{Error, Result};

/// Encoded ML-KEM-768 encapsulation key.
pub(crate) const EK_LEN: usize = 1184;
/// ML-KEM-768 ciphertext.
pub(crate) const CT_LEN: usize = 1088;
/// Decapsulation-key seed `d ‖ z` (FIPS 203 ML-KEM.KeyGen_internal inputs).
pub(crate) const SEED_LEN: usize = 64;
/// KEM type byte of `EncodeKEM` (PQXDH §2.1): 0x01 = ML-KEM-768.
pub(crate) const KEM_TYPE_ML_KEM_768: u8 = 0x01;

pub(crate) type KemSeed = Secret<SEED_LEN>;

/// The encapsulation key of the key pair generated from `seed`.
pub(crate) fn public_from_seed(seed: &KemSeed) -> Vec<u8> {
    let dk = DecapsulationKey::from_seed(Array::from(*seed.bytes()));
    dk.encapsulation_key().to_bytes().to_vec()
}

/// Decode and check an encapsulation key.
pub(crate) fn parse_public(bytes: &[u8]) -> Result<EncapsulationKey> {
    let arr = Array::try_from(bytes).map_err(|_| Error::InvalidLength {
        what: "ML-KEM-768 encapsulation key",
        expected: EK_LEN,
        actual: bytes.len(),
    })?;
    EncapsulationKey::new(&arr).map_err(|_| Error::InvalidPublicKey("ML-KEM-768 encapsulation key fails the modulus check"))
}

/// Encapsulate to `ek` with the 32-byte message `m` (FIPS 203 ML-KEM.Encaps_internal).
pub(crate) fn encapsulate(ek: &EncapsulationKey, m: &Secret<32>) -> (Vec<u8>, Zeroizing<[u8; 32]>) {
    let (ct, mut k) = ek.encapsulate_deterministic(&Array::from(*m.bytes()));
    let mut ss = Zeroizing::new([0u8; 32]);
    ss.copy_from_slice(k.as_slice());
    k.as_mut_slice().zeroize();
    (ct.to_vec(), ss)
}

/// Decapsulate `ct` with the key pair generated from `seed`. ML-KEM's implicit rejection
/// turns a modified ciphertext into an unrelated secret, which then fails authentication.
pub(crate) fn decapsulate(seed: &KemSeed, ct: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let ct: Ciphertext = Array::try_from(ct).map_err(|_| Error::InvalidLength {
        what: "ML-KEM-768 ciphertext",
        expected: CT_LEN,
        actual: ct.len(),
    })?;
    let dk = DecapsulationKey::from_seed(Array::from(*seed.bytes()));
    let mut k = dk.decapsulate(&ct);
    let mut ss = Zeroizing::new([0u8; 32]);
    ss.copy_from_slice(k.as_slice());
    k.as_mut_slice().zeroize();
    Ok(ss)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn roundtrip_and_modulus_check() {
        let seed = KemSeed::new([9u8; 64]);
        let ek_bytes = public_from_seed(&seed);
        assert_eq!(ek_bytes.len(), EK_LEN);
        let ek = parse_public(&ek_bytes).unwrap();
        let (ct, ss) = encapsulate(&ek, &Secret::new([1u8; 32]));
        assert_eq!(ct.len(), CT_LEN);
        assert_eq!(*decapsulate(&seed, &ct).unwrap(), *ss);
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_ne!(*decapsulate(&seed, &bad).unwrap(), *ss);
        // A coefficient of 0xfff (> q) fails the FIPS 203 modulus check.
        let mut ek_bad = ek_bytes.clone();
        ek_bad[0] = 0xff;
        ek_bad[1] |= 0x0f;
        assert!(matches!(parse_public(&ek_bad), Err(Error::InvalidPublicKey(_))));
        assert!(matches!(parse_public(&ek_bytes[1..]), Err(Error::InvalidLength { .. })));
        assert!(decapsulate(&seed, &ct[1..]).is_err());
    }
}
