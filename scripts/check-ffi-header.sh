#!/usr/bin/env bash
# Checks the hand-written ffi/include/frameless.h against libframeless_ffi.a:
# the same function names as the library's exported symbols (nm), and the C
# spelling of each Rust signature in ffi/src/lib.rs (check-ffi-header.py).
#   check-ffi-header.sh [LIB.a [NM]]   default: a host build of the library, nm
set -euo pipefail
cd "$(dirname "$0")/.."
lib="${1:-}"
nm_cmd="${2:-nm}"
if [ -z "$lib" ]; then
    cargo build --quiet -p frameless-ffi
    lib=target/debug/libframeless_ffi.a
fi
"$nm_cmd" --defined-only "$lib" 2>/dev/null | python3 scripts/check-ffi-header.py
