//! Puts the Cortex-M4 example's `memory.x` (the same board) where the linker finds it.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("../cortex-m4/memory.x", out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=../cortex-m4/memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
