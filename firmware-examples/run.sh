#!/usr/bin/env bash
# Builds the firmware examples for Cortex-M4F and RV32IMAC, once per model
# precision, runs each in QEMU (always under `timeout`) and prints one table
# row per target/precision. Exits non-zero on any build failure, prediction
# mismatch, fault, panic or timeout. Called by scripts/test-all.sh.
#
#   FW_PRECISIONS     precisions to run (default: "f32 f16 int8"); on cortex-m4
#                     each of f16 and int8 runs once more with the engine's `dsp`
#                     kernels (rows f16+dsp, int8+dsp), after their self-test
#   FW_TARGETS        targets to run (default: "cortex-m4 riscv32")
#   FW_TIMEOUT        seconds per QEMU run (default: 120)
#   FW_MODELS         model folder written by gen (default: models/; a relative
#                     path is taken from the current directory)
#   FW_SKIP_GEN_CHECK=1  skip checking models/ against the current engine writer
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# The firmware's build script reads FW_MODELS; absolute, as cargo runs it elsewhere.
if [ -n "${FW_MODELS:-}" ]; then
    [ -d "$FW_MODELS" ] || { echo "run.sh: FW_MODELS=$FW_MODELS is not a folder" >&2; exit 2; }
    FW_MODELS="$(cd "$FW_MODELS" && pwd)"
else
    FW_MODELS="$here/models"
fi
export FW_MODELS
cd "$here"

qemu_root="$(./setup.sh | tail -n 1)"
precisions=(${FW_PRECISIONS:-f32 f16 int8})
targets=(${FW_TARGETS:-cortex-m4 riscv32})
timeout_s="${FW_TIMEOUT:-120}"

# Debian's rustc 1.96 with its matching library source; rustup's cargo drives it.
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
build_std=(-Zbuild-std=core)
cargo_q=(--release --quiet)

triple() {
    case "$1" in
        cortex-m4) echo thumbv7em-none-eabihf ;;
        riscv32) echo riscv32imac-unknown-none-elf ;;
        *) echo "unknown target $1" >&2; return 1 ;;
    esac
}
qemu_cmd() { # target elf
    case "$1" in
        cortex-m4) echo "$qemu_root/usr/bin/qemu-system-arm -machine mps2-an386 -cpu cortex-m4" ;;
        riscv32) echo "$qemu_root/usr/bin/qemu-system-riscv32 -machine virt -bios none" ;;
    esac
}

fail=0
note() { echo "run.sh: $*" >&2; }

# 1. The model files must be what the current engine writes and predicts:
# models/ from the synthetic model, another folder from each of its blobs.
gen_check() {
    note "checking $FW_MODELS against the engine (fw-gen $*)"
    cargo run "${cargo_q[@]}" --manifest-path gen/Cargo.toml -- "$@" || {
        note "$FW_MODELS is stale or the generator failed"
        fail=1
    }
}
if [ "${FW_SKIP_GEN_CHECK:-0}" != 1 ]; then
    if [ "$FW_MODELS" = "$here/models" ]; then
        gen_check --check
    else
        # model-<p>.signed.fgkd is gen's signed copy of model-<p>.fgkd, not a source.
        for b in "$FW_MODELS"/model-*.fgkd; do
            case "$b" in *.signed.fgkd) continue ;; esac
            gen_check --check --blob "$b" --out "$FW_MODELS"
        done
    fi
fi

# 2. The engine alone, no_std, for both targets.
for t in "${targets[@]}"; do
    note "building frameless-engine alone for $(triple "$t")"
    cargo build "${cargo_q[@]}" "${build_std[@]}" --target "$(triple "$t")" -p frameless-engine || fail=1
done

qemu_run() { # target elf log -> QEMU's exit status
    set +e
    # shellcheck disable=SC2046
    timeout --kill-after=5 "$timeout_s" $(qemu_cmd "$1") -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -icount shift=0 -kernel "$2" >"$3" 2>&1
    local rc=$?
    set -e
    return "$rc"
}

mkdir -p out
# 3. A fault must end the run with status 3, not hang.
fault_p="$(for p in int8 "${precisions[@]}"; do [ -f "$FW_MODELS/model-$p.fgkd" ] && echo "$p" && break; done)"
for t in "${targets[@]}"; do
    [ -n "$fault_p" ] || break
    note "fault handler self-test on $t"
    if cargo build "${cargo_q[@]}" "${build_std[@]}" --target "$(triple "$t")" -p "fw-$t" --features "$fault_p,fault-test"; then
        cp "target/$(triple "$t")/release/fw-$t" "out/fw-$t-fault-test.elf"
        rc=0
        qemu_run "$t" "out/fw-$t-fault-test.elf" "out/fw-$t-fault-test.log" || rc=$?
        if [ "$rc" -ne 3 ] || ! grep -q '^FWERROR' "out/fw-$t-fault-test.log"; then
            cat "out/fw-$t-fault-test.log" >&2
            note "fault self-test on $t: exit $rc, expected 3 with an FWERROR line"
            fail=1
        fi
    else
        fail=1
    fi
done

# 3b. A signed blob: accepted with its key, refused with another key (and unsigned).
# This build is also the engine's feature `verify` for the target.
for t in "${targets[@]}"; do
    [ -n "$fault_p" ] || break
    note "signature self-test on $t"
    if cargo build "${cargo_q[@]}" "${build_std[@]}" --target "$(triple "$t")" -p "fw-$t" --features "$fault_p,sig-test"; then
        cp "target/$(triple "$t")/release/fw-$t" "out/fw-$t-sig-test.elf"
        rc=0
        qemu_run "$t" "out/fw-$t-sig-test.elf" "out/fw-$t-sig-test.log" || rc=$?
        cat "out/fw-$t-sig-test.log" >&2
        if [ "$rc" -ne 0 ] || ! grep -q '^FWSIG .* ok$' "out/fw-$t-sig-test.log"; then
            note "signature self-test on $t: exit $rc, expected 0 with an FWSIG ... ok line"
            fail=1
        fi
    else
        fail=1
    fi
done

# 4. Every firmware, run in QEMU.
rows=()
for t in "${targets[@]}"; do
    runs=("${precisions[@]}")
    if [ "$t" = cortex-m4 ]; then
        for p in "${precisions[@]}"; do
            case "$p" in f16 | int8) runs+=("$p+dsp") ;; esac
        done
    fi
    for p in "${runs[@]}"; do
        base="${p%+dsp}"
        features="$base"
        [ "$p" = "$base" ] || features="$base,dsp"
        if [ ! -f "$FW_MODELS/model-$base.fgkd" ]; then
            note "no $FW_MODELS/model-$base.fgkd: skipping $p"
            continue
        fi
        tr="$(triple "$t")"
        note "building fw-$t ($p)"
        if ! cargo build "${cargo_q[@]}" "${build_std[@]}" --target "$tr" -p "fw-$t" --features "$features"; then
            rows+=("$t|$p|||||||||BUILD FAILED")
            fail=1
            continue
        fi
        elf="out/fw-$t-$p.elf"
        cp "target/$tr/release/fw-$t" "$elf"
        log="out/fw-$t-$p.log"
        rc=0
        qemu_run "$t" "$elf" "$log" || rc=$?
        cat "$log" >&2
        report="$(grep '^FWREPORT' "$log" | tail -n 1 || true)"
        field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$report"; }
        status=ok
        case "$rc" in
            0) ;;
            1) status="MISMATCH" ;;
            2) status="SETUP ERROR" ;;
            3) status="FAULT" ;;
            101) status="PANIC" ;;
            124 | 137) status="TIMEOUT" ;;
            *) status="EXIT $rc" ;;
        esac
        [ "$rc" -eq 0 ] && [ -n "$report" ] || fail=1
        if [ "$p" != "$base" ] && [ "$rc" -eq 0 ] && ! grep -q '^FWDSP .* ok$' "$log"; then
            status="NO DSP SELF-TEST"
            fail=1
        fi
        [ -n "$report" ] || { [ "$status" = ok ] && status="NO REPORT"; }
        rows+=("$t|$p|$(field instr_per_inf)|$(field macs_per_inf)|$(field instr_per_mac)|$(field blob_bytes)|$(field scratch_bytes)|$(field stack_bytes)|$(field load_instr)|$(field exact_logits)|$status")
    done
done

if [ "${#rows[@]}" -eq 0 ]; then
    note "no model of the precisions ${precisions[*]} in $FW_MODELS"
    fail=1
fi

echo
printf '%-10s %-8s %14s %9s %10s %10s %9s %8s %11s %9s %s\n' \
    target prec instr/infer MACs instr/MAC blob_B scratch_B stack_B load_instr exact status
for r in "${rows[@]}"; do
    IFS='|' read -r -a c <<<"$r"
    printf '%-10s %-8s %14s %9s %10s %10s %9s %8s %11s %9s %s\n' \
        "${c[0]}" "${c[1]}" "${c[2]:-}" "${c[3]:-}" "${c[4]:-}" "${c[5]:-}" "${c[6]:-}" "${c[7]:-}" "${c[8]:-}" "${c[9]:-}" "${c[10]:-}"
done
# f32 vs int8 cost per target (RV32IMAC has no FPU: soft-float calls).
for t in "${targets[@]}"; do
    f="" i=""
    for r in "${rows[@]}"; do
        IFS='|' read -r -a c <<<"$r"
        [ "${c[0]}" = "$t" ] && [ "${c[1]}" = f32 ] && f="${c[2]}"
        [ "${c[0]}" = "$t" ] && [ "${c[1]}" = int8 ] && i="${c[2]}"
    done
    if [ -n "$f" ] && [ -n "$i" ]; then
        awk -v t="$t" -v f="$f" -v i="$i" 'BEGIN { printf "%s: f32 takes %.2fx the instructions of int8\n", t, f / i }'
    fi
done
echo "(models from $FW_MODELS; instructions from QEMU -icount shift=0: riscv32 minstret exact; cortex-m4 SysTick, 40 instructions/tick, (16 passes - 1 pass) / 15 passes over the test nodes; stack_B = predict's stack high-water mark by painting)"
if [ "$fail" -ne 0 ]; then
    note "FAILED"
    exit 1
fi
note "all firmware examples passed"
