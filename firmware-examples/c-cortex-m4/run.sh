#!/usr/bin/env bash
# The C firmware example end to end: builds libframeless_ffi.a for
# thumbv7em-none-eabihf (Debian rustc, -Zbuild-std=core), checks
# ffi/include/frameless.h against its symbols, converts the model folder to C
# (rs2c.sh), builds the firmware with Debian's arm-none-eabi-gcc for each
# precision, runs it on QEMU mps2-an386 and requires every class and logit to
# be bit-identical to the host engine's. Prints instructions per inference next
# to the Rust firmware's when ../out/fw-cortex-m4-<p>.log exists (../run.sh).
# Non-zero on any failure. Called by scripts/test-all.sh.
#   FW_PRECISIONS (default "f32 f16 int8"), FW_MODELS (default ../models), FW_TIMEOUT (120)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fw="$(dirname "$here")"
repo="$(dirname "$fw")"
models="$(cd "${FW_MODELS:-$fw/models}" && pwd)"
qemu_root="$("$fw/setup.sh" | tail -n 1)"
note() { echo "c-cortex-m4: $*" >&2; }

# 1. The static library, built as the Rust firmware builds the engine.
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_THUMBV7EM_NONE_EABIHF_RUSTFLAGS="-C target-cpu=cortex-m4"
# From firmware-examples/, so its .cargo/config.toml applies as to the Rust
# firmware. `cargo rustc --crate-type staticlib`: with the rlib type beside it
# cargo skips the release profile's fat LTO and the archive holds only LLVM
# bitcode, which gcc's linker cannot read.
note "building libframeless_ffi.a for thumbv7em-none-eabihf"
(cd "$fw" && cargo rustc --release --quiet -Zbuild-std=core --target thumbv7em-none-eabihf \
    --manifest-path "$repo/ffi/Cargo.toml" -p frameless-ffi --crate-type staticlib --target-dir "$fw/target/ffi")
lib_dir="$fw/target/ffi/thumbv7em-none-eabihf/release"

# 2. The header against the library it ships with.
"$repo/scripts/check-ffi-header.sh" "$lib_dir/libframeless_ffi.a" arm-none-eabi-nm

# 3. Per precision: data.h, firmware, QEMU.
out="$fw/out"
mkdir -p "$out"
cflags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -ffreestanding
    -Wall -Wextra -Werror -std=c11 -I "$repo/ffi/include")
fail=0
rows=()
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
for p in ${FW_PRECISIONS:-f32 f16 int8}; do
    [ -f "$models/model-$p.fgkd" ] || { note "no $models/model-$p.fgkd: skipping $p"; continue; }
    gen="$out/c-$p"
    mkdir -p "$gen"
    "$here/rs2c.sh" "$models" "$p" >"$gen/data.h"
    elf="$out/fw-c-cortex-m4-$p.elf"
    note "building $elf"
    arm-none-eabi-gcc "${cflags[@]}" -I "$gen" -DBLOB_PATH="\"$models/model-$p.fgkd\"" \
        -nostdlib -T "$here/link.ld" -Wl,--gc-sections \
        "$here/startup.c" "$here/board.c" "$here/main.c" "$here/blob.S" \
        -L "$lib_dir" -lframeless_ffi -lgcc -o "$elf"
    log="$out/fw-c-cortex-m4-$p.log"
    rc=0
    timeout --kill-after=5 "${FW_TIMEOUT:-120}" "$qemu_root/usr/bin/qemu-system-arm" -machine mps2-an386 \
        -cpu cortex-m4 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -icount shift=0 -kernel "$elf" >"$log" 2>&1 || rc=$?
    cat "$log" >&2
    report="$(grep '^FWREPORT' "$log" | tail -n 1 || true)"
    n_logits="$(field exact_logits "$report")"
    if [ "$rc" -ne 0 ] || [ -z "$report" ] || [ "${n_logits%/*}" != "${n_logits#*/}" ]; then
        note "$p: exit $rc, exact_logits=${n_logits:-none}: FAILED"
        fail=1
    fi
    rust="$(grep '^FWREPORT' "$out/fw-cortex-m4-$p.log" 2>/dev/null | tail -n 1 || true)"
    # Only a Rust run of the same blob compares (run-exported.sh reuses out/ for its own model).
    [ "$(field blob_bytes "$rust")" = "$(field blob_bytes "$report")" ] || rust=""
    rows+=("$p $(field instr_per_inf "$report") ${rust:+$(field instr_per_inf "$rust")} $n_logits")
done
echo
printf '%-5s %18s %18s %s\n' prec "C instr/infer" "Rust instr/infer" exact_logits
for r in "${rows[@]}"; do
    read -r p c rs ex <<<"$r"
    [ -n "${ex:-}" ] || { ex="$rs"; rs="-"; }
    printf '%-5s %18s %18s %s\n' "$p" "$c" "$rs" "$ex"
done
echo "(cortex-m4, QEMU mps2-an386 -icount shift=0, SysTick 40 instructions/tick; the C and Rust firmware call the same engine code)"
[ "$fail" -eq 0 ] || { note "FAILED"; exit 1; }
note "C firmware passed: every logit bit-identical to the host engine"
