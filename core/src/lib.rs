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
//! * [`relay`] — formats and request signatures of `sealwire relay` (prekey directory and
//!   offline mailbox); with the cargo feature `relay`, its HTTP client and `RelayAgent`.
//! * [`agent`] (cargo feature `agent`) — `Agent`: one object per agent composing all of the
//!   above from a home directory and a security configuration.
//! * [`store`] — the persistent session store and `Messenger`: send commits state and an
//!   outbox record before the ciphertext leaves; receive commits state, the consumed prekey
//!   and a dedupe record in one transaction.
//!
//! Every decoder is strict: malformed input yields a typed [`Error`], never a panic and never a
//! silently defaulted value. Secret material lives in types that zeroize on drop and never
//! appear in `Debug` output or error messages.
//!
//! The README's quick start, kept compiling and running here:
//!
//! ```
//! # fn main() -> sealwire::Result<()> {
//! use sealwire::{Identity, PublicIdentity};
//!
//! let alice = Identity::generate()?;
//! let wire: Vec<u8> = alice.public().to_bytes();           // publish this
//! let seen = PublicIdentity::from_bytes(&wire)?;           // verifies the key binding
//! println!("{} {}", seen.did(), seen.fingerprint());
//! let sig = alice.sign(b"hello")?;
//! seen.verify(b"hello", &sig)?;
//! let blob = alice.export_with_params(b"passphrase", sealwire::KdfParams::MINIMUM)?;
//! let again = Identity::import(&blob, b"passphrase")?;
//! assert_eq!(again.public(), alice.public());
//!
//! // Noise IK, then transport
//! use sealwire::noise::NoiseBuilder;
//! let bob = Identity::generate()?;
//! let mut i = NoiseBuilder::new("Noise_IK_25519_ChaChaPoly_BLAKE2s")?
//!     .local_identity(&alice).remote_identity(bob.public()).build_initiator()?;
//! let mut r = NoiseBuilder::new("Noise_IK_25519_ChaChaPoly_BLAKE2s")?
//!     .local_identity(&bob).build_responder()?;
//! r.read_message(&i.write_message(b"")?)?;
//! i.read_message(&r.write_message(b"")?)?;
//! let (mut ti, mut tr) = (i.into_transport()?, r.into_transport()?);
//! assert_eq!(tr.decrypt(&ti.encrypt(b"hi")?)?, b"hi");
//!
//! // Envelope: per-object data key, wrapped for a keyring and for Bob
//! use sealwire::envelope::{self, EncryptionContext, Keyring};
//! let mut ring = Keyring::new();
//! ring.create_key("memories")?;
//! let ctx = EncryptionContext::from_pairs([("kind", "memory")])?;
//! let sealed = envelope::seal(b"note", &ctx, &[&ring, bob.public()])?;
//! assert_eq!(envelope::open(&sealed, &ctx, &[&bob])?, b"note");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod aead;
#[cfg(feature = "agent")]
pub mod agent;
mod xchacha;
#[cfg(feature = "config")]
pub mod config;
pub mod dh;
mod encoding;
pub mod envelope;
mod error;
pub mod hygiene;
#[cfg(any(feature = "kms", feature = "config"))]
mod kms_uri;
pub mod identity;
pub mod noise;
mod random;
pub mod ratchet;
pub mod relay;
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
