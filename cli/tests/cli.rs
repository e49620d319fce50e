//! End-to-end tests of the `sealwire` binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sealwire"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sealwire-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const FAST_KDF: [&str; 6] = ["--kdf-memory-kib", "19456", "--kdf-iterations", "2", "--kdf-lanes", "1"];

#[test]
fn keygen_then_show() {
    let d = tmpdir("keygen");
    let key = d.join("agent.swk");
    let public = d.join("agent.pub");
    let o = bin()
        .args(["keygen", "--out", key.to_str().unwrap(), "--public-out", public.to_str().unwrap()])
        .args(FAST_KDF)
        .env("SEALWIRE_PASSPHRASE", "hunter2 but longer")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    let did = out.lines().find(|l| l.starts_with("did:")).unwrap().split_whitespace().nth(1).unwrap().to_string();
    assert!(did.starts_with("did:key:z6Mk"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Only the encrypted form is on disk.
    assert!(std::fs::read(&key).unwrap().starts_with(b"SWIK"));

    let o = bin().args(["identity", "show", key.to_str().unwrap()]).env("SEALWIRE_PASSPHRASE", "hunter2 but longer").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&did));

    let o = bin().args(["identity", "show", public.to_str().unwrap(), "--public-hex"]).env_remove("SEALWIRE_PASSPHRASE").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&did));
    assert!(text(&o).contains("public:      5357504901"));

    let o = bin().args(["identity", "show", key.to_str().unwrap()]).env("SEALWIRE_PASSPHRASE", "wrong").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("decryption failed"), "{}", text(&o));

    // Refuses to overwrite without --force.
    let o = bin().args(["keygen", "--out", key.to_str().unwrap()]).args(FAST_KDF).env("SEALWIRE_PASSPHRASE", "x").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("--force"));
}

#[test]
fn truncated_identity_file_is_a_clear_error() {
    let d = tmpdir("trunc");
    let f = d.join("bad.pub");
    std::fs::write(&f, b"SWPI\x01\x00").unwrap();
    let o = bin().args(["identity", "show", f.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("truncated"), "{}", text(&o));
}

#[test]
fn no_passphrase_without_terminal_fails_cleanly() {
    let d = tmpdir("nopass");
    let o = bin()
        .args(["keygen", "--out", d.join("k").to_str().unwrap()])
        .env_remove("SEALWIRE_PASSPHRASE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("SEALWIRE_PASSPHRASE"));
}

/// Inbox ids and texts of the `NAME's application got #ID[ again]: "TEXT"` lines.
fn deliveries(out: &str, who: &str) -> Vec<(u64, String, bool)> {
    let prefix = format!("    {who}'s application got #");
    out.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|rest| {
            let (id, rest) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit()).unwrap());
            let again = rest.starts_with(" again");
            let text = rest.split('"').nth(1).unwrap().to_owned();
            (id.parse().unwrap(), text, again)
        })
        .collect()
}

fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out)
        } else {
            out.push(p)
        }
    }
}

#[test]
fn demo_runs_the_agent_story_and_its_properties_hold() {
    // Without Vault (tests/kms_cli.rs runs the demo against Vault Transit).
    let d = tmpdir("demo").join("kept");
    let start = std::time::Instant::now();
    let o = bin().args(["demo", "--dir", d.to_str().unwrap()]).env_remove("VAULT_ADDR").env_remove("BAO_ADDR").output().unwrap();
    let elapsed = start.elapsed();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("demo complete"), "{out}");
    assert!(elapsed < std::time::Duration::from_secs(10), "the demo took {elapsed:?}");
    assert_eq!(out.matches("no Vault configured (VAULT_ADDR unset): using the embedded keyring").count(), 1, "{out}");
    assert!(!out.contains("Vault Transit at"), "{out}");
    // Ten numbered steps, each with at least one passed check before the next one starts.
    for n in 1..=10 {
        let at = out.find(&format!("\n[{n}] ")).unwrap_or_else(|| panic!("step {n} missing:\n{out}"));
        let rest = &out[at + 1..];
        let end = rest[1..].find("\n[").map(|i| i + 1).unwrap_or(rest.len());
        assert!(rest[..end].contains("\n    ok  "), "step {n} checked nothing:\n{out}");
    }
    assert!(!out.contains("\n[11] "), "{out}");
    assert_eq!(out.matches("\n    ok  ").count(), 36, "{out}");

    // Exactly once to the application: each text Bob's application got has exactly one inbox
    // id; the one re-delivered after the crash kept its id; nothing else came twice.
    let bob = deliveries(&out, "bob");
    let notes = ["task #42: the quarterly report is in", "can you do the charts by Friday?", "ping me when you are back"];
    let firsts: Vec<&(u64, String, bool)> = bob.iter().filter(|(_, _, again)| !again).collect();
    for (i, a) in firsts.iter().enumerate() {
        assert!(firsts[i + 1..].iter().all(|b| b.0 != a.0 && b.1 != a.1), "delivered twice: {a:?} in {bob:?}");
    }
    for n in notes {
        assert_eq!(firsts.iter().filter(|(_, t, _)| t == n).count(), 1, "{n} in {bob:?}");
    }
    let order: Vec<&str> = firsts.iter().map(|(_, t, _)| t.as_str()).filter(|t| notes.contains(t)).collect();
    assert_eq!(order, notes, "offline messages in the order written");
    let again: Vec<_> = bob.iter().filter(|(_, _, again)| *again).collect();
    assert_eq!(again.len(), 1, "{bob:?}");
    assert!(firsts.iter().any(|(id, t, _)| *id == again[0].0 && *t == again[0].1), "the restart kept the id: {bob:?}");
    let alice = deliveries(&out, "alice");
    assert_eq!(alice.len(), 2, "{alice:?}");
    assert!(alice[0].0 != alice[1].0 && alice.iter().all(|(_, _, a)| !a), "{alice:?}");

    // The stale snapshot was refused, then recovered from.
    assert!(out.contains("ok  Agent::open refuses it (ERR_SEALWIRE_STALE_STATE)"), "{out}");
    assert!(out.contains("Noise_XXhfs_") && out.contains("Noise_IKhfs_"), "{out}");
    assert!(out.contains("ok  a wrong passphrase is refused (ERR_SEALWIRE_DECRYPTION_FAILED)"), "{out}");

    // What --dir kept, checked from outside the demo.
    let bob_home = d.join("bob");
    let aside: Vec<_> = std::fs::read_dir(&bob_home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("stale-sessions-"))
        .collect();
    assert_eq!(aside.len(), 1, "recover set the restored store aside once");
    let relay = rusqlite::Connection::open(d.join("relay.sqlite")).unwrap();
    let left: i64 = relay.query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0, "every relayed message was acknowledged and deleted");
    let mut files = Vec::new();
    walk(&d, &mut files);
    assert!(files.len() > 10, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for n in notes.iter().chain(&["memory #7", "shared note:", "back now: charts"]) {
            assert!(!bytes.windows(n.len()).any(|w| w == n.as_bytes()), "{n:?} in clear in {}", f.display());
        }
    }
    let check = bin().args(["config", "check", d.join("demo.toml").to_str().unwrap()]).output().unwrap();
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("1 override in force") && text(&check).contains("allowed[weak-kdf]"), "{}", text(&check));

    // --dir refuses a directory that is not empty (the demo creates new homes).
    let o = bin().args(["demo", "--dir", d.to_str().unwrap()]).env_remove("VAULT_ADDR").env_remove("BAO_ADDR").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is not empty"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(d.parent().unwrap());
}

#[test]
fn demo_layers_runs_every_layer() {
    let o = bin().args(["demo", "--layers"]).env_remove("VAULT_ADDR").env_remove("BAO_ADDR").output().unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("demo complete (layers)"), "{out}");
    assert_eq!(out.matches("no Vault configured (VAULT_ADDR unset): using the embedded local keyring").count(), 1, "{out}");
    for needle in [
        "Noise_XX_25519_ChaChaPoly_BLAKE2s",
        "Noise_IK_25519_ChaChaPoly_BLAKE2s",
        "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s",
        "ok  opening it with the counter Bob kept is refused (ERR_SEALWIRE_STALE_STATE)",
        "ok  Bob gets it exactly once (the second copy is a duplicate)",
        "ok  payload bytes identical before and after",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert_eq!(out.matches("\n    ok  ").count(), 47, "{out}");
    let o = bin().args(["demo", "--layers", "--dir", "x"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "--dir is for the agent demo only");
}
