//! The teacher architectures as candle computations over sparse operators.

use candle_core::{DType, Device, Result, Tensor, Var, D};

use super::spatial::SpatialLayer;
use super::{TeacherConfig, TeacherKind};
use crate::framelet::FrameletOperators;
use crate::sparse::{spmm, Csr, FeatureMatrix, SparseOperator};
use crate::train::{add_bias, product, SeededRng};

/// The sparse operators of one band, ready for autograd.
pub(super) struct BandOps {
    /// `W_b`.
    pub(super) transform: SparseOperator,
    /// `Â_b`.
    pub(super) propagation: SparseOperator,
}

impl BandOps {
    /// Every band of `operators`, sharing their sparse operators (no copy).
    pub(super) fn all(operators: &FrameletOperators) -> Vec<BandOps> {
        let band = |b: &crate::framelet::Band| BandOps {
            transform: b.transform.clone(),
            propagation: b.propagation.clone(),
        };
        operators.bands.iter().map(band).collect()
    }
}

/// Every band's `(W_b, Â_b)`, shared: what a [`SpatialLayer`] takes.
pub(super) fn band_pairs(bands: &[BandOps]) -> Vec<(SparseOperator, SparseOperator)> {
    bands
        .iter()
        .map(|ops| (ops.transform.clone(), ops.propagation.clone()))
        .collect()
}

/// One framelet layer `d_in → d_out`: weights for every band and a bias.
struct Layer {
    /// Spatial/simplified: `Θ_b` side by side, `(d_in, B·d_out)`; spectral: one `(d_in, d_out)`.
    theta: Var,
    /// Spectral only: per-band node filters `f_b`, `(N, B)`.
    filter: Option<Var>,
    /// `(1, d_out)`.
    bias: Var,
    d_out: usize,
}

/// A teacher model: its operators, layers and input features.
pub(super) struct Model {
    kind: TeacherKind,
    bands: Vec<BandOps>,
    features_op: FeatureMatrix,
    layers: Vec<Layer>,
    dropout: f64,
    propagation_power: usize,
}

impl Model {
    /// Builds a freshly initialised model (Θ Xavier-uniform, β zero, `f_b ∈ [0.9, 1.1]`).
    pub(super) fn new(
        kind: TeacherKind,
        operators: &FrameletOperators,
        features: &FeatureMatrix,
        n_classes: usize,
        config: &TeacherConfig,
        rng: &mut SeededRng,
        device: &Device,
    ) -> Result<Self> {
        let dtype = config.dtype.dtype();
        let mut bands = BandOps::all(operators);
        if kind == TeacherKind::Gcn {
            // The low pass's propagation alone: one Θ per layer, no transform.
            bands.truncate(1);
        }
        let n_bands = bands.len();
        let n_nodes = features.n_rows();
        let widths: Vec<usize> = match kind {
            TeacherKind::Simplified => vec![features.n_cols(), n_classes],
            _ => std::iter::once(features.n_cols())
                .chain(std::iter::repeat_n(
                    config.hidden,
                    config.layers.saturating_sub(1),
                ))
                .chain(std::iter::once(n_classes))
                .collect(),
        };
        let mut layers = Vec::new();
        for pair in widths.windows(2) {
            let (d_in, d_out) = (pair[0], pair[1]);
            let (theta, filter) = if kind == TeacherKind::Spectral {
                let filter = rng
                    .uniform((n_nodes, n_bands), 0.1, dtype, device)?
                    .affine(1.0, 1.0)?;
                (
                    rng.xavier(d_in, d_out, dtype, device)?,
                    Some(Var::from_tensor(&filter)?),
                )
            } else {
                // One Xavier draw per band, each with the band's own fan-in/fan-out.
                let thetas = (0..n_bands)
                    .map(|_| Ok(rng.xavier(d_in, d_out, dtype, device)?.as_tensor().clone()))
                    .collect::<Result<Vec<_>>>()?;
                (Var::from_tensor(&Tensor::cat(&thetas, 1)?)?, None)
            };
            let bias = Var::from_tensor(&Tensor::zeros((1, d_out), dtype, device)?)?;
            layers.push(Layer {
                theta,
                filter,
                bias,
                d_out,
            });
        }
        Ok(Self {
            kind,
            bands,
            features_op: features.clone(),
            layers,
            dropout: config.dropout,
            propagation_power: config.layers.max(1),
        })
    }

    /// Every trainable variable.
    pub(super) fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|l| {
                std::iter::once(l.theta.clone())
                    .chain(l.filter.clone())
                    .chain(std::iter::once(l.bias.clone()))
            })
            .collect()
    }

    /// Logits `(N, C)`; dropout only when `rng` is given (training mode).
    pub(super) fn forward(&self, rng: Option<&mut SeededRng>) -> Result<Tensor> {
        self.forward_from(None, rng)
    }

    /// The first layer's output, where it does not depend on the mode: every teacher but
    /// the simplified one (whose dropout acts on the features) applies dropout only
    /// between layers, so evaluation and training compute the same first layer.
    pub(super) fn mode_free_first_layer(&self) -> Result<Option<Tensor>> {
        match self.layers.first() {
            Some(layer) if self.kind != TeacherKind::Simplified => {
                Ok(Some(self.layer(None, layer)?))
            }
            _ => Ok(None),
        }
    }

    /// [`Self::forward`] from a first layer already computed with the current weights
    /// ([`Self::mode_free_first_layer`]), or from the features when `first` is `None`.
    pub(super) fn forward_from(
        &self,
        first: Option<Tensor>,
        mut rng: Option<&mut SeededRng>,
    ) -> Result<Tensor> {
        if self.kind == TeacherKind::Simplified {
            return self.forward_simplified(rng);
        }
        let skip = usize::from(first.is_some());
        let mut h = first;
        for (i, layer) in self.layers.iter().enumerate().skip(skip) {
            if i > 0 {
                h = self.activate(h)?;
                if let (Some(rng), Some(x)) = (rng.as_deref_mut(), h.as_ref()) {
                    h = Some(rng.dropout(x, self.dropout)?);
                }
            }
            h = Some(self.layer(h.as_ref(), layer)?);
        }
        h.ok_or_else(|| candle_core::Error::Msg("teacher has no layers".into()))
    }

    /// Eval-mode last hidden layer: the input of the final layer (`N × hidden`), or the
    /// logits when there is none (simplified or one-layer teachers). Used for the
    /// Dirichlet-energy measure of the experiment suite.
    pub(super) fn hidden(&self) -> Result<Tensor> {
        if self.kind == TeacherKind::Simplified || self.layers.len() < 2 {
            return self.forward(None);
        }
        let mut h: Option<Tensor> = None;
        for layer in &self.layers[..self.layers.len() - 1] {
            h = self.activate(Some(self.layer(h.as_ref(), layer)?))?;
        }
        h.ok_or_else(|| candle_core::Error::Msg("teacher has no layers".into()))
    }

    /// The non-linearity between layers where the layer itself has none (GCN's ReLU; the
    /// framelet layers apply theirs inside, per band).
    fn activate(&self, h: Option<Tensor>) -> Result<Option<Tensor>> {
        match h {
            Some(x) if self.kind == TeacherKind::Gcn => Ok(Some(x.relu()?)),
            other => Ok(other),
        }
    }

    /// One spatial, spectral or GCN layer on `h`, or on the features `X` for the first
    /// (`X·Θ`: CSR or dense by X's density). The spatial layer on the CPU is one
    /// operation ([`SpatialLayer`]), which for the first layer also does `X·Θ`.
    fn layer(&self, h: Option<&Tensor>, layer: &Layer) -> Result<Tensor> {
        let theta = layer.theta.as_tensor();
        if self.kind == TeacherKind::Spatial && theta.device().is_cpu() {
            let op = SpatialLayer::new(band_pairs(&self.bands), layer.d_out);
            return match h {
                None => op.apply_first(&self.features_op, theta, layer.bias.as_tensor()),
                Some(x) => op.apply(&product(x, theta)?, layer.bias.as_tensor()),
            };
        }
        let projected = match h {
            None => self.features_op.matmul(theta)?,
            Some(x) => product(x, theta)?,
        };
        match self.kind {
            TeacherKind::Spectral => self.spectral_layer(&projected, layer),
            TeacherKind::Gcn => {
                let low = self.bands.first().ok_or_else(|| {
                    candle_core::Error::Msg("GCN teacher without a low pass".into())
                })?;
                add_bias(&spmm(&low.propagation, &projected)?, layer.bias.as_tensor())
            }
            _ => spatial_chain(&self.bands, &projected, layer.bias.as_tensor(), layer.d_out),
        }
    }

    /// `Σ_b W_bᵀ·ReLU(f_b ⊙ W_b·(HΘ)) + β`.
    fn spectral_layer(&self, projected: &Tensor, layer: &Layer) -> Result<Tensor> {
        let filter = layer
            .filter
            .as_ref()
            .ok_or_else(|| candle_core::Error::Msg("spectral layer without filter".into()))?;
        let bands = self.bands.iter().enumerate().map(|(b, ops)| {
            let coefficients = spmm(&ops.transform, projected)?;
            let f = filter.as_tensor().narrow(1, b, 1)?;
            let x = coefficients.broadcast_mul(&f)?.relu()?;
            spmm(&ops.transform.transposed(), &x)
        });
        sum_with_bias(bands, layer.bias.as_tensor())
    }

    /// `Σ_b P_b^K·(X̃Θ_b) + β` with `P_b = W_bᵀÂ_bW_b`; `X̃` = X with dropout on its entries.
    fn forward_simplified(&self, rng: Option<&mut SeededRng>) -> Result<Tensor> {
        let layer = &self.layers[0];
        let theta = layer.theta.as_tensor();
        let projected = match rng {
            Some(rng) if self.dropout > 0.0 => {
                // The features' own CSR (lent when sparse, rebuilt when dense): dropout
                // acts on its stored entries.
                let features = self.features_op.to_csr()?;
                let values = Tensor::from_slice(&features.values, features.nnz(), theta.device())?;
                let kept: Vec<f32> = rng
                    .dropout(&values, self.dropout)?
                    .to_dtype(DType::F32)?
                    .to_vec1()?;
                let dropped = Csr {
                    values: kept,
                    ..features.into_owned()
                };
                FeatureMatrix::from_csr(dropped)?.matmul(theta)?
            }
            _ => self.features_op.matmul(theta)?,
        };
        let bands = self.bands.iter().enumerate().map(|(b, ops)| {
            let mut x = projected.narrow(1, b * layer.d_out, layer.d_out)?;
            for _ in 0..self.propagation_power {
                x = spmm(&ops.transform, &x)?;
                x = spmm(&ops.propagation, &x)?;
                x = spmm(&ops.transform.transposed(), &x)?;
            }
            Ok(x)
        });
        sum_with_bias(bands, layer.bias.as_tensor())
    }
}

/// The spatial layer as a chain of candle operations (what [`SpatialLayer`] computes in
/// one).
pub(super) fn spatial_chain(
    bands: &[BandOps],
    projected: &Tensor,
    bias: &Tensor,
    d_out: usize,
) -> Result<Tensor> {
    let terms = bands.iter().enumerate().map(|(b, ops)| {
        let x = projected.narrow(1, b * d_out, d_out)?;
        let x = spmm(&ops.transform, &x)?;
        let x = spmm(&ops.propagation, &x)?.relu()?;
        spmm(&ops.transform, &x)
    });
    sum_with_bias(terms, bias)
}

/// `β + t_0 + t_1 + …` in that order (each band's term in turn), the bias through
/// [`add_bias`].
fn sum_with_bias(terms: impl Iterator<Item = Result<Tensor>>, bias: &Tensor) -> Result<Tensor> {
    let mut out: Option<Tensor> = None;
    for term in terms {
        let term = term?;
        out = Some(match out {
            None => add_bias(&term, bias)?,
            Some(sum) => (sum + term)?,
        });
    }
    Ok(out.unwrap_or_else(|| bias.clone()))
}

/// Row-wise log-softmax.
pub(super) fn log_softmax(logits: &Tensor) -> Result<Tensor> {
    candle_nn::ops::log_softmax(logits, D::Minus1)
}
