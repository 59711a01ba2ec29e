#!/usr/bin/env bash
# End to end: a blob the distiller really exported runs on both firmware
# targets. A small `frameless demo` trains and exports a student, gen turns
# one of its blobs into a model folder, and run.sh builds the firmware from
# that folder, runs it in QEMU and fails if it disagrees with the host
# engine. Takes seconds once built. Called by scripts/test-all.sh.
#
#   FW_PRECISION   which of the demo's blobs (default: int8)
#   FW_TARGETS, FW_TIMEOUT   passed on to run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
precision="${FW_PRECISION:-int8}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The test profile (optimised), whose artifacts `cargo test --workspace`
# already built: no second build of the distiller's dependencies.
echo "run-exported.sh: frameless demo --nodes 400 --features 40 --classes 3 --seed 1" >&2
if ! (cd "$here/.." && cargo run --profile test --quiet --bin frameless -- \
    demo --nodes 400 --features 40 --classes 3 --seed 1 --quiet --out "$tmp/demo") >"$tmp/demo.log" 2>&1; then
    cat "$tmp/demo.log" >&2
    echo "run-exported.sh: frameless demo failed" >&2
    exit 1
fi
cargo run --release --quiet --manifest-path "$here/gen/Cargo.toml" -- \
    --blob "$tmp/demo/model-$precision.fgkd" --out "$tmp/models"
FW_MODELS="$tmp/models" FW_PRECISIONS="$precision" "$here/run.sh"
