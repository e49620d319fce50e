//! Property-style tests of the ratchet layer, driven by a seeded PRNG (the idea of
//! libsignal's two-party fuzz target: random sends, drops-until-later, reorders, replays and
//! snapshot/restore), run over every combination of X3DH/PQXDH and header encryption.
//!
//! Properties:
//! * every message delivered in any order within the skip bound decrypts exactly once, to
//!   its plaintext;
//! * a duplicate is rejected and leaves the session byte-identical;
//! * a message beyond the skip bound is rejected and leaves the session byte-identical;
//! * sealing and reopening a session mid-conversation changes nothing;
//! * post-compromise security: a stolen snapshot, even fed every later ciphertext, cannot
//!   decrypt messages sent after the victim's next DH ratchet round trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use sealwire::deterministic::ByteTape;
use sealwire::ratchet::{PrekeyOptions, PrekeyStore, Session, SessionOptions, MAX_SKIP};
use sealwire::{ErrorKind, Identity};

const KEY: [u8; 32] = [0x6b; 32];

/// splitmix64: small, seedable, good enough to drive schedules.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn snap(s: &Session) -> Vec<u8> {
    s.seal_with_entropy(&KEY, &mut ByteTape::new(&[0u8; 24])).unwrap()
}

fn reopen(s: &Session) -> Session {
    let blob = s.seal(&KEY).unwrap();
    Session::open_checked(&blob, &KEY, s.generation()).unwrap()
}

struct World {
    alice_id: Identity,
    bob_id: Identity,
    store: PrekeyStore,
    a: Session,
    b: Option<Session>,
    /// In flight, per direction: (message, plaintext).
    to_b: Vec<(Vec<u8>, Vec<u8>)>,
    to_a: Vec<(Vec<u8>, Vec<u8>)>,
    delivered_to_b: Vec<Vec<u8>>,
    delivered_to_a: Vec<Vec<u8>>,
    seen: HashSet<Vec<u8>>,
    counter: u64,
    /// Coverage counters, checked so the schedule cannot silently degenerate.
    replays: u64,
    reopens: u64,
    max_skipped: usize,
}

impl World {
    fn new(seed: u64, pq: bool, he: bool) -> Self {
        let alice_id = Identity::from_secret_bytes(&[seed as u8; 32], &[1; 32]);
        let bob_id = Identity::from_secret_bytes(&[2; 32], &[seed as u8 ^ 0x55; 32]);
        let options = PrekeyOptions { one_time_prekeys: 2, kem_one_time_prekeys: 2, post_quantum: pq };
        let store = PrekeyStore::generate_with_options(&bob_id, options, 1).unwrap();
        let a = Session::initiate_with_options(
            &alice_id,
            bob_id.public(),
            &store.bundle(),
            SessionOptions { header_encryption: he },
        )
        .unwrap();
        Self {
            alice_id,
            bob_id,
            store,
            a,
            b: None,
            to_b: Vec::new(),
            to_a: Vec::new(),
            delivered_to_b: Vec::new(),
            delivered_to_a: Vec::new(),
            seen: HashSet::new(),
            counter: 0,
            replays: 0,
            reopens: 0,
            max_skipped: 0,
        }
    }

    fn plaintext(&mut self, rng: &mut Rng) -> Vec<u8> {
        self.counter += 1;
        let mut p = self.counter.to_be_bytes().to_vec();
        p.resize(8 + rng.below(80), 0x5a);
        p
    }

    fn send_a(&mut self, rng: &mut Rng) {
        let p = self.plaintext(rng);
        let m = self.a.encrypt(&p).unwrap();
        self.to_b.push((m, p));
    }

    fn send_b(&mut self, rng: &mut Rng) {
        if self.b.is_none() {
            return;
        }
        let p = self.plaintext(rng);
        let m = self.b.as_mut().unwrap().encrypt(&p).unwrap();
        self.to_a.push((m, p));
    }

    fn deliver_to_b(&mut self, i: usize) {
        let (m, p) = self.to_b.swap_remove(i);
        let got = match self.b.as_mut() {
            Some(b) => b.decrypt(&m).unwrap(),
            None => {
                let (b, got) = Session::accept(&self.bob_id, &mut self.store, &m).unwrap();
                assert_eq!(b.peer_identity(), self.alice_id.public());
                assert_eq!(b.session_id(), self.a.session_id());
                self.b = Some(b);
                got
            }
        };
        assert_eq!(got, p);
        assert!(self.seen.insert(p), "decrypted twice");
        self.delivered_to_b.push(m);
    }

    fn deliver_to_a(&mut self, i: usize) {
        let (m, p) = self.to_a.swap_remove(i);
        assert_eq!(self.a.decrypt(&m).unwrap(), p);
        assert!(self.seen.insert(p), "decrypted twice");
        self.delivered_to_a.push(m);
    }

    /// Re-deliver an already delivered message: rejected, state byte-identical.
    fn replay(&mut self, rng: &mut Rng) {
        let to_a = rng.chance(50);
        let (list, s) = if to_a {
            (&self.delivered_to_a, &mut self.a)
        } else {
            match self.b.as_mut() {
                Some(b) => (&self.delivered_to_b, b),
                None => return,
            }
        };
        if list.is_empty() {
            return;
        }
        let m = list[rng.below(list.len())].clone();
        let before = snap(s);
        let err = s.decrypt(&m).unwrap_err().kind();
        assert!(matches!(err, ErrorKind::Replay | ErrorKind::DecryptionFailed), "{err:?}");
        assert_eq!(snap(s), before, "a replay changed the state");
        self.replays += 1;
    }

    fn step(&mut self, rng: &mut Rng) {
        match rng.below(100) {
            0..=29 if self.to_b.len() < 60 => self.send_a(rng),
            30..=59 if self.to_a.len() < 60 => self.send_b(rng),
            60..=76 if !self.to_b.is_empty() => {
                let i = rng.below(self.to_b.len());
                self.deliver_to_b(i)
            }
            77..=93 if !self.to_a.is_empty() => {
                let i = rng.below(self.to_a.len());
                self.deliver_to_a(i)
            }
            94..=97 => self.replay(rng),
            98 => {
                self.a = reopen(&self.a);
                self.reopens += 1;
            }
            99 => {
                if let Some(b) = &self.b {
                    let r = reopen(b);
                    assert_eq!(snap(&r), snap(b));
                    self.b = Some(r);
                    self.reopens += 1;
                }
            }
            _ => {}
        }
        let skipped = self.a.skipped_message_keys() + self.b.as_ref().map_or(0, |b| b.skipped_message_keys());
        self.max_skipped = self.max_skipped.max(skipped);
    }

    fn drain(&mut self, rng: &mut Rng) {
        while !self.to_b.is_empty() || !self.to_a.is_empty() {
            if !self.to_b.is_empty() && (self.to_a.is_empty() || rng.chance(50)) {
                let i = rng.below(self.to_b.len());
                self.deliver_to_b(i);
            } else {
                let i = rng.below(self.to_a.len());
                self.deliver_to_a(i);
            }
        }
    }
}

const CONFIGS: [(bool, bool); 4] = [(true, true), (true, false), (false, true), (false, false)];

#[test]
fn any_delivery_order_decrypts_every_message_exactly_once() {
    let (mut replays, mut reopens, mut messages) = (0, 0, 0);
    for (pq, he) in CONFIGS {
        for seed in 1..=6u64 {
            let mut rng = Rng(seed * 1000 + u64::from(pq) * 10 + u64::from(he));
            let mut w = World::new(seed, pq, he);
            for _ in 0..600 {
                w.step(&mut rng);
            }
            w.drain(&mut rng);
            assert_eq!(w.seen.len() as u64, w.counter, "pq={pq} he={he} seed={seed}");
            // Everything delivered: every replay is now a duplicate.
            for _ in 0..20 {
                w.replay(&mut rng);
            }
            assert!(w.max_skipped > 10, "schedule never reordered");
            replays += w.replays;
            reopens += w.reopens;
            messages += w.counter;
        }
    }
    assert!(replays > 200 && reopens > 50 && messages > 2000, "{replays} {reopens} {messages}");
}

#[test]
fn one_chain_fully_shuffled() {
    // A single chain of 300 messages delivered in a random permutation.
    for (pq, he) in CONFIGS {
        let mut rng = Rng(77 + u64::from(he));
        let mut w = World::new(9, pq, he);
        w.send_a(&mut rng);
        w.deliver_to_b(0);
        for _ in 0..300 {
            w.send_b(&mut rng);
        }
        while !w.to_a.is_empty() {
            let i = rng.below(w.to_a.len());
            w.deliver_to_a(i);
        }
        assert_eq!(w.a.skipped_message_keys(), 0);
    }
}

#[test]
fn beyond_the_skip_bound_is_rejected_without_state_change() {
    for (pq, he) in CONFIGS {
        let mut rng = Rng(5);
        let mut w = World::new(3, pq, he);
        for _ in 0..200 {
            w.step(&mut rng);
        }
        w.drain(&mut rng);
        // Make sure Bob exists and the chain is current, then a burst of MAX_SKIP + 2.
        w.send_a(&mut rng);
        w.deliver_to_b(0);
        for _ in 0..MAX_SKIP + 2 {
            w.send_b(&mut rng);
        }
        let (last, _) = w.to_a.last().unwrap().clone();
        let before = snap(&w.a);
        let g = w.a.generation();
        assert_eq!(w.a.decrypt(&last).unwrap_err().kind(), ErrorKind::TooManySkippedMessages);
        assert_eq!(snap(&w.a), before);
        assert_eq!(w.a.generation(), g);
        // In order, everything still decrypts.
        while !w.to_a.is_empty() {
            w.deliver_to_a(0);
        }
        assert_eq!(w.seen.len() as u64, w.counter);
    }
}

#[test]
fn stolen_snapshot_stops_working_after_a_ratchet_round_trip() {
    for (pq, he) in CONFIGS {
        for seed in 1..=4u64 {
            let mut rng = Rng(seed.wrapping_mul(31) + u64::from(he));
            let mut w = World::new(seed, pq, he);
            for _ in 0..150 {
                w.step(&mut rng);
            }
            w.drain(&mut rng);
            if w.b.is_none() {
                w.send_a(&mut rng);
                w.deliver_to_b(0);
            }
            // The attacker copies Alice's state and from now on sees every message to Alice.
            let mut thief = Session::open(&w.a.seal(&KEY).unwrap(), &KEY).unwrap();
            let mut thief_read = |m: &[u8]| thief.decrypt(m).ok();
            // Two round trips, delivered in order.
            let mut stolen_after_heal = Vec::new();
            for round in 0..2 {
                w.send_a(&mut rng);
                w.deliver_to_b(0);
                w.send_b(&mut rng);
                let m = w.to_a[0].0.clone();
                let read = thief_read(&m);
                if round == 0 {
                    // Control: before healing, the stolen state reads the next message.
                    assert!(read.is_some(), "pq={pq} he={he} seed={seed}: control failed");
                }
                w.deliver_to_a(0);
                if round == 1 {
                    for _ in 0..3 {
                        w.send_b(&mut rng);
                        stolen_after_heal.push(w.to_a.last().unwrap().0.clone());
                    }
                }
            }
            for m in &stolen_after_heal {
                assert!(thief_read(m).is_none(), "pq={pq} he={he} seed={seed}: thief decrypted a healed message");
            }
            w.drain(&mut rng);
            assert_eq!(w.seen.len() as u64, w.counter);
        }
    }
}
