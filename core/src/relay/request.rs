//! Signed relay requests (`docs/RELAY.md`, "Request signatures"): the canonical signing
//! string, signing with an identity or mailbox key, and the relay's verification.

use sha2::{Digest, Sha256};

use super::mailbox::MailboxKeys;
use crate::error::{Error, Result};
use crate::identity::{verify_ed25519, Identity, RESERVED_SIGNING_PREFIX, SIGNATURE_LEN};
use crate::random;

/// Header carrying the signing Ed25519 public key (64 hex digits).
pub const HEADER_KEY: &str = "Sealwire-Key";
/// Header carrying the Unix time in seconds (decimal).
pub const HEADER_TIMESTAMP: &str = "Sealwire-Timestamp";
/// Header carrying the 16-byte nonce (32 hex digits).
pub const HEADER_NONCE: &str = "Sealwire-Nonce";
/// Header carrying the Ed25519 signature (128 hex digits).
pub const HEADER_SIGNATURE: &str = "Sealwire-Signature";
/// Length of a request nonce.
pub const NONCE_LEN: usize = 16;

const LABEL: &[u8] = b"relay-request-v1\x00";

/// The four authentication values of one request.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestAuth {
    /// The signing Ed25519 public key.
    pub key: [u8; 32],
    /// Unix time in seconds.
    pub timestamp: u64,
    /// Random, never reused with the same key.
    pub nonce: [u8; NONCE_LEN],
    /// Ed25519 signature over [`signing_bytes`].
    pub signature: [u8; SIGNATURE_LEN],
}

impl core::fmt::Debug for RequestAuth {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RequestAuth(..)")
    }
}

/// The bytes a request signature covers:
/// `"SEALWIRE\0relay-request-v1\0" ‖ METHOD ‖ \n ‖ path-and-query ‖ \n ‖ hex(SHA-256(body))
/// ‖ \n ‖ timestamp ‖ \n ‖ nonce hex ‖ \n ‖ key hex`. `method` and `path_and_query` must be
/// printable ASCII without spaces ([`Error::InvalidParameter`] otherwise).
pub fn signing_bytes(
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp: u64,
    nonce: &[u8; NONCE_LEN],
    key: &[u8; 32],
) -> Result<Vec<u8>> {
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Error::InvalidParameter("request method must be upper-case ASCII letters"));
    }
    if !path_and_query.starts_with('/') || !path_and_query.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(Error::InvalidParameter("request path must be printable ASCII starting with /"));
    }
    let mut m = Vec::with_capacity(RESERVED_SIGNING_PREFIX.len() + LABEL.len() + path_and_query.len() + 256);
    m.extend_from_slice(RESERVED_SIGNING_PREFIX);
    m.extend_from_slice(LABEL);
    m.extend_from_slice(method.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(path_and_query.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(hex_lower(&Sha256::digest(body)).as_bytes());
    m.push(b'\n');
    m.extend_from_slice(timestamp.to_string().as_bytes());
    m.push(b'\n');
    m.extend_from_slice(hex_lower(nonce).as_bytes());
    m.push(b'\n');
    m.extend_from_slice(hex_lower(key).as_bytes());
    Ok(m)
}

/// The signer of a request: an identity (its bundle) or a mailbox key (its mailbox).
#[derive(Debug, Clone, Copy)]
pub enum RequestSigner<'a> {
    /// The agent's identity key: publishing and checking its bundle.
    Identity(&'a Identity),
    /// The agent's mailbox key: opening, listing, fetching and acknowledging.
    Mailbox(&'a MailboxKeys),
}

impl RequestSigner<'_> {
    fn public_key(&self) -> [u8; 32] {
        match self {
            RequestSigner::Identity(i) => *i.public().ed25519_bytes(),
            RequestSigner::Mailbox(m) => m.signing_public(),
        }
    }
}

/// Sign one request at `timestamp` with a fresh random nonce.
pub fn sign_request(
    signer: RequestSigner<'_>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp: u64,
) -> Result<RequestAuth> {
    let mut nonce = [0u8; NONCE_LEN];
    random::fill(&mut nonce)?;
    sign_request_with_nonce(signer, method, path_and_query, body, timestamp, nonce)
}

/// [`sign_request`] with a caller-chosen nonce (tests of the relay's replay cache).
#[doc(hidden)]
pub fn sign_request_with_nonce(
    signer: RequestSigner<'_>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp: u64,
    nonce: [u8; NONCE_LEN],
) -> Result<RequestAuth> {
    let key = signer.public_key();
    let m = signing_bytes(method, path_and_query, body, timestamp, &nonce, &key)?;
    let signature = match signer {
        RequestSigner::Identity(i) => i.sign_protocol(&m),
        RequestSigner::Mailbox(k) => k.sign(&m),
    };
    Ok(RequestAuth { key, timestamp, nonce, signature })
}

impl RequestAuth {
    /// Parse the four header values (strict: lower-case hex of the exact length, a decimal
    /// timestamp without sign or leading zeros).
    pub fn from_headers(key: &str, timestamp: &str, nonce: &str, signature: &str) -> Result<Self> {
        let ts_ok = !timestamp.is_empty()
            && timestamp.len() <= 20
            && timestamp.bytes().all(|b| b.is_ascii_digit())
            && (timestamp == "0" || !timestamp.starts_with('0'));
        if !ts_ok {
            return Err(Error::InvalidEncoding("request timestamp"));
        }
        let timestamp: u64 = timestamp.parse().map_err(|_| Error::InvalidEncoding("request timestamp"))?;
        Ok(Self {
            key: hex_array(key, "request key")?,
            timestamp,
            nonce: hex_array(nonce, "request nonce")?,
            signature: hex_array(signature, "request signature")?,
        })
    }

    /// The header values, in the order key, timestamp, nonce, signature.
    pub fn header_values(&self) -> [String; 4] {
        [hex_lower(&self.key), self.timestamp.to_string(), hex_lower(&self.nonce), hex_lower(&self.signature)]
    }

    /// Verify the signature over this request (strict Ed25519). Freshness, ownership and
    /// nonce reuse are the relay's checks (`docs/RELAY.md`).
    pub fn verify(&self, method: &str, path_and_query: &str, body: &[u8]) -> Result<()> {
        let m = signing_bytes(method, path_and_query, body, self.timestamp, &self.nonce, &self.key)?;
        verify_ed25519(&self.key, &m, &self.signature)
    }
}

/// Lower-case hex.
pub fn hex_lower(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(HEX[usize::from(x >> 4)]));
        s.push(char::from(HEX[usize::from(x & 15)]));
    }
    s
}

/// Strict lower-case hex of exactly `N` bytes ([`Error::InvalidEncoding`] otherwise).
pub fn hex_array<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return Err(Error::InvalidEncoding(what));
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(Error::InvalidEncoding(what)),
    };
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (nib(b[2 * i])? << 4) | nib(b[2 * i + 1])?;
    }
    Ok(out)
}
