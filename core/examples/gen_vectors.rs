//! Regenerates `tests/vectors/identity.json` from fixed seeds.
//!
//! `cargo run --release -p sealwire --example gen_vectors -- tests/vectors`
//!
//! Every value is a deterministic function of the seeds below, so running this again yields
//! the same file; the Rust, C, Python and Node tests all check the committed copy.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::{json, Value};
use sealwire::{Identity, KdfParams, PublicIdentity};

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "tests/vectors".into());
    let seeds: [(&str, [u8; 32], [u8; 32]); 3] = [
        ("alice", [0x11; 32], [0x21; 32]),
        ("bob", core::array::from_fn(|i| i as u8), core::array::from_fn(|i| 0x80 + i as u8)),
        ("carol", [0xfe; 32], [0x01; 32]),
    ];
    let messages: [&[u8]; 3] = [b"", b"hello, agent", &[0u8; 300]];
    let mut identities = Vec::new();
    let mut ids = Vec::new();
    for (name, ed, x) in &seeds {
        let id = Identity::from_secret_bytes(ed, x);
        let p = id.public();
        let sigs: Vec<Value> = messages
            .iter()
            .map(|m| json!({"message": h(m), "signature": h(&id.sign(m).unwrap())}))
            .collect();
        identities.push(json!({
            "name": name,
            "ed25519_seed": h(ed),
            "x25519_secret": h(x),
            "ed25519_public": h(p.ed25519_bytes()),
            "x25519_public": h(p.x25519_bytes()),
            "public_identity": h(&p.to_bytes()),
            "did": p.did(),
            "fingerprint": p.fingerprint(),
            "signatures": sigs,
        }));
        ids.push(id);
    }
    let mut dh = Vec::new();
    for (i, j) in [(0usize, 1usize), (0, 2), (1, 2)] {
        let s = ids[i].diffie_hellman(ids[j].public()).unwrap();
        dh.push(json!({"a": seeds[i].0, "b": seeds[j].0, "shared": h(s.as_bytes())}));
    }

    let params = KdfParams::MINIMUM;
    let blob = ids[0]
        .export_deterministic_for_vectors("correct horse battery staple".as_bytes(), params, &[0x5a; 16], &[0xa5; 24])
        .unwrap();
    let exports = json!([{
        "identity": "alice",
        "passphrase": "correct horse battery staple",
        "memory_kib": params.memory_kib(),
        "iterations": params.iterations(),
        "lanes": params.lanes(),
        "salt": h(&[0x5a; 16]),
        "nonce": h(&[0xa5; 24]),
        "blob": h(&blob),
    }]);

    let good = ids[0].public().to_bytes();
    let other = ids[1].public().to_bytes();
    let mut invalid = Vec::new();
    let mut push = |desc: &str, bytes: Vec<u8>, code: &str| {
        let got = PublicIdentity::from_bytes(&bytes).unwrap_err().kind().code();
        assert_eq!(got, code, "{desc}");
        invalid.push(json!({"description": desc, "bytes": h(&bytes), "error": code}));
    };
    push("empty", vec![], "ERR_SEALWIRE_TRUNCATED");
    push("truncated by one byte", good[..good.len() - 1].to_vec(), "ERR_SEALWIRE_TRUNCATED");
    push("truncated inside the keys", good[..40].to_vec(), "ERR_SEALWIRE_TRUNCATED");
    push("one trailing byte", [good.as_slice(), &[0]].concat(), "ERR_SEALWIRE_TRAILING_BYTES");
    let mut t = good.clone();
    t[0] = b'X';
    push("wrong magic", t, "ERR_SEALWIRE_BAD_MAGIC");
    let mut t = good.clone();
    t[4] = 2;
    push("version 2", t, "ERR_SEALWIRE_UNSUPPORTED_VERSION");
    let mut t = good.clone();
    t[69] = 1;
    push("unknown optional key", t, "ERR_SEALWIRE_UNSUPPORTED_ALGORITHM");
    let mut t = good.clone();
    t[37..69].copy_from_slice(&other[37..69]);
    push("exchange key of another identity", t, "ERR_SEALWIRE_BAD_SIGNATURE");
    let mut t = good.clone();
    t[37..69].copy_from_slice(&[0; 32]);
    push("all-zero (small-order) exchange key", t, "ERR_SEALWIRE_INVALID_PUBLIC_KEY");
    let mut t = good.clone();
    t[37] = 1;
    t[38..69].copy_from_slice(&[0; 31]);
    push("small-order exchange key u=1", t, "ERR_SEALWIRE_INVALID_PUBLIC_KEY");
    let mut t = good.clone();
    t[5..37].copy_from_slice(&[0; 32]);
    t[5] = 1;
    push("small-order (identity point) Ed25519 key", t, "ERR_SEALWIRE_INVALID_PUBLIC_KEY");
    let mut t = good.clone();
    let last = t.len() - 1;
    t[last] ^= 0x40;
    push("flipped signature bit", t, "ERR_SEALWIRE_BAD_SIGNATURE");

    let mut bad_exports = Vec::new();
    let mut pushx = |desc: &str, bytes: Vec<u8>, pass: &str, code: &str| {
        let got = Identity::import(&bytes, pass.as_bytes()).unwrap_err().kind().code();
        assert_eq!(got, code, "{desc}");
        bad_exports.push(json!({"description": desc, "blob": h(&bytes), "passphrase": pass, "error": code}));
    };
    let pass = "correct horse battery staple";
    pushx("wrong passphrase", blob.clone(), "Tr0ub4dor&3", "ERR_SEALWIRE_DECRYPTION_FAILED");
    pushx("truncated", blob[..blob.len() - 1].to_vec(), pass, "ERR_SEALWIRE_TRUNCATED");
    pushx("trailing byte", [blob.as_slice(), &[0]].concat(), pass, "ERR_SEALWIRE_TRAILING_BYTES");
    let mut t = blob.clone();
    t[4] = 2;
    pushx("version 2", t, pass, "ERR_SEALWIRE_UNSUPPORTED_VERSION");
    let mut t = blob.clone();
    t[0] = b'Z';
    pushx("wrong magic", t, pass, "ERR_SEALWIRE_BAD_MAGIC");
    let mut t = blob.clone();
    t[20] ^= 1;
    pushx("salt modified", t, pass, "ERR_SEALWIRE_DECRYPTION_FAILED");
    let mut t = blob.clone();
    let last = t.len() - 1;
    t[last] ^= 1;
    pushx("tag modified", t, pass, "ERR_SEALWIRE_DECRYPTION_FAILED");
    let mut t = blob.clone();
    t[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
    pushx("memory cost out of range", t, pass, "ERR_SEALWIRE_MALFORMED");

    let doc = json!({
        "description": "sealwire identity vectors: fixed secrets -> public identity bytes, did:key, fingerprint, Ed25519 signatures, X25519 agreement, encrypted export; plus invalid encodings with the error code every binding must report.",
        "format_version": 1,
        "generator": "cargo run --release -p sealwire --example gen_vectors -- tests/vectors",
        "identities": identities,
        "dh": dh,
        "exports": exports,
        "invalid_public_identities": invalid,
        "invalid_exports": bad_exports,
    });
    let path = format!("{dir}/identity.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    eprintln!("wrote {path}");
}
