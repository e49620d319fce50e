//! Relay benchmark (not a timed test; prints numbers): 1 KiB sealed messages deposited and
//! then fetched + acknowledged through one relay on loopback, and the latency of a bundle
//! claim. SQLite by default; PostgreSQL (+ NATS) with the variables of
//! scripts/relay-services.sh. Reproduce (docs/RELAY.md, "Performance"):
//!
//! ```text
//! cargo test --release -p sealwire-cli --test relay_bench -- --ignored --nocapture
//! eval "$(bash scripts/relay-services.sh start /tmp/relay-svc)"; <same command>; bash scripts/relay-services.sh stop /tmp/relay-svc
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod relay_support;

use std::time::{Duration, Instant};

use sealwire::relay::{deposit_id, MailboxKeys, RelayClient};
use sealwire::Identity;

use relay_support::*;

const MESSAGES: usize = 2000;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_relay() {
    let d = tmpdir("bench");
    let relay = Relay::start(&d, &[]);
    let backend = backend_name();

    // Mailboxes: deposits (anonymous) by `threads` clients, then fetch + ack by the owner.
    for threads in [1usize, 4] {
        let id = Identity::generate().unwrap();
        let keys = MailboxKeys::derive(&id, 0).unwrap();
        let desc = keys.descriptor(&id);
        relay.client().open_mailbox(&keys).unwrap();
        let address = keys.address();
        // Sealing is client work: done before the clock starts.
        let sealed: Vec<(Vec<u8>, [u8; 32])> = (0..MESSAGES)
            .map(|i| {
                let mut m = vec![0u8; 1024];
                m[..8].copy_from_slice(&(i as u64).to_be_bytes());
                (desc.seal(&m).unwrap(), deposit_id(&address, &m))
            })
            .collect();
        let per = MESSAGES / threads;
        let start = Instant::now();
        std::thread::scope(|s| {
            for chunk in sealed.chunks(per) {
                let url = relay.url.clone();
                s.spawn(move || {
                    let c = RelayClient::new(&url).unwrap();
                    for (body, did) in chunk {
                        assert!(c.deposit_sealed(&address, did, body).unwrap());
                    }
                });
            }
        });
        let dep = start.elapsed();
        let c = relay.client();
        let start = Instant::now();
        let mut fetched = 0;
        loop {
            let page = c.list(&keys, 0, 1000).unwrap();
            if page.messages.is_empty() {
                break;
            }
            for e in page.messages {
                let body = c.fetch(&keys, e.seq).unwrap();
                assert_eq!(body.len(), 1024 + 53);
                assert!(c.ack(&keys, e.seq).unwrap());
                fetched += 1;
            }
        }
        let fa = start.elapsed();
        assert_eq!(fetched, MESSAGES);
        // Again, deposited, then fetched and acknowledged in batches of 100 (RelayAgent's way).
        std::thread::scope(|s| {
            for chunk in sealed.chunks(per) {
                let url = relay.url.clone();
                s.spawn(move || {
                    let c = RelayClient::new(&url).unwrap();
                    for (body, did) in chunk {
                        assert!(c.deposit_sealed(&address, did, body).unwrap());
                    }
                });
            }
        });
        let start = Instant::now();
        let mut batched = 0;
        loop {
            let (batch, _) = c.fetch_batch(&keys, 0, 100, 0).unwrap();
            if batch.is_empty() {
                break;
            }
            let seqs: Vec<u64> = batch.iter().map(|(e, _)| e.seq).collect();
            assert_eq!(c.ack_many(&keys, &seqs).unwrap(), seqs.len() as u64);
            batched += batch.len();
        }
        let fb = start.elapsed();
        assert_eq!(batched, MESSAGES);
        println!(
            "[{backend}] {MESSAGES} x 1 KiB: deposits {:.0}/s ({threads} client thread{}), fetch+ack one by one {:.0}/s, in batches of 100 {:.0}/s",
            MESSAGES as f64 / dep.as_secs_f64(),
            if threads == 1 { "" } else { "s" },
            fetched as f64 / fa.as_secs_f64(),
            batched as f64 / fb.as_secs_f64(),
        );
    }

    // Bundle claims: a post-quantum bundle with 100 + 100 one-time prekeys, claimed 200 times
    // (the second hundred get the last-resort ML-KEM key and no one-time X25519 key).
    let (mut alice, _) = memory_agent(&relay, small_options(100, 100));
    alice.publish().unwrap();
    let owner = alice.messenger().peer_id();
    let c = relay.client();
    let mut lat = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        c.claim_bundle(&owner).unwrap();
        lat.push(t.elapsed());
    }
    let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
    println!(
        "[{backend}] bundle claim (HTTP + claim transaction + client-side verification): p50 {:.2} ms, p99 {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}
