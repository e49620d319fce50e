//! `--kms URI`: remote KMS key providers (core feature `kms`, docs/KMS.md). The URI forms
//! (`vault://KEYNAME[?mount=MOUNT]`, `aws-kms://KEY_ID_OR_ARN[?region=R&endpoint=URL]`) and
//! where addresses and secrets come from (the environment, never the URI) are core's
//! [`RemoteKey::from_uri`], the same in C, Python and Node.

use sealwire::envelope::kms::{RemoteKey, RemoteKeySettings, VaultTransit};
use sealwire::envelope::{DataKey, KeyProvider, WrapContext, WrappedKey};

use crate::{errors, CliResult};

/// One configured remote KMS key.
pub type Kms = RemoteKey;

/// Parse every `--kms` URI and build the providers (no network).
pub fn load_all(uris: &[String]) -> CliResult<Vec<Kms>> {
    uris.iter()
        .map(|uri| RemoteKey::from_uri(uri, &RemoteKeySettings::default()).map_err(errors::core_in(format!("invalid --kms {uri:?}"))))
        .collect()
}

/// Every `--kms` provider as a trait object.
pub fn provider(k: &Kms) -> &dyn KeyProvider {
    k.provider()
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
