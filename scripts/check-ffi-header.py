#!/usr/bin/env python3
"""Checks ffi/include/frameless.h (hand-written) against the library.

1. The functions the header declares are exactly the `frameless_*` symbols the
   static library defines (`nm` output on stdin, or `--nm FILE`).
2. Each declaration's return and parameter types are the C spelling of the
   Rust signature in ffi/src/lib.rs (`pub [unsafe] extern "C" fn`).
Exits 1 with one line per difference.
"""
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
header = (root / "ffi/include/frameless.h").read_text()
rust = (root / "ffi/src/lib.rs").read_text()

C_OF_RUST = {
    "i32": "int32_t", "i8": "int8_t", "u32": "uint32_t", "usize": "size_t", "f32": "float", "u8": "uint8_t",
    "FramelessModel": "frameless_model", "FramelessPrediction": "frameless_prediction",
    "FramelessIntPrediction": "frameless_int_prediction",
    "FramelessDims": "frameless_dims", "core::ffi::c_void": "void", "c_void": "void",
    "c_char": "char",
}


def c_type(rust_ty: str) -> str:
    t = rust_ty.strip()
    m = re.fullmatch(r"\*(const|mut)\s+(.+)", t)
    if m:
        inner = C_OF_RUST.get(m.group(2).strip(), "?" + m.group(2))
        return ("const " if m.group(1) == "const" else "") + inner + " *"
    return C_OF_RUST.get(t, "?" + t)


def norm(c: str) -> str:
    c = re.sub(r"\s+", " ", c.strip())
    return re.sub(r"\s*\*\s*", " *", c).strip()


rust_fns = {}
for m in re.finditer(r'pub (?:unsafe )?extern "C" fn (\w+)\(([^)]*)\)\s*(?:->\s*([^{]+))?\{', rust):
    params = [p.split(":", 1)[1] for p in m.group(2).split(",") if p.strip()]
    ret = m.group(3) or "()"
    rust_fns[m.group(1)] = (norm(c_type(ret)), [norm(c_type(p)) for p in params])

c_fns = {}
body = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
for m in re.finditer(r"^([A-Za-z_][\w\s\*]*?)\b(frameless_\w+)\s*\(([^)]*)\)\s*;", body, flags=re.M):
    params = []
    for p in m.group(3).split(","):
        p = norm(p)
        # drop the parameter name: the last identifier
        params.append(norm(re.sub(r"\b\w+$", "", p)))
    c_fns[m.group(2)] = (norm(m.group(1)), params)

nm_text = Path(sys.argv[2]).read_text() if len(sys.argv) > 2 and sys.argv[1] == "--nm" else sys.stdin.read()
exported = set(re.findall(r"^\s*[0-9a-fA-F]*\s+T\s+(frameless_\w+)\s*$", nm_text, flags=re.M))

problems = []
for name in sorted(exported - set(c_fns)):
    problems.append(f"{name}: exported by the library, not declared in frameless.h")
for name in sorted(set(c_fns) - exported):
    problems.append(f"{name}: declared in frameless.h, not exported by the library")
for name in sorted(set(c_fns) | set(rust_fns)):
    if name not in rust_fns or name not in c_fns:
        problems.append(f"{name}: declared in only one of frameless.h and ffi/src/lib.rs")
    elif c_fns[name] != rust_fns[name]:
        problems.append(f"{name}: frameless.h says {c_fns[name]}, lib.rs means {rust_fns[name]}")
for p in problems:
    print(f"check-ffi-header: {p}", file=sys.stderr)
if not exported:
    print("check-ffi-header: no frameless_* symbols in the nm output", file=sys.stderr)
    sys.exit(1)
if problems:
    sys.exit(1)
print(f"check-ffi-header: {len(c_fns)} functions, names and signatures match the library")
