//! The signed public identity and its binary encoding.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};

use super::{ED25519_LEN, SIGNATURE_LEN};
use crate::dh::{self, X25519_LEN};
use crate::encoding::Reader;
use crate::error::{Error, Result};

/// Magic bytes opening every encoded public identity.
pub(crate) const MAGIC: &[u8; 4] = b"SWPI";
/// Current (and only) version of the encoding.
pub(crate) const VERSION: u8 = 1;
/// Prefix of the bytes the binding signature covers (domain separation).
const BINDING_CONTEXT: &[u8] = b"SEALWIRE\x00public-identity\x00";
const WHAT: &str = "public identity";

/// A peer's public identity: Ed25519 verifying key, X25519 exchange key, and the Ed25519
/// signature that binds the second to the first.
///
/// A value of this type has always been verified: [`PublicIdentity::from_bytes`] checks the
/// binding signature, and the only other constructor signs it freshly.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicIdentity {
    ed25519: VerifyingKey,
    x25519: [u8; X25519_LEN],
    binding: [u8; SIGNATURE_LEN],
}

impl core::fmt::Debug for PublicIdentity {
    // Redacted: identities must not end up in logs through `{:?}`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PublicIdentity(..)")
    }
}

impl PublicIdentity {
    /// Encoded length of a version-1 identity without optional keys.
    pub const ENCODED_LEN: usize = 4 + 1 + ED25519_LEN + X25519_LEN + 1 + SIGNATURE_LEN;

    pub(crate) fn sign_new(signing: &SigningKey, exchange: &StaticSecret) -> Self {
        let ed25519 = signing.verifying_key();
        let x25519 = XPublic::from(exchange).to_bytes();
        let signed = signed_part(&ed25519, &x25519);
        let binding = signing.sign(&signed).to_bytes();
        Self { ed25519, x25519, binding }
    }

    /// Decode and verify an encoded public identity.
    ///
    /// Strict: wrong magic, unknown version, truncation, trailing bytes, invalid or
    /// small-order keys, unknown optional-key types and a bad binding signature are all errors.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (ed_bytes, x25519, binding) = Self::parse(bytes)?;
        let ed25519 = VerifyingKey::from_bytes(&ed_bytes)
            .map_err(|_| Error::InvalidPublicKey("Ed25519 key is not a valid point"))?;
        if ed25519.is_weak() {
            return Err(Error::InvalidPublicKey("Ed25519 key of small order"));
        }
        if ed25519.to_edwards().compress().to_bytes() != ed_bytes {
            return Err(Error::InvalidPublicKey("non-canonical Ed25519 key"));
        }
        dh::validate_public(&x25519)?;
        let signed = signed_part(&ed25519, &x25519);
        ed25519
            .verify_strict(&signed, &Signature::from_bytes(&binding))
            .map_err(|_| Error::BadSignature)?;
        Ok(Self { ed25519, x25519, binding })
    }

    /// Decode an identity from state this library sealed itself (AEAD under the caller's
    /// storage key), where it was stored only after [`Self::from_bytes`] accepted it. The
    /// point and signature checks are not repeated: they were most of the cost of restoring
    /// a ratchet session (two identities, each a signature verification).
    pub(crate) fn from_sealed_state(bytes: &[u8]) -> Result<Self> {
        let (ed_bytes, x25519, binding) = Self::parse(bytes)?;
        let ed25519 = VerifyingKey::from_bytes(&ed_bytes)
            .map_err(|_| Error::InvalidPublicKey("Ed25519 key is not a valid point"))?;
        Ok(Self { ed25519, x25519, binding })
    }

    /// The encoding's fields, strictly parsed (no cryptographic checks).
    fn parse(bytes: &[u8]) -> Result<([u8; ED25519_LEN], [u8; X25519_LEN], [u8; SIGNATURE_LEN])> {
        let mut r = Reader::new(bytes, WHAT);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(Error::BadMagic(WHAT));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion { what: WHAT, version });
        }
        let ed_bytes: [u8; ED25519_LEN] = r.array()?;
        let x25519: [u8; X25519_LEN] = r.array()?;
        let optional_keys = r.u8()?;
        if optional_keys != 0 {
            // Room reserved for ML-KEM-768 / X-Wing keys (docs/FORMATS.md); none is defined
            // in this version, so any entry is an unknown key type.
            return Err(Error::UnsupportedAlgorithm(WHAT));
        }
        let binding: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        Ok((ed_bytes, x25519, binding))
    }

    /// The canonical encoding (see `docs/FORMATS.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        out.extend_from_slice(&signed_part(&self.ed25519, &self.x25519)[BINDING_CONTEXT.len()..]);
        out.extend_from_slice(&self.binding);
        out
    }

    /// The Ed25519 verifying key.
    pub fn ed25519_bytes(&self) -> &[u8; ED25519_LEN] {
        self.ed25519.as_bytes()
    }

    /// The X25519 exchange key.
    pub fn x25519_bytes(&self) -> &[u8; X25519_LEN] {
        &self.x25519
    }

    /// Verify an Ed25519 signature made by [`super::Identity::sign`].
    ///
    /// Strict (RFC 8032 §5.1.7 plus "verify_strict"): rejects non-canonical `S`, small-order
    /// `R` and malleated signatures. A signature of the wrong length is `InvalidLength`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        verify_with_key(&self.ed25519, message, signature)
    }
}

/// Verify a plain Ed25519 signature under a raw 32-byte public key, with the same strict
/// rules as [`PublicIdentity::verify`]. The key must be a canonical point of large order.
pub fn verify_ed25519(public_key: &[u8; ED25519_LEN], message: &[u8], signature: &[u8]) -> Result<()> {
    let key = VerifyingKey::from_bytes(public_key)
        .map_err(|_| Error::InvalidPublicKey("Ed25519 key is not a valid point"))?;
    if key.is_weak() {
        return Err(Error::InvalidPublicKey("Ed25519 key of small order"));
    }
    if key.to_edwards().compress().to_bytes() != *public_key {
        return Err(Error::InvalidPublicKey("non-canonical Ed25519 key"));
    }
    verify_with_key(&key, message, signature)
}

fn verify_with_key(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> Result<()> {
    let sig: [u8; SIGNATURE_LEN] = signature.try_into().map_err(|_| Error::InvalidLength {
        what: "signature",
        expected: SIGNATURE_LEN,
        actual: signature.len(),
    })?;
    key.verify_strict(message, &Signature::from_bytes(&sig)).map_err(|_| Error::BadSignature)
}

/// `BINDING_CONTEXT ‖ magic ‖ version ‖ ed25519 ‖ x25519 ‖ optional-key count`.
fn signed_part(ed25519: &VerifyingKey, x25519: &[u8; X25519_LEN]) -> Vec<u8> {
    let mut v = Vec::with_capacity(BINDING_CONTEXT.len() + PublicIdentity::ENCODED_LEN);
    v.extend_from_slice(BINDING_CONTEXT);
    v.extend_from_slice(MAGIC);
    v.push(VERSION);
    v.extend_from_slice(ed25519.as_bytes());
    v.extend_from_slice(x25519);
    v.push(0);
    v
}
