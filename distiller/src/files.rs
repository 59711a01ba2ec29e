//! Safe file output: every file the distiller writes goes through [`write_atomic`].
//!
//! A reader never sees a half-written file under its final name, even after `SIGKILL`
//! or a power cut: the bytes go to a temporary sibling that is created exclusively
//! (`O_CREAT | O_EXCL`, so a planted file or symlink is never followed or reused),
//! synced, renamed over the target, and the folder is synced so the rename itself is
//! durable. Temporary names start with a dot (`.NAME.PID-NONCE.tmp`), so a shell glob
//! such as `soft/*` never picks up the leftovers of a killed run.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("model.fgkd");
//! frameless_distiller::files::write_atomic(&path, b"FGKD")?;
//! assert_eq!(std::fs::read(&path)?, b"FGKD");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Buffer of [`write_atomic_with`]: large writes go to the file in pieces this size.
const WRITE_BUFFER: usize = 1 << 20;

/// How many fresh temporary names to try before giving up.
const TEMP_ATTEMPTS: u64 = 64;

/// Writes `bytes` to `path` atomically and durably, creating the parent folder if needed.
///
/// # Errors
/// Any I/O error of the steps (the temporary file is removed); `InvalidInput` if `path`
/// has no file name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// As [`write_atomic`], with the bytes streamed by `write` through a buffered writer,
/// so that a large file never has to be held in memory as a whole first.
///
/// # Errors
/// Any I/O error of the steps or of `write` (the temporary file is removed);
/// `InvalidInput` if `path` has no file name.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let (tmp, file) = create_temp(dir, &name.to_string_lossy(), fresh_nonces())?;
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
    let written = write(&mut out)
        .and_then(|()| out.into_inner().map_err(io::IntoInnerError::into_error))
        .and_then(|file| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is durable only once the folder's entry is on disk.
    File::open(dir)?.sync_all()
}

/// Nonces for temporary names: the clock mixed with a process-wide counter.
fn fresh_nonces() -> impl Iterator<Item = u64> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let clock = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (0..TEMP_ATTEMPTS).map(move |_| clock ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32))
}

/// Creates a file that did not exist, `.NAME.PID-NONCE.tmp` beside the target, trying
/// the next nonce when a name is taken.
fn create_temp(
    dir: &Path,
    name: &str,
    nonces: impl Iterator<Item = u64>,
) -> io::Result<(PathBuf, File)> {
    for nonce in nonces {
        let tmp = dir.join(format!(".{name}.{}-{nonce:x}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name beside the target",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_through_a_planted_symlink() {
        // An attacker who can guess the temporary name plants a symlink there; O_EXCL
        // refuses it, so the victim file is untouched and a fresh name is used.
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        for n in 0..4u64 {
            let link = dir
                .path()
                .join(format!(".out.{}-{n:x}.tmp", std::process::id()));
            std::os::unix::fs::symlink(&victim, link).unwrap();
        }
        let (tmp, mut file) = create_temp(dir.path(), "out", 0..5).unwrap();
        assert!(
            tmp.to_string_lossy().ends_with("-4.tmp"),
            "{}",
            tmp.display()
        );
        file.write_all(b"data").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&tmp).unwrap(), b"data");
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let e = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
