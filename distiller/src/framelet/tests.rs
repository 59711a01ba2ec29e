//! Framelet operators against a dense eigendecomposition reference on small graphs.

use super::*;

/// Eigen-decomposition of a symmetric dense `n × n` matrix by cyclic Jacobi rotations:
/// returns `(eigenvalues, eigenvectors as columns of a row-major matrix)`.
fn jacobi(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    for _ in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p * n + q].abs() < 1e-300 {
                    continue;
                }
                // Rotation angle zeroing a[p][q]: tan 2φ = 2a_pq / (a_qq − a_pp).
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * a[p * n + q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// `U·diag(f(λ))·Uᵀ`.
fn spectral_function(values: &[f64], vectors: &[f64], f: impl Fn(f64) -> f64) -> Vec<f64> {
    let n = values.len();
    let mut out = vec![0f64; n * n];
    for (k, &lambda) in values.iter().enumerate() {
        let g = f(lambda);
        for i in 0..n {
            for j in 0..n {
                out[i * n + j] += vectors[i * n + k] * g * vectors[j * n + k];
            }
        }
    }
    out
}

fn test_graph() -> Graph {
    // 9 nodes: a 5-cycle with a chord, a pendant path and an isolated node (8).
    Graph::from_edges(
        9,
        &[
            (0, 1),
            (1, 2),
            (2, 3),
            (3, 4),
            (4, 0),
            (0, 2),
            (4, 5),
            (5, 6),
            (6, 7),
        ],
    )
    .unwrap()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// `Σ_b W_bᵀ W_b`, dense.
fn frame_operator(ops: &FrameletOperators, n: usize) -> Vec<f64> {
    let mut sum = vec![0f64; n * n];
    for band in &ops.bands {
        let w = band.transform.matrix().to_dense();
        for i in 0..n {
            for j in 0..n {
                sum[i * n + j] += (0..n).map(|k| w[k * n + i] * w[k * n + j]).sum::<f64>();
            }
        }
    }
    sum
}

#[test]
fn lambda_max_matches_dense_eigenvalues() {
    let g = test_graph();
    let (values, _) = jacobi(g.laplacian().to_dense(), 9);
    let want = values.iter().copied().fold(f64::MIN, f64::max);
    let got = lambda_max(&g.laplacian()).unwrap();
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
}

#[test]
fn haar_lev1_order2_has_the_closed_form() {
    // W0 = 1.115819·I − (1.027250/λ)·L, W1 = 0.088569·I + (1.027250/λ)·L (anchors.py).
    let g = test_graph();
    let ops = build(&g, &FrameletConfig::default()).unwrap();
    let lambda = ops.lambda_max;
    let l = g.laplacian().to_dense();
    let n = 9;
    for (band, (p, q)) in ops
        .bands
        .iter()
        .zip([(1.115819, -1.027250), (0.088569, 1.027250)])
    {
        let w = band.transform.matrix().to_dense();
        for i in 0..n {
            for j in 0..n {
                let want = if i == j { p } else { 0.0 } + q / lambda * l[i * n + j];
                assert!(
                    (w[i * n + j] - want).abs() < 1e-5,
                    "{} ({i},{j})",
                    band.name
                );
            }
        }
    }
    assert_eq!(ops.bands[0].name, "low");
}

#[test]
fn high_order_transforms_match_the_spectral_definition() {
    // With n = 12 Chebyshev terms, W_j ≈ U g_j(π λ / λ_max) Uᵀ for Lev = 1.
    let g = test_graph();
    let (values, vectors) = jacobi(g.laplacian().to_dense(), 9);
    for kind in [
        FrameletKind::Haar,
        FrameletKind::Linear,
        FrameletKind::Quadratic,
    ] {
        let config = FrameletConfig {
            kind,
            chebyshev_order: 12,
            ..FrameletConfig::default()
        };
        let ops = build(&g, &config).unwrap();
        let lambda = ops.lambda_max;
        let w = transforms(&g.laplacian(), lambda, &config).unwrap();
        for (j, wj) in w.iter().enumerate() {
            let want = spectral_function(&values, &vectors, |x| {
                kind.filter(j, std::f64::consts::PI * x / lambda)
            });
            let err = max_abs_diff(&wj.to_dense(), &want);
            assert!(err < 2e-3, "{kind} filter {j}: {err}");
        }
    }
}

#[test]
fn bands_form_a_tight_frame_to_the_chebyshev_error() {
    let g = test_graph();
    let n = 9;
    let identity: Vec<f64> = (0..n * n)
        .map(|k| f64::from(u8::from(k % (n + 1) == 0)))
        .collect();
    for kind in [
        FrameletKind::Haar,
        FrameletKind::Linear,
        FrameletKind::Quadratic,
    ] {
        for levels in [1, 2, 3] {
            let config = FrameletConfig {
                kind,
                levels,
                chebyshev_order: 12,
                ..FrameletConfig::default()
            };
            let ops = build(&g, &config).unwrap();
            assert_eq!(ops.bands.len(), 1 + (kind.n_filters() - 1) * levels);
            let err = max_abs_diff(&frame_operator(&ops, n), &identity);
            assert!(err < 5e-3, "{kind} Lev {levels}: {err}");
        }
        // Low order (n = 2): Σ_b W_bᵀW_b = U·diag(Σ_j p_j(t)²)·Uᵀ with p_j the degree-1
        // Chebyshev polynomial of g_j at t = 2λ/λ_max − 1; its distance from I is exactly the
        // Chebyshev error of the frame.
        let ops = build(
            &g,
            &FrameletConfig {
                kind,
                ..FrameletConfig::default()
            },
        )
        .unwrap();
        let (values, vectors) = jacobi(g.laplacian().to_dense(), n);
        let coefficients: Vec<Vec<f64>> = (0..kind.n_filters())
            .map(|j| chebyshev_coefficients(|x| kind.filter(j, x), 2))
            .collect();
        let want = spectral_function(&values, &vectors, |lambda| {
            let t = 2.0 * lambda / ops.lambda_max - 1.0;
            coefficients
                .iter()
                .map(|c| (0.5 * c[0] + c[1] * t).powi(2))
                .sum()
        });
        let err = max_abs_diff(&frame_operator(&ops, n), &want);
        assert!(err < 1e-5, "{kind} order 2: {err}");
    }
}

#[test]
fn operators_are_sparse_polynomials() {
    // A degree-d polynomial of L on a path reaches at most d hops.
    let edges: Vec<(u32, u32)> = (0..19).map(|i| (i, i + 1)).collect();
    let g = Graph::from_edges(20, &edges).unwrap();
    let config = FrameletConfig {
        chebyshev_order: 4,
        levels: 2,
        ..FrameletConfig::default()
    };
    let ops = build(&g, &config).unwrap();
    // Level 2 low pass = degree 3 of degree 3 = degree 6: row 0 reaches nodes 0..=6.
    let low = ops.bands[0].transform.matrix();
    assert!(low.row(0).all(|(c, _)| c <= 6));
    for band in &ops.bands {
        assert!(band.transform.matrix().is_symmetric(1e-5), "{}", band.name);
    }
}

#[test]
fn bad_configs_are_rejected() {
    let g = test_graph();
    for config in [
        FrameletConfig {
            levels: 0,
            ..FrameletConfig::default()
        },
        FrameletConfig {
            chebyshev_order: 0,
            ..FrameletConfig::default()
        },
        FrameletConfig {
            dilation: 1.0,
            ..FrameletConfig::default()
        },
    ] {
        assert!(matches!(
            build(&g, &config),
            Err(FrameletError::ZeroOrder { .. } | FrameletError::BadScale { .. })
        ));
    }
}
