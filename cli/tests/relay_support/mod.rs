//! Shared by the relay tests: a real `sealwire relay serve` process on 127.0.0.1 (started,
//! killed with SIGKILL, restarted on the same port and database, stopped with SIGTERM), raw
//! HTTP requests for malformed input, direct reads of the relay's SQLite file, and agents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sealwire::ratchet::PrekeyOptions;
use sealwire::relay::{RelayAgent, RelayClient};
use sealwire::store::{MemoryStore, Messenger};
use sealwire::Identity;

pub const KEY: [u8; 32] = [0x42; 32];

pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sealwire-relay-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The backend under test: SQLite unless `SEALWIRE_RELAY_TEST_POSTGRES` holds a libpq
/// configuration (scripts/test-relay.sh starts PostgreSQL and NATS on 127.0.0.1 and runs the
/// same tests again with it, and with `SEALWIRE_RELAY_TEST_NATS`).
pub fn postgres_config() -> Option<String> {
    std::env::var("SEALWIRE_RELAY_TEST_POSTGRES").ok().filter(|s| !s.is_empty())
}

pub fn nats_url() -> Option<String> {
    std::env::var("SEALWIRE_RELAY_TEST_NATS").ok().filter(|s| !s.is_empty())
}

pub fn backend_name() -> &'static str {
    if postgres_config().is_some() {
        "postgres"
    } else {
        "sqlite"
    }
}

/// One relay server process.
pub struct Relay {
    child: Option<Child>,
    pub url: String,
    pub port: u16,
    pub db: PathBuf,
    pub log: PathBuf,
    /// PostgreSQL schema (the PostgreSQL backend): one per test, shared by relays started
    /// with [`Relay::start_sharing`].
    pub schema: String,
    args: Vec<String>,
}

impl Relay {
    /// Start on a free port with database `<dir>/relay.sqlite` (or a PostgreSQL schema named
    /// after `dir`), logs to `<dir>/relay.log`.
    pub fn start(dir: &Path, extra: &[&str]) -> Relay {
        let schema = format!(
            "t_{}",
            dir.file_name().unwrap().to_str().unwrap().replace(|c: char| !c.is_ascii_alphanumeric(), "_").to_lowercase()
        );
        Self::start_named(dir, "relay", &schema, extra)
    }

    /// A second relay process on the same PostgreSQL schema (and NATS) as `other`.
    pub fn start_sharing(dir: &Path, name: &str, other: &Relay, extra: &[&str]) -> Relay {
        assert!(postgres_config().is_some(), "sharing a database needs the PostgreSQL backend");
        Self::start_named(dir, name, &other.schema, extra)
    }

    fn start_named(dir: &Path, name: &str, schema: &str, extra: &[&str]) -> Relay {
        let mut args: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        if let Some(pg) = postgres_config() {
            args.extend(["--postgres".to_owned(), pg, "--postgres-schema".to_owned(), schema.to_owned()]);
        }
        if let Some(n) = nats_url() {
            args.extend(["--nats".to_owned(), n]);
        }
        let mut r = Relay {
            child: None,
            url: String::new(),
            port: 0,
            db: dir.join(format!("{name}.sqlite")),
            log: dir.join(format!("{name}.log")),
            schema: schema.to_owned(),
            args,
        };
        if postgres_config().is_some() && name == "relay" {
            r.psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
        r.spawn();
        r
    }

    fn psql(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .arg(postgres_config().unwrap())
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGOPTIONS", format!("-c search_path={}", self.schema))
            .output()
            .unwrap();
        assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut child = Command::new(env!("CARGO_BIN_EXE_sealwire"))
                .args(["relay", "serve", "--listen", &format!("127.0.0.1:{}", self.port), "--db"])
                .arg(&self.db)
                .args(&self.args)
                .stdout(Stdio::piped())
                .stderr(log.try_clone().unwrap())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                self.url = url.to_owned();
                self.port = url.rsplit(':').next().unwrap().parse().unwrap();
                self.child = Some(child);
                return;
            }
            // The old port may be briefly unavailable after a kill: try again.
            let _ = child.wait();
            assert!(Instant::now() < deadline, "relay did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn client(&self) -> RelayClient {
        RelayClient::new(&self.url).unwrap()
    }

    /// SIGKILL (no chance to finish anything), then wait.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Start again on the same port and database.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Start again (same port, same database) after [`Relay::stop`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }

    /// SIGTERM and check a clean exit (graceful shutdown).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            let status = c.wait().unwrap();
            assert!(status.success(), "relay exit after SIGTERM: {status:?}");
        }
    }

    /// Read the relay's database (SQLite in WAL mode: concurrent readers are fine).
    pub fn count(&self, sql: &str) -> i64 {
        if postgres_config().is_some() {
            return self.psql(sql).trim().parse().unwrap();
        }
        let c = rusqlite::Connection::open(&self.db).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Row counts of every table, to show that a refused request stored nothing.
    pub fn snapshot(&self) -> [i64; 6] {
        [
            self.count("SELECT count(*) FROM bundles"),
            self.count("SELECT count(*) FROM one_time"),
            self.count("SELECT count(*) FROM kem_one_time"),
            self.count("SELECT count(*) FROM mailboxes"),
            self.count("SELECT count(*) FROM messages"),
            self.count("SELECT count(*) FROM nonces"),
        ]
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A raw HTTP/1.1 exchange (Connection: close): status and body.
pub fn raw(url: &str, method: &str, target: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, Vec<u8>) {
    let hostport = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(hostport).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // A server may answer (e.g. 413) before reading a large body: ignore write errors.
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text_end = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP response head");
    let head = String::from_utf8_lossy(&resp[..text_end]).to_string();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = resp[text_end + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 4 + n..];
    }
}

/// The `error` code of a JSON error body.
pub fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"].as_str().unwrap_or("").to_owned()
}

/// Signature headers for a raw request.
pub fn signed_headers(auth: &sealwire::relay::RequestAuth) -> Vec<(&'static str, String)> {
    let [k, t, n, s] = auth.header_values();
    vec![("Sealwire-Key", k), ("Sealwire-Timestamp", t), ("Sealwire-Nonce", n), ("Sealwire-Signature", s)]
}

pub fn small_options(one_time: u16, kem: u16) -> PrekeyOptions {
    PrekeyOptions { one_time_prekeys: one_time, kem_one_time_prekeys: kem, post_quantum: true }
}

/// An in-memory agent connected to `relay`, and a copy of its identity (for hand-signed
/// requests).
pub fn memory_agent(relay: &Relay, opts: PrekeyOptions) -> (RelayAgent<MemoryStore>, Identity) {
    let id = Identity::generate().unwrap();
    let m = Messenger::create(MemoryStore::new(), id.duplicate(), &KEY, opts, now_unix()).unwrap();
    (RelayAgent::new(m, relay.client()).unwrap(), id)
}
