//! CUDA path of the CSR sparse × dense product (`Y = A · X`), compiled only with the
//! `cuda` feature.
//!
//! The kernel (`distiller/kernels/spmm.cu`) is compiled to PTX by `nvcc` in
//! `build.rs` and embedded here; candle loads it once per device as a custom module
//! (`CudaDevice::get_or_load_custom_func`) and launches it on the device's stream, so
//! it is ordered with candle's own kernels without extra synchronisation.
//!
//! The CSR arrays are uploaded to the device once per matrix and device by
//! [`CudaCsrCache`]; a training loop calls the product hundreds of times on the same
//! graph, so only `X` and `Y` move per call (and they are already on the device).
//!
//! Kernels: for `k > 16`, one warp per output row, lanes stride over the `k` columns
//! of `X` (32-column tiles on `gridDim.y`); each warp reads its row's `(index, value)`
//! pairs 32 at a time and broadcasts them with `__shfl_sync`, so reads of `X` are
//! coalesced. For `k <= 16` (class counts, small hidden widths) a group of 4, 8 or 16
//! lanes serves one row, so a warp computes several rows. Every entry of `Y` is
//! written exactly once (no atomics), summed in CSR order: deterministic.
// Launching a CUDA kernel is an FFI call; cudarc marks it `unsafe`.
#![allow(unsafe_code)]

use std::sync::OnceLock;

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{
    CudaSlice, CudaView, DeviceRepr, LaunchConfig, PushKernelArg, ValidAsZeroBits,
};
use candle_core::cuda_backend::{CudaStorageSlice, DeviceId, WrapErr};
use candle_core::{CudaDevice, CudaStorage, Layout, Result, Shape};

use crate::sparse::Csr;

/// PTX of `kernels/spmm.cu`, produced by `build.rs` with nvcc.
const SPMM_PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/spmm.ptx"));
/// Name under which candle caches the loaded PTX module (one per device).
const MODULE_NAME: &str = "frameless_spmm";
/// Rows handled by one thread block (one warp each); must match `SPMM_ROWS_PER_BLOCK`.
const ROWS_PER_BLOCK: u32 = 8;
/// Columns of `X` handled by one warp: one per lane.
const COLS_PER_WARP: usize = 32;
/// CUDA's limit on `gridDim.y`.
const MAX_GRID_Y: usize = 65_535;

/// A CSR matrix's arrays on one CUDA device.
struct DeviceCsr {
    device: DeviceId,
    indptr: CudaSlice<u64>,
    indices: CudaSlice<u32>,
    values: CudaSlice<f32>,
}

impl DeviceCsr {
    fn upload(csr: &Csr, dev: &CudaDevice) -> Result<Self> {
        // A zero-length allocation is an error for the CUDA driver: pad empty arrays
        // (the kernel never reads past `indptr[n_rows]`).
        fn padded<T: Copy>(v: &[T], zero: T) -> Vec<T> {
            if v.is_empty() {
                vec![zero]
            } else {
                v.to_vec()
            }
        }
        let indptr: Vec<u64> = csr.indptr.iter().map(|&p| p as u64).collect();
        Ok(Self {
            device: dev.id(),
            indptr: dev.clone_htod(&padded(&indptr, 0u64))?,
            indices: dev.clone_htod(&padded(&csr.indices, 0u32))?,
            values: dev.clone_htod(&padded(&csr.values, 0f32))?,
        })
    }
}

/// Device copies of one [`Csr`]'s arrays, uploaded on first use and reused after.
///
/// Keep one next to each `Arc<Csr>` (the matrix and its transpose each get one;
/// a symmetric matrix that shares its `Arc` can share the cache too). The copies
/// belong to the first CUDA device that asks; a call on another device uploads
/// temporaries for that call only.
#[derive(Default)]
pub(crate) struct CudaCsrCache {
    uploaded: OnceLock<DeviceCsr>,
}

impl std::fmt::Debug for CudaCsrCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaCsrCache")
            .field("uploaded", &self.uploaded.get().map(|d| d.device))
            .finish()
    }
}

impl CudaCsrCache {
    /// An empty cache; nothing is uploaded until the first product.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Launches the product with the cached arrays for `dev` (uploading them first
    /// if needed).
    fn with_arrays<R>(
        &self,
        csr: &Csr,
        dev: &CudaDevice,
        f: impl FnOnce(&DeviceCsr) -> Result<R>,
    ) -> Result<R> {
        if self.uploaded.get().is_none() {
            // Two threads may race here; both uploads are correct, one is kept.
            let fresh = DeviceCsr::upload(csr, dev)?;
            let _ = self.uploaded.set(fresh);
        }
        match self.uploaded.get() {
            Some(cached) if cached.device == dev.id() => f(cached),
            _ => f(&DeviceCsr::upload(csr, dev)?),
        }
    }
}

/// Element types the kernel is instantiated for.
trait SpmmElem: DeviceRepr + ValidAsZeroBits {
    /// Warp-per-row kernel (k > 16).
    const KERNEL: &'static str;
    /// Lane-group-per-row kernel (k <= 16).
    const KERNEL_SMALL: &'static str;
}
impl SpmmElem for f32 {
    const KERNEL: &'static str = "spmm_csr_f32";
    const KERNEL_SMALL: &'static str = "spmm_csr_small_f32";
}
impl SpmmElem for f64 {
    const KERNEL: &'static str = "spmm_csr_f64";
    const KERNEL_SMALL: &'static str = "spmm_csr_small_f64";
}

/// Lanes per output row: the whole warp for k > 16, else the power of two >= k
/// (at least 4), so that a warp serves several rows of a thin product.
fn lanes_per_row(k: usize) -> usize {
    if k > 16 {
        COLS_PER_WARP
    } else {
        k.next_power_of_two().max(4)
    }
}

fn launch<T: SpmmElem>(
    csr: &Csr,
    arrays: &DeviceCsr,
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    k: usize,
) -> Result<CudaSlice<T>> {
    let n_out = csr.n_rows * k;
    if n_out == 0 {
        return dev.alloc_zeros::<T>(n_out);
    }
    let group = lanes_per_row(k);
    let col_tiles = k.div_ceil(group);
    if col_tiles > MAX_GRID_Y {
        candle_core::bail!("spmm (cuda): k = {k} columns exceeds the kernel's grid limit");
    }
    let rows_per_block = ROWS_PER_BLOCK as usize * (COLS_PER_WARP / group);
    let row_blocks = csr.n_rows.div_ceil(rows_per_block);
    let grid_x = u32::try_from(row_blocks)
        .ok()
        .filter(|&g| g <= i32::MAX as u32)
        .ok_or_else(|| {
            candle_core::Error::Msg(format!("spmm (cuda): {} rows is too many", csr.n_rows))
        })?;
    let cfg = LaunchConfig {
        grid_dim: (grid_x, col_tiles as u32, 1),
        block_dim: (COLS_PER_WARP as u32, ROWS_PER_BLOCK, 1),
        shared_mem_bytes: 0,
    };
    let kernel = if group == COLS_PER_WARP {
        T::KERNEL
    } else {
        T::KERNEL_SMALL
    };
    let func = dev.get_or_load_custom_func(kernel, MODULE_NAME, SPMM_PTX)?;
    // SAFETY: the kernel writes every one of the n_rows × k outputs before any read.
    let out = unsafe { dev.alloc::<T>(n_out)? };
    let n_rows = csr.n_rows as u64;
    let k64 = k as u64;
    let group32 = group as u32;
    let mut builder = func.builder();
    builder.arg(&n_rows);
    builder.arg(&k64);
    if group != COLS_PER_WARP {
        builder.arg(&group32);
    }
    builder.arg(&arrays.indptr);
    builder.arg(&arrays.indices);
    builder.arg(&arrays.values);
    builder.arg(x);
    builder.arg(&out);
    // SAFETY: argument types and order match `spmm_csr[_small]_{f32,f64}` in
    // kernels/spmm.cu (`group` only for the small variant);
    // indptr has n_rows + 1 entries, every index is < n_cols (checked by `Csr`), `x`
    // holds n_cols × k elements (checked by the caller), `out` holds n_rows × k.
    unsafe { builder.launch(cfg) }.w()?;
    Ok(out)
}

/// `Y = A · X` on the GPU, for `X` of shape `(csr.n_cols, k)`, contiguous, f32 or f64.
///
/// `cache` must belong to `csr` (it holds that matrix's device arrays). Returns the
/// new storage and its shape `(csr.n_rows, k)`; this is what a `CustomOp1::cuda_fwd`
/// returns.
///
/// # Errors
/// If `x` is not a contiguous 2-D `(n_cols, k)` f32/f64 tensor, or on a CUDA error.
pub(crate) fn spmm_cuda(
    csr: &Csr,
    cache: &CudaCsrCache,
    x: &CudaStorage,
    layout: &Layout,
) -> Result<(CudaStorage, Shape)> {
    let (rows, k) = layout.shape().dims2()?;
    if rows != csr.n_cols {
        candle_core::bail!(
            "spmm (cuda): matrix has {} columns but x has {rows} rows",
            csr.n_cols
        );
    }
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("spmm (cuda): input must be contiguous");
    };
    let dev = x.device();
    let slice = cache.with_arrays(csr, dev, |arrays| {
        Ok(match &x.slice {
            CudaStorageSlice::F32(s) => {
                CudaStorageSlice::F32(launch(csr, arrays, dev, &s.slice(start..end), k)?)
            }
            CudaStorageSlice::F64(s) => {
                CudaStorageSlice::F64(launch(csr, arrays, dev, &s.slice(start..end), k)?)
            }
            _ => candle_core::bail!("spmm (cuda): unsupported dtype {:?}", x.dtype()),
        })
    })?;
    let out = CudaStorage {
        slice,
        device: dev.clone(),
    };
    Ok((out, Shape::from((csr.n_rows, k))))
}

#[cfg(test)]
mod tests {
    //! Run on a machine with a GPU; without one each test prints why it skipped.
    use super::*;
    use candle_core::{CpuStorage, CustomOp1, Device, Tensor};
    use std::sync::Arc;

    /// Test-only op: just the CUDA forward.
    struct Op(Arc<Csr>, Arc<CudaCsrCache>);
    impl CustomOp1 for Op {
        fn name(&self) -> &'static str {
            "spmm-cuda-test"
        }
        fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
            candle_core::bail!("cuda only")
        }
        fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
            spmm_cuda(&self.0, &self.1, s, l)
        }
    }

    fn gpu() -> Option<Device> {
        match Device::new_cuda(0) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("skipped: no CUDA device ({e})");
                None
            }
        }
    }

    /// Deterministic pseudo-random CSR with rows of varied length (some empty, some
    /// longer than a warp's 32-entry batch).
    fn random_csr(n_rows: usize, n_cols: usize, seed: u64) -> Csr {
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut indptr = vec![0usize];
        let mut indices = Vec::new();
        let mut values = Vec::new();
        for r in 0..n_rows {
            let len = match r % 7 {
                0 => 0,
                1 => 70,
                _ => (next() % 12) as usize,
            };
            let mut cols: Vec<u32> = (0..len).map(|_| (next() % n_cols as u64) as u32).collect();
            cols.sort_unstable();
            cols.dedup();
            for c in cols {
                indices.push(c);
                values.push(((next() % 2001) as f32 - 1000.0) / 500.0);
            }
            indptr.push(indices.len());
        }
        Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
        }
    }

    fn cpu_reference(a: &Csr, x: &[f64], k: usize) -> Vec<f64> {
        let mut y = vec![0.0; a.n_rows * k];
        for r in 0..a.n_rows {
            for j in a.indptr[r]..a.indptr[r + 1] {
                let (c, v) = (a.indices[j] as usize, f64::from(a.values[j]));
                for t in 0..k {
                    y[r * k + t] += v * x[c * k + t];
                }
            }
        }
        y
    }

    fn check(dev: &Device, n_rows: usize, n_cols: usize, k: usize) {
        let a = Arc::new(random_csr(n_rows, n_cols, 0x9e37_79b9_7f4a_7c15 ^ k as u64));
        let cache = Arc::new(CudaCsrCache::new());
        let x: Vec<f64> = (0..n_cols * k)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 25.0)
            .collect();
        let want = cpu_reference(&a, &x, k);
        // f64: exact up to summation order.
        let xt = Tensor::from_vec(x.clone(), (n_cols, k), dev).unwrap();
        let y64: Vec<f64> = xt
            .apply_op1(Op(a.clone(), cache.clone()))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (g, w) in y64.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-9 * (1.0 + w.abs()), "f64 {g} vs {w}");
        }
        // f32, and the cache reused from the f64 call.
        let y32: Vec<f32> = xt
            .to_dtype(candle_core::DType::F32)
            .unwrap()
            .apply_op1(Op(a.clone(), cache.clone()))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (g, w) in y32.iter().zip(&want) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-3 * (1.0 + w.abs()),
                "f32 {g} vs {w}"
            );
        }
        assert_eq!(y32.len(), n_rows * k);
    }

    #[test]
    fn matches_cpu_loop_for_various_widths() {
        let Some(dev) = gpu() else { return };
        for &(n_rows, n_cols, k) in &[
            (1, 1, 1),
            (37, 53, 3),
            (513, 64, 7),
            (301, 90, 12),
            (300, 200, 16),
            (299, 150, 20),
            (300, 200, 32),
            (1000, 777, 70),
        ] {
            check(&dev, n_rows, n_cols, k);
        }
        // Wide enough to need several column tiles and many row blocks.
        check(&dev, 20_000, 20_000, 129);
        check(&dev, 20_001, 20_000, 5);
    }

    #[test]
    fn respects_a_nonzero_start_offset() {
        let Some(dev) = gpu() else { return };
        let a = Arc::new(random_csr(40, 30, 7));
        let x: Vec<f32> = (0..31 * 5).map(|i| i as f32 * 0.25).collect();
        let full = Tensor::from_vec(x.clone(), (31, 5), &dev).unwrap();
        let tail = full.narrow(0, 1, 30).unwrap(); // contiguous, start offset 5
        let got: Vec<f32> = tail
            .apply_op1(Op(a.clone(), Arc::new(CudaCsrCache::new())))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let x64: Vec<f64> = x[5..].iter().map(|&v| f64::from(v)).collect();
        let want = cpu_reference(&a, &x64, 5);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-3 * (1.0 + w.abs()),
                "{g} vs {w}"
            );
        }
    }

    /// Prints GPU time of the sparse product against candle's dense matmul of the
    /// same matrix (the issue asks for this comparison). Not an assertion.
    #[test]
    fn timing_against_dense_matmul() {
        let Some(dev) = gpu() else { return };
        for k in [7, 64] {
            time_against_dense(&dev, 16_384, k);
        }
    }

    fn time_against_dense(dev: &Device, n: usize, k: usize) {
        let a = Arc::new(random_csr(n, n, 42));
        let mut dense = vec![0f32; n * n];
        for r in 0..n {
            for j in a.indptr[r]..a.indptr[r + 1] {
                dense[r * n + a.indices[j] as usize] = a.values[j];
            }
        }
        let dense = Tensor::from_vec(dense, (n, n), dev).unwrap();
        let x = Tensor::ones((n, k), candle_core::DType::F32, dev).unwrap();
        let cache = Arc::new(CudaCsrCache::new());
        let op = || x.apply_op1(Op(a.clone(), cache.clone())).unwrap();
        let time = |f: &dyn Fn() -> Tensor| {
            f();
            dev.synchronize().unwrap();
            let t = std::time::Instant::now();
            for _ in 0..20 {
                f();
            }
            dev.synchronize().unwrap();
            t.elapsed().as_secs_f64() / 20.0 * 1e3
        };
        let sparse_ms = time(&op);
        let dense_ms = time(&|| dense.matmul(&x).unwrap());
        let diff = (op() - dense.matmul(&x).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        eprintln!(
            "spmm n={n} nnz={} k={k}: csr kernel {sparse_ms:.3} ms, dense matmul {dense_ms:.3} ms, max |diff| {diff:e}",
            a.indices.len()
        );
        assert!(diff < 1e-2);
    }
}
