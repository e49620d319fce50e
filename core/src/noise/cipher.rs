//! Noise cipher functions (rev 34 §12.3, §12.4) and the CipherState object (§5.1).
//!
//! Nonces: ChaChaPoly uses 32 zero bits then the 64-bit counter little-endian; AESGCM uses 32
//! zero bits then the counter big-endian. The counter value 2^64 − 1 is reserved (§5.1): it is
//! never used for a message, only by REKEY (§4.2), and reaching it is
//! [`Error::NonceExhausted`].

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Cipher key length (both ciphers).
pub(crate) const KEY_LEN: usize = 32;
/// Authentication tag length (both ciphers).
pub(crate) const TAG_LEN: usize = 16;
/// The reserved nonce value.
pub(crate) const MAX_NONCE: u64 = u64::MAX;

/// The cipher named in the protocol name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CipherKind {
    ChaChaPoly,
    AesGcm,
}

impl CipherKind {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "ChaChaPoly" => Some(Self::ChaChaPoly),
            "AESGCM" => Some(Self::AesGcm),
            _ => None,
        }
    }

    fn nonce(self, n: u64) -> [u8; 12] {
        let mut out = [0u8; 12];
        match self {
            Self::ChaChaPoly => out[4..].copy_from_slice(&n.to_le_bytes()),
            Self::AesGcm => out[4..].copy_from_slice(&n.to_be_bytes()),
        }
        out
    }

    /// ENCRYPT(k, n, ad, plaintext) → ciphertext ‖ tag.
    fn encrypt(self, k: &[u8; KEY_LEN], n: u64, ad: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
        let nonce = self.nonce(n);
        let payload = Payload { msg, aad: ad };
        let out = match self {
            Self::ChaChaPoly => ChaCha20Poly1305::new(&(*k).into()).encrypt(&nonce.into(), payload),
            Self::AesGcm => Aes256Gcm::new(&(*k).into()).encrypt(&nonce.into(), payload),
        };
        // Encryption fails only for inputs far beyond the 65535-byte Noise limit.
        out.map_err(|_| Error::InvalidParameter("plaintext too long for the AEAD"))
    }

    /// DECRYPT(k, n, ad, ciphertext); the plaintext is zeroized when dropped.
    fn decrypt(self, k: &[u8; KEY_LEN], n: u64, ad: &[u8], msg: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let nonce = self.nonce(n);
        let payload = Payload { msg, aad: ad };
        let out = match self {
            Self::ChaChaPoly => ChaCha20Poly1305::new(&(*k).into()).decrypt(&nonce.into(), payload),
            Self::AesGcm => Aes256Gcm::new(&(*k).into()).decrypt(&nonce.into(), payload),
        };
        out.map(Zeroizing::new).map_err(|_| Error::DecryptionFailed)
    }
}

/// §5.1 CipherState: a key (possibly empty) and a 64-bit counter nonce.
///
/// Every method either succeeds and advances the nonce by one, or fails and changes nothing.
/// The key is zeroized on drop; `Debug` prints only whether a key is set and the counter.
#[derive(Clone)]
pub(crate) struct CipherState {
    kind: CipherKind,
    k: Option<Zeroizing<[u8; KEY_LEN]>>,
    n: u64,
}

impl core::fmt::Debug for CipherState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CipherState")
            .field("kind", &self.kind)
            .field("has_key", &self.k.is_some())
            .field("n", &self.n)
            .finish()
    }
}

impl CipherState {
    pub(crate) fn new(kind: CipherKind) -> Self {
        Self { kind, k: None, n: 0 }
    }

    /// InitializeKey(key): set the key and reset the counter.
    pub(crate) fn initialize_key(&mut self, key: &[u8; KEY_LEN]) {
        self.k = Some(Zeroizing::new(*key));
        self.n = 0;
    }

    pub(crate) fn has_key(&self) -> bool {
        self.k.is_some()
    }

    pub(crate) fn nonce(&self) -> u64 {
        self.n
    }

    /// Only for tests that need to reach the end of the nonce space.
    #[cfg(test)]
    pub(crate) fn set_nonce(&mut self, n: u64) {
        self.n = n;
    }

    /// EncryptWithAd: the plaintext unchanged while no key is set.
    pub(crate) fn encrypt_with_ad(&mut self, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let Some(k) = &self.k else {
            return Ok(plaintext.to_vec());
        };
        if self.n == MAX_NONCE {
            return Err(Error::NonceExhausted);
        }
        let out = self.kind.encrypt(k, self.n, ad, plaintext)?;
        self.n += 1;
        Ok(out)
    }

    /// DecryptWithAd: on failure the nonce does not advance (§5.1).
    pub(crate) fn decrypt_with_ad(&mut self, ad: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let Some(k) = &self.k else {
            return Ok(Zeroizing::new(ciphertext.to_vec()));
        };
        if self.n == MAX_NONCE {
            return Err(Error::NonceExhausted);
        }
        let out = self.kind.decrypt(k, self.n, ad, ciphertext)?;
        self.n += 1;
        Ok(out)
    }

    /// Decrypt under an explicit nonce without touching the counter.
    pub(crate) fn decrypt_at(&self, n: u64, ad: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let k = self.k.as_ref().ok_or(Error::HandshakeIncomplete("no transport key"))?;
        if n == MAX_NONCE {
            return Err(Error::NonceExhausted);
        }
        self.kind.decrypt(k, n, ad, ciphertext)
    }

    /// §4.2 / §11.3 REKEY: `k = first 32 bytes of ENCRYPT(k, 2^64 − 1, ε, 32 zero bytes)`.
    /// The counter is left as it is (the spec rekeys without resetting `n`).
    pub(crate) fn rekey(&mut self) -> Result<()> {
        let Some(k) = &self.k else {
            return Err(Error::HandshakeIncomplete("no key to rekey"));
        };
        let out = Zeroizing::new(self.kind.encrypt(k, MAX_NONCE, &[], &[0u8; KEY_LEN])?);
        let mut next = Zeroizing::new([0u8; KEY_LEN]);
        next.copy_from_slice(out.get(..KEY_LEN).ok_or(Error::InvalidParameter("REKEY output too short"))?);
        self.k = Some(next);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn nonce_layouts() {
        assert_eq!(CipherKind::ChaChaPoly.nonce(0x0102), [0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(CipherKind::AesGcm.nonce(0x0102), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    }

    #[test]
    fn failure_does_not_advance_and_exhaustion_is_typed() {
        for kind in [CipherKind::ChaChaPoly, CipherKind::AesGcm] {
            let mut a = CipherState::new(kind);
            let mut b = CipherState::new(kind);
            a.initialize_key(&[9; 32]);
            b.initialize_key(&[9; 32]);
            let c = a.encrypt_with_ad(b"ad", b"hello").unwrap();
            let mut bad = c.clone();
            bad[0] ^= 1;
            assert_eq!(b.decrypt_with_ad(b"ad", &bad).unwrap_err(), Error::DecryptionFailed);
            assert_eq!(b.nonce(), 0);
            assert_eq!(&b.decrypt_with_ad(b"ad", &c).unwrap()[..], b"hello");
            a.set_nonce(MAX_NONCE - 1);
            assert!(a.encrypt_with_ad(b"", b"last").is_ok());
            assert_eq!(a.encrypt_with_ad(b"", b"x").unwrap_err(), Error::NonceExhausted);
            b.set_nonce(MAX_NONCE);
            assert_eq!(b.decrypt_with_ad(b"", &c).unwrap_err(), Error::NonceExhausted);
        }
    }
}
