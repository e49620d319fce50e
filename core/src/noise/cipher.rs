//! Noise cipher functions (rev 34 §12.3, §12.4) and the CipherState object (§5.1).
//!
//! Nonces: ChaChaPoly uses 32 zero bits then the 64-bit counter little-endian; AESGCM uses 32
//! zero bits then the counter big-endian. The counter value 2^64 − 1 is reserved (§5.1): it is
//! never used for a message, only by REKEY (§4.2), and reaching it is
//! [`Error::NonceExhausted`].

use zeroize::Zeroizing;

use crate::aead::{AeadKey, Algorithm};
use crate::error::{Error, Result};

/// Cipher key length (both ciphers).
pub(crate) const KEY_LEN: usize = crate::aead::KEY_LEN;
/// Authentication tag length (both ciphers).
pub(crate) const TAG_LEN: usize = crate::aead::TAG_LEN;
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

    fn algorithm(self) -> Algorithm {
        match self {
            Self::ChaChaPoly => Algorithm::ChaCha20Poly1305,
            Self::AesGcm => Algorithm::Aes256Gcm,
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
}

/// §5.1 CipherState: a key (possibly empty) and a 64-bit counter nonce.
///
/// The key is expanded once, when it is set ([`initialize_key`](Self::initialize_key),
/// [`rekey`](Self::rekey)), and the keyed AEAD instance is kept for every message; it is
/// wiped on drop (see `crate::aead`). Every method either succeeds and advances the nonce by
/// one, or fails and changes nothing: the AEAD runs first, and the nonce (and, for the
/// `_then_rekey` variants, the key) is committed only after it succeeded. `Debug` prints only
/// whether a key is set and the counter.
pub(crate) struct CipherState {
    kind: CipherKind,
    k: Option<AeadKey>,
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

    /// A copy with the same key and counter (the key is expanded again). For transactional
    /// work on a copy (handshake messages, framed decryption); never keep two live copies of
    /// a sending state.
    pub(crate) fn try_clone(&self) -> Result<Self> {
        let k = match &self.k {
            Some(k) => Some(k.try_clone()?),
            None => None,
        };
        Ok(Self { kind: self.kind, k, n: self.n })
    }

    /// InitializeKey(key): set the key and reset the counter.
    pub(crate) fn initialize_key(&mut self, key: &[u8; KEY_LEN]) -> Result<()> {
        self.k = Some(AeadKey::new(self.kind.algorithm(), key)?);
        self.n = 0;
        Ok(())
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

    fn usable_nonce(&self, n: u64) -> Result<()> {
        if n == MAX_NONCE {
            return Err(Error::NonceExhausted);
        }
        Ok(())
    }

    /// EncryptWithAd: the plaintext unchanged while no key is set.
    #[cfg(test)]
    pub(crate) fn encrypt_with_ad(&mut self, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let len = if self.k.is_some() { plaintext.len().saturating_add(TAG_LEN) } else { plaintext.len() };
        let mut out = vec![0u8; len];
        self.encrypt_into(ad, plaintext, &mut out, false)?;
        Ok(out)
    }

    /// EncryptWithAd into `out` (`plaintext.len() + 16` bytes with a key, `plaintext.len()`
    /// without), then REKEY if `rekey_after`; all or nothing.
    pub(crate) fn encrypt_into(&mut self, ad: &[u8], plaintext: &[u8], out: &mut [u8], rekey_after: bool) -> Result<()> {
        let Some(k) = &self.k else {
            if out.len() != plaintext.len() {
                return Err(Error::InvalidLength { what: "output buffer", expected: plaintext.len(), actual: out.len() });
            }
            out.copy_from_slice(plaintext);
            return Ok(());
        };
        self.usable_nonce(self.n)?;
        k.seal_into(&self.kind.nonce(self.n), ad, plaintext, out)?;
        let next = if rekey_after { Some(self.rekeyed()?) } else { None };
        self.commit(next);
        Ok(())
    }

    /// DecryptWithAd: on failure the nonce does not advance (§5.1). The plaintext is zeroized
    /// when dropped.
    pub(crate) fn decrypt_with_ad(&mut self, ad: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let len = if self.k.is_some() { ciphertext.len().checked_sub(TAG_LEN) } else { Some(ciphertext.len()) };
        let mut out = Zeroizing::new(vec![0u8; len.ok_or(Error::DecryptionFailed)?]);
        self.decrypt_into(ad, ciphertext, &mut out, false)?;
        Ok(out)
    }

    /// DecryptWithAd into `out` (`ciphertext.len() − 16` bytes with a key), then REKEY if
    /// `rekey_after`; all or nothing (on failure `out` is wiped).
    pub(crate) fn decrypt_into(&mut self, ad: &[u8], ciphertext: &[u8], out: &mut [u8], rekey_after: bool) -> Result<()> {
        let Some(k) = &self.k else {
            if out.len() != ciphertext.len() {
                return Err(Error::InvalidLength { what: "output buffer", expected: ciphertext.len(), actual: out.len() });
            }
            out.copy_from_slice(ciphertext);
            return Ok(());
        };
        self.usable_nonce(self.n)?;
        k.open_into(&self.kind.nonce(self.n), ad, ciphertext, out)?;
        let next = match rekey_after {
            true => match self.rekeyed() {
                Ok(k) => Some(k),
                Err(e) => {
                    zeroize::Zeroize::zeroize(out);
                    return Err(e);
                }
            },
            false => None,
        };
        self.commit(next);
        Ok(())
    }

    fn commit(&mut self, next_key: Option<AeadKey>) {
        self.n += 1;
        if let Some(k) = next_key {
            self.k = Some(k);
        }
    }

    /// Decrypt under an explicit nonce into `out` without touching the counter.
    pub(crate) fn decrypt_at_into(&self, n: u64, ad: &[u8], ciphertext: &[u8], out: &mut [u8]) -> Result<()> {
        let k = self.k.as_ref().ok_or(Error::HandshakeIncomplete("no transport key"))?;
        self.usable_nonce(n)?;
        k.open_into(&self.kind.nonce(n), ad, ciphertext, out)
    }

    /// The key after §4.2 / §11.3 REKEY: `first 32 bytes of ENCRYPT(k, 2^64 − 1, ε, 32 zero
    /// bytes)`, expanded; nothing is changed.
    fn rekeyed(&self) -> Result<AeadKey> {
        let k = self.k.as_ref().ok_or(Error::HandshakeIncomplete("no key to rekey"))?;
        let mut next = Zeroizing::new([0u8; KEY_LEN]);
        // In-place encryption of zeros: the ciphertext is the keystream, of which the tag is
        // not needed (REKEY keeps only the first 32 bytes).
        let _tag = k.seal_in_place(&self.kind.nonce(MAX_NONCE), &[], next.as_mut())?;
        AeadKey::new(self.kind.algorithm(), &next)
    }

    /// REKEY now. The counter is left as it is (the spec rekeys without resetting `n`).
    pub(crate) fn rekey(&mut self) -> Result<()> {
        self.k = Some(self.rekeyed()?);
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
            a.initialize_key(&[9; 32]).unwrap();
            b.initialize_key(&[9; 32]).unwrap();
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
