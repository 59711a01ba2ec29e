//! Graphs and their sparse operators.
//!
//! A [`Graph`] is undirected and simple: edges are symmetrised, duplicates merged and
//! self loops removed when it is built. From it come the two operators every model uses:
//!
//! - `Â = D̃^{-1/2} (A + I) D̃^{-1/2}` with `D̃ = D + I` ([`Graph::normalized_adjacency`]);
//! - `L = I − D^{-1/2} A D^{-1/2}` ([`Graph::laplacian`]); an isolated node's row is 0.
//!
//! Both are [`Csr`] matrices; [`crate::sparse::spmm()`] applies them inside autograd.

use crate::sparse::{Csr, SparseError};

/// An undirected simple graph on nodes `0..n_nodes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Symmetric 0/1 adjacency without self loops.
    pub adjacency: Csr,
}

impl Graph {
    /// Builds the graph from an edge list in either direction; self loops are dropped,
    /// duplicates merged and every edge made symmetric.
    ///
    /// # Errors
    /// [`SparseError::IndexOutOfRange`] if an endpoint is `>= n_nodes`,
    /// [`SparseError::TooLarge`] if the allocator refuses the graph's storage.
    pub fn from_edges(n_nodes: usize, edges: &[(u32, u32)]) -> Result<Self, SparseError> {
        let too_large = |_| SparseError::TooLarge {
            n_rows: n_nodes,
            n_cols: n_nodes,
            entries: edges.len().saturating_mul(2),
        };
        let mut triplets =
            crate::sparse::try_with_capacity(edges.len().saturating_mul(2)).map_err(too_large)?;
        for &(u, v) in edges {
            if u != v {
                triplets.push((u, v, 1.0));
                triplets.push((v, u, 1.0));
            }
        }
        let mut adjacency = Csr::from_triplets(n_nodes, n_nodes, &triplets)?;
        adjacency.values.iter_mut().for_each(|v| *v = 1.0);
        Ok(Self { adjacency })
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.adjacency.n_rows
    }

    /// Number of undirected edges.
    pub fn n_edges(&self) -> usize {
        self.adjacency.nnz() / 2
    }

    /// Node degrees (number of neighbours).
    pub fn degrees(&self) -> Vec<f32> {
        (0..self.n_nodes())
            .map(|i| (self.adjacency.indptr[i + 1] - self.adjacency.indptr[i]) as f32)
            .collect()
    }

    /// Each undirected edge once, as `(u, v)` with `u < v`, sorted.
    pub fn edge_list(&self) -> Vec<(u32, u32)> {
        (0..self.n_nodes())
            .flat_map(|u| {
                self.adjacency
                    .row(u)
                    .filter(move |&(v, _)| (u as u32) < v)
                    .map(move |(v, _)| (u as u32, v))
            })
            .collect()
    }

    /// `Â = D̃^{-1/2} (A + I) D̃^{-1/2}`, the GCN propagation matrix.
    pub fn normalized_adjacency(&self) -> Csr {
        self.shifted_normalized_adjacency(0.0)
    }

    /// `Â + shift·D̃^{-1}`: the band-specific propagation `Â_b = Â ∓ ε D̃^{-1}` of DESIGN §2.
    pub fn shifted_normalized_adjacency(&self, shift: f32) -> Csr {
        let inv_sqrt: Vec<f32> = self
            .degrees()
            .iter()
            .map(|d| 1.0 / (d + 1.0).sqrt())
            .collect();
        let n = self.n_nodes();
        let mut triplets = Vec::with_capacity(self.adjacency.nnz() + n);
        for (i, &s) in inv_sqrt.iter().enumerate() {
            triplets.push((i as u32, i as u32, s * s * (1.0 + shift)));
            for (j, _) in self.adjacency.row(i) {
                triplets.push((i as u32, j, s * inv_sqrt[j as usize]));
            }
        }
        Csr::from_triplets(n, n, &triplets).expect("indices come from a valid adjacency")
    }

    /// `L = I − D^{-1/2} A D^{-1/2}`; the row of an isolated node is all zero.
    pub fn laplacian(&self) -> Csr {
        let n = self.n_nodes();
        let degrees = self.degrees();
        let inv_sqrt: Vec<f32> = degrees
            .iter()
            .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
            .collect();
        let mut triplets = Vec::with_capacity(self.adjacency.nnz() + n);
        for i in 0..n {
            if degrees[i] > 0.0 {
                triplets.push((i as u32, i as u32, 1.0));
            }
            for (j, _) in self.adjacency.row(i) {
                triplets.push((i as u32, j, -inv_sqrt[i] * inv_sqrt[j as usize]));
            }
        }
        Csr::from_triplets(n, n, &triplets).expect("indices come from a valid adjacency")
    }

    /// Fraction of edges whose endpoints share a label (unlabelled nodes, `< 0`, skipped).
    pub fn edge_homophily(&self, labels: &[i64]) -> f64 {
        let (mut same, mut total) = (0usize, 0usize);
        for (u, v) in self.edge_list() {
            let (Some(&a), Some(&b)) = (labels.get(u as usize), labels.get(v as usize)) else {
                continue;
            };
            if a >= 0 && b >= 0 {
                total += 1;
                same += usize::from(a == b);
            }
        }
        if total == 0 {
            0.0
        } else {
            same as f64 / total as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path3() -> Graph {
        // 0 - 1 - 2, with a duplicate, a reversed copy and a self loop that must vanish.
        Graph::from_edges(3, &[(0, 1), (1, 0), (1, 2), (2, 2), (0, 1)]).unwrap()
    }

    #[test]
    fn edges_are_symmetric_simple_and_sorted() {
        let g = path3();
        assert_eq!(g.edge_list(), vec![(0, 1), (1, 2)]);
        assert_eq!(g.degrees(), vec![1.0, 2.0, 1.0]);
        assert!(g.adjacency.is_symmetric(0.0));
    }

    #[test]
    fn normalized_adjacency_matches_hand_computation() {
        // D̃ = diag(2, 3, 2): Â[0][0] = 1/2, Â[0][1] = 1/sqrt(6), Â[1][1] = 1/3.
        let a = path3().normalized_adjacency().to_dense();
        assert!((a[0] - 0.5).abs() < 1e-6);
        assert!((a[1] - 1.0 / 6f64.sqrt()).abs() < 1e-6);
        assert!((a[4] - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(a[2], 0.0);
    }

    #[test]
    fn laplacian_of_isolated_node_is_zero_row() {
        let g = Graph::from_edges(3, &[(0, 1)]).unwrap();
        let l = g.laplacian().to_dense();
        // Nodes 0-1: L = [[1, -1], [-1, 1]]; node 2 isolated: zero row.
        assert_eq!(&l[0..3], &[1.0, -1.0, 0.0]);
        assert_eq!(&l[6..9], &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn a_node_count_no_machine_holds_is_an_error_not_an_abort() {
        for n in [usize::MAX, usize::MAX / 2, 1 << 50] {
            let e = Graph::from_edges(n, &[(0, 1)]).unwrap_err();
            assert!(matches!(e, SparseError::TooLarge { .. }), "{n}: {e:?}");
            assert_eq!(crate::error::Blamed::blame(&e), crate::error::Blame::Input);
        }
    }

    #[test]
    fn bad_endpoint_is_an_error() {
        assert!(matches!(
            Graph::from_edges(2, &[(0, 5)]),
            Err(SparseError::IndexOutOfRange { row: 0, col: 5, .. })
        ));
    }

    #[test]
    fn sparse_products_match_dense() {
        let g = path3();
        let l = g.laplacian();
        let l2 = l.matmul(&l).unwrap().to_dense();
        let d = l.to_dense();
        for i in 0..3 {
            for j in 0..3 {
                let want: f64 = (0..3).map(|k| d[i * 3 + k] * d[k * 3 + j]).sum();
                assert!((l2[i * 3 + j] - want).abs() < 1e-6);
            }
        }
        let sum = l
            .add_scaled(2.0, &Csr::identity(3, 1.0), -1.0)
            .unwrap()
            .to_dense();
        assert!((sum[0] - (2.0 * d[0] - 1.0)).abs() < 1e-6);
        assert!((sum[1] - 2.0 * d[1]).abs() < 1e-6);
        assert_eq!(l.transpose(), l);
    }
}
