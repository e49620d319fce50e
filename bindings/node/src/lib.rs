//! Node.js binding of sealwire (napi-rs v3).
//!
//! Thin layer: convert arguments, call `sealwire`, map errors. Every sealwire failure becomes a
//! JS `Error` whose `code` is the stable core code (`sealwire::ErrorKind::code()`), built in
//! exactly one place (`error::to_js_error`). Secrets never cross into JS: there is no getter for
//! private keys, and the handle classes carry no enumerable state.
//!
//! Modules: [`error`] (the error mapping), [`identity`] (`Identity`, `PublicIdentity`),
//! [`noise`] (`NoiseHandshake`, `NoiseTransport`, `NoiseUnorderedTransport`), [`envelope`]
//! (`seal` / `unseal`, `EnvelopeSealer` / `EnvelopeOpener`, `rewrap`, `EnvelopeHeader`,
//! `Keyring`, `KeyringKey`, `RootKey`, `XWingPublicKey`, `XWingKeyPair`, JavaScript key
//! providers), [`kms`] (`KmsKey`: Vault Transit / AWS KMS keys, asynchronous forms only;
//! `DataKeyCache`), [`messenger`] (`Messenger`, `PrekeyBundle`, `peerId`: asynchronous sessions,
//! X3DH / PQXDH and the Double Ratchet, persisted in SQLite or in a `SessionStore` written in
//! JavaScript, [`js_store`]), [`ratchet`] (`PrekeyStore`, `RatchetSession`: the same layer
//! without persistence), [`relay`] (`RelayClient`, `RelayAgent`: the prekey directory and
//! offline mailbox, network calls as Promises on the libuv pool), [`callback`] (calling JavaScript from Rust), [`config`] (`SecurityConfig`, `ConfigReport`,
//! `checkConfig`: the security configuration), [`agent`] (`Agent`: the agent facade, every
//! operation a Promise on the libuv pool). The stream and file
//! helpers (`stream.js`) and `MemorySessionStore` are plain JavaScript, exported with
//! everything here by the hand-written entry point `sealwire.js`.

use napi_derive::napi;

mod agent;
mod callback;
mod config;
mod envelope;
mod error;
mod hygiene;
mod identity;
mod js_store;
mod kms;
mod messenger;
mod noise;
mod ratchet;
mod relay;

/// Version of the sealwire native binding (the same as the Rust core's version).
// Lower-case on purpose: napi-rs registers a const under its Rust name (it ignores `js_name`).
#[allow(non_upper_case_globals)]
#[napi]
pub const version: &str = env!("CARGO_PKG_VERSION");
