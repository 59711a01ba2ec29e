//! The SDRF loop: add around the most negative edge, remove the most positive one.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::curvature::{edge_curvature, edge_terms_with, EdgeTerms, Scratch, Side};
use super::graph::Graph;
use super::SurgeryError;

/// Settings of [`sdrf`]; the defaults are those of the paper's code.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SdrfConfig {
    /// Number of add/remove rounds (default 10).
    pub iterations: usize,
    /// Remove the most positively curved edge only when its curvature exceeds this
    /// (the paper's `C⁺`, default 0.5); `f64::INFINITY` never removes (`null` in JSON).
    #[serde(with = "infinity_as_null")]
    pub removal_bound: f64,
    /// The paper's τ (default 1): a candidate edge is drawn with probability
    /// `∝ exp(τ · improvement)`, as in the reference code, so larger τ is greedier
    /// (τ is an inverse temperature) and τ = 0 draws uniformly.
    pub tau: f64,
    /// Seed of the ChaCha8 generator that draws the added edges.
    pub seed: u64,
}

impl Default for SdrfConfig {
    fn default() -> Self {
        Self {
            iterations: 10,
            removal_bound: 0.5,
            tau: 1.0,
            seed: 0,
        }
    }
}

/// JSON has no infinity: an unbounded removal bound is written as `null`.
mod infinity_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bound: &f64, s: S) -> Result<S::Ok, S::Error> {
        if bound.is_finite() {
            s.serialize_some(bound)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

/// What one SDRF round saw and did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationStats {
    /// Smallest edge curvature at the start of the round (the edge supported).
    pub min_curvature: f64,
    /// Largest edge curvature after the addition (the removal candidate).
    pub max_curvature: f64,
    /// The edge added this round, `u < v`, if any candidate existed.
    pub added: Option<(u32, u32)>,
    /// The edge removed this round, `u < v`, if one exceeded the bound.
    pub removed: Option<(u32, u32)>,
}

/// The rewired graph and a log of the changes.
#[derive(Debug, Clone, PartialEq)]
pub struct SdrfOutcome {
    /// Rewired canonical edge list (`u < v`, sorted), same nodes as the input.
    pub edges: Vec<(u32, u32)>,
    /// Edges added, in order (an edge may later be removed again).
    pub added: Vec<(u32, u32)>,
    /// Edges removed, in order.
    pub removed: Vec<(u32, u32)>,
    /// One entry per round run; fewer than `iterations` when the flow stalled
    /// (no candidate to add and nothing above the bound) or the graph has no edge.
    pub stats: Vec<IterationStats>,
}

/// Runs stochastic discrete Ricci flow on an undirected simple graph.
///
/// Each round takes the edge `(x, y)` of least balanced Forman curvature (ties: the
/// smallest `(x, y)`), scores every absent edge `{k, l}` with `k ∈ B1(x)`,
/// `l ∈ B1(y)` by the change of `Ric(x, y)` it would cause, adds one drawn with
/// probability `∝ exp(τ · change)`, then removes the edge of greatest curvature if
/// that exceeds `removal_bound`. Curvature is updated only around changed edges.
/// The same input and seed always give the same output.
///
/// # Errors
/// Those of [`Graph::from_edges`], and [`SurgeryError::InvalidConfig`] when τ is not
/// finite or the removal bound is NaN.
///
/// ```
/// use frameless_distiller::surgery::{sdrf, SdrfConfig, SurgeryError};
/// // Two triangles joined by a bridge (2,3).
/// let edges = [(0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (3, 5), (4, 5)];
/// let out = sdrf(6, &edges, &SdrfConfig { iterations: 1, ..SdrfConfig::default() })?;
/// assert_eq!(out.added.len(), 1);
/// assert!(out.stats[0].min_curvature < 0.0);
/// # Ok::<(), SurgeryError>(())
/// ```
pub fn sdrf(
    n_nodes: usize,
    edges: &[(u32, u32)],
    cfg: &SdrfConfig,
) -> Result<SdrfOutcome, SurgeryError> {
    if !cfg.tau.is_finite() {
        return Err(SurgeryError::InvalidConfig { what: "tau" });
    }
    if cfg.removal_bound.is_nan() {
        return Err(SurgeryError::InvalidConfig {
            what: "removal_bound",
        });
    }
    let mut flow = Flow::new(Graph::from_edges(n_nodes, edges)?);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut out = SdrfOutcome {
        edges: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        stats: Vec::new(),
    };
    for _ in 0..cfg.iterations {
        let Some(stats) = flow.step(cfg, &mut rng) else {
            break;
        };
        out.added.extend(stats.added);
        out.removed.extend(stats.removed);
        out.stats.push(stats);
        if stats.added.is_none() && stats.removed.is_none() {
            break;
        }
    }
    out.edges = flow.graph.edges();
    Ok(out)
}

/// Graph plus the curvature of every edge, kept current under edits.
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    pub(crate) graph: Graph,
    pub(crate) curvature: BTreeMap<(u32, u32), f64>,
    scratch: Scratch,
    touched: Vec<(u32, u32)>,
}

fn canonical(u: u32, v: u32) -> (u32, u32) {
    (u.min(v), u.max(v))
}

impl Flow {
    pub(crate) fn new(graph: Graph) -> Self {
        let mut scratch = Scratch::new(graph.n_nodes());
        let mut curvature = BTreeMap::new();
        graph.for_each_edge(|u, v| {
            curvature.insert((u, v), edge_curvature(&graph, u, v, &mut scratch));
        });
        Self {
            graph,
            curvature,
            scratch,
            touched: Vec::new(),
        }
    }

    /// The edge of least (`lowest`) or greatest curvature; ties go to the smallest key.
    pub(crate) fn extreme(&self, lowest: bool) -> Option<((u32, u32), f64)> {
        let mut best: Option<((u32, u32), f64)> = None;
        for (&e, &c) in &self.curvature {
            let better = match best {
                None => true,
                Some((_, b)) if lowest => c < b,
                Some((_, b)) => c > b,
            };
            if better {
                best = Some((e, c));
            }
        }
        best
    }

    /// Every absent edge `{k, l}`, `k ∈ B1(x)`, `l ∈ B1(y)`, with the change of
    /// `Ric(x, y)` its addition causes; sorted by edge, each edge once.
    ///
    /// Adding `{k, l}` with `k ∈ N(x) \ B1(y)` and `l ∈ N(y) \ B1(x)` only raises the
    /// 4-cycle counts of `k` and `l` by one (degrees and triangles are unchanged), so
    /// those are scored in O(1); if `k` or `l` is a triangle node nothing changes;
    /// an edge at `x` or `y` itself changes everything and is scored by recomputing
    /// `Ric(x, y)` on the graph with the edge inserted.
    pub(crate) fn candidates(&mut self, x: u32, y: u32) -> Vec<((u32, u32), f64)> {
        let base = self.curvature[&canonical(x, y)];
        let (mut count_x, mut count_y) = (Vec::new(), Vec::new());
        let terms = edge_terms_with(
            &self.graph,
            x,
            y,
            &mut self.scratch,
            |side, k, c| match side {
                Side::I => count_x.push((k, c)),
                Side::J => count_y.push((k, c)),
            },
        );
        let count = |list: &[(u32, usize)], k: u32| {
            list.binary_search_by_key(&k, |e| e.0)
                .ok()
                .map(|p| list[p].1)
        };
        let ball = |c: u32| {
            let mut b = self.graph.neighbours(c).to_vec();
            b.push(c);
            b
        };
        let (ball_x, ball_y) = (ball(x), ball(y));
        let mut out = Vec::new();
        for &k in &ball_x {
            for &l in &ball_y {
                if k == l || self.graph.has_edge(k, l) {
                    continue;
                }
                let change = if k == x || l == y {
                    self.graph.insert_edge(k, l);
                    let after = edge_curvature(&self.graph, x, y, &mut self.scratch);
                    self.graph.remove_edge(k, l);
                    after - base
                } else if let (Some(ck), Some(cl)) = (count(&count_x, k), count(&count_y, l)) {
                    let after = EdgeTerms {
                        squares: terms.squares + usize::from(ck == 0) + usize::from(cl == 0),
                        gamma_max: terms.gamma_max.max(ck + 1).max(cl + 1),
                        ..terms
                    };
                    after.value() - base
                } else {
                    0.0
                };
                out.push((canonical(k, l), change));
            }
        }
        out.sort_by_key(|e| e.0);
        out.dedup_by_key(|e| e.0);
        out
    }

    /// Adds `{u, v}` and refreshes the curvature it can affect.
    pub(crate) fn add(&mut self, u: u32, v: u32) {
        if self.graph.insert_edge(u, v) {
            self.refresh(u, v);
        }
    }

    /// Removes `{u, v}` and refreshes the curvature it can affect.
    pub(crate) fn remove(&mut self, u: u32, v: u32) {
        if self.graph.remove_edge(u, v) {
            self.curvature.remove(&canonical(u, v));
            self.refresh(u, v);
        }
    }

    /// Recomputes every edge whose curvature toggling `{a, b}` can change: those at
    /// `a` or `b`, and those joining `N(a)` to `N(b)`.
    ///
    /// `Ric(i, j)` reads `deg`, `N(i)`, `N(j)` (unchanged unless `{i, j}` meets
    /// `{a, b}`) and, for `k ∈ N(i) \ B1(j)`, the count `|N(k) ∩ N(j) \ B1(i)|` (and
    /// the mirror image), which changes only when `k = a` and `b ∈ N(j)` (or `a ↔ b`):
    /// that is, when `i ∈ N(a)` and `j ∈ N(b)`, or the other way round.
    fn refresh(&mut self, a: u32, b: u32) {
        self.touched.clear();
        for c in [a, b] {
            for &m in self.graph.neighbours(c) {
                self.touched.push(canonical(c, m));
            }
        }
        let n_b = self.graph.neighbours(b);
        for &i in self.graph.neighbours(a) {
            for &j in self.graph.neighbours(i) {
                if n_b.binary_search(&j).is_ok() {
                    self.touched.push(canonical(i, j));
                }
            }
        }
        self.touched.sort_unstable();
        self.touched.dedup();
        for &(u, v) in &self.touched {
            let c = edge_curvature(&self.graph, u, v, &mut self.scratch);
            self.curvature.insert((u, v), c);
        }
    }

    /// One SDRF round; `None` when the graph has no edge.
    pub(crate) fn step(
        &mut self,
        cfg: &SdrfConfig,
        rng: &mut ChaCha8Rng,
    ) -> Option<IterationStats> {
        let ((x, y), min_curvature) = self.extreme(true)?;
        let candidates = self.candidates(x, y);
        let added = sample(&candidates, cfg.tau, rng);
        if let Some((k, l)) = added {
            self.add(k, l);
        }
        let ((p, q), max_curvature) = self.extreme(false)?;
        let removed = (max_curvature > cfg.removal_bound).then_some((p, q));
        if let Some((p, q)) = removed {
            self.remove(p, q);
        }
        Some(IterationStats {
            min_curvature,
            max_curvature,
            added,
            removed,
        })
    }
}

/// Draws one candidate with probability `∝ exp(τ · change)` (max-shifted softmax).
fn sample(candidates: &[((u32, u32), f64)], tau: f64, rng: &mut ChaCha8Rng) -> Option<(u32, u32)> {
    let scores: Vec<f64> = candidates.iter().map(|c| tau * c.1).collect();
    let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = scores.iter().map(|s| (s - top).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut r = rng.random::<f64>() * total;
    for (c, w) in candidates.iter().zip(&weights) {
        if r < *w {
            return Some(c.0);
        }
        r -= w;
    }
    candidates.last().map(|c| c.0)
}
