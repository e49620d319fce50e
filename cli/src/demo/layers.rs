//! `sealwire demo --layers`: each layer on its own, narrated step by step — identities,
//! Noise XX / IK / XXhfs, PQXDH + Double Ratchet sessions over SQLite stores (offline
//! exchange, crash and resend, a stale snapshot refused), the same through an embedded relay,
//! envelope sealing to a keyring and a peer with rotation and rewrap, and Vault Transit when
//! configured. `sealwire demo` tells the same story on the `Agent` facade (demo/agents.rs).

use sealwire::envelope::{self, EncryptionContext, EnvelopeHeader, KeyProvider, Keyring, Rewrap};
use sealwire::noise::{self as noise, Handshake, NoiseBuilder, Transport};
use sealwire::ratchet::PrekeyOptions;
use sealwire::store::{Messenger, PeerId, SessionStore, SqliteStore};
use sealwire::{ErrorKind, Identity, KdfParams, PublicIdentity};

use std::path::{Path, PathBuf};

use super::{check, code, e, io, kind, step, vault_env, TempDir, VAULT_DEMO_KEY};
use crate::CliResult;

/// Run the layer walkthrough, failing (non-zero exit) if any property it shows does not hold.
pub fn run() -> CliResult {
    println!("sealwire {} demo --layers — each layer on its own; two agents, an embedded relay on 127.0.0.1, files only in a temporary directory", env!("CARGO_PKG_VERSION"));

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

    noise_steps(&alice, &bob, &mallory)?;
    async_steps(&alice, &bob)?;

    step(15, "Alice's agent seals a memory object to her local keyring and to Bob's public identity (multi-wrap)");
    let vault_addr = vault_env();
    match &vault_addr {
        Ok(addr) => println!("    using Vault Transit at {addr} (key {VAULT_DEMO_KEY}, step 19)"),
        Err(unset) => println!("    no Vault configured ({unset} unset): using the embedded local keyring"),
    }
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

    step(16, "Alice rotates her keyring: version 2 becomes primary, version 1 is retired");
    let v2 = keyring.rotate("agent-memory", None).map_err(e)?;
    check("version 2 is the primary version", v2 == 2 && keyring.primary_version("agent-memory").map_err(e)? == 2)?;
    check("the object still opens under retired version 1", envelope::open(&sealed, &ctx, &[&keyring]).map_err(e)? == memory)?;

    step(17, "She rewraps the object to version 2: only the header changes, the payload bytes stay as they are");
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

    step(18, "Alice's agent (keyring) and Bob (his identity) both open the rewrapped object");
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

    if vault_addr.is_ok() {
        vault_step(&keyring, &ctx, &other_ctx, memory)?;
    }

    println!("\ndemo complete (layers): identities exchanged and verified, signed message checked, Noise XX / IK / hybrid XXhfs sessions run, asynchronous PQXDH sessions survived restarts and a stale snapshot was refused, memory object sealed, rotated, rewrapped and opened by both agents; `sealwire demo` shows the same composed by the Agent facade");
    Ok(())
}

fn vault_step(keyring: &Keyring, ctx: &EncryptionContext, other_ctx: &EncryptionContext, memory: &[u8]) -> CliResult {
    step(19, "Alice's agent also wraps a memory object for Vault Transit (remote KMS, derived key bound to the object)");
    let ve = |err: sealwire::Error| format!("demo: Vault Transit: {}", crate::errors::core(err));
    let vault = super::vault_demo_key()?;
    let sealed = envelope::seal(memory, ctx, &[keyring, &vault]).map_err(ve)?;
    let header = EnvelopeHeader::parse(&sealed).map_err(e)?;
    for w in header.wrapped_keys() {
        println!("      {:<13}  key id {}  version {}  ({} bytes)", w.provider(), w.key_id(), w.key_version(), w.wrapped().len());
    }
    check(
        "one data key, wrapped for the keyring and for Vault Transit",
        header.wrapped_keys().len() == 2 && header.wrapped_keys()[1].provider() == vault.provider_id(),
    )?;
    check("the object opens through Vault alone", envelope::open(&sealed, ctx, &[&vault]).map_err(ve)? == memory)?;
    let res = envelope::open(&sealed, other_ctx, &[&vault]);
    check(&format!("through Vault too, another context is refused ({})", code(&res)), kind(&res) == Some(ErrorKind::ContextMismatch))?;
    Ok(())
}

/// Run a handshake to the end, passing messages directly; `payloads` gives, per message index,
/// what its writer sends (identity payloads go only where the message is encrypted).
/// Both transports, the payload each message delivered, and each message's size.
type HandshakeRun = (Transport, Transport, Vec<Vec<u8>>, Vec<usize>);

fn run_handshake(mut i: Handshake, mut r: Handshake, payloads: &[&[u8]]) -> Result<HandshakeRun, String> {
    let (mut received, mut sizes) = (Vec::new(), Vec::new());
    for (n, payload) in payloads.iter().enumerate() {
        let (w, rd) = if n % 2 == 0 { (&mut i, &mut r) } else { (&mut r, &mut i) };
        let msg = w.write_message(payload).map_err(e)?;
        sizes.push(msg.len());
        received.push(rd.read_message(&msg).map_err(e)?);
    }
    let hashes_match = i.handshake_hash() == r.handshake_hash();
    if !(i.is_finished() && r.is_finished() && hashes_match) {
        return Err("demo: handshake did not finish with equal handshake hashes".into());
    }
    Ok((i.into_transport().map_err(e)?, r.into_transport().map_err(e)?, received, sizes))
}

fn noise_steps(alice: &Identity, bob: &Identity, mallory: &Identity) -> CliResult {
    let alice_payload = noise::identity_payload(alice);
    let bob_payload = noise::identity_payload(bob);

    step(7, "Both online, first contact: Noise XX; each presents its identity inside the encrypted handshake");
    let xx = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
    let i = NoiseBuilder::new(xx).map_err(e)?.local_identity(alice).build_initiator().map_err(e)?;
    let r = NoiseBuilder::new(xx).map_err(e)?.local_identity(bob).build_responder().map_err(e)?;
    // Message 1 travels in clear, so it carries no identity; 2 and 3 are encrypted.
    let (mut ta, mut tb, got, sizes) = run_handshake(i, r, &[b"", &bob_payload, &alice_payload])?;
    println!("    {xx}: messages of {} bytes", join(&sizes));
    let bob_verified = PublicIdentity::from_bytes(&got[1]).map_err(e)?;
    let alice_verified = PublicIdentity::from_bytes(&got[2]).map_err(e)?;
    check(
        "each side verified the other's identity against the static key proven in the handshake",
        &bob_verified == bob.public()
            && &alice_verified == alice.public()
            && ta.remote_static() == Some(*bob_verified.x25519_bytes())
            && tb.remote_static() == Some(*alice_verified.x25519_bytes()),
    )?;
    let ct = ta.encrypt(b"hello Bob, shall we split the report?").map_err(e)?;
    let back = tb.encrypt(b"yes: you take the text, I take the charts").map_err(e)?;
    check(
        "transport messages decrypt both ways",
        tb.decrypt(&ct).map_err(e)? == b"hello Bob, shall we split the report?" && ta.decrypt(&back).map_err(e)?.starts_with(b"yes"),
    )?;
    let mut tampered = ta.encrypt(b"pay 100").map_err(e)?;
    tampered[0] ^= 1;
    let res = tb.decrypt(&tampered);
    check(&format!("a tampered transport message is refused ({})", code(&res)), res.is_err())?;

    step(8, "Reconnect with IK: Alice already knows Bob's key, so one round trip authenticates both");
    let ik = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
    let to_bob = NoiseBuilder::new(ik).map_err(e)?.local_identity(alice).remote_identity(bob.public());
    let i = to_bob.build_initiator().map_err(e)?;
    let r = NoiseBuilder::new(ik).map_err(e)?.local_identity(bob).build_responder().map_err(e)?;
    let (mut ta, mut tb, _, sizes) = run_handshake(i, r, &[b"", b""])?;
    println!("    {ik}: messages of {} bytes", join(&sizes));
    check("Bob sees Alice's static key", tb.remote_static() == Some(*alice.public().x25519_bytes()))?;
    let ct = ta.encrypt(b"resuming task #42").map_err(e)?;
    check("transport works", tb.decrypt(&ct).map_err(e)? == b"resuming task #42")?;
    let mut i = to_bob.build_initiator().map_err(e)?;
    let mut impostor = NoiseBuilder::new(ik).map_err(e)?.local_identity(mallory).build_responder().map_err(e)?;
    let first = i.write_message(b"").map_err(e)?;
    let res = impostor.read_message(&first);
    check(&format!("Mallory cannot answer a handshake meant for Bob ({})", code(&res)), res.is_err())?;

    step(9, "Post-quantum: hybrid XXhfs, X25519 + ML-KEM-768 (harvest-now-decrypt-later resistant)");
    let hfs = "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";
    let i = NoiseBuilder::new(hfs).map_err(e)?.local_identity(alice).build_initiator().map_err(e)?;
    let r = NoiseBuilder::new(hfs).map_err(e)?.local_identity(bob).build_responder().map_err(e)?;
    let (mut ta, mut tb, got, sizes) = run_handshake(i, r, &[b"", &bob_payload, &alice_payload])?;
    println!("    {hfs}: messages of {} bytes", join(&sizes));
    check(
        "identities verified, ML-KEM-768 key and ciphertext carried in the handshake",
        PublicIdentity::from_bytes(&got[1]).map_err(e)? == *bob.public()
            && PublicIdentity::from_bytes(&got[2]).map_err(e)? == *alice.public()
            && sizes[0] > noise::MLKEM768_PUBLIC_LEN
            && sizes[1] > noise::MLKEM768_CIPHERTEXT_LEN,
    )?;
    let big = vec![0x42u8; 200_000];
    let framed = ta.encrypt_framed(&big).map_err(e)?;
    check("a 200 kB payload crosses as framed Noise messages", tb.decrypt_framed(&framed).map_err(e)? == big)?;
    Ok(())
}

fn join(sizes: &[usize]) -> String {
    sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" / ")
}

type Agent = Messenger<SqliteStore>;

/// What lives outside the agents' processes: their database files, the storage keys (from
/// each agent's key store), the counters each agent keeps outside its database (rollback
/// anchors), and the mailbox that holds ciphertexts while the recipient is offline.
struct World {
    dir: TempDir,
    alice_db: PathBuf,
    bob_db: PathBuf,
    alice_key: [u8; 32],
    bob_key: [u8; 32],
    alice_anchor: u64,
    bob_anchor: u64,
    mailbox: Vec<Vec<u8>>,
}

impl World {
    fn open(db: &Path, key: &[u8; 32], anchor: u64) -> CliResult<Agent> {
        Messenger::open(SqliteStore::open(db).map_err(e)?, key, anchor).map_err(e)
    }
}


fn create_agent(db: &Path, id: &Identity, key: &[u8; 32]) -> CliResult<Agent> {
    let opts = PrekeyOptions { one_time_prekeys: 10, kem_one_time_prekeys: 10, post_quantum: true };
    Messenger::create(SqliteStore::open(db).map_err(e)?, id.duplicate(), key, opts, crate::dates::now()).map_err(e)
}

fn async_steps(alice: &Identity, bob: &Identity) -> CliResult {
    let dir = TempDir::new()?;
    let mut w = World {
        alice_db: dir.0.join("alice.db"),
        bob_db: dir.0.join("bob.db"),
        dir,
        // Demo values; a real agent takes its storage key from its key store (keyring, KMS).
        alice_key: [0xA1; 32],
        bob_key: [0xB0; 32],
        alice_anchor: 0,
        bob_anchor: 0,
        mailbox: Vec::new(),
    };
    let bundle = bob_publishes(&mut w, bob)?;
    let mut a = alice_sends_offline(&mut w, alice, bob, &bundle)?;
    let mut b = bob_reads_and_replies(&mut w, &mut a, alice)?;
    crash_and_resend(&mut w, a, &mut b)?;
    stale_snapshot(&mut w, b)?;
    crate::relay::demo::steps(&w.dir.0, alice, bob)
}

fn bob_publishes(w: &mut World, bob: &Identity) -> CliResult<Vec<u8>> {
    step(10, "Asynchronous sessions: Bob creates his agent home (SQLite, sealed under his storage key) and publishes a prekey bundle");
    let mut b = create_agent(&w.bob_db, bob, &w.bob_key)?;
    let bundle = b.bundle().map_err(e)?;
    let wire = bundle.to_bytes();
    println!("    prekey bundle: {} bytes (signed prekey, 10 one-time X25519 + 10 one-time ML-KEM-768 prekeys)", wire.len());
    check("the bundle is post-quantum (PQXDH: X25519 + ML-KEM-768)", bundle.is_post_quantum())?;
    w.bob_anchor = b.counter();
    drop(b);
    println!("    Bob goes offline (counter {} kept outside his database)", w.bob_anchor);
    // Bob's backup of this moment (WAL checkpointed into the file), used in step 14.
    SqliteStore::open(&w.bob_db).map_err(e)?.checkpoint().map_err(e)?;
    std::fs::copy(&w.bob_db, w.dir.0.join("bob.db.backup")).map_err(io)?;
    Ok(wire)
}

fn alice_sends_offline(w: &mut World, alice: &Identity, bob: &Identity, bundle: &[u8]) -> CliResult<Agent> {
    step(11, "Alice (never online with Bob) connects from the bundle and leaves three messages in his mailbox");
    let mut a = create_agent(&w.alice_db, alice, &w.alice_key)?;
    let bundle = sealwire::ratchet::PrekeyBundle::from_bytes(bundle).map_err(e)?;
    a.connect(bob.public(), &bundle).map_err(e)?;
    let bob_id = sealwire::store::peer_id(bob.public());
    let mut committed_first = true;
    for msg in MESSAGES {
        let out = a.send(&bob_id, msg).map_err(e)?;
        // A second connection to Alice's file sees the record before the bytes leave.
        let on_disk = SqliteStore::open(&w.alice_db).map_err(e)?.pending_outbox().map_err(e)?;
        committed_first &= on_disk.last() == Some(&out);
        w.mailbox.push(out.ciphertext.clone());
        a.mark_sent(out.id).map_err(e)?;
        println!("    plaintext {:>2} bytes -> ciphertext {} bytes", msg.len(), out.ciphertext.len());
    }
    println!("    (plaintexts of up to 31 bytes all pad to 32; until Bob replies, each message also carries the PQXDH keys)");
    w.alice_anchor = a.counter();
    check("each outbox record (exact ciphertext) was on disk before it was handed to the mailbox", committed_first)?;
    check(
        "all three ciphertexts have the same length: padding hides the plaintext lengths",
        w.mailbox.iter().all(|c| c.len() == w.mailbox[0].len()),
    )?;
    check("nothing left in Alice's outbox once marked sent", a.pending_outbox().map_err(e)?.is_empty())?;
    Ok(a)
}

const MESSAGES: [&[u8]; 3] = [b"hi Bob", b"task #42: charts by Friday?", b"ping me when back"];

fn bob_reads_and_replies(w: &mut World, a: &mut Agent, alice: &Identity) -> CliResult<Agent> {
    step(12, "Bob starts from disk (storage key + the counter he kept), reads the mailbox in order, replies");
    let mut b = World::open(&w.bob_db, &w.bob_key, w.bob_anchor)?;
    let alice_id = sealwire::store::peer_id(alice.public());
    let mut got = Vec::new();
    for c in &w.mailbox {
        let r = b.receive(c).map_err(e)?.ok_or("demo: a new message was taken for a duplicate")?;
        got.push(r);
    }
    check(
        "three messages, in order, from Alice (authenticated by the session)",
        got.iter().map(|r| r.plaintext.as_slice()).eq(MESSAGES) && got.iter().all(|r| r.peer == alice_id),
    )?;
    check("Bob's database files hold no plaintext (sealed inbox)", !dir_contains(&w.dir.0, "bob.db", MESSAGES[1])?)?;
    for r in &got {
        b.ack(r.id).map_err(e)?;
    }
    let reply = reply(&mut b, a, &alice_id, b"back now: charts on Thursday")?;
    check("Alice reads Bob's reply", reply == b"back now: charts on Thursday")?;
    let replayed = b.receive(&w.mailbox[1]).map_err(e)?;
    check("a replayed mailbox message is recognised as a duplicate (receive -> None)", replayed.is_none())?;
    w.bob_anchor = b.counter();
    Ok(b)
}

/// `from` sends `text` to `peer`, `to` receives it and acks; returns what `to` read.
fn reply(from: &mut Agent, to: &mut Agent, peer: &PeerId, text: &[u8]) -> CliResult<Vec<u8>> {
    let out = from.send(peer, text).map_err(e)?;
    from.mark_sent(out.id).map_err(e)?;
    let r = to.receive(&out.ciphertext).map_err(e)?.ok_or("demo: a new message was taken for a duplicate")?;
    to.ack(r.id).map_err(e)?;
    Ok(r.plaintext)
}

fn crash_and_resend(w: &mut World, mut a: Agent, b: &mut Agent) -> CliResult {
    step(13, "Alice's process crashes after send() but before the message left; she restarts and resends");
    let bob_id = b.peer_id();
    let lost = a.send(&bob_id, b"draft attached").map_err(e)?;
    w.alice_anchor = a.counter();
    drop(a); // crash: no mark_sent, the bytes never reached the mailbox
    let mut a = World::open(&w.alice_db, &w.alice_key, w.alice_anchor)?;
    let pending = a.pending_outbox().map_err(e)?;
    check(
        "after the restart the outbox holds that message, byte for byte (never re-encrypted)",
        pending.len() == 1 && pending[0].ciphertext == lost.ciphertext,
    )?;
    let first = b.receive(&pending[0].ciphertext).map_err(e)?;
    a.mark_sent(pending[0].id).map_err(e)?;
    // Had the original left just before the crash, its copy would arrive too.
    let second = b.receive(&lost.ciphertext).map_err(e)?;
    check(
        "Bob gets it exactly once (the second copy is a duplicate)",
        first.as_ref().map(|r| r.plaintext.as_slice()) == Some(&b"draft attached"[..]) && second.is_none(),
    )?;
    let alice_id = a.peer_id();
    let back = reply(b, &mut a, &alice_id, b"got the draft")?;
    let on = reply(&mut a, b, &bob_id, b"great, carrying on")?;
    check("the conversation continues both ways", back == b"got the draft" && on == b"great, carrying on")?;
    w.bob_anchor = b.counter();
    Ok(())
}

fn stale_snapshot(w: &mut World, b: Agent) -> CliResult {
    step(14, "A stale snapshot: Bob's backup from step 10 is restored over his database");
    drop(b);
    for ext in ["db-wal", "db-shm"] {
        let _ = std::fs::remove_file(w.bob_db.with_extension(ext));
    }
    std::fs::copy(w.dir.0.join("bob.db.backup"), &w.bob_db).map_err(io)?;
    let res = Messenger::open(SqliteStore::open(&w.bob_db).map_err(e)?, &w.bob_key, w.bob_anchor);
    if let Err(err) = &res {
        println!("    {err}");
    }
    check(
        &format!("opening it with the counter Bob kept is refused ({}): old ratchet keys are never reused", code(&res)),
        kind(&res) == Some(ErrorKind::StaleState),
    )
}

/// Whether any file in `dir` whose name starts with `prefix` contains `needle`.
fn dir_contains(dir: &Path, prefix: &str, needle: &[u8]) -> CliResult<bool> {
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let bytes = std::fs::read(entry.path()).map_err(io)?;
            if bytes.windows(needle.len()).any(|x| x == needle) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
