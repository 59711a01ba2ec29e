//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The `frameless` binary of the distiller package, built on first use with the test
/// profile (cargo only builds a package's binaries for that package's own tests).
pub fn frameless() -> Command {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--profile",
                "test",
                "-p",
                "frameless-distiller",
                "--bin",
                "frameless",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building the frameless binary failed");
        assert_cmd::cargo::cargo_bin("frameless")
    });
    Command::new(bin)
}

/// `<workspace>/../shared/datasets/<name>`, or `$FRAMELESS_DATASETS/<name>`. `None` (with a
/// note) when absent; a panic when absent and `CI` is set.
pub fn dataset(name: &str) -> Option<PathBuf> {
    let root = std::env::var_os("FRAMELESS_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
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
