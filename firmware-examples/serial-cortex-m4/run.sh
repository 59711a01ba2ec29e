#!/usr/bin/env bash
# The serial firmware end to end: builds fw-serial (int8 model from ../models,
# or FW_MODELS) for thumbv7em-none-eabihf and gen's serial-check driver, which
# runs it in QEMU mps2-an386 with UART0 on QEMU's stdio, sends ~300 request
# lines (good, malformed, oversized, rejected by the engine) and checks every
# answer against the host engine. Writes ../serial-transcript.txt (the first
# ten lines and answers). Non-zero on any failure. Called by scripts/test-all.sh.
#   FW_SERIAL_PRECISION (default int8), FW_TIMEOUT (default 120)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fw="$(dirname "$here")"
if [ -n "${FW_MODELS:-}" ]; then FW_MODELS="$(cd "$FW_MODELS" && pwd)"; else FW_MODELS="$fw/models"; fi
export FW_MODELS
p="${FW_SERIAL_PRECISION:-int8}"
cd "$fw"
qemu_root="$(./setup.sh | tail -n 1)"
echo "serial-cortex-m4: building fw-serial ($p) and serial-check" >&2
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 cargo build --release --quiet -Zbuild-std=core \
    --target thumbv7em-none-eabihf -p fw-serial --features "$p"
cargo build --release --quiet --manifest-path gen/Cargo.toml --bin serial-check
gen/target/release/serial-check "$qemu_root/usr/bin/qemu-system-arm" \
    target/thumbv7em-none-eabihf/release/fw-serial "$FW_MODELS/model-$p.fgkd" \
    "$fw/serial-transcript.txt" "${FW_TIMEOUT:-120}"
