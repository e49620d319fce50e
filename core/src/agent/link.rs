//! [`Link`]: how two agents exchange frames. The live channel (`agent/channel.rs`) runs its
//! Noise handshake and transport over any `Link`; [`TcpLink`] is the one for TCP (a `u32`
//! big-endian length before each frame), [`memory_link_pair`] connects two agents in one
//! process.
//!
//! A link only moves opaque frames, in order, without loss while it is up; it needs no
//! security of its own (everything after the first frame is a Noise message).

use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Largest frame a link carries (1 MiB). A longer frame is refused on both ends
/// ([`Error::MessageTooLarge`]); agent messages are far below it
/// ([`MAX_MESSAGE_LEN`](super::MAX_MESSAGE_LEN)).
pub const MAX_LINK_FRAME: usize = 1 << 20;

/// Length prefix of a [`TcpLink`] frame.
const PREFIX_LEN: usize = 4;

/// A bidirectional, ordered carrier of frames between two agents.
///
/// Small on purpose, so that any byte stream (TCP, a pipe, a WebSocket, a test harness) can
/// carry an agent's live channel. Contract:
/// * [`send_frame`](Link::send_frame) hands one whole frame to the carrier (it may buffer);
/// * [`recv_frame`](Link::recv_frame) returns the next whole frame, waiting at most
///   `timeout` (`Ok(None)`: nothing arrived in time; a zero timeout polls);
/// * a closed or broken link is an error ([`Error::Io`]) from then on.
pub trait Link: Send {
    /// Send one frame (at most [`MAX_LINK_FRAME`] bytes).
    fn send_frame(&mut self, frame: &[u8]) -> Result<()>;

    /// The next frame, waiting up to `timeout`; `Ok(None)` if none arrived in time.
    fn recv_frame(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>>;
}

impl<L: Link + ?Sized> Link for Box<L> {
    fn send_frame(&mut self, frame: &[u8]) -> Result<()> {
        (**self).send_frame(frame)
    }
    fn recv_frame(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        (**self).recv_frame(timeout)
    }
}

fn check_len(len: usize) -> Result<()> {
    if len > MAX_LINK_FRAME {
        return Err(Error::MessageTooLarge { actual: len, limit: MAX_LINK_FRAME });
    }
    Ok(())
}

/// A [`Link`] over a TCP stream: each frame is `len:u32be ‖ frame`.
pub struct TcpLink {
    stream: TcpStream,
    buf: Vec<u8>,
    broken: bool,
}

impl core::fmt::Debug for TcpLink {
    // No addresses in Debug output (they identify peers).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TcpLink {{ buffered: {}, broken: {} }}", self.buf.len(), self.broken)
    }
}

impl TcpLink {
    /// Wrap a connected stream (e.g. from `TcpListener::accept`). Sets `TCP_NODELAY` and a
    /// 10 s write timeout (a peer that stops reading cannot block the agent for ever).
    pub fn new(stream: TcpStream) -> Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self { stream, buf: Vec::new(), broken: false })
    }

    /// Connect to `address` (`host:port`), trying each resolved address for at most
    /// `timeout`.
    pub fn connect(address: &str, timeout: Duration) -> Result<Self> {
        let mut last = Error::Io(IoKind::NotFound);
        for addr in address.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => return Self::new(s),
                Err(e) => last = e.into(),
            }
        }
        Err(last)
    }

    /// A whole frame at the front of the buffer, if there is one.
    fn take_frame(&mut self) -> Result<Option<Vec<u8>>> {
        let Some(prefix) = self.buf.get(..PREFIX_LEN) else { return Ok(None) };
        let mut len = [0u8; PREFIX_LEN];
        len.copy_from_slice(prefix);
        let len = usize::try_from(u32::from_be_bytes(len)).map_err(|_| Error::Malformed("link frame length"))?;
        if let Err(e) = check_len(len) {
            self.broken = true;
            return Err(e);
        }
        if self.buf.len() < PREFIX_LEN + len {
            return Ok(None);
        }
        let frame = self.buf[PREFIX_LEN..PREFIX_LEN + len].to_vec();
        self.buf.drain(..PREFIX_LEN + len);
        Ok(Some(frame))
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        self.broken = true;
        Err(e)
    }
}

impl Link for TcpLink {
    fn send_frame(&mut self, frame: &[u8]) -> Result<()> {
        check_len(frame.len())?;
        if self.broken {
            return Err(Error::Io(IoKind::BrokenPipe));
        }
        let len = u32::try_from(frame.len()).map_err(|_| Error::InvalidParameter("frame length"))?;
        let mut out = Vec::with_capacity(PREFIX_LEN + frame.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(frame);
        if let Err(e) = self.stream.write_all(&out).and_then(|()| self.stream.flush()) {
            return self.fail(e.into());
        }
        Ok(())
    }

    fn recv_frame(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        if self.broken {
            return Err(Error::Io(IoKind::BrokenPipe));
        }
        let deadline = Instant::now() + timeout;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(frame) = self.take_frame()? {
                return Ok(Some(frame));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            // A zero read timeout means "block" to the OS: poll with the shortest one instead.
            if let Err(e) = self.stream.set_read_timeout(Some(remaining.max(Duration::from_millis(1)))) {
                return self.fail(e.into());
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return self.fail(Error::Io(IoKind::UnexpectedEof)),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => return self.fail(e.into()),
            }
        }
    }
}

/// One end of an in-process link (see [`memory_link_pair`]).
pub struct MemoryLink {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
}

impl core::fmt::Debug for MemoryLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MemoryLink")
    }
}

/// Two connected in-process link ends (unbounded queues): for tests, and for two agents in
/// one process. Dropping one end closes the link for the other.
pub fn memory_link_pair() -> (MemoryLink, MemoryLink) {
    let (tx_a, rx_b) = mpsc::channel();
    let (tx_b, rx_a) = mpsc::channel();
    (
        MemoryLink { tx: tx_a, rx: rx_a },
        MemoryLink { tx: tx_b, rx: rx_b },
    )
}

impl Link for MemoryLink {
    fn send_frame(&mut self, frame: &[u8]) -> Result<()> {
        check_len(frame.len())?;
        self.tx.send(frame.to_vec()).map_err(|_| Error::Io(IoKind::BrokenPipe))
    }

    fn recv_frame(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        match self.rx.recv_timeout(timeout) {
            Ok(f) => Ok(Some(f)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Error::Io(IoKind::UnexpectedEof)),
        }
    }
}
