//! Small-graph teacher tests: every architecture learns a CSBM, deterministically.

use candle_core::Device;

use super::*;
use crate::data::{load, Dataset, SplitRates};
use crate::framelet::{self, FrameletOperators};
use crate::progress::{Progress, ProgressEvent};

fn setup() -> (Dataset, FrameletOperators) {
    let source = "synthetic:nodes=240,classes=3,features=16,degree=6,homophily=0.85,seed=1";
    let dataset = load(&source.parse().unwrap()).unwrap();
    let ops = framelet::build(&dataset.graph().unwrap(), &Default::default()).unwrap();
    (dataset, ops)
}

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
    for kind in [
        TeacherKind::Spatial,
        TeacherKind::Simplified,
        TeacherKind::Spectral,
    ] {
        let mut events = Vec::new();
        let run = train(
            &dataset,
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
            &dataset,
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
        &dataset,
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
            &dataset,
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
