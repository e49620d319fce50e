//! 1 KiB seal / open through each KMS provider on loopback, with and without the data-key
//! cache. Needs the test servers: `bash scripts/kms-servers.sh start`, then
//!
//! ```text
//! cargo run --release -p sealwire --features kms --example bench_kms [-- N]
//! ```
//!
//! Prints one line per (provider, operation): mean latency, operations per second and KMS
//! calls per operation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/kms_support/mod.rs"]
mod kms_support;

use std::time::{Duration, Instant};

use sealwire::envelope::kms::{AwsCredentials, AwsKms, AwsKmsConfig, KmsStats, VaultTransit, VaultTransitConfig};
use sealwire::envelope::{open, seal, CacheLimits, DataKeyCache, EncryptionContext, KeyProvider};

fn report(name: &str, op: &str, n: usize, elapsed: Duration, calls: u64) {
    let per = elapsed / n as u32;
    println!(
        "{name:<14} {op:<18} {:>9.1} µs/op {:>10.0} op/s {:>8.3} KMS calls/op",
        per.as_secs_f64() * 1e6,
        n as f64 / elapsed.as_secs_f64(),
        calls as f64 / n as f64
    );
}

fn bench(name: &str, p: &dyn KeyProvider, stats: &dyn Fn() -> KmsStats, n: usize) {
    let ctx = EncryptionContext::from_pairs([("tenant", "bench")]).unwrap();
    let pt = vec![0xabu8; 1024];
    // Warm up the connection and the key check.
    let warm = seal(&pt, &ctx, &[p]).unwrap();
    open(&warm, &ctx, &[p]).unwrap();

    let c0 = stats().operations;
    let t = Instant::now();
    let mut objs = Vec::with_capacity(n);
    for _ in 0..n {
        objs.push(seal(&pt, &ctx, &[p]).unwrap());
    }
    report(name, "seal (no cache)", n, t.elapsed(), stats().operations - c0);

    let cache = DataKeyCache::new(CacheLimits::new(Duration::from_secs(300), 4096, 1 << 30).unwrap());
    let c0 = stats().operations;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(cache.seal(&pt, &ctx, &[p]).unwrap());
    }
    report(name, "seal (cache)", n, t.elapsed(), stats().operations - c0);

    let c0 = stats().operations;
    let t = Instant::now();
    for o in &objs {
        std::hint::black_box(open(o, &ctx, &[p]).unwrap());
    }
    report(name, "open", n, t.elapsed(), stats().operations - c0);
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    let s = kms_support::settings();
    let mut ran = false;
    if let (Some(addr), Some(token)) = (s.get("SEALWIRE_TEST_VAULT_ADDR"), s.get("SEALWIRE_TEST_VAULT_TOKEN")) {
        let v = VaultTransit::new(VaultTransitConfig::new(addr, token, &kms_support::unique("bench"))).unwrap();
        v.create_key().unwrap();
        bench("vault-transit", &v, &|| v.stats(), n);
        ran = true;
    }
    if let (Some(ep), Some(region), Some(id), Some(secret), Some(arn)) = (
        s.get("SEALWIRE_TEST_AWS_ENDPOINT"),
        s.get("SEALWIRE_TEST_AWS_REGION"),
        s.get("SEALWIRE_TEST_AWS_ACCESS_KEY_ID"),
        s.get("SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"),
        s.get("SEALWIRE_TEST_AWS_KEY_ARN"),
    ) {
        let a = AwsKms::new(AwsKmsConfig::new(arn, region, AwsCredentials::new(id, secret, None)).with_endpoint(ep)).unwrap();
        bench("aws-kms (moto)", &a, &|| a.stats(), n);
        ran = true;
    }
    if !ran {
        eprintln!("no KMS servers configured: run `bash scripts/kms-servers.sh start` first");
        std::process::exit(2);
    }
}
