//! Replays tests/vectors/config/: every example configuration gives exactly the findings the
//! manifest lists, and the scrubbing rules give exactly what the independent Python
//! re-implementation (gen_scrub_vectors.py) wrote in scrub.json. The bindings replay the same
//! files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use sealwire::config::{Finding, FindingCode, Format, Overrides, SecurityConfig, Severity};
use sealwire::hygiene::{self, FieldClass, ScrubMode, Scrubbed, Scrubber};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/config")
}

fn read_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join(name)).unwrap()).unwrap()
}

type Key = (String, String, String, Option<String>);

fn key_of(f: &Finding) -> Key {
    (f.path.clone(), f.code.as_str().to_owned(), f.severity.as_str().to_owned(), f.allow.map(str::to_owned))
}

fn check_file(file: &str) -> sealwire::config::Report {
    let text = std::fs::read_to_string(dir().join(file)).unwrap();
    SecurityConfig::check(&text, Format::detect(Some(file), &text))
}

#[test]
fn every_case_gives_exactly_its_findings() {
    let manifest = read_json("cases.json");
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 40, "{}", cases.len());
    let mut seen_codes = BTreeSet::new();
    let mut seen_flags = BTreeSet::new();
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let report = check_file(file);
        let got: BTreeSet<Key> = report.findings().iter().map(key_of).collect();
        assert_eq!(got.len(), report.findings().len(), "{file}: duplicate findings");
        let want: BTreeSet<Key> = case["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_owned(),
                    f["code"].as_str().unwrap().to_owned(),
                    f["severity"].as_str().unwrap().to_owned(),
                    f.get("allow").and_then(Value::as_str).map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(got, want, "{file}:\n{}", report.findings().iter().map(|f| format!("  {f}\n")).collect::<String>());
        assert_eq!(report.is_ok(), case["ok"].as_bool().unwrap(), "{file}");
        // The file layout says the same thing as the manifest.
        assert_eq!(file.starts_with("valid/"), report.is_ok(), "{file}");
        let text = std::fs::read_to_string(dir().join(file)).unwrap();
        assert_eq!(SecurityConfig::load(&text, Format::detect(Some(file), &text)).is_ok(), report.is_ok(), "{file}");
        for f in report.findings() {
            seen_codes.insert(f.code.as_str());
            assert!(!f.message.is_empty());
            if let Some(flag) = f.allow {
                assert!(Overrides::NAMES.contains(&flag), "{flag}");
                seen_flags.insert(flag);
            }
        }
    }
    // Every code and every flag is exercised by some example.
    let all: BTreeSet<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(seen_codes, all, "codes without an example: {:?}", all.difference(&seen_codes).collect::<Vec<_>>());
    let flags: BTreeSet<&str> = Overrides::NAMES.iter().copied().collect();
    assert_eq!(seen_flags, flags);
}

#[test]
fn toml_and_json_forms_agree() {
    let a = SecurityConfig::from_toml_str(&std::fs::read_to_string(dir().join("valid/full.toml")).unwrap()).unwrap();
    let b = SecurityConfig::from_json_str(&std::fs::read_to_string(dir().join("valid/full.json")).unwrap()).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, SecurityConfig::default());
    let m = SecurityConfig::from_json_str(&std::fs::read_to_string(dir().join("valid/minimal.json")).unwrap()).unwrap();
    assert_eq!(m, SecurityConfig::default());
}

#[test]
fn every_allow_flag_turns_its_errors_into_allowed() {
    // For each example refused only by flag-accepted findings: setting those flags makes it
    // load, with the same findings now `allowed`, and nothing else changes.
    let manifest = read_json("cases.json");
    let mut tried = 0;
    for case in manifest["cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let report = check_file(file);
        let errors: Vec<&Finding> = report.errors().collect();
        if errors.is_empty() || errors.iter().any(|f| f.allow.is_none()) || !file.ends_with(".toml") {
            continue;
        }
        let flags: BTreeSet<&str> = errors.iter().filter_map(|f| f.allow).collect();
        let mut text = std::fs::read_to_string(dir().join(file)).unwrap();
        if !text.contains("[overrides]") {
            text.push_str("\n[overrides]\n");
        }
        for flag in &flags {
            text = text.replace("[overrides]\n", &format!("[overrides]\n{flag} = true\n"));
        }
        let again = SecurityConfig::check(&text, Format::Toml);
        assert!(again.is_ok(), "{file}: {:?}", again.findings());
        assert_eq!(again.findings().len(), report.findings().len(), "{file}");
        for (before, after) in report.findings().iter().zip(again.findings()) {
            assert_eq!((&before.path, before.code), (&after.path, after.code), "{file}");
            if before.severity == Severity::Error {
                assert_eq!(after.severity, Severity::Allowed, "{file}");
            }
        }
        tried += 1;
    }
    assert!(tried >= 12, "{tried}");
}

fn mode(s: &str) -> ScrubMode {
    match s {
        "hash" => ScrubMode::Hash,
        "drop" => ScrubMode::Drop,
        _ => panic!("{s}"),
    }
}

#[test]
fn scrub_rules_match_the_reference_vectors() {
    let v = read_json("scrub.json");
    let list = |k: &str| -> Vec<String> { v[k].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect() };
    assert_eq!(list("scrub_fields"), hygiene::SCRUB_FIELDS);
    assert_eq!(list("secret_fields"), hygiene::SECRET_FIELDS);
    assert_eq!(list("size_fields"), hygiene::SIZE_FIELDS);
    let key: [u8; 32] = hex::decode(v["key_hex"].as_str().unwrap()).unwrap().try_into().unwrap();

    for c in v["tokens"].as_array().unwrap() {
        let want: Vec<String> = c["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
        assert_eq!(hygiene::field_tokens(c["name"].as_str().unwrap()), want, "{c}");
    }
    for c in v["classify"].as_array().unwrap() {
        let extra: Vec<String> =
            c.get("extra").map(|e| e.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()).unwrap_or_default();
        let s = Scrubber::new(ScrubMode::Hash).with_extra_fields(&extra);
        let class: FieldClass = s.classify(c["name"].as_str().unwrap());
        assert_eq!(class.as_str(), c["class"].as_str().unwrap(), "{c}");
    }
    for c in v["hash"].as_array().unwrap() {
        assert_eq!(hygiene::token_with_key(&key, c["value"].as_str().unwrap().as_bytes()), c["token"].as_str().unwrap());
    }
    for c in v["size_buckets"].as_array().unwrap() {
        assert_eq!(hygiene::size_bucket(c["len"].as_u64().unwrap()), c["bucket"].as_str().unwrap());
    }
    // Redaction and scrubbing: the process key makes other tokens than the reference's fixed
    // key, so each process token is mapped back to the fixed-key token of the same input.
    let mut n = 0;
    for c in v["redact"].as_array().unwrap() {
        let (text, m, want) = (c["text"].as_str().unwrap(), mode(c["mode"].as_str().unwrap()), c["out"].as_str().unwrap());
        let got = Scrubber::new(m).redact_text(text).into_owned();
        assert_eq!(normalize(&got, &key, text), want, "{c}");
        n += 1;
    }
    for c in v["scrub"].as_array().unwrap() {
        let s = Scrubber::new(mode(c["mode"].as_str().unwrap()));
        let (name, value) = (c["name"].as_str().unwrap(), c["value"].as_str().unwrap());
        let got = match s.scrub(name, value) {
            Scrubbed::Keep(v) => Some(normalize(&v, &key, value)),
            Scrubbed::Drop => None,
        };
        assert_eq!(got.as_deref(), c["out"].as_str(), "{c}");
        n += 1;
    }
    assert!(n >= 30, "{n}");
}

/// Replace every per-process token in `out` by the fixed-key token of the same input: the
/// candidates are `input` itself and every identifier the reference redaction would find,
/// i.e. every substring of `input` (inputs here are short).
fn normalize(out: &str, key: &[u8; 32], input: &str) -> String {
    let mut map = Vec::new();
    let bytes = input.as_bytes();
    for i in 0..bytes.len() {
        for j in i + 1..=bytes.len() {
            if let (true, true) = (input.is_char_boundary(i), input.is_char_boundary(j)) {
                let sub = &input[i..j];
                if let Some(t) = hygiene::token(sub.as_bytes()) {
                    map.push((t, hygiene::token_with_key(key, sub.as_bytes())));
                }
            }
        }
    }
    let mut s = out.to_owned();
    for (process, fixed) in map {
        s = s.replace(&process, &fixed);
    }
    s
}

#[test]
fn the_documentation_covers_every_code_flag_key_value_field_and_event() {
    let doc = std::fs::read_to_string(dir().join("../../../docs/CONFIG.md")).unwrap();
    let ticked = |s: &str| doc.contains(&format!("`{s}`"));
    for c in FindingCode::ALL {
        assert!(ticked(c.as_str()), "code {c} undocumented");
    }
    for f in Overrides::NAMES {
        assert!(ticked(f), "flag {f} undocumented");
    }
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("../../../docs/security-config.schema.json")).unwrap()).unwrap();
    fn walk(s: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
        for (k, sub) in s["properties"].as_object().unwrap() {
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            if sub["type"] == "object" {
                walk(sub, &path, out);
            } else {
                out.push((path, sub.clone()));
            }
        }
    }
    let mut leaves = Vec::new();
    walk(&schema, "", &mut leaves);
    for (path, sub) in &leaves {
        let local = path.split_once('.').map_or(path.as_str(), |(_, rest)| rest);
        assert!(ticked(local) || ticked(path), "key {path} undocumented");
        for v in sub.get("enum").and_then(Value::as_array).into_iter().flatten() {
            assert!(ticked(v.as_str().unwrap()), "{path} value {v} undocumented");
        }
    }
    for f in hygiene::SCRUB_FIELDS.iter().chain(hygiene::SECRET_FIELDS).chain(hygiene::SIZE_FIELDS) {
        assert!(ticked(f), "field {f} undocumented");
    }
    for e in hygiene::EVENTS.iter().chain(hygiene::EVENT_FIELDS) {
        assert!(ticked(e), "{e} undocumented");
    }
}
