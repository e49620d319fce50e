//! C ABI for sealwire: `libsealwire.so` / `libsealwire.a` and `include/sealwire.h`.
//!
//! A thin layer: it converts arguments, calls the `sealwire` core and maps errors to
//! [`sealwire_result`] codes. Conventions (written out for C users at the top of the header,
//! see `cbindgen.toml`):
//!
//! * every fallible function returns a `sealwire_result`; out-parameters are written only on
//!   success (the one exception: `*written` on `SEALWIRE_BUFFER_TOO_SMALL`);
//! * every body runs inside the panic boundary of [`panic`]: nothing unwinds into C;
//! * every pointer is checked for NULL; input buffers may be NULL when their length is 0;
//! * handles are opaque boxes; `_free(NULL)` is a no-op; Noise handles (which change with
//!   every message) keep their state in a `Slot` (module `slot`) that is poisoned by a panic;
//! * byte and string outputs go to caller buffers with a required-length query; buffers this
//!   library allocates (randomized outputs: identity exports, sealed envelopes, keyring
//!   blobs, sealed prekey stores and sessions, ratchet messages; and ratchet plaintexts,
//!   whose length is known only after decryption) are released with [`sealwire_bytes_free`],
//!   which zeroizes them.
//!
//! All `unsafe` code that touches caller pointers is in the `ptr` module; the public functions
//! only call its helpers, each call with a `SAFETY` note.
#![allow(non_camel_case_types)] // C names: sealwire_identity, sealwire_result, ...

mod identity;
mod noise;
mod noise_handshake;
mod noise_transport;
mod panic;
mod ptr;
mod public;
mod result;
mod slot;

// The envelope layer comes after identity and Noise in the generated header (cbindgen
// follows module order).
mod envelope;
mod envelope_context;
mod envelope_rewrap;
mod envelope_stream;
mod key_set;
mod keyring;
mod xwing;

// Remote KMS key providers and the data-key cache (issue 6).
mod kms;
mod data_key_cache;

// The asynchronous-session layer (X3DH / PQXDH bundles and prekey stores, Double Ratchet
// sessions), then the persistent Messenger over it.
mod ratchet_bundle;
mod ratchet_prekeys;
mod ratchet_session;
mod ratchet_tape;

mod messenger;

// The relay client and the messenger whose transport is a relay (issue 7).
mod relay;

// The security configuration, then the agent facade over every layer (issue 8).
mod config;
mod agent;

use core::ffi::c_char;

use zeroize::Zeroize;

pub use agent::*;
pub use config::*;
pub use data_key_cache::*;
pub use envelope::*;
pub use envelope_context::*;
pub use envelope_rewrap::*;
pub use envelope_stream::*;
pub use identity::*;
pub use key_set::*;
pub use keyring::*;
pub use kms::*;
pub use messenger::*;
pub use noise::*;
pub use noise_handshake::*;
pub use noise_transport::*;
pub use public::*;
pub use ratchet_bundle::*;
pub use ratchet_prekeys::*;
pub use ratchet_session::*;
pub use relay::*;
pub use result::{sealwire_result, sealwire_result_code_string, sealwire_result_message};
pub use xwing::*;

/// Length of an Ed25519 seed (the signing secret), in bytes.
pub const SEALWIRE_ED25519_SEED_LEN: usize = 32;
/// Length of an X25519 private key, in bytes.
pub const SEALWIRE_X25519_SECRET_LEN: usize = 32;
/// Length of an Ed25519 or X25519 public key, in bytes.
pub const SEALWIRE_PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature, in bytes.
pub const SEALWIRE_SIGNATURE_LEN: usize = 64;
/// Length of an encoded public identity (format version 1, no optional keys), in bytes.
pub const SEALWIRE_PUBLIC_IDENTITY_LEN: usize = 134;
/// A buffer of this many bytes always holds a `did:key` string and its NUL.
pub const SEALWIRE_DID_BUFFER_LEN: usize = 64;
/// Size of a fingerprint string including its NUL (71 characters + 1).
pub const SEALWIRE_FINGERPRINT_BUFFER_LEN: usize = 72;
/// Cheapest Argon2id memory cost accepted by `sealwire_identity_export_with_params()`, in KiB.
pub const SEALWIRE_KDF_MIN_MEMORY_KIB: u32 = 19456;
/// Iterations that go with SEALWIRE_KDF_MIN_MEMORY_KIB for the cheapest accepted cost.
pub const SEALWIRE_KDF_MIN_ITERATIONS: u32 = 2;
/// Lanes of the cheapest accepted cost.
pub const SEALWIRE_KDF_MIN_LANES: u32 = 1;
/// Default Argon2id memory cost (64 MiB), in KiB: what `sealwire_identity_export()` uses and
/// the recommended cost for keyring files.
pub const SEALWIRE_KDF_DEFAULT_MEMORY_KIB: u32 = 65536;
/// Default Argon2id iterations.
pub const SEALWIRE_KDF_DEFAULT_ITERATIONS: u32 = 3;
/// Default Argon2id lanes.
pub const SEALWIRE_KDF_DEFAULT_LANES: u32 = 4;

// The literals above are what C sees (cbindgen cannot evaluate paths into the core crate);
// these checks keep them equal to the core's values.
const _: () = assert!(SEALWIRE_ED25519_SEED_LEN == sealwire_core::identity::ED25519_LEN);
const _: () = assert!(SEALWIRE_X25519_SECRET_LEN == sealwire_core::dh::X25519_LEN);
const _: () = assert!(SEALWIRE_PUBLIC_KEY_LEN == sealwire_core::dh::X25519_LEN);
const _: () = assert!(SEALWIRE_SIGNATURE_LEN == sealwire_core::SIGNATURE_LEN);
const _: () = assert!(SEALWIRE_PUBLIC_IDENTITY_LEN == sealwire_core::PublicIdentity::ENCODED_LEN);
const _: () = assert!(SEALWIRE_FINGERPRINT_BUFFER_LEN == sealwire_core::identity::text::FINGERPRINT_GROUPS * 6);

/// The library version, e.g. "0.1.0". Static: never free it.
#[no_mangle]
pub extern "C" fn sealwire_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Zeroize and free a buffer allocated by this library (`sealwire_identity_export*()`,
/// `sealwire_envelope_seal()`, `sealwire_data_key_cache_seal()`,
/// `sealwire_keyring_seal_with_*()`, `sealwire_prekey_store_seal*()`,
/// `sealwire_ratchet_session_seal*()`, `_encrypt*()`, `_decrypt*()` and `_accept*()`). `data`
/// may be NULL (no-op).
///
/// # Safety
/// `data` is NULL, or a pointer returned by this library together with `len`, exactly as
/// returned, not freed yet; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_bytes_free(data: *mut u8, len: usize) {
    panic::guard((), || {
        if !data.is_null() {
            let slice = core::ptr::slice_from_raw_parts_mut(data, len);
            // SAFETY: `data`/`len` describe a `Box<[u8]>` leaked by `ptr::write_owned_bytes`
            // and not freed yet (caller contract).
            let mut boxed = unsafe { Box::from_raw(slice) };
            boxed.zeroize();
        }
    })
}

#[cfg(test)]
mod tests;
