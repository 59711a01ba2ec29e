#!/usr/bin/env bash
# End to end: a blob the distiller really exported runs on both firmware
# targets. A small `frameless demo` trains and exports a student, gen turns
# one of its blobs into a model folder, and run.sh builds the firmware from
# that folder, runs it in QEMU and fails if it disagrees with the host
# engine. Takes seconds once built. Called by scripts/test-all.sh.
#
# Then the budget check: `frameless inspect BLOB --target T` (engine figures
# from the committed budget.json, measured on the synthetic models/) must give
# flash and RAM within 5% of what the budget firmware built from this blob
# measures (run.sh step 5, out/budget.json): flash = blob + engine code, RAM =
# the firmware's static RAM less its harness's + its stack high-water.
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

jget() { sed -n "s/.*\"$2\": *\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }
within() { # a b -> status 0 if |a - b| <= 5% of b
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= 0.05 * b) }'
}
bad=0
for t in ${FW_TARGETS:-cortex-m4 riscv32}; do
    fw="$(grep -F "{\"target\": \"$t\", \"precision\": \"$precision\", \"features\": \"default\"" "$here/out/budget.json" || true)"
    if [ -z "$fw" ]; then
        echo "run-exported.sh: run.sh measured no $t $precision budget firmware (out/budget.json)" >&2
        exit 1
    fi
    if ! inspect="$(cd "$here/.." && cargo run --profile test --quiet --bin frameless -- \
        inspect "$tmp/demo/model-$precision.fgkd" --target "$t" --json)"; then
        echo "run-exported.sh: frameless inspect --target $t failed" >&2
        exit 1
    fi
    (cd "$here/.." && cargo run --profile test --quiet --bin frameless -- \
        inspect "$tmp/demo/model-$precision.fgkd" --target "$t") | sed -n '/^budget/,$p'
    fw_flash=$(($(jget "$fw" blob_bytes) + $(jget "$fw" engine_code_bytes)))
    fw_ram=$(($(jget "$fw" ram_bytes) - $(jget "$fw" harness_ram_bytes) + $(jget "$fw" stack_bytes)))
    budget="${inspect#*\"budget\":}"
    in_flash="$(jget "$budget" flash_bytes)" in_ram="$(jget "$budget" ram_bytes)"
    for what in flash ram; do
        a="in_$what" b="fw_$what"
        verdict=ok
        within "${!a}" "${!b}" || { verdict="MORE THAN 5% APART"; bad=1; }
        awk -v t="$t" -v w="$what" -v a="${!a}" -v b="${!b}" -v v="$verdict" 'BEGIN {
            printf "budget check %s %s: inspect %d bytes, firmware build of this blob %d bytes (%+.2f%%) %s\n", t, w, a, b, 100 * (a - b) / b, v }'
    done
    # Instructions are an estimate (instr/MAC of the recorded model, no fixed
    # overhead): shown against this blob's count at its test nodes' nnz, not checked.
    nnz="$(jget "$fw" mean_nnz)"
    est="$(cd "$here/.." && cargo run --profile test --quiet --bin frameless -- \
        inspect "$tmp/demo/model-$precision.fgkd" --target "$t" --nnz "${nnz%.*}" --json)"
    est="$(jget "${est#*\"budget\":}" instr_per_inference)"
    awk -v t="$t" -v a="$est" -v b="$(jget "$fw" instr_per_inf)" -v n="${nnz%.*}" 'BEGIN {
        printf "budget estimate %s instructions: inspect %d per inference at nnz %d, firmware %.2f (%+.1f%%, not checked)\n", t, a, n, b, 100 * (a - b) / b }'
    echo "  (firmware build: engine code $(jget "$fw" engine_code_bytes) B measured on this blob vs $(jget "$budget" engine_code_bytes) B recorded; stack $(jget "$fw" stack_bytes) B vs $(jget "$budget" stack_bytes) B; whole budget firmware $(jget "$fw" flash_bytes) B flash)"
done
if [ "$bad" -ne 0 ]; then
    echo "run-exported.sh: FAILED: inspect --target disagrees with the firmware build by more than 5%; if the engine changed, regenerate budget.json with FW_RECORD=1 firmware-examples/run.sh" >&2
    exit 1
fi
