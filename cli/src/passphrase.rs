//! Passphrase input: an environment variable for scripts, an interactive prompt otherwise.

use std::io::IsTerminal;

use zeroize::Zeroizing;

/// Environment variable read by default.
pub const DEFAULT_ENV: &str = "SEALWIRE_PASSPHRASE";

/// Read the passphrase from `env_var`, or prompt on the terminal (twice when `confirm`).
pub fn obtain(env_var: &str, confirm: bool) -> Result<Zeroizing<String>, String> {
    obtain_for(env_var, confirm, None)
}

/// As [`obtain`]; the prompt names `what` (e.g. the file the passphrase opens).
pub fn obtain_for(env_var: &str, confirm: bool, what: Option<&str>) -> Result<Zeroizing<String>, String> {
    if let Ok(v) = std::env::var(env_var) {
        if v.is_empty() {
            return Err(format!("{env_var} is set but empty"));
        }
        return Ok(Zeroizing::new(v));
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!("no terminal to prompt on; set {env_var}"));
    }
    let prompt = match what {
        Some(w) => format!("passphrase for {w}: "),
        None => "passphrase: ".to_owned(),
    };
    let first = Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| format!("cannot read passphrase: {e}"))?);
    if first.is_empty() {
        return Err("empty passphrase".into());
    }
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("again: ").map_err(|e| format!("cannot read passphrase: {e}"))?,
        );
        if *again != *first {
            return Err("passphrases differ".into());
        }
    }
    Ok(first)
}
