//! `sealwire demo`: the project's main job on embedded defaults, narrated step by step.
//! Each capability extends it; today it covers identities and envelope encryption.

use sealwire::envelope::{self, EncryptionContext, EnvelopeHeader, KeyProvider, Keyring, Rewrap};
use sealwire::{ErrorKind, Identity, KdfParams, PublicIdentity};

use crate::CliResult;

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

fn check(what: &str, ok: bool) -> CliResult {
    if ok {
        println!("    ok  {what}");
        Ok(())
    } else {
        Err(format!("demo check failed: {what}"))
    }
}

fn e(err: sealwire::Error) -> String {
    err.to_string()
}

fn kind<T>(r: &Result<T, sealwire::Error>) -> Option<ErrorKind> {
    r.as_ref().err().map(|x| x.kind())
}

fn code<T>(r: &Result<T, sealwire::Error>) -> &'static str {
    r.as_ref().err().map(|x| x.kind().code()).unwrap_or("accepted!")
}

/// Run the demo, failing (non-zero exit) if any property it shows does not hold.
pub fn run() -> CliResult {
    println!("sealwire {} demo — two agents, no network, no files", env!("CARGO_PKG_VERSION"));

    step(1, "Alice and Bob generate identities on-device (Ed25519 + X25519 from OS randomness)");
    let alice = Identity::generate().map_err(e)?;
    let bob = Identity::generate().map_err(e)?;
    println!("    alice  {}", alice.public().did());
    println!("    bob    {}", bob.public().did());

    step(2, "They exchange public identities as bytes and verify the key binding");
    let alice_wire = alice.public().to_bytes();
    let bob_wire = bob.public().to_bytes();
    println!("    public identity: {} bytes each", alice_wire.len());
    let alice_seen_by_bob = PublicIdentity::from_bytes(&alice_wire).map_err(e)?;
    let bob_seen_by_alice = PublicIdentity::from_bytes(&bob_wire).map_err(e)?;
    check("Bob decoded Alice's identity; her X25519 key is signed by her Ed25519 key", &alice_seen_by_bob == alice.public())?;
    check("Alice decoded Bob's identity the same way", &bob_seen_by_alice == bob.public())?;

    step(3, "They compare fingerprints out of band (read aloud, 12 groups of 5 digits)");
    println!("    alice  {}", alice_seen_by_bob.fingerprint());
    println!("    bob    {}", bob_seen_by_alice.fingerprint());
    check("Bob's view of Alice's fingerprint equals Alice's own", alice_seen_by_bob.fingerprint() == alice.public().fingerprint())?;

    step(4, "Alice signs a message; Bob verifies it strictly");
    let msg = b"task #42: summarise the quarterly report";
    let sig = alice.sign(msg).map_err(e)?;
    alice_seen_by_bob.verify(msg, &sig).map_err(e)?;
    check("signature verifies under Alice's identity", true)?;
    let tampered = alice_seen_by_bob.verify(b"task #43: summarise the quarterly report", &sig);
    check(&format!("a tampered message is refused ({})", tampered.as_ref().err().map(|x| x.kind().code()).unwrap_or("accepted!")), tampered.is_err())?;
    let wrong_key = bob_seen_by_alice.verify(msg, &sig);
    check("Bob's key does not verify Alice's signature", wrong_key.is_err())?;

    step(5, "A forged identity (Alice's signing key with Mallory's exchange key) is rejected");
    let mallory = Identity::generate().map_err(e)?;
    let mut forged = alice_wire.clone();
    forged[37..69].copy_from_slice(&mallory.public().to_bytes()[37..69]);
    let res = PublicIdentity::from_bytes(&forged);
    check(&format!("forged binding refused ({})", res.as_ref().err().map(|x| x.kind().code()).unwrap_or("accepted!")), res.is_err())?;

    step(6, "Alice exports her identity under a passphrase (Argon2id + XChaCha20-Poly1305) and restores it");
    let blob = alice.export_with_params(b"demo passphrase", KdfParams::MINIMUM).map_err(e)?;
    println!("    encrypted identity: {} bytes", blob.len());
    let restored = Identity::import(&blob, b"demo passphrase").map_err(e)?;
    check("restored identity has the same public identity", restored.public() == alice.public())?;
    let wrong = Identity::import(&blob, b"not the passphrase");
    check(&format!("wrong passphrase refused ({})", wrong.as_ref().err().map(|x| x.kind().code()).unwrap_or("accepted!")), wrong.is_err())?;

    step(7, "Alice's agent seals a memory object to her local keyring and to Bob's public identity (multi-wrap)");
    let mut keyring = Keyring::new();
    keyring.create_key("agent-memory").map_err(e)?;
    let ctx = EncryptionContext::from_pairs([("agent", "alice"), ("kind", "memory"), ("object", "notes/7")]).map_err(e)?;
    let memory = b"memory #7: the quarterly report is due Friday; Bob owns the charts";
    let sealed = envelope::seal(memory, &ctx, &[&keyring, &bob_seen_by_alice]).map_err(e)?;
    let header = EnvelopeHeader::parse(&sealed).map_err(e)?;
    println!("    envelope: {} bytes ({} header, {} payload)", sealed.len(), header.len(), sealed.len() - header.len());
    for w in header.wrapped_keys() {
        println!("      {:<11}  key id {}  version {}  ({} bytes)", w.provider(), w.key_id(), w.key_version(), w.wrapped().len());
    }
    let entries = header.wrapped_keys();
    check(
        "one data key, wrapped twice: keyring key agent-memory v1 and Bob's X25519 key",
        entries.len() == 2 && entries[0].key_version() == 1 && entries[1].key_id() == bob.public().key_id(),
    )?;
    let other_ctx = EncryptionContext::from_pairs([("agent", "alice"), ("kind", "memory"), ("object", "notes/8")]).map_err(e)?;
    let res = envelope::open(&sealed, &other_ctx, &[&keyring]);
    check(&format!("opening under another context is refused ({})", code(&res)), kind(&res) == Some(ErrorKind::ContextMismatch))?;

    step(8, "Alice rotates her keyring: version 2 becomes primary, version 1 is retired");
    let v2 = keyring.rotate("agent-memory", None).map_err(e)?;
    check("version 2 is the primary version", v2 == 2 && keyring.primary_version("agent-memory").map_err(e)? == 2)?;
    check("the object still opens under retired version 1", envelope::open(&sealed, &ctx, &[&keyring]).map_err(e)? == memory)?;

    step(9, "She rewraps the object to version 2: only the header changes, the payload bytes stay as they are");
    let mut rw = Rewrap::open(&sealed, &ctx, &[&keyring]).map_err(e)?;
    let n = rw.rewrap_with(&keyring).map_err(e)?;
    let rewrapped = rw.apply(&sealed).map_err(e)?;
    let new_header = EnvelopeHeader::parse(&rewrapped).map_err(e)?;
    check("payload bytes identical before and after", sealed[header.len()..] == rewrapped[new_header.len()..])?;
    let w = new_header.wrapped_keys();
    check(
        "the keyring entry now names version 2; Bob's entry is untouched",
        n == 1 && w.len() == 2 && w[0].key_version() == 2 && w[1] == entries[1],
    )?;

    step(10, "Alice's agent (keyring) and Bob (his identity) both open the rewrapped object");
    check("Alice's agent reads the memory object", envelope::open(&rewrapped, &ctx, &[&keyring]).map_err(e)? == memory)?;
    check("Bob reads the same bytes with his identity key", envelope::open(&rewrapped, &ctx, &[&bob]).map_err(e)? == memory)?;
    let res = envelope::open(&rewrapped, &ctx, &[&mallory]);
    check(&format!("Mallory has no entry ({})", code(&res)), kind(&res) == Some(ErrorKind::NoMatchingKey))?;
    keyring.remove_version("agent-memory", 1).map_err(e)?;
    let old = envelope::open(&sealed, &ctx, &[&keyring]);
    check(
        &format!("once version 1 is destroyed the pre-rotation copy is unreadable ({}), the rewrapped one is not", code(&old)),
        kind(&old) == Some(ErrorKind::KeyNotFound) && envelope::open(&rewrapped, &ctx, &[&keyring]).is_ok(),
    )?;

    println!("\ndemo complete: identities exchanged and verified, signed message checked, memory object sealed, rotated, rewrapped and opened by both agents");
    Ok(())
}
