//! `sealwire seal`, `open` and `inspect`: envelope encryption of files and streams.
//!
//! Both directions stream through core's `EnvelopeWriter` / `EnvelopeReader` in memory
//! bounded by one segment. Output files are written under a temporary name and renamed only
//! once complete — for `open`, once the whole stream verified — so a failed or interrupted
//! run never leaves a partial file under the final name.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use sealwire::envelope::{
    header_len, EncryptionContext, EnvelopeHeader, EnvelopeReader, EnvelopeWriter, KeyProvider, KeyringKey,
    SealOptions, Suite, XWingKeyPair, XWingPublicKey, DEFAULT_SEGMENT_SIZE, HEADER_PREFIX_LEN,
};
use sealwire::{Identity, PublicIdentity};
use zeroize::Zeroizing;

use crate::kms::{self, Kms};
use crate::files::{AtomicFile, MODE_PRIVATE, MODE_PUBLIC};
use crate::output::{bytes_bar, json_str, printable};
use crate::secrets::{self, KeyringFile, SecretArgs};
use crate::{errors, CliResult};

const IO_BUF: usize = 64 * 1024;
const TAG_LEN: u64 = 16;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SuiteArg {
    /// ChaCha20-Poly1305 (the default).
    #[value(name = "chacha20poly1305", alias = "chacha20-poly1305")]
    ChaCha20Poly1305,
    /// AES-256-GCM.
    #[value(name = "aes256gcm", alias = "aes-256-gcm")]
    Aes256Gcm,
}

impl From<SuiteArg> for Suite {
    fn from(s: SuiteArg) -> Self {
        match s {
            SuiteArg::ChaCha20Poly1305 => Suite::ChaCha20Poly1305,
            SuiteArg::Aes256Gcm => Suite::Aes256Gcm,
        }
    }
}

/// A size in bytes, optionally with a K/KiB/M/MiB suffix (binary units).
pub fn parse_size(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let (digits, mult) =
        if let Some(d) = t.strip_suffix("KiB").or_else(|| t.strip_suffix('K')).or_else(|| t.strip_suffix('k')) {
            (d, 1024u64)
        } else if let Some(d) = t.strip_suffix("MiB").or_else(|| t.strip_suffix('M')) {
            (d, 1024 * 1024)
        } else {
            (t, 1)
        };
    let n: u64 = digits.trim().parse().map_err(|_| format!("not a size: {s:?} (use e.g. 65536, 64K, 1M)"))?;
    u32::try_from(n.saturating_mul(mult)).map_err(|_| format!("size too large: {s}"))
}

/// Parse repeated `-c key=value` into a context.
pub fn parse_context(pairs: &[String]) -> CliResult<EncryptionContext> {
    let mut kv = Vec::with_capacity(pairs.len());
    for p in pairs {
        let (k, v) = p.split_once('=').ok_or_else(|| format!("context entries are key=value, got {p:?}"))?;
        kv.push((k, v));
    }
    EncryptionContext::from_pairs(kv).map_err(errors::core_in("invalid context"))
}

/// Keys to open envelopes with (`open`, `rewrap`).
#[derive(Args, Debug)]
pub struct OpenKeyArgs {
    /// A keyring file (any key and still-allowed version it holds). Repeatable.
    #[arg(long = "keyring", value_name = "FILE")]
    pub keyrings: Vec<PathBuf>,
    /// An encrypted identity (from `keygen`): opens entries sealed `--to` its public identity. Repeatable.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// An X-Wing private key (from `xwing-keygen`). Repeatable.
    #[arg(long = "xwing-key", value_name = "FILE")]
    pub xwing_keys: Vec<PathBuf>,
    /// A remote KMS key: `vault://KEYNAME[?mount=transit]` (VAULT_ADDR/VAULT_TOKEN or
    /// BAO_ADDR/BAO_TOKEN) or `aws-kms://KEY_ID_OR_ARN[?region=R&endpoint=URL]` (AWS_* variables).
    /// Repeatable.
    #[arg(long = "kms", value_name = "URI")]
    pub kms: Vec<String>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

/// The unlocked keys of [`OpenKeyArgs`].
pub struct OpenKeys {
    pub keyrings: Vec<KeyringFile>,
    pub identities: Vec<Identity>,
    pub xwing: Vec<XWingKeyPair>,
    pub kms: Vec<Kms>,
}

impl OpenKeys {
    pub fn load(a: &OpenKeyArgs) -> CliResult<Self> {
        let keyrings = a.keyrings.iter().map(|p| KeyringFile::load(p, &a.secret)).collect::<CliResult<Vec<_>>>()?;
        let identities =
            a.identities.iter().map(|p| secrets::load_identity(p, &a.secret)).collect::<CliResult<Vec<_>>>()?;
        let xwing = a.xwing_keys.iter().map(|p| secrets::load_xwing(p, &a.secret)).collect::<CliResult<Vec<_>>>()?;
        let kms = kms::load_all(&a.kms)?;
        if keyrings.is_empty() && identities.is_empty() && xwing.is_empty() && kms.is_empty() {
            return Err("no key to open with: give --keyring, --identity, --xwing-key or --kms".into());
        }
        Ok(Self { keyrings, identities, xwing, kms })
    }

    pub fn providers(&self) -> Vec<&dyn KeyProvider> {
        let mut v: Vec<&dyn KeyProvider> = Vec::new();
        v.extend(self.keyrings.iter().map(|k| &k.ring as &dyn KeyProvider));
        v.extend(self.identities.iter().map(|i| i as &dyn KeyProvider));
        v.extend(self.xwing.iter().map(|x| x as &dyn KeyProvider));
        v.extend(self.kms.iter().map(kms::provider));
        v
    }
}

/// Recipients to wrap a data key for (`seal`; `rewrap` adds them).
#[derive(Args, Debug, Default)]
pub struct RecipientArgs {
    /// Wrap for this public identity (from `keygen --public-out`). Repeatable.
    #[arg(long = "to", value_name = "PUBLIC_IDENTITY_FILE")]
    pub to: Vec<PathBuf>,
    /// Wrap for this X-Wing public key (from `xwing-keygen --public-out`). Repeatable.
    #[arg(long = "to-xwing", value_name = "FILE")]
    pub to_xwing: Vec<PathBuf>,
}

/// Loaded public recipients.
pub struct Recipients {
    pub identities: Vec<PublicIdentity>,
    pub xwing: Vec<XWingPublicKey>,
}

impl Recipients {
    pub fn load(a: &RecipientArgs) -> CliResult<Self> {
        Ok(Self {
            identities: a.to.iter().map(|p| secrets::load_public_identity(p)).collect::<CliResult<_>>()?,
            xwing: a.to_xwing.iter().map(|p| secrets::load_xwing_public(p)).collect::<CliResult<_>>()?,
        })
    }

    pub fn push_providers<'a>(&'a self, v: &mut Vec<&'a dyn KeyProvider>) {
        v.extend(self.identities.iter().map(|i| i as &dyn KeyProvider));
        v.extend(self.xwing.iter().map(|x| x as &dyn KeyProvider));
    }
}

/// Handles for `--key ID` over the given keyrings: the first keyring holding ID wins.
pub fn keyring_keys<'a>(keyrings: &'a [KeyringFile], ids: &[String]) -> CliResult<Vec<KeyringKey<'a>>> {
    ids.iter()
        .map(|id| {
            keyrings
                .iter()
                .find(|k| k.ring.key_ids().iter().any(|x| x == id))
                .ok_or_else(|| format!("no keyring given holds a key {id:?} (`sealwire keyring list` shows the ids)"))
                .and_then(|k| k.ring.key(id).map_err(errors::core))
        })
        .collect()
}

#[derive(Args, Debug)]
pub struct SealArgs {
    /// The plaintext to seal (`-` or nothing: standard input).
    #[arg(value_name = "INPUT", default_value = "-")]
    pub input: String,
    /// Where to write the envelope (`-`: standard output, the default).
    #[arg(short, long, value_name = "OUTPUT", default_value = "-")]
    pub output: String,
    /// Wrap under a keyring's key. Repeatable (multi-wrap).
    #[arg(long = "keyring", value_name = "FILE")]
    pub keyrings: Vec<PathBuf>,
    /// Use these keyring keys (looked up in the --keyring files) instead of each keyring's
    /// default key. Repeatable.
    #[arg(long = "key", value_name = "ID", requires = "keyrings")]
    pub keys: Vec<String>,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    /// Also wrap under a remote KMS key: `vault://KEYNAME[?mount=transit]` (VAULT_ADDR/VAULT_TOKEN
    /// or BAO_ADDR/BAO_TOKEN) or `aws-kms://KEY_ID_OR_ARN[?region=R&endpoint=URL]` (AWS_*
    /// variables). Repeatable (multi-wrap).
    #[arg(long = "kms", value_name = "URI")]
    pub kms: Vec<String>,
    /// Encryption context entry key=value, bound to the envelope (stored in clear). Repeatable.
    #[arg(short = 'c', long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// Payload AEAD.
    #[arg(long, value_enum, default_value = "chacha20poly1305")]
    pub suite: SuiteArg,
    /// Plaintext bytes per segment (64 B ..= 16 MiB; K and M suffixes allowed).
    #[arg(long, value_name = "N", value_parser = parse_size, default_value_t = DEFAULT_SEGMENT_SIZE)]
    pub segment_size: u32,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Args, Debug)]
pub struct OpenArgs {
    /// The envelope to open (`-` or nothing: standard input).
    #[arg(value_name = "INPUT", default_value = "-")]
    pub input: String,
    /// Where to write the plaintext (`-`: standard output, the default). A file appears only
    /// once the whole envelope verified.
    #[arg(short, long, value_name = "OUTPUT", default_value = "-")]
    pub output: String,
    #[command(flatten)]
    pub keys: OpenKeyArgs,
    /// Expected encryption context entry key=value; must equal the stored context exactly. Repeatable.
    #[arg(short = 'c', long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The envelope (`-`: standard input).
    pub file: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// An input stream with its length when known, and a name for messages.
fn open_input(name: &str, tty_ok: bool) -> CliResult<(Box<dyn Read>, Option<u64>, String)> {
    if name == "-" {
        if !tty_ok && io::stdin().is_terminal() {
            return Err("no input: give a file or pipe the envelope into standard input".into());
        }
        return Ok((Box::new(io::stdin().lock()), None, "standard input".into()));
    }
    let f = File::open(name).map_err(|e| format!("cannot read {name}: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("cannot read {name}: {e}"))?;
    if meta.is_dir() {
        return Err(format!("{name} is a directory"));
    }
    let len = meta.is_file().then_some(meta.len());
    Ok((Box::new(f), len, name.to_owned()))
}

/// Standard output, or a file that appears under its name only on [`Output::commit`].
enum Output {
    Stdout(io::StdoutLock<'static>, u64),
    File(AtomicFile),
}

impl Output {
    fn create(name: &str, mode: u32) -> CliResult<Self> {
        if name == "-" {
            Ok(Output::Stdout(io::stdout().lock(), 0))
        } else {
            Ok(Output::File(AtomicFile::create(Path::new(name), mode)?))
        }
    }
    fn commit(self) -> CliResult {
        match self {
            Output::Stdout(mut s, _) => s.flush().map_err(|e| format!("cannot write standard output: {e}")),
            Output::File(f) => f.commit(),
        }
    }
    fn describe(&self) -> String {
        match self {
            Output::Stdout(..) => "standard output".into(),
            Output::File(f) => f.target().display().to_string(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(s, n) => {
                let k = s.write(buf)?;
                *n += k as u64;
                Ok(k)
            }
            Output::File(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s, _) => s.flush(),
            Output::File(f) => f.flush(),
        }
    }
}

fn read_some(r: &mut dyn Read, buf: &mut [u8], name: &str) -> CliResult<usize> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read {name}: {e}")),
        }
    }
}

/// `sealwire seal`.
pub fn seal(a: SealArgs) -> CliResult {
    let context = parse_context(&a.context)?;
    let options = SealOptions::new(a.suite.into(), a.segment_size).map_err(errors::core)?;
    let keyrings = a.keyrings.iter().map(|p| KeyringFile::load(p, &a.secret)).collect::<CliResult<Vec<_>>>()?;
    let keys = keyring_keys(&keyrings, &a.keys)?;
    let recipients = Recipients::load(&a.recipients)?;
    let mut providers: Vec<&dyn KeyProvider> = Vec::new();
    if keys.is_empty() {
        providers.extend(keyrings.iter().map(|k| &k.ring as &dyn KeyProvider));
    } else {
        providers.extend(keys.iter().map(|k| k as &dyn KeyProvider));
    }
    recipients.push_providers(&mut providers);
    let kms = kms::load_all(&a.kms)?;
    providers.extend(kms.iter().map(kms::provider));
    if providers.is_empty() {
        return Err("nothing to seal to: give --keyring, --to, --to-xwing or --kms".into());
    }
    if a.output == "-" && io::stdout().is_terminal() {
        return Err("refusing to write an envelope to a terminal; use -o FILE or redirect standard output".into());
    }
    let (input, len, in_name) = open_input(&a.input, true)?;
    let pb = bytes_bar(len);
    let mut input = pb.wrap_read(input);
    let mut out = Output::create(&a.output, MODE_PUBLIC)?;
    let out_name = out.describe();
    let werr = errors::core_in(format!("cannot seal to {out_name}"));
    let mut total = 0u64;
    {
        let mut w = EnvelopeWriter::new(&mut out, &context, &providers, &options).map_err(&werr)?;
        let mut buf = Zeroizing::new(vec![0u8; IO_BUF]);
        loop {
            let n = read_some(&mut input, &mut buf, &in_name)?;
            if n == 0 {
                break;
            }
            w.write_plaintext(&buf[..n]).map_err(&werr)?;
            total += n as u64;
        }
        w.finish().map_err(&werr)?;
    }
    pb.finish_and_clear();
    out.commit()?;
    if a.output != "-" {
        let n = providers.len();
        eprintln!("sealed {total} bytes to {out_name} ({n} wrapped key{})", if n == 1 { "" } else { "s" });
    }
    Ok(())
}

/// `sealwire open`.
pub fn open(a: OpenArgs) -> CliResult {
    let context = parse_context(&a.context)?;
    let keys = OpenKeys::load(&a.keys)?;
    let providers = keys.providers();
    let (input, len, in_name) = open_input(&a.input, false)?;
    let pb = bytes_bar(len);
    let input = pb.wrap_read(input);
    let fail = |e: sealwire::Error| format!("cannot open {in_name}: {}", errors::core(e));
    // The header is authenticated (context, unwrap, commitment, header tag) before any
    // output is created.
    let mut reader = EnvelopeReader::new(input, &context, &providers).map_err(fail)?;
    let mut out = Output::create(&a.output, MODE_PRIVATE)?;
    let mut buf = Zeroizing::new(vec![0u8; IO_BUF]);
    let result = (|| -> CliResult {
        loop {
            let n = reader.read_plaintext(&mut buf).map_err(fail)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(|e| format!("cannot write {}: {e}", out.describe()))?;
        }
        if !reader.is_finished() {
            return Err(format!("cannot open {in_name}: the envelope did not end with its final segment"));
        }
        Ok(())
    })();
    pb.finish_and_clear();
    match result {
        Ok(()) => out.commit(),
        Err(e) => match out {
            Output::Stdout(_, n) if n > 0 => {
                Err(format!("{e}\n(the {n} bytes already written to standard output are incomplete: discard them)"))
            }
            // Dropping the uncommitted file deletes it: no partial plaintext under the name.
            _ => Err(e),
        },
    }
}

/// What `inspect` reports.
struct Inspection {
    header: EnvelopeHeader,
    total: u64,
}

impl Inspection {
    fn payload_len(&self) -> u64 {
        self.total.saturating_sub(self.header.len() as u64)
    }
    /// (segments, plaintext length) if the payload has a well-formed length.
    fn segments(&self) -> Option<(u64, u64)> {
        let full = u64::from(self.header.segment_size()) + TAG_LEN;
        let p = self.payload_len();
        let (n_full, rem) = (p / full, p % full);
        (rem >= TAG_LEN).then(|| (n_full + 1, p - TAG_LEN * (n_full + 1)))
    }
}

fn read_header(name: &str) -> CliResult<Inspection> {
    let (mut input, len, in_name) = open_input(name, false)?;
    let what = errors::core_in(format!("cannot inspect {in_name}"));
    let mut prefix = [0u8; HEADER_PREFIX_LEN];
    read_exactly(&mut input, &mut prefix).map_err(&what)?;
    let hlen = header_len(&prefix).map_err(&what)?;
    let mut bytes = vec![0u8; hlen];
    bytes[..HEADER_PREFIX_LEN].copy_from_slice(&prefix);
    read_exactly(&mut input, &mut bytes[HEADER_PREFIX_LEN..]).map_err(&what)?;
    let header = EnvelopeHeader::parse(&bytes).map_err(&what)?;
    let total = match len {
        Some(l) => l,
        None => {
            hlen as u64 + io::copy(&mut input, &mut io::sink()).map_err(|e| format!("cannot read {in_name}: {e}"))?
        }
    };
    Ok(Inspection { header, total })
}

fn read_exactly(r: &mut dyn Read, buf: &mut [u8]) -> sealwire::Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            sealwire::Error::Truncated("envelope header")
        } else {
            sealwire::Error::from(e)
        }
    })
}

/// `sealwire inspect`: the header, without any key.
pub fn inspect(a: InspectArgs) -> CliResult {
    let i = read_header(&a.file)?;
    let h = &i.header;
    let segs = i.segments();
    if a.json {
        let ctx: Vec<String> = h.context().iter().map(|(k, v)| format!("{}:{}", json_str(k), json_str(v))).collect();
        let entries: Vec<String> = h
            .wrapped_keys()
            .iter()
            .map(|w| {
                format!(
                    "{{\"provider\":{},\"key_id\":{},\"key_version\":{},\"wrapped_len\":{}}}",
                    json_str(w.provider()),
                    json_str(w.key_id()),
                    w.key_version(),
                    w.wrapped().len()
                )
            })
            .collect();
        println!(
            "{{\"file\":{},\"format\":\"SWEV\",\"version\":1,\"suite\":{},\"segment_size\":{},\"message_id\":{},\"context\":{{{}}},\"wrapped_keys\":[{}],\"header_len\":{},\"payload_len\":{},\"segments\":{},\"plaintext_len\":{},\"complete_length\":{}}}",
            json_str(&a.file),
            json_str(h.suite().name()),
            h.segment_size(),
            json_str(&hex::encode(h.message_id())),
            ctx.join(","),
            entries.join(","),
            h.len(),
            i.payload_len(),
            segs.map(|s| s.0.to_string()).unwrap_or_else(|| "null".into()),
            segs.map(|s| s.1.to_string()).unwrap_or_else(|| "null".into()),
            segs.is_some()
        );
        return Ok(());
    }
    println!("envelope:       {}", printable(&a.file));
    println!("format:         SWEV v1");
    println!("suite:          {}", h.suite().name());
    println!("segment size:   {} bytes", h.segment_size());
    println!("message id:     {}", hex::encode(h.message_id()));
    println!("context:        {} entries", h.context().len());
    for (k, v) in h.context().iter() {
        println!("  {} = {}", printable(k), printable(v));
    }
    println!("wrapped keys:   {}", h.wrapped_keys().len());
    let pw = h.wrapped_keys().iter().map(|w| w.provider().len()).max().unwrap_or(0);
    for w in h.wrapped_keys() {
        println!(
            "  {:<pw$}  key id {}  version {}  wrapped {} bytes",
            w.provider(),
            printable(w.key_id()),
            w.key_version(),
            w.wrapped().len()
        );
    }
    println!("header size:    {} bytes", h.len());
    match segs {
        Some((n, p)) => {
            println!("payload size:   {} bytes in {n} segments", i.payload_len());
            println!("plaintext size: {p} bytes");
        }
        None => println!("payload size:   {} bytes (incomplete: ends inside a segment tag)", i.payload_len()),
    }
    Ok(())
}
