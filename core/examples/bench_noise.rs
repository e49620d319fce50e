//! Noise benchmark: sealwire and `snow` side by side in one run.
//!
//! `cargo run --release -p sealwire --example bench_noise`
//!
//! (add `--features aead-ring` for the ring AEAD backend; the first line printed names it).
//!
//! Measures full handshakes per second (both sides, in one thread, including building the
//! handshake objects from existing static keys), transport write+read throughput for 1 KiB and
//! 64 KiB messages, the hybrid patterns, and the X25519 floor: the time the handshake's own
//! X25519 operations take when run bare, counting both sides — IK: 8 variable-base
//! multiplications (es, ss, ee, se on each side) and 2 fixed-base ones (the two ephemeral
//! keys); XX: 6 variable-base (ee, es, se) and 2 fixed-base.
//!
//! Rates are the best of five runs, per CPU time of the benchmarking thread (this machine is
//! shared with other work; time spent descheduled is not counted).
//!
//! Handshakes are measured two ways: "fresh" builds new `NoiseBuilder`s for every handshake
//! (as the snow side must: its builder is consumed); "reused" keeps one initiator builder per
//! peer and one responder builder, as a long-running agent would, so the initiator's
//! static-static DH of IK is computed once per builder instead of once per handshake.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sealwire::noise::{NoiseBuilder, Transport};
use sealwire::Identity;

fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    let mut best = 0f64;
    for _ in 0..5 {
        let start = now();
        let mut n = 0u64;
        while start.0.elapsed() < budget {
            f();
            n += 1;
        }
        best = best.max(n as f64 / elapsed(start));
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


struct Statics {
    alice: Identity,
    bob: Identity,
    alice_private: [u8; 32],
    bob_private: [u8; 32],
}

fn statics() -> Statics {
    let (a, b) = ([0x11u8; 32], [0x22u8; 32]);
    Statics {
        alice: Identity::from_secret_bytes(&[1; 32], &a),
        bob: Identity::from_secret_bytes(&[2; 32], &b),
        alice_private: a,
        bob_private: b,
    }
}

fn builders(name: &str, k: &Statics) -> (NoiseBuilder, NoiseBuilder) {
    let ik = name.contains("_IK");
    let mut ib = NoiseBuilder::new(name).unwrap().local_identity(&k.alice);
    if ik {
        ib = ib.remote_identity(k.bob.public());
    }
    (ib, NoiseBuilder::new(name).unwrap().local_identity(&k.bob))
}

/// One complete sealwire handshake (both sides) with fresh builders; returns the transports.
fn sealwire_handshake(name: &str, k: &Statics) -> (Transport, Transport) {
    let (ib, rb) = builders(name, k);
    sealwire_handshake_with(&ib, &rb)
}

/// One complete sealwire handshake (both sides) from existing builders.
fn sealwire_handshake_with(ib: &NoiseBuilder, rb: &NoiseBuilder) -> (Transport, Transport) {
    let mut i = ib.build_initiator().unwrap();
    let mut r = rb.build_responder().unwrap();
    let mut turn_i = true;
    while !(i.is_finished() && r.is_finished()) {
        let (w, rd) = if turn_i { (&mut i, &mut r) } else { (&mut r, &mut i) };
        let m = w.write_message(&[]).unwrap();
        rd.read_message(&m).unwrap();
        turn_i = !turn_i;
    }
    (i.into_transport().unwrap(), r.into_transport().unwrap())
}

fn snow_handshake(name: &str, k: &Statics) -> (snow::TransportState, snow::TransportState) {
    let ik = name.contains("_IK");
    let mut ib = snow::Builder::new(name.parse().unwrap()).local_private_key(&k.alice_private).unwrap();
    let bob_pub = *k.bob.public().x25519_bytes();
    if ik {
        ib = ib.remote_public_key(&bob_pub).unwrap();
    }
    let mut i = ib.build_initiator().unwrap();
    let mut r = snow::Builder::new(name.parse().unwrap()).local_private_key(&k.bob_private).unwrap().build_responder().unwrap();
    let mut buf = vec![0u8; 65535];
    let mut out = vec![0u8; 65535];
    let mut turn_i = true;
    while !(i.is_handshake_finished() && r.is_handshake_finished()) {
        let (w, rd) = if turn_i { (&mut i, &mut r) } else { (&mut r, &mut i) };
        let n = w.write_message(&[], &mut buf).unwrap();
        rd.read_message(&buf[..n], &mut out).unwrap();
        turn_i = !turn_i;
    }
    (i.into_transport_mode().unwrap(), r.into_transport_mode().unwrap())
}

fn main() {
    let k = statics();
    let b = Duration::from_millis(400);
    println!("sealwire AEAD backend: {}\n", sealwire::AEAD_BACKEND);

    // X25519 floor.
    let xs = x25519_dalek::StaticSecret::from([7u8; 32]);
    let xp = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([9u8; 32]));
    let dh = 1.0 / rate(b, || { black_box(xs.diffie_hellman(black_box(&xp))); });
    let base = 1.0 / rate(b, || {
        let s = x25519_dalek::StaticSecret::from(black_box([5u8; 32]));
        black_box(x25519_dalek::PublicKey::from(&s));
    });
    let floor = |var: f64| 1.0 / (var * dh + 2.0 * base);
    println!(
        "X25519: variable-base {:.1} µs, fixed-base {:.1} µs; floor IK (8 + 2 ops) = {:.0}/s, IK with cached ss (7 + 2) = {:.0}/s, XX (6 + 2) = {:.0}/s\n",
        dh * 1e6,
        base * 1e6,
        floor(8.0),
        floor(7.0),
        floor(6.0)
    );

    println!("| handshake (both sides) | sealwire fresh /s | sealwire reused builders /s | snow /s | fresh ÷ snow | reused ÷ snow | fresh ÷ floor | reused ÷ floor |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for name in [
        "Noise_IK_25519_ChaChaPoly_BLAKE2s",
        "Noise_IK_25519_ChaChaPoly_SHA256",
        "Noise_XX_25519_ChaChaPoly_BLAKE2s",
        "Noise_XX_25519_AESGCM_SHA256",
    ] {
        let ik = name.contains("_IK");
        let (fresh_floor, reused_floor) = if ik { (floor(8.0), floor(7.0)) } else { (floor(6.0), floor(6.0)) };
        let fresh = rate(b, || { black_box(sealwire_handshake(name, &k)); });
        let (ib, rb) = builders(name, &k);
        let reused = rate(b, || { black_box(sealwire_handshake_with(&ib, &rb)); });
        let theirs = rate(b, || { black_box(snow_handshake(name, &k)); });
        println!(
            "| {name} | {fresh:.0} | {reused:.0} | {theirs:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            fresh / theirs,
            reused / theirs,
            fresh / fresh_floor,
            reused / reused_floor
        );
    }
    for name in ["Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s", "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"] {
        let fresh = rate(b, || { black_box(sealwire_handshake(name, &k)); });
        let (ib, rb) = builders(name, &k);
        let reused = rate(b, || { black_box(sealwire_handshake_with(&ib, &rb)); });
        println!("| {name} | {fresh:.0} | {reused:.0} | — (snow has no ML-KEM hfs) | — | — | — | — |");
    }

    println!("\n| transport write+read | size | sealwire `encrypt`/`decrypt` (Vec) MB/s | sealwire `encrypt_into`/`decrypt_into` MB/s | snow MB/s | Vec ÷ snow | into ÷ snow |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for name in ["Noise_IK_25519_ChaChaPoly_BLAKE2s", "Noise_IK_25519_AESGCM_SHA256"] {
        for size in [1024usize, 65535 - 16] {
            let msg = vec![0x5au8; size];
            let (mut a, mut z) = sealwire_handshake(name, &k);
            let ours = rate(b, || {
                let c = a.encrypt(black_box(&msg)).unwrap();
                black_box(z.decrypt(&c).unwrap());
            }) * size as f64 / 1e6;
            let mut ct = vec![0u8; 65535];
            let mut pt = vec![0u8; 65535];
            let ours_into = rate(b, || {
                let n = a.encrypt_into(black_box(&msg), &mut ct).unwrap();
                black_box(z.decrypt_into(&ct[..n], &mut pt).unwrap());
            }) * size as f64 / 1e6;
            let (mut sa, mut sz) = snow_handshake(name, &k);
            let theirs = rate(b, || {
                let n = sa.write_message(black_box(&msg), &mut ct).unwrap();
                black_box(sz.read_message(&ct[..n], &mut pt).unwrap());
            }) * size as f64 / 1e6;
            let label = if size == 1024 { "1 KiB".to_string() } else { "64 KiB (max)".to_string() };
            println!(
                "| {name} | {label} | {ours:.0} | {ours_into:.0} | {theirs:.0} | {:.2} | {:.2} |",
                ours / theirs,
                ours_into / theirs
            );
        }
    }
}
