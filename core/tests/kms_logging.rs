//! No secret reaches the log: a global logger records every record up to `debug` (what an
//! application typically enables) while both providers talk to local HTTP stubs; the Vault
//! token, the AWS secret key and session token, and the data keys must appear in none of
//! them. (`ureq_proto` dumps raw wire bytes at `trace`; docs/KMS.md says never to enable it.)
#![cfg(feature = "kms")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kms_support;

use std::sync::Mutex;

use kms_support::{Script, Stub};
use sealwire::envelope::kms::{AwsCredentials, AwsKms, AwsKmsConfig, VaultTransit, VaultTransitConfig};
use sealwire::envelope::{open, seal, EncryptionContext};

struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Debug
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            self.0.lock().unwrap().push(format!("{} {} {}", r.level(), r.target(), r.args()));
        }
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture(Mutex::new(Vec::new()));

const DEK_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn no_secret_in_debug_logs() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let ctx = EncryptionContext::from_pairs([("tenant", "log-test")]).unwrap();

    // Vault: datakey then decrypt, both answered with the same fixed key.
    let vault_reply = format!(r#"{{"data":{{"plaintext":"{DEK_B64}","ciphertext":"vault:v1:QUJDRA=="}}}}"#);
    let stub = Stub::start(vec![Script::Reply(200, "application/json", vault_reply)]);
    let token = "s.LOGSECRET-vault-token";
    let v = VaultTransit::new(VaultTransitConfig::new(&stub.url(), token, "k").check_key(false)).unwrap();
    let sealed = seal(b"hello", &ctx, &[&v]).unwrap();
    assert_eq!(open(&sealed, &ctx, &[&v]).unwrap(), b"hello");

    // AWS: GenerateDataKey then Decrypt.
    let aws_reply = format!(r#"{{"CiphertextBlob":"QUJDRA==","KeyId":"arn:aws:kms:us-east-1:1:key/k","Plaintext":"{DEK_B64}"}}"#);
    let stub = Stub::start(vec![Script::Reply(200, "application/x-amz-json-1.1", aws_reply)]);
    let creds = AwsCredentials::new("AKIDLOGTEST", "LOGSECRET-aws-secret-key", Some("LOGSECRET-session"));
    let a = AwsKms::new(AwsKmsConfig::new("arn:aws:kms:us-east-1:1:key/k", "us-east-1", creds).with_endpoint(&stub.url())).unwrap();
    let sealed = seal(b"hello", &ctx, &[&a]).unwrap();
    assert_eq!(open(&sealed, &ctx, &[&a]).unwrap(), b"hello");

    let lines = LOGGER.0.lock().unwrap();
    assert!(!lines.is_empty(), "the HTTP client logged nothing at debug: the check would be vacuous");
    for l in lines.iter() {
        assert!(!l.contains("LOGSECRET"), "secret in log: {l}");
        assert!(!l.contains(DEK_B64), "data key in log: {l}");
        assert!(!l.contains("AKIDLOGTEST"), "access key id in log: {l}");
    }
}
