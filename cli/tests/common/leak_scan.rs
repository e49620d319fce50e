//! The machinery of the leak audit (`cli/tests/leak_audit.rs`): needles in every encoding an
//! identifier could be written in, a scanner, a recording TCP proxy, parsers for the agent
//! link framing and for HTTP/1.1, and capture of `tracing` and `log` output.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;

// ---------------------------------------------------------------- needles

/// What a needle identifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum What {
    /// The identity's Ed25519 public key (= the peer id, = the relay's `owner`).
    Ed25519,
    /// The identity's X25519 public key.
    X25519,
    /// The mailbox address (SHA-256 of the mailbox signing key).
    MailboxAddress,
    /// The mailbox's Ed25519 signing key (`Sealwire-Key` of mailbox requests).
    MailboxSigning,
    /// The mailbox's X25519 sealing key.
    MailboxSealing,
    /// `did:key:z…`.
    Did,
    /// The 60-digit fingerprint.
    Fingerprint,
    /// An application plaintext (a message body, sealed memory): must never appear.
    Plaintext,
}

/// How it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Raw,
    Hex,
    Base64,
    Base58,
    Base32,
    Text,
}

#[derive(Clone, Debug)]
pub struct Needle {
    pub owner: &'static str,
    pub what: What,
    pub family: Family,
    /// e.g. `hex-upper`, `b64url+1` (base64 of the value after 1 byte of other data).
    pub encoding: String,
    pub bytes: Vec<u8>,
}

impl Needle {
    pub fn label(&self) -> String {
        format!("{} {:?} as {}", self.owner, self.what, self.encoding)
    }
}

/// Characters of base64 that depend only on `value`, when it is encoded after `shift` bytes
/// of other data (what a key inside a larger base64 blob looks like).
fn b64_aligned(engine: &impl base64::Engine, value: &[u8], shift: usize) -> Vec<u8> {
    let mut buf = vec![0u8; shift];
    buf.extend_from_slice(value);
    let s = engine.encode(&buf);
    let start = (8 * shift).div_ceil(6);
    let end = (8 * (shift + value.len())) / 6;
    s.as_bytes()[start..end].to_vec()
}

/// RFC 4648 base32, no padding.
pub fn base32(value: &[u8], upper: bool) -> String {
    let alphabet: &[u8] = if upper { b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" } else { b"abcdefghijklmnopqrstuvwxyz234567" };
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in value {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(alphabet[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(alphabet[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Every needle of every owner.
#[derive(Default)]
pub struct Needles {
    pub list: Vec<Needle>,
}

impl Needles {
    fn push(&mut self, owner: &'static str, what: What, family: Family, encoding: &str, bytes: Vec<u8>) {
        assert!(bytes.len() >= 8, "needle {owner} {what:?} {encoding} too short to search");
        if self.list.iter().any(|n| n.bytes == bytes && n.owner == owner && n.what == what) {
            return;
        }
        self.list.push(Needle { owner, what, family, encoding: encoding.to_owned(), bytes });
    }

    /// A binary value (key, address) in every encoding: raw (and its first 8 bytes),
    /// lower/upper hex (and the first 16 digits, the usual truncated form), base64 standard
    /// and URL-safe at the three alignments (padding only appends `=`, so the unpadded form
    /// covers both; multibase `u…` contains it too), base58btc (multibase `z…`, also with the
    /// multicodec prefix did:key uses for Ed25519 / X25519 keys), base32 (multibase `b…`).
    pub fn add_value(&mut self, owner: &'static str, what: What, value: &[u8]) {
        self.push(owner, what, Family::Raw, "raw", value.to_vec());
        self.push(owner, what, Family::Raw, "raw[..8]", value[..8].to_vec());
        let h = hex::encode(value);
        self.push(owner, what, Family::Hex, "hex", h.clone().into_bytes());
        self.push(owner, what, Family::Hex, "hex-upper", h.to_uppercase().into_bytes());
        self.push(owner, what, Family::Hex, "hex[..16]", h.as_bytes()[..16].to_vec());
        self.push(owner, what, Family::Hex, "hex-upper[..16]", h[..16].to_uppercase().into_bytes());
        for shift in 0..3 {
            self.push(owner, what, Family::Base64, &format!("b64+{shift}"), b64_aligned(&STANDARD_NO_PAD, value, shift));
            self.push(owner, what, Family::Base64, &format!("b64url+{shift}"), b64_aligned(&URL_SAFE_NO_PAD, value, shift));
        }
        self.push(owner, what, Family::Base58, "base58btc", bs58::encode(value).into_string().into_bytes());
        let codec: Option<[u8; 2]> = match what {
            What::Ed25519 | What::MailboxSigning => Some([0xed, 0x01]),
            What::X25519 | What::MailboxSealing => Some([0xec, 0x01]),
            _ => None,
        };
        if let Some(c) = codec {
            let mut v = c.to_vec();
            v.extend_from_slice(value);
            self.push(owner, what, Family::Base58, "base58btc(multicodec)", bs58::encode(&v).into_string().into_bytes());
            self.push(owner, what, Family::Base64, "b64url(multicodec)", URL_SAFE_NO_PAD.encode(&v).into_bytes());
        }
        self.push(owner, what, Family::Base32, "base32", base32(value, false).into_bytes());
        self.push(owner, what, Family::Base32, "base32-upper", base32(value, true).into_bytes());
    }

    /// A text value (DID, fingerprint, plaintext), as is.
    pub fn add_text(&mut self, owner: &'static str, what: What, encoding: &str, value: &[u8]) {
        self.push(owner, what, Family::Text, encoding, value.to_vec());
    }
}

/// One occurrence of a needle.
#[derive(Clone, Debug)]
pub struct Hit {
    pub needle: usize,
    pub offset: usize,
}

/// Finds every needle in a haystack in one pass (index on the first 8 bytes).
pub struct Scanner {
    pub needles: Vec<Needle>,
    index: HashMap<[u8; 8], Vec<usize>>,
}

impl Scanner {
    pub fn new(needles: Needles) -> Self {
        let mut index: HashMap<[u8; 8], Vec<usize>> = HashMap::new();
        for (i, n) in needles.list.iter().enumerate() {
            index.entry(n.bytes[..8].try_into().unwrap()).or_default().push(i);
        }
        Scanner { needles: needles.list, index }
    }

    pub fn scan(&self, hay: &[u8]) -> Vec<Hit> {
        let mut hits = Vec::new();
        if hay.len() < 8 {
            return hits;
        }
        for off in 0..=hay.len() - 8 {
            let key: [u8; 8] = hay[off..off + 8].try_into().unwrap();
            if let Some(list) = self.index.get(&key) {
                for &i in list {
                    if hay[off..].starts_with(&self.needles[i].bytes) {
                        hits.push(Hit { needle: i, offset: off });
                    }
                }
            }
        }
        hits
    }

    pub fn needle(&self, h: &Hit) -> &Needle {
        &self.needles[h.needle]
    }

    /// `label @ offset` of each hit, with some context, for failure messages.
    pub fn describe(&self, hay: &[u8], hits: &[Hit]) -> String {
        let mut s = String::new();
        for h in hits.iter().take(20) {
            let n = &self.needles[h.needle];
            let from = h.offset.saturating_sub(24);
            let to = (h.offset + n.bytes.len() + 24).min(hay.len());
            let _ = writeln!(s, "  {} at byte {}: …{}…", n.label(), h.offset, String::from_utf8_lossy(&hay[from..to]).escape_debug());
        }
        if hits.len() > 20 {
            let _ = writeln!(s, "  … and {} more", hits.len() - 20);
        }
        s
    }
}

// ---------------------------------------------------------------- recording TCP proxy

/// The bytes of one proxied TCP connection, each direction in order.
#[derive(Default, Clone)]
pub struct Recorded {
    /// client → server
    pub up: Vec<u8>,
    /// server → client
    pub down: Vec<u8>,
}

/// Listens on 127.0.0.1, forwards each connection to `upstream` (changeable), records both
/// directions.
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    conns: Arc<Mutex<Vec<Arc<Mutex<Recorded>>>>>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

fn pump(mut from: TcpStream, mut to: TcpStream, rec: Arc<Mutex<Recorded>>, up: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                {
                    let mut r = rec.lock().unwrap();
                    if up { r.up.extend_from_slice(&buf[..n]) } else { r.down.extend_from_slice(&buf[..n]) }
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = Arc::new(Mutex::new(upstream));
        let conns: Arc<Mutex<Vec<Arc<Mutex<Recorded>>>>> = Arc::default();
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (u, c, t, s) = (upstream.clone(), conns.clone(), threads.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let target = *u.lock().unwrap();
                let Ok(server) = TcpStream::connect(target) else { continue };
                let rec = Arc::new(Mutex::new(Recorded::default()));
                c.lock().unwrap().push(rec.clone());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let r2 = rec.clone();
                let mut th = t.lock().unwrap();
                th.push(std::thread::spawn(move || pump(client, server, rec, true)));
                th.push(std::thread::spawn(move || pump(s2, c2, r2, false)));
            }
        });
        Proxy { addr, upstream, conns, threads, stop, accept: Some(accept) }
    }

    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, wait (bounded) for the open connections to end, return every
    /// connection's bytes in the order the connections were accepted.
    pub fn finish(mut self, wait: Duration) -> Vec<Recorded> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(a) = self.accept.take() {
            a.join().unwrap();
        }
        let deadline = Instant::now() + wait;
        while self.threads.lock().unwrap().iter().any(|t| !t.is_finished()) {
            assert!(Instant::now() < deadline, "proxied connections still open");
            std::thread::sleep(Duration::from_millis(10));
        }
        self.conns.lock().unwrap().iter().map(|r| r.lock().unwrap().clone()).collect()
    }
}

// ---------------------------------------------------------------- agent link frames

/// Split a `TcpLink` byte stream into its frames (`len:u32 ‖ bytes`). Strict: the stream
/// must end on a frame boundary.
pub fn link_frames(mut s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !s.is_empty() {
        assert!(s.len() >= 4, "a torn link frame header");
        let n = u32::from_be_bytes(s[..4].try_into().unwrap()) as usize;
        assert!(s.len() >= 4 + n, "a torn link frame ({} of {n} bytes)", s.len() - 4);
        out.push(s[4..4 + n].to_vec());
        s = &s[4 + n..];
    }
    out
}

// ---------------------------------------------------------------- HTTP/1.1

/// One HTTP message: start line, headers, body (de-chunked).
#[derive(Clone, Debug)]
pub struct HttpMessage {
    pub start: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl HttpMessage {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }
    /// Method and request target of a request.
    pub fn request(&self) -> (&str, &str) {
        let mut p = self.start.split(' ');
        (p.next().unwrap(), p.next().unwrap())
    }
    pub fn status(&self) -> u16 {
        self.start.split(' ').nth(1).unwrap().parse().unwrap()
    }
}

fn find(h: &[u8], pat: &[u8]) -> Option<usize> {
    h.windows(pat.len()).position(|w| w == pat)
}

/// Parse a stream of HTTP/1.1 messages (requests, or the responses to them). Every byte
/// must belong to a complete message (head, then a body by `Content-Length` or chunked
/// encoding; responses 1xx / 204 / 304 have none; no HEAD requests are made).
pub fn parse_http_stream(mut s: &[u8], responses: bool) -> Result<Vec<HttpMessage>, String> {
    let mut out = Vec::new();
    while !s.is_empty() {
        let end = find(s, b"\r\n\r\n").ok_or("an incomplete HTTP head")?;
        let head = &s[..end];
        s = &s[end + 4..];
        let mut lines = head.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let start = String::from_utf8(lines.next().ok_or("no start line")?.to_vec()).map_err(|_| "start line not UTF-8")?;
        let mut headers = Vec::new();
        for l in lines {
            let colon = l.iter().position(|b| *b == b':').ok_or("a header without a colon")?;
            let name = String::from_utf8(l[..colon].to_vec()).map_err(|_| "header name not UTF-8")?;
            let value = l[colon + 1..].trim_ascii().to_vec();
            headers.push((name, value));
        }
        let mut m = HttpMessage { start, headers, body: Vec::new() };
        let bodyless = responses && matches!(m.status(), 100..=199 | 204 | 304);
        if bodyless {
        } else if m.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case(b"chunked")) {
            loop {
                let eol = find(s, b"\r\n").ok_or("an incomplete chunk size")?;
                let size_text = std::str::from_utf8(&s[..eol]).map_err(|_| "chunk size")?;
                let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).map_err(|_| "chunk size")?;
                s = &s[eol + 2..];
                if size == 0 {
                    // No trailers are used by either side.
                    if !s.starts_with(b"\r\n") {
                        return Err("chunk trailers".into());
                    }
                    s = &s[2..];
                    break;
                }
                if s.len() < size + 2 {
                    return Err("an incomplete chunk".into());
                }
                m.body.extend_from_slice(&s[..size]);
                s = &s[size + 2..];
            }
        } else if let Some(len) = m.header("content-length") {
            let n: usize = std::str::from_utf8(len).map_err(|_| "content-length")?.parse().map_err(|_| "content-length")?;
            if s.len() < n {
                return Err("an incomplete body".into());
            }
            m.body = s[..n].to_vec();
            s = &s[n..];
        } else if responses {
            return Err("a response without a length (read to close)".into());
        }
        out.push(m);
    }
    Ok(out)
}

// ---------------------------------------------------------------- tracing and log capture

/// Every `tracing` span (name and fields, at creation and on `record`) and event (target,
/// name, fields) as one text line, plus the raw bytes of `record_bytes` fields.
pub struct TraceCapture {
    pub lines: Mutex<Vec<Vec<u8>>>,
    pub spans: AtomicU64,
    pub events: AtomicU64,
    next: AtomicU64,
}

impl TraceCapture {
    pub const fn new() -> Self {
        TraceCapture { lines: Mutex::new(Vec::new()), spans: AtomicU64::new(0), events: AtomicU64::new(0), next: AtomicU64::new(0) }
    }
}

struct Fields<'a>(&'a mut Vec<u8>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.extend_from_slice(format!(" {}={:?}", field.name(), value).as_bytes());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.extend_from_slice(format!(" {}=", field.name()).as_bytes());
        self.0.extend_from_slice(value.as_bytes());
    }
    fn record_bytes(&mut self, field: &tracing::field::Field, value: &[u8]) {
        self.0.extend_from_slice(format!(" {}=", field.name()).as_bytes());
        self.0.extend_from_slice(value);
        self.0.extend_from_slice(format!(" {:?}", value).as_bytes());
    }
    fn record_error(&mut self, field: &tracing::field::Field, value: &(dyn std::error::Error + 'static)) {
        self.0.extend_from_slice(format!(" {}={} {:?}", field.name(), value, value).as_bytes());
    }
}

impl TraceCapture {
    fn push(&self, line: Vec<u8>) {
        self.lines.lock().unwrap().push(line);
    }
}

/// A subscriber that enables everything (TRACE) and keeps it all.
pub struct TraceSubscriber(pub &'static TraceCapture);

impl tracing::Subscriber for TraceSubscriber {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::always()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let id = self.0.next.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.spans.fetch_add(1, Ordering::SeqCst);
        let m = span.metadata();
        let mut line = format!("span#{id} {} {} {}", m.level(), m.target(), m.name()).into_bytes();
        span.record(&mut Fields(&mut line));
        self.0.push(line);
        tracing::span::Id::from_u64(id)
    }
    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = format!("span#{} record", span.into_u64()).into_bytes();
        values.record(&mut Fields(&mut line));
        self.0.push(line);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        self.0.events.fetch_add(1, Ordering::SeqCst);
        let m = event.metadata();
        let mut line = format!("event {} {} {}", m.level(), m.target(), m.name()).into_bytes();
        event.record(&mut Fields(&mut line));
        self.0.push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Every `log` record up to `max` (dependencies such as the HTTP client log through `log`).
pub struct LogCapture {
    pub max: log::Level,
    pub lines: Mutex<Vec<String>>,
}

impl log::Log for LogCapture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.max
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let mut line = format!("{} {} {}", r.level(), r.target(), r.args());
            if let (Some(f), Some(l)) = (r.file(), r.line()) {
                let _ = write!(line, " ({f}:{l})");
            }
            self.lines.lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
}
