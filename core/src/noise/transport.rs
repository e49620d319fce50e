//! Transport phase (Noise rev 34 §5, §11): one CipherState per direction after Split().
//!
//! * [`Transport`] — ordered, reliable channels (TCP, pipes): implicit counter nonces exactly
//!   as the spec and every other Noise library (snow, noise-c, ...) use them, REKEY (§11.3) on
//!   demand or every N messages.
//! * [`UnorderedTransport`] — datagrams that may be lost, duplicated or reordered: each
//!   message carries its 8-byte nonce, and a sliding window of [`REPLAY_WINDOW`] nonces
//!   rejects duplicates and messages that are too old (§11.4 "out-of-order transport
//!   messages"); optional rekeying by nonce epochs. Layout in `docs/FORMATS.md ("Noise")`.
//!
//! In both, a failed decryption changes no state at all.

use super::cipher::{CipherState, MAX_NONCE, TAG_LEN};
use super::handshake::check_remote;
use super::MAX_MESSAGE_LEN;
use crate::dh::X25519_LEN;
use crate::error::{Error, Result};
use crate::identity::PublicIdentity;

/// Largest plaintext of one ordered transport message (65535 − 16-byte tag).
pub const MAX_PLAINTEXT_LEN: usize = MAX_MESSAGE_LEN - TAG_LEN;
/// Length of the explicit nonce that prefixes each [`UnorderedTransport`] message.
pub const EXPLICIT_NONCE_LEN: usize = 8;
/// Largest plaintext of one unordered transport message (65535 − 8 − 16).
pub const MAX_UNORDERED_PLAINTEXT_LEN: usize = MAX_MESSAGE_LEN - EXPLICIT_NONCE_LEN - TAG_LEN;
/// How many nonces behind the newest one an [`UnorderedTransport`] still accepts.
pub const REPLAY_WINDOW: u64 = 1024;

const WHAT: &str = "Noise transport message";

/// What a finished handshake hands to a transport.
pub(crate) struct Keys {
    pub(crate) send: Option<CipherState>,
    pub(crate) recv: Option<CipherState>,
    pub(crate) handshake_hash: Vec<u8>,
    pub(crate) remote_static: Option<[u8; X25519_LEN]>,
    pub(crate) initiator: bool,
}

/// Session facts shared by both transport kinds.
macro_rules! session_accessors {
    () => {
        /// The final handshake hash: the channel-binding value of this session (§11.2).
        pub fn handshake_hash(&self) -> &[u8] {
            &self.handshake_hash
        }

        /// The peer's static X25519 key, if the pattern has one.
        pub fn remote_static(&self) -> Option<[u8; X25519_LEN]> {
            self.remote_static
        }

        /// [`Error::RemoteKeyMismatch`] unless the peer's static key is `expected`.
        pub fn expect_remote_static(&self, expected: &[u8]) -> Result<()> {
            check_remote(self.remote_static, expected)
        }

        /// [`Error::RemoteKeyMismatch`] unless the peer's static key is `peer`'s X25519 key.
        pub fn expect_remote_identity(&self, peer: &PublicIdentity) -> Result<()> {
            check_remote(self.remote_static, peer.x25519_bytes())
        }

        /// True on the side that initiated the handshake.
        pub fn is_initiator(&self) -> bool {
            self.initiator
        }
    };
}

fn sender(c: &Option<CipherState>) -> Result<&CipherState> {
    c.as_ref().ok_or(Error::OutOfTurn("one-way pattern: this side only receives"))
}

fn receiver(c: &Option<CipherState>) -> Result<&CipherState> {
    c.as_ref().ok_or(Error::OutOfTurn("one-way pattern: this side only sends"))
}

/// Whether the message with nonce `n` is the last one before an automatic rekey.
pub(crate) fn rekey_due(interval: u64, n: u64) -> bool {
    interval != 0 && n.wrapping_add(1).is_multiple_of(interval)
}

/// Ordered transport: implicit nonces, optional automatic rekeying.
///
/// Wire format: each message is a plain Noise transport message, `ciphertext ‖ 16-byte tag`,
/// at most 65535 bytes; the application delimits messages (see
/// [`encrypt_framed`](Self::encrypt_framed) for one way to do it).
pub struct Transport {
    send: Option<CipherState>,
    recv: Option<CipherState>,
    handshake_hash: Vec<u8>,
    remote_static: Option<[u8; X25519_LEN]>,
    initiator: bool,
    rekey_interval: u64,
}

impl core::fmt::Debug for Transport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Transport")
            .field("initiator", &self.initiator)
            .field("sending_nonce", &self.send.as_ref().map(CipherState::nonce))
            .field("receiving_nonce", &self.recv.as_ref().map(CipherState::nonce))
            .field("rekey_interval", &self.rekey_interval)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(keys: Keys) -> Self {
        let Keys { send, recv, handshake_hash, remote_static, initiator } = keys;
        Self { send, recv, handshake_hash, remote_static, initiator, rekey_interval: 0 }
    }

    session_accessors!();

    /// Length of the message [`encrypt`](Self::encrypt) produces for `plaintext_len` bytes
    /// (plaintext + 16-byte tag), without using a nonce. Fails as `encrypt` would on the
    /// length alone: [`Error::MessageTooLarge`], [`Error::OutOfTurn`] (receive-only side).
    pub fn encrypted_len(&self, plaintext_len: usize) -> Result<usize> {
        sender(&self.send)?;
        if plaintext_len > MAX_PLAINTEXT_LEN {
            return Err(Error::MessageTooLarge { actual: plaintext_len.saturating_add(TAG_LEN), limit: MAX_MESSAGE_LEN });
        }
        Ok(plaintext_len + TAG_LEN)
    }

    /// Length of the plaintext [`decrypt`](Self::decrypt) returns for a `message_len`-byte
    /// message (if it authenticates): `message_len − 16`, without using a nonce. Fails as
    /// `decrypt` would on the length alone: [`Error::MessageTooLarge`], [`Error::Truncated`],
    /// [`Error::OutOfTurn`] (send-only side).
    pub fn decrypted_len(&self, message_len: usize) -> Result<usize> {
        if message_len > MAX_MESSAGE_LEN {
            return Err(Error::MessageTooLarge { actual: message_len, limit: MAX_MESSAGE_LEN });
        }
        let len = message_len.checked_sub(TAG_LEN).ok_or(Error::Truncated(WHAT))?;
        receiver(&self.recv)?;
        Ok(len)
    }

    /// Encrypt one message (at most [`MAX_PLAINTEXT_LEN`] bytes of plaintext). One
    /// allocation: the returned message.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.encrypted_len(plaintext.len())?];
        self.encrypt_into(plaintext, &mut out)?;
        Ok(out)
    }

    /// [`encrypt`](Self::encrypt) into a caller's buffer, without allocating: writes the
    /// [`encrypted_len`](Self::encrypted_len)`(plaintext.len())` bytes of the message at the
    /// start of `out` and returns that length. A shorter `out` is [`Error::InvalidLength`]
    /// (nothing is written and no nonce is used).
    pub fn encrypt_into(&mut self, plaintext: &[u8], out: &mut [u8]) -> Result<usize> {
        let len = self.encrypted_len(plaintext.len())?;
        let actual = out.len();
        let dst = out.get_mut(..len).ok_or(Error::InvalidLength { what: "output buffer", expected: len, actual })?;
        let interval = self.rekey_interval;
        let c = self.send.as_mut().ok_or(Error::OutOfTurn("one-way pattern: this side only receives"))?;
        let rekey = rekey_due(interval, c.nonce());
        c.encrypt_into(&[], plaintext, dst, rekey)?;
        if rekey {
            crate::hygiene::emit::noise_rekey("send", "interval");
        }
        Ok(len)
    }

    /// Decrypt the next message from the peer. Any failure (wrong size, tampering, a message
    /// out of order) leaves the transport unchanged: the genuine next message still decrypts.
    /// One allocation: the returned plaintext.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.decrypted_len(message.len())?];
        self.decrypt_into(message, &mut out)?;
        Ok(out)
    }

    /// [`decrypt`](Self::decrypt) into a caller's buffer, without allocating: writes the
    /// [`decrypted_len`](Self::decrypted_len)`(message.len())` bytes of plaintext at the start
    /// of `out` and returns that length. A shorter `out` is [`Error::InvalidLength`]. On any
    /// failure the transport is unchanged; if the message failed authentication, the bytes of
    /// `out` that would have held the plaintext are zero (other errors are found before
    /// anything is written).
    pub fn decrypt_into(&mut self, message: &[u8], out: &mut [u8]) -> Result<usize> {
        let len = self.decrypted_len(message.len())?;
        let actual = out.len();
        let dst = out.get_mut(..len).ok_or(Error::InvalidLength { what: "output buffer", expected: len, actual })?;
        let interval = self.rekey_interval;
        let c = self.recv.as_mut().ok_or(Error::OutOfTurn("one-way pattern: this side only sends"))?;
        let rekey = rekey_due(interval, c.nonce());
        c.decrypt_into(&[], message, dst, rekey)?;
        if rekey {
            crate::hygiene::emit::noise_rekey("receive", "interval");
        }
        Ok(len)
    }

    /// For all-or-nothing multi-message decryption (framing): a copy of the receiving state,
    /// to be put back with [`commit_receiver`](Self::commit_receiver).
    pub(crate) fn receiver_copy(&self) -> Result<CipherState> {
        receiver(&self.recv)?.try_clone()
    }

    pub(crate) fn commit_receiver(&mut self, c: CipherState) {
        self.recv = Some(c);
    }

    pub(crate) fn rekey_interval(&self) -> u64 {
        self.rekey_interval
    }

    /// Rekey automatically after every `messages` messages in each direction (0 turns it off,
    /// the default). Both parties must use the same interval: the receiver rekeys after the
    /// same message the sender did. Rekeying (§11.3) limits what a stolen key decrypts to the
    /// messages since the last rekey.
    pub fn set_rekey_interval(&mut self, messages: u64) {
        self.rekey_interval = messages;
    }

    /// REKEY the sending key now (§11.3). The peer must call
    /// [`rekey_incoming`](Self::rekey_incoming) at the same point of the message stream.
    pub fn rekey_outgoing(&mut self) -> Result<()> {
        self.send.as_mut().ok_or(Error::OutOfTurn("one-way pattern: this side only receives"))?.rekey()?;
        crate::hygiene::emit::noise_rekey("send", "manual");
        Ok(())
    }

    /// REKEY the receiving key now (§11.3).
    pub fn rekey_incoming(&mut self) -> Result<()> {
        self.recv.as_mut().ok_or(Error::OutOfTurn("one-way pattern: this side only sends"))?.rekey()?;
        crate::hygiene::emit::noise_rekey("receive", "manual");
        Ok(())
    }

    /// Number of messages sent so far (the next sending nonce); `None` on the receive-only
    /// side of a one-way pattern.
    pub fn sending_nonce(&self) -> Option<u64> {
        self.send.as_ref().map(CipherState::nonce)
    }

    /// Number of messages received so far (the next receiving nonce).
    pub fn receiving_nonce(&self) -> Option<u64> {
        self.recv.as_ref().map(CipherState::nonce)
    }

    #[cfg(test)]
    pub(crate) fn set_nonces_for_test(&mut self, n: u64) {
        if let Some(c) = self.send.as_mut() {
            c.set_nonce(n);
        }
        if let Some(c) = self.recv.as_mut() {
            c.set_nonce(n);
        }
    }
}

/// Sliding window over the newest [`REPLAY_WINDOW`] nonces (bit `i` set ⇔ nonce `top − i`
/// was accepted).
#[derive(Debug, Clone, Default)]
struct ReplayWindow {
    top: Option<u64>,
    bits: [u64; (REPLAY_WINDOW / 64) as usize],
}

impl ReplayWindow {
    fn check(&self, n: u64) -> Result<()> {
        let Some(top) = self.top else { return Ok(()) };
        if n > top {
            return Ok(());
        }
        let age = top - n;
        if age >= REPLAY_WINDOW {
            return Err(Error::Replay("older than the replay window"));
        }
        if self.bit(age) {
            return Err(Error::Replay("duplicate message"));
        }
        Ok(())
    }

    fn bit(&self, age: u64) -> bool {
        let (word, bit) = ((age / 64) as usize, age % 64);
        self.bits.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Record `n` (already checked).
    fn accept(&mut self, n: u64) {
        match self.top {
            Some(top) if n <= top => {
                let age = top - n;
                if let Some(w) = self.bits.get_mut((age / 64) as usize) {
                    *w |= 1 << (age % 64);
                }
            }
            previous => {
                let shift = previous.map_or(REPLAY_WINDOW, |top| n - top);
                self.shift(shift);
                self.bits[0] |= 1;
                self.top = Some(n);
            }
        }
    }

    /// Age every entry by `by` (bits move to higher indices; those past the window drop).
    fn shift(&mut self, by: u64) {
        if by >= REPLAY_WINDOW {
            self.bits = Default::default();
            return;
        }
        let words = (by / 64) as usize;
        let bits = (by % 64) as u32;
        let len = self.bits.len();
        for i in (0..len).rev() {
            let lo = i.checked_sub(words).and_then(|j| self.bits.get(j)).copied().unwrap_or(0);
            let below = i.checked_sub(words + 1).and_then(|j| self.bits.get(j)).copied().unwrap_or(0);
            self.bits[i] = if bits == 0 { lo } else { (lo << bits) | (below >> (64 - bits)) };
        }
    }
}

/// How many rekey epochs ahead of the newest accepted one an [`UnorderedTransport`] will
/// derive keys for. Bounds the work a forged far-future nonce can cause; a real peer can only
/// get that far ahead if more than this many epochs' worth of its messages were all lost.
pub const MAX_EPOCH_SKIP: u64 = 64;

/// Receiving keys of an [`UnorderedTransport`]: the key of the newest epoch seen and of the
/// one before it (the replay window never reaches further back, see `set_rekey_interval`).
struct EpochKeys {
    epoch: u64,
    current: CipherState,
    previous: Option<CipherState>,
}

/// Transport for unordered, lossy channels (UDP, message queues that may redeliver).
///
/// Wire format of each message: `nonce (8 bytes, big-endian) ‖ AEAD ciphertext ‖ tag`, at
/// most 65535 bytes in all. The AEAD uses the spec's nonce encoding for the cipher and empty
/// associated data, so a message is exactly a Noise transport message under an explicit
/// nonce; a wrong nonce fails authentication. The receiver accepts each nonce once, within a
/// window of the newest [`REPLAY_WINDOW`] nonces.
///
/// Optional rekeying by epochs (see [`set_rekey_interval`](Self::set_rekey_interval)):
/// message `n` is encrypted under `REKEY^(n / interval)(k)`, so the receiver can tell the key
/// of any message from its nonce, whatever the order of arrival.
pub struct UnorderedTransport {
    send: Option<CipherState>,
    recv: Option<EpochKeys>,
    window: ReplayWindow,
    rekey_interval: u64,
    handshake_hash: Vec<u8>,
    remote_static: Option<[u8; X25519_LEN]>,
    initiator: bool,
}

impl core::fmt::Debug for UnorderedTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UnorderedTransport")
            .field("initiator", &self.initiator)
            .field("sending_nonce", &self.send.as_ref().map(CipherState::nonce))
            .field("newest_received", &self.window.top)
            .field("rekey_interval", &self.rekey_interval)
            .finish_non_exhaustive()
    }
}

impl UnorderedTransport {
    pub(crate) fn new(keys: Keys) -> Self {
        let Keys { send, recv, handshake_hash, remote_static, initiator } = keys;
        let recv = recv.map(|current| EpochKeys { epoch: 0, current, previous: None });
        Self { send, recv, window: ReplayWindow::default(), rekey_interval: 0, handshake_hash, remote_static, initiator }
    }

    session_accessors!();

    /// Rekey every `messages` nonces (0, the default, never rekeys): nonces
    /// `[j·messages, (j+1)·messages)` use the key after `j` REKEYs. Both parties must set the
    /// same value, before the first message in either direction; it must be 0 or at least
    /// [`REPLAY_WINDOW`] (so the window spans at most two epochs). Otherwise
    /// [`Error::InvalidParameter`].
    pub fn set_rekey_interval(&mut self, messages: u64) -> Result<()> {
        if messages != 0 && messages < REPLAY_WINDOW {
            return Err(Error::InvalidParameter("unordered rekey interval must be 0 or at least the replay window"));
        }
        let sent = self.send.as_ref().is_some_and(|c| c.nonce() != 0);
        if sent || self.window.top.is_some() {
            return Err(Error::InvalidParameter("the rekey interval must be set before the first message"));
        }
        self.rekey_interval = messages;
        Ok(())
    }

    /// Length of the message [`encrypt`](Self::encrypt) produces for `plaintext_len` bytes
    /// (8-byte nonce + plaintext + 16-byte tag), without using a nonce. Fails as `encrypt`
    /// would on the length alone: [`Error::MessageTooLarge`], [`Error::OutOfTurn`].
    pub fn encrypted_len(&self, plaintext_len: usize) -> Result<usize> {
        sender(&self.send)?;
        if plaintext_len > MAX_UNORDERED_PLAINTEXT_LEN {
            return Err(Error::MessageTooLarge {
                actual: plaintext_len.saturating_add(EXPLICIT_NONCE_LEN + TAG_LEN),
                limit: MAX_MESSAGE_LEN,
            });
        }
        Ok(plaintext_len + EXPLICIT_NONCE_LEN + TAG_LEN)
    }

    /// Length of the plaintext [`decrypt`](Self::decrypt) returns for a `message_len`-byte
    /// message (if it is accepted): `message_len − 24`, without changing any state. Fails as
    /// `decrypt` would on the length alone: [`Error::MessageTooLarge`], [`Error::Truncated`],
    /// [`Error::OutOfTurn`].
    pub fn decrypted_len(&self, message_len: usize) -> Result<usize> {
        if message_len > MAX_MESSAGE_LEN {
            return Err(Error::MessageTooLarge { actual: message_len, limit: MAX_MESSAGE_LEN });
        }
        let len = message_len.checked_sub(EXPLICIT_NONCE_LEN + TAG_LEN).ok_or(Error::Truncated(WHAT))?;
        if self.recv.is_none() {
            return Err(Error::OutOfTurn("one-way pattern: this side only sends"));
        }
        Ok(len)
    }

    /// Encrypt one message (at most [`MAX_UNORDERED_PLAINTEXT_LEN`] bytes of plaintext) under
    /// the next nonce, which is sent in front of it.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        if plaintext.len() > MAX_UNORDERED_PLAINTEXT_LEN {
            return Err(Error::MessageTooLarge {
                actual: plaintext.len() + EXPLICIT_NONCE_LEN + TAG_LEN,
                limit: MAX_MESSAGE_LEN,
            });
        }
        let mut out = vec![0u8; self.encrypted_len(plaintext.len())?];
        let interval = self.rekey_interval;
        let c = self.send.as_mut().ok_or(Error::OutOfTurn("one-way pattern: this side only receives"))?;
        let n = c.nonce();
        let (prefix, body) = out.split_at_mut(EXPLICIT_NONCE_LEN);
        prefix.copy_from_slice(&n.to_be_bytes());
        let rekey = rekey_due(interval, n);
        c.encrypt_into(&[], plaintext, body, rekey)?;
        if rekey {
            crate::hygiene::emit::noise_rekey("send", "interval");
        }
        Ok(out)
    }

    /// Decrypt a message in any order. Duplicates and messages older than the window are
    /// [`Error::Replay`]; a failure of any kind leaves the transport unchanged.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        if message.len() > MAX_MESSAGE_LEN {
            return Err(Error::MessageTooLarge { actual: message.len(), limit: MAX_MESSAGE_LEN });
        }
        if message.len() < EXPLICIT_NONCE_LEN + TAG_LEN {
            return Err(Error::Truncated(WHAT));
        }
        let (prefix, ct) = message.split_at(EXPLICIT_NONCE_LEN);
        let mut nonce = [0u8; EXPLICIT_NONCE_LEN];
        nonce.copy_from_slice(prefix);
        let n = u64::from_be_bytes(nonce);
        if n == MAX_NONCE {
            return Err(Error::NonceExhausted);
        }
        let keys = self.recv.as_ref().ok_or(Error::OutOfTurn("one-way pattern: this side only sends"))?;
        self.window.check(n)?;
        let epoch = n.checked_div(self.rekey_interval).unwrap_or(0);
        let mut out = vec![0u8; ct.len() - TAG_LEN];
        let next = if epoch == keys.epoch {
            keys.current.decrypt_at_into(n, &[], ct, &mut out)?;
            None
        } else if epoch < keys.epoch {
            // Within the window, so exactly one epoch back (interval ≥ window).
            let previous = keys.previous.as_ref().filter(|_| epoch + 1 == keys.epoch);
            let previous = previous.ok_or(Error::Replay("older than the replay window"))?;
            previous.decrypt_at_into(n, &[], ct, &mut out)?;
            None
        } else {
            if epoch - keys.epoch > MAX_EPOCH_SKIP {
                return Err(Error::DecryptionFailed);
            }
            let mut current = keys.current.try_clone()?;
            let mut previous = None;
            for _ in keys.epoch..epoch {
                let older = current.try_clone()?;
                current.rekey()?;
                previous = Some(older);
            }
            current.decrypt_at_into(n, &[], ct, &mut out)?;
            // `previous` now holds the key of epoch − 1; older keys are dropped.
            Some(EpochKeys { epoch, current, previous })
        };
        // Commit only after authentication succeeded.
        if let Some(next) = next {
            self.recv = Some(next);
            crate::hygiene::emit::noise_rekey("receive", "interval");
        }
        self.window.accept(n);
        Ok(out)
    }

    /// The nonce the next sent message will carry.
    pub fn sending_nonce(&self) -> Option<u64> {
        self.send.as_ref().map(CipherState::nonce)
    }

    #[cfg(test)]
    pub(crate) fn set_sending_nonce_for_test(&mut self, n: u64) {
        if let Some(c) = self.send.as_mut() {
            c.set_nonce(n);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn window_semantics() {
        let mut w = ReplayWindow::default();
        for n in [5u64, 3, 7, 6, 2000, 1000, 978] {
            w.check(n).unwrap();
            w.accept(n);
        }
        for n in [5u64, 3, 7, 2000, 1000, 978] {
            // 5, 3, 7 are now too old: with top 2000 the oldest accepted nonce is 977.
            assert!(matches!(w.check(n), Err(Error::Replay(_))), "{n}");
        }
        assert_eq!(w.check(977), Ok(()));
        assert_eq!(w.check(976), Err(Error::Replay("older than the replay window")));
        assert_eq!(w.check(1000), Err(Error::Replay("duplicate message")));
        w.check(2001).unwrap();
        w.accept(2001);
        assert_eq!(w.check(2000), Err(Error::Replay("duplicate message")));
        assert_eq!(w.check(977), Err(Error::Replay("older than the replay window")));
        assert_eq!(w.check(978), Err(Error::Replay("duplicate message")));
        // Exhaustive comparison against a naive model over a pseudo-random walk.
        let mut w = ReplayWindow::default();
        let mut seen = std::collections::BTreeSet::new();
        let mut top = 0u64;
        let mut x = 12345u64;
        for _ in 0..20000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let n = (top + 40).saturating_sub((x >> 33) % 1200);
            let model_ok = !seen.contains(&n) && (seen.is_empty() || n + REPLAY_WINDOW > top);
            assert_eq!(w.check(n).is_ok(), model_ok, "nonce {n} top {top}");
            if model_ok {
                w.accept(n);
                seen.insert(n);
                top = top.max(n);
            }
        }
    }
}
