//! Cacophony-format Noise vectors: parsing and a runner shared by the vector tests and the
//! `gen_noise_vectors` example (which includes this file by path).
//!
//! Format (cacophony / snow `tests/vectors`): hex strings; `init_*` and `resp_*` configure
//! each side; `messages` alternate initiator, responder, ... through the handshake and
//! continue alternating in transport (one-way patterns: the initiator sends every message).
//! sealwire's HFS vectors add `init_kem_seed` / `resp_kem_seed` (ML-KEM-768 key-generation
//! seed d ‖ z, 64 bytes, for the side that sends `e1`) and `init_kem_encaps_m` /
//! `resp_kem_encaps_m` (ML-KEM-768 encapsulation randomness m, 32 bytes, for the side that
//! sends `ekem1`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sealwire::noise::{Handshake, NoiseBuilder, Role};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Message {
    pub payload: String,
    pub ciphertext: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Vector {
    pub protocol_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_prologue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_psks: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_static: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_ephemeral: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_remote_static: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_kem_seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_kem_encaps_m: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_prologue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_psks: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_static: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_ephemeral: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_remote_static: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_kem_seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_kem_encaps_m: Option<String>,
    pub handshake_hash: String,
    pub messages: Vec<Message>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct VectorFile {
    pub vectors: Vec<Vector>,
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex in vector")
}

/// psk location numbers named by a protocol name, in name order (`psk0+psk2` → [0, 2]).
fn psk_locations(name: &str) -> Vec<u8> {
    let pattern = name.split('_').nth(1).unwrap_or("");
    pattern
        .split('+')
        .filter_map(|part| part.find("psk").map(|i| &part[i + 3..]))
        .map(|n| n.parse().expect("psk number"))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn side(
    name: &str,
    role: Role,
    prologue: &Option<String>,
    psks: &Option<Vec<String>>,
    s: &Option<String>,
    e: &Option<String>,
    rs: &Option<String>,
    kem_seed: &Option<String>,
    kem_m: &Option<String>,
) -> sealwire::Result<Handshake> {
    let mut b = NoiseBuilder::new(name)?;
    if let Some(p) = prologue {
        b = b.prologue(&unhex(p));
    }
    if let Some(psks) = psks {
        let mut locations = psk_locations(name);
        locations.sort_unstable();
        assert_eq!(locations.len(), psks.len(), "psk count in {name}");
        for (loc, psk) in locations.iter().zip(psks) {
            b = b.psk(*loc, &unhex(psk))?;
        }
    }
    if let Some(s) = s {
        b = b.local_static_secret(&unhex(s))?;
    }
    if let Some(e) = e {
        b = b.fixed_ephemeral_for_vectors(&unhex(e))?;
    }
    if let Some(rs) = rs {
        b = b.remote_static(&unhex(rs))?;
    }
    if let Some(seed) = kem_seed {
        b = b.fixed_kem_seed_for_vectors(&unhex(seed))?;
    }
    if let Some(m) = kem_m {
        b = b.fixed_kem_encapsulation_for_vectors(&unhex(m))?;
    }
    b.build(role)
}

pub fn one_way(name: &str) -> bool {
    matches!(name.split('_').nth(1).map(|p| p.trim_end_matches(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '+')), Some("N" | "K" | "X"))
}

/// What running a vector produced.
#[derive(Debug)]
pub struct Transcript {
    pub ciphertexts: Vec<Vec<u8>>,
    pub handshake_hash: Vec<u8>,
}

/// Run both sides with the vector's configuration and payloads; every message is written by
/// one side and read back by the other (the payload must round-trip). Returns what was sent.
pub fn run(v: &Vector) -> Result<Transcript, String> {
    let name = &v.protocol_name;
    let err = |what: &'static str| move |e: sealwire::Error| format!("{name}: {what}: {e}");
    let mut init = side(name, Role::Initiator, &v.init_prologue, &v.init_psks, &v.init_static, &v.init_ephemeral,
        &v.init_remote_static, &v.init_kem_seed, &v.init_kem_encaps_m).map_err(err("build initiator"))?;
    let mut resp = side(name, Role::Responder, &v.resp_prologue, &v.resp_psks, &v.resp_static, &v.resp_ephemeral,
        &v.resp_remote_static, &v.resp_kem_seed, &v.resp_kem_encaps_m).map_err(err("build responder"))?;
    let mut ciphertexts = Vec::new();
    let mut iter = v.messages.iter().enumerate();
    while !init.is_finished() {
        let (i, m) = iter.next().ok_or_else(|| format!("{name}: vector ends inside the handshake"))?;
        let (w, r) = if i % 2 == 0 { (&mut init, &mut resp) } else { (&mut resp, &mut init) };
        let payload = unhex(&m.payload);
        let ct = w.write_message(&payload).map_err(err("write handshake"))?;
        let got = r.read_message(&ct).map_err(err("read handshake"))?;
        if got != payload {
            return Err(format!("{name}: handshake payload {i} did not round-trip"));
        }
        ciphertexts.push(ct);
    }
    if !resp.is_finished() {
        return Err(format!("{name}: responder not finished"));
    }
    let hh = init.handshake_hash().to_vec();
    if resp.handshake_hash() != hh.as_slice() {
        return Err(format!("{name}: handshake hashes differ between the sides"));
    }
    let oneway = one_way(name);
    let mut ti = init.into_transport().map_err(err("initiator transport"))?;
    let mut tr = resp.into_transport().map_err(err("responder transport"))?;
    for (i, m) in iter {
        let (w, r) = if oneway || i % 2 == 0 { (&mut ti, &mut tr) } else { (&mut tr, &mut ti) };
        let payload = unhex(&m.payload);
        let ct = w.encrypt(&payload).map_err(err("transport encrypt"))?;
        let got = r.decrypt(&ct).map_err(err("transport decrypt"))?;
        if got != payload {
            return Err(format!("{name}: transport payload {i} did not round-trip"));
        }
        ciphertexts.push(ct);
    }
    Ok(Transcript { ciphertexts, handshake_hash: hh })
}

/// Run a vector and compare every ciphertext and the handshake hash with the expected ones.
pub fn check(v: &Vector) -> Result<(), String> {
    let t = run(v)?;
    for (i, (got, m)) in t.ciphertexts.iter().zip(&v.messages).enumerate() {
        if hex::encode(got) != m.ciphertext.to_ascii_lowercase() {
            return Err(format!("{}: message {i} differs", v.protocol_name));
        }
    }
    if t.ciphertexts.len() != v.messages.len() {
        return Err(format!("{}: message count differs", v.protocol_name));
    }
    if hex::encode(&t.handshake_hash) != v.handshake_hash.to_ascii_lowercase() {
        return Err(format!("{}: handshake hash differs", v.protocol_name));
    }
    Ok(())
}
