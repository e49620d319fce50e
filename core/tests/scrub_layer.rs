//! The `tracing` scrubbing layer (feature `tracing-scrub`) on an application's events and spans:
//! identifying fields hashed (or dropped), secrets dropped, sizes bucketed, identifiers inside
//! messages redacted, high-frequency events sampled, and sealwire's own events passed through.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use sealwire::config::{Format, SecurityConfig};
use sealwire::hygiene::{JsonLinesSink, ScrubLayer, ScrubMode, Scrubber};
use sealwire::Identity;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
    }
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn run(layer: ScrubLayer<JsonLinesSink<Buf>>, f: impl FnOnce()) {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
}

#[test]
fn application_events_are_scrubbed() {
    let id = Identity::generate().unwrap();
    let did = id.public().did();
    let fpr = id.public().fingerprint();
    let buf = Buf::default();
    let layer = ScrubLayer::new(Scrubber::new(ScrubMode::Hash).with_extra_fields(["tenant"]), JsonLinesSink::new(buf.clone()));
    run(layer, || {
        let span = tracing::info_span!("deliver", peer_id = did.as_str(), attempt = 1u64);
        let _g = span.enter();
        tracing::info!(
            peer_id = did.as_str(),
            routing_hint = "mbx-7f3a",
            message_type = "invoice",
            api_key = "sk-live-123",
            payload_size = 1234u64,
            tenant = "acme",
            count = 3u64,
            "delivered to {} (fingerprint {})",
            did,
            fpr
        );
        tracing::warn!(peerId = did.as_str(), "second event, same peer");
    });
    let text = buf.text();
    for secret in [did.as_str(), &did[8..], fpr.as_str(), "mbx-7f3a", "invoice", "sk-live-123", "acme"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let lines = buf.lines();
    assert_eq!(lines.len(), 2, "{text}");
    let f = &lines[0]["fields"];
    let token = f["peer_id"].as_str().unwrap();
    assert!(token.starts_with("h:") && token.len() == 18, "{token}");
    assert!(f.get("api_key").is_none(), "secret dropped");
    assert_eq!(f["payload_size"], "<=4KiB");
    assert_eq!(f["count"], "3");
    assert!(f["tenant"].as_str().unwrap().starts_with("h:"), "extra field hashed");
    // The message keeps its words; the DID and fingerprint inside it become the same tokens.
    let msg = f["message"].as_str().unwrap();
    assert!(msg.starts_with("delivered to h:") && msg.contains(token), "{msg}");
    // Same value, same token: in the span and the next event (camelCase field name).
    assert_eq!(lines[0]["spans"][0]["name"], "deliver");
    assert_eq!(lines[0]["spans"][0]["fields"]["peer_id"], token);
    assert_eq!(lines[0]["spans"][0]["fields"]["attempt"], "1");
    assert_eq!(lines[1]["fields"]["peerId"], token);
    assert_eq!(lines[1]["level"], "WARN");
}

#[test]
fn drop_mode_and_sampling() {
    let buf = Buf::default();
    let layer = ScrubLayer::new(Scrubber::new(ScrubMode::Drop), JsonLinesSink::new(buf.clone()))
        .with_sampling(0.0, ["app.hot"])
        .unwrap();
    run(layer, || {
        for _ in 0..100 {
            tracing::info!(name: "app.hot.message", peer_id = "p1", "hot path");
        }
        tracing::info!(name: "app.cold", peer_id = "p1", n = 5u64, "cold path");
    });
    let lines = buf.lines();
    assert_eq!(lines.len(), 1, "{}", buf.text());
    assert_eq!(lines[0]["name"], "app.cold");
    assert!(lines[0]["fields"].get("peer_id").is_none());
    assert_eq!(lines[0]["fields"]["n"], "5");

    let buf = Buf::default();
    let layer = ScrubLayer::new(Scrubber::default(), JsonLinesSink::new(buf.clone())).with_sampling(0.5, ["app.hot"]).unwrap();
    run(layer, || {
        for _ in 0..4000 {
            tracing::info!(name: "app.hot.message", "hot path");
        }
    });
    let kept = buf.lines().len();
    // Binomial(4000, 0.5): sd ≈ 32; ±300 is > 9 sd.
    assert!((1700..=2300).contains(&kept), "{kept}");
    assert!(ScrubLayer::new(Scrubber::default(), JsonLinesSink::new(Buf::default())).with_sampling(1.01, ["x"]).is_err());
}

#[test]
fn configured_from_a_security_config_and_passes_sealwire_events() {
    let text = "version = 1\n[metadata]\nmode = \"drop\"\nextra_fields = [\"tenant\"]\n[metadata.sampling]\nrate = 0.0\nevents = [\"sealwire::noise\"]\n";
    let config = SecurityConfig::load(text, Format::Toml).unwrap();
    let buf = Buf::default();
    let m = &config.metadata;
    let layer = ScrubLayer::new(config.scrubber().unwrap(), JsonLinesSink::new(buf.clone()))
        .with_sampling(m.sampling.rate, m.sampling.events.clone())
        .unwrap();
    run(layer, || {
        let mut ring = sealwire::envelope::Keyring::new();
        ring.create_key("k").unwrap();
        ring.rotate("k", None).unwrap();
        // Noise events are sampled out by the configuration.
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        let p = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
        let mut i = sealwire::noise::NoiseBuilder::new(p).unwrap().local_identity(&a).remote_identity(b.public()).build_initiator().unwrap();
        let mut r = sealwire::noise::NoiseBuilder::new(p).unwrap().local_identity(&b).build_responder().unwrap();
        r.read_message(&i.write_message(b"").unwrap()).unwrap();
        i.read_message(&r.write_message(b"").unwrap()).unwrap();
        let _ = (i.into_transport().unwrap(), r.into_transport().unwrap());
        tracing::info!(tenant = "acme", "app event");
    });
    let lines = buf.lines();
    assert_eq!(lines.len(), 2, "{}", buf.text());
    assert_eq!(lines[0]["name"], "sealwire.envelope.key_rotated");
    assert_eq!(lines[0]["fields"]["provider"], "keyring");
    assert_eq!(lines[0]["fields"]["version"], "2");
    assert!(lines[1]["fields"].get("tenant").is_none());
}
