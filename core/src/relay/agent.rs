//! [`RelayAgent`]: a [`Messenger`] whose transport is a relay (cargo feature `relay`).
//!
//! A thin layer: the messenger keeps every guarantee (state committed before a ciphertext
//! leaves; receive commits state, dedupe record and plaintext together); this layer only
//! moves bytes in the right order:
//!
//! * send: `Messenger::send` (committed) → seal for the peer's mailbox → deposit →
//!   `Messenger::mark_sent`. After a crash, [`RelayAgent::flush_outbox`] deposits the same
//!   ratchet bytes again under the same deposit id.
//! * receive: list → fetch → open → `Messenger::receive` (committed, or `None` for a
//!   duplicate) → acknowledge on the relay. Never acknowledged before the commit returned.

use std::collections::HashMap;

use super::client::{PrekeyStatus, RelayClient};
use super::mailbox::{MailboxDescriptor, MailboxKeys};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::PublicIdentity;
use crate::store::{Messenger, PeerId, Received, SessionStore};

/// What one [`RelayAgent::receive`] call did.
#[derive(Debug, Default)]
pub struct ReceiveReport {
    /// New messages, committed to the messenger's inbox (handle, then `Messenger::ack`).
    pub received: Vec<Received>,
    /// Copies of messages already received (acknowledged on the relay, nothing else).
    pub duplicates: usize,
    /// Deposits that could not be opened or decrypted (anyone may deposit): acknowledged
    /// and dropped.
    pub rejected: usize,
    /// A relay error that ended the batch early, *after* messages were committed (they are
    /// in `received`, in order; nothing is lost: an unacknowledged one comes back as a
    /// duplicate). Without any committed message the error is returned as `Err` instead.
    pub interrupted: Option<Error>,
}

/// A [`Messenger`] connected to a relay: its own mailbox, the directory, and the peers'
/// mailboxes.
pub struct RelayAgent<S: SessionStore> {
    messenger: Messenger<S>,
    client: RelayClient,
    mailbox: MailboxKeys,
    peers: HashMap<PeerId, MailboxDescriptor>,
}

impl<S: SessionStore> core::fmt::Debug for RelayAgent<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RelayAgent {{ known_mailboxes: {} }}", self.peers.len())
    }
}

/// Errors that mean "this deposit is not a message for us" rather than "we failed": the
/// message is dropped (acknowledged) instead of blocking the mailbox.
pub(crate) fn is_rejection(kind: ErrorKind) -> bool {
    kind.is_decode()
        || matches!(
            kind,
            ErrorKind::DecryptionFailed
                | ErrorKind::BadSignature
                | ErrorKind::InvalidPublicKey
                | ErrorKind::NonContributory
                | ErrorKind::Replay
                | ErrorKind::UnknownPrekey
                | ErrorKind::PrekeyAlreadyUsed
                | ErrorKind::TooManySkippedMessages
                | ErrorKind::IdentityMismatch
                | ErrorKind::SessionMismatch
                | ErrorKind::MessageTooLarge
        )
}

impl<S: SessionStore> RelayAgent<S> {
    /// Wrap `messenger` (mailbox epoch 0). Nothing is sent yet: call
    /// [`RelayAgent::publish`] once (and after prekey changes).
    pub fn new(messenger: Messenger<S>, client: RelayClient) -> Result<Self> {
        let mailbox = MailboxKeys::derive(messenger.identity_secret(), 0)?;
        Ok(Self { messenger, client, mailbox, peers: HashMap::new() })
    }

    /// The messenger (inbox, acknowledgements, counters, prekey maintenance).
    pub fn messenger(&mut self) -> &mut Messenger<S> {
        &mut self.messenger
    }

    /// The relay client.
    pub fn client(&self) -> &RelayClient {
        &self.client
    }

    /// Our mailbox keys.
    pub fn mailbox(&self) -> &MailboxKeys {
        &self.mailbox
    }

    /// Give the messenger back.
    pub fn into_messenger(self) -> Messenger<S> {
        self.messenger
    }

    /// Open our mailbox and publish our bundle with its mailbox descriptor.
    pub fn publish(&mut self) -> Result<PrekeyStatus> {
        self.publish_with(false)
    }

    /// [`RelayAgent::publish`] dropping everything the relay holds for us first (after
    /// `Messenger::recover_from_rollback`).
    pub fn publish_reset(&mut self) -> Result<PrekeyStatus> {
        self.publish_with(true)
    }

    fn publish_with(&mut self, reset: bool) -> Result<PrekeyStatus> {
        self.client.open_mailbox(&self.mailbox)?;
        let bundle = self.messenger.bundle()?;
        let identity = self.messenger.identity_secret();
        let descriptor = self.mailbox.descriptor(identity);
        self.client.publish_bundle(identity, &bundle, Some(&descriptor), reset)
    }

    /// Ask the relay how many one-time prekeys are left; when it says to replenish, add new
    /// prekeys to the messenger (`Messenger::replenish_directory_prekeys`, committed) and
    /// publish again. Returns the status after.
    pub fn maintain(&mut self) -> Result<PrekeyStatus> {
        let status = self.client.prekey_status(self.messenger.identity_secret())?;
        if !status.replenish {
            return Ok(status);
        }
        let remaining = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        self.messenger.replenish_directory_prekeys(remaining(status.one_time), remaining(status.kem_one_time))?;
        self.publish()
    }

    /// Start a session with `peer` from a bundle claimed on the relay (one one-time prekey
    /// is used up). `peer` is the identity the caller expects (pinned out of band); a bundle
    /// of anyone else is [`Error::IdentityMismatch`].
    pub fn connect(&mut self, peer: &PublicIdentity) -> Result<()> {
        let pid = crate::store::peer_id(peer);
        let claimed = self.client.claim_bundle(&pid)?;
        if claimed.bundle.identity() != peer {
            return Err(Error::IdentityMismatch("the claimed bundle belongs to another identity"));
        }
        self.messenger.connect(peer, &claimed.bundle)?;
        if let Some(d) = claimed.mailbox {
            self.peers.insert(pid, d);
        }
        Ok(())
    }

    /// Encrypt for `peer` (committed with an outbox record), deposit, mark sent. Returns
    /// the outbox id. If the deposit fails the record stays in the outbox:
    /// [`RelayAgent::flush_outbox`] deposits it later (same bytes, same deposit id).
    pub fn send(&mut self, peer: &PeerId, plaintext: &[u8]) -> Result<u64> {
        let record = self.messenger.send(peer, plaintext)?;
        self.deliver(&record.peer, &record.ciphertext)?;
        self.messenger.mark_sent(record.id)?;
        Ok(record.id)
    }

    /// Deposit every outbox record not yet marked sent (after a restart or a failed
    /// deposit), oldest first; stops at the first failure. Returns how many were deposited.
    pub fn flush_outbox(&mut self) -> Result<usize> {
        let mut n = 0;
        for record in self.messenger.pending_outbox()? {
            self.deliver(&record.peer, &record.ciphertext)?;
            self.messenger.mark_sent(record.id)?;
            n += 1;
        }
        Ok(n)
    }

    /// Deposit one ratchet message for `peer` (its mailbox descriptor fetched once). Used by
    /// `agent::Agent` for outbox records it routes itself.
    pub(crate) fn deliver(&mut self, peer: &PeerId, ciphertext: &[u8]) -> Result<()> {
        let descriptor = match self.peers.get(peer) {
            Some(d) => d.clone(),
            None => {
                let (identity, d) = self.client.mailbox_of(peer)?;
                if crate::store::peer_id(&identity) != *peer {
                    return Err(Error::IdentityMismatch("the relay returned another identity"));
                }
                self.peers.insert(*peer, d.clone());
                d
            }
        };
        self.client.deposit(&descriptor, ciphertext)?;
        Ok(())
    }

    /// Read up to `limit` messages from our mailbox in deposit order: for each, fetch,
    /// open, `Messenger::receive` (which commits), and only then acknowledge it on the
    /// relay. Returns the committed messages in order; handle each, then
    /// `Messenger::ack` it. (After a crash, handle `Messenger::pending_inbox` first: it holds
    /// what was committed but not yet acknowledged by the application.)
    ///
    /// Errors: a relay error before anything was committed is returned as `Err`; after, it
    /// ends the batch and is reported in [`ReceiveReport::interrupted`] so that the
    /// committed messages are not lost to the caller. A store failure stops the loop; the
    /// message it concerned is not acknowledged.
    pub fn receive(&mut self, limit: u32) -> Result<ReceiveReport> {
        self.receive_waiting(limit, 0)
    }

    /// [`RelayAgent::receive`] that, with an empty mailbox, waits up to `wait_secs` for a
    /// deposit (a long poll, see [`RelayClient::list_wait`]).
    pub fn receive_waiting(&mut self, limit: u32, wait_secs: u32) -> Result<ReceiveReport> {
        let mut report = ReceiveReport::default();
        // One request for the batch (bodies included), one to acknowledge it.
        let (batch, _more) = self.client.fetch_batch(&self.mailbox, 0, limit, wait_secs)?;
        let mut done = Vec::with_capacity(batch.len());
        let mut failure = None;
        for (entry, sealed) in batch {
            let outcome = self.mailbox.open(&sealed).and_then(|m| self.messenger.receive(&m));
            match outcome {
                Ok(Some(r)) => report.received.push(r),
                Ok(None) => report.duplicates += 1,
                Err(e) if is_rejection(e.kind()) => report.rejected += 1,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            // Committed (or a duplicate / not for us): it may go.
            done.push(entry.seq);
        }
        if !done.is_empty() {
            if let Err(e) = self.client.ack_many(&self.mailbox, &done) {
                // Not acknowledged: they come back and are recognized as duplicates.
                failure.get_or_insert(e);
            }
        }
        match failure {
            Some(e) if report.received.is_empty() => Err(e),
            Some(e) => {
                report.interrupted = Some(e);
                Ok(report)
            }
            None => Ok(report),
        }
    }
}
