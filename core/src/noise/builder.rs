//! [`NoiseBuilder`]: everything a handshake needs, checked against the pattern before the
//! first message, so a missing key or psk is an error at build time, not mid-handshake.

use std::sync::OnceLock;

use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::handshake::{Handshake, Parts};
use super::kem;
use super::name::Protocol;
use super::pattern::Token;
use super::Role;
use crate::dh::{self, X25519_LEN};
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity};

/// Length of a Noise pre-shared key.
pub const PSK_LEN: usize = 32;

/// Randomness fixed by the caller, for reproducing test vectors only.
#[derive(Clone, Default)]
pub(crate) struct Fixed {
    pub(crate) ephemeral: Option<Zeroizing<[u8; X25519_LEN]>>,
    pub(crate) kem_seed: Option<Zeroizing<[u8; kem::SEED_LEN]>>,
    pub(crate) kem_encaps: Option<Zeroizing<[u8; kem::ENCAPS_RANDOMNESS_LEN]>>,
}

/// Configuration of one side of a Noise handshake.
///
/// ```
/// # fn main() -> sealwire::Result<()> {
/// use sealwire::{noise::NoiseBuilder, Identity};
/// let alice = Identity::generate()?;
/// let bob = Identity::generate()?;
/// let name = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/// let mut initiator = NoiseBuilder::new(name)?
///     .local_identity(&alice)
///     .remote_identity(bob.public())
///     .build_initiator()?;
/// let mut responder = NoiseBuilder::new(name)?.local_identity(&bob).build_responder()?;
/// let m1 = initiator.write_message(b"hello")?;
/// assert_eq!(responder.read_message(&m1)?, b"hello");
/// responder.expect_remote_identity(alice.public())?;
/// let m2 = responder.write_message(b"")?;
/// initiator.read_message(&m2)?;
/// let mut a = initiator.into_transport()?;
/// let mut b = responder.into_transport()?;
/// assert_eq!(b.decrypt(&a.encrypt(b"over the wire")?)?, b"over the wire");
/// # Ok(())
/// # }
/// ```
///
/// Setters take `self` by value and return it, so calls chain; the builder can be reused
/// (cloned) to build several handshakes. Secrets inside are zeroized on drop and `Debug`
/// shows only the protocol name.
///
/// Reuse pays off for the patterns with an `ss` token (`IK`, `KK` and their psk/hfs
/// variants) when the builder knows both static keys (the initiator of `IK`/`KK`; a
/// responder given the expected peer key): the static-static X25519 result is computed once,
/// at the first build, and kept in the builder (zeroized on drop, copied into clones) for
/// every later handshake with that peer. It is no new secret to guard: anyone who can read
/// the builder can read the static private key in it and recompute it. Changing either static
/// key discards it.
#[derive(Clone)]
pub struct NoiseBuilder {
    protocol: Protocol,
    local_static: Option<Box<StaticSecret>>,
    /// The public key of `local_static`, computed once (or taken from the identity).
    local_public: Option<[u8; X25519_LEN]>,
    remote_static: Option<[u8; X25519_LEN]>,
    /// DH(local_static, remote_static) for the `ss` token; `None` inside if it failed (the
    /// handshake then recomputes it and reports the error at the token).
    static_static: OnceLock<Option<Zeroizing<[u8; X25519_LEN]>>>,
    psks: Vec<(u8, Zeroizing<[u8; PSK_LEN]>)>,
    prologue: Vec<u8>,
    fixed: Fixed,
}

impl core::fmt::Debug for NoiseBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NoiseBuilder").field("protocol", &self.protocol.name).finish_non_exhaustive()
    }
}

fn fixed_array<const N: usize>(bytes: &[u8], what: &'static str) -> Result<Zeroizing<[u8; N]>> {
    if bytes.len() != N {
        return Err(Error::InvalidLength { what, expected: N, actual: bytes.len() });
    }
    let mut out = Zeroizing::new([0u8; N]);
    out.copy_from_slice(bytes);
    Ok(out)
}

impl NoiseBuilder {
    /// Start from a protocol name such as `Noise_XX_25519_ChaChaPoly_BLAKE2s` or
    /// `Noise_XXhfs_25519+MLKEM768_ChaChaPoly_SHA256`. Malformed names are
    /// [`Error::Malformed`], names of unsupported patterns or algorithms
    /// [`Error::UnsupportedAlgorithm`].
    pub fn new(protocol_name: &str) -> Result<Self> {
        Ok(Self {
            protocol: Protocol::parse(protocol_name)?,
            local_static: None,
            local_public: None,
            remote_static: None,
            static_static: OnceLock::new(),
            psks: Vec::new(),
            prologue: Vec::new(),
            fixed: Fixed::default(),
        })
    }

    /// Use the X25519 exchange key of `identity` as the local static key.
    pub fn local_identity(mut self, identity: &Identity) -> Self {
        self.local_static = Some(Box::new(identity.exchange_secret().clone()));
        // The identity already knows its X25519 public key: no scalar multiplication here.
        self.local_public = Some(*identity.public().x25519_bytes());
        self.static_static = OnceLock::new();
        self
    }

    /// Use a raw 32-byte X25519 private key as the local static key (interop and vectors;
    /// prefer [`local_identity`](Self::local_identity)).
    pub fn local_static_secret(mut self, secret: &[u8]) -> Result<Self> {
        let bytes = fixed_array::<X25519_LEN>(secret, "X25519 private key")?;
        let secret = Box::new(StaticSecret::from(*bytes));
        self.local_public = Some(PublicKey::from(secret.as_ref()).to_bytes());
        self.local_static = Some(secret);
        self.static_static = OnceLock::new();
        Ok(self)
    }

    /// The peer's static X25519 public key (validated: canonical, not of small order).
    ///
    /// Required when the pattern has the peer's key as a pre-message (`NK`, `IK`, `KK`, ...).
    /// For patterns where the peer sends its key (`XX`, ...), it is the key the peer must
    /// send: any other key fails the message that carries it with
    /// [`Error::RemoteKeyMismatch`].
    pub fn remote_static(mut self, public: &[u8]) -> Result<Self> {
        let key: [u8; X25519_LEN] = public.try_into().map_err(|_| Error::InvalidLength {
            what: "X25519 public key",
            expected: X25519_LEN,
            actual: public.len(),
        })?;
        dh::validate_public(&key)?;
        self.remote_static = Some(key);
        self.static_static = OnceLock::new();
        Ok(self)
    }

    /// [`remote_static`](Self::remote_static) with the X25519 key of a verified identity.
    pub fn remote_identity(mut self, peer: &PublicIdentity) -> Self {
        self.remote_static = Some(*peer.x25519_bytes());
        self.static_static = OnceLock::new();
        self
    }

    /// The pre-shared key for modifier `psk<location>` (32 bytes). Every psk the pattern
    /// names must be given; a location the pattern does not name is an error.
    pub fn psk(mut self, location: u8, psk: &[u8]) -> Result<Self> {
        if !self.protocol.pattern.psk_locations.contains(&location) {
            return Err(Error::InvalidParameter("the pattern has no psk at this location"));
        }
        let key = fixed_array::<PSK_LEN>(psk, "Noise psk")?;
        self.psks.retain(|(n, _)| *n != location);
        self.psks.push((location, key));
        Ok(self)
    }

    /// Prologue (§6): data both parties must agree on, hashed into the handshake but never
    /// sent. A mismatch makes the first encrypted payload fail to decrypt.
    pub fn prologue(mut self, prologue: &[u8]) -> Self {
        self.prologue = prologue.to_vec();
        self
    }

    /// Fix the ephemeral X25519 private key. Only for reproducing test vectors: reusing an
    /// ephemeral key destroys forward secrecy.
    #[doc(hidden)]
    pub fn fixed_ephemeral_for_vectors(mut self, secret: &[u8]) -> Result<Self> {
        self.fixed.ephemeral = Some(fixed_array(secret, "X25519 private key")?);
        Ok(self)
    }

    /// Fix the ML-KEM-768 key-generation seed `d ‖ z` (64 bytes) used for `e1`. Vectors only.
    #[doc(hidden)]
    pub fn fixed_kem_seed_for_vectors(mut self, seed: &[u8]) -> Result<Self> {
        self.fixed.kem_seed = Some(fixed_array(seed, "ML-KEM-768 seed")?);
        Ok(self)
    }

    /// Fix the ML-KEM-768 encapsulation randomness `m` (32 bytes) used for `ekem1`. Vectors
    /// only.
    #[doc(hidden)]
    pub fn fixed_kem_encapsulation_for_vectors(mut self, m: &[u8]) -> Result<Self> {
        self.fixed.kem_encaps = Some(fixed_array(m, "ML-KEM-768 encapsulation randomness")?);
        Ok(self)
    }

    /// Build the initiator's side.
    pub fn build_initiator(&self) -> Result<Handshake> {
        self.build(Role::Initiator)
    }

    /// Build the responder's side.
    pub fn build_responder(&self) -> Result<Handshake> {
        self.build(Role::Responder)
    }

    /// The cached `ss` DH result with the peer key it belongs to, computed on first use; only
    /// for patterns with an `ss` token and when both static keys are known.
    fn static_static(&self) -> Option<([u8; X25519_LEN], Zeroizing<[u8; X25519_LEN]>)> {
        if !self.protocol.pattern.messages.iter().any(|m| m.contains(&Token::Ss)) {
            return None;
        }
        let (s, rs) = (self.local_static.as_deref()?, self.remote_static?);
        let shared = self
            .static_static
            .get_or_init(|| dh::diffie_hellman(s, &rs).ok().map(|k| Zeroizing::new(*k.as_bytes())));
        shared.as_ref().map(|k| (rs, k.clone()))
    }

    /// Build either side, after checking that the configuration fits the pattern: a local
    /// static key exactly when our side has one, the peer's key when it is a pre-message, and
    /// every psk.
    pub fn build(&self, role: Role) -> Result<Handshake> {
        let pattern = &self.protocol.pattern;
        let base = pattern.base;
        let initiator = role == Role::Initiator;
        // Our static key is used if we send `s`, or it is our pre-message.
        let sends_s = pattern.messages.iter().enumerate().any(|(i, m)| (i % 2 == 0) == initiator && m.contains(&Token::S));
        let pre_local = if initiator { base.initiator_static_premessage() } else { base.responder_static_premessage() };
        let pre_remote = if initiator { base.responder_static_premessage() } else { base.initiator_static_premessage() };
        let peer_sends_s =
            pattern.messages.iter().enumerate().any(|(i, m)| (i % 2 == 0) != initiator && m.contains(&Token::S));
        match (sends_s || pre_local, self.local_static.is_some()) {
            (true, false) => return Err(Error::InvalidParameter("the pattern needs a local static key")),
            (false, true) => return Err(Error::InvalidParameter("the pattern has no local static key")),
            _ => {}
        }
        if pre_remote && self.remote_static.is_none() {
            return Err(Error::InvalidParameter("the pattern needs the remote static key"));
        }
        if !pre_remote && !peer_sends_s && self.remote_static.is_some() {
            return Err(Error::InvalidParameter("the pattern has no remote static key"));
        }
        for location in &pattern.psk_locations {
            if !self.psks.iter().any(|(n, _)| n == location) {
                return Err(Error::InvalidParameter("a psk named by the pattern is missing"));
            }
        }
        if !pattern.hfs && (self.fixed.kem_seed.is_some() || self.fixed.kem_encaps.is_some()) {
            return Err(Error::InvalidParameter("KEM randomness given for a pattern without hfs"));
        }
        let (rs, expected_remote) = if pre_remote { (self.remote_static, None) } else { (None, self.remote_static) };
        Ok(Handshake::new(Parts {
            protocol: self.protocol.clone(),
            role,
            s: self.local_static.clone(),
            s_pub: self.local_public,
            static_static: self.static_static(),
            rs,
            expected_remote,
            psks: self.psks.clone(),
            prologue: self.prologue.clone(),
            fixed: self.fixed.clone(),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn static_static_cached_once_and_discarded_on_key_change() {
        let (alice, bob) = (Identity::from_secret_bytes(&[1; 32], &[2; 32]), Identity::from_secret_bytes(&[3; 32], &[4; 32]));
        let b = NoiseBuilder::new("Noise_IK_25519_ChaChaPoly_BLAKE2s").unwrap().local_identity(&alice).remote_identity(bob.public());
        assert!(b.static_static.get().is_none(), "computed lazily");
        b.build_initiator().unwrap();
        let cached = b.static_static.get().unwrap().as_ref().unwrap();
        assert_eq!(cached.as_slice(), alice.diffie_hellman(bob.public()).unwrap().as_bytes());
        assert_eq!(b.local_public.as_ref(), Some(alice.public().x25519_bytes()));
        let b = b.remote_identity(alice.public());
        assert!(b.static_static.get().is_none());
        // Patterns without `ss` never compute it.
        let xx = NoiseBuilder::new("Noise_XX_25519_ChaChaPoly_BLAKE2s").unwrap().local_identity(&alice).remote_identity(bob.public());
        xx.build_initiator().unwrap();
        assert!(xx.static_static.get().is_none());
        // A raw secret gets its public key computed once, at the setter.
        let raw = NoiseBuilder::new("Noise_XX_25519_ChaChaPoly_BLAKE2s").unwrap().local_static_secret(&[2; 32]).unwrap();
        assert_eq!(raw.local_public.as_ref(), Some(alice.public().x25519_bytes()));
    }
}
