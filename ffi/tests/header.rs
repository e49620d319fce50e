//! Header drift check: regenerates include/sealwire.h in memory with the pinned cbindgen and
//! fails on any difference from the committed file.
//!
//! Regenerate the committed header (the documented command):
//!
//!     SEALWIRE_UPDATE_HEADER=1 cargo test --release -p sealwire-ffi --test header
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

fn generate() -> String {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src").join("lib.rs"))
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

#[test]
fn committed_header_matches_the_sources() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("include")
        .join("sealwire.h");
    let fresh = generate();
    if std::env::var("SEALWIRE_UPDATE_HEADER").as_deref() == Ok("1") {
        std::fs::write(&path, &fresh).expect("write include/sealwire.h");
        eprintln!("rewrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let first_diff = committed
            .lines()
            .zip(fresh.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}:\n  committed: {a}\n  generated: {b}", i + 1))
            .unwrap_or_else(|| {
                format!(
                    "lengths differ: committed {} lines, generated {} lines",
                    committed.lines().count(),
                    fresh.lines().count()
                )
            });
        panic!(
            "include/sealwire.h is out of date with ffi/src ({first_diff}).\n\
             Regenerate: SEALWIRE_UPDATE_HEADER=1 cargo test --release -p sealwire-ffi --test header"
        );
    }
}
