//! `sealwire demo`: the project's main job, narrated step by step, failing (exit 1) as soon as
//! a property it shows does not hold.
//!
//! * `sealwire demo` (demo/agents.rs): two agents on the `Agent` facade, configured by the
//!   recommended security config — the README's quick start as a running program.
//! * `sealwire demo --layers` (demo/layers.rs): each layer on its own (identities, Noise,
//!   ratchet sessions, relay, envelopes), as the lower-level APIs are used.

mod agents;
mod layers;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use sealwire::envelope::kms::{VaultTransit, VaultTransitConfig};
use sealwire::ErrorKind;

use crate::CliResult;

/// Arguments of `sealwire demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Run the lower-level walkthrough instead, one layer at a time: identities and
    /// fingerprints, Noise XX / IK / XXhfs, PQXDH + Double Ratchet over SQLite stores (crash
    /// and resend, stale snapshot), the relay protocol, envelopes (multi-wrap, rotation,
    /// rewrap).
    #[arg(long)]
    layers: bool,
    /// Put the agent homes, the relay database and the demo's security config in this
    /// directory (absent or empty) and keep them, instead of a temporary directory removed at
    /// the end.
    #[arg(long, conflicts_with = "layers")]
    dir: Option<PathBuf>,
}

/// `sealwire demo [--layers] [--dir DIR]`.
pub fn run(args: DemoArgs) -> CliResult {
    if args.layers {
        layers::run()
    } else {
        agents::run(args.dir)
    }
}

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

fn check(what: &str, ok: bool) -> CliResult {
    if ok {
        println!("    ok  {what}");
        Ok(())
    } else {
        Err(format!("demo check failed: {what}"))
    }
}

fn e(err: sealwire::Error) -> String {
    err.to_string()
}

fn kind<T>(r: &Result<T, sealwire::Error>) -> Option<ErrorKind> {
    r.as_ref().err().map(|x| x.kind())
}

fn code<T>(r: &Result<T, sealwire::Error>) -> &'static str {
    r.as_ref().err().map(|x| x.kind().code()).unwrap_or("accepted!")
}

fn io(x: std::io::Error) -> String {
    format!("demo: {x}")
}

/// The demo's scratch directory (unique name under the system temp dir), removed on drop,
/// so also when a check fails — unless it was given with `--dir` (then kept).
struct TempDir(PathBuf, bool);

impl TempDir {
    fn new() -> CliResult<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!("sealwire-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).map_err(|x| format!("demo: cannot create {}: {x}", path.display()))?;
        Ok(Self(path, true))
    }

    /// A directory the user chose: created if absent, refused unless empty, kept.
    fn kept(path: PathBuf) -> CliResult<Self> {
        std::fs::create_dir_all(&path).map_err(|x| format!("demo: cannot create {}: {x}", path.display()))?;
        let mut entries = std::fs::read_dir(&path).map_err(|x| format!("demo: cannot read {}: {x}", path.display()))?;
        if entries.next().is_some() {
            return Err(format!("demo: {} is not empty (the demo creates new agent homes; give an empty or new directory)", path.display()));
        }
        Ok(Self(path, false))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The Transit key the demo uses on a configured Vault.
const VAULT_DEMO_KEY: &str = "sealwire-demo";

/// The Vault address if both an address and a token are set (`VAULT_*`, else `BAO_*`), else
/// the name of the missing variable.
fn vault_env() -> Result<String, &'static str> {
    let get = |a: &str, b: &str| std::env::var(a).ok().filter(|v| !v.is_empty()).or_else(|| std::env::var(b).ok().filter(|v| !v.is_empty()));
    let addr = get("VAULT_ADDR", "BAO_ADDR").ok_or("VAULT_ADDR")?;
    get("VAULT_TOKEN", "BAO_TOKEN").ok_or("VAULT_TOKEN")?;
    Ok(addr)
}

/// The operator's part: the demo's Transit key on the configured Vault, created (derived) if
/// missing. An existing key that is not derived is refused: Vault would silently ignore the
/// context each wrap is bound to (docs/KMS.md).
fn vault_demo_key() -> CliResult<VaultTransit> {
    let ve = |err: sealwire::Error| format!("demo: Vault Transit: {}", crate::errors::core(err));
    let vault = VaultTransit::new(VaultTransitConfig::from_env(VAULT_DEMO_KEY).map_err(ve)?).map_err(ve)?;
    match vault.key_info() {
        Ok(info) if !info.derived => {
            return Err(format!("demo: Vault Transit key {VAULT_DEMO_KEY} exists but is not derived; delete it or use another Vault"));
        }
        Ok(info) => println!("    Transit key {VAULT_DEMO_KEY} exists (version {})", info.latest_version),
        Err(err) if err.kind() == ErrorKind::KmsKeyNotFound => {
            vault.create_key().map_err(ve)?;
            println!("    created derived Transit key {VAULT_DEMO_KEY}");
        }
        Err(err) => return Err(ve(err)),
    }
    Ok(vault)
}
