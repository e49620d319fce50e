//! `sealwire demo`: two agents on the `Agent` facade (docs/AGENT.md), in the order an
//! application meets it — config check, homes, a first-contact handshake, offline messages
//! through a relay, restarts, a stale snapshot refused and recovered from, sealed memory with
//! a key rotation and a rewrap. Every step prints what happened and checks it.
//!
//! What it prints about the agents: at most the first two groups of a fingerprint (to tell
//! them apart), protocol names, counts and sizes — no keys, no mailbox or network addresses.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sealwire::agent::{unix_now, Agent, AgentOptions, ChannelInfo, Delivery, MaintainStep, PeerSpec, Unlock, SESSIONS_FILE};
use sealwire::config::{Format, Report, SecurityConfig, Severity};
use sealwire::envelope::{EncryptionContext, EnvelopeHeader, KeyProvider};
use sealwire::store::{peer_id, Received};
use sealwire::{ErrorKind, PublicIdentity};

use super::{check, code, e, io, kind, step, vault_env, TempDir, VAULT_DEMO_KEY};
use crate::relay::demo::{contains, relay_bodies};
use crate::relay::Embedded;
use crate::CliResult;

const ALICE_PASS: &str = "alice's demo passphrase";
const BOB_PASS: &str = "bob's demo passphrase";

/// What Alice leaves in Bob's mailbox while he is offline (step 4).
const NOTES: [&str; 3] = ["task #42: the quarterly report is in", "can you do the charts by Friday?", "ping me when you are back"];
/// Alice's sealed memory object (steps 8–9).
const MEMORY: &str = "memory #7: report due Friday; Bob owns the charts";
/// The note Alice seals for Bob and herself (step 8).
const SHARED: &str = "shared note: the figures are in the Q3 folder";

/// Run the facade demo in `dir` (kept) or a temporary directory (removed).
pub fn run(dir: Option<PathBuf>) -> CliResult {
    let dir = match dir {
        Some(d) => TempDir::kept(d)?,
        None => TempDir::new()?,
    };
    println!(
        "sealwire {} demo — two agents on the Agent facade, an embedded relay on 127.0.0.1, files only in {}",
        env!("CARGO_PKG_VERSION"),
        if dir.1 { "a temporary directory" } else { "the --dir directory (kept)" }
    );
    println!("(`sealwire demo --layers` shows each layer on its own: Noise patterns, ratchet stores, relay protocol, envelope details)");
    let vault = vault_env();
    match &vault {
        Ok(addr) => println!("KMS: using Vault Transit at {addr} (key {VAULT_DEMO_KEY}, step 10) besides the embedded keyring in each agent's home"),
        Err(unset) => println!("KMS: no Vault configured ({unset} unset): using the embedded keyring in each agent's home"),
    }
    let mut s = Story::new(&dir.0)?;
    s.config()?;
    s.homes()?;
    s.first_contact()?;
    s.offline()?;
    s.bob_restarts()?;
    s.alice_restarts()?;
    s.stale_snapshot()?;
    s.sealed_memory()?;
    s.rotation()?;
    let last = if vault.is_ok() {
        s.vault(10)?;
        11
    } else {
        10
    };
    s.finish(last)?;
    println!(
        "\ndemo complete: config checked, two agent homes opened, first contact over Noise XXhfs and reconnect over IKhfs, \
         offline messages through the relay delivered exactly once across restarts, a stale session-store snapshot refused \
         (STALE_STATE) and recovered from, memory sealed to the keyring{} and to a peer, the key rotated and the memory rewrapped, \
         both agents reading what was sealed for them",
        if vault.is_ok() { " and to Vault Transit" } else { "" }
    );
    Ok(())
}

/// The state the steps share.
struct Story {
    root: PathBuf,
    alice_home: PathBuf,
    bob_home: PathBuf,
    relay_db: PathBuf,
    config_text: String,
    config: Option<SecurityConfig>,
    relay: Option<Embedded>,
    alice: Option<Agent>,
    bob: Option<Agent>,
    alice_public: Option<PublicIdentity>,
    bob_public: Option<PublicIdentity>,
    /// Alice's memory object as sealed in step 8, and after the rewrap of step 9.
    memory: Vec<u8>,
    rewrapped: Vec<u8>,
    shared: Vec<u8>,
}

fn missing(what: &str) -> String {
    format!("demo: {what} is not open at this step")
}

impl Story {
    fn new(root: &Path) -> CliResult<Self> {
        Ok(Self {
            root: root.to_owned(),
            alice_home: root.join("alice"),
            bob_home: root.join("bob"),
            relay_db: root.join("relay.sqlite"),
            config_text: String::new(),
            config: None,
            relay: None,
            alice: None,
            bob: None,
            alice_public: None,
            bob_public: None,
            memory: Vec::new(),
            rewrapped: Vec::new(),
            shared: Vec::new(),
        })
    }

    fn cfg(&self) -> CliResult<&SecurityConfig> {
        self.config.as_ref().ok_or_else(|| missing("the configuration"))
    }

    fn options(&self) -> CliResult<AgentOptions> {
        let url = self.relay.as_ref().map(|r| r.url.clone()).ok_or_else(|| missing("the relay"))?;
        Ok(AgentOptions { relay_url: Some(url), relay_poll_interval: Duration::from_millis(100), ..AgentOptions::default() })
    }

    fn open(&self, home: &Path, pass: &str) -> Result<Agent, sealwire::Error> {
        let options = self.options().map_err(|_| sealwire::Error::InvalidParameter("demo: no relay"))?;
        let config = self.cfg().map_err(|_| sealwire::Error::InvalidParameter("demo: no configuration"))?;
        Agent::open(home, config, Unlock::passphrase(pass), options)
    }

    fn alice(&mut self) -> CliResult<&mut Agent> {
        self.alice.as_mut().ok_or_else(|| missing("Alice's agent"))
    }

    fn bob(&mut self) -> CliResult<&mut Agent> {
        self.bob.as_mut().ok_or_else(|| missing("Bob's agent"))
    }

    fn alice_public(&self) -> CliResult<PublicIdentity> {
        self.alice_public.clone().ok_or_else(|| missing("Alice's identity"))
    }

    fn bob_public(&self) -> CliResult<PublicIdentity> {
        self.bob_public.clone().ok_or_else(|| missing("Bob's identity"))
    }

    // ------------------------------------------------------------------ 1

    fn config(&mut self) -> CliResult {
        step(1, "The security config: `sealwire config init` writes the recommended one, `sealwire config check` reviews it");
        let default = SecurityConfig::check(SecurityConfig::DEFAULT_TOML, Format::Toml);
        show("recommended (config init)", &default);
        check("the recommended config is accepted with no findings", default.is_ok() && default.findings().is_empty())?;

        println!("    This demo opens agent homes a dozen times, so it lowers Argon2id (identity and keyring passphrases)");
        println!("    from 64 MiB x 3 passes to 19 MiB x 2, the minimum the identity format accepts: milliseconds per open.");
        let weak = demo_config_text(false)?;
        let refused = SecurityConfig::check(&weak, Format::Toml);
        show("demo change without the override", &refused);
        check(
            "refused: the finding (weak-kdf) names the flag that would accept it, overrides.allow_weak_kdf",
            !refused.is_ok() && refused.findings().iter().any(|f| f.is_blocking() && f.allow == Some("allow_weak_kdf")),
        )?;
        let text = demo_config_text(true)?;
        let accepted = SecurityConfig::check(&text, Format::Toml);
        show("demo config, allow_weak_kdf = true", &accepted);
        check(
            "accepted, with that one override listed as in force (fine for a demo, never for a real passphrase)",
            accepted.is_ok()
                && accepted.findings().len() == 1
                && accepted.findings()[0].severity == Severity::Allowed
                && accepted.findings()[0].allow == Some("allow_weak_kdf"),
        )?;
        std::fs::write(self.root.join("demo.toml"), &text).map_err(io)?;
        println!("    (written to demo.toml in the demo directory: `sealwire config check demo.toml` prints the same)");
        self.config = Some(SecurityConfig::load(&text, Format::Toml).map_err(|x| x.to_string())?);
        self.config_text = text;
        Ok(())
    }

    // ------------------------------------------------------------------ 2

    fn homes(&mut self) -> CliResult {
        step(2, "A relay starts (embedded, 127.0.0.1); Alice and Bob open their agent homes from that config and publish prekeys");
        self.relay = Some(Embedded::start(&self.relay_db)?);
        println!("    relay: `sealwire relay serve` in-process, SQLite database in the demo directory");
        let alice = self.open(&self.alice_home, ALICE_PASS).map_err(e)?;
        let bob = self.open(&self.bob_home, BOB_PASS).map_err(e)?;
        println!("    alice  fingerprint {}", short(alice.public()));
        println!("    bob    fingerprint {}", short(bob.public()));
        self.alice_public = Some(alice.public().clone());
        self.bob_public = Some(bob.public().clone());
        self.alice = Some(alice);
        self.bob = Some(bob);
        let files = list(&self.alice_home)?;
        println!("    alice's home: {}", files.join(", "));
        check(
            "each home holds an identity (Argon2id under the passphrase), a keyring, a sealed session store and a sealed state file",
            [sealwire::agent::IDENTITY_FILE, sealwire::agent::KEYRING_FILE, SESSIONS_FILE, sealwire::agent::STATE_FILE]
                .iter()
                .all(|f| files.iter().any(|x| x == f))
                && list(&self.bob_home)?.len() == files.len(),
        )?;
        let now = unix_now();
        let ra = self.alice()?.maintain(now).map_err(e)?;
        let rb = self.bob()?.maintain(now).map_err(e)?;
        if let Some(st) = rb.prekey_status.as_ref() {
            println!(
                "    maintain(): Bob's bundle on the relay has {} one-time X25519 + {} one-time ML-KEM-768 prekeys",
                st.one_time, st.kem_one_time
            );
        }
        check(
            "maintain() published both bundles (post-quantum); a second run publishes nothing",
            ra.published
                && rb.published
                && rb.prekey_status.as_ref().is_some_and(|s| s.post_quantum && s.one_time > 0)
                && !self.alice()?.maintain(now).map_err(e)?.published,
        )
    }

    // ------------------------------------------------------------------ 3

    fn first_contact(&mut self) -> CliResult {
        step(3, "First contact, both online: Bob listens, Alice dials; Noise XXhfs authenticates both identities inside the handshake");
        let bob_public = self.bob_public()?;
        let alice_public = self.alice_public()?;
        let addr = self.bob()?.listen("127.0.0.1:0").map_err(e)?;
        let (dialled, answered) = self.meet(PeerSpec::at(addr.to_string()))?;
        println!("    handshake: {}", dialled.protocol);
        println!("    Bob's agent authenticated the caller: fingerprint {}", short(&answered.peer));
        check(
            "first contact ran XXhfs (X25519 + ML-KEM-768); each side got the other's verified identity",
            dialled.protocol.starts_with("Noise_XXhfs_") && dialled.peer == bob_public && answered.peer == alice_public,
        )?;
        let sent = self.alice()?.send(&bob_public, b"hello Bob, shall we split the report?").map_err(e)?;
        let got = receive_n(self.bob()?, 1)?;
        print_got("bob", &got, false);
        check(
            "sent live (a Double Ratchet message over the channel), received once by Bob's agent",
            sent.delivery == Delivery::Live && texts(&got) == ["hello Bob, shall we split the report?"] && got[0].peer == peer_id(&alice_public),
        )?;
        let id = got[0].id;
        self.bob()?.ack(id).map_err(e)?;
        let alice = self.alice()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while alice.pending_outbox_len().map_err(e)? > 0 && Instant::now() < deadline {
            alice.receive(Duration::from_millis(50)).map_err(e)?;
        }
        check("Bob's agent acknowledged it: Alice's outbox is empty", alice.pending_outbox_len().map_err(e)? == 0)
    }

    /// Bob answers one connection on his listener while Alice dials `spec`.
    fn meet(&mut self, spec: PeerSpec) -> CliResult<(ChannelInfo, ChannelInfo)> {
        let mut bob = self.bob.take().ok_or_else(|| missing("Bob's agent"))?;
        let responder = std::thread::spawn(move || {
            let r = bob.accept_incoming(Duration::from_secs(10));
            (bob, r)
        });
        let dialled = self.alice()?.connect(&spec);
        let (bob, answered) = responder.join().map_err(|_| "demo: Bob's thread panicked".to_owned())?;
        self.bob = Some(bob);
        let dialled = dialled.map_err(e)?;
        let answered = answered.map_err(e)?.ok_or("demo: Bob's agent saw no connection")?;
        Ok((dialled, answered))
    }

    // ------------------------------------------------------------------ 4

    fn offline(&mut self) -> CliResult {
        step(4, "Bob goes offline (his nightly backup copies his session store now); Alice writes three messages anyway: they go to his relay mailbox");
        let bob_public = self.bob_public()?;
        let alice_public = self.alice_public()?;
        self.alice()?.disconnect(&peer_id(&bob_public));
        self.bob.take().ok_or_else(|| missing("Bob's agent"))?.close().map_err(e)?;
        let backup = self.root.join("bob-backup");
        copy_sessions(&self.bob_home, &backup)?;
        let alice = self.alice()?;
        let mut deliveries = Vec::new();
        for n in NOTES {
            deliveries.push(alice.send(&bob_public, n.as_bytes()).map_err(e)?.delivery);
        }
        println!("    deliveries: {}", deliveries.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", "));
        check(
            "each send committed the message, then deposited it on the relay: Alice's outbox is empty",
            deliveries.iter().all(|d| *d == Delivery::Relay) && alice.pending_outbox_len().map_err(e)? == 0,
        )?;
        let bodies = relay_bodies(&self.relay_db)?;
        println!("    the relay holds {} messages of {} bytes", bodies.len(), join(bodies.iter().map(|b| b.len())));
        check(
            "the relay holds three sealed messages: no plaintext, and not the sender's identity",
            bodies.len() == NOTES.len()
                && bodies.iter().all(|b| !NOTES.iter().any(|n| contains(b, n.as_bytes())) && !contains(b, alice_public.ed25519_bytes())),
        )
    }

    // ------------------------------------------------------------------ 5

    fn bob_restarts(&mut self) -> CliResult {
        step(5, "Bob restarts (home + passphrase): the three messages arrive in order; he crashes after handling two, before acknowledging the third");
        let alice_id = peer_id(&self.alice_public()?);
        let mut bob = self.open(&self.bob_home, BOB_PASS).map_err(e)?;
        let got = receive_n(&mut bob, NOTES.len())?;
        print_got("bob", &got, false);
        check("three messages, in the order Alice wrote them, from Alice", texts(&got) == NOTES && got.iter().all(|r| r.peer == alice_id))?;
        check(
            "the relay deleted them once Bob's store had committed them",
            relay_bodies(&self.relay_db)?.is_empty(),
        )?;
        for r in &got[..2] {
            bob.ack(r.id).map_err(e)?;
        }
        drop(bob); // the crash: no close, the third message handled but not acknowledged
        println!("    (Bob's process dies here)");
        let mut bob = self.open(&self.bob_home, BOB_PASS).map_err(e)?;
        let again = bob.receive(Duration::from_millis(300)).map_err(e)?;
        print_got("bob", &again, true);
        check(
            "after the restart only the unacknowledged message comes back, with the same inbox id: the application deduplicates by id",
            again.len() == 1 && again[0].id == got[2].id && again[0].plaintext == got[2].plaintext,
        )?;
        bob.ack(again[0].id).map_err(e)?;
        let more = bob.receive(Duration::from_millis(300)).map_err(e)?;
        let count = bob.received_count(&alice_id).map_err(e)?;
        check(
            "nothing else arrives; Bob's store counts 4 messages from Alice, ever (1 live + 3 offline): each exactly once",
            more.is_empty() && count == 4,
        )?;
        self.bob = Some(bob);
        Ok(())
    }

    // ------------------------------------------------------------------ 6

    fn alice_restarts(&mut self) -> CliResult {
        step(6, "Alice restarts too; her peer table remembers Bob, so the reconnect runs Noise IKhfs (one round trip); Bob replies live");
        let bob_public = self.bob_public()?;
        self.alice.take().ok_or_else(|| missing("Alice's agent"))?.close().map_err(e)?;
        let alice = self.open(&self.alice_home, ALICE_PASS).map_err(e)?;
        let known = alice.peers().iter().find(|p| p.identity == bob_public).map(|p| p.identity.clone());
        self.alice = Some(alice);
        let known = known.ok_or("demo: Alice's peer table lost Bob")?;
        check("Alice's reopened home still knows Bob's identity (sealed state file)", known == bob_public)?;
        let addr = self.bob()?.listen("127.0.0.1:0").map_err(e)?;
        let (dialled, _) = self.meet(PeerSpec::known_at(known, addr.to_string()))?;
        println!("    handshake: {}", dialled.protocol);
        check("the reconnect ran IKhfs", dialled.protocol.starts_with("Noise_IKhfs_") && dialled.peer == bob_public)?;
        let alice_public = self.alice_public()?;
        let sent = self.bob()?.send(&alice_public, b"back now: charts on Thursday").map_err(e)?;
        let got = receive_n(self.alice()?, 1)?;
        print_got("alice", &got, false);
        check(
            "Bob's reply travels live and reaches Alice once: the ratchet session survived both restarts",
            sent.delivery == Delivery::Live && texts(&got) == ["back now: charts on Thursday"],
        )?;
        let id = got[0].id;
        self.alice()?.ack(id).map_err(e)?;
        self.alice()?.disconnect(&peer_id(&bob_public));
        self.bob.take().ok_or_else(|| missing("Bob's agent"))?.close().map_err(e)?;
        Ok(())
    }

    // ------------------------------------------------------------------ 7

    fn stale_snapshot(&mut self) -> CliResult {
        step(7, "A stale snapshot: Bob's backup from step 4 is restored over his session store");
        restore_sessions(&self.root.join("bob-backup"), &self.bob_home)?;
        let res = self.open(&self.bob_home, BOB_PASS);
        if let Err(err) = &res {
            println!("    open: {err}");
        }
        check(
            &format!("Agent::open refuses it ({}): the state file's anchor is newer, so old ratchet keys are never reused", code(&res)),
            kind(&res) == Some(ErrorKind::StaleState),
        )?;
        drop(res);
        let (options, config) = (self.options()?, self.cfg()?.clone());
        let (mut bob, peers) = Agent::recover(&self.bob_home, &config, Unlock::passphrase(BOB_PASS), options).map_err(e)?;
        let alice_public = self.alice_public()?;
        let set_aside = list(&self.bob_home)?.iter().filter(|f| f.starts_with("stale-sessions-")).count();
        println!("    Agent::recover: the restored store set aside, a new one with new prekeys; {} peer(s) to re-contact", peers.len());
        check(
            "recover keeps the identity, sets the stale store aside and names Alice as the peer to re-contact",
            peers == [peer_id(&alice_public)] && set_aside == 1 && bob.public() == &self.bob_public()?,
        )?;
        let r = bob.maintain(unix_now()).map_err(e)?;
        check("maintain() publishes the new prekeys (replacing the old ones on the relay)", r.published)?;
        let sent = bob.send(&alice_public, b"I restored an old backup: new session").map_err(e)?;
        self.bob = Some(bob);
        let got = receive_n(self.alice()?, 1)?;
        print_got("alice", &got, false);
        check(
            "Bob's next message starts a new session through the relay; Alice takes it as current",
            sent.delivery == Delivery::Relay && texts(&got) == ["I restored an old backup: new session"],
        )?;
        let id = got[0].id;
        self.alice()?.ack(id).map_err(e)?;
        let bob_public = self.bob_public()?;
        self.alice()?.send(&bob_public, b"got it, carrying on").map_err(e)?;
        let got = receive_n(self.bob()?, 1)?;
        print_got("bob", &got, false);
        check("Alice's reply reaches Bob on the new session", texts(&got) == ["got it, carrying on"])?;
        let id = got[0].id;
        self.bob()?.ack(id).map_err(e)
    }

    // ------------------------------------------------------------------ 8

    fn sealed_memory(&mut self) -> CliResult {
        step(8, "Sealed memory: Alice seals a memory object under her home's keyring (the KEK), and a note to Bob's public identity");
        let ctx = memory_context()?;
        let bob_public = self.bob_public()?;
        let alice = self.alice.as_ref().ok_or_else(|| missing("Alice's agent"))?;
        let alice_public = alice.public().clone();
        let sealed = alice.seal(MEMORY.as_bytes(), &ctx).map_err(e)?;
        let wrapped = entries(&sealed)?;
        println!("    memory object: {} bytes; its data key wrapped by {}", sealed.len(), describe(&wrapped));
        check(
            "one data key, wrapped by the keyring KEK in Alice's home (key \"agent\", version 1)",
            wrapped == [("keyring".to_owned(), "agent".to_owned(), 1)],
        )?;
        check("Alice's agent opens it", alice.open_sealed(&sealed, &ctx).map_err(e)? == MEMORY.as_bytes())?;
        let other = EncryptionContext::from_pairs([("agent", "alice"), ("kind", "memory"), ("object", "notes/8")]).map_err(e)?;
        let res = alice.open_sealed(&sealed, &other);
        check(&format!("under another context it is refused ({})", code(&res)), kind(&res) == Some(ErrorKind::ContextMismatch))?;
        let res = self.bob.as_ref().ok_or_else(|| missing("Bob's agent"))?.open_sealed(&sealed, &ctx);
        // Both keyrings name their key "agent" (KEK_ID): Bob's is tried and fails to unwrap.
        check(&format!("Bob's agent cannot open Alice's memory ({}): his keyring holds other keys", code(&res)), res.is_err())?;

        let note_ctx = shared_context()?;
        let shared = alice.seal_for(&[&bob_public, &alice_public], SHARED.as_bytes(), &note_ctx).map_err(e)?;
        let note_entries = entries(&shared)?;
        println!("    shared note: {} bytes; its data key wrapped {} times (HPKE, one entry per recipient identity)", shared.len(), note_entries.len());
        check(
            "seal_for wraps the note's data key to Bob's and Alice's public identities (HPKE X25519)",
            note_entries.len() == 2 && note_entries.iter().all(|(p, _, _)| p == "hpke-x25519"),
        )?;
        check(
            "Bob opens the note with his identity; so does Alice",
            self.bob.as_ref().ok_or_else(|| missing("Bob's agent"))?.open_sealed(&shared, &note_ctx).map_err(e)? == SHARED.as_bytes()
                && alice.open_sealed(&shared, &note_ctx).map_err(e)? == SHARED.as_bytes(),
        )?;
        self.memory = sealed;
        self.shared = shared;
        Ok(())
    }

    // ------------------------------------------------------------------ 9

    fn rotation(&mut self) -> CliResult {
        step(9, "Key rotation: 91 days later maintain rotates the KEK (rotation_days = 90); Alice rewraps her memory to the new version");
        let ctx = memory_context()?;
        let later = unix_now() + 91 * 86_400;
        let alice = self.alice.as_mut().ok_or_else(|| missing("Alice's agent"))?;
        let r = alice.maintain_step(MaintainStep::RotateKek, later).map_err(e)?;
        println!("    maintain_step(rotate-kek): KEK now version {}", r.kek_rotated_to.map(|v| v.to_string()).unwrap_or_else(|| "unchanged".into()));
        let again = alice.maintain_step(MaintainStep::RotateKek, later).map_err(e)?;
        check("version 2 is the KEK now; a second run at the same time changes nothing", r.kek_rotated_to == Some(2) && again.kek_rotated_to.is_none())?;
        check("the object sealed under version 1 still opens (version 1 is kept for the grace period)", alice.open_sealed(&self.memory, &ctx).map_err(e)? == MEMORY.as_bytes())?;
        let moved = alice.rewrap_sealed(&self.memory, &ctx).map_err(e)?;
        let (old_h, new_h) = (header_len(&self.memory)?, header_len(&moved)?);
        check("rewrap_sealed changes only the header: the payload bytes are identical", self.memory[old_h..] == moved[new_h..])?;
        check(
            "the rewrapped object names KEK version 2, and Alice opens it",
            entries(&moved)? == [("keyring".to_owned(), "agent".to_owned(), 2)] && alice.open_sealed(&moved, &ctx).map_err(e)? == MEMORY.as_bytes(),
        )?;
        let note_ctx = shared_context()?;
        check(
            "Bob still opens the note sealed to him (recipient wrapping does not depend on Alice's KEK)",
            self.bob.as_ref().ok_or_else(|| missing("Bob's agent"))?.open_sealed(&self.shared, &note_ctx).map_err(e)? == SHARED.as_bytes(),
        )?;
        self.rewrapped = moved;
        Ok(())
    }

    // ------------------------------------------------------------------ 10 (Vault)

    fn vault(&mut self, n: u32) -> CliResult {
        step(n, "The same with a remote KEK: an agent home whose config says storage.kek.provider = \"vault\" (Vault Transit)");
        let vault = super::vault_demo_key()?;
        let text = self.config_text.replacen("provider = \"keyring\"", &format!("provider = \"vault\"\nuri = \"vault://{VAULT_DEMO_KEY}\""), 1);
        let report = SecurityConfig::check(&text, Format::Toml);
        check("the config with the Vault KEK is accepted (credentials come from the environment, never the file)", report.is_ok())?;
        let config = SecurityConfig::load(&text, Format::Toml).map_err(|x| x.to_string())?;
        let agent = Agent::open(&self.root.join("alice-vault"), &config, Unlock::passphrase(ALICE_PASS), AgentOptions::default()).map_err(e)?;
        let mut agent = agent;
        let ctx = memory_context()?;
        let sealed = agent.seal(MEMORY.as_bytes(), &ctx).map_err(e)?;
        let before = entries(&sealed)?;
        println!("    memory object: its data key wrapped by {}", describe(&before));
        check(
            "one data key, wrapped by Vault Transit (key bound to the object's context); the object opens through Vault",
            before.len() == 1 && before[0].0 == vault.provider_id() && agent.open_sealed(&sealed, &ctx).map_err(e)? == MEMORY.as_bytes(),
        )?;
        let other = EncryptionContext::from_pairs([("agent", "alice"), ("kind", "memory"), ("object", "notes/8")]).map_err(e)?;
        let res = agent.open_sealed(&sealed, &other);
        check(&format!("through Vault too, another context is refused ({})", code(&res)), kind(&res) == Some(ErrorKind::ContextMismatch))?;
        let r = agent.maintain_step(MaintainStep::RotateKek, unix_now() + 91 * 86_400).map_err(e)?;
        check("maintain's rotate-kek leaves a remote key alone: Vault rotates its own keys", r.kek_rotated_to.is_none())?;
        let new_version = vault.rotate().map_err(e)?;
        println!("    the operator rotates the Transit key: version {new_version}");
        let moved = agent.rewrap_sealed(&sealed, &ctx).map_err(e)?;
        let after = entries(&moved)?;
        check(
            "rewrap_sealed moves the object to the new Vault version (server-side rewrap, payload unchanged) and it opens",
            after.len() == 1
                && after[0].2 == new_version
                && sealed[header_len(&sealed)?..] == moved[header_len(&moved)?..]
                && agent.open_sealed(&moved, &ctx).map_err(e)? == MEMORY.as_bytes(),
        )?;
        agent.close().map_err(e)
    }

    // ------------------------------------------------------------------ last

    fn finish(&mut self, n: u32) -> CliResult {
        step(n, "Both agents close; reopening needs the right passphrase; nothing on disk is in clear");
        let bob_public = self.bob_public()?;
        self.alice.take().ok_or_else(|| missing("Alice's agent"))?.close().map_err(e)?;
        self.bob.take().ok_or_else(|| missing("Bob's agent"))?.close().map_err(e)?;
        let wrong = self.open(&self.alice_home, "not alice's passphrase");
        check(&format!("a wrong passphrase is refused ({})", code(&wrong)), kind(&wrong) == Some(ErrorKind::DecryptionFailed))?;
        drop(wrong);
        let alice = self.open(&self.alice_home, ALICE_PASS).map_err(e)?;
        check(
            "reopened with hers: the rewrapped memory opens (the rotated keyring was saved) and Bob is still a known peer",
            alice.open_sealed(&self.rewrapped, &memory_context()?).map_err(e)? == MEMORY.as_bytes()
                && alice.peers().iter().any(|p| p.identity == bob_public),
        )?;
        alice.close().map_err(e)?;
        if let Some(relay) = self.relay.take() {
            relay.stop()?;
        }
        let mut needles: Vec<&[u8]> = NOTES.iter().map(|n| n.as_bytes()).collect();
        needles.extend([MEMORY.as_bytes(), SHARED.as_bytes(), b"back now: charts on Thursday", b"hello Bob, shall we split the report?"]);
        let (files, found) = scan(&self.root, &needles)?;
        check(
            &format!("no file of the demo ({files}: homes, backup, relay database) holds a message, the memory or the note in clear"),
            found.is_empty() && files > 10,
        )
    }
}

// ---------------------------------------------------------------------- helpers

/// The recommended config with the demo's cheaper Argon2id, and the override that accepts it.
fn demo_config_text(allow: bool) -> CliResult<String> {
    let mut text = SecurityConfig::DEFAULT_TOML.to_owned();
    let mut edits = vec![("memory_kib = 65536", "memory_kib = 19456"), ("iterations = 3", "iterations = 2"), ("lanes = 4", "lanes = 1")];
    if allow {
        edits.push(("allow_weak_kdf = false", "allow_weak_kdf = true"));
    }
    for (from, to) in edits {
        if text.matches(from).count() != 1 {
            return Err(format!("demo: the recommended config no longer has exactly one `{from}`"));
        }
        text = text.replacen(from, to, 1);
    }
    Ok(text)
}

/// Print a check report as `sealwire config check` does.
fn show(name: &str, r: &Report) {
    let count = |s: Severity| r.findings().iter().filter(|f| f.severity == s).count();
    println!(
        "    {name}: {} — {} error(s), {} override(s) in force, {} warning(s)",
        if r.is_ok() { "accepted" } else { "refused" },
        count(Severity::Error),
        count(Severity::Allowed),
        count(Severity::Warning)
    );
    for f in r.findings() {
        println!("      {f}");
    }
}

/// The first two groups of a fingerprint: enough to tell the demo's agents apart.
fn short(p: &PublicIdentity) -> String {
    let fp = p.fingerprint();
    format!("{} …", fp.split(' ').take(2).collect::<Vec<_>>().join(" "))
}

/// Receive until `n` messages arrived (10 s at most).
fn receive_n(agent: &mut Agent, n: usize) -> CliResult<Vec<Received>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("demo: {} of {n} messages arrived within 10 s", got.len()));
        }
        got.extend(agent.receive(left.min(Duration::from_secs(2))).map_err(e)?);
    }
    Ok(got)
}

/// One line per message handed to the application: its inbox id and text.
fn print_got(who: &str, got: &[Received], again: bool) {
    for r in got {
        let text = String::from_utf8_lossy(&r.plaintext);
        if again {
            println!("    {who}'s application got #{} again: \"{text}\" (handled before the crash, not acknowledged)", r.id);
        } else {
            println!("    {who}'s application got #{}: \"{text}\"", r.id);
        }
    }
}

fn texts(got: &[Received]) -> Vec<String> {
    got.iter().map(|r| String::from_utf8_lossy(&r.plaintext).into_owned()).collect()
}

fn memory_context() -> CliResult<EncryptionContext> {
    EncryptionContext::from_pairs([("agent", "alice"), ("kind", "memory"), ("object", "notes/7")]).map_err(e)
}

fn shared_context() -> CliResult<EncryptionContext> {
    EncryptionContext::from_pairs([("from", "alice"), ("kind", "shared-note")]).map_err(e)
}

/// (provider, key id, version) of each wrapped key; recipient key ids (hashes of public keys)
/// are not printed.
fn entries(blob: &[u8]) -> CliResult<Vec<(String, String, u32)>> {
    let h = EnvelopeHeader::parse(blob).map_err(e)?;
    Ok(h.wrapped_keys().iter().map(|w| (w.provider().to_owned(), w.key_id().to_owned(), w.key_version())).collect())
}

fn describe(entries: &[(String, String, u32)]) -> String {
    entries
        .iter()
        .map(|(p, k, v)| if p.starts_with("hpke") { p.clone() } else { format!("{p} (key \"{k}\", version {v})") })
        .collect::<Vec<_>>()
        .join(" and ")
}

fn header_len(blob: &[u8]) -> CliResult<usize> {
    Ok(EnvelopeHeader::parse(blob).map_err(e)?.len())
}

fn join(sizes: impl Iterator<Item = usize>) -> String {
    sizes.map(|s| s.to_string()).collect::<Vec<_>>().join(" / ")
}

/// File names in `dir`, sorted.
fn list(dir: &Path) -> CliResult<Vec<String>> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).map_err(io)?.filter_map(|x| x.ok()).map(|x| x.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    Ok(names)
}

/// The session store files of a home (`sessions.sqlite`, `-wal`, `-shm`).
fn session_files(home: &Path) -> CliResult<Vec<String>> {
    Ok(list(home)?.into_iter().filter(|f| f.starts_with(SESSIONS_FILE)).collect())
}

/// Bob's backup: a copy of his session store, taken while his agent is closed.
fn copy_sessions(home: &Path, backup: &Path) -> CliResult {
    std::fs::create_dir_all(backup).map_err(io)?;
    for f in session_files(home)? {
        std::fs::copy(home.join(&f), backup.join(&f)).map_err(io)?;
    }
    Ok(())
}

/// Restore the backup over the home's session store (and nothing else: the state file keeps
/// its newer anchor — the situation the anchor exists to detect).
fn restore_sessions(backup: &Path, home: &Path) -> CliResult {
    for f in session_files(home)? {
        std::fs::remove_file(home.join(f)).map_err(io)?;
    }
    for f in session_files(backup)? {
        std::fs::copy(backup.join(&f), home.join(&f)).map_err(io)?;
    }
    Ok(())
}

/// Every file under `dir` (recursively): how many, and those containing any needle.
fn scan(dir: &Path, needles: &[&[u8]]) -> CliResult<(usize, Vec<PathBuf>)> {
    let (mut count, mut found, mut todo) = (0, Vec::new(), vec![dir.to_owned()]);
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                count += 1;
                let bytes = std::fs::read(&path).map_err(io)?;
                if needles.iter().any(|n| contains(&bytes, n)) {
                    found.push(path);
                }
            }
        }
    }
    Ok((count, found))
}
