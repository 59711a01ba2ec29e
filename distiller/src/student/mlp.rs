//! The GLNN student: `logits = Lin₂(dropout(ReLU(Lin₁(x))))`, `F → d → C`.

use candle_core::{DType, Tensor, Var};

use super::{Mode, StudentGraph};
use crate::train::{Dense, SeededRng};

/// Parameters of the two-layer mlp student.
#[derive(Debug, Clone)]
pub struct MlpParams {
    /// `F → d`, applied to the sparse features.
    pub hidden: Dense,
    /// `d → C`.
    pub output: Dense,
}

impl MlpParams {
    /// PyTorch-style initialisation of both layers.
    ///
    /// # Errors
    /// Candle errors.
    pub fn new(
        n_features: usize,
        hidden: usize,
        n_classes: usize,
        rng: &mut SeededRng,
        dtype: DType,
        device: &candle_core::Device,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            hidden: Dense::new(n_features, hidden, rng, dtype, device)?,
            output: Dense::new(hidden, n_classes, rng, dtype, device)?,
        })
    }

    pub(super) fn vars(&self) -> Vec<Var> {
        self.hidden
            .vars()
            .into_iter()
            .chain(self.output.vars())
            .collect()
    }

    pub(super) fn forward(
        &self,
        graph: &StudentGraph,
        dropout: f64,
        mode: &mut Mode,
    ) -> candle_core::Result<Tensor> {
        let h = self.hidden_layer(graph)?;
        let h = mode.dropout(&h, dropout)?;
        self.output.forward(&h)
    }

    /// `ReLU(Lin₁(x))`, `N × d` (eval mode: before dropout).
    pub(super) fn hidden_layer(&self, graph: &StudentGraph) -> candle_core::Result<Tensor> {
        self.hidden.forward_features(&graph.features)?.relu()
    }
}
