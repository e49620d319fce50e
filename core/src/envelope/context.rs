//! The encryption context: a string → string map bound to every envelope.
//!
//! Canonical encoding (also the form stored in the header and hashed into every key):
//! `count (u16)` then, for each entry in strictly increasing byte order of the key,
//! `key length (u16) ‖ key (UTF-8) ‖ value length (u16) ‖ value (UTF-8)`. Keys are non-empty.
//! Decoding refuses anything that is not exactly this form.

use std::collections::BTreeMap;

use crate::encoding::Reader;
use crate::error::{Error, Result};

/// Most entries a context may hold.
pub const MAX_CONTEXT_ENTRIES: usize = 1024;
/// Most bytes a context key or value may have.
pub const MAX_CONTEXT_FIELD_LEN: usize = u16::MAX as usize;
/// Most bytes the canonical encoding may take.
pub const MAX_CONTEXT_ENCODED_LEN: usize = 64 * 1024;

const WHAT: &str = "encryption context";

/// A string → string map bound to an envelope as associated data (AWS KMS calls the same idea
/// "encryption context"). It is stored in the clear in the header: never put secrets in it.
///
/// Ordered by the keys' bytes, so iteration order equals the canonical encoding's order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext {
    entries: BTreeMap<String, String>,
}

impl core::fmt::Debug for EncryptionContext {
    // Context values are application metadata; print only their number.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EncryptionContext({} entries)", self.entries.len())
    }
}

impl EncryptionContext {
    /// The empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Build a context from key/value pairs. Duplicate keys are an error.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self> {
        let mut ctx = Self::new();
        for (k, v) in pairs {
            if ctx.entries.contains_key(k.as_ref()) {
                return Err(Error::InvalidParameter("duplicate encryption context key"));
            }
            ctx.insert(k.as_ref(), v.as_ref())?;
        }
        Ok(ctx)
    }

    /// Insert or replace an entry. Keys must be non-empty; keys and values at most 65 535
    /// bytes; at most 1024 entries and 64 KiB encoded.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::InvalidParameter("encryption context keys must be non-empty"));
        }
        if key.len() > MAX_CONTEXT_FIELD_LEN || value.len() > MAX_CONTEXT_FIELD_LEN {
            return Err(Error::InvalidParameter("encryption context key or value longer than 65535 bytes"));
        }
        let old = self.entries.insert(key.to_owned(), value.to_owned());
        if self.entries.len() > MAX_CONTEXT_ENTRIES || self.encoded_len() > MAX_CONTEXT_ENCODED_LEN {
            match old {
                Some(v) => self.entries.insert(key.to_owned(), v),
                None => self.entries.remove(key),
            };
            return Err(Error::InvalidParameter("encryption context too large (1024 entries, 64 KiB)"));
        }
        Ok(())
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the context has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in canonical (byte-wise sorted) order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Length of the canonical encoding.
    pub fn encoded_len(&self) -> usize {
        2 + self.entries.iter().map(|(k, v)| 4 + k.len() + v.len()).sum::<usize>()
    }

    /// The canonical encoding (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        // Lengths were bounded on insert, so these casts cannot truncate.
        out.extend_from_slice(&(self.entries.len() as u16).to_be_bytes());
        for (k, v) in &self.entries {
            out.extend_from_slice(&(k.len() as u16).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
    }

    /// Decode a canonical encoding; anything else (unsorted or duplicate keys, empty keys,
    /// invalid UTF-8, trailing bytes) is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, WHAT);
        let ctx = Self::decode(&mut r)?;
        r.finish()?;
        Ok(ctx)
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let count = usize::from(r.u16()?);
        if count > MAX_CONTEXT_ENTRIES {
            return Err(Error::Malformed("encryption context has more than 1024 entries"));
        }
        let mut entries = BTreeMap::new();
        let mut last: Option<&[u8]> = None;
        let mut total = 2usize;
        for _ in 0..count {
            let klen = usize::from(r.u16()?);
            let key = r.take(klen)?;
            let vlen = usize::from(r.u16()?);
            let value = r.take(vlen)?;
            if key.is_empty() {
                return Err(Error::Malformed("empty encryption context key"));
            }
            if last.is_some_and(|prev| prev >= key) {
                return Err(Error::Malformed("encryption context keys not strictly increasing"));
            }
            last = Some(key);
            total += 4 + klen + vlen;
            if total > MAX_CONTEXT_ENCODED_LEN {
                return Err(Error::Malformed("encryption context larger than 64 KiB"));
            }
            let key = core::str::from_utf8(key).map_err(|_| Error::Malformed("encryption context key is not UTF-8"))?;
            let value =
                core::str::from_utf8(value).map_err(|_| Error::Malformed("encryption context value is not UTF-8"))?;
            entries.insert(key.to_owned(), value.to_owned());
        }
        Ok(Self { entries })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn canonical_round_trip_and_order() {
        let ctx = EncryptionContext::from_pairs([("tenant", "acme"), ("bucket", "b1"), ("Z", "")]).unwrap();
        let bytes = ctx.to_bytes();
        // "Z" < "bucket" < "tenant" byte-wise.
        assert_eq!(&bytes[..2], &[0, 3]);
        assert_eq!(&bytes[2..7], &[0, 1, b'Z', 0, 0]);
        assert_eq!(EncryptionContext::from_bytes(&bytes).unwrap(), ctx);
        assert_eq!(bytes.len(), ctx.encoded_len());
        assert_eq!(EncryptionContext::new().to_bytes(), vec![0, 0]);
    }

    #[test]
    fn strict_decoding() {
        let unsorted = [0, 2, 0, 1, b'b', 0, 0, 0, 1, b'a', 0, 0];
        assert!(matches!(EncryptionContext::from_bytes(&unsorted), Err(Error::Malformed(_))));
        let dup = [0, 2, 0, 1, b'a', 0, 0, 0, 1, b'a', 0, 0];
        assert!(matches!(EncryptionContext::from_bytes(&dup), Err(Error::Malformed(_))));
        let empty_key = [0, 1, 0, 0, 0, 0];
        assert!(matches!(EncryptionContext::from_bytes(&empty_key), Err(Error::Malformed(_))));
        let bad_utf8 = [0, 1, 0, 1, 0xff, 0, 0];
        assert!(matches!(EncryptionContext::from_bytes(&bad_utf8), Err(Error::Malformed(_))));
        assert!(matches!(EncryptionContext::from_bytes(&[0, 1, 0, 1]), Err(Error::Truncated(_))));
        assert!(matches!(EncryptionContext::from_bytes(&[0, 0, 0]), Err(Error::TrailingBytes(_))));
        assert!(EncryptionContext::from_pairs([("a", "1"), ("a", "2")]).is_err());
        assert!(EncryptionContext::new().insert("", "x").is_err());
    }
}
