//! The shared identity vectors (tests/vectors/identity.json), checked against the core.
//! The C, Python and Node suites check the same file through their bindings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealwire::{Identity, PublicIdentity};
use serde_json::Value;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/identity.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn identity(v: &Value) -> Identity {
    let ed: [u8; 32] = unhex(&v["ed25519_seed"]).try_into().unwrap();
    let x: [u8; 32] = unhex(&v["x25519_secret"]).try_into().unwrap();
    Identity::from_secret_bytes(&ed, &x)
}

#[test]
fn identities_match_vectors() {
    let doc = load();
    let ids = doc["identities"].as_array().unwrap();
    assert_eq!(ids.len(), 3);
    for v in ids {
        let id = identity(v);
        let p = id.public();
        assert_eq!(p.to_bytes(), unhex(&v["public_identity"]));
        assert_eq!(p.ed25519_bytes().as_slice(), unhex(&v["ed25519_public"]));
        assert_eq!(p.x25519_bytes().as_slice(), unhex(&v["x25519_public"]));
        assert_eq!(p.did(), v["did"].as_str().unwrap());
        assert_eq!(p.fingerprint(), v["fingerprint"].as_str().unwrap());
        let parsed = PublicIdentity::from_bytes(&unhex(&v["public_identity"])).unwrap();
        assert_eq!(&parsed, p);
        for s in v["signatures"].as_array().unwrap() {
            let msg = unhex(&s["message"]);
            let sig = unhex(&s["signature"]);
            assert_eq!(id.sign(&msg).unwrap().as_slice(), sig.as_slice());
            parsed.verify(&msg, &sig).unwrap();
        }
    }
}

#[test]
fn dh_matches_vectors() {
    let doc = load();
    let by_name = |n: &str| {
        identity(doc["identities"].as_array().unwrap().iter().find(|v| v["name"] == n).unwrap())
    };
    for d in doc["dh"].as_array().unwrap() {
        let a = by_name(d["a"].as_str().unwrap());
        let b = by_name(d["b"].as_str().unwrap());
        let shared = unhex(&d["shared"]);
        assert_eq!(a.diffie_hellman(b.public()).unwrap().as_bytes().as_slice(), shared);
        assert_eq!(b.diffie_hellman(a.public()).unwrap().as_bytes().as_slice(), shared);
    }
}

#[test]
fn exports_match_vectors() {
    let doc = load();
    for e in doc["exports"].as_array().unwrap() {
        let owner = doc["identities"].as_array().unwrap().iter().find(|v| v["name"] == e["identity"]).unwrap();
        let id = Identity::import(&unhex(&e["blob"]), e["passphrase"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(id.public().to_bytes(), unhex(&owner["public_identity"]));
        // Re-sealing with the recorded salt and nonce reproduces the blob byte for byte.
        let params = sealwire::KdfParams::new(
            e["memory_kib"].as_u64().unwrap() as u32,
            e["iterations"].as_u64().unwrap() as u32,
            e["lanes"].as_u64().unwrap() as u32,
        )
        .unwrap();
        let salt: [u8; 16] = unhex(&e["salt"]).try_into().unwrap();
        let nonce: [u8; 24] = unhex(&e["nonce"]).try_into().unwrap();
        let again = id
            .export_deterministic_for_vectors(e["passphrase"].as_str().unwrap().as_bytes(), params, &salt, &nonce)
            .unwrap();
        assert_eq!(again, unhex(&e["blob"]));
    }
}

#[test]
fn invalid_inputs_give_the_listed_codes() {
    let doc = load();
    let cases = doc["invalid_public_identities"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let err = PublicIdentity::from_bytes(&unhex(&c["bytes"])).unwrap_err();
        assert_eq!(err.kind().code(), c["error"].as_str().unwrap(), "{}", c["description"]);
    }
    for c in doc["invalid_exports"].as_array().unwrap() {
        let err = Identity::import(&unhex(&c["blob"]), c["passphrase"].as_str().unwrap().as_bytes()).unwrap_err();
        assert_eq!(err.kind().code(), c["error"].as_str().unwrap(), "{}", c["description"]);
    }
}
