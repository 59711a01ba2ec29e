//! Quantisation tests: the f32 simulation equals the candle student, the rounding rules
//! match the engine's helpers, and the report is sane.

use frameless_engine::writer::Architecture;
use frameless_engine::Precision;

use super::*;
use crate::student::{Params, StudentKind};
use crate::testutil::trained;

#[test]
fn f32_simulation_equals_the_student_forward() {
    for kind in [StudentKind::Mlp, StudentKind::FmlpS, StudentKind::FmlpO] {
        let (t, _, w, logits) = trained(kind, 0);
        let (sim, gates) = simulate(&w, Precision::F32, &t.features);
        let worst = sim
            .iter()
            .zip(&logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "{kind}: {worst}");
        assert_eq!(
            gates.len(),
            if kind == StudentKind::Mlp { 0 } else { 80 * 2 }
        );
    }
}

#[test]
fn weights_are_transposed_to_out_by_in() {
    let (_, s, w, _) = trained(StudentKind::FmlpS, 1);
    let Params::Frameless(p) = &s.params else {
        panic!()
    };
    let Architecture::Frameless { stages, .. } = &w.architecture else {
        panic!()
    };
    let enc = &stages[0].encoder;
    assert_eq!((enc.in_dim, enc.out_dim), (10, 16));
    let cw: Vec<Vec<f32>> = p.stages[0].encoder.weight.as_tensor().to_vec2().unwrap();
    // Engine W[o][j] = candle W[j][o].
    assert_eq!(enc.weight[3 * 10 + 7], cw[7][3]);
    assert_eq!(stages[0].gates[1].weight.len(), 32);
}

#[test]
fn report_covers_every_precision() {
    let (t, _, w, logits) = trained(StudentKind::FmlpO, 2);
    let r = evaluate(&w, &t.features, &t.labels, &t.test, &logits).unwrap();
    assert_eq!(
        r.iter()
            .map(|p| p.precision.to_string())
            .collect::<Vec<_>>(),
        ["f32", "f16", "int8"]
    );
    // The report's JSON names the precision as before the enum: "int8".
    let json = serde_json::to_string(&r[2]).unwrap();
    assert!(json.starts_with(r#"{"precision":"int8","#), "{json}");
    let back: PrecisionReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r[2]);
    assert_eq!(r[0].agreement_with_f32, 1.0);
    assert!(r[2].agreement_with_f32 > 0.9, "{r:?}");
    assert!(r[0].blob_bytes > r[1].blob_bytes && r[1].blob_bytes > r[2].blob_bytes);
    assert!(r.iter().all(|p| p.scratch_bytes > 0));
    assert!(parse_precision("bf16").is_err());
}

#[test]
fn int8_rounding_follows_the_engine_rule() {
    // Row [1.27, -0.5, 0]: scale 0.01, q = [127, -50, 0].
    let mut v = vec![1.27f32, -0.5, 0.0];
    frameless_engine::quant::fake_quantize_i8(&mut v);
    assert!((v[0] - 1.27).abs() < 1e-6 && (v[1] + 0.5).abs() < 1e-6 && v[2] == 0.0);
    assert_eq!(argmax(&[1.0, 3.0, 3.0, 0.0, -1.0, -2.0], 3), vec![1, 0]);
    assert_eq!(agreement(&[1, 2, 3, 4], &[1, 2, 0, 4]), 0.75);
}
