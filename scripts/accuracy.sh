#!/usr/bin/env bash
# Accuracy table: spatial teacher, then mlp / fmlp-s / fmlp-o students, N seeds per dataset.
# Usage: scripts/accuracy.sh "cora texas" 10   (release binary; one job at a time)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/frameless
DATA=${FRAMELESS_DATASETS:-../shared/datasets}
SEEDS=${2:-10}
mkdir -p out/acc
for ds in $1; do
  $BIN teacher --dataset "$DATA/$ds" --seeds "$SEEDS" --out "out/acc/soft-$ds" --json -q > "out/acc/$ds-teacher.json"
  for s in mlp fmlp-s fmlp-o; do
    $BIN distill --teacher out/acc/soft-$ds/*.json --student $s --json -q -o "out/acc/$ds-$s" > "out/acc/$ds-$s.json"
  done
  python3 - "$ds" <<'PY'
import json, sys
ds = sys.argv[1]
t = json.load(open(f"out/acc/{ds}-teacher.json"))
row = [f"{t['test_accuracy_mean']:.2f} ± {t['test_accuracy_std']:.2f}"]
for s in ["mlp", "fmlp-s", "fmlp-o"]:
    r = json.load(open(f"out/acc/{ds}-{s}.json"))
    row.append(f"{r['test_accuracy_mean']:.2f} ± {r['test_accuracy_std']:.2f} / {r['int8_test_accuracy_mean']:.2f}")
print(f"| {ds} | {t['seeds']} | " + " | ".join(row) + " |", flush=True)
PY
done
