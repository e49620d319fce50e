//! Pure functions of the ratchet layer exposed for known-answer vectors (no state, no
//! secrets of any session): the KDFs and the padding length. Not part of the stable API.

use super::kdf;
use super::padding;
use super::secret::Key32;

/// X3DH (`post_quantum = false`) or PQXDH key derivation over the concatenated key
/// material `KM` (DH1 ‖ DH2 ‖ DH3 [‖ DH4] [‖ SS]): returns `SK ‖ shared_hka ‖ shared_nhkb`.
pub fn agreement(post_quantum: bool, km: &[u8]) -> [u8; 96] {
    let info = if post_quantum { kdf::PQXDH_INFO } else { kdf::X3DH_INFO };
    let k = kdf::agreement(info, &[km]);
    let mut out = [0u8; 96];
    out[..32].copy_from_slice(k.sk.bytes());
    out[32..64].copy_from_slice(k.hka.bytes());
    out[64..].copy_from_slice(k.nhkb.bytes());
    out
}

/// `KDF_RK(rk, dh_out)`: root key ‖ chain key (‖ next header key with header encryption).
pub fn kdf_rk(rk: &[u8; 32], dh_out: &[u8; 32], header_encryption: bool) -> Vec<u8> {
    let (rk, ck, nhk) = kdf::root(&Key32::new(*rk), dh_out, header_encryption);
    let mut out = rk.bytes().to_vec();
    out.extend_from_slice(ck.bytes());
    if let Some(n) = nhk {
        out.extend_from_slice(n.bytes());
    }
    out
}

/// `KDF_CK(ck)`: (next chain key, message key).
pub fn kdf_ck(ck: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let (next, mk) = kdf::chain(&Key32::new(*ck));
    (*next.bytes(), *mk.bytes())
}

/// Message key → (ChaCha20-Poly1305 key, nonce).
pub fn message_key(mk: &[u8; 32]) -> ([u8; 32], [u8; 12]) {
    let (k, n) = kdf::message_key(&Key32::new(*mk));
    (*k.bytes(), n)
}

/// Padded length of a plaintext of `len` bytes.
pub fn padded_len(len: usize) -> usize {
    padding::padded_len(len)
}
