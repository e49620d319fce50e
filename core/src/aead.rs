//! The two IETF AEADs sealwire's bulk paths use — ChaCha20-Poly1305 (RFC 8439) and
//! AES-256-GCM — behind one small keyed interface, with the implementation chosen at compile
//! time:
//!
//! * default: the pure-Rust RustCrypto crates (`chacha20poly1305`, `aes-gcm`);
//! * cargo feature `aead-ring`: `ring` 0.17 (BoringSSL-derived assembly: AVX2 ChaCha20 and
//!   Poly1305, AES-NI/VAES with CLMUL/VPCLMULQDQ GHASH).
//!
//! Used by the Noise transport and handshake (`noise::cipher`) and the envelope segments
//! (`envelope::aead`). Identity export (XChaCha20-Poly1305), the keyring's wrapping and the
//! Double Ratchet stay on RustCrypto: they seal a few dozen bytes at a time.
//!
//! A key is expanded once ([`AeadKey::new`]) and kept: the AES key schedule and GHASH table
//! are not recomputed per message. The instance lives on the heap and is wiped when dropped:
//! the RustCrypto types zeroize themselves (their `zeroize` features are on); `ring` offers no
//! zeroization, so the ring backend overwrites the key in place with the expansion of the
//! all-zero key before freeing it (see [`ring_backend`]).
//!
//! Every `open*` verifies the tag before anything it wrote can be seen: on failure the output
//! buffer is wiped and [`Error::DecryptionFailed`] returned. The tag comparison is the
//! backend's constant-time one.

use crate::error::{Error, Result};

/// Key length (both algorithms).
pub(crate) const KEY_LEN: usize = 32;
/// Nonce length (both algorithms).
pub(crate) const NONCE_LEN: usize = 12;
/// Tag length (both algorithms).
pub(crate) const TAG_LEN: usize = 16;

/// Which AEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    ChaCha20Poly1305,
    Aes256Gcm,
}

/// The name of the compiled-in backend: `"rustcrypto"` or `"ring"`.
pub(crate) const BACKEND: &str = backend::NAME;

/// A keyed AEAD instance. Not `Clone` on purpose (two live copies of a sending key invite
/// nonce reuse); [`try_clone`](Self::try_clone) exists for the transactional copies the
/// handshake makes.
pub(crate) struct AeadKey {
    alg: Algorithm,
    inner: backend::Key,
}

impl core::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AeadKey").field("alg", &self.alg).field("backend", &BACKEND).finish_non_exhaustive()
    }
}

fn too_long() -> Error {
    Error::InvalidParameter("AEAD input too long")
}

fn bad_len(what: &'static str, expected: usize, actual: usize) -> Error {
    Error::InvalidLength { what, expected, actual }
}

impl AeadKey {
    pub(crate) fn new(alg: Algorithm, key: &[u8; KEY_LEN]) -> Result<Self> {
        Ok(Self { alg, inner: backend::Key::new(alg, key)? })
    }

    /// Another instance with the same key (the key is expanded again).
    pub(crate) fn try_clone(&self) -> Result<Self> {
        Ok(Self { alg: self.alg, inner: self.inner.try_clone()? })
    }

    /// Encrypt `buf` in place; returns the tag.
    pub(crate) fn seal_in_place(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        self.inner.seal_in_place(nonce, aad, buf)
    }

    /// Encrypt `plaintext` into `out`, which must be exactly `plaintext.len() + TAG_LEN`
    /// bytes: `ciphertext ‖ tag`.
    pub(crate) fn seal_into(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8], out: &mut [u8]) -> Result<()> {
        let expected = plaintext.len().checked_add(TAG_LEN).ok_or_else(too_long)?;
        if out.len() != expected {
            return Err(bad_len("AEAD output buffer", expected, out.len()));
        }
        let (ct, tag) = out.split_at_mut(plaintext.len());
        let t = self.inner.seal_into(nonce, aad, plaintext, ct)?;
        tag.copy_from_slice(&t);
        Ok(())
    }

    /// Decrypt `buf` in place after checking `tag`. On failure `buf` is wiped.
    pub(crate) fn open_in_place(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> Result<()> {
        let res = self.inner.open_in_place(nonce, aad, buf, tag);
        if res.is_err() {
            zeroize::Zeroize::zeroize(buf);
            return Err(Error::DecryptionFailed);
        }
        Ok(())
    }

    /// Decrypt `ciphertext ‖ tag` into `out`, which must be exactly `TAG_LEN` bytes shorter
    /// than the input. On failure `out` is wiped.
    pub(crate) fn open_into(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], message: &[u8], out: &mut [u8]) -> Result<()> {
        let ct_len = message.len().checked_sub(TAG_LEN).ok_or(Error::DecryptionFailed)?;
        if out.len() != ct_len {
            return Err(bad_len("AEAD output buffer", ct_len, out.len()));
        }
        let (ct, tag) = message.split_at(ct_len);
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(tag);
        let res = self.inner.open_into(nonce, aad, ct, &t, out);
        if res.is_err() {
            zeroize::Zeroize::zeroize(out);
            return Err(Error::DecryptionFailed);
        }
        Ok(())
    }
}

/// Bulk copies are made in pieces of this size. One large `memcpy` can hit a slow path: on
/// this project's machines (AMD EPYC, glibc 2.36) a 64 KiB copy between heap buffers whose
/// addresses differ by a small amount modulo 4096 ran at about a tenth of its usual speed
/// (`rep movsb`), which doubled the time of a 64 KiB Noise message round trip; copies of
/// 2 KiB pieces use glibc's vector loop and are as fast as the good case in every layout
/// measured (see docs/PERFORMANCE.md).
const COPY_PIECE: usize = 2048;

/// `dst.copy_from_slice(src)` in [`COPY_PIECE`] pieces (`dst` and `src` of equal length;
/// extra bytes of the longer one are left alone).
pub(crate) fn copy_chunked(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.chunks_mut(COPY_PIECE).zip(src.chunks(COPY_PIECE)) {
        d.copy_from_slice(s);
    }
}

/// `out.extend_from_slice(src)` in [`COPY_PIECE`] pieces (after one reservation).
pub(crate) fn extend_chunked(out: &mut Vec<u8>, src: &[u8]) {
    out.reserve(src.len());
    for s in src.chunks(COPY_PIECE) {
        out.extend_from_slice(s);
    }
}

/// Failure of the backend's open; mapped to `DecryptionFailed` by the callers above.
struct OpenFailed;

#[cfg(not(feature = "aead-ring"))]
use rustcrypto_backend as backend;

#[cfg(feature = "aead-ring")]
use ring_backend as backend;

/// The RustCrypto backend.
#[cfg(not(feature = "aead-ring"))]
mod rustcrypto_backend {
    use aes_gcm::aead::inout::InOutBuf;
    use aes_gcm::aead::{AeadInOut, KeyInit};
    use aes_gcm::Aes256Gcm;
    use chacha20poly1305::ChaCha20Poly1305;

    use super::{too_long, Algorithm, OpenFailed, KEY_LEN, NONCE_LEN, TAG_LEN};
    use crate::error::{Error, Result};

    pub(super) const NAME: &str = "rustcrypto";

    /// Boxed so the expanded key never moves (both types zeroize themselves on drop).
    pub(super) enum Key {
        ChaCha(Box<ChaCha20Poly1305>),
        Aes(Box<Aes256Gcm>),
    }

    fn tag_array(tag: &[u8]) -> [u8; TAG_LEN] {
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag);
        out
    }

    fn inout<'a>(input: &'a [u8], out: &'a mut [u8]) -> Result<InOutBuf<'a, 'a, u8>> {
        InOutBuf::new(input, out).map_err(|_| Error::InvalidParameter("AEAD buffer lengths differ"))
    }

    impl Key {
        pub(super) fn new(alg: Algorithm, key: &[u8; KEY_LEN]) -> Result<Self> {
            Ok(match alg {
                Algorithm::ChaCha20Poly1305 => Key::ChaCha(Box::new(ChaCha20Poly1305::new(key.into()))),
                Algorithm::Aes256Gcm => Key::Aes(Box::new(Aes256Gcm::new(key.into()))),
            })
        }

        pub(super) fn try_clone(&self) -> Result<Self> {
            Ok(match self {
                Key::ChaCha(c) => Key::ChaCha(c.clone()),
                Key::Aes(c) => Key::Aes(c.clone()),
            })
        }

        pub(super) fn seal_in_place(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
            let tag = match self {
                Key::ChaCha(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
                Key::Aes(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
            };
            Ok(tag_array(&tag.map_err(|_| too_long())?))
        }

        pub(super) fn seal_into(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], pt: &[u8], ct: &mut [u8]) -> Result<[u8; TAG_LEN]> {
            let buf = inout(pt, ct)?;
            let tag = match self {
                Key::ChaCha(c) => c.encrypt_inout_detached(nonce.into(), aad, buf),
                Key::Aes(c) => c.encrypt_inout_detached(nonce.into(), aad, buf),
            };
            Ok(tag_array(&tag.map_err(|_| too_long())?))
        }

        pub(super) fn open_in_place(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> core::result::Result<(), OpenFailed> {
            match self {
                Key::ChaCha(c) => c.decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into()),
                Key::Aes(c) => c.decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into()),
            }
            .map_err(|_| OpenFailed)
        }

        pub(super) fn open_into(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            ct: &[u8],
            tag: &[u8; TAG_LEN],
            out: &mut [u8],
        ) -> core::result::Result<(), OpenFailed> {
            let buf = inout(ct, out).map_err(|_| OpenFailed)?;
            match self {
                Key::ChaCha(c) => c.decrypt_inout_detached(nonce.into(), aad, buf, tag.into()),
                Key::Aes(c) => c.decrypt_inout_detached(nonce.into(), aad, buf, tag.into()),
            }
            .map_err(|_| OpenFailed)
        }
    }
}

/// The `ring` backend (feature `aead-ring`).
///
/// Wiping: `ring` keeps the expanded key (AES round keys and GHASH powers, or the ChaCha20
/// key) inline in `LessSafeKey` and has no zeroization of its own. The key is therefore
/// boxed, so it never moves, and on drop the box's contents are replaced, in place, by (a
/// copy of, made once) the expansion of the all-zero key of the same algorithm; `black_box` then keeps the compiler
/// from discarding those writes as dead stores before the free. Same algorithm and CPU means
/// the same internal variant and layout, so every key-dependent field is overwritten. This is
/// best effort in the same sense as the `zeroize` crate (no guarantee about copies the
/// library itself made on the stack), and needs no `unsafe`.
#[cfg(feature = "aead-ring")]
mod ring_backend {
    use std::sync::OnceLock;

    use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM, CHACHA20_POLY1305};

    use super::{copy_chunked, too_long, Algorithm, OpenFailed, KEY_LEN, NONCE_LEN, TAG_LEN};
    use crate::error::{Error, Result};

    pub(super) const NAME: &str = "ring";

    pub(super) struct Key {
        alg: Algorithm,
        key: Box<LessSafeKey>,
    }

    fn unbound(alg: Algorithm, key: &[u8; KEY_LEN]) -> Result<LessSafeKey> {
        let algorithm = match alg {
            Algorithm::ChaCha20Poly1305 => &CHACHA20_POLY1305,
            Algorithm::Aes256Gcm => &AES_256_GCM,
        };
        let k = UnboundKey::new(algorithm, key).map_err(|_| Error::InvalidParameter("AEAD key"))?;
        Ok(LessSafeKey::new(k))
    }

    /// The expansion of the all-zero key, made once per algorithm and copied over each key
    /// on drop: the wipe is a copy, not a second key schedule (for AES-256-GCM, whose
    /// schedule and GHASH table cost as much as the rest of a 1 KiB open).
    fn zero_key(alg: Algorithm) -> Option<&'static LessSafeKey> {
        static CHACHA: OnceLock<Option<LessSafeKey>> = OnceLock::new();
        static AES: OnceLock<Option<LessSafeKey>> = OnceLock::new();
        let cell = match alg {
            Algorithm::ChaCha20Poly1305 => &CHACHA,
            Algorithm::Aes256Gcm => &AES,
        };
        cell.get_or_init(|| unbound(alg, &[0u8; KEY_LEN]).ok()).as_ref()
    }

    impl Drop for Key {
        fn drop(&mut self) {
            if let Some(zero) = zero_key(self.alg) {
                *self.key = zero.clone();
                core::hint::black_box(&*self.key);
            }
        }
    }

    fn tag_array(tag: &Tag) -> [u8; TAG_LEN] {
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    fn nonce(n: &[u8; NONCE_LEN]) -> Nonce {
        Nonce::assume_unique_for_key(*n)
    }

    impl Key {
        pub(super) fn new(alg: Algorithm, key: &[u8; KEY_LEN]) -> Result<Self> {
            Ok(Key { alg, key: Box::new(unbound(alg, key)?) })
        }

        pub(super) fn try_clone(&self) -> Result<Self> {
            Ok(Key { alg: self.alg, key: self.key.clone() })
        }

        pub(super) fn seal_in_place(&self, n: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
            let tag = self.key.seal_in_place_separate_tag(nonce(n), Aad::from(aad), buf).map_err(|_| too_long())?;
            Ok(tag_array(&tag))
        }

        pub(super) fn seal_into(&self, n: &[u8; NONCE_LEN], aad: &[u8], pt: &[u8], ct: &mut [u8]) -> Result<[u8; TAG_LEN]> {
            if pt.len() != ct.len() {
                return Err(Error::InvalidParameter("AEAD buffer lengths differ"));
            }
            copy_chunked(ct, pt);
            self.seal_in_place(n, aad, ct)
        }

        pub(super) fn open_in_place(
            &self,
            n: &[u8; NONCE_LEN],
            aad: &[u8],
            buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> core::result::Result<(), OpenFailed> {
            let tag = Tag::from(*tag);
            self.key.open_in_place_separate_tag(nonce(n), Aad::from(aad), tag, buf, 0..).map(|_| ()).map_err(|_| OpenFailed)
        }

        pub(super) fn open_into(
            &self,
            n: &[u8; NONCE_LEN],
            aad: &[u8],
            ct: &[u8],
            tag: &[u8; TAG_LEN],
            out: &mut [u8],
        ) -> core::result::Result<(), OpenFailed> {
            if ct.len() != out.len() {
                return Err(OpenFailed);
            }
            copy_chunked(out, ct);
            self.open_in_place(n, aad, out, tag)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// RFC 8439 §2.8.2 and one AES-256-GCM vector (McGrew–Viega test case 16 without the
    /// truncated tag: NIST GCM spec, 256-bit key), through every entry point of the compiled
    /// backend; Wycheproof runs through `envelope::aead`.
    #[test]
    fn known_answers_all_entry_points() {
        let key: [u8; 32] = core::array::from_fn(|i| 0x80 + i as u8);
        let nonce = [0x07, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47];
        let aad = [0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7];
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let tag = hex::decode("1ae10b594f09e26a7e902ecbd0600691").unwrap();
        let k = AeadKey::new(Algorithm::ChaCha20Poly1305, &key).unwrap();
        check(&k, &nonce, &aad, pt, &tag);

        let key: [u8; 32] = hex::decode("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
            .unwrap()
            .try_into()
            .unwrap();
        let nonce: [u8; 12] = hex::decode("cafebabefacedbaddecaf888").unwrap().try_into().unwrap();
        let aad = hex::decode("feedfacedeadbeeffeedfacedeadbeefabaddad2").unwrap();
        let pt = hex::decode(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        )
        .unwrap();
        let tag = hex::decode("76fc6ece0f4e1768cddf8853bb2d551b").unwrap();
        let k = AeadKey::new(Algorithm::Aes256Gcm, &key).unwrap();
        check(&k, &nonce, &aad, &pt, &tag);
    }

    #[test]
    fn backend_name_and_chunked_copies() {
        assert_eq!(BACKEND, if cfg!(feature = "aead-ring") { "ring" } else { "rustcrypto" });
        for len in [0usize, 1, 2047, 2048, 2049, 70_000] {
            let src: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut dst = vec![0u8; len];
            copy_chunked(&mut dst, &src);
            assert_eq!(dst, src);
            let mut out = vec![1u8, 2];
            extend_chunked(&mut out, &src);
            assert_eq!(&out[..2], &[1, 2]);
            assert_eq!(&out[2..], src.as_slice());
        }
    }

    fn check(k: &AeadKey, nonce: &[u8; 12], aad: &[u8], pt: &[u8], tag: &[u8]) {
        let mut buf = pt.to_vec();
        let t = k.seal_in_place(nonce, aad, &mut buf).unwrap();
        assert_eq!(t.as_slice(), tag);
        let ct = buf.clone();
        let mut sealed = vec![0u8; pt.len() + TAG_LEN];
        k.seal_into(nonce, aad, pt, &mut sealed).unwrap();
        assert_eq!(&sealed[..pt.len()], ct.as_slice());
        assert_eq!(&sealed[pt.len()..], tag);
        let clone = k.try_clone().unwrap();
        let mut out = vec![0u8; pt.len()];
        clone.open_into(nonce, aad, &sealed, &mut out).unwrap();
        assert_eq!(out, pt);
        k.open_in_place(nonce, aad, &mut buf, &t).unwrap();
        assert_eq!(buf, pt);
        // Failures wipe the output and are DecryptionFailed.
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        let mut out = vec![0xaau8; pt.len()];
        assert_eq!(k.open_into(nonce, aad, &bad, &mut out), Err(Error::DecryptionFailed));
        assert!(out.iter().all(|b| *b == 0));
        let mut buf = ct.clone();
        let mut t2 = t;
        t2[15] ^= 0x80;
        assert_eq!(k.open_in_place(nonce, aad, &mut buf, &t2), Err(Error::DecryptionFailed));
        assert!(buf.iter().all(|b| *b == 0));
        // Wrong buffer sizes are parameter errors, not panics.
        assert!(k.seal_into(nonce, aad, pt, &mut [0u8; 3]).is_err());
        assert!(k.open_into(nonce, aad, &sealed, &mut [0u8; 3]).is_err());
        assert_eq!(k.open_into(nonce, aad, &[0u8; 5], &mut []), Err(Error::DecryptionFailed));
    }
}
