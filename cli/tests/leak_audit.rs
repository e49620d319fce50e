//! Leak audit: two agents (`sealwire::agent::Agent`) and a real `sealwire relay serve`
//! process run a full scenario while everything they emit is captured:
//!
//! * every `tracing` event and span of the agents (a subscriber at TRACE: name, target and
//!   every field, span fields at creation and on `record`), every `log` record of their
//!   dependencies up to DEBUG (the HTTP client), the relay's stdout and stderr;
//! * every byte on the wire, through two recording TCP proxies: agent ↔ agent (the live
//!   Noise channel: XX on first contact, IK on reconnection) and agents ↔ relay (HTTP);
//! * every file under the test directory (agent homes, relay database and WAL, the relay's
//!   TMPDIR, the application's sealed blobs), read while the relay runs and after it stopped.
//!
//! Scenario: A and B (persistent homes, keyring KEK under the passphrase) publish; first
//! contact live (XX) with messages both ways; B closes; A sends messages that go through B's
//! mailbox; B reopens and receives each exactly once; A reconnects (IK), messages both ways;
//! seal / seal_for / open_sealed / rewrap_sealed; maintenance 91 days later (signed prekey
//! and KEK rotation, publication).
//!
//! Needles, per agent: the Ed25519 key (= peer id = relay owner), the X25519 key, the
//! mailbox address, signing and sealing keys (derived with `MailboxKeys::derive`, as the
//! relay client does), the DID and the fingerprint; binary values as raw bytes, lower /
//! upper hex (also their first 8 bytes / 16 digits), base64 standard and URL-safe at every
//! alignment, base58btc (with and without the multicodec prefix), base32 — and every message
//! plaintext and sealed plaintext. Results:
//!
//! * logs, spans, events, the agent ↔ agent wire, the application's sealed blobs: no hit;
//! * relay HTTP: each hit must lie in a field docs/RELAY.md documents for it (the `{owner}`
//!   and `{address}` path segments, `Sealwire-Key`, the `bundle` and `mailbox` JSON fields);
//! * relay database: each hit must lie in a column the "what the relay sees" table and the
//!   directory/mailbox storage sections document (owner, identity, head, mailbox descriptor,
//!   mailbox address, replay-cache key);
//! * agent homes: only the documented file formats; hits only in the session store's columns
//!   docs/STORE.md lists as public (peer ids; outbox ciphertexts, whose initial messages name
//!   their sender);
//! * lengths: every ratchet message on the live channel and every sealed deposit has exactly
//!   the padded length core produces for its plaintext (PADMÉ buckets, cross-checked against
//!   `ratchet::Session` and the formula of docs/FORMATS.md).
//!
//! The scanner is shown to work on planted samples first, so the test cannot pass vacuously.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/leak_scan.rs"]
mod leak_scan;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sealwire::agent::{
    unix_now, Agent, AgentOptions, ChannelInfo, Delivery, PeerSpec, Unlock, HELLO_MAGIC, IDENTITY_FILE, KEYRING_FILE,
    LOCK_FILE, SESSIONS_FILE, STATE_FILE, STATE_MAGIC,
};
use sealwire::config::{Format, SecurityConfig};
use sealwire::envelope::{EncryptionContext, EnvelopeHeader, KEYRING_MAGIC};
use sealwire::ratchet::{PrekeyOptions, PrekeyStore, Session};
use sealwire::relay::{MailboxKeys, MIN_SEALED_MESSAGE_LEN};
use sealwire::store::peer_id;
use sealwire::{Identity, PublicIdentity};

use leak_scan::*;

const PASS: &[u8] = b"leak audit passphrase";

/// The default configuration (keyring KEK under the passphrase, XXhfs / IKhfs, PQXDH, header
/// encryption) with cheap Argon2id and small prekey batches.
const CONFIG: &str = "version = 1
[identity.kdf]
memory_kib = 19456
iterations = 2
lanes = 1
[prekeys]
batch_size = 12
kem_batch_size = 12
[overrides]
allow_weak_kdf = true
";

/// Plaintext lengths: 1 byte … several KiB, across many padding buckets.
const LENGTHS: &[usize] = &[1, 5, 17, 31, 32, 33, 64, 100, 255, 1000, 1500, 4097, 6000];
const LENGTHS_IK: &[usize] = &[3, 40, 700, 2048];
const MIN_PADDED: usize = 32;

static TRACE: TraceCapture = TraceCapture::new();
static LOG: LogCapture = LogCapture { max: log::Level::Debug, lines: Mutex::new(Vec::new()) };

fn install_capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing::subscriber::set_global_default(TraceSubscriber(&TRACE)).unwrap();
        log::set_logger(&LOG).unwrap();
        log::set_max_level(log::LevelFilter::Debug);
    });
}

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("sealwire-leak-audit-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn config() -> SecurityConfig {
    SecurityConfig::load(CONFIG, Format::Toml).unwrap()
}

fn open(home: &Path, relay_url: &str) -> Agent {
    let options = AgentOptions {
        relay_url: Some(relay_url.to_owned()),
        handshake_timeout: Duration::from_secs(5),
        // Long: a live message must not also go through the relay here (the deposit lengths
        // are compared with exactly the messages sent while B was offline).
        ack_timeout: Duration::from_secs(60),
        relay_poll_interval: Duration::from_millis(100),
        ..AgentOptions::default()
    };
    Agent::open(home, &config(), Unlock::passphrase(PASS), options).unwrap()
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A message body of `len` bytes: a unique marker, repeated.
fn body(tag: &str, i: usize, len: usize) -> Vec<u8> {
    let marker = format!("<{tag}#{i:02}>");
    marker.bytes().cycle().take(len).collect()
}

/// Receive (and acknowledge) whatever is there.
fn poll(agent: &mut Agent, got: &mut Vec<Vec<u8>>) {
    for m in agent.receive(Duration::from_millis(20)).unwrap() {
        got.push(m.plaintext.clone());
        agent.ack(m.id).unwrap();
    }
}

/// Both receive until both outboxes are empty (every live message acknowledged).
fn settle(a: &mut Agent, ga: &mut Vec<Vec<u8>>, b: &mut Agent, gb: &mut Vec<Vec<u8>>) {
    wait_until("both outboxes to empty", 20, || {
        poll(a, ga);
        poll(b, gb);
        a.pending_outbox_len().unwrap() == 0 && b.pending_outbox_len().unwrap() == 0
    });
}

/// `a` dials (on a thread) while `b` accepts on its listener.
fn connect(a: Agent, b: &mut Agent, spec: PeerSpec) -> (Agent, ChannelInfo, ChannelInfo) {
    let h = std::thread::spawn(move || {
        let mut a = a;
        let r = a.connect(&spec);
        (a, r)
    });
    let accepted = b.accept_incoming(Duration::from_secs(10)).unwrap().expect("an incoming connection");
    let (a, r) = h.join().unwrap();
    (a, r.unwrap(), accepted)
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

// ---------------------------------------------------------------- the relay process

struct RelayProc {
    child: Option<Child>,
    addr: SocketAddr,
    dir: PathBuf,
    stdout: Option<JoinHandle<()>>,
}

impl RelayProc {
    /// `sealwire relay serve` on 127.0.0.1 (any port), database `dir/relay.sqlite`, with the
    /// most verbose log setting there is (`RUST_LOG=trace`; the relay writes every request as
    /// a JSON line whatever the environment says), TMPDIR inside `dir` so that any temporary
    /// file it leaves is scanned too, stdout and stderr into files.
    fn start(dir: &Path) -> RelayProc {
        fs::create_dir_all(dir.join("tmp")).unwrap();
        let stderr = fs::File::create(dir.join("relay.stderr")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sealwire"))
            .args(["relay", "serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(dir.join("relay.sqlite"))
            .env("RUST_LOG", "trace")
            .env("TMPDIR", dir.join("tmp"))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("relay said {line:?}"));
        let addr: SocketAddr = url.parse().unwrap();
        let mut file = fs::File::create(dir.join("relay.stdout")).unwrap();
        file.write_all(line.as_bytes()).unwrap();
        let stdout = std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = out.read_to_end(&mut rest);
            file.write_all(&rest).unwrap();
        });
        RelayProc { child: Some(child), addr, dir: dir.to_owned(), stdout: Some(stdout) }
    }

    /// SIGTERM (graceful: the database is closed), then wait.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            Command::new("kill").args(["-TERM", &c.id().to_string()]).status().unwrap();
            assert!(c.wait().unwrap().success(), "relay exit after SIGTERM");
        }
        if let Some(t) = self.stdout.take() {
            t.join().unwrap();
        }
    }

    fn count(&self, sql: &str) -> i64 {
        let c = rusqlite::Connection::open_with_flags(self.dir.join("relay.sqlite"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------- padding model from core

/// Lengths core gives ratchet messages: `swrm[n]` = length of a `SWRM` carrying `n`
/// plaintext bytes (header encryption, as the agents use), and the `SWRI` prefixes with and
/// without a one-time prekey — measured on `ratchet::Session`, not taken from the docs.
struct LengthModel {
    swrm: Vec<usize>,
    swri_prefix_one_time: usize,
    swri_prefix_no_one_time: usize,
}

impl LengthModel {
    fn measure(max: usize) -> LengthModel {
        let now = unix_now();
        let (ia, ib) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let pq = |n: u16| PrekeyOptions { one_time_prekeys: n, kem_one_time_prekeys: n, post_quantum: true };
        let mut store = PrekeyStore::generate_with_options(&ib, pq(1), now).unwrap();
        let mut sa = Session::initiate(&ia, ib.public(), &store.bundle()).unwrap();
        let first = sa.encrypt(b"x").unwrap();
        let (mut sb, _) = Session::accept(&ib, &mut store, &first).unwrap();
        sa.decrypt(&sb.encrypt(b"y").unwrap()).unwrap();
        let swrm: Vec<usize> = (0..=max).map(|n| sa.encrypt(&vec![0x41; n]).unwrap().len()).collect();
        let swri_prefix_one_time = first.len() - swrm[1];
        let bare = PrekeyStore::generate_with_options(&ib, pq(0), now).unwrap();
        let mut sc = Session::initiate(&ia, ib.public(), &bare.bundle()).unwrap();
        let swri_prefix_no_one_time = sc.encrypt(b"x").unwrap().len() - swrm[1];
        LengthModel { swrm, swri_prefix_one_time, swri_prefix_no_one_time }
    }

    /// The distinct message lengths: the buckets an observer can tell apart.
    fn buckets(&self) -> BTreeSet<usize> {
        self.swrm.iter().copied().collect()
    }
}

/// PADMÉ as docs/FORMATS.md ("Padding") defines it: `max(32, PADMÉ(n + 1))`.
fn padded_len_per_docs(n: usize) -> usize {
    let m = n + 1;
    if m <= MIN_PADDED {
        return MIN_PADDED;
    }
    let e = usize::BITS - 1 - m.leading_zeros();
    let s = u32::BITS - e.leading_zeros();
    let mask = (1usize << (e - s)) - 1;
    (m + mask) & !mask
}

// ---------------------------------------------------------------- attribution rules

/// Where docs/RELAY.md puts identifiers in the relay protocol, and which.
fn http_field_allows(field: &str, n: &Needle) -> bool {
    use What::*;
    match field {
        "path {owner}" => n.family == Family::Hex && n.what == Ed25519 && !n.encoding.contains("upper"),
        "path {address}" => n.family == Family::Hex && n.what == MailboxAddress && !n.encoding.contains("upper"),
        "header Sealwire-Key" => n.family == Family::Hex && matches!(n.what, Ed25519 | MailboxSigning) && !n.encoding.contains("upper"),
        // b64 SWPB: the owner's public identity (SWPI: both keys).
        "json bundle" => n.family == Family::Base64 && matches!(n.what, Ed25519 | X25519),
        // b64 SWPI of `{owner}` in the answer to `GET /v1/bundles/{owner}/mailbox`
        // (`{"identity", "mailbox"}`: cli/src/relay/directory.rs, `RelayClient::mailbox_of`;
        // the endpoint table of docs/RELAY.md lists only `mailbox` — a documentation gap,
        // the value is the public identity the path already names).
        "json identity" => n.family == Family::Base64 && matches!(n.what, Ed25519 | X25519),
        // b64 SWMD: the mailbox's signing and sealing keys.
        "json mailbox" => n.family == Family::Base64 && matches!(n.what, MailboxSigning | MailboxSealing),
        _ => false,
    }
}

/// The relay's SQLite columns that hold identifiers (docs/RELAY.md: directory storage,
/// mailbox storage, replay cache, "what the relay sees"), and which — as raw bytes only.
fn relay_column_allows(table: &str, column: &str, n: &Needle) -> bool {
    use What::*;
    if n.family != Family::Raw {
        return false;
    }
    match (table, column) {
        ("bundles" | "one_time" | "kem_one_time", "owner") => n.what == Ed25519,
        ("bundles", "identity" | "head") => matches!(n.what, Ed25519 | X25519),
        ("bundles", "mailbox") => matches!(n.what, MailboxSigning | MailboxSealing),
        ("mailboxes" | "messages", "address") => n.what == MailboxAddress,
        ("nonces", "key") => matches!(n.what, Ed25519 | MailboxSigning),
        _ => false,
    }
}

/// The session store's public columns (docs/STORE.md "What is stored, and sealed how":
/// "Public, in clear: outbox ciphertexts, message ids, peer ids, the counter"): the peer id
/// is the peer's Ed25519 key; an outbox initial message (`SWRI`) names its sender (this
/// agent: both keys of its `SWPI`).
fn session_column_allows(owner: &str, table: &str, column: &str, n: &Needle) -> bool {
    use What::*;
    if n.family != Family::Raw {
        return false;
    }
    match (table, column) {
        ("sessions" | "outbox" | "inbox", "peer") => n.what == Ed25519 && n.owner != owner,
        ("outbox", "ciphertext") => matches!(n.what, Ed25519 | X25519) && n.owner == owner,
        _ => false,
    }
}

/// Attribute every hit in HTTP messages to a field; returns the hits that lie in no
/// documented field (empty = all accounted for) and counts per (field, needle kind).
fn audit_http(
    scanner: &Scanner,
    messages: &[HttpMessage],
    responses: bool,
    tally: &mut BTreeMap<String, usize>,
) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |field: &str, hay: &[u8], bad: &mut Vec<String>| {
        for h in scanner.scan(hay) {
            let n = scanner.needle(&h);
            if http_field_allows(field, n) {
                *tally.entry(format!("{field}: {:?} {:?}", n.what, n.family)).or_default() += 1;
            } else {
                bad.push(format!("{field}: {}\n{}", n.label(), scanner.describe(hay, std::slice::from_ref(&h))));
            }
        }
    };
    for m in messages {
        if responses {
            check("status line", m.start.as_bytes(), &mut bad);
        } else {
            let (method, target) = m.request();
            check("method", method.as_bytes(), &mut bad);
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let segs: Vec<&str> = path.split('/').collect();
            for (i, seg) in segs.iter().enumerate() {
                let field = match (i, segs.get(2).copied()) {
                    (3, Some("bundles")) => "path {owner}",
                    (3, Some("mailboxes")) => "path {address}",
                    _ => "path",
                };
                check(field, seg.as_bytes(), &mut bad);
            }
            check("query", query.as_bytes(), &mut bad);
        }
        for (name, value) in &m.headers {
            check("header name", name.as_bytes(), &mut bad);
            let field = if name.eq_ignore_ascii_case(sealwire::relay::HEADER_KEY) { "header Sealwire-Key".to_owned() } else { format!("header {name}") };
            check(&field, value, &mut bad);
        }
        if m.body.is_empty() {
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(&m.body) {
            Ok(v) if m.header("content-type").is_some_and(|c| c.starts_with(b"application/json")) => {
                fn walk(v: &serde_json::Value, key: &str, out: &mut Vec<(String, Vec<u8>)>) {
                    match v {
                        serde_json::Value::String(s) => out.push((format!("json {key}"), s.as_bytes().to_vec())),
                        serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
                        serde_json::Value::Object(o) => {
                            for (k, x) in o {
                                out.push(("json key".to_owned(), k.as_bytes().to_vec()));
                                walk(x, k, out);
                            }
                        }
                        other => out.push((format!("json {key}"), other.to_string().into_bytes())),
                    }
                }
                let mut parts = Vec::new();
                walk(&v, "", &mut parts);
                for (field, bytes) in parts {
                    check(&field, &bytes, &mut bad);
                }
            }
            _ => check("binary body", &m.body, &mut bad),
        }
    }
    bad
}

// ---------------------------------------------------------------- files

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every table and column of a SQLite database (a copy of the file and its WAL, so the
/// original is not touched): each hit must be allowed by `allows(table, column, needle)`.
fn audit_sqlite_columns(
    scanner: &Scanner,
    db: &Path,
    scratch: &Path,
    allows: &dyn Fn(&str, &str, &Needle) -> bool,
    tally: &mut BTreeMap<String, BTreeSet<String>>,
    failures: &mut Vec<String>,
) {
    let _ = fs::remove_dir_all(scratch);
    fs::create_dir_all(scratch).unwrap();
    let copy = scratch.join("copy.sqlite");
    fs::copy(db, &copy).unwrap();
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    if wal.exists() {
        fs::copy(&wal, scratch.join("copy.sqlite-wal")).unwrap();
    }
    let c = rusqlite::Connection::open(&copy).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!(!tables.is_empty(), "{}: no tables", db.display());
    for t in tables {
        let mut st = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let cols: Vec<String> = st.column_names().map(str::to_owned).collect();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, col) in cols.iter().enumerate() {
                let bytes: Vec<u8> = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
                    rusqlite::types::ValueRef::Text(b) => b.to_vec(),
                    _ => continue,
                };
                for h in scanner.scan(&bytes) {
                    let n = scanner.needle(&h);
                    if allows(&t, col, n) {
                        tally.entry(format!("{}: {t}.{col}", db.file_name().unwrap().to_string_lossy())).or_default().insert(format!("{} {:?}", n.owner, n.what));
                    } else {
                        failures.push(format!("{}: column {t}.{col} holds {}", db.display(), n.label()));
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- the test

#[test]
fn full_scenario_leaks_no_identifier_and_pads_every_message() {
    install_capture();
    let started = Instant::now();
    let d = tmpdir();
    let scratch = std::env::temp_dir().join(format!("sealwire-leak-audit-scratch-{}", std::process::id()));
    let mut relay = RelayProc::start(&d.join("relay"));
    let relay_proxy = Proxy::start(relay.addr);
    let url = relay_proxy.url();
    let (ha, hb) = (d.join("alice"), d.join("bob"));

    let mut a = open(&ha, &url);
    let mut b = open(&hb, &url);
    let now = unix_now();
    assert!(a.maintain(now).unwrap().published);
    assert!(b.maintain(now).unwrap().published);
    let (pa, pb) = (a.public().clone(), b.public().clone());
    let (mut got_a, mut got_b): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    let mut plaintexts: Vec<Vec<u8>> = Vec::new();

    // First contact, live through the recording proxy: XX.
    let link_proxy = Proxy::start(b.listen("127.0.0.1:0").unwrap());
    let (mut a, info, accepted) = connect(a, &mut b, PeerSpec::at(link_proxy.addr.to_string()));
    assert!(info.protocol.starts_with("Noise_XXhfs_"), "{}", info.protocol);
    assert_eq!(info.peer, pb);
    assert_eq!(accepted.peer, pa);
    let ab1: Vec<Vec<u8>> = LENGTHS.iter().enumerate().map(|(i, n)| body("A2B-xx", i, *n)).collect();
    for m in &ab1 {
        assert_eq!(a.send(&pb, m).unwrap().delivery, Delivery::Live);
    }
    wait_until("A's live messages", 20, || {
        poll(&mut b, &mut got_b);
        got_b.len() == ab1.len()
    });
    let ba1: Vec<Vec<u8>> = LENGTHS.iter().enumerate().map(|(i, n)| body("B2A-xx", i, *n)).collect();
    for m in &ba1 {
        assert_eq!(b.send(&pa, m).unwrap().delivery, Delivery::Live);
    }
    settle(&mut a, &mut got_a, &mut b, &mut got_b);
    assert_eq!(sorted(std::mem::take(&mut got_b)), sorted(ab1.clone()), "B got A's live messages once");
    assert_eq!(sorted(std::mem::take(&mut got_a)), sorted(ba1.clone()), "A got B's live messages once");

    // B goes offline; A's messages go to B's mailbox.
    b.close().unwrap();
    wait_until("A to see the channel close", 10, || {
        poll(&mut a, &mut got_a);
        !a.is_connected(&peer_id(&pb))
    });
    let ab_relay: Vec<Vec<u8>> = LENGTHS.iter().enumerate().map(|(i, n)| body("A2B-relay", i, *n)).collect();
    for m in &ab_relay {
        assert_eq!(a.send(&pb, m).unwrap().delivery, Delivery::Relay);
    }
    assert_eq!(relay.count("SELECT count(*) FROM messages"), ab_relay.len() as i64);

    // B back: each mailbox message exactly once, the mailbox ends empty.
    let mut b = open(&hb, &url);
    wait_until("B's mailbox messages", 20, || {
        poll(&mut b, &mut got_b);
        got_b.len() >= ab_relay.len()
    });
    for _ in 0..5 {
        poll(&mut b, &mut got_b);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sorted(std::mem::take(&mut got_b)), sorted(ab_relay.clone()), "each relay message exactly once");
    wait_until("B's mailbox to empty", 10, || relay.count("SELECT count(*) FROM messages") == 0);

    // Reconnection to the known peer (same proxy address, B on a new port): IK.
    link_proxy.set_upstream(b.listen("127.0.0.1:0").unwrap());
    let (mut a, info, _) = connect(a, &mut b, PeerSpec::known(pb.clone()));
    assert!(info.protocol.starts_with("Noise_IKhfs_"), "{}", info.protocol);
    let ab2: Vec<Vec<u8>> = LENGTHS_IK.iter().enumerate().map(|(i, n)| body("A2B-ik", i, *n)).collect();
    let ba2: Vec<Vec<u8>> = LENGTHS_IK.iter().enumerate().map(|(i, n)| body("B2A-ik", i, *n)).collect();
    for (x, y) in ab2.iter().zip(&ba2) {
        assert_eq!(a.send(&pb, x).unwrap().delivery, Delivery::Live);
        assert_eq!(b.send(&pa, y).unwrap().delivery, Delivery::Live);
    }
    settle(&mut a, &mut got_a, &mut b, &mut got_b);
    assert_eq!(sorted(std::mem::take(&mut got_b)), sorted(ab2.clone()));
    assert_eq!(sorted(std::mem::take(&mut got_a)), sorted(ba2.clone()));

    // Sealing: under the KEK, for both identities; the application keeps the blobs.
    let app = d.join("app");
    fs::create_dir_all(&app).unwrap();
    let ctx = EncryptionContext::from_pairs([("kind", "memory")]).unwrap();
    let memory = b"LEAKAUDIT sealed memory: alice's private notes, never in clear".to_vec();
    let shared = b"LEAKAUDIT sealed for alice and bob: the shared secret plan".to_vec();
    let sealed = a.seal(&memory, &ctx).unwrap();
    assert_eq!(a.open_sealed(&sealed, &ctx).unwrap(), memory);
    let sealed_for = a.seal_for(&[&pa, &pb], &shared, &ctx).unwrap();
    assert_eq!(b.open_sealed(&sealed_for, &ctx).unwrap(), shared);
    assert_eq!(a.open_sealed(&sealed_for, &ctx).unwrap(), shared);
    fs::write(app.join("memory.swev"), &sealed).unwrap();
    fs::write(app.join("shared.swev"), &sealed_for).unwrap();

    // Maintenance 91 days later: signed prekey and KEK rotated, bundle published again.
    let later = now + 91 * 86_400;
    let r = a.maintain(later).unwrap();
    assert!(r.signed_prekey_rotated && r.published && r.kek_rotated_to.is_some(), "{r:?}");
    assert!(b.maintain(later).unwrap().signed_prekey_rotated);
    let rewrapped = a.rewrap_sealed(&sealed, &ctx).unwrap();
    assert_eq!(a.open_sealed(&rewrapped, &ctx).unwrap(), memory);
    fs::write(app.join("memory-v2.swev"), &rewrapped).unwrap();
    a.close().unwrap();
    b.close().unwrap();

    plaintexts.extend(ab1.iter().chain(&ba1).chain(&ab_relay).chain(&ab2).chain(&ba2).cloned());
    plaintexts.push(memory);
    plaintexts.push(shared);

    // Everything captured: relay files while it runs, then after a graceful stop.
    let mut running_files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut files = Vec::new();
    walk_files(&d.join("relay"), &mut files);
    for f in files {
        running_files.push((format!("{} (relay running)", f.display()), fs::read(&f).unwrap()));
    }
    relay.stop();
    let agent_wire = link_proxy.finish(Duration::from_secs(10));
    let relay_wire = relay_proxy.finish(Duration::from_secs(10));
    eprintln!("scenario ran in {:?}", started.elapsed());

    // ------------------------------------------------------------ needles
    let mut needles = Needles::default();
    for (owner, public, home) in [("alice", &pa, &ha), ("bob", &pb, &hb)] {
        add_identity_needles(&mut needles, owner, public, home);
    }
    for p in &plaintexts {
        // Too short to search without false positives: the 1- and 5-byte messages.
        if p.len() >= 12 {
            needles.add_text("application", What::Plaintext, "plaintext", &p[..p.len().min(40)]);
        }
    }
    let scanner = Scanner::new(needles);
    eprintln!("{} needles", scanner.needles.len());
    control_samples(&scanner, &pa);

    let mut failures: Vec<String> = Vec::new();

    // (1) logs, events, spans: nothing.
    let trace_lines = TRACE.lines.lock().unwrap().clone();
    let log_lines = LOG.lines.lock().unwrap().clone();
    let events = TRACE.events.load(std::sync::atomic::Ordering::SeqCst);
    let spans = TRACE.spans.load(std::sync::atomic::Ordering::SeqCst);
    let handshakes = trace_lines.iter().filter(|l| String::from_utf8_lossy(l).contains("sealwire.noise.handshake_done")).count();
    assert!(handshakes >= 4, "the subscriber saw the handshakes of both sides, twice ({handshakes}): the capture works");
    assert!(!log_lines.is_empty(), "the HTTP client logged at DEBUG: the log capture works");
    eprintln!("captured {events} events, {spans} spans, {} log records", log_lines.len());
    for (what, lines) in [("tracing", trace_lines), ("log", log_lines.into_iter().map(String::into_bytes).collect())] {
        for l in lines {
            let hits = scanner.scan(&l);
            if !hits.is_empty() {
                failures.push(format!("{what} output names an identifier:\n{}", scanner.describe(&l, &hits)));
            }
        }
    }
    let relay_log = fs::read(d.join("relay/relay.stderr")).unwrap();
    assert!(relay_log.windows(9).any(|w| w == b"\"request\""), "the relay logged its requests");

    // (3a) agent ↔ agent: nothing, in either direction, on either connection; lengths.
    let model = LengthModel::measure(LENGTHS.iter().chain(LENGTHS_IK).copied().max().unwrap());
    check_padding_model(&model);
    assert_eq!(agent_wire.len(), 2, "two live connections (XX, then IK)");
    for (i, c) in agent_wire.iter().enumerate() {
        for (dir, bytes) in [("A→B", &c.up), ("B→A", &c.down)] {
            let hits = scanner.scan(bytes);
            if !hits.is_empty() {
                failures.push(format!("live connection {i} {dir} carries identifiers in clear:\n{}", scanner.describe(bytes, &hits)));
            }
        }
    }
    let expected = [
        (ab1.as_slice(), ba1.as_slice(), true),  // XX: A's first messages are initial messages
        (ab2.as_slice(), ba2.as_slice(), false), // IK: the sessions exist
    ];
    for (c, (ab, ba, initial)) in agent_wire.iter().zip(expected) {
        let prefix = if initial { model.swri_prefix_no_one_time } else { 0 };
        check_link(c, &model, ab, prefix, ba, &mut failures);
    }

    // (3b) agents ↔ relay: every hit in a documented field; deposit lengths.
    let mut http_tally = BTreeMap::new();
    let mut deposits = Vec::new();
    let mut delivered = Vec::new();
    for (i, c) in relay_wire.iter().enumerate() {
        let reqs = parse_http_stream(&c.up, false).unwrap_or_else(|e| panic!("relay connection {i}: requests: {e}"));
        let resps = parse_http_stream(&c.down, true).unwrap_or_else(|e| panic!("relay connection {i}: responses: {e}"));
        assert_eq!(reqs.len(), resps.len(), "relay connection {i}: one response per request");
        for bad in audit_http(&scanner, &reqs, false, &mut http_tally).into_iter().chain(audit_http(&scanner, &resps, true, &mut http_tally)) {
            failures.push(format!("relay connection {i}: identifier outside a documented field: {bad}"));
        }
        for (q, r) in reqs.iter().zip(&resps) {
            let (method, target) = q.request();
            if method == "PUT" && target.contains("/messages/") {
                deposits.push(q.body.len());
            }
            if method == "GET" && target.contains("/messages") && r.status() == 200 {
                if r.header("content-type").is_some_and(|t| t.starts_with(b"application/octet-stream")) {
                    delivered.push(r.body.len());
                } else {
                    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                    for m in v["messages"].as_array().unwrap() {
                        if let Some(b) = m["body"].as_str() {
                            delivered.push(base64::engine::general_purpose::STANDARD.decode(b).unwrap().len());
                        }
                    }
                }
            }
        }
    }
    eprintln!("relay HTTP hits, all in documented fields: {http_tally:#?}");
    for field in ["path {owner}", "path {address}", "header Sealwire-Key", "json bundle", "json mailbox"] {
        assert!(http_tally.keys().any(|k| k.starts_with(field)), "no identifier seen in `{field}`: the attribution would be vacuous");
    }
    let mut want: Vec<usize> = ab_relay.iter().map(|m| MIN_SEALED_MESSAGE_LEN + model.swrm[m.len()]).collect();
    want.sort();
    deposits.sort();
    if deposits != want {
        failures.push(format!("deposit lengths {deposits:?} are not the padded lengths {want:?} of the messages sent"));
    }
    // What the relay hands out is what was deposited (same lengths).
    for n in &delivered {
        if !deposits.contains(n) {
            failures.push(format!("a delivered mailbox message of {n} bytes is not one of the deposits"));
        }
    }
    assert!(delivered.len() >= ab_relay.len(), "B fetched every deposit");

    // (2) files.
    let mut files = Vec::new();
    walk_files(&d, &mut files);
    let mut col_tally = BTreeMap::new();
    let mut raw_tally: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut all: Vec<(String, PathBuf, Vec<u8>)> =
        running_files.into_iter().map(|(name, bytes)| (name.clone(), PathBuf::from(name), bytes)).collect();
    for f in &files {
        all.push((f.display().to_string(), f.clone(), fs::read(f).unwrap()));
    }
    for (name, path, bytes) in &all {
        let rel = path.strip_prefix(&d).unwrap_or(path).to_string_lossy().to_string();
        let top = rel.split('/').next().unwrap_or("").to_owned();
        let file = path.file_name().unwrap().to_string_lossy().split(' ').next().unwrap().to_owned();
        // Raw occurrences allowed in the two databases: the kinds their documented columns
        // hold (attributed column by column below); nothing anywhere else.
        let raw_allowed: fn(&Needle) -> bool = match top.as_str() {
            "alice" | "bob" => {
                if rel.matches('/').count() == 1 {
                    check_home_file(&file, bytes, &mut failures, name);
                } else {
                    failures.push(format!("{name}: a file in a subdirectory of an agent home"));
                }
                |n| n.family == Family::Raw && matches!(n.what, What::Ed25519 | What::X25519)
            }
            "relay" if file.starts_with("relay.sqlite") => |n| {
                n.family == Family::Raw
                    && matches!(n.what, What::Ed25519 | What::X25519 | What::MailboxAddress | What::MailboxSigning | What::MailboxSealing)
            },
            "app" => {
                if let Err(e) = EnvelopeHeader::parse(bytes) {
                    failures.push(format!("{name}: not an envelope: {e}"));
                }
                |_| false
            }
            _ => |_| false,
        };
        let in_store = file.starts_with(SESSIONS_FILE) || file.starts_with("relay.sqlite");
        for h in scanner.scan(bytes) {
            let n = scanner.needle(&h);
            if in_store && raw_allowed(n) {
                raw_tally.entry(name.clone()).or_default().insert(format!("{} {:?}", n.owner, n.what));
            } else {
                failures.push(format!("file {name} holds {}:\n{}", n.label(), scanner.describe(bytes, std::slice::from_ref(&h))));
            }
        }
    }
    audit_sqlite_columns(&scanner, &d.join("relay/relay.sqlite"), &scratch, &relay_column_allows, &mut col_tally, &mut failures);
    for (owner, home) in [("alice", &ha), ("bob", &hb)] {
        let allows = move |t: &str, c: &str, n: &Needle| session_column_allows(owner, t, c, n);
        audit_sqlite_columns(&scanner, &home.join(SESSIONS_FILE), &scratch, &allows, &mut col_tally, &mut failures);
    }
    let _ = fs::remove_dir_all(&scratch);
    eprintln!("identifiers in database columns (documented): {col_tally:#?}");
    eprintln!("identifiers in database files, raw (documented kinds): {raw_tally:#?}");
    for (col, who) in [("relay.sqlite: bundles.owner", "alice Ed25519"), ("relay.sqlite: bundles.owner", "bob Ed25519"), ("relay.sqlite: mailboxes.address", "bob MailboxAddress")] {
        assert!(col_tally.get(col).is_some_and(|s| s.contains(who)), "the column scan finds {who} in {col} (not vacuous)");
    }

    if !failures.is_empty() {
        panic!("{} leak(s):\n{}", failures.len(), failures.join("\n"));
    }
    let _ = fs::remove_dir_all(&d);
    eprintln!("leak audit done in {:?}", started.elapsed());
}

fn add_identity_needles(needles: &mut Needles, owner: &'static str, public: &PublicIdentity, home: &Path) {
    needles.add_value(owner, What::Ed25519, public.ed25519_bytes());
    needles.add_value(owner, What::X25519, public.x25519_bytes());
    // The mailbox keys the relay client derives (docs/RELAY.md "Mailbox keys"), from the
    // identity in the home (decrypted here only to know what to look for).
    let identity = Identity::import(&fs::read(home.join(IDENTITY_FILE)).unwrap(), PASS).unwrap();
    assert_eq!(identity.public(), public);
    let mk = MailboxKeys::derive(&identity, 0).unwrap();
    needles.add_value(owner, What::MailboxAddress, &mk.address());
    needles.add_value(owner, What::MailboxSigning, &mk.signing_public());
    needles.add_value(owner, What::MailboxSealing, &mk.sealing_public());
    let did = public.did();
    needles.add_text(owner, What::Did, "did", did.as_bytes());
    let fp = public.fingerprint();
    needles.add_text(owner, What::Fingerprint, "fingerprint", fp.as_bytes());
    needles.add_text(owner, What::Fingerprint, "fingerprint (no spaces)", fp.replace(' ', "").as_bytes());
    needles.add_text(owner, What::Fingerprint, "fingerprint[..3 groups]", &fp.as_bytes()[..17]);
}

/// The scanner finds planted needles in every encoding and place the audit relies on, and
/// the HTTP attribution refuses an identifier in an undocumented place: a broken scanner
/// or rule would fail here rather than let the audit pass.
fn control_samples(scanner: &Scanner, alice: &PublicIdentity) {
    let ed = alice.ed25519_bytes();
    let found = |hay: &[u8], what: What, family: Family| {
        scanner.scan(hay).iter().any(|h| {
            let n = scanner.needle(h);
            n.owner == "alice" && n.what == what && n.family == family
        })
    };
    let line = format!("DEBUG sealwire peer={} connected", hex::encode(ed));
    assert!(found(line.as_bytes(), What::Ed25519, Family::Hex), "hex in a log line");
    let line = format!("peer={}", hex::encode_upper(&ed[..8]));
    assert!(found(line.as_bytes(), What::Ed25519, Family::Hex), "truncated upper-case hex");
    for shift in 0..3 {
        let mut blob = vec![7u8; shift];
        blob.extend_from_slice(alice.x25519_bytes());
        blob.extend_from_slice(b"trailing");
        let text = base64::engine::general_purpose::STANDARD.encode(&blob);
        assert!(found(text.as_bytes(), What::X25519, Family::Base64), "base64 at alignment {shift}");
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&blob);
        assert!(found(text.as_bytes(), What::X25519, Family::Base64), "base64url at alignment {shift}");
    }
    let mut raw = b"SQLite page ...".to_vec();
    raw.extend_from_slice(ed);
    assert!(found(&raw, What::Ed25519, Family::Raw), "raw bytes");
    assert!(found(format!("id {}", alice.did()).as_bytes(), What::Did, Family::Text), "DID");
    assert!(found(alice.did().trim_start_matches("did:key:").as_bytes(), What::Ed25519, Family::Base58), "multibase z…");
    assert!(found(format!("b{}", base32(ed, false)).as_bytes(), What::Ed25519, Family::Base32), "multibase b…");
    assert!(found(alice.fingerprint().as_bytes(), What::Fingerprint, Family::Text), "fingerprint");
    assert!(
        scanner.scan(b"<A2B-xx#12><A2B-xx#12><A2B-xx#12><A2B-xx#12>").iter().any(|h| scanner.needle(h).what == What::Plaintext),
        "a message plaintext"
    );
    // HTTP: the key in a documented field passes, in any other field it is reported.
    let key = hex::encode(ed);
    let ok = format!("POST /v1/bundles/{key}/claim HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    let leak = format!("POST /v1/bundles/{key}/claim HTTP/1.1\r\nX-Debug-Peer: {key}\r\nContent-Length: 0\r\n\r\n");
    let mut tally = BTreeMap::new();
    assert!(audit_http(scanner, &parse_http_stream(ok.as_bytes(), false).unwrap(), false, &mut tally).is_empty());
    assert!(!audit_http(scanner, &parse_http_stream(leak.as_bytes(), false).unwrap(), false, &mut tally).is_empty());
    let body = format!("{{\"note\":\"{}\"}}", base64::engine::general_purpose::STANDARD.encode(ed));
    let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    assert!(!audit_http(scanner, &parse_http_stream(resp.as_bytes(), true).unwrap(), true, &mut tally).is_empty());
}

/// Core pads exactly as docs/FORMATS.md says: message length − overhead = PADMÉ bucket.
fn check_padding_model(model: &LengthModel) {
    let overhead = model.swrm[0] - MIN_PADDED;
    for (n, len) in model.swrm.iter().enumerate() {
        assert_eq!(len - overhead, padded_len_per_docs(n), "SWRM of {n} plaintext bytes");
    }
    assert_eq!(model.swri_prefix_one_time, model.swri_prefix_no_one_time + 4, "the one-time prekey id");
    // Messages of 1 … 31 bytes are indistinguishable.
    assert!(model.swrm[1..32].iter().all(|l| *l == model.swrm[0]));
    eprintln!(
        "padding: {} distinct lengths for 0 ‥ {} plaintext bytes; SWRM overhead {overhead}, SWRI prefixes {} / {}",
        model.buckets().len(),
        model.swrm.len() - 1,
        model.swri_prefix_no_one_time,
        model.swri_prefix_one_time
    );
}

/// One live connection: hello, handshake, then records; every message record has exactly
/// the length core gives its plaintext (initial messages: plus the `SWRI` prefix).
fn check_link(c: &Recorded, model: &LengthModel, ab: &[Vec<u8>], ab_prefix: usize, ba: &[Vec<u8>], failures: &mut Vec<String>) {
    let up = link_frames(&c.up);
    let down = link_frames(&c.down);
    let hello = &up[0];
    assert_eq!(&hello[..4], HELLO_MAGIC);
    let protocol = String::from_utf8(hello[6..].to_vec()).unwrap();
    let xx = protocol.starts_with("Noise_XX");
    // XX: → e, ← e ee s es, → s se (3 messages); IK: → e es s ss, ← e ee se (2).
    let (up_hs, down_hs) = if xx { (2, 1) } else { (1, 1) };
    // Record = len:u16 ‖ AEAD(flag ‖ type ‖ body): 2 + tag + 2 bytes around the body.
    let tag = sealwire::noise::MAX_MESSAGE_LEN - sealwire::noise::MAX_PLAINTEXT_LEN;
    let records = |frames: &[Vec<u8>], skip: usize| -> Vec<usize> { frames[skip..].iter().map(|f| f.len() - 2 - tag - 2).collect() };
    let bundle_len = {
        let id = Identity::generate().unwrap();
        let opts = PrekeyOptions { one_time_prekeys: 0, kem_one_time_prekeys: 0, post_quantum: true };
        PrekeyStore::generate_with_options(&id, opts, unix_now()).unwrap().bundle().to_bytes().len()
    };
    for (dir, recs, sent, prefix) in [("A→B", records(&up, 1 + up_hs), ab, ab_prefix), ("B→A", records(&down, down_hs), ba, 0)] {
        // First the sender's bundle (no one-time prekeys), then messages and 32-byte acks.
        assert_eq!(recs[0], bundle_len, "{protocol} {dir}: the bundle record");
        let mut messages: Vec<usize> = recs[1..].iter().copied().filter(|n| *n != 32).collect();
        messages.sort();
        let mut want: Vec<usize> = sent.iter().map(|m| prefix + model.swrm[m.len()]).collect();
        want.sort();
        if messages != want {
            failures.push(format!("{protocol} {dir}: message record lengths {messages:?}, padded lengths of what was sent {want:?}"));
        }
        let buckets = model.buckets();
        for n in &messages {
            if !buckets.contains(&(n - prefix)) {
                failures.push(format!("{protocol} {dir}: a message record of {n} bytes outside the padding buckets"));
            }
        }
    }
}

/// An agent home holds only the documented files, each in its documented format.
fn check_home_file(file: &str, bytes: &[u8], failures: &mut Vec<String>, name: &str) {
    let ok = match file {
        f if f == LOCK_FILE => bytes.is_empty(),
        f if f == KEYRING_FILE => bytes.starts_with(KEYRING_MAGIC),
        f if f == IDENTITY_FILE => bytes.starts_with(b"SWIK") && bytes.len() == 140,
        f if f == STATE_FILE => bytes.starts_with(STATE_MAGIC),
        f if f == SESSIONS_FILE => bytes.starts_with(b"SQLite format 3\0"),
        f if f == format!("{SESSIONS_FILE}-wal") => bytes.is_empty() || bytes.starts_with(&[0x37, 0x7f, 0x06]),
        f if f == format!("{SESSIONS_FILE}-shm") => true,
        _ => false,
    };
    if !ok {
        failures.push(format!("{name}: not a documented agent home file or not in its format"));
    }
}
