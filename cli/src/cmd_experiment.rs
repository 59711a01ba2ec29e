//! `frameless experiment`: run a resumable grid of teachers and students and write a report.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use clap::Args;
use frameless_distiller::threads::ThreadPolicy;
use frameless_experiments::{
    build_grid, run_experiment, CellEvent, ExperimentOptions, Preset, ResultStore, Shard,
};

const EXAMPLES: &str = "\
Examples:
  frameless experiment --preset smoke --out /tmp/smoke
  frameless experiment --preset quick --out runs/quick
  frameless experiment --preset paper --seeds 10 --out runs/paper   # rerun to resume
  frameless experiment --preset paper --datasets cornell,texas --out runs/small
  frameless experiment --preset paper --out runs/paper --shard 0/2 --jobs 1   # machine A
  frameless experiment --preset paper --out runs/paper --shard 1/2 --jobs 1   # machine B
  frameless experiment --preset paper --out runs/paper --report-only          # then the report";

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
    /// Worker processes, each running every JOBS-th cell on `--threads` threads (default:
    /// one process per core, one thread each). On small graphs this is several times
    /// faster than one process using every core, and gives the same results, bit for bit.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only part K/N of the grid (every N-th cell from cell K) and write no report;
    /// lets N processes or machines share one output folder.
    #[arg(long, default_value = "0/1")]
    shard: Shard,
    /// No per-cell lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs the subcommand.
pub fn run(args: ExperimentArgs, threads: ThreadPolicy) -> anyhow::Result<()> {
    let options = ExperimentOptions {
        preset: args.preset,
        seeds: args.seeds,
        out: args.out.clone(),
        datasets: args
            .data_root
            .clone()
            .or_else(|| std::env::var_os("FRAMELESS_DATASETS").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("../shared/datasets")),
        only: args.datasets.clone(),
        report_only: args.report_only,
        shard: args.shard,
    };
    let start = Instant::now();
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if jobs > 1 && args.shard == Shard::WHOLE && !args.report_only {
        let per_worker = match threads {
            ThreadPolicy::Fixed(n) => n.get(),
            ThreadPolicy::Auto => 1,
        };
        let failed_workers = run_workers(&options, jobs, per_worker, args.quiet)?;
        // The workers stored the cells; this pass only writes the report.
        let report = ExperimentOptions {
            report_only: true,
            ..options
        };
        finish(&report, start, &mut |_| {})?;
        if failed_workers > 0 {
            anyhow::bail!("{failed_workers} worker(s) had failed cells; rerun to retry them");
        }
        return Ok(());
    }
    let prefix = if args.shard == Shard::WHOLE {
        String::new()
    } else {
        format!("{} ", args.shard)
    };
    let quiet = args.quiet;
    let mut on_event = |event: &CellEvent| {
        if !quiet {
            eprintln!(
                "[{prefix}{:7.0}s] {}",
                start.elapsed().as_secs_f64(),
                describe(event)
            );
        }
    };
    finish(&options, start, &mut on_event)
}

/// One stderr line per event.
fn describe(event: &CellEvent) -> String {
    match event {
        CellEvent::Prepared {
            dataset,
            sdrf_iterations,
            seconds,
        } => format!("prepared {dataset} (sdrf {sdrf_iterations}) in {seconds:.1} s"),
        CellEvent::Started { index, total, id } => format!("{index}/{total} {id}"),
        CellEvent::Finished(r) => {
            let students: Vec<String> = r
                .students
                .iter()
                .map(|s| format!("{} {:.1}", s.kind, 100.0 * s.accuracy))
                .collect();
            format!(
                "  teacher {:.1} | {} | {:.1} s",
                100.0 * r.teacher_accuracy,
                students.join(" | "),
                r.seconds
            )
        }
        CellEvent::Failed { id, message } => format!("FAILED {id}: {message}"),
    }
}

/// Runs the grid as `jobs` child processes of this binary, shard `k/jobs` each, and waits
/// for them. Each child runs on `threads` threads (`--threads`; one unless the user
/// asked for more): on the small graphs of the grid, thread hand-offs inside one process
/// cost more than they gain. Returns how many workers exited with an error.
fn run_workers(
    options: &ExperimentOptions,
    jobs: usize,
    threads: usize,
    quiet: bool,
) -> anyhow::Result<usize> {
    // Opening the store repairs a torn last line once, before any worker appends.
    let store = ResultStore::open(&options.out)?;
    let grid = build_grid(
        options.preset,
        options.seeds,
        &options.datasets,
        &options.only,
    );
    let todo = grid.cells.iter().filter(|c| !store.contains(&c.id)).count();
    drop(store);
    let jobs = jobs.min(todo).max(1);
    if !quiet {
        eprintln!("{todo} cells to run in {jobs} worker processes");
    }
    let exe = std::env::current_exe()?;
    let mut workers = Vec::new();
    for index in 0..jobs {
        let mut command = Command::new(&exe);
        command
            .arg("experiment")
            .args(["--preset", &options.preset.to_string()])
            .arg("--out")
            .arg(&options.out)
            .arg("--data-root")
            .arg(&options.datasets)
            .args(["--shard", &Shard { index, count: jobs }.to_string()])
            // A worker must not spawn workers of its own (`0/1` is the whole grid).
            .args(["--jobs", "1"])
            .args(["--threads", &threads.to_string()])
            .stdout(Stdio::null());
        if let Some(seeds) = options.seeds {
            command.args(["--seeds", &seeds.to_string()]);
        }
        if !options.only.is_empty() {
            command.args(["--datasets", &options.only.join(",")]);
        }
        if quiet {
            command.arg("--quiet");
        }
        workers.push(command.spawn()?);
    }
    let mut failed = 0;
    for mut worker in workers {
        if !worker.wait()?.success() {
            failed += 1;
        }
    }
    Ok(failed)
}

/// Runs (or, for `report_only`, reports) `options` and prints the summary.
fn finish(
    options: &ExperimentOptions,
    start: Instant,
    on_event: &mut dyn FnMut(&CellEvent),
) -> anyhow::Result<()> {
    let summary = run_experiment(options, on_event)?;
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
        options.out.join("report.md").display()
    );
    if !summary.figures.is_empty() {
        println!("plots: {}", summary.figures.join(", "));
    }
    if summary.failed > 0 {
        anyhow::bail!("{} cell(s) failed; rerun to retry them", summary.failed);
    }
    Ok(())
}
