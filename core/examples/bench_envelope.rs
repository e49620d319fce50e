//! Envelope benchmark: one-shot seal/open, streaming in bounded memory, and the raw AEADs
//! underneath, per suite.
//!
//! `cargo run --release -p sealwire --example bench_envelope` (RustCrypto AEAD backend)
//! `cargo run --release -p sealwire --features aead-ring --example bench_envelope` (ring)
//!
//! * raw AEAD: seal in place, one key expanded once, for 1 KiB, 64 KiB and 1 MiB messages —
//!   RustCrypto always, ring as well when built with `aead-ring`;
//! * one-shot: `envelope::seal_with` / `envelope::open` of 1 KiB and 1 MiB with a keyring
//!   provider (each seal draws a fresh DEK and message id, derives the keys, wraps the DEK and
//!   MACs the header; default 64 KiB segments);
//! * streaming: `EnvelopeWriter` into `io::sink()` and, for opening, `EnvelopeReader` over a
//!   temporary file sealed beforehand (page cache), `SEALWIRE_BENCH_STREAM_MIB` MiB
//!   (default 1024) written and read 1 MiB at a time (so the reader opens each segment in the
//!   caller's buffer); peak RSS (`VmHWM`, reset through
//!   `/proc/self/clear_refs` before each run) shows memory stays bounded by a segment.
//!
//! Rates are the best of several runs, per CPU time of the benchmarking thread (this machine
//! is shared; time spent descheduled is not counted). Opening from the file counts the
//! `read` system calls' CPU time too.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::io::{BufWriter, Read, Write};
use std::time::{Duration, Instant};

use sealwire::envelope::{self, EncryptionContext, EnvelopeReader, EnvelopeWriter, Keyring, SealOptions, Suite};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Best rate in MB/s (10^6 bytes) of `f`, each call processing `bytes`.
fn mbps(budget: Duration, bytes: usize, mut f: impl FnMut()) -> f64 {
    let mut best = 0f64;
    for _ in 0..5 {
        let start = now();
        let mut n = 0u64;
        while start.0.elapsed() < budget {
            f();
            n += 1;
        }
        best = best.max(n as f64 * bytes as f64 / elapsed(start) / 1e6);
    }
    best
}

/// CPU time of this thread in seconds, from `/proc/thread-self/schedstat` (nanoseconds on
/// CPU), so that time the scheduler gives to other processes on this shared machine is not
/// counted; `None` where that file does not exist (then wall-clock time is used).
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Seconds elapsed since `(wall, cpu)` were taken: CPU time if available, else wall time.
fn elapsed(start: (Instant, Option<f64>)) -> f64 {
    match (start.1, thread_cpu_secs()) {
        (Some(a), Some(b)) => b - a,
        _ => start.0.elapsed().as_secs_f64(),
    }
}

fn now() -> (Instant, Option<f64>) {
    (Instant::now(), thread_cpu_secs())
}


fn label(size: usize) -> String {
    if size >= MIB {
        format!("{} MiB", size / MIB)
    } else {
        format!("{} KiB", size / KIB)
    }
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn raw_rustcrypto(b: Duration) {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    let chacha = chacha20poly1305::ChaCha20Poly1305::new(&[7u8; 32].into());
    let aes = aes_gcm::Aes256Gcm::new(&[7u8; 32].into());
    let nonce = [0u8; 12];
    for size in [KIB, 64 * KIB, MIB] {
        let mut buf = vec![0x5au8; size];
        let c = mbps(b, size, || {
            black_box(chacha.encrypt_inout_detached(&nonce.into(), &[], buf.as_mut_slice().into()).unwrap());
        });
        let a = mbps(b, size, || {
            black_box(aes.encrypt_inout_detached(&nonce.into(), &[], buf.as_mut_slice().into()).unwrap());
        });
        println!("| RustCrypto (chacha20poly1305 0.11 / aes-gcm 0.11) | {} | {c:.0} | {a:.0} |", label(size));
    }
}

#[cfg(feature = "aead-ring")]
fn raw_ring(b: Duration) {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, CHACHA20_POLY1305};
    let chacha = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[7u8; 32]).unwrap());
    let aes = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    for size in [KIB, 64 * KIB, MIB] {
        let mut buf = vec![0x5au8; size];
        let mut run = |k: &LessSafeKey| {
            mbps(b, size, || {
                let n = Nonce::assume_unique_for_key([0u8; 12]);
                let _ = black_box(k.seal_in_place_separate_tag(n, Aad::empty(), &mut buf).unwrap());
            })
        };
        let c = run(&chacha);
        let a = run(&aes);
        println!("| ring 0.17 | {} | {c:.0} | {a:.0} |", label(size));
    }
}

#[cfg(not(feature = "aead-ring"))]
fn raw_ring(_: Duration) {
    println!("| ring 0.17 | — | (build with `--features aead-ring`) | |");
}

fn stream(suite: Suite, keyring: &Keyring, ctx: &EncryptionContext, total_mib: usize) {
    let opts = SealOptions::new(suite, envelope::DEFAULT_SEGMENT_SIZE).unwrap();
    let chunk = vec![0x5au8; MIB];
    let bytes = total_mib * MIB;

    // Seal into a sink: pure sealing cost.
    let reset = reset_hwm();
    let mut best_seal = 0f64;
    for _ in 0..3 {
        let start = now();
        let mut w = EnvelopeWriter::new(std::io::sink(), ctx, &[keyring], &opts).unwrap();
        for _ in 0..total_mib {
            w.write_plaintext(&chunk).unwrap();
        }
        w.finish().unwrap();
        best_seal = best_seal.max(bytes as f64 / elapsed(start) / 1e6);
    }
    let seal_hwm = vm_hwm_kib();

    // Seal once into a temporary file (not timed), then open it back (timed).
    let path = std::env::temp_dir().join(format!("sealwire-bench-{}-{}.env", std::process::id(), suite.name()));
    {
        let file = BufWriter::with_capacity(MIB, std::fs::File::create(&path).unwrap());
        let mut w = EnvelopeWriter::new(file, ctx, &[keyring], &opts).unwrap();
        for _ in 0..total_mib {
            w.write_plaintext(&chunk).unwrap();
        }
        w.finish().unwrap().flush().unwrap();
    }
    let reset = reset && reset_hwm();
    let mut best_open = 0f64;
    let mut out = vec![0u8; MIB];
    for _ in 0..3 {
        let start = now();
        // No BufReader: the envelope reader asks for whole segments, a buffer would only
        // add a copy.
        let file = std::fs::File::open(&path).unwrap();
        let mut r = EnvelopeReader::new(file, ctx, &[keyring]).unwrap();
        let mut n = 0usize;
        loop {
            let k = r.read(&mut out).unwrap();
            if k == 0 {
                break;
            }
            n += k;
        }
        assert_eq!(n, bytes);
        best_open = best_open.max(bytes as f64 / elapsed(start) / 1e6);
    }
    let open_hwm = vm_hwm_kib();
    let _ = std::fs::remove_file(&path);
    let hwm = |kib: u64| if reset { format!("{:.1} MiB", kib as f64 / 1024.0) } else { format!("{kib} KiB (not reset)") };
    println!(
        "| {} | {} MiB | {best_seal:.0} | {best_open:.0} | {} | {} |",
        suite.name(),
        total_mib,
        hwm(seal_hwm),
        hwm(open_hwm)
    );
}

fn main() {
    let b = Duration::from_millis(300);
    let total_mib: usize = std::env::var("SEALWIRE_BENCH_STREAM_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    println!("sealwire AEAD backend: {}\n", sealwire::AEAD_BACKEND);

    let mut keyring = Keyring::new();
    keyring.create_key("bench").unwrap();
    let ctx = EncryptionContext::from_pairs([("tenant", "acme"), ("object", "bench")]).unwrap();

    // Streaming first, so the peak-RSS figures are not those of the buffers below.
    println!("| streaming (EnvelopeWriter → sink / EnvelopeReader ← file) | size | seal MB/s | open MB/s | peak RSS sealing | peak RSS opening |");
    println!("|---|---:|---:|---:|---:|---:|");
    for suite in [Suite::ChaCha20Poly1305, Suite::Aes256Gcm] {
        stream(suite, &keyring, &ctx, total_mib);
    }

    println!("\n| one-shot envelope (keyring provider) | size | seal MB/s | open MB/s |");
    println!("|---|---:|---:|---:|");
    for suite in [Suite::ChaCha20Poly1305, Suite::Aes256Gcm] {
        let opts = SealOptions::new(suite, envelope::DEFAULT_SEGMENT_SIZE).unwrap();
        for size in [KIB, MIB] {
            let pt = vec![0x5au8; size];
            let sealed = envelope::seal_with(&pt, &ctx, &[&keyring], &opts).unwrap();
            let seal = mbps(b, size, || {
                black_box(envelope::seal_with(black_box(&pt), &ctx, &[&keyring], &opts).unwrap());
            });
            let open = mbps(b, size, || {
                black_box(envelope::open(black_box(&sealed), &ctx, &[&keyring]).unwrap());
            });
            println!("| {} | {} | {seal:.0} | {open:.0} |", suite.name(), label(size));
        }
    }

    println!("\n| raw AEAD seal in place (reference) | size | ChaCha20-Poly1305 MB/s | AES-256-GCM MB/s |");
    println!("|---|---:|---:|---:|");
    raw_rustcrypto(b);
    raw_ring(b);
}
