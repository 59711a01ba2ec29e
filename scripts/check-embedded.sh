#!/usr/bin/env bash
# Proves frameless-engine builds (no_std, no alloc) for the two MCU targets.
# Needs Debian's rustc-web + rust-web-src (see ../shared/EMBEDDED.md); installs nothing.
# -Zbuild-std stays on the command line: never in a .cargo/config.toml host builds read.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
    echo "error: /usr/bin/rustc (rustc-web) and rust-web-src are required; run the firmware setup script" >&2
    exit 1
fi
for target in thumbv7em-none-eabihf riscv32imac-unknown-none-elf; do
    echo "== frameless-engine for $target" >&2
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 cargo build --release -Zbuild-std=core \
        -p frameless-engine --target "$target" --target-dir target-embedded
done
