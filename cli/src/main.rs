//! The `frameless` command-line tool: a thin dispatcher over one `cmd_*.rs` per subcommand.
// Doc comments here are clap's help text, which names placeholders as `<dataset>`;
// rustdoc would read those as HTML tags.
#![allow(rustdoc::invalid_html_tags)]

mod args;
mod cmd_demo;
mod cmd_distill;
mod cmd_experiment;
mod cmd_export;
mod cmd_inspect;
mod cmd_predict;
mod cmd_surgery;
mod cmd_teacher;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use frameless_distiller::Blame;

/// A user-input error: exit status 1 (anything else not caught here is internal: 2).
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Frameless graph knowledge distillation: train graph-framelet teachers, distill them
/// into frameless students, export tiny classifiers for microcontrollers.
#[derive(Debug, Parser)]
#[command(name = "frameless", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Teacher(cmd_teacher::TeacherArgs),
    Distill(cmd_distill::DistillArgs),
    Export(cmd_export::ExportArgs),
    Inspect(cmd_inspect::InspectArgs),
    Predict(cmd_predict::PredictArgs),
    Demo(cmd_demo::DemoArgs),
    Surgery(cmd_surgery::SurgeryArgs),
    Experiment(cmd_experiment::ExperimentArgs),
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
    let result = match cli.command {
        Command::Teacher(args) => cmd_teacher::run(args),
        Command::Distill(args) => cmd_distill::run(args),
        Command::Export(args) => cmd_export::run(args),
        Command::Inspect(args) => cmd_inspect::run(args),
        Command::Predict(args) => cmd_predict::run(args),
        Command::Demo(args) => cmd_demo::run(args),
        Command::Surgery(args) => cmd_surgery::run(args),
        Command::Experiment(args) => cmd_experiment::run(args),
    };
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
