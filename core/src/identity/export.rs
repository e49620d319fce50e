//! Passphrase-encrypted export of a private identity.
//!
//! `passphrase → Argon2id(salt, m, t, p) → 32-byte key → XChaCha20-Poly1305(nonce)`, with
//! magic, version, KDF parameters, salt and nonce in a header that is the AEAD's associated
//! data, so none of it can be changed without detection. Layout in `docs/FORMATS.md`.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use zeroize::Zeroizing;

use super::{Identity, ED25519_LEN};
use crate::dh::X25519_LEN;
use crate::encoding::Reader;
use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"SWIK";
const VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const AEAD_XCHACHA20POLY1305: u8 = 1;
pub(crate) const SALT_LEN: usize = 16;
pub(crate) const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 4 + 1 + 1 + 4 + 4 + 4 + SALT_LEN + 1 + NONCE_LEN;
/// Plaintext: ed25519 seed ‖ x25519 secret ‖ optional-key count (0 in version 1).
const BODY_LEN: usize = ED25519_LEN + X25519_LEN + 1;
const WHAT: &str = "encrypted identity";

/// Argon2id cost parameters for [`Identity::export_with_params`].
///
/// Bounds (enforced on export *and* on import, so a hostile blob cannot demand unbounded
/// memory or time): memory 19 MiB ..= 4 GiB, iterations 1 ..= 64, lanes 1 ..= 16, and
/// memory × iterations at least 19 MiB × 2 (the OWASP minimum for Argon2id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
}

impl Default for KdfParams {
    /// RFC 9106 §4 second recommended option: 64 MiB, 3 passes, 4 lanes.
    fn default() -> Self {
        Self { memory_kib: 64 * 1024, iterations: 3, lanes: 4 }
    }
}

impl KdfParams {
    /// The cheapest parameters accepted: 19 MiB, 2 passes, 1 lane (OWASP's Argon2id
    /// minimum). For tests and constrained devices.
    pub const MINIMUM: KdfParams = KdfParams { memory_kib: 19 * 1024, iterations: 2, lanes: 1 };

    /// Validated constructor.
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Result<Self> {
        let p = Self { memory_kib, iterations, lanes };
        p.check()?;
        Ok(p)
    }

    /// Memory cost in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }
    /// Number of passes.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }
    /// Degree of parallelism.
    pub fn lanes(&self) -> u32 {
        self.lanes
    }

    pub(crate) fn check(&self) -> Result<()> {
        if !(1..=16).contains(&self.lanes) {
            return Err(Error::InvalidParameter("Argon2id lanes must be 1..=16"));
        }
        if !(1..=64).contains(&self.iterations) {
            return Err(Error::InvalidParameter("Argon2id iterations must be 1..=64"));
        }
        if !(19 * 1024..=4 * 1024 * 1024).contains(&self.memory_kib) {
            return Err(Error::InvalidParameter("Argon2id memory must be 19 MiB ..= 4 GiB"));
        }
        if u64::from(self.memory_kib) * u64::from(self.iterations) < 19 * 1024 * 2 {
            return Err(Error::InvalidParameter("Argon2id cost below the OWASP minimum (19 MiB x 2)"));
        }
        Ok(())
    }

    pub(crate) fn derive(&self, passphrase: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let params = Params::new(self.memory_kib, self.iterations, self.lanes, Some(32))
            .map_err(|_| Error::InvalidParameter("Argon2id parameters"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, key.as_mut())
            .map_err(|_| Error::InvalidParameter("Argon2id input"))?;
        Ok(key)
    }
}

pub(super) fn seal(
    identity: &Identity,
    passphrase: &[u8],
    params: KdfParams,
    salt: &[u8; SALT_LEN],
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>> {
    params.check()?;
    let mut header = Vec::with_capacity(HEADER_LEN + BODY_LEN + TAG_LEN);
    header.extend_from_slice(MAGIC);
    header.push(VERSION);
    header.push(KDF_ARGON2ID);
    header.extend_from_slice(&params.memory_kib.to_be_bytes());
    header.extend_from_slice(&params.iterations.to_be_bytes());
    header.extend_from_slice(&params.lanes.to_be_bytes());
    header.extend_from_slice(salt);
    header.push(AEAD_XCHACHA20POLY1305);
    header.extend_from_slice(nonce);

    let (ed, x) = identity.secret_bytes();
    let mut body = Zeroizing::new([0u8; BODY_LEN]);
    body[..ED25519_LEN].copy_from_slice(ed.as_ref());
    body[ED25519_LEN..ED25519_LEN + X25519_LEN].copy_from_slice(x.as_ref());

    let key = params.derive(passphrase, salt)?;
    let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref())
        .map_err(|_| Error::InvalidParameter("key length"))?;
    let ct = cipher
        .encrypt(nonce.into(), Payload { msg: body.as_ref(), aad: &header })
        .map_err(|_| Error::InvalidParameter("plaintext too long"))?;
    header.extend_from_slice(&ct);
    Ok(header)
}

pub(super) fn open(blob: &[u8], passphrase: &[u8]) -> Result<Identity> {
    let mut r = Reader::new(blob, WHAT);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(Error::BadMagic(WHAT));
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(Error::UnsupportedVersion { what: WHAT, version });
    }
    if r.u8()? != KDF_ARGON2ID {
        return Err(Error::UnsupportedAlgorithm("encrypted identity KDF"));
    }
    let params = KdfParams { memory_kib: r.u32()?, iterations: r.u32()?, lanes: r.u32()? };
    let salt = r.take(SALT_LEN)?;
    if r.u8()? != AEAD_XCHACHA20POLY1305 {
        return Err(Error::UnsupportedAlgorithm("encrypted identity AEAD"));
    }
    let nonce: [u8; NONCE_LEN] = r.array()?;
    let ct = r.take(BODY_LEN + TAG_LEN)?;
    r.finish()?;
    if params.check().is_err() {
        return Err(Error::Malformed("encrypted identity KDF parameters out of range"));
    }

    let key = params.derive(passphrase, salt)?;
    let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref())
        .map_err(|_| Error::InvalidParameter("key length"))?;
    let body = Zeroizing::new(
        cipher
            .decrypt((&nonce).into(), Payload { msg: ct, aad: &blob[..HEADER_LEN] })
            .map_err(|_| Error::DecryptionFailed)?,
    );
    if body.len() != BODY_LEN || body[BODY_LEN - 1] != 0 {
        return Err(Error::Malformed("encrypted identity body"));
    }
    let mut ed = Zeroizing::new([0u8; ED25519_LEN]);
    let mut x = Zeroizing::new([0u8; X25519_LEN]);
    ed.copy_from_slice(&body[..ED25519_LEN]);
    x.copy_from_slice(&body[ED25519_LEN..ED25519_LEN + X25519_LEN]);
    Ok(Identity::from_secret_bytes(&ed, &x))
}
