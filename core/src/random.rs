//! Randomness. Every key and nonce in sealwire comes from the operating system's CSPRNG,
//! except on the deterministic paths used to generate and replay known-answer vectors.
//!
//! Protocol code draws its randomness through [`RandomSource`]. The public API always passes
//! [`OsRandom`]; the `*_with_entropy` functions (hidden from the documentation) accept any
//! source, for instance a [`ByteTape`] holding the exact bytes recorded in a vector file.

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Fill `buf` from the operating system's CSPRNG.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::Randomness)
}

/// A source of random bytes. Implemented by [`OsRandom`] (the only source the public API
/// uses) and [`ByteTape`] (replay of recorded randomness for known-answer tests).
///
/// Not part of the stable API: only for test-vector generation and replay.
#[doc(hidden)]
pub trait RandomSource {
    /// Fill `buf` completely, or fail.
    fn fill(&mut self, buf: &mut [u8]) -> Result<()>;
}

/// The operating system's CSPRNG.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        fill(buf)
    }
}

/// Pre-recorded randomness, consumed front to back. Running out is an error
/// ([`Error::InvalidParameter`]); [`ByteTape::remaining`] tells whether everything was used.
///
/// **Only for known-answer tests.** Reusing a tape reuses keys and nonces.
#[doc(hidden)]
pub struct ByteTape {
    bytes: Zeroizing<Vec<u8>>,
    pos: usize,
}

impl core::fmt::Debug for ByteTape {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ByteTape({} of {} bytes left)", self.remaining(), self.bytes.len())
    }
}

impl ByteTape {
    /// A tape over a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        Self { bytes: Zeroizing::new(bytes.to_vec()), pos: 0 }
    }

    /// Bytes not consumed yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

impl RandomSource for ByteTape {
    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        let end = self
            .pos
            .checked_add(buf.len())
            .filter(|end| *end <= self.bytes.len())
            .ok_or(Error::InvalidParameter("deterministic randomness exhausted"))?;
        buf.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn tape_is_consumed_in_order_and_runs_out() {
        let mut t = ByteTape::new(&[1, 2, 3]);
        let mut a = [0u8; 2];
        t.fill(&mut a).unwrap();
        assert_eq!(a, [1, 2]);
        assert_eq!(t.remaining(), 1);
        assert!(t.fill(&mut a).is_err());
        let mut b = [0u8; 1];
        t.fill(&mut b).unwrap();
        assert_eq!(b, [3]);
        assert_eq!(t.remaining(), 0);
    }
}
