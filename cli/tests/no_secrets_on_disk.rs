//! No plaintext data key (DEK), key-encryption key (KEK), root key or X-Wing seed is ever
//! written to disk or printed by any command.
//!
//! Every command runs in one temp dir with a known root key; afterwards the secrets are
//! recovered *in the test*: KEKs by decrypting the keyring files as docs/FORMATS.md
//! specifies (cross-checked by unwrapping an entry by hand), DEKs by opening every envelope
//! through core with a recording key provider, the X-Wing seed through core's keyring and
//! envelope APIs. Then every file in the dir, and everything the commands printed, is scanned
//! for each secret — raw (any 32-byte window) and as hex.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::cell::RefCell;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use common::{noise, Ws, PASSPHRASE, ROOT_KEY_ENV};
use hkdf::Hkdf;
use sealwire::envelope::{
    self, DataKey, EnvelopeHeader, KeyProvider, Keyring, RootKey, WrapContext, WrappedKey, XWingKeyPair,
};
use sha2::{Digest, Sha256};

/// Records every data key its inner provider unwraps.
struct Recorder<'a> {
    inner: &'a dyn KeyProvider,
    seen: RefCell<Vec<[u8; 32]>>,
}

impl KeyProvider for Recorder<'_> {
    fn provider_id(&self) -> &str {
        self.inner.provider_id()
    }
    fn key_id(&self) -> String {
        self.inner.key_id()
    }
    fn owns(&self, entry: &WrappedKey) -> bool {
        self.inner.owns(entry)
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> sealwire::Result<WrappedKey> {
        self.inner.wrap(dek, ctx)
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> sealwire::Result<DataKey> {
        let dek = self.inner.unwrap(entry, ctx)?;
        self.seen.borrow_mut().push(*dek.as_bytes());
        Ok(dek)
    }
}

fn root_file_key(root: &[u8; 32]) -> [u8; 32] {
    let mut k = [0u8; 32];
    Hkdf::<Sha256>::new(None, root).expand(b"SEALWIRE\x00keyring-v1\x00root-key", &mut k).unwrap();
    k
}

/// Every (key id, version, KEK) of a root-key-sealed keyring file, decrypted by hand.
fn keyring_keks(file: &[u8], root: &[u8; 32]) -> Vec<(String, u32, [u8; 32])> {
    assert_eq!(&file[..4], b"SWKR");
    assert_eq!(file[13], 0x02, "root-key protection");
    let aad_len = 4 + 1 + 8 + 1 + 1 + 24;
    let cipher = XChaCha20Poly1305::new_from_slice(&root_file_key(root)).unwrap();
    let nonce: [u8; 24] = file[15..39].try_into().unwrap();
    let body = cipher.decrypt((&nonce).into(), Payload { msg: &file[aad_len..], aad: &file[..aad_len] }).unwrap();
    let mut pos = 0usize;
    let mut take = |n: usize| {
        let s = &body[pos..pos + n];
        pos += n;
        s.to_vec()
    };
    let dlen = take(1)[0] as usize;
    take(dlen);
    let count = u16::from_be_bytes(take(2).try_into().unwrap());
    let mut out = Vec::new();
    for _ in 0..count {
        let ilen = take(1)[0] as usize;
        let id = String::from_utf8(take(ilen)).unwrap();
        take(4);
        let vcount = u16::from_be_bytes(take(2).try_into().unwrap());
        for _ in 0..vcount {
            let v = u32::from_be_bytes(take(4).try_into().unwrap());
            take(24);
            out.push((id.clone(), v, take(32).try_into().unwrap()));
        }
    }
    out
}

/// Unwrap a keyring entry by hand (docs/FORMATS.md), to prove the KEKs found above
/// are the real ones.
fn unwrap_by_hand(h: &EnvelopeHeader, entry: &WrappedKey, kek: &[u8; 32]) -> [u8; 32] {
    let mut d = Sha256::new();
    d.update(b"SEALWIRE\x00envelope-v1\x00header\x00");
    d.update([h.suite().id()]);
    d.update(h.segment_size().to_be_bytes());
    d.update(h.message_id());
    d.update(h.context().to_bytes());
    let mut aad = b"SEALWIRE\x00envelope-v1\x00wrap\x00".to_vec();
    aad.extend_from_slice(&d.finalize());
    aad.extend_from_slice(&(entry.key_id().len() as u16).to_be_bytes());
    aad.extend_from_slice(entry.key_id().as_bytes());
    aad.extend_from_slice(&entry.key_version().to_be_bytes());
    let (nonce, ct) = entry.wrapped().split_at(24);
    let nonce: [u8; 24] = nonce.try_into().unwrap();
    let cipher = XChaCha20Poly1305::new_from_slice(kek).unwrap();
    cipher.decrypt((&nonce).into(), Payload { msg: ct, aad: &aad }).unwrap().try_into().unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn contains_secret(hay: &[u8], secret: &[u8; 32]) -> bool {
    let lower = hex(secret);
    let upper = lower.to_uppercase();
    hay.windows(32).any(|w| w == secret) || hay.windows(64).any(|w| w == lower.as_bytes() || w == upper.as_bytes())
}

#[test]
fn no_plaintext_dek_or_kek_is_ever_written() {
    let ws = Ws::new("no-secrets");
    let kr = ws.keyring("kr");
    ws.ok(&["keyring", "add-key", &kr, "second"]);
    let (bob, bob_pub) = ws.identity("bob");
    let xw = ws.p("x.swcx");
    let xw_pub = ws.p("x.pub");
    ws.ok(&["xwing-keygen", "--out", &xw, "--public-out", &xw_pub, "--root-key-env", ROOT_KEY_ENV]);
    std::fs::create_dir_all(ws.path("objs/sub")).unwrap();

    // Seal: keyring only, multi-wrap, a second key, recipients only, through stdin/stdout.
    let sealed = [
        ("objs/a.swev", vec!["--keyring", kr.as_str()], "object=a", noise(150_000, 1)),
        (
            "objs/sub/b.swev",
            vec!["--keyring", kr.as_str(), "--to", bob_pub.as_str(), "--to-xwing", xw_pub.as_str()],
            "object=b",
            noise(64, 2),
        ),
        ("objs/c.swev", vec!["--keyring", kr.as_str(), "--key", "second"], "object=c", noise(70_000, 3)),
        ("objs/d.swev", vec!["--to", bob_pub.as_str()], "object=d", noise(5000, 4)),
    ];
    for (i, (name, keys, ctx, data)) in sealed.iter().enumerate() {
        let input = ws.write(&format!("plain{i}"), data);
        let out = ws.p(name);
        let args = [&["seal", input.as_str(), "-o", &out, "-c", ctx, "--suite", "aes256gcm"][..], &keys[..]].concat();
        ws.ok(&args);
    }
    let o = ws
        .cmd(&["seal", "--keyring", &kr, "-c", "object=e"])
        .stdin(std::fs::File::open(ws.path("plain0")).unwrap())
        .output()
        .unwrap();
    ws.record(&o);
    assert!(o.status.success());
    std::fs::write(ws.path("objs/e.swev"), &o.stdout).unwrap();

    // Rotate, rewrap, retire, list, inspect, open (files and stdout), a failed open.
    ws.ok(&["keyring", "rotate", &kr, "default", "--retire-after", "7"]);
    ws.ok(&["rewrap", &ws.p("objs"), "--keyring", &kr, "--rewrap-to-primary"]);
    ws.ok(&["rewrap", &ws.p("objs/d.swev"), "--identity", &bob, "--keyring", &kr, "--key", "default"]);
    ws.ok(&["keyring", "retire", &kr, "default", "1", "--at", "now"]);
    ws.ok(&["keyring", "list", &kr]);
    ws.ok(&["keyring", "list", &kr, "--json"]);
    for (i, (name, _, ctx, data)) in sealed.iter().enumerate() {
        ws.ok(&["inspect", &ws.p(name), "--json"]);
        ws.ok(&["open", &ws.p(name), "-o", &ws.p(&format!("opened{i}")), "--keyring", &kr, "-c", ctx]);
        assert_eq!(&ws.read(&format!("opened{i}")), data);
    }
    ws.ok(&["open", &ws.p("objs/sub/b.swev"), "-o", &ws.p("opened-b-xw"), "--xwing-key", &xw, "-c", "object=b"]);
    ws.ok(&["open", &ws.p("objs/sub/b.swev"), "--identity", &bob, "-c", "object=b"]);
    ws.fails(
        &["open", &ws.p("objs/a.swev"), "-o", &ws.p("nope"), "--keyring", &kr, "-c", "object=zz"],
        "CONTEXT_MISMATCH",
    );

    // ---- recover the secrets in-test ----
    let mut secrets: Vec<(String, [u8; 32])> =
        vec![("root key".into(), ws.root_key), ("keyring file key".into(), root_file_key(&ws.root_key))];
    let keks = keyring_keks(&ws.read("kr"), &ws.root_key);
    assert_eq!(keks.len(), 3, "default v1, default v2, second v1");
    for (id, v, k) in &keks {
        secrets.push((format!("KEK {id} v{v}"), *k));
    }

    // The X-Wing file: its inner keyring's KEK and the seed (via core's APIs).
    let xf = ws.read("x.swcx");
    let len = u32::from_be_bytes(xf[5..9].try_into().unwrap()) as usize;
    let inner = &xf[9..9 + len];
    for (id, v, k) in keyring_keks(inner, &ws.root_key) {
        secrets.push((format!("X-Wing file KEK {id} v{v}"), k));
    }
    let ring = Keyring::open_with_root_key(inner, &RootKey::from_bytes(&ws.root_key).unwrap()).unwrap();
    let env = &xf[9 + len..];
    let h = EnvelopeHeader::parse(env).unwrap();
    let seed: [u8; 32] = envelope::open(env, h.context(), &[&ring]).unwrap().try_into().unwrap();
    assert_eq!(XWingKeyPair::from_seed(&seed).unwrap().public_key().to_bytes(), ws.read("x.pub"));
    secrets.push(("X-Wing seed".into(), seed));

    // DEKs of every envelope on disk, via core with a recording provider.
    let keyring = Keyring::load_with_root_key(&ws.path("kr"), &RootKey::from_bytes(&ws.root_key).unwrap()).unwrap();
    let bob_id = sealwire::Identity::import(&std::fs::read(&bob).unwrap(), PASSPHRASE.as_bytes()).unwrap();
    let mut n_envelopes = 0;
    for f in ws.all_files() {
        let bytes = std::fs::read(&f).unwrap();
        if !bytes.starts_with(b"SWEV") {
            continue;
        }
        n_envelopes += 1;
        let h = EnvelopeHeader::parse(&bytes).unwrap();
        let rec_kr = Recorder { inner: &keyring, seen: RefCell::new(Vec::new()) };
        let rec_bob = Recorder { inner: &bob_id, seen: RefCell::new(Vec::new()) };
        envelope::open(&bytes, h.context(), &[&rec_kr, &rec_bob]).unwrap();
        let dek = rec_kr.seen.borrow().first().or(rec_bob.seen.borrow().first()).copied().unwrap();
        // Cross-check the hand-decrypted KEKs: unwrapping the keyring entry by hand gives the same DEK.
        for entry in h.wrapped_keys().iter().filter(|e| e.provider() == "keyring") {
            let (_, _, kek) = keks.iter().find(|(id, v, _)| id == entry.key_id() && *v == entry.key_version()).unwrap();
            assert_eq!(unwrap_by_hand(&h, entry, kek), dek, "{}", f.display());
        }
        secrets.push((format!("DEK of {}", f.display()), dek));
    }
    assert_eq!(n_envelopes, 5, "objs/a..e.swev (the X-Wing file starts with SWCX)");

    let deks: Vec<_> = secrets.iter().filter(|(w, _)| w.starts_with("DEK")).map(|(_, d)| *d).collect();
    assert_eq!(deks.len(), 5);
    assert!(deks.iter().enumerate().all(|(i, d)| deks[i + 1..].iter().all(|e| e != d)), "one fresh DEK per object");

    // ---- scan ----
    // The scanner itself finds a secret, raw or as hex, wherever it sits.
    let probe = secrets[0].1;
    assert!(contains_secret(&[&b"abc"[..], &probe[..], b"def"].concat(), &probe));
    assert!(contains_secret(format!("key={}\n", hex(&probe).to_uppercase()).as_bytes(), &probe));
    assert!(!contains_secret(&probe[1..], &probe));
    let files = ws.all_files();
    assert!(files.len() > 15, "{files:?}");
    let transcript = ws.transcript.borrow().clone();
    assert!(!transcript.is_empty());
    for (what, secret) in &secrets {
        assert_ne!(secret, &[0u8; 32], "{what}");
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(!contains_secret(&bytes, secret), "{what} found in {}", f.display());
        }
        assert!(!contains_secret(&transcript, secret), "{what} found in the commands' output");
    }
    assert!(ws.temp_files().is_empty(), "{:?}", ws.temp_files());
}
