//! `frameless demo`: the whole line on the built-in synthetic graph.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use frameless_distiller::data::SyntheticConfig;
use frameless_distiller::pipeline::{demo, save_json, DemoConfig, DemoReport};

use crate::args::OutputArgs;
use crate::{progress, BadInput};

const EXAMPLES: &str = "\
Examples:
  frameless demo
  frameless demo --nodes 3000 --homophily 0.3 --seed 1
  frameless demo --json > report.json";

/// Run the whole line on a synthetic CSBM graph: spatial framelet teacher → fmlp-s
/// student → f32/f16/int8 → export → engine parity on every node, then a summary table
/// (accuracy, argmax agreement, blob and scratch bytes, engine vs teacher time per node).
/// Files go to --out (soft labels, student file, one blob per precision, report.json).
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct DemoArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 3000)]
    nodes: usize,
    /// Expected fraction of intra-class edges, in [0, 1].
    #[arg(long, default_value_t = 0.8)]
    homophily: f64,
    /// Number of classes.
    #[arg(long, default_value_t = 5)]
    classes: usize,
    /// Feature dimension.
    #[arg(long, default_value_t = 200)]
    features: usize,
    /// Seed of the graph, split, teacher and student.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long, short, default_value = "out/demo")]
    out: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

/// The summary table.
pub fn table(r: &DemoReport) -> String {
    let mut s = format!(
        "dataset {} (N={}, F={}, C={}, edge homophily {:.2})\n\
         teacher (spatial) test {:.2}% | student fmlp-s test {:.2}% (val {:.2}%, best epoch {}, gates {})\n\n\
         | precision | test acc % | agree w/ f32 % | engine=sim % | blob bytes | scratch bytes | engine ns/node | speed-up, one node | speed-up, amortised |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        r.dataset,
        r.dims[0],
        r.dims[1],
        r.dims[2],
        r.edge_homophily,
        100.0 * r.teacher_test_accuracy,
        100.0 * r.student.test_accuracy,
        100.0 * r.student.val_accuracy,
        r.student.best_epoch,
        r.student.mean_gates.iter().map(|g| format!("{g:.3}")).collect::<Vec<_>>().join("/"),
    );
    for p in &r.precisions {
        s += &format!(
            "| {} | {:.2} | {:.2} | {:.2} | {} | {} | {:.0} | {:.0}x | {:.2}x |\n",
            p.quant.precision,
            100.0 * p.engine_test_accuracy,
            100.0 * p.quant.agreement_with_f32,
            100.0 * p.engine_agreement_with_simulated,
            p.quant.blob_bytes,
            p.quant.scratch_bytes,
            p.engine_ns_per_node,
            p.speedup_single_node,
            p.speedup_amortised
        );
    }
    s += &format!(
        "\none node: the teacher answers from the node's {}-hop ball ({:.0} nodes on average, framelets prebuilt) in {:.0} ns (median of {}); the engine from the node's features alone\n\
         amortised: the teacher's full-graph forward, {:.0} ns/node; f32 engine max |logit diff| {:.1e}; wall {:.1} s",
        r.receptive_hops,
        r.mean_ball_nodes,
        r.teacher_single_node_ns,
        frameless_distiller::pipeline::QUERY_NODES,
        r.teacher_ns_per_node,
        r.precisions.first().map_or(0.0, |p| p.max_abs_diff_vs_f32),
        r.wall_s
    );
    s
}

/// Runs the subcommand.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let synthetic = SyntheticConfig {
        nodes: args.nodes,
        classes: args.classes,
        features: args.features,
        homophily: args.homophily,
        seed: args.seed,
        ..SyntheticConfig::default()
    };
    synthetic
        .validate()
        .map_err(|reason| BadInput::Demo { reason })?;
    let config = DemoConfig {
        synthetic,
        seed: args.seed,
        out_dir: args.out.clone(),
        ..DemoConfig::default()
    };
    let chatty = !args.output.json && !args.output.quiet;
    let report = demo(&config, &mut |_| {
        progress::owned_sink(progress::run_bar(chatty))
    })?;
    save_json(&report, &args.out.join("report.json"))?;
    let mut o = std::io::stdout().lock();
    if args.output.json {
        writeln!(o, "{}", serde_json::to_string(&report)?)?;
    } else {
        writeln!(o, "{}", table(&report))?;
        writeln!(o, "files in {}", args.out.display())?;
    }
    Ok(())
}
