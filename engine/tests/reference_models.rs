//! The engine against an independent f64 forward pass on tiny models
//! (N=4, F=3, d=2, C=2, B=2) for every kind and precision.

mod common;
use common::*;
use frameless_engine::writer::write_blob;
use frameless_engine::{Features, Model, Precision};

/// int8 logits may differ from the f64 reference by at most this (absolute):
/// two or three quantised products per logit, each off by <= half a step of
/// max|w|/127 and max|x|/127, on values of magnitude ~1.
const INT8_LOGIT_BOUND: f64 = 0.05;

fn sparse_of(x: &[f32]) -> (Vec<u32>, Vec<f32>) {
    x.iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| (i as u32, *v))
        .unzip()
}

fn check(prec: Precision, tol: f64) {
    for w in all_models() {
        let blob = write_blob(&w, prec).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let mut scratch = vec![0.0f32; model.scratch_len()];
        let mut scratch2 = vec![0.0f32; model.scratch_len()];
        for node in 0..N as u32 {
            for x in inputs() {
                let (want, want_gates) = forward64(&w, node as usize, &x);
                let p = model
                    .predict(node, Features::Dense(&x), &mut scratch)
                    .unwrap();
                let (idx, vals) = sparse_of(&x);
                let q = model
                    .predict(
                        node,
                        Features::Sparse {
                            indices: &idx,
                            values: &vals,
                        },
                        &mut scratch2,
                    )
                    .unwrap();
                assert_eq!(p, q, "dense and sparse differ: {} {prec}", w.kind);
                assert_eq!(p.logits.len(), C);
                for (a, b) in p.logits.iter().zip(&want) {
                    assert!(
                        (f64::from(*a) - b).abs() <= tol,
                        "{} {prec} node {node} x {x:?}: {a} vs {b}",
                        w.kind
                    );
                }
                assert_eq!(p.gates.len(), want_gates.len());
                for (a, b) in p.gates.iter().zip(&want_gates) {
                    assert!(
                        (f64::from(*a) - b).abs() <= tol.max(1e-5),
                        "{} {prec} gate {a} vs {b}",
                        w.kind
                    );
                }
                let argmax = if want[1] > want[0] { 1 } else { 0 };
                if (want[1] - want[0]).abs() > 2.0 * tol {
                    assert_eq!(p.class, argmax, "{} {prec} node {node} x {x:?}", w.kind);
                }
            }
        }
    }
}

#[test]
fn f32_matches_f64_reference() {
    check(Precision::F32, 1e-5);
}

#[test]
fn f16_matches_f64_reference() {
    check(Precision::F16, 1e-2);
}

#[test]
fn int8_matches_f64_reference_within_bound() {
    check(Precision::Int8, INT8_LOGIT_BOUND);
}

#[test]
fn mlp_hand_computed() {
    // h = relu(W1 x + b1) = relu([0.5-2-0.25+0.1, 1.5+1+0.5-0.2]) = [0, 2.8]
    // logits = W2 h + b2 = [-2.8, 5.6+0.3] = [-2.8, 5.9], class 1.
    let blob = write_blob(&mlp(), Precision::F32).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let mut s = vec![0.0; model.scratch_len()];
    let p = model
        .predict(0, Features::Dense(&[1.0, 2.0, -1.0]), &mut s)
        .unwrap();
    assert!(
        (p.logits[0] + 2.8).abs() < 1e-5 && (p.logits[1] - 5.9).abs() < 1e-5,
        "{:?}",
        p.logits
    );
    assert_eq!(p.class, 1);
    assert!(p.gates.is_empty());
    assert_eq!(model.metadata().class_name(p.class), Some("right"));
    assert_eq!(model.metadata().test_accuracy, Some(0.75));
}

#[test]
fn gates_depend_on_node() {
    // E tables differ per node, so the gates must too: proves the node's row is read.
    let w = frameless(1);
    let blob = write_blob(&w, Precision::F32).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let mut s = vec![0.0; model.scratch_len()];
    let x = [1.0, 2.0, -1.0];
    let g0 = model
        .predict(0, Features::Dense(&x), &mut s)
        .unwrap()
        .gates
        .to_vec();
    let g3 = model
        .predict(3, Features::Dense(&x), &mut s)
        .unwrap()
        .gates
        .to_vec();
    assert_ne!(g0, g3);
}

#[test]
fn scratch_and_macs() {
    // fmlp-s: C + B + 3d + 2C = 2 + 2 + 6 + 4 = 14 words (f32); integer int8:
    // C + B + 2C (i32 logits, gates, feature and band logits) + d (acc) + 2d lanes (d words) = 12.
    let w = frameless(1);
    let m32 = write_blob(&w, Precision::F32).unwrap();
    let m8 = write_blob(&w, Precision::Int8).unwrap();
    let (a, b) = (
        Model::from_bytes(&m32).unwrap(),
        Model::from_bytes(&m8).unwrap(),
    );
    assert_eq!(a.scratch_len(), 14);
    assert_eq!(b.scratch_len(), 12);
    assert_eq!(b.scratch_bytes(), 48);
    assert!(b.scratch_len() <= frameless_engine::max_scratch_len(&b.dims()));
    // nnz*d + B*2d + (B+1)*d*C = 3*2 + 8 + 12 = 26.
    assert_eq!(a.mac_count(3), 26);
    assert_eq!(a.mac_count(99), 26);
    // mlp: 3*2 + 2*2 = 10.
    let m = write_blob(&mlp(), Precision::F32).unwrap();
    assert_eq!(Model::from_bytes(&m).unwrap().mac_count(3), 10);
}

/// The integer pass against [`QuantizedModel::forward`], bit for bit: logits,
/// gates and class, from int8 features (`predict_int8`) and from f32 ones
/// (`predict`, which quantises with the blob's input scale and converts).
#[test]
fn int8_is_bit_exact_with_the_integer_reference() {
    use frameless_engine::quant::quantize_value_i8;
    use frameless_engine::writer::int8::QuantizedModel;
    let mut checked = 0;
    for w in all_models() {
        let q = QuantizedModel::new(&w).unwrap();
        let blob = write_blob(&w, Precision::Int8).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let copy: Vec<u8> = std::iter::once(0).chain(blob.iter().copied()).collect();
        let shifted = Model::from_bytes(&copy[1..]).unwrap();
        let (s_x, s_l) = (model.calibration(0).unwrap(), model.calibration(1).unwrap());
        let mut scratch = vec![0.0f32; model.scratch_len()];
        for node in 0..N {
            for x in inputs() {
                let xq: Vec<i8> = x.iter().map(|&v| quantize_value_i8(v, s_x)).collect();
                let (want, want_gates) = q.forward(node, Features::Dense(&xq));
                let p = model
                    .predict_int8(node as u32, Features::Dense(&xq), &mut scratch)
                    .unwrap();
                assert_eq!(
                    (p.logits, p.gates),
                    (&want[..], &want_gates[..]),
                    "{} node {node}",
                    w.kind
                );
                let class = p.class;
                let (idx, vals) = sparse_of(&x);
                let vq: Vec<i8> = vals.iter().map(|&v| quantize_value_i8(v, s_x)).collect();
                let sparse = Features::Sparse {
                    indices: &idx,
                    values: &vq[..],
                };
                let ps = model
                    .predict_int8(node as u32, sparse, &mut scratch)
                    .unwrap();
                assert_eq!((ps.class, ps.logits), (class, &want[..]));
                // The same blob one byte off word alignment: its scales and
                // biases are read byte by byte instead of a word at a time.
                let p = shifted
                    .predict_int8(node as u32, Features::Dense(&xq), &mut scratch)
                    .unwrap();
                assert_eq!(p.logits, &want[..], "{} node {node}, unaligned", w.kind);
                let f = model
                    .predict(node as u32, Features::Dense(&x), &mut scratch)
                    .unwrap();
                let logits: Vec<f32> = want.iter().map(|&v| v as f32 * s_l).collect();
                let gates: Vec<f32> = want_gates.iter().map(|&g| g as f32 / 32768.0).collect();
                assert_eq!(
                    (f.class, f.logits, f.gates),
                    (class, &logits[..], &gates[..])
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 3 * N * inputs().len());
}

#[test]
fn predict_int8_needs_an_int8_blob() {
    let blob = write_blob(&mlp(), Precision::F32).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let mut s = vec![0.0; model.scratch_len()];
    let r = model.predict_int8(0, Features::Dense(&[0i8; F]), &mut s);
    assert_eq!(r.unwrap_err(), frameless_engine::Error::NotInt8);
}
