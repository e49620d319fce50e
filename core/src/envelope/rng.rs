//! The randomness handed to the `hpke` crate.
//!
//! `hpke` wants an infallible `CryptoRng`. Instead of its panicking system-RNG wrapper, we
//! draw a 32-byte seed from the OS (a failure is a typed error) and expand it with
//! HMAC-SHA256 in counter mode: block i = HMAC-SHA256(seed, "SEALWIRE\0hpke-rng\0" ‖ u64 i).
//! Fixing the seed makes encapsulation deterministic, which only the vector generator does.

use core::convert::Infallible;

use hmac::{Hmac, KeyInit, Mac};
use hpke::rand_core::{TryCryptoRng, TryRng};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Result;
use crate::random;

const LABEL: &[u8] = b"SEALWIRE\x00hpke-rng\x00";

pub(crate) struct SeededRng {
    seed: Zeroizing<[u8; 32]>,
    counter: u64,
    block: Zeroizing<[u8; 32]>,
    used: usize,
}

impl SeededRng {
    pub(crate) fn from_os() -> Result<Self> {
        let mut seed = [0u8; 32];
        random::fill(&mut seed)?;
        let rng = Self::from_seed(&seed);
        zeroize::Zeroize::zeroize(&mut seed);
        Ok(rng)
    }

    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        Self { seed: Zeroizing::new(*seed), counter: 0, block: Zeroizing::new([0; 32]), used: 32 }
    }

    fn refill(&mut self) {
        // HMAC accepts keys of any length, so this cannot fail; fall back to zeros never used.
        if let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(self.seed.as_ref()) {
            m.update(LABEL);
            m.update(&self.counter.to_be_bytes());
            self.block.copy_from_slice(&m.finalize().into_bytes());
        }
        self.counter = self.counter.wrapping_add(1);
        self.used = 0;
    }
}

impl TryRng for SeededRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> core::result::Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> core::result::Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Infallible> {
        let mut off = 0;
        while off < dst.len() {
            if self.used == 32 {
                self.refill();
            }
            let n = (32 - self.used).min(dst.len() - off);
            dst[off..off + n].copy_from_slice(&self.block[self.used..self.used + n]);
            self.used += n;
            off += n;
        }
        Ok(())
    }
}

impl TryCryptoRng for SeededRng {}
