//! Live handshakes between two sealwire parties: the hybrid (hfs) handshakes end to end,
//! identities in XX, and every error the Noise layer reports on bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealwire::noise::{
    identity_payload, Handshake, NoiseBuilder, Role, Transport, MAX_FRAME_CHUNK, MAX_MESSAGE_LEN, MAX_PLAINTEXT_LEN,
    MAX_UNORDERED_PLAINTEXT_LEN, MLKEM768_CIPHERTEXT_LEN, MLKEM768_PUBLIC_LEN, REPLAY_WINDOW,
};
use sealwire::{Error, ErrorKind, Identity};

fn id(n: u8) -> Identity {
    Identity::from_secret_bytes(&[n; 32], &[n.wrapping_add(100); 32])
}

/// Build both sides of `name` for alice (initiator) and bob (responder), pre-sharing keys
/// exactly where the pattern requires.
fn pair(name: &str, alice: &Identity, bob: &Identity) -> (Handshake, Handshake) {
    let pattern = name.split('_').nth(1).unwrap();
    let base: String = pattern.chars().take_while(|c| c.is_ascii_uppercase()).collect();
    let mut i = NoiseBuilder::new(name).unwrap().prologue(b"test");
    let mut r = NoiseBuilder::new(name).unwrap().prologue(b"test");
    if !base.starts_with('N') {
        i = i.local_identity(alice);
    }
    if base.len() == 1 || !base.ends_with('N') {
        r = r.local_identity(bob);
    }
    if base.len() == 1 || base.ends_with('K') {
        i = i.remote_identity(bob.public());
    }
    if base.starts_with('K') {
        r = r.remote_identity(alice.public());
    }
    if let Some(p) = pattern.find("psk") {
        let loc: u8 = pattern[p + 3..].parse().unwrap();
        i = i.psk(loc, &[7; 32]).unwrap();
        r = r.psk(loc, &[7; 32]).unwrap();
    }
    (i.build_initiator().unwrap(), r.build_responder().unwrap())
}

/// Run the handshake to completion; returns the messages sent.
fn complete(i: &mut Handshake, r: &mut Handshake) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    while !i.is_finished() || !r.is_finished() {
        let (w, rd) = if i.is_my_turn() { (&mut *i, &mut *r) } else { (&mut *r, &mut *i) };
        let m = w.write_message(b"payload").unwrap();
        assert_eq!(rd.read_message(&m).unwrap(), b"payload");
        sent.push(m);
    }
    sent
}

fn transports(name: &str) -> (Transport, Transport) {
    let (alice, bob) = (id(1), id(2));
    let (mut i, mut r) = pair(name, &alice, &bob);
    complete(&mut i, &mut r);
    (i.into_transport().unwrap(), r.into_transport().unwrap())
}

#[test]
fn hybrid_handshakes_end_to_end() {
    let (alice, bob) = (id(1), id(2));
    for pattern in ["XXhfs", "IKhfs", "NNhfs", "NKhfs", "KKhfs", "XKhfs", "IXhfs"] {
        for suite in ["ChaChaPoly_BLAKE2s", "AESGCM_SHA256", "ChaChaPoly_SHA512", "AESGCM_BLAKE2b"] {
            let name = format!("Noise_{pattern}_25519+MLKEM768_{suite}");
            let (mut i, mut r) = pair(&name, &alice, &bob);
            let sent = complete(&mut i, &mut r);
            assert_eq!(i.handshake_hash(), r.handshake_hash());
            // The e1 and ekem1 really are on the wire.
            let total: usize = sent.iter().map(Vec::len).sum();
            assert!(total > MLKEM768_PUBLIC_LEN + MLKEM768_CIPHERTEXT_LEN, "{name}");
            let hh = i.handshake_hash().to_vec();
            let mut a = i.into_transport().unwrap();
            let mut b = r.into_transport().unwrap();
            assert_eq!(a.handshake_hash(), hh.as_slice());
            assert_eq!(b.handshake_hash(), hh.as_slice());
            for n in 0..5u8 {
                assert_eq!(b.decrypt(&a.encrypt(&[n; 100]).unwrap()).unwrap(), [n; 100]);
                assert_eq!(a.decrypt(&b.encrypt(&[n; 3]).unwrap()).unwrap(), [n; 3]);
            }
        }
    }
}

#[test]
fn hybrid_message_layout() {
    let (alice, bob) = (id(1), id(2));
    let (mut i, mut r) = pair("Noise_XXhfs_25519+MLKEM768_ChaChaPoly_SHA256", &alice, &bob);
    let m1 = i.write_message(b"").unwrap();
    assert_eq!(m1.len(), 32 + MLKEM768_PUBLIC_LEN); // e, e1 in clear, empty payload in clear
    r.read_message(&m1).unwrap();
    let m2 = r.write_message(b"").unwrap();
    assert_eq!(m2.len(), 32 + (MLKEM768_CIPHERTEXT_LEN + 16) + (32 + 16) + 16);
    let (mut i, _) = pair("Noise_IKhfs_25519+MLKEM768_ChaChaPoly_SHA256", &alice, &bob);
    assert_eq!(i.write_message(b"").unwrap().len(), 32 + (MLKEM768_PUBLIC_LEN + 16) + 48 + 16);
}

/// Random randomness: two runs of the same configuration differ.
#[test]
fn hybrid_uses_fresh_randomness() {
    let (alice, bob) = (id(1), id(2));
    let name = "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";
    let (mut i1, _) = pair(name, &alice, &bob);
    let (mut i2, _) = pair(name, &alice, &bob);
    assert_ne!(i1.write_message(b"").unwrap(), i2.write_message(b"").unwrap());
}

/// A tampered KEM ciphertext (implicit rejection) or KEM key fails the handshake.
#[test]
fn hybrid_tampering_detected() {
    let (alice, bob) = (id(1), id(2));
    let name = "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";
    // e1 travels in clear in XXhfs message 1: flipping a bit changes the responder's view
    // of h, so the initiator cannot decrypt message 2.
    let (mut i, mut r) = pair(name, &alice, &bob);
    let mut m1 = i.write_message(b"").unwrap();
    m1[40] ^= 1;
    r.read_message(&m1).unwrap();
    let m2 = r.write_message(b"").unwrap();
    assert_eq!(i.read_message(&m2).unwrap_err(), Error::DecryptionFailed);
    // A KEM key that fails the FIPS 203 modulus check is refused on receipt.
    let (mut i, mut r) = pair(name, &alice, &bob);
    let mut m1 = i.write_message(b"").unwrap();
    m1[32] = 0xff;
    m1[33] = 0xff;
    assert!(matches!(r.read_message(&m1).unwrap_err(), Error::InvalidPublicKey(_)));
}

#[test]
fn xx_identity_payloads_first_contact() {
    let (alice, bob) = (id(1), id(2));
    let name = "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";
    let mut i = NoiseBuilder::new(name).unwrap().local_identity(&alice).build_initiator().unwrap();
    let mut r = NoiseBuilder::new(name).unwrap().local_identity(&bob).build_responder().unwrap();
    r.read_message(&i.write_message(b"").unwrap()).unwrap();
    let m2 = r.write_message(&identity_payload(&bob)).unwrap();
    let p2 = i.read_message(&m2).unwrap();
    let bob_seen = i.verify_identity_payload(&p2).unwrap();
    assert_eq!(&bob_seen, bob.public());
    let m3 = i.write_message(&identity_payload(&alice)).unwrap();
    let p3 = r.read_message(&m3).unwrap();
    assert_eq!(&r.verify_identity_payload(&p3).unwrap(), alice.public());
    // An identity whose X25519 key is not the proven Noise static key is refused.
    let carol = id(3);
    assert_eq!(r.verify_identity_payload(&identity_payload(&carol)).unwrap_err(), Error::RemoteKeyMismatch);
    assert_eq!(r.expect_remote_identity(carol.public()).unwrap_err(), Error::RemoteKeyMismatch);
    assert_eq!(r.verify_identity_payload(b"garbage").unwrap_err().kind(), ErrorKind::BadMagic);
    let t = r.into_transport().unwrap();
    t.expect_remote_identity(alice.public()).unwrap();
    assert_eq!(t.expect_remote_identity(carol.public()).unwrap_err(), Error::RemoteKeyMismatch);
    assert_eq!(t.remote_static(), Some(*alice.public().x25519_bytes()));
}

/// In XX, a remote key given to the builder is the key the peer must present: any other
/// fails the message that carries it, and the handshake stays usable.
#[test]
fn xx_expected_remote_static() {
    let (alice, bob, carol) = (id(1), id(2), id(3));
    let name = "Noise_XX_25519_ChaChaPoly_SHA256";
    let mut i =
        NoiseBuilder::new(name).unwrap().local_identity(&alice).remote_identity(carol.public()).build_initiator().unwrap();
    let mut r = NoiseBuilder::new(name).unwrap().local_identity(&bob).build_responder().unwrap();
    r.read_message(&i.write_message(b"").unwrap()).unwrap();
    let m2 = r.write_message(b"").unwrap();
    assert_eq!(i.read_message(&m2).unwrap_err(), Error::RemoteKeyMismatch);
    assert_eq!(i.remote_static(), None);
}

#[test]
fn wrong_remote_static_in_ik() {
    let (alice, bob, carol) = (id(1), id(2), id(3));
    let name = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
    // Alice thinks carol's key is bob's: bob cannot decrypt her first message.
    let mut i =
        NoiseBuilder::new(name).unwrap().local_identity(&alice).remote_identity(carol.public()).build_initiator().unwrap();
    let mut r = NoiseBuilder::new(name).unwrap().local_identity(&bob).build_responder().unwrap();
    assert_eq!(r.read_message(&i.write_message(b"hi").unwrap()).unwrap_err(), Error::DecryptionFailed);
    // Bob expects dave but gets alice: the typed check after reading the message.
    let (mut i, mut r) = pair(name, &alice, &bob);
    r.read_message(&i.write_message(b"").unwrap()).unwrap();
    assert_eq!(r.expect_remote_identity(carol.public()).unwrap_err(), Error::RemoteKeyMismatch);
    assert_eq!(r.expect_remote_static(&[1; 31]).unwrap_err().kind(), ErrorKind::InvalidLength);
    r.expect_remote_identity(alice.public()).unwrap();
    // Before any key is known the check is HandshakeIncomplete, not a silent pass.
    let (_, r2) = pair("Noise_XX_25519_ChaChaPoly_SHA256", &alice, &bob);
    assert_eq!(r2.expect_remote_identity(alice.public()).unwrap_err().kind(), ErrorKind::HandshakeIncomplete);
}

#[test]
fn out_of_turn_and_after_completion() {
    let (alice, bob) = (id(1), id(2));
    let (mut i, mut r) = pair("Noise_XX_25519_AESGCM_SHA512", &alice, &bob);
    assert!(matches!(r.write_message(b"").unwrap_err(), Error::OutOfTurn(_)));
    assert!(matches!(i.read_message(&[0; 48]).unwrap_err(), Error::OutOfTurn(_)));
    let m1 = i.write_message(b"").unwrap();
    assert!(matches!(i.write_message(b"").unwrap_err(), Error::OutOfTurn(_)));
    r.read_message(&m1).unwrap();
    // Replaying message 1 to the responder is now out of turn.
    assert!(matches!(r.read_message(&m1).unwrap_err(), Error::OutOfTurn(_)));
    let m2 = r.write_message(b"").unwrap();
    i.read_message(&m2).unwrap();
    // A transport before the last message is refused (checked on a twin: it consumes).
    let (twin, _) = pair("Noise_XX_25519_AESGCM_SHA512", &alice, &bob);
    assert_eq!(twin.into_transport().unwrap_err().kind(), ErrorKind::HandshakeIncomplete);
    let m3 = i.write_message(b"").unwrap();
    r.read_message(&m3).unwrap();
    assert!(i.is_finished() && r.is_finished() && !i.is_my_turn() && !r.is_my_turn());
    assert_eq!(i.write_message(b"").unwrap_err(), Error::HandshakeComplete);
    assert_eq!(r.read_message(&m3).unwrap_err(), Error::HandshakeComplete);
    assert_eq!(r.write_message(b"").unwrap_err(), Error::HandshakeComplete);
}

/// Every truncation of every handshake message is refused, and afterwards (state unchanged)
/// the genuine message is still accepted. Messages whose payload travels in clear can be
/// cut inside the payload undetectably (Noise leaves delimiting to the application), so for
/// those only cuts inside the key tokens must fail.
#[test]
fn truncation_at_every_offset() {
    let (alice, bob) = (id(1), id(2));
    for name in [
        "Noise_XX_25519_ChaChaPoly_SHA256",
        "Noise_IKpsk2_25519_AESGCM_BLAKE2s",
        "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b",
        "Noise_IKhfs_25519+MLKEM768_AESGCM_SHA256",
        "Noise_NNpsk0_25519_ChaChaPoly_SHA256",
    ] {
        let (mut i, mut r) = pair(name, &alice, &bob);
        let mut index = 0;
        while !i.is_finished() {
            let (w, rd) = if i.is_my_turn() { (&mut i, &mut r) } else { (&mut r, &mut i) };
            let payload = b"some payload";
            let m = w.write_message(payload).unwrap();
            let clear_payload = index == 0 && !name.contains("IK") && !name.contains("psk0");
            let fixed_len = if clear_payload { m.len() - payload.len() } else { m.len() };
            for cut in 0..fixed_len {
                let e = rd.read_message(&m[..cut]).unwrap_err();
                assert!(matches!(e, Error::Truncated(_) | Error::DecryptionFailed), "{name} msg {index} cut {cut}: {e}");
            }
            // Corrupt every byte position in turn (sampled for the large hybrid messages).
            // A message with a clear payload authenticates nothing, so it is skipped here.
            if !clear_payload {
                let step = if m.len() > 200 { 97 } else { 1 };
                for pos in (0..m.len()).step_by(step) {
                    let mut bad = m.clone();
                    bad[pos] ^= 0x20;
                    assert!(rd.read_message(&bad).is_err(), "{name} msg {index} flip {pos}");
                }
            }
            let (i2, r2) = (rd.is_finished(), rd.is_my_turn());
            assert_eq!(rd.read_message(&m).unwrap(), payload, "{name} msg {index} after failures");
            assert!(r2 != rd.is_my_turn() || i2 != rd.is_finished());
            index += 1;
        }
        assert_eq!(i.handshake_hash(), r.handshake_hash());
    }
}

#[test]
fn corrupted_then_genuine_message() {
    let (alice, bob) = (id(1), id(2));
    let (mut i, mut r) = pair("Noise_IK_25519_ChaChaPoly_BLAKE2s", &alice, &bob);
    let m1 = i.write_message(b"first").unwrap();
    let mut bad = m1.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(r.read_message(&bad).unwrap_err(), Error::DecryptionFailed);
    let before = r.handshake_hash().to_vec();
    assert_eq!(r.read_message(&m1).unwrap(), b"first");
    assert_ne!(before, r.handshake_hash());
    let m2 = r.write_message(b"second").unwrap();
    let mut bad = m2.clone();
    bad[40] ^= 1;
    assert_eq!(i.read_message(&bad).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(i.read_message(&m2).unwrap(), b"second");
    assert_eq!(i.handshake_hash(), r.handshake_hash());
}

#[test]
fn oversized_messages() {
    let (alice, bob) = (id(1), id(2));
    let (mut i, mut r) = pair("Noise_NN_25519_ChaChaPoly_SHA256", &alice, &bob);
    let big = vec![0u8; MAX_MESSAGE_LEN];
    assert_eq!(i.write_message(&big).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    assert_eq!(r.read_message(&[0u8; MAX_MESSAGE_LEN + 1]).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    // The largest payload that fits is accepted.
    let fits = vec![1u8; MAX_MESSAGE_LEN - 32];
    let m = i.write_message(&fits).unwrap();
    assert_eq!(m.len(), MAX_MESSAGE_LEN);
    assert_eq!(r.read_message(&m).unwrap(), fits);
    let (mut a, mut b) = transports("Noise_NN_25519_ChaChaPoly_SHA256");
    assert_eq!(a.encrypt(&vec![0; MAX_PLAINTEXT_LEN + 1]).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    let m = a.encrypt(&vec![0; MAX_PLAINTEXT_LEN]).unwrap();
    assert_eq!(m.len(), MAX_MESSAGE_LEN);
    assert_eq!(b.decrypt(&m).unwrap().len(), MAX_PLAINTEXT_LEN);
    assert_eq!(b.decrypt(&vec![0; MAX_MESSAGE_LEN + 1]).unwrap_err().kind(), ErrorKind::MessageTooLarge);
}

#[test]
fn low_order_and_invalid_keys() {
    let (alice, bob) = (id(1), id(2));
    // A zero ephemeral in IK message 1 makes the responder's `es` DH all zeros.
    let (mut i, mut r) = pair("Noise_IK_25519_ChaChaPoly_SHA256", &alice, &bob);
    let mut m1 = i.write_message(b"").unwrap();
    m1[..32].fill(0);
    assert_eq!(r.read_message(&m1).unwrap_err(), Error::NonContributory);
    // Order-8 point in NN: caught by `ee` when the responder writes.
    let (mut i, mut r) = pair("Noise_NN_25519_ChaChaPoly_SHA256", &alice, &bob);
    let mut m1 = i.write_message(b"").unwrap();
    m1[..32].fill(0);
    m1[0] = 1;
    r.read_message(&m1).unwrap();
    assert_eq!(r.write_message(b"").unwrap_err(), Error::NonContributory);
    // Non-canonical ephemeral encodings are refused outright.
    let (mut i, mut r) = pair("Noise_NN_25519_ChaChaPoly_SHA256", &alice, &bob);
    let mut m1 = i.write_message(b"").unwrap();
    m1[31] |= 0x80;
    assert_eq!(r.read_message(&m1).unwrap_err().kind(), ErrorKind::InvalidPublicKey);
    // A low-order remote static given to the builder.
    let err = NoiseBuilder::new("Noise_NK_25519_ChaChaPoly_SHA256").unwrap().remote_static(&[0; 32]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidPublicKey);
}

#[test]
fn prologue_and_psk_mismatch() {
    let (alice, bob) = (id(1), id(2));
    let name = "Noise_NK_25519_ChaChaPoly_SHA256";
    let mut i = NoiseBuilder::new(name).unwrap().prologue(b"a").remote_identity(bob.public()).build_initiator().unwrap();
    let mut r = NoiseBuilder::new(name).unwrap().prologue(b"b").local_identity(&bob).build_responder().unwrap();
    assert_eq!(r.read_message(&i.write_message(b"").unwrap()).unwrap_err(), Error::DecryptionFailed);
    let name = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";
    let mut i = NoiseBuilder::new(name).unwrap().local_identity(&alice).psk(3, &[1; 32]).unwrap().build_initiator().unwrap();
    let mut r = NoiseBuilder::new(name).unwrap().local_identity(&bob).psk(3, &[2; 32]).unwrap().build_responder().unwrap();
    r.read_message(&i.write_message(b"").unwrap()).unwrap();
    i.read_message(&r.write_message(b"").unwrap()).unwrap();
    assert_eq!(r.read_message(&i.write_message(b"").unwrap()).unwrap_err(), Error::DecryptionFailed);
}

#[test]
fn builder_validation() {
    let alice = id(1);
    let kind = |r: sealwire::Result<Handshake>| r.unwrap_err().kind();
    assert_eq!(NoiseBuilder::new("Noise_XX_448_AESGCM_SHA256").unwrap_err().kind(), ErrorKind::UnsupportedAlgorithm);
    assert_eq!(NoiseBuilder::new("Noise_XX_25519_AESGCM").unwrap_err().kind(), ErrorKind::Malformed);
    // XX initiator without a static key; NN with one; IK without the responder key.
    assert_eq!(kind(NoiseBuilder::new("Noise_XX_25519_AESGCM_SHA256").unwrap().build_initiator()), ErrorKind::InvalidParameter);
    let nn = NoiseBuilder::new("Noise_NN_25519_AESGCM_SHA256").unwrap().local_identity(&alice);
    assert_eq!(kind(nn.build_initiator()), ErrorKind::InvalidParameter);
    let ik = NoiseBuilder::new("Noise_IK_25519_AESGCM_SHA256").unwrap().local_identity(&alice);
    assert_eq!(kind(ik.build_initiator()), ErrorKind::InvalidParameter);
    // psk: missing, wrong location, wrong length.
    let b = NoiseBuilder::new("Noise_NNpsk0_25519_AESGCM_SHA256").unwrap();
    assert_eq!(kind(b.build_initiator()), ErrorKind::InvalidParameter);
    let b = NoiseBuilder::new("Noise_NNpsk0_25519_AESGCM_SHA256").unwrap();
    assert_eq!(b.clone().psk(1, &[0; 32]).unwrap_err().kind(), ErrorKind::InvalidParameter);
    assert_eq!(b.psk(0, &[0; 31]).unwrap_err().kind(), ErrorKind::InvalidLength);
    let b = NoiseBuilder::new("Noise_XX_25519_AESGCM_SHA256").unwrap();
    assert_eq!(b.clone().local_static_secret(&[1; 33]).unwrap_err().kind(), ErrorKind::InvalidLength);
    assert_eq!(b.clone().remote_static(&[9; 31]).unwrap_err().kind(), ErrorKind::InvalidLength);
    assert_eq!(b.fixed_kem_seed_for_vectors(&[0; 64]).unwrap().local_identity(&alice).build_initiator().unwrap_err().kind(), ErrorKind::InvalidParameter);
}

#[test]
fn transport_decrypt_failure_changes_nothing() {
    let (mut a, mut b) = transports("Noise_XX_25519_AESGCM_SHA256");
    let m0 = a.encrypt(b"zero").unwrap();
    let m1 = a.encrypt(b"one").unwrap();
    let mut bad = m0.clone();
    bad[0] ^= 1;
    assert_eq!(b.decrypt(&bad).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(b.decrypt(&m0[..15]).unwrap_err().kind(), ErrorKind::Truncated);
    // Out of order in the ordered transport is a decryption failure, not a skip.
    assert_eq!(b.decrypt(&m1).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(b.receiving_nonce(), Some(0));
    assert_eq!(b.decrypt(&m0).unwrap(), b"zero");
    assert_eq!(b.decrypt(&m1).unwrap(), b"one");
    // Replay in ordered mode fails too.
    assert_eq!(b.decrypt(&m1).unwrap_err(), Error::DecryptionFailed);
}

#[test]
fn transport_rekey() {
    let (mut a, mut b) = transports("Noise_XX_25519_ChaChaPoly_BLAKE2s");
    a.rekey_outgoing().unwrap();
    let m = a.encrypt(b"after rekey").unwrap();
    assert_eq!(b.decrypt(&m).unwrap_err(), Error::DecryptionFailed);
    b.rekey_incoming().unwrap();
    assert_eq!(b.decrypt(&m).unwrap(), b"after rekey");
    // Automatic rekeying must be configured the same on both sides.
    a.set_rekey_interval(4);
    b.set_rekey_interval(4);
    for n in 0..50u32 {
        assert_eq!(b.decrypt(&a.encrypt(&n.to_le_bytes()).unwrap()).unwrap(), n.to_le_bytes());
        assert_eq!(a.decrypt(&b.encrypt(&n.to_be_bytes()).unwrap()).unwrap(), n.to_be_bytes());
    }
    b.set_rekey_interval(5);
    let mut failed = false;
    for n in 0..10u32 {
        failed |= b.decrypt(&a.encrypt(&n.to_le_bytes()).unwrap()).is_err();
    }
    assert!(failed, "mismatched rekey intervals must not interoperate");
}

#[test]
fn unordered_transport() {
    let (alice, bob) = (id(1), id(2));
    let (mut i, mut r) = pair("Noise_IK_25519_ChaChaPoly_BLAKE2s", &alice, &bob);
    complete(&mut i, &mut r);
    let mut a = i.into_unordered_transport().unwrap();
    let mut b = r.into_unordered_transport().unwrap();
    let msgs: Vec<Vec<u8>> = (0..3000u32).map(|n| a.encrypt(&n.to_be_bytes()).unwrap()).collect();
    assert_eq!(&msgs[5][..8], &5u64.to_be_bytes());
    // Reordered delivery within the window.
    for n in [10usize, 3, 7, 0, 1, 2, 1500, 1400, 1499] {
        assert_eq!(b.decrypt(&msgs[n]).unwrap(), (n as u32).to_be_bytes());
    }
    // Duplicates and too old.
    assert_eq!(b.decrypt(&msgs[3]).unwrap_err(), Error::Replay("older than the replay window"));
    assert_eq!(b.decrypt(&msgs[1499]).unwrap_err(), Error::Replay("duplicate message"));
    assert_eq!(b.decrypt(&msgs[1500 - REPLAY_WINDOW as usize]).unwrap_err().kind(), ErrorKind::Replay);
    assert_eq!(b.decrypt(&msgs[1501 - REPLAY_WINDOW as usize]).unwrap(), (1501 - REPLAY_WINDOW as u32).to_be_bytes());
    // Tampering (including the nonce prefix) fails and does not mark the nonce as seen.
    let mut bad = msgs[2000].clone();
    bad[7] ^= 1;
    assert_eq!(b.decrypt(&bad).unwrap_err(), Error::DecryptionFailed);
    let mut bad = msgs[2000].clone();
    bad[20] ^= 1;
    assert_eq!(b.decrypt(&bad).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(b.decrypt(&msgs[2000]).unwrap(), 2000u32.to_be_bytes());
    assert_eq!(b.decrypt(&msgs[2000][..23]).unwrap_err().kind(), ErrorKind::Truncated);
    let mut max = msgs[2999].clone();
    max[..8].copy_from_slice(&u64::MAX.to_be_bytes());
    assert_eq!(b.decrypt(&max).unwrap_err(), Error::NonceExhausted);
    assert_eq!(a.encrypt(&vec![0; MAX_UNORDERED_PLAINTEXT_LEN + 1]).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    let big = a.encrypt(&vec![0; MAX_UNORDERED_PLAINTEXT_LEN]).unwrap();
    assert_eq!(big.len(), MAX_MESSAGE_LEN);
    assert_eq!(b.decrypt(&big).unwrap().len(), MAX_UNORDERED_PLAINTEXT_LEN);
    // The other direction works independently.
    assert_eq!(a.decrypt(&b.encrypt(b"back").unwrap()).unwrap(), b"back");
}

#[test]
fn framing_round_trip_and_strictness() {
    let (mut a, mut b) = transports("Noise_XX_25519_ChaChaPoly_SHA256");
    for len in [0usize, 1, MAX_FRAME_CHUNK - 1, MAX_FRAME_CHUNK, MAX_FRAME_CHUNK + 1, 3 * MAX_FRAME_CHUNK + 17] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let framed = a.encrypt_framed(&data).unwrap();
        let frames = len.div_ceil(MAX_FRAME_CHUNK).max(1);
        assert_eq!(framed.len(), len + frames * (2 + 1 + 16));
        assert_eq!(b.decrypt_framed(&framed).unwrap(), data, "len {len}");
    }
    let data = vec![7u8; 2 * MAX_FRAME_CHUNK + 5];
    let framed = a.encrypt_framed(&data).unwrap();
    let frame = 2 + MAX_MESSAGE_LEN;
    // Truncation anywhere, including exactly at a frame boundary.
    for cut in [0, 1, 2, 100, frame - 1, frame, frame + 1, 2 * frame, framed.len() - 1] {
        let e = b.decrypt_framed(&framed[..cut]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Truncated, "cut {cut}");
    }
    let mut trailing = framed.clone();
    trailing.push(0);
    assert_eq!(b.decrypt_framed(&trailing).unwrap_err().kind(), ErrorKind::TrailingBytes);
    let mut bad = framed.clone();
    bad[frame + 10] ^= 1;
    assert_eq!(b.decrypt_framed(&bad).unwrap_err(), Error::DecryptionFailed);
    // Reordered frames fail too.
    let mut swapped = framed[frame..2 * frame].to_vec();
    swapped.extend_from_slice(&framed[..frame]);
    swapped.extend_from_slice(&framed[2 * frame..]);
    assert_eq!(b.decrypt_framed(&swapped).unwrap_err(), Error::DecryptionFailed);
    // After all those failures the receiving state is unchanged.
    assert_eq!(b.decrypt_framed(&framed).unwrap(), data);
    // Two framed payloads back to back are trailing bytes for the first.
    let mut two = a.encrypt_framed(b"x").unwrap();
    two.extend(a.encrypt_framed(b"y").unwrap());
    assert_eq!(b.decrypt_framed(&two).unwrap_err().kind(), ErrorKind::TrailingBytes);
}

#[test]
fn debug_output_is_redacted() {
    let alice = id(1);
    let b = NoiseBuilder::new("Noise_XXpsk3_25519_ChaChaPoly_SHA256").unwrap().local_identity(&alice).psk(3, &[0xab; 32]).unwrap();
    let h = b.build_initiator().unwrap();
    let secret_hex = hex::encode([100u8 + 1; 32]);
    for s in [format!("{b:?}"), format!("{h:?}")] {
        assert!(!s.contains("abab") && !s.contains(&secret_hex) && !s.contains("171, 171"), "{s}");
    }
    let (t, _) = transports("Noise_NN_25519_ChaChaPoly_SHA256");
    let s = format!("{t:?}");
    assert!(s.starts_with("Transport") && !s.contains("k:"), "{s}");
}

#[test]
fn role_enum_maps_to_builders() {
    let b = NoiseBuilder::new("Noise_NN_25519_ChaChaPoly_SHA256").unwrap();
    assert!(b.build(Role::Initiator).unwrap().is_initiator());
    assert!(!b.build(Role::Responder).unwrap().is_initiator());
}

#[test]
fn unordered_transport_epoch_rekey() {
    use sealwire::noise::{UnorderedTransport, MAX_EPOCH_SKIP};
    let pair_u = |interval: u64, other: u64| -> (UnorderedTransport, UnorderedTransport) {
        let (alice, bob) = (id(1), id(2));
        let (mut i, mut r) = pair("Noise_XX_25519_AESGCM_SHA256", &alice, &bob);
        complete(&mut i, &mut r);
        let mut a = i.into_unordered_transport().unwrap();
        let mut b = r.into_unordered_transport().unwrap();
        a.set_rekey_interval(interval).unwrap();
        b.set_rekey_interval(other).unwrap();
        (a, b)
    };
    let (mut a, mut b) = pair_u(REPLAY_WINDOW, REPLAY_WINDOW);
    assert_eq!(a.set_rekey_interval(5).unwrap_err().kind(), ErrorKind::InvalidParameter);
    let msgs: Vec<Vec<u8>> = (0..5000u32).map(|n| a.encrypt(&n.to_le_bytes()).unwrap()).collect();
    assert_eq!(a.set_rekey_interval(2048).unwrap_err().kind(), ErrorKind::InvalidParameter);
    // Reordered across epoch boundaries (epoch 0 → 1 → back to 0 → jump to 4).
    for n in [0usize, 1023, 1024, 1030, 1001, 1022, 2047, 2048, 1500, 4100, 4099, 3080] {
        assert_eq!(b.decrypt(&msgs[n]).unwrap(), (n as u32).to_le_bytes(), "nonce {n}");
    }
    // After jumping to epoch 4 (top 4100), epoch 2 is out of the window.
    assert_eq!(b.decrypt(&msgs[3075]).unwrap_err().kind(), ErrorKind::Replay);
    assert_eq!(b.decrypt(&msgs[1024]).unwrap_err().kind(), ErrorKind::Replay);
    // Tampering in a future epoch fails without moving the receiver.
    let mut bad = msgs[4999].clone();
    bad[20] ^= 1;
    assert_eq!(b.decrypt(&bad).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(b.decrypt(&msgs[4098]).unwrap(), 4098u32.to_le_bytes());
    assert_eq!(b.decrypt(&msgs[4999]).unwrap(), 4999u32.to_le_bytes());
    // A forged nonce too many epochs ahead is refused cheaply.
    let mut far = msgs[4999].clone();
    far[..8].copy_from_slice(&((MAX_EPOCH_SKIP + 10) * REPLAY_WINDOW).to_be_bytes());
    assert_eq!(b.decrypt(&far).unwrap_err(), Error::DecryptionFailed);
    // Mismatched intervals (or a receiver that does not rekey) fail from the first rekey on.
    for other in [0, 2 * REPLAY_WINDOW] {
        let (mut c, mut d) = pair_u(REPLAY_WINDOW, other);
        let late: Vec<Vec<u8>> = (0..1500u32).map(|n| c.encrypt(&n.to_le_bytes()).unwrap()).collect();
        assert_eq!(d.decrypt(&late[1023]).unwrap(), 1023u32.to_le_bytes());
        assert_eq!(d.decrypt(&late[1400]).unwrap_err(), Error::DecryptionFailed);
    }
}

/// The length helpers (`next_message_len`, `next_payload_len`, `encrypted_len`,
/// `decrypted_len`, `encrypted_framed_len`, `decrypted_framed_len`) give the exact lengths
/// the operations produce, report the same errors, and change no state (the C API's length
/// queries rely on this).
#[test]
fn length_helpers_are_exact_and_change_nothing() {
    let (alice, bob) = (id(1), id(2));
    let names = [
        "Noise_NN_25519_ChaChaPoly_SHA256",
        "Noise_XX_25519_AESGCM_SHA512",
        "Noise_IK_25519_ChaChaPoly_BLAKE2s",
        "Noise_KK_25519_ChaChaPoly_BLAKE2b",
        "Noise_NKpsk0_25519_ChaChaPoly_SHA256",
        "Noise_XXpsk3_25519_AESGCM_SHA256",
        "Noise_IKpsk2_25519_ChaChaPoly_SHA256",
        "Noise_XNpsk1_25519_ChaChaPoly_SHA256",
        "Noise_N_25519_ChaChaPoly_SHA256",
        "Noise_Kpsk0_25519_ChaChaPoly_SHA256",
        "Noise_X_25519_AESGCM_BLAKE2s",
        "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_SHA256",
        "Noise_IKhfs_25519+MLKEM768_AESGCM_BLAKE2b",
        "Noise_NNhfs_25519+MLKEM768_ChaChaPoly_SHA256",
        "Noise_KKhfs_25519+MLKEM768_ChaChaPoly_SHA256",
        "Noise_INhfs_25519+MLKEM768_ChaChaPoly_SHA256",
    ];
    for name in names {
        let (mut i, mut r) = pair(name, &alice, &bob);
        let mut index = 0usize;
        while !i.is_finished() {
            let (w, rd) = if i.is_my_turn() { (&mut i, &mut r) } else { (&mut r, &mut i) };
            let payload = vec![index as u8; 10 * index + 3];
            // The writer's helpers; the reader cannot write.
            assert!(matches!(rd.next_message_len(0).unwrap_err(), Error::OutOfTurn(_)));
            let hash_before = w.handshake_hash().to_vec();
            let want = w.next_message_len(payload.len()).unwrap();
            assert_eq!(w.next_message_len(payload.len()).unwrap(), want);
            assert_eq!(w.handshake_hash(), hash_before.as_slice());
            assert!(matches!(w.next_payload_len(want).unwrap_err(), Error::OutOfTurn(_)));
            let too_big = MAX_MESSAGE_LEN - want + payload.len() + 1;
            assert_eq!(w.next_message_len(too_big).unwrap_err().kind(), ErrorKind::MessageTooLarge);
            let m = w.write_message(&payload).unwrap();
            assert_eq!(m.len(), want, "{name} message {index}");
            // The reader's helper.
            let read_before = rd.handshake_hash().to_vec();
            assert_eq!(rd.next_payload_len(m.len()).unwrap(), payload.len(), "{name} message {index}");
            let overhead = m.len() - payload.len();
            if overhead > 0 {
                assert_eq!(rd.next_payload_len(overhead - 1).unwrap_err().kind(), ErrorKind::Truncated);
            }
            assert_eq!(rd.next_payload_len(MAX_MESSAGE_LEN + 1).unwrap_err().kind(), ErrorKind::MessageTooLarge);
            assert_eq!(rd.handshake_hash(), read_before.as_slice());
            assert_eq!(rd.read_message(&m).unwrap(), payload);
            index += 1;
        }
        assert_eq!(i.next_message_len(0).unwrap_err(), Error::HandshakeComplete);
        assert_eq!(r.next_payload_len(100).unwrap_err(), Error::HandshakeComplete);
        let pattern = name.split('_').nth(1).unwrap();
        let one_way = pattern.chars().take_while(|c| c.is_ascii_uppercase()).count() == 1;
        let mut a = i.into_transport().unwrap();
        let mut b = r.into_transport().unwrap();
        for len in [0usize, 1, 100, MAX_PLAINTEXT_LEN] {
            let want = a.encrypted_len(len).unwrap();
            let nonce = a.sending_nonce();
            assert_eq!(a.encrypted_len(len).unwrap(), want);
            assert_eq!(a.sending_nonce(), nonce);
            let m = a.encrypt(&vec![1; len]).unwrap();
            assert_eq!(m.len(), want);
            let recv = b.receiving_nonce();
            assert_eq!(b.decrypted_len(m.len()).unwrap(), len);
            assert_eq!(b.receiving_nonce(), recv);
            assert_eq!(b.decrypt(&m).unwrap().len(), len);
        }
        assert_eq!(a.encrypted_len(MAX_PLAINTEXT_LEN + 1).unwrap_err().kind(), ErrorKind::MessageTooLarge);
        assert_eq!(b.decrypted_len(15).unwrap_err().kind(), ErrorKind::Truncated);
        assert_eq!(b.decrypted_len(MAX_MESSAGE_LEN + 1).unwrap_err().kind(), ErrorKind::MessageTooLarge);
        for len in [0usize, 5, MAX_FRAME_CHUNK, MAX_FRAME_CHUNK + 1, 2 * MAX_FRAME_CHUNK + 9] {
            let want = a.encrypted_framed_len(len).unwrap();
            let nonce = a.sending_nonce();
            let framed = a.encrypt_framed(&vec![2; len]).unwrap();
            assert_ne!(a.sending_nonce(), nonce);
            assert_eq!(framed.len(), want, "{name} framed {len}");
            let recv = b.receiving_nonce();
            assert_eq!(b.decrypted_framed_len(&framed).unwrap(), len);
            assert!(b.decrypted_framed_len(&framed[..framed.len() / 2]).unwrap() <= framed.len() / 2);
            assert_eq!(b.receiving_nonce(), recv);
            assert_eq!(b.decrypt_framed(&framed).unwrap().len(), len);
        }
        assert_eq!(b.decrypted_framed_len(&[]).unwrap(), 0);
        if one_way {
            assert!(matches!(b.encrypted_len(1).unwrap_err(), Error::OutOfTurn(_)));
            assert!(matches!(b.encrypted_framed_len(1).unwrap_err(), Error::OutOfTurn(_)));
            assert!(matches!(a.decrypted_len(20).unwrap_err(), Error::OutOfTurn(_)));
            assert!(matches!(a.decrypted_framed_len(&[0; 40]).unwrap_err(), Error::OutOfTurn(_)));
        } else {
            assert_eq!(b.encrypted_len(1).unwrap(), 17);
            assert_eq!(a.decrypted_len(20).unwrap(), 4);
        }
    }
    // Unordered transport.
    let (mut i, mut r) = pair("Noise_XX_25519_ChaChaPoly_SHA256", &alice, &bob);
    complete(&mut i, &mut r);
    let mut a = i.into_unordered_transport().unwrap();
    let mut b = r.into_unordered_transport().unwrap();
    for len in [0usize, 7, MAX_UNORDERED_PLAINTEXT_LEN] {
        let want = a.encrypted_len(len).unwrap();
        let nonce = a.sending_nonce();
        assert_eq!(a.encrypted_len(len).unwrap(), want);
        assert_eq!(a.sending_nonce(), nonce);
        let m = a.encrypt(&vec![3; len]).unwrap();
        assert_eq!(m.len(), want);
        assert_eq!(b.decrypted_len(m.len()).unwrap(), len);
        assert_eq!(b.decrypt(&m).unwrap().len(), len);
        // The query did not mark the nonce as seen... and decrypting did.
        assert_eq!(b.decrypt(&m).unwrap_err().kind(), ErrorKind::Replay);
    }
    assert_eq!(a.encrypted_len(MAX_UNORDERED_PLAINTEXT_LEN + 1).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    assert_eq!(b.decrypted_len(23).unwrap_err().kind(), ErrorKind::Truncated);
    assert_eq!(b.decrypted_len(MAX_MESSAGE_LEN + 1).unwrap_err().kind(), ErrorKind::MessageTooLarge);
}

#[test]
fn transport_into_buffers() {
    for name in ["Noise_XX_25519_ChaChaPoly_BLAKE2s", "Noise_XX_25519_AESGCM_SHA256"] {
        let (mut a, mut b) = transports(name);
        a.set_rekey_interval(3);
        b.set_rekey_interval(3);
        let mut ct = vec![0u8; 100];
        let mut pt = vec![0xeeu8; 100];
        // A short output buffer is a length error and uses no nonce.
        assert_eq!(a.encrypt_into(b"hello", &mut ct[..20]).unwrap_err().kind(), ErrorKind::InvalidLength);
        assert_eq!(a.sending_nonce(), Some(0));
        for i in 0..10u8 {
            let msg = [i; 5];
            let n = a.encrypt_into(&msg, &mut ct).unwrap();
            assert_eq!(n, 21);
            // The Vec API and the buffer API interoperate (rekeys included).
            if i % 2 == 0 {
                assert_eq!(b.decrypt(&ct[..n]).unwrap(), msg);
            } else {
                let mut bad = ct[..n].to_vec();
                bad[n - 1] ^= 1;
                assert_eq!(b.decrypt_into(&bad, &mut pt).unwrap_err(), Error::DecryptionFailed);
                assert!(pt[..5].iter().all(|x| *x == 0), "failed decrypt must not leave output");
                assert_eq!(b.decrypt_into(&ct[..n], &mut pt[..4]).unwrap_err().kind(), ErrorKind::InvalidLength);
                assert_eq!(b.receiving_nonce(), Some(u64::from(i)));
                assert_eq!(b.decrypt_into(&ct[..n], &mut pt).unwrap(), 5);
                assert_eq!(pt[..5], msg);
            }
        }
        let m = b.encrypt(b"back").unwrap();
        assert_eq!(a.decrypt_into(&m, &mut pt).unwrap(), 4);
        assert_eq!(&pt[..4], b"back");
    }
}

/// A builder reused for many handshakes (its static-static DH computed once) gives exactly
/// the handshakes fresh builders give, on both sides of IK and KK; changing a static key on
/// the builder discards the cached value.
#[test]
fn reused_builders_match_fresh_ones() {
    let (alice, bob, carol) = (id(1), id(2), id(3));
    let e_i = [0x31u8; 32];
    let e_r = [0x32u8; 32];
    for name in ["Noise_IK_25519_ChaChaPoly_BLAKE2s", "Noise_KK_25519_AESGCM_SHA256", "Noise_IKpsk2_25519_ChaChaPoly_SHA256"] {
        let psk = name.contains("psk");
        let make = |me: &Identity, peer: &Identity| {
            let mut b = NoiseBuilder::new(name).unwrap().local_identity(me).remote_identity(peer.public());
            if psk {
                b = b.psk(2, &[9; 32]).unwrap();
            }
            b
        };
        let run = |ib: &NoiseBuilder, rb: &NoiseBuilder| {
            let mut i = ib.clone().fixed_ephemeral_for_vectors(&e_i).unwrap().build_initiator().unwrap();
            let mut r = rb.clone().fixed_ephemeral_for_vectors(&e_r).unwrap().build_responder().unwrap();
            let sent = complete(&mut i, &mut r);
            assert_eq!(i.handshake_hash(), r.handshake_hash());
            (sent, i.handshake_hash().to_vec())
        };
        let reference = run(&make(&alice, &bob), &make(&bob, &alice));
        let (ib, rb) = (make(&alice, &bob), make(&bob, &alice));
        // The first build computes the static-static DH; clones made after it carry it.
        let _ = (ib.build_initiator().unwrap(), rb.build_responder().unwrap());
        for _ in 0..3 {
            assert_eq!(run(&ib, &rb), reference, "{name}");
        }
        // Live (random ephemerals) handshakes from the reused builders, several times.
        for _ in 0..3 {
            let (mut i, mut r) = (ib.build_initiator().unwrap(), rb.build_responder().unwrap());
            complete(&mut i, &mut r);
            let (mut a, mut b) = (i.into_transport().unwrap(), r.into_transport().unwrap());
            assert_eq!(b.decrypt(&a.encrypt(b"x").unwrap()).unwrap(), b"x");
        }
        // Re-pointing the reused builder at another peer must not keep the old DH.
        let ib2 = ib.clone().remote_identity(carol.public());
        let rc = make(&carol, &alice);
        let (mut i, mut r) = (ib2.build_initiator().unwrap(), rc.build_responder().unwrap());
        complete(&mut i, &mut r);
        // ... nor re-keying the local side.
        let ib3 = ib.clone().local_identity(&carol);
        let rb3 = make(&bob, &carol);
        let (mut i, mut r) = (ib3.build_initiator().unwrap(), rb3.build_responder().unwrap());
        complete(&mut i, &mut r);
        // A responder builder expecting alice, used by carol: refused at her static key.
        if name.contains("_IK") {
            let mut i = make(&carol, &bob).build_initiator().unwrap();
            let mut r = rb.build_responder().unwrap();
            assert_eq!(r.read_message(&i.write_message(b"").unwrap()).unwrap_err(), Error::RemoteKeyMismatch);
        }
    }
}
