#!/usr/bin/env bash
# Accuracy table: spatial teacher, then mlp / fmlp-s / fmlp-o students, N seeds per dataset.
# Usage: scripts/accuracy.sh "cora texas" 10   (release binary; one job at a time)
# Environment: BIN (default target/release/frameless), DEVICE (cpu | cuda, default cpu),
# FRAMELESS_DATASETS (default ../shared/datasets), ACC_OUT (default out/acc).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/frameless}
DEVICE=${DEVICE:-cpu}
ACC=${ACC_OUT:-out/acc}
DATA=${FRAMELESS_DATASETS:-../shared/datasets}
SEEDS=${2:-10}
mkdir -p "$ACC"
for ds in $1; do
  "$BIN" teacher --dataset "$DATA/$ds" --seeds "$SEEDS" --device "$DEVICE" --out "$ACC/soft-$ds" --json -q > "$ACC/$ds-teacher.json"
  for s in mlp fmlp-s fmlp-o; do
    "$BIN" distill --teacher "$ACC/soft-$ds"/*.json --student $s --device "$DEVICE" --json -q -o "$ACC/$ds-$s" > "$ACC/$ds-$s.json"
  done
  python3 - "$ds" "$ACC" <<'PY'
import json, sys
ds, acc = sys.argv[1], sys.argv[2]
t = json.load(open(f"{acc}/{ds}-teacher.json"))
row = [f"{t['test_accuracy_mean']:.2f} ± {t['test_accuracy_std']:.2f}"]
for s in ["mlp", "fmlp-s", "fmlp-o"]:
    r = json.load(open(f"{acc}/{ds}-{s}.json"))
    row.append(f"{r['test_accuracy_mean']:.2f} ± {r['test_accuracy_std']:.2f} / {r['int8_test_accuracy_mean']:.2f}")
print(f"| {ds} | {t['seeds']} | " + " | ".join(row) + " |", flush=True)
PY
done
