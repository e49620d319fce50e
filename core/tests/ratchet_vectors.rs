//! Replays tests/vectors/ratchet.json through the public API: every recorded random input is
//! fed back through a `ByteTape`, and every output must match byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealwire::deterministic::ByteTape;
use sealwire::ratchet::{kat, PrekeyBundle, PrekeyOptions, PrekeyStore, Session, SessionOptions};
use sealwire::Identity;
use serde_json::Value;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/ratchet.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    unhex(v).try_into().unwrap()
}

fn tape(v: &Value) -> ByteTape {
    ByteTape::new(&unhex(v))
}

fn identity(doc: &Value, name: &str) -> Identity {
    let v = doc["identities"].as_array().unwrap().iter().find(|v| v["name"] == name).unwrap();
    let id = Identity::from_secret_bytes(&arr(&v["ed25519_seed"]), &arr(&v["x25519_secret"]));
    assert_eq!(id.public().to_bytes(), unhex(&v["public_identity"]));
    id
}

#[test]
fn kdf_vectors() {
    let doc = load();
    let k = &doc["kdf"];
    assert_eq!(kat::agreement(false, &unhex(&k["x3dh"]["km"])).to_vec(), unhex(&k["x3dh"]["sk_hka_nhkb"]));
    assert_eq!(kat::agreement(true, &unhex(&k["pqxdh"]["km"])).to_vec(), unhex(&k["pqxdh"]["sk_hka_nhkb"]));
    for (name, he) in [("kdf_rk", false), ("kdf_rk_he", true)] {
        let v = &k[name];
        assert_eq!(kat::kdf_rk(&arr(&v["rk"]), &arr(&v["dh_out"]), he), unhex(&v["output"]));
    }
    let (ck, mk) = kat::kdf_ck(&arr(&k["kdf_ck"]["ck"]));
    assert_eq!((ck.to_vec(), mk.to_vec()), (unhex(&k["kdf_ck"]["next_ck"]), unhex(&k["kdf_ck"]["mk"])));
    let (key, nonce) = kat::message_key(&arr(&k["message_key"]["mk"]));
    assert_eq!((key.to_vec(), nonce.to_vec()), (unhex(&k["message_key"]["key"]), unhex(&k["message_key"]["nonce"])));
    for p in k["padded_len"].as_array().unwrap() {
        let len = p["plaintext_len"].as_u64().unwrap() as usize;
        assert_eq!(kat::padded_len(len) as u64, p["padded_len"].as_u64().unwrap());
    }
}

#[test]
fn session_vectors_replay() {
    let doc = load();
    let alice = identity(&doc, "alice");
    let bob = identity(&doc, "bob");
    let storage_key = unhex(&doc["storage_key"]);
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let o = &case["prekey_options"];
        let options = PrekeyOptions {
            one_time_prekeys: o["one_time_prekeys"].as_u64().unwrap() as u16,
            kem_one_time_prekeys: o["kem_one_time_prekeys"].as_u64().unwrap() as u16,
            post_quantum: o["post_quantum"].as_bool().unwrap(),
        };
        let now = case["now_unix"].as_u64().unwrap();
        let mut t = tape(&case["store_random"]);
        let mut store = PrekeyStore::generate_with_entropy(&bob, options, now, &mut t).unwrap();
        assert_eq!(t.remaining(), 0, "{name}");
        assert_eq!(store.bundle().to_bytes(), unhex(&case["published_bundle"]), "{name}: published bundle");
        let bundle = PrekeyBundle::from_bytes(&unhex(&case["bundle"])).unwrap();
        let opts = SessionOptions { header_encryption: case["header_encryption"].as_bool().unwrap() };
        let mut t = tape(&case["initiate_random"]);
        let mut a = Session::initiate_with_entropy(&alice, bob.public(), &bundle, opts, &mut t).unwrap();
        assert_eq!(t.remaining(), 0, "{name}");
        assert_eq!(format!("{:?}", a.key_agreement()), case["key_agreement"].as_str().unwrap());
        let mut b: Option<Session> = None;

        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let ctx = format!("{name} step {i}");
            let party = step["party"].as_str().unwrap();
            let op = step["op"].as_str().unwrap();
            match op {
                "accept" => {
                    let mut t = tape(&step["random"]);
                    let (s, pt) = Session::accept_with_entropy(&bob, &mut store, &unhex(&step["message"]), &mut t).unwrap();
                    assert_eq!(t.remaining(), 0, "{ctx}");
                    assert_eq!(pt, unhex(&step["plaintext"]), "{ctx}");
                    assert_eq!(s.session_id().to_vec(), unhex(&case["session_id"]), "{ctx}");
                    b = Some(s);
                }
                "accept_error" => {
                    let e = Session::accept(&bob, &mut store, &unhex(&step["message"])).unwrap_err();
                    assert_eq!(e.kind().code(), step["error"].as_str().unwrap(), "{ctx}");
                }
                "seal_store" => {
                    let mut t = tape(&step["random"]);
                    assert_eq!(store.generation(), step["generation"].as_u64().unwrap(), "{ctx}");
                    let blob = store.seal_with_entropy(&storage_key, &mut t).unwrap();
                    assert_eq!(blob, unhex(&step["blob"]), "{ctx}");
                    let back = PrekeyStore::open(&blob, &storage_key).unwrap();
                    assert_eq!(back.bundle(), store.bundle(), "{ctx}");
                }
                _ => {
                    let s = if party == "alice" { &mut a } else { b.as_mut().unwrap() };
                    match op {
                        "encrypt" => {
                            let mut t = tape(&step["random"]);
                            let m = s.encrypt_with_entropy(&unhex(&step["plaintext"]), &mut t).unwrap();
                            assert_eq!(t.remaining(), 0, "{ctx}");
                            assert_eq!(m, unhex(&step["message"]), "{ctx}");
                        }
                        "decrypt" => {
                            let mut t = tape(&step["random"]);
                            let pt = s.decrypt_with_entropy(&unhex(&step["message"]), &mut t).unwrap();
                            assert_eq!(t.remaining(), 0, "{ctx}");
                            assert_eq!(pt, unhex(&step["plaintext"]), "{ctx}");
                        }
                        "decrypt_error" => {
                            // No randomness may be consumed by a rejected message.
                            let mut t = ByteTape::new(&[]);
                            let e = s.decrypt_with_entropy(&unhex(&step["message"]), &mut t).unwrap_err();
                            assert_eq!(e.kind().code(), step["error"].as_str().unwrap(), "{ctx}");
                        }
                        "seal_session" => {
                            let mut t = tape(&step["random"]);
                            assert_eq!(s.generation(), step["generation"].as_u64().unwrap(), "{ctx}");
                            let blob = s.seal_with_entropy(&storage_key, &mut t).unwrap();
                            assert_eq!(blob, unhex(&step["blob"]), "{ctx}");
                            let reopened = Session::open_checked(&blob, &storage_key, s.generation()).unwrap();
                            assert_eq!(reopened.session_id(), s.session_id());
                        }
                        other => panic!("{ctx}: unknown op {other}"),
                    }
                }
            }
        }
    }
}
