//! Compressed sparse row matrices: the shape of every feature matrix and graph operator.
//!
//! Every graph operator (`Â`, `L`, the framelet transforms `W_{j,l}`) is a [`Csr`].
//! Polynomials of `L` are built with [`Csr::matmul`] and [`Csr::add_scaled`], so a
//! degree-`k` operator stays `k`-hop sparse and no `N × N` dense matrix ever exists.
//! [`spmm()`] multiplies a [`SparseOperator`] with a dense candle tensor inside autograd
//! (a CUDA kernel with the `cuda` feature); a first layer's features are a
//! [`FeatureMatrix`], multiplied as CSR or dense by their density.

pub mod features;
mod prefetch;
pub mod spmm;
#[cfg(feature = "cuda")]
mod spmm_cuda;

pub use features::FeatureMatrix;
pub use spmm::{spmm, spmm_chain, SparseOperator};

/// Errors from building or combining sparse matrices.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SparseError {
    /// An entry lies outside the matrix.
    #[error("entry ({row}, {col}) is outside a {n_rows}x{n_cols} matrix")]
    IndexOutOfRange {
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
        /// Rows of the matrix.
        n_rows: usize,
        /// Columns of the matrix.
        n_cols: usize,
    },
    /// A matrix read from a file breaks a CSR invariant.
    #[error("malformed sparse matrix: {what}")]
    Malformed {
        /// The invariant that does not hold.
        what: &'static str,
    },
    /// A matrix whose storage the allocator refused (a size no machine has).
    #[error("a {n_rows}x{n_cols} matrix with {entries} entries does not fit in memory")]
    TooLarge {
        /// Rows of the matrix.
        n_rows: usize,
        /// Columns of the matrix.
        n_cols: usize,
        /// Stored entries.
        entries: usize,
    },
    /// Two operands have incompatible shapes.
    #[error("shape mismatch: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// Shape of the left operand.
        left: (usize, usize),
        /// Shape of the right operand.
        right: (usize, usize),
    },
}

/// Loaders check every index, so a sparse error means an operator was built wrongly;
/// only a size the allocator refuses is the input's (its counts are too large).
impl crate::error::Blamed for SparseError {
    fn blame(&self) -> crate::error::Blame {
        match self {
            Self::TooLarge { .. } => crate::error::Blame::Input,
            _ => crate::error::Blame::Internal,
        }
    }
}

/// `len` copies of `value` in a vector whose storage is reserved fallibly, so that a size
/// from an input is an error rather than an abort.
///
/// # Errors
/// `Err(())` if the allocator refuses (or `len` overflows `isize`).
pub(crate) fn try_filled<T: Clone>(len: usize, value: T) -> Result<Vec<T>, ()> {
    let mut v = try_with_capacity(len)?;
    v.resize(len, value);
    Ok(v)
}

/// An empty vector with room for `len` items, reserved fallibly.
///
/// # Errors
/// `Err(())` if the allocator refuses.
pub(crate) fn try_with_capacity<T>(len: usize) -> Result<Vec<T>, ()> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| ())?;
    Ok(v)
}

/// A sparse `n_rows × n_cols` matrix in CSR form with sorted, unique column indices per row.
///
/// It is serialised as is (the student file holds the features this way); a matrix that
/// was deserialised must pass [`Csr::check`] before use.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Csr {
    /// Number of rows.
    pub n_rows: usize,
    /// Number of columns.
    pub n_cols: usize,
    /// Row `i` owns entries `indptr[i]..indptr[i + 1]`; length `n_rows + 1`.
    pub indptr: Vec<usize>,
    /// Column index of each stored entry, ascending within a row.
    pub indices: Vec<u32>,
    /// Value of each stored entry.
    pub values: Vec<f32>,
}

impl Csr {
    /// Checks the invariants a matrix read from a file may break: `indptr` has
    /// `n_rows + 1` entries, starts at 0, never decreases and ends at the entry count,
    /// and each row's columns are strictly increasing and below `n_cols`.
    ///
    /// # Errors
    /// [`SparseError::Malformed`] naming the first invariant that does not hold.
    pub fn check(&self) -> Result<(), SparseError> {
        let malformed = |what| Err(SparseError::Malformed { what });
        if self.indptr.len() != self.n_rows.saturating_add(1) || self.indptr.first() != Some(&0) {
            return malformed("indptr must hold n_rows + 1 offsets starting at 0");
        }
        if self.indptr.last() != Some(&self.indices.len())
            || self.values.len() != self.indices.len()
        {
            return malformed("indptr, indices and values disagree on the entry count");
        }
        for bounds in self.indptr.windows(2) {
            let Some(row) = self.indices.get(bounds[0]..bounds[1]) else {
                return malformed("indptr decreases or passes the entry count");
            };
            if row.windows(2).any(|pair| pair[0] >= pair[1]) {
                return malformed("a row's columns are not strictly increasing");
            }
            if row.last().is_some_and(|&col| col as usize >= self.n_cols) {
                return malformed("a column index is not below n_cols");
            }
        }
        Ok(())
    }

    /// Builds a matrix from `(row, col, value)` triplets; duplicates are summed. The
    /// storage is reserved fallibly: a row count the allocator refuses is an error.
    ///
    /// # Errors
    /// [`SparseError::IndexOutOfRange`] if a row or column is outside the shape,
    /// [`SparseError::TooLarge`] if the matrix does not fit in memory.
    pub fn from_triplets(
        n_rows: usize,
        n_cols: usize,
        triplets: &[(u32, u32, f32)],
    ) -> Result<Self, SparseError> {
        let too_large = |_| SparseError::TooLarge {
            n_rows,
            n_cols,
            entries: triplets.len(),
        };
        let offsets = n_rows.checked_add(1).ok_or(()).map_err(too_large)?;
        let mut counts = try_filled(offsets, 0usize).map_err(too_large)?;
        for &(r, c, _) in triplets {
            if r as usize >= n_rows || c as usize >= n_cols {
                return Err(SparseError::IndexOutOfRange {
                    row: r as usize,
                    col: c as usize,
                    n_rows,
                    n_cols,
                });
            }
            counts[r as usize + 1] += 1;
        }
        for i in 0..n_rows {
            counts[i + 1] += counts[i];
        }
        let mut cursor = try_filled(offsets, 0usize).map_err(too_large)?;
        cursor.copy_from_slice(&counts);
        let mut cols = try_filled(triplets.len(), 0u32).map_err(too_large)?;
        let mut vals = try_filled(triplets.len(), 0f32).map_err(too_large)?;
        for &(r, c, v) in triplets {
            let slot = &mut cursor[r as usize];
            cols[*slot] = c;
            vals[*slot] = v;
            *slot += 1;
        }
        // Sort each row by column and merge duplicates.
        let mut indptr = try_with_capacity(offsets).map_err(too_large)?;
        let mut indices = try_with_capacity(triplets.len()).map_err(too_large)?;
        let mut values = try_with_capacity(triplets.len()).map_err(too_large)?;
        indptr.push(0);
        let mut row: Vec<(u32, f32)> = Vec::new();
        for i in 0..n_rows {
            row.clear();
            row.extend((counts[i]..counts[i + 1]).map(|k| (cols[k], vals[k])));
            row.sort_by_key(|&(c, _)| c);
            for &(c, v) in &row {
                if indices.len() > indptr[i] && indices.last() == Some(&c) {
                    *values.last_mut().expect("non-empty row") += v;
                } else {
                    indices.push(c);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Ok(Self {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
        })
    }

    /// The `n × n` identity scaled by `value`.
    pub fn identity(n: usize, value: f32) -> Self {
        Self {
            n_rows: n,
            n_cols: n,
            indptr: (0..=n).collect(),
            indices: (0..n as u32).collect(),
            values: vec![value; n],
        }
    }

    /// The `n_rows × n_cols` matrix with every cell stored, from its row-major `values`
    /// (`n_rows · n_cols` of them): dense features in CSR form, with no spare capacity.
    ///
    /// # Panics
    /// If `values` does not hold exactly `n_rows · n_cols` values (a caller's bug).
    ///
    /// ```
    /// use frameless_distiller::sparse::Csr;
    /// let m = Csr::full(2, 3, vec![1.0, 0.0, 2.0, 3.0, 4.0, 5.0]);
    /// m.check()?;
    /// assert!(m.is_full());
    /// assert_eq!(m.row(1).collect::<Vec<_>>(), [(0, 3.0), (1, 4.0), (2, 5.0)]);
    /// # Ok::<(), frameless_distiller::sparse::SparseError>(())
    /// ```
    pub fn full(n_rows: usize, n_cols: usize, values: Vec<f32>) -> Self {
        assert_eq!(
            values.len(),
            n_rows * n_cols,
            "a full matrix stores every cell"
        );
        let mut indices = Vec::with_capacity(values.len());
        for _ in 0..n_rows {
            indices.extend(0..n_cols as u32);
        }
        Self {
            n_rows,
            n_cols,
            indptr: (0..=n_rows).map(|i| i * n_cols).collect(),
            indices,
            values,
        }
    }

    /// Whether every cell is stored: then, columns being sorted and unique in each row,
    /// `values` is the matrix in row-major order.
    pub fn is_full(&self) -> bool {
        self.nnz() == self.n_rows * self.n_cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Row `i` as the engine's sparse features (its column indices and values).
    pub fn row_features(&self, i: usize) -> frameless_engine::Features<'_> {
        let span = self.indptr[i]..self.indptr[i + 1];
        frameless_engine::Features::Sparse {
            indices: &self.indices[span.clone()],
            values: &self.values[span],
        }
    }

    /// The `(column, value)` pairs of row `i`.
    pub fn row(&self, i: usize) -> impl Iterator<Item = (u32, f32)> + '_ {
        let span = self.indptr[i]..self.indptr[i + 1];
        self.indices[span.clone()]
            .iter()
            .copied()
            .zip(self.values[span].iter().copied())
    }

    /// The transpose, in CSR form.
    pub fn transpose(&self) -> Self {
        let mut counts = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            counts[c as usize + 1] += 1;
        }
        for j in 0..self.n_cols {
            counts[j + 1] += counts[j];
        }
        let mut cursor = counts.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        // Rows are visited in order, so each transposed row comes out sorted.
        for i in 0..self.n_rows {
            for (c, v) in self.row(i) {
                let slot = &mut cursor[c as usize];
                indices[*slot] = i as u32;
                values[*slot] = v;
                *slot += 1;
            }
        }
        Self {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr: counts,
            indices,
            values,
        }
    }

    /// Whether the matrix equals its transpose up to `tolerance` per entry.
    pub fn is_symmetric(&self, tolerance: f32) -> bool {
        self.equals_within(&self.transpose(), tolerance)
    }

    /// Whether `other` has this pattern and each value within `tolerance` of this one's.
    pub fn equals_within(&self, other: &Csr, tolerance: f32) -> bool {
        other.n_rows == self.n_rows
            && other.n_cols == self.n_cols
            && other.indptr == self.indptr
            && other.indices == self.indices
            && other
                .values
                .iter()
                .zip(&self.values)
                .all(|(a, b)| (a - b).abs() <= tolerance)
    }

    /// Whether this is the identity matrix (every diagonal entry stored as 1, nothing else).
    fn is_identity(&self) -> bool {
        self.n_rows == self.n_cols
            && self.indptr.iter().enumerate().all(|(i, &p)| p == i)
            && self
                .indices
                .iter()
                .enumerate()
                .all(|(i, &c)| c as usize == i)
            && self.values.iter().all(|&v| v == 1.0)
    }

    /// `alpha·self + beta·other` (same shape); structural union of the two patterns.
    ///
    /// # Errors
    /// [`SparseError::ShapeMismatch`] if the shapes differ.
    pub fn add_scaled(&self, alpha: f32, other: &Csr, beta: f32) -> Result<Csr, SparseError> {
        if self.n_rows != other.n_rows || self.n_cols != other.n_cols {
            return Err(SparseError::ShapeMismatch {
                left: (self.n_rows, self.n_cols),
                right: (other.n_rows, other.n_cols),
            });
        }
        let mut indptr = Vec::with_capacity(self.n_rows + 1);
        let mut indices = Vec::with_capacity(self.nnz() + other.nnz());
        let mut values = Vec::with_capacity(self.nnz() + other.nnz());
        indptr.push(0);
        for i in 0..self.n_rows {
            let (mut a, mut b) = (self.row(i).peekable(), other.row(i).peekable());
            loop {
                let next = match (a.peek(), b.peek()) {
                    (Some(&(ca, va)), Some(&(cb, vb))) if ca == cb => {
                        a.next();
                        b.next();
                        (ca, alpha * va + beta * vb)
                    }
                    (Some(&(ca, va)), Some(&(cb, _))) if ca < cb => {
                        a.next();
                        (ca, alpha * va)
                    }
                    (_, Some(&(cb, vb))) => {
                        b.next();
                        (cb, beta * vb)
                    }
                    (Some(&(ca, va)), None) => {
                        a.next();
                        (ca, alpha * va)
                    }
                    (None, None) => break,
                };
                indices.push(next.0);
                values.push(next.1);
            }
            indptr.push(indices.len());
        }
        Ok(Csr {
            n_rows: self.n_rows,
            n_cols: self.n_cols,
            indptr,
            indices,
            values,
        })
    }

    /// Sparse × sparse product `self · other` (Gustavson's row-by-row algorithm).
    ///
    /// # Errors
    /// [`SparseError::ShapeMismatch`] if `self.n_cols != other.n_rows`.
    pub fn matmul(&self, other: &Csr) -> Result<Csr, SparseError> {
        if self.n_cols != other.n_rows {
            return Err(SparseError::ShapeMismatch {
                left: (self.n_rows, self.n_cols),
                right: (other.n_rows, other.n_cols),
            });
        }
        if other.is_identity() {
            // Each entry's one term, as the general loop below sums it (`0 + a·1` in f64).
            return Ok(Csr {
                values: self
                    .values
                    .iter()
                    .map(|&a| (0f64 + f64::from(a) * 1f64) as f32)
                    .collect(),
                ..self.clone()
            });
        }
        // Accumulate in f64: polynomial operators sum many small terms.
        let mut accumulator = vec![0f64; other.n_cols];
        let mut touched = vec![false; other.n_cols];
        let mut pattern: Vec<u32> = Vec::new();
        let mut indptr = Vec::with_capacity(self.n_rows + 1);
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        indptr.push(0);
        for i in 0..self.n_rows {
            pattern.clear();
            for (k, a) in self.row(i) {
                for (j, b) in other.row(k as usize) {
                    if !touched[j as usize] {
                        touched[j as usize] = true;
                        pattern.push(j);
                    }
                    accumulator[j as usize] += f64::from(a) * f64::from(b);
                }
            }
            pattern.sort_unstable();
            for &j in &pattern {
                indices.push(j);
                values.push(accumulator[j as usize] as f32);
                accumulator[j as usize] = 0.0;
                touched[j as usize] = false;
            }
            indptr.push(indices.len());
        }
        Ok(Csr {
            n_rows: self.n_rows,
            n_cols: other.n_cols,
            indptr,
            indices,
            values,
        })
    }

    /// Dense product `self · x` for a row-major `x` of shape `(n_cols, k)`, in f64.
    /// Each output entry sums its row's terms in column order from zero; a vector
    /// (`k = 1`, Lanczos' product) is computed row by row, in parallel when large.
    pub fn matmul_dense(&self, x: &[f64], k: usize) -> Vec<f64> {
        if k == 1 {
            let row = |i: usize| {
                let span = self.indptr[i]..self.indptr[i + 1];
                let mut sum = 0f64;
                for (&c, &v) in self.indices[span.clone()].iter().zip(&self.values[span]) {
                    sum += f64::from(v) * x[c as usize];
                }
                sum
            };
            if crate::threads::worth_splitting(self.nnz()) {
                use rayon::prelude::*;
                return (0..self.n_rows).into_par_iter().map(row).collect();
            }
            return (0..self.n_rows).map(row).collect();
        }
        let mut y = vec![0f64; self.n_rows * k];
        for (i, out) in y.chunks_exact_mut(k.max(1)).enumerate().take(self.n_rows) {
            for (c, v) in self.row(i) {
                let src = &x[c as usize * k..(c as usize + 1) * k];
                for (o, s) in out.iter_mut().zip(src) {
                    *o += f64::from(v) * s;
                }
            }
        }
        y
    }

    /// Drops stored entries with `|value| <= threshold` (keeps the diagonal).
    pub fn prune(&self, threshold: f32) -> Csr {
        let mut indptr = Vec::with_capacity(self.n_rows + 1);
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        indptr.push(0);
        for i in 0..self.n_rows {
            for (c, v) in self.row(i) {
                if v.abs() > threshold || c as usize == i {
                    indices.push(c);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Csr {
            n_rows: self.n_rows,
            n_cols: self.n_cols,
            indptr,
            indices,
            values,
        }
    }

    /// Dense copy, row-major; for tests and small reference checks only.
    #[cfg(test)]
    pub fn to_dense(&self) -> Vec<f64> {
        let mut d = vec![0f64; self.n_rows * self.n_cols];
        for i in 0..self.n_rows {
            for (c, v) in self.row(i) {
                d[i * self.n_cols + c as usize] = f64::from(v);
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Csr {
        // [[1, 0, 2], [0, 0, 3]]
        Csr {
            n_rows: 2,
            n_cols: 3,
            indptr: vec![0, 2, 3],
            indices: vec![0, 2, 2],
            values: vec![1.0, 2.0, 3.0],
        }
    }

    #[test]
    fn symmetry_compares_each_entry_with_its_mirror() {
        let m = |t: &[(u32, u32, f32)]| Csr::from_triplets(3, 3, t).unwrap();
        assert!(m(&[(0, 1, 2.0), (1, 0, 2.0), (2, 2, 1.0)]).is_symmetric(0.0));
        assert!(!m(&[(0, 1, 2.0), (1, 0, 2.5)]).is_symmetric(0.4));
        assert!(m(&[(0, 1, 2.0), (1, 0, 2.5)]).is_symmetric(0.5));
        assert!(
            !m(&[(0, 1, 2.0), (2, 2, 1.0)]).is_symmetric(1.0),
            "no mirror"
        );
        assert!(!sample().is_symmetric(10.0), "not square");
    }

    #[test]
    fn product_with_the_identity_is_the_general_product() {
        let a = Csr::from_triplets(3, 3, &[(0, 0, 0.3), (0, 2, -1.7), (2, 1, 1e-8)]).unwrap();
        assert_eq!(a.matmul(&Csr::identity(3, 1.0)).unwrap(), a);
        // The general loop (by 2·I, exact doubling) gives the same pattern.
        let doubled = a.matmul(&Csr::identity(3, 2.0)).unwrap();
        assert_eq!((&doubled.indptr, &doubled.indices), (&a.indptr, &a.indices));
        let halved: Vec<f32> = doubled.values.iter().map(|v| v / 2.0).collect();
        assert_eq!(halved, a.values);
    }

    #[test]
    fn check_accepts_a_valid_matrix_and_names_each_broken_invariant() {
        assert_eq!(sample().check(), Ok(()));
        let broken: [fn(&mut Csr); 5] = [
            |m| m.indptr.insert(0, 0),                  // n_rows + 2 offsets
            |m| m.values.pop().map(drop).unwrap_or(()), // count mismatch
            |m| m.indptr[1] = 4,                        // decreasing (4 > 3)
            |m| m.indices.swap(0, 1),                   // columns 2, 0
            |m| m.indices[2] = 3,                       // column 3 of 3
        ];
        for (i, damage) in broken.iter().enumerate() {
            let mut m = sample();
            damage(&mut m);
            assert!(
                matches!(m.check(), Err(SparseError::Malformed { .. })),
                "damage {i} passed"
            );
        }
    }
}
