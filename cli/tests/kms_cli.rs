//! `--kms` on `seal` / `open` / `rewrap` and `demo` against real KMS servers: OpenBao
//! (Vault Transit) and moto (AWS KMS), started by `scripts/kms-servers.sh` (or
//! `scripts/test-kms.sh`, which runs this file). The servers' settings come from the env file
//! `SEALWIRE_KMS_ENV_FILE` (default `/tmp/sealwire-kms/kms.env`) or `SEALWIRE_TEST_*`
//! variables. Without them the server tests print a loud SKIPPED and pass, unless
//! `SEALWIRE_KMS_REQUIRED=1` (then they fail).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::process::Output;

use common::{text, Ws};
use sealwire::envelope::kms::{VaultTransit, VaultTransitConfig};

const DEFAULT_ENV_FILE: &str = "/tmp/sealwire-kms/kms.env";
const VAULT: [&str; 2] = ["SEALWIRE_TEST_VAULT_ADDR", "SEALWIRE_TEST_VAULT_TOKEN"];
const AWS: [&str; 5] = [
    "SEALWIRE_TEST_AWS_ENDPOINT",
    "SEALWIRE_TEST_AWS_REGION",
    "SEALWIRE_TEST_AWS_ACCESS_KEY_ID",
    "SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY",
    "SEALWIRE_TEST_AWS_KEY_ARN",
];
/// Variables the CLI reads; cleared in every child so the caller's environment never leaks in.
const KMS_VARS: [&str; 14] = [
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_NAMESPACE",
    "BAO_ADDR",
    "BAO_TOKEN",
    "BAO_NAMESPACE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_PROFILE",
];

fn settings() -> HashMap<String, String> {
    let path = std::env::var("SEALWIRE_KMS_ENV_FILE").unwrap_or_else(|_| DEFAULT_ENV_FILE.to_owned());
    let mut m = HashMap::new();
    if let Ok(t) = std::fs::read_to_string(&path) {
        for line in t.lines() {
            if let Some((k, v)) = line.split_once('=') {
                m.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }
    for (k, v) in std::env::vars() {
        if k.starts_with("SEALWIRE_TEST_") {
            m.insert(k, v);
        }
    }
    m
}

/// The settings, or `None` after a loud SKIPPED (a failure with `SEALWIRE_KMS_REQUIRED=1`).
fn require(test: &str, names: &[&str]) -> Option<HashMap<String, String>> {
    let s = settings();
    let missing: Vec<&str> = names.iter().copied().filter(|n| !s.contains_key(*n)).collect();
    if missing.is_empty() {
        return Some(s);
    }
    if std::env::var("SEALWIRE_KMS_REQUIRED").is_ok_and(|v| v == "1") {
        panic!("{test}: KMS test servers are required (SEALWIRE_KMS_REQUIRED=1) but not configured: missing {missing:?}");
    }
    let msg = format!(
        "\n*** SKIPPED {test}: KMS test servers not configured (missing {missing:?}).\n\
         *** Run `bash scripts/test-kms.sh`, or `bash scripts/kms-servers.sh start` first.\n"
    );
    std::io::stderr().write_all(msg.as_bytes()).ok();
    None
}

fn unique(prefix: &str) -> String {
    let k = sealwire::envelope::DataKey::generate().unwrap();
    format!("{prefix}-{}", k.as_bytes()[..6].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The child's KMS environment: Vault and AWS variables from the settings (when present).
fn kms_env(s: &HashMap<String, String>) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    let mut put = |k: &'static str, from: &str| {
        if let Some(x) = s.get(from) {
            v.push((k, x.clone()));
        }
    };
    put("VAULT_ADDR", "SEALWIRE_TEST_VAULT_ADDR");
    put("VAULT_TOKEN", "SEALWIRE_TEST_VAULT_TOKEN");
    put("AWS_ACCESS_KEY_ID", "SEALWIRE_TEST_AWS_ACCESS_KEY_ID");
    put("AWS_SECRET_ACCESS_KEY", "SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY");
    v
}

fn run(ws: &Ws, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut c = ws.cmd(args);
    for k in KMS_VARS {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    ws.record(&o);
    o
}

fn ok(ws: &Ws, env: &[(&str, String)], args: &[&str]) -> String {
    let o = run(ws, env, args);
    assert!(o.status.success(), "sealwire {args:?} failed:\n{}", text(&o));
    text(&o)
}

fn fails(ws: &Ws, env: &[(&str, String)], args: &[&str], needle: &str) -> String {
    let o = run(ws, env, args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "sealwire {args:?} should exit 1:\n{t}");
    assert!(t.contains(needle), "sealwire {args:?}: expected {needle:?} in:\n{t}");
    t
}

/// A new derived Transit key (as `VaultTransit::create_key` makes it).
fn vault_key(s: &HashMap<String, String>, prefix: &str) -> (String, VaultTransit) {
    let name = unique(prefix);
    let v = VaultTransit::new(VaultTransitConfig::new(
        &s["SEALWIRE_TEST_VAULT_ADDR"],
        &s["SEALWIRE_TEST_VAULT_TOKEN"],
        &name,
    ))
    .unwrap();
    v.create_key().unwrap();
    (name, v)
}

fn entries(ws: &Ws, file: &str) -> String {
    ok(ws, &[], &["inspect", file, "--json"])
}

#[test]
fn vault_seal_open_and_wrong_context() {
    let Some(s) = require("vault_seal_open_and_wrong_context", &VAULT) else { return };
    let ws = Ws::new("kms-vault");
    let env = kms_env(&s);
    let (name, _) = vault_key(&s, "cli-vault");
    let uri = format!("vault://{name}");
    let plain = ws.write("plain", &common::noise(200_000, 7));
    let sealed = ws.p("sealed.swev");
    ok(&ws, &env, &["seal", &plain, "-o", &sealed, "--kms", &uri, "-c", "tenant=acme"]);
    let j = entries(&ws, &sealed);
    assert!(j.contains("\"provider\":\"vault-transit\"") && j.contains(&format!("\"key_id\":\"{name}\"")), "{j}");
    let out = ws.p("out");
    ok(&ws, &env, &["open", &sealed, "-o", &out, "--kms", &format!("{uri}?mount=transit"), "-c", "tenant=acme"]);
    assert_eq!(ws.read("out"), ws.read("plain"));

    // Wrong context: exit 1 with the stable code, no output file.
    let out2 = ws.p("out2");
    fails(&ws, &env, &["open", &sealed, "-o", &out2, "--kms", &uri, "-c", "tenant=evil"], "ERR_SEALWIRE_CONTEXT_MISMATCH");
    assert!(!ws.path("out2").exists());

    // A bad token: auth failure, and the token is in no message.
    let bad_token = "s.sealwire-test-not-a-real-token-93127";
    let bad_env = vec![("VAULT_ADDR", s["SEALWIRE_TEST_VAULT_ADDR"].clone()), ("VAULT_TOKEN", bad_token.to_owned())];
    let t = fails(&ws, &bad_env, &["open", &sealed, "-o", &out2, "--kms", &uri, "-c", "tenant=acme"], "ERR_SEALWIRE_KMS_AUTH_FAILED");
    assert!(!t.contains(bad_token), "{t}");
    // BAO_* fallback works too.
    let bao_env = vec![("BAO_ADDR", s["SEALWIRE_TEST_VAULT_ADDR"].clone()), ("BAO_TOKEN", s["SEALWIRE_TEST_VAULT_TOKEN"].clone())];
    ok(&ws, &bao_env, &["open", &sealed, "-o", &out2, "--kms", &uri, "-c", "tenant=acme"]);
    // An unknown key.
    fails(&ws, &env, &["seal", &plain, "-o", &ws.p("x"), "--kms", &format!("vault://{}", unique("missing"))], "ERR_SEALWIRE_KMS_KEY_NOT_FOUND");
    let transcript = String::from_utf8_lossy(&ws.transcript.borrow()).into_owned();
    assert!(!transcript.contains(bad_token));
}

#[test]
fn aws_seal_open() {
    let Some(s) = require("aws_seal_open", &AWS) else { return };
    let ws = Ws::new("kms-aws");
    let env = kms_env(&s);
    let arn = &s["SEALWIRE_TEST_AWS_KEY_ARN"];
    let uri = format!("aws-kms://{arn}?endpoint={}&region={}", s["SEALWIRE_TEST_AWS_ENDPOINT"], s["SEALWIRE_TEST_AWS_REGION"]);
    let plain = ws.write("plain", b"agent memory for AWS KMS");
    let sealed = ws.p("sealed.swev");
    ok(&ws, &env, &["seal", &plain, "-o", &sealed, "--kms", &uri, "-c", "tenant=acme"]);
    let j = entries(&ws, &sealed);
    assert!(j.contains("\"provider\":\"aws-kms\"") && j.contains(arn.as_str()), "{j}");
    ok(&ws, &env, &["open", &sealed, "-o", &ws.p("out"), "--kms", &uri, "-c", "tenant=acme"]);
    assert_eq!(ws.read("out"), b"agent memory for AWS KMS");

    // Region from the ARN, endpoint from AWS_ENDPOINT_URL_KMS.
    let mut env2 = env.clone();
    env2.push(("AWS_ENDPOINT_URL_KMS", s["SEALWIRE_TEST_AWS_ENDPOINT"].clone()));
    ok(&ws, &env2, &["open", &sealed, "-o", &ws.p("out3"), "--kms", &format!("aws-kms://{arn}"), "-c", "tenant=acme"]);
    assert_eq!(ws.read("out3"), b"agent memory for AWS KMS");

    fails(&ws, &env, &["open", &sealed, "-o", &ws.p("out2"), "--kms", &uri, "-c", "tenant=other"], "ERR_SEALWIRE_CONTEXT_MISMATCH");
    // A wrong secret key: auth failure, the secret in no message.
    let secret = "wrongSECRETwrongSECRETwrongSECRET0000000";
    let mut bad = env.clone();
    bad.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    bad.push(("AWS_SECRET_ACCESS_KEY", secret.to_owned()));
    let t = fails(&ws, &bad, &["open", &sealed, "-o", &ws.p("out2"), "--kms", &uri, "-c", "tenant=acme"], "ERR_SEALWIRE_KMS_AUTH_FAILED");
    assert!(!t.contains(secret) && !t.contains(&s["SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"]), "{t}");
    // No credentials at all.
    fails(&ws, &[], &["seal", &plain, "-o", &ws.p("x"), "--kms", &uri], "AWS_ACCESS_KEY_ID");
}

#[test]
fn multi_wrap_keyring_and_vault_then_rewrap_after_rotation() {
    let Some(s) = require("multi_wrap_keyring_and_vault_then_rewrap_after_rotation", &VAULT) else { return };
    let ws = Ws::new("kms-multi");
    let env = kms_env(&s);
    let kr = ws.keyring("kr");
    let (name, vault) = vault_key(&s, "cli-multi");
    let uri = format!("vault://{name}");
    let plain = ws.write("plain", b"multi-wrapped memory");
    let sealed = ws.p("sealed.swev");
    let msg = ok(&ws, &env, &["seal", &plain, "-o", &sealed, "--keyring", &kr, "--kms", &uri, "-c", "k=v"]);
    assert!(msg.contains("2 wrapped keys"), "{msg}");
    // Only the keyring, and no Vault configured at all.
    ok(&ws, &[], &["open", &sealed, "-o", &ws.p("out"), "--keyring", &kr, "-c", "k=v"]);
    assert_eq!(ws.read("out"), b"multi-wrapped memory");
    // Only Vault.
    ok(&ws, &env, &["open", &sealed, "-o", &ws.p("out2"), "--kms", &uri, "-c", "k=v"]);
    assert_eq!(ws.read("out2"), b"multi-wrapped memory");
    assert!(entries(&ws, &sealed).contains("\"provider\":\"vault-transit\",\"key_id\":\"".to_owned().as_str()));
    assert!(entries(&ws, &sealed).contains(&format!("\"key_id\":\"{name}\",\"key_version\":1")));

    // Rotation: the object still opens; rewrap moves its Vault entry to version 2, payload untouched.
    assert_eq!(vault.rotate().unwrap(), 2);
    ok(&ws, &env, &["open", &sealed, "-o", &ws.p("out3"), "--kms", &uri, "-c", "k=v"]);
    let before = std::fs::read(&sealed).unwrap();
    let r = ok(&ws, &env, &["rewrap", &sealed, "--kms", &uri, "--rewrap-to-primary"]);
    assert!(r.contains("1 rewritten"), "{r}");
    let j = entries(&ws, &sealed);
    assert!(j.contains(&format!("\"key_id\":\"{name}\",\"key_version\":2")), "{j}");
    let after = std::fs::read(&sealed).unwrap();
    let (hb, ha) = (common::header_len(&before), common::header_len(&after));
    assert_eq!(before[hb..], after[ha..]);
    let r = ok(&ws, &env, &["rewrap", &sealed, "--kms", &uri, "--rewrap-to-primary"]);
    assert!(r.contains("0 rewritten, 1 already up to date"), "{r}");
    ok(&ws, &env, &["open", &sealed, "-o", &ws.p("out4"), "--kms", &uri, "-c", "k=v"]);
    assert_eq!(ws.read("out4"), b"multi-wrapped memory");

    // Rewrap as a target: an object sealed to the keyring alone gains a Vault entry.
    let only_kr = ws.p("kr-only.swev");
    ok(&ws, &env, &["seal", &plain, "-o", &only_kr, "--keyring", &kr, "-c", "k=v"]);
    ok(&ws, &env, &["rewrap", &only_kr, "--keyring", &kr, "--kms", &uri]);
    ok(&ws, &env, &["open", &only_kr, "-o", &ws.p("out5"), "--kms", &uri, "-c", "k=v"]);
    assert_eq!(ws.read("out5"), b"multi-wrapped memory");
    // Removing the keyring entry leaves Vault only.
    ok(&ws, &env, &["rewrap", &only_kr, "--kms", &uri, "--remove", "keyring:default"]);
    fails(&ws, &env, &["open", &only_kr, "-o", &ws.p("out6"), "--keyring", &kr, "-c", "k=v"], "ERR_SEALWIRE_NO_MATCHING_KEY");
}

#[test]
fn demo_uses_vault_transit() {
    let Some(s) = require("demo_uses_vault_transit", &VAULT) else { return };
    let ws = Ws::new("kms-demo");
    let env = kms_env(&s);
    let addr = &s["SEALWIRE_TEST_VAULT_ADDR"];
    // The agent demo: step 10 opens a home whose KEK is the Vault Transit key.
    let out = ok(&ws, &env, &["demo"]);
    assert_eq!(out.matches(&format!("using Vault Transit at {addr}")).count(), 1, "{out}");
    assert!(!out.contains("no Vault configured"), "{out}");
    for needle in [
        "memory object: its data key wrapped by vault-transit (key \"sealwire-demo\", version ",
        "ok  one data key, wrapped by Vault Transit (key bound to the object's context); the object opens through Vault",
        "ok  through Vault too, another context is refused (ERR_SEALWIRE_CONTEXT_MISMATCH)",
        "ok  maintain's rotate-kek leaves a remote key alone: Vault rotates its own keys",
        "ok  rewrap_sealed moves the object to the new Vault version",
        "and to Vault Transit",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(out.contains("\n[11] ") && out.contains("demo complete"), "{out}");
    assert_eq!(out.matches("\n    ok  ").count(), 36 + 5, "{out}");
    // The rotation the demo asked of Vault: the next run finds the key at a higher version.
    let version = |out: &str| -> u32 {
        let line = out.lines().find(|l| l.contains("the operator rotates the Transit key: version ")).unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let first = version(&out);
    let out = ok(&ws, &env, &["demo"]);
    assert!(out.contains("Transit key sealwire-demo exists"), "{out}");
    assert_eq!(version(&out), first + 1, "{out}");

    // The layer walkthrough: an envelope wrapped for the keyring and for Vault Transit.
    let out = ok(&ws, &env, &["demo", "--layers"]);
    assert!(out.contains(&format!("using Vault Transit at {addr}")), "{out}");
    assert!(out.contains("Transit key sealwire-demo exists"), "{out}");
    assert!(out.contains("the object opens through Vault alone") && out.contains("demo complete"), "{out}");
    assert_eq!(out.matches("\n    ok  ").count(), 47 + 3, "{out}");
}

/// Configuration errors need no server.
#[test]
fn kms_configuration_errors() {
    let ws = Ws::new("kms-config");
    let plain = ws.write("plain", b"x");
    let x = ws.p("x");
    let t = fails(&ws, &[], &["seal", &plain, "-o", &x, "--kms", "vault://k"], "VAULT_ADDR");
    assert!(t.contains("ERR_SEALWIRE_INVALID_PARAMETER"), "{t}");
    let env = vec![("VAULT_ADDR", "http://127.0.0.1:1".to_owned())];
    fails(&ws, &env, &["seal", &plain, "-o", &x, "--kms", "vault://k"], "VAULT_TOKEN");
    for bad in ["vault://", "gcp://key", "vault:k", "vault://k?mount", "vault://k?color=red", "aws-kms://k?mount=x"] {
        fails(&ws, &[], &["seal", &plain, "-o", &x, "--kms", bad], "invalid --kms");
    }
    fails(&ws, &[], &["open", &plain, "--kms", "nope://k"], "invalid --kms");
    let aws_env = vec![("AWS_ACCESS_KEY_ID", "AKIA000".to_owned()), ("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-xyz".to_owned())];
    let t = fails(&ws, &aws_env, &["seal", &plain, "-o", &x, "--kms", "aws-kms://1234abcd"], "AWS_REGION");
    assert!(!t.contains("s3cr3t-value-xyz"));
    // Unreachable Vault: a clear KMS error, token not shown.
    let env = vec![("VAULT_ADDR", format!("http://127.0.0.1:{}", closed_port())), ("VAULT_TOKEN", "tok-should-not-appear".to_owned())];
    let t = fails(&ws, &env, &["seal", &plain, "-o", &x, "--kms", "vault://k"], "ERR_SEALWIRE_KMS_UNAVAILABLE");
    assert!(!t.contains("tok-should-not-appear"), "{t}");
    assert!(!ws.path("x").exists());
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
