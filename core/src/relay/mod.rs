//! `sealwire relay`: the prekey directory and offline mailbox (protocol in `docs/RELAY.md`).
//!
//! Always compiled (the server uses them too):
//! * [`MailboxKeys`] — an agent's mailbox keys, derived from its identity; the mailbox
//!   [`MailboxAddress`] is a hash of the mailbox signing key, not the identity.
//! * [`MailboxDescriptor`] (`SWMD`) — what senders need, signed by the identity;
//!   [`MailboxDescriptor::seal`] wraps a ratchet message into a sealed mailbox message
//!   (`SWMM`, HPKE) that hides the sender from the relay; [`MailboxKeys::open`] unwraps it.
//! * [`RequestAuth`], [`sign_request`], [`signing_bytes`] — signed requests (Ed25519 over a
//!   domain-separated canonical string with timestamp and nonce).
//! * [`BundleParts`] — how a directory stores a bundle so that a fetch claims exactly one
//!   one-time prekey of each kind.
//!
//! With the cargo feature `relay`: [`RelayClient`] (blocking HTTP, `ureq`) and
//! [`RelayAgent`], a `Messenger` whose transport is the relay (never acknowledges a message
//! before the messenger committed it).

#[cfg(feature = "relay")]
mod agent;
#[cfg(feature = "relay")]
mod client;
mod directory;
mod mailbox;
mod request;

#[cfg(test)]
mod tests;

#[cfg(feature = "relay")]
pub use agent::{ReceiveReport, RelayAgent};
#[cfg(feature = "agent")]
pub(crate) use agent::is_rejection;
#[cfg(feature = "relay")]
pub use client::{ClaimedBundle, MailboxEntry, MailboxPage, PrekeyStatus, RelayClient, RelayOptions, SealedBatch};
pub use directory::BundleParts;
pub use mailbox::{
    check_sealed_message, deposit_id, mailbox_address, MailboxAddress, MailboxDescriptor, MailboxKeys, DESCRIPTOR_LEN,
    MIN_SEALED_MESSAGE_LEN,
};
pub use request::{
    hex_array, hex_lower, sign_request, sign_request_with_nonce, signing_bytes, RequestAuth, RequestSigner, HEADER_KEY,
    HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, NONCE_LEN,
};
