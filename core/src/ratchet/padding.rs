//! Plaintext padding: ISO/IEC 7816-4 framing (`0x80` then zeros) up to a PADMÉ length.
//!
//! `padded_len(L) = max(32, PADMÉ(L + 1))`, where PADMÉ (Nikitin et al., "Reducing Metadata
//! Leakage from Encrypted Files and Communication with PURBs", PETS 2019) rounds a length `n`
//! up so only its top `⌊log2 ⌊log2 n⌋⌋ + 1` bits may be non-zero: at most 12 % overhead, and
//! only O(log log n) bits of the length leak. Decoding is strict: the padded length must be
//! exactly `padded_len` of the recovered plaintext.

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Smallest padded size: every message of up to 31 bytes looks the same.
pub(crate) const MIN_PADDED_LEN: usize = 32;
/// Largest plaintext accepted by `Session::encrypt` (16 MiB).
pub const MAX_PLAINTEXT_LEN: usize = 16 * 1024 * 1024;

/// PADMÉ(n) for n ≥ 2.
fn padme(n: usize) -> usize {
    let e = usize::BITS - 1 - n.leading_zeros(); // ⌊log2 n⌋ ≥ 1
    let s = u32::BITS - e.leading_zeros(); // ⌊log2 e⌋ + 1
    let last_bits = e - s;
    let mask = (1usize << last_bits) - 1;
    (n + mask) & !mask
}

/// Length of the padded form of a plaintext of `len` bytes (`len ≤ MAX_PLAINTEXT_LEN`).
pub(crate) fn padded_len(len: usize) -> usize {
    let n = len + 1;
    if n <= MIN_PADDED_LEN {
        MIN_PADDED_LEN
    } else {
        padme(n)
    }
}

pub(crate) fn pad(plaintext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::InvalidParameter("plaintext larger than 16 MiB"));
    }
    let total = padded_len(plaintext.len());
    let mut out = Zeroizing::new(Vec::with_capacity(total));
    out.extend_from_slice(plaintext);
    out.push(0x80);
    out.resize(total, 0);
    Ok(out)
}

pub(crate) fn unpad(padded: &[u8]) -> Result<Vec<u8>> {
    let end = padded.iter().rposition(|b| *b != 0).ok_or(Error::Malformed("message padding"))?;
    if padded[end] != 0x80 || padded_len(end) != padded.len() {
        return Err(Error::Malformed("message padding"));
    }
    Ok(padded[..end].to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn padme_values() {
        // Values from the PURBs paper's definition, and the 12 % bound.
        assert_eq!(padme(33), 36);
        assert_eq!(padme(100), 104);
        assert_eq!(padme(1000), 1024);
        assert_eq!(padme(1025), 1088);
        for n in 33..20_000usize {
            let p = padme(n);
            assert!(p >= n && (p - n) * 100 <= 12 * n, "{n} -> {p}");
        }
        assert_eq!(padded_len(0), 32);
        assert_eq!(padded_len(31), 32);
        assert_eq!(padded_len(32), 36);
    }

    #[test]
    fn roundtrip_and_strictness() {
        for len in [0usize, 1, 31, 32, 33, 100, 1000, 4097] {
            let pt: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let p = pad(&pt).unwrap();
            assert_eq!(p.len(), padded_len(len));
            assert_eq!(unpad(&p).unwrap(), pt);
        }
        assert!(unpad(&[0u8; 32]).is_err());
        let mut p = pad(b"abc").unwrap().to_vec();
        p[3] = 0x81;
        assert!(unpad(&p).is_err());
        // Valid framing but a non-canonical (too long) padded length.
        let mut long = pad(b"abc").unwrap().to_vec();
        long.extend_from_slice(&[0u8; 32]);
        assert!(unpad(&long).is_err());
        assert!(pad(&vec![0u8; MAX_PLAINTEXT_LEN + 1]).is_err());
    }
}
