//! Vault Transit provider against a real OpenBao dev server (started by
//! `scripts/kms-servers.sh`), plus the retry/timeout behaviour against a scripted local HTTP
//! stub. Server tests SKIP loudly when the servers are not configured, and fail instead
//! under `SEALWIRE_KMS_REQUIRED=1` (as `scripts/test-kms.sh` runs them).
#![cfg(feature = "kms")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kms_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kms_support::{closed_port, require, transplant_entry, unique, Script, Stub};
use sealwire::envelope::kms::{HttpOptions, RetryPolicy, VaultTransit, VaultTransitConfig, VAULT_TRANSIT_PROVIDER};
use sealwire::envelope::{
    open, seal, CacheLimits, DataKeyCache, EncryptionContext, EnvelopeHeader, EnvelopeReader, EnvelopeWriter, KeyProvider,
    Keyring, Rewrap,
};
use sealwire::{Error, ErrorKind};

const NEEDS: &[&str] = &["SEALWIRE_TEST_VAULT_ADDR", "SEALWIRE_TEST_VAULT_TOKEN"];

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("tenant", "acme"), ("purpose", "kms-test")]).unwrap()
}

fn config(s: &HashMap<String, String>, key: &str) -> VaultTransitConfig {
    VaultTransitConfig::new(&s["SEALWIRE_TEST_VAULT_ADDR"], &s["SEALWIRE_TEST_VAULT_TOKEN"], key)
}

fn fresh_key(s: &HashMap<String, String>) -> VaultTransit {
    let p = VaultTransit::new(config(s, &unique("sw"))).unwrap();
    p.create_key().unwrap();
    p
}

/// Raw admin call to the server (key setup the provider does not offer).
fn admin(s: &HashMap<String, String>, method: &str, path: &str, body: &str) -> u16 {
    kms_support::raw_request(
        &s["SEALWIRE_TEST_VAULT_ADDR"],
        method,
        &format!("/v1/{path}"),
        &[("X-Vault-Token", s["SEALWIRE_TEST_VAULT_TOKEN"].as_str())],
        body,
    )
}

#[test]
fn vault_seal_open_round_trip_datakey_and_encrypt_paths() {
    let Some(s) = require("vault_seal_open_round_trip", NEEDS) else { return };
    let p = fresh_key(&s);
    let pt = vec![0x5au8; 3000];
    // datakey/plaintext (the default for the first provider)
    let sealed = seal(&pt, &ctx(), &[&p]).unwrap();
    let h = EnvelopeHeader::parse(&sealed).unwrap();
    let e = &h.wrapped_keys()[0];
    assert_eq!((e.provider(), e.key_id(), e.key_version()), (VAULT_TRANSIT_PROVIDER, p.key_name(), 1));
    assert!(e.wrapped().starts_with(b"vault:v1:"));
    assert!(!h.shares_data_key());
    assert_eq!(open(&sealed, &ctx(), &[&p]).unwrap(), pt);
    assert_eq!(p.key_version(), 1);
    // encrypt (OS-random data key), and a fresh provider instance opens it.
    let p2 = VaultTransit::new(config(&s, p.key_name()).generate_data_keys(false)).unwrap();
    let sealed2 = seal(&pt, &ctx(), &[&p2]).unwrap();
    let fresh = VaultTransit::new(config(&s, p.key_name())).unwrap();
    assert_eq!(open(&sealed2, &ctx(), &[&fresh]).unwrap(), pt);
    assert_eq!(open(&sealed, &ctx(), &[&fresh]).unwrap(), pt);
    // Streaming path too.
    let mut out = Vec::new();
    let mut w = EnvelopeWriter::new(&mut out, &ctx(), &[&p], &sealwire::envelope::SealOptions::default()).unwrap();
    std::io::Write::write_all(&mut w, &pt).unwrap();
    w.finish().unwrap();
    let mut r = EnvelopeReader::new(&out[..], &ctx(), &[&fresh]).unwrap();
    let mut back = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut back).unwrap();
    assert_eq!(back, pt);
    // Calls: create, the key check once per provider, then one call per wrap / unwrap:
    // create + key read + datakey + decrypt + datakey (stream).
    let st = p.stats();
    assert_eq!(st.failures, 0);
    assert_eq!(st.operations, 5, "{st:?}");
}

#[test]
fn vault_rotation_rewrap_and_min_decryption_version() {
    let Some(s) = require("vault_rotation_rewrap_and_min_decryption_version", NEEDS) else { return };
    let p = fresh_key(&s);
    let old = seal(b"sealed under v1", &ctx(), &[&p]).unwrap();
    assert_eq!(EnvelopeHeader::parse(&old).unwrap().wrapped_keys()[0].key_version(), 1);

    assert_eq!(p.rotate().unwrap(), 2);
    assert_eq!(p.key_version(), 2);
    // Old objects still open; new ones use v2.
    assert_eq!(open(&old, &ctx(), &[&p]).unwrap(), b"sealed under v1");
    let new = seal(b"sealed under v2", &ctx(), &[&p]).unwrap();
    assert_eq!(EnvelopeHeader::parse(&new).unwrap().wrapped_keys()[0].key_version(), 2);

    // Server-side rewrap moves the old object to v2 without touching its payload.
    let mut rw = Rewrap::open(&old, &ctx(), &[&p]).unwrap();
    assert_eq!(rw.rewrap_with(&p).unwrap(), 1);
    let rewrapped = rw.apply(&old).unwrap();
    let h = EnvelopeHeader::parse(&rewrapped).unwrap();
    assert_eq!(h.wrapped_keys()[0].key_version(), 2);
    assert!(h.wrapped_keys()[0].wrapped().starts_with(b"vault:v2:"));
    assert_eq!(&rewrapped[h.len()..], &old[EnvelopeHeader::parse(&old).unwrap().len()..]);

    // min_decryption_version = 2: un-rewrapped objects are refused with KeyRetired.
    p.set_min_decryption_version(2).unwrap();
    let info = p.key_info().unwrap();
    assert_eq!((info.latest_version, info.min_decryption_version, info.derived), (2, 2, true));
    let err = open(&old, &ctx(), &[&p]).unwrap_err();
    assert_eq!(err, Error::KeyRetired);
    assert_eq!(err.kind().code(), "ERR_SEALWIRE_KEY_RETIRED");
    // ... and cannot be rewrapped any more either.
    assert_eq!(Rewrap::open(&old, &ctx(), &[&p]).unwrap_err(), Error::KeyRetired);
    assert_eq!(open(&rewrapped, &ctx(), &[&p]).unwrap(), b"sealed under v1");
    assert_eq!(open(&new, &ctx(), &[&p]).unwrap(), b"sealed under v2");
}

#[test]
fn vault_wrapped_key_moved_to_another_object_is_refused() {
    let Some(s) = require("vault_wrapped_key_moved_to_another_object_is_refused", NEEDS) else { return };
    let p = fresh_key(&s);
    let a = seal(b"object a", &ctx(), &[&p]).unwrap();
    let b = seal(b"object b", &ctx(), &[&p]).unwrap();
    // Same key, same context, but another message id: Vault's derived key differs.
    let forged = transplant_entry(&b, &a, 0);
    assert_eq!(open(&forged, &ctx(), &[&p]).unwrap_err(), Error::ContextMismatch);
    // A caller expecting another context is refused before any KMS call.
    let before = p.stats().operations;
    let other = EncryptionContext::from_pairs([("tenant", "evil")]).unwrap();
    assert_eq!(open(&a, &other, &[&p]).unwrap_err(), Error::ContextMismatch);
    assert_eq!(p.stats().operations, before);
}

#[test]
fn vault_errors_are_typed_and_carry_no_secret() {
    let Some(s) = require("vault_errors_are_typed_and_carry_no_secret", NEEDS) else { return };
    let p = fresh_key(&s);
    let sealed = seal(b"x", &ctx(), &[&p]).unwrap();
    let mut errors: Vec<Error> = Vec::new();

    // Bad token: on wrap (key check) and on unwrap.
    let secret_token = "s.sealwire-SECRET-token-0123456789";
    let bad = VaultTransit::new(VaultTransitConfig::new(&s["SEALWIRE_TEST_VAULT_ADDR"], secret_token, p.key_name())).unwrap();
    let e = seal(b"x", &ctx(), &[&bad]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KmsAuthFailed, "{e:?}");
    errors.push(e);
    let e = open(&sealed, &ctx(), &[&bad]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KmsAuthFailed, "{e:?}");
    errors.push(e);
    assert!(!format!("{bad:?}").contains("SECRET"));

    // Unknown key: refused on wrap (no upsert), typed.
    let missing = VaultTransit::new(config(&s, &unique("missing"))).unwrap();
    let e = seal(b"x", &ctx(), &[&missing]).unwrap_err();
    assert_eq!(e, Error::KmsKeyNotFound);
    errors.push(e);
    // ... and with the key check off, the datakey endpoint does not upsert either.
    let unchecked = VaultTransit::new(config(&s, &unique("missing")).check_key(false)).unwrap();
    let e = seal(b"x", &ctx(), &[&unchecked]).unwrap_err();
    assert_eq!(e, Error::KmsKeyNotFound);
    // A key deleted after sealing: unwrap says KmsKeyNotFound.
    let gone = fresh_key(&s);
    let sealed_gone = seal(b"y", &ctx(), &[&gone]).unwrap();
    assert_eq!(admin(&s, "POST", &format!("transit/keys/{}/config", gone.key_name()), r#"{"deletion_allowed":true}"#), 200);
    assert_eq!(admin(&s, "DELETE", &format!("transit/keys/{}", gone.key_name()), ""), 204);
    let e = open(&sealed_gone, &ctx(), &[&gone]).unwrap_err();
    assert_eq!(e, Error::KmsKeyNotFound);
    errors.push(e);

    // A key that is not derived cannot bind the object: refused.
    let plain = unique("plain");
    assert!(matches!(admin(&s, "POST", &format!("transit/keys/{plain}"), r#"{"type":"aes256-gcm96"}"#), 200 | 204));
    let np = VaultTransit::new(config(&s, &plain)).unwrap();
    let e = seal(b"x", &ctx(), &[&np]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidParameter, "{e:?}");

    // Closed port: unavailable, fast.
    let dead = VaultTransit::new(VaultTransitConfig::new(&format!("http://127.0.0.1:{}", closed_port()), secret_token, "k")).unwrap();
    let e = seal(b"x", &ctx(), &[&dead]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KmsUnavailable, "{e:?}");
    errors.push(e);

    for e in &errors {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains("SECRET") && !text.contains(secret_token), "secret in error: {text}");
            assert!(!text.contains(&s["SEALWIRE_TEST_VAULT_TOKEN"]) || s["SEALWIRE_TEST_VAULT_TOKEN"].len() < 6, "{text}");
        }
    }
}

#[test]
fn vault_multi_kms_fallback_fails_fast_on_an_unreachable_provider() {
    let Some(s) = require("vault_multi_kms_fallback", NEEDS) else { return };
    let p = fresh_key(&s);
    let mut ring = Keyring::new();
    ring.create_key("local").unwrap();
    let sealed = seal(b"two ways in", &ctx(), &[&p, &ring]).unwrap();
    // The same Vault key name behind a closed port: owns the entry, cannot reach the server.
    let dead = VaultTransit::new(VaultTransitConfig::new(
        &format!("http://127.0.0.1:{}", closed_port()),
        &s["SEALWIRE_TEST_VAULT_TOKEN"],
        p.key_name(),
    ))
    .unwrap();
    let t = Instant::now();
    assert_eq!(open(&sealed, &ctx(), &[&dead, &p]).unwrap(), b"two ways in");
    assert!(t.elapsed() < Duration::from_secs(2), "fallback took {:?}", t.elapsed());
    assert_eq!(dead.stats().http_requests, 1, "a refused connection is not retried");
    // Only the unreachable Vault and the keyring: the keyring entry opens it.
    assert_eq!(open(&sealed, &ctx(), &[&dead, &ring]).unwrap(), b"two ways in");
    // Only the unreachable one: its typed error comes out.
    assert_eq!(open(&sealed, &ctx(), &[&dead]).unwrap_err().kind(), ErrorKind::KmsUnavailable);
}

#[test]
fn vault_data_key_cache_cuts_kms_calls_by_orders_of_magnitude() {
    let Some(s) = require("vault_data_key_cache", NEEDS) else { return };
    const N: usize = 10_000;
    let pt = [7u8; 64];
    let c = ctx();
    // Without the cache: one KMS call per seal.
    let plain = fresh_key(&s);
    seal(&pt, &c, &[&plain]).unwrap(); // key check and connection warm-up
    let base = plain.stats().operations;
    let mut last = Vec::new();
    for _ in 0..N {
        last = seal(&pt, &c, &[&plain]).unwrap();
    }
    let uncached = plain.stats().operations - base;
    assert_eq!(uncached, N as u64);
    assert_eq!(open(&last, &c, &[&plain]).unwrap(), pt);

    // With the cache (1000 messages per data key): 10 data keys.
    let cached = VaultTransit::new(config(&s, plain.key_name())).unwrap();
    let cache = DataKeyCache::new(CacheLimits::new(Duration::from_secs(600), 1000, 1 << 30).unwrap());
    let base = cached.stats().operations;
    let mut objects = Vec::new();
    for i in 0..N {
        let o = cache.seal(&pt, &c, &[&cached]).unwrap();
        if i % 997 == 0 || i == N - 1 {
            objects.push(o);
        }
    }
    let with_cache = cached.stats().operations - base;
    let st = cache.stats();
    assert_eq!((st.misses, st.hits), (10, (N - 10) as u64), "{st:?}");
    assert!(with_cache * 100 <= uncached, "cache: {with_cache} calls vs {uncached} without");
    eprintln!("KMS calls for {N} seals: {uncached} without cache, {with_cache} with (key check included)");
    // Every cached object opens with plain `open` and a fresh provider, and says it shares
    // its data key.
    let reader = VaultTransit::new(config(&s, plain.key_name())).unwrap();
    for o in &objects {
        assert!(EnvelopeHeader::parse(o).unwrap().shares_data_key());
        assert_eq!(open(o, &c, &[&reader]).unwrap(), pt);
    }
}

// ------------------------------------------------------------ network stub (no server needed)

fn stub_provider(stub: &Stub, retry: RetryPolicy, timeout: Duration) -> VaultTransit {
    let http = HttpOptions::default().with_retry(retry).with_request_timeout(timeout).unwrap();
    VaultTransit::new(
        VaultTransitConfig::new(&stub.url(), "stub-token", "k").check_key(false).generate_data_keys(false).with_http(http),
    )
    .unwrap()
}

const CIPHERTEXT: &str = r#"{"data":{"ciphertext":"vault:v3:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="}}"#;

#[test]
fn vault_retries_throttling_and_server_errors_with_backoff() {
    let stub = Stub::start(vec![
        Script::Reply(503, "application/json", r#"{"errors":["Vault is sealed"]}"#.into()),
        Script::Reply(429, "application/json", r#"{"errors":["rate limited"]}"#.into()),
        Script::Reply(500, "application/json", r#"{"errors":["internal error"]}"#.into()),
        Script::Reply(200, "application/json", CIPHERTEXT.into()),
    ]);
    let retry = RetryPolicy::new(4, Duration::from_millis(20), Duration::from_millis(100)).unwrap();
    let p = stub_provider(&stub, retry, Duration::from_secs(5));
    let t = Instant::now();
    let sealed = seal(b"x", &ctx(), &[&p]).unwrap();
    let elapsed = t.elapsed();
    let h = EnvelopeHeader::parse(&sealed).unwrap();
    assert_eq!(h.wrapped_keys()[0].key_version(), 3);
    assert_eq!(stub.count(), 4);
    let st = p.stats();
    assert_eq!((st.operations, st.http_requests, st.retries, st.failures), (1, 4, 3, 0));
    // Backoff: at least 10 + 20 + 40 ms (the lower halves of 20, 40, 80 ms).
    assert!(elapsed >= Duration::from_millis(70), "{elapsed:?}");
    // The request carried the token header and a derived-key context, and the DEK only in
    // the body sent to the server.
    let bodies = stub.bodies.lock().unwrap();
    assert!(bodies[0].contains("\"context\":\"") && bodies[0].contains("\"plaintext\":\""));
}

#[test]
fn vault_retries_are_bounded() {
    let stub = Stub::start(vec![Script::Reply(503, "application/json", r#"{"errors":["sealed"]}"#.into())]);
    let p = stub_provider(&stub, RetryPolicy::new(3, Duration::from_millis(5), Duration::from_millis(10)).unwrap(), Duration::from_secs(5));
    let e = seal(b"x", &ctx(), &[&p]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KmsUnavailable, "{e:?}");
    assert_eq!(stub.count(), 3);
    let stub = Stub::start(vec![Script::Reply(429, "application/json", "{}".into())]);
    let p = stub_provider(&stub, RetryPolicy::new(2, Duration::from_millis(5), Duration::from_millis(10)).unwrap(), Duration::from_secs(5));
    assert_eq!(seal(b"x", &ctx(), &[&p]).unwrap_err(), Error::KmsThrottled);
    assert_eq!(stub.count(), 2);
    // Errors that retrying cannot fix are not retried.
    let stub = Stub::start(vec![Script::Reply(403, "application/json", r#"{"errors":["permission denied"]}"#.into())]);
    let p = stub_provider(&stub, RetryPolicy::default(), Duration::from_secs(5));
    assert_eq!(seal(b"x", &ctx(), &[&p]).unwrap_err().kind(), ErrorKind::KmsAuthFailed);
    assert_eq!(stub.count(), 1);
    let stub = Stub::start(vec![Script::Reply(400, "application/json", r#"{"errors":["key is disabled"]}"#.into())]);
    let p = stub_provider(&stub, RetryPolicy::default(), Duration::from_secs(5));
    assert_eq!(seal(b"x", &ctx(), &[&p]).unwrap_err(), Error::KmsKeyDisabled);
}

#[test]
fn vault_timeout_is_bounded_and_typed() {
    let stub = Stub::start(vec![Script::Hang]);
    let p = stub_provider(&stub, RetryPolicy::default(), Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(seal(b"x", &ctx(), &[&p]).unwrap_err(), Error::KmsTimeout);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(stub.count(), 1, "a timeout is not retried");
}

#[test]
fn vault_config_from_env_and_tls_rule() {
    // Only this test touches these variables.
    std::env::set_var("BAO_ADDR", "http://127.0.0.1:1");
    std::env::set_var("BAO_TOKEN", "env-token");
    std::env::remove_var("VAULT_ADDR");
    std::env::remove_var("VAULT_TOKEN");
    let c = VaultTransitConfig::from_env("k").unwrap();
    assert!(!format!("{c:?}").contains("env-token"));
    assert!(VaultTransit::new(c).is_ok());
    assert_eq!(
        VaultTransit::new(VaultTransitConfig::new("http://192.0.2.1:8200", "t", "k")).unwrap_err().kind(),
        ErrorKind::InvalidParameter
    );
    assert!(VaultTransit::new(VaultTransitConfig::new("https://vault.example:8200", "t", "k")).is_ok());
}
