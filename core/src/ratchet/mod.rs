//! Asynchronous sessions: X3DH / PQXDH from published prekey bundles, then the Double
//! Ratchet (header encryption on by default), with sealed persistence.
//!
//! * [`PrekeyStore`] — the owner's private prekeys; [`PrekeyStore::bundle`] is what it
//!   publishes ([`PrekeyBundle`]).
//! * [`Session::initiate`] — start a session from a peer's bundle, offline;
//!   [`Session::accept`] — the peer's side, from the first message.
//! * [`Session::encrypt`] / [`Session::decrypt`] — the Double Ratchet.
//! * [`Session::seal`] / [`Session::open_checked`] — persistence with rollback detection.
//!
//! Specifications followed: Signal's X3DH (revision 1), PQXDH, and the Double Ratchet
//! (revision 1, including §4 header encryption). Every choice the specifications leave open,
//! every KDF info string and every byte layout is in `docs/RATCHET_FORMATS.md`.
//!
//! ```
//! use sealwire::{Identity, ratchet::{PrekeyStore, Session}};
//! # fn main() -> sealwire::Result<()> {
//! let alice = Identity::generate()?;
//! let bob = Identity::generate()?;
//! let mut bob_store = PrekeyStore::generate(&bob, 1_700_000_000)?;
//! let bundle = bob_store.bundle(); // published, fetched by Alice
//!
//! let mut a = Session::initiate(&alice, bob.public(), &bundle)?;
//! let first = a.encrypt(b"hello bob")?;
//! let (mut b, plaintext) = Session::accept(&bob, &mut bob_store, &first)?;
//! assert_eq!(plaintext, b"hello bob");
//! let reply = b.encrypt(b"hello alice")?;
//! assert_eq!(a.decrypt(&reply)?, b"hello alice");
//! # Ok(()) }
//! ```

mod bundle;
mod kdf;
#[doc(hidden)]
pub mod kat;
mod kem;
mod message;
mod padding;
pub(crate) mod sealed;
mod secret;
mod session;
mod state;
mod store;

#[cfg(test)]
mod tests;

pub use bundle::{KemPrekeyKind, PrekeyBundle, MAX_PREKEYS};
pub use message::{initial_message_sender, message_kind, KeyAgreement, MessageKind};
pub use padding::MAX_PLAINTEXT_LEN;
pub use sealed::STORAGE_KEY_LEN;
pub use session::{Session, SessionOptions};
pub use state::{MAX_SKIP, MAX_SKIPPED_CHAINS, MAX_SKIPPED_KEYS};
pub use store::{
    PrekeyOptions, PrekeyStore, DEFAULT_KEM_ONE_TIME_PREKEYS, DEFAULT_ONE_TIME_PREKEYS,
    DEFAULT_SIGNED_PREKEY_GRACE_SECS, MAX_RETIRED_SIGNED_PREKEYS,
};
