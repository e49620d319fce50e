//! End-to-end tests of `keyring …` and `rewrap`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{header_len, noise, text, Ws, FAST_KDF, ROOT_KEY_ENV};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The rows of `keyring list` for `key`: (version, state, created, retired, decrypt until).
fn rows(list: &str, key: &str) -> Vec<Vec<String>> {
    list.lines()
        .filter(|l| l.split_whitespace().next() == Some(key))
        .map(|l| l.split_whitespace().skip(1).map(str::to_owned).collect())
        .collect()
}

#[test]
fn keyring_create_rotate_list_retire_add_key() {
    let ws = Ws::new("keyring");
    let kr = ws.p("kr");
    let out = ws.ok(&["keyring", "create", &kr, "--key", "memory", "--root-key-env", ROOT_KEY_ENV]);
    assert!(out.contains("created keyring") && out.contains("memory version 1"), "{out}");
    assert!(ws.read("kr").starts_with(b"SWKR"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&kr).unwrap().permissions().mode() & 0o777, 0o600);
    }
    ws.fails(&["keyring", "create", &kr, "--root-key-env", ROOT_KEY_ENV], "--force");

    let list = ws.ok(&["keyring", "list", &kr]);
    assert!(list.contains("protection:  root key") && list.contains("default key: memory"), "{list}");
    assert!(list.contains("generation:  1"), "{list}");
    let r = rows(&list, "memory");
    assert_eq!(r.len(), 1, "{list}");
    assert_eq!(&r[0][..2], ["1", "primary"]);

    // rotate --retire-after 30 days
    let out = ws.ok(&["keyring", "rotate", &kr, "memory", "--retire-after", "30"]);
    assert!(out.contains("version 2 is primary") && out.contains("version 1 retired"), "{out}");
    let j = ws.ok(&["keyring", "list", &kr, "--json"]);
    assert!(j.contains("\"generation\":2"), "{j}");
    assert!(j.contains("\"primary_version\":2"), "{j}");
    let until: u64 = j.split("\"decrypt_until\":").nth(1).unwrap().split([',', '}']).next().unwrap().parse().unwrap();
    let expected = now() + 30 * 86_400;
    assert!(until.abs_diff(expected) < 120, "{j}");
    let r = rows(&ws.ok(&["keyring", "list", &kr]), "memory");
    assert_eq!(&r[0][..2], ["1", "retired"]);
    assert_eq!(&r[1][..2], ["2", "primary"]);
    assert_eq!(r[1][3], "-");

    // rotate --old-decrypt-until an RFC 3339 date
    ws.ok(&["keyring", "rotate", &kr, "memory", "--old-decrypt-until", "2040-01-02T03:04:05+01:00"]);
    let r = rows(&ws.ok(&["keyring", "list", &kr]), "memory");
    assert_eq!(r.len(), 3);
    assert_eq!(&r[1][..2], ["2", "retired"]);
    assert_eq!(r[1][4], "2040-01-02T02:04:05Z");
    assert_eq!(&r[2][..2], ["3", "primary"]);
    // Conflicting options are a usage error (exit 2).
    let o = ws.run(&["keyring", "rotate", &kr, "memory", "--retire-after", "1", "--old-decrypt-until", "now"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // retire: a past date cuts version 1 off; the primary cannot be retired.
    ws.ok(&["keyring", "retire", &kr, "memory", "1", "--at", "2001-09-09"]);
    let r = rows(&ws.ok(&["keyring", "list", &kr]), "memory");
    assert_eq!(&r[0][..2], ["1", "cut-off"]);
    assert_eq!(r[0][4], "2001-09-09T00:00:00Z");
    ws.fails(&["keyring", "retire", &kr, "memory", "3", "--at", "now"], "rotate first");
    ws.fails(&["keyring", "retire", &kr, "memory", "9", "--at", "now"], "KEY_NOT_FOUND");
    ws.fails(&["keyring", "retire", &kr, "memory", "1", "--at", "someday"], "cannot read the date");
    ws.fails(&["keyring", "rotate", &kr, "nope"], "KEY_NOT_FOUND");

    // add-key
    ws.ok(&["keyring", "add-key", &kr, "archive"]);
    ws.fails(&["keyring", "add-key", &kr, "archive"], "already holds");
    ws.fails(&["keyring", "add-key", &kr, "bad key id"], "INVALID_PARAMETER");
    let list = ws.ok(&["keyring", "list", &kr]);
    assert!(list.contains("default key: memory"), "{list}");
    assert_eq!(&rows(&list, "archive")[0][..2], ["1", "primary"]);
    ws.ok(&["keyring", "add-key", &kr, "new-default", "--default"]);
    let list = ws.ok(&["keyring", "list", &kr]);
    assert!(list.contains("default key: new-default"), "{list}");
    assert!(list.contains("generation:  6"), "{list}"); // one per successful write
                                                        // The listing never shows key material: no 64-hex-digit run anywhere.
    assert!(!list.split(|c: char| !c.is_ascii_hexdigit()).any(|w| w.len() >= 32), "{list}");

    // A sealed object uses the default key; cut-off versions refuse.
    let input = ws.write("plain", b"hello");
    ws.ok(&["seal", &input, "-o", &ws.p("s"), "--keyring", &kr]);
    assert!(ws.ok(&["inspect", &ws.p("s")]).contains("key id new-default  version 1"));
    assert!(ws.temp_files().is_empty());
}

#[test]
fn passphrase_keyring_keeps_its_kdf_parameters() {
    let ws = Ws::new("kr-pass");
    let kr = ws.p("kr");
    ws.ok(&[&["keyring", "create", &kr][..], &FAST_KDF[..]].concat());
    let before = ws.read("kr");
    assert_eq!(before[13], 0x01, "passphrase protection");
    ws.ok(&["keyring", "rotate", &kr, "default"]);
    let after = ws.read("kr");
    assert_eq!(before[14..27], after[14..27], "Argon2id parameters kept");
    assert!(ws.ok(&["keyring", "list", &kr]).contains("protection:  passphrase"));
    let o = ws.cmd(&["keyring", "list", &kr]).env("SEALWIRE_PASSPHRASE", "wrong").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("DECRYPTION_FAILED"), "{}", text(&o));
    let o = ws.cmd(&["keyring", "list", &kr]).env_remove("SEALWIRE_PASSPHRASE").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("SEALWIRE_PASSPHRASE"), "{}", text(&o));
    // A custom variable name.
    let o = ws
        .cmd(&["keyring", "list", &kr, "--passphrase-env", "MY_PASS"])
        .env("MY_PASS", common::PASSPHRASE)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // Root-key creation with the variable unset is refused.
    let o = ws.cmd(&["keyring", "create", &ws.p("kr2"), "--root-key-env", "UNSET_VAR_X"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("UNSET_VAR_X"), "{}", text(&o));
    assert!(!ws.path("kr2").exists());
}

#[test]
fn rewrap_directory_after_rotation() {
    let ws = Ws::new("rewrap");
    let kr = ws.keyring("kr");
    let (bob, bob_pub) = ws.identity("bob");
    let (carol, carol_pub) = ws.identity("carol");
    std::fs::create_dir_all(ws.path("objs/sub/deeper")).unwrap();
    let objects = [
        ("objs/a.swev", "object=a", noise(100_000, 1)),
        ("objs/sub/b.bin", "object=b", noise(10, 2)),
        ("objs/sub/deeper/c", "object=c", noise(0, 3)),
    ];
    for (name, ctx, data) in &objects {
        let input = ws.write("in", data);
        ws.ok(&["seal", &input, "-o", &ws.p(name), "--keyring", &kr, "--to", &bob_pub, "-c", ctx]);
    }
    std::fs::write(ws.path("objs/readme.txt"), b"not an envelope").unwrap();
    std::fs::write(ws.path("objs/sub/SWEVX"), b"SWE").unwrap();
    let old_a = ws.read("objs/a.swev");
    let payloads: Vec<Vec<u8>> = objects
        .iter()
        .map(|(n, _, _)| {
            let b = ws.read(n);
            b[header_len(&b)..].to_vec()
        })
        .collect();

    ws.ok(&["keyring", "rotate", &kr, "default"]);
    let out = ws.ok(&["rewrap", &ws.p("objs"), "--keyring", &kr, "--rewrap-to-primary"]);
    assert!(
        out.contains("rewrap: 3 rewritten, 0 already up to date, 0 failed (3 envelopes, 2 other files skipped)"),
        "{out}"
    );
    for (i, (name, ctx, data)) in objects.iter().enumerate() {
        let b = ws.read(name);
        assert_eq!(b[header_len(&b)..], payloads[i][..], "{name}: payload bytes changed");
        let info = ws.ok(&["inspect", &ws.p(name)]);
        assert!(info.contains("keyring      key id default  version 2"), "{info}");
        assert!(!info.contains("version 1"), "{info}");
        assert!(info.contains("hpke-x25519"), "{info}");
        // Opens with the keyring (now version 2) and still with Bob's identity.
        ws.ok(&["open", &ws.p(name), "-o", &ws.p("out"), "--keyring", &kr, "-c", ctx]);
        assert_eq!(&ws.read("out"), data);
        ws.ok(&["open", &ws.p(name), "-o", &ws.p("out"), "--identity", &bob, "-c", ctx]);
        assert_eq!(&ws.read("out"), data);
    }
    assert_eq!(ws.read("objs/readme.txt"), b"not an envelope");

    // Cut version 1 off: the pre-rewrap copy no longer opens, the rewrapped objects do.
    ws.ok(&["keyring", "retire", &kr, "default", "1", "--at", "2000-01-01"]);
    let old = ws.write("old-a.swev", &old_a);
    ws.fails(&["open", &old, "-o", &ws.p("o"), "--keyring", &kr, "-c", "object=a"], "ERR_SEALWIRE_KEY_RETIRED");
    ws.ok(&["open", &ws.p("objs/a.swev"), "-o", &ws.p("o"), "--keyring", &kr, "-c", "object=a"]);

    // Idempotent.
    let out = ws.ok(&["rewrap", &ws.p("objs"), "--keyring", &kr, "--rewrap-to-primary"]);
    assert!(out.contains("0 rewritten, 3 already up to date"), "{out}");

    // Recipients: add Carol, remove Bob (single file, opened with Bob's identity).
    let a = ws.p("objs/a.swev");
    let bob_kid = ws
        .ok(&["identity", "show", &bob_pub])
        .lines()
        .find(|l| l.starts_with("recipient key id:"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    let out =
        ws.ok(&["rewrap", &a, "--identity", &bob, "--to", &carol_pub, "--remove", &format!("hpke-x25519:{bob_kid}")]);
    assert!(out.contains("1 rewritten"), "{out}");
    let b = ws.read("objs/a.swev");
    assert_eq!(b[header_len(&b)..], payloads[0][..]);
    ws.ok(&["open", &a, "-o", &ws.p("o"), "--identity", &carol, "-c", "object=a"]);
    ws.fails(&["open", &a, "-o", &ws.p("o2"), "--identity", &bob, "-c", "object=a"], "NO_MATCHING_KEY");
    ws.ok(&["open", &a, "-o", &ws.p("o"), "--keyring", &kr, "-c", "object=a"]);

    // Add a second keyring key, then drop the first: the object moves keys.
    ws.ok(&["keyring", "add-key", &kr, "next"]);
    ws.ok(&["rewrap", &a, "--keyring", &kr, "--key", "next", "--remove", "keyring:default"]);
    let info = ws.ok(&["inspect", &a]);
    assert!(info.contains("key id next  version 1") && !info.contains("key id default"), "{info}");
    ws.ok(&["open", &a, "-o", &ws.p("o"), "--keyring", &kr, "-c", "object=a"]);

    // Errors: a context filter that does not match, removing every entry, nothing to do,
    // no key, a non-envelope file.
    let m = ws.fails(
        &["rewrap", &ws.p("objs"), "--keyring", &kr, "--rewrap-to-primary", "-c", "object=zzz"],
        "could not be rewrapped",
    );
    assert!(m.contains("CONTEXT_MISMATCH") && m.contains("0 rewritten, 0 already up to date, 3 failed"), "{m}");
    ws.fails(
        &[
            "rewrap",
            &a,
            "--keyring",
            &kr,
            "--remove",
            "keyring:next",
            "--remove",
            &format!("hpke-x25519:{}", carol_kid(&ws, &carol_pub)),
        ],
        "at least one wrapped key",
    );
    ws.fails(&["rewrap", &a, "--keyring", &kr], "nothing to do");
    ws.fails(&["rewrap", &a, "--rewrap-to-primary"], "no key to open with");
    ws.fails(&["rewrap", &ws.p("objs/readme.txt"), "--keyring", &kr, "--rewrap-to-primary"], "not a sealwire envelope");
    ws.fails(&["rewrap", &a, "--keyring", &kr, "--remove", "keyring"], "PROVIDER:KEY_ID");
    // Failed rewraps leave the file as it was.
    let b2 = ws.read("objs/a.swev");
    ws.ok(&["open", &a, "-o", &ws.p("o"), "--keyring", &kr, "-c", "object=a"]);
    assert_eq!(b2, ws.read("objs/a.swev"));
    assert!(ws.temp_files().is_empty(), "{:?}", ws.temp_files());

    // In a directory, envelopes not wrapped for the given keys are skipped, not failed.
    let other = ws.p("other");
    ws.ok(&["keyring", "create", &other, "--key", "unrelated", "--root-key-env", ROOT_KEY_ENV]);
    let out = ws.ok(&["rewrap", &ws.p("objs"), "--keyring", &other, "--rewrap-to-primary"]);
    assert!(out.contains("0 rewritten, 0 already up to date, 0 failed (3 envelopes, 3 without an entry for the given keys skipped, 2 other files skipped)"), "{out}");
    ws.fails(&["rewrap", &a, "--keyring", &other, "--rewrap-to-primary"], "NO_MATCHING_KEY");
}

fn carol_kid(ws: &Ws, carol_pub: &str) -> String {
    ws.ok(&["identity", "show", carol_pub])
        .lines()
        .find(|l| l.starts_with("recipient key id:"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned()
}

#[cfg(unix)]
#[test]
fn rewrap_keeps_file_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Ws::new("rewrap-perm");
    let kr = ws.keyring("kr");
    let input = ws.write("in", b"x");
    let s = ws.p("s.swev");
    ws.ok(&["seal", &input, "-o", &s, "--keyring", &kr]);
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o640)).unwrap();
    ws.ok(&["keyring", "rotate", &kr, "default"]);
    ws.ok(&["rewrap", &s, "--keyring", &kr, "--rewrap-to-primary"]);
    assert_eq!(std::fs::metadata(&s).unwrap().permissions().mode() & 0o777, 0o640);
}
