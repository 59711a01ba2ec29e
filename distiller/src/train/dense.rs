//! The dense layer every model shares: `y = x W + b`, PyTorch `nn.Linear` initialisation.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, DType, Device, Layout, Shape, Tensor, Var};

use super::{add_bias, add_to_rows, column_sums, DropoutMask, SeededRng};
use crate::sparse::spmm::within;
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
        add_bias(&product(x, self.weight.as_tensor())?, self.bias.as_tensor())
    }

    /// `[a | b] W + bias` without forming `[a | b]`: `a W_top + b W_bottom + bias`
    /// (the same sum in another order), so neither the `N × (d_a + d_b)` input nor its
    /// gradient is ever held.
    ///
    /// # Errors
    /// On a shape mismatch.
    pub fn forward_pair(&self, a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        let (w, da) = (self.weight.as_tensor(), a.dim(1)?);
        let top = product(a, &w.narrow(0, 0, da)?)?;
        let bottom = product(b, &w.narrow(0, da, w.dim(0)?.saturating_sub(da))?)?;
        add_bias(&(top + bottom)?, self.bias.as_tensor())
    }

    /// `X W + b` for the feature matrix `X` (CSR or dense by its density).
    ///
    /// # Errors
    /// On a shape mismatch.
    pub fn forward_features(&self, x: &FeatureMatrix) -> candle_core::Result<Tensor> {
        let (w, b) = (self.weight.as_tensor(), self.bias.as_tensor());
        if self.fuses(x) {
            return w.apply_op2(b, FeatureLayer::new(x, None));
        }
        add_bias(&x.matmul(w)?, b)
    }

    /// [`Dense::forward_features`], then inverted dropout with probability `p` drawn
    /// from `rng` ([`SeededRng::dropout`]): the same values and gradients.
    ///
    /// # Errors
    /// On a shape mismatch.
    pub fn forward_features_dropped(
        &self,
        x: &FeatureMatrix,
        rng: &mut SeededRng,
        p: f64,
    ) -> candle_core::Result<Tensor> {
        let (w, b) = (self.weight.as_tensor(), self.bias.as_tensor());
        if p > 0.0 && self.fuses(x) {
            let mask = rng.dropout_mask(x.n_rows() * w.dim(1)?, p);
            return w.apply_op2(b, FeatureLayer::new(x, Some(mask)));
        }
        rng.dropout(&self.forward_features(x)?, p)
    }

    /// Whether [`FeatureLayer`] computes `x W + b` here.
    fn fuses(&self, x: &FeatureMatrix) -> bool {
        let (w, b) = (self.weight.as_tensor(), self.bias.as_tensor());
        x.multiplies_on_cpu(w)
            && b.device().is_cpu()
            && b.dtype() == w.dtype()
            && w.rank() == 2
            && w.dims().get(1).is_some_and(|&d| b.dims() == [1, d])
            && w.is_contiguous()
            && b.is_contiguous()
    }

    /// The weight and the bias, for the optimiser.
    pub fn vars(&self) -> [Var; 2] {
        [self.weight.clone(), self.bias.clone()]
    }
}

/// `x · w` for two tensors, as candle's `matmul` computes it and differentiates it, except
/// that on the CPU the two gradients come out detached.
///
/// candle's backward pass builds each gradient from the forward tensors, and where those
/// are tracked (a weight, an activation) the gradient is tracked too: until its node's
/// turn comes, a pending gradient holds the zeros it was added to and every term of its
/// sum. For a layer read by several heads (a band table, the feature embedding) that is
/// three or four `N × d` tensors per pending gradient, the epoch's peak. Here the same
/// products come out detached and hold nothing.
///
/// # Errors
/// On a shape mismatch.
pub(crate) fn product(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    // candle's matmul fills an empty product with zeros rather than calling the kernel.
    let fits = x.device().is_cpu()
        && w.device().is_cpu()
        && x.rank() == 2
        && w.rank() == 2
        && x.elem_count() > 0
        && w.elem_count() > 0;
    if fits {
        x.apply_op2(w, Product)
    } else {
        x.matmul(w)
    }
}

/// The operation of [`product`].
struct Product;

impl CustomOp2 for Product {
    fn name(&self) -> &'static str {
        "product"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        // What `Tensor::matmul` calls for two matrices.
        let (&[m, k], &[k2, n]) = (x_layout.dims(), w_layout.dims()) else {
            candle_core::bail!("product: two matrices expected");
        };
        if k != k2 {
            candle_core::bail!("product: {m}×{k} times {k2}×{n}");
        }
        Ok((
            x.matmul(w, (1, m, n, k), x_layout, w_layout)?,
            Shape::from((m, n)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        // candle's own matmul backward, on detached operands.
        let (x, w) = (x.detach(), w.detach());
        Ok((Some(grad.matmul(&w.t()?)?), Some(x.t()?.matmul(grad)?)))
    }
}

/// `X W + b`, times a dropout mask in training: the values and gradients of
/// [`FeatureMatrix::matmul`], [`add_bias`] and [`SeededRng::dropout`] (the same sums in
/// the same order, so the same bits), as one node of the autograd graph over `W` and `b`
/// on the CPU. The three operations would keep the product and the biased product, each
/// `N × d`, until the backward pass, which reads neither.
struct FeatureLayer {
    features: FeatureMatrix,
    mask: Option<DropoutMask>,
}

impl FeatureLayer {
    fn new(features: &FeatureMatrix, mask: Option<DropoutMask>) -> Self {
        Self {
            features: features.clone(),
            mask,
        }
    }

    /// `y ⊙ mask`, or `y` without a mask.
    fn masked<T: candle_core::WithDType>(&self, y: Vec<T>) -> Vec<T> {
        match &self.mask {
            Some(mask) => mask.apply(&y),
            None => y,
        }
    }
}

impl CustomOp2 for FeatureLayer {
    fn name(&self) -> &'static str {
        "feature-layer"
    }

    fn cpu_fwd(
        &self,
        w: &CpuStorage,
        w_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (y, shape) = self.features.cpu_product(w, w_layout)?;
        let Some((b0, b1)) = b_layout.contiguous_offsets() else {
            candle_core::bail!("feature layer: the bias must be contiguous");
        };
        let y = match (y, b) {
            (CpuStorage::F32(mut y), CpuStorage::F32(b)) => {
                add_to_rows(&mut y, within(b, b0, b1)?);
                CpuStorage::F32(self.masked(y))
            }
            (CpuStorage::F64(mut y), CpuStorage::F64(b)) => {
                add_to_rows(&mut y, within(b, b0, b1)?);
                CpuStorage::F64(self.masked(y))
            }
            (y, _) => candle_core::bail!("feature layer: a bias of dtype {:?}", y.dtype()),
        };
        Ok((y, shape))
    }

    fn bwd(
        &self,
        _w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = match &self.mask {
            Some(mask) => mask.backward(grad)?,
            None => grad.clone(),
        };
        Ok((
            Some(self.features.weights_gradient(&grad)?),
            Some(column_sums(&grad)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::Csr;
    use crate::testutil::value_and_gradient_bits;

    #[test]
    fn the_product_gives_matmuls_bits_and_detached_gradients() {
        // `product` against candle's `matmul`: the same values and gradients bit for bit,
        // and (the point of it) gradients that hold no graph, where matmul's do.
        let mut rng = SeededRng::new(3);
        let x = Var::from_tensor(&rng.uniform((30, 9), 1.0, DType::F32, &Device::Cpu).unwrap())
            .unwrap();
        let w =
            Var::from_tensor(&rng.uniform((9, 4), 1.0, DType::F32, &Device::Cpu).unwrap()).unwrap();
        let weights = rng.uniform((30, 4), 1.0, DType::F32, &Device::Cpu).unwrap();
        let run = |y: Tensor| {
            let values = value_and_gradient_bits(&y, &weights, &[x.as_tensor(), w.as_tensor()]);
            let grads = (&y * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let tracked = [&x, &w].iter().any(|v| grads.get(v).unwrap().track_op());
            (values, tracked)
        };
        let (reference, reference_tracked) = run(x.matmul(&w).unwrap());
        let (values, tracked) = run(product(&x, &w).unwrap());
        assert_eq!(values, reference);
        assert!(
            reference_tracked,
            "candle's matmul gradients hold their graph"
        );
        assert!(!tracked, "the product's gradients are detached");
    }

    #[test]
    fn the_feature_layer_gives_the_bits_of_its_three_operations() {
        // `FeatureLayer` against `matmul`, `add_bias` and `dropout` done apart: values, and
        // the gradients of W and b, bit for bit, for sparse and dense features, with and
        // without dropout. Uneven values, so a sum in another order would show.
        let mut rng = SeededRng::new(5);
        let (n, f, d) = (30, 9, 7);
        let layer = Dense::new(f, d, &mut rng, DType::F32, &Device::Cpu).unwrap();
        let weights = rng.uniform((n, d), 1.0, DType::F32, &Device::Cpu).unwrap();
        let outcome = |y: &Tensor| {
            let wrt = [layer.weight.as_tensor(), layer.bias.as_tensor()];
            value_and_gradient_bits(y, &weights, &wrt)
        };
        for every in [7, 1] {
            let triplets: Vec<(u32, u32, f32)> = (0..n * f)
                .filter(|k| k % every == 0)
                .map(|k| ((k / f) as u32, (k % f) as u32, 0.1 + (k as f32).sin()))
                .collect();
            let x = FeatureMatrix::new(&Csr::from_triplets(n, f, &triplets).unwrap()).unwrap();
            assert_eq!(x.is_sparse(), every > 1);
            assert!(layer.fuses(&x));
            let (w, b) = (layer.weight.as_tensor(), layer.bias.as_tensor());
            let reference = add_bias(&x.matmul(w).unwrap(), b).unwrap();
            let fused = layer.forward_features(&x).unwrap();
            assert_eq!(outcome(&fused), outcome(&reference), "every {every}");
            let seed = every as u64;
            let reference = SeededRng::new(seed).dropout(&reference, 0.5).unwrap();
            let dropped = layer
                .forward_features_dropped(&x, &mut SeededRng::new(seed), 0.5)
                .unwrap();
            assert_eq!(
                outcome(&dropped),
                outcome(&reference),
                "dropped, every {every}"
            );
        }
    }
}
