//! `sealwire.NoiseHandshake`, `sealwire.NoiseTransport`, `sealwire.NoiseUnorderedTransport`
//! and `sealwire.noise_identity_payload`: the Noise layer of the core (`sealwire::noise`).
//!
//! Each class is `frozen` and keeps its core object in a `Mutex`, so it is `Send + Sync`
//! and may be shared between Python threads; calls on one object are serialized.
//!
//! Locking discipline (no deadlock between the mutex and the GIL):
//!
//! * expensive calls (handshake messages: X25519 and ML-KEM-768; transport encryption and
//!   decryption) take the lock *inside* [`detach`], i.e. without the GIL, and drop it before
//!   the GIL is taken back;
//! * cheap calls take it with the GIL held through PyO3's `lock_py_attached`, which gives the
//!   GIL up while it waits, and never hold it across a `detach`.
//!
//! The core's handshake and transport operations are transactional (a failure changes no
//! state), so a lock poisoned by a panic still guards a consistent value and is recovered.

use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyBytes, PyInt};
use sealwire::noise::{Handshake, NoiseBuilder, Role, Transport, UnorderedTransport};
use sealwire::ErrorKind;
use zeroize::Zeroizing;

use crate::detach;
use crate::error::{Error, Result};
use crate::identity::{PyIdentity, PyPublicIdentity};
use crate::input::{type_name, BytesLike};

/// Raised by every call on a handshake after `into_transport()` / `into_unordered_transport()`.
const CONSUMED: Error = Error::Binding(
    ErrorKind::HandshakeComplete,
    "this NoiseHandshake was already turned into a transport and can no longer be used",
);

/// Lock without the GIL (inside [`detach`]).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lock with the GIL held; the GIL is released while waiting.
fn lock_attached<'a, T>(py: Python<'_>, m: &'a Mutex<T>) -> MutexGuard<'a, T> {
    m.lock_py_attached(py)
        .unwrap_or_else(PoisonError::into_inner)
}

/// Plaintext returned by the core, wiped once it has been copied into a Python `bytes`.
type Plaintext = Zeroizing<Vec<u8>>;

// --- arguments ------------------------------------------------------------------------------

/// The peer's static key: a verified `PublicIdentity` (its X25519 key) or a raw 32-byte
/// X25519 public key.
enum Remote<'a> {
    Identity(Box<sealwire::PublicIdentity>),
    Key(BytesLike<'a>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Remote<'a> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(peer) = obj.cast::<PyPublicIdentity>() {
            return Ok(Remote::Identity(Box::new(peer.get().inner.clone())));
        }
        match BytesLike::extract(obj) {
            Ok(key) => Ok(Remote::Key(key)),
            Err(e) if !e.is_instance_of::<PyTypeError>(obj.py()) => Err(e),
            Err(_) => Err(PyTypeError::new_err(format!(
                "remote must be a PublicIdentity or a bytes-like object, not '{}'",
                type_name(&obj)
            ))),
        }
    }
}

/// Pre-shared keys by location (`psk0`, `psk2`, ...), copied out of a Python mapping.
type Psks = Vec<(u8, Zeroizing<Vec<u8>>)>;

fn psks_from(mapping: Option<&Bound<'_, PyAny>>) -> Result<Psks> {
    let Some(mapping) = mapping else {
        return Ok(Vec::new());
    };
    let not_mapping = || {
        PyTypeError::new_err(format!(
            "psks must be a mapping of int to bytes-like, not '{}'",
            type_name(&mapping.as_borrowed())
        ))
    };
    let items = mapping.call_method0("items").map_err(|_| not_mapping())?;
    let mut psks = Vec::new();
    for item in items.try_iter().map_err(|_| not_mapping())? {
        let (location, key): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
            item?.extract().map_err(|_| not_mapping())?;
        let location = location
            .cast::<PyInt>()
            .map_err(|_| PyTypeError::new_err("psk locations must be int"))?
            .extract::<u8>()
            .map_err(|_| sealwire::Error::InvalidParameter("psk location out of range"))?;
        let key = key.extract::<BytesLike<'_>>()?;
        psks.push((location, Zeroizing::new(key.to_vec())));
    }
    Ok(psks)
}

/// The local static key.
enum Local<'a> {
    None,
    Identity(&'a sealwire::Identity),
    /// Raw X25519 private key: vectors only (`_from_vector_inputs`).
    Secret(BytesLike<'a>),
}

/// Everything a handshake is built from; built without the GIL (the local static key's
/// public half is derived, an X25519 scalar multiplication).
struct Config<'a> {
    protocol_name: String,
    role: Role,
    local: Local<'a>,
    remote: Option<Remote<'a>>,
    psks: Psks,
    prologue: BytesLike<'a>,
    ephemeral: Option<BytesLike<'a>>,
    kem_seed: Option<BytesLike<'a>>,
    kem_encaps_m: Option<BytesLike<'a>>,
}

impl Config<'_> {
    fn build(self) -> sealwire::Result<Handshake> {
        let mut b = NoiseBuilder::new(&self.protocol_name)?.prologue(&self.prologue);
        b = match self.local {
            Local::None => b,
            Local::Identity(identity) => b.local_identity(identity),
            Local::Secret(secret) => b.local_static_secret(&secret)?,
        };
        b = match self.remote {
            None => b,
            Some(Remote::Identity(peer)) => b.remote_identity(&peer),
            Some(Remote::Key(key)) => b.remote_static(&key)?,
        };
        for (location, psk) in &self.psks {
            b = b.psk(*location, psk)?;
        }
        if let Some(e) = self.ephemeral {
            b = b.fixed_ephemeral_for_vectors(&e)?;
        }
        if let Some(seed) = self.kem_seed {
            b = b.fixed_kem_seed_for_vectors(&seed)?;
        }
        if let Some(m) = self.kem_encaps_m {
            b = b.fixed_kem_encapsulation_for_vectors(&m)?;
        }
        b.build(self.role)
    }
}

fn role(initiator: bool) -> Role {
    if initiator {
        Role::Initiator
    } else {
        Role::Responder
    }
}

/// A rekey interval: `ParameterError` when the int does not fit in 64 unsigned bits.
fn rekey_interval(messages: &Bound<'_, PyInt>) -> Result<u64> {
    Ok(messages.extract::<u64>().map_err(|_| {
        sealwire::Error::InvalidParameter("the rekey interval must be an int from 0 to 2**64 - 1")
    })?)
}

// --- NoiseHandshake -------------------------------------------------------------------------

/// One side of a Noise handshake (Noise rev 34, plus `hfs` with ML-KEM-768).
///
/// `protocol_name` is a standard Noise name such as "Noise_XX_25519_ChaChaPoly_BLAKE2s" or
/// "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_SHA256"; `initiator` picks the side. `identity`
/// supplies the local static key (required exactly when the pattern has one). `remote` is the
/// peer's PublicIdentity or raw X25519 public key: required when the pattern pre-shares it
/// (IK, NK, KK, ...), otherwise optional and then the only key the peer may present. `psks`
/// maps each psk location the pattern names (psk0, psk2, ...) to its 32-byte key; `prologue`
/// must be the same on both sides.
///
/// Write and read messages in the order the pattern prescribes (`is_my_turn`), then turn the
/// finished handshake into a `NoiseTransport` or `NoiseUnorderedTransport`; afterwards this
/// object raises `ProtocolError` on every call.
#[pyclass(name = "NoiseHandshake", module = "sealwire._native", frozen)]
pub(crate) struct PyNoiseHandshake {
    state: Mutex<Option<Handshake>>,
}

impl PyNoiseHandshake {
    fn from_config(py: Python<'_>, config: Config<'_>) -> Result<Self> {
        let handshake = detach(py, move || config.build())?;
        Ok(Self {
            state: Mutex::new(Some(handshake)),
        })
    }

    /// Run a cheap `f` on the live handshake, GIL held.
    fn with<T>(&self, py: Python<'_>, f: impl FnOnce(&mut Handshake) -> Result<T>) -> Result<T> {
        let mut guard = lock_attached(py, &self.state);
        f(guard.as_mut().ok_or(CONSUMED)?)
    }

    /// Run an expensive `f` on the live handshake with the GIL released.
    fn with_detached<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Handshake) -> Result<T> + Send,
    ) -> Result<T> {
        detach(py, || {
            let mut guard = lock(&self.state);
            f(guard.as_mut().ok_or(CONSUMED)?)
        })
    }

    /// Take the handshake out, if it is finished; otherwise leave it in place.
    fn take_finished(&self, py: Python<'_>) -> Result<Handshake> {
        let mut guard = lock_attached(py, &self.state);
        match guard.as_ref() {
            None => Err(CONSUMED),
            Some(hs) if !hs.is_finished() => Err(sealwire::Error::HandshakeIncomplete(
                "messages remain in the handshake pattern",
            )
            .into()),
            Some(_) => guard.take().ok_or(CONSUMED),
        }
    }
}

#[pymethods]
impl PyNoiseHandshake {
    /// Configure one side of a handshake (parameters: see the class documentation).
    ///
    /// The `text_signature`s in this block are spelled out only to show the `b''` defaults
    /// (PyO3 prints non-literal defaults as `...`, which stubtest cannot compare with the
    /// stub); keep each in step with its `signature`.
    #[new]
    #[pyo3(
        signature = (
            protocol_name, *, initiator, identity=None, remote=None, psks=None,
            prologue=BytesLike::Borrowed(b"")
        ),
        text_signature = "(protocol_name, *, initiator, identity=None, remote=None, psks=None, \
                          prologue=b'')"
    )]
    fn new(
        py: Python<'_>,
        protocol_name: String,
        initiator: bool,
        identity: Option<&Bound<'_, PyIdentity>>,
        remote: Option<Remote<'_>>,
        psks: Option<&Bound<'_, PyAny>>,
        prologue: BytesLike<'_>,
    ) -> Result<Self> {
        let config = Config {
            protocol_name,
            role: role(initiator),
            local: identity.map_or(Local::None, |i| Local::Identity(&i.get().inner)),
            remote,
            psks: psks_from(psks)?,
            prologue,
            ephemeral: None,
            kem_seed: None,
            kem_encaps_m: None,
        };
        Self::from_config(py, config)
    }

    /// Private, for test vectors only: a raw X25519 static private key, and fixed ephemeral
    /// and ML-KEM randomness. A fixed ephemeral key destroys forward secrecy.
    #[staticmethod]
    #[pyo3(
        signature = (
            protocol_name, *, initiator, static_secret=None, remote_static=None, psks=None,
            prologue=BytesLike::Borrowed(b""), ephemeral=None, kem_seed=None, kem_encaps_m=None
        ),
        text_signature = "(protocol_name, *, initiator, static_secret=None, \
                          remote_static=None, psks=None, prologue=b'', ephemeral=None, \
                          kem_seed=None, kem_encaps_m=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn _from_vector_inputs(
        py: Python<'_>,
        protocol_name: String,
        initiator: bool,
        static_secret: Option<BytesLike<'_>>,
        remote_static: Option<BytesLike<'_>>,
        psks: Option<&Bound<'_, PyAny>>,
        prologue: BytesLike<'_>,
        ephemeral: Option<BytesLike<'_>>,
        kem_seed: Option<BytesLike<'_>>,
        kem_encaps_m: Option<BytesLike<'_>>,
    ) -> Result<Self> {
        let config = Config {
            protocol_name,
            role: role(initiator),
            local: static_secret.map_or(Local::None, Local::Secret),
            remote: remote_static.map(Remote::Key),
            psks: psks_from(psks)?,
            prologue,
            ephemeral,
            kem_seed,
            kem_encaps_m,
        };
        Self::from_config(py, config)
    }

    /// The next handshake message, carrying `payload` (encrypted once the pattern has
    /// produced a key). Releases the GIL.
    #[pyo3(signature = (payload=BytesLike::Borrowed(b"")), text_signature = "($self, payload=b'')")]
    fn write_message<'py>(
        &self,
        py: Python<'py>,
        payload: BytesLike<'_>,
    ) -> Result<Bound<'py, PyBytes>> {
        let message = self.with_detached(py, |hs| Ok(hs.write_message(&payload)?))?;
        Ok(PyBytes::new(py, &message))
    }

    /// Process the peer's next handshake message and return its payload. On any error the
    /// handshake is unchanged, so the genuine message can still be read. Releases the GIL.
    fn read_message<'py>(
        &self,
        py: Python<'py>,
        message: BytesLike<'_>,
    ) -> Result<Bound<'py, PyBytes>> {
        let payload: Plaintext =
            self.with_detached(py, |hs| Ok(Zeroizing::new(hs.read_message(&message)?)))?;
        Ok(PyBytes::new(py, &payload))
    }

    /// True once every message of the pattern has been written or read.
    #[getter]
    fn is_finished(&self, py: Python<'_>) -> Result<bool> {
        self.with(py, |hs| Ok(hs.is_finished()))
    }

    /// True when the next handshake message is ours to write.
    #[getter]
    fn is_my_turn(&self, py: Python<'_>) -> Result<bool> {
        self.with(py, |hs| Ok(hs.is_my_turn()))
    }

    /// True for the initiator.
    #[getter]
    fn is_initiator(&self, py: Python<'_>) -> Result<bool> {
        self.with(py, |hs| Ok(hs.is_initiator()))
    }

    /// The protocol name this handshake runs.
    #[getter]
    fn protocol_name(&self, py: Python<'_>) -> Result<String> {
        self.with(py, |hs| Ok(hs.protocol_name().to_owned()))
    }

    /// The current handshake hash; after the last message, the channel-binding value.
    #[getter]
    fn handshake_hash<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyBytes>> {
        let h = self.with(py, |hs| Ok(hs.handshake_hash().to_vec()))?;
        Ok(PyBytes::new(py, &h))
    }

    /// The peer's static X25519 public key once known (pre-shared or received), else None.
    #[getter]
    fn remote_static<'py>(&self, py: Python<'py>) -> Result<Option<Bound<'py, PyBytes>>> {
        let rs = self.with(py, |hs| Ok(hs.remote_static()))?;
        Ok(rs.map(|k| PyBytes::new(py, &k)))
    }

    /// Raise RemoteKeyMismatchError unless the peer's static key is `peer`'s X25519 key
    /// (constant-time); ProtocolError if the peer's key is not known yet.
    fn expect_remote_identity(
        &self,
        py: Python<'_>,
        peer: &Bound<'_, PyPublicIdentity>,
    ) -> Result<()> {
        let peer = &peer.get().inner;
        self.with(py, |hs| Ok(hs.expect_remote_identity(peer)?))
    }

    /// Raise RemoteKeyMismatchError unless the peer's static key is `key` (a raw 32-byte
    /// X25519 public key; constant-time); ProtocolError if it is not known yet.
    fn expect_remote_static(&self, py: Python<'_>, key: BytesLike<'_>) -> Result<()> {
        self.with(py, |hs| Ok(hs.expect_remote_static(&key)?))
    }

    /// Decode and verify the PublicIdentity a peer sent as a handshake payload (see
    /// `noise_identity_payload`) and check that its X25519 key is the static key the peer
    /// proved in this handshake. Returns it. Releases the GIL.
    fn verify_identity_payload(
        &self,
        py: Python<'_>,
        payload: BytesLike<'_>,
    ) -> Result<PyPublicIdentity> {
        let inner = self.with_detached(py, |hs| Ok(hs.verify_identity_payload(&payload)?))?;
        Ok(PyPublicIdentity { inner })
    }

    /// Finish: a NoiseTransport for an ordered, reliable channel. ProtocolError if messages
    /// remain (the handshake then stays usable). This object is unusable afterwards.
    // Python name; `&self` because the handshake is moved out of the mutex, not out of `self`.
    #[allow(clippy::wrong_self_convention)]
    fn into_transport(&self, py: Python<'_>) -> Result<PyNoiseTransport> {
        let transport = self.take_finished(py)?.into_transport()?;
        Ok(PyNoiseTransport {
            inner: Mutex::new(transport),
        })
    }

    /// Finish: a NoiseUnorderedTransport for datagrams (explicit nonces, replay window).
    /// ProtocolError if messages remain. This object is unusable afterwards.
    #[allow(clippy::wrong_self_convention)]
    fn into_unordered_transport(&self, py: Python<'_>) -> Result<PyNoiseUnorderedTransport> {
        let transport = self.take_finished(py)?.into_unordered_transport()?;
        Ok(PyNoiseUnorderedTransport {
            inner: Mutex::new(transport),
        })
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let guard = lock_attached(py, &self.state);
        match guard.as_ref() {
            None => "<NoiseHandshake (turned into a transport)>".to_owned(),
            Some(hs) => format!(
                "<NoiseHandshake {} {}, {}>",
                hs.protocol_name(),
                if hs.is_initiator() {
                    "initiator"
                } else {
                    "responder"
                },
                if hs.is_finished() {
                    "finished"
                } else {
                    "in progress"
                },
            ),
        }
    }
}

// --- transports -----------------------------------------------------------------------------

/// Run a cheap `f` on a transport, GIL held.
fn with<T, U>(py: Python<'_>, m: &Mutex<T>, f: impl FnOnce(&mut T) -> U) -> U {
    f(&mut lock_attached(py, m))
}

/// Run an expensive `f` on a transport with the GIL released.
fn with_detached<T: Send, U: Send>(
    py: Python<'_>,
    m: &Mutex<T>,
    f: impl FnOnce(&mut T) -> U + Send,
) -> U {
    detach(py, || f(&mut lock(m)))
}

/// Ordered Noise transport (implicit nonces) from `NoiseHandshake.into_transport()`.
///
/// Messages must be decrypted in the order they were encrypted; a failed decryption changes
/// nothing. Each message is at most 65535 bytes (65519 of plaintext); `encrypt_framed` /
/// `decrypt_framed` carry payloads of any size.
#[pyclass(name = "NoiseTransport", module = "sealwire._native", frozen)]
pub(crate) struct PyNoiseTransport {
    inner: Mutex<Transport>,
}

#[pymethods]
impl PyNoiseTransport {
    /// Encrypt one message (plaintext at most 65519 bytes). Releases the GIL.
    fn encrypt<'py>(
        &self,
        py: Python<'py>,
        plaintext: BytesLike<'_>,
    ) -> Result<Bound<'py, PyBytes>> {
        let message = with_detached(py, &self.inner, |t| t.encrypt(&plaintext))?;
        Ok(PyBytes::new(py, &message))
    }

    /// Decrypt the peer's next message. Releases the GIL.
    fn decrypt<'py>(&self, py: Python<'py>, message: BytesLike<'_>) -> Result<Bound<'py, PyBytes>> {
        let plaintext: Plaintext =
            Zeroizing::new(with_detached(py, &self.inner, |t| t.decrypt(&message))?);
        Ok(PyBytes::new(py, &plaintext))
    }

    /// Encrypt a payload of any size as length-prefixed frames (one nonce per frame).
    /// Releases the GIL.
    fn encrypt_framed<'py>(
        &self,
        py: Python<'py>,
        payload: BytesLike<'_>,
    ) -> Result<Bound<'py, PyBytes>> {
        let framed = with_detached(py, &self.inner, |t| t.encrypt_framed(&payload))?;
        Ok(PyBytes::new(py, &framed))
    }

    /// Decrypt the output of `encrypt_framed`, all or nothing. Releases the GIL.
    fn decrypt_framed<'py>(
        &self,
        py: Python<'py>,
        framed: BytesLike<'_>,
    ) -> Result<Bound<'py, PyBytes>> {
        let payload: Plaintext = Zeroizing::new(with_detached(py, &self.inner, |t| {
            t.decrypt_framed(&framed)
        })?);
        Ok(PyBytes::new(py, &payload))
    }

    /// Replace the sending key by REKEY(k) now; the peer calls `rekey_incoming()` at the
    /// same point of the stream.
    fn rekey_outgoing(&self, py: Python<'_>) -> Result<()> {
        Ok(with(py, &self.inner, Transport::rekey_outgoing)?)
    }

    /// Replace the receiving key by REKEY(k) now.
    fn rekey_incoming(&self, py: Python<'_>) -> Result<()> {
        Ok(with(py, &self.inner, Transport::rekey_incoming)?)
    }

    /// Rekey automatically after every `messages` messages in each direction (0: never,
    /// the default). Both sides must use the same interval.
    fn set_rekey_interval(&self, py: Python<'_>, messages: &Bound<'_, PyInt>) -> Result<()> {
        let n = rekey_interval(messages)?;
        with(py, &self.inner, |t| t.set_rekey_interval(n));
        Ok(())
    }

    /// The final handshake hash: the channel-binding value of this session.
    #[getter]
    fn handshake_hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let h = with(py, &self.inner, |t| t.handshake_hash().to_vec());
        PyBytes::new(py, &h)
    }

    /// The peer's static X25519 public key, or None if the pattern has none.
    #[getter]
    fn remote_static<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        with(py, &self.inner, |t| t.remote_static()).map(|k| PyBytes::new(py, &k))
    }

    /// True on the side that initiated the handshake.
    #[getter]
    fn is_initiator(&self, py: Python<'_>) -> bool {
        with(py, &self.inner, |t| t.is_initiator())
    }

    /// Messages sent so far (the next sending nonce); None on the receive-only side of a
    /// one-way pattern.
    #[getter]
    fn sending_nonce(&self, py: Python<'_>) -> Option<u64> {
        with(py, &self.inner, |t| t.sending_nonce())
    }

    /// Messages received so far (the next receiving nonce); None on the send-only side of a
    /// one-way pattern.
    #[getter]
    fn receiving_nonce(&self, py: Python<'_>) -> Option<u64> {
        with(py, &self.inner, |t| t.receiving_nonce())
    }

    fn __repr__(&self) -> &'static str {
        "<NoiseTransport>"
    }
}

/// Unordered Noise transport (explicit 8-byte nonces, replay window of 1024) from
/// `NoiseHandshake.into_unordered_transport()`, for channels that lose, duplicate or reorder
/// messages. Duplicates and too-old messages raise ReplayError; any failure changes nothing.
#[pyclass(name = "NoiseUnorderedTransport", module = "sealwire._native", frozen)]
pub(crate) struct PyNoiseUnorderedTransport {
    inner: Mutex<UnorderedTransport>,
}

#[pymethods]
impl PyNoiseUnorderedTransport {
    /// Encrypt one message (plaintext at most 65511 bytes) under the next nonce, which is
    /// sent in front of it. Releases the GIL.
    fn encrypt<'py>(
        &self,
        py: Python<'py>,
        plaintext: BytesLike<'_>,
    ) -> Result<Bound<'py, PyBytes>> {
        let message = with_detached(py, &self.inner, |t| t.encrypt(&plaintext))?;
        Ok(PyBytes::new(py, &message))
    }

    /// Decrypt a message received in any order. Releases the GIL.
    fn decrypt<'py>(&self, py: Python<'py>, message: BytesLike<'_>) -> Result<Bound<'py, PyBytes>> {
        let plaintext: Plaintext =
            Zeroizing::new(with_detached(py, &self.inner, |t| t.decrypt(&message))?);
        Ok(PyBytes::new(py, &plaintext))
    }

    /// Rekey by nonce epochs of `messages` (0: never, the default; otherwise at least 1024).
    /// Same value on both sides, set before the first message.
    fn set_rekey_interval(&self, py: Python<'_>, messages: &Bound<'_, PyInt>) -> Result<()> {
        let n = rekey_interval(messages)?;
        Ok(with(py, &self.inner, |t| t.set_rekey_interval(n))?)
    }

    /// The final handshake hash: the channel-binding value of this session.
    #[getter]
    fn handshake_hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let h = with(py, &self.inner, |t| t.handshake_hash().to_vec());
        PyBytes::new(py, &h)
    }

    /// The peer's static X25519 public key, or None if the pattern has none.
    #[getter]
    fn remote_static<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        with(py, &self.inner, |t| t.remote_static()).map(|k| PyBytes::new(py, &k))
    }

    /// True on the side that initiated the handshake.
    #[getter]
    fn is_initiator(&self, py: Python<'_>) -> bool {
        with(py, &self.inner, |t| t.is_initiator())
    }

    /// The nonce the next sent message will carry; None on the receive-only side of a
    /// one-way pattern.
    #[getter]
    fn sending_nonce(&self, py: Python<'_>) -> Option<u64> {
        with(py, &self.inner, |t| t.sending_nonce())
    }

    fn __repr__(&self) -> &'static str {
        "<NoiseUnorderedTransport>"
    }
}

/// The handshake payload by which an agent presents its identity: the encoding of its
/// PublicIdentity. Send it where the payload is encrypted (XX: messages 2 and 3); the peer
/// calls `verify_identity_payload`.
#[pyfunction]
pub(crate) fn noise_identity_payload<'py>(
    py: Python<'py>,
    identity: &Bound<'py, PyIdentity>,
) -> Bound<'py, PyBytes> {
    PyBytes::new(
        py,
        &sealwire::noise::identity_payload(&identity.get().inner),
    )
}
