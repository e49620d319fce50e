//! `sealwire` — command-line front end to the sealwire core.
//!
//! Every command is a thin wrapper: parse arguments, call the core, print. Exit codes: 0 on
//! success, 1 on a sealwire error (message on stderr, never containing key material), 2 on
//! usage errors (clap's convention).

mod demo;
mod files;
mod passphrase;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sealwire::{Identity, KdfParams, PublicIdentity};

#[derive(Parser)]
#[command(name = "sealwire", version, about = "Encrypted agent-to-agent communication")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a new agent identity and write it, passphrase-encrypted, to a file.
    Keygen {
        /// Where to write the encrypted identity.
        #[arg(short, long, default_value = "identity.swk")]
        out: PathBuf,
        /// Also write the public identity (binary) to this file.
        #[arg(long)]
        public_out: Option<PathBuf>,
        /// Read the passphrase from this environment variable instead of prompting.
        #[arg(long, default_value = passphrase::DEFAULT_ENV)]
        passphrase_env: String,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// Argon2id memory cost in KiB (default 65536 = 64 MiB).
        #[arg(long)]
        kdf_memory_kib: Option<u32>,
        /// Argon2id passes (default 3).
        #[arg(long)]
        kdf_iterations: Option<u32>,
        /// Argon2id lanes (default 4).
        #[arg(long)]
        kdf_lanes: Option<u32>,
    },
    /// Inspect identities.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Run the end-to-end demonstration on embedded defaults (no files, no network).
    Demo,
}

#[derive(Subcommand)]
enum IdentityCommand {
    /// Show the did:key and fingerprint of an encrypted identity or a public identity file.
    Show {
        /// An encrypted identity (from `keygen`) or a public identity file.
        #[arg(default_value = "identity.swk")]
        file: PathBuf,
        /// Read the passphrase from this environment variable instead of prompting.
        #[arg(long, default_value = passphrase::DEFAULT_ENV)]
        passphrase_env: String,
        /// Also print the encoded public identity as hex.
        #[arg(long)]
        public_hex: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealwire: {e}");
            ExitCode::from(1)
        }
    }
}

/// CLI-level error: a core error or an I/O problem, already phrased for the user.
type CliResult<T = ()> = Result<T, String>;

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Keygen { out, public_out, passphrase_env, force, kdf_memory_kib, kdf_iterations, kdf_lanes } => {
            let defaults = KdfParams::default();
            let params = KdfParams::new(
                kdf_memory_kib.unwrap_or(defaults.memory_kib()),
                kdf_iterations.unwrap_or(defaults.iterations()),
                kdf_lanes.unwrap_or(defaults.lanes()),
            )
            .map_err(|e| e.to_string())?;
            if out.exists() && !force {
                return Err(format!("{} exists; pass --force to overwrite", out.display()));
            }
            let pass = passphrase::obtain(&passphrase_env, true)?;
            let identity = Identity::generate().map_err(|e| e.to_string())?;
            let blob = identity.export_with_params(pass.as_bytes(), params).map_err(|e| e.to_string())?;
            files::write_atomic(&out, &blob, true)?;
            if let Some(p) = public_out {
                files::write_atomic(&p, &identity.public().to_bytes(), false)?;
            }
            println!("wrote encrypted identity to {}", out.display());
            print_public(identity.public(), false);
            Ok(())
        }
        Command::Identity { command: IdentityCommand::Show { file, passphrase_env, public_hex } } => {
            let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let public = if bytes.starts_with(b"SWPI") {
                PublicIdentity::from_bytes(&bytes).map_err(|e| e.to_string())?
            } else {
                let pass = passphrase::obtain(&passphrase_env, false)?;
                let id = Identity::import(&bytes, pass.as_bytes()).map_err(|e| e.to_string())?;
                id.public().clone()
            };
            print_public(&public, public_hex);
            Ok(())
        }
        Command::Demo => demo::run(),
    }
}

fn print_public(p: &PublicIdentity, with_hex: bool) {
    println!("did:         {}", p.did());
    println!("fingerprint: {}", p.fingerprint());
    if with_hex {
        println!("public:      {}", hex::encode(p.to_bytes()));
    }
}
