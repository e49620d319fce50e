//! The panic boundary: no Rust panic ever unwinds into C.
//!
//! Every `extern "C"` function runs its whole body through [`guard`] or [`guard_result`]. A
//! panic (a bug; none is expected) is caught, the partially built values are dropped (and so
//! zeroized), no out-parameter is written, and the caller gets `SEALWIRE_PANIC` (or the
//! documented neutral value for functions that return no result code).

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::result::{sealwire_result, FfiResult};

/// Run `f`, returning `on_panic` if it panics.
///
/// `AssertUnwindSafe` is sound here: identity handles are never mutated, and the closures
/// that mutate a handle (Noise builders, handshakes, transports) either assign the new state
/// as their last step (builders) or run inside `Slot::with_mut`, which leaves the handle
/// poisoned if the mutation panics (see `slot.rs`), so a half-updated state is never used.
pub(crate) fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// Run a fallible body and flatten it into a result code (`SEALWIRE_PANIC` on panic).
pub(crate) fn guard_result(f: impl FnOnce() -> FfiResult) -> sealwire_result {
    match guard(Err(sealwire_result::PANIC), f) {
        Ok(()) => sealwire_result::OK,
        Err(code) => code,
    }
}
