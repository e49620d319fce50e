//! `sealwire config init` and `sealwire config check`, including a replay of every example in
//! tests/vectors/config/ through the binary (exit codes and the JSON report).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{bin, text, tmpdir};
use sealwire::config::{Format, SecurityConfig};
use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/config")
}

fn check(path: &std::path::Path, extra: &[&str]) -> std::process::Output {
    bin().args(["config", "check"]).arg(path).args(extra).output().unwrap()
}

#[test]
fn init_writes_the_recommended_config_which_checks_clean() {
    let o = bin().args(["config", "init"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert!(stdout.lines().filter(|l| l.trim_start().starts_with('#')).count() > 20, "commented");
    assert_eq!(SecurityConfig::from_toml_str(&stdout).unwrap(), SecurityConfig::default());

    let d = tmpdir("config-init");
    let f = d.join("sealwire.toml");
    let o = bin().args(["config", "init", "-o"]).arg(&f).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), stdout);
    let o = check(&f, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("accepted — 0 errors, 0 overrides in force, 0 warnings"), "{}", text(&o));

    // No silent overwrite.
    std::fs::write(&f, "version = 1\n# mine\n").unwrap();
    let o = bin().args(["config", "init", "-o"]).arg(&f).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "version = 1\n# mine\n");
    let o = bin().args(["config", "init", "--force", "-o"]).arg(&f).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), stdout);

    let j = d.join("sealwire.json");
    let o = bin().args(["config", "init", "--json", "-o"]).arg(&j).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let json = std::fs::read_to_string(&j).unwrap();
    assert_eq!(SecurityConfig::from_json_str(&json).unwrap(), SecurityConfig::default());
    assert_eq!(check(&j, &[]).status.code(), Some(0));
}

#[test]
fn check_replays_every_example() {
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(vectors().join("cases.json")).unwrap()).unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    for case in cases {
        let file = vectors().join(case["file"].as_str().unwrap());
        let ok = case["ok"].as_bool().unwrap();
        // Human output: verdict, exit code, every finding with its code and path.
        let o = check(&file, &[]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(if ok { 0 } else { 1 }), "{}: {out}", file.display());
        assert!(out.contains(if ok { ": accepted — " } else { ": refused — " }), "{out}");
        for f in case["findings"].as_array().unwrap() {
            let (code, path, sev) = (f["code"].as_str().unwrap(), f["path"].as_str().unwrap(), f["severity"].as_str().unwrap());
            let line = format!("{sev}[{code}]{}", if path.is_empty() { String::new() } else { format!(" {path}") });
            assert!(out.contains(&line), "{}: missing {line} in\n{out}", file.display());
            if let Some(flag) = f.get("allow").and_then(Value::as_str) {
                assert!(out.contains(&format!("overrides.{flag}")), "{out}");
            }
        }
        // JSON output: exactly the manifest's findings.
        let o = check(&file, &["--json"]);
        assert_eq!(o.status.code(), Some(if ok { 0 } else { 1 }));
        let report: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["ok"].as_bool(), Some(ok));
        let got: BTreeSet<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {} {} {}", f["path"], f["code"], f["severity"], f["allow"]))
            .collect();
        let want: BTreeSet<String> = case["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {} {} {}", f["path"], f["code"], f["severity"], f.get("allow").unwrap_or(&Value::Null)))
            .collect();
        assert_eq!(got, want, "{}", file.display());
    }
    assert!(cases.len() >= 40);
}

#[test]
fn format_by_extension_content_or_flag() {
    let d = tmpdir("config-format");
    let f = d.join("agent.conf");
    std::fs::write(&f, "{\"version\": 1}").unwrap();
    let o = check(&f, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("(json)"));
    let o = check(&f, &["--format", "toml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("error[syntax]"), "{}", text(&o));
    // The same policy text, in both forms, gives the same verdict.
    std::fs::write(d.join("a.toml"), "version = 1\n[ratchet]\nheader_encryption = false\n").unwrap();
    std::fs::write(d.join("a.json"), "{\"version\": 1, \"ratchet\": {\"header_encryption\": false}}").unwrap();
    for name in ["a.toml", "a.json"] {
        let o = check(&d.join(name), &[]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o).contains("error[ratchet-headers-clear] ratchet.header_encryption"), "{}", text(&o));
        assert!(text(&o).contains("overrides.allow_clear_ratchet_headers = true"), "{}", text(&o));
    }
    let t = std::fs::read_to_string(d.join("a.toml")).unwrap();
    assert!(SecurityConfig::load(&t, Format::Toml).is_err());
}

#[test]
fn usage_and_io_errors() {
    let o = bin().args(["config", "check"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = bin().args(["config", "check", "/nonexistent/sealwire.toml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = bin().args(["config", "check", "x.toml", "--format", "yaml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let d = tmpdir("config-binary");
    let f = d.join("bin.toml");
    std::fs::write(&f, [0xffu8, 0xfe, 0x00]).unwrap();
    let o = check(&f, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not UTF-8"), "{}", text(&o));
}
