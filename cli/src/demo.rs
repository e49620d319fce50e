//! `sealwire demo`: the project's main job on embedded defaults, narrated step by step.
//! Each capability extends it; today it covers identities.

use sealwire::{Identity, KdfParams, PublicIdentity};

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

    println!("\ndemo complete: identities exchanged and verified, signed message checked");
    Ok(())
}
