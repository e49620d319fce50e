//! Remote KMS key providers (cargo feature `kms`): HashiCorp Vault / OpenBao Transit
//! ([`VaultTransit`]) and AWS KMS ([`AwsKms`]), over a small blocking HTTP client (`ureq`
//! with rustls) with bounded timeouts and retries.
//!
//! Both implement [`KeyProvider`](super::KeyProvider), so they mix with keyrings and
//! public-key recipients in one envelope: an object wrapped for several providers opens
//! through whichever is reachable (an unreachable one fails fast — bounded connect timeout,
//! no retry — and the next owned entry is tried). Combine with
//! [`DataKeyCache`](super::DataKeyCache) so high-rate agents do not call the KMS per object.
//!
//! Secrets (tokens, secret keys, plaintext data keys) live in zeroizing buffers, never
//! appear in `Debug` output or errors, and nothing here logs. The underlying `ureq` logs
//! requests at `debug` with sensitive headers redacted, but its `ureq_proto` target dumps raw
//! wire bytes at `trace`: never enable `trace` for `ureq_proto` in production.
//!
//! Errors: [`Error::KmsAuthFailed`], [`Error::KmsKeyNotFound`], [`Error::KmsKeyDisabled`],
//! [`Error::KmsUnavailable`], [`Error::KmsTimeout`], [`Error::KmsThrottled`]; a wrapped key
//! that does not open under the envelope's context → [`Error::ContextMismatch`]; a Vault
//! version below `min_decryption_version` → [`Error::KeyRetired`]. See `docs/KMS.md`.

mod aws;
mod http;
mod retry;
mod uri;
mod vault;

pub use aws::{AwsCredentials, AwsKms, AwsKmsConfig, AWS_BINDING_CONTEXT_KEY, AWS_KMS_PROVIDER};
pub use http::{HttpOptions, KmsStats};
pub use retry::RetryPolicy;
pub use uri::{RemoteKey, RemoteKeySettings};
pub use vault::{VaultKeyInfo, VaultTransit, VaultTransitConfig, VAULT_TRANSIT_PROVIDER};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use zeroize::Zeroizing;

use super::commit::{DataKey, DATA_KEY_LEN};
use crate::error::{Error, Result};

/// base64 of a data key, in a zeroizing string sized so it never reallocates.
pub(crate) fn encode_data_key(dek: &DataKey) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(DATA_KEY_LEN.div_ceil(3) * 4));
    B64.encode_string(dek.as_bytes(), &mut s);
    s
}

/// A data key from its base64 form, decoded into a zeroizing buffer.
pub(crate) fn decode_data_key(b64: &str) -> Result<DataKey> {
    let mut buf = Zeroizing::new([0u8; 48]);
    let n = B64.decode_slice(b64.as_bytes(), buf.as_mut_slice()).map_err(|_| Error::ProviderFailed("KMS returned a malformed data key"))?;
    if n != DATA_KEY_LEN {
        return Err(Error::ProviderFailed("KMS returned a data key of the wrong length"));
    }
    DataKey::from_bytes(&buf[..n])
}

/// The first of `names` set (and valid Unicode) in the environment.
pub(crate) fn env_first(names: &[&str]) -> Option<Zeroizing<String>> {
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()).map(Zeroizing::new))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn providers_and_cache_are_send_and_sync() {
        send_sync::<VaultTransit>();
        send_sync::<AwsKms>();
        send_sync::<crate::envelope::DataKeyCache>();
    }

    #[test]
    fn data_key_base64_round_trip_and_length_check() {
        let k = DataKey::generate().unwrap();
        let s = encode_data_key(&k);
        assert_eq!(s.len(), 44);
        assert_eq!(decode_data_key(&s).unwrap().as_bytes(), k.as_bytes());
        assert!(decode_data_key("AAAA").is_err());
        assert!(decode_data_key(&B64.encode([0u8; 33])).is_err());
        assert!(decode_data_key("not base64!").is_err());
        // The error never echoes the input.
        let e = decode_data_key("c2VjcmV0LWtleS1tYXRlcmlhbA==").unwrap_err();
        assert!(!e.to_string().contains("c2VjcmV0"));
    }
}
