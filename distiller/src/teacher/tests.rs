//! Small-graph teacher tests: every architecture learns a CSBM, deterministically.

use candle_core::Device;

use super::*;
use crate::data::{load, Dataset, SplitRates};
use crate::framelet::{self, FrameletOperators};
use crate::progress::{Progress, ProgressEvent};
use crate::testutil::{bits, value_and_gradient_bits};

fn setup() -> (Dataset, FrameletOperators) {
    let source = "synthetic:nodes=240,classes=3,features=16,degree=6,homophily=0.85,seed=1";
    let dataset = load(&source.parse().unwrap()).unwrap();
    let ops = framelet::build(&dataset.graph().unwrap(), &Default::default()).unwrap();
    (dataset, ops)
}

const EVERY_TEACHER: [TeacherKind; 4] = [
    TeacherKind::Spatial,
    TeacherKind::Simplified,
    TeacherKind::Spectral,
    TeacherKind::Gcn,
];

fn config() -> TeacherConfig {
    TeacherConfig {
        hidden: 16,
        epochs: 60,
        patience: 30,
        ..TeacherConfig::default()
    }
}

#[test]
fn every_teacher_learns_and_is_deterministic() {
    let (dataset, ops) = setup();
    let split = dataset.split(0, SplitRates::default());
    for kind in EVERY_TEACHER {
        let mut events = Vec::new();
        let run = train(
            &TeacherData::new(&dataset).unwrap(),
            &ops,
            kind,
            &config(),
            3,
            &split,
            &Device::Cpu,
            &mut Progress::new(|e| events.push(e.clone())),
        )
        .unwrap();
        assert!(
            run.outcome.test_accuracy > 0.7,
            "{kind}: {}",
            run.outcome.test_accuracy
        );
        assert_eq!(run.outcome.log_probs.len(), 240 * 3);
        // Rows are log-probabilities: exp sums to 1.
        let row_sum: f32 = run.outcome.log_probs[..3].iter().map(|v| v.exp()).sum();
        assert!((row_sum - 1.0).abs() < 1e-4);
        assert!(matches!(
            events.first(),
            Some(ProgressEvent::RunStarted { .. })
        ));
        assert_eq!(
            events.last(),
            Some(&ProgressEvent::RunFinished {
                epochs: run.outcome.epochs
            })
        );
        let again = train(
            &TeacherData::new(&dataset).unwrap(),
            &ops,
            kind,
            &config(),
            3,
            &split,
            &Device::Cpu,
            &mut Progress::ignore(),
        )
        .unwrap();
        assert_eq!(run.outcome.log_probs, again.outcome.log_probs, "{kind}");
        assert!(run.outcome.best_epoch < run.outcome.epochs);
    }
}

#[test]
fn f64_training_works() {
    let (dataset, ops) = setup();
    let split = dataset.split(1, SplitRates::default());
    let config = TeacherConfig {
        dtype: ComputeDtype::F64,
        epochs: 20,
        ..config()
    };
    let run = train(
        &TeacherData::new(&dataset).unwrap(),
        &ops,
        TeacherKind::Spatial,
        &config,
        0,
        &split,
        &Device::Cpu,
        &mut Progress::ignore(),
    )
    .unwrap();
    assert!(
        run.outcome.test_accuracy > 0.5,
        "{}",
        run.outcome.test_accuracy
    );
}

#[test]
fn bad_inputs_are_typed_errors() {
    let (dataset, ops) = setup();
    let mut split = dataset.split(0, SplitRates::default());
    let run = |config: &TeacherConfig, split: &crate::data::Split| {
        train(
            &TeacherData::new(&dataset).unwrap(),
            &ops,
            TeacherKind::Spatial,
            config,
            0,
            split,
            &Device::Cpu,
            &mut Progress::ignore(),
        )
    };
    let bad = TeacherConfig {
        dropout: 1.0,
        ..config()
    };
    assert!(matches!(
        run(&bad, &split),
        Err(TeacherError::Dropout { dropout: 1.0 })
    ));
    let bad = TeacherConfig {
        epochs: 0,
        ..config()
    };
    assert!(matches!(
        run(&bad, &split),
        Err(TeacherError::ZeroSize { epochs: 0, .. })
    ));
    split.train.push(10_000);
    assert!(matches!(
        run(&config(), &split),
        Err(TeacherError::UnlabelledNode { node: 10_000 })
    ));
}

/// The spatial layer's element-wise passes (ReLU signs, bias, mask, band columns) split
/// over the pool in blocks of 64 rows on a graph large enough to split (N·d ≥ 2^20, d not
/// a multiple of 64): values and gradients bit for bit the candle chain's, on one thread
/// and on two.
#[test]
fn spatial_layer_gives_the_same_bits_on_two_threads() {
    use super::spatial::SpatialLayer;
    use candle_core::{DType, Var};

    let source = "synthetic:nodes=30000,classes=3,features=8,degree=4,seed=2";
    let dataset = load(&source.parse().unwrap()).unwrap();
    let ops = framelet::build(&dataset.graph().unwrap(), &Default::default()).unwrap();
    let bands = super::models::BandOps::all(&ops);
    let (n, d) = (dataset.n_nodes(), 40);
    assert!(n * d >= crate::threads::PARALLEL_MIN_WORK);
    let run = |fused: bool| {
        let mut rng = crate::train::SeededRng::new(5);
        let projected = rng.uniform((n, d * bands.len()), 1.0, DType::F32, &Device::Cpu);
        let projected = Var::from_tensor(&projected.unwrap()).unwrap();
        let bias = rng.uniform((1, d), 0.5, DType::F32, &Device::Cpu).unwrap();
        let bias = Var::from_tensor(&bias).unwrap();
        let weights = rng.uniform((n, d), 1.0, DType::F32, &Device::Cpu).unwrap();
        let out = if fused {
            SpatialLayer::new(super::models::band_pairs(&bands), d)
                .apply(projected.as_tensor(), bias.as_tensor())
        } else {
            super::models::spatial_chain(&bands, projected.as_tensor(), bias.as_tensor(), d)
        };
        value_and_gradient_bits(
            &out.unwrap(),
            &weights,
            &[projected.as_tensor(), bias.as_tensor()],
        )
    };
    let chain = crate::threads::with_threads(1, || run(false)).unwrap();
    let one = crate::threads::with_threads(1, || run(true)).unwrap();
    let two = crate::threads::with_threads(2, || run(true)).unwrap();
    assert!(one[0].iter().any(|&b| b != 0), "all zero");
    assert_eq!(one, chain, "one thread");
    assert_eq!(two, chain, "two threads");
}

/// The first spatial layer (`X·Θ` inside the operation, `∂Θ` formed band by band where
/// `band_by_band` allows) against `X·Θ` by [`FeatureMatrix::matmul`] and the chain of
/// candle operations: the same output and gradients, bit for bit. More than 512 nodes, so
/// that gemm's blocking of the sum over the nodes would show a width it depends on.
#[test]
fn first_spatial_layer_matches_the_chain() {
    use super::models::{band_pairs, spatial_chain, BandOps};
    use super::spatial::SpatialLayer;
    use crate::sparse::{Csr, FeatureMatrix};
    use candle_core::{DType, Var};

    let source = "synthetic:nodes=1500,classes=3,features=4,degree=6,seed=2";
    let dataset = load(&source.parse().unwrap()).unwrap();
    let ops = framelet::build(&dataset.graph().unwrap(), &Default::default()).unwrap();
    let bands = BandOps::all(&ops);
    let n = dataset.n_nodes();
    let mut rng = crate::train::SeededRng::new(5);
    let mut matrix = |f: usize, every: usize| {
        let values = rng.uniform((n, f), 1.0, DType::F32, &Device::Cpu).unwrap();
        let values: Vec<f32> = values.flatten_all().unwrap().to_vec1().unwrap();
        let triplets: Vec<(u32, u32, f32)> = (0..n * f)
            .filter(|k| k % every == 0)
            .map(|k| ((k / f) as u32, (k % f) as u32, values[k]))
            .collect();
        FeatureMatrix::from_csr(Csr::from_triplets(n, f, &triplets).unwrap()).unwrap()
    };
    // (features, width d): dense below and above gemm's small sizes, a width under 4,
    // and sparse features.
    let cases = [
        (matrix(16, 1), 64),
        (matrix(80, 1), 64),
        (matrix(80, 1), 2),
        (matrix(80, 37), 64),
    ];
    for (features, d) in cases {
        let label = format!(
            "F = {}, d = {d}, sparse {}",
            features.n_cols(),
            features.is_sparse()
        );
        let theta = rng
            .uniform(
                (features.n_cols(), d * bands.len()),
                0.3,
                DType::F32,
                &Device::Cpu,
            )
            .unwrap();
        let theta = Var::from_tensor(&theta).unwrap();
        let bias =
            Var::from_tensor(&rng.uniform((1, d), 0.5, DType::F32, &Device::Cpu).unwrap()).unwrap();
        let weights = rng.uniform((n, d), 1.0, DType::F32, &Device::Cpu).unwrap();
        let run = |out: candle_core::Tensor| {
            value_and_gradient_bits(&out, &weights, &[theta.as_tensor(), bias.as_tensor()])
        };
        let fused = run(SpatialLayer::new(band_pairs(&bands), d)
            .apply_first(&features, theta.as_tensor(), bias.as_tensor())
            .unwrap());
        let projected = features.matmul(theta.as_tensor()).unwrap();
        let chain = run(spatial_chain(&bands, &projected, bias.as_tensor(), d).unwrap());
        assert!(fused[1].iter().any(|&b| b != 0), "{label}: all zero");
        assert_eq!(fused, chain, "{label}");
    }
}

/// The one-operation spatial layer computes the candle chain's values and gradients bit
/// for bit, in f32 and f64, with two bands (Haar) and five (linear, Lev 2), on a hidden
/// layer's input (the first layer, on dense and on sparse features:
/// `first_spatial_layer_matches_the_chain`).
#[test]
fn spatial_layer_matches_the_chain() {
    use super::models::{band_pairs, spatial_chain, BandOps};
    use super::spatial::SpatialLayer;
    use candle_core::{DType, Tensor, Var};

    let (dataset, _) = setup();
    let graph = dataset.graph().unwrap();
    for (kind, levels) in [
        (framelet::FrameletKind::Haar, 1),
        (framelet::FrameletKind::Linear, 2),
    ] {
        let fc = framelet::FrameletConfig {
            kind,
            levels,
            ..Default::default()
        };
        let ops = framelet::build(&graph, &fc).unwrap();
        let bands = BandOps::all(&ops);
        let (n, d) = (dataset.n_nodes(), 7);
        for dtype in [DType::F32, DType::F64] {
            let mut rng = crate::train::SeededRng::new(3);
            let projected = rng
                .uniform((n, d * bands.len()), 1.0, dtype, &Device::Cpu)
                .unwrap();
            let projected = Var::from_tensor(&projected).unwrap();
            let bias =
                Var::from_tensor(&rng.uniform((1, d), 0.5, dtype, &Device::Cpu).unwrap()).unwrap();
            let weights = rng.uniform((n, d), 1.0, dtype, &Device::Cpu).unwrap();
            let run = |out: Tensor| {
                value_and_gradient_bits(&out, &weights, &[projected.as_tensor(), bias.as_tensor()])
            };
            let fused = run(SpatialLayer::new(band_pairs(&bands), d)
                .apply(projected.as_tensor(), bias.as_tensor())
                .unwrap());
            let chain =
                run(spatial_chain(&bands, projected.as_tensor(), bias.as_tensor(), d).unwrap());
            assert!(
                fused[0].iter().any(|&b| b != 0),
                "{kind:?} {dtype:?}: all zero"
            );
            assert_eq!(fused, chain, "{kind:?} Lev {levels} {dtype:?}");
        }
    }
}

#[test]
fn the_kept_first_layer_changes_no_value() {
    // Each epoch ends by computing the new weights' first layer, which the evaluation and
    // the next training forward reuse; recomputing it instead must give the same bits.
    let (dataset, ops) = setup();
    let split = dataset.split(0, SplitRates::default());
    let data = TeacherData::new(&dataset).unwrap();
    for kind in EVERY_TEACHER {
        let new = || Trainer::new(&data, &ops, kind, &config(), 3, &split, &Device::Cpu);
        let (mut kept, mut recomputed) = (new().unwrap(), new().unwrap());
        for _ in 0..5 {
            let kept_loss = kept.epoch().unwrap();
            recomputed.forget_first_layer();
            let recomputed_loss = recomputed.epoch().unwrap();
            recomputed.forget_first_layer();
            assert_eq!(kept_loss.to_bits(), recomputed_loss.to_bits(), "{kind}");
            let (a, b) = (kept.log_probs().unwrap(), recomputed.log_probs().unwrap());
            assert_eq!(bits(&a), bits(&b), "{kind}");
        }
    }
}
