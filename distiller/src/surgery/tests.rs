//! Cross-checks: the sparse curvature and SDRF against a dense `N × N` oracle written
//! straight from the paper's Def. 1.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::sdrf::Flow;
use super::*;

/// Oracle and sparse code must agree to this (they do the same integer counting).
const TOL: f64 = 1e-9;

/// Dense adjacency matrix, 0/1.
fn dense(n: usize, edges: &[(u32, u32)]) -> Vec<Vec<i64>> {
    let mut a = vec![vec![0; n]; n];
    for &(u, v) in edges {
        a[u as usize][v as usize] = 1;
        a[v as usize][u as usize] = 1;
    }
    a
}

/// Paper, Def. 1, with matrix rows `A_i`: `#△ = A_i · A_j`;
/// `k ∈ ♯□_i` iff `A_ik = 1`, `A_jk = 0`, `k ≠ j` and `A_k · (A_j − A_i ⊙ A_j) − 1 > 0`
/// (the `− 1` drops `w = i`), that value being `k`'s 4-cycle count; `γ_max` the
/// largest count over both sides.
fn dense_curvature(a: &[Vec<i64>], i: usize, j: usize) -> f64 {
    let n = a.len();
    let dot = |x: &[i64], y: &[i64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<i64>();
    let (d_i, d_j) = (a[i].iter().sum::<i64>(), a[j].iter().sum::<i64>());
    let (d_max, d_min) = (d_i.max(d_j) as f64, d_i.min(d_j) as f64);
    if d_min <= 1.0 {
        return 0.0;
    }
    let tri = dot(&a[i], &a[j]) as f64;
    let (mut squares, mut gamma) = (0, 0);
    for (p, q) in [(i, j), (j, i)] {
        let masked: Vec<i64> = (0..n).map(|w| a[q][w] - a[p][w] * a[q][w]).collect();
        for (k, row_k) in a.iter().enumerate() {
            if a[p][k] == 1 && a[q][k] == 0 && k != q {
                let count = dot(row_k, &masked) - 1;
                if count > 0 {
                    squares += 1;
                    gamma = gamma.max(count);
                }
            }
        }
    }
    let mut ric = 2.0 / d_max + 2.0 / d_min - 2.0 + 2.0 * tri / d_max + tri / d_min;
    if gamma > 0 {
        ric += f64::from(squares) / (gamma as f64 * d_max);
    }
    ric
}

fn random_graph(rng: &mut ChaCha8Rng, n: usize, p: f64) -> Vec<(u32, u32)> {
    let mut edges = Vec::new();
    for u in 0..n as u32 {
        for v in u + 1..n as u32 {
            if rng.random::<f64>() < p {
                edges.push((u, v));
            }
        }
    }
    edges
}

/// Small random graphs of varied size and density, from a fixed seed.
fn corpus() -> Vec<(usize, Vec<(u32, u32)>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (0..400)
        .map(|t| {
            let n = 2 + t % 13;
            let p = [0.15, 0.3, 0.5, 0.8][t % 4];
            (n, random_graph(&mut rng, n, p))
        })
        .collect()
}

fn assert_matches_dense(g: &Graph, curvature: &[f64]) {
    let a = dense(g.n_nodes(), &g.edges());
    for (&(u, v), &c) in g.edges().iter().zip(curvature) {
        let want = dense_curvature(&a, u as usize, v as usize);
        assert!((c - want).abs() < TOL, "edge ({u},{v}): {c} vs {want}");
    }
}

#[test]
fn sparse_curvature_matches_dense_oracle() -> Result<(), SurgeryError> {
    for (n, edges) in corpus() {
        let g = Graph::from_edges(n, &edges)?;
        assert_matches_dense(&g, &balanced_forman_curvature(&g));
    }
    Ok(())
}

#[test]
fn candidate_improvements_match_dense_recompute() -> Result<(), SurgeryError> {
    for (n, edges) in corpus().into_iter().step_by(3) {
        let mut flow = Flow::new(Graph::from_edges(n, &edges)?);
        for &(x, y) in &edges {
            let before = dense_curvature(&dense(n, &edges), x as usize, y as usize);
            let got = flow.candidates(x, y);
            let mut want = Vec::new();
            let ball = |c: u32| {
                let mut b = flow.graph.neighbours(c).to_vec();
                b.push(c);
                b
            };
            for k in ball(x) {
                for l in ball(y) {
                    if k != l && !flow.graph.has_edge(k, l) {
                        want.push((k.min(l), k.max(l)));
                    }
                }
            }
            want.sort_unstable();
            want.dedup();
            let keys: Vec<_> = got.iter().map(|c| c.0).collect();
            assert_eq!(keys, want, "candidates of ({x},{y})");
            for &((k, l), change) in &got {
                let mut plus = edges.clone();
                plus.push((k, l));
                let after = dense_curvature(&dense(n, &plus), x as usize, y as usize);
                assert!(
                    (change - (after - before)).abs() < TOL,
                    "adding ({k},{l}) around ({x},{y}): {change} vs {}",
                    after - before
                );
            }
        }
    }
    Ok(())
}

#[test]
fn incremental_updates_equal_full_recompute() -> Result<(), SurgeryError> {
    let cfg = SdrfConfig {
        removal_bound: 0.2,
        ..SdrfConfig::default()
    };
    for (seed, (n, edges)) in corpus().into_iter().enumerate().step_by(5) {
        let mut flow = Flow::new(Graph::from_edges(n, &edges)?);
        let mut rng = ChaCha8Rng::seed_from_u64(seed as u64);
        for _ in 0..8 {
            if flow.step(&cfg, &mut rng).is_none() {
                break;
            }
            let full = balanced_forman_curvature(&flow.graph);
            let kept: Vec<_> = flow.curvature.iter().map(|(&e, &c)| (e, c)).collect();
            let fresh: Vec<_> = flow.graph.edges().into_iter().zip(full).collect();
            assert_eq!(kept, fresh);
            assert_matches_dense(
                &flow.graph,
                &flow.curvature.values().copied().collect::<Vec<_>>(),
            );
        }
    }
    Ok(())
}

#[test]
fn random_edge_toggles_keep_curvature_current() -> Result<(), SurgeryError> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (n, edges) in corpus().into_iter().step_by(4) {
        let mut flow = Flow::new(Graph::from_edges(n, &edges)?);
        for _ in 0..10 {
            let (u, v) = (rng.random_range(0..n as u32), rng.random_range(0..n as u32));
            if u == v {
                continue;
            }
            if flow.graph.has_edge(u, v) {
                flow.remove(u, v);
            } else {
                flow.add(u, v);
            }
            let kept: Vec<f64> = flow.curvature.values().copied().collect();
            assert_eq!(kept, balanced_forman_curvature(&flow.graph));
        }
    }
    Ok(())
}

/// Two `K_4` (nodes 0–3 and 4–7) joined by the bridge (3, 4).
fn barbell() -> Vec<(u32, u32)> {
    let mut edges = Vec::new();
    for base in [0, 4] {
        for u in 0..4 {
            for v in u + 1..4 {
                edges.push((base + u, base + v));
            }
        }
    }
    edges.push((3, 4));
    edges.sort_unstable();
    edges
}

#[test]
fn same_seed_same_output_and_seeds_matter() -> Result<(), SurgeryError> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let edges = random_graph(&mut rng, 60, 0.08);
    let run = |seed| {
        sdrf(
            60,
            &edges,
            &SdrfConfig {
                iterations: 20,
                tau: 0.5,
                seed,
                ..SdrfConfig::default()
            },
        )
    };
    assert_eq!(run(3)?, run(3)?);
    let outcomes: Vec<_> = (0..4).map(run).collect::<Result<_, _>>()?;
    assert!(outcomes.iter().any(|o| o.added != outcomes[0].added));
    Ok(())
}

#[test]
fn zero_iterations_leave_graph_unchanged() -> Result<(), SurgeryError> {
    let edges = barbell();
    let cfg = SdrfConfig {
        iterations: 0,
        ..SdrfConfig::default()
    };
    let out = sdrf(8, &edges, &cfg)?;
    assert_eq!(out.edges, edges);
    assert!(out.added.is_empty() && out.removed.is_empty() && out.stats.is_empty());
    Ok(())
}

#[test]
fn bridge_gets_support() -> Result<(), SurgeryError> {
    // Bridge (3,4): d = 4, 4, no triangles or 4-cycles: 1 − 2 = −1, the minimum.
    // Every candidate joins a clique node to the other clique, i.e. adds a
    // triangle or a 4-cycle on the bridge, so its curvature rises.
    let edges = barbell();
    let out = sdrf(8, &edges, &SdrfConfig::default())?;
    assert_eq!(out.stats[0].min_curvature, -1.0);
    let (k, l) = out.added[0];
    assert!(k < 4 && l >= 4, "added ({k},{l}) does not cross the bridge");
    let g = Graph::from_edges(8, &out.edges)?;
    if let Some(p) = g.edges().iter().position(|&e| e == (3, 4)) {
        assert!(balanced_forman_curvature(&g)[p] > -1.0);
    }
    Ok(())
}

#[test]
fn removes_most_curved_edge_above_bound() -> Result<(), SurgeryError> {
    // K_5: every edge has 5/4 > 0.5 and no candidate exists, so round one removes
    // the first edge (0,1) and adds nothing.
    let edges: Vec<_> = (0..5u32)
        .flat_map(|u| (u + 1..5).map(move |v| (u, v)))
        .collect();
    let cfg = SdrfConfig {
        iterations: 1,
        ..SdrfConfig::default()
    };
    let out = sdrf(5, &edges, &cfg)?;
    assert_eq!(out.removed, vec![(0, 1)]);
    assert!(out.added.is_empty());
    assert_eq!(out.stats[0].max_curvature, 1.25);
    assert_eq!(out.edges, edges[1..]);
    Ok(())
}

#[test]
fn bad_inputs_are_errors() {
    let cfg = SdrfConfig::default();
    assert_eq!(
        sdrf(3, &[(0, 3)], &cfg),
        Err(SurgeryError::NodeOutOfRange {
            node: 3,
            n_nodes: 3
        })
    );
    let bad_tau = SdrfConfig {
        tau: f64::NAN,
        ..cfg
    };
    assert_eq!(
        sdrf(3, &[(0, 1)], &bad_tau),
        Err(SurgeryError::InvalidConfig { what: "tau" })
    );
}

#[test]
fn empty_graph_is_a_no_op() -> Result<(), SurgeryError> {
    let out = sdrf(4, &[], &SdrfConfig::default())?;
    assert!(out.edges.is_empty() && out.stats.is_empty());
    Ok(())
}

/// The dataset writer (`data::write_dataset`) reads back what surgery wrote.
#[test]
fn rewired_dataset_round_trips_through_the_loader() {
    let mut dataset = crate::data::load(
        &"synthetic:nodes=40,classes=2,features=5,degree=3"
            .parse()
            .unwrap(),
    )
    .unwrap();
    dataset.fixed_splits = vec![crate::data::Split {
        train: vec![0, 1],
        val: vec![2],
        test: vec![3, 4],
    }];
    let (rewired, outcome) = rewire_dataset(&dataset, &SdrfConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    crate::data::write_dataset(&rewired, None, dir.path(), &[]).unwrap();
    let again = crate::data::load_dir(dir.path()).unwrap();
    assert_eq!(again.edges, outcome.edges);
    assert_eq!(again.labels, dataset.labels);
    assert_eq!(again.features.to_dense(), dataset.features.to_dense());
    assert_eq!(again.fixed_splits, dataset.fixed_splits);
}
