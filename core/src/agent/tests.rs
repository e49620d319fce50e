//! Unit tests of the agent without a relay: formats (state file, hello, records), home
//! creation and unlocking, live channels over in-process links (XX then IK, messages with
//! acknowledgements, restart), sealing, and the local maintenance steps. The relay paths
//! are covered by `cli/tests/agent.rs` against a real relay process.

use std::path::PathBuf;
use std::time::Duration;

use super::channel::{decode_hello, encode_hello, Record};
use super::home::{AgentState, KnownPeer};
use super::*;
use crate::config::Format;

const PASS: &[u8] = b"correct horse battery staple";

fn config_with(extra: &str) -> SecurityConfig {
    let text = format!(
        "version = 1\n{extra}\n[identity.kdf]\nmemory_kib = 19456\niterations = 2\nlanes = 1\n\
         [prekeys]\nbatch_size = 10\nkem_batch_size = 10\n[overrides]\nallow_weak_kdf = true\n"
    );
    SecurityConfig::load(&text, Format::Toml).unwrap()
}

fn config() -> SecurityConfig {
    config_with("")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sealwire-agent-unit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(dir: &std::path::Path, config: &SecurityConfig) -> Agent {
    Agent::open(dir, config, Unlock::passphrase(PASS), AgentOptions::default()).unwrap()
}

/// Run `accept` on `responder` in a thread while `initiator` connects over a memory link.
fn link_up(initiator: &mut Agent, responder: Agent, known: Option<&PublicIdentity>) -> (ChannelInfo, ChannelInfo, Agent) {
    let (a, b) = memory_link_pair();
    let t = std::thread::spawn(move || {
        let mut responder = responder;
        let info = responder.accept(Box::new(b));
        (responder, info)
    });
    let mine = initiator.connect_link(Box::new(a), known).unwrap();
    let (responder, theirs) = t.join().unwrap();
    (mine, theirs.unwrap(), responder)
}

fn texts(v: &[Received]) -> Vec<String> {
    v.iter().map(|r| String::from_utf8(r.plaintext.clone()).unwrap()).collect()
}

/// Receive until `n` messages came (bounded), acknowledging none.
fn receive_n(agent: &mut Agent, n: usize) -> Vec<Received> {
    let mut out = Vec::new();
    for _ in 0..100 {
        out.extend(agent.receive(Duration::from_millis(50)).unwrap());
        if out.len() >= n {
            break;
        }
    }
    out
}

// ---------------------------------------------------------------- formats

#[test]
fn state_file_round_trips_and_refuses_every_change() {
    let id = Identity::generate().unwrap();
    let other = Identity::generate().unwrap();
    let key = [7u8; 32];
    let mut s = AgentState { anchor: 42, published_signed_prekey: 3, publish_reset: true, ..AgentState::default() };
    s.upsert(id.public(), Some("127.0.0.1:9"), 100).unwrap();
    s.upsert(other.public(), None, 200).unwrap();
    s.upsert(id.public(), None, 300).unwrap(); // keeps the address, moves last_seen
    let bytes = s.seal(&key).unwrap();
    assert_eq!(&bytes[..5], b"SWAS\x01");
    assert_eq!(u64::from_be_bytes(bytes[5..13].try_into().unwrap()), 1);
    let back = AgentState::open(&bytes, &key).unwrap();
    assert_eq!(back, s);
    let p = back.peer(&peer_id(id.public())).unwrap();
    assert_eq!((p.address.as_deref(), p.first_seen, p.last_seen), (Some("127.0.0.1:9"), 100, 300));
    assert_eq!(back.peer_by_address("127.0.0.1:9").unwrap().identity, *id.public());
    // Every byte is covered (header as associated data, body by the tag).
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        assert!(AgentState::open(&b, &key).is_err(), "byte {i}");
    }
    assert_eq!(AgentState::open(&bytes, &[8u8; 32]).unwrap_err(), Error::DecryptionFailed);
    assert!(AgentState::open(&bytes[..bytes.len() - 1], &key).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(AgentState::open(&longer, &key).is_err());
    let mut v2 = bytes.clone();
    v2[4] = 2;
    assert_eq!(AgentState::open(&v2, &key).unwrap_err().kind(), ErrorKind::UnsupportedVersion);
}

#[test]
fn state_body_is_canonical() {
    // Peers out of order (or twice) are refused even under a valid tag.
    let a = Identity::generate().unwrap();
    let b = Identity::generate().unwrap();
    let mut s = AgentState::default();
    s.upsert(a.public(), None, 1).unwrap();
    s.upsert(b.public(), None, 1).unwrap();
    s.peers.reverse();
    let key = [1u8; 32];
    assert_eq!(AgentState::open(&s.seal(&key).unwrap(), &key).unwrap_err().kind(), ErrorKind::Malformed);
    let peer = KnownPeer { identity: a.public().clone(), address: None, first_seen: 1, last_seen: 1 };
    let mut dup = AgentState { peers: vec![peer.clone(), peer], ..AgentState::default() };
    assert_eq!(AgentState::open(&dup.seal(&key).unwrap(), &key).unwrap_err().kind(), ErrorKind::Malformed);
    // Addresses are bounded.
    assert!(AgentState::default().upsert(a.public(), Some(&"x".repeat(MAX_ADDRESS_LEN + 1)), 1).is_err());
}

#[test]
fn hello_and_records_decode_strictly() {
    let name = "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";
    let h = encode_hello(name).unwrap();
    assert_eq!(&h[..6], &[b'S', b'W', b'A', b'H', 1, name.len() as u8]);
    assert_eq!(decode_hello(&h).unwrap(), name);
    assert_eq!(decode_hello(&h[..h.len() - 1]).unwrap_err().kind(), ErrorKind::Truncated);
    let mut t = h.clone();
    t.push(0);
    assert_eq!(decode_hello(&t).unwrap_err().kind(), ErrorKind::TrailingBytes);
    let mut m = h.clone();
    m[0] = b'X';
    assert_eq!(decode_hello(&m).unwrap_err().kind(), ErrorKind::BadMagic);
    let mut v = h.clone();
    v[4] = 2;
    assert_eq!(decode_hello(&v).unwrap_err().kind(), ErrorKind::UnsupportedVersion);

    for r in [Record::Bundle(vec![1, 2]), Record::Message(vec![3]), Record::Ack([9u8; 32])] {
        assert_eq!(Record::decode(&r.encode()).unwrap(), r);
    }
    assert_eq!(Record::decode(&[RECORD_ACK; 32]).unwrap_err().kind(), ErrorKind::Truncated);
    assert_eq!(Record::decode(&[RECORD_ACK; 34]).unwrap_err().kind(), ErrorKind::TrailingBytes);
    assert_eq!(Record::decode(&[RECORD_MESSAGE]).unwrap_err().kind(), ErrorKind::Truncated);
    assert_eq!(Record::decode(&[0x04, 1]).unwrap_err().kind(), ErrorKind::Malformed);
    assert_eq!(Record::decode(&[]).unwrap_err().kind(), ErrorKind::Truncated);
}

#[test]
fn tcp_link_frames_and_limits() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut a = TcpLink::connect(&addr, Duration::from_secs(2)).unwrap();
    let mut b = TcpLink::new(listener.accept().unwrap().0).unwrap();
    assert_eq!(b.recv_frame(Duration::ZERO).unwrap(), None);
    a.send_frame(b"one").unwrap();
    a.send_frame(b"").unwrap();
    a.send_frame(&vec![5u8; 200_000]).unwrap();
    assert_eq!(b.recv_frame(Duration::from_secs(2)).unwrap().unwrap(), b"one");
    assert_eq!(b.recv_frame(Duration::from_secs(2)).unwrap().unwrap(), b"");
    assert_eq!(b.recv_frame(Duration::from_secs(2)).unwrap().unwrap(), vec![5u8; 200_000]);
    assert_eq!(a.send_frame(&vec![0u8; MAX_LINK_FRAME + 1]).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    // A peer announcing an oversized frame breaks the link instead of allocating it.
    use std::io::Write;
    let mut raw = std::net::TcpStream::connect(&addr).unwrap();
    let mut c = TcpLink::new(listener.accept().unwrap().0).unwrap();
    raw.write_all(&(MAX_LINK_FRAME as u32 + 1).to_be_bytes()).unwrap();
    assert_eq!(c.recv_frame(Duration::from_secs(2)).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    drop(a);
    assert_eq!(b.recv_frame(Duration::from_secs(2)).unwrap_err().kind(), ErrorKind::Io);
}

// ---------------------------------------------------------------- home

#[test]
fn home_is_created_then_reopened_and_locked() {
    let dir = tmp("home");
    let cfg = config();
    let a = open(&dir, &cfg);
    let public = a.public().clone();
    for f in [STATE_FILE, IDENTITY_FILE, KEYRING_FILE, SESSIONS_FILE, LOCK_FILE] {
        assert!(dir.join(f).exists(), "{f}");
    }
    assert!(!dir.join(IDENTITY_ENVELOPE_FILE).exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(dir.join(IDENTITY_FILE)).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A second agent on the same home is refused while the first is open.
    let second = Agent::open(&dir, &cfg, Unlock::passphrase(PASS), AgentOptions::default());
    assert_eq!(second.unwrap_err().kind(), ErrorKind::Storage);
    a.close().unwrap();
    let again = open(&dir, &cfg);
    assert_eq!(again.public(), &public);
    drop(again);
    // Wrong passphrase: typed error, nothing changed.
    let before = std::fs::read(dir.join(STATE_FILE)).unwrap();
    let wrong = Agent::open(&dir, &cfg, Unlock::passphrase(b"wrong"), AgentOptions::default());
    assert_eq!(wrong.unwrap_err().kind(), ErrorKind::DecryptionFailed);
    assert_eq!(std::fs::read(dir.join(STATE_FILE)).unwrap(), before);
    // The unlock must fit the configuration.
    let no_pass = Agent::open(&dir, &cfg, Unlock::RootKey(RootKey::generate().unwrap()), AgentOptions::default());
    assert_eq!(no_pass.unwrap_err().kind(), ErrorKind::InvalidParameter);
    // A configuration with errors, or handshakes an agent cannot use, is refused.
    let classical = SecurityConfig::load("version = 1\n[handshake]\nonline = \"IK\"\n", Format::Toml);
    assert!(classical.is_err(), "classical handshakes need their override");
    let mut kk = cfg.clone();
    kk.handshake.online = HandshakePattern::KkHfs;
    let r = Agent::open(&tmp("kk"), &kk, Unlock::passphrase(PASS), AgentOptions::default());
    assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidParameter);
    assert_eq!(open(&dir, &cfg).public(), &public);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn interrupted_creation_is_set_aside_and_started_over() {
    let dir = tmp("interrupted");
    let cfg = config();
    let first = open(&dir, &cfg);
    let first_public = first.public().clone();
    drop(first);
    // As if creation had stopped before the state file (written last).
    std::fs::remove_file(dir.join(STATE_FILE)).unwrap();
    let second = open(&dir, &cfg);
    assert_ne!(second.public(), &first_public);
    let aside: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("incomplete-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(aside[0].path().join(IDENTITY_FILE).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kek_envelope_identity_with_root_key() {
    let dir = tmp("rootkey");
    let cfg = config_with(
        "[identity]\nstorage = \"kek-envelope\"\n[storage.kek]\nkeyring_protection = \"root-key\"\n",
    );
    let root = RootKey::generate().unwrap();
    let hex = root.to_hex();
    let a = Agent::open(&dir, &cfg, Unlock::RootKey(RootKey::from_hex(&hex).unwrap()), AgentOptions::default()).unwrap();
    let public = a.public().clone();
    drop(a);
    assert!(dir.join(IDENTITY_ENVELOPE_FILE).exists());
    assert!(!dir.join(IDENTITY_FILE).exists());
    let envelope = std::fs::read(dir.join(IDENTITY_ENVELOPE_FILE)).unwrap();
    assert_eq!(&envelope[..4], b"SWEV");
    let b = Agent::open(&dir, &cfg, Unlock::RootKey(RootKey::from_hex(&hex).unwrap()), AgentOptions::default()).unwrap();
    assert_eq!(b.public(), &public);
    drop(b);
    let wrong = Agent::open(&dir, &cfg, Unlock::RootKey(RootKey::generate().unwrap()), AgentOptions::default());
    assert_eq!(wrong.unwrap_err().kind(), ErrorKind::DecryptionFailed);
    // Opened with the passphrase configuration: the keyring is not passphrase-protected.
    let other = Agent::open(&dir, &config(), Unlock::passphrase(PASS), AgentOptions::default());
    assert_eq!(other.unwrap_err().kind(), ErrorKind::InvalidParameter);
    let mut envelope_with_passphrase = cfg.clone();
    envelope_with_passphrase.storage.kek.keyring_protection = KeyringProtection::Passphrase;
    let other = Agent::open(&dir, &envelope_with_passphrase, Unlock::passphrase(PASS), AgentOptions::default());
    assert_eq!(other.unwrap_err().kind(), ErrorKind::InvalidParameter);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ephemeral_agent_writes_nothing() {
    let dir = tmp("ephemeral");
    let cfg = config_with("[identity]\nstorage = \"memory\"\n[storage]\nsession_store = \"memory\"\n");
    let a = open(&dir, &cfg);
    let b = open(&dir, &cfg);
    assert_ne!(a.public(), b.public());
    assert!(!dir.exists());
    let ctx = EncryptionContext::from_pairs([("k", "v")]).unwrap();
    assert_eq!(a.open_sealed(&a.seal(b"x", &ctx).unwrap(), &ctx).unwrap(), b"x");
}

// ---------------------------------------------------------------- live channels

#[test]
fn first_contact_xx_then_ik_and_live_messages_exactly_once() {
    let (da, db) = (tmp("live-a"), tmp("live-b"));
    let cfg = config();
    let mut alice = open(&da, &cfg);
    let bob = open(&db, &cfg);
    let bob_public = bob.public().clone();

    // First contact: XX; each side learns the other's identity.
    let (mine, theirs, mut bob) = link_up(&mut alice, bob, None);
    assert_eq!(mine.protocol, cfg.noise_protocol(Topology::FirstContact));
    assert!(mine.protocol.starts_with("Noise_XXhfs_"));
    assert_eq!(mine.peer, bob_public);
    assert_eq!(theirs.peer, *alice.public());
    assert!(mine.initiator && !theirs.initiator);
    assert_eq!(alice.peers().len(), 1);
    assert_eq!(bob.peers()[0].identity, *alice.public());

    // Live messages: the ratchet session comes from the bundle sent on the channel.
    for i in 0..3 {
        assert_eq!(alice.send(&bob_public, format!("a{i}").as_bytes()).unwrap().delivery, Delivery::Live);
    }
    let got = receive_n(&mut bob, 3);
    assert_eq!(texts(&got), ["a0", "a1", "a2"]);
    assert!(got.iter().all(|r| r.peer == peer_id(alice.public())));
    // Bob acknowledged each one on the channel: Alice's outbox empties.
    for _ in 0..50 {
        alice.receive(Duration::from_millis(20)).unwrap();
        if alice.pending_outbox_len().unwrap() == 0 {
            break;
        }
    }
    assert_eq!(alice.pending_outbox_len().unwrap(), 0);
    assert_eq!(bob.send(alice.public(), b"b0").unwrap().delivery, Delivery::Live);
    assert_eq!(texts(&receive_n(&mut alice, 1)), ["b0"]);
    for r in &got {
        bob.ack(r.id).unwrap();
    }
    assert_eq!(bob.stats().received_live, 3);
    assert_eq!(alice.stats().sent_live, 3);

    // Reconnect: Alice knows Bob now, so IK.
    let (mine, theirs, mut bob) = link_up(&mut alice, bob, Some(&bob_public));
    assert!(mine.protocol.starts_with("Noise_IKhfs_"), "{}", mine.protocol);
    assert_eq!(theirs.protocol, mine.protocol);
    assert_eq!(theirs.peer, *alice.public());
    alice.send(&bob_public, b"a3").unwrap();
    assert_eq!(texts(&receive_n(&mut bob, 1)), ["a3"]);
    assert_eq!(alice.stats().handshakes, 2);
    let _ = (std::fs::remove_dir_all(&da), std::fs::remove_dir_all(&db));
}

#[test]
fn restarts_lose_and_duplicate_nothing() {
    let (da, db) = (tmp("restart-a"), tmp("restart-b"));
    let cfg = config();
    let mut alice = open(&da, &cfg);
    let bob = open(&db, &cfg);
    let bob_public = bob.public().clone();
    let (_, _, mut bob) = link_up(&mut alice, bob, None);
    alice.send(&bob_public, b"m1").unwrap();
    alice.send(&bob_public, b"m2").unwrap();
    let first = receive_n(&mut bob, 2);
    assert_eq!(texts(&first), ["m1", "m2"]);
    bob.ack(first[0].id).unwrap(); // m2 committed but not handled when Bob stops
    let m2_id = first[1].id;
    drop(bob);
    // Alice never saw the acknowledgements of a crashed peer? They arrived or not; either way
    // a restart of Alice re-sends what is unacknowledged, and Bob drops the copies.
    drop(alice);
    let mut alice = open(&da, &cfg);
    let mut bob = open(&db, &cfg);
    // Bob's unacknowledged message comes back, once, with the same id.
    let again = bob.receive(Duration::ZERO).unwrap();
    assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), [m2_id]);
    assert!(bob.receive(Duration::ZERO).unwrap().is_empty(), "not twice within one run");
    bob.ack(m2_id).unwrap();
    // Reconnect (IK: both remember each other); anything Alice still had goes again and is
    // dropped as a duplicate; a new message arrives once.
    let (mine, _, mut bob) = link_up(&mut alice, bob, Some(&bob_public));
    assert!(mine.protocol.starts_with("Noise_IKhfs_"));
    alice.flush().unwrap();
    alice.send(&bob_public, b"m3").unwrap();
    let got = receive_n(&mut bob, 1);
    assert_eq!(texts(&got), ["m3"]);
    std::thread::sleep(Duration::from_millis(100));
    assert!(bob.receive(Duration::from_millis(100)).unwrap().is_empty());
    let _ = (std::fs::remove_dir_all(&da), std::fs::remove_dir_all(&db));
}

#[test]
fn responder_refuses_protocols_outside_its_configuration() {
    let (da, db) = (tmp("refuse-a"), tmp("refuse-b"));
    let mut classical = config_with("post_quantum = \"preferred\"\n[handshake]\nonline = \"IK\"\nfirst_contact = \"XX\"\n");
    classical.overrides.allow_weak_kdf = true;
    let mut alice = open(&da, &config());
    let bob = open(&db, &classical);
    let (a, b) = memory_link_pair();
    let t = std::thread::spawn(move || {
        let mut bob = bob;
        bob.accept(Box::new(b)).map(|_| ())
    });
    assert!(alice.connect_link(Box::new(a), None).is_err());
    assert_eq!(t.join().unwrap().unwrap_err().kind(), ErrorKind::UnsupportedAlgorithm);
    let _ = (std::fs::remove_dir_all(&da), std::fs::remove_dir_all(&db));
}

#[test]
fn ik_to_the_wrong_identity_fails() {
    let (da, db) = (tmp("wrongik-a"), tmp("wrongik-b"));
    let cfg = config();
    let mut alice = open(&da, &cfg);
    let bob = open(&db, &cfg);
    let mallory = Identity::generate().unwrap();
    let (a, b) = memory_link_pair();
    let t = std::thread::spawn(move || {
        let mut bob = bob;
        bob.accept(Box::new(b)).map(|_| ())
    });
    // Alice believes she dials Mallory; Bob answers: his static key cannot complete IK.
    let r = alice.connect_link(Box::new(a), Some(mallory.public()));
    assert!(r.is_err());
    assert!(t.join().unwrap().is_err());
    assert!(alice.channels().is_empty());
    let _ = (std::fs::remove_dir_all(&da), std::fs::remove_dir_all(&db));
}

#[test]
fn without_relay_or_channel_there_is_no_session() {
    let dir = tmp("nosession");
    let mut a = open(&dir, &config());
    let stranger = Identity::generate().unwrap();
    assert_eq!(a.send(stranger.public(), b"x").unwrap_err().kind(), ErrorKind::NoSession);
    assert_eq!(a.send(&a.public().clone(), b"x").unwrap_err().kind(), ErrorKind::InvalidParameter);
    let big = vec![0u8; MAX_MESSAGE_LEN + 1];
    assert_eq!(a.send(stranger.public(), &big).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    assert_eq!(a.pending_outbox_len().unwrap(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- sealing and maintenance

#[test]
fn seal_open_and_seal_for_peers() {
    let (da, db) = (tmp("seal-a"), tmp("seal-b"));
    let cfg = config();
    let alice = open(&da, &cfg);
    let bob = open(&db, &cfg);
    let ctx = EncryptionContext::from_pairs([("kind", "memory"), ("agent", "alice")]).unwrap();
    let other = EncryptionContext::from_pairs([("kind", "memory")]).unwrap();
    let blob = alice.seal(b"note", &ctx).unwrap();
    assert_eq!(alice.open_sealed(&blob, &ctx).unwrap(), b"note");
    assert_eq!(alice.open_sealed(&blob, &other).unwrap_err().kind(), ErrorKind::ContextMismatch);
    // Bob's keyring has a key of the same id ("agent"), which fails to authenticate the entry.
    assert_eq!(bob.open_sealed(&blob, &ctx).unwrap_err().kind(), ErrorKind::HeaderAuthFailed);
    let header = EnvelopeHeader::parse(&blob).unwrap();
    assert_eq!(header.wrapped_keys()[0].provider(), "keyring");
    assert_eq!(header.wrapped_keys()[0].key_id(), KEK_ID);
    assert_eq!(header.segment_size(), cfg.storage.segment_size);

    let for_bob = alice.seal_for(&[bob.public()], b"for bob", &ctx).unwrap();
    assert_eq!(bob.open_sealed(&for_bob, &ctx).unwrap(), b"for bob");
    assert_eq!(alice.open_sealed(&for_bob, &ctx).unwrap_err().kind(), ErrorKind::NoMatchingKey);
    let both = alice.seal_for(&[bob.public(), alice.public()], b"both", &ctx).unwrap();
    assert_eq!(alice.open_sealed(&both, &ctx).unwrap(), b"both");

    // Reopened, the keyring still opens what was sealed.
    drop(alice);
    let alice = open(&da, &cfg);
    assert_eq!(alice.open_sealed(&blob, &ctx).unwrap(), b"note");
    let _ = (std::fs::remove_dir_all(&da), std::fs::remove_dir_all(&db));
}

#[test]
fn maintain_rotates_when_due_and_is_idempotent() {
    let dir = tmp("maintain");
    let cfg = config_with("[identity]\nstorage = \"kek-envelope\"\n");
    let mut a = open(&dir, &cfg);
    let ctx = EncryptionContext::from_pairs([("k", "v")]).unwrap();
    let old_blob = a.seal(b"old", &ctx).unwrap();
    let now = unix_now();

    // Nothing due now; twice in a row the same.
    for _ in 0..2 {
        let r = a.maintain(now).unwrap();
        assert!(!r.changed_anything(), "{r:?}");
        assert_eq!(r.anchor, Some(a.counter()));
    }

    // 91 days later: signed prekey (7 days) and KEK (90 days) are due.
    let later = now + 91 * 86_400;
    let signed_before = a.core.messenger().bundle().unwrap().signed_prekey_id();
    // Interrupted: only the signed-prekey step and the KEK step run, then the process ends.
    assert!(a.maintain_step(MaintainStep::RotateSignedPrekey, later).unwrap().signed_prekey_rotated);
    assert_eq!(a.maintain_step(MaintainStep::RotateKek, later).unwrap().kek_rotated_to, Some(2));
    drop(a);
    let mut a = open(&dir, &cfg);
    assert_ne!(a.core.messenger().bundle().unwrap().signed_prekey_id(), signed_before);
    // The rest of the run finishes the job (the identity envelope still names version 1)...
    let r = a.maintain(later).unwrap();
    assert!(!r.signed_prekey_rotated && r.kek_rotated_to.is_none());
    assert!(r.identity_rewrapped);
    // ...and a second run does nothing.
    assert!(!a.maintain(later).unwrap().changed_anything());
    let header = EnvelopeHeader::parse(&std::fs::read(dir.join(IDENTITY_ENVELOPE_FILE)).unwrap()).unwrap();
    assert_eq!(header.wrapped_keys()[0].key_version(), 2);

    // New seals use version 2; the old blob still opens (grace) and can be moved to v2.
    let new_blob = a.seal(b"new", &ctx).unwrap();
    assert_eq!(EnvelopeHeader::parse(&new_blob).unwrap().wrapped_keys()[0].key_version(), 2);
    assert_eq!(a.open_sealed(&old_blob, &ctx).unwrap(), b"old");
    let moved = a.rewrap_sealed(&old_blob, &ctx).unwrap();
    assert_eq!(EnvelopeHeader::parse(&moved).unwrap().wrapped_keys()[0].key_version(), 2);
    assert_eq!(a.open_sealed(&moved, &ctx).unwrap(), b"old");

    // Replaced signed prekeys expire after the grace (30 days after the rotation).
    let r = a.maintain(later + 31 * 86_400).unwrap();
    assert!(r.signed_prekeys_expired >= 1, "{r:?}");
    assert!(r.signed_prekey_rotated); // 31 days later a rotation is due again
    drop(a);
    // Reopens with the rotated keyring and rewrapped identity.
    let a = open(&dir, &cfg);
    assert_eq!(a.open_sealed(&new_blob, &ctx).unwrap(), b"new");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn anchor_detects_a_restored_session_store_and_recover_starts_over() {
    let (da, db) = (tmp("anchor-a"), tmp("anchor-b"));
    let cfg = config();
    let alice = open(&da, &cfg);
    let bob = open(&db, &cfg);
    let bob_public = bob.public().clone();
    drop((alice, bob));
    let copy = std::fs::read(da.join(SESSIONS_FILE)).unwrap();
    let mut alice = open(&da, &cfg);
    let bob = open(&db, &cfg);
    let (_, _, mut bob) = link_up(&mut alice, bob, Some(&bob_public));
    alice.send(&bob_public, b"before").unwrap();
    assert_eq!(texts(&receive_n(&mut bob, 1)), ["before"]);
    let anchor = alice.counter();
    alice.close().unwrap(); // anchor saved above the copy's counter
    std::fs::write(da.join(SESSIONS_FILE), copy).unwrap();
    let _ = std::fs::remove_file(da.join(format!("{SESSIONS_FILE}-wal")));
    let r = Agent::open(&da, &cfg, Unlock::passphrase(PASS), AgentOptions::default());
    assert_eq!(r.unwrap_err().kind(), ErrorKind::StaleState);

    // Recovery: same identity, a new store above the anchor; the old file is kept aside.
    let (mut alice, peers) = Agent::recover(&da, &cfg, Unlock::passphrase(PASS), AgentOptions::default()).unwrap();
    assert!(alice.counter() > anchor, "ids continue above the anchor");
    assert!(peers.is_empty(), "the restored copy predates the session with Bob");
    let aside = std::fs::read_dir(&da).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with("stale-sessions-")).count();
    assert_eq!(aside, 1);
    // The next message to Bob starts a new session, which Bob takes as current.
    let (_, _, mut bob) = link_up(&mut alice, bob, Some(&bob_public));
    let sent = alice.send(&bob_public, b"after recovery").unwrap();
    assert!(sent.id > anchor);
    assert_eq!(texts(&receive_n(&mut bob, 1)), ["after recovery"]);
    bob.send(alice.public(), b"welcome back").unwrap();
    assert_eq!(texts(&receive_n(&mut alice, 1)), ["welcome back"]);
    let anchor = alice.counter();
    alice.close().unwrap();

    // A lost sessions file is as stale as it gets; recovery names the peers it had.
    std::fs::remove_file(da.join(SESSIONS_FILE)).unwrap();
    let _ = std::fs::remove_file(da.join(format!("{SESSIONS_FILE}-wal")));
    let r = Agent::open(&da, &cfg, Unlock::passphrase(PASS), AgentOptions::default());
    assert_eq!(r.unwrap_err().kind(), ErrorKind::StaleState);
    let (mut alice, _) = Agent::recover(&da, &cfg, Unlock::passphrase(PASS), AgentOptions::default()).unwrap();
    assert!(alice.counter() > anchor);
    drop(alice);
    let _ = (std::fs::remove_dir_all(&da), std::fs::remove_dir_all(&db));
}

#[test]
fn recover_names_the_peers_of_the_stale_store() {
    let (da, db) = (tmp("recover-a"), tmp("recover-b"));
    let cfg = config();
    let mut alice = open(&da, &cfg);
    let bob = open(&db, &cfg);
    let bob_public = bob.public().clone();
    let (_, _, _bob) = link_up(&mut alice, bob, None);
    alice.send(&bob_public, b"x").unwrap();
    drop(alice);
    let (_, peers) = Agent::recover(&da, &cfg, Unlock::passphrase(PASS), AgentOptions::default()).unwrap();
    assert_eq!(peers, vec![peer_id(&bob_public)]);
    let _ = (std::fs::remove_dir_all(&da), std::fs::remove_dir_all(&db));
}

#[test]
fn listen_serves_connections_from_receive_and_accept_incoming() {
    let cfg = config();
    let (da, db) = (tmp("listen-a"), tmp("listen-b"));
    let mut a = open(&da, &cfg);
    let mut b = open(&db, &cfg);
    assert!(matches!(b.accept_incoming(Duration::ZERO), Err(Error::InvalidParameter(_))));
    let addr = b.listen("127.0.0.1:0").unwrap();
    assert_eq!(b.listening_on(), Some(addr));
    assert!(b.accept_incoming(Duration::from_millis(20)).unwrap().is_none());
    let b_public = b.public().clone();
    // B only loops on receive: that answers A's first-contact handshake and reads A's message.
    let t = std::thread::spawn(move || {
        let got = receive_n(&mut b, 1);
        (b, got)
    });
    let info = a.connect(&PeerSpec::at(addr.to_string())).unwrap();
    assert_eq!(info.peer, b_public);
    assert!(info.protocol.starts_with("Noise_XX"), "{}", info.protocol);
    let report = a.send(&b_public, b"over tcp").unwrap();
    assert_eq!(report.delivery, Delivery::Live);
    let (mut b, got) = t.join().unwrap();
    assert_eq!(texts(&got), ["over tcp"]);
    assert!(b.is_connected(&a.peer_id()));
    // A second connection, this time known (IK), answered by accept_incoming.
    let a_public = a.public().clone();
    let t = std::thread::spawn(move || {
        let info = b.accept_incoming(Duration::from_secs(10));
        (b, info)
    });
    let info = a.connect(&PeerSpec::known_at(b_public, addr.to_string())).unwrap();
    assert!(info.protocol.starts_with("Noise_IK"), "{}", info.protocol);
    let (_b, theirs) = t.join().unwrap();
    assert_eq!(theirs.unwrap().unwrap().peer, a_public);
    // A connection that is not a handshake fails accept_incoming and changes nothing.
    let (mut b, addr) = (_b, addr);
    let mut junk = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut junk, &[0, 0, 0, 3, 1, 2, 3]).unwrap();
    drop(junk);
    assert!(b.accept_incoming(Duration::from_secs(5)).is_err());
    assert_eq!(b.channels().len(), 1);
    let _ = std::fs::remove_dir_all(&da);
    let _ = std::fs::remove_dir_all(&db);
}

#[test]
fn agent_is_send() {
    fn is_send<T: Send>() {}
    is_send::<Agent>();
}
