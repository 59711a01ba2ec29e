#!/usr/bin/env python3
"""Checks that distiller/src follows its declared layer order (see scripts/check-layers.sh).

The order is the `LAYERS` ... `END` block in distiller/src/lib.rs, one module per line,
earliest first. Every `crate::<module>` reference in a module's files (a `use` line or
a path in code) must name the module itself or an earlier one. Test code counts as
foundation: a file named `tests.rs`, `testutil.rs`, and everything after a file's
`#[cfg(test)]` test module are skipped. Comments are skipped too (doc links are
documentation, not imports). Exits 1 listing every backwards import and any cycle.
"""

import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "distiller" / "src"
TEST_FILES = {"tests.rs", "testutil.rs"}


def layers():
    text = (SRC / "lib.rs").read_text()
    block = re.search(r"^//! LAYERS\n(.*?)^//! END$", text, re.S | re.M)
    if not block:
        sys.exit("check-layers: no `//! LAYERS ... //! END` block in distiller/src/lib.rs")
    names = [line[3:].split()[0] for line in block.group(1).splitlines() if line[3:].strip()]
    declared = set(re.findall(r"^\s*(?:pub )?mod (\w+);", text, re.M)) - {"testutil"}
    if set(names) != declared:
        sys.exit(
            "check-layers: LAYERS block and `mod` lines differ: "
            f"only in LAYERS {sorted(set(names) - declared)}, "
            f"only declared {sorted(declared - set(names))}"
        )
    return names


def code_lines(path):
    """Lines of non-test code with `//` comments removed (others blanked, so numbers hold).

    `#[cfg(test)]` before `mod name;` hides that line; before `mod name {` (the test
    module at a file's bottom) it hides the rest of the file; before anything else it
    hides the next line.
    """
    lines = path.read_text().splitlines()
    out, skip = [], 0
    for i, line in enumerate(lines):
        if skip == -1 or skip > 0:
            skip = skip - 1 if skip > 0 else -1
            out.append("")
            continue
        if line.strip().startswith("#[cfg(test)]"):
            following = lines[i + 1].strip() if i + 1 < len(lines) else ""
            skip = -1 if re.match(r"(pub(\(\w+\))? )?mod \w+ \{", following) else 1
            out.append("")
            continue
        out.append(line.split("//", 1)[0])
    return out


def targets_at(text, start):
    """Modules named by the path starting at `text[start:]` (just after `crate::`)."""
    if text[start:start + 1] != "{":
        match = re.match(r"\w+", text[start:])
        return [match.group(0)] if match else []
    depth, names, expect = 0, [], True
    for ch_index in range(start, len(text)):
        ch = text[ch_index]
        if ch == "{":
            depth += 1
            expect = depth == 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
        elif ch == "," and depth == 1:
            expect = True
        elif expect and (ch.isalnum() or ch == "_"):
            names.append(re.match(r"\w+", text[ch_index:]).group(0))
            expect = False
    return names


def references(module):
    """(file, line, referenced module) for every crate:: path in `module`'s code."""
    root = SRC / module
    files = sorted(root.rglob("*.rs")) if root.is_dir() else [SRC / f"{module}.rs"]
    for path in files:
        if path.name in TEST_FILES:
            continue
        text = "\n".join(code_lines(path))
        for match in re.finditer(r"\bcrate::", text):
            line = text.count("\n", 0, match.start()) + 1
            for target in targets_at(text, match.end()):
                yield path, line, target


def main():
    order = layers()
    rank = {name: i for i, name in enumerate(order)}
    edges, problems = {}, []
    for module in order:
        for path, line, target in references(module):
            if target not in rank or target == module:
                continue
            edges.setdefault(module, set()).add(target)
            if rank[target] > rank[module]:
                where = path.relative_to(SRC.parent.parent)
                problems.append(f"{where}:{line}: {module} imports later stage {target}")
    # A cycle needs a backwards edge, so it is already listed above; name it as well.
    for module, targets in edges.items():
        for target in targets:
            if module in edges.get(target, ()):
                if rank[module] < rank[target]:
                    problems.append(f"cycle: {module} <-> {target}")
    if problems:
        print("check-layers: imports against the order in distiller/src/lib.rs:")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    graph = "; ".join(f"{m} -> {{{', '.join(sorted(edges[m], key=rank.get))}}}" for m in order if m in edges)
    print(f"check-layers: ok, {len(order)} modules in order {' -> '.join(order)}")
    print(f"  {graph}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
