//! Protocol tests of `sealwire relay serve` (SQLite) through the core client and raw HTTP:
//! directory claims (sequential, concurrent, exhaustion, replenish), mailbox order,
//! acknowledgement and duplicates, authentication failures, bad input, quotas, graceful
//! shutdown and what the logs may contain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod relay_support;

use std::collections::BTreeSet;

use sealwire::relay::{
    deposit_id, hex_lower, mailbox_address, sign_request, sign_request_with_nonce, MailboxKeys, RelayClient, RequestSigner,
};
use sealwire::store::{MemoryStore, Messenger};
use sealwire::{Error, ErrorKind, Identity};

use relay_support::*;

#[test]
fn health_routes_and_graceful_shutdown() {
    let d = tmpdir("health");
    let mut relay = Relay::start(&d, &[]);
    relay.client().health().unwrap();
    let (s, b) = raw(&relay.url, "GET", "/v1/health", &[], b"");
    assert_eq!(s, 200);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&b).unwrap()["backend"], backend_name());
    let (s, b) = raw(&relay.url, "GET", "/v2/nothing", &[], b"");
    assert_eq!((s, error_code(&b).as_str()), (404, "not_found"));
    let (s, b) = raw(&relay.url, "DELETE", "/v1/health", &[], b"");
    assert_eq!((s, error_code(&b).as_str()), (405, "method_not_allowed"));
    // A client error maps to a typed error.
    let c = relay.client();
    assert!(matches!(c.claim_bundle(&[7; 32]), Err(Error::RelayNotFound(_))));
    relay.stop();
    assert_eq!(c.health().unwrap_err().kind(), ErrorKind::RelayUnavailable);
}

#[test]
fn claims_hand_out_each_one_time_prekey_once_then_last_resort_and_replenish() {
    let d = tmpdir("claims");
    let relay = Relay::start(&d, &["--replenish-below", "3"]);
    let (mut alice, alice_id) = memory_agent(&relay, small_options(6, 4));
    let st = alice.publish().unwrap();
    assert_eq!((st.one_time, st.kem_one_time, st.post_quantum, st.replenish), (6, 4, true, false));
    let owner = alice.messenger().peer_id();
    let c = relay.client();

    let mut one_time_ids = Vec::new();
    let mut kem_ids = Vec::new();
    for i in 0..8 {
        let claim = c.claim_bundle(&owner).unwrap();
        assert_eq!(claim.bundle.identity(), alice.messenger().identity());
        assert_eq!(claim.mailbox.as_ref().unwrap().address(), alice.mailbox().address());
        let ot = claim.bundle.one_time_prekey_ids();
        let kem = claim.bundle.kem_one_time_prekey_ids();
        assert_eq!(claim.one_time, i < 6);
        assert_eq!(ot.len(), usize::from(i < 6));
        assert_eq!(claim.kem_one_time, i < 4);
        assert_eq!(kem.len(), usize::from(i < 4));
        // Exhausted ML-KEM one-time prekeys: the last-resort key instead.
        assert_eq!(claim.bundle.kem_last_resort_prekey_id().is_some(), i >= 4);
        one_time_ids.extend(ot);
        kem_ids.extend(kem);
        if i == 4 {
            let st = c.prekey_status(&alice_id).unwrap();
            assert_eq!((st.one_time, st.kem_one_time, st.replenish), (1, 0, true));
        }
    }
    assert_eq!(one_time_ids.iter().collect::<BTreeSet<_>>().len(), 6);
    assert_eq!(kem_ids.iter().collect::<BTreeSet<_>>().len(), 4);
    // Lowest ids first.
    assert!(one_time_ids.windows(2).all(|w| w[0] < w[1]));

    // Publishing the same prekeys again does not bring back the claimed ones.
    let st = alice.publish().unwrap();
    assert_eq!((st.one_time, st.kem_one_time, st.replenish), (0, 0, true));
    assert!(c.claim_bundle(&owner).unwrap().bundle.one_time_prekey_ids().is_empty());

    // maintain(): the relay says replenish → new prekeys, published; never an old id again.
    let st = alice.maintain().unwrap();
    assert_eq!((st.one_time, st.kem_one_time, st.replenish), (6, 4, false));
    let again = alice.maintain().unwrap();
    assert_eq!((again.one_time, again.kem_one_time), (6, 4), "no replenish needed: nothing added");
    let claim = c.claim_bundle(&owner).unwrap();
    let new_id = claim.bundle.one_time_prekey_ids()[0];
    assert!(new_id > *one_time_ids.iter().max().unwrap());
    assert!(claim.bundle.kem_one_time_prekey_ids()[0] > *kem_ids.iter().max().unwrap());
    // The owner still holds the claimed prekeys (initial messages may still arrive).
    assert_eq!(alice.messenger().one_time_prekey_count().unwrap(), 12);
}

#[test]
fn concurrent_claims_never_share_a_one_time_prekey() {
    let d = tmpdir("concurrent");
    let relay = Relay::start(&d, &[]);
    let (mut alice, _alice_id) = memory_agent(&relay, small_options(100, 100));
    alice.publish().unwrap();
    let owner = alice.messenger().peer_id();
    let url = relay.url.clone();
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let c = RelayClient::new(&url).unwrap();
                (0..4).map(|_| c.claim_bundle(&owner).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    let claims: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert_eq!(claims.len(), 128);
    let ot: Vec<u32> = claims.iter().flat_map(|c| c.bundle.one_time_prekey_ids()).collect();
    let kem: Vec<u32> = claims.iter().flat_map(|c| c.bundle.kem_one_time_prekey_ids()).collect();
    assert_eq!(ot.len(), 100, "exactly the 100 published one-time prekeys were handed out");
    assert_eq!(ot.iter().collect::<BTreeSet<_>>().len(), 100, "no one-time prekey handed out twice");
    assert_eq!(kem.len(), 100);
    assert_eq!(kem.iter().collect::<BTreeSet<_>>().len(), 100, "no ML-KEM prekey handed out twice");
    assert_eq!(claims.iter().filter(|c| c.bundle.kem_last_resort_prekey_id().is_some()).count(), 28);
    assert_eq!(relay.count("SELECT count(*) FROM one_time"), 0);
}

#[test]
fn mailbox_keeps_deposit_order_dedupes_and_deletes_on_ack() {
    let d = tmpdir("mailbox");
    let relay = Relay::start(&d, &[]);
    let id = Identity::generate().unwrap();
    let keys = MailboxKeys::derive(&id, 0).unwrap();
    let desc = keys.descriptor(&id);
    let c = relay.client();
    // Deposits before the owner opened the mailbox are refused.
    assert!(matches!(c.deposit(&desc, b"early"), Err(Error::RelayNotFound(_))));
    assert!(c.open_mailbox(&keys).unwrap());
    assert!(!c.open_mailbox(&keys).unwrap());
    for i in 0..20 {
        assert!(c.deposit(&desc, format!("message {i}").as_bytes()).unwrap());
    }
    // The same ratchet message again (a re-send, sealed afresh): stored once.
    assert!(!c.deposit(&desc, b"message 3").unwrap());
    let page = c.list(&keys, 0, 1000).unwrap();
    assert_eq!(page.messages.len(), 20);
    assert!(!page.more);
    assert!(page.messages.windows(2).all(|w| w[0].seq < w[1].seq));
    for (i, e) in page.messages.iter().enumerate() {
        let body = format!("message {i}");
        assert_eq!(e.deposit_id, deposit_id(&keys.address(), body.as_bytes()));
        assert_eq!(keys.open(&c.fetch(&keys, e.seq).unwrap()).unwrap(), body.as_bytes());
    }
    let first = c.list(&keys, 0, 5).unwrap();
    assert_eq!(first.messages.len(), 5);
    assert!(first.more);
    let next = c.list(&keys, first.messages[4].seq, 5).unwrap();
    assert_eq!(next.messages[0].seq, page.messages[5].seq);
    for e in &page.messages[..10] {
        assert!(c.ack(&keys, e.seq).unwrap());
        assert!(!c.ack(&keys, e.seq).unwrap(), "ack is idempotent");
        assert!(matches!(c.fetch(&keys, e.seq), Err(Error::RelayNotFound(_))));
    }
    let rest = c.list(&keys, 0, 1000).unwrap();
    assert_eq!(rest.messages, page.messages[10..].to_vec());
    assert_eq!(relay.count("SELECT messages FROM mailboxes"), 10);
    // Acknowledged messages are gone from the database.
    assert_eq!(relay.count("SELECT count(*) FROM messages"), 10);
    // Batches: bodies with the listing, in order; several acknowledged in one request.
    let (batch, more) = c.fetch_batch(&keys, 0, 4, 0).unwrap();
    assert!(more);
    assert_eq!(batch.iter().map(|(e, _)| *e).collect::<Vec<_>>(), page.messages[10..14].to_vec());
    for (i, (_, body)) in batch.iter().enumerate() {
        assert_eq!(keys.open(body).unwrap(), format!("message {}", 10 + i).as_bytes());
    }
    let seqs: Vec<u64> = batch.iter().map(|(e, _)| e.seq).collect();
    assert_eq!(c.ack_many(&keys, &seqs).unwrap(), 4);
    assert_eq!(c.ack_many(&keys, &[seqs[0], page.messages[14].seq]).unwrap(), 1, "only the one still there counts");
    let (batch, more) = c.fetch_batch(&keys, 0, 100, 0).unwrap();
    assert!(!more);
    assert_eq!(batch.len(), 5);
    assert_eq!(relay.count("SELECT messages FROM mailboxes"), 5);
    assert_eq!(relay.count("SELECT bytes FROM mailboxes"), relay.count("SELECT sum(length(body)) FROM messages"));
}

#[test]
fn bad_signatures_replays_stale_timestamps_and_foreign_mailboxes_are_refused_and_store_nothing() {
    let d = tmpdir("auth");
    let mut relay = Relay::start(&d, &[]);
    let (mut alice, alice_id) = memory_agent(&relay, small_options(3, 3));
    alice.publish().unwrap();
    let a_keys = MailboxKeys::derive(&alice_id, 0).unwrap();
    let a_desc = a_keys.descriptor(&alice_id);
    relay.client().deposit(&a_desc, b"for alice").unwrap();
    let mallory = Identity::generate().unwrap();
    let m_keys = MailboxKeys::derive(&mallory, 0).unwrap();
    let list_path = format!("/v1/mailboxes/{}/messages?after=0&limit=10", hex_lower(&a_keys.address()));
    let before = relay.snapshot();

    let expect = |relay: &Relay, method: &str, path: &str, headers: &[(&str, String)], body: &[u8], status: u16, code: &str| {
        let (s, b) = raw(&relay.url, method, path, headers, body);
        assert_eq!((s, error_code(&b).as_str()), (status, code), "{method} {path}");
    };
    // No headers.
    expect(&relay, "GET", &list_path, &[], b"", 401, "auth_missing");
    // A flipped signature bit.
    let good = sign_request(RequestSigner::Mailbox(&a_keys), "GET", &list_path, b"", now_unix()).unwrap();
    let mut bad = good.clone();
    bad.signature[10] ^= 1;
    expect(&relay, "GET", &list_path, &signed_headers(&bad), b"", 401, "bad_signature");
    // Signed for another path.
    let other = sign_request(RequestSigner::Mailbox(&a_keys), "GET", "/v1/health", b"", now_unix()).unwrap();
    expect(&relay, "GET", &list_path, &signed_headers(&other), b"", 401, "bad_signature");
    // Stale and future timestamps.
    for ts in [now_unix() - 1000, now_unix() + 1000] {
        let stale = sign_request(RequestSigner::Mailbox(&a_keys), "GET", &list_path, b"", ts).unwrap();
        expect(&relay, "GET", &list_path, &signed_headers(&stale), b"", 401, "stale_timestamp");
    }
    // Malformed header values.
    let mut h = signed_headers(&good);
    h[0].1 = h[0].1.to_uppercase();
    expect(&relay, "GET", &list_path, &h, b"", 400, "malformed_request");
    // Mallory's valid mailbox signature on Alice's mailbox; Mallory's identity on Alice's bundle.
    let foreign = sign_request(RequestSigner::Mailbox(&m_keys), "GET", &list_path, b"", now_unix()).unwrap();
    expect(&relay, "GET", &list_path, &signed_headers(&foreign), b"", 403, "forbidden");
    let ack_path = format!("/v1/mailboxes/{}/messages/1", hex_lower(&a_keys.address()));
    let foreign = sign_request(RequestSigner::Mailbox(&m_keys), "DELETE", &ack_path, b"", now_unix()).unwrap();
    expect(&relay, "DELETE", &ack_path, &signed_headers(&foreign), b"", 403, "forbidden");
    let batch_ack = format!("/v1/mailboxes/{}/ack", hex_lower(&a_keys.address()));
    let foreign = sign_request(RequestSigner::Mailbox(&m_keys), "POST", &batch_ack, b"{\"seqs\":[1]}", now_unix()).unwrap();
    expect(&relay, "POST", &batch_ack, &signed_headers(&foreign), b"{\"seqs\":[1]}", 403, "forbidden");
    let bodies_path = format!("{list_path}&bodies=1");
    let foreign = sign_request(RequestSigner::Mailbox(&m_keys), "GET", &bodies_path, b"", now_unix()).unwrap();
    expect(&relay, "GET", &bodies_path, &signed_headers(&foreign), b"", 403, "forbidden");
    let status_path = format!("/v1/bundles/{}/status", hex_lower(&alice.messenger().peer_id()));
    let foreign = sign_request(RequestSigner::Identity(&mallory), "GET", &status_path, b"", now_unix()).unwrap();
    expect(&relay, "GET", &status_path, &signed_headers(&foreign), b"", 403, "forbidden");
    // Alice's identity key is not her mailbox key.
    let wrong_key = sign_request(RequestSigner::Identity(&alice_id), "GET", &list_path, b"", now_unix()).unwrap();
    expect(&relay, "GET", &list_path, &signed_headers(&wrong_key), b"", 403, "forbidden");
    // Mallory publishing her own bundle under Alice's owner path, signed by Mallory: forbidden;
    // signed by nobody who owns it, a bundle of someone else under one's own path: bad_bundle.
    let mut m_messenger =
        Messenger::create(MemoryStore::new(), mallory.duplicate(), &KEY, small_options(2, 2), now_unix()).unwrap();
    let m_bundle = m_messenger.bundle().unwrap();
    assert_eq!(
        relay.client().publish_bundle(&mallory, &alice.messenger().bundle().unwrap(), None, false).unwrap_err().kind(),
        ErrorKind::IdentityMismatch,
        "the client refuses to publish someone else's bundle"
    );
    let b64 = |b: &[u8]| base64_std(b);
    let body = format!("{{\"bundle\":\"{}\",\"mailbox\":null,\"reset\":false}}", b64(&alice.messenger().bundle().unwrap().to_bytes()));
    let m_path = format!("/v1/bundles/{}", hex_lower(mallory.public().ed25519_bytes()));
    let auth = sign_request(RequestSigner::Identity(&mallory), "PUT", &m_path, body.as_bytes(), now_unix()).unwrap();
    expect(&relay, "PUT", &m_path, &signed_headers(&auth), body.as_bytes(), 400, "bad_bundle");
    let a_path = format!("/v1/bundles/{}", hex_lower(&alice.messenger().peer_id()));
    let body = format!("{{\"bundle\":\"{}\",\"mailbox\":null,\"reset\":true}}", b64(&m_bundle.to_bytes()));
    let auth = sign_request(RequestSigner::Identity(&mallory), "PUT", &a_path, body.as_bytes(), now_unix()).unwrap();
    expect(&relay, "PUT", &a_path, &signed_headers(&auth), body.as_bytes(), 403, "forbidden");
    // A mailbox descriptor signed by someone else.
    let body = format!(
        "{{\"bundle\":\"{}\",\"mailbox\":\"{}\",\"reset\":false}}",
        b64(&m_bundle.to_bytes()),
        b64(&a_desc.to_bytes())
    );
    let auth = sign_request(RequestSigner::Identity(&mallory), "PUT", &m_path, body.as_bytes(), now_unix()).unwrap();
    expect(&relay, "PUT", &m_path, &signed_headers(&auth), body.as_bytes(), 400, "bad_mailbox_descriptor");
    // Nothing was stored by any refused request. The only new rows are the nonces of the
    // two requests whose signature and ownership were valid but whose body was refused
    // (bad_bundle, bad_mailbox_descriptor): a nonce is stored once the signer is established.
    let after = relay.snapshot();
    assert_eq!(after[..5], before[..5]);
    assert_eq!(after[5], before[5] + 2);

    // Replay: the same signed request twice; and again after a restart (persisted cache).
    let nonce = [0x5a; 16];
    let once = sign_request_with_nonce(RequestSigner::Mailbox(&a_keys), "GET", &list_path, b"", now_unix(), nonce).unwrap();
    let (s, _) = raw(&relay.url, "GET", &list_path, &signed_headers(&once), b"");
    assert_eq!(s, 200);
    expect(&relay, "GET", &list_path, &signed_headers(&once), b"", 401, "replayed_nonce");
    let ack_once = sign_request(RequestSigner::Mailbox(&a_keys), "DELETE", &ack_path, b"", now_unix()).unwrap();
    relay.restart();
    expect(&relay, "GET", &list_path, &signed_headers(&once), b"", 401, "replayed_nonce");
    // An ack captured before the restart works once, and its replay is refused.
    let (s, _) = raw(&relay.url, "DELETE", &ack_path, &signed_headers(&ack_once), b"");
    assert_eq!(s, 200);
    expect(&relay, "DELETE", &ack_path, &signed_headers(&ack_once), b"", 401, "replayed_nonce");
    // The client maps these to RELAY_AUTH_FAILED.
    let err = RelayClient::new(&relay.url).unwrap().list(&m_keys, 0, 10).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RelayNotFound, "Mallory's own mailbox was never opened");
    assert_eq!(m_messenger.peer_id(), *mallory.public().ed25519_bytes());
}

fn base64_std(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn oversized_malformed_and_over_quota_requests_are_refused_and_store_nothing() {
    let d = tmpdir("badinput");
    let relay = Relay::start(
        &d,
        &["--max-message-bytes", "4096", "--max-bundle-bytes", "65536", "--mailbox-max-messages", "3", "--mailbox-max-bytes", "6000"],
    );
    let id = Identity::generate().unwrap();
    let keys = MailboxKeys::derive(&id, 0).unwrap();
    let desc = keys.descriptor(&id);
    let c = relay.client();
    c.open_mailbox(&keys).unwrap();
    let addr = hex_lower(&keys.address());
    let before = relay.snapshot();
    let expect = |method: &str, path: &str, headers: &[(&str, String)], body: &[u8], status: u16, code: &str| {
        let (s, b) = raw(&relay.url, method, path, headers, body);
        assert_eq!((s, error_code(&b).as_str()), (status, code), "{method} {path}");
    };
    let dep = |did: &[u8; 32]| format!("/v1/mailboxes/{addr}/messages/{}", hex_lower(did));

    // Oversized deposit (sealed properly, but 5000 bytes > 4096).
    let big = desc.seal(&vec![7u8; 5000]).unwrap();
    expect("PUT", &dep(&[1; 32]), &[], &big, 413, "body_too_large");
    assert_eq!(c.deposit(&desc, &vec![7u8; 5000]).unwrap_err(), Error::RelayRejected { code: "body_too_large", status: 413 });
    // Not a sealed mailbox message; truncated; wrong version.
    expect("PUT", &dep(&[2; 32]), &[], b"SWRM\x01 plain ratchet message, not sealed for a mailbox", 400, "malformed_message");
    let ok = desc.seal(b"x").unwrap();
    expect("PUT", &dep(&[3; 32]), &[], &ok[..20], 400, "malformed_message");
    let mut v2 = ok.clone();
    v2[4] = 2;
    expect("PUT", &dep(&[3; 32]), &[], &v2, 400, "malformed_message");
    // Bad path values.
    expect("PUT", &format!("/v1/mailboxes/{}/messages/{}", addr.to_uppercase(), hex_lower(&[4; 32])), &[], &ok, 400, "malformed_request");
    expect("PUT", &format!("/v1/mailboxes/{addr}/messages/abc"), &[], &ok, 400, "malformed_request");
    expect("PUT", &format!("/v1/mailboxes/{}/messages/{}", hex_lower(&[9; 32]), hex_lower(&[4; 32])), &[], &ok, 404, "not_found");
    expect("POST", "/v1/bundles/zz/claim", &[], b"", 400, "malformed_request");
    expect("POST", &format!("/v1/bundles/{}/claim", hex_lower(&[1; 32])), &[], b"body", 400, "malformed_request");
    // Signed, but with bad query parameters, sequence numbers, JSON.
    let signed = |method: &str, path: &str, body: &[u8]| {
        signed_headers(&sign_request(RequestSigner::Mailbox(&keys), method, path, body, now_unix()).unwrap())
    };
    for q in ["?after=01", "?limit=0", "?limit=1001", "?foo=1", "?after=1&after=2", "?limit=-1", "?wait=31", "?wait=x", "?bodies=2", "?bodies=1&bodies=1"] {
        let p = format!("/v1/mailboxes/{addr}/messages{q}");
        expect("GET", &p, &signed("GET", &p, b""), b"", 400, "malformed_request");
    }
    let ackp = format!("/v1/mailboxes/{addr}/ack");
    for body in [&b"{}"[..], b"{\"seqs\":[]}", b"{\"seqs\":[0]}", b"{\"seqs\":[1],\"x\":1}", b"[1]"] {
        expect("POST", &ackp, &signed("POST", &ackp, body), body, 400, "malformed_request");
    }
    let many = format!("{{\"seqs\":[{}]}}", vec!["1"; 1001].join(","));
    expect("POST", &ackp, &signed("POST", &ackp, many.as_bytes()), many.as_bytes(), 400, "malformed_request");
    for seq in ["0", "01", "x", "18446744073709551616"] {
        let p = format!("/v1/mailboxes/{addr}/messages/{seq}");
        expect("GET", &p, &signed("GET", &p, b""), b"", 400, "malformed_request");
    }
    let owner = hex_lower(id.public().ed25519_bytes());
    let bp = format!("/v1/bundles/{owner}");
    let sig_id = |body: &[u8]| signed_headers(&sign_request(RequestSigner::Identity(&id), "PUT", &bp, body, now_unix()).unwrap());
    for body in [
        &b"not json"[..],
        b"{\"bundle\":\"AAAA\"}",
        b"{\"bundle\":\"!!\",\"mailbox\":null,\"reset\":false}",
        b"{\"bundle\":\"AAAA\",\"mailbox\":null,\"reset\":false,\"extra\":1}",
    ] {
        expect("PUT", &bp, &sig_id(body), body, 400, "malformed_request");
    }
    let body = b"{\"bundle\":\"U1dQQgE=\",\"mailbox\":null,\"reset\":false}";
    expect("PUT", &bp, &sig_id(body), body, 400, "bad_bundle");
    // Oversized bundle publication and oversized bodies on other routes.
    let huge = vec![b'a'; 70_000];
    expect("PUT", &bp, &sig_id(&huge), &huge, 413, "body_too_large");
    let ap = format!("/v1/mailboxes/{addr}");
    expect("PUT", &ap, &signed("PUT", &ap, &[0; 2048]), &[0; 2048], 413, "body_too_large");
    let after = relay.snapshot();
    assert_eq!(after[..5], before[..5], "nothing stored by refused requests");

    // Quotas: 3 messages, 6000 bytes.
    assert!(c.deposit(&desc, &[1; 2500]).unwrap());
    assert!(c.deposit(&desc, &[2; 2500]).unwrap());
    assert_eq!(c.deposit(&desc, &[3; 2500]), Err(Error::RelayMailboxFull), "bytes quota");
    assert!(c.deposit(&desc, &[4; 10]).unwrap());
    let (s, b) = raw(&relay.url, "PUT", &dep(&[5; 32]), &[], &desc.seal(b"y").unwrap());
    assert_eq!((s, error_code(&b).as_str()), (507, "mailbox_full"), "message-count quota");
    assert_eq!(relay.count("SELECT count(*) FROM messages"), 3);
    // Acknowledging makes room again.
    let first = c.list(&keys, 0, 10).unwrap().messages[0].seq;
    c.ack(&keys, first).unwrap();
    assert!(c.deposit(&desc, b"y").unwrap());
    let _ = mailbox_address(&keys.signing_public());
}

#[test]
fn logs_carry_no_identities_addresses_ids_or_sizes() {
    let d = tmpdir("logs");
    let mut relay = Relay::start(&d, &[]);
    let (mut alice, _alice_id) = memory_agent(&relay, small_options(4, 4));
    let (mut bob, _bob_id) = memory_agent(&relay, small_options(4, 4));
    alice.publish().unwrap();
    bob.publish().unwrap();
    let bob_public = bob.messenger().identity().clone();
    alice.connect(&bob_public).unwrap();
    let bob_id = bob.messenger().peer_id();
    alice.send(&bob_id, b"hello bob, this is a secret").unwrap();
    let got = bob.receive(100).unwrap();
    assert_eq!(got.received.len(), 1);
    let _ = raw(&relay.url, "GET", "/v1/nothing", &[], b"");
    relay.stop();
    let log = std::fs::read_to_string(&relay.log).unwrap();
    assert!(log.lines().count() >= 10);
    let forbidden = [
        hex_lower(&alice.messenger().peer_id()),
        hex_lower(&bob_id),
        hex_lower(&alice.mailbox().address()),
        hex_lower(&bob.mailbox().address()),
        hex_lower(&bob.mailbox().signing_public()),
    ];
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        for k in v.as_object().unwrap().keys() {
            assert!(
                ["ts_ms", "level", "event", "method", "route", "status", "ms", "error", "listen", "backend", "notifications"].contains(&k.as_str()),
                "unexpected log field {k}"
            );
        }
        if let Some(r) = v.get("route") {
            let r = r.as_str().unwrap();
            assert!(r == "unmatched" || r.starts_with("/v1/"), "{r}");
            assert!(!r.chars().any(|c| c.is_ascii_digit()) || r == "/v1/health" || r.starts_with("/v1/"), "{r}");
        }
        for f in &forbidden {
            assert!(!line.contains(f.as_str()), "log line carries an identity or address: {line}");
            assert!(!line.contains(&f[..16]), "log line carries part of an identity or address: {line}");
        }
        assert!(!line.contains("secret"));
    }
    assert!(log.contains("\"route\":\"/v1/mailboxes/{address}/messages/{item}\""));
    assert!(log.contains("\"event\":\"stopped\""));
}

#[test]
fn long_poll_wakes_on_deposit_and_times_out_empty() {
    let d = tmpdir("longpoll");
    let relay = Relay::start(&d, &[]);
    let id = Identity::generate().unwrap();
    let keys = MailboxKeys::derive(&id, 0).unwrap();
    let desc = keys.descriptor(&id);
    relay.client().open_mailbox(&keys).unwrap();
    // Nothing deposited: the relay holds the request for the whole wait, then answers empty.
    let start = std::time::Instant::now();
    let page = relay.client().list_wait(&keys, 0, 10, 2).unwrap();
    assert!(page.messages.is_empty());
    assert!(start.elapsed() >= std::time::Duration::from_secs(2), "{:?}", start.elapsed());
    // A deposit while the reader waits wakes it at once.
    let url = relay.url.clone();
    let id2 = id.duplicate();
    let reader = std::thread::spawn(move || {
        let keys = MailboxKeys::derive(&id2, 0).unwrap();
        let start = std::time::Instant::now();
        let page = RelayClient::new(&url).unwrap().list_wait(&keys, 0, 10, 12).unwrap();
        (page, start.elapsed())
    });
    std::thread::sleep(std::time::Duration::from_millis(800));
    relay.client().deposit(&desc, b"ding").unwrap();
    let (page, waited) = reader.join().unwrap();
    assert_eq!(page.messages.len(), 1);
    assert!(waited < std::time::Duration::from_secs(6), "woken by the deposit, not the timeout: {waited:?}");
    // A message already waiting: no wait at all.
    let start = std::time::Instant::now();
    assert_eq!(relay.client().list_wait(&keys, 0, 10, 12).unwrap().messages.len(), 1);
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn demo_runs_the_offline_exchange_through_an_embedded_relay() {
    // `demo --layers`: the relay protocol under RelayAgent (steps 14.1–14.4).
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sealwire"))
        .args(["demo", "--layers"])
        .env_remove("VAULT_ADDR")
        .env_remove("BAO_ADDR")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    for needle in [
        "[14.1] The same offline exchange through a relay",
        "relay at http://127.0.0.1:",
        "ok  the relay holds three sealed messages (SWMM)",
        "ok  none of them shows Alice's identity or any plaintext to the relay",
        "ok  three messages, in deposit order, from Alice",
        "ok  acknowledged messages are deleted from the relay",
        "ok  Alice reads the reply",
        "demo complete",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    // The embedded relay's logs are silenced: the demo's output stays readable.
    assert!(!String::from_utf8_lossy(&o.stderr).contains("\"event\""));

    // `demo`: the agents' offline messages through the same embedded relay.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sealwire"))
        .arg("demo")
        .env_remove("VAULT_ADDR")
        .env_remove("BAO_ADDR")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    for needle in [
        "deliveries: relay, relay, relay",
        "ok  the relay holds three sealed messages: no plaintext, and not the sender's identity",
        "ok  the relay deleted them once Bob's store had committed them",
        "ok  Bob's next message starts a new session through the relay",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(!out.contains("http://"), "no network address printed:\n{out}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("\"event\""));
}
