//! Strict parsing of TOML and JSON into [`SecurityConfig`], every failure turned into one
//! [`Finding`] with the key path, a code and the line.

use super::finding::{Finding, FindingCode, Severity};
use super::SecurityConfig;

/// The two textual forms of a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// TOML (files people write; `sealwire config init`).
    Toml,
    /// JSON (the bindings' form; same structure).
    Json,
}

impl Format {
    /// By file extension (`.toml` / `.json`, any case), else by content: JSON when the first
    /// non-blank character is `{`, TOML otherwise.
    pub fn detect(file_name: Option<&str>, text: &str) -> Self {
        let ext = file_name.and_then(|n| n.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("toml") => Format::Toml,
            Some("json") => Format::Json,
            _ if text.trim_start().starts_with('{') => Format::Json,
            _ => Format::Toml,
        }
    }

    /// `toml` or `json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Json => "json",
        }
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|&&b| b == b'\n').count() + 1
}

/// The code for a serde / parser message.
fn classify(message: &str) -> FindingCode {
    if message.starts_with("unknown field") {
        FindingCode::UnknownKey
    } else if message.starts_with("unknown variant") {
        FindingCode::UnknownValue
    } else if message.starts_with("missing field") {
        FindingCode::MissingKey
    } else if message.starts_with("duplicate field") || message.starts_with("duplicate key") {
        FindingCode::DuplicateKey
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") || message.starts_with("invalid length") {
        FindingCode::WrongType
    } else {
        FindingCode::Syntax
    }
}

/// The key an `unknown field` message names, to complete the path serde reports (the path of
/// the table holding it).
fn unknown_key_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(k, _)| k)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn finding(text: &str, path: String, message: &str, offset: Option<usize>, line: Option<usize>, syntax: bool) -> Finding {
    // A parser error is a syntax error unless it is a duplicate key (TOML finds those while
    // parsing).
    let code = match classify(message) {
        c if syntax && c != FindingCode::DuplicateKey => FindingCode::Syntax,
        c => c,
    };
    let path = match (code, unknown_key_name(message)) {
        (FindingCode::UnknownKey, Some(k)) if !path.ends_with(k) => join(&path, k),
        _ => path,
    };
    let mut f = Finding::new(path, code, Severity::Error, message.trim().to_owned());
    f.line = line.or_else(|| offset.map(|o| line_of(text, o)));
    f
}

fn path_string(p: &serde_path_to_error::Path) -> String {
    let s = p.to_string();
    if s == "." {
        String::new()
    } else {
        s
    }
}

pub(super) fn parse(text: &str, format: Format) -> Result<SecurityConfig, Finding> {
    match format {
        Format::Toml => {
            let de = toml::Deserializer::parse(text)
                .map_err(|e| finding(text, String::new(), e.message(), e.span().map(|s| s.start), None, true))?;
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = path_string(e.path());
                let inner = e.into_inner();
                finding(text, path, inner.message(), inner.span().map(|s| s.start), None, false)
            })
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let value: SecurityConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = path_string(e.path());
                let inner = e.into_inner();
                let msg = inner.to_string();
                // serde_json appends " at line L column C"; keep the line separately.
                let msg = msg.rsplit_once(" at line ").map_or(msg.as_str(), |(m, _)| m);
                let line = (inner.line() > 0).then_some(inner.line());
                let syntax = inner.is_syntax() || inner.is_eof();
                finding(text, if syntax { String::new() } else { path }, msg, None, line, syntax)
            })?;
            de.end().map_err(|e| finding(text, String::new(), "trailing characters after the JSON document", None, Some(e.line()), true))?;
            Ok(value)
        }
    }
}
