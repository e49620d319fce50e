//! Crash-safe file output: write a temporary file in the target's directory, fsync it, rename
//! over the target, fsync the directory. A reader sees the old file or the new one, never a
//! torn or partial write; a failed or abandoned write leaves no file under the final name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of files holding secrets or plaintext (Unix).
pub const MODE_PRIVATE: u32 = 0o600;
/// Mode of files meant to be shared (public keys, envelopes), before the umask.
pub const MODE_PUBLIC: u32 = 0o644;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file being written under a temporary name next to `target`. [`AtomicFile::commit`]
/// makes it appear under the final name; dropping it uncommitted deletes it.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    target: PathBuf,
    dir: PathBuf,
}

impl AtomicFile {
    /// Create the temporary file (exclusively, with `mode` on Unix).
    pub fn create(target: &Path, mode: u32) -> Result<Self, String> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().ok_or_else(|| format!("{} is not a file path", target.display()))?;
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut last_err = None;
        for _ in 0..16 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let tmp = dir.join(format!(".{}.tmp-{}-{n}-{nanos:x}", name.to_string_lossy(), std::process::id()));
            match opts.open(&tmp) {
                Ok(file) => return Ok(Self { file: Some(file), tmp, target: target.to_path_buf(), dir }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(format!("cannot write {}: {e}", target.display())),
            }
        }
        Err(format!(
            "cannot write {}: {}",
            target.display(),
            last_err.map(|e| e.to_string()).unwrap_or_else(|| "no free temporary name".into())
        ))
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Give the file the permissions of `perm` (used when replacing a file in place).
    pub fn set_permissions(&self, perm: fs::Permissions) -> Result<(), String> {
        fs::set_permissions(&self.tmp, perm).map_err(|e| format!("cannot write {}: {e}", self.target.display()))
    }

    /// fsync, rename over the target, fsync the directory.
    pub fn commit(mut self) -> Result<(), String> {
        let err = |e: io::Error| format!("cannot write {}: {e}", self.target.display());
        let file = self.file.take().ok_or_else(|| format!("cannot write {}: already closed", self.target.display()))?;
        file.sync_all().map_err(err)?;
        drop(file);
        fs::rename(&self.tmp, &self.target).map_err(err)?;
        // Renamed: nothing left to clean up, even if the directory sync fails.
        self.tmp = PathBuf::new();
        #[cfg(unix)]
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(err)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("file already closed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Atomically replace `path` with `data`; `private` files get mode 0600 on Unix.
pub fn write_atomic(path: &Path, data: &[u8], private: bool) -> Result<(), String> {
    let mut f = AtomicFile::create(path, if private { MODE_PRIVATE } else { MODE_PUBLIC })?;
    f.write_all(data).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.commit()
}

/// Read a whole (small) file, with the path in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Refuse to overwrite `path` unless `force`.
pub fn check_new(path: &Path, force: bool) -> Result<(), String> {
    if path.exists() && !force {
        return Err(format!("{} exists; pass --force to overwrite", path.display()));
    }
    Ok(())
}
