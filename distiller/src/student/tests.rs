//! Student tests: an independent dense reference of the fmlp-s forward, a gradient check
//! in f64 against central differences, and table precomputation.

use candle_core::{DType, Tensor};

use super::*;
use crate::testutil::toy;
use crate::train::{kd_loss, Dense};

fn vec2(t: &Tensor) -> Vec<Vec<f64>> {
    t.to_dtype(DType::F64).unwrap().to_vec2().unwrap()
}

/// Dense `A · X` for the test reference (tests only: N is tiny).
fn dense_mul(a: &Csr, x: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let d = a.to_dense();
    let (n, m) = (a.n_rows, a.n_cols);
    (0..n)
        .map(|i| {
            (0..x[0].len())
                .map(|k| (0..m).map(|j| d[i * m + j] * x[j][k]).sum())
                .collect()
        })
        .collect()
}

fn lin(x: &[Vec<f64>], d: &Dense) -> Vec<Vec<f64>> {
    let w = vec2(d.weight.as_tensor());
    let b = vec2(d.bias.as_tensor());
    x.iter()
        .map(|row| {
            (0..w[0].len())
                .map(|o| b[0][o] + row.iter().zip(&w).map(|(v, wr)| v * wr[o]).sum::<f64>())
                .collect()
        })
        .collect()
}

#[test]
fn fmlp_s_forward_matches_a_dense_hand_computation() {
    let t = toy(12, 5, 3, 1);
    let config = StudentConfig {
        hidden: 4,
        ..StudentConfig::new(StudentKind::FmlpS)
    };
    let s = Student::new(&config, &t.graph, 3, &mut SeededRng::new(3), DType::F64).unwrap();
    let Params::Frameless(p) = &s.params else {
        panic!()
    };
    let out = s.forward(&t.graph, Mode::Eval).unwrap();
    // Reference: x dense; E_b = (W_bᵀ Â_b W_b)² M_b + c_b; α_b = σ(a_b·[E_b ‖ h_x] + β_b);
    // logits = Σ_b (1 − α_b) Cls_b(E_b) + α_b Cls_x(h_x).
    let xd = t.features.to_dense();
    let x: Vec<Vec<f64>> = xd.chunks(5).map(<[f64]>::to_vec).collect();
    let hx = lin(&x, &p.stages[0].encoder);
    let zx = lin(&hx, &p.feature_classifier);
    let mut want = vec![vec![0f64; 3]; 12];
    for (b, band) in t.graph.bands.iter().enumerate() {
        let w = band.transform.matrix();
        let a = band.propagation.matrix();
        let mut e = vec2(p.stages[0].tables[b].as_tensor());
        for _ in 0..2 {
            e = dense_mul(&w.transpose(), &dense_mul(a, &dense_mul(w, &e)));
        }
        let c = vec2(p.stages[0].table_biases[b].as_tensor());
        e.iter_mut()
            .for_each(|r| r.iter_mut().zip(&c[0]).for_each(|(v, cb)| *v += cb));
        let cat: Vec<Vec<f64>> = e
            .iter()
            .zip(&hx)
            .map(|(a, b)| [a.clone(), b.clone()].concat())
            .collect();
        let z = lin(&cat, &p.stages[0].gates[b]);
        let zb = lin(&e, &p.band_classifiers[b]);
        for i in 0..12 {
            let alpha = 1.0 / (1.0 + (-z[i][0]).exp());
            for k in 0..3 {
                want[i][k] += (1.0 - alpha) * zb[i][k] + alpha * zx[i][k];
            }
        }
    }
    let got = vec2(&out.logits);
    for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
        assert!((g - w).abs() < 1e-9, "{g} vs {w}");
    }
    assert_eq!(out.gates.len(), 2);
}

/// The test loss; with `train`, a training pass whose dropout masks come from that seed
/// (the same masks on every call, so the loss is a smooth function of the weights).
fn loss_of(s: &Student, t: &crate::testutil::Toy, teacher: &Tensor, train: Option<u64>) -> Tensor {
    let mut rng = SeededRng::new(train.unwrap_or(0));
    let mode = match train {
        Some(_) => Mode::Train(&mut rng),
        None => Mode::Eval,
    };
    let out = s.forward(&t.graph, mode).unwrap();
    let idx = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
    let y = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
    kd_loss(&out.logits, teacher, &idx, &y, 0.3, 2.0).unwrap()
}

/// Central differences in f64 against autograd, for a few entries of every variable.
fn gradcheck(config: StudentConfig) {
    gradcheck_in(config, None);
}

/// [`gradcheck`] of an evaluation pass, or of a training pass with the masks of `train`.
fn gradcheck_in(config: StudentConfig, train: Option<u64>) {
    let t = toy(9, 4, 3, 2);
    let s = Student::new(&config, &t.graph, 3, &mut SeededRng::new(5), DType::F64).unwrap();
    let teacher = Tensor::from_slice(&t.teacher, (9, 3), &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let grads = loss_of(&s, &t, &teacher, train).backward().unwrap();
    let h = 1e-6;
    for var in s.vars() {
        let g: Vec<f64> = grads
            .get(&var)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let base: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        for k in (0..base.len()).step_by(base.len().div_ceil(4)) {
            let eval = |delta: f64| {
                let mut v = base.clone();
                v[k] += delta;
                var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                loss_of(&s, &t, &teacher, train).to_scalar::<f64>().unwrap()
            };
            let numeric = (eval(h) - eval(-h)) / (2.0 * h);
            var.set(&Tensor::from_vec(base.clone(), var.shape(), &Device::Cpu).unwrap())
                .unwrap();
            assert!(
                (numeric - g[k]).abs() <= 1e-6 + 1e-5 * numeric.abs(),
                "{:?} var {:?} entry {k}: numeric {numeric} autograd {}",
                config.kind,
                var.shape(),
                g[k]
            );
        }
    }
}

#[test]
fn gradcheck_every_student() {
    let small = |kind| StudentConfig {
        hidden: 3,
        ..StudentConfig::new(kind)
    };
    gradcheck(small(StudentKind::Mlp));
    gradcheck(small(StudentKind::FmlpS));
    gradcheck(StudentConfig {
        stages: 3,
        ..small(StudentKind::FmlpO)
    });
    gradcheck(StudentConfig {
        tie_bands: true,
        ..small(StudentKind::FmlpS)
    });
}

#[test]
fn feature_tables_are_the_propagated_projection_and_train_it() {
    let t = toy(12, 5, 3, 6);
    let config = StudentConfig {
        hidden: 4,
        feature_tables: true,
        ..StudentConfig::new(StudentKind::FmlpS)
    };
    let s = Student::new(&config, &t.graph, 3, &mut SeededRng::new(2), DType::F64).unwrap();
    let Params::Frameless(p) = &s.params else {
        panic!()
    };
    // V_b is F × d, and the table is E_b = P_b² (X V_b) + c_b.
    let xd = t.features.to_dense();
    let x: Vec<Vec<f64>> = xd.chunks(5).map(<[f64]>::to_vec).collect();
    let tables = s.tables(&t.graph).unwrap();
    for (b, band) in t.graph.bands.iter().enumerate() {
        let v = vec2(p.stages[0].tables[b].as_tensor());
        assert_eq!((v.len(), v[0].len()), (5, 4));
        let (w, a) = (band.transform.matrix(), band.propagation.matrix());
        let mut e: Vec<Vec<f64>> = x
            .iter()
            .map(|row| {
                (0..4)
                    .map(|o| row.iter().zip(&v).map(|(xi, vr)| xi * vr[o]).sum())
                    .collect()
            })
            .collect();
        for _ in 0..2 {
            e = dense_mul(&w.transpose(), &dense_mul(a, &dense_mul(w, &e)));
        }
        let c = vec2(p.stages[0].table_biases[b].as_tensor());
        let got = vec2(&tables[0][b]);
        for (g, want) in got.iter().zip(&e) {
            for ((g, want), cb) in g.iter().zip(want).zip(&c[0]) {
                assert!(
                    (g - (want + cb)).abs() < 1e-9,
                    "band {b}: {g} vs {}",
                    want + cb
                );
            }
        }
    }
    // Gradients of V_b through the evaluation pass and the training pass (whose fused
    // dropped table takes its gradient back through X V_b).
    let small = |kind| StudentConfig {
        hidden: 3,
        feature_tables: true,
        ..StudentConfig::new(kind)
    };
    for kind in [StudentKind::FmlpS, StudentKind::FmlpO] {
        gradcheck_in(small(kind), None);
        gradcheck_in(
            StudentConfig {
                dropout: 0.3,
                ..small(kind)
            },
            Some(9),
        );
    }
}

#[test]
fn precomputed_tables_give_the_same_forward() {
    let t = toy(20, 6, 2, 3);
    for kind in [StudentKind::Mlp, StudentKind::FmlpS, StudentKind::FmlpO] {
        let s = Student::new(
            &StudentConfig::new(kind),
            &t.graph,
            2,
            &mut SeededRng::new(1),
            DType::F32,
        )
        .unwrap();
        let tables = s.tables(&t.graph).unwrap();
        let expect_stages = match kind {
            StudentKind::Mlp => 0,
            StudentKind::FmlpS => 1,
            StudentKind::FmlpO => 2,
        };
        assert_eq!(tables.len(), expect_stages);
        let a = s.forward(&t.graph, Mode::Eval).unwrap().logits;
        let b = s
            .forward_with_tables(&t.graph, tables.clone(), Mode::Eval)
            .unwrap()
            .logits;
        assert_eq!(vec2(&a), vec2(&b));
        assert_eq!(a.dims(), &[20, 2]);
    }
}

#[test]
fn tied_bands_share_one_table_and_classifier() {
    let t = toy(10, 4, 2, 4);
    let config = StudentConfig {
        tie_bands: true,
        ..StudentConfig::new(StudentKind::FmlpO)
    };
    let s = Student::new(&config, &t.graph, 2, &mut SeededRng::new(0), DType::F32).unwrap();
    let Params::Frameless(p) = &s.params else {
        panic!()
    };
    assert!(p
        .stages
        .iter()
        .all(|st| st.tables.len() == 1 && st.gates.len() == 2));
    assert_eq!(p.band_classifiers.len(), 1);
    assert_eq!(p.stages[1].power, 2);
}

#[test]
fn bad_inputs_are_errors() {
    let t = toy(10, 4, 2, 4);
    assert!(StudentGraph::new(t.features.clone(), vec![]).is_err());
    let wrong = Csr::identity(3, 1.0);
    assert!(
        StudentGraph::new(t.features.clone(), vec![("x".into(), wrong.clone(), wrong)]).is_err()
    );
    let config = StudentConfig {
        hidden: 0,
        ..StudentConfig::new(StudentKind::FmlpS)
    };
    assert!(Student::new(&config, &t.graph, 2, &mut SeededRng::new(0), DType::F32).is_err());
    assert!("fmlp-x".parse::<StudentKind>().is_err());
    assert_eq!("fmlp-o".parse::<StudentKind>().unwrap(), StudentKind::FmlpO);
}

#[test]
fn fused_tables_give_the_bits_of_bias_and_dropout() {
    // The band table and its dropout as single nodes (`table`) against the three
    // operations they replace: values, and the gradients of M_b and c_b, bit for bit.
    use crate::sparse::spmm_chain;
    use crate::testutil::value_and_gradient_bits;
    use crate::train::add_bias;
    use candle_core::Var;
    let t = toy(40, 6, 2, 5);
    let mut rng = SeededRng::new(11);
    let m =
        Var::from_tensor(&rng.uniform((40, 8), 1.0, DType::F32, &Device::Cpu).unwrap()).unwrap();
    let c = Var::from_tensor(&rng.uniform((1, 8), 1.0, DType::F32, &Device::Cpu).unwrap()).unwrap();
    let weights = rng.uniform((40, 8), 1.0, DType::F32, &Device::Cpu).unwrap();
    for power in [1, 2] {
        let chain = t.graph.chain(1, power);
        let (mt, ct) = (m.as_tensor(), c.as_tensor());
        assert!(table::fused(mt, ct));
        let reference = add_bias(&spmm_chain(&chain, mt).unwrap(), ct).unwrap();
        let fused = t.graph.table(1, mt, ct, power).unwrap();
        let outcome = |y: &Tensor| value_and_gradient_bits(y, &weights, &[mt, ct]);
        assert_eq!(outcome(&fused), outcome(&reference), "table, power {power}");
        let seed = power as u64;
        let reference = SeededRng::new(seed).dropout(&reference, 0.5).unwrap();
        let mask = SeededRng::new(seed).dropout_mask(40 * 8, 0.5);
        let dropped = table::dropped(chain, mt, ct, fused, mask).unwrap();
        assert_eq!(
            outcome(&dropped),
            outcome(&reference),
            "dropped, power {power}"
        );
    }
}
