//! The shared envelope vectors (tests/vectors/envelope.json), replayed against the core:
//! every envelope opens for each listed opener, its key schedule matches, resealing with the
//! recorded DEK / message id / wrap nonces / HPKE seeds reproduces it byte for byte, the
//! keyring file opens and reproduces, and every invalid envelope fails with its listed code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealwire::envelope::{
    self, key_schedule_for_vectors, wrap_x25519_deterministic_for_vectors, DataKey, EncryptionContext, EnvelopeHeader,
    KeyProvider, Keyring, RootKey, SealOptions, Suite, WrappedKey, XWingKeyPair, XWingPublicKey,
};
use sealwire::Identity;
use serde_json::Value;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/envelope.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    unhex(v).try_into().unwrap()
}

fn context(v: &Value) -> EncryptionContext {
    EncryptionContext::from_pairs(
        v.as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned())),
    )
    .unwrap()
}

/// The vector keyring limited to versions ≤ `upto` of each key (built like the generator).
fn ring(doc: &Value, upto: u32) -> Keyring {
    let k = &doc["keys"]["keyring"];
    let mut r = Keyring::new();
    for key in k["keys"].as_array().unwrap() {
        let id = key["id"].as_str().unwrap();
        for v in key["versions"].as_array().unwrap() {
            let n = v["version"].as_u64().unwrap() as u32;
            if n <= upto {
                r.insert_version_for_vectors(id, n, &arr(&v["material"]), v["created_at"].as_u64().unwrap()).unwrap();
            }
        }
    }
    for key in k["keys"].as_array().unwrap() {
        for v in key["versions"].as_array().unwrap() {
            let n = v["version"].as_u64().unwrap() as u32;
            if let Some(t) = v.get("decrypt_until").and_then(Value::as_u64) {
                if n < upto {
                    r.set_decrypt_until(key["id"].as_str().unwrap(), n, Some(t)).unwrap();
                }
            }
        }
    }
    r.set_default_key(k["default_key"].as_str().unwrap()).unwrap();
    r.set_time(Some(k["open_at"].as_u64().unwrap()));
    r
}

fn x25519(doc: &Value, name: &str) -> Identity {
    let v = doc["keys"]["x25519_recipients"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap();
    let id = Identity::from_secret_bytes(&arr(&v["ed25519_seed"]), &arr(&v["x25519_secret"]));
    assert_eq!(id.public().x25519_bytes().as_slice(), unhex(&v["x25519_public"]));
    assert_eq!(id.key_id(), v["key_id"].as_str().unwrap());
    id
}

fn xwing(doc: &Value, name: &str) -> XWingKeyPair {
    let v = doc["keys"]["xwing_recipients"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap();
    let kp = XWingKeyPair::from_seed(&arr(&v["seed"])).unwrap();
    assert_eq!(kp.public_key().to_bytes(), unhex(&v["public_key"]));
    assert_eq!(&XWingPublicKey::from_bytes(&unhex(&v["public_key"])).unwrap(), kp.public_key());
    assert_eq!(kp.key_id(), v["key_id"].as_str().unwrap());
    kp
}

fn open_as(doc: &Value, opener: &str, sealed: &[u8], ctx: &EncryptionContext, now: Option<u64>) -> sealwire::Result<Vec<u8>> {
    match opener {
        "keyring" => {
            let mut r = ring(doc, u32::MAX);
            if now.is_some() {
                r.set_time(now);
            }
            envelope::open(sealed, ctx, &[&r])
        }
        "bob" | "mallory" => envelope::open(sealed, ctx, &[&x25519(doc, opener)]),
        "carol-xwing" => envelope::open(sealed, ctx, &[&xwing(doc, opener)]),
        other => panic!("unknown opener {other}"),
    }
}

fn suite(name: &str) -> Suite {
    match name {
        "chacha20-poly1305" => Suite::ChaCha20Poly1305,
        "aes-256-gcm" => Suite::Aes256Gcm,
        other => panic!("suite {other}"),
    }
}

#[test]
fn envelopes_open_and_reproduce() {
    let doc = load();
    let cases = doc["envelopes"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let sealed = unhex(&c["sealed"]);
        let ctx = context(&c["context"]);
        let pt = unhex(&c["plaintext"]);
        assert_eq!(ctx.to_bytes(), unhex(&c["context_encoding"]), "{name}");
        for o in c["openers"].as_array().unwrap() {
            assert_eq!(open_as(&doc, o.as_str().unwrap(), &sealed, &ctx, None).unwrap(), pt, "{name} / {o}");
        }
        // Streaming reader agrees.
        let r = ring(&doc, u32::MAX);
        if c["openers"].as_array().unwrap().iter().any(|o| o == "keyring") {
            let mut rd = envelope::EnvelopeReader::new(&sealed[..], &ctx, &[&r]).unwrap();
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut rd, &mut out).unwrap();
            assert_eq!(out, pt, "{name} (stream)");
        }

        let s = suite(c["suite"].as_str().unwrap());
        assert_eq!(u64::from(s.id()), c["suite_id"].as_u64().unwrap());
        let seg = c["segment_size"].as_u64().unwrap() as u32;
        let dek = DataKey::from_bytes(&unhex(&c["dek"])).unwrap();
        let mid: [u8; 32] = arr(&c["message_id"]);
        let ks = key_schedule_for_vectors(&dek, &mid, s, seg, &ctx).unwrap();
        assert_eq!(ks.header_digest.as_slice(), unhex(&c["header_digest"]), "{name}");
        assert_eq!(ks.payload_key.as_slice(), unhex(&c["payload_key"]), "{name}");
        assert_eq!(ks.nonce_prefix.as_slice(), unhex(&c["nonce_prefix"]), "{name}");
        assert_eq!(ks.commitment.as_slice(), unhex(&c["commitment"]), "{name}");
        assert_eq!(ks.header_key.as_slice(), unhex(&c["header_mac_key"]), "{name}");
        assert_eq!(ks.wrap_aad, unhex(&c["wrap_aad"]), "{name}");

        let h = EnvelopeHeader::parse(&sealed).unwrap();
        assert_eq!(h.len() as u64, c["header_len"].as_u64().unwrap());
        assert_eq!(h.message_id(), &mid);
        assert_eq!(h.context(), &ctx);
        for (w, e) in h.wrapped_keys().iter().zip(c["wrapped_keys"].as_array().unwrap()) {
            assert_eq!(w.provider(), e["provider"].as_str().unwrap());
            assert_eq!(w.key_id(), e["key_id"].as_str().unwrap());
            assert_eq!(u64::from(w.key_version()), e["key_version"].as_u64().unwrap());
            assert_eq!(w.wrapped(), unhex(&e["wrapped"]).as_slice());
        }

        // Reseal deterministically: byte-identical.
        let specs = c["wraps"].as_array().unwrap().clone();
        let again = envelope::seal_deterministic_for_vectors(&pt, &ctx, &SealOptions::new(s, seg).unwrap(), &dek, mid, &|w| {
            specs
                .iter()
                .map(|sp| -> sealwire::Result<WrappedKey> {
                    match sp["type"].as_str().unwrap() {
                        "keyring" => ring(&doc, sp["key_version"].as_u64().unwrap() as u32).wrap_deterministic_for_vectors(
                            sp["key_id"].as_str().unwrap(),
                            &dek,
                            w,
                            &arr(&sp["nonce"]),
                        ),
                        "hpke-x25519" => wrap_x25519_deterministic_for_vectors(
                            x25519(&doc, sp["recipient"].as_str().unwrap()).public(),
                            &dek,
                            w,
                            &arr(&sp["hpke_rng_seed"]),
                        ),
                        "hpke-xwing" => xwing(&doc, sp["recipient"].as_str().unwrap()).public_key().wrap_deterministic_for_vectors(
                            &dek,
                            w,
                            &arr(&sp["hpke_rng_seed"]),
                        ),
                        other => panic!("wrap type {other}"),
                    }
                })
                .collect()
        })
        .unwrap();
        assert_eq!(again, sealed, "{name}: reseal differs");
    }
}

#[test]
fn invalid_envelopes_give_the_listed_codes() {
    let doc = load();
    let cases = doc["invalid_envelopes"].as_array().unwrap();
    assert!(cases.len() >= 25);
    for c in cases {
        let sealed = unhex(&c["sealed"]);
        let ctx = context(&c["context"]);
        let now = c.get("now").and_then(Value::as_u64);
        let err = open_as(&doc, c["opener"].as_str().unwrap(), &sealed, &ctx, now).unwrap_err();
        assert_eq!(err.kind().code(), c["error"].as_str().unwrap(), "{}", c["description"]);
        // The streaming reader reports the same code for keyring openers.
        if c["opener"] == "keyring" {
            let mut r = ring(&doc, u32::MAX);
            if now.is_some() {
                r.set_time(now);
            }
            let streamed = envelope::EnvelopeReader::new(&sealed[..], &ctx, &[&r]).and_then(|mut rd| {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut rd, &mut out).map_err(sealwire::Error::from)
            });
            assert_eq!(streamed.unwrap_err().kind().code(), c["error"].as_str().unwrap(), "stream: {}", c["description"]);
        }
    }
}

#[test]
fn keyring_file_opens_and_reproduces() {
    let doc = load();
    let k = &doc["keys"]["keyring"];
    let root = RootKey::from_bytes(&unhex(&k["root_key"])).unwrap();
    let file = unhex(&k["file"]);
    let opened = Keyring::open_with_root_key(&file, &root).unwrap();
    assert_eq!(opened.generation(), k["file_generation"].as_u64().unwrap());
    let mut rebuilt = ring(&doc, u32::MAX);
    for id in ["orders", "payroll"] {
        assert_eq!(opened.versions(id).unwrap(), rebuilt.versions(id).unwrap());
    }
    assert_eq!(opened.default_key(), Some("orders"));
    let again = rebuilt.seal_with_root_key_deterministic_for_vectors(&root, &arr(&k["file_nonce"])).unwrap();
    assert_eq!(again, file);
    // The file's keyring opens the vector envelopes wrapped for it.
    let mut opened = opened;
    opened.set_time(Some(k["open_at"].as_u64().unwrap()));
    let c = &doc["envelopes"][1];
    assert_eq!(envelope::open(&unhex(&c["sealed"]), &context(&c["context"]), &[&opened]).unwrap(), unhex(&c["plaintext"]));
}
