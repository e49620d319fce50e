//! `sealwire demo`, steps 14.1–14.4: the offline exchange through a relay embedded on
//! 127.0.0.1 (directory + mailbox, SQLite), with `RelayAgent` over each agent's own store.

use std::path::Path;

use sealwire::ratchet::PrekeyOptions;
use sealwire::relay::{RelayAgent, RelayClient};
use sealwire::store::{peer_id, Messenger, SqliteStore};
use sealwire::Identity;

use super::Embedded;
use crate::CliResult;

fn step(n: &str, text: &str) {
    println!("\n[{n}] {text}");
}

fn check(what: &str, ok: bool) -> CliResult {
    if ok {
        println!("    ok  {what}");
        Ok(())
    } else {
        Err(format!("demo check failed: {what}"))
    }
}

fn e(err: sealwire::Error) -> String {
    format!("{err} ({})", err.kind().code())
}

type Agent = RelayAgent<SqliteStore>;

const KEY_A: [u8; 32] = [0xA2; 32];
const KEY_B: [u8; 32] = [0xB2; 32];
const NOTES: [&[u8]; 3] = [b"hi Bob, via the relay", b"the report is in your mailbox", b"no rush"];

fn create(db: &Path, id: &Identity, key: &[u8; 32], url: &str) -> CliResult<Agent> {
    let opts = PrekeyOptions { one_time_prekeys: 10, kem_one_time_prekeys: 10, post_quantum: true };
    let m = Messenger::create(SqliteStore::open(db).map_err(e)?, id.duplicate(), key, opts, crate::dates::now()).map_err(e)?;
    RelayAgent::new(m, RelayClient::new(url).map_err(e)?).map_err(e)
}

fn open(db: &Path, key: &[u8; 32], anchor: u64, url: &str) -> CliResult<Agent> {
    let m = Messenger::open(SqliteStore::open(db).map_err(e)?, key, anchor).map_err(e)?;
    RelayAgent::new(m, RelayClient::new(url).map_err(e)?).map_err(e)
}

/// Every message body the relay holds, read from its database file (both demos show them).
pub(crate) fn relay_bodies(db: &Path) -> CliResult<Vec<Vec<u8>>> {
    let c = rusqlite::Connection::open(db).map_err(|x| format!("demo: {x}"))?;
    let mut st = c.prepare("SELECT body FROM messages ORDER BY seq").map_err(|x| format!("demo: {x}"))?;
    let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0)).map_err(|x| format!("demo: {x}"))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(|x| format!("demo: {x}"))
}

/// Whether `needle` occurs in `hay`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Steps 14.1–14.4, in `dir`.
pub fn steps(dir: &Path, alice: &Identity, bob: &Identity) -> CliResult {
    let relay_db = dir.join("relay.sqlite");
    let relay = Embedded::start(&relay_db)?;
    let url = relay.url.clone();
    let (a_db, b_db) = (dir.join("alice-relay.db"), dir.join("bob-relay.db"));

    step("14.1", "The same offline exchange through a relay (`sealwire relay`, embedded here on 127.0.0.1, SQLite): both publish");
    println!("    relay at {url}");
    let mut b = create(&b_db, bob, &KEY_B, &url)?;
    let st = b.publish().map_err(e)?;
    println!("    Bob's bundle: {} one-time X25519 + {} one-time ML-KEM prekeys on the relay", st.one_time, st.kem_one_time);
    let b_anchor = b.messenger().counter();
    let b_address = b.mailbox().address();
    drop(b);
    let mut a = create(&a_db, alice, &KEY_A, &url)?;
    a.publish().map_err(e)?;
    println!("    mailboxes are addressed by a hash of a key derived from each identity, not by the identity");
    check("Bob's mailbox address is not his identity key", &b_address != bob.public().ed25519_bytes())?;

    step("14.2", "Bob is offline; Alice claims his bundle (one one-time prekey, never handed out twice) and deposits three messages");
    a.connect(bob.public()).map_err(e)?;
    let bob_id = peer_id(bob.public());
    for n in NOTES {
        a.send(&bob_id, n).map_err(e)?;
    }
    let a_anchor = a.messenger().counter();
    check("Alice's outbox is empty: every message was deposited, then marked sent", a.messenger().pending_outbox().map_err(e)?.is_empty())?;
    drop(a);
    let bodies = relay_bodies(&relay_db)?;
    check("the relay holds three sealed messages (SWMM)", bodies.len() == 3 && bodies.iter().all(|b| b.starts_with(b"SWMM")))?;
    check(
        "none of them shows Alice's identity or any plaintext to the relay",
        bodies.iter().all(|b| !contains(b, alice.public().ed25519_bytes()) && !NOTES.iter().any(|n| contains(b, n))),
    )?;
    let bob_keys = sealwire::relay::MailboxKeys::derive(bob, 0).map_err(e)?;
    let inner = bob_keys.open(&bodies[0]).map_err(e)?;
    check(
        "yet the initial message inside (opened with Bob's mailbox key) does name her: the sealed layer is what hides the sender",
        inner.starts_with(b"SWRI") && contains(&inner, alice.public().ed25519_bytes()),
    )?;

    step("14.3", "Alice is offline; Bob starts from disk, fetches, decrypts, commits, and only then acknowledges; he replies");
    let mut b = open(&b_db, &KEY_B, b_anchor, &url)?;
    let report = b.receive(100).map_err(e)?;
    check(
        "three messages, in deposit order, from Alice",
        report.received.iter().map(|r| r.plaintext.as_slice()).eq(NOTES)
            && report.received.iter().all(|r| r.peer == peer_id(alice.public())),
    )?;
    for r in &report.received {
        b.messenger().ack(r.id).map_err(e)?;
    }
    check("acknowledged messages are deleted from the relay", relay_bodies(&relay_db)?.is_empty())?;
    b.send(&peer_id(alice.public()), b"thanks, reading it now").map_err(e)?;
    drop(b);

    step("14.4", "Alice comes back and reads Bob's reply from her mailbox; the relay shuts down gracefully");
    let mut a = open(&a_db, &KEY_A, a_anchor, &url)?;
    let report = a.receive(100).map_err(e)?;
    check(
        "Alice reads the reply (Bob found her mailbox in the directory)",
        report.received.len() == 1 && report.received[0].plaintext == b"thanks, reading it now",
    )?;
    relay.stop()
}
