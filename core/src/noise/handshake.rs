//! §5.3 HandshakeState: walks the token table of the pattern, one message at a time.
//!
//! Transactional messages: [`Handshake::write_message`] and [`Handshake::read_message`] work
//! on a copy of the mutable state and commit it only when the whole message succeeded. A
//! corrupted, truncated or out-of-turn message therefore leaves the handshake exactly as it
//! was, and the genuine message can still be processed afterwards.

use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::builder::Fixed;
use super::cipher::TAG_LEN;
use super::kem::{self, KemKeypair};
use super::name::Protocol;
use super::pattern::Token;
use super::symmetric::SymmetricState;
use super::transport::{Transport, UnorderedTransport};
use super::{Role, MAX_MESSAGE_LEN};
use crate::dh::{self, X25519_LEN};
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::PublicIdentity;
use crate::random;

const WHAT: &str = "Noise handshake message";

/// The part of the handshake that changes while messages are processed. Copied before each
/// message, committed after it.
struct Progress {
    sym: SymmetricState,
    e: Option<Box<StaticSecret>>,
    kem: Option<KemKeypair>,
    re: Option<[u8; X25519_LEN]>,
    rs: Option<[u8; X25519_LEN]>,
    rkem: Option<Vec<u8>>,
    /// Index of the next message of the pattern.
    next: usize,
}

impl Progress {
    fn try_clone(&self) -> Result<Self> {
        Ok(Self {
            sym: self.sym.try_clone()?,
            e: self.e.clone(),
            kem: self.kem.clone(),
            re: self.re,
            rs: self.rs,
            rkem: self.rkem.clone(),
            next: self.next,
        })
    }
}

/// A Noise handshake in progress (Noise rev 34 §5.3), created by
/// [`NoiseBuilder`](super::NoiseBuilder).
///
/// Call [`write_message`](Self::write_message) and [`read_message`](Self::read_message) in
/// the order the pattern prescribes ([`is_my_turn`](Self::is_my_turn) says which), then turn
/// the finished handshake into a [`Transport`] or [`UnorderedTransport`].
///
/// Secrets (static and ephemeral X25519 keys, the ML-KEM key, psks, the chaining key) are
/// zeroized on drop; `Debug` shows only the protocol, role and progress.
pub struct Handshake {
    protocol: Protocol,
    role: Role,
    s: Option<Box<StaticSecret>>,
    s_pub: Option<[u8; X25519_LEN]>,
    /// Precomputed DH(s, rs) and the peer key it is for (see `NoiseBuilder`).
    static_static: Option<([u8; X25519_LEN], Zeroizing<[u8; X25519_LEN]>)>,
    expected_remote: Option<[u8; X25519_LEN]>,
    psks: Vec<(u8, Zeroizing<[u8; 32]>)>,
    fixed: Fixed,
    state: Progress,
}

impl core::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Handshake")
            .field("protocol", &self.protocol.name)
            .field("role", &self.role)
            .field("next_message", &self.state.next)
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// The parts of a builder a handshake is made of (see `builder.rs`).
pub(crate) struct Parts {
    pub(crate) protocol: Protocol,
    pub(crate) role: Role,
    pub(crate) s: Option<Box<StaticSecret>>,
    /// The public key of `s` (the builder knows it; no scalar multiplication per handshake).
    pub(crate) s_pub: Option<[u8; X25519_LEN]>,
    pub(crate) static_static: Option<([u8; X25519_LEN], Zeroizing<[u8; X25519_LEN]>)>,
    pub(crate) rs: Option<[u8; X25519_LEN]>,
    pub(crate) expected_remote: Option<[u8; X25519_LEN]>,
    pub(crate) psks: Vec<(u8, Zeroizing<[u8; 32]>)>,
    pub(crate) prologue: Vec<u8>,
    pub(crate) fixed: Fixed,
}

impl Handshake {
    /// §5.3 Initialize(): InitializeSymmetric(name), MixHash(prologue), then the pre-message
    /// public keys, initiator's first (§7.1).
    pub(crate) fn new(parts: Parts) -> Self {
        let Parts { protocol, role, s, s_pub, static_static, rs, expected_remote, psks, prologue, fixed } = parts;
        let mut sym = SymmetricState::initialize(protocol.name.as_bytes(), protocol.hash, protocol.cipher);
        sym.mix_hash(&prologue);
        let base = protocol.pattern.base;
        let (initiator_pre, responder_pre) = match role {
            Role::Initiator => (s_pub, rs),
            Role::Responder => (rs, s_pub),
        };
        if base.initiator_static_premessage() {
            if let Some(k) = initiator_pre {
                sym.mix_hash(&k);
            }
        }
        if base.responder_static_premessage() {
            if let Some(k) = responder_pre {
                sym.mix_hash(&k);
            }
        }
        let state = Progress { sym, e: None, kem: None, re: None, rs, rkem: None, next: 0 };
        Self { protocol, role, s, s_pub, static_static, expected_remote, psks, fixed, state }
    }

    /// The protocol name this handshake runs.
    pub fn protocol_name(&self) -> &str {
        &self.protocol.name
    }

    /// True for the initiator.
    pub fn is_initiator(&self) -> bool {
        self.role == Role::Initiator
    }

    /// True once every message of the pattern has been written or read.
    pub fn is_finished(&self) -> bool {
        self.state.next >= self.protocol.pattern.messages.len()
    }

    /// True when the next handshake message is ours to write (false once finished).
    pub fn is_my_turn(&self) -> bool {
        !self.is_finished() && self.writer_of(self.state.next) == self.role
    }

    /// The current handshake hash `h`. After the handshake it is the value to use for
    /// channel binding (§11.2): both parties hold the same value, unique to this session.
    pub fn handshake_hash(&self) -> &[u8] {
        self.state.sym.handshake_hash()
    }

    /// The peer's static X25519 key, once known (pre-message or received).
    pub fn remote_static(&self) -> Option<[u8; X25519_LEN]> {
        self.state.rs
    }

    /// Fail with [`Error::RemoteKeyMismatch`] unless the peer's static key equals `expected`
    /// (constant-time compare); [`Error::HandshakeIncomplete`] if it is not known yet.
    pub fn expect_remote_static(&self, expected: &[u8]) -> Result<()> {
        check_remote(self.state.rs, expected)
    }

    /// [`expect_remote_static`](Self::expect_remote_static) with the X25519 key of `peer`.
    pub fn expect_remote_identity(&self, peer: &PublicIdentity) -> Result<()> {
        check_remote(self.state.rs, peer.x25519_bytes())
    }

    /// Decode an encoded [`PublicIdentity`] the peer sent as a handshake payload (see
    /// [`identity_payload`](super::identity_payload)) and check that its X25519 key is the
    /// static key the peer proved in this handshake. Returns the verified identity: on first
    /// contact (XX) this is how an agent learns who it talks to.
    pub fn verify_identity_payload(&self, payload: &[u8]) -> Result<PublicIdentity> {
        let peer = PublicIdentity::from_bytes(payload)?;
        self.expect_remote_identity(&peer)?;
        Ok(peer)
    }

    fn writer_of(&self, index: usize) -> Role {
        if index.is_multiple_of(2) {
            Role::Initiator
        } else {
            Role::Responder
        }
    }

    fn check_turn(&self, writing: bool) -> Result<&[Token]> {
        let tokens = self.protocol.pattern.messages.get(self.state.next).ok_or(Error::HandshakeComplete)?;
        let mine = self.writer_of(self.state.next) == self.role;
        match (writing, mine) {
            (true, false) => Err(Error::OutOfTurn("it is the peer's turn to send a handshake message")),
            (false, true) => Err(Error::OutOfTurn("it is our turn to send a handshake message")),
            _ => Ok(tokens),
        }
    }

    /// Exact length of the message [`write_message`](Self::write_message) would produce now
    /// for a payload of `payload_len` bytes, without changing any state (no randomness is
    /// drawn, no ephemeral key is generated). Fails exactly as `write_message` would before
    /// doing any cryptography: [`Error::HandshakeComplete`], [`Error::OutOfTurn`],
    /// [`Error::MessageTooLarge`]. Message lengths depend only on the pattern, the position in
    /// it and the payload length, so the value is exact.
    pub fn next_message_len(&self, payload_len: usize) -> Result<usize> {
        let tokens = self.check_turn(true)?;
        let len = self.overhead(tokens).saturating_add(payload_len);
        if len > MAX_MESSAGE_LEN {
            return Err(Error::MessageTooLarge { actual: len, limit: MAX_MESSAGE_LEN });
        }
        Ok(len)
    }

    /// Exact length of the payload [`read_message`](Self::read_message) returns for a
    /// `message_len`-byte message (if it authenticates), without changing any state: the
    /// message length minus the fixed overhead of this position in the pattern (keys, KEM
    /// fields, tags). Fails as `read_message` would on the length alone:
    /// [`Error::HandshakeComplete`], [`Error::OutOfTurn`], [`Error::MessageTooLarge`],
    /// [`Error::Truncated`] (shorter than the overhead). The result is at most `message_len`.
    pub fn next_payload_len(&self, message_len: usize) -> Result<usize> {
        let tokens = self.check_turn(false)?;
        if message_len > MAX_MESSAGE_LEN {
            return Err(Error::MessageTooLarge { actual: message_len, limit: MAX_MESSAGE_LEN });
        }
        message_len.checked_sub(self.overhead(tokens)).ok_or(Error::Truncated(WHAT))
    }

    /// Bytes a message with these tokens adds to its payload: the token fields, each
    /// encrypted field's tag and the payload's tag (16 bytes once a key is set). Mirrors
    /// `write_token`: `e` (with psk), DH tokens, `psk` and `ekem1` set a key.
    fn overhead(&self, tokens: &[Token]) -> usize {
        let psk = self.protocol.pattern.has_psk();
        let mut keyed = self.state.sym.has_key();
        let tag = |keyed: bool| if keyed { TAG_LEN } else { 0 };
        let mut len = 0;
        for token in tokens {
            match token {
                Token::E => {
                    len += X25519_LEN;
                    keyed |= psk;
                }
                Token::S => len += X25519_LEN + tag(keyed),
                Token::E1 => len += kem::PUBLIC_LEN + tag(keyed),
                Token::Ekem1 => {
                    len += kem::CIPHERTEXT_LEN + tag(keyed);
                    keyed = true;
                }
                Token::Psk(_) | Token::Ee | Token::Es | Token::Se | Token::Ss => keyed = true,
            }
        }
        len + tag(keyed)
    }

    /// WriteMessage(payload): the next handshake message, carrying `payload` (encrypted once
    /// the pattern has produced a key). The whole message may be at most 65535 bytes.
    pub fn write_message(&mut self, payload: &[u8]) -> Result<Vec<u8>> {
        let tokens = self.check_turn(true)?;
        let mut st = self.state.try_clone()?;
        let mut out = Vec::with_capacity(self.overhead(tokens).saturating_add(payload.len()));
        for &token in tokens {
            self.write_token(&mut st, token, &mut out)?;
        }
        st.sym.encrypt_and_hash_append(payload, &mut out)?;
        if out.len() > MAX_MESSAGE_LEN {
            return Err(Error::MessageTooLarge { actual: out.len(), limit: MAX_MESSAGE_LEN });
        }
        st.next += 1;
        self.state = st;
        Ok(out)
    }

    /// ReadMessage(message): process the peer's next handshake message and return its
    /// payload. On any error the handshake is unchanged.
    pub fn read_message(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        let result = self.read_message_inner(message);
        if let Err(e) = &result {
            let (name, initiator) = (&self.protocol.name, self.role == Role::Initiator);
            crate::hygiene::emit::handshake_failed(name, initiator, self.state.next, e, message.len());
        }
        result
    }

    fn read_message_inner(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        let tokens = self.check_turn(false)?;
        if message.len() > MAX_MESSAGE_LEN {
            return Err(Error::MessageTooLarge { actual: message.len(), limit: MAX_MESSAGE_LEN });
        }
        let mut st = self.state.try_clone()?;
        let mut r = Reader::new(message, WHAT);
        for &token in tokens {
            self.read_token(&mut st, token, &mut r)?;
        }
        let rest = r.rest();
        if st.sym.has_key() && rest.len() < TAG_LEN {
            return Err(Error::Truncated(WHAT));
        }
        let mut payload = st.sym.decrypt_and_hash(rest)?;
        st.next += 1;
        self.state = st;
        // The plaintext leaves the zeroizing buffer without a copy: it is the caller's now.
        Ok(core::mem::take(&mut *payload))
    }

    fn write_token(&self, st: &mut Progress, token: Token, out: &mut Vec<u8>) -> Result<()> {
        match token {
            Token::E => {
                let mut secret = Zeroizing::new([0u8; X25519_LEN]);
                match &self.fixed.ephemeral {
                    Some(fixed) => secret.copy_from_slice(fixed.as_ref()),
                    None => random::fill(secret.as_mut())?,
                }
                let e = Box::new(StaticSecret::from(*secret));
                let e_pub = PublicKey::from(e.as_ref()).to_bytes();
                out.extend_from_slice(&e_pub);
                st.sym.mix_hash(&e_pub);
                if self.protocol.pattern.has_psk() {
                    st.sym.mix_key(&e_pub)?;
                }
                st.e = Some(e);
            }
            Token::S => {
                let s_pub = self.s_pub.ok_or(Error::InvalidParameter("pattern needs a local static key"))?;
                st.sym.encrypt_and_hash_append(&s_pub, out)?;
            }
            Token::Psk(n) => st.sym.mix_key_and_hash(self.psk(n)?)?,
            Token::E1 => {
                let mut seed = Zeroizing::new([0u8; kem::SEED_LEN]);
                match &self.fixed.kem_seed {
                    Some(fixed) => seed.copy_from_slice(fixed.as_ref()),
                    None => random::fill(seed.as_mut())?,
                }
                let kp = KemKeypair::from_seed(&seed);
                st.sym.encrypt_and_hash_append(kp.public(), out)?;
                st.kem = Some(kp);
            }
            Token::Ekem1 => {
                let mut m = Zeroizing::new([0u8; kem::ENCAPS_RANDOMNESS_LEN]);
                match &self.fixed.kem_encaps {
                    Some(fixed) => m.copy_from_slice(fixed.as_ref()),
                    None => random::fill(m.as_mut())?,
                }
                let peer = st.rkem.as_deref().ok_or(Error::InvalidParameter("no peer KEM key"))?;
                let (ct, shared) = kem::encapsulate(peer, &m)?;
                st.sym.encrypt_and_hash_append(&ct, out)?;
                st.sym.mix_key(shared.as_ref())?;
            }
            dh_token => self.mix_dh(st, dh_token)?,
        }
        Ok(())
    }

    fn read_token(&self, st: &mut Progress, token: Token, r: &mut Reader<'_>) -> Result<()> {
        let tag = if st.sym.has_key() { TAG_LEN } else { 0 };
        match token {
            Token::E => {
                let re: [u8; X25519_LEN] = r.array()?;
                check_canonical(&re)?;
                st.sym.mix_hash(&re);
                if self.protocol.pattern.has_psk() {
                    st.sym.mix_key(&re)?;
                }
                st.re = Some(re);
            }
            Token::S => {
                let plain = st.sym.decrypt_and_hash(r.take(X25519_LEN + tag)?)?;
                let rs: [u8; X25519_LEN] = plain
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::Malformed("Noise static key"))?;
                dh::validate_public(&rs)?;
                if let Some(expected) = self.expected_remote {
                    check_remote(Some(rs), &expected)?;
                }
                st.rs = Some(rs);
            }
            Token::Psk(n) => st.sym.mix_key_and_hash(self.psk(n)?)?,
            Token::E1 => {
                let plain = st.sym.decrypt_and_hash(r.take(kem::PUBLIC_LEN + tag)?)?;
                kem::validate_public(&plain)?;
                st.rkem = Some(plain.to_vec());
            }
            Token::Ekem1 => {
                let ct = st.sym.decrypt_and_hash(r.take(kem::CIPHERTEXT_LEN + tag)?)?;
                let kp = st.kem.as_ref().ok_or(Error::InvalidParameter("no local KEM key"))?;
                let shared = kp.decapsulate(&ct)?;
                st.sym.mix_key(shared.as_ref())?;
            }
            dh_token => self.mix_dh(st, dh_token)?,
        }
        Ok(())
    }

    /// `ee`, `es`, `se`, `ss`: MixKey(DH(..)), the roles of the two keys depending on who we
    /// are (§5.3). The all-zero result is refused ([`Error::NonContributory`]).
    fn mix_dh(&self, st: &mut Progress, token: Token) -> Result<()> {
        let initiator = self.role == Role::Initiator;
        let missing = Error::InvalidParameter("pattern needs a key that is not set");
        let (local, remote) = match (token, initiator) {
            (Token::Ee, _) => (st.e.as_deref(), st.re),
            (Token::Es, true) | (Token::Se, false) => (st.e.as_deref(), st.rs),
            (Token::Es, false) | (Token::Se, true) => (self.s.as_deref(), st.re),
            (Token::Ss, _) => (self.s.as_deref(), st.rs),
            _ => return Err(missing),
        };
        let (Some(local), Some(remote)) = (local, remote) else {
            return Err(missing);
        };
        if token == Token::Ss {
            if let Some((peer, shared)) = &self.static_static {
                // Public keys: an ordinary comparison is fine.
                if *peer == remote {
                    return st.sym.mix_key(shared.as_ref());
                }
            }
        }
        let shared = dh::diffie_hellman(local, &remote)?;
        st.sym.mix_key(shared.as_bytes())
    }

    fn psk(&self, location: u8) -> Result<&[u8]> {
        self.psks
            .iter()
            .find(|(n, _)| *n == location)
            .map(|(_, k)| k.as_slice())
            .ok_or(Error::InvalidParameter("missing psk"))
    }

    /// Split the finished handshake into the two cipher states, ours to send first.
    fn split(self) -> Result<super::transport::Keys> {
        if !self.is_finished() {
            return Err(Error::HandshakeIncomplete("messages remain in the handshake pattern"));
        }
        let (c1, c2) = self.state.sym.split()?;
        let one_way = self.protocol.pattern.base.is_one_way();
        let (send, recv) = match (self.role, one_way) {
            (Role::Initiator, false) => (Some(c1), Some(c2)),
            (Role::Responder, false) => (Some(c2), Some(c1)),
            // §7.4: one-way patterns only ever carry initiator → responder traffic.
            (Role::Initiator, true) => (Some(c1), None),
            (Role::Responder, true) => (None, Some(c1)),
        };
        crate::hygiene::emit::handshake_done(&self.protocol.name, self.role == Role::Initiator, self.protocol.pattern.hfs);
        Ok(super::transport::Keys {
            send,
            recv,
            handshake_hash: self.state.sym.handshake_hash().to_vec(),
            remote_static: self.state.rs,
            initiator: self.role == Role::Initiator,
        })
    }

    /// Finish: a [`Transport`] for an ordered, reliable channel (implicit counter nonces).
    /// [`Error::HandshakeIncomplete`] if messages remain.
    pub fn into_transport(self) -> Result<Transport> {
        Ok(Transport::new(self.split()?))
    }

    /// Finish: an [`UnorderedTransport`] for datagrams (explicit nonce and replay window).
    pub fn into_unordered_transport(self) -> Result<UnorderedTransport> {
        Ok(UnorderedTransport::new(self.split()?))
    }
}

/// Constant-time comparison of the peer's static key with an expected one.
pub(crate) fn check_remote(actual: Option<[u8; X25519_LEN]>, expected: &[u8]) -> Result<()> {
    let actual = actual.ok_or(Error::HandshakeIncomplete("the remote static key is not known yet"))?;
    if expected.len() != X25519_LEN {
        return Err(Error::InvalidLength { what: "X25519 public key", expected: X25519_LEN, actual: expected.len() });
    }
    if bool::from(actual.ct_eq(expected)) {
        Ok(())
    } else {
        Err(Error::RemoteKeyMismatch)
    }
}

/// Refuse non-canonical X25519 encodings (top bit set, or a value ≥ 2^255 − 19). Small-order
/// points are caught by the DH that uses them ([`Error::NonContributory`]).
fn check_canonical(key: &[u8; X25519_LEN]) -> Result<()> {
    let top_bit = key[31] & 0x80 != 0;
    let unreduced = key[31] == 0x7f && key[1..31].iter().all(|b| *b == 0xff) && key[0] >= 0xed;
    if top_bit || unreduced {
        return Err(Error::InvalidPublicKey("non-canonical X25519 key"));
    }
    Ok(())
}
