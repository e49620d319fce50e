//! The published prekey bundle (`SWPB` v1): identity, signed X25519 prekey, one-time X25519
//! prekeys and signed ML-KEM-768 prekeys. Byte layout in `docs/RATCHET_FORMATS.md`.

use crate::dh::{self, X25519_LEN};
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::{PublicIdentity, RESERVED_SIGNING_PREFIX, SIGNATURE_LEN};

use super::kem::{self, EK_LEN, KEM_TYPE_ML_KEM_768};

pub(crate) const MAGIC: &[u8; 4] = b"SWPB";
pub(crate) const VERSION: u8 = 1;
const WHAT: &str = "prekey bundle";
/// Most one-time (X25519 or ML-KEM) prekeys a bundle, or a store, may hold.
pub const MAX_PREKEYS: usize = 1000;
/// Signed-prekey flag: the owner publishes ML-KEM prekeys, so initiators must use PQXDH.
pub(crate) const FLAG_POST_QUANTUM: u8 = 0x01;
const SIGNED_PREKEY_LABEL: &[u8] = b"signed-prekey\x00";
const KEM_PREKEY_LABEL: &[u8] = b"kem-prekey\x00";

/// Which kind of ML-KEM prekey: used once, or kept as the fallback when none is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KemPrekeyKind {
    /// Deleted by its owner after one use (PQXDH "one-time pqkem prekey").
    OneTime,
    /// Reused until rotated (PQXDH "last-resort pqkem prekey").
    LastResort,
}

impl KemPrekeyKind {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            KemPrekeyKind::OneTime => 0x01,
            KemPrekeyKind::LastResort => 0x02,
        }
    }

    pub(crate) fn from_byte(b: u8, what: &'static str) -> Result<Self> {
        match b {
            0x01 => Ok(KemPrekeyKind::OneTime),
            0x02 => Ok(KemPrekeyKind::LastResort),
            _ => Err(Error::Malformed(what)),
        }
    }
}

/// Bytes covered by a signed prekey's signature:
/// `"SEALWIRE\0signed-prekey\0" ‖ id (u32) ‖ X25519 key ‖ flags`.
pub(crate) fn signed_prekey_message(id: u32, key: &[u8; X25519_LEN], flags: u8) -> Vec<u8> {
    let mut m = Vec::with_capacity(RESERVED_SIGNING_PREFIX.len() + SIGNED_PREKEY_LABEL.len() + 4 + X25519_LEN + 1);
    m.extend_from_slice(RESERVED_SIGNING_PREFIX);
    m.extend_from_slice(SIGNED_PREKEY_LABEL);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(key);
    m.push(flags);
    m
}

/// Bytes covered by an ML-KEM prekey's signature:
/// `"SEALWIRE\0kem-prekey\0" ‖ id (u32) ‖ kind ‖ EncodeKEM(ek)` with
/// `EncodeKEM(ek) = 0x01 ‖ ek` (0x01 = ML-KEM-768).
pub(crate) fn kem_prekey_message(id: u32, kind: KemPrekeyKind, ek: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(RESERVED_SIGNING_PREFIX.len() + KEM_PREKEY_LABEL.len() + 6 + ek.len());
    m.extend_from_slice(RESERVED_SIGNING_PREFIX);
    m.extend_from_slice(KEM_PREKEY_LABEL);
    m.extend_from_slice(&id.to_be_bytes());
    m.push(kind.to_byte());
    m.push(KEM_TYPE_ML_KEM_768);
    m.extend_from_slice(ek);
    m
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SignedPrekeyPublic {
    pub(crate) id: u32,
    pub(crate) key: [u8; X25519_LEN],
    pub(crate) flags: u8,
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct OneTimePrekeyPublic {
    pub(crate) id: u32,
    pub(crate) key: [u8; X25519_LEN],
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct KemPrekeyPublic {
    pub(crate) id: u32,
    pub(crate) kind: KemPrekeyKind,
    pub(crate) ek: Vec<u8>,
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

/// A published prekey bundle: everything an initiator needs to start a session with its
/// owner while the owner is offline.
///
/// A value of this type has always been verified: [`PrekeyBundle::from_bytes`] checks the
/// owner's public identity, every signature (strict Ed25519) and every key, and the other
/// constructors derive from verified data.
#[derive(Clone, PartialEq, Eq)]
pub struct PrekeyBundle {
    pub(crate) identity: PublicIdentity,
    pub(crate) signed: SignedPrekeyPublic,
    pub(crate) one_time: Vec<OneTimePrekeyPublic>,
    pub(crate) kem: Vec<KemPrekeyPublic>,
}

impl core::fmt::Debug for PrekeyBundle {
    // Redacted like PublicIdentity: no keys or identities in logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PrekeyBundle {{ one_time: {}, kem: {}, post_quantum: {} }}",
            self.one_time.len(),
            self.kem.len(),
            self.is_post_quantum()
        )
    }
}

impl PrekeyBundle {
    /// Decode and verify a bundle. Strict: see `docs/RATCHET_FORMATS.md` for every check.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, WHAT);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(Error::BadMagic(WHAT));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion { what: WHAT, version });
        }
        let id_len = usize::from(r.u16()?);
        let identity_bytes = r.take(id_len)?;
        let signed = SignedPrekeyPublic { id: r.u32()?, key: r.array()?, flags: r.u8()?, signature: r.array()? };
        let n = usize::from(r.u16()?);
        if n > MAX_PREKEYS {
            return Err(Error::Malformed("prekey bundle: too many one-time prekeys"));
        }
        let mut one_time = Vec::with_capacity(n);
        for _ in 0..n {
            one_time.push(OneTimePrekeyPublic { id: r.u32()?, key: r.array()? });
        }
        let m = usize::from(r.u16()?);
        if m > MAX_PREKEYS + 1 {
            return Err(Error::Malformed("prekey bundle: too many KEM prekeys"));
        }
        let mut kem = Vec::with_capacity(m);
        for _ in 0..m {
            let id = r.u32()?;
            let kind = KemPrekeyKind::from_byte(r.u8()?, "prekey bundle: KEM prekey kind")?;
            let kem_type = r.u8()?;
            if kem_type != KEM_TYPE_ML_KEM_768 {
                return Err(Error::UnsupportedAlgorithm("prekey bundle KEM type"));
            }
            let ek = r.take(EK_LEN)?.to_vec();
            kem.push(KemPrekeyPublic { id, kind, ek, signature: r.array()? });
        }
        r.finish()?;

        let identity = PublicIdentity::from_bytes(identity_bytes)?;
        let bundle = Self { identity, signed, one_time, kem };
        bundle.check_structure()?;
        bundle.verify_keys_and_signatures()?;
        Ok(bundle)
    }

    /// Structural rules (no cryptography): flags, id order, at most one last-resort key,
    /// KEM keys present exactly when the signed prekey says so.
    fn check_structure(&self) -> Result<()> {
        if self.signed.flags & !FLAG_POST_QUANTUM != 0 {
            return Err(Error::Malformed("prekey bundle: unknown signed-prekey flags"));
        }
        if !self.one_time.windows(2).all(|w| w[0].id < w[1].id) {
            return Err(Error::Malformed("prekey bundle: one-time prekey ids not strictly increasing"));
        }
        if !self.kem.windows(2).all(|w| w[0].id < w[1].id) {
            return Err(Error::Malformed("prekey bundle: KEM prekey ids not strictly increasing"));
        }
        let last_resort = self.kem.iter().filter(|k| k.kind == KemPrekeyKind::LastResort).count();
        if last_resort > 1 {
            return Err(Error::Malformed("prekey bundle: more than one last-resort KEM prekey"));
        }
        if self.is_post_quantum() == self.kem.is_empty() {
            return Err(Error::Malformed("prekey bundle: KEM prekeys do not match the post-quantum flag"));
        }
        Ok(())
    }

    fn verify_keys_and_signatures(&self) -> Result<()> {
        dh::validate_public(&self.signed.key)?;
        self.identity.verify(
            &signed_prekey_message(self.signed.id, &self.signed.key, self.signed.flags),
            &self.signed.signature,
        )?;
        for k in &self.one_time {
            dh::validate_public(&k.key)?;
        }
        for k in &self.kem {
            kem::parse_public(&k.ek)?;
            self.identity.verify(&kem_prekey_message(k.id, k.kind, &k.ek), &k.signature)?;
        }
        Ok(())
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let id = self.identity.to_bytes();
        let mut out = Vec::with_capacity(
            4 + 1 + 2 + id.len() + 101 + 2 + 36 * self.one_time.len() + 2 + self.kem.len() * (6 + EK_LEN + SIGNATURE_LEN),
        );
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        // PublicIdentity encodings are far below 64 KiB.
        out.extend_from_slice(&(id.len() as u16).to_be_bytes());
        out.extend_from_slice(&id);
        out.extend_from_slice(&self.signed.id.to_be_bytes());
        out.extend_from_slice(&self.signed.key);
        out.push(self.signed.flags);
        out.extend_from_slice(&self.signed.signature);
        out.extend_from_slice(&(self.one_time.len() as u16).to_be_bytes());
        for k in &self.one_time {
            out.extend_from_slice(&k.id.to_be_bytes());
            out.extend_from_slice(&k.key);
        }
        out.extend_from_slice(&(self.kem.len() as u16).to_be_bytes());
        for k in &self.kem {
            out.extend_from_slice(&k.id.to_be_bytes());
            out.push(k.kind.to_byte());
            out.push(KEM_TYPE_ML_KEM_768);
            out.extend_from_slice(&k.ek);
            out.extend_from_slice(&k.signature);
        }
        out
    }

    /// The owner's public identity.
    pub fn identity(&self) -> &PublicIdentity {
        &self.identity
    }

    /// Whether the owner publishes ML-KEM prekeys. Signed by the owner: an initiator given
    /// such a bundle always uses PQXDH, so stripping the KEM keys cannot downgrade to X3DH.
    pub fn is_post_quantum(&self) -> bool {
        self.signed.flags & FLAG_POST_QUANTUM != 0
    }

    /// Id of the signed prekey.
    pub fn signed_prekey_id(&self) -> u32 {
        self.signed.id
    }

    /// Ids of the one-time X25519 prekeys, increasing.
    pub fn one_time_prekey_ids(&self) -> Vec<u32> {
        self.one_time.iter().map(|k| k.id).collect()
    }

    /// Ids of the one-time ML-KEM prekeys, increasing.
    pub fn kem_one_time_prekey_ids(&self) -> Vec<u32> {
        self.kem.iter().filter(|k| k.kind == KemPrekeyKind::OneTime).map(|k| k.id).collect()
    }

    /// Id of the last-resort ML-KEM prekey, if the bundle has one.
    pub fn kem_last_resort_prekey_id(&self) -> Option<u32> {
        self.kem.iter().find(|k| k.kind == KemPrekeyKind::LastResort).map(|k| k.id)
    }

    /// The bundle a directory hands to one initiator: the signed prekey, at most the one
    /// named one-time X25519 prekey, and the named ML-KEM prekey — or, if `kem_id` is
    /// `None`, the last-resort one. Unknown ids are [`Error::UnknownPrekey`].
    pub fn select(&self, one_time_id: Option<u32>, kem_id: Option<u32>) -> Result<Self> {
        let one_time = match one_time_id {
            None => Vec::new(),
            Some(id) => vec![self
                .one_time
                .iter()
                .find(|k| k.id == id)
                .cloned()
                .ok_or(Error::UnknownPrekey("one-time prekey not in bundle"))?],
        };
        let kem = match kem_id {
            Some(id) => {
                vec![self.kem.iter().find(|k| k.id == id).cloned().ok_or(Error::UnknownPrekey("KEM prekey not in bundle"))?]
            }
            None => self.kem.iter().filter(|k| k.kind == KemPrekeyKind::LastResort).cloned().collect(),
        };
        let out = Self { identity: self.identity.clone(), signed: self.signed.clone(), one_time, kem };
        out.check_structure()?;
        Ok(out)
    }

    /// What an initiator uses: the first one-time X25519 prekey (if any) and, for a
    /// post-quantum bundle, the first one-time ML-KEM prekey or else the last-resort one.
    pub(crate) fn chosen(&self) -> (Option<&OneTimePrekeyPublic>, Option<&KemPrekeyPublic>) {
        let kem = self
            .kem
            .iter()
            .find(|k| k.kind == KemPrekeyKind::OneTime)
            .or_else(|| self.kem.iter().find(|k| k.kind == KemPrekeyKind::LastResort));
        (self.one_time.first(), kem)
    }
}
