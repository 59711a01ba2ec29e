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
//! use frameless_distiller::experiment::aggregate::Summary;
//! assert_eq!(Summary::of(&[0.8, 0.8]).percent(), "80.0 ± 0.0");
//! ```

pub mod aggregate;
pub mod energy;
pub mod figures;
pub mod plot;
pub mod record;
pub mod report;
pub mod store;

use std::path::{Path, PathBuf};

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
