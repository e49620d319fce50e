//! Agents as separate OS processes talking only through a real relay process:
//!
//! * `agents_never_online_together_exchange_messages`: Alice and Bob (each a `Messenger` over
//!   its own SQLite file, wrapped in `RelayAgent`) run one at a time, never overlapping, and
//!   exchange several turns of messages through the relay's directory and mailboxes.
//! * `relay_killed_mid_deposit_and_mid_ack_loses_and_duplicates_nothing`: Alice sends a
//!   stream of messages while Bob receives; the driver SIGKILLs and restarts the relay many
//!   times (and the agents a few times) at seeded random moments. Every message committed by
//!   Alice reaches Bob's application exactly once, in order, and the mailbox ends empty.
//!
//! The agents are this test binary re-executed with `--ignored --exact relay_agent_process`
//! and `SEALWIRE_RELAY_AGENT` set. `SEALWIRE_RELAY_FAULT_SEED` replays a kill schedule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod relay_support;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sealwire::relay::{RelayAgent, RelayClient};
use sealwire::store::{peer_id, Messenger, SqliteStore};
use sealwire::{ErrorKind, Identity, PublicIdentity};

use relay_support::*;

// ---------------------------------------------------------------- the agent process

fn anchor(dir: &Path) -> u64 {
    fs::read_to_string(dir.join("anchor")).map(|s| s.trim().parse().unwrap()).unwrap_or(0)
}

fn save_anchor(dir: &Path, counter: u64) {
    let tmp = dir.join("anchor.tmp");
    let mut f = fs::File::create(&tmp).unwrap();
    f.write_all(counter.to_string().as_bytes()).unwrap();
    f.sync_all().unwrap();
    fs::rename(&tmp, dir.join("anchor")).unwrap();
}

fn bump(dir: &Path, counter: &str) {
    let p = dir.join(counter);
    let n: u64 = fs::read_to_string(&p).map(|s| s.trim().parse().unwrap()).unwrap_or(0);
    fs::write(&p, (n + 1).to_string()).unwrap();
}

fn app_log(dir: &Path) -> Vec<(u64, String)> {
    fs::read_to_string(dir.join("app.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (id, text) = l.split_once('\t').unwrap();
            (id.parse().unwrap(), text.to_owned())
        })
        .collect()
}

/// The application's durable, idempotent handling: append "inbox id ‖ plaintext" unless
/// that id is already there, fsync.
fn handle(dir: &Path, id: u64, plaintext: &[u8]) {
    if app_log(dir).iter().any(|(i, _)| *i == id) {
        return;
    }
    let mut f = OpenOptions::new().create(true).append(true).open(dir.join("app.log")).unwrap();
    writeln!(f, "{id}\t{}", String::from_utf8(plaintext.to_vec()).unwrap()).unwrap();
    f.sync_all().unwrap();
}

fn transient(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::RelayUnavailable | ErrorKind::RelayTimeout | ErrorKind::RelayNotFound)
}

fn open_agent(dir: &Path, url: &str) -> RelayAgent<SqliteStore> {
    let store = SqliteStore::open(dir.join("store.sqlite")).unwrap();
    let m = Messenger::open(store, &KEY, anchor(dir)).unwrap();
    RelayAgent::new(m, RelayClient::new(url).unwrap()).unwrap()
}

/// Retry `f` while the relay is down or restarting (bounded).
fn retry<T>(dir: &Path, what: &str, mut f: impl FnMut() -> sealwire::Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if transient(e.kind()) && Instant::now() < deadline => {
                bump(dir, &format!("failures.{what}"));
                std::thread::sleep(Duration::from_millis(30));
            }
            Err(e) => panic!("{what}: {e} ({})", e.kind().code()),
        }
    }
}

#[test]
#[ignore = "run by the other tests as a separate process"]
fn relay_agent_process() {
    let Ok(cmd) = std::env::var("SEALWIRE_RELAY_AGENT") else { return };
    let dir = PathBuf::from(std::env::var("SEALWIRE_RELAY_DIR").unwrap());
    let url = std::env::var("SEALWIRE_RELAY_URL").unwrap();
    let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
    let peer = || PublicIdentity::from_bytes(&fs::read(std::env::var("SEALWIRE_RELAY_PEER").unwrap()).unwrap()).unwrap();
    let mut parts = cmd.split(' ');
    match (parts.next().unwrap(), parts.next().map(|n| n.parse::<u64>().unwrap())) {
        ("init", None) => {
            let id = Identity::generate().unwrap();
            fs::write(dir.join("public"), id.public().to_bytes()).unwrap();
            let store = SqliteStore::open(dir.join("store.sqlite")).unwrap();
            let m = Messenger::create(store, id, &KEY, small_options(20, 20), now_unix()).unwrap();
            save_anchor(&dir, m.counter());
            let mut agent = RelayAgent::new(m, RelayClient::new(&url).unwrap()).unwrap();
            retry(&dir, "publish", || agent.publish());
        }
        // Send messages "<name> #k" until `total` were committed (numbering survives crashes:
        // sent_count is committed with each outbox record).
        ("send", Some(total)) => {
            let pacing = std::env::var("SEALWIRE_RELAY_PACE_MS").map(|s| s.parse().unwrap()).unwrap_or(0);
            let mut agent = open_agent(&dir, &url);
            let peer = peer();
            let pid = peer_id(&peer);
            retry(&dir, "flush", || agent.flush_outbox());
            if !agent.messenger().has_session(&pid).unwrap() {
                retry(&dir, "connect", || agent.connect(&peer));
                save_anchor(&dir, agent.messenger().counter());
            }
            loop {
                let sent = agent.messenger().sent_count(&pid).unwrap();
                if sent >= total {
                    break;
                }
                let text = format!("{name} #{}", sent + 1);
                match agent.send(&pid, text.as_bytes()) {
                    Ok(_) => {}
                    // Committed to the outbox; deposit it once the relay is back.
                    Err(e) if transient(e.kind()) => {
                        bump(&dir, "failures.deposit");
                        save_anchor(&dir, agent.messenger().counter());
                        std::thread::sleep(Duration::from_millis(30));
                        retry(&dir, "flush", || agent.flush_outbox());
                    }
                    Err(e) => panic!("send: {e}"),
                }
                save_anchor(&dir, agent.messenger().counter());
                if pacing > 0 {
                    std::thread::sleep(Duration::from_millis(pacing));
                }
            }
            retry(&dir, "flush", || agent.flush_outbox());
            assert!(agent.messenger().pending_outbox().unwrap().is_empty());
        }
        // Receive until the application log holds `total` messages.
        ("receive", Some(total)) => {
            let mut agent = open_agent(&dir, &url);
            for r in agent.messenger().pending_inbox().unwrap() {
                handle(&dir, r.id, &r.plaintext);
                agent.messenger().ack(r.id).unwrap();
            }
            let deadline = Instant::now() + Duration::from_secs(90);
            while (app_log(&dir).len() as u64) < total {
                assert!(Instant::now() < deadline, "{name}: only {} of {total} messages", app_log(&dir).len());
                match agent.receive(50) {
                    Ok(report) => {
                        save_anchor(&dir, agent.messenger().counter());
                        assert_eq!(report.rejected, 0);
                        for _ in 0..report.duplicates {
                            bump(&dir, "duplicates");
                        }
                        for r in report.received {
                            handle(&dir, r.id, &r.plaintext);
                            agent.messenger().ack(r.id).unwrap();
                        }
                    }
                    Err(e) if transient(e.kind()) => {
                        save_anchor(&dir, agent.messenger().counter());
                        bump(&dir, "failures.receive");
                        std::thread::sleep(Duration::from_millis(30));
                    }
                    Err(e) => panic!("receive: {e}"),
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // After the receiver finished: what is left on the relay (messages whose
        // acknowledgement a kill interrupted) must all be duplicates, and then get acknowledged.
        ("drain", None) => {
            let mut agent = open_agent(&dir, &url);
            loop {
                let report = retry(&dir, "drain", || agent.receive(100));
                assert!(report.received.is_empty(), "a message was delivered to the application twice");
                assert_eq!(report.rejected, 0);
                if report.duplicates == 0 && report.interrupted.is_none() {
                    break;
                }
                for _ in 0..report.duplicates {
                    bump(&dir, "duplicates");
                }
            }
        }
        other => panic!("unknown agent command {other:?}"),
    }
}

// ---------------------------------------------------------------- the driver

fn agent(dir: &Path, url: &str, cmd: &str, peer: Option<&Path>, pace_ms: u64) -> Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--ignored", "--exact", "relay_agent_process", "--nocapture", "--test-threads=1"])
        .env("SEALWIRE_RELAY_AGENT", cmd)
        .env("SEALWIRE_RELAY_DIR", dir)
        .env("SEALWIRE_RELAY_URL", url)
        .env("SEALWIRE_RELAY_PACE_MS", pace_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(p) = peer {
        c.env("SEALWIRE_RELAY_PEER", p.join("public"));
    }
    c.spawn().unwrap()
}

/// Run one agent command to completion; it must succeed.
fn run(dir: &Path, url: &str, cmd: &str, peer: Option<&Path>) {
    let status = agent(dir, url, cmd, peer, 0).wait().unwrap();
    assert!(status.success(), "agent {} `{cmd}` failed: {status:?}", dir.display());
}

fn texts(dir: &Path) -> Vec<String> {
    app_log(dir).into_iter().map(|(_, t)| t).collect()
}

fn expected(name: &str, n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("{name} #{i}")).collect()
}

#[test]
fn agents_never_online_together_exchange_messages() {
    let d = tmpdir("offline");
    let mut relay = Relay::start(&d, &[]);
    let (a, b) = (d.join("alice"), d.join("bob"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    let url = relay.url.clone();
    run(&a, &url, "init", None);
    run(&b, &url, "init", None);
    // Turns: each process starts from disk, does its part, exits before the other starts.
    run(&a, &url, "send 5", Some(&b));
    run(&b, &url, "receive 5", Some(&a));
    run(&b, &url, "send 3", Some(&a));
    run(&a, &url, "receive 3", Some(&b));
    run(&a, &url, "send 12", Some(&b));
    // The relay restarts between turns (SIGTERM: graceful).
    relay.stop();
    relay.start_again();
    assert_eq!(relay.url, url);
    run(&b, &url, "receive 12", Some(&a));
    run(&b, &url, "send 7", Some(&a));
    run(&a, &url, "receive 7", Some(&b));
    assert_eq!(texts(&b), expected("alice", 12));
    assert_eq!(texts(&a), expected("bob", 7));
    // Every message was acknowledged and deleted; one one-time prekey of each kind was
    // claimed (Alice's connect to Bob; Bob answered in the session Alice started).
    assert_eq!(relay.count("SELECT count(*) FROM messages"), 0);
    assert_eq!(relay.count("SELECT count(*) FROM one_time"), 39);
    assert_eq!(relay.count("SELECT count(*) FROM kem_one_time"), 39);
    assert_eq!(relay.count("SELECT count(*) FROM mailboxes"), 2);
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn read_counter(dir: &Path, name: &str) -> u64 {
    fs::read_to_string(dir.join(name)).map(|s| s.trim().parse().unwrap()).unwrap_or(0)
}

#[test]
fn relay_killed_mid_deposit_and_mid_ack_loses_and_duplicates_nothing() {
    const TOTAL: u64 = 150;
    let seed = std::env::var("SEALWIRE_RELAY_FAULT_SEED")
        .map(|s| s.parse().unwrap())
        .unwrap_or_else(|_| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    eprintln!("relay fault test seed: {seed} (SEALWIRE_RELAY_FAULT_SEED)");
    let mut rng = Rng(seed);
    let d = tmpdir("faults");
    let mut relay = Relay::start(&d, &[]);
    let (a, b) = (d.join("alice"), d.join("bob"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    let url = relay.url.clone();
    run(&a, &url, "init", None);
    run(&b, &url, "init", None);
    let send = format!("send {TOTAL}");
    let recv = format!("receive {TOTAL}");
    let mut sender = Some(agent(&a, &url, &send, Some(&b), 10));
    let mut receiver = Some(agent(&b, &url, &recv, Some(&a), 0));
    let deadline = Instant::now() + Duration::from_secs(150);
    let (mut relay_kills, mut agent_kills) = (0, 0);
    while sender.is_some() || receiver.is_some() {
        assert!(Instant::now() < deadline, "fault test did not finish (seed {seed})");
        std::thread::sleep(Duration::from_millis(rng.range(100, 400)));
        for (slot, dir, cmd) in [(&mut sender, &a, &send), (&mut receiver, &b, &recv)] {
            if let Some(c) = slot.as_mut() {
                if let Some(status) = c.try_wait().unwrap() {
                    assert!(status.success(), "agent {} failed (seed {seed}): {status:?}", dir.display());
                    *slot = None;
                } else if agent_kills < 6 && rng.range(0, 8) == 0 {
                    // Kill an agent too (e.g. between its receive commit and the relay ack).
                    c.kill().unwrap();
                    c.wait().unwrap();
                    agent_kills += 1;
                    let peer = if dir == &a { &b } else { &a };
                    *slot = Some(agent(dir, &url, cmd, Some(peer), if dir == &a { 10 } else { 0 }));
                }
            }
        }
        if relay_kills < 14 && (sender.is_some() || receiver.is_some()) {
            relay.kill9();
            relay_kills += 1;
            std::thread::sleep(Duration::from_millis(rng.range(0, 250)));
            relay.restart();
            assert_eq!(relay.url, url, "restarted on the same port");
        }
    }
    let got = texts(&b);
    assert_eq!(got, expected("alice", TOTAL), "exactly once, in order (seed {seed})");
    // Copies whose acknowledgement a kill interrupted may remain: they are duplicates only.
    run(&b, &url, "drain", Some(&a));
    assert_eq!(texts(&b), got, "nothing delivered twice (seed {seed})");
    assert_eq!(relay.count("SELECT count(*) FROM messages"), 0, "everything acknowledged (seed {seed})");
    let failures: u64 = ["failures.deposit", "failures.flush", "failures.connect"].iter().map(|f| read_counter(&a, f)).sum();
    let rfailures = read_counter(&b, "failures.receive");
    eprintln!(
        "relay kills {relay_kills}, agent kills {agent_kills}; sender transport failures {failures}, \
         receiver transport failures {rfailures}, duplicates dropped {}",
        read_counter(&b, "duplicates")
    );
    assert!(relay_kills >= 4, "the relay was killed while the agents ran (seed {seed})");
    assert!(failures + rfailures > 0, "the kills hit requests in flight (seed {seed})");
}

/// Two relay processes sharing PostgreSQL and NATS JetStream: Alice uses relay 1, Bob relay
/// 2, never online together; a long-polling reader on relay 2 is woken by a deposit on relay
/// 1 (NATS); concurrent claims on both relays never share a one-time prekey.
/// Run by scripts/test-relay.sh with the PostgreSQL and NATS variables set.
#[test]
#[ignore = "needs SEALWIRE_RELAY_TEST_POSTGRES and SEALWIRE_RELAY_TEST_NATS (scripts/test-relay.sh)"]
fn two_relays_sharing_postgres_and_nats() {
    assert!(postgres_config().is_some() && nats_url().is_some(), "needs PostgreSQL and NATS (scripts/test-relay.sh)");
    let d = tmpdir("tworelays");
    let relay1 = Relay::start(&d, &[]);
    let relay2 = Relay::start_sharing(&d, "relay2", &relay1, &[]);
    let (a, b) = (d.join("alice"), d.join("bob"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    let (u1, u2) = (relay1.url.clone(), relay2.url.clone());
    run(&a, &u1, "init", None);
    run(&b, &u2, "init", None);
    run(&a, &u1, "send 4", Some(&b));
    run(&b, &u2, "receive 4", Some(&a));
    run(&b, &u2, "send 3", Some(&a));
    run(&a, &u1, "receive 3", Some(&b));
    run(&a, &u1, "send 9", Some(&b));
    run(&b, &u2, "receive 9", Some(&a));
    assert_eq!(texts(&b), expected("alice", 9));
    assert_eq!(texts(&a), expected("bob", 3));
    assert_eq!(relay1.count("SELECT count(*) FROM messages"), 0);

    // Long poll on relay 2, deposit on relay 1: the NATS notification wakes the reader long
    // before its 20 s wait ends.
    let id = Identity::generate().unwrap();
    let keys = sealwire::relay::MailboxKeys::derive(&id, 0).unwrap();
    let desc = keys.descriptor(&id);
    RelayClient::new(&u1).unwrap().open_mailbox(&keys).unwrap();
    let u2c = u2.clone();
    let reader = std::thread::spawn(move || {
        let opts = sealwire::relay::RelayOptions { request_timeout: Duration::from_secs(28), ..Default::default() };
        let c = RelayClient::with_options(&u2c, opts).unwrap();
        let start = Instant::now();
        let page = c.list_wait(&keys, 0, 10, 20).unwrap();
        (page, start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(1500));
    RelayClient::new(&u1).unwrap().deposit(&desc, b"wake up").unwrap();
    let (page, waited) = reader.join().unwrap();
    assert_eq!(page.messages.len(), 1, "the long poll returned the deposit");
    assert!(waited < Duration::from_secs(10), "woken by the notification after {waited:?}, not by the timeout");
    assert!(waited >= Duration::from_millis(1000), "it did wait for the deposit ({waited:?})");

    // Concurrent claims through both relays: every one-time prekey handed out once.
    let mut carol = Messenger::create(
        sealwire::store::MemoryStore::new(),
        Identity::generate().unwrap(),
        &KEY,
        small_options(60, 60),
        now_unix(),
    )
    .unwrap();
    let carol_id = carol.peer_id();
    let mut carol_agent = RelayAgent::new(carol, RelayClient::new(&u1).unwrap()).unwrap();
    carol_agent.publish().unwrap();
    carol = carol_agent.into_messenger();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let url = if i % 2 == 0 { u1.clone() } else { u2.clone() };
            std::thread::spawn(move || {
                let c = RelayClient::new(&url).unwrap();
                (0..5).map(|_| c.claim_bundle(&carol_id).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    let claims: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let ot: Vec<u32> = claims.iter().flat_map(|c| c.bundle.one_time_prekey_ids()).collect();
    let kem: Vec<u32> = claims.iter().flat_map(|c| c.bundle.kem_one_time_prekey_ids()).collect();
    assert_eq!(ot.len(), 60);
    assert_eq!(ot.iter().collect::<std::collections::BTreeSet<_>>().len(), 60);
    assert_eq!(kem.iter().collect::<std::collections::BTreeSet<_>>().len(), kem.len());
    assert_eq!(kem.len(), 60);
    assert_eq!(carol.one_time_prekey_count().unwrap(), 60);
}
