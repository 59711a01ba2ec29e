//! The node-feature matrix `X` of a first layer, multiplied the cheaper way.
//!
//! Every teacher and student starts with `X · W` (`X` is `N × F`, `W` is `F × d`).
//! Bag-of-words features (Cora: 1.3 % non-zero) are multiplied as CSR ([`spmm()`],
//! forward and backward, CPU and CUDA): `nnz·d` multiply-adds instead of `N·F·d`.
//! Dense features (the synthetic CSBM: every entry non-zero) are multiplied by gemm,
//! which does the `N·F·d` multiply-adds many times faster per entry than the CSR
//! product's gathers. The choice is made once from the density
//! ([`SPARSE_MAX_DENSITY`]).
//!
//! Both ways sum each output entry over the same stored entries (a dense row's zeros
//! add exact zeros), so they agree up to float rounding (the order of the additions).

use std::sync::{Arc, OnceLock};

use candle_core::{Device, Result, Tensor};

use super::{spmm, Csr, SparseOperator};

/// Feature matrices with at most this share of non-zero entries are multiplied as CSR,
/// denser ones as a dense tensor. A cost estimate, not a measured crossover: gemm does
/// several multiply-adds (SIMD, packed, in cache) in the time the CSR product does one
/// gathered row update, so CSR pays below roughly a quarter non-zero. Every real
/// dataset here is far below it (Cora 1.3 %, Chameleon 0.6 %); the synthetic CSBM's
/// Gaussian features (100 %) are far above.
pub const SPARSE_MAX_DENSITY: f64 = 0.25;

/// The share of `matrix`'s entries that are stored (0 for an empty matrix).
pub fn density(matrix: &Csr) -> f64 {
    let cells = matrix.n_rows as f64 * matrix.n_cols as f64;
    if cells == 0.0 {
        0.0
    } else {
        matrix.nnz() as f64 / cells
    }
}

/// A first layer's input `X`: CSR when sparse, a dense tensor when not (see the module).
#[derive(Debug, Clone)]
pub enum FeatureMatrix {
    /// At most [`SPARSE_MAX_DENSITY`] non-zero: the CSR product.
    Sparse(SparseOperator),
    /// Denser: gemm on a dense copy, made on the first product's device and dtype.
    Dense {
        /// The features as given.
        matrix: Arc<Csr>,
        /// The dense copy (`N × F`), made once.
        dense: Arc<OnceLock<Tensor>>,
    },
}

impl FeatureMatrix {
    /// Wraps `features`, choosing the product from their density.
    pub fn new(features: Csr) -> Self {
        if density(&features) <= SPARSE_MAX_DENSITY {
            Self::Sparse(SparseOperator::new(features))
        } else {
            Self::Dense {
                matrix: Arc::new(features),
                dense: Arc::new(OnceLock::new()),
            }
        }
    }

    /// The features.
    pub fn matrix(&self) -> &Csr {
        match self {
            Self::Sparse(op) => op.matrix(),
            Self::Dense { matrix, .. } => matrix,
        }
    }

    /// Whether the product is the CSR one.
    pub fn is_sparse(&self) -> bool {
        matches!(self, Self::Sparse(_))
    }

    /// `X · w` for `w` of shape `(F, k)`, differentiable in `w`.
    ///
    /// # Errors
    /// On a shape mismatch, or if the dense copy cannot be made on `w`'s device.
    pub fn matmul(&self, w: &Tensor) -> Result<Tensor> {
        match self {
            Self::Sparse(op) => spmm(op, w),
            Self::Dense { matrix, dense } => {
                let x = match dense.get() {
                    Some(x) => x.clone(),
                    None => {
                        let x = densify(matrix, w.device())?.to_dtype(w.dtype())?;
                        // Two threads may race here; both copies are equal, one is kept.
                        dense.get_or_init(|| x).clone()
                    }
                };
                let x = if x.device().same_device(w.device()) && x.dtype() == w.dtype() {
                    x
                } else {
                    x.to_device(w.device())?.to_dtype(w.dtype())?
                };
                x.matmul(w)
            }
        }
    }
}

/// `matrix` as a dense f32 `(n_rows, n_cols)` tensor on `device`.
fn densify(matrix: &Csr, device: &Device) -> Result<Tensor> {
    let mut values = vec![0f32; matrix.n_rows * matrix.n_cols];
    for (i, row) in values.chunks_exact_mut(matrix.n_cols.max(1)).enumerate() {
        if i >= matrix.n_rows {
            break;
        }
        for (c, v) in matrix.row(i) {
            row[c as usize] = v;
        }
    }
    Tensor::from_vec(values, (matrix.n_rows, matrix.n_cols), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Var};

    fn matrix(n: usize, f: usize, every: usize) -> Csr {
        let triplets: Vec<(u32, u32, f32)> = (0..n * f)
            .filter(|k| k % every == 0)
            .map(|k| ((k / f) as u32, (k % f) as u32, 0.25 + (k % 7) as f32))
            .collect();
        Csr::from_triplets(n, f, &triplets).unwrap()
    }

    #[test]
    fn density_picks_the_product() {
        assert!(FeatureMatrix::new(matrix(10, 10, 5)).is_sparse(), "20 %");
        assert!(!FeatureMatrix::new(matrix(10, 10, 1)).is_sparse(), "100 %");
        assert_eq!(density(&Csr::identity(0, 1.0)), 0.0);
    }

    #[test]
    fn both_products_and_their_gradients_agree() {
        for every in [1, 2, 3, 5] {
            let x = matrix(7, 5, every);
            let (sparse, dense) = (
                FeatureMatrix::Sparse(SparseOperator::new(x.clone())),
                FeatureMatrix::Dense {
                    matrix: Arc::new(x),
                    dense: Arc::default(),
                },
            );
            let w = Var::from_tensor(
                &Tensor::arange(0f32, 15., &Device::Cpu)
                    .unwrap()
                    .reshape((5, 3))
                    .unwrap()
                    .to_dtype(DType::F64)
                    .unwrap(),
            )
            .unwrap();
            let run = |m: &FeatureMatrix| {
                let y = m.matmul(w.as_tensor()).unwrap();
                let g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
                let g: Vec<Vec<f64>> = g.get(&w).unwrap().to_vec2().unwrap();
                (y.to_vec2::<f64>().unwrap(), g)
            };
            // Small integers and quarters: every sum is exact, whatever its order.
            assert_eq!(run(&sparse), run(&dense), "every {every}");
        }
    }
}
