//! `frameless inductive`: accuracy on nodes unseen at training time (new nodes) against the
//! transductive student and a plain MLP.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use frameless_experiments::inductive::{run_inductive, table, InductiveOptions};

const EXAMPLES: &str = "\
Examples:
  frameless inductive --datasets texas --seeds 1 --quick --out /tmp/inductive
  frameless inductive --datasets cora,citeseer,chameleon,texas --seeds 10 --out runs/inductive";

/// The inductive protocol: per seed, hold a share of the test nodes and their edges out of
/// training, train teacher and fmlp-s student on the rest, then answer the held-out nodes
/// as new nodes (`Model::predict_new`: their features and the mean of their training-graph
/// neighbours' table rows). Prints, per dataset, their accuracy beside the transductive
/// student (trained on the full graph) and a plain MLP on the same nodes. Rows are kept in
/// OUT/inductive.jsonl (a rerun resumes) and the table in OUT/inductive.md.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct InductiveArgs {
    /// Dataset names (folders under the data root), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    datasets: Vec<String>,
    /// Seeds 0..SEEDS per dataset.
    #[arg(long, default_value_t = 10)]
    seeds: usize,
    /// Share of the test nodes held out of training.
    #[arg(long, default_value_t = 0.5)]
    held_out: f64,
    /// Five epochs per model (a smoke test of the protocol, not a result).
    #[arg(long)]
    quick: bool,
    /// Folder of the benchmark datasets (default: $FRAMELESS_DATASETS or ../shared/datasets).
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "inductive-out")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: InductiveArgs) -> anyhow::Result<()> {
    if !(args.held_out > 0.0 && args.held_out < 1.0) {
        anyhow::bail!(crate::BadInput::HeldOut {
            share: args.held_out
        });
    }
    let root = args
        .data_root
        .clone()
        .or_else(|| std::env::var_os("FRAMELESS_DATASETS").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/datasets"));
    let options = InductiveOptions {
        datasets: args.datasets.iter().map(|d| root.join(d)).collect(),
        seeds: args.seeds,
        held_out: args.held_out,
        quick: args.quick,
        out: args.out.clone(),
    };
    let rows = run_inductive(&options, &mut |r| {
        eprintln!(
            "{} seed {}: new node {:.1}%, transductive {:.1}%, mlp {:.1}% ({} held out, {:.0}s)",
            r.dataset,
            r.seed,
            100.0 * r.new_node,
            100.0 * r.transductive,
            100.0 * r.mlp,
            r.held_out,
            r.seconds
        )
    })?;
    write!(std::io::stdout().lock(), "{}", table(&rows))?;
    Ok(())
}
