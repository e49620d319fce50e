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
            assert!(matches!(group, 1 | 3 | 4), "{kind:?} in group {group}");
        }
    }
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
        unsafe { crate::ptr::write_handle(out, sealwire_identity { inner }) };
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
