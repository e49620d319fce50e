//! Tests of the C layer itself (the C programs in tests/c cover the ABI from the outside).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use core::ffi::CStr;
use core::ptr;
use std::collections::HashSet;

use sealwire_core::ErrorKind;

use super::*;
use crate::panic::{guard, guard_result};

fn code_str(r: sealwire_result) -> &'static str {
    // SAFETY: the function always returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(sealwire_result_code_string(r as u32)) }
        .to_str()
        .unwrap()
}

#[test]
fn every_kind_has_its_own_code() {
    let mut seen = HashSet::new();
    for kind in ErrorKind::ALL {
        let r = sealwire_result::from_kind(kind);
        assert_ne!(r, sealwire_result::INTERNAL_ERROR, "{kind:?} has no C code");
        assert!(seen.insert(r), "{kind:?} shares code {r:?}");
        assert_eq!(code_str(r), kind.code(), "code string of {kind:?}");
        let group = r as u32 / 1000;
        if kind.is_decode() {
            assert_eq!(group, 2, "{kind:?} is a decode error");
        } else {
            assert!(matches!(group, 1 | 3 | 4 | 5), "{kind:?} in group {group}");
        }
    }
}

/// Every result number is pinned: C programs compile them in, so they never change.
#[test]
fn every_code_number_is_pinned() {
    use sealwire_result as R;
    let pinned: [(R, u32, &str); 57] = [
        (R::OK, 0, "OK"),
        (R::NULL_POINTER, 1000, "ERR_SEALWIRE_NULL_POINTER"),
        (R::BUFFER_TOO_SMALL, 1001, "ERR_SEALWIRE_BUFFER_TOO_SMALL"),
        (R::INVALID_UTF8, 1002, "ERR_SEALWIRE_INVALID_UTF8"),
        (R::PANIC, 1003, "ERR_SEALWIRE_PANIC"),
        (R::INVALID_PARAMETER, 1004, "ERR_SEALWIRE_INVALID_PARAMETER"),
        (R::INVALID_STATE, 1005, "ERR_SEALWIRE_INVALID_STATE"),
        (R::TRUNCATED, 2000, "ERR_SEALWIRE_TRUNCATED"),
        (R::TRAILING_BYTES, 2001, "ERR_SEALWIRE_TRAILING_BYTES"),
        (R::INVALID_LENGTH, 2002, "ERR_SEALWIRE_INVALID_LENGTH"),
        (R::BAD_MAGIC, 2003, "ERR_SEALWIRE_BAD_MAGIC"),
        (R::UNSUPPORTED_VERSION, 2004, "ERR_SEALWIRE_UNSUPPORTED_VERSION"),
        (R::UNSUPPORTED_ALGORITHM, 2005, "ERR_SEALWIRE_UNSUPPORTED_ALGORITHM"),
        (R::MALFORMED, 2006, "ERR_SEALWIRE_MALFORMED"),
        (R::INVALID_ENCODING, 2007, "ERR_SEALWIRE_INVALID_ENCODING"),
        (R::INVALID_PUBLIC_KEY, 3000, "ERR_SEALWIRE_INVALID_PUBLIC_KEY"),
        (R::BAD_SIGNATURE, 3001, "ERR_SEALWIRE_BAD_SIGNATURE"),
        (R::NON_CONTRIBUTORY, 3002, "ERR_SEALWIRE_NON_CONTRIBUTORY"),
        (R::DECRYPTION_FAILED, 3003, "ERR_SEALWIRE_DECRYPTION_FAILED"),
        (R::RANDOMNESS, 3004, "ERR_SEALWIRE_RANDOMNESS"),
        (R::REMOTE_KEY_MISMATCH, 3005, "ERR_SEALWIRE_REMOTE_KEY_MISMATCH"),
        (R::REPLAY, 3006, "ERR_SEALWIRE_REPLAY"),
        (R::COMMITMENT_MISMATCH, 3007, "ERR_SEALWIRE_COMMITMENT_MISMATCH"),
        (R::HEADER_AUTH_FAILED, 3008, "ERR_SEALWIRE_HEADER_AUTH_FAILED"),
        (R::CONTEXT_MISMATCH, 3009, "ERR_SEALWIRE_CONTEXT_MISMATCH"),
        (R::IDENTITY_MISMATCH, 3010, "ERR_SEALWIRE_IDENTITY_MISMATCH"),
        (R::STALE_STATE, 3011, "ERR_SEALWIRE_STALE_STATE"),
        (R::PREKEY_ALREADY_USED, 3012, "ERR_SEALWIRE_PREKEY_ALREADY_USED"),
        (R::MESSAGE_TOO_LARGE, 4000, "ERR_SEALWIRE_MESSAGE_TOO_LARGE"),
        (R::OUT_OF_TURN, 4001, "ERR_SEALWIRE_OUT_OF_TURN"),
        (R::HANDSHAKE_COMPLETE, 4002, "ERR_SEALWIRE_HANDSHAKE_COMPLETE"),
        (R::HANDSHAKE_INCOMPLETE, 4003, "ERR_SEALWIRE_HANDSHAKE_INCOMPLETE"),
        (R::NONCE_EXHAUSTED, 4004, "ERR_SEALWIRE_NONCE_EXHAUSTED"),
        (R::TOO_MANY_SKIPPED_MESSAGES, 4005, "ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES"),
        (R::SESSION_MISMATCH, 4006, "ERR_SEALWIRE_SESSION_MISMATCH"),
        (R::IO, 5000, "ERR_SEALWIRE_IO"),
        (R::NO_MATCHING_KEY, 5001, "ERR_SEALWIRE_NO_MATCHING_KEY"),
        (R::KEY_NOT_FOUND, 5002, "ERR_SEALWIRE_KEY_NOT_FOUND"),
        (R::KEY_RETIRED, 5003, "ERR_SEALWIRE_KEY_RETIRED"),
        (R::PROVIDER_FAILED, 5004, "ERR_SEALWIRE_PROVIDER_FAILED"),
        (R::UNKNOWN_PREKEY, 5005, "ERR_SEALWIRE_UNKNOWN_PREKEY"),
        (R::STORAGE, 5006, "ERR_SEALWIRE_STORAGE"),
        (R::STORE_CONFLICT, 5007, "ERR_SEALWIRE_STORE_CONFLICT"),
        (R::NO_SESSION, 4007, "ERR_SEALWIRE_NO_SESSION"),
        (R::KMS_AUTH_FAILED, 5008, "ERR_SEALWIRE_KMS_AUTH_FAILED"),
        (R::KMS_KEY_NOT_FOUND, 5009, "ERR_SEALWIRE_KMS_KEY_NOT_FOUND"),
        (R::KMS_KEY_DISABLED, 5010, "ERR_SEALWIRE_KMS_KEY_DISABLED"),
        (R::KMS_UNAVAILABLE, 5011, "ERR_SEALWIRE_KMS_UNAVAILABLE"),
        (R::KMS_TIMEOUT, 5012, "ERR_SEALWIRE_KMS_TIMEOUT"),
        (R::KMS_THROTTLED, 5013, "ERR_SEALWIRE_KMS_THROTTLED"),
        (R::RELAY_REJECTED, 5014, "ERR_SEALWIRE_RELAY_REJECTED"),
        (R::RELAY_AUTH_FAILED, 5015, "ERR_SEALWIRE_RELAY_AUTH_FAILED"),
        (R::RELAY_NOT_FOUND, 5016, "ERR_SEALWIRE_RELAY_NOT_FOUND"),
        (R::RELAY_MAILBOX_FULL, 5017, "ERR_SEALWIRE_RELAY_MAILBOX_FULL"),
        (R::RELAY_UNAVAILABLE, 5018, "ERR_SEALWIRE_RELAY_UNAVAILABLE"),
        (R::RELAY_TIMEOUT, 5019, "ERR_SEALWIRE_RELAY_TIMEOUT"),
        (R::INTERNAL_ERROR, 9000, "ERR_SEALWIRE_INTERNAL"),
    ];
    assert_eq!(pinned.len(), R::ALL.len(), "a code was added: pin it here");
    for (r, number, string) in pinned {
        assert_eq!(r as u32, number, "{r:?}");
        assert_eq!(code_str(r), string, "{r:?}");
        assert!(R::ALL.contains(&r), "{r:?} missing from ALL");
    }
    // The envelope and ratchet kinds, by kind (the mapping of the 14 kinds core added).
    for (kind, number) in [
        (ErrorKind::Io, 5000),
        (ErrorKind::CommitmentMismatch, 3007),
        (ErrorKind::HeaderAuthFailed, 3008),
        (ErrorKind::ContextMismatch, 3009),
        (ErrorKind::NoMatchingKey, 5001),
        (ErrorKind::KeyRetired, 5003),
        (ErrorKind::KeyNotFound, 5002),
        (ErrorKind::ProviderFailed, 5004),
        (ErrorKind::UnknownPrekey, 5005),
        (ErrorKind::PrekeyAlreadyUsed, 3012),
        (ErrorKind::TooManySkippedMessages, 4005),
        (ErrorKind::StaleState, 3011),
        (ErrorKind::IdentityMismatch, 3010),
        (ErrorKind::SessionMismatch, 4006),
        (ErrorKind::Storage, 5006),
        (ErrorKind::StoreConflict, 5007),
        (ErrorKind::NoSession, 4007),
        (ErrorKind::KmsAuthFailed, 5008),
        (ErrorKind::KmsKeyNotFound, 5009),
        (ErrorKind::KmsKeyDisabled, 5010),
        (ErrorKind::KmsUnavailable, 5011),
        (ErrorKind::KmsTimeout, 5012),
        (ErrorKind::KmsThrottled, 5013),
        (ErrorKind::RelayRejected, 5014),
        (ErrorKind::RelayAuthFailed, 5015),
        (ErrorKind::RelayNotFound, 5016),
        (ErrorKind::RelayMailboxFull, 5017),
        (ErrorKind::RelayUnavailable, 5018),
        (ErrorKind::RelayTimeout, 5019),
    ] {
        assert_eq!(R::from_kind(kind) as u32, number, "{kind:?}");
    }
    assert_eq!(ErrorKind::ALL.len(), 50);
}

#[test]
fn codes_and_strings_are_unique() {
    let numbers: HashSet<u32> = sealwire_result::ALL.iter().map(|r| *r as u32).collect();
    let strings: HashSet<&str> = sealwire_result::ALL.iter().map(|r| code_str(*r)).collect();
    assert_eq!(numbers.len(), sealwire_result::ALL.len());
    assert_eq!(strings.len(), sealwire_result::ALL.len());
    for r in sealwire_result::ALL {
        assert_eq!(sealwire_result::from_u32(r as u32), Some(r));
        // SAFETY: static NUL-terminated string.
        let msg = unsafe { CStr::from_ptr(sealwire_result_message(r as u32)) };
        assert!(!msg.to_bytes().is_empty());
    }
    assert_eq!(code_str(sealwire_result::OK), "OK");
    // SAFETY: static NUL-terminated string.
    let unknown = unsafe { CStr::from_ptr(sealwire_result_code_string(4242)) };
    assert_eq!(unknown.to_str().unwrap(), "ERR_SEALWIRE_UNKNOWN_RESULT");
}

#[test]
fn panic_inside_the_boundary_becomes_sealwire_panic() {
    let r = guard_result(|| panic!("deliberate test panic"));
    assert_eq!(r, sealwire_result::PANIC);
    assert_eq!(code_str(r), "ERR_SEALWIRE_PANIC");
    // Value-returning functions fall back to their documented neutral value.
    assert!(!guard(false, || -> bool { panic!("deliberate test panic") }));
    // And an out-parameter filled after the panic point is never written.
    let mut out: *mut sealwire_identity = ptr::null_mut();
    let r = guard_result(|| {
        let out = crate::ptr::Out::new(&mut out as *mut _)?;
        let inner = sealwire_core::Identity::from_secret_bytes(&[1; 32], &[2; 32]);
        if inner.public().did().starts_with("did:") {
            panic!("deliberate test panic");
        }
        // SAFETY: `out` points at a local.
        unsafe { crate::ptr::write_handle(out, sealwire_identity::new(inner)) };
        Ok(())
    });
    assert_eq!(r, sealwire_result::PANIC);
    assert!(out.is_null());
}

#[test]
fn constants_match_core() {
    let p = sealwire_core::KdfParams::MINIMUM;
    assert_eq!(p.memory_kib(), SEALWIRE_KDF_MIN_MEMORY_KIB);
    assert_eq!(p.iterations(), SEALWIRE_KDF_MIN_ITERATIONS);
    assert_eq!(p.lanes(), SEALWIRE_KDF_MIN_LANES);
    let d = sealwire_core::KdfParams::default();
    assert_eq!(
        (d.memory_kib(), d.iterations(), d.lanes()),
        (SEALWIRE_KDF_DEFAULT_MEMORY_KIB, SEALWIRE_KDF_DEFAULT_ITERATIONS, SEALWIRE_KDF_DEFAULT_LANES)
    );
    let id = sealwire_core::Identity::generate().unwrap();
    assert!(id.public().did().len() < SEALWIRE_DID_BUFFER_LEN);
    assert_eq!(id.public().fingerprint().len() + 1, SEALWIRE_FINGERPRINT_BUFFER_LEN);
    // SAFETY: static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(sealwire_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn round_trip_through_the_c_functions() {
    // SAFETY (whole test): every pointer passed points at a live local of the right size.
    unsafe {
        let mut id: *mut sealwire_identity = ptr::null_mut();
        assert_eq!(
            sealwire_identity_from_secret_bytes([7u8; 32].as_ptr(), 32, [9u8; 32].as_ptr(), 32, &mut id),
            sealwire_result::OK
        );
        let mut public: *mut sealwire_public_identity = ptr::null_mut();
        assert_eq!(sealwire_identity_public(id, &mut public), sealwire_result::OK);

        // Length query, then the real call.
        let mut written = 0usize;
        assert_eq!(
            sealwire_public_identity_to_bytes(public, ptr::null_mut(), 0, &mut written),
            sealwire_result::BUFFER_TOO_SMALL
        );
        assert_eq!(written, SEALWIRE_PUBLIC_IDENTITY_LEN);
        let mut bytes = vec![0u8; written];
        assert_eq!(
            sealwire_public_identity_to_bytes(public, bytes.as_mut_ptr(), bytes.len(), &mut written),
            sealwire_result::OK
        );
        let mut parsed: *mut sealwire_public_identity = ptr::null_mut();
        assert_eq!(
            sealwire_public_identity_from_bytes(bytes.as_ptr(), bytes.len(), &mut parsed),
            sealwire_result::OK
        );
        assert!(sealwire_public_identity_equal(public, parsed));

        let mut sig = [0u8; SEALWIRE_SIGNATURE_LEN];
        assert_eq!(
            sealwire_identity_sign(id, b"hi".as_ptr(), 2, sig.as_mut_ptr(), sig.len(), &mut written),
            sealwire_result::OK
        );
        assert_eq!(
            sealwire_public_identity_verify(parsed, b"hi".as_ptr(), 2, sig.as_ptr(), sig.len()),
            sealwire_result::OK
        );
        assert_eq!(
            sealwire_public_identity_verify(parsed, b"ho".as_ptr(), 2, sig.as_ptr(), sig.len()),
            sealwire_result::BAD_SIGNATURE
        );

        let mut did = [0 as c_char; SEALWIRE_DID_BUFFER_LEN];
        assert_eq!(
            sealwire_public_identity_did(parsed, did.as_mut_ptr(), did.len(), &mut written),
            sealwire_result::OK
        );
        let did = CStr::from_ptr(did.as_ptr()).to_str().unwrap();
        assert_eq!(written, did.len() + 1);
        assert!(did.starts_with("did:key:z6Mk"));

        let (mut blob, mut blob_len) = (ptr::null_mut(), 0usize);
        let m = SEALWIRE_KDF_MIN_MEMORY_KIB;
        assert_eq!(
            sealwire_identity_export_with_params(id, b"pw".as_ptr(), 2, m, 2, 1, &mut blob, &mut blob_len),
            sealwire_result::OK
        );
        let mut back: *mut sealwire_identity = ptr::null_mut();
        assert_eq!(
            sealwire_identity_import(blob, blob_len, b"px".as_ptr(), 2, &mut back),
            sealwire_result::DECRYPTION_FAILED
        );
        assert!(back.is_null());
        assert_eq!(
            sealwire_identity_import(blob, blob_len, b"pw".as_ptr(), 2, &mut back),
            sealwire_result::OK
        );
        sealwire_bytes_free(blob, blob_len);

        sealwire_identity_free(back);
        sealwire_public_identity_free(parsed);
        sealwire_public_identity_free(public);
        sealwire_identity_free(id);
        sealwire_identity_free(ptr::null_mut());
        sealwire_public_identity_free(ptr::null_mut());
        sealwire_bytes_free(ptr::null_mut(), 0);
    }
}

/// Every Noise protocol-state kind is in the 4xxx range, and the security checks in 3xxx.
#[test]
fn noise_codes_are_grouped() {
    use sealwire_result as R;
    for (kind, code) in [
        (ErrorKind::RemoteKeyMismatch, 3005),
        (ErrorKind::Replay, 3006),
        (ErrorKind::MessageTooLarge, 4000),
        (ErrorKind::OutOfTurn, 4001),
        (ErrorKind::HandshakeComplete, 4002),
        (ErrorKind::HandshakeIncomplete, 4003),
        (ErrorKind::NonceExhausted, 4004),
    ] {
        assert_eq!(R::from_kind(kind) as u32, code, "{kind:?}");
    }
}

/// A panic inside `Slot::with_mut` poisons the slot for good; an ordinary error does not.
#[test]
fn a_panic_poisons_a_slot() {
    let mut slot = crate::slot::Slot::new(5u32);
    assert_eq!(slot.with_mut(|_| Err::<(), _>(sealwire_result::DECRYPTION_FAILED)), Err(sealwire_result::DECRYPTION_FAILED));
    assert_eq!(slot.with_mut(|v| Ok(*v)), Ok(5));
    let r = guard_result(|| slot.with_mut(|_| panic!("deliberate test panic")));
    assert_eq!(r, sealwire_result::PANIC);
    assert_eq!(slot.get().err(), Some(sealwire_result::PANIC));
    assert_eq!(slot.with_mut(|v| Ok(*v)), Err(sealwire_result::PANIC));
    assert_eq!(slot.take().err(), Some(sealwire_result::PANIC));
    assert!(!slot.is_taken());
    let mut slot = crate::slot::Slot::new(1u8);
    assert_eq!(slot.take(), Ok(1));
    assert!(slot.is_taken());
    assert_eq!(slot.get().err(), Some(sealwire_result::HANDSHAKE_COMPLETE));
}

/// Drive an NN handshake and transport through the C functions: length queries change
/// nothing, the handshake handle is emptied (not freed) by into_transport.
#[test]
fn noise_round_trip_through_the_c_functions() {
    // SAFETY (whole test): every pointer passed points at a live local of the right size.
    unsafe {
        let mut b: *mut sealwire_noise_builder = ptr::null_mut();
        let name = c"Noise_NN_25519_ChaChaPoly_SHA256";
        assert_eq!(sealwire_noise_builder_new(name.as_ptr(), &mut b), sealwire_result::OK);
        let (mut i, mut r) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(sealwire_noise_builder_build(b, SEALWIRE_NOISE_INITIATOR, &mut i), sealwire_result::OK);
        assert_eq!(sealwire_noise_builder_build(b, SEALWIRE_NOISE_RESPONDER, &mut r), sealwire_result::OK);
        let mut bogus = ptr::null_mut();
        assert_eq!(sealwire_noise_builder_build(b, 2, &mut bogus), sealwire_result::INVALID_PARAMETER);
        assert!(bogus.is_null());
        sealwire_noise_builder_free(b);

        let mut need = 0usize;
        assert_eq!(
            sealwire_noise_handshake_write_message(i, b"hi".as_ptr(), 2, ptr::null_mut(), 0, &mut need),
            sealwire_result::BUFFER_TOO_SMALL
        );
        assert_eq!(need, 32 + 2);
        assert!(sealwire_noise_handshake_is_my_turn(i));
        let mut m1 = vec![0u8; need];
        let mut n = 0usize;
        assert_eq!(
            sealwire_noise_handshake_write_message(i, b"hi".as_ptr(), 2, m1.as_mut_ptr(), m1.len(), &mut n),
            sealwire_result::OK
        );
        assert_eq!(n, need);
        assert!(!sealwire_noise_handshake_is_my_turn(i));
        let mut p = [0u8; 8];
        assert_eq!(
            sealwire_noise_handshake_read_message(r, m1.as_ptr(), m1.len(), ptr::null_mut(), 0, &mut n),
            sealwire_result::BUFFER_TOO_SMALL
        );
        assert_eq!(n, 2);
        assert_eq!(
            sealwire_noise_handshake_read_message(r, m1.as_ptr(), m1.len(), p.as_mut_ptr(), p.len(), &mut n),
            sealwire_result::OK
        );
        assert_eq!(&p[..n], b"hi");
        let mut m2 = [0u8; 64];
        assert_eq!(
            sealwire_noise_handshake_write_message(r, ptr::null(), 0, m2.as_mut_ptr(), m2.len(), &mut n),
            sealwire_result::OK
        );
        assert_eq!(n, 48);
        let mut empty = [0u8; 1];
        // Empty payload: NULL out is still a query; a non-NULL pointer with length 0 reads it.
        assert_eq!(
            sealwire_noise_handshake_read_message(i, m2.as_ptr(), 48, ptr::null_mut(), 0, &mut n),
            sealwire_result::BUFFER_TOO_SMALL
        );
        assert_eq!(n, 0);
        assert_eq!(
            sealwire_noise_handshake_read_message(i, m2.as_ptr(), 48, empty.as_mut_ptr(), 0, &mut n),
            sealwire_result::OK
        );
        assert!(sealwire_noise_handshake_is_finished(i) && sealwire_noise_handshake_is_finished(r));

        let (mut ti, mut tr) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(sealwire_noise_handshake_into_transport(i, &mut ti), sealwire_result::OK);
        assert_eq!(sealwire_noise_handshake_into_transport(r, &mut tr), sealwire_result::OK);
        // The emptied handshakes are still valid handles.
        assert!(sealwire_noise_handshake_is_finished(i));
        assert!(!sealwire_noise_handshake_is_my_turn(i));
        let mut again = ptr::null_mut();
        assert_eq!(sealwire_noise_handshake_into_transport(i, &mut again), sealwire_result::HANDSHAKE_COMPLETE);
        let mut h = [0u8; SEALWIRE_NOISE_MAX_HASH_LEN];
        assert_eq!(sealwire_noise_handshake_hash(i, h.as_mut_ptr(), h.len(), &mut n), sealwire_result::HANDSHAKE_COMPLETE);
        sealwire_noise_handshake_free(i);
        sealwire_noise_handshake_free(r);

        let mut c = [0u8; 32];
        assert_eq!(
            sealwire_noise_transport_encrypt(ti, b"abc".as_ptr(), 3, ptr::null_mut(), 0, &mut n),
            sealwire_result::BUFFER_TOO_SMALL
        );
        assert_eq!(n, 3 + SEALWIRE_NOISE_TAG_LEN);
        assert_eq!(sealwire_noise_transport_encrypt(ti, b"abc".as_ptr(), 3, c.as_mut_ptr(), c.len(), &mut n), sealwire_result::OK);
        let mut out = [0u8; 3];
        assert_eq!(sealwire_noise_transport_decrypt(tr, c.as_ptr(), n, out.as_mut_ptr(), 3, &mut n), sealwire_result::OK);
        assert_eq!(&out, b"abc");
        sealwire_noise_transport_free(ti);
        sealwire_noise_transport_free(tr);
        sealwire_noise_transport_free(ptr::null_mut());
        sealwire_noise_unordered_transport_free(ptr::null_mut());
        sealwire_noise_handshake_free(ptr::null_mut());
        sealwire_noise_builder_free(ptr::null_mut());
    }
}

/// Seal/open, streaming in odd chunk sizes, truncation, rewrap and inspection through the C
/// functions (the C programs cover the same from the outside, and the vectors).
#[test]
fn envelope_round_trip_through_the_c_functions() {
    use crate::key_set::sealwire_key_set;
    // SAFETY (whole test): every pointer passed points at a live local of the right size.
    unsafe {
        let mut ring: *mut sealwire_keyring = ptr::null_mut();
        assert_eq!(sealwire_keyring_new(&mut ring), sealwire_result::OK);
        let mut v = 0u32;
        assert_eq!(sealwire_keyring_create_key(ring, c"orders".as_ptr(), &mut v), sealwire_result::OK);
        assert_eq!(v, 1);
        let mut ks: *mut sealwire_key_set = ptr::null_mut();
        assert_eq!(sealwire_key_set_new(&mut ks), sealwire_result::OK);
        assert_eq!(sealwire_key_set_add_keyring(ks, ring), sealwire_result::OK);
        let mut ctx: *mut sealwire_context = ptr::null_mut();
        assert_eq!(sealwire_context_new(&mut ctx), sealwire_result::OK);
        assert_eq!(sealwire_context_insert(ctx, b"tenant".as_ptr(), 6, b"acme".as_ptr(), 4), sealwire_result::OK);
        assert_eq!(sealwire_context_insert(ctx, [0xffu8].as_ptr(), 1, ptr::null(), 0), sealwire_result::INVALID_UTF8);

        let plaintext: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let (mut sealed, mut sealed_len) = (ptr::null_mut(), 0usize);
        assert_eq!(
            sealwire_envelope_seal(plaintext.as_ptr(), plaintext.len(), ctx, ks, 1, 64, &mut sealed, &mut sealed_len),
            sealwire_result::OK
        );
        let sealed_bytes = core::slice::from_raw_parts(sealed, sealed_len).to_vec();
        sealwire_bytes_free(sealed, sealed_len);

        let mut n = 0usize;
        assert_eq!(
            sealwire_envelope_open(sealed_bytes.as_ptr(), sealed_bytes.len(), ctx, ks, ptr::null_mut(), 0, &mut n),
            sealwire_result::BUFFER_TOO_SMALL
        );
        assert_eq!(n, plaintext.len());
        let mut out = vec![0u8; n];
        assert_eq!(
            sealwire_envelope_open(sealed_bytes.as_ptr(), sealed_bytes.len(), ctx, ks, out.as_mut_ptr(), out.len(), &mut n),
            sealwire_result::OK
        );
        assert_eq!(out, plaintext);

        // Streaming: write in 37-byte chunks, read in 29-byte chunks.
        let mut w: *mut sealwire_envelope_writer = ptr::null_mut();
        assert_eq!(sealwire_envelope_writer_new(ctx, ks, 2, 64, &mut w), sealwire_result::OK);
        let mut stream = Vec::new();
        let mut buf = vec![0u8; 4096];
        for chunk in plaintext.chunks(37) {
            let mut need = 0usize;
            let q = sealwire_envelope_writer_write(w, chunk.as_ptr(), chunk.len(), ptr::null_mut(), 0, &mut need);
            assert_eq!(q, sealwire_result::BUFFER_TOO_SMALL);
            assert_eq!(sealwire_envelope_writer_write(w, chunk.as_ptr(), chunk.len(), buf.as_mut_ptr(), buf.len(), &mut n), sealwire_result::OK);
            assert_eq!(n, need);
            stream.extend_from_slice(&buf[..n]);
        }
        assert_eq!(sealwire_envelope_writer_finish(w, buf.as_mut_ptr(), buf.len(), &mut n), sealwire_result::OK);
        stream.extend_from_slice(&buf[..n]);
        assert_eq!(sealwire_envelope_writer_finish(w, buf.as_mut_ptr(), buf.len(), &mut n), sealwire_result::INVALID_STATE);
        sealwire_envelope_writer_free(w);
        assert_eq!(stream.len(), sealed_bytes.len(), "same length as one-shot with the same layout");

        let read_all = |data: &[u8], chunk: usize| -> (sealwire_result, Vec<u8>) {
            let mut r: *mut sealwire_envelope_reader = ptr::null_mut();
            assert_eq!(sealwire_envelope_reader_new(ctx, ks, &mut r), sealwire_result::OK);
            let mut got = Vec::new();
            let mut buf = vec![0u8; 4096];
            let mut n = 0usize;
            for c in data.chunks(chunk) {
                let rc = sealwire_envelope_reader_read(r, c.as_ptr(), c.len(), buf.as_mut_ptr(), buf.len(), &mut n);
                if rc != sealwire_result::OK {
                    sealwire_envelope_reader_free(r);
                    return (rc, got);
                }
                got.extend_from_slice(&buf[..n]);
            }
            let rc = sealwire_envelope_reader_finish(r, buf.as_mut_ptr(), buf.len(), &mut n);
            if rc == sealwire_result::OK {
                got.extend_from_slice(&buf[..n]);
                assert!(sealwire_envelope_reader_is_finished(r));
            }
            sealwire_envelope_reader_free(r);
            (rc, got)
        };
        for chunk in [1, 29, 80, 4096] {
            let (rc, got) = read_all(&stream, chunk);
            assert_eq!(rc, sealwire_result::OK, "chunk {chunk}");
            assert_eq!(got, plaintext);
        }
        // Cut at a segment boundary (header + k full segments): truncated at finish.
        let mut h: *mut sealwire_envelope_header = ptr::null_mut();
        assert_eq!(sealwire_envelope_header_parse(stream.as_ptr(), stream.len(), &mut h), sealwire_result::OK);
        let mut hlen = 0usize;
        assert_eq!(sealwire_envelope_header_len(h, &mut hlen), sealwire_result::OK);
        sealwire_envelope_header_free(h);
        let (rc, got) = read_all(&stream[..hlen + 5 * 80], 50);
        assert_eq!(rc, sealwire_result::TRUNCATED);
        assert_eq!(got.len(), 5 * 64, "only verified segments were released");
        let (rc, _) = read_all(&stream[..hlen - 1], 50);
        assert_eq!(rc, sealwire_result::TRUNCATED);
        let mut flipped = stream.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(read_all(&flipped, 64).0, sealwire_result::DECRYPTION_FAILED);

        // Rewrap: add a second keyring key, remove the first; payload unchanged.
        assert_eq!(sealwire_keyring_create_key(ring, c"backup".as_ptr(), &mut v), sealwire_result::OK);
        let mut ks2: *mut sealwire_key_set = ptr::null_mut();
        assert_eq!(sealwire_key_set_new(&mut ks2), sealwire_result::OK);
        assert_eq!(sealwire_key_set_add_keyring_key(ks2, ring, c"backup".as_ptr()), sealwire_result::OK);
        assert_eq!(sealwire_key_set_add_keyring_key(ks2, ring, c"nope".as_ptr()), sealwire_result::KEY_NOT_FOUND);
        let mut rw: *mut sealwire_envelope_rewrap = ptr::null_mut();
        assert_eq!(sealwire_envelope_rewrap_open(stream.as_ptr(), stream.len(), ctx, ks, &mut rw), sealwire_result::OK);
        assert_eq!(sealwire_envelope_rewrap_add(rw, ks2), sealwire_result::OK);
        let mut removed = 0usize;
        assert_eq!(sealwire_envelope_rewrap_remove(rw, c"keyring".as_ptr(), c"orders".as_ptr(), &mut removed), sealwire_result::OK);
        assert_eq!(removed, 1);
        assert_eq!(sealwire_envelope_rewrap_apply(rw, stream.as_ptr(), stream.len(), ptr::null_mut(), 0, &mut n), sealwire_result::BUFFER_TOO_SMALL);
        let mut rewrapped = vec![0u8; n];
        assert_eq!(
            sealwire_envelope_rewrap_apply(rw, stream.as_ptr(), stream.len(), rewrapped.as_mut_ptr(), rewrapped.len(), &mut n),
            sealwire_result::OK
        );
        sealwire_envelope_rewrap_free(rw);
        let mut new_hlen = 0usize;
        assert_eq!(sealwire_envelope_header_parse(rewrapped.as_ptr(), rewrapped.len(), &mut h), sealwire_result::OK);
        assert_eq!(sealwire_envelope_header_len(h, &mut new_hlen), sealwire_result::OK);
        sealwire_envelope_header_free(h);
        assert_eq!(&rewrapped[new_hlen..], &stream[hlen..]);
        assert_eq!(read_all(&rewrapped, 100).1, plaintext);

        sealwire_key_set_free(ks2);
        sealwire_key_set_free(ks);
        sealwire_keyring_free(ring);
        sealwire_context_free(ctx);
    }
}

/// Take a library-allocated buffer back as a `Vec` (and free it).
///
/// # Safety
/// `data`/`len` were just returned by a library function and not freed.
unsafe fn take_bytes(data: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: caller contract.
    let v = unsafe { core::slice::from_raw_parts(data, len) }.to_vec();
    // SAFETY: caller contract; freed once.
    unsafe { sealwire_bytes_free(data, len) };
    v
}

/// Prekey store, bundle, session and messenger through the C functions (the C program covers
/// the same from the outside, and the vectors).
#[test]
fn ratchet_round_trip_through_the_c_functions() {
    const KEY: [u8; 32] = [3; 32];
    // SAFETY (whole test): every pointer passed points at a live local of the right size.
    unsafe {
        let (mut alice, mut bob) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(sealwire_identity_from_secret_bytes([1u8; 32].as_ptr(), 32, [2u8; 32].as_ptr(), 32, &mut alice), sealwire_result::OK);
        assert_eq!(sealwire_identity_from_secret_bytes([3u8; 32].as_ptr(), 32, [4u8; 32].as_ptr(), 32, &mut bob), sealwire_result::OK);
        let mut bob_pub = ptr::null_mut();
        assert_eq!(sealwire_identity_public(bob, &mut bob_pub), sealwire_result::OK);

        let mut store = ptr::null_mut();
        assert_eq!(sealwire_prekey_store_generate(bob, 2, 1, true, 1000, &mut store), sealwire_result::OK);
        assert_eq!(sealwire_prekey_store_generate(bob, 70_000, 1, true, 1000, &mut store), sealwire_result::INVALID_PARAMETER);
        let mut bundle = ptr::null_mut();
        assert_eq!(sealwire_prekey_store_bundle(store, &mut bundle), sealwire_result::OK);
        assert!(sealwire_prekey_bundle_is_post_quantum(bundle));
        let mut n = 0usize;
        assert_eq!(sealwire_prekey_bundle_to_bytes(bundle, ptr::null_mut(), 0, &mut n), sealwire_result::BUFFER_TOO_SMALL);
        let mut encoded = vec![0u8; n];
        assert_eq!(sealwire_prekey_bundle_to_bytes(bundle, encoded.as_mut_ptr(), n, &mut n), sealwire_result::OK);
        let core_bundle = sealwire_core::ratchet::PrekeyBundle::from_bytes(&encoded).unwrap();
        assert_eq!(core_bundle.one_time_prekey_ids().len(), 2);

        let mut a = ptr::null_mut();
        assert_eq!(sealwire_ratchet_session_initiate(alice, bob_pub, bundle, true, &mut a), sealwire_result::OK);
        let mut kind = 0;
        let (mut m, mut m_len) = (ptr::null_mut(), 0usize);
        assert_eq!(sealwire_ratchet_session_encrypt(a, b"hi".as_ptr(), 2, &mut m, &mut m_len), sealwire_result::OK);
        let first = take_bytes(m, m_len);
        assert_eq!(sealwire_ratchet_message_kind(first.as_ptr(), first.len(), &mut kind), sealwire_result::OK);
        assert_eq!(kind, SEALWIRE_RATCHET_MESSAGE_INITIAL);

        let mut b = ptr::null_mut();
        let (mut pt, mut pt_len) = (ptr::null_mut(), 0usize);
        assert_eq!(
            sealwire_ratchet_session_accept(bob, store, first.as_ptr(), first.len(), &mut b, &mut pt, &mut pt_len),
            sealwire_result::OK
        );
        assert_eq!(take_bytes(pt, pt_len), b"hi");
        let mut other = ptr::null_mut();
        assert_eq!(
            sealwire_ratchet_session_accept(bob, store, first.as_ptr(), first.len(), &mut other, &mut pt, &mut pt_len),
            sealwire_result::PREKEY_ALREADY_USED
        );
        assert!(other.is_null());

        // A failed decrypt changes nothing: the generation stays and the genuine message
        // still decrypts.
        assert_eq!(sealwire_ratchet_session_encrypt(b, b"back".as_ptr(), 4, &mut m, &mut m_len), sealwire_result::OK);
        let reply = take_bytes(m, m_len);
        let mut broken = reply.clone();
        *broken.last_mut().unwrap() ^= 1;
        let mut g = 0u64;
        assert_eq!(sealwire_ratchet_session_generation(a, &mut g), sealwire_result::OK);
        assert_eq!(sealwire_ratchet_session_decrypt(a, broken.as_ptr(), broken.len(), &mut pt, &mut pt_len), sealwire_result::DECRYPTION_FAILED);
        let mut g2 = 0u64;
        assert_eq!(sealwire_ratchet_session_generation(a, &mut g2), sealwire_result::OK);
        assert_eq!(g, g2);
        assert_eq!(sealwire_ratchet_session_decrypt(a, reply.as_ptr(), reply.len(), &mut pt, &mut pt_len), sealwire_result::OK);
        assert_eq!(take_bytes(pt, pt_len), b"back");

        // Seal / open_checked through C equals core's view of the blob.
        let (mut blob, mut blob_len) = (ptr::null_mut(), 0usize);
        assert_eq!(sealwire_ratchet_session_seal(a, KEY.as_ptr(), 32, &mut blob, &mut blob_len), sealwire_result::OK);
        let blob = take_bytes(blob, blob_len);
        let core_session = sealwire_core::ratchet::Session::open_checked(&blob, &KEY, g + 1).unwrap();
        assert_eq!(core_session.generation(), g + 1);
        let mut reopened = ptr::null_mut();
        assert_eq!(sealwire_ratchet_session_open_checked(blob.as_ptr(), blob.len(), KEY.as_ptr(), 32, g + 2, &mut reopened), sealwire_result::STALE_STATE);

        sealwire_ratchet_session_free(a);
        sealwire_ratchet_session_free(b);
        sealwire_prekey_bundle_free(bundle);
        sealwire_prekey_store_free(store);

        // Messenger in memory: send, receive, duplicate = OK with a NULL record.
        let (mut ma, mut mb) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(sealwire_messenger_create_in_memory(alice, KEY.as_ptr(), 32, 1, 1, false, 5, &mut ma), sealwire_result::OK);
        assert_eq!(sealwire_messenger_create_in_memory(bob, KEY.as_ptr(), 32, 1, 1, false, 5, &mut mb), sealwire_result::OK);
        let mut mbundle = ptr::null_mut();
        assert_eq!(sealwire_messenger_bundle(mb, &mut mbundle), sealwire_result::OK);
        assert_eq!(sealwire_messenger_connect(ma, bob_pub, mbundle), sealwire_result::OK);
        let mut pid = [0u8; 32];
        assert_eq!(sealwire_public_identity_peer_id(bob_pub, pid.as_mut_ptr(), 32, &mut n), sealwire_result::OK);
        let mut rec = ptr::null_mut();
        assert_eq!(sealwire_messenger_send(ma, pid.as_ptr(), 32, b"yo".as_ptr(), 2, &mut rec), sealwire_result::OK);
        assert_eq!(sealwire_outbox_record_ciphertext(rec, ptr::null_mut(), 0, &mut n), sealwire_result::BUFFER_TOO_SMALL);
        let mut ct = vec![0u8; n];
        assert_eq!(sealwire_outbox_record_ciphertext(rec, ct.as_mut_ptr(), n, &mut n), sealwire_result::OK);
        sealwire_outbox_record_free(rec);
        let mut got = ptr::null_mut();
        assert_eq!(sealwire_messenger_receive(mb, ct.as_ptr(), ct.len(), &mut got), sealwire_result::OK);
        assert!(!got.is_null());
        let mut buf = [0u8; 8];
        assert_eq!(sealwire_received_plaintext(got, buf.as_mut_ptr(), 8, &mut n), sealwire_result::OK);
        assert_eq!(&buf[..n], b"yo");
        sealwire_received_free(got);
        let mut dup = ptr::dangling_mut::<sealwire_received>();
        assert_eq!(sealwire_messenger_receive(mb, ct.as_ptr(), ct.len(), &mut dup), sealwire_result::OK);
        assert!(dup.is_null());

        sealwire_prekey_bundle_free(mbundle);
        sealwire_messenger_free(ma);
        sealwire_messenger_free(mb);
        sealwire_public_identity_free(bob_pub);
        sealwire_identity_free(alice);
        sealwire_identity_free(bob);
    }
}

/// The `_for_vectors` hooks accept only a tape that is used up exactly, and a refused call
/// leaves the handle as it was (the exact call afterwards gives core's bytes).
#[test]
fn for_vectors_hooks_require_the_exact_tape() {
    use sealwire_core::deterministic::ByteTape;
    use sealwire_core::ratchet::{PrekeyOptions, PrekeyStore, Session, SessionOptions};
    let tape: Vec<u8> = (0..64u8).collect(); // X3DH: EK_A (32), first ratchet key (32)
    let alice_core = sealwire_core::Identity::from_secret_bytes(&[1; 32], &[2; 32]);
    let bob_core = sealwire_core::Identity::from_secret_bytes(&[3; 32], &[4; 32]);
    let options = PrekeyOptions { one_time_prekeys: 1, kem_one_time_prekeys: 0, post_quantum: false };
    let store_tape: Vec<u8> = (100..164u8).collect();
    let core_store = PrekeyStore::generate_with_entropy(&bob_core, options, 7, &mut ByteTape::new(&store_tape)).unwrap();
    let bundle_core = core_store.bundle();
    let mut core_a = Session::initiate_with_entropy(
        &alice_core,
        bob_core.public(),
        &bundle_core,
        SessionOptions { header_encryption: true },
        &mut ByteTape::new(&tape),
    )
    .unwrap();
    let nonce = [9u8; 24];
    let want = core_a.encrypt_with_entropy(b"m", &mut ByteTape::new(&nonce)).unwrap();

    // SAFETY (whole test): every pointer passed points at a live local of the right size.
    unsafe {
        let (mut alice, mut bob) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(sealwire_identity_from_secret_bytes([1u8; 32].as_ptr(), 32, [2u8; 32].as_ptr(), 32, &mut alice), sealwire_result::OK);
        assert_eq!(sealwire_identity_from_secret_bytes([3u8; 32].as_ptr(), 32, [4u8; 32].as_ptr(), 32, &mut bob), sealwire_result::OK);
        let mut bob_pub = ptr::null_mut();
        assert_eq!(sealwire_identity_public(bob, &mut bob_pub), sealwire_result::OK);
        let mut store = ptr::null_mut();
        assert_eq!(
            sealwire_prekey_store_generate_for_vectors(bob, 1, 0, false, 7, store_tape.as_ptr(), 63, &mut store),
            sealwire_result::INVALID_PARAMETER
        );
        assert!(store.is_null());
        assert_eq!(
            sealwire_prekey_store_generate_for_vectors(bob, 1, 0, false, 7, store_tape.as_ptr(), 64, &mut store),
            sealwire_result::OK
        );
        let mut bundle = ptr::null_mut();
        assert_eq!(sealwire_prekey_store_bundle(store, &mut bundle), sealwire_result::OK);
        assert!((*bundle).inner == bundle_core);
        let mut a = ptr::null_mut();
        let mut longer = tape.clone();
        longer.push(0);
        assert_eq!(
            sealwire_ratchet_session_initiate_for_vectors(alice, bob_pub, bundle, true, longer.as_ptr(), longer.len(), &mut a),
            sealwire_result::INVALID_PARAMETER
        );
        assert!(a.is_null());
        assert_eq!(
            sealwire_ratchet_session_initiate_for_vectors(alice, bob_pub, bundle, true, tape.as_ptr(), tape.len(), &mut a),
            sealwire_result::OK
        );
        let (mut m, mut m_len) = (ptr::null_mut(), 0usize);
        for bad in [&nonce[..23], &[9u8; 25][..], &[][..]] {
            assert_eq!(
                sealwire_ratchet_session_encrypt_for_vectors(a, b"m".as_ptr(), 1, bad.as_ptr(), bad.len(), &mut m, &mut m_len),
                sealwire_result::INVALID_PARAMETER,
                "tape of {} bytes",
                bad.len()
            );
        }
        assert!(m.is_null());
        let mut g = 9u64;
        assert_eq!(sealwire_ratchet_session_generation(a, &mut g), sealwire_result::OK);
        assert_eq!(g, 0);
        assert_eq!(
            sealwire_ratchet_session_encrypt_for_vectors(a, b"m".as_ptr(), 1, nonce.as_ptr(), 24, &mut m, &mut m_len),
            sealwire_result::OK
        );
        assert_eq!(take_bytes(m, m_len), want);
        sealwire_ratchet_session_free(a);
        sealwire_prekey_bundle_free(bundle);
        sealwire_prekey_store_free(store);
        sealwire_public_identity_free(bob_pub);
        sealwire_identity_free(alice);
        sealwire_identity_free(bob);
    }
}

/// A loopback port nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// KMS settings and keys through the C functions, without a server: explicit settings win,
/// nothing secret shows in `Debug`, a key set names the KMS key, and a KMS that refuses the
/// connection fails fast with SEALWIRE_KMS_UNAVAILABLE and counts the failure.
#[test]
fn kms_keys_through_the_c_functions() {
    use crate::key_set::sealwire_key_set;
    let addr = std::ffi::CString::new(format!("http://127.0.0.1:{}", closed_port())).unwrap();
    // SAFETY (whole test): every pointer passed points at a live local of the right size.
    unsafe {
        let mut s: *mut sealwire_kms_settings = ptr::null_mut();
        assert_eq!(sealwire_kms_settings_new(&mut s), sealwire_result::OK);
        assert_eq!(sealwire_kms_settings_set_vault_address(s, addr.as_ptr()), sealwire_result::OK);
        assert_eq!(sealwire_kms_settings_set_vault_token(s, c"s.very-secret-token".as_ptr()), sealwire_result::OK);
        assert_eq!(
            sealwire_kms_settings_set_aws_credentials(s, c"AKIDEXAMPLE".as_ptr(), c"wJalrXUtnFEMI-secret".as_ptr(), ptr::null()),
            sealwire_result::OK
        );
        assert_eq!(sealwire_kms_settings_set_vault_token(s, ptr::null()), sealwire_result::NULL_POINTER);
        assert_eq!(
            sealwire_kms_settings_set_aws_credentials(s, c"AKIDEXAMPLE".as_ptr(), ptr::null(), ptr::null()),
            sealwire_result::NULL_POINTER
        );
        assert_eq!(sealwire_kms_settings_set_vault_token(s, c"\xff".as_ptr()), sealwire_result::INVALID_UTF8);
        let shown = format!("{:?}", *s);
        assert!(shown.contains("<set>"), "{shown}");
        for secret in ["very-secret-token", "AKIDEXAMPLE", "wJalrXUtnFEMI"] {
            assert!(!shown.contains(secret), "{shown}");
        }

        let mut key: *mut sealwire_kms_key = ptr::null_mut();
        for bad in [c"orders", c"vault://", c"gcp://k", c"vault://k?nope=1", c"vault://k?mount=a&mount=b"] {
            assert_eq!(sealwire_kms_key_from_uri(bad.as_ptr(), s, &mut key), sealwire_result::INVALID_PARAMETER, "{bad:?}");
            assert!(key.is_null());
        }
        assert_eq!(sealwire_kms_key_from_uri(c"vault://orders".as_ptr(), s, ptr::null_mut()), sealwire_result::NULL_POINTER);
        assert_eq!(sealwire_kms_key_from_uri(ptr::null(), s, &mut key), sealwire_result::NULL_POINTER);
        assert_eq!(sealwire_kms_key_from_uri(c"vault://orders".as_ptr(), s, &mut key), sealwire_result::OK);
        let mut aws: *mut sealwire_kms_key = ptr::null_mut();
        let aws_uri = std::ffi::CString::new(format!(
            "aws-kms://arn:aws:kms:eu-west-1:111122223333:key/abc?endpoint=http%3A%2F%2F127.0.0.1%3A{}",
            closed_port()
        ))
        .unwrap();
        assert_eq!(sealwire_kms_key_from_uri(aws_uri.as_ptr(), s, &mut aws), sealwire_result::OK);
        sealwire_kms_settings_free(s);
        let shown = format!("{:?} {:?}", *key, *aws);
        for secret in ["very-secret-token", "wJalrXUtnFEMI"] {
            assert!(!shown.contains(secret), "{shown}");
        }

        let mut ks: *mut sealwire_key_set = ptr::null_mut();
        assert_eq!(sealwire_key_set_new(&mut ks), sealwire_result::OK);
        assert_eq!(sealwire_key_set_add_kms_key(ks, ptr::null()), sealwire_result::NULL_POINTER);
        assert_eq!(sealwire_key_set_add_kms_key(ks, key), sealwire_result::OK);
        assert_eq!(sealwire_key_set_add_kms_key(ks, aws), sealwire_result::OK);
        sealwire_kms_key_free(aws);
        let mut buf = [0 as core::ffi::c_char; 128];
        let mut n = 0usize;
        assert_eq!(sealwire_key_set_provider_id_at(ks, 0, buf.as_mut_ptr(), buf.len(), &mut n), sealwire_result::OK);
        assert_eq!(CStr::from_ptr(buf.as_ptr()), c"vault-transit");
        assert_eq!(sealwire_key_set_key_id_at(ks, 0, buf.as_mut_ptr(), buf.len(), &mut n), sealwire_result::OK);
        assert_eq!(CStr::from_ptr(buf.as_ptr()), c"orders");
        assert_eq!(sealwire_key_set_provider_id_at(ks, 1, buf.as_mut_ptr(), buf.len(), &mut n), sealwire_result::OK);
        assert_eq!(CStr::from_ptr(buf.as_ptr()), c"aws-kms");

        let mut ctx: *mut sealwire_context = ptr::null_mut();
        assert_eq!(sealwire_context_new(&mut ctx), sealwire_result::OK);
        let started = std::time::Instant::now();
        let (mut sealed, mut sealed_len) = (ptr::null_mut(), 0usize);
        assert_eq!(
            sealwire_envelope_seal(b"x".as_ptr(), 1, ctx, ks, 1, 65536, &mut sealed, &mut sealed_len),
            sealwire_result::KMS_UNAVAILABLE
        );
        assert!(sealed.is_null());
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        let mut st = sealwire_kms_stats::default();
        assert_eq!(sealwire_kms_key_stats(key, &mut st), sealwire_result::OK);
        assert_eq!((st.operations, st.http_requests, st.retries, st.failures), (1, 1, 0, 1), "{st:?}");
        assert_eq!(sealwire_kms_key_stats(key, ptr::null_mut()), sealwire_result::NULL_POINTER);
        assert_eq!(sealwire_kms_key_stats(ptr::null(), &mut st), sealwire_result::NULL_POINTER);

        sealwire_key_set_free(ks);
        sealwire_kms_key_free(key);
        sealwire_kms_key_free(ptr::null_mut());
        sealwire_kms_settings_free(ptr::null_mut());
        sealwire_context_free(ctx);
    }
}

/// The data-key cache through the C functions over a keyring: one data key per
/// `max_messages` seals, shared-key envelopes that open plainly, limits checked.
#[test]
fn data_key_cache_through_the_c_functions() {
    use crate::key_set::sealwire_key_set;
    // SAFETY (whole test): every pointer passed points at a live local of the right size.
    unsafe {
        assert_eq!(sealwire_core::envelope::CacheLimits::default().max_entries(), SEALWIRE_DATA_KEY_CACHE_MAX_ENTRIES);
        let mut c: *mut sealwire_data_key_cache = ptr::null_mut();
        for (age, msgs, bytes) in [(0, 1, 1), (86401, 1, 1), (1, 0, 1), (1, (1u64 << 32) + 1, 1), (1, 1, 0)] {
            assert_eq!(sealwire_data_key_cache_new(age, msgs, bytes, &mut c), sealwire_result::INVALID_PARAMETER);
            assert!(c.is_null());
        }
        assert_eq!(sealwire_data_key_cache_new(86400, 1 << 32, 1, ptr::null_mut()), sealwire_result::NULL_POINTER);
        assert_eq!(sealwire_data_key_cache_new(60, 5, 1 << 20, &mut c), sealwire_result::OK);

        let mut ring: *mut sealwire_keyring = ptr::null_mut();
        assert_eq!(sealwire_keyring_new(&mut ring), sealwire_result::OK);
        let mut v = 0u32;
        assert_eq!(sealwire_keyring_create_key(ring, c"orders".as_ptr(), &mut v), sealwire_result::OK);
        let mut ks: *mut sealwire_key_set = ptr::null_mut();
        assert_eq!(sealwire_key_set_new(&mut ks), sealwire_result::OK);
        let mut ctx: *mut sealwire_context = ptr::null_mut();
        assert_eq!(sealwire_context_new(&mut ctx), sealwire_result::OK);
        let (mut sealed, mut sealed_len) = (ptr::null_mut(), 0usize);
        assert_eq!(
            sealwire_data_key_cache_seal(c, b"x".as_ptr(), 1, ctx, ks, 1, 65536, &mut sealed, &mut sealed_len),
            sealwire_result::INVALID_PARAMETER,
            "empty key set"
        );
        assert_eq!(sealwire_key_set_add_keyring(ks, ring), sealwire_result::OK);
        assert_eq!(
            sealwire_data_key_cache_seal(c, b"x".as_ptr(), 1, ctx, ks, 3, 65536, &mut sealed, &mut sealed_len),
            sealwire_result::INVALID_PARAMETER,
            "unknown suite"
        );
        assert_eq!(
            sealwire_data_key_cache_seal(ptr::null_mut(), b"x".as_ptr(), 1, ctx, ks, 1, 65536, &mut sealed, &mut sealed_len),
            sealwire_result::NULL_POINTER
        );
        assert!(sealed.is_null());
        let mut objs = Vec::new();
        for i in 0..12u8 {
            assert_eq!(
                sealwire_data_key_cache_seal(c, [i; 100].as_ptr(), 100, ctx, ks, 1, 65536, &mut sealed, &mut sealed_len),
                sealwire_result::OK
            );
            objs.push(take_bytes(sealed, sealed_len));
        }
        let mut st = sealwire_cache_stats::default();
        assert_eq!(sealwire_data_key_cache_stats(c, &mut st), sealwire_result::OK);
        assert_eq!((st.hits, st.misses, st.bypassed, st.evicted, st.entries), (9, 3, 0, 2, 1));
        for (i, o) in objs.iter().enumerate() {
            let mut h: *mut sealwire_envelope_header = ptr::null_mut();
            assert_eq!(sealwire_envelope_header_parse(o.as_ptr(), o.len(), &mut h), sealwire_result::OK);
            let mut shared = false;
            assert_eq!(sealwire_envelope_header_shares_data_key(h, &mut shared), sealwire_result::OK);
            assert!(shared);
            assert_eq!(sealwire_envelope_header_shares_data_key(h, ptr::null_mut()), sealwire_result::NULL_POINTER);
            sealwire_envelope_header_free(h);
            let mut out = [0u8; 100];
            let mut n = 0usize;
            assert_eq!(sealwire_envelope_open(o.as_ptr(), o.len(), ctx, ks, out.as_mut_ptr(), 100, &mut n), sealwire_result::OK);
            assert_eq!(out, [i as u8; 100]);
        }
        // Plain seals never share.
        assert_eq!(sealwire_envelope_seal(b"x".as_ptr(), 1, ctx, ks, 1, 65536, &mut sealed, &mut sealed_len), sealwire_result::OK);
        let plain = take_bytes(sealed, sealed_len);
        let mut h: *mut sealwire_envelope_header = ptr::null_mut();
        assert_eq!(sealwire_envelope_header_parse(plain.as_ptr(), plain.len(), &mut h), sealwire_result::OK);
        let mut shared = true;
        assert_eq!(sealwire_envelope_header_shares_data_key(h, &mut shared), sealwire_result::OK);
        assert!(!shared);
        sealwire_envelope_header_free(h);

        assert_eq!(sealwire_data_key_cache_clear(c), sealwire_result::OK);
        assert_eq!(sealwire_data_key_cache_clear(ptr::null_mut()), sealwire_result::NULL_POINTER);
        assert_eq!(sealwire_data_key_cache_stats(c, &mut st), sealwire_result::OK);
        assert_eq!((st.entries, st.evicted), (0, 3));
        assert_eq!(sealwire_data_key_cache_stats(ptr::null(), &mut st), sealwire_result::NULL_POINTER);
        assert_eq!(sealwire_data_key_cache_stats(c, ptr::null_mut()), sealwire_result::NULL_POINTER);

        sealwire_data_key_cache_free(c);
        sealwire_data_key_cache_free(ptr::null_mut());
        sealwire_key_set_free(ks);
        sealwire_keyring_free(ring);
        sealwire_context_free(ctx);
    }
}

/// A key provider written in C may report KMS outcomes: the codes come back unchanged from
/// seal; unknown codes become SEALWIRE_PROVIDER_FAILED.
#[test]
fn callback_providers_report_kms_codes() {
    use core::ffi::c_void;
    // The code to return travels in `user_data`.
    unsafe extern "C" fn wrap(
        user_data: *mut c_void,
        _info: *const sealwire_wrap_info,
        _dek: *const u8,
        _dek_len: usize,
        _out: *mut u8,
        _out_len: usize,
        _written: *mut usize,
    ) -> u32 {
        user_data as usize as u32
    }
    unsafe extern "C" fn unwrap(
        _user_data: *mut c_void,
        _info: *const sealwire_wrap_info,
        _version: u32,
        _wrapped: *const u8,
        _wrapped_len: usize,
        _dek_out: *mut u8,
        _dek_len: usize,
    ) -> u32 {
        sealwire_result::PROVIDER_FAILED as u32
    }
    use sealwire_result as R;
    let cases = [
        (R::KMS_AUTH_FAILED as u32, R::KMS_AUTH_FAILED),
        (R::KMS_KEY_NOT_FOUND as u32, R::KMS_KEY_NOT_FOUND),
        (R::KMS_KEY_DISABLED as u32, R::KMS_KEY_DISABLED),
        (R::KMS_UNAVAILABLE as u32, R::KMS_UNAVAILABLE),
        (R::KMS_TIMEOUT as u32, R::KMS_TIMEOUT),
        (R::KMS_THROTTLED as u32, R::KMS_THROTTLED),
        (R::CONTEXT_MISMATCH as u32, R::CONTEXT_MISMATCH),
        (R::STORAGE as u32, R::PROVIDER_FAILED),
        (77_777, R::PROVIDER_FAILED),
    ];
    // SAFETY (whole test): every pointer passed points at a live local of the right size.
    unsafe {
        let mut ctx: *mut sealwire_context = ptr::null_mut();
        assert_eq!(sealwire_context_new(&mut ctx), sealwire_result::OK);
        for (returned, want) in cases {
            let callbacks = sealwire_kek_callbacks {
                user_data: returned as usize as *mut c_void,
                wrap: Some(wrap),
                unwrap: Some(unwrap),
                release: None,
            };
            let mut ks = ptr::null_mut();
            assert_eq!(sealwire_key_set_new(&mut ks), sealwire_result::OK);
            assert_eq!(
                sealwire_key_set_add_callbacks(ks, c"my-kms".as_ptr(), c"key-1".as_ptr(), 1, &callbacks),
                sealwire_result::OK
            );
            let (mut sealed, mut sealed_len) = (ptr::null_mut(), 0usize);
            assert_eq!(sealwire_envelope_seal(b"x".as_ptr(), 1, ctx, ks, 1, 65536, &mut sealed, &mut sealed_len), want);
            assert!(sealed.is_null());
            sealwire_key_set_free(ks);
        }
        sealwire_context_free(ctx);
    }
}

/// The relay client and agent through the C functions, without a relay (the C program
/// tests/c/test_relay.c covers a real one): URL and option checks, the ownership transfer of
/// the messenger (caller's pointer NULLed, lent pointer usable and not freeable, turned back),
/// parameter checks before any network call, and a relay that refuses the connection failing
/// fast with SEALWIRE_RELAY_UNAVAILABLE.
#[test]
fn relay_agent_through_the_c_functions() {
    const KEY: [u8; 32] = [5; 32];
    let down = std::ffi::CString::new(format!("http://127.0.0.1:{}", closed_port())).unwrap();
    // SAFETY (whole test): every pointer passed points at a live local of the right size.
    unsafe {
        let mut c: *mut sealwire_relay_client = ptr::null_mut();
        for bad in [c"ftp://127.0.0.1:1", c"http://relay.example", c"http://127.0.0.1:1/v1", c"not a url"] {
            assert_eq!(sealwire_relay_client_new(bad.as_ptr(), &mut c), sealwire_result::INVALID_PARAMETER, "{bad:?}");
            assert!(c.is_null());
        }
        for (connect, request) in [(0, 1), (1, 0), (SEALWIRE_RELAY_MAX_TIMEOUT_MS + 1, 1)] {
            assert_eq!(
                sealwire_relay_client_new_with_options(down.as_ptr(), connect, request, false, &mut c),
                sealwire_result::INVALID_PARAMETER
            );
        }
        assert_eq!(
            sealwire_relay_client_new_with_options(c"http://relay.example".as_ptr(), 1, 1, true, &mut c),
            sealwire_result::OK
        );
        sealwire_relay_client_free(c);
        assert_eq!(sealwire_relay_client_new(down.as_ptr(), &mut c), sealwire_result::OK);
        assert!(!format!("{:?}", *c).contains("127.0.0.1"));
        let started = std::time::Instant::now();
        assert_eq!(sealwire_relay_client_health(c), sealwire_result::RELAY_UNAVAILABLE);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());

        let mut id = ptr::null_mut();
        assert_eq!(sealwire_identity_from_secret_bytes([7u8; 32].as_ptr(), 32, [8u8; 32].as_ptr(), 32, &mut id), sealwire_result::OK);
        let mut m: *mut sealwire_messenger = ptr::null_mut();
        assert_eq!(sealwire_messenger_create_in_memory(id, KEY.as_ptr(), 32, 2, 2, true, 5, &mut m), sealwire_result::OK);
        let original = m;
        let mut a: *mut sealwire_relay_agent = ptr::null_mut();
        assert_eq!(sealwire_relay_agent_new(&mut m, ptr::null(), &mut a), sealwire_result::NULL_POINTER);
        assert_eq!(m, original);
        assert_eq!(sealwire_relay_agent_new(&mut m, c, &mut a), sealwire_result::OK);
        assert!(m.is_null() && !a.is_null());
        let lent = sealwire_relay_agent_messenger(a);
        assert_eq!(lent, original);
        sealwire_messenger_free(lent); // lent: a no-op
        let mut counter = 0u64;
        assert_eq!(sealwire_messenger_counter(lent, &mut counter), sealwire_result::OK);
        let mut again = lent;
        let mut other: *mut sealwire_relay_agent = ptr::null_mut();
        assert_eq!(sealwire_relay_agent_new(&mut again, c, &mut other), sealwire_result::INVALID_STATE);
        assert!(other.is_null() && again == lent);

        let mut list: *mut sealwire_received_list = ptr::null_mut();
        let mut report = sealwire_relay_receive_report {
            received: 9,
            duplicates: 9,
            rejected: 9,
            interrupted: sealwire_result::PANIC,
        };
        for (limit, wait) in [(0, 0), (SEALWIRE_RELAY_MAX_RECEIVE_LIMIT + 1, 0), (1, SEALWIRE_RELAY_MAX_WAIT_SECS + 1), (1, 15)] {
            assert_eq!(sealwire_relay_agent_receive(a, limit, wait, &mut list, &mut report), sealwire_result::INVALID_PARAMETER);
        }
        let peer = [1u8; 32];
        let mut out_id = 0u64;
        assert_eq!(sealwire_relay_agent_send(a, peer.as_ptr(), 31, b"x".as_ptr(), 1, &mut out_id), sealwire_result::INVALID_LENGTH);
        assert_eq!(sealwire_relay_agent_send(a, peer.as_ptr(), 32, b"x".as_ptr(), 1, &mut out_id), sealwire_result::NO_SESSION);
        let mut st = sealwire_relay_prekey_status::default();
        assert_eq!(sealwire_relay_agent_publish(a, &mut st), sealwire_result::RELAY_UNAVAILABLE);
        assert_eq!(sealwire_relay_agent_receive(a, 10, 0, &mut list, &mut report), sealwire_result::RELAY_UNAVAILABLE);
        assert!(list.is_null() && report.received == 9);
        assert_eq!(sealwire_relay_agent_publish(ptr::null_mut(), &mut st), sealwire_result::NULL_POINTER);
        assert!(sealwire_relay_agent_messenger(ptr::null()).is_null());

        let mut back: *mut sealwire_messenger = ptr::null_mut();
        assert_eq!(sealwire_relay_agent_into_messenger(&mut a, &mut back), sealwire_result::OK);
        assert!(a.is_null() && back == original);
        assert_eq!(sealwire_messenger_counter(back, &mut counter), sealwire_result::OK);
        sealwire_relay_agent_free(a); // NULL: no-op
        sealwire_messenger_free(back);
        sealwire_relay_client_free(c);
        sealwire_identity_free(id);
    }
}

/// The receive report carries core's counts and the code of the error that interrupted a
/// batch (OK when none did).
#[test]
fn relay_receive_report_from_core() {
    use sealwire_core::relay::ReceiveReport;
    let mut r = ReceiveReport { duplicates: 2, rejected: 1, ..Default::default() };
    let c = sealwire_relay_receive_report::from(&r);
    assert_eq!((c.received, c.duplicates, c.rejected, c.interrupted), (0, 2, 1, sealwire_result::OK));
    r.interrupted = Some(sealwire_core::Error::RelayTimeout);
    assert_eq!(sealwire_relay_receive_report::from(&r).interrupted, sealwire_result::RELAY_TIMEOUT);
}
