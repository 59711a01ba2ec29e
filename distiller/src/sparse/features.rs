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

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Device, Layout, Result, Shape, Storage, Tensor};

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
    /// Denser: gemm on the dense matrix. The dense copy is kept (4 bytes an entry, half
    /// the CSR's), on the CPU in f32; a copy for another device or dtype is made on the
    /// first product there.
    Dense {
        /// `N × F`, f32, on the CPU.
        dense: Tensor,
        /// The copy on the device and in the dtype of the products, when not the CPU's f32.
        converted: Arc<OnceLock<Tensor>>,
        /// The CSR it was made from, kept only where [`FeatureMatrix::to_csr`] cannot
        /// rebuild it from `dense`: where some cell was not stored (a zero left out, or
        /// stored, is the same dense entry but not the same CSR).
        unstored_cells: Option<Arc<Csr>>,
    },
}

impl FeatureMatrix {
    /// Wraps `features`, choosing the product from their density (the sparse product
    /// keeps a copy of the matrix, the dense one a dense copy).
    ///
    /// # Errors
    /// If the dense copy cannot be made.
    pub fn new(features: &Csr) -> Result<Self> {
        Self::from_cow(Cow::Borrowed(features))
    }

    /// [`FeatureMatrix::new`] for features no longer needed as CSR: the sparse product
    /// takes them without a copy, and the dense one drops them once the dense copy is
    /// made (where [`FeatureMatrix::to_csr`] can rebuild them, that is where every cell
    /// is stored, as the synthetic graphs store them).
    ///
    /// # Errors
    /// If the dense copy cannot be made.
    ///
    /// ```
    /// # use frameless_distiller::sparse::{Csr, FeatureMatrix};
    /// let x = Csr::from_triplets(2, 2, &[(0, 0, 1.0), (0, 1, 2.0), (1, 0, 3.0), (1, 1, 4.0)])?;
    /// let features = FeatureMatrix::from_csr(x.clone())?;
    /// assert!(!features.is_sparse());
    /// assert_eq!(*features.to_csr()?, x);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_csr(features: Csr) -> Result<Self> {
        Self::from_cow(Cow::Owned(features))
    }

    fn from_cow(features: Cow<'_, Csr>) -> Result<Self> {
        if density(&features) <= SPARSE_MAX_DENSITY {
            return Ok(Self::Sparse(SparseOperator::new(features.into_owned())));
        }
        let (dense, unstored_cells) = match features {
            // Every cell stored: the values are the dense matrix already, moved, not copied.
            Cow::Owned(full) if full.is_full() => {
                let shape = (full.n_rows, full.n_cols);
                (Tensor::from_vec(full.values, shape, &Device::Cpu)?, None)
            }
            features => (
                densify(&features, &Device::Cpu)?,
                (!features.is_full()).then(|| Arc::new(features.into_owned())),
            ),
        };
        Ok(Self::Dense {
            dense,
            converted: Arc::new(OnceLock::new()),
            unstored_cells,
        })
    }

    /// Rows `N`.
    pub fn n_rows(&self) -> usize {
        match self {
            Self::Sparse(op) => op.matrix().n_rows,
            Self::Dense { dense, .. } => dense.dims().first().copied().unwrap_or(0),
        }
    }

    /// Columns `F`.
    pub fn n_cols(&self) -> usize {
        match self {
            Self::Sparse(op) => op.matrix().n_cols,
            Self::Dense { dense, .. } => dense.dims().get(1).copied().unwrap_or(0),
        }
    }

    /// The CSR the features were made from: the sparse product's own matrix, the one kept
    /// beside the dense copy, or one rebuilt from the dense copy with every cell stored
    /// (which is then how the source stored them).
    ///
    /// # Errors
    /// If the dense copy cannot be read.
    pub fn to_csr(&self) -> Result<Cow<'_, Csr>> {
        match self {
            Self::Sparse(op) => Ok(Cow::Borrowed(op.matrix())),
            Self::Dense {
                unstored_cells: Some(csr),
                ..
            } => Ok(Cow::Borrowed(csr)),
            Self::Dense { dense, .. } => {
                let (n, f) = dense.dims2()?;
                Ok(Cow::Owned(Csr::full(n, f, dense.flatten_all()?.to_vec1()?)))
            }
        }
    }

    /// Whether the product is the CSR one.
    pub fn is_sparse(&self) -> bool {
        matches!(self, Self::Sparse(_))
    }

    /// `X · w` for `w` of shape `(F, k)`, differentiable in `w` (and only in `w`: no
    /// gradient of `X` is ever formed).
    ///
    /// # Errors
    /// On a shape mismatch, or if the dense copy cannot be made on `w`'s device.
    pub fn matmul(&self, w: &Tensor) -> Result<Tensor> {
        match self {
            Self::Sparse(op) => spmm(op, w),
            Self::Dense {
                dense, converted, ..
            } => {
                let x = if dense.device().same_device(w.device()) && dense.dtype() == w.dtype() {
                    dense.clone()
                } else {
                    let x = match converted.get() {
                        Some(x) => x.clone(),
                        None => {
                            let x = dense.to_device(w.device())?.to_dtype(w.dtype())?;
                            // Two threads may race here; both copies are equal, one is kept.
                            converted.get_or_init(|| x).clone()
                        }
                    };
                    if x.device().same_device(w.device()) && x.dtype() == w.dtype() {
                        x
                    } else {
                        x.to_device(w.device())?.to_dtype(w.dtype())?
                    }
                };
                if x.device().is_cpu() {
                    w.apply_op1_arc(Arc::new(Box::new(ConstantLeft(x))))
                } else {
                    x.matmul(w)
                }
            }
        }
    }
}

impl FeatureMatrix {
    /// Whether [`FeatureMatrix::cpu_product`] takes `w`: on the CPU, and (dense features)
    /// of the dense copy's dtype, f32.
    pub(crate) fn multiplies_on_cpu(&self, w: &Tensor) -> bool {
        w.device().is_cpu()
            && match self {
                Self::Sparse(_) => true,
                Self::Dense { dense, .. } => dense.dtype() == w.dtype(),
            }
    }

    /// `X · w` from `w`'s storage, for an operation of its own that
    /// [`FeatureMatrix::multiplies_on_cpu`] admits: the values [`FeatureMatrix::matmul`]
    /// gives.
    ///
    /// # Errors
    /// On a shape mismatch, or a `w` that `multiplies_on_cpu` refuses.
    pub(crate) fn cpu_product(
        &self,
        w: &CpuStorage,
        layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        match self {
            Self::Sparse(op) => op.cpu_fwd(w, layout),
            Self::Dense { dense, .. } => ConstantLeft(dense.clone()).cpu_fwd(w, layout),
        }
    }

    /// `Xᵀ · g`: the gradient of `X·w` with respect to `w` given the gradient `g` of the
    /// product, exactly as the backward pass of [`FeatureMatrix::matmul`] forms it.
    ///
    /// # Errors
    /// On a shape mismatch.
    pub fn weights_gradient(&self, grad: &Tensor) -> Result<Tensor> {
        match self {
            Self::Sparse(op) => spmm(&op.transposed(), grad),
            Self::Dense {
                dense, converted, ..
            } => {
                let x = match converted.get() {
                    Some(x)
                        if x.device().same_device(grad.device()) && x.dtype() == grad.dtype() =>
                    {
                        x
                    }
                    _ => dense,
                };
                x.t()?.matmul(grad)
            }
        }
    }
}

/// `X · w` with a constant `X`: the same gemm as [`Tensor::matmul`], but the backward
/// pass forms only `∂w = Xᵀ·∂Y`, as candle's matmul does, and not the `N × F` gradient of
/// `X` that candle's matmul would also compute (and keep until the gradients are
/// dropped) although nothing reads it.
struct ConstantLeft(Tensor);

impl CustomOp1 for ConstantLeft {
    fn name(&self) -> &'static str {
        "constant-left-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (m, k) = self.0.dims2()?;
        let (k2, n) = layout.shape().dims2()?;
        if k != k2 {
            candle_core::bail!("features matmul: X is {m}x{k} but w has {k2} rows");
        }
        let (x, x_layout) = self.0.storage_and_layout();
        let Storage::Cpu(x) = &*x else {
            candle_core::bail!("features matmul: X is not on the CPU");
        };
        // Exactly the call `Tensor::matmul` makes for two 2-D operands.
        let y = x.matmul(storage, (1, m, n, k), x_layout, layout)?;
        Ok((y, Shape::from((m, n))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        // candle's matmul backward for the right operand: `lhs.t()?.matmul(&grad)`.
        Ok(Some(self.0.t()?.matmul(grad_res)?))
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
        assert!(
            FeatureMatrix::new(&matrix(10, 10, 5)).unwrap().is_sparse(),
            "20 %"
        );
        let dense = FeatureMatrix::new(&matrix(10, 10, 1)).unwrap();
        assert!(!dense.is_sparse(), "100 %");
        assert_eq!((dense.n_rows(), dense.n_cols()), (10, 10));
        assert_eq!(*dense.to_csr().unwrap(), matrix(10, 10, 1));
        assert_eq!(density(&Csr::identity(0, 1.0)), 0.0);
    }

    #[test]
    fn the_csr_comes_back_as_it_was_stored() {
        // Every cell stored: rebuilt from the dense copy alone.
        let full = matrix(6, 4, 1);
        let dense = FeatureMatrix::from_csr(full.clone()).unwrap();
        assert!(matches!(
            dense,
            FeatureMatrix::Dense {
                unstored_cells: None,
                ..
            }
        ));
        assert_eq!(*dense.to_csr().unwrap(), full);
        // Half the cells (dense enough for gemm): the zeros left out stay out, and an
        // explicitly stored zero stays in.
        let mut triplets: Vec<(u32, u32, f32)> = (0..12)
            .map(|k| (k / 2, (k % 2) * 2, 1.0 + k as f32))
            .collect();
        triplets[3].2 = 0.0;
        let half = Csr::from_triplets(6, 4, &triplets).unwrap();
        for m in [
            FeatureMatrix::new(&half).unwrap(),
            FeatureMatrix::from_csr(half.clone()).unwrap(),
        ] {
            assert!(!m.is_sparse());
            assert_eq!(*m.to_csr().unwrap(), half);
        }
        // Sparse: the product's own matrix.
        let sparse = matrix(10, 10, 5);
        assert_eq!(
            *FeatureMatrix::from_csr(sparse.clone())
                .unwrap()
                .to_csr()
                .unwrap(),
            sparse
        );
    }

    #[test]
    fn both_products_and_their_gradients_agree() {
        for every in [1, 2, 3, 5] {
            let x = matrix(7, 5, every);
            let (sparse, dense) = (
                FeatureMatrix::Sparse(SparseOperator::new(x.clone())),
                FeatureMatrix::Dense {
                    dense: densify(&x, &Device::Cpu).unwrap(),
                    converted: Arc::default(),
                    unstored_cells: None,
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
