//! Balanced Forman curvature (Topping et al. 2022, Def. 1) from sparse adjacency.
//!
//! For an edge `(i, j)` the work is one marker pass over `N(i)` and `N(j)` plus, for
//! every neighbour `k` of `i` (and of `j`), one intersection of `N(k)` with `N(j)`
//! costing `min(deg k, deg j · log deg k)`. No dense matrix is ever formed.

use super::graph::Graph;

/// Reusable marker arrays: `in_i[v] == stamp` iff `v ∈ N(i)` for the edge being
/// evaluated (likewise `in_j`), so nothing is cleared between edges.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    in_i: Vec<u32>,
    in_j: Vec<u32>,
    stamp: u32,
}

impl Scratch {
    pub(crate) fn new(n_nodes: usize) -> Self {
        Self {
            in_i: vec![0; n_nodes],
            in_j: vec![0; n_nodes],
            stamp: 0,
        }
    }

    /// Marks `N(i)` and `N(j)` under a fresh stamp and returns it.
    fn mark(&mut self, g: &Graph, i: u32, j: u32) -> u32 {
        if self.stamp == u32::MAX {
            self.in_i.fill(0);
            self.in_j.fill(0);
            self.stamp = 0;
        }
        self.stamp += 1;
        for &v in g.neighbours(i) {
            self.in_i[v as usize] = self.stamp;
        }
        for &v in g.neighbours(j) {
            self.in_j[v as usize] = self.stamp;
        }
        self.stamp
    }
}

/// The ingredients of `Ric(i, j)`: degrees, `#△`, `#□_i + #□_j` and `γ_max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EdgeTerms {
    pub(crate) d_i: usize,
    pub(crate) d_j: usize,
    pub(crate) triangles: usize,
    /// `|♯□_i(i,j)| + |♯□_j(i,j)|`.
    pub(crate) squares: usize,
    /// Largest number of 4-cycles based at one node (0 when there are none).
    pub(crate) gamma_max: usize,
}

impl EdgeTerms {
    /// `Ric(i,j) = 2/d_i + 2/d_j − 2 + 2#△/d_max + #△/d_min + (#□_i + #□_j)/(γ_max d_max)`,
    /// the last term dropped when there are no 4-cycles, and `0` when `d_min = 1`.
    pub(crate) fn value(&self) -> f64 {
        let d_max = self.d_i.max(self.d_j);
        let d_min = self.d_i.min(self.d_j);
        if d_min <= 1 {
            return 0.0;
        }
        let (d_max, d_min) = (d_max as f64, d_min as f64);
        let tri = self.triangles as f64;
        let mut ric = 2.0 / d_max + 2.0 / d_min - 2.0 + 2.0 * tri / d_max + tri / d_min;
        if self.gamma_max > 0 {
            ric += self.squares as f64 / (self.gamma_max as f64 * d_max);
        }
        ric
    }
}

/// Which side of the edge a 4-cycle count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// `k ∈ N(i) \ B1(j)`; its count is `#{w ∈ N(k) ∩ N(j) : w ∉ B1(i)}`.
    I,
    /// `l ∈ N(j) \ B1(i)`; its count is `#{z ∈ N(l) ∩ N(i) : z ∉ B1(j)}`.
    J,
}

/// Computes the terms of edge `(i, j)` and calls `visit(side, node, count)` for every
/// node that could close a diagonal-free 4-cycle (count may be 0), in increasing
/// node order per side, `I` first.
pub(crate) fn edge_terms_with(
    g: &Graph,
    i: u32,
    j: u32,
    scratch: &mut Scratch,
    mut visit: impl FnMut(Side, u32, usize),
) -> EdgeTerms {
    let stamp = scratch.mark(g, i, j);
    let (in_i, in_j) = (&scratch.in_i, &scratch.in_j);
    let triangles = g
        .neighbours(i)
        .iter()
        .filter(|&&v| in_j[v as usize] == stamp)
        .count();
    let mut squares = 0;
    let mut gamma_max = 0;
    for (side, a, b, in_a, in_b) in [(Side::I, i, j, in_i, in_j), (Side::J, j, i, in_j, in_i)] {
        // k ∈ N(a) \ B1(b); count w ∈ N(k) ∩ N(b) with w ∉ B1(a).
        let n_b = g.neighbours(b);
        for &k in g.neighbours(a) {
            if k == b || in_b[k as usize] == stamp {
                continue;
            }
            let closes = |w: u32| w != a && in_a[w as usize] != stamp;
            let n_k = g.neighbours(k);
            let count = if n_k.len() <= n_b.len() {
                n_k.iter()
                    .filter(|&&w| in_b[w as usize] == stamp && closes(w))
                    .count()
            } else {
                n_b.iter()
                    .filter(|&&w| closes(w) && n_k.binary_search(&w).is_ok())
                    .count()
            };
            if count > 0 {
                squares += 1;
                gamma_max = gamma_max.max(count);
            }
            visit(side, k, count);
        }
    }
    EdgeTerms {
        d_i: g.degree(i),
        d_j: g.degree(j),
        triangles,
        squares,
        gamma_max,
    }
}

/// Balanced Forman curvature of the single edge `(i, j)` (which must exist).
pub(crate) fn edge_curvature(g: &Graph, i: u32, j: u32, scratch: &mut Scratch) -> f64 {
    edge_terms_with(g, i, j, scratch, |_, _, _| {}).value()
}

/// Balanced Forman curvature of every edge, in the order of [`Graph::edges`].
///
/// See the [module documentation](super) for the definition. Cost is
/// `O(Σ_(i,j) Σ_(k ∈ N(i) ∪ N(j)) min(deg k, deg · log))`; memory `O(n_nodes)`.
///
/// ```
/// use frameless_distiller::surgery::{balanced_forman_curvature, Graph, SurgeryError};
/// // A 4-cycle: d = 2, no triangles, one 4-cycle on each side, γ_max = 1:
/// // 2/2 + 2/2 − 2 + (1 + 1)/(1·2) = 1.
/// let g = Graph::from_edges(4, &[(0, 1), (0, 3), (1, 2), (2, 3)])?;
/// assert_eq!(balanced_forman_curvature(&g), vec![1.0; 4]);
/// # Ok::<(), SurgeryError>(())
/// ```
pub fn balanced_forman_curvature(g: &Graph) -> Vec<f64> {
    let mut scratch = Scratch::new(g.n_nodes());
    let mut out = Vec::with_capacity(g.n_edges());
    g.for_each_edge(|u, v| out.push(edge_curvature(g, u, v, &mut scratch)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surgery::SurgeryError;

    fn curvatures(n: usize, edges: &[(u32, u32)]) -> Result<Vec<f64>, SurgeryError> {
        Ok(balanced_forman_curvature(&Graph::from_edges(n, edges)?))
    }

    fn complete(n: u32) -> Vec<(u32, u32)> {
        (0..n)
            .flat_map(|u| (u + 1..n).map(move |v| (u, v)))
            .collect()
    }

    #[test]
    fn complete_graph_closed_form() -> Result<(), SurgeryError> {
        // K_n: d = n−1, #△ = n−2, no 4-cycles without diagonals:
        // 4/(n−1) − 2 + 3(n−2)/(n−1) = n/(n−1).
        for n in 3..8u32 {
            let want = f64::from(n) / f64::from(n - 1);
            for c in curvatures(n as usize, &complete(n))? {
                assert!((c - want).abs() < 1e-12, "K_{n}: {c} vs {want}");
            }
        }
        Ok(())
    }

    #[test]
    fn cycles() -> Result<(), SurgeryError> {
        // C_3 = K_3: 3/2. C_4: 1 (see doctest). C_n, n ≥ 5: 2/2 + 2/2 − 2 = 0.
        for n in 3..9u32 {
            let mut edges: Vec<_> = (0..n - 1).map(|u| (u, u + 1)).collect();
            edges.push((0, n - 1));
            edges.sort_unstable();
            let want = match n {
                3 => 1.5,
                4 => 1.0,
                _ => 0.0,
            };
            for c in curvatures(n as usize, &edges)? {
                assert!((c - want).abs() < 1e-12, "C_{n}: {c} vs {want}");
            }
        }
        Ok(())
    }

    #[test]
    fn tree_bridge_is_negative_and_leaves_are_zero() -> Result<(), SurgeryError> {
        // Two stars with centres 0 (3 leaves) and 1 (4 leaves) joined by the bridge
        // (0,1): d_0 = 4, d_1 = 5, no cycles: 2/5 + 2/4 − 2 = −1.1. Leaves have d = 1: 0.
        let edges = [
            (0, 1),
            (0, 2),
            (0, 3),
            (0, 4),
            (1, 5),
            (1, 6),
            (1, 7),
            (1, 8),
        ];
        let c = curvatures(9, &edges)?;
        assert!((c[0] + 1.1).abs() < 1e-12);
        assert!(c[1..].iter().all(|&x| x == 0.0));
        Ok(())
    }

    #[test]
    fn grid_square_with_tail() -> Result<(), SurgeryError> {
        // Square 0-1-2-3 plus pendant 4 on node 0. Edge (0,1): d_0 = 3, d_1 = 2,
        // #□_0 = {3} (3–2–1), #□_1 = {2} (2–3–0), γ_max = 1:
        // 2/3 + 2/2 − 2 + 2/(1·3) = 1/3.
        let edges = [(0, 1), (0, 3), (0, 4), (1, 2), (2, 3)];
        let c = curvatures(5, &edges)?;
        assert!((c[0] - 1.0 / 3.0).abs() < 1e-12);
        Ok(())
    }
}
