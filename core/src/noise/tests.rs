//! Unit tests that need crate internals (nonce counters near 2^64).

use super::*;
use crate::error::{Error, ErrorKind};

fn transports() -> (Transport, Transport) {
    let b = NoiseBuilder::new("Noise_NN_25519_ChaChaPoly_SHA256").unwrap();
    let mut i = b.build_initiator().unwrap();
    let mut r = b.build_responder().unwrap();
    r.read_message(&i.write_message(b"").unwrap()).unwrap();
    i.read_message(&r.write_message(b"").unwrap()).unwrap();
    (i.into_transport().unwrap(), r.into_transport().unwrap())
}

#[test]
fn nonce_exhaustion_is_typed_and_final() {
    let (mut a, mut b) = transports();
    a.set_nonces_for_test(u64::MAX - 2);
    b.set_nonces_for_test(u64::MAX - 2);
    for _ in 0..2 {
        let m = a.encrypt(b"near the end").unwrap();
        assert_eq!(b.decrypt(&m).unwrap(), b"near the end");
    }
    assert_eq!(a.sending_nonce(), Some(u64::MAX));
    assert_eq!(a.encrypt(b"one too many").unwrap_err(), Error::NonceExhausted);
    assert_eq!(a.encrypt(b"still").unwrap_err(), Error::NonceExhausted);
    assert_eq!(b.decrypt(&[0u8; 32]).unwrap_err(), Error::NonceExhausted);
    // Framing reports it too, without consuming anything.
    assert_eq!(a.encrypt_framed(b"x").unwrap_err(), Error::NonceExhausted);
    // Rekey is still possible (it uses the reserved nonce internally) but does not reset n.
    a.rekey_outgoing().unwrap();
    assert_eq!(a.encrypt(b"x").unwrap_err(), Error::NonceExhausted);
}

#[test]
fn unordered_sender_exhaustion() {
    let b = NoiseBuilder::new("Noise_NN_25519_AESGCM_BLAKE2b").unwrap();
    let mut i = b.build_initiator().unwrap();
    let mut r = b.build_responder().unwrap();
    r.read_message(&i.write_message(b"").unwrap()).unwrap();
    i.read_message(&r.write_message(b"").unwrap()).unwrap();
    let mut a = i.into_unordered_transport().unwrap();
    let mut z = r.into_unordered_transport().unwrap();
    a.set_sending_nonce_for_test(u64::MAX - 1);
    let m = a.encrypt(b"last").unwrap();
    assert_eq!(&m[..8], &(u64::MAX - 1).to_be_bytes());
    assert_eq!(z.decrypt(&m).unwrap(), b"last");
    assert_eq!(a.encrypt(b"x").unwrap_err(), Error::NonceExhausted);
}

#[test]
fn error_codes_are_unique_and_complete() {
    let mut codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
    let n = codes.len();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), n);
    for e in [
        Error::MessageTooLarge { actual: 1, limit: 0 },
        Error::OutOfTurn("x"),
        Error::RemoteKeyMismatch,
        Error::HandshakeComplete,
        Error::HandshakeIncomplete("x"),
        Error::NonceExhausted,
        Error::Replay("x"),
    ] {
        assert!(ErrorKind::ALL.contains(&e.kind()));
        assert!(!e.kind().is_decode());
    }
}
