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

#[test]
fn demo_runs() {
    // Without Vault (tests/kms_cli.rs runs the demo against Vault Transit).
    let o = bin().arg("demo").env_remove("VAULT_ADDR").env_remove("BAO_ADDR").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("demo complete"));
    assert_eq!(out.matches("no Vault configured (VAULT_ADDR unset): using the embedded local keyring").count(), 1, "{out}");
    assert_eq!(out.matches("    ok  ").count(), 47 + 9, "{out}");
}
