//! §5.2 SymmetricState: the chaining key `ck`, the handshake hash `h` and a CipherState.
//!
//! [`try_clone`](SymmetricState::try_clone) exists so the handshake can process a message on
//! a copy and commit it only on success. The chaining key is zeroized on drop and never
//! printed.

use zeroize::Zeroizing;

use super::cipher::{CipherKind, CipherState, KEY_LEN, TAG_LEN};
use super::hash::HashKind;
use crate::error::{Error, Result};

pub(crate) struct SymmetricState {
    hash: HashKind,
    cipher_kind: CipherKind,
    cipher: CipherState,
    ck: Zeroizing<Vec<u8>>,
    h: Vec<u8>,
}

impl core::fmt::Debug for SymmetricState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SymmetricState").field("cipher", &self.cipher).finish_non_exhaustive()
    }
}

/// The first 32 bytes of a HASHLEN-byte HKDF output (§5.2: "if HASHLEN is 64, truncate").
fn cipher_key(output: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    for (dst, src) in k.iter_mut().zip(output) {
        *dst = *src;
    }
    k
}

impl SymmetricState {
    /// InitializeSymmetric(protocol_name): `h` is the name zero-padded to HASHLEN if it fits,
    /// else HASH(name); `ck = h`; no key.
    pub(crate) fn initialize(protocol_name: &[u8], hash: HashKind, cipher_kind: CipherKind) -> Self {
        let len = hash.len();
        let h = if protocol_name.len() <= len {
            let mut h = protocol_name.to_vec();
            h.resize(len, 0);
            h
        } else {
            hash.hash2(protocol_name, &[])
        };
        Self { hash, cipher_kind, cipher: CipherState::new(cipher_kind), ck: Zeroizing::new(h.clone()), h }
    }

    pub(crate) fn try_clone(&self) -> Result<Self> {
        Ok(Self {
            hash: self.hash,
            cipher_kind: self.cipher_kind,
            cipher: self.cipher.try_clone()?,
            ck: self.ck.clone(),
            h: self.h.clone(),
        })
    }

    /// MixKey(ikm): `ck, temp_k = HKDF(ck, ikm, 2)`; InitializeKey(temp_k).
    pub(crate) fn mix_key(&mut self, ikm: &[u8]) -> Result<()> {
        let len = self.hash.len();
        let out = self.hash.hkdf(&self.ck, ikm, 2)?;
        self.ck = Zeroizing::new(out[..len].to_vec());
        self.cipher.initialize_key(&cipher_key(&out[len..]))
    }

    /// MixHash(data): `h = HASH(h ‖ data)`.
    pub(crate) fn mix_hash(&mut self, data: &[u8]) {
        self.h = self.hash.hash2(&self.h, data);
    }

    /// MixKeyAndHash(ikm), used for psk tokens: `ck, temp_h, temp_k = HKDF(ck, ikm, 3)`;
    /// MixHash(temp_h); InitializeKey(temp_k).
    pub(crate) fn mix_key_and_hash(&mut self, ikm: &[u8]) -> Result<()> {
        let len = self.hash.len();
        let out = self.hash.hkdf(&self.ck, ikm, 3)?;
        self.ck = Zeroizing::new(out[..len].to_vec());
        self.mix_hash(&out[len..2 * len]);
        self.cipher.initialize_key(&cipher_key(&out[2 * len..]))
    }

    pub(crate) fn has_key(&self) -> bool {
        self.cipher.has_key()
    }

    pub(crate) fn handshake_hash(&self) -> &[u8] {
        &self.h
    }

    /// EncryptAndHash(plaintext): encrypt with `h` as associated data, then MixHash(ciphertext);
    /// the ciphertext is appended to `out` (nothing is appended on failure).
    pub(crate) fn encrypt_and_hash_append(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let len = if self.cipher.has_key() { plaintext.len().saturating_add(TAG_LEN) } else { plaintext.len() };
        out.resize(start.saturating_add(len), 0);
        let ct = out.get_mut(start..).ok_or(Error::InvalidParameter("message too long"))?;
        if let Err(e) = self.cipher.encrypt_into(&self.h, plaintext, ct, false) {
            out.truncate(start);
            return Err(e);
        }
        let ct = out.get(start..).ok_or(Error::InvalidParameter("message too long"))?;
        self.h = self.hash.hash2(&self.h, ct);
        Ok(())
    }

    /// DecryptAndHash(ciphertext): decrypt with `h` as associated data, then MixHash(ciphertext).
    pub(crate) fn decrypt_and_hash(&mut self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let plaintext = self.cipher.decrypt_with_ad(&self.h, ciphertext)?;
        self.mix_hash(ciphertext);
        Ok(plaintext)
    }

    /// Split(): `temp_k1, temp_k2 = HKDF(ck, ε, 2)`, one CipherState per direction
    /// (initiator → responder first).
    pub(crate) fn split(&self) -> Result<(CipherState, CipherState)> {
        let len = self.hash.len();
        let out = self.hash.hkdf(&self.ck, &[], 2)?;
        let mut c1 = CipherState::new(self.cipher_kind);
        let mut c2 = CipherState::new(self.cipher_kind);
        c1.initialize_key(&cipher_key(&out[..len]))?;
        c2.initialize_key(&cipher_key(&out[len..]))?;
        Ok((c1, c2))
    }
}
