//! Engine latency for a Cora-size fmlp-s student (N=2708, F=1433, d=64, C=7,
//! B=2) with random weights: ns per node in f32, f16 and int8, for dense and
//! sparse (~18 non-zeros) input, and for all N nodes. Throughput is counted in
//! MACs (`Model::mac_count`), printed beside the blob and scratch sizes.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use frameless_engine::writer::{
    write_blob, Architecture, Gate, Linear, ModelWeights, OwnedMetadata, Stage,
};
use frameless_engine::{Features, Model, ModelKind, Precision};
use std::hint::black_box;

const N: usize = 2708;
const F: usize = 1433;
const D: usize = 64;
const C: usize = 7;
const B: usize = 2;
const NNZ: usize = 18;

/// xorshift64*: deterministic weights without a rand dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32() * scale).collect()
    }
}

fn linear(r: &mut Rng, i: usize, o: usize) -> Linear {
    let s = 1.0 / (i as f32).sqrt();
    Linear {
        in_dim: i,
        out_dim: o,
        weight: r.vec(i * o, s),
        bias: r.vec(o, 0.1),
    }
}

fn cora_student() -> ModelWeights {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let stage = Stage {
        encoder: linear(&mut r, F, D),
        tables: (0..B).map(|_| r.vec(N * D, 1.0)).collect(),
        gates: (0..B)
            .map(|_| Gate {
                weight: r.vec(2 * D, 0.2),
                bias: 0.0,
            })
            .collect(),
    };
    ModelWeights {
        kind: ModelKind::FmlpS,
        n_nodes: N,
        n_features: F,
        n_classes: C,
        architecture: Architecture::Frameless {
            stages: vec![stage],
            band_classifiers: (0..B).map(|_| linear(&mut r, D, C)).collect(),
            feature_classifier: linear(&mut r, D, C),
        },
        metadata: OwnedMetadata {
            dataset: "cora-size random".into(),
            ..Default::default()
        },
        calibration: None,
    }
}

/// One sparse input: ascending feature indices and their values.
type SparseInput = (Vec<u32>, Vec<f32>);

/// 64 sparse bag-of-words vectors with NNZ ones each, and their dense form.
fn inputs() -> (Vec<SparseInput>, Vec<Vec<f32>>) {
    let mut r = Rng(42);
    let sparse: Vec<SparseInput> = (0..64)
        .map(|_| {
            let mut idx: Vec<u32> = Vec::new();
            while idx.len() < NNZ {
                let j = (r.next() % F as u64) as u32;
                if !idx.contains(&j) {
                    idx.push(j);
                }
            }
            idx.sort_unstable();
            (idx, vec![1.0; NNZ])
        })
        .collect();
    let dense = (0..64).map(|_| r.vec(F, 1.0)).collect();
    (sparse, dense)
}

fn bench(c: &mut Criterion) {
    let (sparse, dense) = inputs();
    // int8 calibrates on the inputs the bench feeds, at every node.
    let sparse_x = sparse
        .iter()
        .map(|(indices, values)| Features::Sparse { indices, values });
    let dense_x = dense.iter().map(|x| Features::Dense(x));
    let xs: Vec<Features> = sparse_x.chain(dense_x).collect();
    let weights = cora_student().calibrated((0..N).map(|n| (n, xs[n % xs.len()])));
    for prec in [Precision::F32, Precision::F16, Precision::Int8] {
        let blob = write_blob(&weights, prec).expect("valid student");
        let model = Model::from_bytes(&blob).expect("valid blob");
        let mut scratch = vec![0.0f32; model.scratch_len()];
        println!(
            "fmlp-s cora-size {prec}: blob {} bytes, scratch {} bytes, MACs/inference sparse(nnz={NNZ}) {}, dense {}",
            blob.len(),
            model.scratch_bytes(),
            model.mac_count(NNZ),
            model.mac_count(F)
        );
        let mut g = c.benchmark_group(format!("fmlp-s-cora/{prec}"));
        g.throughput(Throughput::Elements(model.mac_count(NNZ)));
        let mut i = 0usize;
        g.bench_function("sparse-node", |b| {
            b.iter(|| {
                i = (i + 1) % N;
                let (idx, val) = &sparse[i % sparse.len()];
                let f = Features::Sparse {
                    indices: idx,
                    values: val,
                };
                black_box(
                    model
                        .predict(black_box(i as u32), f, &mut scratch)
                        .map(|p| p.class),
                )
            })
        });
        g.throughput(Throughput::Elements(model.mac_count(F)));
        g.bench_function("dense-node", |b| {
            b.iter(|| {
                i = (i + 1) % N;
                let f = Features::Dense(&dense[i % dense.len()]);
                black_box(
                    model
                        .predict(black_box(i as u32), f, &mut scratch)
                        .map(|p| p.class),
                )
            })
        });
        g.throughput(Throughput::Elements(model.mac_count(NNZ) * N as u64));
        g.sample_size(20);
        g.bench_function("sparse-all-nodes", |b| {
            b.iter(|| {
                let mut acc = 0u32;
                for node in 0..N {
                    let (idx, val) = &sparse[node % sparse.len()];
                    let f = Features::Sparse {
                        indices: idx,
                        values: val,
                    };
                    if let Ok(p) = model.predict(node as u32, f, &mut scratch) {
                        acc = acc.wrapping_add(p.class);
                    }
                }
                black_box(acc)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
