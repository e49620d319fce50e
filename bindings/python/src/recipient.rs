//! `sealwire.XWingKeyPair` and `sealwire.XWingPublicKey`: post-quantum hybrid (ML-KEM-768 +
//! X25519) envelope recipients.

use std::hash::{Hash, Hasher};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sealwire::envelope::{XWingKeyPair, XWingPublicKey, XWING_SEED_LEN};

use crate::detach;
use crate::error::Result;
use crate::input::BytesLike;

/// An X-Wing key pair: opens envelope entries wrapped to its public key. The private key is
/// a 32-byte seed that leaves this object only through `seed()`.
#[pyclass(name = "XWingKeyPair", module = "sealwire._native", frozen)]
pub(crate) struct PyXWingKeyPair {
    pub(crate) inner: XWingKeyPair,
}

#[pymethods]
impl PyXWingKeyPair {
    /// A new key pair from the operating system's CSPRNG. Releases the GIL.
    #[staticmethod]
    fn generate(py: Python<'_>) -> Result<Self> {
        Ok(Self {
            inner: detach(py, XWingKeyPair::generate)?,
        })
    }

    /// The key pair of a 32-byte X-Wing seed (the X-Wing private key format). Releases the
    /// GIL.
    #[staticmethod]
    fn from_seed(py: Python<'_>, seed: BytesLike<'_>) -> Result<Self> {
        let seed: &[u8; XWING_SEED_LEN] =
            (*seed)
                .try_into()
                .map_err(|_| sealwire::Error::InvalidLength {
                    what: "X-Wing seed",
                    expected: XWING_SEED_LEN,
                    actual: seed.len(),
                })?;
        Ok(Self {
            inner: detach(py, || XWingKeyPair::from_seed(seed))?,
        })
    }

    /// The 32-byte private seed: an explicit export of the secret key. Keep it encrypted.
    fn seed<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.seed().as_ref())
    }

    /// The public key to hand to senders.
    #[getter]
    fn public_key(&self) -> PyXWingPublicKey {
        PyXWingPublicKey {
            inner: self.inner.public_key().clone(),
        }
    }

    fn __repr__(&self) -> &'static str {
        "<XWingKeyPair>"
    }
}

/// An X-Wing public key (ML-KEM-768 + X25519, HPKE KEM 0x647A): a post-quantum envelope
/// recipient. Encoded as "SWXP" || 0x01 || raw key (1216 bytes).
#[pyclass(name = "XWingPublicKey", module = "sealwire._native", frozen)]
pub(crate) struct PyXWingPublicKey {
    pub(crate) inner: XWingPublicKey,
}

#[pymethods]
impl PyXWingPublicKey {
    /// Decode the SWXP encoding (strict; the ML-KEM key is checked as FIPS 203 requires).
    /// Releases the GIL.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: BytesLike<'_>) -> Result<Self> {
        Ok(Self {
            inner: detach(py, || XWingPublicKey::from_bytes(&data))?,
        })
    }

    /// From the raw 1216-byte key (ML-KEM-768 encapsulation key || X25519 key). Releases the
    /// GIL.
    #[staticmethod]
    fn from_raw_bytes(py: Python<'_>, data: BytesLike<'_>) -> Result<Self> {
        Ok(Self {
            inner: detach(py, || XWingPublicKey::from_raw_bytes(&data))?,
        })
    }

    /// The SWXP encoding (1221 bytes).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }

    /// The raw 1216-byte key.
    fn raw_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.raw_bytes())
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.raw_bytes().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> &'static str {
        "<XWingPublicKey>"
    }
}
