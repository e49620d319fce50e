//! Human-facing forms of a public identity: `did:key` and the fingerprint.

use sha2::{Digest, Sha512};

use super::public::PublicIdentity;
use super::ED25519_LEN;
use crate::error::{Error, Result};

/// Multicodec prefix of an Ed25519 public key (`ed25519-pub`, 0xed as an unsigned varint).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
const DID_KEY_PREFIX: &str = "did:key:z";
const FINGERPRINT_CONTEXT: &[u8] = b"SEALWIRE\x00fingerprint\x00";
/// Number of 5-digit groups in a fingerprint.
pub const FINGERPRINT_GROUPS: usize = 12;

impl PublicIdentity {
    /// The `did:key` of the Ed25519 key (W3C did:key, multibase base58btc, multicodec 0xed).
    pub fn did(&self) -> String {
        let mut raw = Vec::with_capacity(2 + ED25519_LEN);
        raw.extend_from_slice(&ED25519_MULTICODEC);
        raw.extend_from_slice(self.ed25519_bytes());
        format!("{DID_KEY_PREFIX}{}", bs58::encode(raw).into_string())
    }

    /// Whether `did` names this identity's Ed25519 key.
    pub fn matches_did(&self, did: &str) -> bool {
        parse_did_key(did).is_ok_and(|k| &k == self.ed25519_bytes())
    }

    /// A fingerprint for out-of-band comparison: 60 decimal digits in 12 groups of 5.
    ///
    /// SHA-512 over a domain prefix and the Ed25519 key; the first 60 bytes are read as
    /// twelve 5-byte big-endian integers, each reduced modulo 100000 (the displayable-number
    /// construction of Signal's safety numbers). It depends only on the signing key, so it is
    /// stable for the life of the identity. See `docs/FORMATS.md`.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha512::new();
        h.update(FINGERPRINT_CONTEXT);
        h.update(self.ed25519_bytes());
        let digest = h.finalize();
        let groups: Vec<String> = digest[..FINGERPRINT_GROUPS * 5]
            .chunks_exact(5)
            .map(|c| {
                let v = c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                format!("{:05}", v % 100_000)
            })
            .collect();
        groups.join(" ")
    }
}

/// Decode a `did:key` naming an Ed25519 key and return the 32-byte key.
///
/// Strict: only the `z` (base58btc) multibase, only the Ed25519 multicodec, exactly 32 key
/// bytes, and the key must be a canonical, non-small-order point.
pub fn parse_did_key(did: &str) -> Result<[u8; ED25519_LEN]> {
    let body = did
        .strip_prefix(DID_KEY_PREFIX)
        .ok_or(Error::InvalidEncoding("not a base58btc did:key"))?;
    let raw = bs58::decode(body)
        .into_vec()
        .map_err(|_| Error::InvalidEncoding("did:key is not valid base58btc"))?;
    let key = raw
        .strip_prefix(&ED25519_MULTICODEC[..])
        .ok_or(Error::UnsupportedAlgorithm("did:key (not an Ed25519 key)"))?;
    let key: [u8; ED25519_LEN] = key.try_into().map_err(|_| Error::InvalidLength {
        what: "did:key Ed25519 key",
        expected: ED25519_LEN,
        actual: key.len(),
    })?;
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|_| Error::InvalidPublicKey("Ed25519 key is not a valid point"))?;
    if vk.is_weak() || vk.to_edwards().compress().to_bytes() != key {
        return Err(Error::InvalidPublicKey("weak or non-canonical Ed25519 key"));
    }
    Ok(key)
}
