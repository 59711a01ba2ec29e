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

/// Nanoseconds this thread has run on a CPU (Linux `schedstat`), so the figures stay
/// meaningful on a shared, oversubscribed machine; 0 elsewhere.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Wall and CPU milliseconds of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_ns());
    let out = f();
    let cpu_ms = (cpu_ns() - cpu) as f64 / 1e6;
    (out, wall.elapsed().as_secs_f64() * 1e3, cpu_ms)
}

fn time(
    name: &str,
    n_nodes: usize,
    edges: &[(u32, u32)],
) -> Result<(), Box<dyn std::error::Error>> {
    let (curvature, wall_c, cpu_c) =
        timed(|| Graph::from_edges(n_nodes, edges).map(|g| balanced_forman_curvature(&g)));
    let min = curvature?.iter().copied().fold(f64::INFINITY, f64::min);
    let (out, wall_s, cpu_s) = timed(|| sdrf(n_nodes, edges, &SdrfConfig::default()));
    let out = out?;
    println!(
        "{name}: {n_nodes} nodes, {} edges; curvature {wall_c:.0} ms wall / {cpu_c:.0} ms cpu \
         (min {min:.3}); curvature + 10 SDRF rounds {wall_s:.0} ms wall / {cpu_s:.0} ms cpu \
         (+{} −{} edges)",
        edges.len(),
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
