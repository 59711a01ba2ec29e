#!/usr/bin/env bash
# Epoch time against PyTorch (issue 14): ms per epoch of our spatial teacher and
# fmlp-s student on Cora beside the PyTorch reference's spatufg and fmlp_s
# (../shared/tools/reference/anchors.py, the same protocol), at 1 and at 2
# threads, interleaved in one run; prints ours / PyTorch per row. The target is
# a ratio <= 0.5 in every row (exit 1 otherwise).
#
#   scripts/bench-torch.sh [EPOCHS]     default 40 epochs (patience = epochs)
#
# Needs a Python with torch (PYTHON, default python3; Debian: apt install
# python3-torch libopenblas0-pthread, then PYTHON=/usr/bin/python3); it stops with an
# error without one. Without OpenBLAS, Debian's torch falls back to the reference BLAS
# and runs about ten times slower (640 against 69 ms a Cora teacher epoch), which would
# flatter every ratio.
# anchors.py prints torch_geometric's version, which spatufg and fmlp_s do not
# use: a stand-in module answers when PyG is absent; torch before 2.0 lacks
# sparse_coo_tensor's check_invariants, which the wrapper then drops. FRAMELESS_BIN and
# FRAMELESS_DATASETS as in bench-threads.sh. Not part of test-all.sh (no torch on CI).
set -euo pipefail
cd "$(dirname "$0")/.."

EPOCHS=${1:-40}
PY=${PYTHON:-python3}
BIN=${FRAMELESS_BIN:-target/release/frameless}
DATA=${FRAMELESS_DATASETS:-../shared/datasets}
ANCHORS=${FRAMELESS_ANCHORS:-../shared/tools/reference/anchors.py}
"$PY" -c 'import torch' 2>/dev/null || { echo "bench-torch: $PY has no torch (set PYTHON)" >&2; exit 2; }
[[ -x "$BIN" ]] || cargo build --release -p frameless
unset RAYON_NUM_THREADS CANDLE_NUM_THREADS
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

torch_ms() { # <threads>: "spatufg_ms fmlp_s_ms"
    "$PY" - "$ANCHORS" --datasets cora --data "$DATA" --models spatufg,fmlp_s --seeds 1 \
        --epochs "$EPOCHS" --patience "$EPOCHS" --threads "$1" --out "$WORK/anchors.json" >/dev/null <<'PY'
import sys, types
try:
    import torch_geometric  # noqa: F401
except ImportError:
    sys.modules["torch_geometric"] = types.SimpleNamespace(__version__="absent (unused here)")
import torch
if "check_invariants" not in (torch.sparse_coo_tensor.__doc__ or ""):
    # torch < 2.0 (Debian's 1.13) has no check_invariants: drop it.
    _coo = torch.sparse_coo_tensor
    torch.sparse_coo_tensor = lambda *a, check_invariants=None, **k: _coo(*a, **k)
path = sys.argv[1]
sys.argv = sys.argv[1:]
exec(compile(open(path).read(), path, "exec"), {"__name__": "__main__", "__file__": path})
PY
    "$PY" -c 'import json,sys; r={x["model"]: x["epoch_ms"] for x in json.load(open(sys.argv[1]))["results"]}; print(r["spatufg"], r["fmlp_s"])' "$WORK/anchors.json"
}
ours_ms() { # <threads>: "teacher_ms student_ms"
    local t
    t=$("$BIN" teacher --dataset "$DATA/cora" --seeds 1 --epochs "$EPOCHS" --patience "$EPOCHS" \
        --out "$WORK/t" --json --threads "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch_ms"])')
    s=$("$BIN" distill --teacher "$WORK"/t/*.json --student fmlp-s --epochs "$EPOCHS" --patience "$EPOCHS" \
        --out "$WORK/s.json" --json --threads "$1" |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["report"]["epoch_ms"])')
    echo "$t $s"
}

FAILED=0
printf '%-8s %-8s %12s %12s %7s\n' model threads ours_ms torch_ms ratio
for threads in 1 2; do
    read -r ot os <<<"$(ours_ms "$threads")"
    read -r pt ps <<<"$(torch_ms "$threads")"
    for row in "teacher $ot $pt" "fmlp-s $os $ps"; do
        read -r model o p <<<"$row"
        ratio=$("$PY" -c "print(f'{$o / $p:.3f}')")
        printf '%-8s %-8s %12.2f %12.2f %7s\n' "$model" "$threads" "$o" "$p" "$ratio"
        "$PY" -c "import sys; sys.exit(0 if $o <= 0.5 * $p else 1)" || FAILED=1
    done
done
exit "$FAILED"
