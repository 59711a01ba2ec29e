//! Sparse × dense products inside candle's autograd.
//!
//! `Y = A · X` with `A` a [`Csr`] (`n × m`) and `X` a dense `(m, k)` tensor. The
//! backward pass is the transposed product `∂X = Aᵀ · ∂Y`, so gradients flow through
//! graph propagation without ever forming `A` densely. On the CPU the rows of `Y`
//! are computed in parallel over the current rayon pool when the product is large
//! enough ([`crate::threads::worth_splitting`]), else on the calling thread; each row
//! is summed in a fixed order, so the result does not depend on the thread count.

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::Csr;

/// A sparse matrix ready for use in autograd: the matrix and its transpose.
#[derive(Debug, Clone)]
pub struct SparseOperator {
    matrix: Arc<Csr>,
    transpose: Arc<Csr>,
    /// Device copies of `matrix` (uploaded on first CUDA use).
    #[cfg(feature = "cuda")]
    cuda_matrix: Arc<super::spmm_cuda::CudaCsrCache>,
    /// Device copies of `transpose`.
    #[cfg(feature = "cuda")]
    cuda_transpose: Arc<super::spmm_cuda::CudaCsrCache>,
}

impl SparseOperator {
    /// Wraps `matrix`; its transpose is computed once here (and not kept if the matrix
    /// is symmetric).
    pub fn new(matrix: Csr) -> Self {
        let matrix = Arc::new(matrix);
        let transpose = matrix.transpose();
        let transpose = if matrix.equals_within(&transpose, 0.0) {
            Arc::clone(&matrix)
        } else {
            Arc::new(transpose)
        };
        #[cfg(feature = "cuda")]
        {
            let cuda_matrix = Arc::new(super::spmm_cuda::CudaCsrCache::new());
            let cuda_transpose = if Arc::ptr_eq(&matrix, &transpose) {
                Arc::clone(&cuda_matrix)
            } else {
                Arc::new(super::spmm_cuda::CudaCsrCache::new())
            };
            Self {
                matrix,
                transpose,
                cuda_matrix,
                cuda_transpose,
            }
        }
        #[cfg(not(feature = "cuda"))]
        Self { matrix, transpose }
    }

    /// The wrapped matrix.
    pub fn matrix(&self) -> &Csr {
        &self.matrix
    }

    /// The same operator applied as its transpose.
    pub fn transposed(&self) -> Self {
        Self {
            matrix: Arc::clone(&self.transpose),
            transpose: Arc::clone(&self.matrix),
            #[cfg(feature = "cuda")]
            cuda_matrix: Arc::clone(&self.cuda_transpose),
            #[cfg(feature = "cuda")]
            cuda_transpose: Arc::clone(&self.cuda_matrix),
        }
    }
}

/// Two operators are equal when their matrices are.
impl PartialEq for SparseOperator {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.matrix, &other.matrix) || self.matrix == other.matrix
    }
}

/// `A · x` for a 2-D tensor `x` of shape `(A.n_cols, k)`, differentiable in `x`.
///
/// # Errors
/// If `x` is not 2-D, its first dimension differs from `A.n_cols`, or its dtype is not
/// f32/f64.
pub fn spmm(a: &SparseOperator, x: &Tensor) -> Result<Tensor> {
    let (rows, _) = x.dims2()?;
    if rows != a.matrix.n_cols {
        candle_core::bail!(
            "spmm: matrix has {} columns but x has {rows} rows",
            a.matrix.n_cols
        );
    }
    // On the CPU a column slice (a band of a wider product) is read in place: no copy
    // of it is made and kept for the backward pass.
    let x = if x.device().is_cpu() && row_strided(x.layout()).is_some() {
        x.clone()
    } else {
        x.contiguous()?
    };
    x.apply_op1(a.clone())
}

/// How many stored entries ahead [`product`] asks for the dense row it will read:
/// far enough for the memory to arrive, near enough for it to stay in cache (4–16 were
/// within noise of each other on a 100k-node graph; 8 was the best).
const PREFETCH_DISTANCE: usize = 8;

/// `A_m ⋯ A_2 · A_1 · x` for `chain = [A_1, A_2, …, A_m]`, differentiable in `x`.
///
/// The same products in the same order as `m` nested [`spmm()`] calls, so the same values
/// bit for bit, but on the CPU as one operation: a product chain is linear, so its backward
/// pass (`A_1ᵀ ⋯ A_mᵀ · ∂Y`) needs none of the `m − 1` intermediate `rows × k` results,
/// and neither they nor their gradients are kept until the backward pass, as nested calls
/// keep them. Other devices run the nested calls.
///
/// # Errors
/// If `x` is not 2-D, the matrices' shapes do not chain, or the dtype is not f32/f64.
pub fn spmm_chain(chain: &[SparseOperator], x: &Tensor) -> Result<Tensor> {
    let mut cols = x.dims2()?.0;
    for a in chain {
        if a.matrix.n_cols != cols {
            candle_core::bail!(
                "spmm: matrix has {} columns but its input has {cols} rows",
                a.matrix.n_cols
            );
        }
        cols = a.matrix.n_rows;
    }
    if chain.is_empty() || !x.device().is_cpu() {
        return chain.iter().try_fold(x.clone(), |e, a| spmm(a, &e));
    }
    let x = if row_strided(x.layout()).is_some() {
        x.clone()
    } else {
        x.contiguous()?
    };
    x.apply_op1(Chain(chain.to_vec()))
}

/// The operation behind [`spmm_chain`]: the matrices in the order they apply.
pub(crate) struct Chain(pub(crate) Vec<SparseOperator>);

impl Chain {
    /// The product of the chain and the row-strided `x` (`k` columns, rows `stride`
    /// apart), contiguous.
    pub(crate) fn apply<T: WithDType + std::ops::AddAssign + Send + Sync>(
        &self,
        x: &[T],
        k: usize,
        stride: usize,
    ) -> Vec<T> {
        // Never empty: `spmm_chain` answers an empty chain itself.
        let Some((first, rest)) = self.0.split_first() else {
            return Vec::new();
        };
        let y = product(&first.matrix, x, k, stride);
        rest.iter().fold(y, |y, a| product(&a.matrix, &y, k, k))
    }

    /// `A_1ᵀ ⋯ A_mᵀ · g`: the gradient of the chain's input, as the nested calls'
    /// backward passes compute it, in their order (the last matrix's transpose first).
    ///
    /// # Errors
    /// As [`spmm_chain`].
    pub(crate) fn backward(&self, grad: &Tensor) -> Result<Tensor> {
        let transposed: Vec<_> = self
            .0
            .iter()
            .rev()
            .map(SparseOperator::transposed)
            .collect();
        spmm_chain(&transposed, grad)
    }
}

impl CustomOp1 for Chain {
    fn name(&self) -> &'static str {
        "csr-spmm-chain"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, k) = layout.shape().dims2()?;
        let Some((start, stride)) = row_strided(layout) else {
            candle_core::bail!("spmm: input rows must be contiguous");
        };
        let end = start + span(rows, k, stride);
        let out_rows = self.0.last().map_or(rows, |a| a.matrix.n_rows);
        let out = match storage {
            CpuStorage::F32(x) => CpuStorage::F32(self.apply(within(x, start, end)?, k, stride)),
            CpuStorage::F64(x) => CpuStorage::F64(self.apply(within(x, start, end)?, k, stride)),
            other => candle_core::bail!("spmm: unsupported dtype {:?}", other.dtype()),
        };
        Ok((out, Shape::from((out_rows, k))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.backward(grad_res)?))
    }
}

/// `A · x` for a row-major `x` whose row `c` is `x[c·stride..c·stride + k]` (a
/// contiguous `(A.n_cols, k)` matrix has `stride = k`; a column slice of a wider one, its
/// full width). Row `r` of the result sums `A[r, c]·x[c]` over the stored entries in
/// column order, starting from zero, on one thread per block of 64 rows.
pub(crate) fn product<T: WithDType + std::ops::AddAssign + Send + Sync>(
    a: &Csr,
    x: &[T],
    k: usize,
    stride: usize,
) -> Vec<T> {
    let mut y = vec![T::zero(); a.n_rows * k];
    add_product(a, x, k, stride, &mut y, k, 0);
    y
}

/// Adds [`product`]`(a, x, k, stride)` into columns `offset..offset + k` of `out`, a
/// row-major matrix `out_stride` wide: the same sums in the same order, so where those
/// columns hold zeros they end with [`product`]'s bits, and no `N × k` result is
/// allocated beside `out`.
///
/// # Panics
/// If `out` has fewer than `a.n_rows` rows or the columns do not fit in a row (a
/// caller's bug: every caller sizes `out` from `a`).
pub(crate) fn add_product<T: WithDType + std::ops::AddAssign + Send + Sync>(
    a: &Csr,
    x: &[T],
    k: usize,
    stride: usize,
    out: &mut [T],
    out_stride: usize,
    offset: usize,
) {
    assert!(offset + k <= out_stride && out.len() >= a.n_rows * out_stride);
    if k == 0 {
        return;
    }
    let out = &mut out[..a.n_rows * out_stride];
    let block = |(index, out): (usize, &mut [T])| {
        for (r, out_row) in out.chunks_exact_mut(out_stride).enumerate() {
            let out_row = &mut out_row[offset..offset + k];
            let row = index * 64 + r;
            let entries = a.indptr[row]..a.indptr[row + 1];
            for (e, (c, v)) in entries.clone().zip(a.row(row)) {
                // The rows this entry's successors read, requested early; the entries
                // are contiguous across rows, so the hint runs on into the next row.
                if let Some(&ahead) = a.indices.get(e + PREFETCH_DISTANCE) {
                    super::prefetch::rows_ahead(x, ahead as usize * stride, k);
                }
                let v = T::from_f64(f64::from(v));
                let src = &x[c as usize * stride..c as usize * stride + k];
                for (o, &s) in out_row.iter_mut().zip(src) {
                    *o += v * s;
                }
            }
        }
    };
    if crate::threads::worth_splitting(a.nnz().saturating_mul(k)) {
        out.par_chunks_mut(out_stride * 64)
            .enumerate()
            .for_each(block);
    } else {
        out.chunks_mut(out_stride * 64).enumerate().for_each(block);
    }
}

/// Where a 2-D layout's rows lie when each row is contiguous: `(offset, row stride)`,
/// the form [`product`] reads (a contiguous tensor, or a column slice of one).
pub(crate) fn row_strided(layout: &Layout) -> Option<(usize, usize)> {
    let (rows, k) = layout.shape().dims2().ok()?;
    let stride = layout.stride();
    let row_stride = if rows <= 1 { k } else { stride[0] };
    // Rows that overlap (a broadcast) or elements apart within a row do not qualify.
    ((k <= 1 || stride[1] == 1) && row_stride >= k).then_some((layout.start_offset(), row_stride))
}

/// The elements a row-strided `(rows, k)` view spans from its offset.
pub(crate) fn span(rows: usize, k: usize, stride: usize) -> usize {
    if rows == 0 {
        0
    } else {
        (rows - 1) * stride + k
    }
}

/// `x[start..end]`, or an error if the layout reaches past the storage.
pub(crate) fn within<T>(x: &[T], start: usize, end: usize) -> Result<&[T]> {
    match x.get(start..end) {
        Some(x) => Ok(x),
        None => candle_core::bail!("spmm: layout reaches past its storage"),
    }
}

impl CustomOp1 for SparseOperator {
    fn name(&self) -> &'static str {
        "csr-spmm"
    }

    /// A chain of one: the same product, one body for both operations.
    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        Chain(vec![self.clone()]).cpu_fwd(storage, layout)
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::spmm_cuda::spmm_cuda(&self.matrix, &self.cuda_matrix, storage, layout)
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(spmm(&self.transposed(), grad_res)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn sample() -> Csr {
        // A = [[1, 0, 2], [0, 0, 0], [0, 3, 0], [4, 0, 5]]  (4 × 3, not symmetric)
        Csr::from_triplets(
            4,
            3,
            &[
                (0, 0, 1.0),
                (0, 2, 2.0),
                (2, 1, 3.0),
                (3, 0, 4.0),
                (3, 2, 5.0),
            ],
        )
        .unwrap()
    }

    #[test]
    fn forward_matches_dense_product() {
        let a = SparseOperator::new(sample());
        let x = Tensor::new(&[[1f32, 2.], [3., 4.], [5., 6.]], &Device::Cpu).unwrap();
        let y: Vec<Vec<f32>> = spmm(&a, &x).unwrap().to_vec2().unwrap();
        // Row 0: 1·[1,2] + 2·[5,6] = [11, 14]; row 3: 4·[1,2] + 5·[5,6] = [29, 38].
        assert_eq!(
            y,
            vec![vec![11., 14.], vec![0., 0.], vec![9., 12.], vec![29., 38.]]
        );
    }

    #[test]
    fn backward_is_the_transposed_product() {
        let a = SparseOperator::new(sample());
        let x = Var::new(&[[1f64, 2.], [3., 4.], [5., 6.]], &Device::Cpu).unwrap();
        let w = Tensor::new(&[[1f64, 0.], [0., 1.], [2., 0.], [0., 3.]], &Device::Cpu).unwrap();
        // loss = Σ (A x) ⊙ w, so ∂x = Aᵀ w.
        let loss = spmm(&a, x.as_tensor())
            .unwrap()
            .mul(&w)
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let g: Vec<Vec<f64>> = grads.get(&x).unwrap().to_vec2().unwrap();
        assert_eq!(g, vec![vec![1., 12.], vec![6., 0.], vec![2., 15.]]);
    }

    #[test]
    fn a_chain_is_the_nested_products_bit_for_bit() {
        // A scattered 40-node operator with inexact values: values and gradients through
        // `[A, Aᵀ, A]` must equal three nested `spmm` calls exactly.
        let triplets: Vec<_> = (0..40)
            .flat_map(|r| (0..40).map(move |c| (r, c)))
            .filter(|(r, c)| (r * c + r + 2 * c) % 5 == 0)
            .map(|(r, c)| (r, c, ((r * 7 + c * 13) % 11) as f32 / 3.0 - 1.7))
            .collect();
        let a = SparseOperator::new(Csr::from_triplets(40, 40, &triplets).unwrap());
        let chain = [a.clone(), a.transposed(), a.clone()];
        let x = Var::from_tensor(
            &Tensor::arange(0f32, 200., &Device::Cpu)
                .unwrap()
                .affine(0.37, -31.0)
                .unwrap()
                .reshape((40, 5))
                .unwrap(),
        )
        .unwrap();
        let w = x.as_tensor().cos().unwrap();
        let run = |y: Tensor| {
            let grads = y.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
            let g: Vec<Vec<f32>> = grads.get(&x).unwrap().to_vec2().unwrap();
            (y.to_vec2::<f32>().unwrap(), g)
        };
        let nested = run(chain
            .iter()
            .try_fold(x.as_tensor().clone(), |e, a| spmm(a, &e))
            .unwrap());
        let fused = run(spmm_chain(&chain, x.as_tensor()).unwrap());
        let bits = |(y, g): &(Vec<Vec<f32>>, Vec<Vec<f32>>)| {
            y.iter()
                .chain(g)
                .flatten()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&nested), bits(&fused));
        assert!(nested.0.iter().flatten().any(|v| *v != 0.0));
        // A chain that does not fit together is refused.
        let tall = SparseOperator::new(sample());
        assert!(spmm_chain(&[tall.clone(), tall], x.as_tensor()).is_err());
    }

    #[test]
    fn wrong_shape_is_an_error() {
        let a = SparseOperator::new(sample());
        let x = Tensor::zeros((4, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(spmm(&a, &x).is_err());
    }
}
