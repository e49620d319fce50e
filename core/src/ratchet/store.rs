//! The owner's private side of the prekeys: [`PrekeyStore`].

use x25519_dalek::{PublicKey, StaticSecret};

use super::bundle::{
    kem_prekey_message, signed_prekey_message, KemPrekeyKind, KemPrekeyPublic, OneTimePrekeyPublic, PrekeyBundle,
    SignedPrekeyPublic, FLAG_POST_QUANTUM, MAX_PREKEYS,
};
use super::kem::{self, KemSeed};
use super::sealed;
use super::secret::Key32;
use crate::dh::X25519_LEN;
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity, SIGNATURE_LEN};
use crate::random::{OsRandom, RandomSource};

pub(crate) const MAGIC: &[u8; 4] = b"SWPS";
const WHAT: &str = "sealed prekey store";
/// Default number of one-time X25519 prekeys.
pub const DEFAULT_ONE_TIME_PREKEYS: u16 = 100;
/// Default number of one-time ML-KEM-768 prekeys.
pub const DEFAULT_KEM_ONE_TIME_PREKEYS: u16 = 100;
/// Suggested grace period for a replaced signed prekey: initiators may still hold a bundle
/// fetched before the rotation, and their initial message may wait in a mailbox.
pub const DEFAULT_SIGNED_PREKEY_GRACE_SECS: u64 = 30 * 24 * 60 * 60;
/// Most replaced signed prekeys (and last-resort KEM prekeys) kept; the oldest goes first.
pub const MAX_RETIRED_SIGNED_PREKEYS: usize = 8;

/// How many prekeys a [`PrekeyStore`] keeps published, and whether it is post-quantum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrekeyOptions {
    /// One-time X25519 prekeys to keep (0 ..= 1000).
    pub one_time_prekeys: u16,
    /// One-time ML-KEM-768 prekeys to keep (0 ..= 1000; ignored without `post_quantum`).
    pub kem_one_time_prekeys: u16,
    /// Publish signed ML-KEM-768 prekeys (PQXDH). Without it only X3DH is possible.
    pub post_quantum: bool,
}

impl Default for PrekeyOptions {
    fn default() -> Self {
        Self {
            one_time_prekeys: DEFAULT_ONE_TIME_PREKEYS,
            kem_one_time_prekeys: DEFAULT_KEM_ONE_TIME_PREKEYS,
            post_quantum: true,
        }
    }
}

impl PrekeyOptions {
    fn check(&self) -> Result<()> {
        if usize::from(self.one_time_prekeys) > MAX_PREKEYS || usize::from(self.kem_one_time_prekeys) > MAX_PREKEYS {
            return Err(Error::InvalidParameter("at most 1000 one-time prekeys of each kind"));
        }
        Ok(())
    }

    fn kem_count(&self) -> usize {
        if self.post_quantum {
            usize::from(self.kem_one_time_prekeys)
        } else {
            0
        }
    }
}

#[derive(Clone)]
struct SignedPrekeySecret {
    id: u32,
    secret: Key32,
    public: [u8; X25519_LEN],
    flags: u8,
    signature: [u8; SIGNATURE_LEN],
    created_at: u64,
    retired_at: Option<u64>,
}

#[derive(Clone)]
struct OneTimeSecret {
    id: u32,
    secret: Key32,
    public: [u8; X25519_LEN],
}

#[derive(Clone)]
struct KemSecret {
    id: u32,
    kind: KemPrekeyKind,
    seed: KemSeed,
    signature: [u8; SIGNATURE_LEN],
    retired_at: Option<u64>,
}

/// Private keys an accepted initial message needs, and what to delete once it succeeded.
pub(crate) struct AcceptKeys {
    pub(crate) signed: Key32,
    pub(crate) one_time: Option<Key32>,
    pub(crate) kem: Option<KemSeed>,
    pub(crate) consume_one_time: Option<u32>,
    pub(crate) consume_kem: Option<u32>,
}

/// The owner's private prekeys: current and recently replaced signed prekeys, unused
/// one-time X25519 prekeys, and ML-KEM-768 prekeys kept as 64-byte seeds.
///
/// Secrets are boxed and zeroized on drop; `Debug` shows only counts. Persist it with
/// [`PrekeyStore::seal`] — after every [`crate::ratchet::Session::accept`], which deletes
/// the one-time prekeys it used, and atomically with the session it created.
pub struct PrekeyStore {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    owner: PublicIdentity,
    options: PrekeyOptions,
    next_signed_id: u32,
    next_one_time_id: u32,
    next_kem_id: u32,
    /// Newest first; `[0]` is current (not retired).
    signed: Vec<SignedPrekeySecret>,
    one_time: Vec<OneTimeSecret>,
    /// One-time keys and last-resort keys (current and retired), in increasing id order.
    kem: Vec<KemSecret>,
    generation: u64,
}

impl core::fmt::Debug for PrekeyStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PrekeyStore {{ one_time: {}, kem: {}, signed: {}, generation: {} }}",
            self.inner.one_time.len(),
            self.inner.kem.len(),
            self.inner.signed.len(),
            self.inner.generation
        )
    }
}

fn x25519_public(secret: &Key32) -> [u8; X25519_LEN] {
    PublicKey::from(&StaticSecret::from(*secret.bytes())).to_bytes()
}

fn next_id(counter: &mut u32) -> Result<u32> {
    let id = *counter;
    *counter = counter.checked_add(1).ok_or(Error::InvalidParameter("prekey ids exhausted"))?;
    Ok(id)
}

impl PrekeyStore {
    /// A new store with the default options (100 one-time X25519 prekeys, 100 one-time
    /// ML-KEM-768 prekeys, a last-resort ML-KEM-768 prekey). `now_unix` (seconds) dates the
    /// signed prekey, for rotation decisions.
    pub fn generate(identity: &Identity, now_unix: u64) -> Result<Self> {
        Self::generate_with_entropy(identity, PrekeyOptions::default(), now_unix, &mut OsRandom)
    }

    /// A new store with explicit options.
    pub fn generate_with_options(identity: &Identity, options: PrekeyOptions, now_unix: u64) -> Result<Self> {
        Self::generate_with_entropy(identity, options, now_unix, &mut OsRandom)
    }

    /// [`PrekeyStore::generate_with_options`] drawing randomness from `rng`, in this order:
    /// signed prekey (32), each one-time prekey (32 each), each one-time KEM seed (64 each),
    /// the last-resort KEM seed (64). Only for known-answer tests.
    #[doc(hidden)]
    pub fn generate_with_entropy(
        identity: &Identity,
        options: PrekeyOptions,
        now_unix: u64,
        rng: &mut dyn RandomSource,
    ) -> Result<Self> {
        options.check()?;
        let mut inner = Inner {
            owner: identity.public().clone(),
            options,
            next_signed_id: 1,
            next_one_time_id: 1,
            next_kem_id: 1,
            signed: Vec::new(),
            one_time: Vec::new(),
            kem: Vec::new(),
            generation: 0,
        };
        inner.push_signed(identity, now_unix, rng)?;
        inner.top_up(identity, rng)?;
        if options.post_quantum {
            inner.push_kem(identity, KemPrekeyKind::LastResort, rng)?;
        }
        Ok(Self { inner: Box::new(inner) })
    }

    /// The owner's public identity.
    pub fn identity(&self) -> &PublicIdentity {
        &self.inner.owner
    }

    /// The options this store was generated with.
    pub fn options(&self) -> PrekeyOptions {
        self.inner.options
    }

    /// Incremented by every change; written into the sealed form.
    pub fn generation(&self) -> u64 {
        self.inner.generation
    }

    /// The full bundle to publish: current signed prekey, every unused one-time prekey, every
    /// unused one-time ML-KEM prekey and the current last-resort one.
    pub fn bundle(&self) -> PrekeyBundle {
        let current = &self.inner.signed[0];
        PrekeyBundle {
            identity: self.inner.owner.clone(),
            signed: SignedPrekeyPublic {
                id: current.id,
                key: current.public,
                flags: current.flags,
                signature: current.signature,
            },
            one_time: self.inner.one_time.iter().map(|k| OneTimePrekeyPublic { id: k.id, key: k.public }).collect(),
            kem: self
                .inner
                .kem
                .iter()
                .filter(|k| k.retired_at.is_none())
                .map(|k| KemPrekeyPublic {
                    id: k.id,
                    kind: k.kind,
                    ek: kem::public_from_seed(&k.seed),
                    signature: k.signature,
                })
                .collect(),
        }
    }

    /// Unused one-time X25519 prekeys.
    pub fn one_time_prekey_count(&self) -> usize {
        self.inner.one_time.len()
    }

    /// Unused one-time ML-KEM prekeys.
    pub fn kem_one_time_prekey_count(&self) -> usize {
        self.inner.kem.iter().filter(|k| k.kind == KemPrekeyKind::OneTime).count()
    }

    /// Id of the current signed prekey.
    pub fn signed_prekey_id(&self) -> u32 {
        self.inner.signed[0].id
    }

    /// When the current signed prekey was made (the `now_unix` given then).
    pub fn signed_prekey_created_at(&self) -> u64 {
        self.inner.signed[0].created_at
    }

    /// Ids of the replaced signed prekeys still accepted, newest first.
    pub fn retired_signed_prekey_ids(&self) -> Vec<u32> {
        self.inner.signed[1..].iter().map(|k| k.id).collect()
    }

    /// Replace the signed prekey and the last-resort ML-KEM prekey. The old ones keep
    /// working for initial messages until [`PrekeyStore::remove_expired_signed_prekeys`]
    /// drops them (at most [`MAX_RETIRED_SIGNED_PREKEYS`] are kept). Publish the new bundle.
    pub fn rotate_signed_prekey(&mut self, identity: &Identity, now_unix: u64) -> Result<()> {
        self.rotate_signed_prekey_with_entropy(identity, now_unix, &mut OsRandom)
    }

    /// [`PrekeyStore::rotate_signed_prekey`] with randomness from `rng`: signed prekey (32),
    /// then, for a post-quantum store, the last-resort KEM seed (64).
    #[doc(hidden)]
    pub fn rotate_signed_prekey_with_entropy(
        &mut self,
        identity: &Identity,
        now_unix: u64,
        rng: &mut dyn RandomSource,
    ) -> Result<()> {
        self.check_owner(identity)?;
        let mut next = (*self.inner).clone();
        for k in next.signed.iter_mut().filter(|k| k.retired_at.is_none()) {
            k.retired_at = Some(now_unix);
        }
        for k in next.kem.iter_mut().filter(|k| k.kind == KemPrekeyKind::LastResort && k.retired_at.is_none()) {
            k.retired_at = Some(now_unix);
        }
        next.push_signed(identity, now_unix, rng)?;
        if next.options.post_quantum {
            next.push_kem(identity, KemPrekeyKind::LastResort, rng)?;
        }
        // Bound what is kept: the current key plus MAX_RETIRED_SIGNED_PREKEYS old ones.
        next.signed.truncate(1 + MAX_RETIRED_SIGNED_PREKEYS);
        let mut last_resort_ids: Vec<u32> =
            next.kem.iter().filter(|k| k.kind == KemPrekeyKind::LastResort).map(|k| k.id).collect();
        last_resort_ids.sort_unstable();
        let excess = last_resort_ids.len().saturating_sub(1 + MAX_RETIRED_SIGNED_PREKEYS);
        let drop: Vec<u32> = last_resort_ids.into_iter().take(excess).collect();
        next.kem.retain(|k| !drop.contains(&k.id));
        next.generation += 1;
        *self.inner = next;
        Ok(())
    }

    /// Forget replaced signed prekeys (and last-resort ML-KEM prekeys) retired more than
    /// `grace_secs` before `now_unix`. Returns how many signed prekeys were removed.
    pub fn remove_expired_signed_prekeys(&mut self, now_unix: u64, grace_secs: u64) -> usize {
        let expired = |retired: Option<u64>| retired.is_some_and(|t| now_unix.saturating_sub(t) > grace_secs);
        let before = self.inner.signed.len();
        self.inner.signed.retain(|k| !expired(k.retired_at));
        self.inner.kem.retain(|k| !expired(k.retired_at));
        let removed = before - self.inner.signed.len();
        if removed > 0 {
            self.inner.generation += 1;
        }
        removed
    }

    /// Generate one-time prekeys (X25519 and, if post-quantum, ML-KEM) until the counts in
    /// [`PrekeyOptions`] are reached again. Publish the new bundle afterwards.
    pub fn replenish(&mut self, identity: &Identity) -> Result<()> {
        self.replenish_with_entropy(identity, &mut OsRandom)
    }

    /// [`PrekeyStore::replenish`] with randomness from `rng`: new one-time prekeys (32 each),
    /// then new one-time KEM seeds (64 each).
    #[doc(hidden)]
    pub fn replenish_with_entropy(&mut self, identity: &Identity, rng: &mut dyn RandomSource) -> Result<()> {
        self.check_owner(identity)?;
        let mut next = (*self.inner).clone();
        next.top_up(identity, rng)?;
        next.kem.sort_by_key(|k| k.id);
        if next.one_time.len() != self.inner.one_time.len() || next.kem.len() != self.inner.kem.len() {
            next.generation += 1;
        }
        *self.inner = next;
        Ok(())
    }

    /// For a directory that hands out one-time prekeys (lowest ids first) before their
    /// initial messages arrive (`sealwire relay`): generate enough **new** one-time prekeys
    /// that the directory, which still holds `remaining_one_time` X25519 and
    /// `remaining_kem_one_time` ML-KEM one-time prekeys unclaimed, is back at this store's
    /// configured counts. [`PrekeyStore::replenish`] cannot do this: the claimed prekeys are
    /// still unused here (their initial messages may yet arrive), so they stay. When a kind
    /// would exceed [`MAX_PREKEYS`], its lowest-id ones — claimed longest ago — are dropped.
    /// Publish the bundle again afterwards.
    pub fn replenish_directory(
        &mut self,
        identity: &Identity,
        remaining_one_time: usize,
        remaining_kem_one_time: usize,
    ) -> Result<()> {
        self.check_owner(identity)?;
        let mut next = (*self.inner).clone();
        let rng: &mut dyn RandomSource = &mut OsRandom;
        let add_x = usize::from(next.options.one_time_prekeys).saturating_sub(remaining_one_time);
        let add_k = next.options.kem_count().saturating_sub(remaining_kem_one_time);
        for _ in 0..add_x {
            let secret = Key32::random(rng)?;
            let public = x25519_public(&secret);
            let id = next_id(&mut next.next_one_time_id)?;
            next.one_time.push(OneTimeSecret { id, secret, public });
        }
        for _ in 0..add_k {
            next.push_kem(identity, KemPrekeyKind::OneTime, rng)?;
        }
        if next.one_time.len() > MAX_PREKEYS {
            let excess = next.one_time.len() - MAX_PREKEYS;
            next.one_time.drain(..excess);
        }
        next.kem.sort_by_key(|k| k.id);
        let mut kem_one_time = next.kem.iter().filter(|k| k.kind == KemPrekeyKind::OneTime).count();
        while kem_one_time > MAX_PREKEYS {
            if let Some(i) = next.kem.iter().position(|k| k.kind == KemPrekeyKind::OneTime) {
                next.kem.remove(i);
            }
            kem_one_time -= 1;
        }
        if add_x + add_k > 0 {
            next.generation += 1;
        }
        *self.inner = next;
        Ok(())
    }

    fn check_owner(&self, identity: &Identity) -> Result<()> {
        if identity.public() != &self.inner.owner {
            return Err(Error::IdentityMismatch("the identity does not own this prekey store"));
        }
        Ok(())
    }

    /// Look up the private keys an initial message names. Nothing is removed here.
    pub(crate) fn keys_for(
        &self,
        identity: &Identity,
        signed_id: u32,
        one_time_id: Option<u32>,
        kem_id: Option<u32>,
    ) -> Result<(AcceptKeys, bool)> {
        self.check_owner(identity)?;
        let signed = self
            .inner
            .signed
            .iter()
            .find(|k| k.id == signed_id)
            .ok_or(Error::UnknownPrekey("signed prekey"))?;
        let post_quantum = signed.flags & FLAG_POST_QUANTUM != 0;
        let one_time = match one_time_id {
            None => None,
            Some(id) => match self.inner.one_time.iter().find(|k| k.id == id) {
                Some(k) => Some(k.secret.clone()),
                None if id < self.inner.next_one_time_id => return Err(Error::PrekeyAlreadyUsed),
                None => return Err(Error::UnknownPrekey("one-time prekey")),
            },
        };
        let (kem, consume_kem) = match kem_id {
            None => (None, None),
            Some(id) => match self.inner.kem.iter().find(|k| k.id == id) {
                Some(k) => {
                    let consume = (k.kind == KemPrekeyKind::OneTime).then_some(k.id);
                    (Some(k.seed.clone()), consume)
                }
                None if id < self.inner.next_kem_id && self.inner.options.post_quantum => {
                    return Err(Error::PrekeyAlreadyUsed)
                }
                None => return Err(Error::UnknownPrekey("KEM prekey")),
            },
        };
        Ok((
            AcceptKeys {
                signed: signed.secret.clone(),
                one_time,
                kem,
                consume_one_time: one_time_id,
                consume_kem,
            },
            post_quantum,
        ))
    }

    /// Delete the one-time prekeys an accepted initial message used.
    pub(crate) fn consume(&mut self, one_time_id: Option<u32>, kem_id: Option<u32>) {
        if let Some(id) = one_time_id {
            self.inner.one_time.retain(|k| k.id != id);
        }
        if let Some(id) = kem_id {
            self.inner.kem.retain(|k| !(k.id == id && k.kind == KemPrekeyKind::OneTime));
        }
        self.inner.generation += 1;
    }

    /// Seal the store under a 32-byte storage key (see `docs/RATCHET_FORMATS.md`).
    pub fn seal(&self, storage_key: &[u8]) -> Result<Vec<u8>> {
        self.seal_with_entropy(storage_key, &mut OsRandom)
    }

    /// [`PrekeyStore::seal`] with the 24-byte nonce from `rng`.
    #[doc(hidden)]
    pub fn seal_with_entropy(&self, storage_key: &[u8], rng: &mut dyn RandomSource) -> Result<Vec<u8>> {
        let body = zeroize::Zeroizing::new(self.inner.encode());
        sealed::seal(MAGIC, self.inner.generation, storage_key, &body, rng)
    }

    /// Seal with an explicit generation (the persistent store seals every blob of one commit
    /// at that commit's counter). The generation must not be below [`PrekeyStore::generation`].
    pub(crate) fn seal_at(&self, storage_key: &[u8], generation: u64, rng: &mut dyn RandomSource) -> Result<Vec<u8>> {
        if generation < self.inner.generation {
            return Err(Error::InvalidParameter("sealing generation below the store's generation"));
        }
        let body = zeroize::Zeroizing::new(self.inner.encode());
        sealed::seal(MAGIC, generation, storage_key, &body, rng)
    }

    /// Open a sealed store. Compare [`PrekeyStore::generation`] with the generation you last
    /// committed: a smaller one means an old copy was restored (see the session docs).
    pub fn open(blob: &[u8], storage_key: &[u8]) -> Result<Self> {
        let (generation, body) = sealed::open(MAGIC, WHAT, blob, storage_key)?;
        let mut inner = Inner::decode(&body)?;
        inner.generation = generation;
        Ok(Self { inner: Box::new(inner) })
    }

    /// [`PrekeyStore::open`], refusing a store older than `expected_generation` with
    /// [`Error::StaleState`]: an old store would accept one-time prekeys already used.
    pub fn open_checked(blob: &[u8], storage_key: &[u8], expected_generation: u64) -> Result<Self> {
        let s = Self::open(blob, storage_key)?;
        if s.inner.generation < expected_generation {
            return Err(Error::StaleState { found: s.inner.generation, expected: expected_generation });
        }
        Ok(s)
    }
}

impl Inner {
    fn push_signed(&mut self, identity: &Identity, now_unix: u64, rng: &mut dyn RandomSource) -> Result<()> {
        let secret = Key32::random(rng)?;
        let public = x25519_public(&secret);
        let id = next_id(&mut self.next_signed_id)?;
        let flags = if self.options.post_quantum { FLAG_POST_QUANTUM } else { 0 };
        let signature = identity.sign_protocol(&signed_prekey_message(id, &public, flags));
        self.signed.insert(0, SignedPrekeySecret { id, secret, public, flags, signature, created_at: now_unix, retired_at: None });
        Ok(())
    }

    fn push_kem(&mut self, identity: &Identity, kind: KemPrekeyKind, rng: &mut dyn RandomSource) -> Result<()> {
        let seed = KemSeed::random(rng)?;
        let id = next_id(&mut self.next_kem_id)?;
        let signature = identity.sign_protocol(&kem_prekey_message(id, kind, &kem::public_from_seed(&seed)));
        self.kem.push(KemSecret { id, kind, seed, signature, retired_at: None });
        Ok(())
    }

    fn top_up(&mut self, identity: &Identity, rng: &mut dyn RandomSource) -> Result<()> {
        while self.one_time.len() < usize::from(self.options.one_time_prekeys) {
            let secret = Key32::random(rng)?;
            let public = x25519_public(&secret);
            let id = next_id(&mut self.next_one_time_id)?;
            self.one_time.push(OneTimeSecret { id, secret, public });
        }
        let mut kem_one_time = self.kem.iter().filter(|k| k.kind == KemPrekeyKind::OneTime).count();
        while kem_one_time < self.options.kem_count() {
            self.push_kem(identity, KemPrekeyKind::OneTime, rng)?;
            kem_one_time += 1;
        }
        Ok(())
    }

    /// Plaintext of the sealed store (layout in `docs/RATCHET_FORMATS.md`).
    fn encode(&self) -> Vec<u8> {
        let id = self.owner.to_bytes();
        // Exact capacity: the buffer holds secrets and must not reallocate.
        let mut out = Vec::with_capacity(
            20 + id.len() + self.signed.len() * 118 + 2 + self.one_time.len() * 36 + 2 + self.kem.len() * 142,
        );
        out.extend_from_slice(&(id.len() as u16).to_be_bytes());
        out.extend_from_slice(&id);
        out.push(u8::from(self.options.post_quantum));
        out.extend_from_slice(&self.options.one_time_prekeys.to_be_bytes());
        out.extend_from_slice(&self.options.kem_one_time_prekeys.to_be_bytes());
        out.extend_from_slice(&self.next_signed_id.to_be_bytes());
        out.extend_from_slice(&self.next_one_time_id.to_be_bytes());
        out.extend_from_slice(&self.next_kem_id.to_be_bytes());
        out.push(self.signed.len() as u8);
        for k in &self.signed {
            out.extend_from_slice(&k.id.to_be_bytes());
            out.extend_from_slice(k.secret.bytes());
            out.push(k.flags);
            out.extend_from_slice(&k.signature);
            out.extend_from_slice(&k.created_at.to_be_bytes());
            put_time(&mut out, k.retired_at);
        }
        out.extend_from_slice(&(self.one_time.len() as u16).to_be_bytes());
        for k in &self.one_time {
            out.extend_from_slice(&k.id.to_be_bytes());
            out.extend_from_slice(k.secret.bytes());
        }
        out.extend_from_slice(&(self.kem.len() as u16).to_be_bytes());
        for k in &self.kem {
            out.extend_from_slice(&k.id.to_be_bytes());
            out.push(k.kind.to_byte());
            out.extend_from_slice(k.seed.bytes());
            out.extend_from_slice(&k.signature);
            put_time(&mut out, k.retired_at);
        }
        out
    }

    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, WHAT);
        let id_len = usize::from(r.u16()?);
        let owner = PublicIdentity::from_sealed_state(r.take(id_len)?)?;
        let post_quantum = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(Error::Malformed("prekey store flags")),
        };
        let options = PrekeyOptions { one_time_prekeys: r.u16()?, kem_one_time_prekeys: r.u16()?, post_quantum };
        options.check().map_err(|_| Error::Malformed("prekey store options"))?;
        let (next_signed_id, next_one_time_id, next_kem_id) = (r.u32()?, r.u32()?, r.u32()?);
        let s = usize::from(r.u8()?);
        if s == 0 || s > 1 + MAX_RETIRED_SIGNED_PREKEYS {
            return Err(Error::Malformed("prekey store: signed prekey count"));
        }
        let mut signed = Vec::with_capacity(s);
        for i in 0..s {
            let id = r.u32()?;
            let secret = Key32::new(r.array()?);
            let flags = r.u8()?;
            let signature = r.array()?;
            let created_at = u64::from_be_bytes(r.array()?);
            let retired_at = get_time(&mut r)?;
            if (i == 0) != retired_at.is_none() || id >= next_signed_id {
                return Err(Error::Malformed("prekey store: signed prekeys"));
            }
            let public = x25519_public(&secret);
            signed.push(SignedPrekeySecret { id, secret, public, flags, signature, created_at, retired_at });
        }
        let n = usize::from(r.u16()?);
        if n > MAX_PREKEYS {
            return Err(Error::Malformed("prekey store: one-time prekey count"));
        }
        let mut one_time = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.u32()?;
            let secret = Key32::new(r.array()?);
            if id >= next_one_time_id {
                return Err(Error::Malformed("prekey store: one-time prekey id"));
            }
            let public = x25519_public(&secret);
            one_time.push(OneTimeSecret { id, secret, public });
        }
        let m = usize::from(r.u16()?);
        if m > MAX_PREKEYS + 1 + MAX_RETIRED_SIGNED_PREKEYS {
            return Err(Error::Malformed("prekey store: KEM prekey count"));
        }
        let mut kem = Vec::with_capacity(m);
        for _ in 0..m {
            let id = r.u32()?;
            let kind = KemPrekeyKind::from_byte(r.u8()?, "prekey store: KEM prekey kind")?;
            let seed = KemSeed::new(r.array()?);
            let signature = r.array()?;
            let retired_at = get_time(&mut r)?;
            if id >= next_kem_id || (kind == KemPrekeyKind::OneTime && retired_at.is_some()) {
                return Err(Error::Malformed("prekey store: KEM prekeys"));
            }
            kem.push(KemSecret { id, kind, seed, signature, retired_at });
        }
        r.finish()?;
        let current_last_resort =
            kem.iter().filter(|k| k.kind == KemPrekeyKind::LastResort && k.retired_at.is_none()).count();
        if current_last_resort != usize::from(post_quantum) {
            return Err(Error::Malformed("prekey store: last-resort KEM prekey"));
        }
        Ok(Self { owner, options, next_signed_id, next_one_time_id, next_kem_id, signed, one_time, kem, generation: 0 })
    }
}

fn put_time(out: &mut Vec<u8>, t: Option<u64>) {
    match t {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            out.extend_from_slice(&t.to_be_bytes());
        }
    }
}

fn get_time(r: &mut Reader<'_>) -> Result<Option<u64>> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(u64::from_be_bytes(r.array()?))),
        _ => Err(Error::Malformed("prekey store: timestamp flag")),
    }
}
