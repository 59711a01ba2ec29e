//! `frameless keygen`: an Ed25519 key pair for signing blobs, and reading key files.
//!
//! A key file is the 32 key bytes as 64 lowercase hex digits and a newline:
//! `PREFIX.key` holds the secret seed (created with mode 0600), `PREFIX.pub` the
//! public key that firmware embeds and `inspect --public-key` checks with.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use frameless_distiller::files::write_atomic;

use crate::BadInput;

const EXAMPLES: &str = "\
Examples:
  frameless keygen --out release        # writes release.key (secret) and release.pub
  frameless export --student s.json --sign release.key -o model.fgkd
  frameless inspect model.fgkd --public-key release.pub";

/// Make an Ed25519 key pair for `export --sign`: PREFIX.key (secret, 64 hex digits,
/// mode 0600) and PREFIX.pub (public, 64 hex digits). Existing files are not replaced.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct KeygenArgs {
    /// Path prefix of the two key files.
    #[arg(long)]
    out: PathBuf,
}

/// `bytes` as lowercase hex and a newline.
fn hex_line(bytes: &[u8; 32]) -> String {
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.push('\n');
    s
}

/// The 32 bytes of the key file at `path` (64 hex digits, surrounding space ignored).
///
/// # Errors
/// Unreadable file, or not 64 hex digits, as [`BadInput`].
pub fn read_key(path: &Path) -> Result<[u8; 32], BadInput> {
    let text = std::fs::read_to_string(path).map_err(|error| BadInput::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let text = text.trim().as_bytes();
    let bad = || BadInput::KeyFile {
        path: path.to_path_buf(),
    };
    if text.len() != 64 {
        return Err(bad());
    }
    let mut key = [0u8; 32];
    for (k, pair) in key.iter_mut().zip(text.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).map_err(|_| bad())?;
        *k = u8::from_str_radix(s, 16).map_err(|_| bad())?;
    }
    Ok(key)
}

/// Runs the subcommand.
pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let with = |ext: &str| {
        let mut p = args.out.clone().into_os_string();
        p.push(ext);
        PathBuf::from(p)
    };
    let (secret_path, public_path) = (with(".key"), with(".pub"));
    for p in [&secret_path, &public_path] {
        if p.exists() {
            return Err(BadInput::Exists { path: p.clone() }.into());
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let public = frameless_engine::verify::public_key(&seed);
    write_atomic(&secret_path, hex_line(&seed).as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o600))?;
    }
    write_atomic(&public_path, hex_line(&public).as_bytes())?;
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "wrote {} (secret) and {}",
        secret_path.display(),
        public_path.display()
    )?;
    Ok(())
}
