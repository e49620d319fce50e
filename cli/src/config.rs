//! `sealwire config init` and `sealwire config check`: the security configuration
//! (docs/CONFIG.md). All rules live in core (`sealwire::config`); this only reads, writes and
//! prints.

use std::path::PathBuf;

use clap::Subcommand;
use sealwire::config::{Format, Report, SecurityConfig, Severity};

use crate::files;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Write the recommended configuration, commented (to stdout without --out).
    Init {
        /// Where to write it.
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Write the JSON form (no comments) instead of TOML.
        #[arg(long)]
        json: bool,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check a configuration file (TOML or JSON, by extension or content): print every finding
    /// with its path and code; exit 0 when the configuration is accepted, 1 when refused.
    Check {
        /// The configuration file.
        file: PathBuf,
        /// Read it as this format instead of guessing.
        #[arg(long, value_parser = ["toml", "json"])]
        format: Option<String>,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: ConfigCommand) -> crate::CliResult {
    match command {
        ConfigCommand::Init { out, json, force } => {
            let text = if json {
                let mut t = SecurityConfig::default().to_json_string();
                t.push('\n');
                t
            } else {
                SecurityConfig::DEFAULT_TOML.to_owned()
            };
            match out {
                None => print!("{text}"),
                Some(path) => {
                    files::check_new(&path, force)?;
                    files::write_atomic(&path, text.as_bytes(), false)?;
                    eprintln!("wrote the recommended security configuration to {}", path.display());
                }
            }
            Ok(())
        }
        ConfigCommand::Check { file, format, json } => {
            let bytes = files::read(&file)?;
            let text = String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", file.display()))?;
            let format = match format.as_deref() {
                Some("json") => Format::Json,
                Some(_) => Format::Toml,
                None => Format::detect(file.file_name().and_then(|n| n.to_str()), &text),
            };
            let report = SecurityConfig::check(&text, format);
            if json {
                println!("{}", report.to_json_string());
            } else {
                print_report(&file.display().to_string(), format, &report);
            }
            if report.is_ok() {
                Ok(())
            } else {
                Err(format!("{}: security configuration refused", file.display()))
            }
        }
    }
}

fn print_report(name: &str, format: Format, report: &Report) {
    let count = |s: Severity| report.findings().iter().filter(|f| f.severity == s).count();
    let (errors, allowed, warnings) = (count(Severity::Error), count(Severity::Allowed), count(Severity::Warning));
    let verdict = if report.is_ok() { "accepted" } else { "refused" };
    println!(
        "{name} ({}): {verdict} — {errors} error{}, {allowed} override{} in force, {warnings} warning{}",
        format.as_str(),
        plural(errors),
        plural(allowed),
        plural(warnings)
    );
    for f in report.findings() {
        println!("  {f}");
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
