//! Students: the GLNN `mlp` baseline and the frameless `fmlp-s` / `fmlp-o` (DESIGN §4).
//!
//! Shapes: `N` nodes, `F` features (a sparse `N × F` [`Csr`]), hidden width `d`, `C`
//! classes, `B` bands. Per band `b` the structural operator is
//! `P_b = W_bᵀ Â_b W_b`, applied as three sparse products ([`StudentGraph::propagate`]);
//! it is never materialised. A frameless stage of power `p` owns a learnable table
//! `M_b ∈ R^{N×d}` (or, with [`StudentConfig::feature_tables`], `M_b = X V_b`) and bias
//! `c_b`, and reads `E_b = P_b^p M_b + c_b`:
//!
//! ```text
//! h = x
//! for s in 1..=S:                       (fmlp-s: S = 1, power K; fmlp-o: powers 1..S)
//!     u = Lin_s(h)  (+ ReLU if s < S)
//!     α_b = σ(a_bᵀ [E_b^s ‖ u] + β_b)
//!     s < S:  h = Σ_b (1 − α_b) E_b^s + α_b u
//!     s = S:  logits = Σ_b (1 − α_b) Cls_b(E_b^S) + α_b Cls_x(u)
//! ```
//!
//! This is exactly the engine's forward; after training [`Student::tables`]
//! precomputes every `E_b^s` and the engine stores them.
//!
//! ```
//! use frameless_distiller::sparse::Csr;
//! use frameless_distiller::student::{Student, StudentConfig, StudentGraph, StudentKind, Mode};
//! use frameless_distiller::train::SeededRng;
//! let x = Csr::from_triplets(3, 2, &[(0, 0, 1.0), (1, 1, 1.0), (2, 0, 1.0)])?;
//! let a = Csr::identity(3, 1.0);
//! let graph = StudentGraph::new(x, vec![("low".into(), a.clone(), a)])?;
//! let config = StudentConfig::new(StudentKind::FmlpS);
//! let student = Student::new(&config, &graph, 2, &mut SeededRng::new(0), candle_core::DType::F32)?;
//! let out = student.forward(&graph, Mode::Eval)?;
//! assert_eq!(out.logits.dims(), &[3, 2]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod frameless;
mod mlp;
mod table;
#[cfg(test)]
mod tests;

use candle_core::{DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::error::{Blame, Blamed};
use crate::framelet::FrameletOperators;
use crate::sparse::{spmm_chain, Csr, FeatureMatrix, SparseOperator};
use crate::train::SeededRng;

pub use frameless::{FramelessParams, StageParams};
pub use mlp::MlpParams;

/// Errors from building or running a student.
#[derive(Debug, thiserror::Error)]
pub enum StudentError {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The student graph has no framelet band.
    #[error("student: no framelet band")]
    NoBand,
    /// A band's operator is not `N × N`.
    #[error("student: band {band}: operators must be {n_nodes}x{n_nodes}")]
    BandShape {
        /// The band's name.
        band: String,
        /// Nodes `N`.
        n_nodes: usize,
    },
    /// Hidden width, classes or nodes is zero.
    #[error("student: hidden width, classes and nodes must be positive")]
    ZeroSize {
        /// Hidden width asked for.
        hidden: usize,
        /// Classes.
        n_classes: usize,
        /// Nodes.
        n_nodes: usize,
    },
    /// fmlp-s with `k = 0` or fmlp-o with no stage.
    #[error("student: fmlp-s needs k >= 1 and fmlp-o stages >= 1")]
    NoStage {
        /// The student asked for.
        kind: StudentKind,
    },
}

impl Blamed for StudentError {
    fn blame(&self) -> Blame {
        match self {
            Self::Candle(e) => e.blame(),
            // The binary builds the operators itself: a shape error is ours.
            Self::NoBand | Self::BandShape { .. } => Blame::Internal,
            Self::ZeroSize { .. } | Self::NoStage { .. } => Blame::Input,
        }
    }
}

/// Which student to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StudentKind {
    /// GLNN: `F → d → C` MLP on the node features only.
    Mlp,
    /// FMLP-S: one stage with the highest power `K`.
    FmlpS,
    /// FMLP-O: `S` stages with powers `1..S`.
    FmlpO,
}

impl StudentKind {
    /// The engine's name for this kind.
    pub fn model_kind(self) -> frameless_engine::ModelKind {
        match self {
            StudentKind::Mlp => frameless_engine::ModelKind::Mlp,
            StudentKind::FmlpS => frameless_engine::ModelKind::FmlpS,
            StudentKind::FmlpO => frameless_engine::ModelKind::FmlpO,
        }
    }
}

impl std::fmt::Display for StudentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.model_kind().fmt(f)
    }
}

impl std::str::FromStr for StudentKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mlp" => Ok(Self::Mlp),
            "fmlp-s" => Ok(Self::FmlpS),
            "fmlp-o" => Ok(Self::FmlpO),
            other => Err(format!(
                "unknown student {other:?} (expected mlp, fmlp-s or fmlp-o)"
            )),
        }
    }
}

/// Architecture hyper-parameters of a student.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StudentConfig {
    /// Which student.
    pub kind: StudentKind,
    /// Hidden width `d`.
    pub hidden: usize,
    /// fmlp-s: the power `K` of `P_b`.
    pub k: usize,
    /// fmlp-o: number of stages `S` (powers `1..S`).
    pub stages: usize,
    /// Share the band table and band classifier between bands (the published code).
    pub tie_bands: bool,
    /// Dropout probability (mlp: after the hidden ReLU; frameless: on `u` and each `E_b`).
    pub dropout: f64,
    /// Frameless: each table is the features' projection `M_b = X V_b` (`V_b` is
    /// `F × d`) rather than a free `N × d` parameter, so a band propagates the features
    /// themselves (SIGN's and H2GCN's neighbourhood features, per framelet band) and the
    /// parameters do not grow with `N`. Training only: the engine stores the tables
    /// `E_b = P_b^p M_b + c_b` either way, so the blob does not change form.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub feature_tables: bool,
}

impl StudentConfig {
    /// The reference defaults: d = 64, K = 2, S = 2, separate bands, dropout 0.5 (mlp) or 0.1.
    pub fn new(kind: StudentKind) -> Self {
        Self {
            kind,
            hidden: 64,
            k: 2,
            stages: 2,
            tie_bands: false,
            dropout: if kind == StudentKind::Mlp { 0.5 } else { 0.1 },
            feature_tables: false,
        }
    }

    /// Number of stages the engine sees (mlp: layers).
    pub fn n_stages(&self) -> usize {
        match self.kind {
            StudentKind::Mlp => 2,
            StudentKind::FmlpS => 1,
            StudentKind::FmlpO => self.stages,
        }
    }

    /// Power of `P_b` read by stage `s` (zero-based).
    pub fn power(&self, s: usize) -> usize {
        match self.kind {
            StudentKind::FmlpO => s + 1,
            _ => self.k,
        }
    }
}

/// One band's operators: the framelet transform `W_b` and the propagation `Â_b`.
#[derive(Debug, Clone)]
pub struct BandOperators {
    /// Band name, e.g. `"low"`.
    pub name: String,
    /// `W_b` (`N × N`).
    pub transform: SparseOperator,
    /// `Â_b` (`N × N`).
    pub propagation: SparseOperator,
}

/// Everything a student reads from the graph: the sparse features and the band operators.
#[derive(Debug, Clone)]
pub struct StudentGraph {
    /// Node features, `N × F` (CSR or dense by their density).
    pub features: FeatureMatrix,
    /// The bands, in the framelet's order.
    pub bands: Vec<BandOperators>,
    /// Where the student's parameters live and train (CPU unless [`StudentGraph::on`]).
    pub device: Device,
}

impl StudentGraph {
    /// Checks shapes and wraps the operators; `bands` holds `(name, W_b, Â_b)`.
    ///
    /// # Errors
    /// [`StudentError::BandShape`] if an operator is not `N × N`, [`StudentError::NoBand`]
    /// if there is no band.
    pub fn new(features: Csr, bands: Vec<(String, Csr, Csr)>) -> Result<Self, StudentError> {
        let bands = bands
            .into_iter()
            .map(|(name, w, a)| (name, SparseOperator::new(w), SparseOperator::new(a)))
            .collect();
        Self::with_operators(features, bands)
    }

    /// [`StudentGraph::new`] over operators already wrapped (shared, not copied).
    fn with_operators(
        features: Csr,
        bands: Vec<(String, SparseOperator, SparseOperator)>,
    ) -> Result<Self, StudentError> {
        let n = features.n_rows;
        if bands.is_empty() {
            return Err(StudentError::NoBand);
        }
        let square = |m: &SparseOperator| m.matrix().n_rows == n && m.matrix().n_cols == n;
        let mut out = Vec::with_capacity(bands.len());
        for (name, transform, propagation) in bands {
            if !square(&transform) || !square(&propagation) {
                return Err(StudentError::BandShape {
                    band: name,
                    n_nodes: n,
                });
            }
            out.push(BandOperators {
                name,
                transform,
                propagation,
            });
        }
        Ok(Self {
            features: FeatureMatrix::from_csr(features)?,
            bands: out,
            device: Device::Cpu,
        })
    }

    /// The student's view of a dataset: its features and the bands of `operators`
    /// (shared with them, not copied).
    ///
    /// # Errors
    /// As [`StudentGraph::new`], if the operators were built for another graph.
    pub fn from_framelets(
        features: Csr,
        operators: &FrameletOperators,
    ) -> Result<Self, StudentError> {
        let bands = operators
            .bands
            .iter()
            .map(|b| (b.name.clone(), b.transform.clone(), b.propagation.clone()))
            .collect();
        Self::with_operators(features, bands)
    }

    /// The same graph, with the student trained on `device`.
    pub fn on(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Number of nodes N.
    pub fn n_nodes(&self) -> usize {
        self.features.n_rows()
    }

    /// Number of features F.
    pub fn n_features(&self) -> usize {
        self.features.n_cols()
    }

    /// `P_b^power · x` with `P_b = W_bᵀ Â_b W_b`, as `3·power` sparse products in one
    /// [`spmm_chain`] (no intermediate kept for the backward pass).
    ///
    /// # Errors
    /// If `x` is not `N × k`.
    pub fn propagate(&self, band: usize, x: &Tensor, power: usize) -> candle_core::Result<Tensor> {
        spmm_chain(&self.chain(band, power), x)
    }

    /// The table `E_b = P_b^power · m + c` of a band (`m` is `N × d`, `c` is `1 × d`),
    /// one node of the autograd graph on the CPU (see `table`).
    ///
    /// # Errors
    /// If `m` is not `N × d` or `c` not `1 × d`.
    pub fn table(
        &self,
        band: usize,
        m: &Tensor,
        c: &Tensor,
        power: usize,
    ) -> candle_core::Result<Tensor> {
        table::table(self.chain(band, power), m, c)
    }

    /// `P_b^power` as the sparse products that apply it, in their order.
    pub(super) fn chain(&self, band: usize, power: usize) -> Vec<SparseOperator> {
        let ops = &self.bands[band];
        let once = [
            ops.transform.clone(),
            ops.propagation.clone(),
            ops.transform.transposed(),
        ];
        (0..power).flat_map(|_| once.iter().cloned()).collect()
    }
}

/// Whether a forward pass trains (dropout on, drawn from the run's rng) or evaluates.
pub enum Mode<'r> {
    /// Training: dropout masks come from this stream.
    Train(&'r mut SeededRng),
    /// Evaluation: no dropout.
    Eval,
}

impl Mode<'_> {
    fn dropout(&mut self, x: &Tensor, p: f64) -> candle_core::Result<Tensor> {
        match self {
            Mode::Train(rng) => rng.dropout(x, p),
            Mode::Eval => Ok(x.clone()),
        }
    }
}

/// A forward pass's result.
#[derive(Debug, Clone)]
pub struct Output {
    /// `N × C` logits.
    pub logits: Tensor,
    /// Output-stage gates, one `N × 1` tensor per band (empty for mlp).
    pub gates: Vec<Tensor>,
}

/// The learnable parameters of one of the three students.
#[derive(Debug, Clone)]
pub enum Params {
    /// GLNN mlp.
    Mlp(MlpParams),
    /// fmlp-s or fmlp-o.
    Frameless(FramelessParams),
}

/// A student: its configuration and parameters.
#[derive(Debug, Clone)]
pub struct Student {
    /// Architecture hyper-parameters.
    pub config: StudentConfig,
    /// Parameters.
    pub params: Params,
    /// Number of classes C.
    pub n_classes: usize,
}

impl Student {
    /// A freshly initialised student for `graph` with `n_classes` outputs.
    ///
    /// # Errors
    /// [`StudentError::ZeroSize`] or [`StudentError::NoStage`] for zero sizes; candle
    /// errors otherwise.
    pub fn new(
        config: &StudentConfig,
        graph: &StudentGraph,
        n_classes: usize,
        rng: &mut SeededRng,
        dtype: DType,
    ) -> Result<Self, StudentError> {
        if config.hidden == 0 || n_classes == 0 || graph.n_nodes() == 0 {
            return Err(StudentError::ZeroSize {
                hidden: config.hidden,
                n_classes,
                n_nodes: graph.n_nodes(),
            });
        }
        if config.n_stages() == 0 || (config.kind == StudentKind::FmlpS && config.k == 0) {
            return Err(StudentError::NoStage { kind: config.kind });
        }
        let params = match config.kind {
            StudentKind::Mlp => Params::Mlp(MlpParams::new(
                graph.n_features(),
                config.hidden,
                n_classes,
                rng,
                dtype,
                &graph.device,
            )?),
            _ => Params::Frameless(FramelessParams::new(config, graph, n_classes, rng, dtype)?),
        };
        Ok(Self {
            config: *config,
            params,
            n_classes,
        })
    }

    /// Every trainable variable.
    pub fn vars(&self) -> Vec<Var> {
        match &self.params {
            Params::Mlp(p) => p.vars(),
            Params::Frameless(p) => p.vars(),
        }
    }

    /// The tables `E_b^s = P_b^{p_s} M_b^s + c_b^s`, indexed `[stage][band]`, each `N × d`
    /// (empty for mlp).
    ///
    /// # Errors
    /// Candle errors.
    pub fn tables(&self, graph: &StudentGraph) -> candle_core::Result<Vec<Vec<Tensor>>> {
        match &self.params {
            Params::Mlp(_) => Ok(Vec::new()),
            Params::Frameless(p) => p.tables(&self.config, graph),
        }
    }

    /// Full-graph forward pass.
    ///
    /// # Errors
    /// Candle errors.
    pub fn forward(&self, graph: &StudentGraph, mode: Mode) -> candle_core::Result<Output> {
        let tables = self.tables(graph)?;
        self.forward_with_tables(graph, tables, mode)
    }

    /// The last hidden layer in eval mode, `N × d`: mlp `ReLU(Lin₁(x))`; fmlp-s / fmlp-o
    /// the output stage's gated mixture `Σ_b (1 − α_b) E_b^S + α_b u_S` (what the band
    /// classifiers read).
    ///
    /// # Errors
    /// Candle errors.
    pub fn hidden(&self, graph: &StudentGraph) -> candle_core::Result<Tensor> {
        match &self.params {
            Params::Mlp(p) => p.hidden_layer(graph),
            Params::Frameless(p) => p.hidden(graph, self.tables(graph)?),
        }
    }

    /// Forward pass with precomputed [`Student::tables`] (what the engine computes).
    /// The tables are consumed (a clone is cheap: tensors share their storage): a
    /// training pass lets go of each one once its dropout has read it.
    ///
    /// # Errors
    /// Candle errors.
    pub fn forward_with_tables(
        &self,
        graph: &StudentGraph,
        tables: Vec<Vec<Tensor>>,
        mut mode: Mode,
    ) -> candle_core::Result<Output> {
        match &self.params {
            Params::Mlp(p) => Ok(Output {
                logits: p.forward(graph, self.config.dropout, &mut mode)?,
                gates: Vec::new(),
            }),
            Params::Frameless(p) => p.forward(graph, tables, self.config.dropout, &mut mode),
        }
    }
}
