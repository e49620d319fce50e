//! Mailbox keys (derived from the identity), addresses, descriptors (`SWMD`), sealed mailbox
//! messages (`SWMM`) and deposit ids. Layouts in `docs/RELAY.md`.

use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use hpke::aead::ChaCha20Poly1305 as HpkeChaCha;
use hpke::inout::InOutBuf;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use crate::dh::{self, X25519_LEN};
use crate::encoding::Reader;
use crate::envelope::rng::SeededRng;
use crate::error::{Error, Result};
use crate::identity::{verify_ed25519, Identity, PublicIdentity, ED25519_LEN, RESERVED_SIGNING_PREFIX, SIGNATURE_LEN};

/// A mailbox address: `SHA-256("SEALWIRE_MAILBOX_ADDRESS_v1" ‖ mailbox Ed25519 key)`.
pub type MailboxAddress = [u8; 32];

const KEYS_SALT: &[u8] = b"SEALWIRE_MAILBOX_KEYS_v1";
const ADDRESS_LABEL: &[u8] = b"SEALWIRE_MAILBOX_ADDRESS_v1";
const DEPOSIT_LABEL: &[u8] = b"SEALWIRE_RELAY_DEPOSIT_v1";
const DESCRIPTOR_LABEL: &[u8] = b"mailbox-descriptor\x00";
const MESSAGE_INFO: &[u8] = b"SEALWIRE\x00mailbox-message-v1\x00";

pub(crate) const DESCRIPTOR_MAGIC: &[u8; 4] = b"SWMD";
pub(crate) const MESSAGE_MAGIC: &[u8; 4] = b"SWMM";
const VERSION: u8 = 1;
/// Length of an encoded mailbox descriptor.
pub const DESCRIPTOR_LEN: usize = 4 + 1 + ED25519_LEN + X25519_LEN + SIGNATURE_LEN;
const SIGNED_LEN: usize = DESCRIPTOR_LEN - SIGNATURE_LEN;
const ENC_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Smallest possible sealed mailbox message (an empty payload): header, `enc`, tag.
pub const MIN_SEALED_MESSAGE_LEN: usize = 5 + ENC_LEN + TAG_LEN;

/// The address of the mailbox whose signing key is `mailbox_key`.
pub fn mailbox_address(mailbox_key: &[u8; ED25519_LEN]) -> MailboxAddress {
    let mut h = Sha256::new();
    h.update(ADDRESS_LABEL);
    h.update(mailbox_key);
    h.finalize().into()
}

/// The deposit id of ratchet message `message` in mailbox `address`:
/// `SHA-256("SEALWIRE_RELAY_DEPOSIT_v1" ‖ address ‖ message_id(message))`. Re-sending the
/// same ratchet message (an outbox record after a crash) gives the same id.
pub fn deposit_id(address: &MailboxAddress, message: &[u8]) -> [u8; 32] {
    let mid = crate::store::message_id(message);
    let mut h = Sha256::new();
    h.update(DEPOSIT_LABEL);
    h.update(address);
    h.update(mid);
    h.finalize().into()
}

/// An agent's private mailbox keys, derived from its identity (see `docs/RELAY.md`): an
/// Ed25519 key that authenticates list, fetch and acknowledge requests, and an X25519 key
/// that opens sealed mailbox messages. Zeroized on drop; `Debug` prints nothing secret.
pub struct MailboxKeys {
    signing: Box<SigningKey>,
    sealing: Box<StaticSecret>,
    sealing_public: [u8; X25519_LEN],
    address: MailboxAddress,
}

impl core::fmt::Debug for MailboxKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MailboxKeys(..)")
    }
}

impl MailboxKeys {
    /// Derive the mailbox keys of `identity` for `epoch` (0 unless the mailbox was rotated):
    /// `HKDF-SHA256(salt = "SEALWIRE_MAILBOX_KEYS_v1", ikm = Ed25519 seed ‖ X25519 secret,
    /// info = epoch (u32 BE))`, 64 bytes: the Ed25519 seed, then the X25519 secret.
    pub fn derive(identity: &Identity, epoch: u32) -> Result<Self> {
        let (ed, x) = identity.secret_bytes();
        let mut ikm = Zeroizing::new([0u8; 64]);
        ikm[..32].copy_from_slice(ed.as_ref());
        ikm[32..].copy_from_slice(x.as_ref());
        let mut okm = Zeroizing::new([0u8; 64]);
        Hkdf::<Sha256>::new(Some(KEYS_SALT), ikm.as_ref())
            .expand(&epoch.to_be_bytes(), okm.as_mut())
            .map_err(|_| Error::InvalidParameter("mailbox key derivation"))?;
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&okm[..32]);
        let mut xs = Zeroizing::new([0u8; 32]);
        xs.copy_from_slice(&okm[32..]);
        let signing = Box::new(SigningKey::from_bytes(&seed));
        let sealing = Box::new(StaticSecret::from(*xs));
        let sealing_public = XPublic::from(sealing.as_ref()).to_bytes();
        let address = mailbox_address(signing.verifying_key().as_bytes());
        Ok(Self { signing, sealing, sealing_public, address })
    }

    /// The mailbox address.
    pub fn address(&self) -> MailboxAddress {
        self.address
    }

    /// The mailbox's Ed25519 public key (the `Sealwire-Key` of its requests).
    pub fn signing_public(&self) -> [u8; ED25519_LEN] {
        self.signing.verifying_key().to_bytes()
    }

    /// The mailbox's X25519 public key (senders seal to it).
    pub fn sealing_public(&self) -> [u8; X25519_LEN] {
        self.sealing_public
    }

    /// The descriptor to publish with the bundle, signed by `identity` (which must be the
    /// identity these keys were derived from; not checked here).
    pub fn descriptor(&self, identity: &Identity) -> MailboxDescriptor {
        let signing_key = self.signing_public();
        let unsigned = descriptor_unsigned(&signing_key, &self.sealing_public);
        let signature = identity.sign_protocol(&descriptor_signed_message(identity.public(), &unsigned));
        MailboxDescriptor { signing_key, sealing_key: self.sealing_public, signature }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.signing.sign(message).to_bytes()
    }

    /// Open a sealed mailbox message (`SWMM`) addressed to this mailbox: the ratchet message
    /// inside. [`Error::DecryptionFailed`] if it was not sealed to this mailbox or was
    /// modified; decode errors for anything that is not a `SWMM` v1 message.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        check_sealed_message(sealed)?;
        let mut r = Reader::new(sealed, "sealed mailbox message");
        let aad = r.take(5)?;
        let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(r.take(ENC_LEN)?)
            .map_err(|_| Error::DecryptionFailed)?;
        let body = r.rest();
        let (ct, tag) = body.split_at(body.len() - TAG_LEN);
        let tag = hpke::aead::AeadTag::<HpkeChaCha>::from_bytes(tag).map_err(|_| Error::DecryptionFailed)?;
        let sk = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&self.sealing.to_bytes())
            .map_err(|_| Error::InvalidParameter("mailbox sealing key"))?;
        let mut receiver =
            hpke::setup_receiver::<HpkeChaCha, HkdfSha256, X25519HkdfSha256>(&OpModeR::Base, &sk, &enc, &info(&self.address))
                .map_err(|_| Error::DecryptionFailed)?;
        let mut buf = ct.to_vec();
        receiver
            .open_inout_detached(InOutBuf::from(&mut buf[..]), aad, &tag)
            .map_err(|_| Error::DecryptionFailed)?;
        Ok(buf)
    }
}

/// What a sender needs to reach an agent's mailbox: the mailbox's signing key (whose hash
/// is the address) and sealing key, signed by the agent's identity.
///
/// A value of this type has been verified against its owner's identity
/// ([`MailboxDescriptor::from_bytes`]) or made by [`MailboxKeys::descriptor`].
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxDescriptor {
    signing_key: [u8; ED25519_LEN],
    sealing_key: [u8; X25519_LEN],
    signature: [u8; SIGNATURE_LEN],
}

impl core::fmt::Debug for MailboxDescriptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MailboxDescriptor(..)")
    }
}

fn descriptor_unsigned(signing_key: &[u8; 32], sealing_key: &[u8; 32]) -> [u8; SIGNED_LEN] {
    let mut out = [0u8; SIGNED_LEN];
    out[..4].copy_from_slice(DESCRIPTOR_MAGIC);
    out[4] = VERSION;
    out[5..37].copy_from_slice(signing_key);
    out[37..69].copy_from_slice(sealing_key);
    out
}

/// `"SEALWIRE\0mailbox-descriptor\0" ‖ identity Ed25519 key ‖ descriptor bytes 0..69`.
fn descriptor_signed_message(owner: &PublicIdentity, unsigned: &[u8; SIGNED_LEN]) -> Vec<u8> {
    let mut m = Vec::with_capacity(RESERVED_SIGNING_PREFIX.len() + DESCRIPTOR_LABEL.len() + 32 + SIGNED_LEN);
    m.extend_from_slice(RESERVED_SIGNING_PREFIX);
    m.extend_from_slice(DESCRIPTOR_LABEL);
    m.extend_from_slice(owner.ed25519_bytes());
    m.extend_from_slice(unsigned);
    m
}

impl MailboxDescriptor {
    /// Decode a descriptor and verify it was signed by `owner`. Strict: magic, version,
    /// length, canonical keys of large order, strict Ed25519.
    pub fn from_bytes(bytes: &[u8], owner: &PublicIdentity) -> Result<Self> {
        const WHAT: &str = "mailbox descriptor";
        let mut r = Reader::new(bytes, WHAT);
        if r.take(4)? != DESCRIPTOR_MAGIC {
            return Err(Error::BadMagic(WHAT));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion { what: WHAT, version });
        }
        let signing_key: [u8; 32] = r.array()?;
        let sealing_key: [u8; 32] = r.array()?;
        let signature: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        // The mailbox signing key must be usable for verification (checked like any key).
        verify_ed25519_key(&signing_key)?;
        dh::validate_public(&sealing_key)?;
        let unsigned = descriptor_unsigned(&signing_key, &sealing_key);
        owner.verify(&descriptor_signed_message(owner, &unsigned), &signature)?;
        Ok(Self { signing_key, sealing_key, signature })
    }

    /// The canonical encoding (`SWMD` v1, 133 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = descriptor_unsigned(&self.signing_key, &self.sealing_key).to_vec();
        out.extend_from_slice(&self.signature);
        out
    }

    /// The mailbox address.
    pub fn address(&self) -> MailboxAddress {
        mailbox_address(&self.signing_key)
    }

    /// Seal ratchet message `message` for this mailbox (`SWMM` v1, HPKE base mode with
    /// DHKEM(X25519), fresh ephemeral key each call).
    pub fn seal(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.seal_with(message, &mut SeededRng::from_os()?)
    }

    fn seal_with(&self, message: &[u8], rng: &mut SeededRng) -> Result<Vec<u8>> {
        let pk = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&self.sealing_key)
            .map_err(|_| Error::InvalidPublicKey("mailbox sealing key"))?;
        let address = self.address();
        let (enc, mut sender) =
            hpke::setup_sender_with_rng::<HpkeChaCha, HkdfSha256, X25519HkdfSha256>(&OpModeS::Base, &pk, &info(&address), rng)
                .map_err(|_| Error::InvalidPublicKey("HPKE encapsulation to this mailbox failed"))?;
        let mut out = Vec::with_capacity(MIN_SEALED_MESSAGE_LEN + message.len());
        out.extend_from_slice(MESSAGE_MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&enc.to_bytes());
        let start = out.len();
        out.extend_from_slice(message);
        let (aad, body) = out.split_at_mut(start);
        let tag = sender
            .seal_inout_detached(InOutBuf::from(body), &aad[..5])
            .map_err(|_| Error::InvalidParameter("HPKE seal"))?;
        out.extend_from_slice(&tag.to_bytes());
        Ok(out)
    }

    /// Deterministic sealing from a fixed seed: only for known-answer vectors.
    #[doc(hidden)]
    pub fn seal_deterministic_for_vectors(&self, message: &[u8], seed: &[u8; 32]) -> Result<Vec<u8>> {
        self.seal_with(message, &mut SeededRng::from_seed(seed))
    }
}

fn verify_ed25519_key(key: &[u8; 32]) -> Result<()> {
    // verify_ed25519 checks the key before the signature; a dummy signature then fails with
    // BadSignature, which means the key itself was acceptable.
    match verify_ed25519(key, b"", &[0u8; SIGNATURE_LEN]) {
        Err(Error::BadSignature) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}

fn info(address: &MailboxAddress) -> Vec<u8> {
    let mut v = Vec::with_capacity(MESSAGE_INFO.len() + 32);
    v.extend_from_slice(MESSAGE_INFO);
    v.extend_from_slice(address);
    v
}

/// The relay's structural check of a deposit: a `SWMM` v1 message at least
/// [`MIN_SEALED_MESSAGE_LEN`] bytes long. (Only the recipient can check more.)
pub fn check_sealed_message(bytes: &[u8]) -> Result<()> {
    const WHAT: &str = "sealed mailbox message";
    if bytes.len() < 4 {
        return Err(Error::Truncated(WHAT));
    }
    if &bytes[..4] != MESSAGE_MAGIC {
        return Err(Error::BadMagic(WHAT));
    }
    if bytes.len() < MIN_SEALED_MESSAGE_LEN {
        return Err(Error::Truncated(WHAT));
    }
    if bytes[4] != VERSION {
        return Err(Error::UnsupportedVersion { what: WHAT, version: bytes[4] });
    }
    Ok(())
}
