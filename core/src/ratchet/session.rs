//! [`Session`]: X3DH / PQXDH session establishment and the Double Ratchet, with sealed
//! persistence.

use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::bundle::PrekeyBundle;
use super::kdf::{self, AgreementKeys};
use super::kem;
use super::message::{
    self, InitialPrefix, KeyAgreement, MessageKind, INITIAL_MAGIC, MODE_HEADER_ENCRYPTED, MODE_STANDARD,
};
use super::sealed;
use super::secret::{Key32, Secret};
use super::state::RatchetState;
use super::store::PrekeyStore;
use crate::dh;
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity};
use crate::random::{OsRandom, RandomSource};

pub(crate) const STATE_MAGIC: &[u8; 4] = b"SWSS";
const STATE_WHAT: &str = "sealed session state";
/// Domain label of the session id: `SHA-256(label ‖ initial-message prefix)`.
const SESSION_ID_LABEL: &[u8] = b"SEALWIRE_SESSION_ID_v1";

/// Options for starting a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Encrypt Double Ratchet headers (Double Ratchet §4). On by default: without it the
    /// ratchet public key and message counters travel in clear and link messages together.
    pub header_encryption: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { header_encryption: true }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Initiator,
    Responder,
}

/// An end-to-end encrypted conversation with one peer: established from the peer's prekey
/// bundle with X3DH or PQXDH ([`Session::initiate`]) or from an initial message
/// ([`Session::accept`]), then carried on with the Double Ratchet.
///
/// Every operation is all-or-nothing: a message that fails to decrypt (wrong key, replay,
/// too many skipped messages, malformed) leaves the session exactly as it was. Persist the
/// session with [`Session::seal`] after every successful [`Session::encrypt`] (before
/// sending) and [`Session::decrypt`]; see [`Session::open_checked`] for rollback detection.
pub struct Session {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    role: Role,
    agreement: KeyAgreement,
    initiator: PublicIdentity,
    responder: PublicIdentity,
    /// `AD = Encode(IK_A) ‖ Encode(IK_B)` — here both full public identities.
    ad: Vec<u8>,
    session_id: [u8; 32],
    /// Initiator only: the initial-message prefix, repeated in front of every message until
    /// the first message from the responder arrives.
    pending_initial: Option<Vec<u8>>,
    state: RatchetState,
    generation: u64,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Session {{ role: {:?}, agreement: {:?}, generation: {} }}",
            self.inner.role, self.inner.agreement, self.inner.generation
        )
    }
}

fn associated_data(initiator: &PublicIdentity, responder: &PublicIdentity) -> Vec<u8> {
    let mut ad = initiator.to_bytes();
    ad.extend_from_slice(&responder.to_bytes());
    ad
}

fn session_id(prefix: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(SESSION_ID_LABEL);
    h.update(prefix);
    h.finalize().into()
}

fn he_keys(keys: &AgreementKeys, header_encryption: bool) -> Option<(&Key32, &Key32)> {
    header_encryption.then_some((&keys.hka, &keys.nhkb))
}

impl Session {
    /// Start a session with `peer` from its prekey bundle, with the default options (header
    /// encryption on). Uses PQXDH when the bundle is post-quantum, X3DH otherwise. Works
    /// offline: the peer learns of the session from the first message [`Session::encrypt`]
    /// produces.
    ///
    /// `peer` is who the caller means to talk to; a bundle of anyone else is refused with
    /// [`Error::IdentityMismatch`].
    pub fn initiate(identity: &Identity, peer: &PublicIdentity, bundle: &PrekeyBundle) -> Result<Self> {
        Self::initiate_with_entropy(identity, peer, bundle, SessionOptions::default(), &mut OsRandom)
    }

    /// [`Session::initiate`] with explicit options.
    pub fn initiate_with_options(
        identity: &Identity,
        peer: &PublicIdentity,
        bundle: &PrekeyBundle,
        options: SessionOptions,
    ) -> Result<Self> {
        Self::initiate_with_entropy(identity, peer, bundle, options, &mut OsRandom)
    }

    /// [`Session::initiate_with_options`] drawing randomness from `rng`, in this order: the
    /// ephemeral key EK_A (32), for PQXDH the ML-KEM encapsulation message m (32), the first
    /// ratchet key pair (32). Only for known-answer tests.
    #[doc(hidden)]
    pub fn initiate_with_entropy(
        identity: &Identity,
        peer: &PublicIdentity,
        bundle: &PrekeyBundle,
        options: SessionOptions,
        rng: &mut dyn RandomSource,
    ) -> Result<Self> {
        if bundle.identity() != peer {
            return Err(Error::IdentityMismatch("the bundle belongs to another identity than the peer"));
        }
        let spk = bundle.signed.key;
        let (opk, kem_prekey) = bundle.chosen();
        let agreement = if bundle.is_post_quantum() { KeyAgreement::Pqxdh } else { KeyAgreement::X3dh };

        let ek = Key32::random(rng)?;
        let ek_secret = StaticSecret::from(*ek.bytes());
        let ek_public = PublicKey::from(&ek_secret).to_bytes();
        // DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B), DH4 = DH(EK_A, OPK_B)
        let dh1 = dh::diffie_hellman(identity.exchange_secret(), &spk)?;
        let dh2 = dh::diffie_hellman(&ek_secret, peer.x25519_bytes())?;
        let dh3 = dh::diffie_hellman(&ek_secret, &spk)?;
        let dh4 = opk.map(|k| dh::diffie_hellman(&ek_secret, &k.key)).transpose()?;
        // PQXDH: (CT, SS) = PQKEM-ENC(PQPK_B)
        let kem_out = match agreement {
            KeyAgreement::X3dh => None,
            KeyAgreement::Pqxdh => {
                let k = kem_prekey.ok_or(Error::Malformed("post-quantum bundle without a KEM prekey"))?;
                let ek_kem = kem::parse_public(&k.ek)?;
                let m = Secret::<32>::random(rng)?;
                let (ct, ss) = kem::encapsulate(&ek_kem, &m);
                Some((k.id, ct, ss))
            }
        };
        let mut km: Vec<&[u8]> = vec![dh1.as_bytes(), dh2.as_bytes(), dh3.as_bytes()];
        if let Some(d) = &dh4 {
            km.push(d.as_bytes());
        }
        let keys = match &kem_out {
            None => kdf::agreement(kdf::X3DH_INFO, &km),
            Some((_, _, ss)) => {
                km.push(ss.as_slice());
                kdf::agreement(kdf::PQXDH_INFO, &km)
            }
        };
        drop(km);

        let state = RatchetState::init_alice(&keys.sk, spk, he_keys(&keys, options.header_encryption), rng)?;
        let prefix = InitialPrefix {
            agreement,
            mode: if options.header_encryption { MODE_HEADER_ENCRYPTED } else { MODE_STANDARD },
            initiator: identity.public(),
            ephemeral: ek_public,
            signed_prekey_id: bundle.signed.id,
            one_time_prekey_id: opk.map(|k| k.id),
            kem: kem_out.as_ref().map(|(id, ct, _)| (*id, ct.as_slice())),
        }
        .encode();
        Ok(Self {
            inner: Box::new(Inner {
                role: Role::Initiator,
                agreement,
                initiator: identity.public().clone(),
                responder: peer.clone(),
                ad: associated_data(identity.public(), peer),
                session_id: session_id(&prefix),
                pending_initial: Some(prefix),
                state,
                generation: 0,
            }),
        })
    }

    /// Accept an initial message addressed to `identity`, whose prekeys are in `store`.
    /// Returns the new session and the plaintext of the embedded first message.
    ///
    /// All or nothing: the one-time prekeys the message used are deleted from `store` only if
    /// the whole message authenticated; a second initial message naming the same one-time
    /// prekey then fails with [`Error::PrekeyAlreadyUsed`]. Seal `store` and the session
    /// together afterwards. Check [`Session::peer_identity`] before trusting the content.
    pub fn accept(identity: &Identity, store: &mut PrekeyStore, initial_message: &[u8]) -> Result<(Self, Vec<u8>)> {
        Self::accept_with_entropy(identity, store, initial_message, &mut OsRandom)
    }

    /// [`Session::accept`] drawing the responder's next ratchet key pair (32) from `rng`.
    #[doc(hidden)]
    pub fn accept_with_entropy(
        identity: &Identity,
        store: &mut PrekeyStore,
        initial_message: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<(Self, Vec<u8>)> {
        let result = Self::accept_inner(identity, store, initial_message, rng);
        if let Err(e) = &result {
            crate::hygiene::emit::ratchet_decrypt_failed("initial", e, initial_message.len());
        }
        result
    }

    fn accept_inner(
        identity: &Identity,
        store: &mut PrekeyStore,
        initial_message: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<(Self, Vec<u8>)> {
        let im = message::parse_initial(initial_message)?;
        let (keys, post_quantum) =
            store.keys_for(identity, im.signed_prekey_id, im.one_time_prekey_id, im.kem.map(|(id, _)| id))?;
        if post_quantum && im.agreement != KeyAgreement::Pqxdh {
            return Err(Error::UnsupportedAlgorithm("X3DH initial message for a post-quantum signed prekey"));
        }
        let spk = StaticSecret::from(*keys.signed.bytes());
        let dh1 = dh::diffie_hellman(&spk, im.initiator.x25519_bytes())?;
        let dh2 = dh::diffie_hellman(identity.exchange_secret(), &im.ephemeral)?;
        let dh3 = dh::diffie_hellman(&spk, &im.ephemeral)?;
        let dh4 = match &keys.one_time {
            Some(opk) => Some(dh::diffie_hellman(&StaticSecret::from(*opk.bytes()), &im.ephemeral)?),
            None => None,
        };
        drop(spk);
        let mut km: Vec<&[u8]> = vec![dh1.as_bytes(), dh2.as_bytes(), dh3.as_bytes()];
        if let Some(d) = &dh4 {
            km.push(d.as_bytes());
        }
        let ss: Option<Zeroizing<[u8; 32]>> = match (im.kem, &keys.kem) {
            (Some((_, ct)), Some(seed)) => Some(kem::decapsulate(seed, ct)?),
            (None, None) => None,
            _ => return Err(Error::Malformed("initial message: KEM fields do not match")),
        };
        let agreement_keys = match &ss {
            None => kdf::agreement(kdf::X3DH_INFO, &km),
            Some(ss) => {
                km.push(ss.as_slice());
                kdf::agreement(kdf::PQXDH_INFO, &km)
            }
        };
        drop(km);
        let header_encryption = im.mode == MODE_HEADER_ENCRYPTED;
        let mut state = RatchetState::init_bob(
            &agreement_keys.sk,
            keys.signed.clone(),
            he_keys(&agreement_keys, header_encryption),
        );
        let ad = associated_data(&im.initiator, identity.public());
        let plaintext = state.decrypt(im.inner, &ad, rng)?;
        store.consume(keys.consume_one_time, keys.consume_kem);
        let session = Self {
            inner: Box::new(Inner {
                role: Role::Responder,
                agreement: im.agreement,
                initiator: im.initiator.clone(),
                responder: identity.public().clone(),
                ad,
                session_id: session_id(im.prefix),
                pending_initial: None,
                state,
                generation: 0,
            }),
        };
        Ok((session, plaintext))
    }

    /// Encrypt `plaintext` (at most 16 MiB) as the next message. Until the first message
    /// from the responder arrives, the initiator's messages are initial messages (`SWRI`),
    /// each able to start the session on the other side.
    ///
    /// Seal and store the session *before* sending the result: sending, then restoring an
    /// older state would reuse a message key.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.encrypt_with_entropy(plaintext, &mut OsRandom)
    }

    /// [`Session::encrypt`] drawing the header nonce (24, header encryption only) from `rng`.
    #[doc(hidden)]
    pub fn encrypt_with_entropy(&mut self, plaintext: &[u8], rng: &mut dyn RandomSource) -> Result<Vec<u8>> {
        let mut state = self.inner.state.clone();
        let msg = state.encrypt(plaintext, &self.inner.ad, rng)?;
        let out = match &self.inner.pending_initial {
            Some(prefix) => {
                let mut v = Vec::with_capacity(prefix.len() + msg.len());
                v.extend_from_slice(prefix);
                v.extend_from_slice(&msg);
                v
            }
            None => msg,
        };
        self.inner.state = state;
        self.inner.generation += 1;
        Ok(out)
    }

    /// Decrypt a message of this session: a ratchet message, or (responder) a repeated
    /// initial message of this same session. Out-of-order messages are fine within
    /// [`super::MAX_SKIP`] per chain; a message seen before is [`Error::Replay`];
    /// an initial message that started another session is [`Error::SessionMismatch`].
    /// On any error the session is unchanged.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        self.decrypt_with_entropy(message, &mut OsRandom)
    }

    /// [`Session::decrypt`] drawing a new ratchet key pair (32) from `rng` when the message
    /// starts a new receiving chain, nothing otherwise.
    #[doc(hidden)]
    pub fn decrypt_with_entropy(&mut self, message: &[u8], rng: &mut dyn RandomSource) -> Result<Vec<u8>> {
        let result = self.decrypt_inner(message, rng);
        if let Err(e) = &result {
            crate::hygiene::emit::ratchet_decrypt_failed("ratchet", e, message.len());
        }
        result
    }

    fn decrypt_inner(&mut self, message: &[u8], rng: &mut dyn RandomSource) -> Result<Vec<u8>> {
        let inner_message = match message::message_kind(message)? {
            MessageKind::Ratchet => message,
            MessageKind::Initial => {
                let im = message::parse_initial(message)?;
                if self.inner.role != Role::Responder || session_id(im.prefix) != self.inner.session_id {
                    return Err(Error::SessionMismatch);
                }
                im.inner
            }
        };
        let mut state = self.inner.state.clone();
        let plaintext = state.decrypt(inner_message, &self.inner.ad, rng)?;
        self.inner.state = state;
        self.inner.pending_initial = None;
        self.inner.generation += 1;
        Ok(plaintext)
    }

    /// The peer's public identity (for the responder: as authenticated by the first message).
    pub fn peer_identity(&self) -> &PublicIdentity {
        match self.inner.role {
            Role::Initiator => &self.inner.responder,
            Role::Responder => &self.inner.initiator,
        }
    }

    /// Our own public identity.
    pub fn local_identity(&self) -> &PublicIdentity {
        match self.inner.role {
            Role::Initiator => &self.inner.initiator,
            Role::Responder => &self.inner.responder,
        }
    }

    /// Whether this side started the session.
    pub fn is_initiator(&self) -> bool {
        self.inner.role == Role::Initiator
    }

    /// X3DH or PQXDH.
    pub fn key_agreement(&self) -> KeyAgreement {
        self.inner.agreement
    }

    /// Whether headers are encrypted.
    pub fn header_encryption(&self) -> bool {
        self.inner.state.header_encryption()
    }

    /// Same value on both sides: SHA-256 over a label and the initial message's prefix.
    /// Lets an application tell a repeated initial message from a new session.
    pub fn session_id(&self) -> [u8; 32] {
        self.inner.session_id
    }

    /// Whether this side's messages still carry the initial-message prefix (initiator, until
    /// the first message from the responder was decrypted).
    pub fn awaiting_reply(&self) -> bool {
        self.inner.pending_initial.is_some()
    }

    /// Number of skipped message keys kept for late messages.
    pub fn skipped_message_keys(&self) -> usize {
        self.inner.state.skipped_count()
    }

    /// Incremented by every successful encrypt and decrypt; written into the sealed state.
    pub fn generation(&self) -> u64 {
        self.inner.generation
    }

    /// Seal the whole session under a caller-supplied 32-byte storage key, with a fresh
    /// random nonce (so two seals of the same state differ).
    pub fn seal(&self, storage_key: &[u8]) -> Result<Vec<u8>> {
        self.seal_with_entropy(storage_key, &mut OsRandom)
    }

    /// [`Session::seal`] with the 24-byte nonce from `rng`.
    #[doc(hidden)]
    pub fn seal_with_entropy(&self, storage_key: &[u8], rng: &mut dyn RandomSource) -> Result<Vec<u8>> {
        let body = Zeroizing::new(self.encode());
        sealed::seal(STATE_MAGIC, self.inner.generation, storage_key, &body, rng)
    }

    /// Open a sealed session. Truncation, modification or a wrong key fail
    /// ([`Error::DecryptionFailed`] and the decoding errors).
    ///
    /// **Rollback**: a sealed state cannot know whether a newer one exists. Record the
    /// [`Session::generation`] of every state you commit and use [`Session::open_checked`];
    /// a restored older snapshot would re-derive message keys already used and accept
    /// messages already processed. On [`Error::StaleState`] do not use the old state:
    /// establish a new session from a fresh bundle.
    pub fn open(blob: &[u8], storage_key: &[u8]) -> Result<Self> {
        let (generation, body) = sealed::open(STATE_MAGIC, STATE_WHAT, blob, storage_key)?;
        let mut inner = Self::decode(&body)?;
        inner.generation = generation;
        Ok(Self { inner: Box::new(inner) })
    }

    /// [`Session::open`], refusing a state older than `expected_generation` (the generation
    /// the caller last committed) with [`Error::StaleState`].
    pub fn open_checked(blob: &[u8], storage_key: &[u8], expected_generation: u64) -> Result<Self> {
        let s = Self::open(blob, storage_key)?;
        if s.inner.generation < expected_generation {
            return Err(Error::StaleState { found: s.inner.generation, expected: expected_generation });
        }
        Ok(s)
    }

    /// The plaintext body of the sealed form, for containers that seal several sessions
    /// together (the store's session records).
    pub(crate) fn to_body(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.encode())
    }

    /// Rebuild a session from [`Session::to_body`] output and its generation.
    pub(crate) fn from_body(body: &[u8], generation: u64) -> Result<Self> {
        let mut inner = Self::decode(body)?;
        inner.generation = generation;
        Ok(Self { inner: Box::new(inner) })
    }

    fn encode(&self) -> Vec<u8> {
        let i = &self.inner;
        // Exact-enough capacity so the buffer holding secrets never reallocates (a
        // reallocation would leave an unzeroized copy behind).
        let mut out = Vec::with_capacity(
            512 + 2 * 2 * crate::identity::PublicIdentity::ENCODED_LEN
                + i.pending_initial.as_ref().map_or(0, Vec::len)
                + i.state.encoded_len(),
        );
        out.push(match i.role {
            Role::Initiator => 0x01,
            Role::Responder => 0x02,
        });
        out.push(i.agreement.to_byte());
        for id in [&i.initiator, &i.responder] {
            let b = id.to_bytes();
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(&b);
        }
        out.extend_from_slice(&i.session_id);
        match &i.pending_initial {
            None => out.push(0),
            Some(p) => {
                out.push(1);
                out.extend_from_slice(&(p.len() as u32).to_be_bytes());
                out.extend_from_slice(p);
            }
        }
        i.state.encode(&mut out);
        out
    }

    fn decode(body: &[u8]) -> Result<Inner> {
        let mut r = Reader::new(body, STATE_WHAT);
        let role = match r.u8()? {
            0x01 => Role::Initiator,
            0x02 => Role::Responder,
            _ => return Err(Error::Malformed("session state role")),
        };
        let agreement = KeyAgreement::from_byte(r.u8()?)?;
        let mut ids = Vec::with_capacity(2);
        for _ in 0..2 {
            let len = usize::from(r.u16()?);
            ids.push(PublicIdentity::from_sealed_state(r.take(len)?)?);
        }
        let id: [u8; 32] = r.array()?;
        let pending_initial = match r.u8()? {
            0 => None,
            1 => {
                let len = r.u32()? as usize;
                let p = r.take(len)?.to_vec();
                if role != Role::Initiator || p.len() < 5 || &p[..4] != INITIAL_MAGIC || session_id(&p) != id {
                    return Err(Error::Malformed("session state pending initial message"));
                }
                Some(p)
            }
            _ => return Err(Error::Malformed("session state pending flag")),
        };
        let state = RatchetState::decode(&mut r)?;
        r.finish()?;
        let responder = ids.pop().ok_or(Error::Malformed("session state identities"))?;
        let initiator = ids.pop().ok_or(Error::Malformed("session state identities"))?;
        Ok(Inner {
            role,
            agreement,
            ad: associated_data(&initiator, &responder),
            initiator,
            responder,
            session_id: id,
            pending_initial,
            state,
            generation: 0,
        })
    }
}
