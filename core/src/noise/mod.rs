//! Noise Protocol Framework (revision 34) handshakes and transport, plus the KEM-based
//! hybrid forward secrecy extension (`hfs`, revision 1) with ML-KEM-768.
//!
//! Supported, selected by the standard protocol name:
//!
//! * patterns: the fundamental interactive patterns `NN NK NX KN KK KX XN XK XX IN IK IX` and
//!   the one-way `N K X`; modifiers `psk0`..`pskN` (any valid combination) and `hfs` (on the
//!   interactive patterns, not combined with psk);
//! * DH `25519` (with `+MLKEM768` for hfs); ciphers `ChaChaPoly`, `AESGCM`; hashes `SHA256`,
//!   `SHA512`, `BLAKE2s`, `BLAKE2b`.
//!
//! Flow: [`NoiseBuilder`] → [`Handshake`] (write/read messages) → [`Transport`] (ordered) or
//! [`UnorderedTransport`] (explicit nonces, replay window). Formats and token processing are
//! documented in `docs/FORMATS.md ("Noise")`.
//!
//! The local static key normally comes from an [`Identity`]; the peer is
//! named by its [`PublicIdentity`](crate::PublicIdentity). In `XX`, each side can send
//! [`identity_payload`] and the other checks it with [`Handshake::verify_identity_payload`].

mod builder;
mod cipher;
mod framing;
mod handshake;
mod hash;
mod kem;
mod name;
mod pattern;
mod symmetric;
mod transport;

pub use builder::{NoiseBuilder, PSK_LEN};
pub use framing::MAX_FRAME_CHUNK;
pub use handshake::Handshake;
pub use transport::{
    Transport, UnorderedTransport, EXPLICIT_NONCE_LEN, MAX_EPOCH_SKIP, MAX_PLAINTEXT_LEN, MAX_UNORDERED_PLAINTEXT_LEN,
    REPLAY_WINDOW,
};

use crate::identity::Identity;

/// Largest Noise message, handshake or transport (§3).
pub const MAX_MESSAGE_LEN: usize = 65535;
/// Length of an ML-KEM-768 encapsulation key as sent in `e1`.
pub const MLKEM768_PUBLIC_LEN: usize = kem::PUBLIC_LEN;
/// Length of an ML-KEM-768 ciphertext as sent in `ekem1`.
pub const MLKEM768_CIPHERTEXT_LEN: usize = kem::CIPHERTEXT_LEN;

/// Which side of the handshake a party plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends the first handshake message.
    Initiator,
    /// Answers it.
    Responder,
}

/// The handshake payload by which an agent presents its identity: the canonical encoding of
/// its [`PublicIdentity`](crate::PublicIdentity). Send it in a message where the payload is
/// encrypted (in `XX`: the second and third messages); the receiver calls
/// [`Handshake::verify_identity_payload`].
pub fn identity_payload(identity: &Identity) -> Vec<u8> {
    identity.public().to_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
