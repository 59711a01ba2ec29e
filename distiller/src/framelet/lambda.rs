//! A deterministic estimate of `λ_max(L)`.

use crate::sparse::Csr;

/// Lanczos steps used by [`lambda_max`].
pub const LANCZOS_STEPS: usize = 80;

/// The largest eigenvalue of the symmetric matrix `l`, from `LANCZOS_STEPS` Lanczos steps
/// started at a fixed vector (`v_i = 1 + (i mod 7)/7`), so the result is the same on every
/// run; `None` when the estimate is not a positive finite number (e.g. a graph without edges).
pub fn lambda_max(l: &Csr) -> Option<f64> {
    let n = l.n_rows;
    if n == 0 {
        return None;
    }
    let mut v: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64 / 7.0).collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    let mut previous = vec![0f64; n];
    let (mut alphas, mut betas) = (Vec::new(), Vec::new());
    let mut beta = 0.0;
    for _ in 0..LANCZOS_STEPS.min(n) {
        let mut w = l.matmul_dense(&v, 1);
        let alpha: f64 = w.iter().zip(&v).map(|(a, b)| a * b).sum();
        for ((w, v), p) in w.iter_mut().zip(&v).zip(&previous) {
            *w -= alpha * v + beta * p;
        }
        alphas.push(alpha);
        beta = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if beta < 1e-10 {
            break;
        }
        betas.push(beta);
        previous = std::mem::replace(&mut v, w.iter().map(|x| x / beta).collect());
    }
    let lambda = largest_tridiagonal_eigenvalue(&alphas, &betas);
    (lambda.is_finite() && lambda > 1e-9).then_some(lambda)
}

/// Largest eigenvalue of the symmetric tridiagonal matrix with diagonal `a` and
/// off-diagonal `b`, by bisection on the Sturm sequence count.
fn largest_tridiagonal_eigenvalue(a: &[f64], b: &[f64]) -> f64 {
    let k = a.len();
    let off = |i: usize| if i < b.len() { b[i].abs() } else { 0.0 };
    // Gershgorin bounds.
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for i in 0..k {
        let r = off(i) + if i > 0 { off(i - 1) } else { 0.0 };
        lo = lo.min(a[i] - r);
        hi = hi.max(a[i] + r);
    }
    // Number of eigenvalues below x.
    let count_below = |x: f64| {
        let mut count = 0;
        let mut d = 1.0;
        for i in 0..k {
            let b2 = if i > 0 { off(i - 1).powi(2) } else { 0.0 };
            d = a[i] - x - if i > 0 { b2 / d } else { 0.0 };
            if d == 0.0 {
                d = -1e-300;
            }
            if d < 0.0 {
                count += 1;
            }
        }
        count
    };
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if count_below(mid) >= k {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo < 1e-13 * hi.abs().max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;

    #[test]
    fn path_and_cycle_have_known_lambda_max() {
        // Path P_n: λ_max(L) = 1 − cos(π(n−1)/(n−1)) = 2 only for bipartite limit; for P_3,
        // L has eigenvalues 0, 1, 2. An even cycle C_6 is bipartite: λ_max = 2.
        let p3 = Graph::from_edges(3, &[(0, 1), (1, 2)]).unwrap();
        assert!((lambda_max(&p3.laplacian()).unwrap() - 2.0).abs() < 1e-6);
        // Triangle K_3: eigenvalues 0, 3/2, 3/2.
        let k3 = Graph::from_edges(3, &[(0, 1), (1, 2), (0, 2)]).unwrap();
        assert!((lambda_max(&k3.laplacian()).unwrap() - 1.5).abs() < 1e-6);
        let empty = Graph::from_edges(4, &[]).unwrap();
        assert_eq!(lambda_max(&empty.laplacian()), None);
    }
}
