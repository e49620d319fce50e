//! The "offline" scenario, end to end over SQLite files: Bob publishes a prekey bundle and
//! goes offline (his messenger is closed); Alice starts a session from the bundle alone and
//! sends several messages into a mailbox; Bob starts from disk, reads them in order and
//! replies; they go on, each closing and reopening from disk between turns, with the
//! rollback anchor (the store counter) kept outside the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use sealwire::ratchet::{PrekeyBundle, PrekeyOptions};
use sealwire::store::{Messenger, SqliteStore};
use sealwire::{Identity, PublicIdentity};

const ALICE_KEY: [u8; 32] = [0xa1; 32];
const BOB_KEY: [u8; 32] = [0xb0; 32];

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("offline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An agent that is offline between turns: only its database file and its saved counter.
struct Agent {
    db: PathBuf,
    key: [u8; 32],
    counter: u64,
}

impl Agent {
    fn create(db: PathBuf, key: [u8; 32]) -> (Self, PublicIdentity, PrekeyBundle) {
        let opts = PrekeyOptions { one_time_prekeys: 10, kem_one_time_prekeys: 10, post_quantum: true };
        let mut m =
            Messenger::create(SqliteStore::open(&db).unwrap(), Identity::generate().unwrap(), &key, opts, 1_700_000_000)
                .unwrap();
        let public = m.identity().clone();
        let bundle = m.bundle().unwrap();
        let counter = m.counter();
        (Self { db, key, counter }, public, bundle)
    }

    /// Come online: open from disk (refusing a rolled-back database), run `f`, go offline.
    fn online<T>(&mut self, f: impl FnOnce(&mut Messenger<SqliteStore>) -> T) -> T {
        let mut m = Messenger::open(SqliteStore::open(&self.db).unwrap(), &self.key, self.counter).unwrap();
        let out = f(&mut m);
        self.counter = m.counter();
        out
    }
}

/// Send `texts` to `peer`, returning the ciphertexts as the mailbox would hold them.
fn send_all(m: &mut Messenger<SqliteStore>, peer: &PublicIdentity, texts: &[String]) -> Vec<Vec<u8>> {
    let pid = sealwire::store::peer_id(peer);
    texts
        .iter()
        .map(|t| {
            let rec = m.send(&pid, t.as_bytes()).unwrap();
            m.mark_sent(rec.id).unwrap();
            rec.ciphertext
        })
        .collect()
}

/// Read a mailbox; every message must be new and come from `from`.
fn read_all(m: &mut Messenger<SqliteStore>, from: &PublicIdentity, mailbox: &[Vec<u8>]) -> Vec<String> {
    mailbox
        .iter()
        .map(|ct| {
            let r = m.receive(ct).unwrap().expect("a new message");
            assert_eq!(&r.peer, from.ed25519_bytes());
            m.ack(r.id).unwrap();
            String::from_utf8(r.plaintext).unwrap()
        })
        .collect()
}

fn texts(who: &str, turn: usize, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{who}, turn {turn}, message {i}")).collect()
}

#[test]
fn bob_offline_alice_sends_bob_reads_from_disk_and_they_continue() {
    let d = dir("scenario");
    // Bob publishes his bundle and goes offline.
    let (mut bob, bob_public, bundle_bytes) = {
        let (a, p, b) = Agent::create(d.join("bob.db"), BOB_KEY);
        (a, p, b.to_bytes())
    };
    let (mut alice, alice_public, _) = Agent::create(d.join("alice.db"), ALICE_KEY);

    // Alice fetches the bundle from the directory and sends several messages.
    let bundle = PrekeyBundle::from_bytes(&bundle_bytes).unwrap();
    let first = texts("alice", 0, 5);
    let mailbox = alice.online(|m| {
        m.connect(&bob_public, &bundle).unwrap();
        send_all(m, &bob_public, &first)
    });

    // Bob starts from disk and reads them in order; the first consumed one one-time prekey.
    let got = bob.online(|m| {
        let got = read_all(m, &alice_public, &mailbox);
        assert_eq!(m.one_time_prekey_count().unwrap(), 9);
        // Reading the mailbox again delivers nothing twice.
        assert!(mailbox.iter().all(|ct| m.receive(ct).unwrap().is_none()));
        got
    });
    assert_eq!(got, first);

    // They continue, each offline between turns; turns alternate with varying sizes.
    let (mut from_alice, mut from_bob) = (0, 0);
    for turn in 1..=6 {
        let reply = texts("bob", turn, turn % 3 + 1);
        let mailbox = bob.online(|m| send_all(m, &alice_public, &reply));
        assert_eq!(alice.online(|m| read_all(m, &bob_public, &mailbox)), reply);
        from_bob += reply.len();

        let more = texts("alice", turn, (turn * 2) % 5 + 1);
        let mailbox = alice.online(|m| send_all(m, &bob_public, &more));
        assert_eq!(bob.online(|m| read_all(m, &alice_public, &mailbox)), more);
        from_alice += more.len();
    }
    alice.online(|m| {
        assert_eq!(m.sent_count(bob_public.ed25519_bytes()).unwrap(), (first.len() + from_alice) as u64);
        assert_eq!(m.received_count(bob_public.ed25519_bytes()).unwrap(), from_bob as u64);
        assert!(m.pending_outbox().unwrap().is_empty() && m.pending_inbox().unwrap().is_empty());
    });
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn offline_mailbox_delivered_out_of_order_and_twice() {
    let d = dir("reorder");
    let (mut bob, bob_public, bundle) = Agent::create(d.join("bob.db"), BOB_KEY);
    let (mut alice, alice_public, _) = Agent::create(d.join("alice.db"), ALICE_KEY);
    let sent = texts("alice", 0, 6);
    let mut mailbox = alice.online(|m| {
        m.connect(&bob_public, &bundle).unwrap();
        send_all(m, &bob_public, &sent)
    });
    // The mailbox reverses the order and repeats everything.
    mailbox.reverse();
    let copies = mailbox.clone();
    mailbox.extend(copies);
    let got: Vec<String> = bob.online(|m| {
        let mut got = Vec::new();
        for ct in &mailbox {
            if let Some(r) = m.receive(ct).unwrap() {
                m.ack(r.id).unwrap();
                got.push(String::from_utf8(r.plaintext).unwrap());
            }
        }
        got
    });
    let mut expected = sent.clone();
    expected.reverse();
    assert_eq!(got, expected, "each message exactly once, in arrival order");
    // Bob replies; Alice (offline meanwhile) reads it from disk.
    let reply = texts("bob", 1, 2);
    let mb = bob.online(|m| send_all(m, &alice_public, &reply));
    assert_eq!(alice.online(|m| read_all(m, &bob_public, &mb)), reply);
    let _ = std::fs::remove_dir_all(&d);
}
