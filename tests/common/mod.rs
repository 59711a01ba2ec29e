//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The `frameless` binary, built by cargo for this package's tests.
pub fn frameless() -> Command {
    Command::new(env!("CARGO_BIN_EXE_frameless"))
}

/// `<workspace>/../shared/datasets/<name>`, or `$FRAMELESS_DATASETS/<name>`. `None` (with a
/// note) when absent; a panic when absent and `CI` is set.
pub fn dataset(name: &str) -> Option<PathBuf> {
    let root = std::env::var_os("FRAMELESS_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    let dir = root.join(name);
    if dir.join("meta.txt").is_file() || dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but dataset {name} is missing at {} (set FRAMELESS_DATASETS)",
        dir.display()
    );
    eprintln!("skipping: dataset {name} not found at {}", dir.display());
    None
}
