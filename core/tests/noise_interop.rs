//! Live interoperability with the `snow` crate (0.10), an independent Noise implementation:
//! sealwire in each role against snow in the other, for IK, XX, NK, KK and psk patterns with
//! ChaChaPoly and AESGCM, SHA256 and BLAKE2s. Handshake hashes and remote keys must match and
//! transport messages must decrypt both ways, including after a rekey.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealwire::noise::{Handshake, NoiseBuilder, Role, Transport};

const PSK: [u8; 32] = [0x42; 32];
const PROLOGUE: &[u8] = b"sealwire interop";

struct Keys {
    init_private: Vec<u8>,
    init_public: Vec<u8>,
    resp_private: Vec<u8>,
    resp_public: Vec<u8>,
}

fn keys(name: &str) -> Keys {
    let b = snow::Builder::new(name.parse().unwrap());
    let i = b.generate_keypair().unwrap();
    let r = b.generate_keypair().unwrap();
    Keys { init_private: i.private, init_public: i.public, resp_private: r.private, resp_public: r.public }
}

fn psk_location(name: &str) -> Option<u8> {
    let pattern = name.split('_').nth(1).unwrap();
    pattern.find("psk").map(|i| pattern[i + 3..].parse().unwrap())
}

/// Which keys each pattern pre-shares: (initiator knows responder's, responder knows initiator's).
fn pre_shared(name: &str) -> (bool, bool) {
    let pattern = name.split('_').nth(1).unwrap();
    let base: String = pattern.chars().take_while(|c| c.is_ascii_uppercase()).collect();
    if base.len() == 1 {
        return (true, base == "K");
    }
    (base.ends_with('K'), base.starts_with('K'))
}

/// Whether each side has a static key: (initiator, responder).
fn has_static(name: &str) -> (bool, bool) {
    let pattern = name.split('_').nth(1).unwrap();
    let base: Vec<char> = pattern.chars().take_while(|c| c.is_ascii_uppercase()).collect();
    match base.as_slice() {
        [one_way] => (*one_way != 'N', true),
        [i, r] => (*i != 'N', *r != 'N'),
        _ => unreachable!(),
    }
}

fn snow_side(name: &str, role: Role, k: &Keys) -> snow::HandshakeState {
    let (init_knows, resp_knows) = pre_shared(name);
    let mut b = snow::Builder::new(name.parse().unwrap()).prologue(PROLOGUE).unwrap();
    if let Some(loc) = psk_location(name) {
        b = b.psk(loc, &PSK).unwrap();
    }
    match role {
        Role::Initiator => {
            if has_static(name).0 {
                b = b.local_private_key(&k.init_private).unwrap();
            }
            if init_knows {
                b = b.remote_public_key(&k.resp_public).unwrap();
            }
            b.build_initiator().unwrap()
        }
        Role::Responder => {
            if has_static(name).1 {
                b = b.local_private_key(&k.resp_private).unwrap();
            }
            if resp_knows {
                b = b.remote_public_key(&k.init_public).unwrap();
            }
            b.build_responder().unwrap()
        }
    }
}

fn our_side(name: &str, role: Role, k: &Keys) -> Handshake {
    let (init_knows, resp_knows) = pre_shared(name);
    let mut b = NoiseBuilder::new(name).unwrap().prologue(PROLOGUE);
    if let Some(loc) = psk_location(name) {
        b = b.psk(loc, &PSK).unwrap();
    }
    match role {
        Role::Initiator => {
            if has_static(name).0 {
                b = b.local_static_secret(&k.init_private).unwrap();
            }
            if init_knows {
                b = b.remote_static(&k.resp_public).unwrap();
            }
        }
        Role::Responder => {
            if has_static(name).1 {
                b = b.local_static_secret(&k.resp_private).unwrap();
            }
            if resp_knows {
                b = b.remote_static(&k.init_public).unwrap();
            }
        }
    }
    b.build(role).unwrap()
}

/// Run one handshake; `ours` plays `our_role`. Returns both transports.
fn handshake(name: &str, our_role: Role) -> (Transport, snow::TransportState, Keys) {
    let k = keys(name);
    let mut ours = our_side(name, our_role, &k);
    let their_role = if our_role == Role::Initiator { Role::Responder } else { Role::Initiator };
    let mut theirs = snow_side(name, their_role, &k);
    let mut buf = vec![0u8; 65535];
    let mut pbuf = vec![0u8; 65535];
    let mut i = 0u8;
    while !ours.is_finished() {
        let payload = vec![i; usize::from(i) * 7];
        if ours.is_my_turn() {
            let msg = ours.write_message(&payload).unwrap();
            let n = theirs.read_message(&msg, &mut pbuf).unwrap();
            assert_eq!(&pbuf[..n], &payload[..], "{name}: payload to snow");
        } else {
            let n = theirs.write_message(&payload, &mut buf).unwrap();
            let got = ours.read_message(&buf[..n]).unwrap();
            assert_eq!(got, payload, "{name}: payload from snow");
        }
        i += 1;
    }
    assert!(theirs.is_handshake_finished(), "{name}");
    assert_eq!(ours.handshake_hash(), theirs.get_handshake_hash(), "{name}: handshake hash");
    let (init_static, resp_static) = has_static(name);
    let (we_see, they_see) = if our_role == Role::Initiator { (resp_static, init_static) } else { (init_static, resp_static) };
    let expected_remote = if our_role == Role::Initiator { &k.resp_public } else { &k.init_public };
    if we_see {
        ours.expect_remote_static(expected_remote).unwrap();
    } else {
        assert_eq!(ours.remote_static(), None);
    }
    if they_see {
        let mine = if our_role == Role::Initiator { &k.init_public } else { &k.resp_public };
        assert_eq!(theirs.get_remote_static().unwrap(), mine.as_slice());
    }
    (ours.into_transport().unwrap(), theirs.into_transport_mode().unwrap(), k)
}

fn exchange(name: &str, ours: &mut Transport, theirs: &mut snow::TransportState, rounds: usize) {
    let mut buf = vec![0u8; 65535];
    let mut pbuf = vec![0u8; 65535];
    for round in 0..rounds {
        let msg = format!("{name} round {round} from sealwire").into_bytes();
        let ct = ours.encrypt(&msg).unwrap();
        let n = theirs.read_message(&ct, &mut pbuf).unwrap();
        assert_eq!(&pbuf[..n], &msg[..]);
        let msg = vec![round as u8; round * 1000];
        let n = theirs.write_message(&msg, &mut buf).unwrap();
        assert_eq!(ours.decrypt(&buf[..n]).unwrap(), msg);
    }
}

const PATTERNS: [&str; 7] = ["IK", "XX", "NK", "KK", "XXpsk3", "IKpsk2", "NNpsk0"];
const CIPHERS: [&str; 2] = ["ChaChaPoly", "AESGCM"];
const HASHES: [&str; 2] = ["SHA256", "BLAKE2s"];

#[test]
fn snow_interop_both_roles() {
    let mut count = 0;
    for pattern in PATTERNS {
        for cipher in CIPHERS {
            for hash in HASHES {
                let name = format!("Noise_{pattern}_25519_{cipher}_{hash}");
                for role in [Role::Initiator, Role::Responder] {
                    let (mut ours, mut theirs, _) = handshake(&name, role);
                    exchange(&name, &mut ours, &mut theirs, 3);
                    // Rekey (§11.3) in both directions at the same point of the stream.
                    ours.rekey_outgoing().unwrap();
                    theirs.rekey_incoming();
                    ours.rekey_incoming().unwrap();
                    theirs.rekey_outgoing();
                    exchange(&name, &mut ours, &mut theirs, 2);
                    count += 1;
                }
            }
        }
    }
    assert_eq!(count, PATTERNS.len() * 2 * 2 * 2);
}

/// Our automatic rekey every N messages equals snow rekeying by hand after the same message.
#[test]
fn snow_interop_automatic_rekey() {
    let name = "Noise_XX_25519_AESGCM_SHA256";
    let (mut ours, mut theirs, _) = handshake(name, Role::Initiator);
    ours.set_rekey_interval(3);
    let mut buf = vec![0u8; 1024];
    let mut pbuf = vec![0u8; 1024];
    for i in 1..=10u64 {
        let ct = ours.encrypt(&i.to_be_bytes()).unwrap();
        let n = theirs.read_message(&ct, &mut pbuf).unwrap();
        assert_eq!(&pbuf[..n], &i.to_be_bytes());
        let n = theirs.write_message(&i.to_le_bytes(), &mut buf).unwrap();
        assert_eq!(ours.decrypt(&buf[..n]).unwrap(), i.to_le_bytes());
        if i % 3 == 0 {
            theirs.rekey_incoming();
            theirs.rekey_outgoing();
        }
    }
}

/// One-way patterns: sealwire initiator to snow responder and back.
#[test]
fn snow_interop_one_way() {
    for name in ["Noise_N_25519_ChaChaPoly_SHA256", "Noise_K_25519_AESGCM_BLAKE2s", "Noise_X_25519_ChaChaPoly_BLAKE2s"] {
        for role in [Role::Initiator, Role::Responder] {
            let (mut ours, mut theirs, _) = handshake(name, role);
            let mut buf = vec![0u8; 1024];
            let mut pbuf = vec![0u8; 1024];
            if role == Role::Initiator {
                let ct = ours.encrypt(b"one way").unwrap();
                let n = theirs.read_message(&ct, &mut pbuf).unwrap();
                assert_eq!(&pbuf[..n], b"one way");
                assert!(matches!(ours.decrypt(&ct), Err(sealwire::Error::OutOfTurn(_))));
            } else {
                let n = theirs.write_message(b"one way", &mut buf).unwrap();
                assert_eq!(ours.decrypt(&buf[..n]).unwrap(), b"one way");
                assert!(matches!(ours.encrypt(b"x"), Err(sealwire::Error::OutOfTurn(_))));
            }
        }
    }
}
