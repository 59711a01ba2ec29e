#!/usr/bin/env bash
# Installs what the firmware examples need on a Debian bookworm x86_64 machine
# (see ../../shared/EMBEDDED.md): Debian's rustc 1.96 + its library source (for
# -Zbuild-std=core), lld-22, binutils-arm-none-eabi, binutils-riscv64-unknown-elf, gcc-arm-none-eabi (the C
# example; freestanding, so no newlib), and QEMU 7.2 unpacked into
# a folder (never `apt-get install qemu-system-arm`: it conflicts with the
# image's qemu-utils 10 from backports).
#
# Idempotent and fast when everything is present. Works as root with no stdin
# (CI); as another user it uses sudo for apt. Prints the QEMU folder last.
#   QEMU_ROOT   where QEMU is unpacked (default: firmware-examples/.qemu)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
QEMU_ROOT="${QEMU_ROOT:-$here/.qemu}"
export DEBIAN_FRONTEND=noninteractive

log() { echo "setup: $*" >&2; }

apt_packages=(rustc-web rust-web-src lld-22 binutils-arm-none-eabi gcc-arm-none-eabi binutils-riscv64-unknown-elf)
# Shared libraries QEMU 7.2 needs that the image lacks (EMBEDDED.md, route A).
qemu_libs=(libcapstone4 libfdt1 libibverbs1 libpmem1 librdmacm1 libslirp0 libvdeplug2)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo_cmd=(sudo -n); else
        log "not root and no sudo: install ${apt_packages[*]} ${qemu_libs[*]} yourself"; fi
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
for p in "${apt_packages[@]}" "${qemu_libs[@]}"; do installed "$p" || missing+=("$p"); done

updated=0
apt_update() {
    if [ "$updated" -eq 0 ]; then
        log "apt-get update"
        "${sudo_cmd[@]}" apt-get update -q >&2
        updated=1
    fi
}

if [ "${#missing[@]}" -gt 0 ]; then
    apt_update
    log "installing ${missing[*]}"
    "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

qemu_ok() {
    "$QEMU_ROOT/usr/bin/qemu-system-arm" --version >/dev/null 2>&1 &&
        "$QEMU_ROOT/usr/bin/qemu-system-riscv32" --version >/dev/null 2>&1
}

if ! qemu_ok; then
    log "unpacking QEMU 7.2 (qemu-system-arm, qemu-system-misc) into $QEMU_ROOT"
    tmp="$(mktemp -d)"; chmod 755 "$tmp"  # apt-get download drops root for _apt
    trap 'rm -rf "$tmp"' EXIT
    ver="$(apt-cache policy qemu-system-arm 2>/dev/null | awk '/Candidate:/ {print $2}')"
    if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then apt_update; fi
    # apt-get download writes into the current directory and needs no root.
    (cd "$tmp" && apt-get download -q qemu-system-arm qemu-system-misc >&2) || {
        apt_update
        (cd "$tmp" && apt-get download -q qemu-system-arm qemu-system-misc >&2)
    }
    rm -rf "$QEMU_ROOT"
    mkdir -p "$QEMU_ROOT"
    for f in "$tmp"/qemu-system-*.deb; do dpkg-deb -x "$f" "$QEMU_ROOT"; done
    for b in qemu-system-arm qemu-system-riscv32; do
        if ldd "$QEMU_ROOT/usr/bin/$b" | grep -q 'not found'; then
            log "$b lacks shared libraries:"
            ldd "$QEMU_ROOT/usr/bin/$b" | grep 'not found' >&2
            exit 1
        fi
    done
    qemu_ok || { log "QEMU in $QEMU_ROOT does not run"; exit 1; }
fi

# Debian's compiler and the library source it matches (never rustup's with it).
[ -x /usr/bin/rustc ] || { log "/usr/bin/rustc missing after install"; exit 1; }
[ -d /usr/lib/rustlib/src/rust/library/core ] || { log "rust-web-src missing"; exit 1; }
command -v ld.lld-22 >/dev/null || { log "ld.lld-22 missing"; exit 1; }
command -v arm-none-eabi-gcc >/dev/null || { log "arm-none-eabi-gcc missing"; exit 1; }
command -v cargo >/dev/null || { log "cargo (rustup) not on PATH"; exit 1; }

echo "$QEMU_ROOT"
