//! Helpers of the KMS integration tests: the server configuration written by
//! `scripts/kms-servers.sh`, the skip-or-fail rule, and a tiny scripted HTTP server on
//! 127.0.0.1 that stands in for the network (throttling, outages, error shapes a real
//! server cannot be made to produce).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use sealwire::envelope::EnvelopeHeader;

/// Default env file of `scripts/kms-servers.sh start`.
pub const DEFAULT_ENV_FILE: &str = "/tmp/sealwire-kms/kms.env";

/// The test servers' settings: the env file (`SEALWIRE_KMS_ENV_FILE` or the default), with
/// process environment variables of the same names taking precedence.
pub fn settings() -> HashMap<String, String> {
    let path = std::env::var("SEALWIRE_KMS_ENV_FILE").unwrap_or_else(|_| DEFAULT_ENV_FILE.to_owned());
    let mut m = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                m.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }
    for (k, v) in std::env::vars() {
        if k.starts_with("SEALWIRE_TEST_") {
            m.insert(k, v);
        }
    }
    m
}

/// The named settings, or `None` after a loud SKIP message. With `SEALWIRE_KMS_REQUIRED=1`
/// (set by `scripts/test-kms.sh`) a missing setting fails the test instead.
pub fn require(test: &str, names: &[&str]) -> Option<HashMap<String, String>> {
    let s = settings();
    let missing: Vec<&str> = names.iter().copied().filter(|n| !s.contains_key(*n)).collect();
    if missing.is_empty() {
        return Some(s);
    }
    if std::env::var("SEALWIRE_KMS_REQUIRED").is_ok_and(|v| v == "1") {
        panic!("{test}: KMS test servers are required (SEALWIRE_KMS_REQUIRED=1) but not configured: missing {missing:?}");
    }
    // Written to stderr directly (not `eprintln!`), so the test harness does not capture it.
    let msg = format!(
        "\n*** SKIPPED {test}: KMS test servers not configured (missing {missing:?}).\n\
         *** Run `bash scripts/test-kms.sh`, or `bash scripts/kms-servers.sh start` first.\n"
    );
    std::io::stderr().write_all(msg.as_bytes()).ok();
    None
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A unique name for per-test keys.
pub fn unique(prefix: &str) -> String {
    let mut b = [0u8; 6];
    getrandom_fill(&mut b);
    format!("{prefix}-{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn getrandom_fill(b: &mut [u8]) {
    // A fresh DEK is random: borrow its bytes (no extra dependency).
    let k = sealwire::envelope::DataKey::generate().unwrap();
    let n = b.len();
    b.copy_from_slice(&k.as_bytes()[..n]);
}

/// Replace the wrapped bytes of entry `i` of `target` with those of entry `i` of `donor`
/// (equal lengths): a wrapped data key moved from another object.
pub fn transplant_entry(target: &[u8], donor: &[u8], i: usize) -> Vec<u8> {
    let t = EnvelopeHeader::parse(target).unwrap();
    let d = EnvelopeHeader::parse(donor).unwrap();
    let (tw, dw) = (t.wrapped_keys()[i].wrapped(), d.wrapped_keys()[i].wrapped());
    assert_eq!(tw.len(), dw.len(), "transplant needs equal-length entries");
    let pos = target.windows(tw.len()).position(|w| w == tw).unwrap();
    let mut out = target.to_vec();
    out[pos..pos + tw.len()].copy_from_slice(dw);
    out
}

/// A minimal HTTP/1.1 request over a fresh connection (for test setup calls the providers do
/// not offer); returns the status code.
pub fn raw_request(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let hostport = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(hostport).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok();
    resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

// ------------------------------------------------------------------ scripted HTTP stub

/// One scripted answer.
#[derive(Clone)]
pub enum Script {
    /// Status, content type, body.
    Reply(u16, &'static str, String),
    /// Accept, read the request, never answer (until the client gives up).
    Hang,
}

/// A local HTTP/1.1 server answering requests with `script` in order (the last item
/// repeats), one request per connection (`Connection: close`). Counts requests.
pub struct Stub {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
    pub bodies: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Stub {
    pub fn start(script: Vec<Script>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (rq, bd) = (requests.clone(), bodies.clone());
        thread::spawn(move || {
            // Bounded: the stub serves at most 64 connections, then exits.
            for stream in listener.incoming().take(64) {
                let Ok(stream) = stream else { continue };
                let n = rq.fetch_add(1, Ordering::SeqCst);
                let item = script.get(n).or(script.last()).cloned();
                let bd = bd.clone();
                thread::spawn(move || serve(stream, item, bd));
            }
        });
        Stub { port, requests, bodies }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(stream: TcpStream, item: Option<Script>, bodies: Arc<std::sync::Mutex<Vec<String>>>) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok();
    bodies.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
    let mut stream = stream;
    match item {
        Some(Script::Reply(status, ctype, body)) => {
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(resp.as_bytes()).ok();
        }
        Some(Script::Hang) | None => thread::sleep(Duration::from_secs(5)),
    }
}
