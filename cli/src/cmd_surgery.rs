//! `frameless surgery`: rewire a dataset with SDRF and write it in the plain format.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use frameless_distiller::data::{self, write_dataset, DatasetSource};
use frameless_distiller::surgery::{rewire_dataset, SdrfConfig};

const EXAMPLES: &str = "\
Examples:
  frameless surgery --dataset ../shared/datasets/cornell --sdrf 50 -o cornell-sdrf50
  frameless surgery --dataset synthetic:nodes=500,homophily=0.2 --sdrf -o syn-sdrf
  frameless teacher --dataset cornell-sdrf50 --seeds 10";

/// Rewire a graph with stochastic discrete Ricci flow (SDRF) on the balanced Forman
/// curvature and write the result as a dataset folder (meta.txt, features.txt, labels.txt,
/// edges.txt, splits/) that every other subcommand reads.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct SurgeryArgs {
    /// A dataset folder (plain or geom-gcn format), or `synthetic[:key=value,...]`.
    #[arg(long)]
    dataset: DatasetSource,
    /// Run SDRF for this many iterations (default 10).
    #[arg(long, num_args = 0..=1, default_missing_value = "10", required = true)]
    sdrf: Option<usize>,
    /// Remove the most positively curved edge only above this curvature.
    #[arg(long, default_value_t = 0.5)]
    removal_bound: f64,
    /// Inverse temperature of the softmax that picks the edge to add.
    #[arg(long, default_value_t = 1.0)]
    tau: f64,
    /// Seed of the edge sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder (created; existing files of the same names are replaced).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub fn run(args: SurgeryArgs) -> anyhow::Result<()> {
    let config = SdrfConfig {
        iterations: args.sdrf.unwrap_or(10),
        removal_bound: args.removal_bound,
        tau: args.tau,
        seed: args.seed,
    };
    let source = args.dataset.to_string();
    let dataset = data::load(&args.dataset).with_context(|| format!("loading {source}"))?;
    let before = dataset.graph()?;
    let start = std::time::Instant::now();
    let (rewired, outcome) = rewire_dataset(&dataset, &config)?;
    let seconds = start.elapsed().as_secs_f64();
    let after = rewired.graph()?;
    let source_dir = match &args.dataset {
        DatasetSource::Path(p) => Some(p.as_path()),
        DatasetSource::Synthetic(_) => None,
    };
    let meta = [
        ("source", source.clone()),
        ("surgery", "sdrf".to_string()),
        ("sdrf_iterations", config.iterations.to_string()),
        ("sdrf_removal_bound", config.removal_bound.to_string()),
        ("sdrf_tau", config.tau.to_string()),
        ("sdrf_seed", config.seed.to_string()),
        ("sdrf_edges_added", outcome.added.len().to_string()),
        ("sdrf_edges_removed", outcome.removed.len().to_string()),
    ]
    .map(|(k, v)| (k.to_string(), v));
    write_dataset(&rewired, source_dir, &args.out, &meta)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let min_before = outcome.stats.first().map(|s| s.min_curvature);
    let min_after = outcome.stats.last().map(|s| s.min_curvature);
    let mut out = std::io::stdout().lock();
    if args.json {
        let summary = serde_json::json!({
            "dataset": dataset.name, "out": args.out, "iterations": config.iterations,
            "rounds": outcome.stats.len(), "added": outcome.added.len(), "removed": outcome.removed.len(),
            "edges_before": before.n_edges(), "edges_after": after.n_edges(),
            "edge_homophily_before": before.edge_homophily(&dataset.labels),
            "edge_homophily_after": after.edge_homophily(&rewired.labels),
            "min_curvature_first_round": min_before, "min_curvature_last_round": min_after,
            "seconds": seconds,
        });
        writeln!(out, "{summary}")?;
    } else {
        writeln!(
            out,
            "{}: {} rounds, +{} −{} edges ({} → {}), edge homophily {:.3} → {:.3}, {:.2} s; wrote {}",
            dataset.name,
            outcome.stats.len(),
            outcome.added.len(),
            outcome.removed.len(),
            before.n_edges(),
            after.n_edges(),
            before.edge_homophily(&dataset.labels),
            after.edge_homophily(&rewired.labels),
            seconds,
            args.out.display()
        )?;
    }
    Ok(())
}
