//! `Identity` and `PublicIdentity`: per-agent keys, the signed public identity, did:key,
//! fingerprints and passphrase-encrypted export (sync and on the libuv thread pool).

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Buffer, Either};
use napi::{Env, Task};
use napi_derive::napi;
use sealwire::KdfParams;
use zeroize::Zeroizing;

use crate::error::{rejection, to_js_error, Result};

// ---------------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------------

/// Copy a 32-byte secret out of a JS buffer into zeroizing storage.
fn secret32(
    bytes: &[u8],
    what: &'static str,
) -> std::result::Result<Zeroizing<[u8; 32]>, sealwire::Error> {
    if bytes.len() != 32 {
        return Err(sealwire::Error::InvalidLength {
            what,
            expected: 32,
            actual: bytes.len(),
        });
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(bytes);
    Ok(out)
}

/// A passphrase given as a string (encoded as UTF-8) or as raw bytes, copied into zeroizing
/// storage (JS strings themselves cannot be wiped).
pub(crate) fn passphrase_bytes(passphrase: Either<String, &[u8]>) -> Zeroizing<Vec<u8>> {
    match passphrase {
        Either::A(text) => Zeroizing::new(text.into_bytes()),
        Either::B(bytes) => Zeroizing::new(bytes.to_vec()),
    }
}

/// Argon2id cost parameters for `Identity.export` / `Identity.exportAsync`.
///
/// Every field is optional; a missing field takes its default (RFC 9106 second recommended
/// option: 64 MiB, 3 passes, 4 lanes). Bounds, checked by the core: memory 19456 ..= 4194304
/// KiB, iterations 1 ..= 64, lanes 1 ..= 16, and memory × iterations at least 19 MiB × 2.
/// Out-of-range or non-integer values throw `ERR_SEALWIRE_INVALID_PARAMETER`.
#[napi(object)]
#[derive(Debug, Clone, Copy, Default)]
pub struct KdfOptions {
    /// Memory cost in KiB (default 65536 = 64 MiB; minimum 19456 = 19 MiB).
    pub memory_kib: Option<f64>,
    /// Number of passes (default 3).
    pub iterations: Option<f64>,
    /// Degree of parallelism (default 4).
    pub lanes: Option<f64>,
}

/// One cost field: absent → default; otherwise a non-negative integer that fits in 32 bits.
fn cost(
    value: Option<f64>,
    default: u32,
    what: &'static str,
) -> std::result::Result<u32, sealwire::Error> {
    match value {
        None => Ok(default),
        Some(v) if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) => Ok(v as u32),
        Some(_) => Err(sealwire::Error::InvalidParameter(what)),
    }
}

pub(crate) fn kdf_params(
    options: Option<KdfOptions>,
) -> std::result::Result<KdfParams, sealwire::Error> {
    let default = KdfParams::default();
    let Some(o) = options else {
        return Ok(default);
    };
    KdfParams::new(
        cost(
            o.memory_kib,
            default.memory_kib(),
            "memoryKib must be an integer",
        )?,
        cost(
            o.iterations,
            default.iterations(),
            "iterations must be an integer",
        )?,
        cost(o.lanes, default.lanes(), "lanes must be an integer")?,
    )
}

fn export_blob(
    identity: &sealwire::Identity,
    passphrase: &[u8],
    options: Option<KdfOptions>,
) -> std::result::Result<Vec<u8>, sealwire::Error> {
    identity.export_with_params(passphrase, kdf_params(options)?)
}

// ---------------------------------------------------------------------------------------------
// Async tasks (libuv thread pool)
// ---------------------------------------------------------------------------------------------

/// Work item behind `Identity.exportAsync`: Argon2id + AEAD on the libuv thread pool.
pub struct ExportTask {
    identity: Arc<sealwire::Identity>,
    passphrase: Zeroizing<Vec<u8>>,
    options: Option<KdfOptions>,
}

impl std::fmt::Debug for ExportTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExportTask(..)")
    }
}

// Deliberately not `#[napi]`: that would export an empty `ExportTask`/`ImportTask` class.
// The Promise types are declared with `ts_return_type` on the methods instead.
impl Task for ExportTask {
    type Output = std::result::Result<Vec<u8>, sealwire::Error>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(export_blob(&self.identity, &self.passphrase, self.options))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map(Buffer::from).map_err(|e| rejection(env, e))
    }
}

/// Work item behind `Identity.importAsync`: Argon2id + AEAD on the libuv thread pool.
pub struct ImportTask {
    blob: Vec<u8>,
    passphrase: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ImportTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImportTask(..)")
    }
}

// Not `#[napi]` either (see `ExportTask`).
impl Task for ImportTask {
    type Output = std::result::Result<sealwire::Identity, sealwire::Error>;
    type JsValue = Identity;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(sealwire::Identity::import(&self.blob, &self.passphrase))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map(Identity::wrap).map_err(|e| rejection(env, e))
    }
}

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

/// An agent's private identity: an Ed25519 signing key and an X25519 exchange key.
///
/// The secrets stay inside the native object (zeroized when it is garbage-collected); there is
/// no way to read them from JavaScript except through a passphrase-encrypted `export`.
/// Create one with `Identity.generate()`, `Identity.import(...)` or
/// `Identity.fromSecretBytes(...)`; `new Identity()` is not allowed.
#[napi]
pub struct Identity {
    pub(crate) inner: Arc<sealwire::Identity>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(..)")
    }
}

impl Identity {
    fn wrap(inner: sealwire::Identity) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }
}

#[napi]
impl Identity {
    /// Generate a new identity from the operating system's CSPRNG.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_RANDOMNESS` if the OS random generator fails.
    #[napi(factory)]
    pub fn generate() -> Result<Self> {
        sealwire::Identity::generate()
            .map(Self::wrap)
            .map_err(to_js_error)
    }

    /// Rebuild an identity from its two 32-byte secrets (the Ed25519 seed and the X25519
    /// private key). Deterministic: for test vectors and key migration. Prefer
    /// `Identity.generate()` and `Identity.import()`.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_LENGTH` if either input is not 32 bytes.
    #[napi(factory, strict)]
    pub fn from_secret_bytes(ed25519_seed: &[u8], x25519_secret: &[u8]) -> Result<Self> {
        let seed = secret32(ed25519_seed, "Ed25519 seed").map_err(to_js_error)?;
        let secret = secret32(x25519_secret, "X25519 secret").map_err(to_js_error)?;
        Ok(Self::wrap(sealwire::Identity::from_secret_bytes(
            &seed, &secret,
        )))
    }

    /// The public half (a new `PublicIdentity` object on every access), to hand to peers.
    #[napi(getter)]
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            inner: self.inner.public().clone(),
        }
    }

    /// Sign `message` with the Ed25519 key (plain RFC 8032 Ed25519, deterministic; verifiable
    /// by any Ed25519 implementation). Returns the 64-byte signature.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` if the message starts with the
    /// bytes `"SEALWIRE\0"`, which are reserved for sealwire's own protocol signatures.
    #[napi(strict)]
    pub fn sign(&self, message: &[u8]) -> Result<Buffer> {
        let signature = self.inner.sign(message).map_err(to_js_error)?;
        Ok(Buffer::from(signature.to_vec()))
    }

    /// Encrypt the private identity under `passphrase` (a string is encoded as UTF-8) with
    /// Argon2id and XChaCha20-Poly1305. Slow by design (tens to hundreds of milliseconds):
    /// blocks the event loop; prefer `exportAsync` on a server.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_INVALID_PARAMETER` for out-of-range `options`.
    #[napi(strict)]
    pub fn export(
        &self,
        passphrase: Either<String, &[u8]>,
        options: Option<KdfOptions>,
    ) -> Result<Buffer> {
        let passphrase = passphrase_bytes(passphrase);
        export_blob(&self.inner, &passphrase, options)
            .map(Buffer::from)
            .map_err(to_js_error)
    }

    /// Like `export`, but runs on the libuv thread pool and returns a Promise. Rejections carry
    /// the same `code` as the synchronous errors.
    #[napi(strict, ts_return_type = "Promise<Buffer>")]
    pub fn export_async(
        &self,
        passphrase: Either<String, &[u8]>,
        options: Option<KdfOptions>,
    ) -> AsyncTask<ExportTask> {
        AsyncTask::new(ExportTask {
            identity: Arc::clone(&self.inner),
            passphrase: passphrase_bytes(passphrase),
            options,
        })
    }

    /// Decrypt an identity produced by `export` / `exportAsync` (or any sealwire binding).
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_DECRYPTION_FAILED` for a wrong passphrase or a
    /// modified blob; a decoding code (`ERR_SEALWIRE_TRUNCATED`, `ERR_SEALWIRE_BAD_MAGIC`,
    /// `ERR_SEALWIRE_UNSUPPORTED_VERSION`, `ERR_SEALWIRE_MALFORMED`, ...) for a malformed one.
    #[napi(factory, strict)]
    pub fn import(blob: &[u8], passphrase: Either<String, &[u8]>) -> Result<Self> {
        let passphrase = passphrase_bytes(passphrase);
        sealwire::Identity::import(blob, &passphrase)
            .map(Self::wrap)
            .map_err(to_js_error)
    }

    /// Like `import`, but runs on the libuv thread pool and returns a Promise. Rejections carry
    /// the same `code` as the synchronous errors.
    #[napi(strict, ts_return_type = "Promise<Identity>")]
    pub fn import_async(blob: &[u8], passphrase: Either<String, &[u8]>) -> AsyncTask<ImportTask> {
        AsyncTask::new(ImportTask {
            blob: blob.to_vec(),
            passphrase: passphrase_bytes(passphrase),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// PublicIdentity
// ---------------------------------------------------------------------------------------------

/// A peer's public identity: Ed25519 verifying key, X25519 exchange key, and the signature
/// that binds the second to the first. Every instance has been verified.
#[napi]
pub struct PublicIdentity {
    pub(crate) inner: sealwire::PublicIdentity,
}

impl std::fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublicIdentity(..)")
    }
}

#[napi]
impl PublicIdentity {
    /// Decode and verify an encoded public identity (strict: wrong magic, unknown version,
    /// truncation, trailing bytes, invalid or small-order keys, unknown key types and a bad
    /// binding signature all throw, with `code` `ERR_SEALWIRE_TRUNCATED`,
    /// `ERR_SEALWIRE_TRAILING_BYTES`, `ERR_SEALWIRE_BAD_MAGIC`,
    /// `ERR_SEALWIRE_UNSUPPORTED_VERSION`, `ERR_SEALWIRE_UNSUPPORTED_ALGORITHM`,
    /// `ERR_SEALWIRE_INVALID_PUBLIC_KEY` or `ERR_SEALWIRE_BAD_SIGNATURE`).
    #[napi(factory, strict)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        sealwire::PublicIdentity::from_bytes(bytes)
            .map(|inner| Self { inner })
            .map_err(to_js_error)
    }

    /// The canonical encoding (`docs/FORMATS.md`, "Public identity").
    #[napi]
    pub fn to_bytes(&self) -> Buffer {
        Buffer::from(self.inner.to_bytes())
    }

    /// The `did:key` of the Ed25519 key (`did:key:z6Mk...`).
    #[napi(getter)]
    pub fn did(&self) -> String {
        self.inner.did()
    }

    /// The fingerprint for out-of-band comparison: twelve groups of five digits.
    #[napi(getter)]
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }

    /// Verify an Ed25519 signature made by `Identity.sign` (strict verification: rejects
    /// non-canonical and malleated signatures). Returns nothing on success.
    ///
    /// @throws {Error} `code` `ERR_SEALWIRE_BAD_SIGNATURE` if the signature does not verify,
    /// `ERR_SEALWIRE_INVALID_LENGTH` if it is not 64 bytes.
    #[napi(strict)]
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        self.inner.verify(message, signature).map_err(to_js_error)
    }

    /// Whether `did` is this identity's `did:key` (false for any malformed string).
    #[napi(strict)]
    pub fn matches_did(&self, did: String) -> bool {
        self.inner.matches_did(&did)
    }

    /// Whether `other` is the same public identity (same keys and binding signature).
    #[napi(strict)]
    pub fn equals(&self, other: &PublicIdentity) -> bool {
        self.inner == other.inner
    }
}
