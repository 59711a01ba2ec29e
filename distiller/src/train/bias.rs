//! A bias row added to every row of a matrix, and the column sums its gradient needs.
//!
//! candle's `broadcast_add` computes the same values, but its backward pass first adds the
//! gradient to a zero tensor of the full `N × d` size and then sums over dimension 0 with
//! its general strided reduction, two integer divisions per element: on Cora's students a
//! fifth of the training time. Here the column sums run down the rows in order, the order
//! in which candle's reduction adds, so every bit is the same (tests compare them).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, WithDType};

use crate::sparse::spmm::within;

/// `x + bias` for `x` of shape `N × d` and `bias` of shape `1 × d`, as `x.broadcast_add(bias)`
/// (which it falls back to off the CPU or for other shapes and layouts).
///
/// # Errors
/// On a shape mismatch, as `broadcast_add`.
pub fn add_bias(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let fits = x.device().is_cpu()
        && bias.device().is_cpu()
        && x.dtype() == bias.dtype()
        && x.rank() == 2
        && bias.dims() == [1, x.dim(1)?]
        && x.is_contiguous()
        && bias.is_contiguous();
    if fits {
        x.apply_op2(bias, RowBias)
    } else {
        x.broadcast_add(bias)
    }
}

/// `x.sum_keepdim(0)` (`1 × d`) for an `N × d` matrix, summed row by row on the CPU.
///
/// # Errors
/// As `sum_keepdim`.
pub fn column_sums(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.rank() == 2 {
        x.contiguous()?.apply_op1_no_bwd(&ColumnSums)
    } else {
        x.sum_keepdim(0)
    }
}

/// Adds `bias` to every row of the row-major `x` (rows of `bias.len()` entries), in
/// place: the values [`add_bias`] gives.
pub(crate) fn add_to_rows<T: WithDType>(x: &mut [T], bias: &[T]) {
    for row in x.chunks_exact_mut(bias.len().max(1)) {
        for (o, &b) in row.iter_mut().zip(bias) {
            *o += b;
        }
    }
}

/// The operation behind [`add_bias`].
struct RowBias;

impl CustomOp2 for RowBias {
    fn name(&self) -> &'static str {
        "row-bias"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn add<T: WithDType>(x: &[T], bias: &[T]) -> Vec<T> {
            let mut out = x.to_vec();
            add_to_rows(&mut out, bias);
            out
        }
        let (Some((x0, x1)), Some((b0, b1))) = (
            x_layout.contiguous_offsets(),
            bias_layout.contiguous_offsets(),
        ) else {
            candle_core::bail!("row-bias: inputs must be contiguous");
        };
        let out = match (x, bias) {
            (CpuStorage::F32(x), CpuStorage::F32(b)) => {
                CpuStorage::F32(add(within(x, x0, x1)?, within(b, b0, b1)?))
            }
            (CpuStorage::F64(x), CpuStorage::F64(b)) => {
                CpuStorage::F64(add(within(x, x0, x1)?, within(b, b0, b1)?))
            }
            _ => candle_core::bail!("row-bias: f32 or f64 inputs of one dtype"),
        };
        Ok((out, x_layout.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.clone()), Some(column_sums(grad)?)))
    }
}

/// The operation behind [`column_sums`].
struct ColumnSums;

impl CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "column-sums"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        fn sums<T: WithDType>(x: &[T], d: usize) -> Vec<T> {
            let mut acc = vec![T::zero(); d];
            for row in x.chunks_exact(d.max(1)) {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += v;
                }
            }
            acc
        }
        let (_, d) = layout.shape().dims2()?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("column-sums: input must be contiguous");
        };
        let out = match storage {
            CpuStorage::F32(x) => CpuStorage::F32(sums(within(x, start, end)?, d)),
            CpuStorage::F64(x) => CpuStorage::F64(sums(within(x, start, end)?, d)),
            other => candle_core::bail!("column-sums: unsupported dtype {:?}", other.dtype()),
        };
        Ok((out, Shape::from((1, d))))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Var};

    use super::*;
    use crate::testutil::bits;
    use crate::train::SeededRng;

    /// Values and both gradients are `broadcast_add`'s, bit for bit, in f32 and f64, on
    /// sizes past a SIMD width and with a downstream product that gives every row a
    /// different gradient.
    #[test]
    fn add_bias_is_broadcast_add_bit_for_bit() {
        for dtype in [DType::F32, DType::F64] {
            let mut rng = SeededRng::new(4);
            let x = Var::from_tensor(&rng.uniform((301, 19), 3.0, dtype, &Device::Cpu).unwrap())
                .unwrap();
            let bias =
                Var::from_tensor(&rng.uniform((1, 19), 1.0, dtype, &Device::Cpu).unwrap()).unwrap();
            let w = rng.uniform((19, 5), 1.0, dtype, &Device::Cpu).unwrap();
            let ours = add_bias(x.as_tensor(), bias.as_tensor()).unwrap();
            let candle = x.as_tensor().broadcast_add(bias.as_tensor()).unwrap();
            assert_eq!(bits(&ours), bits(&candle), "{dtype:?} values");
            let loss = |y: &Tensor| y.matmul(&w).unwrap().sqr().unwrap().sum_all().unwrap();
            let (g_ours, g_candle) = (
                loss(&ours).backward().unwrap(),
                loss(&candle).backward().unwrap(),
            );
            for var in [&x, &bias] {
                let (a, b) = (g_ours.get(var).unwrap(), g_candle.get(var).unwrap());
                assert_eq!(bits(a), bits(b), "{dtype:?} gradient");
            }
            assert_eq!(
                bits(&column_sums(&candle).unwrap()),
                bits(&candle.sum_keepdim(0).unwrap())
            );
        }
    }
}
