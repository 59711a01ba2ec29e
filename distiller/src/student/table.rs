//! A band's table `E_b = P_b^p M_b + c_b` as one operation, and its dropout in training
//! as another (CPU).
//!
//! Built as `dropout(add_bias(propagate(M_b), c_b))`, the autograd graph keeps, per band
//! and until the backward pass ends, two `N × d` tensors that no backward pass reads: the
//! product `P_b^p M_b` (the bias's input) and the table itself (the dropout's input); at
//! a million nodes and d = 64 that is 512 MB a band. Here the table is one node whose
//! inputs are `M_b` and `c_b`, parameters that live anyway. In training the dropped table
//! is one node over them too: its values are the table computed after the last step
//! (the same weights), which it takes, masks and lets go.
//!
//! Both backward passes are the chain's, `∂M_b = (P_b^p)ᵀ·∂E_b` and `∂c_b` the column
//! sums of `∂E_b` (masked first in training): the products and sums the three
//! operations compute, in their order, so the same bits.

use std::ops::AddAssign;
use std::sync::Mutex;

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CustomOp2, DType, Layout, Result, Shape, Storage, Tensor, WithDType,
};

use crate::sparse::spmm::{within, Chain};
use crate::sparse::{spmm_chain, SparseOperator};
use crate::train::{add_bias, column_sums, DropoutMask};

/// Whether the fused operations take `m` (`N × d`) and `c` (`1 × d`): both contiguous,
/// on the CPU, f32 or f64 alike.
pub(super) fn fused(m: &Tensor, c: &Tensor) -> bool {
    let width = m.dims().get(1).copied();
    m.device().is_cpu()
        && c.device().is_cpu()
        && matches!(m.dtype(), DType::F32 | DType::F64)
        && m.dtype() == c.dtype()
        && m.rank() == 2
        && Some(c.dims()) == width.map(|d| [1, d]).as_ref().map(|s| &s[..])
        && m.is_contiguous()
        && c.is_contiguous()
}

/// `chain · m + c`: [`add_bias`] of [`spmm_chain`], one node of the graph where
/// [`fused`] holds.
///
/// # Errors
/// If the shapes do not chain.
pub(super) fn table(chain: Vec<SparseOperator>, m: &Tensor, c: &Tensor) -> Result<Tensor> {
    if fused(m, c) {
        m.apply_op2(c, Table(Chain(chain)))
    } else {
        add_bias(&spmm_chain(&chain, m)?, c)
    }
}

/// `table ⊙ mask` for `table = chain · m + c` (already computed, consumed here): the
/// values of the dropout of [`table`], and its gradients, as one node over `m` and `c`.
/// Only where [`fused`] holds.
///
/// # Errors
/// If `table`'s shape is not `m`'s.
pub(super) fn dropped(
    chain: Vec<SparseOperator>,
    m: &Tensor,
    c: &Tensor,
    table: Tensor,
    mask: DropoutMask,
) -> Result<Tensor> {
    if table.dims() != m.dims() {
        candle_core::bail!(
            "dropped table: table {:?} for m {:?}",
            table.dims(),
            m.dims()
        );
    }
    m.apply_op2(
        c,
        DroppedTable {
            chain: Chain(chain),
            mask,
            table: Mutex::new(Some(table)),
        },
    )
}

/// `∂m` and `∂c` from the gradient `grad` of `chain · m + c`.
fn gradients(chain: &Chain, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
    Ok((Some(chain.backward(grad)?), Some(column_sums(grad)?)))
}

/// The operation behind [`table`].
struct Table(Chain);

impl CustomOp2 for Table {
    fn name(&self) -> &'static str {
        "band-table"
    }

    fn cpu_fwd(
        &self,
        m: &CpuStorage,
        m_layout: &Layout,
        c: &CpuStorage,
        c_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn run<T: WithDType + AddAssign + Send + Sync>(
            chain: &Chain,
            m: &[T],
            c: &[T],
            k: usize,
        ) -> Vec<T> {
            let mut out = chain.apply(m, k, k);
            crate::train::add_to_rows(&mut out, c);
            out
        }
        let (rows, k) = m_layout.shape().dims2()?;
        let (Some((m0, m1)), Some((c0, c1))) =
            (m_layout.contiguous_offsets(), c_layout.contiguous_offsets())
        else {
            candle_core::bail!("band table: inputs must be contiguous");
        };
        let out = match (m, c) {
            (CpuStorage::F32(m), CpuStorage::F32(c)) => {
                CpuStorage::F32(run(&self.0, within(m, m0, m1)?, within(c, c0, c1)?, k))
            }
            (CpuStorage::F64(m), CpuStorage::F64(c)) => {
                CpuStorage::F64(run(&self.0, within(m, m0, m1)?, within(c, c0, c1)?, k))
            }
            _ => candle_core::bail!("band table: f32 or f64 inputs of one dtype"),
        };
        let out_rows = self.0 .0.last().map_or(rows, |a| a.matrix().n_rows);
        Ok((out, Shape::from((out_rows, k))))
    }

    fn bwd(
        &self,
        _m: &Tensor,
        _c: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        gradients(&self.0, grad)
    }
}

/// The operation behind [`dropped`]: the table is held until the forward pass reads it.
struct DroppedTable {
    chain: Chain,
    mask: DropoutMask,
    table: Mutex<Option<Tensor>>,
}

impl CustomOp2 for DroppedTable {
    fn name(&self) -> &'static str {
        "dropped-band-table"
    }

    fn cpu_fwd(
        &self,
        _m: &CpuStorage,
        _m_layout: &Layout,
        _c: &CpuStorage,
        _c_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let table = match self.table.lock() {
            Ok(mut held) => held.take(),
            Err(_) => None,
        };
        let Some(table) = table else {
            candle_core::bail!("dropped table: its values were already used");
        };
        let (storage, layout) = table.storage_and_layout();
        let (Storage::Cpu(values), Some((start, end))) = (&*storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("dropped table: the table must be contiguous on the CPU");
        };
        let out = match values {
            CpuStorage::F32(x) => CpuStorage::F32(self.mask.apply(within(x, start, end)?)),
            CpuStorage::F64(x) => CpuStorage::F64(self.mask.apply(within(x, start, end)?)),
            other => candle_core::bail!("dropped table: unsupported dtype {:?}", other.dtype()),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(
        &self,
        _m: &Tensor,
        _c: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // The dropout's backward pass (the same mask), then the table's.
        let grad = self.mask.backward(grad)?;
        gradients(&self.chain, &grad)
    }
}
