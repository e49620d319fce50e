//! Helpers shared by the CLI integration tests: run the built binary in a temp dir with a
//! known root key, and assert on exit codes and messages.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const ROOT_KEY_ENV: &str = "SEALWIRE_KEYRING_ROOT_KEY";
pub const PASS_ENV: &str = "SEALWIRE_PASSPHRASE";
pub const PASSPHRASE: &str = "correct horse battery staple";
pub const FAST_KDF: [&str; 6] = ["--kdf-memory-kib", "19456", "--kdf-iterations", "2", "--kdf-lanes", "1"];

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sealwire"))
}

pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sealwire-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A test workspace: a temp dir, a known root key in the environment, a fixed passphrase.
pub struct Ws {
    pub dir: PathBuf,
    pub root_key: [u8; 32],
    /// Every stdout/stderr the commands produced (scanned for secrets by one test).
    pub transcript: std::cell::RefCell<Vec<u8>>,
}

impl Ws {
    pub fn new(name: &str) -> Self {
        let mut root_key = [0u8; 32];
        // Distinct per test and per run, no RNG crate needed.
        let seed = format!("{name}-{}-{:?}", std::process::id(), std::time::SystemTime::now());
        for (i, b) in seed.bytes().enumerate() {
            root_key[i % 32] = root_key[i % 32].wrapping_mul(31).wrapping_add(b).rotate_left(3) ^ (i as u8);
        }
        Self { dir: tmpdir(name), root_key, transcript: Default::default() }
    }

    pub fn p(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn root_hex(&self) -> String {
        self.root_key.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.args(args)
            .current_dir(&self.dir)
            .env(ROOT_KEY_ENV, self.root_hex())
            .env(PASS_ENV, PASSPHRASE)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let o = self.cmd(args).output().unwrap();
        self.record(&o);
        o
    }

    pub fn record(&self, o: &Output) {
        let mut t = self.transcript.borrow_mut();
        t.extend_from_slice(&o.stdout);
        t.extend_from_slice(&o.stderr);
    }

    /// Run; must succeed; returns stdout+stderr.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "sealwire {args:?} failed:\n{}", text(&o));
        text(&o)
    }

    /// Run; must exit 1 with `needle` in the message; returns the message.
    pub fn fails(&self, args: &[&str], needle: &str) -> String {
        let o = self.run(args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "sealwire {args:?} should exit 1:\n{t}");
        assert!(t.contains(needle), "sealwire {args:?}: expected {needle:?} in:\n{t}");
        t
    }

    /// A root-key keyring with key `default`.
    pub fn keyring(&self, name: &str) -> String {
        let p = self.p(name);
        self.ok(&["keyring", "create", &p, "--root-key-env", ROOT_KEY_ENV]);
        p
    }

    /// An identity (encrypted, fast KDF) and its public identity file: (secret, public).
    pub fn identity(&self, name: &str) -> (String, String) {
        let (s, p) = (self.p(&format!("{name}.swk")), self.p(&format!("{name}.pub")));
        self.ok(&[&["keygen", "--out", &s, "--public-out", &p][..], &FAST_KDF[..]].concat());
        (s, p)
    }

    pub fn write(&self, name: &str, data: &[u8]) -> String {
        std::fs::write(self.path(name), data).unwrap();
        self.p(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// Names of every file in the workspace directory (recursively), hidden ones included.
    pub fn all_files(&self) -> Vec<PathBuf> {
        fn walk(d: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.push(p)
                }
            }
        }
        let mut v = Vec::new();
        walk(&self.dir, &mut v);
        v.sort();
        v
    }

    /// Temporary files left behind (`.name.tmp-…`): there must never be any.
    pub fn temp_files(&self) -> Vec<PathBuf> {
        self.all_files().into_iter().filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-")).collect()
    }
}

/// Pseudo-random bytes (xorshift), deterministic per seed.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The header length of an envelope (the payload starts there).
pub fn header_len(env: &[u8]) -> usize {
    sealwire::envelope::EnvelopeHeader::parse(env).unwrap().len()
}
