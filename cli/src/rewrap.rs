//! `sealwire rewrap`: change the wrapped-key entries of envelopes in place — move them to
//! the keyring's primary KEK version, add keyring keys or recipients, remove entries —
//! without touching a payload byte. Each file is replaced atomically (temp file with the
//! new header and the original payload, fsync, rename, fsync of the directory).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use sealwire::envelope::{
    header_len, DataKey, EnvelopeHeader, KeyProvider, Keyring, Rewrap, WrapContext, WrappedKey, HEADER_PREFIX_LEN,
    KEYRING_PROVIDER, MAGIC,
};

use crate::envelope::{keyring_keys, parse_context, OpenKeyArgs, OpenKeys, RecipientArgs, Recipients};
use crate::files::{AtomicFile, MODE_PRIVATE};
use crate::kms::{self, Kms, StaleVaultEntries};
use crate::output::{files_bar, printable};
use crate::{errors, CliResult};

#[derive(Args, Debug)]
pub struct RewrapArgs {
    /// An envelope, or a directory searched recursively for files starting with the SWEV
    /// magic (symbolic links are not followed; other files are skipped).
    pub path: PathBuf,
    #[command(flatten)]
    pub keys: OpenKeyArgs,
    /// Add an entry wrapped under this keyring key (its primary version). Repeatable.
    #[arg(long = "key", value_name = "ID", requires = "keyrings")]
    pub add_keys: Vec<String>,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    /// Remove every entry of this provider and key id (`keyring:ID`, `hpke-x25519:KEYID`,
    /// … as `inspect` shows them). Repeatable. At least one entry must remain.
    #[arg(long, value_name = "PROVIDER:KEY_ID")]
    pub remove: Vec<String>,
    /// Re-wrap every keyring entry that is not under its key's primary version, and every
    /// entry of a `--kms vault://` key below the key's latest version (Transit `rewrap`).
    #[arg(long)]
    pub rewrap_to_primary: bool,
    /// Only rewrap envelopes with exactly this context (default: each envelope's stored context).
    #[arg(short = 'c', long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
}

/// The keyring as a provider that owns only entries *not* under their key's primary version,
/// so that `Rewrap::rewrap_with` leaves current entries untouched (no needless rewrites).
struct StaleEntries<'a>(&'a Keyring);

impl KeyProvider for StaleEntries<'_> {
    fn provider_id(&self) -> &str {
        self.0.provider_id()
    }
    fn key_id(&self) -> String {
        self.0.key_id()
    }
    fn key_version(&self) -> u32 {
        self.0.key_version()
    }
    fn owns(&self, entry: &WrappedKey) -> bool {
        self.0.owns(entry) && self.0.primary_version(entry.key_id()).is_ok_and(|p| p != entry.key_version())
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> sealwire::Result<WrappedKey> {
        self.0.wrap(dek, ctx)
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> sealwire::Result<DataKey> {
        self.0.unwrap(entry, ctx)
    }
    fn rewrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> sealwire::Result<WrappedKey> {
        self.0.rewrap(entry, ctx)
    }
}

struct Plan<'a> {
    context: Option<sealwire::envelope::EncryptionContext>,
    unwrap: Vec<&'a dyn KeyProvider>,
    to_primary: Vec<&'a Keyring>,
    /// Vault Transit keys whose entries below their latest version are rewrapped (server side).
    vault_to_latest: Vec<StaleVaultEntries<'a>>,
    add: Vec<&'a dyn KeyProvider>,
    /// Remote KMS keys to add an entry for, unless the envelope already has one of theirs
    /// (any version: old versions are moved by `--rewrap-to-primary`).
    add_kms: Vec<&'a dyn KeyProvider>,
    remove: Vec<(String, String)>,
}

enum Outcome {
    Rewritten,
    Unchanged,
    /// No entry is addressed to any key given (`NoMatchingKey`): not this caller's object.
    NotOurs,
}

fn has_entry(h: &EnvelopeHeader, p: &dyn KeyProvider) -> bool {
    let id = p.key_id();
    h.wrapped_keys()
        .iter()
        .any(|w| w.provider() == p.provider_id() && w.key_id() == id && w.key_version() == p.key_version())
}

fn rewrap_file(path: &Path, plan: &Plan<'_>) -> CliResult<Outcome> {
    let ioerr = |e: io::Error| format!("cannot read {}: {e}", path.display());
    let what = errors::core_in(format!("cannot rewrap {}", path.display()));
    let mut f = File::open(path).map_err(ioerr)?;
    let mut prefix = [0u8; HEADER_PREFIX_LEN];
    f.read_exact(&mut prefix).map_err(|_| what(sealwire::Error::Truncated("envelope header")))?;
    let hlen = header_len(&prefix).map_err(&what)?;
    let mut hdr = vec![0u8; hlen];
    hdr[..HEADER_PREFIX_LEN].copy_from_slice(&prefix);
    f.read_exact(&mut hdr[HEADER_PREFIX_LEN..]).map_err(|_| what(sealwire::Error::Truncated("envelope header")))?;
    let header = EnvelopeHeader::parse(&hdr).map_err(&what)?;
    let expected = plan.context.clone().unwrap_or_else(|| header.context().clone());
    let mut rw = match Rewrap::open(&hdr, &expected, &plan.unwrap) {
        Ok(rw) => rw,
        Err(e) if e.kind() == sealwire::ErrorKind::NoMatchingKey => return Ok(Outcome::NotOurs),
        Err(e) => return Err(what(e)),
    };
    let mut changes = 0usize;
    for ring in &plan.to_primary {
        // A stale entry whose key already has an entry under the primary version is dropped
        // rather than re-wrapped into a duplicate.
        let current: Vec<(String, u32)> = rw
            .header()
            .wrapped_keys()
            .iter()
            .filter(|w| ring.owns(w) && ring.primary_version(w.key_id()).is_ok_and(|p| p == w.key_version()))
            .map(|w| (w.key_id().to_owned(), w.key_version()))
            .collect();
        changes += rw
            .remove_where(|w| ring.owns(w) && current.iter().any(|(id, v)| id == w.key_id() && *v != w.key_version()));
        changes += rw.rewrap_with(&StaleEntries(ring)).map_err(&what)?;
    }
    for v in &plan.vault_to_latest {
        changes += rw.rewrap_with(v).map_err(&what)?;
    }
    for p in &plan.add_kms {
        if !rw.header().wrapped_keys().iter().any(|w| p.owns(w)) {
            rw.add(*p).map_err(&what)?;
            changes += 1;
        }
    }
    for p in &plan.add {
        if !has_entry(rw.header(), *p) {
            rw.add(*p).map_err(&what)?;
            changes += 1;
        }
    }
    for (provider, key_id) in &plan.remove {
        changes += rw.remove(provider, key_id);
    }
    if changes == 0 {
        return Ok(Outcome::Unchanged);
    }
    let new_header = rw.header_bytes().map_err(&what)?;
    let perm = f.metadata().map_err(ioerr)?.permissions();
    let mut out = AtomicFile::create(path, MODE_PRIVATE)?;
    out.set_permissions(perm)?;
    let werr = |e: io::Error| format!("cannot write {}: {e}", path.display());
    out.write_all(&new_header).map_err(werr)?;
    // The payload, byte for byte (f is positioned right after the old header).
    io::copy(&mut f, &mut out).map_err(werr)?;
    out.commit()?;
    Ok(Outcome::Rewritten)
}

fn is_envelope(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == MAGIC
}

/// Our own temporary files (`.<name>.tmp-…`), left behind only by a crash.
fn is_temp(path: &Path) -> bool {
    path.file_name().map(|n| n.to_string_lossy()).is_some_and(|n| n.starts_with('.') && n.contains(".tmp-"))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, skipped: &mut usize) -> CliResult {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    entries.sort();
    for p in entries {
        let meta = fs::symlink_metadata(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        if meta.is_dir() {
            collect(&p, out, skipped)?;
        } else if meta.is_file() && !is_temp(&p) && is_envelope(&p) {
            out.push(p);
        } else {
            *skipped += 1;
        }
    }
    Ok(())
}

/// `sealwire rewrap`.
pub fn run(a: RewrapArgs) -> CliResult {
    let keys = OpenKeys::load(&a.keys)?;
    let add_keys = keyring_keys(&keys.keyrings, &a.add_keys)?;
    let recipients = Recipients::load(&a.recipients)?;
    let mut add: Vec<&dyn KeyProvider> = add_keys.iter().map(|k| k as &dyn KeyProvider).collect();
    recipients.push_providers(&mut add);
    let remove = a
        .remove
        .iter()
        .map(|r| {
            r.split_once(':')
                .filter(|(p, k)| !p.is_empty() && !k.is_empty())
                .map(|(p, k)| (p.to_owned(), k.to_owned()))
                .ok_or_else(|| format!("--remove takes PROVIDER:KEY_ID (e.g. {KEYRING_PROVIDER}:old-key), got {r:?}"))
        })
        .collect::<CliResult<Vec<_>>>()?;
    if !a.rewrap_to_primary && add.is_empty() && remove.is_empty() && keys.kms.is_empty() {
        return Err("nothing to do: give --rewrap-to-primary, --key, --kms, --to, --to-xwing or --remove".into());
    }
    // For --rewrap-to-primary, learn each Vault key's latest version once.
    let mut vault_to_latest = Vec::new();
    if a.rewrap_to_primary {
        for k in &keys.kms {
            if let Kms::Vault(v) = k {
                let info = v
                    .key_info()
                    .map_err(errors::core_in(format!("cannot read Vault Transit key {}", printable(v.key_name()))))?;
                vault_to_latest.push(StaleVaultEntries { vault: v, latest: info.latest_version });
            }
        }
    }
    let plan = Plan {
        context: if a.context.is_empty() { None } else { Some(parse_context(&a.context)?) },
        unwrap: keys.providers(),
        to_primary: if a.rewrap_to_primary { keys.keyrings.iter().map(|k| &k.ring).collect() } else { Vec::new() },
        vault_to_latest,
        add,
        add_kms: keys.kms.iter().map(kms::provider).collect(),
        remove,
    };

    let meta = fs::metadata(&a.path).map_err(|e| format!("cannot read {}: {e}", a.path.display()))?;
    let mut targets = Vec::new();
    let mut skipped = 0usize;
    if meta.is_dir() {
        collect(&a.path, &mut targets, &mut skipped)?;
    } else if is_envelope(&a.path) {
        targets.push(a.path.clone());
    } else {
        return Err(format!("{} is not a sealwire envelope (no SWEV magic)", a.path.display()));
    }

    let pb = files_bar(targets.len() as u64);
    let (mut rewritten, mut unchanged, mut not_ours, mut failed) = (0usize, 0usize, 0usize, 0usize);
    for t in &targets {
        pb.set_message(printable(&t.display().to_string()));
        match rewrap_file(t, &plan) {
            Ok(Outcome::Rewritten) => rewritten += 1,
            Ok(Outcome::Unchanged) => unchanged += 1,
            // In a directory, objects not wrapped for the given keys are someone else's;
            // for a single file it is an error.
            Ok(Outcome::NotOurs) if meta.is_dir() => not_ours += 1,
            Ok(Outcome::NotOurs) => {
                failed += 1;
                let e = errors::core_in(format!("cannot rewrap {}", t.display()))(sealwire::Error::NoMatchingKey);
                pb.suspend(|| eprintln!("sealwire: {e}"));
            }
            Err(e) => {
                failed += 1;
                pb.suspend(|| eprintln!("sealwire: {e}"));
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut notes = String::new();
    if not_ours > 0 {
        notes.push_str(&format!(", {not_ours} without an entry for the given keys skipped"));
    }
    if skipped > 0 {
        notes.push_str(&format!(", {skipped} other files skipped"));
    }
    println!(
        "rewrap: {rewritten} rewritten, {unchanged} already up to date, {failed} failed ({} envelopes{notes})",
        targets.len()
    );
    if failed > 0 {
        return Err(format!("{failed} of {} envelopes could not be rewrapped", targets.len()));
    }
    Ok(())
}
