//! `--kms URI`: remote KMS key providers (core feature `kms`, docs/KMS.md).
//!
//! * `vault://KEYNAME[?mount=MOUNT]` — Vault / OpenBao Transit; address and token from
//!   `VAULT_ADDR` / `VAULT_TOKEN` (else `BAO_ADDR` / `BAO_TOKEN`).
//! * `aws-kms://KEY_ID_OR_ARN[?region=R&endpoint=URL]` — AWS KMS; credentials from
//!   `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, region from
//!   `?region=`, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else the key ARN's region;
//!   endpoint from `?endpoint=`, else `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL`.
//!
//! Secrets only ever come from the environment, never from the URI, so no message built
//! from a URI can carry one (and the core's errors carry none).

use sealwire::envelope::kms::{AwsCredentials, AwsKms, AwsKmsConfig, VaultTransit, VaultTransitConfig};
use sealwire::envelope::{DataKey, KeyProvider, WrapContext, WrappedKey};

use crate::{errors, CliResult};

/// One configured remote KMS key.
pub enum Kms {
    Vault(VaultTransit),
    Aws(AwsKms),
}

impl Kms {
    pub fn provider(&self) -> &dyn KeyProvider {
        match self {
            Kms::Vault(v) => v,
            Kms::Aws(a) => a,
        }
    }

    /// Parse a `--kms` URI and build the provider (no network).
    pub fn from_uri(uri: &str) -> CliResult<Self> {
        let bad = |why: &str| {
            format!(
                "invalid --kms {uri:?}: {why} (use vault://KEYNAME[?mount=transit] or aws-kms://KEY_ID_OR_ARN[?region=R&endpoint=URL]) ({})",
                sealwire::ErrorKind::InvalidParameter.code()
            )
        };
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let (key, query) = rest.split_once('?').unwrap_or((rest, ""));
        let key = percent_decode(key).ok_or_else(|| bad("bad percent-encoding"))?;
        if key.is_empty() {
            return Err(bad("no key name"));
        }
        let mut params = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| bad("query entries are name=value"))?;
            let v = percent_decode(v).ok_or_else(|| bad("bad percent-encoding"))?;
            if v.is_empty() {
                return Err(bad(&format!("empty {k}")));
            }
            if params.iter().any(|(n, _): &(String, String)| n == k) {
                return Err(bad(&format!("{k} given twice")));
            }
            params.push((k.to_owned(), v));
        }
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let allow = |names: &[&str]| -> CliResult {
            match params.iter().find(|(k, _)| !names.contains(&k.as_str())) {
                Some((k, _)) => Err(bad(&format!("unknown parameter {k:?}"))),
                None => Ok(()),
            }
        };
        let what = errors::core_in(format!("cannot use --kms {uri}"));
        match scheme {
            "vault" => {
                allow(&["mount"])?;
                let mut c = VaultTransitConfig::from_env(&key).map_err(&what)?;
                if let Some(m) = param("mount") {
                    c = c.with_mount(m);
                }
                Ok(Kms::Vault(VaultTransit::new(c).map_err(&what)?))
            }
            "aws-kms" => {
                allow(&["region", "endpoint"])?;
                let region = param("region")
                    .map(str::to_owned)
                    .or_else(|| env_first(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
                    .or_else(|| arn_region(&key))
                    .ok_or_else(|| {
                        what(sealwire::Error::InvalidParameter(
                            "no AWS region: set AWS_REGION, add ?region=, or give the key ARN",
                        ))
                    })?;
                let creds = AwsCredentials::from_env().map_err(&what)?;
                let mut c = AwsKmsConfig::new(&key, &region, creds);
                if let Some(ep) =
                    param("endpoint").map(str::to_owned).or_else(|| env_first(&["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]))
                {
                    c = c.with_endpoint(&ep);
                }
                Ok(Kms::Aws(AwsKms::new(c).map_err(&what)?))
            }
            _ => Err(bad(&format!("unknown scheme {scheme:?}"))),
        }
    }

    /// Load every `--kms` URI.
    pub fn load_all(uris: &[String]) -> CliResult<Vec<Kms>> {
        uris.iter().map(|u| Kms::from_uri(u)).collect()
    }
}

fn env_first(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

/// `arn:aws:kms:REGION:ACCOUNT:key/…` → REGION.
fn arn_region(key: &str) -> Option<String> {
    let mut parts = key.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    let _partition = parts.next()?;
    (parts.next() == Some("kms")).then_some(())?;
    parts.next().filter(|r| !r.is_empty()).map(str::to_owned)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A Vault Transit key as a provider that owns only its entries below `latest`, so that
/// `Rewrap::rewrap_with` moves old entries to the newest version and leaves current ones.
pub struct StaleVaultEntries<'a> {
    pub vault: &'a VaultTransit,
    pub latest: u32,
}

impl KeyProvider for StaleVaultEntries<'_> {
    fn provider_id(&self) -> &str {
        self.vault.provider_id()
    }
    fn key_id(&self) -> String {
        self.vault.key_id()
    }
    fn key_version(&self) -> u32 {
        self.vault.key_version()
    }
    fn owns(&self, entry: &WrappedKey) -> bool {
        self.vault.owns(entry) && entry.key_version() < self.latest
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> sealwire::Result<WrappedKey> {
        self.vault.wrap(dek, ctx)
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> sealwire::Result<DataKey> {
        self.vault.unwrap(entry, ctx)
    }
    fn rewrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> sealwire::Result<WrappedKey> {
        self.vault.rewrap(entry, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris() {
        assert_eq!(arn_region("arn:aws:kms:eu-west-1:111122223333:key/abc").as_deref(), Some("eu-west-1"));
        assert_eq!(arn_region("1234abcd"), None);
        assert_eq!(percent_decode("http%3A%2F%2Fx").as_deref(), Some("http://x"));
        assert!(percent_decode("%zz").is_none());
        for bad in ["vault:/k", "vault://", "gcp://k", "vault://k?mount", "vault://k?foo=1", "vault://k?mount=a&mount=b"] {
            let e = Kms::from_uri(bad).err().unwrap_or_default();
            assert!(e.contains("invalid --kms") && e.contains("ERR_SEALWIRE_INVALID_PARAMETER"), "{bad}: {e}");
        }
    }
}
