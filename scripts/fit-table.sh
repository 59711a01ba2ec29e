#!/usr/bin/env bash
# The `frameless fit` table: per dataset, the plain MLP, the best-validation teacher and
# the fit student (f32 ± std / int8), the wall time and the recipes chosen, N seeds.
# Usage: scripts/fit-table.sh "cora texas" 10   (release binary; one dataset at a time)
# Environment: BIN (default target/release/frameless), JOBS (default: all cores),
# FRAMELESS_DATASETS (default ../shared/datasets), FIT_OUT (default out/fit).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/frameless}
OUT=${FIT_OUT:-out/fit}
DATA=${FRAMELESS_DATASETS:-../shared/datasets}
SEEDS=${2:-10}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$OUT"
echo "| dataset | seeds | plain MLP | teacher | fit f32 | fit int8 | wall s | chosen (seeds) |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
for ds in $1; do
  "$BIN" fit --dataset "$DATA/$ds" --seeds "$SEEDS" --jobs "$JOBS" -q --json \
      -o "$OUT/$ds.fgkd" > /dev/null
  jq -r '. as $r
    | ([$r.choices[].recipe
        | "\(.student.kind)\(if .teacher then "←\(.teacher) λ\(.lambda)" else "←labels" end)"]
       | group_by(.) | map("\(.[0]) ×\(length)") | join(", ")) as $chosen
    | def p: "\(.mean * 100 | round / 100) ± \(.std * 100 | round / 100)";
      "| \($r.dataset) | \($r.choices | length) | \($r.plain_mlp | p) | \($r.teacher | p) | \($r.fit | p) | \($r.fit_int8.mean * 100 | round / 100) | \($r.seconds | round) | \($chosen) |"' \
      "$OUT/$ds-fit/fit.json"
done
