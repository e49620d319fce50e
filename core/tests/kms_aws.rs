//! AWS KMS provider against moto's KMS-compatible server (SigV4 enforced; started by
//! `scripts/kms-servers.sh`), multi-KMS with OpenBao, and error shapes / retries against a
//! scripted local HTTP stub. Server tests SKIP loudly when the servers are not configured,
//! and fail instead under `SEALWIRE_KMS_REQUIRED=1` (as `scripts/test-kms.sh` runs them).
#![cfg(feature = "kms")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kms_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kms_support::{closed_port, require, transplant_entry, unique, Script, Stub};
use sealwire::envelope::kms::{
    AwsCredentials, AwsKms, AwsKmsConfig, HttpOptions, RetryPolicy, VaultTransit, VaultTransitConfig, AWS_KMS_PROVIDER,
};
use sealwire::envelope::{open, seal, CacheLimits, DataKeyCache, EncryptionContext, EnvelopeHeader, KeyProvider, Rewrap};
use sealwire::{Error, ErrorKind};

const NEEDS: &[&str] = &[
    "SEALWIRE_TEST_AWS_ENDPOINT",
    "SEALWIRE_TEST_AWS_REGION",
    "SEALWIRE_TEST_AWS_ACCESS_KEY_ID",
    "SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY",
    "SEALWIRE_TEST_AWS_KEY_ARN",
    "SEALWIRE_TEST_AWS_KEY2_ARN",
];

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme"), ("bucket", "reports")]).unwrap()
}

fn creds(s: &HashMap<String, String>) -> AwsCredentials {
    AwsCredentials::new(&s["SEALWIRE_TEST_AWS_ACCESS_KEY_ID"], &s["SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"], None)
}

fn config(s: &HashMap<String, String>, key: &str) -> AwsKmsConfig {
    AwsKmsConfig::new(key, &s["SEALWIRE_TEST_AWS_REGION"], creds(s)).with_endpoint(&s["SEALWIRE_TEST_AWS_ENDPOINT"])
}

fn provider(s: &HashMap<String, String>, key: &str) -> AwsKms {
    AwsKms::new(config(s, key)).unwrap()
}

#[test]
fn aws_seal_open_round_trip_generate_and_encrypt_paths() {
    let Some(s) = require("aws_seal_open_round_trip", NEEDS) else { return };
    let arn = &s["SEALWIRE_TEST_AWS_KEY_ARN"];
    let p = provider(&s, arn);
    let pt = b"payload through AWS KMS".repeat(50);
    let sealed = seal(&pt, &ctx(), &[&p]).unwrap();
    let h = EnvelopeHeader::parse(&sealed).unwrap();
    let e = &h.wrapped_keys()[0];
    assert_eq!((e.provider(), e.key_id(), e.key_version()), (AWS_KMS_PROVIDER, arn.as_str(), 0));
    assert_eq!(open(&sealed, &ctx(), &[&p]).unwrap(), pt);
    // Encrypt path (GenerateDataKey off), configured by bare key id: entries name the ARN.
    let bare = arn.rsplit('/').next().unwrap();
    let q = AwsKms::new(config(&s, bare).generate_data_keys(false)).unwrap();
    let sealed2 = seal(&pt, &ctx(), &[&q]).unwrap();
    assert_eq!(EnvelopeHeader::parse(&sealed2).unwrap().wrapped_keys()[0].key_id(), arn.as_str());
    assert_eq!(q.key_id(), *arn);
    // A fresh provider configured by bare id owns and opens both.
    let fresh = AwsKms::new(config(&s, bare)).unwrap();
    assert_eq!(open(&sealed, &ctx(), &[&fresh]).unwrap(), pt);
    assert_eq!(open(&sealed2, &ctx(), &[&fresh]).unwrap(), pt);
    assert_eq!(fresh.describe_key().unwrap(), *arn);
    assert_eq!(p.stats().failures + q.stats().failures + fresh.stats().failures, 0);
}

#[test]
fn aws_encryption_context_mismatch_is_rejected() {
    let Some(s) = require("aws_encryption_context_mismatch_is_rejected", NEEDS) else { return };
    let p = provider(&s, &s["SEALWIRE_TEST_AWS_KEY_ARN"]);
    let a = seal(b"object a", &ctx(), &[&p]).unwrap();
    let b = seal(b"object b", &ctx(), &[&p]).unwrap();
    // A wrapped key moved from object a into object b: KMS refuses it (the binding entry of
    // the EncryptionContext differs), typed as ContextMismatch.
    let forged = transplant_entry(&b, &a, 0);
    assert_eq!(open(&forged, &ctx(), &[&p]).unwrap_err(), Error::ContextMismatch);
    // Same for an object of another context whose entry is put under this context.
    let other = EncryptionContext::from_pairs([("tenant", "other"), ("bucket", "reports")]).unwrap();
    let c = seal(b"object c", &other, &[&p]).unwrap();
    assert_eq!(open(&c, &ctx(), &[&p]).unwrap_err(), Error::ContextMismatch); // envelope check, no KMS call
    let d = seal(b"object d", &ctx(), &[&p]).unwrap();
    if EnvelopeHeader::parse(&c).unwrap().wrapped_keys()[0].wrapped().len()
        == EnvelopeHeader::parse(&d).unwrap().wrapped_keys()[0].wrapped().len()
    {
        let forged = transplant_entry(&d, &c, 0);
        assert_eq!(open(&forged, &ctx(), &[&p]).unwrap_err(), Error::ContextMismatch);
    }
    // The reserved binding key cannot be used in an envelope context.
    let reserved = EncryptionContext::from_pairs([("sealwire:wrap", "x")]).unwrap();
    assert_eq!(seal(b"x", &reserved, &[&p]).unwrap_err().kind(), ErrorKind::InvalidParameter);
}

#[test]
fn aws_reencrypt_rewraps_in_place_and_migrates_between_keys() {
    let Some(s) = require("aws_reencrypt", NEEDS) else { return };
    let (k1, k2) = (&s["SEALWIRE_TEST_AWS_KEY_ARN"], &s["SEALWIRE_TEST_AWS_KEY2_ARN"]);
    let p1 = provider(&s, k1);
    let sealed = seal(b"move me", &ctx(), &[&p1]).unwrap();
    // ReEncrypt under the same key.
    let mut rw = Rewrap::open(&sealed, &ctx(), &[&p1]).unwrap();
    assert_eq!(rw.rewrap_with(&p1).unwrap(), 1);
    let same = rw.apply(&sealed).unwrap();
    let (old_e, new_e) = (
        EnvelopeHeader::parse(&sealed).unwrap().wrapped_keys()[0].clone(),
        EnvelopeHeader::parse(&same).unwrap().wrapped_keys()[0].clone(),
    );
    assert_ne!(old_e.wrapped(), new_e.wrapped());
    assert_eq!(new_e.key_id(), k1.as_str());
    assert_eq!(open(&same, &ctx(), &[&p1]).unwrap(), b"move me");
    // ReEncrypt from key 1 to key 2: the data key never leaves KMS.
    let p2 = AwsKms::new(config(&s, k2).with_previous_key_id(k1)).unwrap();
    let before = p2.stats().operations;
    let mut rw = Rewrap::open(&sealed, &ctx(), &[&p2]).unwrap(); // Decrypt under key 1
    assert_eq!(rw.rewrap_with(&p2).unwrap(), 1); // ReEncrypt 1 → 2
    assert_eq!(p2.stats().operations - before, 2);
    let moved = rw.apply(&sealed).unwrap();
    let moved_h = EnvelopeHeader::parse(&moved).unwrap();
    let e = &moved_h.wrapped_keys()[0];
    assert_eq!(e.key_id(), k2.as_str());
    let only2 = provider(&s, k2);
    assert_eq!(open(&moved, &ctx(), &[&only2]).unwrap(), b"move me");
    assert_eq!(open(&moved, &ctx(), &[&p1]).unwrap_err(), Error::NoMatchingKey);
}

#[test]
fn aws_errors_are_typed_and_carry_no_secret() {
    let Some(s) = require("aws_errors_are_typed_and_carry_no_secret", NEEDS) else { return };
    let arn = &s["SEALWIRE_TEST_AWS_KEY_ARN"];
    let good = provider(&s, arn);
    let sealed = seal(b"x", &ctx(), &[&good]).unwrap();
    let mut errors = Vec::new();
    let wrong_secret = "wJalrXUtnFEMI/SECRET/bPxRfiCYEXAMPLEKEY";
    // Right access key, wrong secret: signature rejected.
    let bad = AwsKms::new(
        AwsKmsConfig::new(arn, &s["SEALWIRE_TEST_AWS_REGION"], AwsCredentials::new(&s["SEALWIRE_TEST_AWS_ACCESS_KEY_ID"], wrong_secret, None))
            .with_endpoint(&s["SEALWIRE_TEST_AWS_ENDPOINT"]),
    )
    .unwrap();
    let e = seal(b"x", &ctx(), &[&bad]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KmsAuthFailed, "{e:?}");
    errors.push(e);
    let e = open(&sealed, &ctx(), &[&bad]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KmsAuthFailed, "{e:?}");
    errors.push(e);
    // Unknown access key.
    let unknown = AwsKms::new(
        AwsKmsConfig::new(arn, &s["SEALWIRE_TEST_AWS_REGION"], AwsCredentials::new("AKIAUNKNOWNKEY000000", wrong_secret, Some("SECRET-session")))
            .with_endpoint(&s["SEALWIRE_TEST_AWS_ENDPOINT"]),
    )
    .unwrap();
    let e = seal(b"x", &ctx(), &[&unknown]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KmsAuthFailed, "{e:?}");
    errors.push(e);
    assert!(!format!("{bad:?}{unknown:?}").contains("SECRET"));
    // Unknown key.
    let missing = provider(&s, "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000");
    let e = seal(b"x", &ctx(), &[&missing]).unwrap_err();
    assert_eq!(e, Error::KmsKeyNotFound);
    errors.push(e);
    // Closed port.
    let dead = AwsKms::new(config(&s, arn).with_endpoint(&format!("http://127.0.0.1:{}", closed_port()))).unwrap();
    let e = seal(b"x", &ctx(), &[&dead]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KmsUnavailable);
    errors.push(e);
    for e in &errors {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains("SECRET"), "secret in error: {text}");
            assert!(!text.contains(&s["SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"]), "secret in error: {text}");
        }
    }
}

#[test]
fn multi_kms_object_opens_through_whichever_provider_is_reachable() {
    let mut needs = NEEDS.to_vec();
    needs.extend(["SEALWIRE_TEST_VAULT_ADDR", "SEALWIRE_TEST_VAULT_TOKEN"]);
    let Some(s) = require("multi_kms_object_opens_through_whichever_provider_is_reachable", &needs) else { return };
    let arn = &s["SEALWIRE_TEST_AWS_KEY_ARN"];
    let aws = provider(&s, arn);
    let vault = VaultTransit::new(VaultTransitConfig::new(&s["SEALWIRE_TEST_VAULT_ADDR"], &s["SEALWIRE_TEST_VAULT_TOKEN"], &unique("multi"))).unwrap();
    vault.create_key().unwrap();
    let sealed = seal(b"for both KMSes", &ctx(), &[&aws, &vault]).unwrap();
    let h = EnvelopeHeader::parse(&sealed).unwrap();
    assert_eq!(h.wrapped_keys().len(), 2);
    // Each alone opens it.
    assert_eq!(open(&sealed, &ctx(), &[&aws]).unwrap(), b"for both KMSes");
    assert_eq!(open(&sealed, &ctx(), &[&vault]).unwrap(), b"for both KMSes");
    // AWS unreachable (closed port): fails fast, then Vault opens it.
    let aws_down = AwsKms::new(config(&s, arn).with_endpoint(&format!("http://127.0.0.1:{}", closed_port()))).unwrap();
    let t = Instant::now();
    assert_eq!(open(&sealed, &ctx(), &[&aws_down, &vault]).unwrap(), b"for both KMSes");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(aws_down.stats().http_requests, 1);
    // Vault unreachable: AWS opens it.
    let vault_down = VaultTransit::new(VaultTransitConfig::new(
        &format!("http://127.0.0.1:{}", closed_port()),
        &s["SEALWIRE_TEST_VAULT_TOKEN"],
        vault.key_name(),
    ))
    .unwrap();
    assert_eq!(open(&sealed, &ctx(), &[&vault_down, &aws]).unwrap(), b"for both KMSes");
    // Both down: the outage is reported, typed.
    assert_eq!(open(&sealed, &ctx(), &[&aws_down, &vault_down]).unwrap_err().kind(), ErrorKind::KmsUnavailable);
}

#[test]
fn aws_data_key_cache_respects_limits() {
    let Some(s) = require("aws_data_key_cache_respects_limits", NEEDS) else { return };
    let p = provider(&s, &s["SEALWIRE_TEST_AWS_KEY_ARN"]);
    let c = ctx();
    // 1 KiB messages, 10 KiB per data key → a new data key every 10 messages.
    let cache = DataKeyCache::new(CacheLimits::new(Duration::from_secs(600), 1000, 10 * 1024).unwrap());
    let pt = [1u8; 1024];
    let base = p.stats().operations;
    let objects: Vec<Vec<u8>> = (0..100).map(|_| cache.seal(&pt, &c, &[&p]).unwrap()).collect();
    assert_eq!(p.stats().operations - base, 10);
    let mut distinct: Vec<Vec<u8>> = objects.iter().map(|o| EnvelopeHeader::parse(o).unwrap().wrapped_keys()[0].wrapped().to_vec()).collect();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
    for o in objects.iter().step_by(7) {
        assert_eq!(open(o, &c, &[&p]).unwrap(), pt);
    }
    // Age limit: after it passes, a new data key.
    let cache = DataKeyCache::new(CacheLimits::new(Duration::from_millis(150), 1000, 1 << 20).unwrap());
    let base = p.stats().operations;
    cache.seal(&pt, &c, &[&p]).unwrap();
    cache.seal(&pt, &c, &[&p]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    cache.seal(&pt, &c, &[&p]).unwrap();
    assert_eq!(p.stats().operations - base, 2);
    // Another context never shares a data key.
    let other = EncryptionContext::from_pairs([("tenant", "b")]).unwrap();
    cache.seal(&pt, &other, &[&p]).unwrap();
    assert_eq!(p.stats().operations - base, 3);
    assert_eq!(cache.stats().entries, 2);
}

// ------------------------------------------------------------ network stub (no server needed)

fn stub_provider(stub: &Stub, retry: RetryPolicy) -> AwsKms {
    let http = HttpOptions::default().with_retry(retry);
    AwsKms::new(
        AwsKmsConfig::new("arn:aws:kms:us-east-1:111122223333:key/stub", "us-east-1", AwsCredentials::new("AKIDSTUB", "SECRET-stub", None))
            .with_endpoint(&stub.url())
            .with_http(http),
    )
    .unwrap()
}

fn aws_err(kind: &str) -> Script {
    Script::Reply(400, "application/x-amz-json-1.1", format!(r#"{{"__type":"{kind}","message":"m"}}"#))
}

#[test]
fn aws_throttling_and_server_errors_are_retried_with_backoff() {
    let blob = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==";
    let pt = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let ok = format!(r#"{{"CiphertextBlob":"{blob}","KeyId":"arn:aws:kms:us-east-1:111122223333:key/stub","Plaintext":"{pt}"}}"#);
    let stub = Stub::start(vec![
        aws_err("ThrottlingException"),
        Script::Reply(500, "application/x-amz-json-1.1", r#"{"__type":"KMSInternalException"}"#.into()),
        Script::Reply(503, "text/plain", "unavailable".into()),
        Script::Reply(200, "application/x-amz-json-1.1", ok),
    ]);
    let p = stub_provider(&stub, RetryPolicy::new(4, Duration::from_millis(10), Duration::from_millis(50)).unwrap());
    let sealed = seal(b"x", &ctx(), &[&p]).unwrap();
    assert_eq!(EnvelopeHeader::parse(&sealed).unwrap().wrapped_keys()[0].wrapped(), [b'A'; 28].as_slice());
    assert_eq!(stub.count(), 4);
    assert_eq!(p.stats().retries, 3);
    // Every attempt was signed anew, and carried the context plus the binding entry.
    let bodies = stub.bodies.lock().unwrap();
    assert!(bodies.iter().all(|b| b.contains(r#""EncryptionContext":{"bucket":"reports","sealwire:wrap":""#)));
}

#[test]
fn aws_retries_are_bounded_and_errors_typed() {
    let cases: [(Script, Error, usize); 7] = [
        (aws_err("ThrottlingException"), Error::KmsThrottled, 3),
        (Script::Reply(503, "text/plain", String::new()), Error::KmsUnavailable("server error (5xx) until retries ran out"), 3),
        (aws_err("DisabledException"), Error::KmsKeyDisabled, 1),
        (aws_err("KMSInvalidStateException"), Error::KmsKeyDisabled, 1),
        (aws_err("NotFoundException"), Error::KmsKeyNotFound, 1),
        (aws_err("InvalidCiphertextException"), Error::ContextMismatch, 1),
        (aws_err("ExpiredTokenException"), Error::KmsAuthFailed("expired session token"), 1),
    ];
    for (script, want, attempts) in cases {
        let stub = Stub::start(vec![script]);
        let p = stub_provider(&stub, RetryPolicy::new(3, Duration::from_millis(2), Duration::from_millis(5)).unwrap());
        let e = seal(b"x", &ctx(), &[&p]).unwrap_err();
        assert_eq!(e, want);
        assert_eq!(stub.count(), attempts, "{want:?}");
        assert!(!e.to_string().contains("SECRET"));
    }
    // A hanging server: bounded by the request timeout, not retried.
    let stub = Stub::start(vec![Script::Hang]);
    let http = HttpOptions::default().with_request_timeout(Duration::from_millis(300)).unwrap();
    let p = AwsKms::new(
        AwsKmsConfig::new("k", "us-east-1", AwsCredentials::new("a", "b", None)).with_endpoint(&stub.url()).with_http(http),
    )
    .unwrap();
    let t = Instant::now();
    assert_eq!(seal(b"x", &ctx(), &[&p]).unwrap_err(), Error::KmsTimeout);
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn aws_real_endpoints_need_tls() {
    let c = AwsKmsConfig::new("k", "eu-west-1", AwsCredentials::new("a", "b", None));
    assert!(AwsKms::new(c.clone()).is_ok()); // https://kms.eu-west-1.amazonaws.com
    assert_eq!(AwsKms::new(c.with_endpoint("http://kms.example:80")).unwrap_err().kind(), ErrorKind::InvalidParameter);
}
