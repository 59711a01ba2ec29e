//! A node's multi-hop ball and the subgraph it induces: what a message-passing
//! model must read to answer that one node.

use std::collections::VecDeque;

use super::Dataset;
use crate::sparse::{Csr, SparseError};

impl Dataset {
    /// The nodes within `hops` edges of `start`, breadth-first (`start` first).
    ///
    /// # Errors
    /// [`SparseError::IndexOutOfRange`] if `start` or an edge is out of range.
    pub fn ball(&self, start: u32, hops: usize) -> Result<Vec<u32>, SparseError> {
        let n = self.n_nodes();
        if start as usize >= n {
            return Err(out_of_range(start, n));
        }
        let graph = self.graph()?;
        let mut depth = vec![usize::MAX; n];
        let (mut order, mut queue) = (vec![start], VecDeque::from([start]));
        depth[start as usize] = 0;
        while let Some(u) = queue.pop_front() {
            let next = depth[u as usize] + 1;
            if next > hops {
                continue;
            }
            for (v, _) in graph.adjacency.row(u as usize) {
                if depth[v as usize] == usize::MAX {
                    depth[v as usize] = next;
                    order.push(v);
                    queue.push_back(v);
                }
            }
        }
        Ok(order)
    }

    /// The subgraph induced by `nodes` (distinct, in range), renumbered in
    /// their order: features, labels and the edges among them (same name, no
    /// fixed splits).
    ///
    /// # Errors
    /// [`SparseError::IndexOutOfRange`] for a node out of range.
    pub fn induced(&self, nodes: &[u32]) -> Result<Dataset, SparseError> {
        let n = self.n_nodes();
        let mut new_id = vec![u32::MAX; n];
        for (i, &u) in nodes.iter().enumerate() {
            let slot = new_id.get_mut(u as usize).ok_or(out_of_range(u, n))?;
            *slot = i as u32;
        }
        let (mut indptr, mut indices, mut values) = (vec![0], Vec::new(), Vec::new());
        for &u in nodes {
            for (j, v) in self.features.row(u as usize) {
                indices.push(j);
                values.push(v);
            }
            indptr.push(indices.len());
        }
        let features = Csr {
            n_rows: nodes.len(),
            n_cols: self.features.n_cols,
            indptr,
            indices,
            values,
        };
        let renumber = |u: u32| new_id.get(u as usize).copied().filter(|&i| i != u32::MAX);
        let edges = self
            .edges
            .iter()
            .filter_map(|&(u, v)| Some((renumber(u)?, renumber(v)?)))
            .collect();
        Ok(Dataset {
            name: self.name.clone(),
            n_features: self.n_features,
            n_classes: self.n_classes,
            features,
            labels: nodes.iter().map(|&u| self.labels[u as usize]).collect(),
            edges,
            fixed_splits: Vec::new(),
        })
    }
}

/// Node `u` of an `n`-node graph, as the adjacency entry it would be.
fn out_of_range(u: u32, n: usize) -> SparseError {
    let u = u as usize;
    SparseError::IndexOutOfRange {
        row: u,
        col: u,
        n_rows: n,
        n_cols: n,
    }
}
