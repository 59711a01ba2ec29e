//! `frameless export`: turn a student file into a blob, verified node by node against the
//! engine before it is written.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use frameless_distiller::export::artifact::StudentFile;
use frameless_distiller::export::{export_nodes, ExportError, ParityInputs, ParityReport};
use frameless_distiller::quantize::parse_precision;
use frameless_engine::Precision;

use crate::args::OutputArgs;
use crate::BadInput;

const EXAMPLES: &str = "\
Examples:
  frameless export --student out/cora-fmlp-s-seed0.json --precision int8 -o out/cora-int8.fgkd
  frameless export --student out/cora-fmlp-s-seed0.json --precision f32 --json
  frameless export --student out/cora-fmlp-s-seed0.json --sign release.key -o out/cora-signed.fgkd
  frameless export --student out/cora-fmlp-s-seed0.json --nodes 0-9,42 -o out/cora-device7.fgkd
  frameless export --student out/cora-fmlp-s-seed0.json --nodes @device7-nodes.txt
  (or export straight from training: frameless distill --teacher soft.json --export model.fgkd)";

/// A precision name on the command line: f32, f16 or int8.
#[derive(Debug, Clone, Copy)]
pub struct PrecisionArg(pub Precision);

impl std::str::FromStr for PrecisionArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_precision(s)
            .map(PrecisionArg)
            .map_err(|e| e.to_string())
    }
}

/// `--nodes LIST`: node ids and inclusive ranges, comma-separated (`0-9,42`), or `@FILE`
/// with one id (or range) per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeList(pub Vec<u32>);

impl std::str::FromStr for NodeList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let text;
        let items: Vec<&str> = match s.strip_prefix('@') {
            Some(path) => {
                text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect()
            }
            None => s.split(',').map(str::trim).collect(),
        };
        let id = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("bad node id '{t}'"))
        };
        let mut ids = Vec::new();
        for item in items {
            match item.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (id(a)?, id(b)?);
                    if a > b {
                        return Err(format!("node range {a}-{b} is reversed"));
                    }
                    ids.extend(a..=b);
                }
                None => ids.push(id(item)?),
            }
        }
        Ok(NodeList(ids))
    }
}

/// Export a distilled student as an engine blob (f32, f16 or int8). The blob is written
/// with the engine's own writer, loaded back with `Model::from_bytes`, and every node is
/// run through `Model::predict`: f32 logits must match the distiller within 1e-4, f16/int8
/// must agree with the simulated quantised forward on >= 99.9% of nodes and lose at most
/// 0.5 pt of test accuracy. Otherwise nothing is written and the failed check is named.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ExportArgs {
    /// Student file written by `frameless distill`.
    #[arg(long)]
    student: PathBuf,
    /// f32, f16 or int8.
    #[arg(long, default_value = "int8")]
    precision: PrecisionArg,
    /// Blob path (default: the student file's name with -<precision>.fgkd).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Sign the blob with this secret key file (from `frameless keygen`): Ed25519 of the
    /// body's SHA-256, in the header, checked by `Model::from_bytes_verified`.
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
    /// Keep only these nodes' table rows (a blob per device): ids and ranges `0-9,42`, or
    /// `@FILE` (one id per line). The blob answers for them by their original ids,
    /// bit-identically to the full blob (checked), and refuses any other node.
    #[arg(long, value_name = "LIST")]
    nodes: Option<NodeList>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Verifies and writes `file` at `precision` to `path`, sliced to `nodes` if given.
///
/// # Errors
/// The failed parity check or a bad node list (as bad input), or an I/O error.
pub fn export_file(
    file: &StudentFile,
    precision: Precision,
    nodes: Option<&NodeList>,
    path: &Path,
) -> anyhow::Result<ParityReport> {
    let weights = file.weights();
    let inputs = ParityInputs {
        weights: &weights,
        features: &file.features,
        labels: &file.labels,
        test: &file.test,
        reference_logits: &file.logits,
    };
    let nodes = nodes.map(|n| n.0.as_slice());
    export_nodes(&inputs, precision, nodes, path).map_err(|e| match e {
        ExportError::Io { .. } => anyhow::Error::new(e),
        error => anyhow::Error::new(BadInput::Refused {
            path: path.to_path_buf(),
            error,
        }),
    })
}

/// One line describing a parity report.
pub fn describe(p: &ParityReport) -> String {
    let kept = p
        .kept_nodes
        .map(|k| format!(" ({k} nodes kept)"))
        .unwrap_or_default();
    format!(
        "{}: {} nodes through the engine; test {:.2}% (f32 {:.2}%); argmax agreement {:.2}% with the simulated forward, {:.2}% with f32; max |logit diff| {:.2e} vs f32; {} bytes{kept}, scratch {} bytes",
        p.precision,
        p.nodes,
        100.0 * p.test_accuracy,
        100.0 * p.f32_test_accuracy,
        100.0 * p.agreement_with_simulated,
        100.0 * p.agreement_with_f32,
        p.max_abs_diff_vs_f32,
        p.blob_bytes,
        p.scratch_bytes
    )
}

/// Runs the subcommand.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let file = StudentFile::load(&args.student).map_err(|error| BadInput::StudentFile { error })?;
    let precision = args.precision.0;
    let path = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .student
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        args.student
            .with_file_name(format!("{stem}-{precision}.fgkd"))
    });
    // The key is read first: a bad key file writes nothing.
    let seed = args
        .sign
        .as_deref()
        .map(crate::cmd_keygen::read_key)
        .transpose()?;
    let report = export_file(&file, precision, args.nodes.as_ref(), &path)?;
    if let Some(seed) = seed {
        // The verified blob, re-headed with its signature; the body is unchanged.
        let bytes = crate::cmd_inspect::read_blob(&path)?;
        let signed = frameless_engine::verify::sign(&bytes, &seed).map_err(|error| {
            BadInput::InvalidBlob {
                path: path.clone(),
                error,
            }
        })?;
        frameless_distiller::files::write_atomic(&path, &signed)?;
    }
    let mut o = std::io::stdout().lock();
    if args.output.json {
        writeln!(o, "{}", serde_json::json!({"path": path, "parity": report}))?;
    } else {
        writeln!(o, "wrote {}", path.display())?;
        writeln!(o, "{}", describe(&report))?;
    }
    Ok(())
}
