//! End-to-end tests of `seal`, `open`, `inspect` and `xwing-keygen`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{header_len, noise, text, Ws, FAST_KDF, ROOT_KEY_ENV};

#[test]
fn file_round_trip_both_suites_and_segment_sizes() {
    let ws = Ws::new("rt-files");
    let kr = ws.keyring("kr");
    for (i, (suite, seg, len)) in [
        ("chacha20poly1305", "65536", 300_000usize),
        ("aes256gcm", "1K", 4096),
        ("aes-256-gcm", "64", 0),
        ("chacha20-poly1305", "100", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let plain = noise(len, i as u64 + 7);
        let input = ws.write(&format!("plain{i}"), &plain);
        let sealed = ws.p(&format!("plain{i}.swev"));
        let out = ws.p(&format!("out{i}"));
        ws.ok(&[
            "seal",
            &input,
            "-o",
            &sealed,
            "--keyring",
            &kr,
            "-c",
            "app=test",
            "--suite",
            suite,
            "--segment-size",
            seg,
        ]);
        ws.ok(&["open", &sealed, "-o", &out, "--keyring", &kr, "-c", "app=test"]);
        assert_eq!(ws.read(&format!("out{i}")), plain, "suite {suite} segment {seg} len {len}");
        let info = ws.ok(&["inspect", &sealed]);
        let name = if suite.starts_with("aes") { "aes-256-gcm" } else { "chacha20-poly1305" };
        assert!(info.contains(&format!("suite:          {name}")), "{info}");
        assert!(info.contains(&format!("plaintext size: {len} bytes")), "{info}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Plaintext output is private.
            assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
    // Bad options are refused before anything is written.
    ws.fails(&["seal", &ws.p("plain0"), "-o", &ws.p("x"), "--keyring", &kr, "--segment-size", "32"], "segment size");
    ws.fails(&["seal", &ws.p("plain0"), "-o", &ws.p("x"), "--keyring", &kr, "-c", "novalue"], "key=value");
    ws.fails(&["seal", &ws.p("plain0"), "-o", &ws.p("x"), "--keyring", &kr, "-c", "a=1", "-c", "a=2"], "duplicate");
    ws.fails(&["seal", &ws.p("plain0"), "-o", &ws.p("x")], "nothing to seal to");
    assert!(!ws.path("x").exists());
    assert!(ws.temp_files().is_empty(), "{:?}", ws.temp_files());
}

#[test]
fn stdin_stdout_round_trip() {
    let ws = Ws::new("rt-stdio");
    let kr = ws.keyring("kr");
    let plain = noise(200_001, 3);
    let mut child = ws
        .cmd(&["seal", "--keyring", &kr, "-c", "kind=memory", "-c", "agent=alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let p2 = plain.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&p2).unwrap());
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let sealed = o.stdout.clone();
    assert!(sealed.starts_with(b"SWEV"));
    // Quiet on success when writing to stdout.
    assert!(o.stderr.is_empty(), "{}", text(&o));

    let sealed_path = ws.write("sealed", &sealed);
    let o = ws
        .cmd(&["open", "-", "--keyring", &kr, "-c", "agent=alice", "-c", "kind=memory"])
        .stdin(std::fs::File::open(&sealed_path).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(o.stdout, plain);

    // inspect reads standard input too.
    let o = ws.cmd(&["inspect", "-"]).stdin(std::fs::File::open(&sealed_path).unwrap()).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("plaintext size: 200001 bytes"), "{}", text(&o));
}

#[test]
fn recipients_and_multi_wrap() {
    let ws = Ws::new("recipients");
    let kr = ws.keyring("kr");
    // A second keyring, passphrase-protected, with two keys.
    let kr2 = ws.p("kr2");
    ws.ok(&[&["keyring", "create", &kr2, "--key", "team"][..], &FAST_KDF[..]].concat());
    ws.ok(&["keyring", "add-key", &kr2, "archive"]);
    let (bob, bob_pub) = ws.identity("bob");
    let (carol, _carol_pub) = ws.identity("carol");
    let xw = ws.p("x.swcx");
    let xw_pub = ws.p("x.pub");
    ws.ok(&[&["xwing-keygen", "--out", &xw, "--public-out", &xw_pub][..], &FAST_KDF[..]].concat());
    assert!(ws.read("x.swcx").starts_with(b"SWCX"));
    assert!(ws.read("x.pub").starts_with(b"SWXP"));

    let plain = noise(70_000, 11);
    let input = ws.write("plain", &plain);

    // --to only: Bob opens with his encrypted identity; Carol and the keyring cannot.
    let to_bob = ws.p("to-bob.swev");
    ws.ok(&["seal", &input, "-o", &to_bob, "--to", &bob_pub, "-c", "task=42"]);
    ws.ok(&["open", &to_bob, "-o", &ws.p("bob.out"), "--identity", &bob, "-c", "task=42"]);
    assert_eq!(ws.read("bob.out"), plain);
    ws.fails(
        &["open", &to_bob, "-o", &ws.p("carol.out"), "--identity", &carol, "-c", "task=42"],
        "ERR_SEALWIRE_NO_MATCHING_KEY",
    );
    ws.fails(&["open", &to_bob, "-o", &ws.p("kr.out"), "--keyring", &kr, "-c", "task=42"], "no wrapped data key");
    assert!(!ws.path("carol.out").exists() && !ws.path("kr.out").exists());
    // The public identity is what --to takes; the encrypted one is refused with a hint.
    ws.fails(&["seal", &input, "-o", &ws.p("x"), "--to", &bob], "public identity");

    // Multi-wrap: two keyrings (one via --key archive), Bob, and an X-Wing key.
    let multi = ws.p("multi.swev");
    let out = ws.ok(&[
        "seal",
        &input,
        "-o",
        &multi,
        "--keyring",
        &kr,
        "--keyring",
        &kr2,
        "--key",
        "default",
        "--key",
        "archive",
        "--to",
        &bob_pub,
        "--to-xwing",
        &xw_pub,
        "-c",
        "task=42",
    ]);
    assert!(out.contains("4 wrapped keys"), "{out}");
    let info = ws.ok(&["inspect", &multi]);
    assert!(info.contains("wrapped keys:   4"), "{info}");
    assert!(info.contains("key id default  version 1  wrapped 72 bytes"), "{info}");
    assert!(info.contains("key id archive  version 1  wrapped 72 bytes"), "{info}");
    assert!(info.contains("hpke-x25519"), "{info}");
    assert!(info.contains("hpke-xwing") && info.contains("wrapped 1168 bytes"), "{info}");
    for (i, keys) in [
        vec!["--keyring", kr.as_str()],
        vec!["--keyring", kr2.as_str()],
        vec!["--identity", bob.as_str()],
        vec!["--xwing-key", xw.as_str()],
    ]
    .into_iter()
    .enumerate()
    {
        let o = ws.p(&format!("multi.out{i}"));
        ws.ok(&[&["open", multi.as_str(), "-o", &o, "-c", "task=42"][..], &keys[..]].concat());
        assert_eq!(ws.read(&format!("multi.out{i}")), plain);
    }
    // --key names a key no keyring holds.
    ws.fails(&["seal", &input, "-o", &ws.p("x"), "--keyring", &kr, "--key", "nope"], "no keyring given holds a key");
    assert!(ws.temp_files().is_empty());
}

#[test]
fn wrong_context_wrong_key_wrong_secret() {
    let ws = Ws::new("wrong");
    let kr = ws.keyring("kr");
    let other = ws.keyring("other");
    let input = ws.write("plain", b"agent memory: the launch code is not here");
    let sealed = ws.p("s.swev");
    ws.ok(&["seal", &input, "-o", &sealed, "--keyring", &kr, "-c", "tenant=acme", "-c", "object=7"]);
    let out = ws.p("out");
    let m = ws
        .fails(&["open", &sealed, "-o", &out, "--keyring", &kr, "-c", "tenant=acme"], "ERR_SEALWIRE_CONTEXT_MISMATCH");
    assert!(m.contains("encryption context does not match"), "{m}");
    ws.fails(
        &["open", &sealed, "-o", &out, "--keyring", &kr, "-c", "tenant=acme", "-c", "object=8"],
        "CONTEXT_MISMATCH",
    );
    ws.fails(&["open", &sealed, "-o", &out, "--keyring", &kr], "CONTEXT_MISMATCH");
    // The other keyring holds a key with the same id but different material.
    ws.fails(
        &["open", &sealed, "-o", &out, "--keyring", &other, "-c", "tenant=acme", "-c", "object=7"],
        "ERR_SEALWIRE_HEADER_AUTH_FAILED",
    );
    // Wrong root key for the keyring.
    let o = ws
        .cmd(&["open", &sealed, "-o", &out, "--keyring", &kr, "-c", "tenant=acme", "-c", "object=7"])
        .env(ROOT_KEY_ENV, "00".repeat(32))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("cannot open keyring") && text(&o).contains("DECRYPTION_FAILED"), "{}", text(&o));
    // Root key unset.
    let o = ws.cmd(&["open", &sealed, "-o", &out, "--keyring", &kr]).env_remove(ROOT_KEY_ENV).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains(ROOT_KEY_ENV), "{}", text(&o));
    // Not an envelope / not a keyring.
    ws.fails(&["open", &input, "-o", &out, "--keyring", &kr], "BAD_MAGIC");
    ws.fails(&["open", &sealed, "-o", &out, "--keyring", &input], "not a sealwire keyring");
    ws.fails(&["open", &sealed, "-o", &out], "no key to open with");
    assert!(!ws.path("out").exists());
    assert!(ws.temp_files().is_empty());
}

#[test]
fn truncated_or_modified_envelope_leaves_no_output() {
    let ws = Ws::new("trunc");
    let kr = ws.keyring("kr");
    let plain = noise(200_000, 5);
    let input = ws.write("plain", &plain);
    let sealed_path = ws.p("s.swev");
    ws.ok(&["seal", &input, "-o", &sealed_path, "--keyring", &kr, "-c", "a=b"]);
    let sealed = ws.read("s.swev");
    let h = header_len(&sealed);
    let seg = 65_536 + 16;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("cut at a segment boundary", sealed[..h + 2 * seg].to_vec(), "ERR_SEALWIRE_TRUNCATED"),
        ("cut before the first segment", sealed[..h].to_vec(), "ERR_SEALWIRE_TRUNCATED"),
        ("cut inside the header", sealed[..h - 10].to_vec(), "ERR_SEALWIRE_TRUNCATED"),
        ("cut inside the final segment", sealed[..sealed.len() - 1].to_vec(), "ERR_SEALWIRE_DECRYPTION_FAILED"),
        (
            "a flipped payload bit in segment 2",
            {
                let mut s = sealed.clone();
                s[h + seg + 100] ^= 1;
                s
            },
            "ERR_SEALWIRE_DECRYPTION_FAILED",
        ),
        ("trailing bytes", [&sealed[..], b"extra"].concat(), "ERR_SEALWIRE_DECRYPTION_FAILED"),
    ];
    for (i, (what, bytes, code)) in cases.iter().enumerate() {
        let bad = ws.write(&format!("bad{i}.swev"), bytes);
        let out = ws.p(&format!("out{i}"));
        let m = ws.fails(&["open", &bad, "-o", &out, "--keyring", &kr, "-c", "a=b"], code);
        assert!(m.contains("cannot open"), "{what}: {m}");
        assert!(!ws.path(&format!("out{i}")).exists(), "{what}: a partial plaintext file was left");
    }
    // An existing file under the output name is left as it was.
    let keep = ws.write("keep", b"previous contents");
    ws.fails(&["open", &ws.p("bad0.swev"), "-o", &keep, "--keyring", &kr, "-c", "a=b"], "TRUNCATED");
    assert_eq!(ws.read("keep"), b"previous contents");
    assert!(ws.temp_files().is_empty(), "{:?}", ws.temp_files());

    // Via stdout: exit 1 and a warning that what was written is incomplete.
    let o = ws
        .cmd(&["open", "--keyring", &kr, "-c", "a=b"])
        .stdin(std::fs::File::open(ws.path("bad0.swev")).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("TRUNCATED") && err.contains("incomplete"), "{err}");
    assert_eq!(o.stdout, &plain[..2 * 65_536], "only verified segments are released");

    // inspect reports the incomplete payload without any key.
    let info = ws.ok(&["inspect", &ws.p("bad3.swev")]);
    assert!(info.contains("plaintext size: 199999 bytes"), "{info}");
    let info = ws.ok(&["inspect", &ws.write("bad6", &sealed[..h + 10])]);
    assert!(info.contains("incomplete"), "{info}");
    ws.fails(&["inspect", &ws.p("bad2.swev")], "TRUNCATED");
}

#[test]
fn inspect_shows_context_and_entries() {
    let ws = Ws::new("inspect");
    let kr = ws.keyring("kr");
    let (_bob, bob_pub) = ws.identity("bob");
    let input = ws.write("plain", &noise(1000, 1));
    let sealed = ws.p("s.swev");
    ws.ok(&[
        "seal",
        &input,
        "-o",
        &sealed,
        "--keyring",
        &kr,
        "--to",
        &bob_pub,
        "-c",
        "tenant=acme",
        "-c",
        "path=a \"quoted\"\tvalue",
        "--segment-size",
        "256",
    ]);
    // Inspect needs no key and no secret at all.
    let o = common::bin()
        .args(["inspect", &sealed])
        .env_remove(ROOT_KEY_ENV)
        .env_remove("SEALWIRE_PASSPHRASE")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    let bob_id = ws.ok(&["identity", "show", &bob_pub]);
    let bob_id = bob_id
        .lines()
        .find(|l| l.starts_with("recipient key id:"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    for needle in [
        "format:         SWEV v1",
        "suite:          chacha20-poly1305",
        "segment size:   256 bytes",
        "context:        2 entries",
        "  path = a \"quoted\"\\tvalue",
        "  tenant = acme",
        "wrapped keys:   2",
        "keyring      key id default  version 1  wrapped 72 bytes",
        &format!("hpke-x25519  key id {bob_id}  version 0  wrapped 80 bytes"),
        "payload size:   1064 bytes in 4 segments",
        "plaintext size: 1000 bytes",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    let h = header_len(&ws.read("s.swev"));
    assert!(t.contains(&format!("header size:    {h} bytes")), "{t}");

    let j = ws.ok(&["inspect", &sealed, "--json"]);
    for needle in [
        "\"suite\":\"chacha20-poly1305\"",
        "\"segment_size\":256",
        "\"context\":{\"path\":\"a \\\"quoted\\\"\\tvalue\",\"tenant\":\"acme\"}",
        "{\"provider\":\"keyring\",\"key_id\":\"default\",\"key_version\":1,\"wrapped_len\":72}",
        &format!("{{\"provider\":\"hpke-x25519\",\"key_id\":\"{bob_id}\",\"key_version\":0,\"wrapped_len\":80}}"),
        &format!("\"header_len\":{h}"),
        "\"payload_len\":1064",
        "\"segments\":4",
        "\"plaintext_len\":1000",
    ] {
        assert!(j.contains(needle), "missing {needle:?} in\n{j}");
    }
    ws.fails(&["inspect", &input], "BAD_MAGIC");
}

#[test]
fn large_file_streams_without_progress_bar_when_not_a_terminal() {
    let ws = Ws::new("large");
    let kr = ws.keyring("kr");
    let plain = noise(6 * 1024 * 1024 + 123, 9);
    let input = ws.write("big", &plain);
    let sealed = ws.p("big.swev");
    let o = ws.run(&["seal", &input, "-o", &sealed, "--keyring", &kr, "-c", "k=v"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains('\r') && !err.contains("eta") && !err.contains('\u{1b}'),
        "progress bar drawn without a terminal: {err:?}"
    );
    let o = ws.run(&["open", &sealed, "-o", &ws.p("big.out"), "--keyring", &kr, "-c", "k=v"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stderr.is_empty() && o.stdout.is_empty(), "{}", text(&o));
    assert!(ws.read("big.out") == plain);
}

#[test]
fn xwing_key_files() {
    let ws = Ws::new("xwing");
    // Root-key protected X-Wing key.
    let xw = ws.p("x.swcx");
    let xw_pub = ws.p("x.pub");
    let out = ws.ok(&["xwing-keygen", "--out", &xw, "--public-out", &xw_pub, "--root-key-env", ROOT_KEY_ENV]);
    assert!(out.contains("root key") && out.contains("x-wing key id: "), "{out}");
    let key_id =
        out.lines().find(|l| l.starts_with("x-wing key id:")).unwrap().split_whitespace().last().unwrap().to_owned();
    assert!(ws.ok(&["identity", "show", &xw_pub]).contains(&key_id));
    ws.fails(&["xwing-keygen", "--out", &xw, "--root-key-env", ROOT_KEY_ENV], "--force");
    let input = ws.write("plain", b"post-quantum memory");
    let sealed = ws.p("s.swev");
    ws.ok(&["seal", &input, "-o", &sealed, "--to-xwing", &xw_pub]);
    assert!(ws
        .ok(&["inspect", &sealed])
        .contains(&format!("hpke-xwing  key id {key_id}  version 0  wrapped 1168 bytes")));
    ws.ok(&["open", &sealed, "-o", &ws.p("out"), "--xwing-key", &xw]);
    assert_eq!(ws.read("out"), b"post-quantum memory");
    // Wrong root key → the key file does not open.
    let o = ws
        .cmd(&["open", &sealed, "-o", &ws.p("out2"), "--xwing-key", &xw])
        .env(ROOT_KEY_ENV, "11".repeat(32))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("DECRYPTION_FAILED"), "{}", text(&o));
    // Passphrase-protected X-Wing key; another X-Wing key has no entry.
    let xw2 = ws.p("y.swcx");
    ws.ok(&[&["xwing-keygen", "--out", &xw2][..], &FAST_KDF[..]].concat());
    ws.fails(&["open", &sealed, "-o", &ws.p("out3"), "--xwing-key", &xw2], "NO_MATCHING_KEY");
    let o = ws
        .cmd(&["open", &sealed, "-o", &ws.p("out3"), "--xwing-key", &xw2])
        .env("SEALWIRE_PASSPHRASE", "wrong")
        .output()
        .unwrap();
    assert!(text(&o).contains("DECRYPTION_FAILED"), "{}", text(&o));
    // The private file is refused where a public key is expected, and vice versa.
    ws.fails(&["seal", &input, "-o", &ws.p("z"), "--to-xwing", &xw], "private key");
    ws.fails(&["open", &sealed, "-o", &ws.p("z"), "--xwing-key", &xw_pub], "not a sealwire X-Wing private key");
}
