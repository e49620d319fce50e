//! One way to name a remote KMS key in every language: a URI plus optional explicit
//! settings, turned into a provider by [`RemoteKey::from_uri`]. The CLI's `--kms`, and the C,
//! Python and Node constructors all come here, so they accept exactly the same strings.
//!
//! * `vault://KEYNAME[?mount=MOUNT]` — Vault / OpenBao Transit; address and token from the
//!   settings, else `VAULT_ADDR` / `VAULT_TOKEN` (or `BAO_ADDR` / `BAO_TOKEN`).
//! * `aws-kms://KEY_ID_OR_ARN[?region=R&endpoint=URL]` — AWS KMS; credentials from the
//!   settings, else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`;
//!   region from `?region=`, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else the key ARN's;
//!   endpoint from `?endpoint=`, else `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`.
//!
//! Secrets never come from the URI (so a URI can be logged, and no error built from one
//! carries a secret). Building a provider makes no network call.

use zeroize::Zeroizing;

use super::{env_first, AwsCredentials, KmsStats, AwsKms, AwsKmsConfig, VaultTransit, VaultTransitConfig};
use crate::envelope::{DataKey, KeyProvider, WrapContext, WrappedKey};
use crate::error::{Error, Result};
#[cfg(test)]
use crate::kms_uri::percent_decode;
use crate::kms_uri::{Parsed, AWS_PARAMS, VAULT_PARAMS};

/// Explicit settings that take precedence over the environment. Secrets are wiped on drop;
/// `Debug` shows which fields are set, never their values.
#[derive(Default, Clone)]
pub struct RemoteKeySettings {
    /// Vault / OpenBao address (`https://host:8200`).
    pub vault_address: Option<String>,
    /// Vault / OpenBao token.
    pub vault_token: Option<Zeroizing<String>>,
    /// AWS access key id (with `aws_secret_access_key`).
    pub aws_access_key_id: Option<String>,
    /// AWS secret access key.
    pub aws_secret_access_key: Option<Zeroizing<String>>,
    /// AWS session token (temporary credentials).
    pub aws_session_token: Option<Zeroizing<String>>,
}

impl core::fmt::Debug for RemoteKeySettings {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RemoteKeySettings")
            .field("vault_address", &self.vault_address)
            .field("vault_token", &self.vault_token.as_ref().map(|_| "<set>"))
            .field("aws_access_key_id", &self.aws_access_key_id.as_ref().map(|_| "<set>"))
            .field("aws_secret_access_key", &self.aws_secret_access_key.as_ref().map(|_| "<set>"))
            .field("aws_session_token", &self.aws_session_token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// A remote KMS key named by a URI: a [`KeyProvider`] like the types it wraps.
#[derive(Debug)]
#[non_exhaustive]
pub enum RemoteKey {
    /// `vault://…`
    Vault(VaultTransit),
    /// `aws-kms://…`
    Aws(AwsKms),
}

impl RemoteKey {
    /// The provider a KMS URI names, with secrets and addresses from `settings`, else from the
    /// environment (module docs). `InvalidParameter` for a malformed URI, an unknown scheme or
    /// parameter, or missing configuration.
    pub fn from_uri(uri: &str, settings: &RemoteKeySettings) -> Result<Self> {
        let p = Parsed::new(uri)?;
        match p.scheme.as_str() {
            "vault" => {
                p.only(VAULT_PARAMS)?;
                let address = settings.vault_address.clone().or_else(|| env_plain(&["VAULT_ADDR", "BAO_ADDR"]));
                let token = settings.vault_token.clone().or_else(|| env_first(&["VAULT_TOKEN", "BAO_TOKEN"]));
                let mut c = match (address, token) {
                    (Some(a), Some(t)) => {
                        let mut c = VaultTransitConfig::new(&a, &t, &p.key);
                        if let Some(ns) = env_plain(&["VAULT_NAMESPACE", "BAO_NAMESPACE"]) {
                            c = c.with_namespace(&ns);
                        }
                        c
                    }
                    (None, _) => return Err(Error::InvalidParameter("no Vault address: set VAULT_ADDR or pass one")),
                    (_, None) => return Err(Error::InvalidParameter("no Vault token: set VAULT_TOKEN or pass one")),
                };
                if let Some(m) = p.param("mount") {
                    c = c.with_mount(m);
                }
                Ok(Self::Vault(VaultTransit::new(c)?))
            }
            "aws-kms" => {
                p.only(AWS_PARAMS)?;
                let region = p
                    .param("region")
                    .map(str::to_owned)
                    .or_else(|| env_plain(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
                    .or_else(|| arn_region(&p.key))
                    .ok_or(Error::InvalidParameter("no AWS region: set AWS_REGION, add ?region=, or give the key ARN"))?;
                let creds = match (&settings.aws_access_key_id, &settings.aws_secret_access_key) {
                    (Some(id), Some(secret)) => {
                        AwsCredentials::new(id, secret, settings.aws_session_token.as_ref().map(|t| t.as_str()))
                    }
                    (None, None) => AwsCredentials::from_env()?,
                    _ => return Err(Error::InvalidParameter("AWS access key id and secret access key go together")),
                };
                let mut c = AwsKmsConfig::new(&p.key, &region, creds);
                if let Some(ep) =
                    p.param("endpoint").map(str::to_owned).or_else(|| env_plain(&["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]))
                {
                    c = c.with_endpoint(&ep);
                }
                Ok(Self::Aws(AwsKms::new(c)?))
            }
            _ => Err(Error::InvalidParameter("unknown KMS URI scheme (vault:// or aws-kms://)")),
        }
    }

    /// Call counters of the underlying client (KMS operations, HTTP requests, retries,
    /// failures).
    pub fn stats(&self) -> KmsStats {
        match self {
            Self::Vault(v) => v.stats(),
            Self::Aws(a) => a.stats(),
        }
    }

    /// The provider as a trait object.
    pub fn provider(&self) -> &dyn KeyProvider {
        match self {
            Self::Vault(v) => v,
            Self::Aws(a) => a,
        }
    }
}

impl KeyProvider for RemoteKey {
    fn provider_id(&self) -> &str {
        self.provider().provider_id()
    }
    fn key_id(&self) -> String {
        self.provider().key_id()
    }
    fn key_version(&self) -> u32 {
        self.provider().key_version()
    }
    fn owns(&self, entry: &WrappedKey) -> bool {
        self.provider().owns(entry)
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        self.provider().wrap(dek, ctx)
    }
    fn generate_data_key(&self, ctx: &WrapContext<'_>) -> Result<Option<(DataKey, WrappedKey)>> {
        self.provider().generate_data_key(ctx)
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<DataKey> {
        self.provider().unwrap(entry, ctx)
    }
    fn rewrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        self.provider().rewrap(entry, ctx)
    }
}

/// A non-secret setting from the first set environment variable.
fn env_plain(names: &[&str]) -> Option<String> {
    env_first(names).map(|v| v.as_str().to_owned())
}

/// `arn:aws:kms:REGION:ACCOUNT:key/…` → REGION.
fn arn_region(key: &str) -> Option<String> {
    let mut parts = key.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    let _partition = parts.next()?;
    (parts.next() == Some("kms")).then_some(())?;
    parts.next().filter(|r| !r.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn vault_settings() -> RemoteKeySettings {
        RemoteKeySettings {
            vault_address: Some("http://127.0.0.1:1".into()),
            vault_token: Some(Zeroizing::new("t".into())),
            ..Default::default()
        }
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(arn_region("arn:aws:kms:eu-west-1:111122223333:key/abc").as_deref(), Some("eu-west-1"));
        assert_eq!(arn_region("1234abcd"), None);
        assert_eq!(percent_decode("http%3A%2F%2Fx").unwrap(), "http://x");
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%4").is_err());
        let s = vault_settings();
        for bad in ["vault:/k", "vault://", "gcp://k", "vault://k?mount", "vault://k?foo=1", "vault://k?mount=a&mount=b", "vault://k?mount="] {
            let e = RemoteKey::from_uri(bad, &s).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter, "{bad}");
        }
        let k = RemoteKey::from_uri("vault://orders%2Dv?mount=kv%2Ftransit", &s).unwrap();
        assert!(matches!(k, RemoteKey::Vault(_)));
        assert_eq!(k.provider_id(), super::super::VAULT_TRANSIT_PROVIDER);
        assert_eq!(k.key_id(), "orders-v");
        let aws = RemoteKeySettings {
            aws_access_key_id: Some("AKIA".into()),
            aws_secret_access_key: Some(Zeroizing::new("s".into())),
            ..Default::default()
        };
        let k = RemoteKey::from_uri("aws-kms://arn:aws:kms:eu-west-1:111122223333:key/abc?endpoint=http%3A%2F%2F127.0.0.1%3A1", &aws).unwrap();
        assert_eq!(k.provider_id(), super::super::AWS_KMS_PROVIDER);
        let half = RemoteKeySettings { aws_access_key_id: Some("AKIA".into()), ..Default::default() };
        assert!(RemoteKey::from_uri("aws-kms://arn:aws:kms:eu-west-1:1:key/abc", &half).is_err());
        // Debug shows no secret
        let shown = format!("{s:?}");
        assert!(shown.contains("<set>") && !shown.contains("\"t\""), "{shown}");
    }
}
