//! Tiny models (N=4, F=3, d=2, C=2, B=2) and the f64 reference forward pass.
#![allow(dead_code)]

use frameless_engine::writer::*;
use frameless_engine::{Features, ModelKind};

pub const N: usize = 4;
pub const F: usize = 3;
pub const D: usize = 2;
pub const C: usize = 2;
pub const B: usize = 2;

/// Deterministic, non-dyadic weights in (-1, 1).
pub fn vals(seed: u32, len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i as f32 + 1.0) * 0.73 + seed as f32 * 1.31).sin() * 0.9)
        .collect()
}

pub fn linear(seed: u32, in_dim: usize, out_dim: usize) -> Linear {
    Linear {
        in_dim,
        out_dim,
        weight: vals(seed, in_dim * out_dim),
        bias: vals(seed + 100, out_dim),
    }
}

pub fn meta() -> OwnedMetadata {
    OwnedMetadata {
        dataset: "tiny".into(),
        class_names: vec!["left".into(), "right".into()],
        test_accuracy: Some(0.75),
        recipe: vec![
            ("student".into(), "tiny".into()),
            ("lambda".into(), "0.5".into()),
        ],
    }
}

/// The hand-computed mlp: W1 = [[0.5,-1,0.25],[1.5,0.5,-0.5]], b1 = [0.1,-0.2],
/// W2 = [[1,-1],[0.5,2]], b2 = [0,0.3].
pub fn mlp() -> ModelWeights {
    calibrated(ModelWeights {
        kind: ModelKind::Mlp,
        n_nodes: N,
        n_features: F,
        n_classes: C,
        architecture: Architecture::Mlp {
            layers: vec![
                Linear {
                    in_dim: F,
                    out_dim: D,
                    weight: vec![0.5, -1.0, 0.25, 1.5, 0.5, -0.5],
                    bias: vec![0.1, -0.2],
                },
                Linear {
                    in_dim: D,
                    out_dim: C,
                    weight: vec![1.0, -1.0, 0.5, 2.0],
                    bias: vec![0.0, 0.3],
                },
            ],
        },
        metadata: meta(),
        calibration: None,
    })
}

/// `w` calibrated on [`inputs`] at every node (int8 blobs need it).
pub fn calibrated(w: ModelWeights) -> ModelWeights {
    let xs = inputs();
    let all = (0..N).flat_map(|n| xs.iter().map(move |x| (n, Features::Dense(x))));
    let cal = frameless_engine::writer::int8::calibrate(&w, all);
    ModelWeights {
        calibration: Some(cal),
        ..w
    }
}

fn stage(seed: u32, in_dim: usize) -> Stage {
    Stage {
        encoder: linear(seed, in_dim, D),
        tables: (0..B as u32).map(|b| vals(seed + 10 + b, N * D)).collect(),
        gates: (0..B as u32)
            .map(|b| Gate {
                weight: vals(seed + 20 + b, 2 * D),
                bias: 0.1 * b as f32 - 0.05,
            })
            .collect(),
    }
}

/// fmlp-s (`stages == 1`) or fmlp-o with `stages` stages.
pub fn frameless(stages: usize) -> ModelWeights {
    calibrated(ModelWeights {
        kind: if stages == 1 {
            ModelKind::FmlpS
        } else {
            ModelKind::FmlpO
        },
        n_nodes: N,
        n_features: F,
        n_classes: C,
        architecture: Architecture::Frameless {
            stages: (0..stages)
                .map(|s| stage(40 * s as u32 + 1, if s == 0 { F } else { D }))
                .collect(),
            band_classifiers: (0..B as u32).map(|b| linear(200 + b, D, C)).collect(),
            feature_classifier: linear(300, D, C),
        },
        metadata: meta(),
        calibration: None,
    })
}

/// The contract's forward semantics in f64: (logits, gates), from the
/// engine's reference forward.
pub fn forward64(w: &ModelWeights, node: usize, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    reference::forward::<f64>(w, node, Features::Dense(x), |_| {})
}

/// Feature vectors used by the tests (with zeros, so sparse input differs).
pub fn inputs() -> Vec<Vec<f32>> {
    vec![
        vec![1.0, 2.0, -1.0],
        vec![0.0, 0.5, 0.0],
        vec![-0.3, 0.0, 0.9],
        vec![0.0, 0.0, 0.0],
        vec![2.5, -1.25, 0.125],
    ]
}

/// All tiny models: mlp, fmlp-s, 2-stage fmlp-o.
pub fn all_models() -> Vec<ModelWeights> {
    vec![mlp(), frameless(1), frameless(2)]
}
