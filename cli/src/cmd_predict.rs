//! `frameless predict`: classify one node with a blob, as the device would.

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use frameless_engine::Features;

use crate::args::OutputArgs;
use crate::cmd_inspect::{parse_blob, read_blob};
use crate::BadInput;

const EXAMPLES: &str = "\
Examples:
  frameless predict out/demo/model-int8.fgkd --node 17 --features \"3:1 17:1 40:0.5\"
  frameless predict model.fgkd --node 0 --features-file node0.txt --json
  frameless predict model.fgkd --new 3,17,40 --features \"3:1 17:1\"   # a node unseen at training
Features are `index:value` pairs separated by spaces, commas or newlines (any order).";

/// Classify one node: its live sparse features go through the engine together with the
/// node's precomputed graph tables; prints the class, the logits and the band gates.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct PredictArgs {
    /// The blob.
    blob: PathBuf,
    /// Node id (0-based, < N; a sliced blob: one of the ids it keeps).
    #[arg(long, required_unless_present = "new")]
    node: Option<u32>,
    /// Classify a new node (no table row) from its known neighbours instead: their ids,
    /// `1,5,9-12` or `@FILE`; each band's row is the mean of theirs (`Model::predict_new`).
    #[arg(long, value_name = "NEIGHBOURS", conflicts_with = "node")]
    new: Option<crate::cmd_export::NodeList>,
    /// Sparse features as `index:value` pairs, e.g. "3:1 17:1".
    #[arg(
        long,
        conflicts_with = "features_file",
        required_unless_present = "features_file"
    )]
    features: Option<String>,
    /// A file holding the features in the same format.
    #[arg(long)]
    features_file: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Parses `index:value` pairs, sorted by index; duplicates and unparsable pairs are errors.
///
/// # Errors
/// [`BadInput`] naming the bad pair.
pub fn parse_features(text: &str) -> anyhow::Result<(Vec<u32>, Vec<f32>)> {
    let mut pairs: Vec<(u32, f32)> = Vec::new();
    for item in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
    {
        let parsed = item.split_once(':').and_then(|(i, v)| {
            Some((i.trim().parse::<u32>().ok()?, v.trim().parse::<f32>().ok()?))
        });
        match parsed {
            Some(p) => pairs.push(p),
            None => bail!(BadInput::Feature { item: item.into() }),
        }
    }
    pairs.sort_by_key(|p| p.0);
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        bail!(BadInput::DuplicateFeature { index: w[0].0 });
    }
    Ok(pairs.into_iter().unzip())
}

/// Runs the subcommand.
pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let bytes = read_blob(&args.blob)?;
    let model = parse_blob(&bytes, &args.blob)?;
    let text = match (&args.features, &args.features_file) {
        (Some(t), _) => t.clone(),
        (None, Some(p)) => std::fs::read_to_string(p).map_err(|error| BadInput::Read {
            path: p.clone(),
            error,
        })?,
        (None, None) => bail!(BadInput::NoFeatures),
    };
    let (indices, values) = parse_features(&text)?;
    let mut scratch = vec![0f32; model.scratch_len()];
    let features = Features::Sparse {
        indices: &indices,
        values: &values,
    };
    let p = match (&args.new, args.node) {
        (Some(nb), _) => model.predict_new(features, &nb.0, None, &mut scratch),
        (None, node) => model.predict(node.unwrap_or_default(), features, &mut scratch),
    }
    .map_err(|error| BadInput::Predict {
        node: args.node,
        error,
    })?;
    let who = args
        .node
        .map_or("new node".to_string(), |n| format!("node {n}"));
    let name = model.metadata().class_name(p.class);
    let mut o = std::io::stdout().lock();
    if args.output.json {
        let v = serde_json::json!({"node": args.node, "class": p.class, "class_name": name,
            "logits": p.logits, "gates": p.gates});
        writeln!(o, "{v}")?;
    } else {
        let label = name.map(|n| format!(" ({n})")).unwrap_or_default();
        writeln!(o, "{who}: class {}{label}", p.class)?;
        let fmt = |v: &[f32]| {
            v.iter()
                .map(|x| format!("{x:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        writeln!(o, "logits {}", fmt(p.logits))?;
        if !p.gates.is_empty() {
            writeln!(o, "gates  {}", fmt(p.gates))?;
        }
    }
    Ok(())
}
