//! Undecimated framelet operators (UFG, Zheng et al. 2021) as sparse matrices.
//!
//! With `L` the normalised Laplacian, `a = π/2`, dilation `s`, levels `Lev` and
//! `J = log(λ_max/π)/log(s) + Lev − 1`, each level `l = 1..Lev` and filter `j` gives
//! (Chebyshev degree `n − 1`, coefficients `c_{j,k}` from [`chebyshev_coefficients`]):
//!
//! ```text
//! T0 = FD,  T1 = (s^{-J+l-1}/a)·L·T0 − T0,  Tk = (2s^{-J+l-1}/a)·L·T(k−1) − 2T(k−1) − T(k−2)
//! W_{j,l} = ½c_{j,0}·T0 + Σ_{k≥1} c_{j,k}·Tk,    FD ← W_{0,l}   (FD = I at l = 1)
//! ```
//!
//! Every `W_{j,l}` is an `N × N` [`Csr`]: a degree-`(n−1)·l` polynomial of `L`, so it is
//! that many hops sparse. The model uses `B = 1 + (r−1)·Lev` bands: the low pass of the
//! coarsest level, then the high passes `j = 1..r` of every level `l = 1..Lev`. Each band also
//! carries its propagation `Â_b = Â ∓ ε·D̃^{-1}` (minus for the low pass).
//!
//! ```
//! use frameless_distiller::{framelet, graph::Graph};
//! let g = Graph::from_edges(4, &[(0, 1), (1, 2), (2, 3)])?;
//! let ops = framelet::build(&g, &framelet::FrameletConfig::default())?;
//! assert_eq!(ops.bands.len(), 2); // Haar, Lev 1: low and high
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod filters;
mod lambda;

pub use filters::{chebyshev_coefficients, FrameletKind, QUADRATURE_POINTS};
pub use lambda::{lambda_max, LANCZOS_STEPS};

use crate::error::{Blame, Blamed};
use crate::graph::Graph;
use crate::sparse::{Csr, SparseError, SparseOperator};

/// Errors from building framelet operators.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum FrameletError {
    /// A configuration value is out of range.
    #[error("bad framelet config: levels and chebyshev_order must be ≥ 1")]
    ZeroOrder {
        /// Levels asked for.
        levels: usize,
        /// Chebyshev order asked for.
        chebyshev_order: usize,
    },
    /// The dilation or the epsilon is out of range.
    #[error("bad framelet config: dilation must be > 1 and epsilon finite")]
    BadScale {
        /// Dilation asked for.
        dilation: f64,
        /// Epsilon asked for.
        epsilon: f32,
    },
    /// A sparse product failed.
    #[error(transparent)]
    Graph(#[from] SparseError),
}

impl Blamed for FrameletError {
    fn blame(&self) -> Blame {
        match self {
            Self::ZeroOrder { .. } | Self::BadScale { .. } => Blame::Input,
            Self::Graph(e) => e.blame(),
        }
    }
}

/// How to build the framelet operators.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FrameletConfig {
    /// Filter bank.
    pub kind: FrameletKind,
    /// Number of levels `Lev ≥ 1`.
    pub levels: usize,
    /// Number of Chebyshev terms `n ≥ 1` (polynomial degree `n − 1`).
    pub chebyshev_order: usize,
    /// Dilation scale `s > 1`.
    pub dilation: f64,
    /// Propagation shift `ε`: `Â_b = Â ∓ ε·D̃^{-1}`.
    pub epsilon: f32,
}

impl Default for FrameletConfig {
    fn default() -> Self {
        Self {
            kind: FrameletKind::Haar,
            levels: 1,
            chebyshev_order: 2,
            dilation: 2.0,
            epsilon: 0.0,
        }
    }
}

/// One band `(j, l)` the models use.
///
/// Its operators are shared, not copied, by every model trained on them (teachers and
/// students wrap these [`SparseOperator`]s, each one `Arc`), and the high passes of
/// every level share one propagation.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// `low` for the coarsest low pass, else `high{j}-l{l}` (1-based level).
    pub name: String,
    /// The framelet transform `W_b`, `N × N`, sparse.
    pub transform: SparseOperator,
    /// The band's propagation `Â_b`, `N × N`, sparse.
    pub propagation: SparseOperator,
}

/// The bands of a graph and the `λ_max` used to build them.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameletOperators {
    /// Low pass first, then the high passes (filter-major, then level).
    pub bands: Vec<Band>,
    /// `λ_max(L)` (2.0 when the estimate failed).
    pub lambda_max: f64,
}

/// Builds the framelet bands of `graph`.
///
/// # Errors
/// [`FrameletError::ZeroOrder`] for `levels == 0` or `chebyshev_order == 0`,
/// [`FrameletError::BadScale`] for `dilation ≤ 1` or a non-finite epsilon.
pub fn build(graph: &Graph, config: &FrameletConfig) -> Result<FrameletOperators, FrameletError> {
    if config.levels == 0 || config.chebyshev_order == 0 {
        return Err(FrameletError::ZeroOrder {
            levels: config.levels,
            chebyshev_order: config.chebyshev_order,
        });
    }
    if config.dilation.is_nan() || config.dilation <= 1.0 || !config.epsilon.is_finite() {
        return Err(FrameletError::BadScale {
            dilation: config.dilation,
            epsilon: config.epsilon,
        });
    }
    let laplacian = graph.laplacian();
    let lambda = lambda_max(&laplacian).unwrap_or(2.0);
    let transforms = transforms(&laplacian, lambda, config)?;
    let r = config.kind.n_filters();
    let lev = config.levels;
    let low = graph.shifted_normalized_adjacency(-config.epsilon);
    let high = graph.shifted_normalized_adjacency(config.epsilon);
    // Each transform moves into its band (the low pass of the other levels is dropped).
    let mut transforms: Vec<Option<Csr>> = transforms.into_iter().map(Some).collect();
    let mut take = |i: usize| -> SparseOperator {
        SparseOperator::new(
            transforms[i]
                .take()
                .unwrap_or_else(|| Csr::identity(0, 0.0)),
        )
    };
    let same_bits = high.indptr == low.indptr
        && high.indices == low.indices
        && high
            .values
            .iter()
            .zip(&low.values)
            .all(|(a, b)| a.to_bits() == b.to_bits());
    let low = SparseOperator::new(low);
    // ε = 0: both propagations are Â, one operator serves every band.
    let high = if same_bits {
        low.clone()
    } else {
        SparseOperator::new(high)
    };
    let mut bands = vec![Band {
        name: "low".into(),
        transform: take(lev - 1),
        propagation: low,
    }];
    for j in 1..r {
        for l in 0..lev {
            bands.push(Band {
                name: format!("high{j}-l{}", l + 1),
                transform: take(j * lev + l),
                propagation: high.clone(),
            });
        }
    }
    Ok(FrameletOperators {
        bands,
        lambda_max: lambda,
    })
}

/// Every `W_{j,l}`, indexed `j·Lev + (l − 1)`.
///
/// # Errors
/// [`FrameletError::Graph`] if `laplacian` is not square.
pub fn transforms(
    laplacian: &Csr,
    lambda_max: f64,
    config: &FrameletConfig,
) -> Result<Vec<Csr>, FrameletError> {
    let (r, lev, n) = (
        config.kind.n_filters(),
        config.levels,
        config.chebyshev_order,
    );
    let coefficients: Vec<Vec<f64>> = (0..r)
        .map(|j| chebyshev_coefficients(|x| config.kind.filter(j, x), n))
        .collect();
    let a = std::f64::consts::FRAC_PI_2;
    let s = config.dilation;
    let big_j = (lambda_max / std::f64::consts::PI).ln() / s.ln() + lev as f64 - 1.0;
    let size = laplacian.n_rows;
    let mut out = vec![Csr::identity(size, 0.0); r * lev];
    let mut fd = Csr::identity(size, 1.0);
    for l in 1..=lev {
        let scale = s.powf(-big_j + l as f64 - 1.0) / a;
        // Chebyshev terms T_k(FD) are shared by every filter of this level.
        let mut terms = vec![fd.clone()];
        if n > 1 {
            let lt0 = laplacian.matmul(&fd)?;
            terms.push(lt0.add_scaled(scale as f32, &fd, -1.0)?);
        }
        for k in 2..n {
            let lt = laplacian.matmul(&terms[k - 1])?;
            let tk = lt
                .add_scaled(2.0 * scale as f32, &terms[k - 1], -2.0)?
                .add_scaled(1.0, &terms[k - 2], -1.0)?;
            terms.push(tk);
        }
        for (j, c) in coefficients.iter().enumerate() {
            let mut w = terms[0].add_scaled((0.5 * c[0]) as f32, &terms[0], 0.0)?;
            for (ck, tk) in c.iter().zip(&terms).skip(1) {
                w = w.add_scaled(1.0, tk, *ck as f32)?;
            }
            out[j * lev + l - 1] = w;
        }
        fd = out[l - 1].clone();
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
