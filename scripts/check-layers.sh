#!/usr/bin/env bash
# Fails if a distiller module imports a later pipeline stage or modules import each other.
# The stage order is the LAYERS block of distiller/src/lib.rs; the checking is in
# check-layers.py (python3), which lists every offending `crate::` path with its line.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/check-layers.py "$@"
