//! Crash-safe file output: write a temporary file, fsync it, rename over the target, fsync
//! the directory. A reader sees the old file or the new one, never a torn write.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Atomically replace `path` with `data`; `private` files get mode 0600 on Unix.
pub fn write_atomic(path: &Path, data: &[u8], private: bool) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let err = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}
