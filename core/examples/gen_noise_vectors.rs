//! Regenerates `tests/vectors/noise-hfs.json`: Noise HFS vectors (`XXhfs`, `IKhfs` with
//! `25519+MLKEM768`, every cipher and hash) in the cacophony format.
//!
//! `cargo run --release -p sealwire --example gen_noise_vectors -- tests/vectors`
//!
//! Keys, ephemerals, prologue and payloads are the cacophony ones; the ML-KEM-768 randomness
//! is fixed and written into each vector (`init_kem_seed`: d ‖ z for the initiator's `e1`;
//! `resp_kem_encaps_m`: m for the responder's `ekem1`). Running this again yields the same file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/noise_vectors.rs"]
mod noise_vectors;

use noise_vectors::{run, Message, Vector, VectorFile};

const PROLOGUE: &str = "4a6f686e2047616c74"; // "John Galt"
const INIT_STATIC: &str = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
const INIT_EPHEMERAL: &str = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
const RESP_STATIC: &str = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
const RESP_STATIC_PUBLIC: &str = "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62";
const RESP_EPHEMERAL: &str = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
const PAYLOADS: [&str; 6] = [
    "4c756477696720766f6e204d69736573",
    "4d757272617920526f746862617264",
    "462e20412e20486179656b",
    "4361726c204d656e676572",
    "4a65616e2d426170746973746520536179",
    "457567656e2042f6686d20766f6e2042617765726b",
];

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "tests/vectors".into());
    let kem_seed: Vec<u8> = (0u8..64).collect();
    let encaps_m: Vec<u8> = (0u8..32).map(|i| 0x80 + i).collect();
    let mut vectors = Vec::new();
    for pattern in ["XXhfs", "IKhfs"] {
        for cipher in ["ChaChaPoly", "AESGCM"] {
            for hash in ["SHA256", "SHA512", "BLAKE2s", "BLAKE2b"] {
                let ik = pattern == "IKhfs";
                let mut v = Vector {
                    protocol_name: format!("Noise_{pattern}_25519+MLKEM768_{cipher}_{hash}"),
                    init_prologue: Some(PROLOGUE.into()),
                    init_static: Some(INIT_STATIC.into()),
                    init_ephemeral: Some(INIT_EPHEMERAL.into()),
                    init_remote_static: ik.then(|| RESP_STATIC_PUBLIC.into()),
                    init_kem_seed: Some(hex::encode(&kem_seed)),
                    resp_prologue: Some(PROLOGUE.into()),
                    resp_static: Some(RESP_STATIC.into()),
                    resp_ephemeral: Some(RESP_EPHEMERAL.into()),
                    resp_kem_encaps_m: Some(hex::encode(&encaps_m)),
                    messages: PAYLOADS
                        .iter()
                        .map(|p| Message { payload: (*p).into(), ciphertext: String::new() })
                        .collect(),
                    ..Vector::default()
                };
                let t = run(&v).unwrap();
                for (m, ct) in v.messages.iter_mut().zip(&t.ciphertexts) {
                    m.ciphertext = hex::encode(ct);
                }
                v.handshake_hash = hex::encode(&t.handshake_hash);
                vectors.push(v);
            }
        }
    }
    let file = VectorFile { vectors };
    let path = format!("{dir}/noise-hfs.json");
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap() + "\n").unwrap();
    eprintln!("wrote {path}");
}
