//! Chooses the folder the firmware embeds its model from: `FW_MODELS` if
//! set (relative paths are taken from `firmware-examples/`), else
//! `models/`. data.rs reads it as `FW_MODEL_DIR`.
use std::{env, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=FW_MODELS");
    println!("cargo:rerun-if-changed=build.rs");
    let root =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("..");
    let dir = root.join(env::var_os("FW_MODELS").unwrap_or_else(|| "models".into()));
    // The precision feature picks the files; without one, data.rs reports the missing feature.
    let precision = ["f32", "f16", "int8"]
        .into_iter()
        .find(|p| env::var_os(format!("CARGO_FEATURE_{}", p.to_uppercase())).is_some());
    let mut files = vec!["testset.rs".to_string()];
    if let Some(p) = precision {
        files.push(format!("model-{p}.fgkd"));
        files.push(format!("expected-{p}.rs"));
        if env::var_os("CARGO_FEATURE_SIG_TEST").is_some() {
            files.push(format!("model-{p}.signed.fgkd"));
        }
    }
    for f in &files {
        let path = dir.join(f);
        println!("cargo:rerun-if-changed={}", path.display());
        if !path.is_file() {
            eprintln!(
                "error: {} is missing; write the model folder with `gen` (see README)",
                path.display()
            );
            std::process::exit(1);
        }
    }
    // include_bytes!/include! need a path, not bytes: absolute, so it does not depend on the includer.
    let dir = dir
        .canonicalize()
        .expect("the model folder exists: its files were found");
    println!("cargo:rustc-env=FW_MODEL_DIR={}", dir.display());
}
