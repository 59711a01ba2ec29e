//! Graph-framelet teachers: trained on the labelled nodes, they produce the soft labels
//! (per-node log-probabilities) that students learn from.
//!
//! Three models share the framelet bands `b` (transform `W_b`, propagation `Â_b`), and a
//! fourth, the graph-convolution baseline, uses the low pass's propagation alone:
//!
//! - [`TeacherKind::Spatial`] (the paper's): `H' = Σ_b W_b·ReLU(Â_b·W_b·H·Θ_b) + β`, layers
//!   `F → hidden → … → C`, dropout between layers;
//! - [`TeacherKind::Simplified`]: `Z = Σ_b P_b^K·X·Θ_b + β`, `P_b = W_bᵀ·Â_b·W_b` applied as
//!   three sparse products, `K = layers`, dropout on the input features;
//! - [`TeacherKind::Spectral`] (UFGConv): `H' = Σ_b W_bᵀ·ReLU(f_b ⊙ W_b·H·Θ) + β` with a
//!   learnable per-node filter `f_b` (initialised in `[0.9, 1.1]`), dropout between layers;
//! - [`TeacherKind::Gcn`] (Kipf and Welling): `H' = ReLU(Â_low·H·Θ + β)`, the last layer
//!   without ReLU, dropout between layers. With the default `ε = 0`, `Â_low` is the GCN
//!   matrix `D̃^{-1/2}(A + I)D̃^{-1/2}`. A candidate that `fit` chooses only where its
//!   validation accuracy beats the framelet teachers' (e.g. graphs where a plain
//!   low-pass model is the better teacher).
//!
//! Training (anchors.py `train_eval`): NLL on the training nodes, Adam with L2 weight decay,
//! evaluation in eval mode after every epoch, best-validation weights kept (ties move the
//! best epoch later), test accuracy at the best validation epoch.
//!
//! ```no_run
//! use frameless_distiller::{data, framelet, progress::Progress, teacher};
//! let dataset = data::load(&"synthetic:nodes=300".parse()?)?;
//! let config = teacher::TeacherConfig::default();
//! let ops = framelet::build(&dataset.graph()?, &config.framelet)?;
//! let split = dataset.split(0, data::SplitRates::default());
//! let data = teacher::TeacherData::new(&dataset)?;
//! let run = teacher::train(&data, &ops, teacher::TeacherKind::Spatial, &config, 0, &split,
//!     &candle_core::Device::Cpu, &mut Progress::ignore())?;
//! assert!(run.outcome.test_accuracy > 0.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod models;
mod soft_labels;
mod spatial;
mod training;

pub use soft_labels::SoftLabels;
pub use training::{train, Trainer};

use crate::data::{DataError, Dataset, Split};
use crate::error::{Blame, Blamed};
use crate::framelet::{FrameletConfig, FrameletError};
use crate::sparse::{FeatureMatrix, SparseError};
use crate::train::AdamConfig;

/// A dataset as a teacher reads it: the features in the first layer's product form
/// ([`FeatureMatrix`]: dense f32 for dense features, half the bytes of their CSR), the
/// labels and the class count. One value serves every model and seed of a run; the
/// models share its features rather than copying them.
#[derive(Debug, Clone)]
pub struct TeacherData {
    /// Node features, `N × F`.
    pub features: FeatureMatrix,
    /// Class of each node; `-1` = unlabelled.
    pub labels: Vec<i64>,
    /// Number of classes `C`.
    pub n_classes: usize,
}

impl TeacherData {
    /// The teacher's view of a dataset that stays in use (features and labels copied).
    ///
    /// # Errors
    /// [`TeacherError::Candle`] if the dense copy of dense features cannot be made.
    pub fn new(dataset: &Dataset) -> Result<Self, TeacherError> {
        Ok(Self {
            features: FeatureMatrix::new(&dataset.features)?,
            labels: dataset.labels.clone(),
            n_classes: dataset.n_classes,
        })
    }

    /// The teacher's view of a dataset no longer needed otherwise: its CSR features are
    /// handed to [`FeatureMatrix::from_csr`], so dense features are held once, densely,
    /// rather than as CSR beside a dense copy (at 200 features, 1.6 KB a node less).
    ///
    /// # Errors
    /// As [`TeacherData::new`].
    pub fn from_dataset(dataset: Dataset) -> Result<Self, TeacherError> {
        Ok(Self {
            features: FeatureMatrix::from_csr(dataset.features)?,
            labels: dataset.labels,
            n_classes: dataset.n_classes,
        })
    }

    /// Number of nodes `N`.
    pub fn n_nodes(&self) -> usize {
        self.labels.len()
    }
}

/// Errors from training a teacher or reading and writing soft labels.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TeacherError {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Layers, hidden width or epochs is zero.
    #[error("bad teacher config: layers, hidden and epochs must be ≥ 1")]
    ZeroSize {
        /// Layers asked for.
        layers: usize,
        /// Hidden width asked for.
        hidden: usize,
        /// Epochs asked for.
        epochs: usize,
    },
    /// The dropout probability is outside `[0, 1)`.
    #[error("bad teacher config: dropout must lie in [0, 1)")]
    Dropout {
        /// The probability given.
        dropout: f64,
    },
    /// The learning rate is not positive or the weight decay negative.
    #[error("bad teacher config: lr must be > 0 and weight decay ≥ 0")]
    Optimizer {
        /// Learning rate given.
        lr: f64,
        /// Weight decay given.
        weight_decay: f64,
    },
    /// The framelet operators were built for another graph (or there are none).
    #[error("bad teacher config: framelet operators do not match the {n_nodes}-node dataset")]
    OperatorsMismatch {
        /// Nodes in the dataset.
        n_nodes: usize,
    },
    /// The feature rows or the class count do not fit the dataset.
    #[error("bad teacher config: features or classes do not match the dataset")]
    DatasetShape {
        /// Nodes in the dataset.
        n_nodes: usize,
        /// Rows of the feature matrix.
        feature_rows: usize,
        /// Classes.
        n_classes: usize,
    },
    /// The split has no training or no validation node.
    #[error("bad split: no training or validation nodes")]
    EmptySplit,
    /// The split names a node that is outside the dataset or unlabelled.
    #[error("bad split: node {node} is missing or unlabelled")]
    UnlabelledNode {
        /// The node.
        node: u32,
    },
    /// Loading the dataset failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Building the graph failed.
    #[error(transparent)]
    Graph(#[from] SparseError),
    /// Building the framelet operators failed.
    #[error(transparent)]
    Framelet(#[from] FrameletError),
    /// Reading or writing a soft-label file failed.
    #[error("cannot access {}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A soft-label file is not valid JSON of the expected shape.
    #[error("{}: {message}", path.display())]
    BadFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Blamed for TeacherError {
    fn blame(&self) -> Blame {
        match self {
            Self::Candle(e) => e.blame(),
            Self::Data(e) => e.blame(),
            Self::Graph(e) => e.blame(),
            Self::Framelet(e) => e.blame(),
            Self::ZeroSize { .. }
            | Self::Dropout { .. }
            | Self::Optimizer { .. }
            | Self::OperatorsMismatch { .. }
            | Self::DatasetShape { .. }
            | Self::EmptySplit
            | Self::UnlabelledNode { .. }
            | Self::Io { .. }
            | Self::BadFile { .. } => Blame::Input,
        }
    }
}

/// Which teacher architecture to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TeacherKind {
    /// Spatial framelet convolution (the paper's teacher).
    #[default]
    Spatial,
    /// One linear layer behind `K` framelet propagations.
    Simplified,
    /// Spectral UFGConv with learnable per-coefficient filters.
    Spectral,
    /// Graph convolution on the low pass's propagation (no framelet transform).
    Gcn,
}

impl std::fmt::Display for TeacherKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Spatial => "spatial",
            Self::Simplified => "simplified",
            Self::Spectral => "spectral",
            Self::Gcn => "gcn",
        })
    }
}

impl std::str::FromStr for TeacherKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "spatial" => Ok(Self::Spatial),
            "simplified" => Ok(Self::Simplified),
            "spectral" => Ok(Self::Spectral),
            "gcn" => Ok(Self::Gcn),
            _ => Err(format!(
                "unknown teacher {s:?} (spatial, simplified, spectral, gcn)"
            )),
        }
    }
}

/// Floating-point dtype the teacher trains in (not the blob's [`frameless_engine::Precision`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDtype {
    /// 32-bit floats (default).
    #[default]
    F32,
    /// 64-bit floats.
    F64,
}

impl ComputeDtype {
    /// The candle dtype.
    pub fn dtype(self) -> candle_core::DType {
        match self {
            Self::F32 => candle_core::DType::F32,
            Self::F64 => candle_core::DType::F64,
        }
    }
}

/// Teacher hyper-parameters; the default is the reference protocol.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TeacherConfig {
    /// Hidden width (64).
    pub hidden: usize,
    /// Number of layers (2); the propagation power `K` for the simplified teacher.
    pub layers: usize,
    /// Dropout probability (0.5).
    pub dropout: f64,
    /// Adam learning rate (0.01) and L2 weight decay (5e-4).
    pub optimizer: AdamConfig,
    /// Maximum epochs (500).
    pub epochs: usize,
    /// Epochs without reaching the best validation accuracy before stopping (50).
    pub patience: usize,
    /// Compute dtype (f32).
    pub dtype: ComputeDtype,
    /// Framelet operators (Haar, Lev 1, Chebyshev order 2).
    pub framelet: FrameletConfig,
}

impl TeacherConfig {
    /// How many edges away a node's answer can depend on: every layer applies
    /// `W_b^T Â_b W_b`, each `W_b` a degree-`(n - 1)` polynomial per level.
    pub fn receptive_hops(&self) -> usize {
        let f = &self.framelet;
        let transform = f.chebyshev_order.saturating_sub(1) * f.levels;
        self.layers * (2 * transform + 1)
    }
}

impl Default for TeacherConfig {
    fn default() -> Self {
        Self {
            hidden: 64,
            layers: 2,
            dropout: 0.5,
            optimizer: AdamConfig::default(),
            epochs: 500,
            patience: 50,
            dtype: ComputeDtype::F32,
            framelet: FrameletConfig::default(),
        }
    }
}

/// What one teacher run produced: its log-probabilities, accuracies and timings.
///
/// Shared by [`TeacherRun`] and [`SoftLabels`] (where its fields sit flat in the JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TeacherOutcome {
    /// Number of classes `C`.
    pub n_classes: usize,
    /// Log-probabilities of the best-validation model, row-major `N × C`.
    pub log_probs: Vec<f32>,
    /// Validation accuracy at the best epoch, in `[0, 1]`.
    pub val_accuracy: f64,
    /// Test accuracy at the best epoch, in `[0, 1]`.
    pub test_accuracy: f64,
    /// Zero-based best epoch.
    pub best_epoch: usize,
    /// Epochs run.
    pub epochs: usize,
    /// Mean training-epoch time in milliseconds (epochs after the fifth).
    pub epoch_ms: f64,
    /// Median full-graph inference time in milliseconds.
    pub inference_ms: f64,
}

impl TeacherOutcome {
    /// Number of nodes `N` (rows of the log-probabilities).
    pub fn n_nodes(&self) -> usize {
        self.log_probs.len() / self.n_classes.max(1)
    }

    /// Row `node` of the log-probabilities; empty past the last node.
    pub fn row(&self, node: usize) -> &[f32] {
        let c = self.n_classes;
        node.checked_mul(c)
            .and_then(|start| self.log_probs.get(start..start.checked_add(c)?))
            .unwrap_or(&[])
    }

    /// Per-node predicted classes (argmax of the log-probabilities).
    pub fn predictions(&self) -> Vec<u32> {
        self.log_probs
            .chunks_exact(self.n_classes.max(1))
            .map(|row| {
                let mut best = (0, f32::NEG_INFINITY);
                for (i, &v) in row.iter().enumerate() {
                    if i == 0 || v > best.1 {
                        best = (i, v);
                    }
                }
                best.0 as u32
            })
            .collect()
    }
}

/// The result of training one teacher with one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherRun {
    /// The architecture.
    pub kind: TeacherKind,
    /// The seed (initialisation and dropout).
    pub seed: u64,
    /// The split used.
    pub split: Split,
    /// Log-probabilities, accuracies and timings.
    pub outcome: TeacherOutcome,
    /// Last hidden layer of the best-validation model in eval mode, row-major
    /// `N × hidden_dim` (the logits for teachers without a hidden layer).
    pub hidden: Vec<f32>,
    /// Width of [`TeacherRun::hidden`].
    pub hidden_dim: usize,
}

#[cfg(test)]
mod tests;
