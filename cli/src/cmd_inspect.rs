//! `frameless inspect`: what a blob holds.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use frameless_engine::{Header, Model};

use crate::args::OutputArgs;
use crate::budget::{Budget, Target};
use crate::BadInput;

const EXAMPLES: &str = "\
Examples:
  frameless inspect out/demo/model-int8.fgkd
  frameless inspect model.fgkd --json
  frameless inspect model.fgkd --public-key release.pub
  frameless inspect model-int8.fgkd --target cortex-m4            # flash, RAM, instructions
  frameless inspect model-int8.fgkd --target riscv32 --nnz 40 --json
  frameless inspect model-int8.fgkd --target cortex-m4 --verify   # firmware that checks signatures

Budget (--target): flash = blob + the engine's code for that target, precision and
features; RAM = scratch + the stack high-water of load + predict (+ the engine's static
RAM); instructions per inference = instructions per MAC x the blob's MACs at --nnz
(an estimate: the ratio was measured on one Cora-size model, fixed costs included).
The engine's figures were measured in QEMU by firmware-examples/run.sh and are
compiled into this binary from firmware-examples/budget.json (checked in CI;
regenerate with FW_RECORD=1 firmware-examples/run.sh, then rebuild). Your firmware's
own start-up and I/O come on top. `host` has no recorded figures: it shows what
the blob itself needs and says what it cannot know.";

/// Show a blob's header (format version, kind, precision), dims, sizes, SHA-256 and
/// signature status, and metadata: dataset, class names, test accuracy at export and
/// the recipe (how the model was made: teacher, student, λ, τ, width, dropout, weight
/// decay, stages, epochs, seed). A blob that fails validation (bad magic, version,
/// checksum, lengths, values; with --public-key, the signature) is reported with the
/// engine's reason and exit status 1.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct InspectArgs {
    /// The blob.
    blob: PathBuf,
    /// Verify the blob's Ed25519 signature with this public key file (from `keygen`).
    #[arg(long, value_name = "KEY")]
    public_key: Option<PathBuf>,
    /// Also print the budget on this target: flash, RAM and instructions per inference.
    #[arg(long, value_enum)]
    target: Option<Target>,
    /// Non-zero input features per inference for the instruction count (default: the
    /// mean of the firmware test nodes the figures were measured on).
    #[arg(long, requires = "target")]
    nnz: Option<usize>,
    /// Budget for firmware built with the engine's `verify` feature (signed blobs).
    #[arg(long, requires = "target")]
    verify: bool,
    #[command(flatten)]
    output: OutputArgs,
}

/// The longest postcard header a blob can have (magic, version, kind, precision, six
/// dims and body length as varints, the SHA-256 and an optional signature come to at
/// most 142 bytes).
const HEADER_MAX_BYTES: u64 = 160;

/// Reads a blob's bytes for [`parse_blob`], naming the file in the error.
///
/// Only regular files are read (a FIFO would block, `/dev/zero` never ends), and no
/// more than the header says the blob holds, plus one byte so the engine can report
/// trailing bytes.
///
/// # Errors
/// Unreadable file or not a regular file, as [`BadInput`].
pub fn read_blob(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let read_error = |error| BadInput::Read {
        path: path.clone(),
        error,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(BadInput::NotAFile { path: path.clone() }.into());
    }
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    (&mut file)
        .take(HEADER_MAX_BYTES)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let blob_len = match postcard::take_from_bytes::<Header>(&bytes) {
        Ok((header, rest)) => (bytes.len() - rest.len()) as u64 + u64::from(header.body_len),
        // Too short or not a header: the engine names the defect.
        Err(_) => 0,
    };
    let rest = blob_len
        .saturating_add(1)
        .saturating_sub(bytes.len() as u64);
    file.take(rest)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
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
    // With a key, the signature must verify (an unsigned blob is refused too).
    let signature = match (&args.public_key, h.signature) {
        (Some(key), _) => {
            let public = crate::cmd_keygen::read_key(key)?;
            Model::from_bytes_verified(&bytes, &public).map_err(|error| BadInput::InvalidBlob {
                path: args.blob.clone(),
                error,
            })?;
            format!("ed25519, valid for {}", key.display())
        }
        (None, None) => "none".to_string(),
        (None, Some(_)) => "ed25519, not checked (give --public-key)".to_string(),
    };
    let sha: String = h.body_sha256.iter().map(|b| format!("{b:02x}")).collect();
    let d = model.dims();
    let m = model.metadata();
    let header_bytes = bytes.len() - h.body_len as usize;
    let names: Vec<&str> = m
        .class_names
        .split('\n')
        .filter(|s| !s.is_empty())
        .collect();
    let budget = match args.target {
        Some(t) => Some(
            Budget::of(&model, bytes.len(), t, args.verify, args.nnz).map_err(|e| match e {
                crate::budget::BudgetError::Malformed(_) => anyhow::Error::new(e),
                e => BadInput::Budget { error: e }.into(),
            })?,
        ),
        None => None,
    };
    let mut o = std::io::stdout().lock();
    if args.output.json {
        let v = serde_json::json!({
            "path": args.blob, "magic": String::from_utf8_lossy(&h.magic), "version": h.version,
            "kind": model.kind().to_string(), "precision": model.precision().to_string(),
            "dims": {"n_nodes": d.n_nodes, "n_features": d.n_features, "hidden": d.hidden,
                     "n_classes": d.n_classes, "n_bands": d.n_bands, "n_stages": d.n_stages},
            "blob_bytes": bytes.len(), "header_bytes": header_bytes, "body_bytes": h.body_len,
            "body_sha256": sha, "checksum": "ok", "signature": signature,
            "scratch_bytes": model.scratch_bytes(), "sliced": model.is_sliced(),
            "dataset": m.dataset, "class_names": names, "test_accuracy": m.test_accuracy,
            "recipe": m.recipe_entries().map(|(k, v)| (k.to_string(), v.into()))
                .collect::<serde_json::Map<_, _>>(),
        });
        let mut v = v;
        if let Some(b) = &budget {
            v["budget"] = budget_json(b);
        }
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
    writeln!(o, "checksum    ok (sha-256 {sha})")?;
    writeln!(o, "signature   {signature}")?;
    writeln!(o, "scratch     {} bytes", model.scratch_bytes())?;
    if model.is_sliced() {
        let first = model.node_id(0).unwrap_or_default();
        let last = model
            .node_id(d.n_nodes.saturating_sub(1))
            .unwrap_or_default();
        let k = d.n_nodes;
        writeln!(o, "nodes       {k} kept (id map, ids {first}..={last})")?;
    }
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
    write_recipe(&mut o, &m)?;
    if let Some(b) = &budget {
        write_budget(&mut o, b)?;
    }
    Ok(())
}

/// The recipe's `key=value` pairs, space-separated, wrapped under the label (`-` if the
/// blob has none, as version-3 blobs do).
fn write_recipe(o: &mut impl Write, m: &frameless_engine::Metadata) -> std::io::Result<()> {
    const WIDTH: usize = 88;
    let mut line = String::from("recipe      ");
    let mut empty = true;
    for (k, v) in m.recipe_entries() {
        let pair = format!("{k}={v}");
        if !empty && line.len() + 1 + pair.len() > WIDTH {
            writeln!(o, "{line}")?;
            line = " ".repeat(12);
        } else if !empty {
            line.push(' ');
        }
        line += &pair;
        empty = false;
    }
    if empty {
        line.push('-');
    }
    writeln!(o, "{line}")
}

/// What `host` cannot know.
const HOST_UNKNOWN: &str = "no engine code size, stack or instruction count is recorded for the host (budget.json holds firmware targets only)";

/// `--json`'s `budget` object.
fn budget_json(b: &Budget) -> serde_json::Value {
    let r = b.recorded.as_ref();
    serde_json::json!({
        "target": b.target.name(), "features": b.features,
        "source": r.map(|_| "firmware-examples/budget.json, compiled in"),
        "flash_bytes": b.flash_bytes(), "blob_bytes": b.blob_bytes,
        "engine_code_bytes": r.map(|r| r.engine_code_bytes),
        "ram_bytes": b.ram_bytes(), "scratch_bytes": b.scratch_bytes,
        "stack_bytes": r.map(|r| r.stack_bytes),
        "engine_static_ram_bytes": r.map(|r| r.engine_static_ram_bytes),
        "nnz": b.nnz, "macs": b.macs,
        "instr_per_mac": r.map(|r| r.instr_per_mac),
        "instr_per_inference": b.instructions().map(f64::round),
        "harness_flash_bytes": r.map(|r| r.harness_flash_bytes),
        "unknown": if r.is_none() { Some(HOST_UNKNOWN) } else { None },
    })
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The readable budget lines.
fn write_budget(o: &mut impl Write, b: &Budget) -> std::io::Result<()> {
    let source = match b.recorded {
        Some(_) => "measured by firmware-examples/run.sh, compiled in",
        None => "nothing recorded for the host",
    };
    writeln!(
        o,
        "budget      {}, features {} ({source})",
        b.target.name(),
        b.features
    )?;
    let Some(r) = &b.recorded else {
        writeln!(
            o,
            "  flash     ? = blob {} + engine code ?",
            grouped(b.blob_bytes)
        )?;
        writeln!(
            o,
            "  RAM       ? = scratch {} + stack ?",
            grouped(b.scratch_bytes)
        )?;
        writeln!(
            o,
            "  MACs      {} per inference (nnz {})",
            grouped(b.macs),
            b.nnz
        )?;
        return writeln!(o, "  unknown   {HOST_UNKNOWN}");
    };
    let (flash, ram) = (b.flash_bytes().unwrap_or(0), b.ram_bytes().unwrap_or(0));
    writeln!(
        o,
        "  flash     {} bytes = blob {} + engine code {}",
        grouped(flash),
        grouped(b.blob_bytes),
        grouped(r.engine_code_bytes)
    )?;
    writeln!(
        o,
        "  RAM       {} bytes = scratch {} + stack {} (load + predict high-water) + static {}",
        grouped(ram),
        grouped(b.scratch_bytes),
        grouped(r.stack_bytes),
        grouped(r.engine_static_ram_bytes)
    )?;
    writeln!(
        o,
        "  instr     {} per inference = {:.2} instr/MAC x {} MACs (nnz {})",
        grouped(b.instructions().unwrap_or(0.0).round() as u64),
        r.instr_per_mac,
        grouped(b.macs),
        b.nnz
    )?;
    writeln!(
        o,
        "  not in    your firmware's own start-up and I/O (the example's minimal one: {} bytes of flash)",
        grouped(r.harness_flash_bytes)
    )
}
