//! The only place raw pointers from C are turned into Rust references and slices, or written.
//!
//! Each helper checks for NULL first and states the remaining (uncheckable) obligations in its
//! `# Safety` section; the public functions pass those obligations on to the C caller in their
//! doc comments.

use core::ffi::c_char;
use core::ptr::{self, NonNull};

use zeroize::Zeroize;

use crate::result::{sealwire_result, FfiResult};

/// Borrow a handle.
///
/// # Safety
/// `handle` is NULL or a live handle created by this library (not yet freed), and is not freed
/// while the returned reference is in use.
pub(crate) unsafe fn try_ref<'a, T>(handle: *const T) -> FfiResult<&'a T> {
    // SAFETY: non-NULL `handle` points to a live, properly aligned `T` (caller contract).
    unsafe { handle.as_ref() }.ok_or(sealwire_result::NULL_POINTER)
}

/// Borrow a handle mutably (handshakes, transports, builders).
///
/// # Safety
/// `handle` is NULL or a live handle created by this library (not yet freed), not used by any
/// other call (on any thread) while the returned reference is in use.
pub(crate) unsafe fn try_mut<'a, T>(handle: *mut T) -> FfiResult<&'a mut T> {
    // SAFETY: non-NULL `handle` points to a live, properly aligned `T` to which this call has
    // exclusive access (caller contract).
    unsafe { handle.as_mut() }.ok_or(sealwire_result::NULL_POINTER)
}

/// Borrow a NUL-terminated C string as UTF-8 text.
///
/// # Safety
/// `s` is NULL or points to a NUL-terminated string that stays valid and unmodified while the
/// returned `&str` is in use.
pub(crate) unsafe fn try_str<'a>(s: *const c_char) -> FfiResult<&'a str> {
    if s.is_null() {
        return Err(sealwire_result::NULL_POINTER);
    }
    // SAFETY: non-NULL and NUL-terminated (caller contract).
    let c = unsafe { core::ffi::CStr::from_ptr(s) };
    c.to_str().map_err(|_| sealwire_result::INVALID_UTF8)
}

/// Borrow an input buffer that must hold UTF-8 text (not NUL-terminated; may contain NUL
/// characters). NULL is allowed when `len` is 0.
///
/// # Safety
/// As [`try_slice`].
pub(crate) unsafe fn try_utf8<'a>(data: *const u8, len: usize) -> FfiResult<&'a str> {
    // SAFETY: forwarded to our caller.
    let bytes = unsafe { try_slice(data, len) }?;
    core::str::from_utf8(bytes).map_err(|_| sealwire_result::INVALID_UTF8)
}

/// Borrow a NUL-terminated file name. On Unix any bytes are accepted (paths need not be
/// UTF-8); elsewhere the name must be UTF-8.
///
/// # Safety
/// As [`try_str`].
pub(crate) unsafe fn try_path<'a>(s: *const c_char) -> FfiResult<&'a std::path::Path> {
    if s.is_null() {
        return Err(sealwire_result::NULL_POINTER);
    }
    // SAFETY: non-NULL and NUL-terminated (caller contract).
    let c = unsafe { core::ffi::CStr::from_ptr(s) };
    if c.is_empty() {
        return Err(sealwire_result::INVALID_PARAMETER);
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(std::path::Path::new(std::ffi::OsStr::from_bytes(c.to_bytes())))
    }
    #[cfg(not(unix))]
    {
        c.to_str().map(std::path::Path::new).map_err(|_| sealwire_result::INVALID_UTF8)
    }
}

/// Borrow an input buffer. NULL is allowed when `len` is 0 and gives an empty slice.
///
/// # Safety
/// If `data` is non-NULL it points to `len` readable bytes that stay valid and unmodified while
/// the returned slice is in use.
pub(crate) unsafe fn try_slice<'a>(data: *const u8, len: usize) -> FfiResult<&'a [u8]> {
    if data.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(sealwire_result::NULL_POINTER)
        };
    }
    if len > isize::MAX as usize {
        return Err(sealwire_result::INVALID_PARAMETER);
    }
    // SAFETY: non-NULL, `len` readable bytes (caller contract), `len` <= isize::MAX checked.
    Ok(unsafe { core::slice::from_raw_parts(data, len) })
}

/// Borrow an array of `count` handles (e.g. `const sealwire_public_identity *const *peers`).
/// NULL is allowed when `count` is 0 and gives an empty list; a NULL entry is
/// SEALWIRE_NULL_POINTER.
///
/// # Safety
/// If `items` is non-NULL it points to `count` readable, aligned pointers, each NULL or a live
/// handle created by this library that is not freed while the returned references are in use.
pub(crate) unsafe fn try_handles<'a, T>(items: *const *const T, count: usize) -> FfiResult<Vec<&'a T>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if items.is_null() {
        return Err(sealwire_result::NULL_POINTER);
    }
    if count > isize::MAX as usize / core::mem::size_of::<*const T>() {
        return Err(sealwire_result::INVALID_PARAMETER);
    }
    // SAFETY: non-NULL, readable for `count` aligned pointers (caller contract), size checked.
    let ptrs = unsafe { core::slice::from_raw_parts(items, count) };
    ptrs.iter()
        .map(|&p| {
            // SAFETY: NULL or a live handle (caller contract).
            unsafe { try_ref(p) }
        })
        .collect()
}

/// A checked, not-yet-written out-parameter (`T *out`). Checking happens before any work is
/// done; writing happens last, only on success.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// NULL check only.
    pub(crate) fn new(out: *mut T) -> FfiResult<Self> {
        NonNull::new(out).map(Self).ok_or(sealwire_result::NULL_POINTER)
    }

    /// Store `value`. The previous contents are overwritten, not dropped.
    ///
    /// # Safety
    /// The pointer given to [`Out::new`] is valid for writing a properly aligned `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-NULL (checked in `new`), writable and aligned (caller contract).
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// A caller's handle variable (`T **handle`) whose handle moves into this library (an
/// ownership transfer): checked and read first; set to NULL with [`HandleVar::clear`] only
/// once the transfer succeeded, so that the caller's variable can no longer reach the handle.
pub(crate) struct HandleVar<T>(NonNull<*mut T>);

impl<T> HandleVar<T> {
    /// NULL checks of the variable and of the handle in it; returns the handle.
    ///
    /// # Safety
    /// `var` is NULL or readable and writable (a `T *` variable).
    pub(crate) unsafe fn new(var: *mut *mut T) -> FfiResult<(Self, NonNull<T>)> {
        let var = NonNull::new(var).ok_or(sealwire_result::NULL_POINTER)?;
        // SAFETY: non-NULL, readable (caller contract).
        let handle = unsafe { var.as_ptr().read() };
        let handle = NonNull::new(handle).ok_or(sealwire_result::NULL_POINTER)?;
        Ok((Self(var), handle))
    }

    /// Set the caller's variable to NULL.
    ///
    /// # Safety
    /// The variable given to [`HandleVar::new`] is still writable.
    pub(crate) unsafe fn clear(self) {
        // SAFETY: non-NULL (checked in `new`), writable (caller contract).
        unsafe { self.0.as_ptr().write(ptr::null_mut()) }
    }
}

/// Move `value` to the heap and store the new handle in `out` (ownership passes to C, which
/// must give it back to the matching `_free`).
///
/// # Safety
/// As [`Out::write`].
pub(crate) unsafe fn write_handle<T>(out: Out<*mut T>, value: T) {
    let handle = Box::into_raw(Box::new(value));
    // SAFETY: forwarded to our caller.
    unsafe { out.write(handle) }
}

/// A caller-provided output buffer with its length and the `written` out-parameter, following
/// the header's buffer convention: if `data` is NULL or `len` is too small, `*written` is set
/// to the required length and the call fails with `SEALWIRE_BUFFER_TOO_SMALL`.
pub(crate) struct OutBuf {
    data: *mut u8,
    len: usize,
    written: Out<usize>,
}

impl OutBuf {
    /// Only `written` is required to be non-NULL; `data` may be NULL (length query).
    pub(crate) fn new(data: *mut u8, len: usize, written: *mut usize) -> FfiResult<Self> {
        Ok(Self {
            data,
            len,
            written: Out::new(written)?,
        })
    }

    /// Check up front that the buffer can hold `required` bytes; otherwise set `*written` to
    /// `required` and fail with `SEALWIRE_BUFFER_TOO_SMALL`. Calls that change state (Noise
    /// messages) check with the exact length before mutating anything, then [`fill`](Self::fill).
    ///
    /// # Safety
    /// `written` is writable.
    pub(crate) unsafe fn reserve(&self, required: usize) -> FfiResult {
        if self.data.is_null() || self.len < required {
            // SAFETY: `written` is writable (caller contract). The documented exception: an
            // out-parameter written on failure.
            unsafe { self.written.0.as_ptr().write(required) };
            return Err(sealwire_result::BUFFER_TOO_SMALL);
        }
        Ok(())
    }

    /// Copy `src` into the buffer.
    ///
    /// # Safety
    /// If `data` is non-NULL it is writable for `len` bytes and does not overlap `src`;
    /// `written` is writable.
    pub(crate) unsafe fn fill(self, src: &[u8]) -> FfiResult {
        // SAFETY: forwarded to our caller.
        unsafe { self.fill_parts(src, false) }
    }

    /// Copy `s` and a terminating NUL into the buffer (`*written` counts the NUL).
    ///
    /// # Safety
    /// As [`OutBuf::fill`].
    pub(crate) unsafe fn fill_cstr(self, s: &str) -> FfiResult {
        if s.as_bytes().contains(&0) {
            // Did and fingerprint strings never contain NUL; refuse rather than truncate.
            return Err(sealwire_result::INTERNAL_ERROR);
        }
        // SAFETY: forwarded to our caller.
        unsafe { self.fill_parts(s.as_bytes(), true) }
    }

    /// # Safety
    /// As [`OutBuf::fill`].
    unsafe fn fill_parts(self, src: &[u8], nul: bool) -> FfiResult {
        let required = src.len() + usize::from(nul);
        if self.data.is_null() || self.len < required {
            // SAFETY: `written` is writable (caller contract). This is the one documented case
            // where an out-parameter is written on failure.
            unsafe { self.written.write(required) };
            return Err(sealwire_result::BUFFER_TOO_SMALL);
        }
        // SAFETY: `data` is non-NULL and writable for `len` >= `required` bytes, and does not
        // overlap `src` (caller contract; `src` is always memory this library owns).
        unsafe {
            ptr::copy_nonoverlapping(src.as_ptr(), self.data, src.len());
            if nul {
                self.data.add(src.len()).write(0);
            }
            self.written.write(required);
        }
        Ok(())
    }
}

/// Hand a Rust-allocated byte buffer to C: `*out_data` / `*out_len` receive pointer and length,
/// to be released with `sealwire_bytes_free(data, len)`.
///
/// # Safety
/// Both out-pointers are writable.
pub(crate) unsafe fn write_owned_bytes(out_data: Out<*mut u8>, out_len: Out<usize>, mut bytes: Vec<u8>) {
    // `sealwire_bytes_free` rebuilds a `Box<[u8]>` from pointer and length, so the allocation
    // must have exactly `len` bytes. A vector that is already exact (sealed envelopes are
    // built in one allocation of the final size) is converted without copying or
    // reallocating; otherwise copy into an exact-size allocation and wipe the original
    // instead of letting a reallocation drop it unwiped.
    let boxed: Box<[u8]> = if bytes.len() == bytes.capacity() {
        bytes.into_boxed_slice()
    } else {
        let b = Box::from(bytes.as_slice());
        bytes.zeroize();
        b
    };
    let len = boxed.len();
    let data = Box::into_raw(boxed).cast::<u8>();
    // SAFETY: forwarded to our caller.
    unsafe {
        out_data.write(data);
        out_len.write(len);
    }
}

/// Cast helper so string functions can take `char *` in C and reuse [`OutBuf`].
pub(crate) fn char_buf(data: *mut c_char) -> *mut u8 {
    data.cast::<u8>()
}

/// Drop a handle created by [`write_handle`]. NULL is a no-op.
///
/// # Safety
/// `handle` is NULL or a pointer created by [`write_handle`] (via `Box::into_raw`) for this
/// type, not freed yet and not in use by another call; it must not be used afterwards.
pub(crate) unsafe fn free_handle<T>(handle: *mut T) {
    if !handle.is_null() {
        // SAFETY: a live handle created by `Box::into_raw` in this library, freed once
        // (caller contract).
        drop(unsafe { Box::from_raw(handle) });
    }
}

/// Copy `src` into a caller array of `len` elements following the output-buffer convention
/// counted in elements: if `data` is NULL or `len < src.len()`, `*written` = `src.len()` and
/// the result is `SEALWIRE_BUFFER_TOO_SMALL`; otherwise the elements are copied and
/// `*written` = `src.len()`.
///
/// # Safety
/// If `data` is non-NULL it is writable for `len` properly aligned elements and does not
/// overlap `src`; `written` is writable.
pub(crate) unsafe fn fill_array<T: Copy>(data: *mut T, len: usize, written: Out<usize>, src: &[T]) -> FfiResult {
    if data.is_null() || len < src.len() {
        // SAFETY: `written` is writable (caller contract). The documented exception.
        unsafe { written.write(src.len()) };
        return Err(sealwire_result::BUFFER_TOO_SMALL);
    }
    // SAFETY: `data` is non-NULL, writable for `len` >= `src.len()` elements and does not
    // overlap `src` (caller contract; `src` is memory this library owns).
    unsafe {
        ptr::copy_nonoverlapping(src.as_ptr(), data, src.len());
        written.write(src.len());
    }
    Ok(())
}
