//! `sealwire` — command-line front end to the sealwire core.
//!
//! Every command is a thin wrapper: parse arguments, call the core, print. Exit codes: 0 on
//! success, 1 on a sealwire error (message on stderr, never containing key material), 2 on
//! usage errors (clap's convention).

mod config;
mod dates;
mod demo;
mod envelope;
mod errors;
mod files;
mod keyring;
mod kms;
mod output;
mod passphrase;
mod relay;
mod rewrap;
mod secrets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sealwire::envelope::{KeyProvider, XWingKeyPair, XWingPublicKey};
use sealwire::{Identity, PublicIdentity};

use secrets::{KdfArgs, Protection, SecretArgs};

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
        #[command(flatten)]
        kdf: KdfArgs,
    },
    /// Generate an X-Wing (ML-KEM-768 + X25519) key pair for post-quantum envelope recipients.
    ///
    /// The private key is written encrypted (passphrase or root key), the public key in clear.
    XwingKeygen {
        /// Where to write the encrypted private key.
        #[arg(short, long, default_value = "xwing.swcx")]
        out: PathBuf,
        /// Also write the public key (`SWXP`) to this file, for `seal --to-xwing`.
        #[arg(long)]
        public_out: Option<PathBuf>,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        kdf: KdfArgs,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Inspect identities.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Manage a local keyring of key-encryption keys.
    Keyring {
        #[command(subcommand)]
        command: keyring::KeyringCommand,
    },
    /// Seal a file or stream into an envelope (streaming, constant memory).
    Seal(envelope::SealArgs),
    /// Open an envelope (streaming; an output file appears only once everything verified).
    Open(envelope::OpenArgs),
    /// Show an envelope's header (suite, context, wrapped keys, sizes) without any key.
    Inspect(envelope::InspectArgs),
    /// Change the wrapped keys of envelopes in place (payload untouched).
    Rewrap(rewrap::RewrapArgs),
    /// Run the end-to-end demonstration: two agents on the Agent facade (`--layers`: each layer on its own).
    ///
    /// Two agents open homes from the recommended security config (checked first), meet live
    /// (Noise XXhfs, then IKhfs), exchange messages offline through a relay embedded on
    /// 127.0.0.1, restart mid-conversation, refuse a stale session-store snapshot and recover,
    /// seal memory to the home's keyring and to a peer (and through Vault Transit too when
    /// VAULT_ADDR and VAULT_TOKEN are set), rotate the key and rewrap. Files go to a temporary directory (or `--dir`); nothing else
    /// touches the network. `--layers` runs the lower-level walkthrough of each layer
    /// (identities, Noise XX / IK / XXhfs, ratchet sessions over SQLite stores, the relay
    /// protocol, envelope details) so that every capability keeps its demonstration.
    Demo(demo::DemoArgs),
    /// Prekey directory and offline mailbox server (docs/RELAY.md).
    Relay {
        #[command(subcommand)]
        command: relay::RelayCommand,
    },
    /// Security configuration: write the recommended one, check a file (docs/CONFIG.md).
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
}

#[derive(Subcommand)]
enum IdentityCommand {
    /// Show the did:key and fingerprint of an encrypted identity or a public identity file
    /// (or the key id of an X-Wing public key file).
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
        Command::Keygen { out, public_out, passphrase_env, force, kdf } => {
            let params = kdf.params()?;
            files::check_new(&out, force)?;
            let pass = passphrase::obtain(&passphrase_env, true)?;
            let identity = Identity::generate().map_err(errors::core)?;
            let blob = identity.export_with_params(pass.as_bytes(), params).map_err(errors::core)?;
            files::write_atomic(&out, &blob, true)?;
            if let Some(p) = public_out {
                files::write_atomic(&p, &identity.public().to_bytes(), false)?;
            }
            println!("wrote encrypted identity to {}", out.display());
            print_public(identity.public(), false);
            Ok(())
        }
        Command::XwingKeygen { out, public_out, secret, kdf, force } => {
            files::check_new(&out, force)?;
            if let Some(p) = &public_out {
                files::check_new(p, force)?;
            }
            let protection = Protection::for_new_file(&secret, &kdf, &out)?;
            let pair = XWingKeyPair::generate().map_err(errors::core)?;
            let blob = secrets::seal_xwing(&pair, &protection)?;
            files::write_atomic(&out, &blob, true)?;
            if let Some(p) = &public_out {
                files::write_atomic(p, &pair.public_key().to_bytes(), false)?;
            }
            println!("wrote encrypted X-Wing private key to {} ({})", out.display(), protection.name());
            if let Some(p) = &public_out {
                println!("wrote X-Wing public key to {}", p.display());
            }
            println!("x-wing key id: {}", pair.public_key().key_id());
            Ok(())
        }
        Command::Identity { command: IdentityCommand::Show { file, passphrase_env, public_hex } } => {
            let bytes = files::read(&file)?;
            let public = if bytes.starts_with(b"SWPI") {
                PublicIdentity::from_bytes(&bytes).map_err(errors::core)?
            } else if bytes.starts_with(b"SWXP") {
                let pk = XWingPublicKey::from_bytes(&bytes).map_err(errors::core)?;
                println!("x-wing key id: {}", pk.key_id());
                return Ok(());
            } else {
                let pass = passphrase::obtain(&passphrase_env, false)?;
                let id = Identity::import(&bytes, pass.as_bytes()).map_err(errors::core)?;
                id.public().clone()
            };
            print_public(&public, public_hex);
            Ok(())
        }
        Command::Keyring { command } => keyring::run(command),
        Command::Seal(a) => envelope::seal(a),
        Command::Open(a) => envelope::open(a),
        Command::Inspect(a) => envelope::inspect(a),
        Command::Rewrap(a) => rewrap::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Relay { command } => relay::run(command),
        Command::Config { command } => config::run(command),
    }
}

fn print_public(p: &PublicIdentity, with_hex: bool) {
    println!("did:         {}", p.did());
    println!("fingerprint: {}", p.fingerprint());
    if with_hex {
        println!("public:      {}", hex::encode(p.to_bytes()));
    }
    println!("recipient key id: {}", p.key_id());
}
