//! Dirichlet energy of node representations on a graph.
//!
//! For an `N × d` matrix `H` (rows `h_i`) on an undirected simple graph with degrees `d_i`:
//!
//! ```text
//! E(H)      = ½ Σ_{(i,j) ∈ E, both directions} ‖h_i/√(1+d_i) − h_j/√(1+d_j)‖²
//!           =   Σ_{{i,j} ∈ E, once}            ‖h_i/√(1+d_i) − h_j/√(1+d_j)‖²
//! E_norm(H) = E(H) / ‖H‖_F²
//! ```
//!
//! `E` measures how much a representation varies across edges (the paper's geometric
//! reading: a smooth, homophilous embedding has low energy). It grows with the scale of
//! `H`, so teacher and student layers of different magnitude are compared through the
//! scale-free `E_norm` (a Rayleigh quotient of the augmented normalised Laplacian,
//! `0 ≤ E_norm ≤ 2` up to the self-loop term); `E_norm` is what the report tabulates.
//!
//! ```
//! use frameless_experiments::energy::{dirichlet_energy, normalized_dirichlet_energy};
//! // Path 0–1 with d = (1, 1): E = ‖h_0 − h_1‖² / 2.
//! let h = [1.0, 0.0, 0.0, 1.0];
//! assert!((dirichlet_energy(2, &[(0, 1)], &h, 2) - 1.0).abs() < 1e-12);
//! assert!((normalized_dirichlet_energy(2, &[(0, 1)], &h, 2) - 0.5).abs() < 1e-12);
//! ```

/// Raw Dirichlet energy `E(H)` of the row-major `n_nodes × dim` matrix `h` over `edges`.
///
/// Edges may be listed in either direction and repeat; they are counted once each as
/// undirected pairs, self loops are ignored, and degrees come from the de-duplicated list.
/// Endpoints `>= n_nodes` or a wrongly sized `h` give `NaN` (the caller's bug, reported in
/// the table rather than as a panic).
pub fn dirichlet_energy(n_nodes: usize, edges: &[(u32, u32)], h: &[f32], dim: usize) -> f64 {
    if h.len() != n_nodes * dim {
        return f64::NAN;
    }
    let pairs = unique_pairs(edges);
    if pairs.iter().any(|&(_, v)| v as usize >= n_nodes) {
        return f64::NAN;
    }
    let mut degree = vec![0usize; n_nodes];
    for &(u, v) in &pairs {
        degree[u as usize] += 1;
        degree[v as usize] += 1;
    }
    let scale: Vec<f64> = degree
        .iter()
        .map(|&d| 1.0 / (1.0 + d as f64).sqrt())
        .collect();
    let mut total = 0.0;
    for &(u, v) in &pairs {
        let (u, v) = (u as usize, v as usize);
        let (hu, hv) = (&h[u * dim..(u + 1) * dim], &h[v * dim..(v + 1) * dim]);
        total += hu
            .iter()
            .zip(hv)
            .map(|(&a, &b)| {
                let diff = f64::from(a) * scale[u] - f64::from(b) * scale[v];
                diff * diff
            })
            .sum::<f64>();
    }
    total
}

/// Scale-free energy `E(H) / ‖H‖_F²`; 0 for an all-zero `H`.
pub fn normalized_dirichlet_energy(
    n_nodes: usize,
    edges: &[(u32, u32)],
    h: &[f32],
    dim: usize,
) -> f64 {
    let norm: f64 = h.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if norm == 0.0 {
        return 0.0;
    }
    dirichlet_energy(n_nodes, edges, h, dim) / norm
}

/// Each undirected pair once as `(min, max)`, sorted, without self loops.
fn unique_pairs(edges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut pairs: Vec<(u32, u32)> = edges
        .iter()
        .filter(|(u, v)| u != v)
        .map(|&(u, v)| (u.min(v), u.max(v)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_signal_on_regular_graph_has_zero_energy() {
        // Triangle: every degree 2, so h_i/√3 is the same on every node.
        let h = [2.0f32; 3 * 4];
        let e = dirichlet_energy(3, &[(0, 1), (1, 2), (0, 2)], &h, 4);
        assert!(e.abs() < 1e-12);
    }

    #[test]
    fn hand_computed_path() {
        // Path 0–1–2, d = (1, 2, 1), h = (1, 0, 1) in one dimension:
        // (1/√2 − 0)² + (0 − 1/√2)² = 1/2 + 1/2 = 1; ‖H‖² = 2 → E_norm = 1/2.
        let edges = [(1, 0), (1, 2), (0, 1), (2, 2)];
        let h = [1.0, 0.0, 1.0];
        assert!((dirichlet_energy(3, &edges, &h, 1) - 1.0).abs() < 1e-12);
        assert!((normalized_dirichlet_energy(3, &edges, &h, 1) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn scale_cancels_in_normalised_form() {
        let edges = [(0, 1), (1, 2), (2, 3)];
        let h: Vec<f32> = (0..8).map(|i| (i as f32 * 0.7).sin()).collect();
        let h10: Vec<f32> = h.iter().map(|x| 10.0 * x).collect();
        let a = normalized_dirichlet_energy(4, &edges, &h, 2);
        let b = normalized_dirichlet_energy(4, &edges, &h10, 2);
        // 10·x is rounded to f32, so equality holds to about 1e-7 relative.
        assert!((a - b).abs() < 1e-5 * a.abs().max(1.0));
        assert!(
            (dirichlet_energy(4, &edges, &h10, 2) / dirichlet_energy(4, &edges, &h, 2) - 100.0)
                .abs()
                < 1e-3
        );
    }

    #[test]
    fn bad_shapes_are_nan() {
        assert!(dirichlet_energy(2, &[(0, 1)], &[1.0], 2).is_nan());
        assert!(dirichlet_energy(2, &[(0, 5)], &[1.0; 4], 2).is_nan());
    }
}
