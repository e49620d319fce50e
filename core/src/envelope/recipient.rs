//! Public-key recipients: the data key wrapped with HPKE (RFC 9180) base mode to an agent's
//! X25519 identity key (DHKEM(X25519, HKDF-SHA256), KEM 0x0020) or to an X-Wing key
//! (ML-KEM-768 + X25519, KEM 0x647A), with HKDF-SHA256 (KDF 0x0001) and ChaCha20-Poly1305
//! (AEAD 0x0003).
//!
//! `wrapped = enc ‖ ciphertext(DEK) ‖ tag`, from one `Seal` under
//! `info = "SEALWIRE\0envelope-v1\0hpke-wrap"` and `aad = WrapContext::aad()`.
//! Entries name the recipient by `recipient_key_id` (a hash of the KEM id and public key), so
//! an agent finds its entry without trial decryption and the wrong identity is told
//! `NoMatchingKey` at once.

use hpke::aead::ChaCha20Poly1305 as HpkeChaCha;
use hpke::inout::InOutBuf;
use hpke::kdf::HkdfSha256;
use hpke::kem::{X25519HkdfSha256, XWing};
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::commit::{DataKey, DATA_KEY_LEN};
use super::format::WrappedKey;
use super::provider::{KeyProvider, WrapContext};
use super::rng::SeededRng;
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity};
use crate::random;

/// Provider name of entries wrapped to an X25519 identity key.
pub const HPKE_X25519_PROVIDER: &str = "hpke-x25519";
/// Provider name of entries wrapped to an X-Wing key.
pub const HPKE_XWING_PROVIDER: &str = "hpke-xwing";
/// The HPKE `info` of every envelope wrap.
pub const HPKE_INFO: &[u8] = b"SEALWIRE\x00envelope-v1\x00hpke-wrap";
/// Length of a raw X-Wing public key (ML-KEM-768 encapsulation key ‖ X25519 key).
pub const XWING_PUBLIC_KEY_LEN: usize = 1216;
/// Length of an X-Wing private key (a seed).
pub const XWING_SEED_LEN: usize = 32;

const KEM_X25519: u16 = 0x0020;
const KEM_XWING: u16 = 0x647a;
const KEY_ID_LABEL: &[u8] = b"SEALWIRE\x00envelope-v1\x00recipient\x00";
const XWING_PK_MAGIC: &[u8; 4] = b"SWXP";
const XWING_PK_VERSION: u8 = 1;
const TAG_LEN: usize = 16;

/// The key id naming a recipient in wrapped-key entries: lowercase hex of the first 16 bytes
/// of `SHA-256("SEALWIRE\0envelope-v1\0recipient\0" ‖ kem_id (u16) ‖ raw public key)`.
pub fn recipient_key_id(kem_id: u16, public_key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(KEY_ID_LABEL);
    h.update(kem_id.to_be_bytes());
    h.update(public_key);
    hex_lower(&h.finalize()[..16])
}

fn hex_lower(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(HEX[usize::from(x >> 4)]));
        s.push(char::from(HEX[usize::from(x & 15)]));
    }
    s
}

fn hpke_wrap<K: Kem>(pk: &K::PublicKey, dek: &DataKey, aad: &[u8], rng: &mut SeededRng) -> Result<Vec<u8>> {
    let (enc, mut sender) = hpke::setup_sender_with_rng::<HpkeChaCha, HkdfSha256, K>(&OpModeS::Base, pk, HPKE_INFO, rng)
        .map_err(|_| Error::InvalidPublicKey("HPKE encapsulation to this recipient failed"))?;
    let mut buf = Zeroizing::new(*dek.as_bytes());
    let tag = sender
        .seal_inout_detached(InOutBuf::from(&mut buf[..]), aad)
        .map_err(|_| Error::InvalidParameter("HPKE seal"))?;
    let mut out = Vec::with_capacity(<K::EncappedKey as Serializable>::size() + DATA_KEY_LEN + TAG_LEN);
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(buf.as_ref());
    out.extend_from_slice(&tag.to_bytes());
    Ok(out)
}

fn hpke_unwrap<K: Kem>(sk: &K::PrivateKey, wrapped: &[u8], aad: &[u8]) -> Result<DataKey> {
    let enc_len = <K::EncappedKey as Serializable>::size();
    if wrapped.len() != enc_len + DATA_KEY_LEN + TAG_LEN {
        return Err(Error::HeaderAuthFailed);
    }
    let mut r = Reader::new(wrapped, "HPKE wrapped key");
    let enc = K::EncappedKey::from_bytes(r.take(enc_len)?).map_err(|_| Error::HeaderAuthFailed)?;
    let mut buf = Zeroizing::new([0u8; DATA_KEY_LEN]);
    buf.copy_from_slice(r.take(DATA_KEY_LEN)?);
    let tag = hpke::aead::AeadTag::<HpkeChaCha>::from_bytes(r.take(TAG_LEN)?).map_err(|_| Error::HeaderAuthFailed)?;
    r.finish()?;
    let mut receiver = hpke::setup_receiver::<HpkeChaCha, HkdfSha256, K>(&OpModeR::Base, sk, &enc, HPKE_INFO)
        .map_err(|_| Error::HeaderAuthFailed)?;
    receiver
        .open_inout_detached(InOutBuf::from(&mut buf[..]), aad, &tag)
        .map_err(|_| Error::HeaderAuthFailed)?;
    DataKey::from_bytes(buf.as_ref())
}

fn x25519_wrap(public: &[u8; 32], dek: &DataKey, ctx: &WrapContext<'_>, rng: &mut SeededRng) -> Result<WrappedKey> {
    let pk = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(public)
        .map_err(|_| Error::InvalidPublicKey("X25519 recipient key"))?;
    let wrapped = hpke_wrap::<X25519HkdfSha256>(&pk, dek, ctx.aad(), rng)?;
    WrappedKey::new(HPKE_X25519_PROVIDER, &recipient_key_id(KEM_X25519, public), 0, wrapped)
}

/// Sealing to an agent: wraps the data key to its X25519 exchange key. (Wrap only: a public
/// identity unwraps nothing.)
impl KeyProvider for PublicIdentity {
    fn provider_id(&self) -> &str {
        HPKE_X25519_PROVIDER
    }
    fn key_id(&self) -> String {
        recipient_key_id(KEM_X25519, self.x25519_bytes())
    }
    fn owns(&self, _entry: &WrappedKey) -> bool {
        false
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        x25519_wrap(self.x25519_bytes(), dek, ctx, &mut SeededRng::from_os()?)
    }
    fn unwrap(&self, _entry: &WrappedKey, _ctx: &WrapContext<'_>) -> Result<DataKey> {
        Err(Error::NoMatchingKey)
    }
}

/// Opening as an agent: unwraps entries addressed to the identity's X25519 key (and, as a
/// provider for sealing, wraps to itself).
impl KeyProvider for Identity {
    fn provider_id(&self) -> &str {
        HPKE_X25519_PROVIDER
    }
    fn key_id(&self) -> String {
        recipient_key_id(KEM_X25519, self.public().x25519_bytes())
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        x25519_wrap(self.public().x25519_bytes(), dek, ctx, &mut SeededRng::from_os()?)
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<DataKey> {
        let secret = Zeroizing::new(self.exchange_secret().to_bytes());
        let sk = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(secret.as_ref())
            .map_err(|_| Error::InvalidParameter("X25519 secret"))?;
        hpke_unwrap::<X25519HkdfSha256>(&sk, entry.wrapped(), ctx.aad())
    }
}

/// An X-Wing (ML-KEM-768 + X25519) public key: a post-quantum hybrid envelope recipient.
///
/// Encoded form (`to_bytes`): `"SWXP" ‖ 0x01 ‖ raw key (1216 bytes)`; the raw key is the
/// ML-KEM-768 encapsulation key (1184) ‖ the X25519 key (32), as in the X-Wing draft and
/// HPKE KEM 0x647A.
#[derive(Clone, PartialEq, Eq)]
pub struct XWingPublicKey {
    raw: Box<[u8; XWING_PUBLIC_KEY_LEN]>,
    pk: Box<<XWing as Kem>::PublicKey>,
}

impl core::fmt::Debug for XWingPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("XWingPublicKey(..)")
    }
}

impl XWingPublicKey {
    /// Encoded length.
    pub const ENCODED_LEN: usize = 4 + 1 + XWING_PUBLIC_KEY_LEN;

    /// From the raw 1216-byte key (ML-KEM-768 key checked as FIPS 203 requires).
    pub fn from_raw_bytes(raw: &[u8]) -> Result<Self> {
        let arr: [u8; XWING_PUBLIC_KEY_LEN] = raw.try_into().map_err(|_| Error::InvalidLength {
            what: "X-Wing public key",
            expected: XWING_PUBLIC_KEY_LEN,
            actual: raw.len(),
        })?;
        let pk = <XWing as Kem>::PublicKey::from_bytes(&arr)
            .map_err(|_| Error::InvalidPublicKey("X-Wing public key"))?;
        Ok(Self { raw: Box::new(arr), pk: Box::new(pk) })
    }

    /// Decode the `SWXP` encoding (strict).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "X-Wing public key");
        if r.take(4)? != XWING_PK_MAGIC {
            return Err(Error::BadMagic("X-Wing public key"));
        }
        let version = r.u8()?;
        if version != XWING_PK_VERSION {
            return Err(Error::UnsupportedVersion { what: "X-Wing public key", version });
        }
        let raw = r.take(XWING_PUBLIC_KEY_LEN)?;
        r.finish()?;
        Self::from_raw_bytes(raw)
    }

    /// The `SWXP` encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::ENCODED_LEN);
        v.extend_from_slice(XWING_PK_MAGIC);
        v.push(XWING_PK_VERSION);
        v.extend_from_slice(self.raw.as_ref());
        v
    }

    /// The raw 1216-byte key.
    pub fn raw_bytes(&self) -> &[u8; XWING_PUBLIC_KEY_LEN] {
        &self.raw
    }

    /// Wrap with a fixed HPKE randomness seed: only for generating test vectors.
    #[doc(hidden)]
    pub fn wrap_deterministic_for_vectors(&self, dek: &DataKey, ctx: &WrapContext<'_>, seed: &[u8; 32]) -> Result<WrappedKey> {
        self.wrap_with(dek, ctx, &mut SeededRng::from_seed(seed))
    }

    fn wrap_with(&self, dek: &DataKey, ctx: &WrapContext<'_>, rng: &mut SeededRng) -> Result<WrappedKey> {
        let wrapped = hpke_wrap::<XWing>(&self.pk, dek, ctx.aad(), rng)?;
        WrappedKey::new(HPKE_XWING_PROVIDER, &self.key_id(), 0, wrapped)
    }
}

/// Wrap with a fixed HPKE randomness seed to an X25519 identity: only for test vectors.
#[doc(hidden)]
pub fn wrap_x25519_deterministic_for_vectors(
    recipient: &PublicIdentity,
    dek: &DataKey,
    ctx: &WrapContext<'_>,
    seed: &[u8; 32],
) -> Result<WrappedKey> {
    x25519_wrap(recipient.x25519_bytes(), dek, ctx, &mut SeededRng::from_seed(seed))
}

impl KeyProvider for XWingPublicKey {
    fn provider_id(&self) -> &str {
        HPKE_XWING_PROVIDER
    }
    fn key_id(&self) -> String {
        recipient_key_id(KEM_XWING, self.raw.as_ref())
    }
    fn owns(&self, _entry: &WrappedKey) -> bool {
        false
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        self.wrap_with(dek, ctx, &mut SeededRng::from_os()?)
    }
    fn unwrap(&self, _entry: &WrappedKey, _ctx: &WrapContext<'_>) -> Result<DataKey> {
        Err(Error::NoMatchingKey)
    }
}

/// An agent's X-Wing key pair. The private key is the 32-byte X-Wing seed (boxed, zeroized
/// on drop, never printed); export it only with [`XWingKeyPair::seed`].
pub struct XWingKeyPair {
    seed: Box<Zeroizing<[u8; XWING_SEED_LEN]>>,
    sk: Box<<XWing as Kem>::PrivateKey>,
    public: XWingPublicKey,
}

impl core::fmt::Debug for XWingKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("XWingKeyPair(..)")
    }
}

impl XWingKeyPair {
    /// A new key pair from the OS CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; XWING_SEED_LEN]);
        random::fill(seed.as_mut())?;
        Self::from_seed(&seed)
    }

    /// The key pair of a 32-byte X-Wing seed (the X-Wing private key format).
    pub fn from_seed(seed: &[u8; XWING_SEED_LEN]) -> Result<Self> {
        let sk = <XWing as Kem>::PrivateKey::from_bytes(seed).map_err(|_| Error::InvalidParameter("X-Wing seed"))?;
        let pk = XWing::sk_to_pk(&sk);
        let raw_vec = pk.to_bytes();
        let mut raw = Box::new([0u8; XWING_PUBLIC_KEY_LEN]);
        raw.copy_from_slice(&raw_vec);
        Ok(Self {
            seed: Box::new(Zeroizing::new(*seed)),
            sk: Box::new(sk),
            public: XWingPublicKey { raw, pk: Box::new(pk) },
        })
    }

    /// The private seed: an explicit export of the secret key. Keep it encrypted.
    pub fn seed(&self) -> Zeroizing<[u8; XWING_SEED_LEN]> {
        Zeroizing::new(**self.seed)
    }

    /// The public key to hand to senders.
    pub fn public_key(&self) -> &XWingPublicKey {
        &self.public
    }
}

impl KeyProvider for XWingKeyPair {
    fn provider_id(&self) -> &str {
        HPKE_XWING_PROVIDER
    }
    fn key_id(&self) -> String {
        self.public.key_id()
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        self.public.wrap(dek, ctx)
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<DataKey> {
        hpke_unwrap::<XWing>(&self.sk, entry.wrapped(), ctx.aad())
    }
}
