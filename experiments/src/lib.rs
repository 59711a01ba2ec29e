//! The experiment suite: a resumable grid of teacher and student runs, and a report.
//!
//! A grid ([`grid`]) is a list of cells `dataset × teacher × depth × surgery × seed`; each
//! cell trains one teacher and distills every student of the preset from it. Finished
//! cells are appended to `results.jsonl` ([`store`]) and skipped when the grid is run again.
//! From the stored cells come `results.json` (cells and [`aggregate`]s), `report.md` and
//! SVG pictures ([`report`], [`figures`], [`plot`]), including the Dirichlet energy of
//! the last hidden layers ([`energy`]).
//!
//! ```
//! use frameless_experiments::aggregate::Summary;
//! assert_eq!(Summary::of(&[0.8, 0.8]).percent(), "80.0 ± 0.0");
//! ```

pub mod aggregate;
pub mod energy;
pub mod figures;
pub mod fit_report;
pub mod grid;
mod hidden;
pub mod inductive;
pub mod plot;
pub mod record;
pub mod report;
pub mod run;
pub mod store;

use std::path::{Path, PathBuf};

pub use grid::{build as build_grid, Grid, Preset, Shard};
pub use report::{RunInfo, SECTION_HEADINGS};
pub use run::{run_grid, CellEvent};
pub use store::ResultStore;

/// What [`run_experiment`] runs and where it writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentOptions {
    /// Grid size.
    pub preset: Preset,
    /// Seeds per group (the preset's count when `None`).
    pub seeds: Option<usize>,
    /// Output folder (`results.jsonl`, `results.json`, `report.md`, SVGs).
    pub out: PathBuf,
    /// Folder holding the benchmark datasets (`../shared/datasets`).
    pub datasets: PathBuf,
    /// Keep only these families or datasets (all when empty).
    pub only: Vec<String>,
    /// Train nothing: only rewrite the report from the cells already stored.
    pub report_only: bool,
    /// The part of the grid this process runs. A part writes no report (its cells are not
    /// the whole grid): run again with `report_only` once every part has finished.
    pub shard: Shard,
}

/// The outcome of [`run_experiment`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentSummary {
    /// Cells in the grid.
    pub planned: usize,
    /// Cells stored (this run and earlier ones, including cells of other grids in the folder).
    pub stored: usize,
    /// Cells that failed in this run.
    pub failed: usize,
    /// Dataset folders the preset wanted but did not find.
    pub missing: Vec<PathBuf>,
    /// Picture files written.
    pub figures: Vec<String>,
}

/// Builds the grid, runs the cells not yet stored in `out`, then writes the report.
///
/// # Errors
/// [`ExperimentError::Io`] / [`ExperimentError::BadResults`] for the results file,
/// [`ExperimentError::Plot`] if a picture cannot be drawn. Failing cells do not abort the
/// run; they are counted in [`ExperimentSummary::failed`].
pub fn run_experiment(
    options: &ExperimentOptions,
    on_event: &mut dyn FnMut(&CellEvent),
) -> Result<ExperimentSummary, ExperimentError> {
    let grid = build_grid(
        options.preset,
        options.seeds,
        &options.datasets,
        &options.only,
    );
    let mut store = ResultStore::open(&options.out)?;
    let failed = if options.report_only {
        0
    } else {
        run_grid(&grid, &mut store, options.shard, on_event)?
    };
    let info = RunInfo {
        preset: options.preset.to_string(),
        seeds: grid.seeds,
        planned_cells: grid.cells.len(),
    };
    let figures = if options.shard == Shard::WHOLE || options.report_only {
        report::write_report(&options.out, &info, store.records())?
    } else {
        Vec::new()
    };
    Ok(ExperimentSummary {
        planned: grid.cells.len(),
        stored: store.records().len(),
        failed,
        missing: grid.missing,
        figures,
    })
}

/// Errors of the experiment suite.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line of `results.jsonl` (other than a torn last one) does not parse.
    #[error("{}:{line}: {message}", path.display())]
    BadResults {
        /// The results file.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A cell could not be trained (data, surgery, teacher, distillation or quantisation).
    #[error("cell {id}: {message}")]
    Cell {
        /// The cell id.
        id: String,
        /// The underlying error.
        message: String,
    },
    /// Drawing a picture failed.
    #[error("plot: {0}")]
    Plot(String),
}

impl ExperimentError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
