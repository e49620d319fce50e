//! A strict byte reader shared by every decoder: it never panics, never reads past the end,
//! and [`Reader::finish`] refuses trailing bytes.

use crate::error::{Error, Result};

/// Cursor over an input buffer. `what` names the structure in errors.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

#[allow(dead_code)] // the full reader is used by later formats
impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }

    /// Take exactly `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::Truncated(self.what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Take exactly `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Bytes not yet consumed.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Everything not yet consumed.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Succeeds only if the whole input was consumed.
    pub(crate) fn finish(self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes(self.what))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_is_strict() {
        let data = [1u8, 0, 2, 0, 0, 0, 3, 9];
        let mut r = Reader::new(&data, "test");
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 2);
        assert_eq!(r.u32().unwrap(), 3);
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.finish(), Err(Error::TrailingBytes("test")));
        let mut r = Reader::new(&data[..2], "test");
        r.u8().unwrap();
        assert_eq!(r.u16(), Err(Error::Truncated("test")));
    }
}
