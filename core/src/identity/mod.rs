//! Agent identity: an Ed25519 signing key, an X25519 exchange key bound to it by a
//! signature, and the public, textual and encrypted forms of both.
//!
//! * [`Identity`] — the private half. Generated on-device from OS randomness; leaves the
//!   process only as a passphrase-encrypted blob ([`Identity::export`]).
//! * [`PublicIdentity`] — what peers see: both public keys and an Ed25519 signature over the
//!   X25519 key, so the exchange key provably belongs to the signing identity.
//!
//! Byte layouts are in `docs/FORMATS.md` ("Public identity", "Encrypted identity export").

mod export;
mod public;
pub mod text;

use ed25519_dalek::{Signer, SigningKey};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::dh::{self, SharedSecret, X25519_LEN};
use crate::error::{Error, Result};
use crate::random;

pub use export::KdfParams;
pub use public::{verify_ed25519, PublicIdentity};

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an Ed25519 public key and of its private seed.
pub const ED25519_LEN: usize = 32;

/// Every signature sealwire makes for its own protocols covers bytes that start with this
/// prefix; [`Identity::sign`] refuses application messages that do, so an application can
/// never be tricked into producing a protocol signature (e.g. a forged key binding).
pub const RESERVED_SIGNING_PREFIX: &[u8] = b"SEALWIRE\x00";

/// An agent's private identity: Ed25519 signing key and X25519 exchange key.
///
/// Both secrets are boxed (moves do not leave copies behind) and zeroized on drop. `Debug`
/// prints nothing secret. Not `Clone`: duplicate secrets only through an explicit export.
pub struct Identity {
    signing: Box<SigningKey>,
    exchange: Box<StaticSecret>,
    public: PublicIdentity,
}

impl core::fmt::Debug for Identity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Identity(..)")
    }
}

impl Identity {
    /// Generate a new identity from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut ed_seed = Zeroizing::new([0u8; ED25519_LEN]);
        let mut x_secret = Zeroizing::new([0u8; X25519_LEN]);
        random::fill(ed_seed.as_mut())?;
        random::fill(x_secret.as_mut())?;
        Ok(Self::from_secret_bytes(&ed_seed, &x_secret))
    }

    /// Rebuild an identity from its two 32-byte secrets (the Ed25519 seed and the X25519
    /// private key). Deterministic: used for test vectors and for migrating keys from
    /// another system. Prefer [`Identity::generate`] and [`Identity::import`].
    pub fn from_secret_bytes(ed25519_seed: &[u8; ED25519_LEN], x25519_secret: &[u8; X25519_LEN]) -> Self {
        let signing = Box::new(SigningKey::from_bytes(ed25519_seed));
        let exchange = Box::new(StaticSecret::from(*x25519_secret));
        let public = PublicIdentity::sign_new(&signing, &exchange);
        Self { signing, exchange, public }
    }

    /// The public half, to hand to peers.
    pub fn public(&self) -> &PublicIdentity {
        &self.public
    }

    /// Sign `message` with the identity's Ed25519 key (plain RFC 8032 Ed25519, deterministic,
    /// verifiable by any Ed25519 implementation).
    ///
    /// Messages starting with [`RESERVED_SIGNING_PREFIX`] are refused with
    /// [`Error::InvalidParameter`]: that prefix belongs to sealwire's own protocol signatures.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN]> {
        if message.starts_with(RESERVED_SIGNING_PREFIX) {
            return Err(Error::InvalidParameter("message starts with the reserved sealwire signing prefix"));
        }
        Ok(self.signing.sign(message).to_bytes())
    }

    /// Sign protocol bytes that already carry [`RESERVED_SIGNING_PREFIX`] (crate-internal).
    #[allow(dead_code)]
    pub(crate) fn sign_protocol(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        debug_assert!(message.starts_with(RESERVED_SIGNING_PREFIX));
        self.signing.sign(message).to_bytes()
    }

    /// X25519 with a peer's exchange key, refusing the all-zero result.
    pub fn diffie_hellman(&self, peer: &PublicIdentity) -> Result<SharedSecret> {
        dh::diffie_hellman(&self.exchange, peer.x25519_bytes())
    }

    /// The X25519 secret, for protocol code inside this crate (Noise, X3DH).
    #[allow(dead_code)]
    pub(crate) fn exchange_secret(&self) -> &StaticSecret {
        &self.exchange
    }

    /// Encrypt the private identity under `passphrase` with the default Argon2id parameters.
    pub fn export(&self, passphrase: &[u8]) -> Result<Vec<u8>> {
        self.export_with_params(passphrase, KdfParams::default())
    }

    /// Encrypt the private identity under `passphrase` with explicit Argon2id parameters.
    pub fn export_with_params(&self, passphrase: &[u8], params: KdfParams) -> Result<Vec<u8>> {
        let mut salt = [0u8; export::SALT_LEN];
        let mut nonce = [0u8; export::NONCE_LEN];
        random::fill(&mut salt)?;
        random::fill(&mut nonce)?;
        export::seal(self, passphrase, params, &salt, &nonce)
    }

    /// Export with caller-fixed salt and nonce: only for generating test vectors.
    #[doc(hidden)]
    pub fn export_deterministic_for_vectors(
        &self,
        passphrase: &[u8],
        params: KdfParams,
        salt: &[u8; 16],
        nonce: &[u8; 24],
    ) -> Result<Vec<u8>> {
        export::seal(self, passphrase, params, salt, nonce)
    }

    /// Decrypt an identity produced by [`Identity::export`].
    pub fn import(blob: &[u8], passphrase: &[u8]) -> Result<Self> {
        export::open(blob, passphrase)
    }

    /// An explicit second copy of this identity (both secrets), for a component that must
    /// own one — e.g. a `store::Messenger` built from an identity a binding keeps using.
    /// `Identity` is not `Clone` so that secrets are never duplicated by accident; the copy
    /// is boxed and zeroized on drop like the original.
    pub fn duplicate(&self) -> Identity {
        let (ed, x) = self.secret_bytes();
        Self::from_secret_bytes(&ed, &x)
    }

    pub(crate) fn secret_bytes(&self) -> (Zeroizing<[u8; ED25519_LEN]>, Zeroizing<[u8; X25519_LEN]>) {
        (Zeroizing::new(self.signing.to_bytes()), Zeroizing::new(self.exchange.to_bytes()))
    }
}

#[cfg(test)]
mod tests;
