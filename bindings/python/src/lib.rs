//! `sealwire._native`: the PyO3 extension behind the `sealwire` Python package.
//!
//! Thin by design: convert arguments, call the core crate, map errors. Conventions:
//!
//! * byte arguments accept any bytes-like object ([`input`]); results are `bytes`;
//! * every expensive call releases the GIL through [`detach`], and only ever touches
//!   Rust-owned or immutable data while released;
//! * core errors become the Python exceptions of `sealwire/exceptions.py` in one place
//!   ([`error`]);
//! * secrets stay inside `Identity`, the Noise objects, `Keyring`, `RootKey`,
//!   `XWingKeyPair`, `PrekeyStore` and `RatchetSession`; only explicit exports
//!   (`RootKey.to_hex`, `XWingKeyPair.seed`, sealed keyring files, prekey stores and
//!   sessions) return secret bytes, and sealed ones only under the caller's key.

use pyo3::prelude::*;

mod agent;
mod config;
mod envelope;
mod error;
mod hygiene;
mod identity;
mod input;
mod keyring;
mod kms;
mod messenger;
mod noise;
mod provider;
mod ratchet;
mod recipient;
mod relay;
mod store;
mod stream;

/// Run `f` with the GIL released (polars' `enter_polars` pattern): the one way this module
/// lets other Python threads run during Argon2, key generation, signing and verification,
/// Noise handshake messages, Noise transport encryption, envelope sealing and opening,
/// every `Messenger` operation (ratchet and prekey work, store reads and commits; a Python
/// session store re-attaches for its own calls) and the `PrekeyStore` / `RatchetSession`
/// key generation, DH, KEM, AEAD and sealing work, and every relay call (HTTP included).
///
/// `f` must not touch Python objects; its captures are `Send` (byte arguments are borrowed
/// from immutable `bytes` or copied into Rust memory beforehand, see [`input`]).
pub(crate) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    py.detach(f)
}

#[pymodule]
#[pyo3(name = "_native")]
fn sealwire_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<identity::PyIdentity>()?;
    m.add_class::<identity::PyPublicIdentity>()?;
    m.add_class::<noise::PyNoiseHandshake>()?;
    m.add_class::<noise::PyNoiseTransport>()?;
    m.add_class::<noise::PyNoiseUnorderedTransport>()?;
    m.add_function(wrap_pyfunction!(noise::noise_identity_payload, m)?)?;
    // envelope layer
    m.add_class::<envelope::PyEnvelopeHeader>()?;
    m.add_class::<keyring::PyKeyring>()?;
    m.add_class::<keyring::PyKeyringKey>()?;
    m.add_class::<keyring::PyKeyVersionInfo>()?;
    m.add_class::<keyring::PyRootKey>()?;
    m.add_class::<recipient::PyXWingKeyPair>()?;
    m.add_class::<recipient::PyXWingPublicKey>()?;
    m.add_class::<provider::PyWrapContext>()?;
    m.add_class::<kms::PyKmsKey>()?;
    m.add_class::<kms::PyKmsStats>()?;
    m.add_class::<kms::PyDataKeyCache>()?;
    m.add_class::<kms::PyDataKeyCacheStats>()?;
    m.add_class::<stream::PyEnvelopeWriter>()?;
    m.add_class::<stream::PyEnvelopeReader>()?;
    m.add_function(wrap_pyfunction!(envelope::seal, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::unseal, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::rewrap, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::seal_file, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::unseal_file, m)?)?;
    m.add_function(wrap_pyfunction!(envelope::provider_info, m)?)?;
    // asynchronous sessions (X3DH / PQXDH + Double Ratchet, persistent)
    m.add_class::<messenger::PyPrekeyBundle>()?;
    m.add_class::<messenger::PyMessenger>()?;
    m.add_class::<messenger::PyOutboxRecord>()?;
    m.add_class::<messenger::PyReceived>()?;
    m.add_class::<store::PyInboxRecord>()?;
    m.add_class::<store::PyReceiveCommit>()?;
    m.add_class::<ratchet::PyPrekeyStore>()?;
    m.add_class::<ratchet::PyRatchetSession>()?;
    // the relay (prekey directory and offline mailbox)
    m.add_class::<relay::PyRelayClient>()?;
    m.add_class::<relay::PyRelayAgent>()?;
    m.add_class::<relay::PyPrekeyStatus>()?;
    m.add_class::<relay::PyReceiveReport>()?;
    // the security configuration (docs/CONFIG.md) and the agent facade (docs/AGENT.md)
    m.add_class::<config::PySecurityConfig>()?;
    m.add_class::<config::PyConfigReport>()?;
    m.add_class::<config::PyConfigFinding>()?;
    m.add_function(wrap_pyfunction!(config::check_config, m)?)?;
    m.add_class::<agent::PyAgent>()?;
    m.add_class::<agent::PyChannelInfo>()?;
    m.add_class::<agent::PySendReport>()?;
    m.add_class::<agent::PyFlushReport>()?;
    m.add_class::<agent::PyMaintainReport>()?;
    m.add_class::<agent::PyAgentStats>()?;
    m.add_class::<agent::PyKnownPeer>()?;
    // telemetry scrubbing (docs/CONFIG.md, "Scrubbing rules"; wrapped by sealwire/hygiene.py)
    hygiene::register(m)?;
    // private, for the tests
    m.add_function(wrap_pyfunction!(error::_error_classes, m)?)?;
    m.add_function(wrap_pyfunction!(error::_raise_error, m)?)?;
    Ok(())
}
