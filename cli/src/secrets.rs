//! Loading and saving the secret material the commands use: keyrings (passphrase- or
//! root-key-sealed `SWKR` files), encrypted identities (`SWIK`), X-Wing private keys (the
//! CLI's `SWCX` file, below), and the public keys of recipients (`SWPI`, `SWXP`).
//!
//! **X-Wing private key file (`SWCX` v1, CLI-local).** Core has no encrypted export for
//! X-Wing key pairs yet, so the CLI composes one from core formats only:
//!
//! ```text
//! "SWCX" ‖ 0x01 ‖ keyring length (u32) ‖ keyring (SWKR, one fresh random KEK, sealed under
//! the passphrase or root key) ‖ envelope (SWEV, payload = the 32-byte X-Wing seed, wrapped by
//! that keyring, context {"purpose": "sealwire-cli-xwing-private-key", "xwing-key-id": <id>})
//! ```
//!
//! The seed is thus protected exactly like a keyring (Argon2id or HKDF from the root key,
//! then XChaCha20-Poly1305) plus the envelope's AEAD; nothing is hand-rolled here.

use std::path::{Path, PathBuf};

use clap::Args;
use sealwire::envelope::{
    self, EncryptionContext, EnvelopeHeader, Keyring, RootKey, XWingKeyPair, XWingPublicKey, KEYRING_MAGIC,
    ROOT_KEY_ENV,
};
use sealwire::{Identity, KdfParams, PublicIdentity};
use zeroize::Zeroizing;

use crate::{errors, files, passphrase, CliResult};

/// How passphrases and root keys reach the commands.
#[derive(Args, Debug, Clone)]
pub struct SecretArgs {
    /// Read passphrases (keyrings, identities, X-Wing keys) from this environment variable
    /// instead of prompting.
    #[arg(long, value_name = "VAR", default_value = passphrase::DEFAULT_ENV)]
    pub passphrase_env: String,
    /// Environment variable holding the root key (64 hex digits) of root-key-sealed files
    /// [default: SEALWIRE_KEYRING_ROOT_KEY]. With `keyring create` / `xwing-keygen` it
    /// selects root-key protection instead of a passphrase (make one with
    /// `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'`).
    #[arg(long, value_name = "VAR")]
    pub root_key_env: Option<String>,
}

/// Argon2id cost of newly written passphrase-protected files.
#[derive(Args, Debug, Clone, Default)]
pub struct KdfArgs {
    /// Argon2id memory cost in KiB (default 65536 = 64 MiB).
    #[arg(long)]
    pub kdf_memory_kib: Option<u32>,
    /// Argon2id passes (default 3).
    #[arg(long)]
    pub kdf_iterations: Option<u32>,
    /// Argon2id lanes (default 4).
    #[arg(long)]
    pub kdf_lanes: Option<u32>,
}

impl KdfArgs {
    /// The parameters, defaults filled in and validated.
    pub fn params(&self) -> CliResult<KdfParams> {
        let d = KdfParams::default();
        KdfParams::new(
            self.kdf_memory_kib.unwrap_or(d.memory_kib()),
            self.kdf_iterations.unwrap_or(d.iterations()),
            self.kdf_lanes.unwrap_or(d.lanes()),
        )
        .map_err(errors::core)
    }
}

/// What seals a keyring file, kept to write it back the same way.
pub enum Protection {
    /// Argon2id with these parameters over this passphrase.
    Passphrase(Zeroizing<String>, KdfParams),
    /// A 32-byte root key.
    RootKey(RootKey),
}

impl Protection {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Protection::Passphrase(..) => "passphrase",
            Protection::RootKey(_) => "root key",
        }
    }

    /// The protection for a new file: a root key if `--root-key-env` was given, else a
    /// passphrase (asked twice when prompting).
    pub fn for_new_file(secret: &SecretArgs, kdf: &KdfArgs, what: &Path) -> CliResult<Self> {
        match &secret.root_key_env {
            Some(var) => Ok(Protection::RootKey(root_key(var, what)?)),
            None => {
                let params = kdf.params()?;
                let pass = passphrase::obtain_for(&secret.passphrase_env, true, Some(&what.display().to_string()))?;
                Ok(Protection::Passphrase(pass, params))
            }
        }
    }

    /// Seal `ring` into bytes (bumps its generation).
    fn seal(&self, ring: &mut Keyring) -> sealwire::Result<Vec<u8>> {
        match self {
            Protection::Passphrase(p, params) => ring.seal_with_passphrase(p.as_bytes(), *params),
            Protection::RootKey(k) => ring.seal_with_root_key(k),
        }
    }
}

fn root_key(var: &str, what: &Path) -> CliResult<RootKey> {
    match std::env::var_os(var) {
        None => {
            Err(format!("{} needs a root key: set {var} to 64 hex digits (or pass --root-key-env VAR)", what.display()))
        }
        Some(_) => RootKey::from_env_var(var).map_err(errors::core_in(format!("root key in {var}"))),
    }
}

/// Byte 13 of a keyring file: 0x01 passphrase, 0x02 root key (docs/FORMATS.md).
const PROTECTION_OFFSET: usize = 13;

/// Find how keyring `bytes` are sealed and obtain that secret (prompting if needed).
fn unlock_keyring(bytes: &[u8], path: &Path, secret: &SecretArgs) -> CliResult<(Keyring, Protection)> {
    if !bytes.starts_with(KEYRING_MAGIC) {
        return Err(format!("{} is not a sealwire keyring (bad magic bytes)", path.display()));
    }
    let what = errors::core_in(format!("cannot open keyring {}", path.display()));
    if bytes.get(PROTECTION_OFFSET) == Some(&0x02) {
        let var = secret.root_key_env.as_deref().unwrap_or(ROOT_KEY_ENV);
        let root = root_key(var, path)?;
        let ring = Keyring::open_with_root_key(bytes, &root).map_err(what)?;
        Ok((ring, Protection::RootKey(root)))
    } else {
        // Reuse the file's Argon2id parameters when writing it back: bytes 15..27.
        let params = bytes
            .get(15..27)
            .and_then(|p| {
                let n = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
                KdfParams::new(n(0), n(4), n(8)).ok()
            })
            .unwrap_or_default();
        let pass = passphrase::obtain_for(&secret.passphrase_env, false, Some(&path.display().to_string()))?;
        let ring = Keyring::open_with_passphrase(bytes, pass.as_bytes()).map_err(what)?;
        Ok((ring, Protection::Passphrase(pass, params)))
    }
}

/// A keyring read from a file, with what is needed to write it back.
pub struct KeyringFile {
    /// Where it lives.
    pub path: PathBuf,
    /// The opened keyring.
    pub ring: Keyring,
    /// How it is sealed.
    pub protection: Protection,
}

impl KeyringFile {
    /// Read and open `path`.
    pub fn load(path: &Path, secret: &SecretArgs) -> CliResult<Self> {
        let bytes = Zeroizing::new(files::read(path)?);
        let (ring, protection) = unlock_keyring(&bytes, path, secret)?;
        Ok(Self { path: path.to_path_buf(), ring, protection })
    }

    /// Seal and write back atomically (temp file, fsync, rename, fsync of the directory).
    /// Refuses if the file changed since it was loaded (another process saved a newer
    /// generation), instead of silently discarding that change.
    pub fn save(&mut self) -> CliResult {
        if let Ok(current) = std::fs::read(&self.path) {
            let generation = current.get(5..13).and_then(|g| <[u8; 8]>::try_from(g).ok()).map(u64::from_be_bytes);
            if current.starts_with(KEYRING_MAGIC) && generation != Some(self.ring.generation()) {
                return Err(format!(
                    "{} was changed by another process since it was read; run the command again",
                    self.path.display()
                ));
            }
        }
        let what = errors::core_in(format!("cannot save keyring {}", self.path.display()));
        match &self.protection {
            Protection::Passphrase(p, params) => self.ring.save_with_passphrase(&self.path, p.as_bytes(), *params),
            Protection::RootKey(k) => self.ring.save_with_root_key(&self.path, k),
        }
        .map_err(what)
    }
}

/// Read and decrypt an identity exported by `keygen`.
pub fn load_identity(path: &Path, secret: &SecretArgs) -> CliResult<Identity> {
    let bytes = Zeroizing::new(files::read(path)?);
    if bytes.starts_with(b"SWPI") {
        return Err(format!(
            "{} is a public identity; opening needs the encrypted identity (from `keygen --out`)",
            path.display()
        ));
    }
    let pass = passphrase::obtain_for(&secret.passphrase_env, false, Some(&path.display().to_string()))?;
    Identity::import(&bytes, pass.as_bytes())
        .map_err(errors::core_in(format!("cannot open identity {}", path.display())))
}

/// Read a public identity file (`keygen --public-out`).
pub fn load_public_identity(path: &Path) -> CliResult<PublicIdentity> {
    let bytes = files::read(path)?;
    if bytes.starts_with(b"SWIK") {
        return Err(format!(
            "{} is an encrypted identity; --to takes the public identity (from `keygen --public-out`)",
            path.display()
        ));
    }
    PublicIdentity::from_bytes(&bytes)
        .map_err(errors::core_in(format!("cannot read public identity {}", path.display())))
}

/// Read an X-Wing public key file (`xwing-keygen --public-out`).
pub fn load_xwing_public(path: &Path) -> CliResult<XWingPublicKey> {
    let bytes = files::read(path)?;
    if bytes.starts_with(XWING_FILE_MAGIC) {
        return Err(format!(
            "{} is an X-Wing private key; --to-xwing takes the public key (from `xwing-keygen --public-out`)",
            path.display()
        ));
    }
    XWingPublicKey::from_bytes(&bytes)
        .map_err(errors::core_in(format!("cannot read X-Wing public key {}", path.display())))
}

/// Magic of the CLI's X-Wing private key file.
pub const XWING_FILE_MAGIC: &[u8; 4] = b"SWCX";
const XWING_FILE_VERSION: u8 = 1;
const XWING_PURPOSE: &str = "sealwire-cli-xwing-private-key";
const XWING_KEYRING_KEY: &str = "xwing";

fn xwing_context(key_id: &str) -> CliResult<EncryptionContext> {
    EncryptionContext::from_pairs([("purpose", XWING_PURPOSE), ("xwing-key-id", key_id)]).map_err(errors::core)
}

/// Seal an X-Wing key pair into the `SWCX` file format.
pub fn seal_xwing(pair: &XWingKeyPair, protection: &Protection) -> CliResult<Vec<u8>> {
    let mut ring = Keyring::new();
    ring.create_key(XWING_KEYRING_KEY).map_err(errors::core)?;
    let ring_bytes = protection.seal(&mut ring).map_err(errors::core)?;
    let key_id = sealwire::envelope::KeyProvider::key_id(pair.public_key());
    let seed = pair.seed();
    let env = envelope::seal(seed.as_ref(), &xwing_context(&key_id)?, &[&ring]).map_err(errors::core)?;
    let len = u32::try_from(ring_bytes.len()).map_err(|_| "keyring too large".to_owned())?;
    let mut out = Vec::with_capacity(9 + ring_bytes.len() + env.len());
    out.extend_from_slice(XWING_FILE_MAGIC);
    out.push(XWING_FILE_VERSION);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&ring_bytes);
    out.extend_from_slice(&env);
    Ok(out)
}

/// Read and decrypt an X-Wing private key file.
pub fn load_xwing(path: &Path, secret: &SecretArgs) -> CliResult<XWingKeyPair> {
    let bytes = files::read(path)?;
    let bad = || format!("{} is not a sealwire X-Wing private key file (from `xwing-keygen`)", path.display());
    if !bytes.starts_with(XWING_FILE_MAGIC) || bytes.len() < 9 {
        return Err(bad());
    }
    if bytes[4] != XWING_FILE_VERSION {
        return Err(format!("{}: unsupported X-Wing key file version {}", path.display(), bytes[4]));
    }
    let len = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) as usize;
    let ring_end = 9usize.checked_add(len).filter(|&e| e <= bytes.len()).ok_or_else(bad)?;
    let (ring, _) = unlock_keyring(&bytes[9..ring_end], path, secret)?;
    let env = &bytes[ring_end..];
    let what = errors::core_in(format!("cannot open X-Wing key {}", path.display()));
    let header = EnvelopeHeader::parse(env).map_err(&what)?;
    let key_id = header.context().get("xwing-key-id").unwrap_or_default().to_owned();
    if header.context().get("purpose") != Some(XWING_PURPOSE) {
        return Err(bad());
    }
    let seed = Zeroizing::new(envelope::open(env, &xwing_context(&key_id)?, &[&ring]).map_err(&what)?);
    let seed: &[u8; 32] = seed.as_slice().try_into().map_err(|_| bad())?;
    let pair = XWingKeyPair::from_seed(seed).map_err(&what)?;
    if sealwire::envelope::KeyProvider::key_id(pair.public_key()) != key_id {
        return Err(format!("{}: the stored key id does not match the key", path.display()));
    }
    Ok(pair)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn save_refuses_a_keyring_changed_since_it_was_loaded() {
        let dir = std::env::temp_dir().join(format!("sealwire-cli-unit-gen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kr");
        let root = RootKey::generate().unwrap();
        let var = format!("SEALWIRE_CLI_UNIT_ROOT_{}", std::process::id());
        std::env::set_var(&var, root.to_hex().as_str());
        let mut ring = Keyring::new();
        ring.create_key("k").unwrap();
        ring.save_with_root_key(&path, &root).unwrap();
        let secret = SecretArgs { passphrase_env: "UNUSED".into(), root_key_env: Some(var) };

        let mut a = KeyringFile::load(&path, &secret).unwrap();
        let mut b = KeyringFile::load(&path, &secret).unwrap();
        a.ring.rotate("k", None).unwrap();
        a.save().unwrap();
        b.ring.create_key("other").unwrap();
        let err = b.save().unwrap_err();
        assert!(err.contains("changed by another process"), "{err}");
        // The first writer's change survived.
        let now = KeyringFile::load(&path, &secret).unwrap();
        assert_eq!(now.ring.primary_version("k").unwrap(), 2);
        assert_eq!(now.ring.key_ids(), vec!["k".to_owned()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
