//! The agent's home directory: file names, key derivation, and the sealed agent state file
//! (`SWAS`). Layouts in `docs/AGENT.md` ("Home directory").

use std::fs::File;
use std::path::{Path, PathBuf};

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity};
use crate::store::{peer_id, PeerId};

/// The sealed agent state (peer table, publication mark, rollback anchor).
pub const STATE_FILE: &str = "agent.state";
/// The identity, Argon2id-encrypted (`SWIK`, `identity.storage = "passphrase-file"`).
pub const IDENTITY_FILE: &str = "identity.swik";
/// The identity sealed as an envelope under the KEK (`SWEV`, `identity.storage = "kek-envelope"`).
pub const IDENTITY_ENVELOPE_FILE: &str = "identity.swev";
/// The local keyring (`SWKR`, `storage.kek.provider = "keyring"`).
pub const KEYRING_FILE: &str = "keyring.swkr";
/// The messenger's SQLite store (`storage.session_store = "sqlite"`).
pub const SESSIONS_FILE: &str = "sessions.sqlite";
/// Held with an exclusive advisory lock while an agent has the home open.
pub const LOCK_FILE: &str = "lock";

/// Magic of the agent state file.
pub const STATE_MAGIC: &[u8; 4] = b"SWAS";
/// Version of the agent state file.
pub const STATE_VERSION: u8 = 1;
const STATE_WHAT: &str = "agent state";
const NONCE_LEN: usize = crate::xchacha::XNONCE_LEN;
/// magic ‖ version ‖ generation ‖ nonce: the AEAD's associated data.
const STATE_HEADER_LEN: usize = 4 + 1 + 8 + NONCE_LEN;
const TAG_LEN: usize = 16;
/// Longest peer address kept (bytes of UTF-8).
pub const MAX_ADDRESS_LEN: usize = 1024;
/// Most peers in the table.
pub const MAX_PEERS: usize = 100_000;

const KEYS_SALT: &[u8] = b"SEALWIRE_AGENT_KEYS_v1";
const STATE_FLAG_PUBLISH_RESET: u8 = 0x01;

/// Keys derived from the identity secret (nothing extra to back up).
pub(crate) struct AgentKeys {
    /// The messenger's storage key (`Messenger::open`).
    pub(crate) storage: Zeroizing<[u8; 32]>,
    /// Seals the agent state file.
    pub(crate) state: Zeroizing<[u8; 32]>,
}

/// `okm = HKDF-SHA256(salt = "SEALWIRE_AGENT_KEYS_v1", ikm = Ed25519 seed ‖ X25519 secret,
/// info = label)`, 32 bytes per label (`"storage"`, `"state"`).
pub(crate) fn derive_keys(identity: &Identity) -> Result<AgentKeys> {
    let (ed, x) = identity.secret_bytes();
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(ed.as_ref());
    ikm[32..].copy_from_slice(x.as_ref());
    let hk = Hkdf::<Sha256>::new(Some(KEYS_SALT), ikm.as_ref());
    let mut storage = Zeroizing::new([0u8; 32]);
    let mut state = Zeroizing::new([0u8; 32]);
    hk.expand(b"storage", storage.as_mut()).map_err(|_| Error::InvalidParameter("agent key derivation"))?;
    hk.expand(b"state", state.as_mut()).map_err(|_| Error::InvalidParameter("agent key derivation"))?;
    Ok(AgentKeys { storage, state })
}

/// One entry of the agent's peer table.
#[derive(Clone, PartialEq, Eq)]
pub struct KnownPeer {
    /// The peer, as authenticated by a handshake (or a ratchet session).
    pub identity: PublicIdentity,
    /// The address we last reached it at (`host:port`), if we ever connected to it.
    pub address: Option<String>,
    /// First contact, Unix seconds.
    pub first_seen: u64,
    /// Last handshake, Unix seconds.
    pub last_seen: u64,
}

impl core::fmt::Debug for KnownPeer {
    // Identities and addresses identify peers: not in Debug output.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KnownPeer {{ has_address: {}, first_seen: {}, last_seen: {} }}", self.address.is_some(), self.first_seen, self.last_seen)
    }
}

impl KnownPeer {
    /// The peer's id (Ed25519 key).
    pub fn peer_id(&self) -> PeerId {
        peer_id(&self.identity)
    }
}

/// The decoded state file body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AgentState {
    /// Times written (bound into the header).
    pub(crate) generation: u64,
    /// `Messenger::counter()` when last saved: the rollback anchor for `Messenger::open`.
    pub(crate) anchor: u64,
    /// Id of the signed prekey of the bundle last published on the relay (0: never).
    pub(crate) published_signed_prekey: u32,
    /// The messenger was created again (new prekey numbering): publish with `reset`.
    pub(crate) publish_reset: bool,
    /// Sorted by peer id, unique.
    pub(crate) peers: Vec<KnownPeer>,
}

impl AgentState {
    pub(crate) fn peer(&self, id: &PeerId) -> Option<&KnownPeer> {
        self.peers.iter().find(|p| &p.peer_id() == id)
    }

    pub(crate) fn peer_by_address(&self, address: &str) -> Option<&KnownPeer> {
        self.peers.iter().filter(|p| p.address.as_deref() == Some(address)).max_by_key(|p| p.last_seen)
    }

    /// Record a handshake with `identity` at `now` (and the address we dialled, if any).
    pub(crate) fn upsert(&mut self, identity: &PublicIdentity, address: Option<&str>, now: u64) -> Result<()> {
        if let Some(a) = address {
            if a.len() > MAX_ADDRESS_LEN {
                return Err(Error::InvalidParameter("peer address longer than 1024 bytes"));
            }
        }
        let id = peer_id(identity);
        match self.peers.binary_search_by(|p| p.peer_id().cmp(&id)) {
            Ok(i) => {
                let p = &mut self.peers[i];
                p.last_seen = now;
                if let Some(a) = address {
                    p.address = Some(a.to_owned());
                }
            }
            Err(i) => {
                if self.peers.len() >= MAX_PEERS {
                    return Err(Error::InvalidParameter("the peer table is full"));
                }
                self.peers.insert(
                    i,
                    KnownPeer { identity: identity.clone(), address: address.map(str::to_owned), first_seen: now, last_seen: now },
                );
            }
        }
        Ok(())
    }

    fn encode_body(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut b = Zeroizing::new(Vec::new());
        b.extend_from_slice(&self.anchor.to_be_bytes());
        b.extend_from_slice(&self.published_signed_prekey.to_be_bytes());
        b.push(if self.publish_reset { STATE_FLAG_PUBLISH_RESET } else { 0 });
        let n = u32::try_from(self.peers.len()).map_err(|_| Error::InvalidParameter("too many peers"))?;
        b.extend_from_slice(&n.to_be_bytes());
        for p in &self.peers {
            let id = p.identity.to_bytes();
            b.extend_from_slice(&(id.len() as u16).to_be_bytes());
            b.extend_from_slice(&id);
            let addr = p.address.as_deref().unwrap_or("").as_bytes();
            b.extend_from_slice(&(addr.len() as u16).to_be_bytes());
            b.extend_from_slice(addr);
            b.extend_from_slice(&p.first_seen.to_be_bytes());
            b.extend_from_slice(&p.last_seen.to_be_bytes());
        }
        Ok(b)
    }

    fn decode_body(body: &[u8], generation: u64) -> Result<Self> {
        let mut r = Reader::new(body, STATE_WHAT);
        let anchor = r.u64()?;
        let published_signed_prekey = r.u32()?;
        let flags = r.u8()?;
        if flags & !STATE_FLAG_PUBLISH_RESET != 0 {
            return Err(Error::Malformed("unknown agent state flags"));
        }
        let n = usize::try_from(r.u32()?).map_err(|_| Error::Malformed("agent state peer count"))?;
        if n > MAX_PEERS {
            return Err(Error::Malformed("agent state peer count"));
        }
        let mut peers: Vec<KnownPeer> = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let len = usize::from(r.u16()?);
            let identity = PublicIdentity::from_bytes(r.take(len)?)?;
            let alen = usize::from(r.u16()?);
            if alen > MAX_ADDRESS_LEN {
                return Err(Error::Malformed("agent state peer address length"));
            }
            let addr = core::str::from_utf8(r.take(alen)?).map_err(|_| Error::InvalidEncoding("peer address"))?;
            let first_seen = r.u64()?;
            let last_seen = r.u64()?;
            let p = KnownPeer {
                identity,
                address: (!addr.is_empty()).then(|| addr.to_owned()),
                first_seen,
                last_seen,
            };
            // Canonical: strictly increasing peer ids (sorted, no duplicates).
            if let Some(prev) = peers.last() {
                if prev.peer_id() >= p.peer_id() {
                    return Err(Error::Malformed("agent state peers not sorted or duplicated"));
                }
            }
            peers.push(p);
        }
        r.finish()?;
        Ok(Self { generation, anchor, published_signed_prekey, publish_reset: flags & STATE_FLAG_PUBLISH_RESET != 0, peers })
    }

    /// `"SWAS" ‖ 0x01 ‖ generation:u64be ‖ nonce(24) ‖ XChaCha20-Poly1305(body)`, the first 37
    /// bytes as associated data. Increments the generation.
    pub(crate) fn seal(&mut self, key: &[u8; 32]) -> Result<Vec<u8>> {
        let generation = self.generation.checked_add(1).ok_or(Error::InvalidParameter("state generation overflow"))?;
        let mut nonce = [0u8; NONCE_LEN];
        crate::random::fill(&mut nonce)?;
        let mut out = Vec::with_capacity(STATE_HEADER_LEN + 64);
        out.extend_from_slice(STATE_MAGIC);
        out.push(STATE_VERSION);
        out.extend_from_slice(&generation.to_be_bytes());
        out.extend_from_slice(&nonce);
        let body = self.encode_body()?;
        let ct = crate::xchacha::seal(key, &nonce, &out, &body)?;
        out.extend_from_slice(&ct);
        self.generation = generation;
        Ok(out)
    }

    /// Strict inverse of [`AgentState::seal`]: wrong key or any modified byte →
    /// `DecryptionFailed`.
    pub(crate) fn open(bytes: &[u8], key: &[u8; 32]) -> Result<Self> {
        let mut r = Reader::new(bytes, STATE_WHAT);
        if r.take(4)? != STATE_MAGIC {
            return Err(Error::BadMagic(STATE_WHAT));
        }
        let version = r.u8()?;
        if version != STATE_VERSION {
            return Err(Error::UnsupportedVersion { what: STATE_WHAT, version });
        }
        let generation = r.u64()?;
        let nonce = r.array::<NONCE_LEN>()?;
        if r.remaining() < TAG_LEN {
            return Err(Error::Truncated(STATE_WHAT));
        }
        let body = crate::xchacha::open(key, &nonce, &bytes[..STATE_HEADER_LEN], r.rest())?;
        Self::decode_body(&body, generation)
    }
}

/// Paths of one home directory.
#[derive(Debug, Clone)]
pub(crate) struct Home {
    pub(crate) dir: PathBuf,
}

impl Home {
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Create the directory (0700 on Unix) if needed and take the exclusive lock.
    pub(crate) fn lock(dir: &Path) -> Result<(Self, File)> {
        if !dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir)?;
        }
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Storage("the agent home is open in another agent (lock held)"))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        Ok((Self { dir: dir.to_path_buf() }, lock))
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    pub(crate) fn read(&self, name: &str) -> Result<Vec<u8>> {
        Ok(std::fs::read(self.path(name))?)
    }

    pub(crate) fn write(&self, name: &str, data: &[u8]) -> Result<()> {
        crate::envelope::write_atomic(&self.path(name), data)
    }

    /// Move the session store's files into `stale-sessions-<unix>-<random>/` (recovery).
    pub(crate) fn set_aside_sessions(&self, now: u64) -> Result<()> {
        let names = [SESSIONS_FILE.to_owned(), format!("{SESSIONS_FILE}-wal"), format!("{SESSIONS_FILE}-shm")];
        self.move_aside("stale-sessions", now, &names)
    }

    fn move_aside(&self, prefix: &str, now: u64, names: &[String]) -> Result<()> {
        let present: Vec<&String> = names.iter().filter(|n| self.exists(n)).collect();
        if present.is_empty() {
            return Ok(());
        }
        let mut rnd = [0u8; 4];
        crate::random::fill(&mut rnd)?;
        let tag: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
        let aside = self.dir.join(format!("{prefix}-{now}-{tag}"));
        std::fs::create_dir(&aside)?;
        for n in present {
            std::fs::rename(self.path(n), aside.join(n))?;
        }
        Ok(())
    }

    /// A creation that stopped before the state file was written left some files: move them
    /// into `incomplete-<unix>-<random>/` (nothing was ever used or published from them).
    pub(crate) fn set_aside_incomplete(&self, now: u64) -> Result<()> {
        let names: Vec<String> = [IDENTITY_FILE, IDENTITY_ENVELOPE_FILE, KEYRING_FILE, SESSIONS_FILE]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([format!("{SESSIONS_FILE}-wal"), format!("{SESSIONS_FILE}-shm")])
            .collect();
        self.move_aside("incomplete", now, &names)
    }
}
