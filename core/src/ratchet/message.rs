//! Wire formats of the ratchet layer: the initial message (`SWRI`) and the ratchet message
//! (`SWRM`, standard or header-encrypted). Layouts in `docs/RATCHET_FORMATS.md`.

use crate::dh::{self, X25519_LEN};
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::PublicIdentity;

use super::kem::CT_LEN;
use super::padding::{padded_len, MAX_PLAINTEXT_LEN, MIN_PADDED_LEN};

pub(crate) const RATCHET_MAGIC: &[u8; 4] = b"SWRM";
pub(crate) const INITIAL_MAGIC: &[u8; 4] = b"SWRI";
pub(crate) const VERSION: u8 = 1;
/// Ratchet mode byte: header encryption (Double Ratchet §4).
pub(crate) const MODE_HEADER_ENCRYPTED: u8 = 0x01;
/// Ratchet mode byte: the standard Double Ratchet with a clear header.
pub(crate) const MODE_STANDARD: u8 = 0x02;
/// magic ‖ version ‖ mode.
pub(crate) const PREFIX_LEN: usize = 6;
/// `dh (32) ‖ pn (u32) ‖ n (u32)`.
pub(crate) const HEADER_LEN: usize = X25519_LEN + 8;
pub(crate) const HEADER_NONCE_LEN: usize = 24;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const ENC_HEADER_LEN: usize = HEADER_LEN + TAG_LEN;
const MIN_BODY_LEN: usize = MIN_PADDED_LEN + TAG_LEN;
const RATCHET_WHAT: &str = "ratchet message";
const INITIAL_WHAT: &str = "initial message";

/// Which key agreement started a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAgreement {
    /// X3DH (Signal, revision 1): X25519 only.
    X3dh,
    /// PQXDH (Signal): X3DH plus an ML-KEM-768 encapsulation.
    Pqxdh,
}

impl KeyAgreement {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            KeyAgreement::X3dh => 0x01,
            KeyAgreement::Pqxdh => 0x02,
        }
    }

    pub(crate) fn from_byte(b: u8) -> Result<Self> {
        match b {
            0x01 => Ok(KeyAgreement::X3dh),
            0x02 => Ok(KeyAgreement::Pqxdh),
            _ => Err(Error::UnsupportedAlgorithm("initial message key agreement")),
        }
    }
}

/// The kind of a sealwire ratchet-layer message, from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// `SWRI`: starts a session ([`super::Session::accept`]), or repeats the start of one.
    Initial,
    /// `SWRM`: a Double Ratchet message of an established session.
    Ratchet,
}

/// Classify a message by its first 5 bytes (magic and version) without decrypting it.
pub fn message_kind(message: &[u8]) -> Result<MessageKind> {
    let mut r = Reader::new(message, RATCHET_WHAT);
    let magic = r.take(4)?;
    let kind = if magic == RATCHET_MAGIC {
        MessageKind::Ratchet
    } else if magic == INITIAL_MAGIC {
        MessageKind::Initial
    } else {
        return Err(Error::BadMagic(RATCHET_WHAT));
    };
    let version = r.u8()?;
    if version != VERSION {
        return Err(Error::UnsupportedVersion { what: RATCHET_WHAT, version });
    }
    Ok(kind)
}

/// The Double Ratchet header `HEADER(dh_pair, pn, n)`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) dh: [u8; X25519_LEN],
    pub(crate) pn: u32,
    pub(crate) n: u32,
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..32].copy_from_slice(&self.dh);
        out[32..36].copy_from_slice(&self.pn.to_be_bytes());
        out[36..40].copy_from_slice(&self.n.to_be_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "ratchet header");
        let h = Self { dh: r.array()?, pn: r.u32()?, n: r.u32()? };
        r.finish()?;
        Ok(h)
    }
}

/// The header field of a ratchet message.
pub(crate) enum HeaderField<'a> {
    Clear(Header),
    Encrypted { nonce: [u8; HEADER_NONCE_LEN], ciphertext: &'a [u8] },
}

/// A decoded (not yet decrypted) ratchet message.
pub(crate) struct RatchetMessage<'a> {
    pub(crate) mode: u8,
    /// Everything before the body: magic, version, mode and the (encrypted) header. Bound
    /// as associated data of the body.
    pub(crate) authenticated: &'a [u8],
    pub(crate) header: HeaderField<'a>,
    pub(crate) body: &'a [u8],
}

pub(crate) fn parse_ratchet(bytes: &[u8]) -> Result<RatchetMessage<'_>> {
    let mut r = Reader::new(bytes, RATCHET_WHAT);
    if r.take(4)? != RATCHET_MAGIC {
        return Err(Error::BadMagic(RATCHET_WHAT));
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(Error::UnsupportedVersion { what: RATCHET_WHAT, version });
    }
    let mode = r.u8()?;
    let header = match mode {
        MODE_STANDARD => HeaderField::Clear(Header::decode(r.take(HEADER_LEN)?)?),
        MODE_HEADER_ENCRYPTED => {
            let nonce = r.array()?;
            HeaderField::Encrypted { nonce, ciphertext: r.take(ENC_HEADER_LEN)? }
        }
        _ => return Err(Error::UnsupportedAlgorithm("ratchet message mode")),
    };
    let header_end = bytes.len() - r.remaining();
    if r.remaining() < MIN_BODY_LEN {
        return Err(Error::Truncated(RATCHET_WHAT));
    }
    let body = r.rest();
    if body.len() > padded_len(MAX_PLAINTEXT_LEN) + TAG_LEN {
        return Err(Error::Malformed("ratchet message larger than the largest padded plaintext"));
    }
    Ok(RatchetMessage { mode, authenticated: &bytes[..header_end], header, body })
}

/// The session-establishing part of an initial message (everything before the embedded
/// ratchet message), as the initiator builds it.
pub(crate) struct InitialPrefix<'a> {
    pub(crate) agreement: KeyAgreement,
    pub(crate) mode: u8,
    pub(crate) initiator: &'a PublicIdentity,
    pub(crate) ephemeral: [u8; X25519_LEN],
    pub(crate) signed_prekey_id: u32,
    pub(crate) one_time_prekey_id: Option<u32>,
    pub(crate) kem: Option<(u32, &'a [u8])>,
}

impl InitialPrefix<'_> {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let id = self.initiator.to_bytes();
        let mut out = Vec::with_capacity(64 + id.len() + CT_LEN);
        out.extend_from_slice(INITIAL_MAGIC);
        out.push(VERSION);
        out.push(self.agreement.to_byte());
        out.push(self.mode);
        out.extend_from_slice(&(id.len() as u16).to_be_bytes());
        out.extend_from_slice(&id);
        out.extend_from_slice(&self.ephemeral);
        out.extend_from_slice(&self.signed_prekey_id.to_be_bytes());
        match self.one_time_prekey_id {
            None => out.push(0),
            Some(id) => {
                out.push(1);
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
        if let Some((id, ct)) = self.kem {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(ct);
        }
        out
    }
}

/// A decoded initial message.
pub(crate) struct InitialMessage<'a> {
    pub(crate) agreement: KeyAgreement,
    pub(crate) mode: u8,
    pub(crate) initiator: PublicIdentity,
    pub(crate) ephemeral: [u8; X25519_LEN],
    pub(crate) signed_prekey_id: u32,
    pub(crate) one_time_prekey_id: Option<u32>,
    pub(crate) kem: Option<(u32, &'a [u8])>,
    /// Bytes before the embedded ratchet message (identical in every initial message of one
    /// session; hashed into the session id).
    pub(crate) prefix: &'a [u8],
    /// The embedded ratchet message.
    pub(crate) inner: &'a [u8],
}

pub(crate) fn parse_initial(bytes: &[u8]) -> Result<InitialMessage<'_>> {
    let mut r = Reader::new(bytes, INITIAL_WHAT);
    if r.take(4)? != INITIAL_MAGIC {
        return Err(Error::BadMagic(INITIAL_WHAT));
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(Error::UnsupportedVersion { what: INITIAL_WHAT, version });
    }
    let agreement = KeyAgreement::from_byte(r.u8()?)?;
    let mode = r.u8()?;
    if mode != MODE_HEADER_ENCRYPTED && mode != MODE_STANDARD {
        return Err(Error::UnsupportedAlgorithm("initial message ratchet mode"));
    }
    let id_len = usize::from(r.u16()?);
    let identity_bytes = r.take(id_len)?;
    let ephemeral: [u8; X25519_LEN] = r.array()?;
    let signed_prekey_id = r.u32()?;
    let one_time_prekey_id = match r.u8()? {
        0 => None,
        1 => Some(r.u32()?),
        _ => return Err(Error::Malformed("initial message one-time prekey flag")),
    };
    let kem = match agreement {
        KeyAgreement::X3dh => None,
        KeyAgreement::Pqxdh => Some((r.u32()?, r.take(CT_LEN)?)),
    };
    let prefix_len = bytes.len() - r.remaining();
    let inner = r.rest();
    // The embedded message must be a ratchet message in the announced mode.
    let parsed = parse_ratchet(inner)?;
    if parsed.mode != mode {
        return Err(Error::Malformed("initial message: embedded message in another ratchet mode"));
    }
    let initiator = PublicIdentity::from_bytes(identity_bytes)?;
    dh::validate_public(&ephemeral)?;
    Ok(InitialMessage {
        agreement,
        mode,
        initiator,
        ephemeral,
        signed_prekey_id,
        one_time_prekey_id,
        kem,
        prefix: &bytes[..prefix_len],
        inner,
    })
}

/// The initiator's public identity named in an initial message (verified, not yet
/// authenticated as the sender: that needs [`super::Session::accept`]). For routing.
pub fn initial_message_sender(message: &[u8]) -> Result<PublicIdentity> {
    Ok(parse_initial(message)?.initiator)
}
