//! Streaming seal and open in memory bounded by one segment.
//!
//! Framing rule (from the STREAM construction, as in C2SP chunked encryption): every segment
//! but the final one carries exactly `segment_size` plaintext bytes; the final segment is
//! always shorter (possibly empty) and is sealed with the last-segment flag set. A reader can
//! therefore tell the final segment by its length alone, with no look-ahead, and a stream cut
//! at a segment boundary is detected as truncated.

use std::io::{Read, Write};

use zeroize::Zeroizing;

use super::aead::TAG_LEN;
use super::commit::{DataKey, MessageKeys};
use super::context::EncryptionContext;
use super::format::{header_len, EnvelopeHeader, HEADER_PREFIX_LEN};
use super::provider::KeyProvider;
use super::{authenticate, build_header, KeySource, SealOptions};
use crate::error::{Error, Result};

/// Seals a stream: writes the header at construction, then one segment each time
/// `segment_size` plaintext bytes have been written, and the final segment on
/// [`finish`](EnvelopeWriter::finish).
///
/// Dropping the writer without calling `finish` leaves a stream without its final segment,
/// which every reader refuses as truncated. Memory: one segment buffer.
pub struct EnvelopeWriter<W: Write> {
    inner: W,
    keys: MessageKeys,
    pub(crate) buf: Zeroizing<Vec<u8>>,
    segment_size: usize,
    index: u32,
    failed: Option<Error>,
}

impl<W: Write> core::fmt::Debug for EnvelopeWriter<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EnvelopeWriter").field("segment", &self.index).finish_non_exhaustive()
    }
}

impl<W: Write> EnvelopeWriter<W> {
    /// Start an envelope on `inner` with a fresh data key wrapped for every provider.
    pub fn new(
        mut inner: W,
        context: &EncryptionContext,
        providers: &[&dyn KeyProvider],
        options: &SealOptions,
    ) -> Result<Self> {
        if providers.is_empty() {
            return Err(Error::InvalidParameter("at least one key provider is needed"));
        }
        let (dek, message_id, spare) = DataKey::generate_for_seal()?;
        let (header, keys) = build_header(context, options, message_id, KeySource::Providers(providers, dek, &spare), 0)?;
        inner.write_all(&header)?;
        let segment_size = options.segment_size() as usize;
        Ok(Self {
            inner,
            keys,
            buf: Zeroizing::new(Vec::with_capacity(segment_size + TAG_LEN)),
            segment_size,
            index: 0,
            failed: None,
        })
    }

    fn seal_buffer(&mut self, last: bool) -> Result<()> {
        let nonce = self.keys.nonce(self.index, last);
        let tag = self.keys.aead.seal_in_place(&nonce, &self.keys.digest, &mut self.buf)?;
        self.buf.extend_from_slice(&tag);
        self.inner.write_all(&self.buf)?;
        // The buffer holds ciphertext now (sealed in place), nothing to wipe.
        self.buf.clear();
        if !last {
            self.index = self
                .index
                .checked_add(1)
                .ok_or(Error::InvalidParameter("payload exceeds 2^32 segments"))?;
        }
        Ok(())
    }

    /// Write plaintext; sealed segments go out as soon as they are full.
    pub fn write_plaintext(&mut self, mut data: &[u8]) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        while !data.is_empty() {
            let room = self.segment_size - self.buf.len();
            let n = room.min(data.len());
            crate::aead::extend_chunked(&mut self.buf, &data[..n]);
            data = &data[n..];
            if self.buf.len() == self.segment_size {
                // A full segment is never the final one.
                if let Err(e) = self.seal_buffer(false) {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Seal the final (short, possibly empty) segment, flush, and return the inner writer.
    pub fn finish(mut self) -> Result<W> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.seal_buffer(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EnvelopeWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.write_plaintext(data)?;
        Ok(data.len())
    }

    /// Flushes the inner writer. Buffered plaintext of a partial segment stays buffered: it
    /// is sealed when the segment fills or at [`finish`](EnvelopeWriter::finish).
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[derive(Debug)]
enum State {
    Reading,
    Done,
    Failed(Error),
}

/// Opens a stream: reads and authenticates the header at construction (context, unwrap, key
/// commitment, header tag), then decrypts one segment at a time and releases a segment's
/// plaintext only after its tag verified. A stream that ends before its final segment is
/// reported as `Truncated`; a modified, reordered, duplicated or extended stream as
/// `DecryptionFailed`. Errors are sticky. Memory: one segment buffer. A read into a buffer
/// of at least one sealed segment (segment size + 16 bytes) opens the next segment directly
/// in that buffer, saving a copy.
///
/// As `io::Read`, errors come out as `io::Error` wrapping the sealwire [`Error`];
/// `Error::from(io_error)` recovers it.
pub struct EnvelopeReader<R: Read> {
    inner: R,
    header: EnvelopeHeader,
    keys: MessageKeys,
    pub(crate) buf: Zeroizing<Vec<u8>>,
    pos: usize,
    end: usize,
    index: u64,
    state: State,
}

impl<R: Read> core::fmt::Debug for EnvelopeReader<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EnvelopeReader").field("segment", &self.index).field("state", &self.state).finish_non_exhaustive()
    }
}

/// Read until `buf` is full or the reader reports end of stream; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

/// Read the segment with number `*index` from `inner` into `buf` (at least `seg + TAG_LEN`
/// bytes), authenticate and decrypt it in place; returns the plaintext length (at the start of
/// `buf`) and whether it was the final segment, and advances `*index`. A segment is final
/// exactly when it is short (see the module documentation).
fn open_next<R: Read>(inner: &mut R, keys: &MessageKeys, seg: usize, index: &mut u64, buf: &mut [u8]) -> Result<(usize, bool)> {
    let buf = buf.get_mut(..seg + TAG_LEN).ok_or(Error::InvalidParameter("segment buffer too small"))?;
    let n = read_full(inner, buf)?;
    let last = n < seg + TAG_LEN;
    if last && n < TAG_LEN {
        return Err(Error::Truncated("envelope payload (stream ended before the final segment)"));
    }
    let i = u32::try_from(*index).map_err(|_| Error::Malformed("envelope payload exceeds 2^32 segments"))?;
    let nonce = keys.nonce(i, last);
    let (ct, tag) = buf[..n].split_at_mut(n - TAG_LEN);
    keys.aead.open_in_place(&nonce, &keys.digest, ct, tag)?;
    *index += 1;
    Ok((n - TAG_LEN, last))
}

impl<R: Read> EnvelopeReader<R> {
    /// Read and authenticate the header from `inner`.
    pub fn new(mut inner: R, expected: &EncryptionContext, providers: &[&dyn KeyProvider]) -> Result<Self> {
        let mut prefix = [0u8; HEADER_PREFIX_LEN];
        if read_full(&mut inner, &mut prefix)? < HEADER_PREFIX_LEN {
            return Err(Error::Truncated("envelope header"));
        }
        let len = header_len(&prefix)?;
        let mut header_bytes = vec![0u8; len];
        header_bytes[..HEADER_PREFIX_LEN].copy_from_slice(&prefix);
        if read_full(&mut inner, &mut header_bytes[HEADER_PREFIX_LEN..])? < len - HEADER_PREFIX_LEN {
            return Err(Error::Truncated("envelope header"));
        }
        let header = EnvelopeHeader::parse(&header_bytes)?;
        let (keys, _dek) = authenticate(&header, &header_bytes, expected, providers)?;
        let seg = header.segment_size as usize;
        Ok(Self {
            inner,
            header,
            keys,
            buf: Zeroizing::new(vec![0u8; seg + TAG_LEN]),
            pos: 0,
            end: 0,
            index: 0,
            state: State::Reading,
        })
    }

    /// The authenticated header.
    pub fn header(&self) -> &EnvelopeHeader {
        &self.header
    }

    /// True once the final segment has verified and been fully read.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done) && self.pos == self.end
    }

    /// Read the next segment into the internal buffer and open it there.
    fn next_segment(&mut self) -> Result<()> {
        let seg = self.header.segment_size as usize;
        let (n, last) = open_next(&mut self.inner, &self.keys, seg, &mut self.index, &mut self.buf)?;
        self.pos = 0;
        self.end = n;
        if last {
            self.state = State::Done;
        }
        Ok(())
    }

    /// Like `io::Read::read`, with sealwire errors. Returns 0 only after the final segment
    /// verified and all plaintext was handed out.
    pub fn read_plaintext(&mut self, out: &mut [u8]) -> Result<usize> {
        loop {
            if self.pos < self.end {
                let n = (self.end - self.pos).min(out.len());
                crate::aead::copy_chunked(&mut out[..n], &self.buf[self.pos..self.pos + n]);
                self.pos += n;
                if self.pos == self.end {
                    zeroize::Zeroize::zeroize(&mut self.buf[..self.end]);
                }
                return Ok(n);
            }
            match &self.state {
                State::Done => return Ok(0),
                State::Failed(e) => return Err(e.clone()),
                State::Reading => {}
            }
            if out.is_empty() {
                return Ok(0);
            }
            let seg = self.header.segment_size as usize;
            if out.len() >= seg + TAG_LEN {
                // Room for a whole sealed segment: open it in the caller's buffer, which saves
                // copying the plaintext out and wiping our buffer. Nothing is returned unless
                // the tag verified; on failure the bytes written are ciphertext or wiped.
                match open_next(&mut self.inner, &self.keys, seg, &mut self.index, out) {
                    Ok((n, last)) => {
                        if last {
                            self.state = State::Done;
                        }
                        return Ok(n);
                    }
                    Err(e) => {
                        self.state = State::Failed(e.clone());
                        return Err(e);
                    }
                }
            }
            if let Err(e) = self.next_segment() {
                self.pos = 0;
                self.end = 0;
                self.state = State::Failed(e.clone());
                return Err(e);
            }
        }
    }

    /// The inner reader (positioned after the bytes consumed so far).
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for EnvelopeReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        Ok(self.read_plaintext(out)?)
    }
}
