//! `frameless inspect`: what a blob holds.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use frameless_engine::Model;

use crate::args::OutputArgs;
use crate::BadInput;

const EXAMPLES: &str = "\
Examples:
  frameless inspect out/demo/model-int8.fgkd
  frameless inspect model.fgkd --json";

/// Show a blob's header (format version, kind, precision), dims, sizes, checksum status
/// and metadata. A blob that fails validation (bad magic, version, checksum, lengths)
/// is reported with the engine's reason and exit status 1.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct InspectArgs {
    /// The blob.
    blob: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

/// Reads and validates a blob, naming the file in the error.
///
/// # Errors
/// Unreadable file or invalid blob, as [`BadInput`].
pub fn read_blob(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|error| BadInput::Read {
        path: path.clone(),
        error,
    })?;
    parse_blob(&bytes, path)?;
    Ok(bytes)
}

/// The model in `bytes`, read from `path`.
///
/// # Errors
/// [`BadInput::InvalidBlob`] naming `path`.
pub fn parse_blob<'a>(bytes: &'a [u8], path: &Path) -> Result<Model<'a>, BadInput> {
    Model::from_bytes(bytes).map_err(|error| BadInput::InvalidBlob {
        path: path.to_path_buf(),
        error,
    })
}

/// Runs the subcommand.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let bytes = read_blob(&args.blob)?;
    let model = parse_blob(&bytes, &args.blob)?;
    let h = model.header();
    let d = model.dims();
    let m = model.metadata();
    let header_bytes = bytes.len() - h.body_len as usize;
    let names: Vec<&str> = m
        .class_names
        .split('\n')
        .filter(|s| !s.is_empty())
        .collect();
    let mut o = std::io::stdout().lock();
    if args.output.json {
        let v = serde_json::json!({
            "path": args.blob, "magic": String::from_utf8_lossy(&h.magic), "version": h.version,
            "kind": model.kind().to_string(), "precision": model.precision().to_string(),
            "dims": {"n_nodes": d.n_nodes, "n_features": d.n_features, "hidden": d.hidden,
                     "n_classes": d.n_classes, "n_bands": d.n_bands, "n_stages": d.n_stages},
            "blob_bytes": bytes.len(), "header_bytes": header_bytes, "body_bytes": h.body_len,
            "body_crc32": format!("{:08x}", h.body_crc32), "checksum": "ok",
            "scratch_bytes": model.scratch_bytes(),
            "dataset": m.dataset, "class_names": names, "test_accuracy": m.test_accuracy,
        });
        writeln!(o, "{v}")?;
        return Ok(());
    }
    writeln!(o, "file        {}", args.blob.display())?;
    writeln!(
        o,
        "format      {} v{}",
        String::from_utf8_lossy(&h.magic),
        h.version
    )?;
    writeln!(o, "model       {} ({})", model.kind(), model.precision())?;
    writeln!(
        o,
        "dims        N={} F={} d={} C={} bands={} stages={}",
        d.n_nodes, d.n_features, d.hidden, d.n_classes, d.n_bands, d.n_stages
    )?;
    writeln!(
        o,
        "size        {} bytes (header {header_bytes}, body {})",
        bytes.len(),
        h.body_len
    )?;
    writeln!(o, "checksum    ok (crc32 {:08x})", h.body_crc32)?;
    writeln!(o, "scratch     {} bytes", model.scratch_bytes())?;
    writeln!(
        o,
        "dataset     {}",
        if m.dataset.is_empty() { "-" } else { m.dataset }
    )?;
    writeln!(
        o,
        "classes     {}",
        if names.is_empty() {
            "-".into()
        } else {
            names.join(", ")
        }
    )?;
    match m.test_accuracy {
        Some(a) => writeln!(o, "test acc    {:.2}% (at export)", 100.0 * a)?,
        None => writeln!(o, "test acc    -")?,
    }
    Ok(())
}
