//! Fixed-size secret byte strings: zeroized on drop, never printed.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// `N` secret bytes. `Clone` exists only so a session can be updated transactionally (work on
/// a copy, commit on success); both copies are zeroized when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub(crate) struct Secret<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> Secret<N> {
    pub(crate) fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// `N` fresh bytes from `rng`.
    pub(crate) fn random(rng: &mut dyn crate::random::RandomSource) -> crate::Result<Self> {
        let mut s = Self([0u8; N]);
        rng.fill(&mut s.0)?;
        Ok(s)
    }
}

impl<const N: usize> core::fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A 32-byte key (root, chain, message, header key, X25519 private key).
pub(crate) type Key32 = Secret<32>;
