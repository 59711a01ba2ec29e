//! The dense layer every model shares: `y = x W + b`, PyTorch `nn.Linear` initialisation.

use candle_core::{DType, Device, Tensor, Var};

use super::{add_bias, SeededRng};
use crate::sparse::FeatureMatrix;

/// A linear layer `y = x W + b` with `W` stored `in × out` (candle layout).
#[derive(Debug, Clone)]
pub struct Dense {
    /// `in × out`.
    pub weight: Var,
    /// `1 × out`.
    pub bias: Var,
}

impl Dense {
    /// PyTorch `nn.Linear` initialisation, drawn from `rng`.
    ///
    /// # Errors
    /// If the tensors cannot be created.
    pub fn new(
        fan_in: usize,
        fan_out: usize,
        rng: &mut SeededRng,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let (weight, bias) = rng.linear(fan_in, fan_out, dtype, device)?;
        Ok(Self { weight, bias })
    }

    /// `x W + b` for a dense `x`.
    ///
    /// # Errors
    /// On a shape mismatch.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        add_bias(&x.matmul(self.weight.as_tensor())?, self.bias.as_tensor())
    }

    /// `[a | b] W + bias` without forming `[a | b]`: `a W_top + b W_bottom + bias`
    /// (the same sum in another order), so neither the `N × (d_a + d_b)` input nor its
    /// gradient is ever held.
    ///
    /// # Errors
    /// On a shape mismatch.
    pub fn forward_pair(&self, a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        let (w, da) = (self.weight.as_tensor(), a.dim(1)?);
        let top = a.matmul(&w.narrow(0, 0, da)?)?;
        let bottom = b.matmul(&w.narrow(0, da, w.dim(0)?.saturating_sub(da))?)?;
        add_bias(&(top + bottom)?, self.bias.as_tensor())
    }

    /// `X W + b` for the feature matrix `X` (CSR or dense by its density).
    ///
    /// # Errors
    /// On a shape mismatch.
    pub fn forward_features(&self, x: &FeatureMatrix) -> candle_core::Result<Tensor> {
        add_bias(&x.matmul(self.weight.as_tensor())?, self.bias.as_tensor())
    }

    /// The weight and the bias, for the optimiser.
    pub fn vars(&self) -> [Var; 2] {
        [self.weight.clone(), self.bias.clone()]
    }
}
