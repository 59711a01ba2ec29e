//! Shared fixtures for unit tests: a small deterministic graph problem.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use candle_core::{DType, Tensor};

use crate::graph::Graph;
use crate::sparse::Csr;
use crate::student::StudentGraph;

/// A toy node-classification problem with a "teacher" that knows the labels.
pub struct Toy {
    pub graph: StudentGraph,
    pub features: Csr,
    pub labels: Vec<i64>,
    pub teacher: Vec<f32>,
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    pub test: Vec<u32>,
}

/// `n` nodes, `f` sparse features, `c` classes, two Haar-like bands.
pub fn toy(n: usize, f: usize, c: usize, seed: u64) -> Toy {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let labels: Vec<i64> = (0..n).map(|i| (i % c) as i64).collect();
    let mut edges = Vec::new();
    for u in 0..n {
        for _ in 0..2 {
            let v = if rng.random::<f64>() < 0.8 {
                (rng.random_range(0..n / c) * c + u % c) % n
            } else {
                rng.random_range(0..n)
            };
            edges.push((u as u32, v as u32));
        }
    }
    let g = Graph::from_edges(n, &edges).unwrap();
    let mut triplets = Vec::new();
    for (i, &y) in labels.iter().enumerate() {
        triplets.push((i as u32, (y as usize % f) as u32, 1.0));
        for _ in 0..3 {
            let j = rng.random_range(0..f) as u32;
            triplets.push((i as u32, j, rng.random_range(0.2..1.0)));
        }
    }
    let features = Csr::from_triplets(n, f, &triplets).unwrap();
    let l = g.laplacian();
    let a = g.normalized_adjacency();
    let low = Csr::identity(n, 0.8).add_scaled(1.0, &l, -0.35).unwrap();
    let high = l.add_scaled(0.4, &Csr::identity(n, 0.0), 0.0).unwrap();
    let graph = StudentGraph::new(
        features.clone(),
        vec![("low".into(), low, a.clone()), ("high".into(), high, a)],
    )
    .unwrap();
    let mut teacher = Vec::with_capacity(n * c);
    for &y in &labels {
        for k in 0..c {
            let p: f32 = if k as i64 == y {
                0.7
            } else {
                0.3 / (c - 1) as f32
            };
            teacher.push(p.ln());
        }
    }
    let idx: Vec<u32> = (0..n as u32).collect();
    let (train, rest) = idx.split_at(n / 3);
    let (val, test) = rest.split_at(n / 3);
    Toy {
        graph,
        features,
        labels,
        teacher,
        train: train.to_vec(),
        val: val.to_vec(),
        test: test.to_vec(),
    }
}

/// A student of `kind` distilled on `toy(80, 10, 3, 5)` for a few epochs, its weights
/// and its f32 logits.
pub fn trained(
    kind: crate::student::StudentKind,
    seed: u64,
) -> (
    Toy,
    crate::student::Student,
    frameless_engine::writer::ModelWeights,
    Vec<f32>,
) {
    use crate::distill::{distill, DistillConfig, Targets};
    use crate::student::{Mode, StudentConfig};
    let t = toy(80, 10, 3, 5);
    let targets = Targets {
        teacher_log_probs: &t.teacher,
        labels: &t.labels,
        train: &t.train,
        val: &t.val,
        test: &t.test,
    };
    let settings = DistillConfig {
        max_epochs: 40,
        seed,
        ..DistillConfig::default()
    };
    let config = StudentConfig {
        hidden: 16,
        ..StudentConfig::new(kind)
    };
    let (s, _) = distill(
        &config,
        &t.graph,
        &targets,
        &settings,
        candle_core::DType::F32,
        &mut crate::progress::Progress::ignore(),
    )
    .unwrap();
    let w = crate::quantize::model_weights(&s, &t.graph, Default::default()).unwrap();
    let logits: Vec<f32> = s
        .forward(&t.graph, Mode::Eval)
        .unwrap()
        .logits
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    (t, s, w, logits)
}

/// A tensor's values as the bits of their f64 widening (exact and one-to-one for f32), for
/// bit-for-bit comparisons.
pub fn bits(t: &Tensor) -> Vec<u64> {
    let t = t.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
    t.to_vec1::<f64>()
        .unwrap()
        .into_iter()
        .map(f64::to_bits)
        .collect()
}

/// The [`bits`] of `y`, then of the gradient of `Σ weights ⊙ y` with respect to each of
/// `wrt`: what a fused operation must reproduce of the operations it replaces.
pub fn value_and_gradient_bits(y: &Tensor, weights: &Tensor, wrt: &[&Tensor]) -> Vec<Vec<u64>> {
    let grads = (y * weights)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    std::iter::once(bits(y))
        .chain(wrt.iter().map(|t| bits(grads.get(t).unwrap())))
        .collect()
}
