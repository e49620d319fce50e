//! How a directory stores a bundle: split into a head and one row per one-time prekey, so
//! that a fetch claims exactly one row of each kind and reassembles
//! `PrekeyBundle::select(one_time_id, kem_id)` byte for byte without re-verifying.

use crate::error::{Error, Result};
use crate::ratchet::{KemPrekeyKind, PrekeyBundle};

/// Encoded length of the signed prekey (id, key, flags, signature).
const SIGNED_PREKEY_LEN: usize = 4 + 32 + 1 + 64;
/// ML-KEM-768 type byte in a KEM prekey entry (`EncodeKEM`, docs/FORMATS.md).
const KEM_TYPE_ML_KEM_768: u8 = 0x01;

/// A verified bundle, split for storage (`docs/RELAY.md`, "Directory storage").
#[derive(Clone, PartialEq, Eq)]
pub struct BundleParts {
    /// The owner's Ed25519 identity key.
    pub owner: [u8; 32],
    /// `magic ‖ version ‖ identity ‖ signed prekey`: everything before the one-time prekeys.
    pub head: Vec<u8>,
    /// Whether the owner publishes ML-KEM prekeys (signed flag).
    pub post_quantum: bool,
    /// One-time X25519 prekeys: (id, encoded entry), increasing ids.
    pub one_time: Vec<(u32, Vec<u8>)>,
    /// One-time ML-KEM prekeys: (id, encoded entry), increasing ids.
    pub kem_one_time: Vec<(u32, Vec<u8>)>,
    /// The last-resort ML-KEM prekey's encoded entry (post-quantum bundles).
    pub kem_last_resort: Option<Vec<u8>>,
}

impl core::fmt::Debug for BundleParts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BundleParts {{ one_time: {}, kem_one_time: {} }}", self.one_time.len(), self.kem_one_time.len())
    }
}

impl BundleParts {
    /// Split a (verified) bundle.
    pub fn split(bundle: &PrekeyBundle) -> Self {
        let mut kem_one_time = Vec::new();
        let mut kem_last_resort = None;
        for k in &bundle.kem {
            // Same layout as PrekeyBundle::to_bytes: id ‖ kind ‖ KEM type ‖ ek ‖ signature.
            let mut e = Vec::with_capacity(6 + k.ek.len() + 64);
            e.extend_from_slice(&k.id.to_be_bytes());
            e.push(k.kind.to_byte());
            e.push(KEM_TYPE_ML_KEM_768);
            e.extend_from_slice(&k.ek);
            e.extend_from_slice(&k.signature);
            match k.kind {
                KemPrekeyKind::OneTime => kem_one_time.push((k.id, e)),
                KemPrekeyKind::LastResort => kem_last_resort = Some(e),
            }
        }
        let identity_len = bundle.identity().to_bytes().len();
        let mut head = bundle.to_bytes();
        head.truncate(4 + 1 + 2 + identity_len + SIGNED_PREKEY_LEN);
        Self {
            owner: *bundle.identity().ed25519_bytes(),
            head,
            post_quantum: bundle.is_post_quantum(),
            one_time: bundle
                .one_time
                .iter()
                .map(|k| {
                    let mut e = Vec::with_capacity(36);
                    e.extend_from_slice(&k.id.to_be_bytes());
                    e.extend_from_slice(&k.key);
                    (k.id, e)
                })
                .collect(),
            kem_one_time,
            kem_last_resort,
        }
    }

    /// Reassemble a bundle from a stored head and at most one entry of each kind (the
    /// claimed one-time X25519 prekey; the claimed one-time ML-KEM prekey or the last-resort
    /// one). The result is not verified here: the fetcher decodes it with
    /// [`PrekeyBundle::from_bytes`], which checks every signature.
    pub fn assemble(head: &[u8], one_time: Option<&[u8]>, kem: Option<&[u8]>) -> Result<Vec<u8>> {
        if one_time.is_some_and(|e| e.len() != 36) {
            return Err(Error::InvalidLength { what: "one-time prekey entry", expected: 36, actual: one_time.map_or(0, <[u8]>::len) });
        }
        let mut out = Vec::with_capacity(head.len() + 4 + 36 + kem.map_or(0, <[u8]>::len));
        out.extend_from_slice(head);
        match one_time {
            Some(e) => {
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(e);
            }
            None => out.extend_from_slice(&0u16.to_be_bytes()),
        }
        match kem {
            Some(e) => {
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(e);
            }
            None => out.extend_from_slice(&0u16.to_be_bytes()),
        }
        Ok(out)
    }
}
