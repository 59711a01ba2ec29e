//! Distillation tests: the loss against hand computation, and a short deterministic run.

use candle_core::{DType, Device, Tensor};

use super::*;
use crate::student::{StudentConfig, StudentKind};
use crate::testutil::toy;

fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().to_scalar().unwrap()
}

#[test]
fn kd_loss_matches_hand_computation() {
    let dev = Device::Cpu;
    // Teacher p_t = [0.5, 0.5]; student logits [ln 3, 0] → p_s = [0.75, 0.25].
    // KL = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25) = 0.5 ln(4/3).
    let teacher = Tensor::new(&[[0.5f64.ln(), 0.5f64.ln()]], &dev).unwrap();
    let student = Tensor::new(&[[3f64.ln(), 0.0]], &dev).unwrap();
    let idx = Tensor::new(&[0u32], &dev).unwrap();
    let y = Tensor::new(&[1u32], &dev).unwrap();
    let kl = scalar(&kd_loss(&student, &teacher, &idx, &y, 0.0, 1.0).unwrap());
    assert!((kl - 0.5 * (4f64 / 3.0).ln()).abs() < 1e-12, "{kl}");
    // λ = 0.5: 0.5·KL + 0.5·NLL with NLL = −ln 0.25.
    let mixed = scalar(&kd_loss(&student, &teacher, &idx, &y, 0.5, 1.0).unwrap());
    assert!(
        (mixed - 0.5 * kl - 0.5 * 4f64.ln()).abs() < 1e-12,
        "{mixed}"
    );
    // τ = 2: student softmax([ln3/2, 0]) = [√3, 1]/(√3+1); teacher stays uniform; times τ² = 4.
    let p = 3f64.sqrt() / (3f64.sqrt() + 1.0);
    let want = 4.0 * (0.5 * (0.5 / p).ln() + 0.5 * (0.5 / (1.0 - p)).ln());
    let hot = scalar(&kd_loss(&student, &teacher, &idx, &y, 0.0, 2.0).unwrap());
    assert!((hot - want).abs() < 1e-12, "{hot} vs {want}");
    // Batchmean: two identical rows give the same loss as one.
    let s2 = Tensor::cat(&[&student, &student], 0).unwrap();
    let t2 = Tensor::cat(&[&teacher, &teacher], 0).unwrap();
    assert!((scalar(&kd_loss(&s2, &t2, &idx, &y, 0.0, 1.0).unwrap()) - kl).abs() < 1e-12);
}

#[test]
fn distillation_learns_the_teacher_and_is_deterministic() {
    let t = toy(90, 12, 3, 7);
    let targets = Targets {
        teacher_log_probs: &t.teacher,
        labels: &t.labels,
        train: &t.train,
        val: &t.val,
        test: &t.test,
    };
    let settings = DistillConfig {
        max_epochs: 60,
        patience: 30,
        ..DistillConfig::default()
    };
    for kind in [StudentKind::Mlp, StudentKind::FmlpS, StudentKind::FmlpO] {
        let config = StudentConfig::new(kind);
        let mut events = 0;
        let mut progress = Progress::new(|_| events += 1);
        let (s, r) = distill(
            &config,
            &t.graph,
            &targets,
            &settings,
            DType::F32,
            &mut progress,
        )
        .unwrap();
        drop(progress);
        assert!(r.test_accuracy > 0.6, "{kind}: {r:?}");
        assert!(r.epochs <= 60 && r.best_epoch < r.epochs);
        assert_eq!(events, r.epochs + 2);
        assert_eq!(
            r.mean_gates.len(),
            if kind == StudentKind::Mlp { 0 } else { 2 }
        );
        assert!(r.mean_gates.iter().all(|g| (0.0..=1.0).contains(g)));
        // The best weights are restored: evaluating them gives the reported val accuracy.
        let out = s.forward(&t.graph, crate::student::Mode::Eval).unwrap();
        let pred = argmax_rows(&out.logits).unwrap();
        assert_eq!(accuracy(&pred, &t.labels, &t.val), r.val_accuracy);
        let (s2, r2) = distill(
            &config,
            &t.graph,
            &targets,
            &settings,
            DType::F32,
            &mut Progress::ignore(),
        )
        .unwrap();
        assert_eq!(r.test_accuracy, r2.test_accuracy);
        let a: Vec<f32> = out.logits.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = s2
            .forward(&t.graph, crate::student::Mode::Eval)
            .unwrap()
            .logits
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(a, b, "{kind}: same seed, same weights");
    }
}

#[test]
fn mismatched_inputs_are_errors() {
    let t = toy(30, 6, 3, 1);
    let targets = Targets {
        teacher_log_probs: &t.teacher[3..],
        labels: &t.labels,
        train: &t.train,
        val: &t.val,
        test: &t.test,
    };
    let config = StudentConfig::new(StudentKind::FmlpS);
    let r = distill(
        &config,
        &t.graph,
        &targets,
        &DistillConfig::default(),
        DType::F32,
        &mut Progress::ignore(),
    );
    assert!(matches!(r, Err(DistillError::Coverage { .. })));
    let bad_split = [99u32];
    let targets = Targets {
        teacher_log_probs: &t.teacher,
        train: &bad_split,
        ..targets
    };
    let r = distill(
        &config,
        &t.graph,
        &targets,
        &DistillConfig::default(),
        DType::F32,
        &mut Progress::ignore(),
    );
    assert!(matches!(r, Err(DistillError::SplitOutOfRange)));
}
