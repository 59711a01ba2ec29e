#!/usr/bin/env bash
# Thread benchmark (issue 14): ms per epoch of the default thread policy against
# --threads 1 and --threads 2, quiet and beside one competing CPU-bound process
# (`yes > /dev/null`), for the spatial teacher and the fmlp-s student, on Cora,
# Chameleon and (teacher only) a 100k-node synthetic graph. Each setting runs five
# times, interleaved, and a row shows each setting's median run; its ratio is
# default / best(1, 2). The median, not the fastest run: this shared machine's runs of
# one setting spread by 10-30 % (beside the competing process, the default and one
# thread, which then run the same way, took 37-50 ms per Chameleon fmlp-s epoch in
# eight interleaved runs), and the fastest of two picked that spread, not the policy.
# The 100k rows time 5 epochs a run, not 2: the first epoch's page faults weighed.
# The policy's target is ratio <= 1.1 in every row (full mode exits 1 otherwise).
#
#   scripts/bench-threads.sh           full grid (about fifteen minutes on 2 cores)
#   scripts/bench-threads.sh --quick   Cora, 3 epochs, quiet only, no target: a few
#                                      seconds, so the script cannot rot (test-all.sh)
#
# FRAMELESS_BIN (default target/release/frameless, built if missing) and
# FRAMELESS_DATASETS (default ../shared/datasets) locate the binary and the data.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
BIN=${FRAMELESS_BIN:-target/release/frameless}
DATA=${FRAMELESS_DATASETS:-../shared/datasets}
if [[ ! -x "$BIN" ]]; then
    cargo build --release -p frameless
fi
# A user's RAYON_NUM_THREADS would be taken as --threads for the default column.
unset RAYON_NUM_THREADS CANDLE_NUM_THREADS

WORK=$(mktemp -d)
HOG=""
cleanup() {
    [[ -n "$HOG" ]] && kill "$HOG" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# name|dataset|epochs|repeats|models
if ((QUICK)); then
    DATASETS=("cora|$DATA/cora|3|1|teacher student")
    LOADS=(quiet)
else
    DATASETS=("cora|$DATA/cora|30|5|teacher student"
        "chameleon|$DATA/chameleon|30|5|teacher student"
        "synthetic-100k|synthetic:nodes=100000,seed=1|5|5|teacher")
    LOADS=(quiet loaded)
fi
SETTINGS=(default 1 2)

# ms/epoch of one run: `teacher` (writing soft labels into $WORK/<name>) or `student`.
epoch_ms() { # <model> <name> <dataset> <epochs> <setting>
    local model=$1 name=$2 dataset=$3 epochs=$4 setting=$5 threads=()
    [[ $setting != default ]] && threads=(--threads "$setting")
    # The JSON goes to a file and is read after the run: a reader started in a pipe
    # beside the binary is busy exactly while the default policy samples the load at
    # start-up, and kept candle's gemm on one thread for the whole run (the 100k rows
    # read 1.11-1.15 that way; run apart, the default matched --threads 2).
    local out="$WORK/run.json"
    if [[ $model == teacher ]]; then
        "$BIN" teacher --dataset "$dataset" --seeds 1 --epochs "$epochs" --patience "$epochs" \
            --out "$WORK/$name" --json "${threads[@]}" >"$out"
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["epoch_ms"])' "$out"
    else
        "$BIN" distill --teacher "$WORK/$name"/*.json --student fmlp-s --epochs "$epochs" \
            --patience "$epochs" --out "$WORK/$name-student.json" --json "${threads[@]}" >"$out"
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][0]["report"]["epoch_ms"])' "$out"
    fi
}

FAILED=0
printf '%-15s %-7s %-7s %10s %10s %10s %7s\n' dataset model load default 1-thread 2-thread ratio
for load in "${LOADS[@]}"; do
    if [[ $load == loaded ]]; then
        yes >/dev/null &
        HOG=$!
        sleep 1
    fi
    for entry in "${DATASETS[@]}"; do
        IFS='|' read -r name dataset epochs repeats models <<<"$entry"
        for model in $models; do
            declare -A runs=() median=()
            for ((r = 0; r < repeats; r++)); do
                for setting in "${SETTINGS[@]}"; do
                    if [[ $model == student && ! -d "$WORK/$name" ]]; then
                        epoch_ms teacher "$name" "$dataset" 1 1 >/dev/null
                    fi
                    ms=$(epoch_ms "$model" "$name" "$dataset" "$epochs" "$setting")
                    runs[$setting]="${runs[$setting]:-} $ms"
                done
            done
            for setting in "${SETTINGS[@]}"; do
                median[$setting]=$(python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" ${runs[$setting]})
            done
            read -r ratio verdict < <(python3 -c "
d, a, b = ${median[default]}, ${median[1]}, ${median[2]}
r = d / min(a, b)
print(f'{r:.2f}', 'ok' if r <= 1.1 else 'SLOW')")
            [[ $verdict == ok ]] || FAILED=1
            printf '%-15s %-7s %-7s %10.2f %10.2f %10.2f %7s %s\n' "$name" "$model" "$load" \
                "${median[default]}" "${median[1]}" "${median[2]}" "$ratio" "$verdict"
            unset runs median
        done
    done
    if [[ -n "$HOG" ]]; then
        kill "$HOG"
        HOG=""
    fi
done
if ((QUICK)); then
    exit 0
fi
exit "$FAILED"
