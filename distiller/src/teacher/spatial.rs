//! The spatial teacher's layer `Σ_b W_b·ReLU(Â_b·W_b·(HΘ_b)) + β` as one operation on
//! the CPU, so that a training step keeps one `N × d` output and one bit per ReLU
//! instead of every band's four intermediate `N × d` products.
//!
//! It computes exactly what the chain of candle operations computes (the same sparse
//! products in the same order, the same ReLU test `x ≥ 0` in the backward pass, the bias
//! gradient by the same `sum_keepdim`), so results are bit for bit those of the chain;
//! `spatial_layer_matches_the_chain` in the tests checks values and gradients. Other
//! devices run the chain.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, WithDType};

use crate::sparse::spmm::{add_product, product, span, within};
use crate::sparse::{FeatureMatrix, SparseOperator};
use crate::threads::zip_chunks;

/// One layer's bands `(W_b, Â_b)` and width `d`; the ReLU signs of the last forward pass,
/// one bit each, for its backward pass.
pub(super) struct SpatialLayer {
    pub(super) bands: Vec<(SparseOperator, SparseOperator)>,
    pub(super) d_out: usize,
    signs: Mutex<Vec<Vec<u64>>>,
    /// A first layer: the features `X` (the operation's input is then `Θ`, not `X·Θ`)
    /// and `X·Θ` until the forward pass has read it.
    first: Option<(FeatureMatrix, Mutex<Option<Tensor>>)>,
}

impl SpatialLayer {
    /// The layer over `bands`, `d_out` wide.
    pub(super) fn new(bands: Vec<(SparseOperator, SparseOperator)>, d_out: usize) -> Self {
        Self {
            bands,
            d_out,
            signs: Mutex::new(Vec::new()),
            first: None,
        }
    }

    /// The first layer, `Σ_b W_b·ReLU(Â_b·W_b·(X·Θ_b)) + β`, differentiable in `theta`
    /// (`F × B·d`) and `bias`: `X·Θ` is made here, read once by the forward pass and not
    /// kept for the backward pass, which forms `∂Θ = Xᵀ·∂(XΘ)` as
    /// [`FeatureMatrix::matmul`]'s backward pass would.
    pub(super) fn apply_first(
        mut self,
        features: &FeatureMatrix,
        theta: &Tensor,
        bias: &Tensor,
    ) -> Result<Tensor> {
        let projected = features.matmul(&theta.detach())?.contiguous()?;
        self.first = Some((features.clone(), Mutex::new(Some(projected))));
        theta.apply_op2_arc(&bias.contiguous()?, std::sync::Arc::new(Box::new(self)))
    }

    /// `Σ_b W_b·ReLU(Â_b·W_b·x_b) + β` for `projected = [x_0 | x_1 | …]` (`N × B·d`) and
    /// `bias` (`1 × d`), differentiable in both.
    pub(super) fn apply(self, projected: &Tensor, bias: &Tensor) -> Result<Tensor> {
        projected
            .contiguous()?
            .apply_op2_arc(&bias.contiguous()?, std::sync::Arc::new(Box::new(self)))
    }

    fn forward<T: WithDType + std::ops::AddAssign + Send + Sync>(
        &self,
        projected: &[T],
        bias: &[T],
        n: usize,
    ) -> Result<Vec<T>> {
        let (d, width) = (self.d_out, self.d_out * self.bands.len());
        let mut out = vec![T::zero(); n * d];
        let mut signs = Vec::with_capacity(self.bands.len());
        for (b, (transform, propagation)) in self.bands.iter().enumerate() {
            let x = within(projected, b * d, b * d + span(n, d, width))?;
            let mut h = product(
                propagation.matrix(),
                &product(transform.matrix(), x, d, width),
                d,
                d,
            );
            // Row blocks of 64 rows hold whole words of bits, so the blocks are
            // independent (the passes below split over the pool like the products).
            let mut bits = vec![0u64; h.len().div_ceil(64)];
            zip_chunks(&mut h, 64 * d, &mut bits, d, |h, bits| {
                for (i, v) in h.iter_mut().enumerate() {
                    // candle: relu is `max(v, 0)`, its gradient `v ≥ 0`.
                    if *v >= T::zero() {
                        bits[i / 64] |= 1 << (i % 64);
                    } else {
                        *v = T::zero();
                    }
                }
            });
            signs.push(bits);
            let mut y = product(transform.matrix(), &h, d, d);
            zip_chunks(&mut out, 64 * d, &mut y, 64 * d, |out, y| {
                if b == 0 {
                    // `bias.broadcast_add(y_0)`.
                    for (row, y) in out.chunks_exact_mut(d.max(1)).zip(y.chunks_exact(d.max(1))) {
                        for ((o, &y), &beta) in row.iter_mut().zip(y).zip(bias) {
                            *o = beta + y;
                        }
                    }
                } else {
                    // `out.broadcast_add(y_b)`.
                    for (o, y) in out.iter_mut().zip(y) {
                        *o += *y;
                    }
                }
            });
        }
        *self
            .signs
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))? = signs;
        Ok(out)
    }

    /// The gradient of the bands `bands` of the layer's input `[x_0 | x_1 | …]` (`N ×
    /// d` each), side by side in a new `N × bands.len()·d` matrix, from the gradient
    /// `grad` of the output.
    fn backward<T: WithDType + std::ops::AddAssign + Send + Sync>(
        &self,
        grad: &[T],
        n: usize,
        bands: std::ops::Range<usize>,
    ) -> Result<Vec<T>> {
        let d = self.d_out;
        let width = d * bands.len();
        let mut signs = self
            .signs
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))?;
        if signs.len() != self.bands.len() || bands.end > signs.len() {
            candle_core::bail!("spatial layer: backward before forward");
        }
        let mut out = vec![T::zero(); n * width];
        let first = bands.start;
        for (b, ((transform, propagation), bits)) in self
            .bands
            .iter()
            .zip(signs.iter_mut())
            .enumerate()
            .skip(first)
            .take(bands.len())
        {
            // The chain's backward: W_bᵀ, then the ReLU mask (`0 + g·1` or `0 + g·0`),
            // then Â_bᵀ, then W_bᵀ.
            let mut g = product(transform.transposed().matrix(), grad, d, d);
            zip_chunks(&mut g, 64 * d, bits, d, |g, bits| {
                for (i, v) in g.iter_mut().enumerate() {
                    let keep = if bits[i / 64] >> (i % 64) & 1 == 1 {
                        T::one()
                    } else {
                        T::zero()
                    };
                    *v = T::zero() + *v * keep;
                }
            });
            // The last product is summed into the band's zeroed columns of `out` (the
            // bits of a product made apart and copied): two `N × d` buffers beside `out`
            // at a time, not three.
            let g = product(propagation.transposed().matrix(), &g, d, d);
            add_product(
                transform.transposed().matrix(),
                &g,
                d,
                d,
                &mut out,
                width,
                (b - first) * d,
            );
        }
        Ok(out)
    }
}

impl CustomOp2 for SpatialLayer {
    fn name(&self) -> &'static str {
        "spatial-framelet-layer"
    }

    fn cpu_fwd(
        &self,
        input: &CpuStorage,
        input_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let projected = match &self.first {
            Some((_, projected)) => Some(
                projected
                    .lock()
                    .map_err(|_| candle_core::Error::Msg("poisoned".into()))?
                    .take()
                    .ok_or_else(|| candle_core::Error::Msg("spatial layer: run twice".into()))?,
            ),
            None => None,
        };
        let guard = projected.as_ref().map(Tensor::storage_and_layout);
        let (input, input_layout) = match &guard {
            Some((storage, layout)) => match &**storage {
                candle_core::Storage::Cpu(storage) => (storage, *layout),
                _ => candle_core::bail!("spatial layer: X·Θ is not on the CPU"),
            },
            None => (input, input_layout),
        };
        let (n, width) = input_layout.shape().dims2()?;
        if width != self.d_out * self.bands.len() || bias_layout.shape().dims2()? != (1, self.d_out)
        {
            candle_core::bail!("spatial layer: shapes do not match the bands");
        }
        let (Some((p0, p1)), Some((b0, b1))) = (
            input_layout.contiguous_offsets(),
            bias_layout.contiguous_offsets(),
        ) else {
            candle_core::bail!("spatial layer: inputs must be contiguous");
        };
        let out = match (input, bias) {
            (CpuStorage::F32(p), CpuStorage::F32(b)) => {
                CpuStorage::F32(self.forward(within(p, p0, p1)?, within(b, b0, b1)?, n)?)
            }
            (CpuStorage::F64(p), CpuStorage::F64(b)) => {
                CpuStorage::F64(self.forward(within(p, p0, p1)?, within(b, b0, b1)?, n)?)
            }
            _ => candle_core::bail!("spatial layer: f32 or f64 inputs of one dtype"),
        };
        Ok((out, Shape::from((n, self.d_out))))
    }

    fn bwd(
        &self,
        _input: &Tensor,
        _bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let n = res.dims2()?.0;
        let grad = grad.contiguous()?;
        // The gradient of bands `bands` of the layer's input, `N × d` a band.
        let input_gradient = |bands: std::ops::Range<usize>| -> Result<Tensor> {
            let width = self.d_out * bands.len();
            let (storage, layout) = grad.storage_and_layout();
            let Some((start, end)) = layout.contiguous_offsets() else {
                candle_core::bail!("spatial layer: gradient must be contiguous");
            };
            match &*storage {
                candle_core::Storage::Cpu(CpuStorage::F32(g)) => Tensor::from_vec(
                    self.backward(within(g, start, end)?, n, bands)?,
                    (n, width),
                    grad.device(),
                ),
                candle_core::Storage::Cpu(CpuStorage::F64(g)) => Tensor::from_vec(
                    self.backward(within(g, start, end)?, n, bands)?,
                    (n, width),
                    grad.device(),
                ),
                _ => candle_core::bail!("spatial layer: f32 or f64 gradient on the CPU"),
            }
        };
        let g_input = match &self.first {
            // `∂Θ = Xᵀ·∂(XΘ)` a band's columns at a time, so that one band's `N × d`
            // gradient is held at a time, not all `B` bands', where that gives the same
            // bits (see `band_by_band`).
            Some((features, _)) if band_by_band(features, self.d_out) => {
                let columns = (0..self.bands.len())
                    .map(|b| features.weights_gradient(&input_gradient(b..b + 1)?))
                    .collect::<Result<Vec<_>>>()?;
                Tensor::cat(&columns, 1)?
            }
            Some((features, _)) => {
                features.weights_gradient(&input_gradient(0..self.bands.len())?)?
            }
            None => input_gradient(0..self.bands.len())?,
        };
        // candle's broadcast backward: the sum over the broadcast dimension (with one
        // node nothing is broadcast and the bias takes the gradient as it is).
        let g_bias = if n == 1 {
            grad.clone()
        } else {
            crate::train::column_sums(&grad)?
        };
        Ok((Some(g_input), Some(g_bias)))
    }
}

/// Whether `Xᵀ·G` formed `d` columns at a time has the bits of the whole product
/// `Xᵀ·[G_0 | G_1 | …]`. Each column is its own sum over the nodes: the CSR product adds
/// a row's entries in their stored order whatever the width. gemm (0.19, candle's CPU
/// matmul) splits the sum over the nodes in blocks whose size depends on the width only
/// when both sides are at most 64 wide, or the product has at most 256 cells, or one side
/// is a single column; `F > 64` and `d ≥ 4` keep both products out of those cases.
/// `first_spatial_layer_matches_the_chain` checks both sides of this rule.
fn band_by_band(features: &FeatureMatrix, d: usize) -> bool {
    features.is_sparse() || (features.n_cols() > 64 && d >= 4)
}
