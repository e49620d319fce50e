//! Streaming envelopes: `sealwire_envelope_writer` (plaintext in, sealed bytes out) and
//! `sealwire_envelope_reader` (sealed bytes in, verified plaintext out), both push-style with
//! caller buffers and exact length queries, in memory bounded by one segment plus the chunk
//! being passed.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use sealwire_core::envelope::{
    header_len, EncryptionContext, EnvelopeHeader, EnvelopeReader, EnvelopeWriter, HEADER_PREFIX_LEN,
};
use zeroize::Zeroizing;

use crate::envelope::{seal_options, sealwire_envelope_header, sealwire_envelope_suite, SEALWIRE_ENVELOPE_TAG_LEN};
use crate::envelope_context::sealwire_context;
use crate::key_set::{sealwire_key_set, Provider};
use crate::panic::{guard, guard_result};
use crate::ptr::{free_handle, try_mut, try_ref, try_slice, write_handle, Out, OutBuf};
use crate::result::{sealwire_result, FfiResult};
use crate::slot::Slot;

const TAG: usize = SEALWIRE_ENVELOPE_TAG_LEN;

/// Where the core writer puts sealed bytes until the C call copies them out. Ciphertext and
/// header only: nothing secret.
#[derive(Debug, Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn len(&self) -> FfiResult<usize> {
        Ok(self.0.lock().map_err(|_| sealwire_result::PANIC)?.len())
    }
    fn take(&self) -> FfiResult<Vec<u8>> {
        Ok(core::mem::take(&mut *self.0.lock().map_err(|_| sealwire_result::PANIC)?))
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut v = self.0.lock().map_err(|_| std::io::Error::other("sink poisoned"))?;
        v.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sealed bytes passed in by C and not consumed by the core reader yet (at most a header or
/// one segment plus the current chunk). Ciphertext only.
#[derive(Debug, Clone, Default)]
struct Source(Arc<Mutex<VecDeque<u8>>>);

impl Source {
    fn lock(&self) -> FfiResult<std::sync::MutexGuard<'_, VecDeque<u8>>> {
        self.0.lock().map_err(|_| sealwire_result::PANIC)
    }
}

impl Read for Source {
    /// Hands out what is queued; `Ok(0)` when empty. The C layer calls the core reader only
    /// when a whole header or segment is queued, or at `finish` (then empty means the end).
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut q = self.0.lock().map_err(|_| std::io::Error::other("source poisoned"))?;
        q.read(buf)
    }
}

struct WriterState {
    writer: Option<EnvelopeWriter<Sink>>,
    sink: Sink,
    segment_size: usize,
    /// Plaintext bytes buffered in the core writer (a partial segment).
    buffered: usize,
    failed: Option<sealwire_result>,
}

/// A streaming envelope writer: plaintext goes in by chunks of any size, sealed bytes (the
/// header first, then each full segment) come out of the same calls, and
/// `sealwire_envelope_writer_finish()` seals the final, short segment. Memory: one segment
/// plus the chunk being written.
///
/// Opaque. Created by `sealwire_envelope_writer_new()`; owned by the caller, who releases it
/// once with `sealwire_envelope_writer_free()` (which zeroizes the keys and the buffered
/// plaintext). A writer freed before `_finish` leaves a stream that every reader refuses as
/// truncated. Not for concurrent use (it may move between threads). A failed call changes
/// nothing, except that a failure inside the core writer is sticky (later calls return the
/// same code); a writer whose call panicked is poisoned (SEALWIRE_PANIC).
#[derive(Debug)]
pub struct sealwire_envelope_writer {
    slot: Slot<WriterState>,
}

impl core::fmt::Debug for WriterState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WriterState")
            .field("finished", &self.writer.is_none())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Start a streaming envelope: a fresh data key wrapped by every provider of `key_set`,
/// `context` bound, `suite` and `segment_size` as for `sealwire_envelope_seal()`. The header
/// is produced now (the providers are called now; the writer keeps no reference to the key
/// set or the context) and handed out by the first `_write` or `_finish` call.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: as `sealwire_envelope_seal()`.
///
/// # Safety
/// `context` and `key_set` are NULL or live handles; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_writer_new(
    context: *const sealwire_context,
    key_set: *const sealwire_key_set,
    suite: sealwire_envelope_suite,
    segment_size: u32,
    out: *mut *mut sealwire_envelope_writer,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out = Out::new(out)?;
        let options = seal_options(suite, segment_size)?;
        let sink = Sink::default();
        let writer = EnvelopeWriter::new(sink.clone(), &context.inner, &key_set.as_dyn(), &options)?;
        let state = WriterState {
            writer: Some(writer),
            sink,
            segment_size: options.segment_size() as usize,
            buffered: 0,
            failed: None,
        };
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_envelope_writer { slot: Slot::new(state) }) };
        Ok(())
    })
}

/// Write `plaintext_len` bytes of plaintext. The sealed bytes that became ready (the header on
/// the first call, then every segment that filled up) go to `out` by the output-buffer
/// convention. The exact length is known before anything changes: header (first call) +
/// (number of segments completed) x (segment size + 16); a call with `out` NULL or too small
/// is a length query that consumes no plaintext. The output is never longer than the header
/// (first call only) plus `plaintext_len` plus one segment size plus 16 bytes for each of the
/// (`plaintext_len` / segment size) + 1 segments it can complete; writing chunks of exactly
/// the segment size gives one segment (segment size + 16 bytes) per call. `out = NULL` is always a query: when no output is expected (a partial
/// segment) pass any non-NULL `out`, `out_len` may be 0.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_STATE (already
/// finished), SEALWIRE_INVALID_PARAMETER (more than 2^32 segments).
///
/// # Safety
/// `writer` is NULL or a live handle not used concurrently; `plaintext` is NULL (only with
/// length 0) or readable for `plaintext_len` bytes; `out` is NULL or writable for `out_len`
/// bytes and does not overlap `plaintext`; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_writer_write(
    writer: *mut sealwire_envelope_writer,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let writer = unsafe { try_mut(writer) }?;
        // SAFETY: readable for `plaintext_len` bytes (caller contract).
        let plaintext = unsafe { try_slice(plaintext, plaintext_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        writer.slot.with_mut(|s| {
            if let Some(code) = s.failed {
                return Err(code);
            }
            let w = s.writer.as_mut().ok_or(sealwire_result::INVALID_STATE)?;
            let seg = s.segment_size;
            let total = s.buffered.checked_add(plaintext.len()).ok_or(sealwire_result::INVALID_PARAMETER)?;
            let required = (total / seg)
                .checked_mul(seg + TAG)
                .and_then(|n| n.checked_add(s.sink.len().ok()?))
                .ok_or(sealwire_result::INVALID_PARAMETER)?;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            if let Err(e) = w.write_plaintext(plaintext) {
                let code = sealwire_result::from(e);
                s.failed = Some(code);
                return Err(code);
            }
            s.buffered = total % seg;
            let sealed = s.sink.take()?;
            if sealed.len() != required {
                s.failed = Some(sealwire_result::INTERNAL_ERROR);
                return Err(sealwire_result::INTERNAL_ERROR);
            }
            // SAFETY: `out` writable for `out_len` >= `required` bytes (caller contract).
            unsafe { out.fill(&sealed) }
        })
    })
}

/// Seal the final segment (the buffered plaintext, possibly empty) and write the remaining
/// sealed bytes (header if not handed out yet + buffered plaintext + 16) to `out` by the
/// output-buffer convention; a query changes nothing. After success the writer is finished:
/// further `_write` / `_finish` calls return SEALWIRE_INVALID_STATE; free it as usual.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_STATE.
///
/// # Safety
/// `writer` is NULL or a live handle not used concurrently; `out` is NULL or writable for
/// `out_len` bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_writer_finish(
    writer: *mut sealwire_envelope_writer,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let writer = unsafe { try_mut(writer) }?;
        let out = OutBuf::new(out, out_len, written)?;
        writer.slot.with_mut(|s| {
            if let Some(code) = s.failed {
                return Err(code);
            }
            if s.writer.is_none() {
                return Err(sealwire_result::INVALID_STATE);
            }
            let required = s.sink.len()? + s.buffered + TAG;
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            let w = s.writer.take().ok_or(sealwire_result::INVALID_STATE)?;
            if let Err(e) = w.finish() {
                let code = sealwire_result::from(e);
                s.failed = Some(code);
                return Err(code);
            }
            s.buffered = 0;
            let sealed = s.sink.take()?;
            if sealed.len() != required {
                s.failed = Some(sealwire_result::INTERNAL_ERROR);
                return Err(sealwire_result::INTERNAL_ERROR);
            }
            // SAFETY: `out` writable for `out_len` >= `required` bytes (caller contract).
            unsafe { out.fill(&sealed) }
        })
    })
}

/// Free a writer (zeroizing its keys and buffered plaintext). `writer` may be NULL (no-op).
///
/// # Safety
/// `writer` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_writer_free(writer: *mut sealwire_envelope_writer) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(writer) }
    })
}

struct ReaderState {
    context: EncryptionContext,
    /// The key set's providers, until the header is authenticated (then released).
    providers: Vec<Provider>,
    source: Source,
    reader: Option<EnvelopeReader<Source>>,
    failed: Option<sealwire_result>,
    done: bool,
}

impl core::fmt::Debug for ReaderState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReaderState")
            .field("header_read", &self.reader.is_some())
            .field("failed", &self.failed)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// A streaming envelope reader: sealed bytes go in by chunks of any size, and each call
/// returns the plaintext of the segments that became complete and verified. The header is
/// authenticated (context, unwrap, key commitment, header tag) as soon as it is complete,
/// before any segment is decrypted; a segment's plaintext is released only after its tag
/// verified; `sealwire_envelope_reader_finish()` verifies the final segment and reports a
/// stream that ended early (SEALWIRE_TRUNCATED). Memory: one segment plus the chunk passed.
///
/// Opaque. Created by `sealwire_envelope_reader_new()`; owned by the caller, who releases it
/// once with `sealwire_envelope_reader_free()` (which zeroizes the keys and buffers). Not for
/// concurrent use (it may move between threads). Errors from the checks and from decryption
/// are sticky: every later call returns the same code. A length query or a malformed-header
/// error changes nothing. A reader whose call panicked is poisoned (SEALWIRE_PANIC).
#[derive(Debug)]
pub struct sealwire_envelope_reader {
    slot: Slot<ReaderState>,
}

/// Start reading an envelope that must carry exactly `context` and be opened by the providers
/// of `key_set`. The reader keeps its own copy of the context and references to the
/// providers (released once the header is authenticated): both handles may be freed after
/// this call.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `context` and `key_set` are NULL or live handles; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_reader_new(
    context: *const sealwire_context,
    key_set: *const sealwire_key_set,
    out: *mut *mut sealwire_envelope_reader,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out = Out::new(out)?;
        let state = ReaderState {
            context: context.inner.clone(),
            providers: key_set.providers.clone(),
            source: Source::default(),
            reader: None,
            failed: None,
            done: false,
        };
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_envelope_reader { slot: Slot::new(state) }) };
        Ok(())
    })
}

/// Header length and segment size once the queued bytes followed by `more` hold a whole
/// header; `None` before. Decode errors of the header are returned.
fn peek_header(queued: &VecDeque<u8>, more: &[u8]) -> FfiResult<Option<(usize, usize)>> {
    let avail = queued.len() + more.len();
    if avail < HEADER_PREFIX_LEN {
        return Ok(None);
    }
    let take = |n: usize| -> Vec<u8> { queued.iter().copied().chain(more.iter().copied()).take(n).collect() };
    let len = header_len(&take(HEADER_PREFIX_LEN))?;
    if avail < len {
        return Ok(None);
    }
    let header = EnvelopeHeader::parse(&take(len))?;
    Ok(Some((len, header.segment_size() as usize)))
}

impl ReaderState {
    fn fail(&mut self, code: sealwire_result) -> sealwire_result {
        self.failed = Some(code);
        code
    }

    /// Pull exactly `n` bytes of verified plaintext from the core reader.
    fn pull(&mut self, n: usize) -> FfiResult<Zeroizing<Vec<u8>>> {
        let mut buf = Zeroizing::new(vec![0u8; n]);
        let mut got = 0;
        while got < n {
            let reader = self.reader.as_mut().ok_or(sealwire_result::INTERNAL_ERROR)?;
            match reader.read_plaintext(&mut buf[got..]) {
                Ok(0) => return Err(self.fail(sealwire_result::INTERNAL_ERROR)),
                Ok(k) => got += k,
                Err(e) => return Err(self.fail(e.into())),
            }
        }
        Ok(buf)
    }
}

/// Pass the next `sealed_len` bytes of the envelope. The plaintext of every segment that this
/// chunk completes (all verified) goes to `out` by the output-buffer convention. The exact
/// length is known before anything changes (from the header and the byte counts: complete
/// segments x segment size), so a call with `out` NULL or too small is a length query that
/// consumes nothing; a buffer of `sealed_len` + segment size always suffices. `out = NULL` is
/// always a query: when no output is expected (header bytes, a partial segment) pass any
/// non-NULL `out`, `out_len` may be 0. The final segment is held back until `_finish`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_STATE (already
/// finished); header decoding errors (not sticky); once the header is complete, the checks of
/// `sealwire_envelope_open()` (SEALWIRE_CONTEXT_MISMATCH, SEALWIRE_NO_MATCHING_KEY,
/// SEALWIRE_KEY_RETIRED, SEALWIRE_HEADER_AUTH_FAILED, SEALWIRE_COMMITMENT_MISMATCH, provider
/// failures) and SEALWIRE_DECRYPTION_FAILED for a bad segment (all sticky).
///
/// # Safety
/// `reader` is NULL or a live handle not used concurrently; `sealed` is NULL (only with
/// length 0) or readable for `sealed_len` bytes; `out` is NULL or writable for `out_len`
/// bytes and does not overlap `sealed`; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_reader_read(
    reader: *mut sealwire_envelope_reader,
    sealed: *const u8,
    sealed_len: usize,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let reader = unsafe { try_mut(reader) }?;
        // SAFETY: readable for `sealed_len` bytes (caller contract).
        let sealed = unsafe { try_slice(sealed, sealed_len) }?;
        let out = OutBuf::new(out, out_len, written)?;
        reader.slot.with_mut(|s| {
            if let Some(code) = s.failed {
                return Err(code);
            }
            if s.done {
                return Err(sealwire_result::INVALID_STATE);
            }
            let queued = s.source.lock()?.len();
            let avail = queued.checked_add(sealed.len()).ok_or(sealwire_result::INVALID_PARAMETER)?;
            // (header length to read first, segment size), once known.
            let layout = match &s.reader {
                Some(r) => Some((0, r.header().segment_size() as usize)),
                None => peek_header(&*s.source.lock()?, sealed)?,
            };
            let required = match layout {
                Some((hlen, seg)) => ((avail - hlen) / (seg + TAG)) * seg,
                None => 0,
            };
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            s.source.lock()?.extend(sealed.iter().copied());
            if s.reader.is_none() && layout.is_some() {
                let providers = s.providers.iter().map(|p| p as &dyn sealwire_core::envelope::KeyProvider).collect::<Vec<_>>();
                match EnvelopeReader::new(s.source.clone(), &s.context, &providers) {
                    Ok(r) => {
                        s.reader = Some(r);
                        s.providers = Vec::new();
                    }
                    Err(e) => return Err(s.fail(e.into())),
                }
            }
            let plaintext = s.pull(required)?;
            // SAFETY: `out` writable for `out_len` >= `required` bytes (caller contract).
            unsafe { out.fill(&plaintext) }
        })
    })
}

/// Signal the end of the sealed input: verify the final segment and write its plaintext
/// (the bytes still queued - 16) to `out` by the output-buffer convention (a query changes
/// nothing; `out = NULL` is always a query, so for an empty final segment pass any non-NULL
/// `out`). On success the whole envelope verified and the reader is finished: further
/// `_read` / `_finish` calls return SEALWIRE_INVALID_STATE.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_STATE;
/// SEALWIRE_TRUNCATED (the input ended inside the header or before the final segment: cut at
/// a segment boundary, or a final segment under 16 bytes); SEALWIRE_DECRYPTION_FAILED (the
/// final segment is modified, or data was appended or duplicated); or the sticky error of an
/// earlier call.
///
/// # Safety
/// `reader` is NULL or a live handle not used concurrently; `out` is NULL or writable for
/// `out_len` bytes; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_reader_finish(
    reader: *mut sealwire_envelope_reader,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle with exclusive access (caller contract).
        let reader = unsafe { try_mut(reader) }?;
        let out = OutBuf::new(out, out_len, written)?;
        reader.slot.with_mut(|s| {
            if let Some(code) = s.failed {
                return Err(code);
            }
            if s.done {
                return Err(sealwire_result::INVALID_STATE);
            }
            if s.reader.is_none() {
                // The input ended inside the header.
                return Err(s.fail(sealwire_result::TRUNCATED));
            }
            let required = s.source.lock()?.len().saturating_sub(TAG);
            // SAFETY: `written` is writable (caller contract). Checked before any change.
            unsafe { out.reserve(required) }?;
            // One byte of room more than the final segment holds, so the core reader is asked
            // for more until it reports the verified end (or an error).
            let mut buf = Zeroizing::new(vec![0u8; required + 1]);
            let mut got = 0;
            loop {
                let r = s.reader.as_mut().ok_or(sealwire_result::INTERNAL_ERROR)?;
                match r.read_plaintext(&mut buf[got..]) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(e) => return Err(s.fail(e.into())),
                }
                if got > required {
                    return Err(s.fail(sealwire_result::INTERNAL_ERROR));
                }
            }
            let finished = s.reader.as_ref().is_some_and(|r| r.is_finished());
            if got != required || !finished {
                return Err(s.fail(sealwire_result::INTERNAL_ERROR));
            }
            s.done = true;
            // SAFETY: `out` writable for `out_len` >= `required` bytes (caller contract).
            unsafe { out.fill(&buf[..got]) }
        })
    })
}

/// The authenticated header, as a NEW handle owned by the caller (free it with
/// `sealwire_envelope_header_free()`). Available once a `_read` call completed the header.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_STATE (the header has not been read and
/// authenticated yet).
///
/// # Safety
/// `reader` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_reader_header(
    reader: *const sealwire_envelope_reader,
    out: *mut *mut sealwire_envelope_header,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let reader = unsafe { try_ref(reader) }?;
        let out = Out::new(out)?;
        let state = reader.slot.get()?;
        let inner = state.reader.as_ref().ok_or(sealwire_result::INVALID_STATE)?.header().clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_envelope_header { inner }) };
        Ok(())
    })
}

/// Whether `sealwire_envelope_reader_finish()` succeeded: the whole envelope verified and all
/// plaintext was handed out. False for NULL.
///
/// # Safety
/// `reader` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_reader_is_finished(reader: *const sealwire_envelope_reader) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live handle (caller contract).
        match unsafe { try_ref(reader) } {
            Ok(r) => r.slot.get().map(|s| s.done).unwrap_or(false),
            Err(_) => false,
        }
    })
}

/// Free a reader (zeroizing its keys and buffers). `reader` may be NULL (no-op).
///
/// # Safety
/// `reader` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_reader_free(reader: *mut sealwire_envelope_reader) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(reader) }
    })
}
