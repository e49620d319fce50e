//! [`Slot`]: the state inside a mutable handle (Noise handshakes and transports).
//!
//! Identity handles are never mutated, so a panic cannot leave one half-updated. Noise handles
//! are: each message advances a state machine. The core already works on copies and commits
//! only on success, but a panic is a bug by definition, so the C layer does not rely on where
//! it happened: a handle whose mutating call panicked is *poisoned* and every later call on it
//! returns `SEALWIRE_PANIC` (only `_free` still works). A handshake turned into a transport
//! leaves an empty slot behind, which reports `SEALWIRE_HANDSHAKE_COMPLETE`.

use crate::result::{sealwire_result, FfiResult};

/// A value owned by a C handle, with a poison flag.
pub(crate) struct Slot<T> {
    value: Option<T>,
    poisoned: bool,
}

// Manual: the core types print no secrets, and this shows only the flags.
impl<T> core::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Slot")
            .field("present", &self.value.is_some())
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl<T> Slot<T> {
    pub(crate) fn new(value: T) -> Self {
        Self { value: Some(value), poisoned: false }
    }

    /// Shared access for calls that do not change the state.
    pub(crate) fn get(&self) -> FfiResult<&T> {
        if self.poisoned {
            return Err(sealwire_result::PANIC);
        }
        self.value.as_ref().ok_or(sealwire_result::HANDSHAKE_COMPLETE)
    }

    /// True once the value has been taken (a handshake turned into a transport).
    pub(crate) fn is_taken(&self) -> bool {
        !self.poisoned && self.value.is_none()
    }

    /// Exclusive access for a call that may change the state. If `f` panics, the flag set
    /// here is never cleared: the handle stays poisoned.
    pub(crate) fn with_mut<R>(&mut self, f: impl FnOnce(&mut T) -> FfiResult<R>) -> FfiResult<R> {
        if self.poisoned {
            return Err(sealwire_result::PANIC);
        }
        let value = self.value.as_mut().ok_or(sealwire_result::HANDSHAKE_COMPLETE)?;
        self.poisoned = true;
        let result = f(value);
        self.poisoned = false;
        result
    }

    /// Move the value out, leaving an empty slot.
    pub(crate) fn take(&mut self) -> FfiResult<T> {
        if self.poisoned {
            return Err(sealwire_result::PANIC);
        }
        self.value.take().ok_or(sealwire_result::HANDSHAKE_COMPLETE)
    }
}
