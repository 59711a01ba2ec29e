//! `frameless experiment`: run a resumable grid of teachers and students and write a report.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use frameless_distiller::experiment::{run_experiment, CellEvent, ExperimentOptions, Preset};

const EXAMPLES: &str = "\
Examples:
  frameless experiment --preset smoke --out /tmp/smoke
  frameless experiment --preset quick --out runs/quick
  frameless experiment --preset paper --seeds 10 --out runs/paper   # rerun to resume
  frameless experiment --preset paper --datasets cornell,texas --out runs/small";

/// Run the experiment suite: homophily sweep (syn-cora, CSBM), real graphs (f32 and
/// int8), over-squashing (teacher depth with and without SDRF) and Dirichlet energy.
/// Every finished cell is appended to OUT/results.jsonl and skipped on a rerun; then
/// OUT/results.json, OUT/report.md and SVG plots are written.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ExperimentArgs {
    /// Grid size: smoke (seconds), quick (3 seeds, subsets), paper (full grid).
    #[arg(long, default_value = "smoke")]
    preset: Preset,
    /// Seeds per group (default: 1 smoke, 3 quick, 10 paper).
    #[arg(long)]
    seeds: Option<usize>,
    /// Output folder.
    #[arg(long, default_value = "experiment-out")]
    out: PathBuf,
    /// Keep only these families or datasets (comma-separated, e.g. syn-cora,cornell).
    #[arg(long, value_delimiter = ',')]
    datasets: Vec<String>,
    /// Folder of the benchmark datasets (default: $FRAMELESS_DATASETS or ../shared/datasets).
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Train nothing; rewrite results.json, report.md and the plots from the stored cells
    /// (e.g. while a long run is still going).
    #[arg(long)]
    report_only: bool,
    /// No per-cell lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs the subcommand.
pub fn run(args: ExperimentArgs) -> anyhow::Result<()> {
    let datasets = args
        .data_root
        .clone()
        .or_else(|| std::env::var_os("FRAMELESS_DATASETS").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/datasets"));
    let options = ExperimentOptions {
        preset: args.preset,
        seeds: args.seeds,
        out: args.out.clone(),
        datasets,
        only: args.datasets.clone(),
        report_only: args.report_only,
    };
    let start = Instant::now();
    let quiet = args.quiet;
    let mut on_event = |event: &CellEvent| {
        if quiet {
            return;
        }
        let t = start.elapsed().as_secs_f64();
        match event {
            CellEvent::Prepared {
                dataset,
                sdrf_iterations,
                seconds,
            } => eprintln!(
                "[{t:7.0}s] prepared {dataset} (sdrf {sdrf_iterations}) in {seconds:.1} s"
            ),
            CellEvent::Started { index, total, id } => eprintln!("[{t:7.0}s] {index}/{total} {id}"),
            CellEvent::Finished(r) => {
                let students: Vec<String> = r
                    .students
                    .iter()
                    .map(|s| format!("{} {:.1}", s.kind, 100.0 * s.accuracy))
                    .collect();
                eprintln!(
                    "[{t:7.0}s]   teacher {:.1} | {} | {:.1} s",
                    100.0 * r.teacher_accuracy,
                    students.join(" | "),
                    r.seconds
                );
            }
            CellEvent::Failed { id, message } => eprintln!("[{t:7.0}s] FAILED {id}: {message}"),
        }
    };
    let summary = run_experiment(&options, &mut on_event)?;
    for path in &summary.missing {
        eprintln!(
            "warning: {} not found; its cells were left out",
            path.display()
        );
    }
    println!(
        "{} of {} cells stored ({} failed this run) in {:.0} s; report: {}",
        summary.stored,
        summary.planned,
        summary.failed,
        start.elapsed().as_secs_f64(),
        args.out.join("report.md").display()
    );
    println!("plots: {}", summary.figures.join(", "));
    if summary.failed > 0 {
        anyhow::bail!("{} cell(s) failed; rerun to retry them", summary.failed);
    }
    Ok(())
}
