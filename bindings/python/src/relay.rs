//! `sealwire._native._RelayClient` and `_RelayAgent` (the bases of `sealwire.RelayClient` and
//! `sealwire.RelayAgent`, `python/sealwire/relay.py`), `sealwire.PrekeyStatus` and
//! `sealwire.ReceiveReport`: the relay (prekey directory and offline mailbox,
//! `docs/RELAY.md`), from the core's `sealwire::relay::RelayClient` and `RelayAgent` (cargo
//! feature `relay`). The core agent keeps the order of operations (send: encrypt and commit,
//! deposit, mark sent; receive: fetch, decrypt and commit, and only then acknowledge on the
//! relay); this layer converts arguments and maps errors, nothing else.
//!
//! Ownership (the C binding's model, `ffi/src/relay.rs`): `RelayAgent(messenger, client)`
//! moves the core messenger into a core `RelayAgent` kept *inside the `Messenger` object*
//! (`messenger::Held::Relay`, under the messenger's one lock). The `Messenger` object stays
//! usable for everything (every method reaches the same state through
//! `RelayAgent::messenger`) and is `agent.messenger`; a second agent over it is refused
//! until the first releases it (`into_messenger()`, or the agent object is garbage
//! collected); `agent.close()` closes the messenger, as `sealwire_relay_agent_free` does.
//! Each agent has a token, so that an agent released by `into_messenger()` never reaches a
//! messenger that a newer agent took over.
//!
//! Every network call runs with the GIL released ([`detach`], through
//! `PyMessenger::run_held`, with the messenger's lock held: calls on one agent and its
//! messenger run one after the other). A messenger over a Python `SessionStore` works: the
//! store re-attaches to the interpreter for each of its calls. The `_async` twins are in
//! `python/sealwire/relay.py` (each agent's calls on a worker thread of its own).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pyo3::exceptions::PyBaseException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sealwire::relay::{MailboxAddress, PrekeyStatus, RelayClient, RelayOptions};
use sealwire::ErrorKind;

use crate::detach;
use crate::error::{Error, Result};
use crate::identity::PyPublicIdentity;
use crate::input::BytesLike;
use crate::messenger::{peer_arg, Agent, Held, PyMessenger, PyReceived, CLOSED};

/// Largest timeout accepted, seconds (as the C binding: 5 minutes).
const MAX_TIMEOUT: f64 = 300.0;
/// The relay's page limit and long-poll limit (`docs/RELAY.md`).
const MAX_RECEIVE_LIMIT: i64 = 1000;
const MAX_WAIT_SECONDS: i64 = 30;

/// Names each agent (see the module documentation).
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

const RELEASED: Error = Error::Binding(
    ErrorKind::InvalidParameter,
    "this RelayAgent no longer holds its Messenger (into_messenger() was called)",
);

const TAKEN: Error = Error::Binding(
    ErrorKind::InvalidParameter,
    "this Messenger already belongs to a RelayAgent (that agent's into_messenger() releases it)",
);

/// A timeout in seconds: finite, above 0, at most [`MAX_TIMEOUT`].
fn timeout_arg(secs: f64, what: &'static str) -> Result<Duration> {
    if !(secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT) {
        return Err(sealwire::Error::InvalidParameter(what).into());
    }
    Ok(Duration::try_from_secs_f64(secs).map_err(|_| sealwire::Error::InvalidParameter(what))?)
}

// --- RelayClient ----------------------------------------------------------------------------

/// A relay to talk to: its URL and the time bounds of every exchange with it (see the stub).
#[pyclass(name = "_RelayClient", module = "sealwire._native", frozen, subclass)]
pub(crate) struct PyRelayClient {
    url: String,
    options: RelayOptions,
    inner: RelayClient,
}

#[pymethods]
impl PyRelayClient {
    /// A client of the relay at `url` (`https://host[:port]`, or `http://` to a loopback
    /// address; no path). No network call. The default timeouts are core's
    /// `RelayOptions::default()` (2 s, 15 s; literals here so that the signature shows them).
    #[new]
    #[pyo3(signature = (
        url, *, connect_timeout=2.0, request_timeout=15.0, allow_plain_http=false
    ))]
    fn new(
        url: &str,
        connect_timeout: f64,
        request_timeout: f64,
        allow_plain_http: bool,
    ) -> Result<Self> {
        let options = RelayOptions {
            connect_timeout: timeout_arg(
                connect_timeout,
                "connect_timeout must be a number of seconds above 0 and at most 300",
            )?,
            request_timeout: timeout_arg(
                request_timeout,
                "request_timeout must be a number of seconds above 0 and at most 300",
            )?,
            allow_plain_http,
        };
        let inner = RelayClient::with_options(url, options)?;
        Ok(Self {
            url: url.to_owned(),
            options,
            inner,
        })
    }

    /// `GET /v1/health`: returns when the relay and its store answer, else `RelayError`.
    /// Releases the GIL.
    fn health(&self, py: Python<'_>) -> Result<()> {
        Ok(detach(py, || self.inner.health())?)
    }

    /// Bound on connection setup, seconds.
    #[getter]
    fn connect_timeout(&self) -> f64 {
        self.options.connect_timeout.as_secs_f64()
    }

    /// Bound on one whole HTTP exchange, seconds.
    #[getter]
    fn request_timeout(&self) -> f64 {
        self.options.request_timeout.as_secs_f64()
    }

    /// Whether plain `http://` to hosts that are not loopback is accepted.
    #[getter]
    fn allow_plain_http(&self) -> bool {
        self.options.allow_plain_http
    }

    fn __repr__(&self) -> String {
        // No URL: it may carry credentials.
        "<RelayClient>".to_owned()
    }
}

// --- results --------------------------------------------------------------------------------

/// What the relay holds of the owner's published prekeys.
#[pyclass(name = "PrekeyStatus", module = "sealwire._native", frozen)]
pub(crate) struct PyPrekeyStatus {
    pub(crate) inner: PrekeyStatus,
}

#[pymethods]
impl PyPrekeyStatus {
    /// Unclaimed one-time X25519 prekeys on the relay.
    #[getter]
    fn one_time(&self) -> u64 {
        self.inner.one_time
    }

    /// Unclaimed one-time ML-KEM-768 prekeys on the relay.
    #[getter]
    fn kem_one_time(&self) -> u64 {
        self.inner.kem_one_time
    }

    /// Whether the published bundle is post-quantum.
    #[getter]
    fn post_quantum(&self) -> bool {
        self.inner.post_quantum
    }

    /// The relay asks the owner to replenish (`RelayAgent.maintain` does).
    #[getter]
    fn replenish(&self) -> bool {
        self.inner.replenish
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        let b = |v: bool| if v { "True" } else { "False" };
        format!(
            "<PrekeyStatus one_time={} kem_one_time={} post_quantum={} replenish={}>",
            self.inner.one_time,
            self.inner.kem_one_time,
            b(self.inner.post_quantum),
            b(self.inner.replenish)
        )
    }
}

/// What one `RelayAgent.receive` call did.
#[pyclass(name = "ReceiveReport", module = "sealwire._native", frozen)]
pub(crate) struct PyReceiveReport {
    received: Vec<Py<PyReceived>>,
    duplicates: usize,
    rejected: usize,
    interrupted: Option<Py<PyBaseException>>,
}

#[pymethods]
impl PyReceiveReport {
    /// New messages, committed to the messenger's inbox, in deposit order: handle each,
    /// then `messenger.ack(received.id)`.
    #[getter]
    fn received(&self, py: Python<'_>) -> Vec<Py<PyReceived>> {
        self.received.iter().map(|r| r.clone_ref(py)).collect()
    }

    /// Copies of messages received before: acknowledged on the relay, nothing else.
    #[getter]
    fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// Deposits that could not be opened or decrypted (anyone may deposit): acknowledged
    /// on the relay and dropped.
    #[getter]
    fn rejected(&self) -> usize {
        self.rejected
    }

    /// None, or the error (usually a `RelayError`) that ended the batch *after* messages
    /// were committed: they are in `received`; those not acknowledged on the relay come
    /// back later as duplicates.
    #[getter]
    fn interrupted(&self, py: Python<'_>) -> Option<Py<PyBaseException>> {
        self.interrupted.as_ref().map(|e| e.clone_ref(py))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let interrupted = match &self.interrupted {
            None => "None".to_owned(),
            Some(e) => e
                .bind(py)
                .getattr("code")
                .and_then(|c| c.extract::<String>())
                .unwrap_or_else(|_| "error".to_owned()),
        };
        format!(
            "<ReceiveReport received={} duplicates={} rejected={} interrupted={}>",
            self.received.len(),
            self.duplicates,
            self.rejected,
            interrupted
        )
    }
}

// --- RelayAgent -----------------------------------------------------------------------------

/// A `Messenger` whose transport is a relay (see the stub and the module documentation).
#[pyclass(name = "_RelayAgent", module = "sealwire._native", frozen, subclass)]
pub(crate) struct PyRelayAgent {
    messenger: Py<PyMessenger>,
    client: Py<PyRelayClient>,
    token: u64,
    request_timeout: Duration,
    address: MailboxAddress,
}

impl PyRelayAgent {
    /// Run `f` on this agent's core agent with the GIL released; a Python store's
    /// exceptions become the `__cause__` of the error.
    fn call<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Agent) -> sealwire::Result<T> + Send,
    ) -> Result<T> {
        let token = self.token;
        let (result, causes) = self.messenger.get().run_held(py, |held| match held {
            Held::Relay(agent, t) if *t == token => f(agent).map_err(Error::from),
            Held::Closed => Err(CLOSED),
            _ => Err(RELEASED),
        })?;
        causes.finish(py, result)
    }

    fn status(inner: PrekeyStatus) -> PyPrekeyStatus {
        PyPrekeyStatus { inner }
    }
}

impl Drop for PyRelayAgent {
    /// Garbage collected while still holding its messenger: give the messenger back (it is
    /// not closed: the application may still hold the `Messenger` object).
    fn drop(&mut self) {
        let token = self.token;
        Python::attach(|py| {
            // Err only when this thread is inside a call on the messenger (a store callback
            // dropping the agent): then the messenger stays with the agent.
            let _ = self.messenger.get().with_held_attached(py, |held| {
                if matches!(held, Held::Relay(_, t) if *t == token) {
                    if let Held::Relay(agent, _) = std::mem::replace(held, Held::Closed) {
                        *held = Held::Plain(agent.into_messenger());
                    }
                }
            });
        });
    }
}

#[pymethods]
impl PyRelayAgent {
    /// Make `messenger` (SQLite, memory or Python store) a relay agent of `client`'s relay
    /// (mailbox epoch 0). No network call: `publish()` next.
    #[new]
    fn new(
        py: Python<'_>,
        messenger: &Bound<'_, PyMessenger>,
        client: &Bound<'_, PyRelayClient>,
    ) -> Result<Self> {
        let c = client.get();
        // Each agent gets its own connection pool, with the client's URL and options.
        let relay = RelayClient::with_options(&c.url, c.options)?;
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let address = messenger.get().with_held_attached(py, |held| {
            match std::mem::replace(held, Held::Closed) {
                // `RelayAgent::new` only derives the mailbox keys (HKDF): it does not fail
                // in practice; if it did, the messenger would be left closed.
                Held::Plain(inner) => {
                    let agent = Agent::new(inner, relay)?;
                    let address = agent.mailbox().address();
                    *held = Held::Relay(Box::new(agent), token);
                    Ok(address)
                }
                Held::Closed => Err(CLOSED),
                other => {
                    *held = other;
                    Err(TAKEN)
                }
            }
        })??;
        Ok(Self {
            messenger: messenger.clone().unbind(),
            client: client.clone().unbind(),
            token,
            request_timeout: c.options.request_timeout,
            address,
        })
    }

    /// The messenger (the object given to the constructor; inbox, `ack`, counter, ...).
    #[getter]
    fn messenger(&self, py: Python<'_>) -> Py<PyMessenger> {
        self.messenger.clone_ref(py)
    }

    /// The client given to the constructor.
    #[getter]
    fn client(&self, py: Python<'_>) -> Py<PyRelayClient> {
        self.client.clone_ref(py)
    }

    /// Our mailbox address (32 bytes; a hash of the mailbox signing key, not the identity).
    #[getter]
    fn mailbox_address<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.address)
    }

    /// Open our mailbox and publish our bundle with its signed mailbox descriptor.
    /// Releases the GIL.
    fn publish(&self, py: Python<'_>) -> Result<PyPrekeyStatus> {
        self.call(py, Agent::publish).map(Self::status)
    }

    /// `publish()` dropping what the relay holds for us first (after
    /// `Messenger.recover_from_rollback`). Releases the GIL.
    fn publish_reset(&self, py: Python<'_>) -> Result<PyPrekeyStatus> {
        self.call(py, Agent::publish_reset).map(Self::status)
    }

    /// Replenish (committed) and publish again when the relay asks to; the status after.
    /// Releases the GIL.
    fn maintain(&self, py: Python<'_>) -> Result<PyPrekeyStatus> {
        self.call(py, Agent::maintain).map(Self::status)
    }

    /// Claim `peer`'s bundle on the relay and start a session with it (committed).
    /// Releases the GIL.
    fn connect(&self, py: Python<'_>, peer: &Bound<'_, PyPublicIdentity>) -> Result<()> {
        let peer = &peer.get().inner;
        self.call(py, |a| a.connect(peer))
    }

    /// Encrypt for `peer` (committed with an outbox record), deposit, mark sent; the
    /// outbox id. Releases the GIL.
    fn send(
        &self,
        py: Python<'_>,
        peer: &Bound<'_, PyAny>,
        plaintext: BytesLike<'_>,
    ) -> Result<u64> {
        let peer = peer_arg(peer)?;
        self.call(py, |a| a.send(&peer, &plaintext))
    }

    /// Deposit the outbox records not yet marked sent, oldest first; how many. Releases the
    /// GIL.
    fn flush_outbox(&self, py: Python<'_>) -> Result<usize> {
        self.call(py, Agent::flush_outbox)
    }

    /// Receive up to `limit` messages in deposit order, each committed before it is
    /// acknowledged on the relay; with an empty mailbox wait up to `wait_seconds` for one.
    /// Releases the GIL.
    #[pyo3(signature = (limit=100, wait_seconds=0))]
    fn receive(&self, py: Python<'_>, limit: i64, wait_seconds: i64) -> Result<PyReceiveReport> {
        if !(1..=MAX_RECEIVE_LIMIT).contains(&limit) {
            return Err(sealwire::Error::InvalidParameter("limit must be 1 ..= 1000").into());
        }
        if !(0..=MAX_WAIT_SECONDS).contains(&wait_seconds) {
            return Err(sealwire::Error::InvalidParameter("wait_seconds must be 0 ..= 30").into());
        }
        let (limit, wait) = (limit.unsigned_abs(), wait_seconds.unsigned_abs());
        if Duration::from_secs(wait) >= self.request_timeout {
            return Err(sealwire::Error::InvalidParameter(
                "wait_seconds must be shorter than the client's request_timeout",
            )
            .into());
        }
        let (limit, wait) = (
            u32::try_from(limit).map_err(|_| sealwire::Error::InvalidParameter("limit"))?,
            u32::try_from(wait).map_err(|_| sealwire::Error::InvalidParameter("wait_seconds"))?,
        );
        let token = self.token;
        let (result, causes) = self.messenger.get().run_held(py, |held| match held {
            Held::Relay(agent, t) if *t == token => {
                agent.receive_waiting(limit, wait).map_err(Error::from)
            }
            Held::Closed => Err(CLOSED),
            _ => Err(RELEASED),
        })?;
        let mut report = match result {
            Ok(r) => r,
            Err(e) => return causes.finish(py, Err(e)),
        };
        let interrupted = match report.interrupted.take() {
            Some(e) => Some(causes.reported(py, Error::Core(e))?.into_value(py)),
            None => {
                causes.finish(py, Ok(()))?;
                None
            }
        };
        let received = report
            .received
            .into_iter()
            .map(|r| Py::new(py, PyReceived::from(r)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyReceiveReport {
            received,
            duplicates: report.duplicates,
            rejected: report.rejected,
            interrupted,
        })
    }

    /// Give the messenger back without an agent (the same `Messenger` object); every later
    /// call on this agent raises `ParameterError`.
    #[pyo3(name = "into_messenger")]
    fn release_messenger(&self, py: Python<'_>) -> Result<Py<PyMessenger>> {
        let token = self.token;
        self.messenger.get().with_held_attached(py, |held| {
            match std::mem::replace(held, Held::Closed) {
                Held::Relay(agent, t) if t == token => {
                    *held = Held::Plain(agent.into_messenger());
                    Ok(())
                }
                Held::Closed => Err(CLOSED),
                other => {
                    *held = other;
                    Err(RELEASED)
                }
            }
        })??;
        Ok(self.messenger.clone_ref(py))
    }

    /// Close the messenger (everything committed stays in the store). Idempotent; a no-op
    /// for an agent released by `into_messenger()`.
    fn close(&self, py: Python<'_>) -> Result<()> {
        let token = self.token;
        let messenger = self.messenger.get();
        let taken = messenger.with_held_attached(py, |held| {
            matches!(held, Held::Relay(_, t) if *t == token).then(|| messenger.close_held(held))
        })?;
        // Closing SQLite checkpoints the WAL: off the GIL.
        detach(py, move || drop(taken));
        Ok(())
    }

    /// Whether this agent no longer holds an open messenger (`close()`, `into_messenger()`,
    /// or `Messenger.close()`).
    #[getter]
    fn closed(&self, py: Python<'_>) -> Result<bool> {
        let token = self.token;
        self.messenger
            .get()
            .with_held_attached(py, |held| !matches!(held, Held::Relay(_, t) if *t == token))
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> Result<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match self.closed(py) {
            Ok(false) => "<RelayAgent>".to_owned(),
            Ok(true) => "<RelayAgent closed>".to_owned(),
            Err(_) => "<RelayAgent in use>".to_owned(),
        }
    }
}
