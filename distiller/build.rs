//! Build script: with the `cuda` feature, compiles `kernels/*.cu` to PTX with nvcc
//! (embedded by `src/sparse/spmm_cuda.rs`). Without the feature it does nothing, so
//! CPU-only builds need no CUDA toolkit.
//!
//! nvcc is looked up in `$NVCC`, `$CUDA_HOME/bin`, `$CUDA_PATH/bin`, `PATH`, then
//! `/usr/local/cuda/bin`. The PTX targets the virtual architecture
//! `compute_$CUDA_COMPUTE_CAP` (suffixes such as `a` dropped; default 80), which the
//! driver JIT-compiles for the GPU it runs on. The binaries get an rpath to
//! `/usr/local/cuda/lib64` and `$ORIGIN/../lib`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const KERNELS: &[&str] = &["spmm"];

fn find_nvcc() -> PathBuf {
    if let Some(p) = env::var_os("NVCC") {
        return PathBuf::from(p);
    }
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(root) = env::var_os(var) {
            let p = Path::new(&root).join("bin").join("nvcc");
            if p.exists() {
                return p;
            }
        }
    }
    if let Some(paths) = env::var_os("PATH") {
        for dir in env::split_paths(&paths) {
            let p = dir.join("nvcc");
            if p.exists() {
                return p;
            }
        }
    }
    PathBuf::from("/usr/local/cuda/bin/nvcc")
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    for var in [
        "NVCC",
        "CUDA_HOME",
        "CUDA_PATH",
        "CUDA_COMPUTE_CAP",
        "NVCC_CCBIN",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    // The binary links libcuda/cublas/curand/cudart (candle-core turns on cudarc's
    // `dynamic-linking`): find them on the GPU machine without LD_LIBRARY_PATH.
    println!(
        "cargo::rustc-link-arg=-Wl,-rpath,/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib:$ORIGIN/../lib"
    );
    let cap: String = env::var("CUDA_COMPUTE_CAP")
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let cap = if cap.is_empty() {
        "80".to_string()
    } else {
        cap
    };
    let nvcc = find_nvcc();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    for name in KERNELS {
        let src = Path::new("kernels").join(format!("{name}.cu"));
        println!("cargo::rerun-if-changed={}", src.display());
        let ptx = out_dir.join(format!("{name}.ptx"));
        let mut cmd = Command::new(&nvcc);
        cmd.arg("--ptx")
            .arg(format!("-arch=compute_{cap}"))
            .args(["-O3", "-std=c++17", "-o"])
            .arg(&ptx)
            .arg(&src);
        if let Ok(ccbin) = env::var("NVCC_CCBIN") {
            cmd.arg("-ccbin").arg(ccbin);
        }
        let status = cmd.status().unwrap_or_else(|e| {
            panic!(
                "the `cuda` feature needs nvcc at build time: could not run {}: {e} \
                 (set NVCC or CUDA_HOME; scripts/gpu-build.sh installs one)",
                nvcc.display()
            )
        });
        assert!(status.success(), "nvcc failed on {}", src.display());
    }
}
