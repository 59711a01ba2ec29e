//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The `frameless` binary, built by cargo for this package's tests.
pub fn frameless() -> Command {
    Command::new(env!("CARGO_BIN_EXE_frameless"))
}

/// `$FRAMELESS_DATASETS`, or `../shared/datasets` beside the workspace.
pub fn datasets_root() -> PathBuf {
    std::env::var_os("FRAMELESS_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"))
}

/// Whether a missing dataset may be skipped: never under `CI`, where it panics with `what`.
pub fn allow_missing(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {what} (set FRAMELESS_DATASETS)"
    );
    eprintln!("skipping: {what}");
}

/// `datasets_root()/<name>`. `None` (with a note) when absent; a panic when absent and
/// `CI` is set.
pub fn dataset(name: &str) -> Option<PathBuf> {
    let dir = datasets_root().join(name);
    if dir.join("meta.txt").is_file() || dir.is_dir() {
        return Some(dir);
    }
    allow_missing(&format!("dataset {name} is missing at {}", dir.display()));
    None
}
