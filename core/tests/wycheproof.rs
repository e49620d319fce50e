//! Wycheproof X25519 and Ed25519 sets through sealwire's public API.
//!
//! X25519: every "valid" case must agree byte for byte; every case whose shared secret is all
//! zeros (Wycheproof marks these "acceptable" with the ZeroSharedSecret / LowOrderPublic flags)
//! must be refused as non-contributory; other "acceptable" cases (non-canonical public key
//! encodings that RFC 7748 decoding accepts) must agree with the expected output.
//! Ed25519: "valid" verifies, "invalid" is rejected (strict verification).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealwire::dh::diffie_hellman;
use sealwire::identity::verify_ed25519;
use sealwire::ErrorKind;
use wycheproof::TestResult;

#[test]
fn wycheproof_x25519() {
    let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).unwrap();
    let (mut agreed, mut refused) = (0usize, 0usize);
    for group in &set.test_groups {
        for t in &group.tests {
            let sk: [u8; 32] = t.private_key.as_slice().try_into().unwrap();
            let pk: [u8; 32] = match t.public_key.as_slice().try_into() {
                Ok(pk) => pk,
                Err(_) => {
                    // Wrong-length public keys cannot even be expressed in our API.
                    assert_eq!(t.result, TestResult::Invalid, "tc {}", t.tc_id);
                    continue;
                }
            };
            let secret = x25519_dalek::StaticSecret::from(sk);
            let got = diffie_hellman(&secret, &pk);
            let zero = t.shared_secret.iter().all(|b| *b == 0);
            match (&t.result, zero) {
                (TestResult::Invalid, _) => assert!(got.is_err(), "tc {} accepted", t.tc_id),
                (_, true) => {
                    assert_eq!(got.unwrap_err().kind(), ErrorKind::NonContributory, "tc {}", t.tc_id);
                    refused += 1;
                }
                (_, false) => {
                    assert_eq!(got.unwrap().as_bytes().as_slice(), t.shared_secret.as_slice(), "tc {}", t.tc_id);
                    agreed += 1;
                }
            }
        }
    }
    assert!(agreed > 400, "only {agreed} agreements checked");
    assert!(refused > 10, "only {refused} low-order cases checked");
}

#[test]
fn wycheproof_ed25519() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let (mut valid, mut invalid) = (0usize, 0usize);
    for group in &set.test_groups {
        let pk: [u8; 32] = group.key.pk.as_slice().try_into().unwrap();
        for t in &group.tests {
            let got = verify_ed25519(&pk, &t.msg, &t.sig);
            match t.result {
                TestResult::Valid => {
                    assert!(got.is_ok(), "tc {} rejected: {:?}", t.tc_id, got);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(got.is_err(), "tc {} ({}) accepted", t.tc_id, t.comment);
                    invalid += 1;
                }
                TestResult::Acceptable => {}
            }
        }
    }
    assert!(valid >= 80 && invalid >= 60, "valid {valid}, invalid {invalid}");
}
