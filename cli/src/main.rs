//! The `frameless` command-line tool: a thin dispatcher over one `cmd_*.rs` per subcommand.
// Doc comments here are clap's help text, which names placeholders as `<dataset>`;
// rustdoc would read those as HTML tags.
#![allow(rustdoc::invalid_html_tags)]

mod args;
mod budget;
mod cmd_demo;
mod cmd_distill;
mod cmd_experiment;
mod cmd_export;
mod cmd_fit;
mod cmd_inductive;
mod cmd_inspect;
mod cmd_keygen;
mod cmd_predict;
mod cmd_surgery;
mod cmd_teacher;
mod mem_report;
mod progress;
mod threads;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use frameless_distiller::Blame;

/// A defect in what the user gave the binary: exit status 1.
///
/// Library errors say for themselves ([`frameless_distiller::Blamed`]); these are the
/// defects only the binary sees (flags, feature text, blobs) and the library errors it
/// reports with its own wording. A wrapped error is part of the message, not a
/// `source`, so `{:#}` prints it once.
#[derive(Debug, thiserror::Error)]
pub enum BadInput {
    /// A split rate outside `[0, 1]`.
    #[error("--train-rate and --val-rate must lie in [0, 1]")]
    Rates {
        /// `--train-rate`.
        train: f64,
        /// `--val-rate`.
        val: f64,
    },
    /// A `--device` that is not `cpu`, `cuda` or `cuda:N`.
    #[error("bad device {text:?} (cpu, cuda, cuda:N)")]
    Device {
        /// The text given.
        text: String,
    },
    /// A CUDA device asked of a CPU-only build.
    #[error("device {text} needs a build with the `cuda` feature (cargo build --release --features cuda)")]
    NoCuda {
        /// The device given.
        text: String,
    },
    /// `--dropout` outside `[0, 1)`.
    #[error("--dropout must lie in [0, 1)")]
    Dropout {
        /// The value given.
        dropout: f64,
    },
    /// A zero student size.
    #[error("--hidden, --k and --stages must be positive")]
    StudentSize,
    /// `--lambda` or `--tau` out of range.
    #[error("need 0 <= --lambda <= 1 and --tau > 0")]
    Loss {
        /// `--lambda`.
        lambda: f64,
        /// `--tau`.
        tau: f64,
    },
    /// `--export` with several teachers.
    #[error("--export needs exactly one --teacher file")]
    ExportNeedsOneTeacher,
    /// A soft-label file that cannot be loaded.
    #[error("{error}")]
    SoftLabels {
        /// Why.
        error: frameless_distiller::teacher::TeacherError,
    },
    /// Soft labels whose dataset cannot be rebuilt.
    #[error("{}: {error}", path.display())]
    SoftLabelsDataset {
        /// The soft-label file.
        path: std::path::PathBuf,
        /// Why.
        error: frameless_distiller::PipelineError,
    },
    /// A student file that cannot be loaded or used.
    #[error("{error}")]
    StudentFile {
        /// Why.
        error: frameless_distiller::export::ExportError,
    },
    /// A blob that failed its parity or accuracy checks.
    #[error("refusing to write {}: {error}", path.display())]
    Refused {
        /// The blob path.
        path: std::path::PathBuf,
        /// The failed check.
        error: frameless_distiller::export::ExportError,
    },
    /// A recipe file (`fit --config`) that is not a recipe.
    #[error("{}: not a fit recipe: {message}", path.display())]
    Recipe {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file that cannot be read.
    #[error("{}: {error}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A path that is not a regular file (a folder, FIFO or device).
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: std::path::PathBuf,
    },
    /// A file that is not a valid blob.
    #[error("{}: invalid blob: {error}", path.display())]
    InvalidBlob {
        /// The file.
        path: std::path::PathBuf,
        /// The engine's verdict.
        error: frameless_engine::Error,
    },
    /// A budget `inspect --target` has no figures for.
    #[error("{error}")]
    Budget {
        /// Why.
        error: crate::budget::BudgetError,
    },
    /// A key file that is not 64 hex digits.
    #[error("{}: not a key file (expected 64 hex digits, as `frameless keygen` writes)", path.display())]
    KeyFile {
        /// The file.
        path: std::path::PathBuf,
    },
    /// An output file that already exists and is not replaced.
    #[error("{}: already exists", path.display())]
    Exists {
        /// The file.
        path: std::path::PathBuf,
    },
    /// A feature item that is not `index:value`.
    #[error("bad feature {item:?} (expected index:value)")]
    Feature {
        /// The item.
        item: String,
    },
    /// A feature index given twice.
    #[error("feature index {index} given twice")]
    DuplicateFeature {
        /// The index.
        index: u32,
    },
    /// `inductive --held-out` outside (0, 1).
    #[error("--held-out {share} must be between 0 and 1 (exclusive)")]
    HeldOut {
        /// The share given.
        share: f64,
    },
    /// Neither `--features` nor `--features-file`.
    #[error("give --features or --features-file")]
    NoFeatures,
    /// The engine refused the node or its features.
    #[error("cannot predict {}: {error}", node.map_or("the new node".into(), |n| format!("node {n}")))]
    Predict {
        /// The node (`None`: a new node).
        node: Option<u32>,
        /// The engine's verdict.
        error: frameless_engine::Error,
    },
    /// Demo parameters the synthetic generator refuses.
    #[error("demo: {reason}")]
    Demo {
        /// The generator's reason.
        reason: String,
    },
}

/// Frameless graph knowledge distillation: train graph-framelet teachers, distill them
/// into frameless students, export tiny classifiers for microcontrollers.
#[derive(Debug, Parser)]
#[command(name = "frameless", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Threads to train with (default: large products on a second core while one is
    /// free of other processes, looked at every half second, the rest on one thread;
    /// `RAYON_NUM_THREADS`, if set, is the default). Results do not depend on it.
    #[arg(long, global = true)]
    threads: Option<std::num::NonZeroUsize>,
}

#[derive(Debug, Subcommand)]
enum Command {
    Teacher(cmd_teacher::TeacherArgs),
    Distill(cmd_distill::DistillArgs),
    Export(cmd_export::ExportArgs),
    Inspect(cmd_inspect::InspectArgs),
    Keygen(cmd_keygen::KeygenArgs),
    Predict(cmd_predict::PredictArgs),
    Demo(cmd_demo::DemoArgs),
    Surgery(cmd_surgery::SurgeryArgs),
    Experiment(cmd_experiment::ExperimentArgs),
    Fit(cmd_fit::FitArgs),
    Inductive(cmd_inductive::InductiveArgs),
}

/// Who is to blame for `error`: the first cause in its chain that knows (a [`BadInput`],
/// a library error through [`frameless_distiller::blame_of`], an I/O error); internal
/// if none does.
fn blame(error: &anyhow::Error) -> Blame {
    error
        .chain()
        .find_map(|cause| {
            if cause.is::<BadInput>() {
                Some(Blame::Input)
            } else {
                frameless_distiller::blame_of(cause)
            }
        })
        .unwrap_or(Blame::Internal)
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; usage errors are bad input (exit 1).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // Before anything spawns a thread: candle reads the thread count from the
    // environment. A command that trains many models in parallel threads resolves
    // `ThreadPolicy::Fixed(1)` here and runs each in its own `with_threads(1, ..)`.
    let trains = !matches!(cli.command, Command::Inspect(_) | Command::Predict(_));
    // `fit` runs one training per worker thread (`--jobs`), each on one thread.
    let flag = match cli.command {
        Command::Fit(_) => std::num::NonZeroUsize::new(1),
        _ => cli.threads,
    };
    let (policy, resolved) = threads::apply(flag, trains);
    let result = frameless_distiller::threads::with_threads(resolved.pool, || match cli.command {
        Command::Teacher(args) => cmd_teacher::run(args),
        Command::Distill(args) => cmd_distill::run(args),
        Command::Fit(args) => cmd_fit::run(args),
        Command::Export(args) => cmd_export::run(args),
        Command::Inspect(args) => cmd_inspect::run(args),
        Command::Keygen(args) => cmd_keygen::run(args),
        Command::Predict(args) => cmd_predict::run(args),
        Command::Demo(args) => cmd_demo::run(args),
        Command::Surgery(args) => cmd_surgery::run(args),
        Command::Experiment(args) => cmd_experiment::run(args, policy),
        Command::Inductive(args) => cmd_inductive::run(args),
    })
    .map_err(anyhow::Error::from)
    .and_then(|result| result);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(match blame(&e) {
                Blame::Input => 1,
                Blame::Internal => 2,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
