use super::*;

#[test]
fn tokens_split_at_separators_and_camel_case() {
    let t = |s: &str| field_tokens(s).join(" ");
    assert_eq!(t("remotePeerID"), "remote peer id");
    assert_eq!(t("HTTPServer"), "http server");
    assert_eq!(t("x.routing-hint"), "x routing hint");
    assert_eq!(t("peer_id"), "peer id");
    assert_eq!(t("Size2Bytes"), "size2 bytes");
    assert_eq!(t("__"), "");
}

#[test]
fn classes_follow_the_suffix_rule() {
    let s = Scrubber::default();
    for name in ["peer_id", "remote_peer_id", "peerId", "routing_hint", "messageType", "did", "user_did", "mailbox", "key_id"] {
        assert_eq!(s.classify(name), FieldClass::Identifying, "{name}");
    }
    for name in ["api_key", "accessToken", "passphrase", "private_key", "Authorization"] {
        assert_eq!(s.classify(name), FieldClass::Secret, "{name}");
    }
    for name in ["size", "payload_size", "contentLength", "len"] {
        assert_eq!(s.classify(name), FieldClass::Size, "{name}");
    }
    // Suffix, not substring: these must stay.
    for name in ["candid", "token_count", "prompt_tokens", "peering_mode", "message", "zip", "identity_count"] {
        assert_eq!(s.classify(name), FieldClass::Other, "{name}");
    }
    let extra = Scrubber::default().with_extra_fields(["tenant", "--"]);
    assert_eq!(extra.classify("orgTenant"), FieldClass::Identifying);
    assert_eq!(Scrubber::default().classify("orgTenant"), FieldClass::Other);
}

#[test]
fn identifying_fields_are_hashed_per_process_or_dropped() {
    let h = Scrubber::new(ScrubMode::Hash);
    let did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    let a = h.scrub("peer_id", did);
    let b = h.scrub("sender", did);
    let v = a.value().unwrap();
    assert!(v.starts_with("h:") && v.len() == 18 && v[2..].bytes().all(|c| c.is_ascii_hexdigit()), "{v}");
    assert!(!v.contains("z6Mk"));
    // Same value, same token within the process, whichever field carries it.
    assert_eq!(a, b);
    assert_ne!(h.scrub("peer_id", "did:key:other").value(), Some(v));
    // The per-process key is not a fixed one.
    assert_ne!(Some(token_with_key(&[0u8; 32], did.as_bytes()).as_str()), a.value());
    assert_eq!(Scrubber::new(ScrubMode::Drop).scrub("peer_id", did), Scrubbed::Drop);
    // Secrets are dropped in either mode.
    assert_eq!(h.scrub("api_key", "sk-1"), Scrubbed::Drop);
    assert_eq!(h.scrub_u64("password", 1234), Scrubbed::Drop);
    // Sizes become buckets; non-numbers in size fields are dropped.
    assert_eq!(h.scrub("payload_size", "1234").value(), Some("<=4KiB"));
    assert_eq!(h.scrub_u64("len", 70_000).value(), Some("<=256KiB"));
    assert_eq!(h.scrub("size", "large"), Scrubbed::Drop);
    // Identifying numbers are hashed like strings.
    assert_eq!(h.scrub_u64("prekey_id", 7), h.scrub("prekey_id", "7"));
    // Other fields keep their value, with identifiers in text redacted.
    assert_eq!(h.scrub("count", "12").value(), Some("12"));
    let msg = h.scrub("message", "hello from did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK!");
    assert_eq!(msg.value(), Some(format!("hello from {v}!").as_str()));
    assert_eq!(
        h.clone().with_value_redaction(false).scrub("message", "x did:key:z6Mk").value(),
        Some("x did:key:z6Mk")
    );
}

#[test]
fn redaction_finds_identifiers_and_leaves_ordinary_text() {
    let d = Scrubber::new(ScrubMode::Drop);
    let r = |s: &str| d.redact_text(s).into_owned();
    assert_eq!(r("fp 12345 67890 12345 67890 12345 done"), "fp [redacted] done");
    assert_eq!(r("fp 12345 67890 12345"), "fp 12345 67890 12345");
    assert_eq!(r(&format!("k {}", "ab".repeat(16))), "k [redacted]");
    assert_eq!(r(&format!("k {}", "ab".repeat(15))), format!("k {}", "ab".repeat(15)));
    assert_eq!(r("x=n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=;"), "x=[redacted];");
    // The middle of a longer word is never a match start.
    assert_eq!(r("xdid:key:z6Mk"), "xdid:key:z6Mk");
    for plain in ["GET /api/v1/agents 200", "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", "uuid 123e4567-e89b-12d3-a456-426614174000", "naïve → ok"] {
        assert!(matches!(d.redact_text(plain), Cow::Borrowed(_)), "{plain}");
    }
}

#[test]
fn size_buckets_have_exact_edges() {
    assert_eq!(size_bucket(0), "0");
    assert_eq!(size_bucket(64), "<=64");
    assert_eq!(size_bucket(65), "<=256");
    assert_eq!(size_bucket(16 << 20), "<=16MiB");
    assert_eq!(size_bucket((16 << 20) + 1), ">16MiB");
    assert_eq!(size_bucket(u64::MAX), ">16MiB");
}

#[test]
fn sampler_keeps_the_configured_fraction() {
    assert!(Sampler::new(1.5).is_err());
    assert!(Sampler::new(-0.1).is_err());
    assert!(Sampler::new(f64::NAN).is_err());
    let all = Sampler::new(1.0).unwrap();
    let none = Sampler::new(0.0).unwrap();
    assert!((0..1000).all(|_| all.keep()));
    assert!((0..1000).all(|_| !none.keep()));
    let quarter = Sampler::new(0.25).unwrap();
    let kept = (0..20_000).filter(|_| quarter.keep()).count();
    // Binomial(20000, 0.25): mean 5000, sd ≈ 61; ±500 is > 8 sd.
    assert!((4500..=5500).contains(&kept), "{kept}");
    assert!(quarter.keep_draw(0));
    assert!(quarter.keep_draw((1u64 << 62) - 1));
    assert!(!quarter.keep_draw(1u64 << 62));
    assert!(all.keep_draw(u64::MAX));
}

#[test]
fn event_sampler_samples_only_prefixed_events() {
    let none = EventSampler::new(0.0, ["sealwire.noise"]).unwrap();
    assert!(!none.keep("sealwire.noise.handshake_done", None));
    assert!(!none.keep("other", Some("sealwire.noise.transport")));
    assert!(none.keep("sealwire.envelope.key_rotated", Some("app")));
    assert!(none.is_sampled("sealwire.noise.x", None) && !none.is_sampled("x", Some("y")));
    let all = EventSampler::new(1.0, ["sealwire"]).unwrap();
    assert!((0..1000).all(|_| all.keep("sealwire.x", None)));
    let keep_all = EventSampler::keep_all();
    assert!(keep_all.keep("anything", Some("at all")) && keep_all.prefixes().is_empty() && keep_all.rate() == 1.0);
    let half = EventSampler::new(0.5, ["hot"]).unwrap();
    let kept = (0..20_000).filter(|_| half.keep("hot.path", None)).count();
    // 20,000 fair draws: 10,000 ± 5σ (σ ≈ 71).
    assert!((9_645..=10_355).contains(&kept), "{kept}");
    assert!(EventSampler::new(1.5, ["x"]).is_err());
    assert_eq!(half.prefixes(), ["hot".to_string()]);
}
