//! Every key derivation of the ratchet layer, with its info string. `docs/RATCHET_FORMATS.md`
//! lists the same strings; changing one is a wire-format change.

use hkdf::HkdfExtract;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::secret::Key32;

/// X3DH `info` (X3DH §2.1: identifies the application, curve and hash).
pub(crate) const X3DH_INFO: &[u8] = b"SEALWIRE_X3DH_CURVE25519_SHA-256_v1";
/// PQXDH `info` (PQXDH §2.1: identifies application, curve, hash and KEM).
pub(crate) const PQXDH_INFO: &[u8] = b"SEALWIRE_PQXDH_CURVE25519_SHA-256_ML-KEM-768_v1";
/// `KDF_RK` info, standard Double Ratchet.
pub(crate) const ROOT_INFO: &[u8] = b"SEALWIRE_DR_ROOT_v1";
/// `KDF_RK_HE` info, header-encryption variant.
pub(crate) const ROOT_HE_INFO: &[u8] = b"SEALWIRE_DR_ROOT_HE_v1";
/// Expansion of a message key into the ChaCha20-Poly1305 key and nonce.
pub(crate) const MESSAGE_INFO: &[u8] = b"SEALWIRE_DR_MESSAGE_v1";
/// Derivation of the sealing key of a stored state from the caller's storage key
/// (followed by the 4 magic bytes of the format).
pub(crate) const SEALED_STATE_INFO: &[u8] = b"SEALWIRE_SEALED_STATE_v1";

/// X3DH §2.2: 32 0xFF bytes prepended to the key material for X25519.
const F: [u8; 32] = [0xff; 32];
/// Zero-filled salt of hash length (X3DH §2.2, PQXDH §2.2, Double Ratchet §5.2).
const ZERO_SALT: [u8; 32] = [0u8; 32];

/// Output of X3DH / PQXDH: the spec's `SK` and the two shared header keys of the
/// header-encryption variant.
pub(crate) struct AgreementKeys {
    pub(crate) sk: Key32,
    pub(crate) hka: Key32,
    pub(crate) nhkb: Key32,
}

/// `HKDF-SHA-256(salt = 0^32, IKM = F ‖ KM, info, L = 96)`. The first 32 bytes are exactly
/// the spec's `SK` (HKDF output blocks do not depend on L); bytes 32..64 are `shared_hka` and
/// 64..96 `shared_nhkb`.
pub(crate) fn agreement(info: &[u8], km_parts: &[&[u8]]) -> AgreementKeys {
    let mut ext = HkdfExtract::<Sha256>::new(Some(&ZERO_SALT));
    ext.input_ikm(&F);
    for part in km_parts {
        ext.input_ikm(part);
    }
    let (_, hk) = ext.finalize();
    let mut okm = Zeroizing::new([0u8; 96]);
    expand(&hk, info, okm.as_mut());
    AgreementKeys { sk: split32(okm.as_slice(), 0), hka: split32(okm.as_slice(), 1), nhkb: split32(okm.as_slice(), 2) }
}

/// `KDF_RK(rk, dh_out)`: HKDF-SHA-256 with `rk` as salt, `dh_out` as input key material.
/// Returns (root key, chain key, next header key); the third is only meaningful (and only
/// derived) for the header-encryption variant.
pub(crate) fn root(rk: &Key32, dh_out: &[u8; 32], header_encryption: bool) -> (Key32, Key32, Option<Key32>) {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(rk.bytes()), dh_out);
    if header_encryption {
        let mut okm = Zeroizing::new([0u8; 96]);
        expand(&hk, ROOT_HE_INFO, okm.as_mut());
        (split32(okm.as_slice(), 0), split32(okm.as_slice(), 1), Some(split32(okm.as_slice(), 2)))
    } else {
        let mut okm = Zeroizing::new([0u8; 64]);
        expand(&hk, ROOT_INFO, okm.as_mut());
        (split32(okm.as_slice(), 0), split32(okm.as_slice(), 1), None)
    }
}

/// `KDF_CK(ck)`: message key = HMAC-SHA-256(ck, 0x01), next chain key = HMAC-SHA-256(ck,
/// 0x02) (Double Ratchet §5.2 recommendation). Returns (next chain key, message key).
pub(crate) fn chain(ck: &Key32) -> (Key32, Key32) {
    (Key32::new(hmac(ck, 0x02)), Key32::new(hmac(ck, 0x01)))
}

/// Expand a message key into a ChaCha20-Poly1305 key and nonce:
/// `HKDF-SHA-256(salt = 0^32, IKM = mk, info = MESSAGE_INFO, L = 44)` → key (32) ‖ nonce (12).
pub(crate) fn message_key(mk: &Key32) -> (Key32, [u8; 12]) {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(&ZERO_SALT), mk.bytes());
    let mut okm = Zeroizing::new([0u8; 44]);
    expand(&hk, MESSAGE_INFO, okm.as_mut());
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&okm[32..44]);
    (split32(okm.as_slice(), 0), nonce)
}

/// Sealing key of a stored state: `HKDF-SHA-256(salt = 0^32, IKM = storage key,
/// info = SEALED_STATE_INFO ‖ magic, L = 32)`.
pub(crate) fn sealing_key(storage_key: &[u8; 32], magic: &[u8; 4]) -> Key32 {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(&ZERO_SALT), storage_key);
    let mut out = Key32::new([0u8; 32]);
    // Two-part info without allocating: HKDF's multi-info expansion concatenates.
    if hk.expand_multi_info(&[SEALED_STATE_INFO, magic], &mut out.0).is_err() {
        // Unreachable: 32 bytes is far below HKDF's 255 × 32 limit.
        out.0 = [0u8; 32];
    }
    out
}

fn hmac(key: &Key32, byte: u8) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps the
    // no-panic rule without an unwrap.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key.bytes()) {
        Ok(mut mac) => {
            mac.update(&[byte]);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0u8; 32],
    }
}

fn expand(hk: &hkdf::Hkdf<Sha256>, info: &[u8], okm: &mut [u8]) {
    // Output lengths used here (≤ 96) are far below HKDF's limit, so this cannot fail.
    if hk.expand(info, okm).is_err() {
        okm.iter_mut().for_each(|b| *b = 0);
    }
}

fn split32(okm: &[u8], i: usize) -> Key32 {
    let mut k = [0u8; 32];
    k.copy_from_slice(&okm[32 * i..32 * (i + 1)]);
    Key32::new(k)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn sk_is_the_first_block_of_the_longer_output() {
        // The 96-byte agreement output starts with exactly the 32-byte X3DH SK.
        let km = [7u8; 96];
        let keys = agreement(X3DH_INFO, &[&km]);
        let mut ikm = F.to_vec();
        ikm.extend_from_slice(&km);
        let hk = hkdf::Hkdf::<Sha256>::new(Some(&ZERO_SALT), &ikm);
        let mut sk = [0u8; 32];
        hk.expand(X3DH_INFO, &mut sk).unwrap();
        assert_eq!(keys.sk.bytes(), &sk);
        assert_ne!(keys.hka.bytes(), keys.nhkb.bytes());
    }

    #[test]
    fn chain_step_matches_hmac_definition() {
        let ck = Key32::new([3u8; 32]);
        let (next, mk) = chain(&ck);
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&[3u8; 32]).unwrap();
        m.update(&[1]);
        let expect: [u8; 32] = m.finalize().into_bytes().into();
        assert_eq!(mk.bytes(), &expect);
        assert_ne!(next.bytes(), mk.bytes());
    }
}
