//! Graph surgery: stochastic discrete Ricci flow (SDRF) on the balanced Forman
//! curvature (Topping et al. 2022, *Understanding over-squashing and bottlenecks on
//! graphs via curvature*, ICLR).
//!
//! # Curvature (Def. 1 of the paper)
//!
//! For an edge `(i, j)` of an undirected simple graph with neighbour sets `N(·)`,
//! balls `B1(v) = N(v) ∪ {v}` and degrees `d_i, d_j`:
//!
//! - `#△(i,j) = |N(i) ∩ N(j)|`, the triangles on the edge;
//! - `♯□_i(i,j) = {k ∈ N(i) \ B1(j) : ∃ w ∈ (N(k) ∩ N(j)) \ B1(i)}`, the neighbours of
//!   `i` that start a 4-cycle `i–k–w–j–i` with no diagonal, and `♯□_j` likewise;
//! - `γ_max(i,j)`, the largest number of such 4-cycles through one node: the maximum
//!   over `k ∈ ♯□_i` of `|(N(k) ∩ N(j)) \ B1(i)|` and over `l ∈ ♯□_j` of
//!   `|(N(l) ∩ N(i)) \ B1(j)|`;
//!
//! ```text
//! Ric(i,j) = 2/d_i + 2/d_j − 2 + 2·#△/max(d_i,d_j) + #△/min(d_i,d_j)
//!            + (|♯□_i| + |♯□_j|) / (γ_max · max(d_i,d_j))
//! ```
//!
//! with the last term 0 when there is no 4-cycle, and `Ric(i,j) = 0` when
//! `min(d_i, d_j) = 1`. Closed forms: `K_n` gives `n/(n−1)`, the 4-cycle `1`,
//! longer cycles `0`, and a tree edge with `min(d_i, d_j) ≥ 2` gets
//! `2/d_i + 2/d_j − 2`, negative unless both degrees are 2.
//!
//! Everything is computed per edge from sorted adjacency lists with marker arrays
//! (`O(n_nodes)` memory); there is no `N × N` matrix.
//!
//! # Where we differ from the paper's code
//!
//! The reference code (`gdl/curvature/{numba,cuda}.py`) computes the 4-cycle terms
//! as `A_kj (A²_ik − A_ik)`, which counts every `k ∈ N(j) \ N(i)` (the path
//! `i–j–k` counts as a 2-path) and `k = i` itself, and it never applies the
//! `min d = 1 ⇒ 0` rule; it also offers `N(y) ∪ {x}` (a slip for `B1(y)`) as the
//! second endpoint of candidate edges, picks the edge to remove from the curvature
//! *before* the addition, and lists an edge reachable in both orientations twice.
//! We build the paper's Def. 1 and Algorithm 1: candidates `B1(x) × B1(y)` (each
//! absent edge once), removal judged on the curvature after the addition. We keep the
//! code's sampling rule `∝ exp(τ · improvement)`, so the paper's τ values carry over.
//!
//! # Datasets
//!
//! [`rewire_edges`] canonicalises any edge list before the flow; [`rewire_dataset`]
//! rewires a loaded [`Dataset`](crate::data::Dataset) and [`write_dataset`](crate::data::write_dataset) writes the
//! result in the plain folder format (`frameless surgery`, `--surgery sdrf[:N]`).
//!
//! # Example
//!
//! ```
//! use frameless_distiller::surgery::{sdrf, SdrfConfig, SurgeryError};
//! // Path 0–1–2–3 plus a leaf on each inner node: (1,2) is a bottleneck.
//! let edges = [(0, 1), (1, 2), (1, 4), (2, 3), (2, 5)];
//! let out = sdrf(6, &edges, &SdrfConfig::default())?;
//! assert!(!out.added.is_empty());
//! # Ok::<(), SurgeryError>(())
//! ```

mod curvature;
mod graph;
mod rewire;
mod sdrf;
#[cfg(test)]
mod tests;

pub use curvature::balanced_forman_curvature;
pub use graph::Graph;
pub use rewire::{rewire_dataset, rewire_edges};
pub use sdrf::{sdrf, IterationStats, SdrfConfig, SdrfOutcome};

/// Everything that can go wrong in graph surgery; every variant names an input defect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SurgeryError {
    /// An edge endpoint is not a node of the graph.
    #[error("node {node} out of range for a graph of {n_nodes} nodes")]
    NodeOutOfRange {
        /// The offending node id.
        node: u32,
        /// Number of nodes in the graph.
        n_nodes: usize,
    },
    /// An edge joins a node to itself.
    #[error("self loop on node {node}")]
    SelfLoop {
        /// The node.
        node: u32,
    },
    /// An edge is given as `(u, v)` with `u > v`.
    #[error("edge ({u}, {v}) is not canonical: expected u < v")]
    EdgeNotCanonical {
        /// First endpoint.
        u: u32,
        /// Second endpoint.
        v: u32,
    },
    /// The edge list is not strictly increasing (unsorted or duplicated).
    #[error("edge list not strictly increasing at index {index}")]
    EdgesNotSorted {
        /// Index of the first edge not greater than its predecessor.
        index: usize,
    },
    /// A setting is out of its domain (τ not finite, removal bound NaN).
    #[error("invalid sdrf setting: {what}")]
    InvalidConfig {
        /// Name of the setting.
        what: &'static str,
    },
}

impl crate::error::Blamed for SurgeryError {
    fn blame(&self) -> crate::error::Blame {
        crate::error::Blame::Input
    }
}
