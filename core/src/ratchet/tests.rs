#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::bundle::{kem_prekey_message, signed_prekey_message, FLAG_POST_QUANTUM};
use super::message::{parse_initial, parse_ratchet, HeaderField};
use super::*;
use crate::deterministic::ByteTape;
use crate::error::{Error, ErrorKind};
use crate::identity::Identity;

const KEY: [u8; 32] = [0x42; 32];
const NOW: u64 = 1_700_000_000;

fn id(n: u8) -> Identity {
    Identity::from_secret_bytes(&[n; 32], &[n.wrapping_add(100); 32])
}

fn small(pq: bool) -> PrekeyOptions {
    PrekeyOptions { one_time_prekeys: 3, kem_one_time_prekeys: 2, post_quantum: pq }
}

/// The sealed state with a fixed nonce: byte-identical iff the state is.
fn snap(s: &Session) -> Vec<u8> {
    s.seal_with_entropy(&KEY, &mut ByteTape::new(&[0u8; 24])).unwrap()
}

fn store_snap(s: &PrekeyStore) -> Vec<u8> {
    s.seal_with_entropy(&KEY, &mut ByteTape::new(&[0u8; 24])).unwrap()
}

fn pair(pq: bool, he: bool) -> (Session, Session) {
    let (alice, bob) = (id(1), id(2));
    let mut store = PrekeyStore::generate_with_options(&bob, small(pq), NOW).unwrap();
    let mut a =
        Session::initiate_with_options(&alice, bob.public(), &store.bundle(), SessionOptions { header_encryption: he })
            .unwrap();
    let first = a.encrypt(b"first").unwrap();
    let (b, pt) = Session::accept(&bob, &mut store, &first).unwrap();
    assert_eq!(pt, b"first");
    (a, b)
}

#[test]
fn all_four_variants_talk() {
    for pq in [false, true] {
        for he in [false, true] {
            let (mut a, mut b) = pair(pq, he);
            assert_eq!(a.key_agreement(), if pq { KeyAgreement::Pqxdh } else { KeyAgreement::X3dh });
            assert_eq!(b.key_agreement(), a.key_agreement());
            assert_eq!((a.header_encryption(), b.header_encryption()), (he, he));
            assert_eq!(a.session_id(), b.session_id());
            assert_eq!(b.peer_identity(), id(1).public());
            assert_eq!(a.peer_identity(), id(2).public());
            assert!(a.awaiting_reply());
            for round in 0..4u8 {
                for i in 0..3u8 {
                    let m = b.encrypt(&[round, i]).unwrap();
                    assert_eq!(message_kind(&m).unwrap(), MessageKind::Ratchet);
                    assert_eq!(a.decrypt(&m).unwrap(), [round, i]);
                }
                assert!(!a.awaiting_reply());
                for i in 0..2u8 {
                    let m = a.encrypt(&[i, round, 9]).unwrap();
                    assert_eq!(message_kind(&m).unwrap(), MessageKind::Ratchet);
                    assert_eq!(b.decrypt(&m).unwrap(), [i, round, 9]);
                }
            }
        }
    }
}

#[test]
fn header_encryption_hides_the_header() {
    let (mut a, mut b) = pair(true, true);
    let m1 = b.encrypt(b"x").unwrap();
    let m2 = b.encrypt(b"x").unwrap();
    let (p1, p2) = (parse_ratchet(&m1).unwrap(), parse_ratchet(&m2).unwrap());
    assert!(matches!(p1.header, HeaderField::Encrypted { .. }));
    // Same ratchet key and consecutive counters, yet no common bytes past the prefix.
    assert_ne!(p1.authenticated[6..], p2.authenticated[6..]);
    a.decrypt(&m2).unwrap();
    a.decrypt(&m1).unwrap();
    let (_, mut b2) = pair(true, false);
    let m = b2.encrypt(b"x").unwrap();
    assert!(matches!(parse_ratchet(&m).unwrap().header, HeaderField::Clear(_)));
}

#[test]
fn padding_hides_small_lengths() {
    let (mut a, mut b) = pair(true, true);
    let lens: Vec<usize> = (0..32).map(|n| b.encrypt(&vec![7u8; n]).unwrap().len()).collect();
    assert!(lens.iter().all(|l| *l == lens[0]));
    for n in [0usize, 31, 32, 1000, 70_000] {
        let m = b.encrypt(&vec![1u8; n]).unwrap();
        assert_eq!(a.decrypt(&m).unwrap().len(), n);
    }
    assert!(b.encrypt(&vec![0u8; MAX_PLAINTEXT_LEN + 1]).is_err());
}

#[test]
fn initial_messages_repeat_until_reply_and_arrive_out_of_order() {
    for he in [true, false] {
        let (alice, bob) = (id(1), id(2));
        let mut store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
        let mut a = Session::initiate_with_options(
            &alice,
            bob.public(),
            &store.bundle(),
            SessionOptions { header_encryption: he },
        )
        .unwrap();
        let m: Vec<Vec<u8>> = (0..3u8).map(|i| a.encrypt(&[i]).unwrap()).collect();
        for x in &m {
            assert_eq!(message_kind(x).unwrap(), MessageKind::Initial);
            assert_eq!(&initial_message_sender(x).unwrap(), alice.public());
        }
        // The third arrives first and starts the session; the others decrypt through it.
        let (mut b, pt) = Session::accept(&bob, &mut store, &m[2]).unwrap();
        assert_eq!(pt, [2]);
        assert_eq!(b.skipped_message_keys(), 2);
        assert_eq!(b.decrypt(&m[0]).unwrap(), [0]);
        assert_eq!(b.decrypt(&m[1]).unwrap(), [1]);
        assert_eq!(b.decrypt(&m[1]).unwrap_err().kind(), crate::ErrorKind::Replay);
        // Accepting another copy is refused: the one-time prekey is gone.
        assert_eq!(Session::accept(&bob, &mut store, &m[0]).unwrap_err(), Error::PrekeyAlreadyUsed);
        let reply = b.encrypt(b"r").unwrap();
        a.decrypt(&reply).unwrap();
        assert_eq!(message_kind(&a.encrypt(b"n").unwrap()).unwrap(), MessageKind::Ratchet);
    }
}

#[test]
fn initial_message_of_another_session_is_refused() {
    let (alice, bob) = (id(1), id(2));
    let mut store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let bundle = store.bundle();
    let mut a1 = Session::initiate(&alice, bob.public(), &bundle).unwrap();
    let mut a2 = Session::initiate(&alice, bob.public(), &bundle.select(Some(2), Some(2)).unwrap()).unwrap();
    let (mut b1, _) = Session::accept(&bob, &mut store, &a1.encrypt(b"1").unwrap()).unwrap();
    let other = a2.encrypt(b"2").unwrap();
    let before = snap(&b1);
    assert_eq!(b1.decrypt(&other).unwrap_err(), Error::SessionMismatch);
    assert_eq!(snap(&b1), before);
    // The initiator never accepts initial messages.
    assert_eq!(a1.decrypt(&other).unwrap_err(), Error::SessionMismatch);
    // It is a valid new session for the responder.
    let (_, pt) = Session::accept(&bob, &mut store, &other).unwrap();
    assert_eq!(pt, b"2");
}

#[test]
fn one_time_prekeys_are_consumed_exactly_once() {
    let (alice, bob, carol) = (id(1), id(2), id(3));
    let mut store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let bundle = store.bundle();
    assert_eq!(bundle.one_time_prekey_ids(), vec![1, 2, 3]);
    assert_eq!(bundle.kem_one_time_prekey_ids(), vec![1, 2]);
    assert_eq!(bundle.kem_last_resort_prekey_id(), Some(3));
    let mut a = Session::initiate(&alice, bob.public(), &bundle).unwrap();
    let m = a.encrypt(b"hi").unwrap();
    let im = parse_initial(&m).unwrap();
    assert_eq!((im.one_time_prekey_id, im.kem.map(|k| k.0)), (Some(1), Some(1)));
    let g0 = store.generation();
    Session::accept(&bob, &mut store, &m).unwrap();
    assert_eq!(store.generation(), g0 + 1);
    assert_eq!(store.one_time_prekey_count(), 2);
    assert_eq!(store.kem_one_time_prekey_count(), 1);
    let before = store_snap(&store);
    assert_eq!(Session::accept(&bob, &mut store, &m).unwrap_err(), Error::PrekeyAlreadyUsed);
    // Another initiator given the same stale bundle fails the same way, changing nothing.
    let mut c = Session::initiate(&carol, bob.public(), &bundle).unwrap();
    assert_eq!(Session::accept(&bob, &mut store, &c.encrypt(b"x").unwrap()).unwrap_err(), Error::PrekeyAlreadyUsed);
    assert_eq!(store_snap(&store), before);
    // Without any one-time key (X25519 or KEM): the last-resort KEM key, reusable.
    let lr = bundle.select(None, None).unwrap();
    assert!(lr.one_time_prekey_ids().is_empty());
    for who in [&carol, &alice] {
        let mut s = Session::initiate(who, bob.public(), &lr).unwrap();
        let m = s.encrypt(b"lr").unwrap();
        let im = parse_initial(&m).unwrap();
        assert_eq!((im.one_time_prekey_id, im.kem.map(|k| k.0)), (None, Some(3)));
        assert_eq!(Session::accept(&bob, &mut store, &m).unwrap().1, b"lr");
    }
    // An id never issued.
    let mut m2 = Session::initiate(&carol, bob.public(), &bundle.select(Some(3), None).unwrap())
        .unwrap()
        .encrypt(b"x")
        .unwrap();
    let pos = m2.windows(5).position(|w| w == [1, 0, 0, 0, 3]).unwrap();
    m2[pos + 4] = 77;
    assert_eq!(Session::accept(&bob, &mut store, &m2).unwrap_err().kind(), ErrorKind::UnknownPrekey);
    // Replenish tops the store up with new ids, and bundles show them.
    store.replenish(&bob).unwrap();
    assert_eq!(store.bundle().one_time_prekey_ids(), vec![2, 3, 4]);
    assert_eq!(store.bundle().kem_one_time_prekey_ids(), vec![2, 4]);
}

#[test]
fn failed_accept_consumes_nothing() {
    let (alice, bob) = (id(1), id(2));
    let mut store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let mut a = Session::initiate(&alice, bob.public(), &store.bundle()).unwrap();
    let m = a.encrypt(b"hi").unwrap();
    let before = store_snap(&store);
    for i in [10usize, 200, 600, m.len() - 1] {
        let mut t = m.clone();
        t[i] ^= 0x20;
        assert!(Session::accept(&bob, &mut store, &t).is_err(), "byte {i}");
        assert_eq!(store_snap(&store), before);
    }
    for n in 0..m.len() {
        assert!(Session::accept(&bob, &mut store, &m[..n]).is_err());
    }
    assert_eq!(store_snap(&store), before);
    Session::accept(&bob, &mut store, &m).unwrap();
}

#[test]
fn identity_mismatches() {
    let (alice, bob, carol) = (id(1), id(2), id(3));
    let mut store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let bundle = store.bundle();
    assert_eq!(Session::initiate(&alice, carol.public(), &bundle).unwrap_err().kind(), ErrorKind::IdentityMismatch);
    let m = Session::initiate(&alice, bob.public(), &bundle).unwrap().encrypt(b"x").unwrap();
    assert_eq!(Session::accept(&carol, &mut store, &m).unwrap_err().kind(), ErrorKind::IdentityMismatch);
    assert_eq!(store.replenish(&carol).unwrap_err().kind(), ErrorKind::IdentityMismatch);
    assert_eq!(store.rotate_signed_prekey(&carol, NOW).unwrap_err().kind(), ErrorKind::IdentityMismatch);
}

#[test]
fn downgrade_to_x3dh_is_refused() {
    let (alice, bob) = (id(1), id(2));
    let mut store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let bundle = store.bundle();
    // Stripping the KEM keys from a post-quantum bundle breaks its structure.
    let mut stripped = bundle.to_bytes();
    let kem_count_at = stripped.len() - bundle.kem.len() * (6 + 1184 + 64) - 2;
    stripped.truncate(kem_count_at);
    stripped.extend_from_slice(&[0, 0]);
    assert_eq!(PrekeyBundle::from_bytes(&stripped).unwrap_err().kind(), ErrorKind::Malformed);
    // A PQXDH initial message rewritten as X3DH (KEM fields cut) is refused by the responder.
    let m = Session::initiate(&alice, bob.public(), &bundle).unwrap().encrypt(b"x").unwrap();
    let im = parse_initial(&m).unwrap();
    let kem_start = im.prefix.len() - 4 - 1088;
    let mut x3dh = m[..kem_start].to_vec();
    x3dh[5] = 0x01;
    x3dh.extend_from_slice(&m[im.prefix.len()..]);
    assert_eq!(Session::accept(&bob, &mut store, &x3dh).unwrap_err().kind(), ErrorKind::UnsupportedAlgorithm);
}

#[test]
fn bundle_decoding_is_strict() {
    let bob = id(2);
    let store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let bundle = store.bundle();
    let bytes = bundle.to_bytes();
    assert_eq!(PrekeyBundle::from_bytes(&bytes).unwrap(), bundle);
    assert_eq!(format!("{bundle:?}"), "PrekeyBundle { one_time: 3, kem: 3, post_quantum: true }");
    for n in (0..bytes.len()).step_by(7) {
        let k = PrekeyBundle::from_bytes(&bytes[..n]).unwrap_err().kind();
        assert!(matches!(k, ErrorKind::Truncated | ErrorKind::BadMagic), "{n}: {k:?}");
    }
    let mut t = bytes.clone();
    t.push(0);
    assert_eq!(PrekeyBundle::from_bytes(&t).unwrap_err().kind(), ErrorKind::TrailingBytes);
    let mut t = bytes.clone();
    t[4] = 2;
    assert_eq!(PrekeyBundle::from_bytes(&t).unwrap_err().kind(), ErrorKind::UnsupportedVersion);
    // Every bit of the signed prekey and of the KEM prekeys is covered by a check. One-time
    // X25519 prekeys are not signed (X3DH §3.2): a changed one only makes the initial message
    // fail to authenticate (tested in `tampered_one_time_prekey_fails_cleanly`).
    let sp = 7 + 134; // start of the signed prekey
    let kem_start = sp + 101 + 2 + 3 * 36 + 2;
    for i in (kem_start..bytes.len()).step_by(13).chain(sp..sp + 101) {
        let mut t = bytes.clone();
        t[i] ^= 0x04;
        assert!(PrekeyBundle::from_bytes(&t).is_err(), "flip at {i} accepted");
    }
    // Flags other than post-quantum.
    let mut t = bytes.clone();
    t[sp + 36] |= 0x80;
    assert_eq!(PrekeyBundle::from_bytes(&t).unwrap_err().kind(), ErrorKind::Malformed);
}

#[test]
fn tampered_one_time_prekey_fails_cleanly() {
    let (alice, bob) = (id(1), id(2));
    let mut store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let mut b = store.bundle();
    b.one_time[0].key = id(9).public().x25519_bytes().to_owned();
    let b = PrekeyBundle::from_bytes(&b.to_bytes()).unwrap();
    let m = Session::initiate(&alice, bob.public(), &b).unwrap().encrypt(b"x").unwrap();
    let before = store_snap(&store);
    assert_eq!(Session::accept(&bob, &mut store, &m).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(store_snap(&store), before);
}

#[test]
fn signature_by_another_identity_is_refused() {
    let (bob, carol) = (id(2), id(3));
    let store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let mut b = store.bundle();
    // Carol's identity in front of Bob's signed keys.
    b.identity = carol.public().clone();
    assert_eq!(PrekeyBundle::from_bytes(&b.to_bytes()).unwrap_err(), Error::BadSignature);
    // Correctly encoded signatures made by Carol over Bob's keys.
    let mut b = store.bundle();
    b.signed.signature = carol.sign_protocol(&signed_prekey_message(b.signed.id, &b.signed.key, b.signed.flags));
    assert_eq!(PrekeyBundle::from_bytes(&b.to_bytes()).unwrap_err(), Error::BadSignature);
    let mut b = store.bundle();
    let k = &mut b.kem[1];
    k.signature = carol.sign_protocol(&kem_prekey_message(k.id, k.kind, &k.ek));
    assert_eq!(PrekeyBundle::from_bytes(&b.to_bytes()).unwrap_err(), Error::BadSignature);
    // A KEM key relabelled from one-time to last-resort breaks its signature.
    let mut b = store.bundle();
    b.kem[0].kind = KemPrekeyKind::LastResort;
    b.kem.truncate(1);
    assert_eq!(PrekeyBundle::from_bytes(&b.to_bytes()).unwrap_err(), Error::BadSignature);
    // Bob's own signature over a small-order signed prekey: rejected as a key.
    let mut b = store.bundle();
    b.signed.key = [0u8; 32];
    b.signed.signature = bob.sign_protocol(&signed_prekey_message(b.signed.id, &b.signed.key, b.signed.flags));
    assert_eq!(PrekeyBundle::from_bytes(&b.to_bytes()).unwrap_err().kind(), ErrorKind::InvalidPublicKey);
    let mut b = store.bundle();
    b.one_time[0].key = [0u8; 32];
    assert_eq!(PrekeyBundle::from_bytes(&b.to_bytes()).unwrap_err().kind(), ErrorKind::InvalidPublicKey);
    // Non-pq flag with KEM keys is inconsistent (and the flag is signed).
    let mut b = store.bundle();
    b.signed.flags &= !FLAG_POST_QUANTUM;
    b.signed.signature = bob.sign_protocol(&signed_prekey_message(b.signed.id, &b.signed.key, b.signed.flags));
    assert_eq!(PrekeyBundle::from_bytes(&b.to_bytes()).unwrap_err().kind(), ErrorKind::Malformed);
}

#[test]
fn low_order_keys_in_messages_are_refused() {
    let (alice, bob) = (id(1), id(2));
    let mut store = PrekeyStore::generate_with_options(&bob, small(false), NOW).unwrap();
    let m = Session::initiate(&alice, bob.public(), &store.bundle()).unwrap().encrypt(b"x").unwrap();
    let im = parse_initial(&m).unwrap();
    let eph_at = 9 + 134;
    assert_eq!(&m[eph_at..eph_at + 32], &im.ephemeral);
    for bad in [[0u8; 32], { let mut o = [0u8; 32]; o[0] = 1; o }] {
        let mut t = m.clone();
        t[eph_at..eph_at + 32].copy_from_slice(&bad);
        assert_eq!(Session::accept(&bob, &mut store, &t).unwrap_err().kind(), ErrorKind::InvalidPublicKey);
    }
    // Standard-mode ratchet message carrying an all-zero ratchet key.
    let (_, mut b) = pair(false, false);
    let (mut a2, _) = pair(false, false);
    let mut r = a2.encrypt(b"x").unwrap();
    let r = r.split_off(parse_initial(&r).unwrap().prefix.len());
    let mut t = r.clone();
    t[6..38].copy_from_slice(&[0u8; 32]);
    let before = snap(&b);
    assert_eq!(b.decrypt(&t).unwrap_err().kind(), ErrorKind::InvalidPublicKey);
    assert_eq!(snap(&b), before);
}

#[test]
fn failed_decrypt_changes_nothing() {
    for he in [true, false] {
        let (mut a, mut b) = pair(true, he);
        let m0 = b.encrypt(b"zero").unwrap();
        let m1 = b.encrypt(b"one").unwrap();
        a.decrypt(&m1).unwrap(); // m0 now a skipped key
        let m2 = b.encrypt(b"two").unwrap();
        let before = snap(&a);
        for i in 0..m2.len() {
            let mut t = m2.clone();
            t[i] ^= 0x01;
            assert!(a.decrypt(&t).is_err(), "flip at {i}");
            assert_eq!(snap(&a), before, "state changed by flip at {i}");
        }
        for n in 0..m2.len() {
            assert!(a.decrypt(&m2[..n]).is_err());
        }
        let mut t = m0.clone();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert_eq!(a.decrypt(&t).unwrap_err(), Error::DecryptionFailed);
        assert_eq!(a.decrypt(&m1).unwrap_err().kind(), crate::ErrorKind::Replay);
        assert_eq!(snap(&a), before);
        assert_eq!(a.generation(), 2);
        assert_eq!(a.decrypt(&m2).unwrap(), b"two");
        assert_eq!(a.decrypt(&m0).unwrap(), b"zero");
        assert_eq!(a.decrypt(&m0).unwrap_err().kind(), crate::ErrorKind::Replay);
    }
}

#[test]
fn skip_limit_is_enforced_before_deriving() {
    for he in [true, false] {
        let (mut a, mut b) = pair(true, he);
        // Beyond MAX_SKIP in the current chain (chain already established).
        let m0 = b.encrypt(b"0").unwrap();
        a.decrypt(&m0).unwrap();
        let mut msgs = Vec::new();
        for _ in 0..=MAX_SKIP + 1 {
            msgs.push(b.encrypt(b"m").unwrap());
        }
        let before = snap(&a);
        // msgs[k] has n = k + 1; Nr = 1. n = MAX_SKIP + 2 skips MAX_SKIP + 1.
        let err = a.decrypt(&msgs[MAX_SKIP as usize + 1]).unwrap_err();
        assert_eq!(err, Error::TooManySkippedMessages { skipped: u64::from(MAX_SKIP) + 1, limit: u64::from(MAX_SKIP) });
        assert_eq!(snap(&a), before);
        // Exactly MAX_SKIP skipped is fine.
        a.decrypt(&msgs[MAX_SKIP as usize]).unwrap();
        assert_eq!(a.skipped_message_keys(), MAX_SKIP as usize);
        a.decrypt(&msgs[0]).unwrap();
        a.decrypt(&msgs[MAX_SKIP as usize + 1]).unwrap();
    }
}

#[test]
fn skip_limit_on_a_new_chain() {
    let (mut a, mut b) = pair(true, true);
    let mut msgs = Vec::new();
    for _ in 0..=MAX_SKIP + 1 {
        msgs.push(b.encrypt(b"m").unwrap());
    }
    // First message of Bob's chain with n = MAX_SKIP + 1: a new chain, rejected up front.
    let before = snap(&a);
    let err = a.decrypt(&msgs[MAX_SKIP as usize + 1]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooManySkippedMessages);
    assert_eq!(snap(&a), before);
    a.decrypt(&msgs[MAX_SKIP as usize]).unwrap();
}

#[test]
fn total_skipped_keys_are_capped_oldest_first() {
  for he in [true, false] {
    let (mut a, mut b) = pair(true, he);
    let mut chains: Vec<Vec<Vec<u8>>> = Vec::new();
    // Three of Bob's chains, each with 900 messages of which only the last is delivered.
    for _ in 0..3 {
        let chain: Vec<Vec<u8>> = (0..900).map(|i: u32| b.encrypt(&i.to_be_bytes()).unwrap()).collect();
        a.decrypt(chain.last().unwrap()).unwrap();
        let reply = a.encrypt(b"ack").unwrap();
        b.decrypt(&reply).unwrap();
        chains.push(chain);
    }
    assert_eq!(a.skipped_message_keys(), MAX_SKIPPED_KEYS);
    // 2697 keys were skipped; the 697 oldest (chain 0, messages 0..697) were evicted. With
    // header encryption the header still opens under chain 0's header key (a discarded
    // key); in standard mode the message key is simply not there for that ratchet key.
    let before = snap(&a);
    let err = a.decrypt(&chains[0][696]).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Replay);
    assert_eq!(snap(&a), before);
    assert_eq!(a.decrypt(&chains[0][697]).unwrap(), 697u32.to_be_bytes());
    assert_eq!(a.decrypt(&chains[2][0]).unwrap(), 0u32.to_be_bytes());
    assert_eq!(a.decrypt(&chains[1][5]).unwrap(), 5u32.to_be_bytes());
  }
}

#[test]
fn sealed_session_roundtrip_and_rollback_detection() {
    let (mut a, mut b) = pair(true, true);
    let s0 = a.seal(&KEY).unwrap();
    assert_ne!(s0, a.seal(&KEY).unwrap(), "fresh nonce per seal");
    let m = b.encrypt(b"later").unwrap();
    let mut a2 = Session::open(&s0, &KEY).unwrap();
    assert_eq!(snap(&a2), snap(&a));
    assert_eq!(a2.decrypt(&m).unwrap(), b"later");
    a.decrypt(&m).unwrap();
    let g = a.generation();
    let s1 = a.seal(&KEY).unwrap();
    assert_eq!(Session::open_checked(&s1, &KEY, g).unwrap().generation(), g);
    assert_eq!(
        Session::open_checked(&s0, &KEY, g).unwrap_err(),
        Error::StaleState { found: g - 1, expected: g }
    );
    assert_eq!(Session::open(&s1, &[1u8; 32]).unwrap_err(), Error::DecryptionFailed);
    for n in 0..s1.len() {
        assert!(Session::open(&s1[..n], &KEY).is_err());
    }
    for i in (0..s1.len()).step_by(3) {
        let mut t = s1.clone();
        t[i] ^= 0x80;
        assert!(Session::open(&t, &KEY).is_err(), "flip at {i}");
    }
    // The generation field is authenticated.
    let mut t = s1.clone();
    t[12] ^= 1;
    assert_eq!(Session::open(&t, &KEY).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(format!("{a:?}"), format!("Session {{ role: Initiator, agreement: Pqxdh, generation: {g} }}"));
}

#[test]
fn sealed_store_roundtrip_rotation_and_grace() {
    let bob = id(2);
    let alice = id(1);
    let mut store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let old_bundle = store.bundle();
    store.rotate_signed_prekey(&bob, NOW + 100).unwrap();
    assert_eq!(store.signed_prekey_id(), 2);
    assert_eq!(store.retired_signed_prekey_ids(), vec![1]);
    let new_bundle = store.bundle();
    assert_eq!(new_bundle.kem_last_resort_prekey_id(), Some(4));
    let blob = store.seal(&KEY).unwrap();
    let mut store = PrekeyStore::open(&blob, &KEY).unwrap();
    assert_eq!(store_snap(&store), store_snap(&PrekeyStore::open(&blob, &KEY).unwrap()));
    assert_eq!(store.bundle(), new_bundle);
    // Within the grace period an initial message to the old signed prekey still works,
    // including through the old last-resort KEM key.
    let mut a = Session::initiate(&alice, bob.public(), &old_bundle.select(None, None).unwrap()).unwrap();
    let m_old = a.encrypt(b"old").unwrap();
    let mut a2 = Session::initiate(&alice, bob.public(), &old_bundle.select(None, None).unwrap()).unwrap();
    let m_old2 = a2.encrypt(b"old2").unwrap();
    assert_eq!(Session::accept(&bob, &mut store, &m_old).unwrap().1, b"old");
    assert_eq!(store.remove_expired_signed_prekeys(NOW + 100 + 50, 60), 0);
    assert_eq!(store.remove_expired_signed_prekeys(NOW + 100 + 61, 60), 1);
    assert_eq!(Session::accept(&bob, &mut store, &m_old2).unwrap_err().kind(), ErrorKind::UnknownPrekey);
    let mut a3 = Session::initiate(&alice, bob.public(), &store.bundle()).unwrap();
    assert_eq!(Session::accept(&bob, &mut store, &a3.encrypt(b"new").unwrap()).unwrap().1, b"new");
    // Bounded number of retired keys.
    for i in 0..20 {
        store.rotate_signed_prekey(&bob, NOW + 1000 + i).unwrap();
    }
    assert_eq!(store.retired_signed_prekey_ids().len(), MAX_RETIRED_SIGNED_PREKEYS);
    let reopened = PrekeyStore::open(&store.seal(&KEY).unwrap(), &KEY).unwrap();
    assert_eq!(reopened.retired_signed_prekey_ids(), store.retired_signed_prekey_ids());
    assert_eq!(reopened.bundle(), store.bundle());
    assert_eq!(PrekeyStore::open(&blob, &[0u8; 32]).unwrap_err(), Error::DecryptionFailed);
    // `blob` was sealed before three accepts and a rotation: stale.
    let g = store.generation();
    assert!(PrekeyStore::open_checked(&store.seal(&KEY).unwrap(), &KEY, g).is_ok());
    assert_eq!(PrekeyStore::open_checked(&blob, &KEY, g).unwrap_err().kind(), ErrorKind::StaleState);
    assert!(PrekeyStore::open(&blob[..blob.len() - 1], &KEY).is_err());
    // A session blob is not a store blob.
    let (a, _) = pair(true, true);
    assert_eq!(PrekeyStore::open(&a.seal(&KEY).unwrap(), &KEY).unwrap_err().kind(), ErrorKind::BadMagic);
}

#[test]
fn classic_store_and_options() {
    let bob = id(2);
    let store = PrekeyStore::generate_with_options(
        &bob,
        PrekeyOptions { one_time_prekeys: 0, kem_one_time_prekeys: 0, post_quantum: false },
        NOW,
    )
    .unwrap();
    let b = store.bundle();
    assert!(!b.is_post_quantum());
    assert!(b.kem_last_resort_prekey_id().is_none());
    assert_eq!(PrekeyBundle::from_bytes(&b.to_bytes()).unwrap(), b);
    assert!(PrekeyStore::generate_with_options(
        &bob,
        PrekeyOptions { one_time_prekeys: 1001, kem_one_time_prekeys: 0, post_quantum: false },
        NOW
    )
    .is_err());
    let d = PrekeyStore::generate(&bob, NOW).unwrap();
    assert_eq!(d.one_time_prekey_count(), 100);
    assert_eq!(d.kem_one_time_prekey_count(), 100);
    let bytes = d.bundle().to_bytes();
    assert_eq!(PrekeyBundle::from_bytes(&bytes).unwrap().one_time_prekey_ids().len(), 100);
    assert_eq!(format!("{d:?}"), "PrekeyStore { one_time: 100, kem: 101, signed: 1, generation: 0 }");
}

#[test]
fn mode_mismatch_and_garbage() {
    let (_, mut b_he) = pair(true, true);
    let (_, mut b_std) = pair(true, false);
    let m_std = b_std.encrypt(b"x").unwrap();
    let m_he = b_he.encrypt(b"x").unwrap();
    assert_eq!(b_he.decrypt(&m_std).unwrap_err().kind(), ErrorKind::Malformed);
    assert_eq!(b_std.decrypt(&m_he).unwrap_err().kind(), ErrorKind::Malformed);
    let mut t = m_he.clone();
    t[5] = 9;
    assert_eq!(b_he.decrypt(&t).unwrap_err().kind(), ErrorKind::UnsupportedAlgorithm);
    assert_eq!(b_he.decrypt(b"SWRM").unwrap_err().kind(), ErrorKind::Truncated);
    assert_eq!(b_he.decrypt(b"XXXXX").unwrap_err().kind(), ErrorKind::BadMagic);
    let mut t = m_he;
    t[4] = 2;
    assert_eq!(b_he.decrypt(&t).unwrap_err().kind(), ErrorKind::UnsupportedVersion);
}

#[test]
fn post_compromise_security() {
    for he in [true, false] {
        let (mut a, mut b) = pair(true, he);
        let stolen = a.seal(&KEY).unwrap();
        // Same chain: the stolen state decrypts Bob's next messages (as the spec says)…
        let m = b.encrypt(b"before healing").unwrap();
        assert_eq!(Session::open(&stolen, &KEY).unwrap().decrypt(&m).unwrap(), b"before healing");
        a.decrypt(&m).unwrap();
        // …but after a round trip (a DH ratchet step on each side) it decrypts nothing new.
        let r = a.encrypt(b"reply").unwrap();
        b.decrypt(&r).unwrap();
        let m2 = b.encrypt(b"after healing").unwrap();
        let mut thief = Session::open(&stolen, &KEY).unwrap();
        assert!(thief.decrypt(&m2).is_err());
        assert_eq!(a.decrypt(&m2).unwrap(), b"after healing");
    }
}

#[test]
fn forward_secrecy_of_used_keys() {
    let (mut a, mut b) = pair(true, true);
    let m = b.encrypt(b"secret").unwrap();
    a.decrypt(&m).unwrap();
    // A state taken after decryption cannot decrypt the message again.
    let mut later = Session::open(&a.seal(&KEY).unwrap(), &KEY).unwrap();
    assert_eq!(later.decrypt(&m).unwrap_err().kind(), crate::ErrorKind::Replay);
}

#[test]
fn skipped_keys_of_at_most_sixteen_chains_are_kept() {
    for he in [true, false] {
        let (mut a, mut b) = pair(true, he);
        let mut lost = Vec::new();
        // 20 chains of Bob's, each with one message that never arrives (until the end).
        for _ in 0..20 {
            let late = b.encrypt(b"late").unwrap();
            a.decrypt(&b.encrypt(b"on time").unwrap()).unwrap();
            b.decrypt(&a.encrypt(b"ack").unwrap()).unwrap();
            lost.push(late);
        }
        assert_eq!(a.skipped_message_keys(), MAX_SKIPPED_CHAINS);
        let before = snap(&a);
        for m in &lost[..4] {
            assert_eq!(a.decrypt(m).unwrap_err(), Error::DecryptionFailed);
        }
        assert_eq!(snap(&a), before);
        for m in &lost[4..] {
            assert_eq!(a.decrypt(m).unwrap(), b"late");
        }
    }
}

#[test]
fn missing_and_mismatched_prekeys() {
    let (alice, bob) = (id(1), id(2));
    let pq_store = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    let mut classic = PrekeyStore::generate_with_options(&bob, small(false), NOW).unwrap();
    // A PQXDH message naming an ML-KEM prekey the (classic) store never had.
    let m = Session::initiate(&alice, bob.public(), &pq_store.bundle()).unwrap().encrypt(b"x").unwrap();
    assert_eq!(Session::accept(&bob, &mut classic, &m).unwrap_err(), Error::UnknownPrekey("KEM prekey"));
    // A signed prekey id the store does not hold.
    let mut t = m.clone();
    let spk_at = 9 + 134 + 32;
    t[spk_at..spk_at + 4].copy_from_slice(&99u32.to_be_bytes());
    let mut pq = PrekeyStore::open(&pq_store.seal(&KEY).unwrap(), &KEY).unwrap();
    assert_eq!(Session::accept(&bob, &mut pq, &t).unwrap_err(), Error::UnknownPrekey("signed prekey"));
    // Another store of the same identity: same ids, other keys → authentication fails.
    let mut other = PrekeyStore::generate_with_options(&bob, small(true), NOW).unwrap();
    assert_eq!(Session::accept(&bob, &mut other, &m).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(other.one_time_prekey_count(), 3);
    // A post-quantum bundle trimmed to nothing but the signed prekey is not a valid bundle.
    let b = pq_store.bundle();
    assert!(b.select(None, Some(999)).is_err());
    // Randomness running out is an error, not a panic.
    let e = Session::initiate_with_entropy(
        &alice,
        bob.public(),
        &b,
        SessionOptions::default(),
        &mut ByteTape::new(&[0u8; 40]),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidParameter);
}
