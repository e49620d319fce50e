//! Identity-layer micro-benchmark, side by side with raw ed25519-dalek / x25519-dalek calls
//! (the floor our wrappers add to).
//!
//! `cargo run --release -p sealwire --example bench_identity`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use sealwire::{Identity, KdfParams, PublicIdentity};

/// Run `f` repeatedly for about `budget` and return operations per second (best of 3).
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    let mut best = 0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            for _ in 0..16 {
                f();
            }
            n += 16;
        }
        best = best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    best
}

fn row(name: &str, ours: f64, peer: Option<f64>) {
    match peer {
        Some(p) => println!("| {name} | {ours:.0} | {p:.0} | {:.2} |", ours / p),
        None => println!("| {name} | {ours:.0} | — | — |"),
    }
}

fn main() {
    let b = Duration::from_millis(300);
    let id = Identity::from_secret_bytes(&[1; 32], &[2; 32]);
    let raw = SigningKey::from_bytes(&[1; 32]);
    let vk = raw.verifying_key();
    let msg = [0x42u8; 64];
    let sig = id.sign(&msg).unwrap();
    let dsig = raw.sign(&msg);
    let wire = id.public().to_bytes();
    let peer = Identity::from_secret_bytes(&[3; 32], &[4; 32]);
    let xs = x25519_dalek::StaticSecret::from([2u8; 32]);
    let xp = x25519_dalek::PublicKey::from(*peer.public().x25519_bytes());

    println!("| operation (ops/s) | sealwire | raw dalek | ratio |");
    println!("|---|---:|---:|---:|");
    row("sign 64 B", rate(b, || { black_box(id.sign(black_box(&msg)).unwrap()); }), Some(rate(b, || { black_box(raw.sign(black_box(&msg))); })));
    row(
        "verify 64 B (strict)",
        rate(b, || { id.public().verify(black_box(&msg), &sig).unwrap(); }),
        Some(rate(b, || { vk.verify_strict(black_box(&msg), &dsig).unwrap(); })),
    );
    row(
        "X25519 agreement",
        rate(b, || { black_box(id.diffie_hellman(peer.public()).unwrap()); }),
        Some(rate(b, || { black_box(xs.diffie_hellman(&xp)); })),
    );
    row("generate identity", rate(b, || { black_box(Identity::generate().unwrap()); }), None);
    row("decode + verify public identity", rate(b, || { black_box(PublicIdentity::from_bytes(black_box(&wire)).unwrap()); }), None);
    row("fingerprint", rate(b, || { black_box(id.public().fingerprint()); }), None);
    let blob = id.export_with_params(b"pw", KdfParams::default()).unwrap();
    row("import (Argon2id 64 MiB, t=3, p=4)", rate(Duration::from_millis(1000), || { black_box(Identity::import(&blob, b"pw").unwrap()); }), None);
}
