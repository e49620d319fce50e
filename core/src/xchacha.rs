//! XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) for the small sealing jobs: the keyring's
//! data-key wrapping, the ratchet's header encryption and the sealed session/prekey blobs.
//!
//! The construction is the draft's: subkey = HChaCha20(key, nonce[0..16]); then
//! ChaCha20-Poly1305 (RFC 8439) under the subkey with the 12-byte nonce `0⁴ ‖ nonce[16..24]`.
//! HChaCha20 comes from the `chacha20` crate and ChaCha20-Poly1305 from [`crate::aead`], so
//! with the `aead-ring` feature the AEAD runs on ring's assembly. For a few dozen bytes this is
//! about four times faster than `chacha20poly1305::XChaCha20Poly1305`, whose AVX2 Poly1305
//! precomputes key powers on every call. Checked against Wycheproof's XChaCha20-Poly1305 set
//! and differentially against the RustCrypto type (`tests` below).

use chacha20::hchacha;
use zeroize::Zeroizing;

use crate::aead::{AeadKey, Algorithm, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};

/// Extended nonce length.
pub(crate) const XNONCE_LEN: usize = 24;

fn subkey(key: &[u8; KEY_LEN], nonce: &[u8; XNONCE_LEN]) -> Result<(AeadKey, [u8; NONCE_LEN])> {
    let mut input = [0u8; 16];
    input.copy_from_slice(&nonce[..16]);
    let sub = Zeroizing::new(<[u8; KEY_LEN]>::from(hchacha::<chacha20::R20>(
        key.into(),
        &input.into(),
    )));
    let mut n = [0u8; NONCE_LEN];
    n[4..].copy_from_slice(&nonce[16..]);
    Ok((AeadKey::new(Algorithm::ChaCha20Poly1305, &sub)?, n))
}

/// `ciphertext ‖ tag` of `plaintext` into `out`, which must be `plaintext.len() + TAG_LEN`
/// bytes (callers with a fixed-size message keep it off the heap).
pub(crate) fn seal_into(key: &[u8; KEY_LEN], nonce: &[u8; XNONCE_LEN], aad: &[u8], plaintext: &[u8], out: &mut [u8]) -> Result<()> {
    let (k, n) = subkey(key, nonce)?;
    k.seal_into(&n, aad, plaintext, out)
}

/// The plaintext of `ciphertext ‖ tag` into `out` (`message.len() - TAG_LEN` bytes);
/// [`Error::DecryptionFailed`] if it does not verify.
pub(crate) fn open_into(key: &[u8; KEY_LEN], nonce: &[u8; XNONCE_LEN], aad: &[u8], message: &[u8], out: &mut [u8]) -> Result<()> {
    let (k, n) = subkey(key, nonce)?;
    k.open_into(&n, aad, message, out)
}

/// `ciphertext ‖ tag` of `plaintext`.
pub(crate) fn seal(key: &[u8; KEY_LEN], nonce: &[u8; XNONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let (k, n) = subkey(key, nonce)?;
    let mut out = vec![0u8; plaintext.len() + TAG_LEN];
    k.seal_into(&n, aad, plaintext, &mut out)?;
    Ok(out)
}

/// The plaintext of `ciphertext ‖ tag`; [`Error::DecryptionFailed`] if it does not verify.
pub(crate) fn open(key: &[u8; KEY_LEN], nonce: &[u8; XNONCE_LEN], aad: &[u8], message: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let len = message.len().checked_sub(TAG_LEN).ok_or(Error::DecryptionFailed)?;
    let (k, n) = subkey(key, nonce)?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    k.open_into(&n, aad, message, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::XChaCha20Poly1305;

    #[test]
    fn wycheproof_xchacha20_poly1305() {
        let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::XChaCha20Poly1305).unwrap();
        let (mut checked, mut other_sizes) = (0, 0);
        for group in &set.test_groups {
            for t in &group.tests {
                // Groups with other key or nonce sizes test APIs that take them; ours cannot.
                let (Ok(key), Ok(nonce)) = (<[u8; 32]>::try_from(&t.key[..]), <[u8; 24]>::try_from(&t.nonce[..])) else {
                    assert_eq!(t.result, wycheproof::TestResult::Invalid, "tc {}", t.tc_id);
                    other_sizes += 1;
                    continue;
                };
                let mut ct_tag = t.ct.to_vec();
                ct_tag.extend_from_slice(&t.tag);
                let sealed = seal(&key, &nonce, &t.aad, &t.pt).unwrap();
                let opened = open(&key, &nonce, &t.aad, &ct_tag);
                if t.result == wycheproof::TestResult::Invalid {
                    assert!(opened.is_err(), "tc {}", t.tc_id);
                    assert_ne!(sealed, ct_tag, "tc {}", t.tc_id);
                } else {
                    assert_eq!(sealed, ct_tag, "tc {}", t.tc_id);
                    assert_eq!(&opened.unwrap()[..], &t.pt[..], "tc {}", t.tc_id);
                }
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} cases ({other_sizes} of other sizes)");
    }

    #[test]
    fn agrees_with_rustcrypto_xchacha() {
        for len in [0usize, 1, 15, 16, 17, 32, 63, 64, 65, 255, 1024] {
            let key = [len as u8 ^ 0x5a; 32];
            let nonce: [u8; 24] = core::array::from_fn(|i| (i * 7 + len) as u8);
            let aad: Vec<u8> = (0..len % 40).map(|i| i as u8).collect();
            let pt: Vec<u8> = (0..len).map(|i| (i * 31) as u8).collect();
            let theirs = XChaCha20Poly1305::new_from_slice(&key)
                .unwrap()
                .encrypt((&nonce).into(), Payload { msg: &pt, aad: &aad })
                .unwrap();
            assert_eq!(seal(&key, &nonce, &aad, &pt).unwrap(), theirs, "len {len}");
            assert_eq!(&open(&key, &nonce, &aad, &theirs).unwrap()[..], &pt[..]);
            let mut bad = theirs.clone();
            bad[0] ^= 1;
            assert!(matches!(open(&key, &nonce, &aad, &bad), Err(Error::DecryptionFailed)));
        }
        assert!(matches!(open(&[0; 32], &[0; 24], b"", &[0; 15]), Err(Error::DecryptionFailed)));
    }
}
