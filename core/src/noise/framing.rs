//! Framing for payloads larger than one Noise message (65535 bytes).
//!
//! ```text
//! framed  = frame+                     (the last frame has flag 0x01, all others 0x00)
//! frame   = len:u16be ‖ message        (len = byte length of message, 17 ..= 65535)
//! message = Noise transport message of (flag:u8 ‖ chunk)
//! ```
//!
//! The flag is inside the encryption, so an attacker can neither cut the stream short (the
//! last frame would lack the final flag: [`Error::Truncated`]) nor append to it (bytes after
//! the final frame: [`Error::TrailingBytes`]). An empty payload is one final frame with an
//! empty chunk. Decoding is all-or-nothing: on any error the transport's receiving state is
//! unchanged.

use super::cipher::TAG_LEN;
use zeroize::Zeroizing;

use super::transport::{rekey_due, Transport, MAX_PLAINTEXT_LEN};
use crate::encoding::Reader;
use crate::error::{Error, Result};

/// Largest chunk of application data in one frame (65535 − 16 − 1).
pub const MAX_FRAME_CHUNK: usize = MAX_PLAINTEXT_LEN - 1;
const FLAG_MORE: u8 = 0x00;
const FLAG_FINAL: u8 = 0x01;
const WHAT: &str = "Noise framed payload";
/// Bytes each frame adds to its chunk: length prefix (2), flag (1), tag (16).
const FRAME_OVERHEAD: usize = 2 + 1 + TAG_LEN;

impl Transport {
    /// Encrypt a payload of any size as a sequence of length-prefixed Noise messages (one
    /// per [`MAX_FRAME_CHUNK`] bytes). Consumes one sending nonce per frame.
    pub fn encrypt_framed(&mut self, payload: &[u8]) -> Result<Vec<u8>> {
        let mut chunks: Vec<&[u8]> = payload.chunks(MAX_FRAME_CHUNK).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let last = chunks.len() - 1;
        let mut out = Vec::with_capacity(payload.len() + chunks.len() * (2 + 1 + TAG_LEN));
        let mut plain = Vec::with_capacity(MAX_PLAINTEXT_LEN);
        for (i, chunk) in chunks.iter().enumerate() {
            plain.clear();
            plain.push(if i == last { FLAG_FINAL } else { FLAG_MORE });
            plain.extend_from_slice(chunk);
            let len = self.encrypted_len(plain.len())?;
            let prefix = u16::try_from(len)
                .map_err(|_| Error::MessageTooLarge { actual: len, limit: usize::from(u16::MAX) })?;
            out.extend_from_slice(&prefix.to_be_bytes());
            let start = out.len();
            out.resize(start + len, 0);
            let dst = out.get_mut(start..).ok_or(Error::InvalidParameter("framing buffer"))?;
            if let Err(e) = self.encrypt_into(&plain, dst) {
                zeroize::Zeroize::zeroize(&mut plain);
                return Err(e);
            }
        }
        zeroize::Zeroize::zeroize(&mut plain);
        Ok(out)
    }

    /// Length of the output of [`encrypt_framed`](Self::encrypt_framed) for a payload of
    /// `payload_len` bytes, without using a nonce: the payload plus 19 bytes (length prefix,
    /// flag, tag) per frame, one frame per started [`MAX_FRAME_CHUNK`] bytes and at least one.
    /// [`Error::OutOfTurn`] on the receive-only side of a one-way pattern;
    /// [`Error::MessageTooLarge`] if the length does not fit in a `usize`.
    pub fn encrypted_framed_len(&self, payload_len: usize) -> Result<usize> {
        self.encrypted_len(0)?; // the direction check `encrypt` makes
        let frames = payload_len.div_ceil(MAX_FRAME_CHUNK).max(1);
        frames
            .checked_mul(FRAME_OVERHEAD)
            .and_then(|overhead| overhead.checked_add(payload_len))
            .ok_or(Error::MessageTooLarge { actual: payload_len, limit: usize::MAX })
    }

    /// Length of the payload [`decrypt_framed`](Self::decrypt_framed) returns for `framed`,
    /// read from the frame headers without decrypting or changing any state: the sum over
    /// frames of (frame length − 17). Exact for a well-formed input, and never more than
    /// `framed.len()`; malformed input gives some value no larger than that (the decryption
    /// itself reports what is wrong). [`Error::OutOfTurn`] on the send-only side.
    pub fn decrypted_framed_len(&self, framed: &[u8]) -> Result<usize> {
        self.decrypted_len(TAG_LEN)?; // the direction check `decrypt` makes
        let mut r = Reader::new(framed, WHAT);
        let mut len = 0usize;
        while let Ok(frame_len) = r.u16() {
            let frame_len = usize::from(frame_len).min(r.remaining());
            if r.take(frame_len).is_err() {
                break;
            }
            len += frame_len.saturating_sub(TAG_LEN + 1);
        }
        Ok(len)
    }

    /// Decrypt the output of [`encrypt_framed`](Self::encrypt_framed): strict about
    /// truncation (anywhere, including a missing final frame), trailing bytes and
    /// non-canonical framing (a final flag other than 0x00/0x01, an empty non-final frame).
    pub fn decrypt_framed(&mut self, framed: &[u8]) -> Result<Vec<u8>> {
        // Work on a copy of the receiving state so a failure in frame k does not leave frames
        // 1..k consumed.
        let mut scratch = self.receiver_copy()?;
        let interval = self.rekey_interval();
        let mut r = Reader::new(framed, WHAT);
        let mut out = Vec::with_capacity(framed.len());
        let mut plain = Zeroizing::new(vec![0u8; MAX_PLAINTEXT_LEN]);
        loop {
            if r.remaining() == 0 {
                return Err(Error::Truncated(WHAT));
            }
            let len = usize::from(r.u16()?);
            let message = r.take(len)?;
            let plain_len = self.decrypted_len(message.len())?;
            let dst = plain.get_mut(..plain_len).ok_or(Error::Malformed(WHAT))?;
            scratch.decrypt_into(&[], message, dst, rekey_due(interval, scratch.nonce()))?;
            let (flag, chunk) = dst.split_first().ok_or(Error::Malformed(WHAT))?;
            match *flag {
                FLAG_FINAL => {
                    out.extend_from_slice(chunk);
                    break;
                }
                FLAG_MORE if !chunk.is_empty() => out.extend_from_slice(chunk),
                _ => return Err(Error::Malformed(WHAT)),
            }
        }
        r.finish()?;
        self.commit_receiver(scratch);
        Ok(out)
    }
}
