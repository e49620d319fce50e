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
    } else if ["invalid type", "invalid value", "invalid length", "wanted "].iter().any(|p| message.starts_with(p)) {
        FindingCode::WrongType
    } else {
        FindingCode::Syntax
    }
}

fn finding(text: &str, path: String, message: &str, offset: Option<usize>, line: Option<usize>, syntax: bool) -> Finding {
    // A parser error is a syntax error unless it is a duplicate key (TOML finds those while
    // parsing).
    let code = match classify(message) {
        c if syntax && c != FindingCode::DuplicateKey => FindingCode::Syntax,
        c => c,
    };
    // serde's words for the words of this format.
    let message = message.trim().replacen("unknown field", "unknown key", 1).replacen("unknown variant", "unknown value", 1);
    let message = message.replacen("missing field", "missing key", 1).replacen("duplicate field", "duplicate key", 1);
    let mut f = Finding::new(path, code, Severity::Error, message);
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

/// The keys of a finding's path (`a.b[2]` → `a`, `b`: an array is removed whole).
fn segments(path: &str) -> Vec<&str> {
    path.split('.').filter(|p| !p.is_empty()).map(|p| p.split_once('[').map_or(p, |(k, _)| k)).collect()
}

/// Most problems reported from one document (each round removes one key).
const MAX_PARSE_FINDINGS: usize = 64;

fn remove_toml(table: &mut toml::de::DeTable<'_>, segs: &[&str]) -> bool {
    let Some((first, rest)) = segs.split_first() else { return false };
    let Some(key) = table.keys().find(|k| k.get_ref().as_ref() == *first).cloned() else { return false };
    if rest.is_empty() {
        return table.remove(&key).is_some();
    }
    match table.get_mut(&key).map(|v| v.get_mut()) {
        Some(toml::de::DeValue::Table(t)) => remove_toml(t, rest),
        _ => false,
    }
}

fn remove_json(value: &mut serde_json::Value, segs: &[&str]) -> bool {
    let Some((first, rest)) = segs.split_first() else { return false };
    let Some(obj) = value.as_object_mut() else { return false };
    if rest.is_empty() {
        return obj.remove(*first).is_some();
    }
    obj.get_mut(*first).is_some_and(|v| remove_json(v, rest))
}

/// Parse strictly. On failure, every problem found: after each one the offending key is
/// removed and the document deserialized again, so one run reports all unknown keys, unknown
/// values and wrong types (not only the first).
pub(super) fn parse(text: &str, format: Format) -> Result<SecurityConfig, Vec<Finding>> {
    parse_unsorted(text, format).map_err(|mut f| {
        // Source order where lines are known, then by path.
        f.sort_by(|a, b| (a.line.unwrap_or(usize::MAX), &a.path).cmp(&(b.line.unwrap_or(usize::MAX), &b.path)));
        f
    })
}

fn parse_unsorted(text: &str, format: Format) -> Result<SecurityConfig, Vec<Finding>> {
    match format {
        Format::Toml => {
            let mut root = toml::de::DeTable::parse(text)
                .map_err(|e| vec![finding(text, String::new(), e.message(), e.span().map(|s| s.start), None, true)])?;
            let mut findings = Vec::new();
            while findings.len() < MAX_PARSE_FINDINGS {
                let de = toml::Deserializer::from(root.clone());
                match serde_path_to_error::deserialize::<_, SecurityConfig>(de) {
                    Ok(c) if findings.is_empty() => return Ok(c),
                    Ok(_) => break,
                    Err(e) => {
                        let path = path_string(e.path());
                        let inner = e.into_inner();
                        let removed = remove_toml(root.get_mut(), &segments(&path));
                        findings.push(finding(text, path, inner.message(), inner.span().map(|s| s.start), None, false));
                        if !removed {
                            break;
                        }
                    }
                }
            }
            Err(findings)
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let first = match serde_path_to_error::deserialize::<_, SecurityConfig>(&mut de) {
                Ok(value) => {
                    return match de.end() {
                        Ok(()) => Ok(value),
                        Err(e) => Err(vec![finding(
                            text,
                            String::new(),
                            "trailing characters after the JSON document",
                            None,
                            Some(e.line()),
                            true,
                        )]),
                    };
                }
                Err(e) => {
                    let path = path_string(e.path());
                    let inner = e.into_inner();
                    let msg = inner.to_string();
                    // serde_json appends " at line L column C"; keep the line separately.
                    let msg = msg.rsplit_once(" at line ").map_or(msg.as_str(), |(m, _)| m);
                    let line = (inner.line() > 0).then_some(inner.line());
                    let syntax = inner.is_syntax() || inner.is_eof();
                    finding(text, if syntax { String::new() } else { path }, msg, None, line, syntax)
                }
            };
            // A data error: find the others on the parsed document (lines are known only for
            // the first one).
            let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) else { return Err(vec![first]) };
            let mut findings = Vec::new();
            while findings.len() < MAX_PARSE_FINDINGS {
                match serde_path_to_error::deserialize::<_, SecurityConfig>(&value) {
                    Ok(_) => break,
                    Err(e) => {
                        let path = path_string(e.path());
                        let removed = remove_json(&mut value, &segments(&path));
                        let f = finding(text, path, &e.into_inner().to_string(), None, None, false);
                        let f = if (&f.path, f.code) == (&first.path, first.code) { first.clone() } else { f };
                        findings.push(f);
                        if !removed {
                            break;
                        }
                    }
                }
            }
            if findings.is_empty() {
                findings.push(first);
            }
            Err(findings)
        }
    }
}
