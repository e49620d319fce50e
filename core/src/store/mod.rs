//! Persistent, crash-safe asynchronous sessions: [`Messenger`] over a [`SessionStore`].
//!
//! * [`SessionStore`] — the storage interface (object-safe, bytes and integers only, one
//!   transaction per commit), for applications and bindings that bring their own database.
//! * [`SqliteStore`] (feature `sqlite`, on by default) — the default: one SQLite file,
//!   WAL, `synchronous=FULL`. [`MemoryStore`] — the in-memory reference implementation.
//! * [`Messenger`] — identity, prekeys and every peer's sessions on top of a store:
//!   [`Messenger::send`] commits the new state and an outbox record before returning the
//!   ciphertext; [`Messenger::receive`] commits state, consumed prekey, dedupe record and
//!   the plaintext in one transaction and returns `None` for a message already received.
//!
//! Everything stored is sealed under the caller's 32-byte storage key (AEAD, with the
//! store counter of the writing commit as the authenticated generation), except public
//! values (ciphertexts, message ids, peer ids, the counter). Schema, transaction
//! boundaries, the crash-safety argument and rollback detection: `docs/STORE.md`.
//!
//! ```
//! use sealwire::{Identity, ratchet::PrekeyOptions, store::{MemoryStore, Messenger}};
//! # fn main() -> sealwire::Result<()> {
//! let key = [7u8; 32]; // the application's storage key (from its key store)
//! let opts = PrekeyOptions { one_time_prekeys: 5, kem_one_time_prekeys: 5, post_quantum: true };
//! let mut alice = Messenger::create(MemoryStore::new(), Identity::generate()?, &key, opts, 0)?;
//! let mut bob = Messenger::create(MemoryStore::new(), Identity::generate()?, &key, opts, 0)?;
//!
//! let bundle = bob.bundle()?; // published by Bob
//! alice.connect(&bob.identity().clone(), &bundle)?;
//! let out = alice.send(&bob.peer_id(), b"hello")?; // committed before we see the bytes
//! // ... hand out.ciphertext to the transport, then:
//! alice.mark_sent(out.id)?;
//!
//! let got = bob.receive(&out.ciphertext)?.expect("new message");
//! assert_eq!(got.plaintext, b"hello");
//! bob.ack(got.id)?; // after handling it durably
//! assert!(bob.receive(&out.ciphertext)?.is_none()); // a duplicate
//! # Ok(()) }
//! ```

mod memory;
mod messenger;
mod records;
#[cfg(feature = "sqlite")]
mod sqlite;
mod traits;

#[cfg(test)]
mod tests;

pub use memory::MemoryStore;
pub use messenger::{Messenger, Received};
pub use records::{message_id, peer_id, MAX_SESSIONS_PER_PEER};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteStore, SCHEMA_VERSION};
pub use traits::{InboxRecord, MessageId, OutboxRecord, PeerId, ReceiveCommit, SessionStore};
