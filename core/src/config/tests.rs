use super::*;
use crate::noise::NoiseBuilder;

fn codes(r: &Report) -> Vec<(&str, &str, &str)> {
    r.findings().iter().map(|f| (f.path.as_str(), f.code.as_str(), f.severity.as_str())).collect()
}

fn toml_with(extra: &str) -> Report {
    SecurityConfig::check(&format!("version = 1\n{extra}"), Format::Toml)
}

#[test]
fn default_template_is_the_default_and_clean() {
    let parsed = SecurityConfig::from_toml_str(SecurityConfig::DEFAULT_TOML).unwrap();
    assert_eq!(parsed, SecurityConfig::default());
    assert_eq!(SecurityConfig::default().validate().findings(), &[]);
    assert_eq!(SecurityConfig::from_toml_str("version = 1").unwrap(), SecurityConfig::default());
    // Both writers round-trip.
    let mut c = SecurityConfig::default();
    c.storage.kek.provider = KekProvider::Vault;
    c.storage.kek.uri = Some("vault://orders?mount=transit".into());
    c.metadata.extra_fields = vec!["tenant".into()];
    c.metadata.sampling.rate = 0.125;
    assert_eq!(SecurityConfig::from_toml_str(&c.to_toml_string().unwrap()).unwrap(), c);
    assert_eq!(SecurityConfig::from_json_str(&c.to_json_string()).unwrap(), c);
    // Every key of the default is written out (so `to_toml_string` documents the full state).
    let toml = SecurityConfig::default().to_toml_string().unwrap();
    for flag in Overrides::NAMES {
        assert!(toml.contains(flag), "{flag}");
    }
}

#[test]
fn parse_errors_are_findings_with_paths() {
    let r = toml_with("[storage.kek]\nprovder = \"vault\"\n");
    assert_eq!(codes(&r), [("storage.kek.provder", "unknown-key", "error")]);
    assert_eq!(r.findings()[0].line, Some(3));
    let r = toml_with("bogus = 1\n");
    assert_eq!(codes(&r), [("bogus", "unknown-key", "error")]);
    let r = toml_with("[cipher]\nnonce = \"random-64\"\n");
    assert_eq!(codes(&r), [("cipher.nonce", "unknown-value", "error")]);
    assert!(r.findings()[0].message.contains("counter-persisted"), "{}", r.findings()[0].message);
    let r = toml_with("[prekeys]\nbatch_size = \"100\"\n");
    assert_eq!(codes(&r), [("prekeys.batch_size", "wrong-type", "error")]);
    let r = toml_with("[prekeys]\nbatch_size = -1\n");
    assert_eq!(codes(&r), [("prekeys.batch_size", "wrong-type", "error")]);
    let r = SecurityConfig::check("post_quantum = \"off\"\n", Format::Toml);
    assert_eq!(codes(&r), [("", "missing-key", "error")]);
    let r = toml_with("version = 1\n");
    assert_eq!(codes(&r), [("", "duplicate-key", "error")]);
    let r = toml_with("[cipher\n");
    assert_eq!(codes(&r), [("", "syntax", "error")]);
    let r = toml_with("[metadata]\nextra_fields = [\"a\", 3]\n");
    assert_eq!(codes(&r), [("metadata.extra_fields[1]", "wrong-type", "error")]);

    let r = SecurityConfig::check("{\"version\": 1, \"ratchet\": {\"header_encryption\": true, \"x\": 1}}", Format::Json);
    assert_eq!(codes(&r), [("ratchet.x", "unknown-key", "error")]);
    let r = SecurityConfig::check("{\"version\": 1, \"version\": 1}", Format::Json);
    assert_eq!(codes(&r), [("", "duplicate-key", "error")]);
    let r = SecurityConfig::check("{\"version\": 1,}", Format::Json);
    assert_eq!(codes(&r), [("", "syntax", "error")]);
    let r = SecurityConfig::check("{\"version\": 1} {}", Format::Json);
    assert_eq!(codes(&r), [("", "syntax", "error")]);
    assert!(SecurityConfig::from_json_str("{\"version\": 1}").is_ok());
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let r = toml_with(
        "[ratchet]\nheader_encryption = false\n[prekeys]\nbatch_size = 0\n[storage.kek]\nrotation_days = 400\n[metadata]\nscrub = false\n",
    );
    assert_eq!(
        codes(&r),
        [
            ("ratchet.header_encryption", "ratchet-headers-clear", "error"),
            ("prekeys.batch_size", "no-one-time-prekeys", "error"),
            ("storage.kek.rotation_days", "kek-rotation-long", "error"),
            ("metadata.scrub", "scrubbing-off", "error"),
        ]
    );
    assert_eq!(r.findings()[2].allow, Some("allow_long_kek_rotation"));
    assert!(!r.is_ok());
}

#[test]
fn allow_flags_accept_exactly_their_findings() {
    let text = "[storage.kek]\nrotation_days = 400\n[overrides]\nallow_long_kek_rotation = true\nallow_weak_kdf = true\n";
    let r = toml_with(text);
    assert_eq!(
        codes(&r),
        [
            ("storage.kek.rotation_days", "kek-rotation-long", "allowed"),
            ("overrides.allow_weak_kdf", "unused-override", "warning"),
        ]
    );
    assert!(r.is_ok());
    let loaded = SecurityConfig::load(&format!("version = 1\n{text}"), Format::Toml).unwrap();
    assert_eq!(loaded.storage.kek.rotation_days, 400);
    // The flag of one finding does not accept another.
    let r = toml_with("[metadata]\nscrub = false\n[overrides]\nallow_long_kek_rotation = true\n");
    assert!(!r.is_ok());
    let e = SecurityConfig::load("version = 1\n[metadata]\nscrub = false\n", Format::Toml).unwrap_err();
    assert!(e.to_string().contains("metadata.scrub"), "{e}");
    assert!(e.to_string().contains("overrides.allow_no_scrubbing"), "{e}");
    assert_eq!(crate::Error::from(e).kind(), crate::ErrorKind::InvalidParameter);
}

#[test]
fn hard_limits_cannot_be_overridden() {
    let mut all = String::from("[overrides]\n");
    for flag in Overrides::NAMES {
        all.push_str(&format!("{flag} = true\n"));
    }
    for (body, path, code) in [
        ("version = 2\n", "version", "unsupported-version"),
        ("[prekeys]\nbatch_size = 1001\n", "prekeys.batch_size", "out-of-range"),
        ("[metadata.sampling]\nrate = 1.5\n", "metadata.sampling.rate", "out-of-range"),
        ("[metadata.sampling]\nrate = nan\n", "metadata.sampling.rate", "out-of-range"),
        ("[storage.kek.cache]\nmax_age_secs = 90000\n", "storage.kek.cache.max_age_secs", "out-of-range"),
        ("[handshake]\nfirst_contact = \"IKhfs\"\n", "handshake.first_contact", "handshake-needs-known-peer"),
        ("[storage.kek]\nprovider = \"none\"\n", "storage.kek.provider", "kek-missing"),
        ("[storage.kek]\nprovider = \"vault\"\n", "storage.kek.uri", "kek-uri-missing"),
        ("[storage.kek]\nprovider = \"vault\"\nuri = \"aws-kms://k\"\n", "storage.kek.uri", "kek-uri-invalid"),
        ("[storage.kek]\nprovider = \"aws-kms\"\nuri = \"aws-kms://k?token=x\"\n", "storage.kek.uri", "kek-uri-invalid"),
        ("[cipher]\naead = \"aes-256-gcm\"\nnonce = \"random-192\"\n", "cipher.nonce", "nonce-aead-mismatch"),
        ("[identity.kdf]\nmemory_kib = 1024\n", "identity.kdf.memory_kib", "out-of-range"),
        ("[metadata]\nextra_fields = [\"--\"]\n", "metadata.extra_fields[0]", "invalid-name"),
    ] {
        let text = if body.starts_with("version") { format!("{body}{all}") } else { format!("version = 1\n{body}{all}") };
        let r = SecurityConfig::check(&text, Format::Toml);
        let hit = r.findings().iter().find(|f| f.code.as_str() == code).unwrap_or_else(|| panic!("{body}: {:?}", codes(&r)));
        assert_eq!(hit.path, path, "{body}");
        assert_eq!(hit.severity, Severity::Error, "{body}");
        assert_eq!(hit.allow, None, "{body}");
        assert!(!r.is_ok(), "{body}");
    }
}

#[test]
fn post_quantum_policy_drives_the_hybrid_rule() {
    let classical = "[handshake]\nonline = \"IK\"\nfirst_contact = \"XX\"\noffline = \"x3dh\"\n";
    let r = toml_with(classical);
    assert_eq!(
        codes(&r),
        [
            ("handshake.online", "handshake-not-hybrid", "error"),
            ("handshake.first_contact", "handshake-not-hybrid", "error"),
            ("handshake.offline", "handshake-not-hybrid", "error"),
        ]
    );
    let r = SecurityConfig::check(&format!("version = 1\npost_quantum = \"preferred\"\n{classical}"), Format::Toml);
    assert!(r.is_ok());
    assert_eq!(r.findings().len(), 3);
    assert!(r.findings().iter().all(|f| f.severity == Severity::Warning));
    let r = SecurityConfig::check(&format!("version = 1\npost_quantum = \"off\"\n{classical}"), Format::Toml);
    assert_eq!(codes(&r), [("post_quantum", "post-quantum-off", "warning")]);
}

#[test]
fn noise_names_are_accepted_by_the_noise_layer() {
    let mut c = SecurityConfig::default();
    assert_eq!(c.noise_protocol(Topology::Online), "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s");
    assert_eq!(c.noise_protocol(Topology::FirstContact), "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s");
    let mut n = 0;
    for &p in HandshakePattern::ALL {
        for &a in Aead::ALL {
            for &k in Kdf::ALL {
                c.handshake.online = p;
                c.cipher.aead = a;
                c.cipher.kdf = k;
                let name = c.noise_protocol(Topology::Online);
                NoiseBuilder::new(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(name.contains("MLKEM768"), p.is_hybrid());
                n += 1;
            }
        }
    }
    assert_eq!(n, 80);
}

#[test]
fn accessors_give_the_library_defaults() {
    let c = SecurityConfig::default();
    assert_eq!(c.prekey_options().unwrap(), crate::ratchet::PrekeyOptions::default());
    assert_eq!(c.session_options(), crate::ratchet::SessionOptions::default());
    assert_eq!(c.kdf_params().unwrap(), KdfParams::default());
    let so = c.seal_options().unwrap();
    assert_eq!((so.suite(), so.segment_size()), (Suite::ChaCha20Poly1305, crate::envelope::DEFAULT_SEGMENT_SIZE));
    assert_eq!(c.cache_limits().unwrap(), None);
    let mut on = c.clone();
    on.storage.kek.cache.enabled = true;
    assert_eq!(on.cache_limits().unwrap(), Some(CacheLimits::default()));
    let mut x3dh = c.clone();
    x3dh.handshake.offline = OfflineAgreement::X3dh;
    x3dh.prekeys.batch_size = 5000;
    assert!(x3dh.prekey_options().is_err());
    x3dh.prekeys.batch_size = 7;
    let o = x3dh.prekey_options().unwrap();
    assert!(!o.post_quantum && o.one_time_prekeys == 7);
    let s = c.scrubber().unwrap();
    assert_eq!(s.mode(), ScrubMode::Hash);
    let mut off = c;
    off.metadata.scrub = false;
    assert!(off.scrubber().is_none());
}

#[test]
fn format_detection() {
    assert_eq!(Format::detect(Some("a.JSON"), "version = 1"), Format::Json);
    assert_eq!(Format::detect(Some("a.toml"), "{"), Format::Toml);
    assert_eq!(Format::detect(Some("conf"), "  \n{\"version\":1}"), Format::Json);
    assert_eq!(Format::detect(None, "version = 1"), Format::Toml);
}

#[test]
fn every_code_has_a_distinct_name() {
    let mut names: Vec<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), FindingCode::ALL.len());
    for c in FindingCode::ALL {
        assert_eq!(FindingCode::from_name(c.as_str()), Some(*c));
    }
}
