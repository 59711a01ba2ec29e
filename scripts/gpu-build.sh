#!/usr/bin/env bash
# Builds the CUDA-enabled `frameless` binary on a machine WITHOUT a GPU or CUDA
# toolkit, and packs it (plus the distiller's test binary, which holds the CUDA SpMM
# checks) into a folder small enough to copy to the GPU machine.
#
#   scripts/gpu-build.sh [PACK_DIR]        (default: target-cuda/pack)
#
# Idempotent: every step is skipped when its result is already there.
#
# Route (see ../shared/GPU.md and the cuda report):
#  1. nvcc 13.0 + headers from PyPI (nvidia-cuda-nvcc/-crt/-cccl/-runtime and
#     nvidia-nvvm, all pinned to the 13.0 series: the GPU machine's driver 580 is
#     CUDA 13.0 and rejects PTX from a newer toolkit) in a venv under $PREFIX.
#  2. A CUDA_HOME-like folder of symlinks ($PREFIX/cuda: bin, include, nvvm, lib64).
#  3. Link-time stubs for libcuda/libcublas/libcublasLt/libcurand/libnvrtc in
#     $PREFIX/cuda/lib64/stubs: candle-core 0.11.1 turns on cudarc's
#     `dynamic-linking`, so the binary is linked against those libraries (the real
#     ones are loaded on the GPU machine; the stubs are never shipped).
#  4. cargo build/test --profile release --features cuda into target-cuda/, with an
#     rpath to /usr/local/cuda/lib64 and $ORIGIN/../lib (set by distiller/build.rs).
#  5. Pack: bin/frameless, bin/distiller-tests, lib/libcudart.so.13, BUILD-INFO.txt,
#     all in frameless-cuda.tar.gz (each binary is ~40 MB, mostly candle's kernels;
#     gzipped ~10 MB) next to BUILD-INFO.txt. gpu-check.sh unpacks it.
#
# Environment: FRAMELESS_CUDA_PREFIX (default /opt/frameless-cuda), CUDA_TARGET_DIR
# (default target-cuda), CUDA_COMPUTE_CAP (default 90 = H100), CARGO_BUILD_JOBS (2).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PREFIX=${FRAMELESS_CUDA_PREFIX:-/opt/frameless-cuda}
TARGET_DIR=${CUDA_TARGET_DIR:-$ROOT/target-cuda}
PACK=${1:-$TARGET_DIR/pack}
PY=${PYTHON:-python3}

# PyPI pins: the CUDA 13.0 series (13.0.88 is the GPU machine's nvcc).
PIP_PINS=(
    nvidia-cuda-nvcc==13.0.88
    nvidia-cuda-crt==13.0.88
    nvidia-nvvm==13.0.88
    nvidia-cuda-runtime==13.0.88
    nvidia-cuda-cccl==13.0.85
)

log() { printf '[gpu-build] %s\n' "$*" >&2; }

# --- 1. nvcc from PyPI ----------------------------------------------------------
VENV=$PREFIX/venv
if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    log "creating venv $VENV"
    mkdir -p "$PREFIX"
    "$PY" -m venv "$VENV"
fi
CU13=$("$VENV/bin/python" -c 'import sys,os; print(os.path.join(sys.prefix, "lib", "python%d.%d" % sys.version_info[:2], "site-packages", "nvidia", "cu13"))')
if ! "$CU13/bin/nvcc" --version 2>/dev/null | grep -q 'V13.0.88' \
    || ! "$VENV/bin/pip" list 2>/dev/null | grep -Eq '^nvidia-nvvm +13\.0\.'; then
    log "installing ${PIP_PINS[*]}"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PIP_PINS[@]}"
fi
"$CU13/bin/nvcc" --version | tail -2 >&2

# --- 2. CUDA_HOME-like folder ----------------------------------------------------
CUDA=$PREFIX/cuda
mkdir -p "$CUDA/lib64"
for d in bin include nvvm; do ln -sfn "$CU13/$d" "$CUDA/$d"; done
for f in "$CU13"/lib/*; do ln -sfn "$f" "$CUDA/lib64/"; done
ln -sfn libcudart.so.13 "$CUDA/lib64/libcudart.so"

# --- 3. link-time stubs ------------------------------------------------------------
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
cargo fetch --quiet
CUDARC_DIR=$(cargo metadata --format-version 1 --features frameless-distiller/cuda 2>/dev/null \
    | "$PY" -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="cudarc"))')
STUBS=$CUDA/lib64/stubs
STAMP=$STUBS/.from-$(basename "$CUDARC_DIR")
if [ ! -e "$STAMP" ]; then
    log "generating stubs from $CUDARC_DIR"
    rm -rf "$STUBS"; mkdir -p "$STUBS"
    tmp=$(mktemp -d)
    stub() { # cudarc module, SONAME, file
        grep -oE '^pub unsafe fn [A-Za-z_0-9]+\(' "$CUDARC_DIR/src/$1/sys/mod.rs" \
            | sed -E 's/pub unsafe fn ([A-Za-z_0-9]+)\(/void \1(void){}/' | sort -u > "$tmp/$1.c"
        gcc -shared -fPIC -nostdlib -Wl,-soname,"$2" -o "$STUBS/$3" "$tmp/$1.c"
    }
    stub driver   libcuda.so.1      libcuda.so
    stub cublas   libcublas.so.13   libcublas.so
    stub cublaslt libcublasLt.so.13 libcublasLt.so
    stub curand   libcurand.so.10   libcurand.so
    stub nvrtc    libnvrtc.so.13    libnvrtc.so
    rm -rf "$tmp"
    touch "$STAMP"
fi

# --- 4. build ------------------------------------------------------------------------
export CUDA_HOME=$CUDA CUDA_PATH=$CUDA NVCC=$CUDA/bin/nvcc
export PATH=$CUDA/bin:$PATH
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CUDARC_CUDA_VERSION=13000          # skips cudarc's `nvcc --version` probe
export CUDAFORGE_THREADS=${CUDAFORGE_THREADS:-$CARGO_BUILD_JOBS}
export LIBRARY_PATH=$STUBS:$CUDA/lib64${LIBRARY_PATH:+:$LIBRARY_PATH}
# (The rpath to /usr/local/cuda/lib64 and $ORIGIN/../lib comes from distiller/build.rs,
# so RUSTFLAGS stay untouched and dependency builds are shared.)
export CARGO_TARGET_DIR=$TARGET_DIR

start=$(date +%s)
log "cargo build --profile release --features cuda --bin frameless (target $TARGET_DIR)"
cargo build --profile release --features cuda --bin frameless
log "cargo test --no-run (the distiller's unit tests, CUDA SpMM checks included)"
TEST_BIN=$(cargo test --profile release --features cuda -p frameless-distiller --lib --no-run \
    --message-format=json-render-diagnostics \
    | "$PY" -c 'import json,sys
for l in sys.stdin:
    try: m=json.loads(l)
    except ValueError: continue
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="frameless_distiller": print(m["executable"])' | tail -1)
[ -n "$TEST_BIN" ] || { log "could not find the test binary"; exit 1; }
log "build took $(( $(date +%s) - start )) s"

# --- 5. pack ---------------------------------------------------------------------------
rm -rf "$PACK"; mkdir -p "$PACK/bin" "$PACK/lib"
cp "$TARGET_DIR/release/frameless" "$PACK/bin/frameless"
cp "$TEST_BIN" "$PACK/bin/distiller-tests"
cp -L "$CUDA/lib64/libcudart.so.13" "$PACK/lib/"
strip "$PACK/bin/"* 2>/dev/null || true
{
    echo "built: $(date -u +%FT%TZ) on $(uname -srm), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION"
    "$CUDA/bin/nvcc" --version | tail -1
    echo; echo "## NEEDED"
    for b in "$PACK"/bin/*; do echo "$(basename "$b"): $(readelf -d "$b" | awk '/NEEDED/{gsub(/[][]/,"",$5); printf "%s ", $5}')"; done
    echo; echo "## highest GLIBC symbol version (GPU machine has 2.39)"
    for b in "$PACK"/bin/*; do echo "$(basename "$b"): $(objdump -T "$b" | grep -oE 'GLIBC_[0-9.]+' | sort -uV | tail -1)"; done
    echo; echo "## sha256"; (cd "$PACK" && sha256sum bin/* lib/*)
} > "$PACK/BUILD-INFO.txt"
cp "$PACK/BUILD-INFO.txt" "$PACK/BUILD-INFO.copy"
tar -C "$PACK" -czf "$PACK/frameless-cuda.tar.gz" bin lib BUILD-INFO.copy
rm -rf "$PACK/bin" "$PACK/lib" "$PACK/BUILD-INFO.copy"
size=$(du -sm "$PACK" | cut -f1)
cat "$PACK/BUILD-INFO.txt" >&2
log "pack: $PACK (${size} MiB)"
if [ "$size" -ge 64 ]; then log "pack is over 64 MiB"; exit 1; fi
echo "$PACK"
