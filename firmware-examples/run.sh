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
#   FW_BUDGET=0       skip the budget firmware builds (step 5)
#   FW_RECORD=1       rewrite budget.json from this run (default models/, every
#                     target and precision); without it, a run of the default
#                     models/ fails if its figures differ from budget.json
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

# An ELF's sizes, "flash ram text rodata": flash = every allocated section with
# contents (vector table, code, read-only data, .data's initial image); RAM =
# allocated and writable (.data, .bss, .uninit; not the linker's .stack/.heap
# regions); text = executable; rodata = the rest of flash but .data.
elf_sizes() {
    local flash=0 ram=0 text=0 rodata=0 name type size flg
    while read -r name type size flg; do
        case "$name" in .stack | .heap) continue ;; esac
        [[ "$flg" == *A* ]] || continue
        size=$((16#$size))
        [ "$type" = NOBITS ] || flash=$((flash + size))
        if [[ "$flg" == *W* ]] || [ "$name" = .data ]; then
            ram=$((ram + size))
        elif [[ "$flg" == *X* ]]; then
            text=$((text + size))
        elif [ "$type" != NOBITS ]; then
            rodata=$((rodata + size))
        fi
    done < <(arm-none-eabi-readelf -S -W "$1" | sed -n 's/^ *\[ *[0-9]*\] //p' | awk '{ print $1, $2, $5, $7 }')
    echo "$flash $ram $text $rodata"
}

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
declare -A reports
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
        # int8 on RV32IMAC (no FPU): no soft-float helper and no panic reachable
        # from the integer-only entry point the firmware calls.
        if [ "$t-$p" = "riscv32-int8" ] && [ "$status" = ok ] &&
            ! python3 ../scripts/check-no-float.py riscv64-unknown-elf-objdump "$elf" predict_int8 >&2; then
            status="FLOAT OR PANIC IN INT8"
            fail=1
        fi
        reports["$t-$p"]="$report"
        rows+=("$t|$p|$(field instr_per_inf)|$(field macs_per_inf)|$(field instr_per_mac)|$(field blob_bytes)|$(field scratch_bytes)|$(field stack_bytes)|$(field load_instr)|$(field exact_logits)|$status")
    done
done

# 5. The budget (budget.json, read by `frameless inspect --target`): per target,
# precision and feature set, the budget firmware (common/src/budget.rs: load the
# blob, answer one node, static scratch of exactly scratch_len) and its baseline
# without engine calls (`budget-base`, same blob and test node embedded). Engine
# code = flash(budget) - flash(base) - (blob_bytes - base blob_bytes); engine
# static RAM = RAM(budget) - RAM(base) - scratch_bytes; stack = the budget
# firmware's painted high-water of load + predict. Instructions per MAC come
# from step 4's FWREPORT (feature set default; verify changes loading only).
budget_entries=()
budget_rows=()
if [ "${FW_BUDGET:-1}" != 0 ] && [ -n "$fault_p" ]; then
    for t in "${targets[@]}"; do
        tr="$(triple "$t")"
        # "name features" per build; the base embeds $fault_p's blob.
        builds=("base $fault_p,budget-base")
        for p in "${precisions[@]}"; do
            [ -f "$FW_MODELS/model-$p.fgkd" ] && builds+=("default $p,budget")
        done
        [ -f "$FW_MODELS/model-$fault_p.signed.fgkd" ] && builds+=("verify $fault_p,budget,sig-test")
        base_sizes="" base_blob=""
        for b in "${builds[@]}"; do
            set_name="${b%% *}" feats="${b#* }"
            p="${feats%%,*}"
            note "building the budget firmware fw-$t ($feats)"
            elf="out/fw-$t-budget-$set_name-$p.elf"
            log="out/fw-$t-budget-$set_name-$p.log"
            rc=0
            if cargo build "${cargo_q[@]}" "${build_std[@]}" --target "$tr" -p "fw-$t" --features "$feats"; then
                cp "target/$tr/release/fw-$t" "$elf"
                qemu_run "$t" "$elf" "$log" || rc=$?
            else
                rc=build
            fi
            line="$(grep '^FWBUDGET' "$log" 2>/dev/null | tail -n 1 || true)"
            if [ "$rc" != 0 ] || [ -z "$line" ]; then
                cat "$log" >&2 2>/dev/null || true
                note "budget firmware fw-$t ($feats): status $rc, expected 0 with an FWBUDGET line"
                fail=1
                [ "$set_name" = base ] && break
                continue
            fi
            bfield() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
            read -r flash ram text rodata <<<"$(elf_sizes "$elf")"
            if [ "$set_name" = base ]; then
                base_sizes="$flash $ram $text $rodata" base_blob="$(bfield blob_bytes)"
                continue
            fi
            read -r bflash bram btext brodata <<<"$base_sizes"
            blob="$(bfield blob_bytes)" scratch="$(bfield scratch_bytes)" stack="$(bfield stack_bytes)"
            code=$((flash - bflash - (blob - base_blob)))
            e="\"target\": \"$t\", \"precision\": \"$p\", \"features\": \"$set_name\""
            e+=", \"blob_bytes\": $blob, \"scratch_bytes\": $scratch"
            e+=", \"engine_code_bytes\": $code, \"engine_text_bytes\": $((text - btext))"
            e+=", \"engine_rodata_bytes\": $((rodata - brodata - (blob - base_blob)))"
            e+=", \"engine_static_ram_bytes\": $((ram - bram - scratch)), \"stack_bytes\": $stack"
            e+=", \"flash_bytes\": $flash, \"ram_bytes\": $ram"
            e+=", \"harness_flash_bytes\": $((bflash - base_blob)), \"harness_ram_bytes\": $bram"
            report="${reports["$t-$p"]:-}"
            ipm="" ipi=""
            if [ -n "$report" ]; then
                field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$report"; }
                ipm="$(field instr_per_mac)" ipi="$(field instr_per_inf)"
                read -r xflash xram _ _ <<<"$(elf_sizes "out/fw-$t-$p.elf")"
                e+=", \"instr_per_inf\": $ipi, \"macs_per_inf\": $(field macs_per_inf)"
                e+=", \"instr_per_mac\": $ipm, \"mean_nnz\": $(field mean_nnz)"
                e+=", \"example_flash_bytes\": $xflash, \"example_ram_bytes\": $xram"
                e+=", \"example_stack_bytes\": $(field stack_bytes)"
            fi
            budget_entries+=("{$e}")
            budget_rows+=("$t|$p|$set_name|$blob|$code|$((blob + code))|$scratch|$stack|$((ram - bram + stack))|$ipm")
        done
    done
fi

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

# The budget: this run's figures in out/budget.json; FW_RECORD=1 makes them the
# committed budget.json, else a run of the default models/ is checked against it.
if [ "${#budget_entries[@]}" -gt 0 ]; then
    echo
    printf '%-10s %-5s %-8s %10s %12s %11s %9s %8s %8s %10s\n' \
        target prec features blob_B engine_code_B flash_B scratch_B stack_B ram_B instr/MAC
    for r in "${budget_rows[@]}"; do
        IFS='|' read -r -a c <<<"$r"
        printf '%-10s %-5s %-8s %10s %12s %11s %9s %8s %8s %10s\n' "${c[@]}"
    done
    echo "(budget firmware minus its baseline without engine calls; flash = blob + engine code, ram = scratch + static + stack of load and predict; budget.json)"
    tmp_json="out/.budget.json.tmp"
    {
        echo '{'
        echo '  "about": "What the engine costs a firmware, per target, precision and feature set: measured by firmware-examples/run.sh, read by frameless inspect --target at build time.",'
        echo '  "method": "engine_code_bytes = flash of the budget firmware (common/src/budget.rs: load the blob, answer one node) minus flash of the same firmware without engine calls (budget-base, same blob and test node), less the blob-size difference; flash = allocated sections with contents (vector table, .text, .rodata, .data image), RAM = .data + .bss + .uninit; stack_bytes = painted high-water of load + predict in the budget firmware; instr_per_mac = the example firmware'"'"'s QEMU -icount instructions per inference / Model::mac_count, over its 32 test nodes; example_* = the full example firmware (test set, checks, report).",'
        echo '  "tolerance": "blob_bytes, scratch_bytes, macs_per_inf, mean_nnz exact; engine_code_bytes, flash_bytes, ram_bytes, stack_bytes, instr_per_inf, instr_per_mac, example_flash_bytes +-2%",'
        echo '  "regenerate": "FW_RECORD=1 firmware-examples/run.sh",'
        echo '  "entries": ['
        n=${#budget_entries[@]}
        for i in "${!budget_entries[@]}"; do
            sep=,
            [ "$i" -eq $((n - 1)) ] && sep=
            echo "    ${budget_entries[$i]}$sep"
        done
        echo '  ]'
        echo '}'
    } >"$tmp_json"
    mv "$tmp_json" out/budget.json
    full_run=0
    [ "$FW_MODELS" = "$here/models" ] && [ "${targets[*]}" = "cortex-m4 riscv32" ] &&
        [ "${precisions[*]}" = "f32 f16 int8" ] && full_run=1
    if [ "${FW_RECORD:-0}" = 1 ]; then
        if [ "$full_run" != 1 ] || [ "$fail" -ne 0 ]; then
            note "FW_RECORD=1 needs a passing run of the default models/, every target and precision: budget.json not written"
            fail=1
        else
            cp out/budget.json budget.json.tmp && mv budget.json.tmp budget.json
            note "wrote budget.json (${#budget_entries[@]} entries); rebuild frameless so inspect --target reads it"
        fi
    elif [ "$FW_MODELS" = "$here/models" ]; then
        jget() { sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }
        stale=0
        for e in "${budget_entries[@]}"; do
            key="$(sed -n 's/^{\("target": "[^"]*", "precision": "[^"]*", "features": "[^"]*"\).*/\1/p' <<<"$e")"
            old="$(grep -F "$key" budget.json || true)"
            if [ -z "$old" ]; then
                note "budget.json has no entry {$key}"
                stale=1
                continue
            fi
            for k in blob_bytes scratch_bytes macs_per_inf mean_nnz; do
                if [ "$(jget "$e" "$k")" != "$(jget "$old" "$k")" ]; then
                    note "budget.json {$key}: $k is $(jget "$old" "$k"), this run measured $(jget "$e" "$k")"
                    stale=1
                fi
            done
            for k in engine_code_bytes flash_bytes ram_bytes stack_bytes instr_per_inf instr_per_mac example_flash_bytes; do
                a="$(jget "$old" "$k")" b="$(jget "$e" "$k")"
                [ -z "$a$b" ] && continue
                if ! awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; exit !(a != "" && b != "" && d <= 0.02 * m) }'; then
                    note "budget.json {$key}: $k is $a, this run measured $b (more than 2% apart)"
                    stale=1
                fi
            done
        done
        if [ "$stale" -ne 0 ]; then
            note "budget.json is stale: regenerate it with FW_RECORD=1 firmware-examples/run.sh and commit it"
            fail=1
        else
            note "budget.json matches this run (${#budget_entries[@]} entries)"
        fi
    else
        note "budget figures of $FW_MODELS in out/budget.json (budget.json holds the default models/' and is not checked here)"
    fi
fi
if [ "$fail" -ne 0 ]; then
    note "FAILED"
    exit 1
fi
note "all firmware examples passed"
