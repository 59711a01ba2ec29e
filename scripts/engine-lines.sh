#!/usr/bin/env bash
# Lines of the engine's no_std part: for every engine/src/**/*.rs except the
# std-only writer (writer*.rs), the lines before the file's first
# `#[cfg(test)]` (the whole file if it has none). Fails at the limit or more.
# verify.rs is skipped too: the signature check behind feature `verify`
# (off by default), which firmware that loads unsigned blobs never compiles.
# kernels/dsp.rs is skipped too: the Cortex-M4 asm! kernels behind feature `dsp`
# (off by default, compiled only for target_arch = "arm"), which replace safe
# kernels that stay counted.
set -euo pipefail
cd "$(dirname "$0")/.."
# 1,500 through blob v2 (issue 11: one forward pass, float or int8 with run-time
# float scales). Blob v3 added a second, integer-only forward pass (integer.rs,
# issue 13) and the id map and new-node rows (nodes.rs, issue 16): 2,400.
limit=2400
total=0
while IFS= read -r f; do
    n=$(awk '/^[[:space:]]*#\[cfg\(test\)\]/ { exit } { n++ } END { print n + 0 }' "$f")
    printf '%5d %s\n' "$n" "$f"
    total=$((total + n))
done < <(find engine/src -name '*.rs' ! -name 'writer*.rs' ! -path engine/src/verify.rs ! -path engine/src/kernels/dsp.rs | sort)
echo "engine no_std lines: $total (limit < $limit)"
if [ "$total" -ge "$limit" ]; then
    echo "error: the engine's no_std part has $total lines, must stay under $limit" >&2
    exit 1
fi
