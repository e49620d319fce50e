//! The syntax of KMS key URIs (`vault://KEY[?mount=M]`, `aws-kms://KEY[?region=R&endpoint=URL]`),
//! shared by [`RemoteKey::from_uri`](crate::envelope::kms::RemoteKey) (feature `kms`), which
//! also resolves settings and builds the provider, and by the security configuration (feature
//! `config`), which only checks the syntax. One parser, so both accept exactly the same strings.

use crate::error::{Error, Result};

/// Query parameters a `vault://` URI may carry.
pub(crate) const VAULT_PARAMS: &[&str] = &["mount"];
/// Query parameters an `aws-kms://` URI may carry.
pub(crate) const AWS_PARAMS: &[&str] = &["region", "endpoint"];

/// A parsed URI: scheme, key, query parameters (each at most once).
pub(crate) struct Parsed {
    pub(crate) scheme: String,
    #[cfg_attr(not(feature = "kms"), allow(dead_code))]
    pub(crate) key: String,
    params: Vec<(String, String)>,
}

impl Parsed {
    pub(crate) fn new(uri: &str) -> Result<Self> {
        let (scheme, rest) = uri.split_once("://").ok_or(Error::InvalidParameter("KMS URI has no scheme (vault:// or aws-kms://)"))?;
        let (key, query) = rest.split_once('?').unwrap_or((rest, ""));
        let key = percent_decode(key)?;
        if key.is_empty() {
            return Err(Error::InvalidParameter("KMS URI names no key"));
        }
        let mut params: Vec<(String, String)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or(Error::InvalidParameter("KMS URI query entries are name=value"))?;
            let v = percent_decode(v)?;
            if v.is_empty() {
                return Err(Error::InvalidParameter("KMS URI query parameter is empty"));
            }
            if params.iter().any(|(n, _)| n == k) {
                return Err(Error::InvalidParameter("KMS URI query parameter given twice"));
            }
            params.push((k.to_owned(), v));
        }
        Ok(Self { scheme: scheme.to_owned(), key, params })
    }

    pub(crate) fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.params.iter().any(|(k, _)| !allowed.contains(&k.as_str())) {
            true => Err(Error::InvalidParameter("KMS URI has an unknown query parameter")),
            false => Ok(()),
        }
    }

    #[cfg_attr(not(feature = "kms"), allow(dead_code))]
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Check a URI's syntax completely (scheme, key, known parameters) without resolving
/// anything; returns its scheme (`vault` or `aws-kms`).
#[cfg_attr(not(feature = "config"), allow(dead_code))]
pub(crate) fn check_syntax(uri: &str) -> Result<&'static str> {
    let p = Parsed::new(uri)?;
    match p.scheme.as_str() {
        "vault" => p.only(VAULT_PARAMS).map(|()| "vault"),
        "aws-kms" => p.only(AWS_PARAMS).map(|()| "aws-kms"),
        _ => Err(Error::InvalidParameter("unknown KMS URI scheme (vault:// or aws-kms://)")),
    }
}

pub(crate) fn percent_decode(s: &str) -> Result<String> {
    let bad = || Error::InvalidParameter("KMS URI has bad percent-encoding");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(h, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}
