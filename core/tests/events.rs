//! sealwire's own `tracing` events: every event named in `hygiene::EVENTS` is emitted at the
//! point it names, carries only fields of `hygiene::EVENT_FIELDS`, and no value of any event
//! contains an identity, key, fingerprint, DID, key name or exact size (checked in hex, base64,
//! base64url, base58 / multibase and as text).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use sealwire::envelope::{KeyProvider, Keyring};
use sealwire::hygiene::{size_bucket, EVENTS, EVENT_FIELDS};
use sealwire::noise::{identity_payload, NoiseBuilder};
use sealwire::ratchet::{PrekeyStore, Session};
use sealwire::{Identity, PublicIdentity};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

#[derive(Debug, Clone)]
struct Captured {
    name: String,
    target: String,
    fields: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn core::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let m = event.metadata();
        self.0.lock().unwrap().push(Captured { name: m.name().to_owned(), target: m.target().to_owned(), fields });
    }
}

fn encodings(bytes: &[u8]) -> Vec<String> {
    let mut out = vec![
        hex::encode(bytes),
        hex::encode_upper(bytes),
        base64::engine::general_purpose::STANDARD.encode(bytes),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        bs58::encode(bytes).into_string(),
    ];
    // A prefix long enough to identify a key (8 bytes) in any of those encodings.
    if bytes.len() > 8 {
        out.push(hex::encode(&bytes[..8]));
        out.push(bs58::encode(&bytes[..8]).into_string());
    }
    out
}

fn identity_strings(p: &PublicIdentity) -> Vec<String> {
    let mut v = vec![p.did(), p.did()["did:key:".len()..].to_owned(), p.fingerprint(), p.key_id().to_string()];
    v.extend(p.fingerprint().split(' ').map(|g| g.to_owned()).filter(|g| g != "00000"));
    v.extend(encodings(p.ed25519_bytes()));
    v.extend(encodings(p.x25519_bytes()));
    v.extend(encodings(&p.to_bytes()));
    v
}

fn handshake(protocol: &str, alice: &Identity, bob: &Identity, known: bool) -> (sealwire::noise::Transport, sealwire::noise::Transport, Vec<u8>) {
    let mut ib = NoiseBuilder::new(protocol).unwrap().local_identity(alice);
    if known {
        ib = ib.remote_identity(bob.public());
    }
    let mut i = ib.build_initiator().unwrap();
    let mut r = NoiseBuilder::new(protocol).unwrap().local_identity(bob).build_responder().unwrap();
    let mut to_r = true;
    while !(i.is_finished() && r.is_finished()) {
        let (w, rd) = if to_r { (&mut i, &mut r) } else { (&mut r, &mut i) };
        let payload = if w.is_initiator() { identity_payload(alice) } else { identity_payload(bob) };
        let m = w.write_message(&payload).unwrap();
        rd.read_message(&m).unwrap();
        to_r = !to_r;
    }
    let hash = i.handshake_hash().to_vec();
    (i.into_transport().unwrap(), r.into_transport().unwrap(), hash)
}

fn workload(forbidden: &mut Vec<String>, sizes: &mut Vec<usize>) {
    let alice = Identity::generate().unwrap();
    let bob = Identity::generate().unwrap();
    forbidden.extend(identity_strings(alice.public()));
    forbidden.extend(identity_strings(bob.public()));

    // Noise: classical and hybrid handshakes, automatic and manual rekeys.
    for (protocol, known) in [("Noise_IK_25519_ChaChaPoly_BLAKE2s", true), ("Noise_XXhfs_25519+MLKEM768_AESGCM_SHA256", false)] {
        let (mut ti, mut tr, hash) = handshake(protocol, &alice, &bob, known);
        forbidden.extend(encodings(&hash));
        ti.set_rekey_interval(2);
        tr.set_rekey_interval(2);
        for n in 0..5usize {
            let msg = vec![7u8; 1000 + n];
            sizes.push(msg.len());
            assert_eq!(tr.decrypt(&ti.encrypt(&msg).unwrap()).unwrap(), msg);
        }
        ti.rekey_outgoing().unwrap();
        tr.rekey_incoming().unwrap();
        assert_eq!(tr.decrypt(&ti.encrypt(b"after").unwrap()).unwrap(), b"after");
    }
    // A refused handshake message.
    let protocol = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
    let mut i = NoiseBuilder::new(protocol).unwrap().local_identity(&alice).remote_identity(bob.public()).build_initiator().unwrap();
    let mut r = NoiseBuilder::new(protocol).unwrap().local_identity(&bob).build_responder().unwrap();
    let mut m = i.write_message(b"hello").unwrap();
    let last = m.len() - 1;
    m[last] ^= 1;
    sizes.push(m.len());
    assert!(r.read_message(&m).is_err());

    // Ratchet: a tampered message and a replayed initial message.
    let mut store = PrekeyStore::generate(&bob, 1_700_000_000).unwrap();
    let mut a = Session::initiate(&alice, bob.public(), &store.bundle()).unwrap();
    let first = a.encrypt(b"hi bob, this is a secret").unwrap();
    sizes.push(first.len());
    let (mut b, _) = Session::accept(&bob, &mut store, &first).unwrap();
    forbidden.extend(encodings(&b.session_id()));
    assert!(Session::accept(&bob, &mut store, &first).is_err());
    let reply = b.encrypt(b"hello alice").unwrap();
    let mut bad = reply.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    sizes.push(bad.len());
    assert!(a.decrypt(&bad).is_err());
    assert_eq!(a.decrypt(&reply).unwrap(), b"hello alice");

    // Keyring rotation: the key's name never appears.
    let mut ring = Keyring::new();
    let name = "acme-payroll-kek";
    forbidden.push(name.into());
    ring.create_key(name).unwrap();
    assert_eq!(ring.rotate(name, None).unwrap(), 2);

    #[cfg(feature = "relay")]
    relay_failures(forbidden, &bob);
}

/// A relay that is not there (transport error) and one that answers 404 (status error): the
/// events name the operation, never the owner key in the request path.
#[cfg(feature = "relay")]
fn relay_failures(forbidden: &mut Vec<String>, owner: &Identity) {
    use std::io::{Read, Write};
    use sealwire::relay::RelayClient;
    forbidden.extend(encodings(owner.public().ed25519_bytes()));
    // Nothing listens on a port we bound and closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gone = RelayClient::new(&format!("http://{closed}")).unwrap();
    assert!(gone.health().is_err());
    // A relay that answers every request with its `not_found` error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).unwrap();
        let body = br#"{"error":"not_found"}"#;
        let head = format!("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
    });
    let relay = RelayClient::new(&format!("http://{addr}")).unwrap();
    let owner_id = *owner.public().ed25519_bytes();
    assert!(relay.claim_bundle(&owner_id).is_err());
    server.join().unwrap();
}

#[test]
fn events_carry_only_safe_fields() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let mut forbidden = Vec::new();
    let mut sizes = Vec::new();
    tracing::subscriber::with_default(subscriber, || workload(&mut forbidden, &mut sizes));
    let events = capture.0.lock().unwrap().clone();

    let names: BTreeSet<&str> = events.iter().map(|e| e.name.as_str()).collect();
    let expected: BTreeSet<&str> = EVENTS.iter().copied().collect();
    assert_eq!(names, expected, "every event fires, and no other");
    let count = |n: &str| events.iter().filter(|e| e.name == n).count();
    assert_eq!(count("sealwire.noise.handshake_done"), 4); // two handshakes × two sides
    assert_eq!(count("sealwire.noise.handshake_failed"), 1);
    assert_eq!(count("sealwire.ratchet.decrypt_failed"), 2);
    assert_eq!(count("sealwire.envelope.key_rotated"), 1);
    #[cfg(feature = "relay")]
    {
        assert_eq!(count("sealwire.relay.error"), 2);
        let ops: Vec<(String, String)> = events
            .iter()
            .filter(|e| e.name == "sealwire.relay.error")
            .map(|e| {
                let f = |k: &str| e.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                (f("operation"), f("status"))
            })
            .collect();
        assert_eq!(ops, [("health".to_string(), "0".to_string()), ("claim".to_string(), "404".to_string())]);
    }
    // Per handshake and side: 6 messages at interval 2 rekey 3 times, plus one manual rekey.
    assert_eq!(count("sealwire.noise.rekey"), 2 * 2 * (3 + 1));

    let buckets: BTreeSet<&str> =
        [0u64, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 16 << 20, u64::MAX].iter().map(|&n| size_bucket(n)).collect();
    let forbidden: Vec<String> = forbidden.into_iter().filter(|s| s.len() >= 5).collect();
    assert!(forbidden.len() > 60, "{}", forbidden.len());
    for e in &events {
        assert!(e.target.starts_with("sealwire::"), "{e:?}");
        for (k, v) in &e.fields {
            assert!(EVENT_FIELDS.contains(&k.as_str()), "{} carries {k}", e.name);
            for f in &forbidden {
                assert!(!v.contains(f.as_str()), "{}: field {k} = {v} contains {f}", e.name);
            }
            for s in &sizes {
                assert_ne!(v, &s.to_string(), "{}: exact size in {k}", e.name);
            }
            match k.as_str() {
                "size_bucket" => assert!(buckets.contains(v.as_str()), "{v}"),
                "protocol" => assert!(v.starts_with("Noise_") && !v.contains(' '), "{v}"),
                "role" => assert!(v == "initiator" || v == "responder"),
                "error" => assert!(v.starts_with("ERR_SEALWIRE_"), "{v}"),
                "provider" => assert_eq!(v, "keyring"),
                "operation" => assert!(v.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{v}"),
                _ => {}
            }
        }
    }
    let failed = events.iter().find(|e| e.name == "sealwire.ratchet.decrypt_failed").unwrap();
    assert!(failed.fields.iter().any(|(k, v)| k == "error" && v.starts_with("ERR_SEALWIRE_")), "{failed:?}");
}
