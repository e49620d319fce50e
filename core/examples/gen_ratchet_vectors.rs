//! Regenerates `tests/vectors/ratchet.json`: X3DH, PQXDH and Double Ratchet known-answer
//! vectors from fixed identities and recorded randomness.
//!
//! `cargo run --release -p sealwire --example gen_ratchet_vectors -- tests/vectors`
//!
//! Every random input (prekey secrets, ML-KEM seeds and encapsulation messages, ephemeral
//! and ratchet keys, header nonces, sealing nonces) comes from a SHA-256 counter-mode stream
//! over a fixed seed, and is written into the file next to the operation that consumed it, so
//! a replay (core/tests/ratchet_vectors.rs, and any other implementation) feeds exactly the
//! same bytes. Running this again yields the same file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use sealwire::deterministic::RandomSource;
use sealwire::ratchet::{kat, PrekeyBundle, PrekeyOptions, PrekeyStore, Session, SessionOptions};
use sealwire::{Identity, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

/// SHA-256(seed ‖ counter) blocks; remembers what the current operation consumed.
struct Recorder {
    seed: Vec<u8>,
    counter: u64,
    pending: Vec<u8>,
    log: Vec<u8>,
}

impl Recorder {
    fn new(seed: &str) -> Self {
        Self { seed: seed.as_bytes().to_vec(), counter: 0, pending: Vec::new(), log: Vec::new() }
    }
    fn take_log(&mut self) -> String {
        h(&std::mem::take(&mut self.log))
    }
}

impl RandomSource for Recorder {
    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        while self.pending.len() < buf.len() {
            let mut d = Sha256::new();
            d.update(&self.seed);
            d.update(self.counter.to_be_bytes());
            self.counter += 1;
            self.pending.extend_from_slice(&d.finalize());
        }
        let rest = self.pending.split_off(buf.len());
        buf.copy_from_slice(&self.pending);
        self.log.extend_from_slice(&self.pending);
        self.pending = rest;
        Ok(())
    }
}

const STORAGE_KEY: [u8; 32] = [0x5e; 32];
const NOW: u64 = 1_750_000_000;

struct Case {
    name: &'static str,
    post_quantum: bool,
    header_encryption: bool,
    /// Use the bundle as published (first one-time keys) or only the signed prekey
    /// (and the last-resort KEM key).
    one_time: bool,
}

fn run_case(c: &Case, alice: &Identity, bob: &Identity) -> Value {
    let mut rng = Recorder::new(c.name);
    let options = PrekeyOptions { one_time_prekeys: 2, kem_one_time_prekeys: 2, post_quantum: c.post_quantum };
    let mut store = PrekeyStore::generate_with_entropy(bob, options, NOW, &mut rng).unwrap();
    let store_random = rng.take_log();
    let full = store.bundle();
    let bundle = if c.one_time { full.clone() } else { full.select(None, None).unwrap() };
    assert_eq!(PrekeyBundle::from_bytes(&bundle.to_bytes()).unwrap(), bundle);
    let opts = SessionOptions { header_encryption: c.header_encryption };
    let mut a = Session::initiate_with_entropy(alice, bob.public(), &bundle, opts, &mut rng).unwrap();
    let initiate_random = rng.take_log();

    let mut steps = Vec::new();
    let enc = |s: &mut Session, who: &str, pt: &[u8], rng: &mut Recorder, steps: &mut Vec<Value>| {
        let m = s.encrypt_with_entropy(pt, rng).unwrap();
        steps.push(json!({"op": "encrypt", "party": who, "plaintext": h(pt), "random": rng.take_log(), "message": h(&m)}));
        m
    };
    let dec = |s: &mut Session, who: &str, m: &[u8], rng: &mut Recorder, steps: &mut Vec<Value>| {
        let pt = s.decrypt_with_entropy(m, rng).unwrap();
        steps.push(json!({"op": "decrypt", "party": who, "message": h(m), "random": rng.take_log(), "plaintext": h(&pt)}));
    };
    let m0 = enc(&mut a, "alice", b"hello bob", &mut rng, &mut steps);
    let m1 = enc(&mut a, "alice", b"are you there?", &mut rng, &mut steps);
    // Out of order: the second initial message starts the session.
    let (mut b, pt) = Session::accept_with_entropy(bob, &mut store, &m1, &mut rng).unwrap();
    steps.push(json!({"op": "accept", "party": "bob", "message": h(&m1), "random": rng.take_log(), "plaintext": h(&pt)}));
    dec(&mut b, "bob", &m0, &mut rng, &mut steps);
    let b0 = enc(&mut b, "bob", b"hi alice", &mut rng, &mut steps);
    let b1 = enc(&mut b, "bob", &[0u8; 40], &mut rng, &mut steps);
    let b2 = enc(&mut b, "bob", b"", &mut rng, &mut steps);
    dec(&mut a, "alice", &b2, &mut rng, &mut steps);
    dec(&mut a, "alice", &b0, &mut rng, &mut steps);
    let a2 = enc(&mut a, "alice", b"third from alice", &mut rng, &mut steps);
    dec(&mut b, "bob", &a2, &mut rng, &mut steps);
    dec(&mut a, "alice", &b1, &mut rng, &mut steps);
    let b3 = enc(&mut b, "bob", &vec![0xabu8; 300], &mut rng, &mut steps);
    dec(&mut a, "alice", &b3, &mut rng, &mut steps);
    let a3 = enc(&mut a, "alice", b"bye", &mut rng, &mut steps);
    dec(&mut b, "bob", &a3, &mut rng, &mut steps);

    // Rejections, each leaving the session unchanged.
    let err = a.decrypt_with_entropy(&b0, &mut rng).unwrap_err();
    steps.push(json!({"op": "decrypt_error", "party": "alice", "message": h(&b0), "error": err.kind().code()}));
    let err = a.decrypt_with_entropy(&b3, &mut rng).unwrap_err();
    steps.push(json!({"op": "decrypt_error", "party": "alice", "message": h(&b3), "error": err.kind().code()}));
    assert!(rng.take_log().is_empty(), "rejections must not consume randomness");
    let b4 = enc(&mut b, "bob", b"tampered in transit", &mut rng, &mut steps);
    let mut t = b4.clone();
    let last = t.len() - 1;
    t[last] ^= 0x01;
    let err = a.decrypt_with_entropy(&t, &mut rng).unwrap_err();
    steps.push(json!({"op": "decrypt_error", "party": "alice", "message": h(&t), "error": err.kind().code()}));
    assert!(rng.take_log().is_empty(), "rejections must not consume randomness");
    dec(&mut a, "alice", &b4, &mut rng, &mut steps);
    if c.one_time {
        let err = Session::accept_with_entropy(bob, &mut store, &m0, &mut rng).unwrap_err();
        steps.push(json!({"op": "accept_error", "party": "bob", "message": h(&m0), "error": err.kind().code()}));
    }
    assert!(rng.take_log().is_empty(), "rejections must not consume randomness");

    let sealed_alice = a.seal_with_entropy(&STORAGE_KEY, &mut rng).unwrap();
    steps.push(json!({"op": "seal_session", "party": "alice", "random": rng.take_log(), "generation": a.generation(), "blob": h(&sealed_alice)}));
    let sealed_store = store.seal_with_entropy(&STORAGE_KEY, &mut rng).unwrap();
    steps.push(json!({"op": "seal_store", "party": "bob", "random": rng.take_log(), "generation": store.generation(), "blob": h(&sealed_store)}));

    assert_eq!(a.session_id(), b.session_id());
    json!({
        "name": c.name,
        "key_agreement": format!("{:?}", a.key_agreement()),
        "header_encryption": c.header_encryption,
        "one_time_prekeys_used": c.one_time,
        "now_unix": NOW,
        "prekey_options": {"one_time_prekeys": 2, "kem_one_time_prekeys": 2, "post_quantum": c.post_quantum},
        "store_random": store_random,
        "published_bundle": h(&full.to_bytes()),
        "bundle": h(&bundle.to_bytes()),
        "initiate_random": initiate_random,
        "session_id": h(&a.session_id()),
        "steps": steps,
    })
}

fn kdf_vectors() -> Value {
    let km3: Vec<u8> = (0..96u8).collect();
    let km5: Vec<u8> = (0..160u8).map(|i| i.wrapping_mul(7)).collect();
    let rk = [0x11u8; 32];
    let dh = [0x22u8; 32];
    let ck = [0x33u8; 32];
    let (ck2, mk) = kat::kdf_ck(&ck);
    let (k, n) = kat::message_key(&mk);
    let padded: Vec<Value> = [0usize, 1, 31, 32, 33, 100, 1000, 1025, 65536]
        .iter()
        .map(|l| json!({"plaintext_len": l, "padded_len": kat::padded_len(*l)}))
        .collect();
    json!({
        "x3dh": {"km": h(&km3), "sk_hka_nhkb": h(&kat::agreement(false, &km3))},
        "pqxdh": {"km": h(&km5), "sk_hka_nhkb": h(&kat::agreement(true, &km5))},
        "kdf_rk": {"rk": h(&rk), "dh_out": h(&dh), "output": h(&kat::kdf_rk(&rk, &dh, false))},
        "kdf_rk_he": {"rk": h(&rk), "dh_out": h(&dh), "output": h(&kat::kdf_rk(&rk, &dh, true))},
        "kdf_ck": {"ck": h(&ck), "next_ck": h(&ck2), "mk": h(&mk)},
        "message_key": {"mk": h(&mk), "key": h(&k), "nonce": h(&n)},
        "padded_len": padded,
    })
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "tests/vectors".into());
    let people: [(&str, [u8; 32], [u8; 32]); 2] =
        [("alice", [0x11; 32], [0x21; 32]), ("bob", core::array::from_fn(|i| i as u8), core::array::from_fn(|i| 0x80 + i as u8))];
    let alice = Identity::from_secret_bytes(&people[0].1, &people[0].2);
    let bob = Identity::from_secret_bytes(&people[1].1, &people[1].2);
    let identities: Vec<Value> = people
        .iter()
        .zip([&alice, &bob])
        .map(|((name, ed, x), id)| {
            json!({"name": name, "ed25519_seed": h(ed), "x25519_secret": h(x), "public_identity": h(&id.public().to_bytes())})
        })
        .collect();
    let cases = [
        Case { name: "pqxdh-header-encryption", post_quantum: true, header_encryption: true, one_time: true },
        Case { name: "pqxdh-standard", post_quantum: true, header_encryption: false, one_time: true },
        Case { name: "pqxdh-last-resort-header-encryption", post_quantum: true, header_encryption: true, one_time: false },
        Case { name: "x3dh-header-encryption", post_quantum: false, header_encryption: true, one_time: true },
        Case { name: "x3dh-standard-no-one-time-prekey", post_quantum: false, header_encryption: false, one_time: false },
    ];
    let cases: Vec<Value> = cases.iter().map(|c| run_case(c, &alice, &bob)).collect();

    let doc = json!({
        "description": "sealwire ratchet vectors: prekey store generation, bundle, X3DH / PQXDH initiation and acceptance, Double Ratchet messages (standard and header-encrypted, out of order), rejections with their error codes, and sealed state. Every random input is listed as `random` (hex, consumed front to back) next to the operation that used it.",
        "format_version": 1,
        "generator": "cargo run --release -p sealwire --example gen_ratchet_vectors -- tests/vectors",
        "storage_key": h(&STORAGE_KEY),
        "randomness_order": {
            "store": "signed prekey X25519 secret (32), each one-time X25519 secret (32), each one-time ML-KEM seed d||z (64), last-resort ML-KEM seed (64, post-quantum only)",
            "initiate": "ephemeral EK_A secret (32), ML-KEM encapsulation message m (32, PQXDH only), first ratchet key secret (32)",
            "encrypt": "header nonce (24, header encryption only)",
            "decrypt": "new ratchet key secret (32) when the message starts a new receiving chain",
            "accept": "new ratchet key secret (32)",
            "seal": "XChaCha20-Poly1305 nonce (24)",
        },
        "identities": identities,
        "kdf": kdf_vectors(),
        "cases": cases,
    });
    let path = format!("{dir}/ratchet.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    eprintln!("wrote {path}");
}
