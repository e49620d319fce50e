//! `sealwire.Identity` and `sealwire.PublicIdentity`.

use std::hash::{Hash, Hasher};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt};
use sealwire::KdfParams;

use crate::detach;
use crate::error::Result;
use crate::input::{BytesLike, Passphrase};

const SECRET_LEN: usize = 32;

/// An agent's private identity: an Ed25519 signing key and an X25519 exchange key.
///
/// The secrets never leave this object except encrypted, through `export`.
#[pyclass(name = "Identity", module = "sealwire._native", frozen)]
pub(crate) struct PyIdentity {
    pub(crate) inner: sealwire::Identity,
}

#[pymethods]
impl PyIdentity {
    /// Generate a new identity from the operating system's CSPRNG.
    #[staticmethod]
    fn generate(py: Python<'_>) -> Result<Self> {
        let inner = detach(py, sealwire::Identity::generate)?;
        Ok(Self { inner })
    }

    /// Rebuild an identity from its two 32-byte secrets: the Ed25519 seed and the X25519
    /// private key. Deterministic; prefer `generate()` and `from_encrypted()`.
    #[staticmethod]
    fn from_secret_bytes(
        py: Python<'_>,
        ed25519_seed: BytesLike<'_>,
        x25519_secret: BytesLike<'_>,
    ) -> Result<Self> {
        let ed = secret_array(&ed25519_seed, "Ed25519 seed")?;
        let x = secret_array(&x25519_secret, "X25519 secret")?;
        // Derives both public keys and signs the binding: as costly as `generate`.
        let inner = detach(py, || sealwire::Identity::from_secret_bytes(ed, x));
        Ok(Self { inner })
    }

    /// Decrypt an identity produced by `export()`. The KDF parameters are read from the
    /// blob (and bounded, so a hostile blob cannot demand unbounded memory or time).
    #[staticmethod]
    fn from_encrypted(
        py: Python<'_>,
        blob: BytesLike<'_>,
        passphrase: Passphrase<'_>,
    ) -> Result<Self> {
        let inner = detach(py, || sealwire::Identity::import(&blob, &passphrase))?;
        Ok(Self { inner })
    }

    /// The public half, to hand to peers.
    #[getter]
    fn public(&self) -> PyPublicIdentity {
        PyPublicIdentity {
            inner: self.inner.public().clone(),
        }
    }

    /// Sign `message` (RFC 8032 Ed25519). Messages starting with b"SEALWIRE\x00" are
    /// reserved for sealwire's own protocols and refused with ParameterError.
    fn sign<'py>(&self, py: Python<'py>, message: BytesLike<'_>) -> Result<Bound<'py, PyBytes>> {
        let signature = detach(py, || self.inner.sign(&message))?;
        Ok(PyBytes::new(py, &signature))
    }

    /// Encrypt the identity under `passphrase` (Argon2id + XChaCha20-Poly1305). Omitted
    /// KDF parameters take the defaults: 65536 KiB, 3 iterations, 4 lanes.
    #[pyo3(signature = (passphrase, *, memory_kib=None, iterations=None, lanes=None))]
    fn export<'py>(
        &self,
        py: Python<'py>,
        passphrase: Passphrase<'_>,
        memory_kib: Option<&Bound<'py, PyInt>>,
        iterations: Option<&Bound<'py, PyInt>>,
        lanes: Option<&Bound<'py, PyInt>>,
    ) -> Result<Bound<'py, PyBytes>> {
        let params = kdf_params(memory_kib, iterations, lanes)?;
        let blob = detach(py, || self.inner.export_with_params(&passphrase, params))?;
        Ok(PyBytes::new(py, &blob))
    }

    fn __repr__(&self) -> &'static str {
        "<Identity>"
    }
}

/// Borrow a 32-byte secret, or fail with `InvalidLength` (a `DecodeError`).
fn secret_array<'b>(bytes: &'b [u8], what: &'static str) -> Result<&'b [u8; SECRET_LEN]> {
    Ok(bytes
        .try_into()
        .map_err(|_| sealwire::Error::InvalidLength {
            what,
            expected: SECRET_LEN,
            actual: bytes.len(),
        })?)
}

/// Argon2id parameters from optional keyword arguments; omitted ones take the defaults
/// (65536 KiB, 3 iterations, 4 lanes). Shared by `Identity.export` and `Keyring.save`.
pub(crate) fn kdf_params(
    memory_kib: Option<&Bound<'_, PyInt>>,
    iterations: Option<&Bound<'_, PyInt>>,
    lanes: Option<&Bound<'_, PyInt>>,
) -> Result<KdfParams> {
    let default = KdfParams::default();
    Ok(KdfParams::new(
        kdf_param(
            memory_kib,
            default.memory_kib(),
            "Argon2id memory_kib out of range",
        )?,
        kdf_param(
            iterations,
            default.iterations(),
            "Argon2id iterations out of range",
        )?,
        kdf_param(lanes, default.lanes(), "Argon2id lanes out of range")?,
    )?)
}

/// A KDF parameter: the default when omitted, `ParameterError` when it does not fit a u32
/// (negative or huge), `TypeError` (from the argument conversion) when it is not an int.
fn kdf_param(
    value: Option<&Bound<'_, PyInt>>,
    default: u32,
    out_of_range: &'static str,
) -> Result<u32> {
    match value {
        None => Ok(default),
        Some(v) => Ok(v
            .extract::<u32>()
            .map_err(|_| sealwire::Error::InvalidParameter(out_of_range))?),
    }
}

/// A peer's public identity: Ed25519 verifying key, X25519 exchange key and the signature
/// binding them. Always verified: `from_bytes` checks the binding signature.
#[pyclass(name = "PublicIdentity", module = "sealwire._native", frozen)]
pub(crate) struct PyPublicIdentity {
    pub(crate) inner: sealwire::PublicIdentity,
}

#[pymethods]
impl PyPublicIdentity {
    /// Decode and verify an encoded public identity (strict).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: BytesLike<'_>) -> Result<Self> {
        let inner = detach(py, || sealwire::PublicIdentity::from_bytes(&data))?;
        Ok(Self { inner })
    }

    /// The canonical encoding.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }

    /// The `did:key` of the Ed25519 key.
    #[getter]
    fn did(&self) -> String {
        self.inner.did()
    }

    /// 60 decimal digits in 12 groups of 5, for out-of-band comparison.
    #[getter]
    fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }

    /// The raw 32-byte Ed25519 verifying key.
    #[getter]
    fn ed25519_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.ed25519_bytes())
    }

    /// The raw 32-byte X25519 exchange key.
    #[getter]
    fn x25519_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.x25519_bytes())
    }

    /// Verify an Ed25519 signature (strict). Returns None; raises SignatureError if the
    /// signature does not verify, DecodeError if it is not 64 bytes.
    fn verify(
        &self,
        py: Python<'_>,
        message: BytesLike<'_>,
        signature: BytesLike<'_>,
    ) -> Result<()> {
        Ok(detach(py, || self.inner.verify(&message, &signature))?)
    }

    /// Whether `did` names this identity's Ed25519 key.
    fn matches_did(&self, did: String) -> bool {
        self.inner.matches_did(&did)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.to_bytes().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> &'static str {
        "<PublicIdentity>"
    }
}
