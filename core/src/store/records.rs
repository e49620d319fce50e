//! The sealed blobs a [`super::Messenger`] hands its store, and the message id.
//!
//! All three use the sealed-state container of `ratchet::sealed` (magic, version,
//! generation in the authenticated header; XChaCha20-Poly1305 under a key derived from the
//! caller's storage key and the magic), with the generation set to the store counter of the
//! commit that wrote them. Layouts are in `docs/STORE.md`.
//!
//! * `SWSI` — the agent's identity (its two 32-byte secrets).
//! * `SWSR` — a session record: every session with one peer, current first, plus the
//!   per-peer sent / received message counts. The peer id is inside, so a record moved to
//!   another peer's row is refused.
//! * `SWIN` — one decrypted message waiting for the application's acknowledgement, bound to
//!   its inbox id, sender and message id.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::traits::{MessageId, PeerId};
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity, ED25519_LEN};
use crate::random::RandomSource;
use crate::ratchet::sealed;
use crate::ratchet::Session;

const IDENTITY_MAGIC: &[u8; 4] = b"SWSI";
const IDENTITY_WHAT: &str = "sealed store identity";
const RECORD_MAGIC: &[u8; 4] = b"SWSR";
const RECORD_WHAT: &str = "sealed session record";
const INBOX_MAGIC: &[u8; 4] = b"SWIN";
const INBOX_WHAT: &str = "sealed inbox message";
const MESSAGE_ID_LABEL: &[u8] = b"SEALWIRE_MESSAGE_ID_v1";

/// Most sessions kept per peer: the current one and up to four older ones, so messages
/// still in flight on a replaced session (simultaneous initiation, a peer that restarted
/// with a new session) still decrypt. The oldest is dropped first.
pub const MAX_SESSIONS_PER_PEER: usize = 5;

/// The id of a wire message: `SHA-256("SEALWIRE_MESSAGE_ID_v1" ‖ message)`. The receiver
/// records it so that a message delivered twice (a resent outbox record, a replay) is
/// recognized without decrypting it.
pub fn message_id(message: &[u8]) -> MessageId {
    let mut h = Sha256::new();
    h.update(MESSAGE_ID_LABEL);
    h.update(message);
    h.finalize().into()
}

/// A peer's id: its Ed25519 public key.
pub fn peer_id(peer: &PublicIdentity) -> PeerId {
    *peer.ed25519_bytes()
}

pub(crate) fn seal_identity(identity: &Identity, key: &[u8], generation: u64, rng: &mut dyn RandomSource) -> Result<Vec<u8>> {
    let (ed, x) = identity.secret_bytes();
    let mut body = Zeroizing::new(Vec::with_capacity(2 * ED25519_LEN));
    body.extend_from_slice(ed.as_ref());
    body.extend_from_slice(x.as_ref());
    sealed::seal(IDENTITY_MAGIC, generation, key, &body, rng)
}

pub(crate) fn open_identity(blob: &[u8], key: &[u8]) -> Result<(Identity, u64)> {
    let (generation, body) = sealed::open(IDENTITY_MAGIC, IDENTITY_WHAT, blob, key)?;
    let mut r = Reader::new(&body, IDENTITY_WHAT);
    let ed = Zeroizing::new(r.array::<ED25519_LEN>()?);
    let x = Zeroizing::new(r.array::<32>()?);
    r.finish()?;
    Ok((Identity::from_secret_bytes(&ed, &x), generation))
}

/// Every session with one peer, current first, and the per-peer message counts.
pub(crate) struct PeerRecord {
    pub(crate) peer: PeerId,
    /// Messages committed for sending to this peer, ever (across sessions).
    pub(crate) sent: u64,
    /// Messages received from this peer and committed, ever.
    pub(crate) received: u64,
    /// Current first; at most [`MAX_SESSIONS_PER_PEER`]; never empty.
    pub(crate) sessions: Vec<Session>,
}

impl PeerRecord {
    pub(crate) fn new(peer: PeerId, session: Session) -> Self {
        Self { peer, sent: 0, received: 0, sessions: vec![session] }
    }

    /// Make `session` current; older sessions beyond the limit are dropped.
    pub(crate) fn push_current(&mut self, session: Session) {
        self.sessions.insert(0, session);
        self.sessions.truncate(MAX_SESSIONS_PER_PEER);
    }

    /// Move session `i` to the front (it just decrypted a message: the peer uses it).
    pub(crate) fn promote(&mut self, i: usize) {
        if i > 0 && i < self.sessions.len() {
            let s = self.sessions.remove(i);
            self.sessions.insert(0, s);
        }
    }

    pub(crate) fn seal(&self, key: &[u8], generation: u64, rng: &mut dyn RandomSource) -> Result<Vec<u8>> {
        let bodies: Vec<Zeroizing<Vec<u8>>> = self.sessions.iter().map(Session::to_body).collect();
        // Exact capacity: the buffer holds secrets and must never reallocate.
        let len = 32 + 8 + 8 + 1 + bodies.iter().map(|b| 8 + 4 + b.len()).sum::<usize>();
        let mut body = Zeroizing::new(Vec::with_capacity(len));
        body.extend_from_slice(&self.peer);
        body.extend_from_slice(&self.sent.to_be_bytes());
        body.extend_from_slice(&self.received.to_be_bytes());
        body.push(self.sessions.len() as u8);
        for (s, b) in self.sessions.iter().zip(&bodies) {
            body.extend_from_slice(&s.generation().to_be_bytes());
            body.extend_from_slice(&(b.len() as u32).to_be_bytes());
            body.extend_from_slice(b);
        }
        sealed::seal(RECORD_MAGIC, generation, key, &body, rng)
    }

    /// Open `peer`'s record; returns it and the generation (store counter) it was sealed at.
    pub(crate) fn open(blob: &[u8], key: &[u8], peer: &PeerId) -> Result<(Self, u64)> {
        let (generation, body) = sealed::open(RECORD_MAGIC, RECORD_WHAT, blob, key)?;
        let mut r = Reader::new(&body, RECORD_WHAT);
        let stored_peer: PeerId = r.array()?;
        if &stored_peer != peer {
            return Err(Error::Malformed("session record: stored under another peer"));
        }
        let sent = r.u64()?;
        let received = r.u64()?;
        let n = usize::from(r.u8()?);
        if n == 0 || n > MAX_SESSIONS_PER_PEER {
            return Err(Error::Malformed("session record: session count"));
        }
        let mut sessions = Vec::with_capacity(n);
        for _ in 0..n {
            let g = r.u64()?;
            let len = r.u32()? as usize;
            let s = Session::from_body(r.take(len)?, g)?;
            if &peer_id(s.peer_identity()) != peer {
                return Err(Error::Malformed("session record: session with another peer"));
            }
            sessions.push(s);
        }
        r.finish()?;
        Ok((Self { peer: stored_peer, sent, received, sessions }, generation))
    }
}

pub(crate) fn seal_inbox(
    key: &[u8],
    id: u64,
    peer: &PeerId,
    message_id: &MessageId,
    plaintext: &[u8],
    rng: &mut dyn RandomSource,
) -> Result<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::with_capacity(64 + plaintext.len()));
    body.extend_from_slice(peer);
    body.extend_from_slice(message_id);
    body.extend_from_slice(plaintext);
    sealed::seal(INBOX_MAGIC, id, key, &body, rng)
}

/// Open an inbox entry and check it belongs to the row it was read from.
pub(crate) fn open_inbox(blob: &[u8], key: &[u8], id: u64, peer: &PeerId, message_id: &MessageId) -> Result<Vec<u8>> {
    let (generation, body) = sealed::open(INBOX_MAGIC, INBOX_WHAT, blob, key)?;
    let mut r = Reader::new(&body, INBOX_WHAT);
    let p: PeerId = r.array()?;
    let m: MessageId = r.array()?;
    if generation != id || &p != peer || &m != message_id {
        return Err(Error::Malformed("inbox message does not belong to its record"));
    }
    Ok(r.rest().to_vec())
}
