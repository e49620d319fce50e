//! Finding identifiers inside free text (log messages, attribute values): DIDs, safety-number
//! fingerprints, long hex runs and long base64 / base64url / base58 runs. A hand-written
//! scanner (one pass, no regular-expression engine) so the rules stay small and exact; the
//! Python and Node scrubbers implement the same rules (docs/CONFIG.md, "Scrubbing rules").

use std::borrow::Cow;

/// Shortest hex run taken for a key, hash or id (16 bytes).
pub(super) const MIN_HEX_RUN: usize = 32;
/// Shortest mixed-case run taken for base64 / base58 key material (about 30 bytes).
pub(super) const MIN_B64_RUN: usize = 40;
/// Fewest five-digit groups taken for a fingerprint.
pub(super) const MIN_FINGERPRINT_GROUPS: usize = 4;

fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-')
}

fn is_did_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-')
}

/// `did:METHOD:ID` (W3C DID syntax, method lower-case alphanumeric) at `i`: its end.
fn did_at(t: &[u8], i: usize) -> Option<usize> {
    if !t[i..].starts_with(b"did:") {
        return None;
    }
    let m = i + 4;
    let method_len = t[m..].iter().take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit()).count();
    let colon = m + method_len;
    if method_len == 0 || t.get(colon) != Some(&b':') {
        return None;
    }
    let id_len = t[colon + 1..].iter().take_while(|&&b| is_did_id_byte(b)).count();
    // A DID does not end with ':' (a following "key: value" is not part of it).
    let mut end = colon + 1 + id_len;
    while end > colon + 1 && t[end - 1] == b':' {
        end -= 1;
    }
    (end > colon + 1).then_some(end)
}

/// Four or more groups of exactly five digits separated by single spaces at `i`: its end.
fn fingerprint_at(t: &[u8], i: usize) -> Option<usize> {
    let group = |p: usize| -> bool {
        t.len() >= p + 5 && t[p..p + 5].iter().all(u8::is_ascii_digit) && t.get(p + 5).is_none_or(|b| !b.is_ascii_alphanumeric())
    };
    let mut groups = 0;
    let mut p = i;
    let mut end = i;
    while group(p) {
        groups += 1;
        end = p + 5;
        if t.get(end) == Some(&b' ') {
            p = end + 1;
        } else {
            break;
        }
    }
    (groups >= MIN_FINGERPRINT_GROUPS).then_some(end)
}

/// The run starting at `i` if it looks like key material: its end (trailing `=` included).
fn run_at(t: &[u8], i: usize) -> Option<usize> {
    let len = t[i..].iter().take_while(|&&b| is_run_byte(b)).count();
    let run = &t[i..i + len];
    let padded = i + len + t[i + len..].iter().take(2).take_while(|&&b| b == b'=').count();
    if len >= MIN_HEX_RUN && run.iter().all(u8::is_ascii_hexdigit) {
        return Some(padded);
    }
    let mixed = run.iter().any(u8::is_ascii_uppercase) && run.iter().any(u8::is_ascii_lowercase) && run.iter().any(u8::is_ascii_digit);
    (len >= MIN_B64_RUN && mixed).then_some(padded)
}

/// `text` with every identifier replaced by `replace(identifier)`; borrowed when none is found.
pub(super) fn redact<'a>(text: &'a str, replace: impl Fn(&str) -> String) -> Cow<'a, str> {
    let t = text.as_bytes();
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut i = 0;
    while i < t.len() {
        // Matches start only where a run starts: never in the middle of a word or a key.
        let at_start = i == 0 || !is_run_byte(t[i - 1]);
        let found = if at_start { did_at(t, i).or_else(|| fingerprint_at(t, i)).or_else(|| run_at(t, i)) } else { None };
        match found {
            Some(end) => {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[last..i]);
                o.push_str(&replace(&text[i..end]));
                last = end;
                i = end;
            }
            None if is_run_byte(t[i]) => i += t[i..].iter().take_while(|&&b| is_run_byte(b)).count(),
            None => i += 1,
        }
    }
    match out {
        Some(mut o) => {
            o.push_str(&text[last..]);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(text),
    }
}
