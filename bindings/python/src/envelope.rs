//! The envelope layer (`sealwire::envelope`): `seal`, `unseal`, `rewrap`, `seal_file`,
//! `unseal_file`, `provider_info` and `EnvelopeHeader`. Streaming classes are in
//! `stream.rs`, providers in `provider.rs`, the keyring in `keyring.rs`.
//!
//! Every call converts its arguments with the GIL, then seals or opens with the GIL released
//! (keyrings read-locked only for the wrap/unwrap step); Python key providers re-acquire the
//! GIL for their own calls.

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use sealwire::envelope::{
    self, header_len, EncryptionContext, EnvelopeHeader, EnvelopeReader, EnvelopeWriter, Rewrap,
    SealOptions, Suite, HEADER_PREFIX_LEN,
};
use sealwire::ErrorKind;
use smallvec::SmallVec;
use zeroize::Zeroizing;

use crate::detach;
use crate::error::{Error, Result};
use crate::input::{type_name, BytesLike};
use crate::provider::{
    context_dict, context_pairs, provider_list, specs, with_providers, Causes, Settle, Spec, Specs,
};

/// Plaintext returned by the core, wiped once it has been copied into a Python `bytes`.
type Plaintext = Zeroizing<Vec<u8>>;

/// Bytes moved between files per step by `seal_file` / `unseal_file`.
const FILE_CHUNK: usize = 1 << 20;

// --- arguments -------------------------------------------------------------------------------

/// An encryption context: a mapping of str to str (None: the empty context).
pub(crate) fn context_arg(obj: Option<&Bound<'_, PyAny>>) -> Result<EncryptionContext> {
    let mut ctx = EncryptionContext::new();
    let Some(obj) = obj else {
        return Ok(ctx);
    };
    if obj.is_none() {
        return Ok(ctx);
    }
    let not_mapping = || {
        PyTypeError::new_err(format!(
            "context must be a mapping of str to str, not '{}'",
            type_name(&obj.as_borrowed())
        ))
    };
    let mut insert = |k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>| -> Result<()> {
        let (Ok(k), Ok(v)) = (k.cast::<PyString>(), v.cast::<PyString>()) else {
            return Err(PyTypeError::new_err("context keys and values must be str").into());
        };
        ctx.insert(&k.to_cow()?, &v.to_cow()?)?;
        Ok(())
    };
    if let Ok(dict) = obj.cast::<PyDict>() {
        for (k, v) in dict.iter() {
            insert(&k, &v)?;
        }
    } else {
        let items = obj.call_method0("items").map_err(|_| not_mapping())?;
        for item in items.try_iter().map_err(|_| not_mapping())? {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                item?.extract().map_err(|_| not_mapping())?;
            insert(&k, &v)?;
        }
    }
    Ok(ctx)
}

/// Suite names: "chacha20-poly1305" / "aes-256-gcm" (the core's names), also accepted
/// without dashes and in any case.
fn suite_arg(name: &str) -> Result<Suite> {
    let norm: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    match norm.as_str() {
        "chacha20poly1305" => Ok(Suite::ChaCha20Poly1305),
        "aes256gcm" => Ok(Suite::Aes256Gcm),
        _ => Err(sealwire::Error::InvalidParameter(
            "suite must be \"chacha20-poly1305\" or \"aes-256-gcm\"",
        )
        .into()),
    }
}

pub(crate) fn options(suite: &str, segment_size: i64) -> Result<SealOptions> {
    let seg = u32::try_from(segment_size)
        .map_err(|_| sealwire::Error::InvalidParameter("segment size must be 64 B ..= 16 MiB"))?;
    Ok(SealOptions::new(suite_arg(suite)?, seg)?)
}

/// Everything a call needs from its provider arguments: the objects (kept alive), and a
/// `Causes` for the Python exceptions raised inside.
pub(crate) struct ProviderArgs<'py> {
    objs: Objs<'py>,
    groups: SmallVec<[usize; 2]>,
}

/// Provider objects of one call: one or two without a heap allocation (a 1 KiB seal's usual
/// `to=[key]`).
type Objs<'py> = SmallVec<[Bound<'py, PyAny>; 2]>;

impl<'py> ProviderArgs<'py> {
    pub(crate) fn new() -> Self {
        Self {
            objs: SmallVec::new(),
            groups: SmallVec::new(),
        }
    }

    /// Add a group for an optional argument: one provider or an iterable; None (Rust or
    /// Python) is an empty group.
    pub(crate) fn group(mut self, arg: Option<&Bound<'py, PyAny>>, what: &str) -> PyResult<Self> {
        let list = match arg {
            Some(a) if !a.is_none() => provider_list(a, what)?,
            _ => SmallVec::new(),
        };
        self.groups.push(list.len());
        self.objs.extend(list);
        Ok(self)
    }

    /// Add a group for a required argument: one provider or an iterable (not None).
    pub(crate) fn required(mut self, arg: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        let list = provider_list(arg, what)?;
        self.groups.push(list.len());
        self.objs.extend(list);
        Ok(self)
    }

    pub(crate) fn specs<'a>(&'a self, causes: &'a Causes) -> PyResult<Specs<'a>> {
        specs(&self.objs, causes, "key provider")
    }
}

/// Split a flat provider list into the groups it was built from.
fn split<'s, T>(mut all: &'s [T], groups: &[usize]) -> Vec<&'s [T]> {
    let mut out = Vec::with_capacity(groups.len());
    for n in groups {
        let (head, tail) = all.split_at((*n).min(all.len()));
        out.push(head);
        all = tail;
    }
    out
}

// --- one-shot --------------------------------------------------------------------------------

/// Seal `plaintext` into an envelope: a fresh data key encrypts it in segments and is
/// wrapped for every provider in `to` (one or more). `context` (str -> str, stored in the
/// clear, bound to the envelope) must be given again to open it. Releases the GIL (not for
/// payloads under 2 KiB sealed only to keyring keys: a few microseconds of work).
#[pyfunction]
#[pyo3(signature = (plaintext, *, to, context=None, suite="chacha20-poly1305", segment_size=65536))]
pub(crate) fn seal<'py>(
    py: Python<'py>,
    plaintext: BytesLike<'_>,
    to: &Bound<'py, PyAny>,
    context: Option<&Bound<'py, PyAny>>,
    suite: &str,
    segment_size: i64,
) -> Result<Bound<'py, PyBytes>> {
    let ctx = context_arg(context)?;
    let opts = options(suite, segment_size)?;
    let args = ProviderArgs::new().required(to, "to")?;
    let causes = Causes::default();
    let specs = args.specs(&causes)?;
    let hold = keep_gil(plaintext.len(), &specs);
    let prepared = maybe_detach(py, hold, || {
        with_providers(&specs, |ps| envelope::prepare_seal(&ctx, ps, &opts))
    })
    .settle(&causes, py)?;
    let len = prepared.sealed_len(plaintext.len())?;
    // Sealed straight into the new `bytes`: one allocation of the output, no copy.
    Ok(PyBytes::new_with(py, len, |out| {
        maybe_detach(py, hold, || prepared.seal_into(&plaintext, out)).map_err(Error::from)?;
        Ok(())
    })?)
}

/// Open an envelope with any of `keys`; `context` must equal the sealed one exactly. Checks
/// context, unwraps, checks the key commitment and the header tag, then every segment: no
/// plaintext unless all of it verified. Releases the GIL (as `seal` does).
#[pyfunction]
#[pyo3(signature = (sealed, *, keys, context=None))]
pub(crate) fn unseal<'py>(
    py: Python<'py>,
    sealed: BytesLike<'_>,
    keys: &Bound<'py, PyAny>,
    context: Option<&Bound<'py, PyAny>>,
) -> Result<Bound<'py, PyBytes>> {
    let ctx = context_arg(context)?;
    let args = ProviderArgs::new().required(keys, "keys")?;
    let causes = Causes::default();
    let specs = args.specs(&causes)?;
    // The header is decoded once, for the length and for the open.
    let parsed = envelope::ParsedEnvelope::parse(&sealed)?;
    let len = parsed.plaintext_len();
    let hold = keep_gil(len, &specs);
    // Opened straight into the new `bytes` (wiped by the core if anything fails, and then
    // never returned).
    Ok(PyBytes::new_with(py, len, |out| {
        maybe_detach(py, hold, || {
            with_providers(&specs, |ps| parsed.open_into(&ctx, ps, out))
        })
        .settle(&causes, py)?;
        Ok(())
    })?)
}

/// Below this many bytes a seal or open with keyring keys takes a few microseconds, less
/// than releasing and re-acquiring the GIL costs under contention; `hashlib` draws the same
/// line (2047 bytes).
const GIL_RELEASE_MIN: usize = 2048;

/// Whether to keep the GIL for this call: a small payload and only keyring providers (no
/// public-key work, no Python provider, no I/O: a `KmsKey`, whose calls go to the network,
/// never keeps it).
pub(crate) fn keep_gil(len: usize, specs: &[Spec<'_>]) -> bool {
    len < GIL_RELEASE_MIN
        && specs
            .iter()
            .all(|s| matches!(s, Spec::Keyring(_) | Spec::KeyringKey(..)))
}

/// [`detach`] unless `hold`.
pub(crate) fn maybe_detach<T: Send>(py: Python<'_>, hold: bool, f: impl FnOnce() -> T + Send) -> T {
    if hold {
        f()
    } else {
        detach(py, f)
    }
}

/// An entry `remove=` names: `(provider_id, key_id)` or a provider.
enum Removal {
    Named(String, String),
    /// Index into the `remove` provider group.
    Provider,
}

fn removals<'py>(
    arg: Option<&Bound<'py, PyAny>>,
) -> Result<(Vec<Removal>, Vec<Bound<'py, PyAny>>)> {
    let mut named = Vec::new();
    let mut providers = Vec::new();
    let Some(arg) = arg else {
        return Ok((named, providers));
    };
    if arg.is_none() {
        return Ok((named, providers));
    }
    let not_list = || {
        PyTypeError::new_err(
            "remove must be an iterable of (provider_id, key_id) tuples or key providers",
        )
    };
    if arg.is_instance_of::<PyString>() {
        return Err(not_list().into());
    }
    let items: Vec<Bound<'py, PyAny>> = if arg.is_instance_of::<PyTuple>()
        && arg.len().ok() == Some(2)
        && arg
            .try_iter()
            .map(|mut it| it.all(|x| x.is_ok_and(|x| x.is_instance_of::<PyString>())))
            .unwrap_or(false)
    {
        vec![arg.clone()] // a single (provider_id, key_id)
    } else {
        provider_list(arg, "remove").map_err(|_| not_list())?.into_vec()
    };
    for item in items {
        if let Ok(t) = item.cast::<PyTuple>() {
            let (p, k): (String, String) = t.extract().map_err(|_| not_list())?;
            named.push(Removal::Named(p, k));
        } else {
            named.push(Removal::Provider);
            providers.push(item);
        }
    }
    Ok((named, providers))
}

/// Change the wrapped-key entries of an envelope without touching its payload: authenticate
/// with any of `keys` (like `unseal`, header only), then re-wrap the entries owned by each
/// provider of `rewrap_with` under its current key version, then drop the entries named by
/// `remove` (`(provider_id, key_id)` tuples or providers; all versions), then add an entry
/// for each provider of `add`. At least one entry must remain. Returns the new envelope: a
/// new header followed by the original payload bytes. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (sealed, *, keys, context=None, add=None, remove=None, rewrap_with=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn rewrap<'py>(
    py: Python<'py>,
    sealed: BytesLike<'_>,
    keys: &Bound<'py, PyAny>,
    context: Option<&Bound<'py, PyAny>>,
    add: Option<&Bound<'py, PyAny>>,
    remove: Option<&Bound<'py, PyAny>>,
    rewrap_with: Option<&Bound<'py, PyAny>>,
) -> Result<Bound<'py, PyBytes>> {
    let ctx = context_arg(context)?;
    let (removal, remove_providers) = removals(remove)?;
    let remove_list = PyList::new(py, &remove_providers)?;
    let args = ProviderArgs::new()
        .required(keys, "keys")?
        .group(add, "add")?
        .group(rewrap_with, "rewrap_with")?
        .group(Some(remove_list.as_any()), "remove")?;
    let causes = Causes::default();
    let specs = args.specs(&causes)?;
    let groups = args.groups.clone();
    let out = detach(py, || {
        with_providers(&specs, |ps| {
            let g = split(ps, &groups);
            let (keys, add, rewrap_with, remove) = (g[0], g[1], g[2], g[3]);
            let mut r = Rewrap::open(&sealed, &ctx, keys)?;
            for p in rewrap_with {
                r.rewrap_with(*p)?;
            }
            let mut by_provider = remove.iter();
            for item in &removal {
                match item {
                    Removal::Named(p, k) => {
                        r.remove(p, k);
                    }
                    Removal::Provider => {
                        if let Some(p) = by_provider.next() {
                            r.remove(p.provider_id(), &p.key_id());
                        }
                    }
                }
            }
            for p in add {
                r.add(*p)?;
            }
            r.apply(&sealed)
        })
    })
    .settle(&causes, py)?;
    Ok(PyBytes::new(py, &out))
}

/// `(provider_id, key_id, key_version)` of a provider: what an entry it wraps is labelled
/// with (compare with `EnvelopeHeader.wrapped_keys`).
#[pyfunction]
pub(crate) fn provider_info(
    py: Python<'_>,
    provider: &Bound<'_, PyAny>,
) -> Result<(String, String, u32)> {
    let objs = vec![provider.clone()];
    let causes = Causes::default();
    let specs = specs(&objs, &causes, "provider")?;
    detach(py, || {
        with_providers(&specs, |ps| {
            Ok(ps
                .first()
                .map(|p| (p.provider_id().to_owned(), p.key_id(), p.key_version()))
                .unwrap_or_default())
        })
    })
}

// --- header ----------------------------------------------------------------------------------

/// A decoded envelope header (structure only; nothing is authenticated without a key).
/// Shows suite, segment size, context and the wrapped-key entries (which providers, keys and
/// key versions can open the object).
#[pyclass(name = "EnvelopeHeader", module = "sealwire._native", frozen)]
pub(crate) struct PyEnvelopeHeader {
    pub(crate) inner: EnvelopeHeader,
}

#[pymethods]
impl PyEnvelopeHeader {
    /// Bytes needed before `length()` can tell the header length (9).
    #[classattr]
    const PREFIX_LEN: usize = HEADER_PREFIX_LEN;

    /// Decode the header at the start of `data` (payload bytes may follow).
    #[staticmethod]
    fn parse(data: BytesLike<'_>) -> Result<Self> {
        Ok(Self {
            inner: EnvelopeHeader::parse(&data)?,
        })
    }

    /// The header length announced by the first PREFIX_LEN bytes of an envelope (magic,
    /// version and bounds checked): how many bytes to read before calling `parse`.
    #[staticmethod]
    fn length(prefix: BytesLike<'_>) -> Result<usize> {
        Ok(header_len(&prefix)?)
    }

    /// "chacha20-poly1305" or "aes-256-gcm".
    #[getter]
    fn suite(&self) -> &'static str {
        self.inner.suite().name()
    }

    /// Plaintext bytes per segment.
    #[getter]
    fn segment_size(&self) -> u32 {
        self.inner.segment_size()
    }

    /// The random 32-byte message id.
    #[getter]
    fn message_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.message_id())
    }

    /// The encryption context stored in the envelope (a new dict on every access).
    #[getter]
    fn context<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        context_dict(py, &context_pairs(self.inner.context()))
    }

    /// The wrapped-key entries as (provider_id, key_id, key_version), in header order.
    #[getter]
    fn wrapped_keys(&self) -> Vec<(String, String, u32)> {
        self.inner
            .wrapped_keys()
            .iter()
            .map(|w| {
                (
                    w.provider().to_owned(),
                    w.key_id().to_owned(),
                    w.key_version(),
                )
            })
            .collect()
    }

    /// Length of the header in bytes: the payload starts at this offset.
    #[getter]
    fn header_len(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<EnvelopeHeader {}, {}-byte segments, {} wrapped key{}>",
            self.inner.suite().name(),
            self.inner.segment_size(),
            self.inner.wrapped_keys().len(),
            if self.inner.wrapped_keys().len() == 1 {
                ""
            } else {
                "s"
            },
        )
    }
}

// --- files -----------------------------------------------------------------------------------

/// A new file next to `dst`, renamed over it by `commit` and deleted if dropped before.
struct AtomicFile {
    file: File,
    tmp: Option<PathBuf>,
    dst: PathBuf,
}

impl AtomicFile {
    fn create(dst: &Path, private: bool) -> Result<Self> {
        use std::hash::{BuildHasher, Hasher};
        let name = dst.file_name().ok_or(Error::Binding(
            ErrorKind::InvalidParameter,
            "the destination path has no file name",
        ))?;
        let dir = match dst.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut last = None;
        for _ in 0..16 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(u64::from(std::process::id()));
            let tmp = dir.join(format!(
                ".{}.sealwire-{:016x}.tmp",
                name.to_string_lossy(),
                h.finish()
            ));
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(if private { 0o600 } else { 0o666 });
            }
            #[cfg(not(unix))]
            let _ = private;
            match opts.open(&tmp) {
                Ok(file) => {
                    return Ok(Self {
                        file,
                        tmp: Some(tmp),
                        dst: dst.to_path_buf(),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(Error::Os(e, Some(dst.to_path_buf()))),
            }
        }
        Err(Error::Os(
            last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AlreadyExists)),
            Some(dst.to_path_buf()),
        ))
    }

    fn os(&self, e: std::io::Error) -> Error {
        Error::Os(e, Some(self.dst.clone()))
    }

    /// fsync, rename over the destination, fsync the directory.
    fn commit(mut self) -> Result<()> {
        self.file.sync_all().map_err(|e| self.os(e))?;
        if let Some(tmp) = &self.tmp {
            std::fs::rename(tmp, &self.dst).map_err(|e| self.os(e))?;
        }
        self.tmp = None;
        #[cfg(unix)]
        if let Some(dir) = self.dst.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// A reader or writer that keeps the `io::Error` it saw (errno included), which the core
/// would reduce to its kind.
struct Recording<'s, T> {
    inner: T,
    slot: &'s RefCell<Option<std::io::Error>>,
}

impl<T> Recording<'_, T> {
    fn keep(&self, e: std::io::Error) -> std::io::Error {
        let kind = e.kind();
        self.slot.borrow_mut().get_or_insert(e);
        std::io::Error::from(kind)
    }
}

impl<T: Read> Read for Recording<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| self.keep(e))
    }
}

impl<T: Write> Write for Recording<'_, T> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.inner.write(data).map_err(|e| self.keep(e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| self.keep(e))
    }
}

/// A core `Io` error caused by a recorded `io::Error` becomes that error, with `path`.
fn with_path(e: Error, slot: &RefCell<Option<std::io::Error>>, path: &Path) -> Error {
    match e {
        Error::Core(sealwire::Error::Io(_)) => match slot.borrow_mut().take() {
            Some(io) => Error::Os(io, Some(path.to_path_buf())),
            None => e,
        },
        e => e,
    }
}

fn read_some(input: &mut File, buf: &mut [u8], src: &Path) -> Result<usize> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Os(e, Some(src.to_path_buf()))),
        }
    }
}

fn seal_file_detached(
    src: &Path,
    dst: &Path,
    ctx: &EncryptionContext,
    specs: &[Spec<'_>],
    opts: &SealOptions,
) -> Result<()> {
    let mut input = File::open(src).map_err(|e| Error::Os(e, Some(src.to_path_buf())))?;
    let out = AtomicFile::create(dst, false)?;
    let slot = RefCell::new(None);
    {
        let sink = std::io::BufWriter::with_capacity(
            FILE_CHUNK,
            Recording {
                inner: &out.file,
                slot: &slot,
            },
        );
        let run = || -> Result<()> {
            // Keyrings are locked only while the data key is wrapped.
            let mut w = with_providers(specs, |ps| EnvelopeWriter::new(sink, ctx, ps, opts))?;
            let mut buf: Plaintext = Zeroizing::new(vec![0u8; FILE_CHUNK]);
            loop {
                let n = read_some(&mut input, &mut buf, src)?;
                if n == 0 {
                    break;
                }
                w.write_plaintext(&buf[..n])?;
            }
            w.finish()?;
            Ok(())
        };
        run().map_err(|e| with_path(e, &slot, dst))?;
    }
    out.commit()
}

fn unseal_file_detached(
    src: &Path,
    dst: &Path,
    ctx: &EncryptionContext,
    specs: &[Spec<'_>],
) -> Result<()> {
    let input = File::open(src).map_err(|e| Error::Os(e, Some(src.to_path_buf())))?;
    let slot = RefCell::new(None);
    let source = Recording {
        inner: input,
        slot: &slot,
    };
    let mut r = with_providers(specs, |ps| EnvelopeReader::new(source, ctx, ps))
        .map_err(|e| with_path(e, &slot, src))?;
    let out = AtomicFile::create(dst, true)?;
    let mut buf: Plaintext = Zeroizing::new(vec![0u8; FILE_CHUNK]);
    loop {
        let n = r
            .read_plaintext(&mut buf)
            .map_err(|e| with_path(e.into(), &slot, src))?;
        if n == 0 {
            break;
        }
        (&out.file).write_all(&buf[..n]).map_err(|e| out.os(e))?;
    }
    out.commit()
}

/// Seal the file `src` into `dst` (written to a temporary file next to it, then renamed:
/// `dst` appears only when complete). Arguments as for `seal`. Memory stays bounded; the
/// GIL is released throughout.
#[pyfunction]
#[pyo3(signature = (src, dst, *, to, context=None, suite="chacha20-poly1305", segment_size=65536))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn seal_file<'py>(
    py: Python<'py>,
    src: PathBuf,
    dst: PathBuf,
    to: &Bound<'py, PyAny>,
    context: Option<&Bound<'py, PyAny>>,
    suite: &str,
    segment_size: i64,
) -> Result<()> {
    let ctx = context_arg(context)?;
    let opts = options(suite, segment_size)?;
    let args = ProviderArgs::new().required(to, "to")?;
    let causes = Causes::default();
    let specs = args.specs(&causes)?;
    detach(py, || seal_file_detached(&src, &dst, &ctx, &specs, &opts)).settle(&causes, py)
}

/// Open the envelope file `src` into `dst` (mode 0600, written to a temporary file and
/// renamed only once every segment verified: on any error `dst` is left untouched).
/// Arguments as for `unseal`. Memory stays bounded; the GIL is released throughout.
#[pyfunction]
#[pyo3(signature = (src, dst, *, keys, context=None))]
pub(crate) fn unseal_file<'py>(
    py: Python<'py>,
    src: PathBuf,
    dst: PathBuf,
    keys: &Bound<'py, PyAny>,
    context: Option<&Bound<'py, PyAny>>,
) -> Result<()> {
    let ctx = context_arg(context)?;
    let args = ProviderArgs::new().required(keys, "keys")?;
    let causes = Causes::default();
    let specs = args.specs(&causes)?;
    detach(py, || unseal_file_detached(&src, &dst, &ctx, &specs)).settle(&causes, py)
}
