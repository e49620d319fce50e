//! Envelope encryption: constants, one-shot `sealwire_envelope_seal()` /
//! `sealwire_envelope_open()`, and header inspection (`sealwire_envelope_header`).
//!
//! Streaming is in `envelope_stream.rs`, rewrap in `envelope_rewrap.rs`, the providers in
//! `key_set.rs`, `keyring.rs` and `xwing.rs`, the context in `envelope_context.rs`.

use core::ffi::c_char;

use sealwire_core::envelope::{self as env, EnvelopeHeader, SealOptions, Suite};
use zeroize::Zeroizing;

use crate::envelope_context::sealwire_context;
use crate::key_set::sealwire_key_set;
use crate::panic::{guard, guard_result};
use crate::ptr::{char_buf, free_handle, try_ref, try_slice, write_handle, write_owned_bytes, Out, OutBuf};
use crate::result::{sealwire_result, FfiResult};

/// The payload algorithm suite of an envelope: SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305 (the
/// default) or SEALWIRE_ENVELOPE_SUITE_AES_256_GCM; the values are the suite byte stored in
/// the header. A plain integer type: other values are refused with
/// SEALWIRE_INVALID_PARAMETER.
pub type sealwire_envelope_suite = u32;
/// ChaCha20-Poly1305 segments (the default).
pub const SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305: sealwire_envelope_suite = 1;
/// AES-256-GCM segments.
pub const SEALWIRE_ENVELOPE_SUITE_AES_256_GCM: sealwire_envelope_suite = 2;

/// Default plaintext segment size (64 KiB).
pub const SEALWIRE_ENVELOPE_DEFAULT_SEGMENT_SIZE: u32 = 65536;
/// Smallest allowed plaintext segment size, in bytes.
pub const SEALWIRE_ENVELOPE_MIN_SEGMENT_SIZE: u32 = 64;
/// Largest allowed plaintext segment size (16 MiB).
pub const SEALWIRE_ENVELOPE_MAX_SEGMENT_SIZE: u32 = 16777216;
/// Authentication tag added to every segment, in bytes.
pub const SEALWIRE_ENVELOPE_TAG_LEN: usize = 16;
/// Largest envelope header (1 MiB).
pub const SEALWIRE_ENVELOPE_MAX_HEADER_LEN: usize = 1048576;
/// Length of an envelope's message id, in bytes.
pub const SEALWIRE_ENVELOPE_MESSAGE_ID_LEN: usize = 32;
/// Length of a data key (what key-provider callbacks wrap and unwrap), in bytes.
pub const SEALWIRE_ENVELOPE_DATA_KEY_LEN: usize = 32;
/// Largest wrapped data key a header entry holds, in bytes.
pub const SEALWIRE_ENVELOPE_MAX_WRAPPED_KEY_LEN: usize = 65535;
/// A buffer of this many bytes always holds a provider id and its NUL.
pub const SEALWIRE_ENVELOPE_PROVIDER_BUFFER_LEN: usize = 65;
/// A buffer of this many bytes always holds a header entry's key id and its NUL.
pub const SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN: usize = 2049;
/// Length of a keyring root key, in bytes.
pub const SEALWIRE_KEYRING_ROOT_KEY_LEN: usize = 32;
/// Length of an X-Wing private key (a seed), in bytes.
pub const SEALWIRE_XWING_SEED_LEN: usize = 32;
/// Length of a raw X-Wing public key (ML-KEM-768 key || X25519 key), in bytes.
pub const SEALWIRE_XWING_PUBLIC_KEY_LEN: usize = 1216;
/// Length of an encoded X-Wing public key ("SWXP" || 0x01 || raw key), in bytes.
pub const SEALWIRE_XWING_PUBLIC_KEY_ENCODED_LEN: usize = 1221;

const _: () = assert!(SEALWIRE_ENVELOPE_DEFAULT_SEGMENT_SIZE == env::DEFAULT_SEGMENT_SIZE);
const _: () = assert!(SEALWIRE_ENVELOPE_MIN_SEGMENT_SIZE == env::MIN_SEGMENT_SIZE);
const _: () = assert!(SEALWIRE_ENVELOPE_MAX_SEGMENT_SIZE == env::MAX_SEGMENT_SIZE);
const _: () = assert!(SEALWIRE_ENVELOPE_MAX_HEADER_LEN == env::MAX_HEADER_LEN);
const _: () = assert!(SEALWIRE_ENVELOPE_MESSAGE_ID_LEN == env::MESSAGE_ID_LEN);
const _: () = assert!(SEALWIRE_ENVELOPE_DATA_KEY_LEN == env::DATA_KEY_LEN);
const _: () = assert!(SEALWIRE_ENVELOPE_MAX_WRAPPED_KEY_LEN == u16::MAX as usize);
const _: () = assert!(SEALWIRE_XWING_SEED_LEN == env::XWING_SEED_LEN);
const _: () = assert!(SEALWIRE_XWING_PUBLIC_KEY_LEN == env::XWING_PUBLIC_KEY_LEN);
const _: () = assert!(SEALWIRE_XWING_PUBLIC_KEY_ENCODED_LEN == env::XWingPublicKey::ENCODED_LEN);
const _: () = assert!(SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305 == Suite::ChaCha20Poly1305.id() as u32);
const _: () = assert!(SEALWIRE_ENVELOPE_SUITE_AES_256_GCM == Suite::Aes256Gcm.id() as u32);

/// Validated seal options from the C arguments.
pub(crate) fn seal_options(suite: sealwire_envelope_suite, segment_size: u32) -> FfiResult<SealOptions> {
    let suite = u8::try_from(suite)
        .ok()
        .and_then(|id| Suite::from_id(id).ok())
        .ok_or(sealwire_result::INVALID_PARAMETER)?;
    Ok(SealOptions::new(suite, segment_size)?)
}

/// Seal `plaintext` into a new envelope: a fresh data key, the payload in segments of
/// `segment_size` bytes (SEALWIRE_ENVELOPE_MIN_SEGMENT_SIZE ..=
/// SEALWIRE_ENVELOPE_MAX_SEGMENT_SIZE; SEALWIRE_ENVELOPE_DEFAULT_SEGMENT_SIZE is the usual
/// choice) under `suite`, the data key wrapped by every provider of `key_set` (at least one;
/// one header entry each), `context` bound to it.
///
/// The output is randomized, so it cannot be length-queried by a second call: on success
/// `*out_sealed` / `*out_sealed_len` receive a buffer allocated by this library, owned by the
/// caller, released with `sealwire_bytes_free(*out_sealed, *out_sealed_len)`. Its length is
/// the header length plus `sealwire_envelope_sealed_payload_len()`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (unknown suite, segment size out
/// of range, empty key set, more than 1024 providers, header over 1 MiB),
/// SEALWIRE_RANDOMNESS; from providers: SEALWIRE_KEY_NOT_FOUND (keyring without the key),
/// SEALWIRE_PROVIDER_FAILED / SEALWIRE_IO (callbacks), SEALWIRE_INVALID_PUBLIC_KEY,
/// SEALWIRE_KMS_* (KMS keys: auth, unknown or disabled key, unreachable, timeout, throttled).
/// With a KMS key in `key_set` the call blocks on the network (bounded; see
/// `sealwire_kms_key`).
///
/// # Safety
/// `plaintext` is NULL (only with length 0) or readable for `plaintext_len` bytes; `context`
/// and `key_set` are NULL or live handles; `out_sealed` and `out_sealed_len` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_seal(
    plaintext: *const u8,
    plaintext_len: usize,
    context: *const sealwire_context,
    key_set: *const sealwire_key_set,
    suite: sealwire_envelope_suite,
    segment_size: u32,
    out_sealed: *mut *mut u8,
    out_sealed_len: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `plaintext_len` bytes (caller contract).
        let plaintext = unsafe { try_slice(plaintext, plaintext_len) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out_sealed = Out::new(out_sealed)?;
        let out_sealed_len = Out::new(out_sealed_len)?;
        let options = seal_options(suite, segment_size)?;
        let sealed = env::seal_with(plaintext, &context.inner, &key_set.as_dyn(), &options)?;
        // SAFETY: both out-pointers writable (caller contract).
        unsafe { write_owned_bytes(out_sealed, out_sealed_len, sealed) };
        Ok(())
    })
}

/// Open an envelope made by `sealwire_envelope_seal()`, a streaming writer or any sealwire
/// binding. `context` must equal the stored context exactly; the providers of `key_set` are
/// tried against the header entries they own. Nothing is decrypted before the context, the
/// unwrap, the key commitment and the header tag all check out, and no plaintext is written
/// unless every segment verified.
///
/// The plaintext goes to `out` by the output-buffer convention. Its exact length follows from
/// the header and `sealed_len`, so a length query (out = NULL) decrypts nothing, and a buffer
/// of `sealed_len` bytes always suffices. (A query on a structurally incomplete envelope runs
/// the checks and reports their error, as the real call would.)
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL; header decoding
/// (SEALWIRE_TRUNCATED, SEALWIRE_BAD_MAGIC, SEALWIRE_UNSUPPORTED_VERSION,
/// SEALWIRE_UNSUPPORTED_ALGORITHM, SEALWIRE_MALFORMED); SEALWIRE_CONTEXT_MISMATCH;
/// SEALWIRE_NO_MATCHING_KEY (no entry for these keys), SEALWIRE_KEY_RETIRED,
/// SEALWIRE_HEADER_AUTH_FAILED, SEALWIRE_COMMITMENT_MISMATCH; then SEALWIRE_TRUNCATED (the
/// payload ends before its final segment) or SEALWIRE_DECRYPTION_FAILED (modified, reordered,
/// duplicated or appended data); provider failures (SEALWIRE_PROVIDER_FAILED, SEALWIRE_IO,
/// SEALWIRE_KMS_*; a wrapped key the KMS refuses for this object: SEALWIRE_CONTEXT_MISMATCH).
/// With a KMS key in `key_set` the call blocks on the network (bounded; see
/// `sealwire_kms_key`); the expected context is compared before any KMS call.
///
/// # Safety
/// `sealed` is NULL (only with length 0) or readable for `sealed_len` bytes; `context` and
/// `key_set` are NULL or live handles; `out` is NULL or writable for `out_len` bytes and does
/// not overlap `sealed`; `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_open(
    sealed: *const u8,
    sealed_len: usize,
    context: *const sealwire_context,
    key_set: *const sealwire_key_set,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `sealed_len` bytes (caller contract).
        let sealed = unsafe { try_slice(sealed, sealed_len) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let context = unsafe { try_ref(context) }?;
        // SAFETY: NULL or a live handle (caller contract).
        let key_set = unsafe { try_ref(key_set) }?;
        let out = OutBuf::new(out, out_len, written)?;
        EnvelopeHeader::parse(sealed)?;
        if let Ok(required) = env::opened_len(sealed) {
            // SAFETY: `written` is writable (caller contract). Checked before decrypting.
            unsafe { out.reserve(required) }?;
        }
        // A structurally incomplete payload falls through: core reports the first failing
        // check (context, keys, header authentication, then truncation), never success.
        let plaintext = Zeroizing::new(env::open(sealed, &context.inner, &key_set.as_dyn())?);
        // SAFETY: `out` writable for `out_len` >= the required length (checked above, and
        // `fill` checks again); it does not overlap `sealed` (caller contract).
        unsafe { out.fill(&plaintext) }
    })
}

/// The sealed payload length (everything after the header) for `plaintext_len` bytes in
/// segments of `segment_size`: every segment adds SEALWIRE_ENVELOPE_TAG_LEN bytes and the
/// final segment is always short (possibly empty), so there are
/// `plaintext_len / segment_size + 1` segments. In `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (segment size out of range, or
/// more than 2^32 segments).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_sealed_payload_len(
    plaintext_len: u64,
    segment_size: u32,
    out: *mut u64,
) -> sealwire_result {
    guard_result(|| {
        let out = Out::new(out)?;
        seal_options(SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305, segment_size)?;
        let n = env::sealed_payload_len(plaintext_len, segment_size)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(n) };
        Ok(())
    })
}

/// A decoded envelope header, for inspection without any key: suite, segment size, message
/// id, context and the wrapped-key entries (provider, key id, key version), e.g. to find the
/// objects that still use a retired key version. Nothing in it is authenticated until the
/// envelope is opened.
///
/// Opaque. Created by `sealwire_envelope_header_parse()`, `sealwire_envelope_reader_header()`
/// or `sealwire_envelope_rewrap_header()`; owned by the caller, who releases it once with
/// `sealwire_envelope_header_free()`. Never modified: may be used from several threads.
#[derive(Debug)] // redacted: suite, segment size, entries (no wrapped bytes)
pub struct sealwire_envelope_header {
    pub(crate) inner: EnvelopeHeader,
}

/// Decode the header at the start of `bytes` (the payload may follow, or not). Structural
/// checks only; nothing is authenticated.
///
/// On success `*out` receives a new handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_TRUNCATED, SEALWIRE_TRAILING_BYTES,
/// SEALWIRE_BAD_MAGIC, SEALWIRE_UNSUPPORTED_VERSION, SEALWIRE_UNSUPPORTED_ALGORITHM,
/// SEALWIRE_MALFORMED.
///
/// # Safety
/// `bytes` is NULL (only with length 0) or readable for `len` bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_parse(
    bytes: *const u8,
    len: usize,
    out: *mut *mut sealwire_envelope_header,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: readable for `len` bytes (caller contract).
        let bytes = unsafe { try_slice(bytes, len) }?;
        let out = Out::new(out)?;
        let inner = EnvelopeHeader::parse(bytes)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_envelope_header { inner }) };
        Ok(())
    })
}

/// The payload suite (SEALWIRE_ENVELOPE_SUITE_*), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `header` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_suite(
    header: *const sealwire_envelope_header,
    out: *mut sealwire_envelope_suite,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(sealwire_envelope_suite::from(header.inner.suite().id())) };
        Ok(())
    })
}

/// The plaintext segment size, in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `header` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_segment_size(
    header: *const sealwire_envelope_header,
    out: *mut u32,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(header.inner.segment_size()) };
        Ok(())
    })
}

/// Whether the envelope shares its data key with other envelopes (sealed through a
/// `sealwire_data_key_cache`: header flag, its wrapped entries bound to the scope -- suite,
/// segment size, context -- instead of to this one message), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `header` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_shares_data_key(
    header: *const sealwire_envelope_header,
    out: *mut bool,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(header.inner.shares_data_key()) };
        Ok(())
    })
}

/// The encoded header length (the payload starts at this offset), in `*out`. For a header
/// from `sealwire_envelope_rewrap_header()` this is the length as last encoded (the original
/// length until `sealwire_envelope_rewrap_header_bytes()` or `_apply()` ran).
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `header` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_len(
    header: *const sealwire_envelope_header,
    out: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(header.inner.len()) };
        Ok(())
    })
}

/// The 32-byte message id (output-buffer convention).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL.
///
/// # Safety
/// `header` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_message_id(
    header: *const sealwire_envelope_header,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = OutBuf::new(out, out_len, written)?;
        // SAFETY: `out`/`written` writable (caller contract); the id is ours.
        unsafe { out.fill(header.inner.message_id()) }
    })
}

/// The stored encryption context, as a NEW `sealwire_context` handle owned by the caller.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `header` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_context(
    header: *const sealwire_envelope_header,
    out: *mut *mut sealwire_context,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = Out::new(out)?;
        let inner = header.inner.context().clone();
        // SAFETY: `out` is writable (caller contract).
        unsafe { write_handle(out, sealwire_context { inner }) };
        Ok(())
    })
}

/// The number of wrapped-key entries (1 ..= 1024 in a parsed header), in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER.
///
/// # Safety
/// `header` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_wrapped_key_count(
    header: *const sealwire_envelope_header,
    out: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = Out::new(out)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(header.inner.wrapped_keys().len()) };
        Ok(())
    })
}

fn entry(header: &sealwire_envelope_header, index: usize) -> FfiResult<&env::WrappedKey> {
    header.inner.wrapped_keys().get(index).ok_or(sealwire_result::INVALID_PARAMETER)
}

/// The provider of entry `index` ("keyring", "hpke-x25519", "hpke-xwing", or another
/// provider's name) as a NUL-terminated string (output-buffer convention;
/// SEALWIRE_ENVELOPE_PROVIDER_BUFFER_LEN bytes always suffice).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_PARAMETER
/// (`index` out of range).
///
/// # Safety
/// `header` is NULL or a live handle; `out` is NULL or writable for `out_len` bytes;
/// `written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_wrapped_key_provider(
    header: *const sealwire_envelope_header,
    index: usize,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        let e = entry(header, index)?;
        // SAFETY: `out`/`written` writable (caller contract); the string is ours.
        unsafe { out.fill_cstr(e.provider()) }
    })
}

/// The key id of entry `index` (a keyring key id, a recipient key id, a KMS key name) as a
/// NUL-terminated string (output-buffer convention; SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN bytes
/// always suffice).
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_PARAMETER
/// (`index` out of range).
///
/// # Safety
/// As `sealwire_envelope_header_wrapped_key_provider()`.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_wrapped_key_id(
    header: *const sealwire_envelope_header,
    index: usize,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = OutBuf::new(char_buf(out), out_len, written)?;
        let e = entry(header, index)?;
        // SAFETY: `out`/`written` writable (caller contract); the string is ours.
        unsafe { out.fill_cstr(e.key_id()) }
    })
}

/// The key version of entry `index` (0 for providers without versions, such as recipients),
/// in `*out`.
///
/// Errors: SEALWIRE_NULL_POINTER, SEALWIRE_INVALID_PARAMETER (`index` out of range).
///
/// # Safety
/// `header` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_wrapped_key_version(
    header: *const sealwire_envelope_header,
    index: usize,
    out: *mut u32,
) -> sealwire_result {
    guard_result(|| {
        // SAFETY: NULL or a live handle (caller contract).
        let header = unsafe { try_ref(header) }?;
        let out = Out::new(out)?;
        let e = entry(header, index)?;
        // SAFETY: `out` is writable (caller contract).
        unsafe { out.write(e.key_version()) };
        Ok(())
    })
}

/// Free a header handle. `header` may be NULL (no-op).
///
/// # Safety
/// `header` is NULL or a handle from this library that has not been freed yet and is not in
/// use by another call; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sealwire_envelope_header_free(header: *mut sealwire_envelope_header) {
    guard((), || {
        // SAFETY: NULL or a live handle, freed once (caller contract).
        unsafe { free_handle(header) }
    })
}
