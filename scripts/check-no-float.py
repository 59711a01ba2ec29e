#!/usr/bin/env python3
"""Proves that no soft-float helper, and no panic, is reachable from one function of an ELF.

    check-no-float.py OBJDUMP ELF ROOT

Disassembles ELF with OBJDUMP, builds the call graph from every direct call,
jump or tail call whose target is a symbol, and walks it from the function
whose (mangled) name contains ROOT. Fails when the walk reaches a soft-float
helper (`__addsf3`, `__mulsf3`, `__fixsfsi`, `__floatsisf`, `__ltsf2`, ...,
and their double `df` forms), the panic machinery (`core::panicking::*`,
`rust_begin_unwind`) or an indirect call it cannot follow (`jalr` through a
register), printing the path to it.
"""
import re
import subprocess
import sys
from collections import deque

SOFT_FLOAT = re.compile(r"^__\w*?(sf|df)\w*?\d?$")
PANIC = re.compile(r"9panicking|rust_begin_unwind")
FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
# A control transfer to a symbol (`auipc ra; jalr off(ra) # addr <sym>` is a call too).
TARGET = re.compile(r"\t(?:jal|jalr|j|call|tail|b[a-z.]*)\t.*<([^>+]+)(?:\+0x[0-9a-f]+)?>")
# A call through a register with no symbol to follow (`jr`, a jump table, stays inside).
INDIRECT = re.compile(r"\tjalr\t[^<]*$")


def graph(objdump, elf):
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", elf], check=True,
                          capture_output=True, text=True).stdout
    calls, indirect, current, prev = {}, {}, None, None
    for line in text.splitlines():
        m = FUNC.match(line)
        if m:
            current = m.group(2)
            # Local labels (.Lpcrel_hi0, .LBB...) belong to the function before them.
            if current.startswith(".L") and prev is not None:
                current = prev
            calls.setdefault(current, set())
            prev = current
            continue
        if current is None:
            prev = None
            continue
        t = TARGET.search(line)
        if t and not t.group(1).startswith(".L") and t.group(1) != current:
            calls[current].add(t.group(1))
        if INDIRECT.search(line):
            indirect.setdefault(current, []).append(line.strip())
    return calls, indirect


def main():
    objdump, elf, root = sys.argv[1:4]
    calls, indirect = graph(objdump, elf)
    roots = [f for f in calls if root in f]
    if not roots:
        sys.exit(f"check-no-float: no function containing {root!r} in {elf}")
    seen, queue, bad = {r: None for r in roots}, deque(roots), []
    while queue:
        f = queue.popleft()
        if SOFT_FLOAT.match(f) or PANIC.search(f):
            bad.append(f)
            continue
        for ins in indirect.get(f, []):
            bad.append(f"{f}: indirect call `{ins}`")
        for g in sorted(calls.get(f, ())):
            if g not in seen:
                seen[g] = f
                queue.append(g)
    if bad:
        for b in bad:
            path, f = [], b.split(":")[0]
            while f is not None:
                path.append(f)
                f = seen.get(f)
            print(f"check-no-float: reachable: {b}\n    via " + " <- ".join(path), file=sys.stderr)
        sys.exit(1)
    print(f"check-no-float: {len(seen)} functions reachable from {root} in {elf}, none a soft-float helper or a panic")


if __name__ == "__main__":
    main()
