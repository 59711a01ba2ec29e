//! Times balanced Forman curvature and 10 SDRF rounds on Chameleon and on a random
//! graph with 100k edges.
//!
//! `cargo run --release -p frameless-distiller --example sdrf_timing [EDGES.txt]`
//! (default `../shared/datasets/chameleon/edges.txt`: TAB-separated `u v`, `u < v`).

use std::collections::BTreeSet;
use std::time::Instant;

use frameless_distiller::surgery::{balanced_forman_curvature, sdrf, Graph, SdrfConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn time(
    name: &str,
    n_nodes: usize,
    edges: &[(u32, u32)],
) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let g = Graph::from_edges(n_nodes, edges)?;
    let curvature = balanced_forman_curvature(&g);
    let t_curv = start.elapsed();
    let min = curvature.iter().copied().fold(f64::INFINITY, f64::min);
    let start = Instant::now();
    let out = sdrf(n_nodes, edges, &SdrfConfig::default())?;
    let t_sdrf = start.elapsed();
    let max_deg = (0..n_nodes as u32).map(|v| g.degree(v)).max().unwrap_or(0);
    println!(
        "{name}: {n_nodes} nodes, {} edges, max degree {max_deg}; curvature {:.1} ms (min {min:.3}); \
         sdrf 10 rounds incl. initial curvature {:.1} ms (+{} −{} edges)",
        edges.len(),
        t_curv.as_secs_f64() * 1e3,
        t_sdrf.as_secs_f64() * 1e3,
        out.added.len(),
        out.removed.len()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/datasets/chameleon/edges.txt".into());
    let mut set = BTreeSet::new();
    for line in std::fs::read_to_string(&path)?.lines() {
        let mut it = line.split_whitespace().map(str::parse::<u32>);
        if let (Some(u), Some(v)) = (it.next(), it.next()) {
            let (u, v) = (u?, v?);
            if u != v {
                set.insert((u.min(v), u.max(v)));
            }
        }
    }
    let edges: Vec<_> = set.into_iter().collect();
    let n_nodes = edges
        .iter()
        .map(|e| e.1 as usize + 1)
        .max()
        .unwrap_or(0)
        .max(2277);
    time("chameleon", n_nodes, &edges)?;

    let (n_nodes, n_edges) = (20_000u32, 100_000);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut set = BTreeSet::new();
    while set.len() < n_edges {
        let (u, v) = (rng.random_range(0..n_nodes), rng.random_range(0..n_nodes));
        if u != v {
            set.insert((u.min(v), u.max(v)));
        }
    }
    let edges: Vec<_> = set.into_iter().collect();
    time("random G(n, m)", n_nodes as usize, &edges)
}
