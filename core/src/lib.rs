//! sealwire — encrypted agent-to-agent communication.
//!
//! This crate holds every protocol and format; the C ABI (`sealwire-ffi`), the Python and
//! Node bindings and the CLI are thin layers over it. Layers:
//!
//! * [`identity`] — per-agent Ed25519 signing key and X25519 exchange key, a signed
//!   [`PublicIdentity`], `did:key`, fingerprints and passphrase-encrypted export.
//! * [`noise`] — Noise Protocol Framework handshakes (IK, XX, NK, KK, ..., psk, and the
//!   hybrid `hfs` with ML-KEM-768) and the transport that follows.
//! * [`envelope`] — envelope encryption for data at rest: per-object data keys, framed
//!   STREAM segments with key commitment, wrapped by keyring KEKs or recipients' public keys
//!   (HPKE with X25519 or X-Wing), rewrap without touching the payload.
//! * [`ratchet`] — asynchronous sessions: X3DH / PQXDH from published prekey bundles, then
//!   the Double Ratchet with header encryption, persisted as sealed, generation-counted state.
//!
//! Every decoder is strict: malformed input yields a typed [`Error`], never a panic and never a
//! silently defaulted value. Secret material lives in types that zeroize on drop and never
//! appear in `Debug` output or error messages.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod aead;
pub mod dh;
mod encoding;
pub mod envelope;
mod error;
pub mod identity;
pub mod noise;
mod random;
pub mod ratchet;
pub mod store;

/// Deterministic randomness for generating and replaying known-answer vectors. Not part of
/// the stable API; never use it outside tests.
#[doc(hidden)]
pub mod deterministic {
    pub use crate::random::{ByteTape, OsRandom, RandomSource};
}

pub use error::{Error, ErrorKind, Result};

/// The implementation compiled in for ChaCha20-Poly1305 and AES-256-GCM on the bulk paths
/// (Noise handshake and transport, envelope segments): `"rustcrypto"` by default, `"ring"`
/// with the cargo feature `aead-ring`. Wire formats do not depend on it.
pub const AEAD_BACKEND: &str = aead::BACKEND;
pub use identity::{Identity, KdfParams, PublicIdentity, SIGNATURE_LEN};
