//! OS randomness. Every key and nonce in sealwire comes from here.

use crate::error::{Error, Result};

/// Fill `buf` from the operating system's CSPRNG.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::Randomness)
}
