//! Undirected simple graph as sorted adjacency lists, editable one edge at a time.

use super::SurgeryError;

/// An undirected simple graph: `n_nodes` nodes, each with a sorted, duplicate-free
/// neighbour list; no self loops.
///
/// Built from a canonical edge list (`u < v`, sorted, no duplicates); adding or
/// removing an edge costs `O(deg)` (binary search plus a shift of the list).
///
/// ```
/// use frameless_distiller::surgery::{Graph, SurgeryError};
/// let g = Graph::from_edges(3, &[(0, 1), (1, 2)])?;
/// assert_eq!(g.neighbours(1), &[0, 2]);
/// assert_eq!(g.n_edges(), 2);
/// # Ok::<(), SurgeryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    adj: Vec<Vec<u32>>,
    n_edges: usize,
}

impl Graph {
    /// Builds the graph from a canonical edge list.
    ///
    /// # Errors
    /// [`SurgeryError::NodeOutOfRange`] if an endpoint is `>= n_nodes`,
    /// [`SurgeryError::SelfLoop`] for `u == v`, [`SurgeryError::EdgeNotCanonical`] for
    /// `u > v`, and [`SurgeryError::EdgesNotSorted`] if the list is not strictly
    /// increasing (this also rejects duplicates).
    pub fn from_edges(n_nodes: usize, edges: &[(u32, u32)]) -> Result<Self, SurgeryError> {
        let mut adj = vec![Vec::new(); n_nodes];
        let mut previous: Option<(u32, u32)> = None;
        for (index, &(u, v)) in edges.iter().enumerate() {
            for node in [u, v] {
                if node as usize >= n_nodes {
                    return Err(SurgeryError::NodeOutOfRange { node, n_nodes });
                }
            }
            if u == v {
                return Err(SurgeryError::SelfLoop { node: u });
            }
            if u > v {
                return Err(SurgeryError::EdgeNotCanonical { u, v });
            }
            if previous.is_some_and(|p| p >= (u, v)) {
                return Err(SurgeryError::EdgesNotSorted { index });
            }
            previous = Some((u, v));
            adj[u as usize].push(v);
            adj[v as usize].push(u);
        }
        // Lists of `u` were filled in increasing `v`, but lists of `v` interleave.
        for list in &mut adj {
            list.sort_unstable();
        }
        Ok(Self {
            adj,
            n_edges: edges.len(),
        })
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.adj.len()
    }

    /// Number of undirected edges.
    pub fn n_edges(&self) -> usize {
        self.n_edges
    }

    /// Sorted neighbours of `node`.
    ///
    /// # Panics
    /// If `node >= n_nodes`.
    pub fn neighbours(&self, node: u32) -> &[u32] {
        &self.adj[node as usize]
    }

    /// Degree of `node`.
    ///
    /// # Panics
    /// If `node >= n_nodes`.
    pub fn degree(&self, node: u32) -> usize {
        self.adj[node as usize].len()
    }

    /// Whether the edge `{u, v}` exists (binary search in the shorter list).
    ///
    /// # Panics
    /// If `u` or `v` is `>= n_nodes`.
    pub fn has_edge(&self, u: u32, v: u32) -> bool {
        let (a, b) = if self.degree(u) <= self.degree(v) {
            (u, v)
        } else {
            (v, u)
        };
        self.adj[a as usize].binary_search(&b).is_ok()
    }

    /// Canonical edge list: `u < v`, sorted.
    pub fn edges(&self) -> Vec<(u32, u32)> {
        let mut out = Vec::with_capacity(self.n_edges);
        self.for_each_edge(|u, v| out.push((u, v)));
        out
    }

    /// Calls `f(u, v)` for every edge with `u < v`, in sorted order.
    pub(crate) fn for_each_edge(&self, mut f: impl FnMut(u32, u32)) {
        for (u, list) in self.adj.iter().enumerate() {
            let u = u as u32;
            let start = list.partition_point(|&v| v <= u);
            for &v in &list[start..] {
                f(u, v);
            }
        }
    }

    /// Inserts `{u, v}`; returns `false` (and changes nothing) if it already exists
    /// or `u == v`.
    pub(crate) fn insert_edge(&mut self, u: u32, v: u32) -> bool {
        if u == v {
            return false;
        }
        let Err(pos_u) = self.adj[u as usize].binary_search(&v) else {
            return false;
        };
        self.adj[u as usize].insert(pos_u, v);
        if let Err(pos_v) = self.adj[v as usize].binary_search(&u) {
            self.adj[v as usize].insert(pos_v, u);
        }
        self.n_edges += 1;
        true
    }

    /// Removes `{u, v}`; returns `false` (and changes nothing) if it is absent.
    pub(crate) fn remove_edge(&mut self, u: u32, v: u32) -> bool {
        let Ok(pos_u) = self.adj[u as usize].binary_search(&v) else {
            return false;
        };
        self.adj[u as usize].remove(pos_u);
        if let Ok(pos_v) = self.adj[v as usize].binary_search(&u) {
            self.adj[v as usize].remove(pos_v);
        }
        self.n_edges -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_edge_lists() {
        assert_eq!(
            Graph::from_edges(2, &[(0, 2)]),
            Err(SurgeryError::NodeOutOfRange {
                node: 2,
                n_nodes: 2
            })
        );
        assert_eq!(
            Graph::from_edges(2, &[(1, 1)]),
            Err(SurgeryError::SelfLoop { node: 1 })
        );
        assert_eq!(
            Graph::from_edges(2, &[(1, 0)]),
            Err(SurgeryError::EdgeNotCanonical { u: 1, v: 0 })
        );
        assert_eq!(
            Graph::from_edges(3, &[(0, 1), (0, 1)]),
            Err(SurgeryError::EdgesNotSorted { index: 1 })
        );
        assert_eq!(
            Graph::from_edges(3, &[(1, 2), (0, 1)]),
            Err(SurgeryError::EdgesNotSorted { index: 1 })
        );
    }

    #[test]
    fn edits_round_trip() -> Result<(), SurgeryError> {
        let edges = [(0, 2), (1, 2), (2, 3)];
        let mut g = Graph::from_edges(4, &edges)?;
        assert_eq!(g.neighbours(2), &[0, 1, 3]);
        assert!(g.insert_edge(3, 0));
        assert!(!g.insert_edge(0, 3));
        assert!(g.has_edge(0, 3));
        assert_eq!(g.n_edges(), 4);
        assert!(g.remove_edge(0, 3));
        assert!(!g.remove_edge(3, 0));
        assert_eq!(g.edges(), edges);
        Ok(())
    }
}
