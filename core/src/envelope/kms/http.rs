//! The small HTTP layer under both KMS providers: one `ureq` agent (rustls, no redirects, no
//! proxy unless asked), bounded timeouts, bounded retries, request counters, and transport
//! failures mapped to typed errors. Nothing here logs, and no error carries a URL, a header
//! or a body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ureq::http::{Response, Uri};
use zeroize::Zeroizing;

use super::retry::{self, Attempt, RetryPolicy};
use crate::error::{Error, Result};

/// Largest KMS response body read (1 MiB).
const MAX_RESPONSE_LEN: u64 = 1024 * 1024;

/// Timeouts, retries and transport rules of a KMS provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    connect_timeout: Duration,
    request_timeout: Duration,
    retry: RetryPolicy,
    allow_plain_http: bool,
    use_env_proxy: bool,
}

impl Default for HttpOptions {
    /// Connect timeout 2 s, whole-request timeout 10 s, [`RetryPolicy::default`], TLS
    /// required except on loopback, proxy variables ignored.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            allow_plain_http: false,
            use_env_proxy: false,
        }
    }
}

impl HttpOptions {
    /// Bound on connection setup (TCP and TLS): an unreachable KMS fails after at most this.
    pub fn with_connect_timeout(mut self, d: Duration) -> Result<Self> {
        if d.is_zero() || d > Duration::from_secs(120) {
            return Err(Error::InvalidParameter("connect timeout must be 1 ns ..= 120 s"));
        }
        self.connect_timeout = d;
        Ok(self)
    }
    /// Bound on one whole HTTP exchange (connect, send, receive).
    pub fn with_request_timeout(mut self, d: Duration) -> Result<Self> {
        if d.is_zero() || d > Duration::from_secs(600) {
            return Err(Error::InvalidParameter("request timeout must be 1 ns ..= 600 s"));
        }
        self.request_timeout = d;
        Ok(self)
    }
    /// Retry policy for throttling and server errors.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
    /// Allow `http://` endpoints that are not loopback (tokens and data keys then cross the
    /// network in clear: only for test networks). Loopback (`127.0.0.0/8`, `::1`,
    /// `localhost`) is always allowed.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }
    /// Honour `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` (off by default).
    pub fn use_env_proxy(mut self, yes: bool) -> Self {
        self.use_env_proxy = yes;
        self
    }
    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// The whole-request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
    /// The retry policy.
    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }
}

/// Request counters of one provider (each clone of a provider shares them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KmsStats {
    /// KMS operations started (encrypt, decrypt, data key, re-encrypt, key reads, …).
    pub operations: u64,
    /// HTTP exchanges attempted (operations plus retries).
    pub http_requests: u64,
    /// Retries after throttling, server errors or dropped connections.
    pub retries: u64,
    /// Operations that ended in an error.
    pub failures: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    operations: AtomicU64,
    http_requests: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> KmsStats {
        KmsStats {
            operations: self.operations.load(Ordering::Relaxed),
            http_requests: self.http_requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// One HTTP answer: status and body (zeroized on drop: it may hold a data key).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

/// A checked endpoint: scheme, host and port, without a trailing slash.
pub(crate) fn check_endpoint(url: &str, opts: &HttpOptions) -> Result<String> {
    let url = url.trim_end_matches('/');
    let uri: Uri = url.parse().map_err(|_| Error::InvalidParameter("KMS endpoint is not a valid URL"))?;
    let host = uri.host().ok_or(Error::InvalidParameter("KMS endpoint URL has no host"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") => {
            if !opts.allow_plain_http && !is_loopback(host) {
                return Err(Error::InvalidParameter(
                    "KMS endpoint must use https (plain http is allowed on loopback only)",
                ));
            }
        }
        _ => return Err(Error::InvalidParameter("KMS endpoint URL must start with https:// or http://")),
    }
    if uri.query().is_some() {
        return Err(Error::InvalidParameter("KMS endpoint URL must not carry a query"));
    }
    Ok(url.to_owned())
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

/// The agent of one provider plus its counters.
pub(crate) struct HttpClient {
    agent: ureq::Agent,
    retry: RetryPolicy,
    counters: Arc<Counters>,
}

impl core::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HttpClient").field("retry", &self.retry).finish_non_exhaustive()
    }
}

/// What a provider's `send` closure returns: one HTTP response or ureq's error.
pub(crate) type SendResult = core::result::Result<Response<ureq::Body>, ureq::Error>;

impl HttpClient {
    pub(crate) fn new(opts: &HttpOptions) -> Self {
        let mut b = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_global(Some(opts.request_timeout))
            .user_agent(concat!("sealwire/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(8);
        if !opts.use_env_proxy {
            b = b.proxy(None);
        }
        Self { agent: b.build().new_agent(), retry: opts.retry, counters: Arc::new(Counters::default()) }
    }

    pub(crate) fn stats(&self) -> KmsStats {
        self.counters.snapshot()
    }

    /// One KMS operation: `send` performs one HTTP exchange (built afresh on every attempt,
    /// so a signature can be renewed), `classify` turns an answer into a result or a retry.
    pub(crate) fn call<T>(&self, send: &dyn Fn(&ureq::Agent) -> SendResult, classify: &dyn Fn(Reply) -> Attempt<T>) -> Result<T> {
        self.counters.operations.fetch_add(1, Ordering::Relaxed);
        let r = retry::run(
            &self.retry,
            || {
                self.counters.http_requests.fetch_add(1, Ordering::Relaxed);
                match send(&self.agent) {
                    Ok(mut resp) => {
                        let status = resp.status().as_u16();
                        match read_body(resp.body_mut()) {
                            Ok(body) => classify(Reply { status, body }),
                            Err(e) => transport_error(e),
                        }
                    }
                    Err(e) => transport_error(e),
                }
            },
            || {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
            },
        );
        if r.is_err() {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
}

/// Read a response body (at most 1 MiB) into a zeroizing buffer sized from Content-Length,
/// so the buffer holding a data key is not reallocated (leaving copies) while it is read.
fn read_body(body: &mut ureq::Body) -> core::result::Result<Zeroizing<Vec<u8>>, ureq::Error> {
    use std::io::Read as _;
    let cap = body.content_length().unwrap_or(8 * 1024).min(MAX_RESPONSE_LEN);
    let mut buf = Zeroizing::new(Vec::with_capacity(usize::try_from(cap).unwrap_or(8 * 1024)));
    body.with_config().limit(MAX_RESPONSE_LEN).reader().read_to_end(&mut buf).map_err(ureq::Error::from)?;
    Ok(buf)
}

/// Transport failures: never retried except a connection the server dropped (which a
/// pooled keep-alive connection can meet); an unreachable server fails fast.
fn transport_error<T>(e: ureq::Error) -> Attempt<T> {
    use std::io::ErrorKind as K;
    let fatal = |e: Error| Attempt::Done(Err(e));
    match e {
        ureq::Error::Timeout(_) => fatal(Error::KmsTimeout),
        ureq::Error::HostNotFound => fatal(Error::KmsUnavailable("host not found")),
        ureq::Error::ConnectionFailed => fatal(Error::KmsUnavailable("connection failed")),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused => fatal(Error::KmsUnavailable("connection refused")),
            K::TimedOut | K::WouldBlock => fatal(Error::KmsTimeout),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                Attempt::Retry(Error::KmsUnavailable("connection dropped by the server"))
            }
            K::AddrNotAvailable | K::NetworkUnreachable | K::HostUnreachable => {
                fatal(Error::KmsUnavailable("network unreachable"))
            }
            _ => fatal(Error::KmsUnavailable("I/O error")),
        },
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) | ureq::Error::TlsRequired => {
            fatal(Error::KmsUnavailable("TLS failure"))
        }
        ureq::Error::BodyExceedsLimit(_) => fatal(Error::ProviderFailed("KMS response larger than 1 MiB")),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => fatal(Error::InvalidParameter("KMS request URL")),
        ureq::Error::Protocol(_) => fatal(Error::KmsUnavailable("HTTP protocol error")),
        _ => fatal(Error::KmsUnavailable("transport error")),
    }
}

/// Standard handling of statuses both KMS APIs share: 429 → retry as throttled; 5xx → retry
/// as unavailable (503/502/504 included). `None` for every other status.
pub(crate) fn retry_status<T>(status: u16) -> Option<Attempt<T>> {
    match status {
        429 => Some(Attempt::Retry(Error::KmsThrottled)),
        500..=599 => Some(Attempt::Retry(Error::KmsUnavailable("server error (5xx) until retries ran out"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn endpoints_need_tls_except_on_loopback() {
        let o = HttpOptions::default();
        assert_eq!(check_endpoint("http://127.0.0.1:8200/", &o).unwrap(), "http://127.0.0.1:8200");
        assert!(check_endpoint("http://localhost:1", &o).is_ok());
        assert!(check_endpoint("http://[::1]:1", &o).is_ok());
        assert!(check_endpoint("https://kms.eu-west-1.amazonaws.com", &o).is_ok());
        assert_eq!(
            check_endpoint("http://10.0.0.1:8200", &o),
            Err(Error::InvalidParameter("KMS endpoint must use https (plain http is allowed on loopback only)"))
        );
        assert!(check_endpoint("http://10.0.0.1:8200", &o.allow_plain_http(true)).is_ok());
        assert!(check_endpoint("ftp://x", &o).is_err());
        assert!(check_endpoint("no url", &o).is_err());
        assert!(check_endpoint("/relative", &o).is_err());
        assert!(check_endpoint("https://h/?q=1", &o).is_err());
    }
}
