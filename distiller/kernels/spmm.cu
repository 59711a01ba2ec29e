// CSR sparse x dense product Y = A * X for the distiller's graph operators.
//
// A: n_rows x n_cols CSR (indptr: u64[n_rows + 1], indices: u32[nnz], values: f32[nnz]).
// X: n_cols x k, row-major, contiguous.  Y: n_rows x k, row-major, fully written.
//
// Layout: one warp per output row (threadIdx.y picks the row inside the block),
// the warp's lanes stride over the k columns (blockIdx.y picks the 32-column
// tile).  The warp loads 32 (index, value) pairs of the row at a time, one per
// lane, and broadcasts them with __shfl_sync, so reads of X are coalesced
// along k and the CSR arrays are read once per warp and column tile.
// Accumulation is in T (f32 or f64); values are stored as f32 and promoted.

#define SPMM_ROWS_PER_BLOCK 8

template <typename T>
__device__ __forceinline__ void spmm_csr_row_warp(
    const unsigned long long n_rows,
    const unsigned long long k,
    const unsigned long long *__restrict__ indptr,
    const unsigned int *__restrict__ indices,
    const float *__restrict__ values,
    const T *__restrict__ x,
    T *__restrict__ y)
{
    const unsigned long long row =
        (unsigned long long)blockIdx.x * SPMM_ROWS_PER_BLOCK + threadIdx.y;
    if (row >= n_rows) {
        return; // warp-uniform: the whole warp leaves together
    }
    const unsigned int lane = threadIdx.x;
    const unsigned long long col = (unsigned long long)blockIdx.y * 32 + lane;
    const bool active = col < k;
    const unsigned long long start = indptr[row];
    const unsigned long long end = indptr[row + 1];
    T acc = (T)0;
    for (unsigned long long base = start; base < end; base += 32) {
        const unsigned long long j = base + lane;
        unsigned int my_idx = 0;
        float my_val = 0.0f;
        if (j < end) {
            my_idx = indices[j];
            my_val = values[j];
        }
        const unsigned long long left = end - base;
        const int n = left < 32 ? (int)left : 32;
        for (int t = 0; t < n; ++t) {
            const unsigned int c = __shfl_sync(0xffffffffu, my_idx, t);
            const float v = __shfl_sync(0xffffffffu, my_val, t);
            if (active) {
                acc += (T)v * x[(unsigned long long)c * k + col];
            }
        }
    }
    if (active) {
        y[row * k + col] = acc;
    }
}

extern "C" __global__ void spmm_csr_f32(
    const unsigned long long n_rows, const unsigned long long k,
    const unsigned long long *__restrict__ indptr,
    const unsigned int *__restrict__ indices,
    const float *__restrict__ values,
    const float *__restrict__ x, float *__restrict__ y)
{
    spmm_csr_row_warp<float>(n_rows, k, indptr, indices, values, x, y);
}

extern "C" __global__ void spmm_csr_f64(
    const unsigned long long n_rows, const unsigned long long k,
    const unsigned long long *__restrict__ indptr,
    const unsigned int *__restrict__ indices,
    const float *__restrict__ values,
    const double *__restrict__ x, double *__restrict__ y)
{
    spmm_csr_row_warp<double>(n_rows, k, indptr, indices, values, x, y);
}

// Thin products (k <= 16): a warp serves 32 / group rows, `group` lanes per row
// (group = 4, 8 or 16, a power of two >= k rounded up), so fewer lanes idle when k
// is the number of classes or a small hidden width. Each lane walks its row's
// entries itself (the group's lanes read the same index/value: one broadcast load),
// so rows of different lengths in one warp need no warp-wide shuffles.
template <typename T>
__device__ __forceinline__ void spmm_csr_row_group(
    const unsigned long long n_rows,
    const unsigned long long k,
    const unsigned int group,
    const unsigned long long *__restrict__ indptr,
    const unsigned int *__restrict__ indices,
    const float *__restrict__ values,
    const T *__restrict__ x,
    T *__restrict__ y)
{
    const unsigned int rows_per_warp = 32u / group;
    const unsigned long long row =
        ((unsigned long long)blockIdx.x * SPMM_ROWS_PER_BLOCK + threadIdx.y) * rows_per_warp
        + threadIdx.x / group;
    const unsigned long long col =
        (unsigned long long)blockIdx.y * group + (threadIdx.x & (group - 1));
    if (row >= n_rows || col >= k) {
        return;
    }
    const unsigned long long end = indptr[row + 1];
    T acc = (T)0;
    for (unsigned long long j = indptr[row]; j < end; ++j) {
        acc += (T)values[j] * x[(unsigned long long)indices[j] * k + col];
    }
    y[row * k + col] = acc;
}

extern "C" __global__ void spmm_csr_small_f32(
    const unsigned long long n_rows, const unsigned long long k, const unsigned int group,
    const unsigned long long *__restrict__ indptr,
    const unsigned int *__restrict__ indices,
    const float *__restrict__ values,
    const float *__restrict__ x, float *__restrict__ y)
{
    spmm_csr_row_group<float>(n_rows, k, group, indptr, indices, values, x, y);
}

extern "C" __global__ void spmm_csr_small_f64(
    const unsigned long long n_rows, const unsigned long long k, const unsigned int group,
    const unsigned long long *__restrict__ indptr,
    const unsigned int *__restrict__ indices,
    const float *__restrict__ values,
    const double *__restrict__ x, double *__restrict__ y)
{
    spmm_csr_row_group<double>(n_rows, k, group, indptr, indices, values, x, y);
}
