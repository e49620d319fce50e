#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::error::Error;
use crate::ratchet::{PrekeyOptions, PrekeyStore};
use crate::Identity;

fn ident(n: u8) -> Identity {
    Identity::from_secret_bytes(&[n; 32], &[n.wrapping_add(100); 32])
}

#[test]
fn mailbox_keys_are_deterministic_per_identity_and_epoch() {
    let a = ident(1);
    let k0 = MailboxKeys::derive(&a, 0).unwrap();
    assert_eq!(k0.address(), MailboxKeys::derive(&a, 0).unwrap().address());
    assert_ne!(k0.address(), MailboxKeys::derive(&a, 1).unwrap().address());
    assert_ne!(k0.address(), MailboxKeys::derive(&ident(2), 0).unwrap().address());
    // The address is neither identity key, and hashes the mailbox signing key.
    assert_ne!(&k0.address(), a.public().ed25519_bytes());
    assert_ne!(&k0.signing_public(), a.public().ed25519_bytes());
    assert_eq!(k0.address(), mailbox_address(&k0.signing_public()));
    assert_eq!(format!("{k0:?}"), "MailboxKeys(..)");
}

#[test]
fn descriptor_round_trip_and_binding_to_owner() {
    let a = ident(1);
    let keys = MailboxKeys::derive(&a, 0).unwrap();
    let d = keys.descriptor(&a);
    let bytes = d.to_bytes();
    assert_eq!(bytes.len(), DESCRIPTOR_LEN);
    assert_eq!(&bytes[..5], b"SWMD\x01");
    let back = MailboxDescriptor::from_bytes(&bytes, a.public()).unwrap();
    assert_eq!(back, d);
    assert_eq!(back.address(), keys.address());
    // Another identity did not sign it.
    assert_eq!(MailboxDescriptor::from_bytes(&bytes, ident(2).public()), Err(Error::BadSignature));
    // Any flipped byte fails.
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        assert!(MailboxDescriptor::from_bytes(&b, a.public()).is_err(), "byte {i}");
    }
    assert!(matches!(MailboxDescriptor::from_bytes(&bytes[..132], a.public()), Err(Error::Truncated(_))));
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(MailboxDescriptor::from_bytes(&long, a.public()), Err(Error::TrailingBytes(_))));
}

#[test]
fn sealed_messages_open_only_for_their_mailbox() {
    let a = ident(1);
    let keys = MailboxKeys::derive(&a, 0).unwrap();
    let d = keys.descriptor(&a);
    let sealed = d.seal(b"SWRM ratchet bytes").unwrap();
    assert_eq!(&sealed[..5], b"SWMM\x01");
    assert_eq!(sealed.len(), MIN_SEALED_MESSAGE_LEN + 18);
    assert_eq!(keys.open(&sealed).unwrap(), b"SWRM ratchet bytes");
    // Fresh ephemeral key every time.
    assert_ne!(d.seal(b"SWRM ratchet bytes").unwrap(), sealed);
    // Another mailbox (other epoch) cannot open it.
    assert_eq!(MailboxKeys::derive(&a, 1).unwrap().open(&sealed), Err(Error::DecryptionFailed));
    for i in 0..sealed.len() {
        let mut s = sealed.clone();
        s[i] ^= 0x80;
        assert!(keys.open(&s).is_err(), "byte {i}");
    }
    assert!(check_sealed_message(&sealed[..MIN_SEALED_MESSAGE_LEN - 1]).is_err());
    assert!(check_sealed_message(b"SWRMxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").is_err());
    assert!(check_sealed_message(&sealed).is_ok());
    // Deterministic sealing (vectors) is reproducible.
    let s1 = d.seal_deterministic_for_vectors(b"x", &[9; 32]).unwrap();
    assert_eq!(s1, d.seal_deterministic_for_vectors(b"x", &[9; 32]).unwrap());
    assert_eq!(keys.open(&s1).unwrap(), b"x");
}

#[test]
fn deposit_ids_depend_on_address_and_message_only() {
    let ad1 = [1u8; 32];
    let ad2 = [2u8; 32];
    assert_eq!(deposit_id(&ad1, b"m"), deposit_id(&ad1, b"m"));
    assert_ne!(deposit_id(&ad1, b"m"), deposit_id(&ad2, b"m"));
    assert_ne!(deposit_id(&ad1, b"m"), deposit_id(&ad1, b"n"));
}

#[test]
fn request_signatures_cover_every_field() {
    let a = ident(1);
    let body = b"{\"x\":1}";
    let auth = sign_request(RequestSigner::Identity(&a), "PUT", "/v1/bundles/ab", body, 1_700_000_000).unwrap();
    assert_eq!(&auth.key, a.public().ed25519_bytes());
    auth.verify("PUT", "/v1/bundles/ab", body).unwrap();
    assert_eq!(auth.verify("POST", "/v1/bundles/ab", body), Err(Error::BadSignature));
    assert_eq!(auth.verify("PUT", "/v1/bundles/ac", body), Err(Error::BadSignature));
    assert_eq!(auth.verify("PUT", "/v1/bundles/ab", b"{\"x\":2}"), Err(Error::BadSignature));
    let mut t = auth.clone();
    t.timestamp += 1;
    assert_eq!(t.verify("PUT", "/v1/bundles/ab", body), Err(Error::BadSignature));
    let mut n = auth.clone();
    n.nonce[0] ^= 1;
    assert_eq!(n.verify("PUT", "/v1/bundles/ab", body), Err(Error::BadSignature));
    // Headers round trip, strictly.
    let [k, ts, nonce, sig] = auth.header_values();
    assert_eq!(RequestAuth::from_headers(&k, &ts, &nonce, &sig).unwrap(), auth);
    assert!(RequestAuth::from_headers(&k.to_uppercase(), &ts, &nonce, &sig).is_err());
    assert!(RequestAuth::from_headers(&k, &format!("0{ts}"), &nonce, &sig).is_err());
    assert!(RequestAuth::from_headers(&k, "-1", &nonce, &sig).is_err());
    assert!(RequestAuth::from_headers(&k, &ts, &nonce[2..], &sig).is_err());
    // Mailbox keys sign with their own key.
    let m = MailboxKeys::derive(&a, 0).unwrap();
    let ma = sign_request(RequestSigner::Mailbox(&m), "GET", "/v1/mailboxes/x/messages?after=0", b"", 5).unwrap();
    assert_eq!(ma.key, m.signing_public());
    ma.verify("GET", "/v1/mailboxes/x/messages?after=0", b"").unwrap();
    // The signed bytes carry the reserved prefix: an application signature can never be one.
    let bytes = signing_bytes("GET", "/v1/health", b"", 1, &[0; 16], &[0; 32]).unwrap();
    assert!(bytes.starts_with(b"SEALWIRE\x00relay-request-v1\x00GET\n/v1/health\n"));
    assert!(a.sign(&bytes).is_err());
    assert!(signing_bytes("get", "/x", b"", 1, &[0; 16], &[0; 32]).is_err());
    assert!(signing_bytes("GET", "/x y", b"", 1, &[0; 16], &[0; 32]).is_err());
    assert!(signing_bytes("GET", "/x\n", b"", 1, &[0; 16], &[0; 32]).is_err());
}

#[test]
fn signing_bytes_are_byte_exact() {
    let bytes = signing_bytes("DELETE", "/v1/mailboxes/aa/messages/7", b"", 1_700_000_000, &[0xab; 16], &[0x01; 32]).unwrap();
    let expected = format!(
        "SEALWIRE\0relay-request-v1\0DELETE\n/v1/mailboxes/aa/messages/7\n{}\n1700000000\n{}\n{}",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "ab".repeat(16),
        "01".repeat(32)
    );
    assert_eq!(bytes, expected.as_bytes());
}

#[test]
fn bundle_parts_reassemble_select_byte_for_byte() {
    let a = ident(3);
    for pq in [true, false] {
        let opts = PrekeyOptions { one_time_prekeys: 4, kem_one_time_prekeys: 3, post_quantum: pq };
        let store = PrekeyStore::generate_with_options(&a, opts, 0).unwrap();
        let bundle = store.bundle();
        let parts = BundleParts::split(&bundle);
        assert_eq!(&parts.owner, a.public().ed25519_bytes());
        assert_eq!(parts.post_quantum, pq);
        assert_eq!(parts.one_time.len(), 4);
        assert_eq!(parts.kem_one_time.len(), if pq { 3 } else { 0 });
        assert_eq!(parts.kem_last_resort.is_some(), pq);
        // Claimed one-time key of each kind.
        let ot = &parts.one_time[1];
        let kem = parts.kem_one_time.first();
        let bytes = BundleParts::assemble(&parts.head, Some(&ot.1), kem.map(|k| k.1.as_slice())).unwrap();
        assert_eq!(bytes, bundle.select(Some(ot.0), kem.map(|k| k.0)).unwrap().to_bytes());
        crate::ratchet::PrekeyBundle::from_bytes(&bytes).unwrap();
        // Exhausted: no one-time key, the last-resort KEM key.
        let bytes = BundleParts::assemble(&parts.head, None, parts.kem_last_resort.as_deref()).unwrap();
        assert_eq!(bytes, bundle.select(None, None).unwrap().to_bytes());
        crate::ratchet::PrekeyBundle::from_bytes(&bytes).unwrap();
    }
}
