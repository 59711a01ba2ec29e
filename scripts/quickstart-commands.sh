#!/usr/bin/env bash
# Prints the commands of the first ```sh block under "## Quick start" in README.md
# (one per line, trailing "# comment" removed). `.ci/run` executes exactly these.
set -euo pipefail
readme="${1:-README.md}"
awk '
    /^## Quick start/            { in_section = 1; next }
    in_section && /^## /         { exit }
    in_section && /^```sh/       { in_block = 1; next }
    in_block && /^```/           { exit }
    in_block {
        sub(/[ \t]+#.*$/, "")
        if ($0 != "") print
    }
' "$readme"
