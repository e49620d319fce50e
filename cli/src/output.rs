//! Output helpers: JSON string escaping (a few lines instead of a serializer dependency),
//! terminal-safe text, and progress bars on stderr.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Inputs larger than this get a byte progress bar (when stderr is a terminal).
pub const PROGRESS_MIN_BYTES: u64 = 4 * 1024 * 1024;

/// A JSON string literal (quoted, escaped).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe to print on a terminal: control characters and backslashes escaped.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A byte-count bar for an input of `len` bytes: visible only on a terminal and for inputs
/// of at least [`PROGRESS_MIN_BYTES`].
pub fn bytes_bar(len: Option<u64>) -> ProgressBar {
    match len {
        Some(len) if len >= PROGRESS_MIN_BYTES && stderr_is_terminal() => {
            let pb = ProgressBar::new(len);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            ) {
                pb.set_style(style);
            }
            pb
        }
        _ => ProgressBar::hidden(),
    }
}

/// A count bar over `n` files (hidden unless stderr is a terminal).
pub fn files_bar(n: u64) -> ProgressBar {
    if n == 0 || !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(n);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} files {wide_msg}") {
        pb.set_style(style);
    }
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(json_str("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
        assert_eq!(printable("a\nb\\"), "a\\nb\\\\");
    }
}
