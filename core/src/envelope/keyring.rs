//! The local keyring: the embedded default key provider.
//!
//! A keyring holds named key-encryption keys (KEKs), each with one or more versions; exactly
//! one version per key is primary and wraps new data keys. Rotation adds a version and
//! retires the previous primary; a retired version keeps unwrapping until its optional
//! cutoff time, after which it refuses with [`Error::KeyRetired`].
//!
//! On disk (`SWKR` v1) the whole keyring is one AEAD-sealed body under a key derived from a
//! passphrase (Argon2id, parameters as for identity export) or from a 32-byte root key (for
//! example from the `SEALWIRE_KEYRING_ROOT_KEY` environment variable). Writes are atomic:
//! temp file, fsync, rename, fsync of the directory. Layout in `docs/FORMATS.md ("Envelope encryption")`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::commit::{DataKey, DATA_KEY_LEN};
use super::format::WrappedKey;
use super::provider::{KeyProvider, WrapContext};
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::identity::KdfParams;
use crate::random;

/// Magic bytes of a keyring file.
pub const KEYRING_MAGIC: &[u8; 4] = b"SWKR";
/// Keyring file format version.
pub const KEYRING_VERSION: u8 = 1;
/// Provider name of entries wrapped by a keyring.
pub const KEYRING_PROVIDER: &str = "keyring";
/// Environment variable [`RootKey::from_env`] reads (64 hex digits).
pub const ROOT_KEY_ENV: &str = "SEALWIRE_KEYRING_ROOT_KEY";

const PROTECTION_PASSPHRASE: u8 = 0x01;
const PROTECTION_ROOT_KEY: u8 = 0x02;
const KDF_ARGON2ID: u8 = 0x01;
const AEAD_XCHACHA20POLY1305: u8 = 0x01;
const SALT_LEN: usize = 16;
const FILE_NONCE_LEN: usize = 24;
const KEK_LEN: usize = 32;
const WRAP_NONCE_LEN: usize = super::provider::SPARE_NONCE_LEN;
const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = WRAP_NONCE_LEN + DATA_KEY_LEN + TAG_LEN;
const ROOT_KEY_INFO: &[u8] = b"SEALWIRE\x00keyring-v1\x00root-key";
const MAX_KEYS: usize = 4096;
const MAX_VERSIONS: usize = 65535;
const WHAT: &str = "keyring";

/// A 32-byte root key that seals a keyring file instead of a passphrase. Boxed, zeroized on
/// drop, never printed. `Clone` makes an explicit second zeroized copy (for the bindings, whose
/// `RootKey` objects are shared while an agent keeps its own).
#[derive(Clone)]
pub struct RootKey(Box<Zeroizing<[u8; 32]>>);

impl core::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RootKey(..)")
    }
}

impl RootKey {
    /// A fresh random root key.
    pub fn generate() -> Result<Self> {
        let mut k = Box::new(Zeroizing::new([0u8; 32]));
        random::fill(k.as_mut_slice())?;
        Ok(Self(k))
    }

    /// From 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 32 {
            return Err(Error::InvalidLength { what: "root key", expected: 32, actual: bytes.len() });
        }
        let mut k = Box::new(Zeroizing::new([0u8; 32]));
        k.copy_from_slice(bytes);
        Ok(Self(k))
    }

    /// From 64 hexadecimal digits (either case; surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self> {
        let t = text.trim().as_bytes();
        if t.len() != 64 {
            return Err(Error::InvalidEncoding("root key must be 64 hex digits"));
        }
        let mut k = Box::new(Zeroizing::new([0u8; 32]));
        for (i, pair) in t.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(Error::InvalidEncoding("root key must be 64 hex digits"))?;
            let lo = hex_val(pair[1]).ok_or(Error::InvalidEncoding("root key must be 64 hex digits"))?;
            k[i] = (hi << 4) | lo;
        }
        Ok(Self(k))
    }

    /// From the environment variable `SEALWIRE_KEYRING_ROOT_KEY` (64 hex digits).
    pub fn from_env() -> Result<Self> {
        Self::from_env_var(ROOT_KEY_ENV)
    }

    /// From the named environment variable (64 hex digits). Unset → `KeyNotFound`.
    pub fn from_env_var(name: &str) -> Result<Self> {
        let v = Zeroizing::new(std::env::var(name).map_err(|e| match e {
            std::env::VarError::NotPresent => Error::KeyNotFound("root key environment variable is not set"),
            std::env::VarError::NotUnicode(_) => Error::InvalidEncoding("root key must be 64 hex digits"),
        })?);
        Self::from_hex(&v)
    }

    /// The key as 64 lowercase hex digits (an explicit export of the secret).
    pub fn to_hex(&self) -> Zeroizing<String> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = Zeroizing::new(String::with_capacity(64));
        for x in self.0.iter() {
            s.push(char::from(HEX[usize::from(x >> 4)]));
            s.push(char::from(HEX[usize::from(x & 15)]));
        }
        s
    }

    fn file_key(&self) -> Result<Zeroizing<[u8; 32]>> {
        let mut k = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(None, self.0.as_slice())
            .expand(ROOT_KEY_INFO, k.as_mut())
            .map_err(|_| Error::InvalidParameter("HKDF output length"))?;
        Ok(k)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn valid_key_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'))
}

struct KeyVersion {
    material: Box<Zeroizing<[u8; KEK_LEN]>>,
    created_at: u64,
    /// 0 = not retired.
    retired_at: u64,
    /// 0 = no cutoff.
    decrypt_until: u64,
}

struct Key {
    primary: u32,
    versions: BTreeMap<u32, KeyVersion>,
}

/// What a keyring tells about one key version (never the key material).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyVersionInfo {
    /// Version number (≥ 1).
    pub version: u32,
    /// Whether this version wraps new data keys.
    pub primary: bool,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// When it stopped being primary, Unix seconds.
    pub retired_at: Option<u64>,
    /// After this Unix time the version refuses to unwrap (`KeyRetired`).
    pub decrypt_until: Option<u64>,
}

/// A set of named, versioned KEKs. See the module documentation.
///
/// Not `Clone`; `Debug` shows key ids only.
pub struct Keyring {
    keys: BTreeMap<String, Key>,
    default_key: Option<String>,
    generation: u64,
    fixed_now: Option<u64>,
}

impl core::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("default_key", &self.default_key)
            .field("generation", &self.generation)
            .finish()
    }
}

impl Default for Keyring {
    fn default() -> Self {
        Self::new()
    }
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self { keys: BTreeMap::new(), default_key: None, generation: 0, fixed_now: None }
    }

    /// Current time in Unix seconds (the fixed time if one was set).
    pub fn now(&self) -> u64 {
        self.fixed_now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
    }

    /// Use a fixed clock (Unix seconds) for creation/retirement times and cutoff checks;
    /// `None` returns to the system clock. For tests and for replaying decisions.
    pub fn set_time(&mut self, now: Option<u64>) {
        self.fixed_now = now;
    }

    /// How many times this keyring has been sealed (stored in the file, bound as AAD).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn get(&self, id: &str) -> Result<&Key> {
        self.keys.get(id).ok_or(Error::KeyNotFound("no such key id in the keyring"))
    }

    fn get_mut(&mut self, id: &str) -> Result<&mut Key> {
        self.keys.get_mut(id).ok_or(Error::KeyNotFound("no such key id in the keyring"))
    }

    /// Create key `id` with a random version 1 as primary; returns 1. The first key created
    /// becomes the default key. Ids: 1–255 bytes of `A-Z a-z 0-9 . _ - : /`.
    pub fn create_key(&mut self, id: &str) -> Result<u32> {
        // Re-creating an id would mint a second, different "version 1" (if v1 was removed)
        // and silently demote the current primary: new versions come only from `rotate`.
        if self.keys.contains_key(id) {
            return Err(Error::InvalidParameter("key id already exists (use rotate for a new version)"));
        }
        let mut material = Box::new(Zeroizing::new([0u8; KEK_LEN]));
        random::fill(material.as_mut_slice())?;
        let now = self.now();
        self.insert_version(id, 1, material, now)?;
        Ok(1)
    }

    /// Insert a version with caller-chosen material: only for generating test vectors.
    #[doc(hidden)]
    pub fn insert_version_for_vectors(&mut self, id: &str, version: u32, material: &[u8; 32], created_at: u64) -> Result<()> {
        self.insert_version(id, version, Box::new(Zeroizing::new(*material)), created_at)
    }

    fn insert_version(&mut self, id: &str, version: u32, material: Box<Zeroizing<[u8; KEK_LEN]>>, created_at: u64) -> Result<()> {
        if !valid_key_id(id) {
            return Err(Error::InvalidParameter("key ids are 1-255 bytes of A-Z a-z 0-9 . _ - : /"));
        }
        if version == 0 {
            return Err(Error::InvalidParameter("key versions start at 1"));
        }
        let v = KeyVersion { material, created_at, retired_at: 0, decrypt_until: 0 };
        match self.keys.get_mut(id) {
            None => {
                if self.keys.len() >= MAX_KEYS {
                    return Err(Error::InvalidParameter("a keyring holds at most 4096 keys"));
                }
                let mut versions = BTreeMap::new();
                versions.insert(version, v);
                self.keys.insert(id.to_owned(), Key { primary: version, versions });
                if self.default_key.is_none() {
                    self.default_key = Some(id.to_owned());
                }
            }
            Some(key) => {
                if key.versions.contains_key(&version) {
                    return Err(Error::InvalidParameter("key version already exists"));
                }
                let now = created_at;
                if let Some(old) = key.versions.get_mut(&key.primary) {
                    old.retired_at = now.max(1);
                }
                key.versions.insert(version, v);
                key.primary = version;
            }
        }
        Ok(())
    }

    /// Rotate key `id`: add a random new version (highest + 1) as primary and retire the
    /// previous primary, which keeps unwrapping until `old_decrypt_until` (Unix seconds;
    /// `None` = no cutoff). Returns the new version.
    pub fn rotate(&mut self, id: &str, old_decrypt_until: Option<u64>) -> Result<u32> {
        let key = self.get(id)?;
        if key.versions.len() >= MAX_VERSIONS {
            return Err(Error::InvalidParameter("a key holds at most 65535 versions"));
        }
        let old = key.primary;
        let next = key
            .versions
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .checked_add(1)
            .ok_or(Error::InvalidParameter("key version overflow"))?;
        let mut material = Box::new(Zeroizing::new([0u8; KEK_LEN]));
        random::fill(material.as_mut_slice())?;
        let now = self.now();
        self.insert_version(id, next, material, now)?;
        self.set_decrypt_until(id, old, old_decrypt_until)?;
        crate::hygiene::emit::key_rotated(KEYRING_PROVIDER, next);
        Ok(next)
    }

    /// Set or clear the cutoff after which a retired version refuses to unwrap. The primary
    /// version cannot have one.
    pub fn set_decrypt_until(&mut self, id: &str, version: u32, until: Option<u64>) -> Result<()> {
        let key = self.get_mut(id)?;
        if version == key.primary && until.is_some() {
            return Err(Error::InvalidParameter("the primary version cannot have a decryption cutoff"));
        }
        let v = key.versions.get_mut(&version).ok_or(Error::KeyNotFound("no such key version"))?;
        v.decrypt_until = until.unwrap_or(0);
        Ok(())
    }

    /// Delete a retired version for good (crypto-shredding the objects only it wrapped).
    pub fn remove_version(&mut self, id: &str, version: u32) -> Result<()> {
        let key = self.get_mut(id)?;
        if version == key.primary {
            return Err(Error::InvalidParameter("the primary version cannot be removed"));
        }
        key.versions.remove(&version).map(|_| ()).ok_or(Error::KeyNotFound("no such key version"))
    }

    /// Key ids, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    /// The versions of key `id`, ascending.
    pub fn versions(&self, id: &str) -> Result<Vec<KeyVersionInfo>> {
        let key = self.get(id)?;
        Ok(key
            .versions
            .iter()
            .map(|(n, v)| KeyVersionInfo {
                version: *n,
                primary: *n == key.primary,
                created_at: v.created_at,
                retired_at: (v.retired_at != 0).then_some(v.retired_at),
                decrypt_until: (v.decrypt_until != 0).then_some(v.decrypt_until),
            })
            .collect())
    }

    /// The primary version of key `id`.
    pub fn primary_version(&self, id: &str) -> Result<u32> {
        Ok(self.get(id)?.primary)
    }

    /// The key that [`KeyProvider::wrap`] on the keyring itself uses.
    pub fn default_key(&self) -> Option<&str> {
        self.default_key.as_deref()
    }

    /// Choose the default key.
    pub fn set_default_key(&mut self, id: &str) -> Result<()> {
        self.get(id)?;
        self.default_key = Some(id.to_owned());
        Ok(())
    }

    /// A provider that wraps under key `id` (its primary version) and unwraps that key's
    /// entries.
    pub fn key(&self, id: &str) -> Result<KeyringKey<'_>> {
        // The id is borrowed from the keyring's own map: a handle costs no allocation.
        let (id, _) = self.keys.get_key_value(id).ok_or(Error::KeyNotFound("no such key id in the keyring"))?;
        Ok(KeyringKey { ring: self, id })
    }

    fn wrap_under(&self, id: &str, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        self.wrap_under_with_nonce(id, dek, ctx, &ctx.fresh_nonce()?)
    }

    /// Wrap under the primary version of `id` with a fixed nonce: only for test vectors.
    #[doc(hidden)]
    pub fn wrap_deterministic_for_vectors(&self, id: &str, dek: &DataKey, ctx: &WrapContext<'_>, nonce: &[u8; 24]) -> Result<WrappedKey> {
        self.wrap_under_with_nonce(id, dek, ctx, nonce)
    }

    fn wrap_under_with_nonce(&self, id: &str, dek: &DataKey, ctx: &WrapContext<'_>, nonce: &[u8; WRAP_NONCE_LEN]) -> Result<WrappedKey> {
        let key = self.get(id)?;
        let v = key.versions.get(&key.primary).ok_or(Error::KeyNotFound("primary key version missing"))?;
        let aad = wrap_aad(ctx, id, key.primary);
        let mut wrapped = vec![0u8; WRAPPED_LEN];
        let (n, ct) = wrapped.split_at_mut(WRAP_NONCE_LEN);
        n.copy_from_slice(nonce);
        crate::xchacha::seal_into(&v.material, nonce, &aad, dek.as_bytes(), ct)?;
        WrappedKey::new(KEYRING_PROVIDER, id, key.primary, wrapped)
    }

    fn unwrap_entry(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<DataKey> {
        let key = self.get(entry.key_id())?;
        let v = key.versions.get(&entry.key_version()).ok_or(Error::KeyNotFound("no such key version"))?;
        if v.decrypt_until != 0 && self.now() >= v.decrypt_until {
            return Err(Error::KeyRetired);
        }
        let w = entry.wrapped();
        if w.len() != WRAPPED_LEN {
            return Err(Error::HeaderAuthFailed);
        }
        let (nonce, ct) = w.split_at(WRAP_NONCE_LEN);
        let aad = wrap_aad(ctx, entry.key_id(), entry.key_version());
        let nonce: &[u8; WRAP_NONCE_LEN] = nonce.try_into().map_err(|_| Error::HeaderAuthFailed)?;
        let mut dek = Zeroizing::new([0u8; DATA_KEY_LEN]);
        crate::xchacha::open_into(&v.material, nonce, &aad, ct, dek.as_mut()).map_err(|_| Error::HeaderAuthFailed)?;
        DataKey::from_bytes(dek.as_ref())
    }

    // ----- persistence -----

    fn encode_body(&self) -> Zeroizing<Vec<u8>> {
        let mut b = Zeroizing::new(Vec::new());
        match &self.default_key {
            Some(id) => {
                b.push(id.len() as u8);
                b.extend_from_slice(id.as_bytes());
            }
            None => b.push(0),
        }
        b.extend_from_slice(&(self.keys.len() as u16).to_be_bytes());
        for (id, key) in &self.keys {
            b.push(id.len() as u8);
            b.extend_from_slice(id.as_bytes());
            b.extend_from_slice(&key.primary.to_be_bytes());
            b.extend_from_slice(&(key.versions.len() as u16).to_be_bytes());
            for (n, v) in &key.versions {
                b.extend_from_slice(&n.to_be_bytes());
                b.extend_from_slice(&v.created_at.to_be_bytes());
                b.extend_from_slice(&v.retired_at.to_be_bytes());
                b.extend_from_slice(&v.decrypt_until.to_be_bytes());
                b.extend_from_slice(v.material.as_slice());
            }
        }
        b
    }

    fn decode_body(body: &[u8], generation: u64) -> Result<Self> {
        let bad = |m: &'static str| Error::Malformed(m);
        let mut r = Reader::new(body, "keyring body");
        let dlen = usize::from(r.u8()?);
        let default_key = if dlen == 0 {
            None
        } else {
            Some(core::str::from_utf8(r.take(dlen)?).map_err(|_| bad("keyring default key id"))?.to_owned())
        };
        let count = usize::from(r.u16()?);
        if count > MAX_KEYS {
            return Err(bad("keyring holds more than 4096 keys"));
        }
        let mut keys = BTreeMap::new();
        let mut last_id: Option<String> = None;
        for _ in 0..count {
            let ilen = usize::from(r.u8()?);
            let id = core::str::from_utf8(r.take(ilen)?).map_err(|_| bad("keyring key id"))?.to_owned();
            if !valid_key_id(&id) || last_id.as_ref().is_some_and(|l| *l >= id) {
                return Err(bad("keyring key ids invalid or not strictly increasing"));
            }
            let primary = r.u32()?;
            let vcount = usize::from(r.u16()?);
            let mut versions = BTreeMap::new();
            let mut last_v = 0u32;
            for _ in 0..vcount {
                let n = r.u32()?;
                let created_at = r.u64()?;
                let retired_at = r.u64()?;
                let decrypt_until = r.u64()?;
                let mut material = Box::new(Zeroizing::new([0u8; KEK_LEN]));
                material.copy_from_slice(r.take(KEK_LEN)?);
                if n <= last_v {
                    return Err(bad("keyring key versions not strictly increasing from 1"));
                }
                last_v = n;
                versions.insert(n, KeyVersion { material, created_at, retired_at, decrypt_until });
            }
            match versions.get(&primary) {
                Some(p) if p.retired_at == 0 && p.decrypt_until == 0 => {}
                _ => return Err(bad("keyring primary version missing or retired")),
            }
            keys.insert(id.clone(), Key { primary, versions });
            last_id = Some(id);
        }
        r.finish()?;
        if default_key.as_ref().is_some_and(|d| !keys.contains_key(d)) {
            return Err(bad("keyring default key is not in the keyring"));
        }
        Ok(Self { keys, default_key, generation, fixed_now: None })
    }

    fn seal(&mut self, header: Vec<u8>, key: &[u8; 32]) -> Result<Vec<u8>> {
        let cipher = XChaCha20Poly1305::new_from_slice(key).map_err(|_| Error::InvalidParameter("key length"))?;
        let nonce: [u8; FILE_NONCE_LEN] = header[header.len() - FILE_NONCE_LEN..]
            .try_into()
            .map_err(|_| Error::InvalidParameter("nonce"))?;
        let body = self.encode_body();
        let ct = cipher
            .encrypt((&nonce).into(), Payload { msg: body.as_ref(), aad: &header })
            .map_err(|_| Error::InvalidParameter("keyring too large"))?;
        let mut out = header;
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn next_header(&mut self, protection: &[u8], nonce: &[u8; FILE_NONCE_LEN]) -> Result<Vec<u8>> {
        let generation = self.generation.checked_add(1).ok_or(Error::InvalidParameter("generation overflow"))?;
        let mut h = Vec::with_capacity(64);
        h.extend_from_slice(KEYRING_MAGIC);
        h.push(KEYRING_VERSION);
        h.extend_from_slice(&generation.to_be_bytes());
        h.extend_from_slice(protection);
        h.push(AEAD_XCHACHA20POLY1305);
        h.extend_from_slice(nonce);
        self.generation = generation;
        Ok(h)
    }

    /// Seal the keyring under a passphrase (Argon2id with `params`); bumps the generation.
    pub fn seal_with_passphrase(&mut self, passphrase: &[u8], params: KdfParams) -> Result<Vec<u8>> {
        params.check()?;
        let mut salt = [0u8; SALT_LEN];
        random::fill(&mut salt)?;
        let mut prot = vec![PROTECTION_PASSPHRASE, KDF_ARGON2ID];
        prot.extend_from_slice(&params.memory_kib().to_be_bytes());
        prot.extend_from_slice(&params.iterations().to_be_bytes());
        prot.extend_from_slice(&params.lanes().to_be_bytes());
        prot.extend_from_slice(&salt);
        let key = params.derive(passphrase, &salt)?;
        let mut nonce = [0u8; FILE_NONCE_LEN];
        random::fill(&mut nonce)?;
        let header = self.next_header(&prot, &nonce)?;
        self.seal(header, &key)
    }

    /// Seal the keyring under a root key; bumps the generation.
    pub fn seal_with_root_key(&mut self, root: &RootKey) -> Result<Vec<u8>> {
        let mut nonce = [0u8; FILE_NONCE_LEN];
        random::fill(&mut nonce)?;
        self.seal_with_root_key_deterministic_for_vectors(root, &nonce)
    }

    /// Seal under a root key with a fixed file nonce: only for generating test vectors.
    #[doc(hidden)]
    pub fn seal_with_root_key_deterministic_for_vectors(&mut self, root: &RootKey, nonce: &[u8; 24]) -> Result<Vec<u8>> {
        let key = root.file_key()?;
        let header = self.next_header(&[PROTECTION_ROOT_KEY], nonce)?;
        self.seal(header, &key)
    }

    /// Parse the file header; returns (generation, protection, Argon2id params and salt if
    /// passphrase-protected, AAD length).
    fn parse_file(bytes: &[u8]) -> Result<FileHeader> {
        let mut r = Reader::new(bytes, WHAT);
        if r.take(4)? != KEYRING_MAGIC {
            return Err(Error::BadMagic(WHAT));
        }
        let version = r.u8()?;
        if version != KEYRING_VERSION {
            return Err(Error::UnsupportedVersion { what: WHAT, version });
        }
        let generation = r.u64()?;
        let protection = r.u8()?;
        let kdf = match protection {
            PROTECTION_PASSPHRASE => {
                if r.u8()? != KDF_ARGON2ID {
                    return Err(Error::UnsupportedAlgorithm("keyring KDF"));
                }
                let (m, t, p) = (r.u32()?, r.u32()?, r.u32()?);
                let salt: [u8; SALT_LEN] = r.array()?;
                let params = KdfParams::new(m, t, p).map_err(|_| Error::Malformed("keyring KDF parameters out of range"))?;
                Some((params, salt))
            }
            PROTECTION_ROOT_KEY => None,
            _ => return Err(Error::UnsupportedAlgorithm("keyring protection")),
        };
        if r.u8()? != AEAD_XCHACHA20POLY1305 {
            return Err(Error::UnsupportedAlgorithm("keyring AEAD"));
        }
        r.take(FILE_NONCE_LEN)?;
        let aad_len = bytes.len() - r.remaining();
        if r.remaining() < TAG_LEN + 3 {
            return Err(Error::Truncated(WHAT));
        }
        Ok((generation, protection, kdf, aad_len))
    }

    fn open_with_key(bytes: &[u8], aad_len: usize, generation: u64, key: &[u8; 32]) -> Result<Self> {
        let cipher = XChaCha20Poly1305::new_from_slice(key).map_err(|_| Error::InvalidParameter("key length"))?;
        let nonce: [u8; FILE_NONCE_LEN] = bytes[aad_len - FILE_NONCE_LEN..aad_len]
            .try_into()
            .map_err(|_| Error::Truncated(WHAT))?;
        let body = Zeroizing::new(
            cipher
                .decrypt((&nonce).into(), Payload { msg: &bytes[aad_len..], aad: &bytes[..aad_len] })
                .map_err(|_| Error::DecryptionFailed)?,
        );
        Self::decode_body(&body, generation)
    }

    /// Open a keyring sealed by [`Keyring::seal_with_passphrase`]. Wrong passphrase or any
    /// modified byte → `DecryptionFailed`.
    pub fn open_with_passphrase(bytes: &[u8], passphrase: &[u8]) -> Result<Self> {
        let (generation, protection, kdf, aad_len) = Self::parse_file(bytes)?;
        let (params, salt) = match (protection, kdf) {
            (PROTECTION_PASSPHRASE, Some(k)) => k,
            _ => return Err(Error::InvalidParameter("this keyring is sealed under a root key, not a passphrase")),
        };
        let key = params.derive(passphrase, &salt)?;
        Self::open_with_key(bytes, aad_len, generation, &key)
    }

    /// Open a keyring sealed by [`Keyring::seal_with_root_key`]. Wrong root key or any
    /// modified byte → `DecryptionFailed`.
    pub fn open_with_root_key(bytes: &[u8], root: &RootKey) -> Result<Self> {
        let (generation, protection, _, aad_len) = Self::parse_file(bytes)?;
        if protection != PROTECTION_ROOT_KEY {
            return Err(Error::InvalidParameter("this keyring is sealed under a passphrase, not a root key"));
        }
        let key = root.file_key()?;
        Self::open_with_key(bytes, aad_len, generation, &key)
    }

    /// Seal under a passphrase and write atomically to `path` (mode 0600 on Unix).
    pub fn save_with_passphrase(&mut self, path: &Path, passphrase: &[u8], params: KdfParams) -> Result<()> {
        let bytes = self.seal_with_passphrase(passphrase, params)?;
        write_atomic(path, &bytes)
    }

    /// Seal under a root key and write atomically to `path` (mode 0600 on Unix).
    pub fn save_with_root_key(&mut self, path: &Path, root: &RootKey) -> Result<()> {
        let bytes = self.seal_with_root_key(root)?;
        write_atomic(path, &bytes)
    }

    /// Read and open a passphrase-sealed keyring file.
    pub fn load_with_passphrase(path: &Path, passphrase: &[u8]) -> Result<Self> {
        Self::open_with_passphrase(&std::fs::read(path)?, passphrase)
    }

    /// Read and open a root-key-sealed keyring file.
    pub fn load_with_root_key(path: &Path, root: &RootKey) -> Result<Self> {
        Self::open_with_root_key(&std::fs::read(path)?, root)
    }
}

/// A parsed keyring file header: generation, protection id, Argon2id parameters and salt
/// (passphrase protection only), and the AAD length (everything before the ciphertext).
type FileHeader = (u64, u8, Option<(KdfParams, [u8; SALT_LEN])>, usize);

/// The keyring's wrap AAD: `WrapContext::aad() ‖ u16 len ‖ key id ‖ u32 version`.
fn wrap_aad(ctx: &WrapContext<'_>, id: &str, version: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(ctx.aad().len() + 2 + id.len() + 4);
    aad.extend_from_slice(ctx.aad());
    aad.extend_from_slice(&(id.len() as u16).to_be_bytes());
    aad.extend_from_slice(id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Write `data` to `path` atomically: a new temp file in the same directory (mode 0600 on
/// Unix), fsync, rename over `path`, fsync the directory.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let name = path.file_name().ok_or(Error::InvalidParameter("keyring path has no file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut rnd = [0u8; 8];
    random::fill(&mut rnd)?;
    let suffix: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{}.tmp-{suffix}", name.to_string_lossy()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| -> Result<()> {
        let mut f = opts.open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    #[cfg(unix)]
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(())
}

/// The whole keyring as a provider: unwraps entries of any key it holds (any version still
/// allowed) and wraps under the default key.
impl KeyProvider for Keyring {
    fn provider_id(&self) -> &str {
        KEYRING_PROVIDER
    }
    fn key_id(&self) -> String {
        self.default_key.clone().unwrap_or_default()
    }
    fn key_version(&self) -> u32 {
        self.default_key.as_deref().and_then(|id| self.primary_version(id).ok()).unwrap_or(0)
    }
    fn owns(&self, entry: &WrappedKey) -> bool {
        entry.provider() == KEYRING_PROVIDER && self.keys.contains_key(entry.key_id())
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        let id = self.default_key.as_deref().ok_or(Error::KeyNotFound("the keyring has no default key"))?;
        self.wrap_under(id, dek, ctx)
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<DataKey> {
        self.unwrap_entry(entry, ctx)
    }
    /// Unwrap with the entry's version, wrap under the primary version of the same key.
    fn rewrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        let dek = self.unwrap_entry(entry, ctx)?;
        self.wrap_under(entry.key_id(), &dek, ctx)
    }
}

/// One key of a [`Keyring`] as a provider: wraps under its primary version, unwraps its own
/// entries (any version still allowed).
#[derive(Debug)]
pub struct KeyringKey<'a> {
    ring: &'a Keyring,
    id: &'a str,
}

impl KeyProvider for KeyringKey<'_> {
    fn provider_id(&self) -> &str {
        KEYRING_PROVIDER
    }
    fn key_id(&self) -> String {
        self.id.to_owned()
    }
    fn key_version(&self) -> u32 {
        self.ring.primary_version(self.id).unwrap_or(0)
    }
    fn owns(&self, entry: &WrappedKey) -> bool {
        // The default compares with `key_id()`, which allocates.
        entry.provider() == KEYRING_PROVIDER && entry.key_id() == self.id
    }
    fn wrap(&self, dek: &DataKey, ctx: &WrapContext<'_>) -> Result<WrappedKey> {
        self.ring.wrap_under(self.id, dek, ctx)
    }
    fn unwrap(&self, entry: &WrappedKey, ctx: &WrapContext<'_>) -> Result<DataKey> {
        self.ring.unwrap_entry(entry, ctx)
    }
}
