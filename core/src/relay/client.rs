//! [`RelayClient`]: the blocking HTTP client of `sealwire relay` (cargo feature `relay`).
//!
//! One `ureq` agent (rustls, no redirects, no proxy), bounded timeouts, every authenticated
//! request signed afresh (new nonce) on each attempt. Relay error codes become typed
//! errors (`docs/RELAY.md`, "Error codes"). Nothing here logs, and no error carries a URL,
//! a key, an address or a body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use ureq::http::Uri;

use super::mailbox::{deposit_id, MailboxAddress, MailboxDescriptor, MailboxKeys};
use super::request::{
    hex_array, hex_lower, sign_request, RequestSigner, HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity};
use crate::ratchet::PrekeyBundle;
use crate::hygiene::emit;
use crate::store::PeerId;

/// Largest response body read (a bundle with 1000 ML-KEM prekeys, base64, is ≈ 1.7 MiB).
const MAX_RESPONSE_LEN: u64 = 8 * 1024 * 1024;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Timeouts and transport rules of a [`RelayClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayOptions {
    /// Bound on connection setup (default 2 s).
    pub connect_timeout: Duration,
    /// Bound on one whole HTTP exchange (default 15 s).
    pub request_timeout: Duration,
    /// Allow `http://` to hosts that are not loopback (default false: only for test networks).
    pub allow_plain_http: bool,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(2), request_timeout: Duration::from_secs(15), allow_plain_http: false }
    }
}

/// The owner's view of its published prekeys (`GET /v1/bundles/{owner}/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct PrekeyStatus {
    /// Unclaimed one-time X25519 prekeys on the relay.
    pub one_time: u64,
    /// Unclaimed one-time ML-KEM prekeys on the relay.
    pub kem_one_time: u64,
    /// Whether the bundle is post-quantum.
    pub post_quantum: bool,
    /// The relay asks the owner to replenish (a kind below its threshold).
    pub replenish: bool,
}

/// A bundle claimed from the directory for one initiator.
#[derive(Debug, Clone)]
pub struct ClaimedBundle {
    /// The bundle, verified, with at most one one-time prekey of each kind.
    pub bundle: PrekeyBundle,
    /// The owner's mailbox, verified against the bundle's identity (if published).
    pub mailbox: Option<MailboxDescriptor>,
    /// A one-time X25519 prekey was left for us.
    pub one_time: bool,
    /// A one-time ML-KEM prekey was left for us (else the last-resort one, if post-quantum).
    pub kem_one_time: bool,
}

/// One message waiting in a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxEntry {
    /// Position in deposit order (increasing, never reused).
    pub seq: u64,
    /// The deposit id (`docs/RELAY.md`).
    pub deposit_id: [u8; 32],
}

/// Messages with their sealed bodies, in deposit order ([`RelayClient::fetch_batch`]).
pub type SealedBatch = Vec<(MailboxEntry, Vec<u8>)>;

/// One page of a mailbox listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxPage {
    /// Messages in deposit order.
    pub messages: Vec<MailboxEntry>,
    /// More messages follow the last one.
    pub more: bool,
}

#[derive(Serialize)]
struct PublishBody {
    bundle: String,
    mailbox: Option<String>,
    reset: bool,
}

#[derive(Deserialize)]
struct ClaimReply {
    bundle: String,
    mailbox: Option<String>,
    one_time: bool,
    kem_one_time: bool,
}

#[derive(Deserialize)]
struct MailboxReply {
    identity: String,
    mailbox: String,
}

#[derive(Deserialize)]
struct ListReply {
    messages: Vec<ListEntry>,
    more: bool,
}

#[derive(Deserialize)]
struct ListEntry {
    seq: u64,
    deposit_id: String,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Serialize)]
struct AckBody<'a> {
    seqs: &'a [u64],
}

#[derive(Deserialize)]
struct Created {
    created: bool,
}

#[derive(Deserialize)]
struct Stored {
    stored: bool,
}

#[derive(Deserialize)]
struct Deleted {
    deleted: bool,
}

#[derive(Deserialize)]
struct Deleted2 {
    deleted: u64,
}

#[derive(Deserialize)]
struct ErrorReply {
    error: String,
}

/// A blocking client of one relay.
pub struct RelayClient {
    agent: ureq::Agent,
    base: String,
}

impl core::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RelayClient(..)")
    }
}

struct Reply {
    status: u16,
    body: Vec<u8>,
    /// What the request did ([`operation`]), for the `sealwire.relay.error` event.
    operation: &'static str,
}

/// The kind of a relay request, from its method and path — never the path's identifiers
/// (owner keys, mailbox addresses, deposit ids): the `operation` field of relay events.
fn operation(method: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let resource = segs.get(1).copied().unwrap_or_default();
    let sub = segs.get(3).copied();
    match (method, resource, sub) {
        (_, "health", _) => "health",
        ("PUT", "bundles", None) => "publish",
        ("GET", "bundles", Some("status")) => "bundle-status",
        ("POST", "bundles", Some("claim")) => "claim",
        ("GET", "bundles", Some("mailbox")) => "mailbox-lookup",
        ("PUT", "mailboxes", None) => "open-mailbox",
        ("PUT", "mailboxes", Some("messages")) => "deposit",
        ("GET", "mailboxes", Some("messages")) => "fetch",
        ("POST", "mailboxes", Some("ack")) | ("DELETE", "mailboxes", Some("messages")) => "ack",
        _ => "other",
    }
}

enum Auth<'a> {
    None,
    Signed(RequestSigner<'a>),
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl RelayClient {
    /// A client of the relay at `url` (`https://host:port`, or `http://` on loopback) with
    /// default options.
    pub fn new(url: &str) -> Result<Self> {
        Self::with_options(url, RelayOptions::default())
    }

    /// A client with explicit options.
    pub fn with_options(url: &str, options: RelayOptions) -> Result<Self> {
        let base = check_url(url, &options)?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(options.connect_timeout))
            .timeout_global(Some(options.request_timeout))
            .user_agent(concat!("sealwire/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(8)
            .proxy(None)
            .build()
            .new_agent();
        Ok(Self { agent, base })
    }

    /// `GET /v1/health`: `Ok` when the relay and its store answer.
    pub fn health(&self) -> Result<()> {
        let r = self.request("GET", "/v1/health", &[], Auth::None)?;
        expect(r, &[200]).map(|_| ())
    }

    /// Publish (or replace) `identity`'s bundle, with its mailbox descriptor. `reset` drops
    /// every prekey the relay holds for this owner first (after a rollback recovery, whose
    /// new prekey ids start again at 1); otherwise already-claimed prekeys are never handed
    /// out again (`docs/RELAY.md`, "Publishing again").
    pub fn publish_bundle(
        &self,
        identity: &Identity,
        bundle: &PrekeyBundle,
        mailbox: Option<&MailboxDescriptor>,
        reset: bool,
    ) -> Result<PrekeyStatus> {
        if bundle.identity() != identity.public() {
            return Err(Error::IdentityMismatch("the bundle belongs to another identity"));
        }
        let body = PublishBody {
            bundle: B64.encode(bundle.to_bytes()),
            mailbox: mailbox.map(|m| B64.encode(m.to_bytes())),
            reset,
        };
        let body = serde_json::to_vec(&body).map_err(|_| Error::InvalidParameter("relay request encoding"))?;
        let path = format!("/v1/bundles/{}", hex_lower(identity.public().ed25519_bytes()));
        let r = self.request("PUT", &path, &body, Auth::Signed(RequestSigner::Identity(identity)))?;
        json(&expect(r, &[200])?)
    }

    /// How many of `identity`'s one-time prekeys are left on the relay, and whether to
    /// replenish.
    pub fn prekey_status(&self, identity: &Identity) -> Result<PrekeyStatus> {
        let path = format!("/v1/bundles/{}/status", hex_lower(identity.public().ed25519_bytes()));
        let r = self.request("GET", &path, &[], Auth::Signed(RequestSigner::Identity(identity)))?;
        json(&expect(r, &[200])?)
    }

    /// Claim `owner`'s bundle: the relay hands out (and forgets) one one-time prekey of each
    /// kind. The bundle and the mailbox descriptor are verified, and must belong to `owner`
    /// ([`Error::IdentityMismatch`] otherwise).
    pub fn claim_bundle(&self, owner: &PeerId) -> Result<ClaimedBundle> {
        let path = format!("/v1/bundles/{}/claim", hex_lower(owner));
        let r = self.request("POST", &path, &[], Auth::None)?;
        let reply: ClaimReply = json(&expect(r, &[200])?)?;
        let bundle = PrekeyBundle::from_bytes(&b64(&reply.bundle)?)?;
        if bundle.identity().ed25519_bytes() != owner {
            return Err(Error::IdentityMismatch("the relay returned another identity's bundle"));
        }
        let mailbox = reply.mailbox.map(|m| MailboxDescriptor::from_bytes(&b64(&m)?, bundle.identity())).transpose()?;
        Ok(ClaimedBundle { bundle, mailbox, one_time: reply.one_time, kem_one_time: reply.kem_one_time })
    }

    /// `owner`'s public identity and mailbox descriptor, verified (claims nothing).
    pub fn mailbox_of(&self, owner: &PeerId) -> Result<(PublicIdentity, MailboxDescriptor)> {
        let path = format!("/v1/bundles/{}/mailbox", hex_lower(owner));
        let r = self.request("GET", &path, &[], Auth::None)?;
        let reply: MailboxReply = json(&expect(r, &[200])?)?;
        let identity = PublicIdentity::from_bytes(&b64(&reply.identity)?)?;
        if identity.ed25519_bytes() != owner {
            return Err(Error::IdentityMismatch("the relay returned another identity"));
        }
        let d = MailboxDescriptor::from_bytes(&b64(&reply.mailbox)?, &identity)?;
        Ok((identity, d))
    }

    /// Open (create) our mailbox so that deposits are accepted. Idempotent; `true` if it
    /// was created now.
    pub fn open_mailbox(&self, keys: &MailboxKeys) -> Result<bool> {
        let path = format!("/v1/mailboxes/{}", hex_lower(&keys.address()));
        let r = self.request("PUT", &path, &[], Auth::Signed(RequestSigner::Mailbox(keys)))?;
        Ok(json::<Created>(&expect(r, &[200, 201])?)?.created)
    }

    /// Seal ratchet message `message` for mailbox `to` and deposit it (anonymous). `false`
    /// if the relay already held it (same deposit id: a re-send).
    pub fn deposit(&self, to: &MailboxDescriptor, message: &[u8]) -> Result<bool> {
        let address = to.address();
        self.deposit_sealed(&address, &deposit_id(&address, message), &to.seal(message)?)
    }

    /// Deposit an already sealed message (`SWMM`) under `deposit_id`.
    pub fn deposit_sealed(&self, address: &MailboxAddress, deposit_id: &[u8; 32], sealed: &[u8]) -> Result<bool> {
        let path = format!("/v1/mailboxes/{}/messages/{}", hex_lower(address), hex_lower(deposit_id));
        let r = self.request("PUT", &path, sealed, Auth::None)?;
        Ok(json::<Stored>(&expect(r, &[200, 201])?)?.stored)
    }

    /// Up to `limit` (1‥1000) messages after `after` (0: from the start), in deposit order.
    pub fn list(&self, keys: &MailboxKeys, after: u64, limit: u32) -> Result<MailboxPage> {
        self.list_wait(keys, after, limit, 0)
    }

    /// [`RelayClient::list`], but when no message is waiting the relay holds the request up
    /// to `wait_secs` (≤ 30, and below the client's request timeout) and answers as soon as
    /// a deposit for this mailbox commits — on this relay process or, with NATS, on another.
    pub fn list_wait(&self, keys: &MailboxKeys, after: u64, limit: u32, wait_secs: u32) -> Result<MailboxPage> {
        let mut path = format!("/v1/mailboxes/{}/messages?after={after}&limit={limit}", hex_lower(&keys.address()));
        if wait_secs > 0 {
            path.push_str(&format!("&wait={wait_secs}"));
        }
        let r = self.request("GET", &path, &[], Auth::Signed(RequestSigner::Mailbox(keys)))?;
        let reply: ListReply = json(&expect(r, &[200])?)?;
        let mut messages = Vec::with_capacity(reply.messages.len());
        for m in reply.messages {
            messages.push(MailboxEntry { seq: m.seq, deposit_id: hex_array(&m.deposit_id, "relay deposit id")? });
        }
        Ok(MailboxPage { messages, more: reply.more })
    }

    /// Up to `limit` messages after `after` *with their sealed bodies*, in deposit order, in
    /// one request (the relay stops at about 4 MiB of bodies; `more` says whether anything
    /// is left). `wait_secs` as in [`RelayClient::list_wait`].
    pub fn fetch_batch(
        &self,
        keys: &MailboxKeys,
        after: u64,
        limit: u32,
        wait_secs: u32,
    ) -> Result<(SealedBatch, bool)> {
        let mut path = format!("/v1/mailboxes/{}/messages?after={after}&limit={limit}&bodies=1", hex_lower(&keys.address()));
        if wait_secs > 0 {
            path.push_str(&format!("&wait={wait_secs}"));
        }
        let r = self.request("GET", &path, &[], Auth::Signed(RequestSigner::Mailbox(keys)))?;
        let reply: ListReply = json(&expect(r, &[200])?)?;
        let mut out = Vec::with_capacity(reply.messages.len());
        for m in reply.messages {
            let entry = MailboxEntry { seq: m.seq, deposit_id: hex_array(&m.deposit_id, "relay deposit id")? };
            let body = b64(m.body.as_deref().ok_or(Error::Malformed("relay response: message without body"))?)?;
            out.push((entry, body));
        }
        Ok((out, reply.more))
    }

    /// Acknowledge (delete) several messages in one request (1‥1000); returns how many
    /// were still there.
    pub fn ack_many(&self, keys: &MailboxKeys, seqs: &[u64]) -> Result<u64> {
        let body = serde_json::to_vec(&AckBody { seqs }).map_err(|_| Error::InvalidParameter("relay request encoding"))?;
        let path = format!("/v1/mailboxes/{}/ack", hex_lower(&keys.address()));
        let r = self.request("POST", &path, &body, Auth::Signed(RequestSigner::Mailbox(keys)))?;
        Ok(json::<Deleted2>(&expect(r, &[200])?)?.deleted)
    }

    /// The sealed message `seq` (open it with [`MailboxKeys::open`]).
    pub fn fetch(&self, keys: &MailboxKeys, seq: u64) -> Result<Vec<u8>> {
        let path = format!("/v1/mailboxes/{}/messages/{seq}", hex_lower(&keys.address()));
        let r = self.request("GET", &path, &[], Auth::Signed(RequestSigner::Mailbox(keys)))?;
        expect(r, &[200])
    }

    /// Acknowledge (delete) message `seq`. Idempotent; `true` if it was still there.
    pub fn ack(&self, keys: &MailboxKeys, seq: u64) -> Result<bool> {
        let path = format!("/v1/mailboxes/{}/messages/{seq}", hex_lower(&keys.address()));
        let r = self.request("DELETE", &path, &[], Auth::Signed(RequestSigner::Mailbox(keys)))?;
        Ok(json::<Deleted>(&expect(r, &[200])?)?.deleted)
    }

    /// One exchange; a connection the server dropped (a stale pooled connection) is retried
    /// once, signed again with a new nonce.
    fn request(&self, method: &str, path: &str, body: &[u8], auth: Auth<'_>) -> Result<Reply> {
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            match self.request_once(method, path, body, &auth) {
                Err(Retryable(e)) if attempt >= 2 => break Err(e),
                Err(Retryable(_)) => continue,
                Ok(r) => break r,
            }
        };
        let operation = operation(method, path);
        match result {
            Ok(mut r) => {
                r.operation = operation;
                Ok(r)
            }
            Err(e) => {
                emit::relay_error(operation, None, &e);
                Err(e)
            }
        }
    }

    fn request_once(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        auth: &Auth<'_>,
    ) -> core::result::Result<Result<Reply>, Retryable> {
        let headers = match auth {
            Auth::None => None,
            Auth::Signed(signer) => match sign_request(*signer, method, path, body, now_unix()) {
                Ok(a) => Some(a.header_values()),
                Err(e) => return Ok(Err(e)),
            },
        };
        let url = format!("{}{}", self.base, path);
        let add = |mut rb: ureq::http::request::Builder| {
            if let Some([k, t, n, s]) = &headers {
                rb = rb.header(HEADER_KEY, k).header(HEADER_TIMESTAMP, t).header(HEADER_NONCE, n).header(HEADER_SIGNATURE, s);
            }
            rb
        };
        let built = add(ureq::http::Request::builder().method(method).uri(url.as_str()));
        let built = if method == "GET" || method == "DELETE" {
            built.body(()).map(|r| self.agent.run(r))
        } else {
            built
                .header(
                    "Content-Type",
                    if (path.starts_with("/v1/bundles") && method == "PUT") || path.ends_with("/ack") {
                        "application/json"
                    } else {
                        "application/octet-stream"
                    },
                )
                .body(body)
                .map(|r| self.agent.run(r))
        };
        let result = match built {
            Ok(r) => r,
            Err(_) => return Ok(Err(Error::InvalidParameter("relay request URL"))),
        };
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                use std::io::Read as _;
                let mut buf = Vec::new();
                match resp.body_mut().with_config().limit(MAX_RESPONSE_LEN).reader().read_to_end(&mut buf) {
                    Ok(_) => Ok(Ok(Reply { status, body: buf, operation: "other" })),
                    Err(e) => transport(ureq::Error::from(e)),
                }
            }
            Err(e) => transport(e),
        }
    }
}

struct Retryable(Error);

fn transport(e: ureq::Error) -> core::result::Result<Result<Reply>, Retryable> {
    use std::io::ErrorKind as K;
    let fatal = |e: Error| Ok(Err(e));
    match e {
        ureq::Error::Timeout(_) => fatal(Error::RelayTimeout),
        ureq::Error::HostNotFound => fatal(Error::RelayUnavailable("host not found")),
        ureq::Error::ConnectionFailed => fatal(Error::RelayUnavailable("connection failed")),
        ureq::Error::Io(io) => match io.kind() {
            K::ConnectionRefused => fatal(Error::RelayUnavailable("connection refused")),
            K::TimedOut | K::WouldBlock => fatal(Error::RelayTimeout),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                Err(Retryable(Error::RelayUnavailable("connection dropped by the relay")))
            }
            _ => fatal(Error::RelayUnavailable("I/O error")),
        },
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) | ureq::Error::TlsRequired => {
            fatal(Error::RelayUnavailable("TLS failure"))
        }
        ureq::Error::BodyExceedsLimit(_) => fatal(Error::RelayUnavailable("relay response too large")),
        ureq::Error::Protocol(_) => Err(Retryable(Error::RelayUnavailable("HTTP protocol error"))),
        _ => fatal(Error::RelayUnavailable("transport error")),
    }
}

/// The body of a reply with one of the `ok` statuses, or the relay's error as a typed error.
fn expect(r: Reply, ok: &[u16]) -> Result<Vec<u8>> {
    if ok.contains(&r.status) {
        return Ok(r.body);
    }
    let code = serde_json::from_slice::<ErrorReply>(&r.body).map(|e| e.error).unwrap_or_default();
    let e = relay_error(r.status, &code);
    emit::relay_error(r.operation, Some(r.status), &e);
    Err(e)
}

/// The relay's error code (docs/RELAY.md) as a core error.
pub(crate) fn relay_error(status: u16, code: &str) -> Error {
    match code {
        "auth_missing" => Error::RelayAuthFailed("signature headers missing"),
        "stale_timestamp" => Error::RelayAuthFailed("timestamp outside the allowed clock skew (check the clock)"),
        "bad_signature" => Error::RelayAuthFailed("bad request signature"),
        "replayed_nonce" => Error::RelayAuthFailed("replayed nonce"),
        "forbidden" => Error::RelayAuthFailed("the key does not own this bundle or mailbox"),
        "not_found" => Error::RelayNotFound("no such bundle, mailbox or message"),
        "mailbox_full" => Error::RelayMailboxFull,
        "timeout" => Error::RelayTimeout,
        "internal" | "unavailable" => Error::RelayUnavailable("the relay's store failed"),
        "malformed_request" => Error::RelayRejected { code: "malformed_request", status },
        "bad_bundle" => Error::RelayRejected { code: "bad_bundle", status },
        "bad_mailbox_descriptor" => Error::RelayRejected { code: "bad_mailbox_descriptor", status },
        "malformed_message" => Error::RelayRejected { code: "malformed_message", status },
        "method_not_allowed" => Error::RelayRejected { code: "method_not_allowed", status },
        "body_too_large" => Error::RelayRejected { code: "body_too_large", status },
        _ => match status {
            404 => Error::RelayNotFound("no such route"),
            500..=599 => Error::RelayUnavailable("server error"),
            _ => Error::RelayRejected { code: "unknown", status },
        },
    }
}

fn json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|_| Error::Malformed("relay response"))
}

fn b64(s: &str) -> Result<Vec<u8>> {
    B64.decode(s).map_err(|_| Error::InvalidEncoding("relay response base64"))
}

fn check_url(url: &str, opts: &RelayOptions) -> Result<String> {
    let url = url.trim_end_matches('/');
    let uri: Uri = url.parse().map_err(|_| Error::InvalidParameter("relay URL is not a valid URL"))?;
    let host = uri.host().ok_or(Error::InvalidParameter("relay URL has no host"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") => {
            let h = host.trim_start_matches('[').trim_end_matches(']');
            let loopback =
                h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false);
            if !loopback && !opts.allow_plain_http {
                return Err(Error::InvalidParameter("relay URL must use https (plain http is allowed on loopback only)"));
            }
        }
        _ => return Err(Error::InvalidParameter("relay URL must start with https:// or http://")),
    }
    if uri.query().is_some() || uri.path().len() > 1 {
        return Err(Error::InvalidParameter("relay URL must be scheme://host:port without a path"));
    }
    Ok(url.to_owned())
}
