//! The live channel between two online agents: a hello frame naming the Noise protocol, the
//! Noise handshake (IK or XX family, from the security configuration), then Noise transport
//! records. Byte layouts in `docs/AGENT.md` ("Live channel").
//!
//! The channel carries **ratchet messages** (the same bytes the relay would carry), so the
//! messenger's commit order, deduplication and inbox apply to live traffic unchanged; the
//! channel adds an acknowledgement per message so the sender knows when the receiver has
//! committed it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::link::Link;
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity};
use crate::noise::{self, NoiseBuilder, Transport};
use crate::ratchet::PrekeyBundle;
use crate::store::MessageId;

/// Magic of the hello frame.
pub const HELLO_MAGIC: &[u8; 4] = b"SWAH";
/// Version of the hello frame and of the record layer.
pub const HELLO_VERSION: u8 = 1;
/// Prologue label: the prologue is this label followed by the whole hello frame, so the
/// protocol choice is authenticated by the handshake.
pub const PROLOGUE_LABEL: &[u8] = b"SEALWIRE\x00agent-link-v1\x00";
const HELLO_WHAT: &str = "agent hello";
const RECORD_WHAT: &str = "agent channel record";

/// Record type: the sender's prekey bundle (inside the Noise transport).
pub const RECORD_BUNDLE: u8 = 0x01;
/// Record type: a ratchet message.
pub const RECORD_MESSAGE: u8 = 0x02;
/// Record type: acknowledgement of a ratchet message by its message id.
pub const RECORD_ACK: u8 = 0x03;

/// Which handshake family a protocol name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// `IK` / `IKhfs`: the initiator knows the responder's key; identity payload in message 1.
    Ik,
    /// `XX` / `XXhfs`: first contact; identity payloads in messages 2 and 3.
    Xx,
}

/// The two protocol names an agent speaks (from its security configuration).
#[derive(Debug, Clone)]
pub(crate) struct Protocols {
    pub(crate) ik: String,
    pub(crate) xx: String,
}

impl Protocols {
    fn family_of(&self, name: &str) -> Option<Family> {
        if name == self.ik {
            Some(Family::Ik)
        } else if name == self.xx {
            Some(Family::Xx)
        } else {
            None
        }
    }
}

/// A decoded transport record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// The sender's prekey bundle (signed prekey and last-resort ML-KEM prekey only).
    Bundle(Vec<u8>),
    /// A ratchet message (`SWRI` / `SWRM`).
    Message(Vec<u8>),
    /// The receiver committed (or already had) the message with this id.
    Ack(MessageId),
}

impl Record {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let (kind, body): (u8, &[u8]) = match self {
            Record::Bundle(b) => (RECORD_BUNDLE, b),
            Record::Message(m) => (RECORD_MESSAGE, m),
            Record::Ack(id) => (RECORD_ACK, id),
        };
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(kind);
        out.extend_from_slice(body);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, RECORD_WHAT);
        let kind = r.u8()?;
        let record = match kind {
            RECORD_BUNDLE | RECORD_MESSAGE => {
                let body = r.rest().to_vec();
                if body.is_empty() {
                    return Err(Error::Truncated(RECORD_WHAT));
                }
                if kind == RECORD_BUNDLE {
                    Record::Bundle(body)
                } else {
                    Record::Message(body)
                }
            }
            RECORD_ACK => Record::Ack(r.array::<32>()?),
            _ => return Err(Error::Malformed("unknown agent channel record type")),
        };
        r.finish()?;
        Ok(record)
    }
}

/// `"SWAH" ‖ 0x01 ‖ len:u8 ‖ protocol name`.
pub(crate) fn encode_hello(protocol: &str) -> Result<Vec<u8>> {
    let len = u8::try_from(protocol.len()).map_err(|_| Error::InvalidParameter("protocol name longer than 255 bytes"))?;
    let mut out = Vec::with_capacity(6 + protocol.len());
    out.extend_from_slice(HELLO_MAGIC);
    out.push(HELLO_VERSION);
    out.push(len);
    out.extend_from_slice(protocol.as_bytes());
    Ok(out)
}

pub(crate) fn decode_hello(bytes: &[u8]) -> Result<String> {
    let mut r = Reader::new(bytes, HELLO_WHAT);
    if r.take(4)? != HELLO_MAGIC {
        return Err(Error::BadMagic(HELLO_WHAT));
    }
    let version = r.u8()?;
    if version != HELLO_VERSION {
        return Err(Error::UnsupportedVersion { what: HELLO_WHAT, version });
    }
    let len = usize::from(r.u8()?);
    let name = r.take(len)?;
    r.finish()?;
    let name = core::str::from_utf8(name).map_err(|_| Error::InvalidEncoding("protocol name"))?;
    Ok(name.to_owned())
}

fn prologue(hello: &[u8]) -> Vec<u8> {
    let mut p = PROLOGUE_LABEL.to_vec();
    p.extend_from_slice(hello);
    p
}

/// An established live channel.
pub(crate) struct Channel {
    link: Box<dyn Link>,
    transport: Transport,
    pub(crate) peer: PublicIdentity,
    pub(crate) peer_bundle: PrekeyBundle,
    pub(crate) protocol: String,
    pub(crate) initiator: bool,
    /// Messages sent over this channel and not yet acknowledged: message id → (outbox id,
    /// when sent).
    pub(crate) in_flight: HashMap<MessageId, (u64, Instant)>,
}

impl core::fmt::Debug for Channel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Channel")
            .field("protocol", &self.protocol)
            .field("initiator", &self.initiator)
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

/// What both handshake sides need.
pub(crate) struct Setup<'a> {
    pub(crate) identity: &'a Identity,
    pub(crate) protocols: &'a Protocols,
    /// Our bundle for the peer (no one-time prekeys: see `docs/AGENT.md`).
    pub(crate) bundle: &'a PrekeyBundle,
    pub(crate) timeout: Duration,
}

fn recv_required(link: &mut dyn Link, deadline: Instant) -> Result<Vec<u8>> {
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if let Some(f) = link.recv_frame(remaining)? {
            return Ok(f);
        }
        if Instant::now() >= deadline {
            return Err(Error::Io(std::io::ErrorKind::TimedOut));
        }
    }
}

fn expect_empty(payload: &[u8]) -> Result<()> {
    if payload.is_empty() {
        Ok(())
    } else {
        Err(Error::Malformed("unexpected handshake payload"))
    }
}

impl Channel {
    /// Initiator: IK when `peer` is known, XX otherwise.
    pub(crate) fn initiate(mut link: Box<dyn Link>, setup: &Setup<'_>, peer: Option<&PublicIdentity>) -> Result<Self> {
        let deadline = Instant::now() + setup.timeout;
        let protocol = if peer.is_some() { &setup.protocols.ik } else { &setup.protocols.xx };
        let hello = encode_hello(protocol)?;
        let mut builder = NoiseBuilder::new(protocol)?.local_identity(setup.identity).prologue(&prologue(&hello));
        if let Some(p) = peer {
            builder = builder.remote_identity(p);
        }
        let mut hs = builder.build_initiator()?;
        link.send_frame(&hello)?;
        let remote = match peer {
            Some(p) => {
                link.send_frame(&hs.write_message(&noise::identity_payload(setup.identity))?)?;
                expect_empty(&hs.read_message(&recv_required(link.as_mut(), deadline)?)?)?;
                p.clone()
            }
            None => {
                link.send_frame(&hs.write_message(&[])?)?;
                let payload = hs.read_message(&recv_required(link.as_mut(), deadline)?)?;
                let remote = hs.verify_identity_payload(&payload)?;
                link.send_frame(&hs.write_message(&noise::identity_payload(setup.identity))?)?;
                remote
            }
        };
        let transport = hs.into_transport()?;
        Self::finish(link, transport, remote, protocol.clone(), true, setup, deadline)
    }

    /// Responder: the hello names the protocol, which must be one of ours.
    pub(crate) fn respond(mut link: Box<dyn Link>, setup: &Setup<'_>) -> Result<Self> {
        let deadline = Instant::now() + setup.timeout;
        let hello = recv_required(link.as_mut(), deadline)?;
        let protocol = decode_hello(&hello)?;
        let family = setup
            .protocols
            .family_of(&protocol)
            .ok_or(Error::UnsupportedAlgorithm("the peer asked for a handshake this agent's configuration does not allow"))?;
        let mut hs =
            NoiseBuilder::new(&protocol)?.local_identity(setup.identity).prologue(&prologue(&hello)).build_responder()?;
        let remote = match family {
            Family::Ik => {
                let payload = hs.read_message(&recv_required(link.as_mut(), deadline)?)?;
                let remote = hs.verify_identity_payload(&payload)?;
                link.send_frame(&hs.write_message(&[])?)?;
                remote
            }
            Family::Xx => {
                expect_empty(&hs.read_message(&recv_required(link.as_mut(), deadline)?)?)?;
                link.send_frame(&hs.write_message(&noise::identity_payload(setup.identity))?)?;
                let payload = hs.read_message(&recv_required(link.as_mut(), deadline)?)?;
                hs.verify_identity_payload(&payload)?
            }
        };
        let transport = hs.into_transport()?;
        Self::finish(link, transport, remote, protocol, false, setup, deadline)
    }

    /// Exchange bundles: each side sends its own first, then reads the peer's, whose
    /// identity must be the one the handshake authenticated.
    fn finish(
        link: Box<dyn Link>,
        transport: Transport,
        peer: PublicIdentity,
        protocol: String,
        initiator: bool,
        setup: &Setup<'_>,
        deadline: Instant,
    ) -> Result<Self> {
        if peer == *setup.identity.public() {
            return Err(Error::IdentityMismatch("the peer presented our own identity"));
        }
        let mut ch = Self {
            link,
            transport,
            peer_bundle: setup.bundle.clone(),
            peer,
            protocol,
            initiator,
            in_flight: HashMap::new(),
        };
        ch.send(&Record::Bundle(setup.bundle.to_bytes()))?;
        let record = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if let Some(r) = ch.recv(remaining)? {
                break r;
            }
            if Instant::now() >= deadline {
                return Err(Error::Io(std::io::ErrorKind::TimedOut));
            }
        };
        let Record::Bundle(bytes) = record else {
            return Err(Error::Malformed("the first channel record must be the peer's bundle"));
        };
        let bundle = PrekeyBundle::from_bytes(&bytes)?;
        if bundle.identity() != &ch.peer {
            return Err(Error::IdentityMismatch("the channel peer sent another identity's bundle"));
        }
        ch.peer_bundle = bundle;
        Ok(ch)
    }

    /// Encrypt and send one record.
    pub(crate) fn send(&mut self, record: &Record) -> Result<()> {
        let plain = Zeroizing::new(record.encode());
        let framed = self.transport.encrypt_framed(&plain)?;
        self.link.send_frame(&framed)
    }

    /// The next record, waiting up to `timeout`.
    pub(crate) fn recv(&mut self, timeout: Duration) -> Result<Option<Record>> {
        let Some(frame) = self.link.recv_frame(timeout)? else { return Ok(None) };
        let plain = Zeroizing::new(self.transport.decrypt_framed(&frame)?);
        Record::decode(&plain).map(Some)
    }
}
