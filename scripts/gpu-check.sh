#!/usr/bin/env bash
# Run ON the GPU machine, from the repository root, with the pack made by
# scripts/gpu-build.sh copied along (default target-cuda/pack):
#
#   scripts/gpu-check.sh OUTDIR
#
# 1. The CUDA SpMM kernel checks (GPU vs CPU loop, and timing against candle's
#    dense matmul) from the distiller's test binary.
# 2. The spatial teacher and the fmlp-s student, same seed, on --device cpu and
#    --device cuda, on Cora and on a 100k-node synthetic graph: accuracy and epoch
#    time of each, and a summary table.
# Everything is logged to OUTDIR/gpu-check.log (JSON of each run beside it).
# Each step has its own time limit so that the whole run stays within a few minutes;
# a failing step is reported and the script goes on.
#
# Environment: FRAMELESS_PACK (default target-cuda/pack), CORA (default
# ../shared/datasets/cora), SYNTH (default synthetic:nodes=100000), STEP_TIMEOUT
# (seconds per training run, default 150), SEED (default 1).
set -uo pipefail

OUT=${1:?usage: scripts/gpu-check.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec > >(tee "$OUT/gpu-check.log") 2>&1

PACK=${FRAMELESS_PACK:-target-cuda/pack}
if [ ! -x "$PACK/bin/frameless" ] && [ -e "$PACK/frameless-cuda.tar.gz" ]; then
    # The copied pack may be read-only: unpack next to OUTDIR.
    mkdir -p "$OUT/pack" && tar -C "$OUT/pack" -xzf "$PACK/frameless-cuda.tar.gz" && PACK=$OUT/pack
fi
BIN=$PACK/bin/frameless
TESTS=$PACK/bin/distiller-tests
if [ -z "${CORA:-}" ]; then
    # The GPU machine may lay shared/ beside the repository or inside it.
    for c in ../shared/datasets/cora shared/datasets/cora; do
        [ -e "$c" ] && { CORA=$c; break; }
    done
    CORA=${CORA:-../shared/datasets/cora}
fi
SYNTH=${SYNTH:-synthetic:nodes=100000}
STEP_TIMEOUT=${STEP_TIMEOUT:-150}
SEED=${SEED:-1}
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$(cd "$PACK" && pwd)/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Faster CPU training with candle (../shared/GPU.md); harmless on the CUDA runs.
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295

# --- CLI: adapt here if the subcommands' flags differ ------------------------------
teacher_cmd() { # dataset device out.json soft-label-dir [extra flags...]
    local ds=$1 dev=$2 json=$3 dir=$4; shift 4
    timeout "$STEP_TIMEOUT" "$BIN" teacher --dataset "$ds" --model spatial --seeds 1 --first-seed "$SEED" \
        --device "$dev" --out "$dir" --json "$@" > "$json"
}
student_cmd() { # soft-label-dir device out.json [extra flags...]
    local dir=$1 dev=$2 json=$3; shift 3
    timeout "$STEP_TIMEOUT" "$BIN" distill --teacher "$dir"/*-seed"$SEED".json --student fmlp-s \
        --device "$dev" -o "$dir/student.json" --json "$@" > "$json"
}
# -------------------------------------------------------------------------------------

section() { printf '\n==== %s ====\n' "$*"; }
timed() { # label cmd...: runs cmd (a function with its own time limit), logs wall time
    local label=$1; shift
    local t0 t1 rc wall
    t0=$(date +%s.%N)
    "$@"; rc=$?
    t1=$(date +%s.%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    echo "$label: exit $rc, wall $wall s"
    echo "$label $rc $wall" >> "$OUT/walltimes.txt"
    return $rc
}

section "machine"
date -u; uname -a
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi failed"
nproc
cat "$PACK/BUILD-INFO.txt" 2>/dev/null | head -4
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
echo "Cora: $CORA $( [ -e "$CORA" ] && echo '(found)' || echo '(NOT FOUND: set CORA=...)')"
ldd "$BIN" 2>&1
if ldd "$BIN" 2>&1 | grep -q 'not found'; then
    echo "!! missing shared libraries above: the binary cannot start"
fi

section "CUDA SpMM kernel checks"
timeout 120 "$TESTS" --test-threads 1 --nocapture spmm_cuda 2>&1 | tail -30
echo "kernel checks exit: ${PIPESTATUS[0]}"

rm -f "$OUT/walltimes.txt"
run_dataset() { # name dataset [extra training flags...]
    local name=$1 ds=$2 dev; shift 2
    for dev in cpu cuda; do
        section "$name: spatial teacher on $dev"
        timed "teacher-$name-$dev" teacher_cmd "$ds" "$dev" "$OUT/teacher-$name-$dev.json" \
            "$OUT/soft-$name-$dev" "$@"
        tail -c 2000 "$OUT/teacher-$name-$dev.json"; echo
        section "$name: fmlp-s student on $dev"
        timed "student-$name-$dev" student_cmd "$OUT/soft-$name-$dev" "$dev" \
            "$OUT/student-$name-$dev.json" "$@"
        tail -c 2000 "$OUT/student-$name-$dev.json"; echo
    done
}
run_dataset cora "$CORA"
# 100k nodes: a fixed, short run (epoch time is the figure here, not accuracy).
run_dataset synth100k "$SYNTH" --epochs "${SYNTH_EPOCHS:-30}" --patience "${SYNTH_EPOCHS:-30}"

section "summary (accuracy and epoch time from each run's JSON; wall = whole command)"
python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
walls = {}
if os.path.exists(os.path.join(out, "walltimes.txt")):
    for line in open(os.path.join(out, "walltimes.txt")):
        label, rc, wall = line.split()
        walls[label] = (int(rc), float(wall))

def leaves(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, obj

def pick(doc, words):
    return [(p, v) for p, v in leaves(doc)
            if isinstance(v, (int, float)) and all(w in p.lower() for w in words)]

print(f"{'run':28} {'rc':>3} {'wall s':>8}  accuracy / epoch time fields")
for stage in ("teacher", "student"):
    for name in ("cora", "synth100k"):
        for dev in ("cpu", "cuda"):
            label = f"{stage}-{name}-{dev}"
            rc, wall = walls.get(label, (None, float("nan")))
            fields = []
            try:
                text = open(os.path.join(out, label + ".json")).read().strip()
                # one JSON document, or JSON lines (take the last parseable one)
                docs = []
                for chunk in [text] + text.splitlines()[::-1]:
                    try:
                        docs.append(json.loads(chunk)); break
                    except ValueError:
                        pass
                if docs:
                    doc = docs[0]
                    fields = pick(doc, ["acc"]) + pick(doc, ["epoch"]) + pick(doc, ["time"])
            except OSError:
                pass
            seen, shown = set(), []
            for p, v in fields:
                if p not in seen:
                    seen.add(p); shown.append(f"{p}={v:.4g}")
            print(f"{label:28} {str(rc):>3} {wall:8.1f}  {' '.join(shown[:8]) or '-'}")
EOF
echo; echo "log: $OUT/gpu-check.log"
