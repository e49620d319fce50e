//! `sealwire keyring …`: create, inspect, rotate and retire the local keyring of KEKs. Key
//! material is never printed; every write is atomic and fsynced (core's `save_*`).

use std::path::PathBuf;

use clap::Subcommand;
use sealwire::envelope::{KeyVersionInfo, Keyring};

use crate::output::json_str;
use crate::secrets::{KdfArgs, KeyringFile, Protection, SecretArgs};
use crate::{dates, errors, files, CliResult};

#[derive(Subcommand, Debug)]
pub enum KeyringCommand {
    /// Create a keyring file holding one key (random KEK, version 1), sealed under a
    /// passphrase (default) or a root key (--root-key-env).
    Create {
        /// The keyring file to write.
        file: PathBuf,
        /// Id of the first key (also the default key).
        #[arg(long, value_name = "KEY_ID", default_value = "default")]
        key: String,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        kdf: KdfArgs,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Show key ids, versions, the primary version and cutoff dates (never key material).
    List {
        /// The keyring file.
        file: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Add a new random version of KEY_ID as primary; the previous primary is retired (it
    /// keeps unwrapping, until the cutoff if one is given).
    Rotate {
        /// The keyring file.
        file: PathBuf,
        /// The key to rotate.
        key_id: String,
        /// The retired version stops unwrapping this many days from now.
        #[arg(long, value_name = "DAYS", conflicts_with = "old_decrypt_until")]
        retire_after: Option<u32>,
        /// The retired version stops unwrapping at this date (RFC 3339, YYYY-MM-DD or Unix seconds).
        #[arg(long, value_name = "DATE")]
        old_decrypt_until: Option<String>,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Set the date after which a retired (non-primary) version refuses to unwrap.
    Retire {
        /// The keyring file.
        file: PathBuf,
        /// The key.
        key_id: String,
        /// The version (not the primary one: rotate first).
        version: u32,
        /// Cutoff date: RFC 3339, YYYY-MM-DD, Unix seconds or `now`.
        #[arg(long, value_name = "DATE")]
        at: String,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Add a new key (random KEK, version 1) to the keyring.
    AddKey {
        /// The keyring file.
        file: PathBuf,
        /// Id of the new key: 1-255 bytes of A-Z a-z 0-9 . _ - : /
        key_id: String,
        /// Make it the default key (the one `seal --keyring` uses without --key).
        #[arg(long)]
        default: bool,
        #[command(flatten)]
        secret: SecretArgs,
    },
}

fn state(v: &KeyVersionInfo, now: u64) -> &'static str {
    if v.primary {
        "primary"
    } else if v.decrypt_until.is_some_and(|t| now >= t) {
        "cut-off"
    } else if v.retired_at.is_some() {
        "retired"
    } else {
        "active"
    }
}

fn date_or_dash(t: Option<u64>) -> String {
    t.map(dates::format).unwrap_or_else(|| "-".into())
}

fn list(kf: &KeyringFile, json: bool) -> CliResult {
    let ring = &kf.ring;
    let now = ring.now();
    if json {
        let mut keys = Vec::new();
        for id in ring.key_ids() {
            let versions = ring.versions(&id).map_err(errors::core)?;
            let vs: Vec<String> = versions
                .iter()
                .map(|v| {
                    let opt = |t: Option<u64>| t.map(|t| t.to_string()).unwrap_or_else(|| "null".into());
                    format!(
                        "{{\"version\":{},\"primary\":{},\"state\":{},\"created_at\":{},\"retired_at\":{},\"decrypt_until\":{}}}",
                        v.version,
                        v.primary,
                        json_str(state(v, now)),
                        v.created_at,
                        opt(v.retired_at),
                        opt(v.decrypt_until)
                    )
                })
                .collect();
            keys.push(format!(
                "{{\"id\":{},\"primary_version\":{},\"versions\":[{}]}}",
                json_str(&id),
                ring.primary_version(&id).map_err(errors::core)?,
                vs.join(",")
            ));
        }
        println!(
            "{{\"file\":{},\"protection\":{},\"generation\":{},\"default_key\":{},\"keys\":[{}]}}",
            json_str(&kf.path.display().to_string()),
            json_str(kf.protection.name()),
            ring.generation(),
            ring.default_key().map(json_str).unwrap_or_else(|| "null".into()),
            keys.join(",")
        );
        return Ok(());
    }
    println!("keyring:     {}", kf.path.display());
    println!("protection:  {}", kf.protection.name());
    println!("generation:  {}", ring.generation());
    println!("default key: {}", ring.default_key().unwrap_or("(none)"));
    let ids = ring.key_ids();
    let w = ids.iter().map(String::len).max().unwrap_or(0).max(6);
    println!(
        "\n{:<w$}  {:>7}  {:<7}  {:<20}  {:<20}  DECRYPT UNTIL",
        "KEY ID", "VERSION", "STATE", "CREATED", "RETIRED"
    );
    for id in &ids {
        for v in ring.versions(id).map_err(errors::core)? {
            println!(
                "{:<w$}  {:>7}  {:<7}  {:<20}  {:<20}  {}",
                id,
                v.version,
                state(&v, now),
                dates::format(v.created_at),
                date_or_dash(v.retired_at),
                date_or_dash(v.decrypt_until)
            );
        }
    }
    Ok(())
}

/// Run a `keyring` subcommand.
pub fn run(cmd: KeyringCommand) -> CliResult {
    match cmd {
        KeyringCommand::Create { file, key, secret, kdf, force } => {
            files::check_new(&file, force)?;
            let protection = Protection::for_new_file(&secret, &kdf, &file)?;
            let mut ring = Keyring::new();
            ring.create_key(&key).map_err(errors::core)?;
            let mut kf = KeyringFile { path: file, ring, protection };
            kf.save()?;
            println!("created keyring {} ({}) with key {key} version 1", kf.path.display(), kf.protection.name());
            Ok(())
        }
        KeyringCommand::List { file, json, secret } => list(&KeyringFile::load(&file, &secret)?, json),
        KeyringCommand::Rotate { file, key_id, retire_after, old_decrypt_until, secret } => {
            let until = match (retire_after, old_decrypt_until) {
                (Some(days), _) => Some(dates::now().saturating_add(u64::from(days) * 86_400)),
                (None, Some(d)) => Some(dates::parse(&d)?),
                (None, None) => None,
            };
            let mut kf = KeyringFile::load(&file, &secret)?;
            let old = kf.ring.primary_version(&key_id).map_err(errors::core)?;
            let new = kf.ring.rotate(&key_id, until).map_err(errors::core)?;
            kf.save()?;
            let cutoff =
                until.map(|t| format!("until {}", dates::format(t))).unwrap_or_else(|| "with no cutoff".into());
            println!("rotated {key_id}: version {new} is primary; version {old} retired, still decrypts {cutoff}");
            Ok(())
        }
        KeyringCommand::Retire { file, key_id, version, at, secret } => {
            let at = dates::parse(&at)?;
            let mut kf = KeyringFile::load(&file, &secret)?;
            if kf.ring.primary_version(&key_id).map_err(errors::core)? == version {
                return Err(format!(
                    "version {version} is the primary version of {key_id}; rotate first (`sealwire keyring rotate`)"
                ));
            }
            kf.ring.set_decrypt_until(&key_id, version, Some(at)).map_err(errors::core)?;
            kf.save()?;
            println!("{key_id} version {version} decrypts until {}", dates::format(at));
            Ok(())
        }
        KeyringCommand::AddKey { file, key_id, default, secret } => {
            let mut kf = KeyringFile::load(&file, &secret)?;
            if kf.ring.key_ids().contains(&key_id) {
                return Err(format!(
                    "{} already holds a key {key_id}; use `keyring rotate` for a new version",
                    file.display()
                ));
            }
            kf.ring.create_key(&key_id).map_err(errors::core)?;
            if default {
                kf.ring.set_default_key(&key_id).map_err(errors::core)?;
            }
            kf.save()?;
            println!(
                "added key {key_id} version 1 to {}{}",
                file.display(),
                if kf.ring.default_key() == Some(key_id.as_str()) { " (default key)" } else { "" }
            );
            Ok(())
        }
    }
}
