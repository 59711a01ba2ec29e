//! Node-classification datasets: features, labels, edges and train/val/test splits.
//!
//! A [`Dataset`] holds an `n_nodes × n_features` sparse feature matrix, one label per node
//! (`-1` = unlabelled) and an undirected edge list. It comes from a folder in the converted
//! plain format (`meta.txt`, `features.txt`, `labels.txt`, `edges.txt`, `splits/`), from the
//! geom-gcn raw text files (`out1_node_feature_label.txt`, `out1_graph_edges.txt`), or from the
//! contextual stochastic block model in [`synthetic`] (see [`DatasetSource`]).
//!
//! ```
//! use frameless_distiller::data::{load, DatasetSource, SplitRates};
//! let source: DatasetSource = "synthetic:nodes=300,classes=3,features=16".parse()?;
//! let dataset = load(&source)?;
//! let split = dataset.split(0, SplitRates::default());
//! assert_eq!(split.train.len(), 3 * 20); // int(300 / 3 · 0.2) per class
//! # Ok::<(), frameless_distiller::data::DataError>(())
//! ```

mod ball;
mod error;
mod geom;
mod plain;
mod source;
mod split;
pub mod synthetic;
mod write;

use std::path::Path;

pub use error::DataError;
pub use source::DatasetSource;
pub use split::{first_node_out_of_range, random_split, Split, SplitRates};
pub use synthetic::SyntheticConfig;
pub use write::write_dataset;

use crate::graph::Graph;
use crate::sparse::{Csr, SparseError};

/// A node-classification dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// A short name (the folder name, or `synthetic`).
    pub name: String,
    /// Feature dimension `F`.
    pub n_features: usize,
    /// Number of classes `C`; labels are in `0..C`.
    pub n_classes: usize,
    /// Node features, `n_nodes × n_features`.
    pub features: Csr,
    /// Class of each node; `-1` = unlabelled (in no split).
    pub labels: Vec<i64>,
    /// Undirected edges, each once or in both directions; self loops allowed (dropped later).
    pub edges: Vec<(u32, u32)>,
    /// Fixed splits shipped with the dataset (geom-gcn's ten 60/20/20 splits), possibly none.
    pub fixed_splits: Vec<Split>,
}

impl Dataset {
    /// Number of nodes `N`.
    pub fn n_nodes(&self) -> usize {
        self.labels.len()
    }

    /// The undirected simple graph of [`Dataset::edges`].
    ///
    /// # Errors
    /// [`SparseError::IndexOutOfRange`] if an edge names a node `>= n_nodes` (loaders check this).
    pub fn graph(&self) -> Result<Graph, SparseError> {
        Graph::from_edges(self.n_nodes(), &self.edges)
    }

    /// The split for `seed`: fixed split `seed mod count` if the dataset ships splits
    /// (unlabelled nodes removed), else a random per-class split with `rates`.
    pub fn split(&self, seed: u64, rates: SplitRates) -> Split {
        if self.fixed_splits.is_empty() {
            return random_split(&self.labels, self.n_classes, seed, rates);
        }
        let k = (seed % self.fixed_splits.len() as u64) as usize;
        let labelled = |ids: &[u32]| -> Vec<u32> {
            ids.iter()
                .copied()
                .filter(|&i| self.labels.get(i as usize).is_some_and(|&y| y >= 0))
                .collect()
        };
        let Some(fixed) = self.fixed_splits.get(k) else {
            return Split::default();
        };
        Split {
            train: labelled(&fixed.train),
            val: labelled(&fixed.val),
            test: labelled(&fixed.test),
        }
    }

    /// Number of labelled nodes in each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.n_classes];
        for &y in &self.labels {
            if let Some(count) = usize::try_from(y).ok().and_then(|y| counts.get_mut(y)) {
                *count += 1;
            }
        }
        counts
    }
}

/// Loads a dataset from `source`.
///
/// # Errors
/// [`DataError`] naming the file and line of the first defect, or an I/O failure.
pub fn load(source: &DatasetSource) -> Result<Dataset, DataError> {
    match source {
        DatasetSource::Path(path) => load_dir(path),
        DatasetSource::Synthetic(config) => synthetic::generate(config),
    }
}

/// Loads a dataset folder: the converted plain format if `meta.txt` exists, else the
/// geom-gcn raw text files.
///
/// # Errors
/// See [`load`].
pub fn load_dir(dir: &Path) -> Result<Dataset, DataError> {
    if dir.join("meta.txt").is_file() {
        plain::load(dir)
    } else if dir.join(geom::NODES_FILE).is_file() {
        geom::load(dir)
    } else {
        Err(DataError::NotADataset {
            path: dir.to_path_buf(),
        })
    }
}

/// Each undirected edge once as `(u, v)` with `u < v`, sorted, self loops dropped.
///
/// ```
/// use frameless_distiller::data::canonical_edges;
/// assert_eq!(canonical_edges(&[(2, 1), (1, 2), (0, 0), (0, 1)]), vec![(0, 1), (1, 2)]);
/// ```
pub fn canonical_edges(edges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = edges
        .iter()
        .filter(|(u, v)| u != v)
        .map(|&(u, v)| (u.min(v), u.max(v)))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Checks what every loader promises: labels in range, no empty class, edges in range.
///
/// The class count comes from a file (`meta.txt`, or the largest geom-gcn label), so the
/// empty class is found from the labels present, never from a table of `n_classes`
/// entries: a count of 10^12 is refused without allocating for it.
pub(crate) fn validate(dataset: &Dataset, labels_file: &Path) -> Result<(), DataError> {
    let mut present: Vec<i64> = dataset.labels.iter().copied().filter(|&y| y >= 0).collect();
    present.sort_unstable();
    present.dedup();
    // The first class missing from 0, 1, 2, ...: a gap, or the first class past them.
    let first_missing = present
        .iter()
        .zip(0i64..)
        .find(|&(&y, class)| y != class)
        .map_or(present.len(), |(_, class)| class as usize);
    if first_missing < dataset.n_classes {
        return Err(DataError::EmptyClass {
            file: labels_file.to_path_buf(),
            class: first_missing,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
