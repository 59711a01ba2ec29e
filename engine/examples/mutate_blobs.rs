//! Structure-aware fuzzer of `Model::from_bytes` + `Model::predict`, on stable Rust.
//!
//! Starts from valid blobs written by the writer (mlp, fmlp-s, fmlp-o in every
//! precision), mutates them field by field (a tensor value set to NaN, ±Inf, ±0, a
//! subnormal, a huge or random value, int8 -128; a tensor grown or shrunk; a dim or
//! the kind / precision changed in header and echo alike; metadata; random bytes),
//! re-seals body length and SHA-256, then loads and predicts. Every accepted blob is
//! checked by an oracle independent of the engine: each tensor, walked from the
//! dims, holds only finite floats, int8 values in -127..=127 and scales with
//! `127 * scale` finite and > 0. Every prediction must have finite logits and gates.
//!
//! ```text
//! cargo run --release -p frameless-engine --example mutate_blobs -- [--seconds S] [--mutants N] [--seed K]
//! ```
//! Prints one line of counts; exits 1 if any panic, accepted non-finite tensor or
//! non-finite prediction was seen.

use frameless_engine::writer::{
    write_blob, write_blob_nodes, Architecture, Gate, Linear, ModelWeights, OwnedMetadata, Stage,
};
use frameless_engine::{sha256, Dims, Features, Header, Metadata, Model, ModelKind, Precision};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn f32(&mut self) -> f32 {
        const SPECIAL: [f32; 12] = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-45,
            3e38,
            1e30,
            -1e30,
        ];
        match self.below(3) {
            0 => SPECIAL[self.below(SPECIAL.len())],
            1 => f32::from_bits(self.next() as u32),
            _ => (self.next() % 2001) as f32 / 100.0 - 10.0,
        }
    }
}

fn vals(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.next() % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

fn linear(rng: &mut Rng, in_dim: usize, out_dim: usize) -> Linear {
    let (weight, bias) = (vals(rng, in_dim * out_dim), vals(rng, out_dim));
    Linear {
        in_dim,
        out_dim,
        weight,
        bias,
    }
}

/// Small valid models of every kind.
fn models(rng: &mut Rng) -> Vec<ModelWeights> {
    let (n, f, d, c, b) = (5, 4, 3, 3, 2);
    let metadata = OwnedMetadata {
        dataset: "fuzz".into(),
        class_names: vec!["a".into(), "b".into(), "c".into()],
        test_accuracy: Some(0.5),
        recipe: vec![
            ("student".into(), "fuzz".into()),
            ("lambda".into(), "0.5".into()),
        ],
    };
    let stage = |rng: &mut Rng, in_dim| Stage {
        encoder: linear(rng, in_dim, d),
        tables: (0..b).map(|_| vals(rng, n * d)).collect(),
        gates: (0..b)
            .map(|_| Gate {
                weight: vals(rng, 2 * d),
                bias: 0.1,
            })
            .collect(),
    };
    let frameless = |rng: &mut Rng, stages: usize| ModelWeights {
        kind: if stages == 1 {
            ModelKind::FmlpS
        } else {
            ModelKind::FmlpO
        },
        n_nodes: n,
        n_features: f,
        n_classes: c,
        architecture: Architecture::Frameless {
            stages: (0..stages)
                .map(|s| stage(rng, if s == 0 { f } else { d }))
                .collect(),
            band_classifiers: (0..b).map(|_| linear(rng, d, c)).collect(),
            feature_classifier: linear(rng, d, c),
        },
        metadata: metadata.clone(),
        calibration: None,
    };
    let mlp = |rng: &mut Rng, layers: &[usize]| ModelWeights {
        kind: ModelKind::Mlp,
        n_nodes: n,
        n_features: f,
        n_classes: c,
        architecture: Architecture::Mlp {
            layers: layers.windows(2).map(|w| linear(rng, w[0], w[1])).collect(),
        },
        metadata: metadata.clone(),
        calibration: None,
    };
    let models = vec![
        mlp(rng, &[f, c]),
        mlp(rng, &[f, d, c]),
        mlp(rng, &[f, d, d, c]),
        frameless(rng, 1),
        frameless(rng, 2),
    ];
    // int8 needs activation ranges: calibrate on random features at every node.
    let xs: Vec<Vec<f32>> = (0..n).map(|_| vals(rng, f)).collect();
    let inputs = || xs.iter().enumerate().map(|(i, x)| (i, Features::Dense(x)));
    models.into_iter().map(|m| m.calibrated(inputs())).collect()
}

type Echo = (ModelKind, Precision, Dims);

/// A blob taken apart: header, echo, metadata and the raw tensors.
struct Parts {
    header: Header,
    echo: Echo,
    dataset: String,
    class_names: String,
    accuracy: Option<f32>,
    recipe: String,
    /// The id map (empty: a full blob).
    ids: Vec<u8>,
    tensors: Vec<Vec<u8>>,
    tail: Vec<u8>,
}

fn parse(blob: &[u8]) -> Option<Parts> {
    let (header, body): (Header, &[u8]) = postcard::take_from_bytes(blob).ok()?;
    let (echo, rest): (Echo, &[u8]) = postcard::take_from_bytes(body).ok()?;
    let (m, rest): (Metadata, &[u8]) = postcard::take_from_bytes(rest).ok()?;
    let (ids, mut rest): (&[u8], &[u8]) = postcard::take_from_bytes(rest).ok()?;
    let mut tensors = Vec::new();
    while let Ok((t, r)) = postcard::take_from_bytes::<&[u8]>(rest) {
        tensors.push(t.to_vec());
        rest = r;
    }
    let (dataset, class_names) = (m.dataset.to_string(), m.class_names.to_string());
    Some(Parts {
        header,
        echo,
        dataset,
        class_names,
        accuracy: m.test_accuracy,
        recipe: m.recipe.to_string(),
        ids: ids.to_vec(),
        tensors,
        tail: rest.to_vec(),
    })
}

/// Re-assembles `p` with a correct body length and SHA-256.
fn seal(p: &Parts) -> Vec<u8> {
    let meta = Metadata {
        dataset: &p.dataset,
        class_names: &p.class_names,
        test_accuracy: p.accuracy,
        recipe: &p.recipe,
    };
    let mut body = postcard::to_stdvec(&p.echo).unwrap();
    body.extend(postcard::to_stdvec(&meta).unwrap());
    body.extend(postcard::to_stdvec(&p.ids.as_slice()).unwrap());
    for t in &p.tensors {
        body.extend(postcard::to_stdvec(&t.as_slice()).unwrap());
    }
    body.extend_from_slice(&p.tail);
    let mut h = p.header;
    h.body_len = body.len() as u32;
    h.body_sha256 = sha256(&body);
    let mut out = postcard::to_stdvec(&h).unwrap();
    out.extend(body);
    out
}

/// The element width a tensor role has: weights in the blob's precision, scales and
/// biases in f32.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Weights,
    Scales,
    Bias,
}

/// Tensor roles in file order, from the dims alone (the format spec, not the engine).
fn roles(kind: ModelKind, s: u32) -> Vec<Role> {
    use Role::*;
    let lin = [Weights, Scales, Bias];
    // The calibration section (int8 scales; empty for float blobs) comes first.
    let mut v = vec![Scales];
    for _ in 0..s {
        match kind {
            ModelKind::Mlp => v.extend(lin),
            _ => v.extend([
                Weights, Scales, Bias, Weights, Scales, Weights, Scales, Bias,
            ]),
        }
    }
    if kind != ModelKind::Mlp {
        v.extend(lin);
        v.extend(lin);
    }
    v
}

/// Whether every tensor of an accepted blob holds only values the spec allows.
fn values_ok(p: &Parts) -> bool {
    let (kind, prec, dims) = p.echo;
    let roles = roles(kind, dims.n_stages);
    let ids: Vec<u32> = p
        .ids
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let ids_ok = p.ids.is_empty()
        || (p.ids.len() == 4 * dims.n_nodes as usize && ids.windows(2).all(|w| w[0] < w[1]));
    if roles.len() != p.tensors.len() || !ids_ok {
        return false;
    }
    let f32_ok = |t: &[u8], scale: bool| {
        t.chunks_exact(4).all(|c| {
            let v = f32::from_le_bytes(c.try_into().unwrap());
            // A scale is an integer multiplier the engine can apply.
            v.is_finite() && (!scale || frameless_engine::quant::Fix::of(v).is_some())
        })
    };
    roles.iter().zip(&p.tensors).all(|(r, t)| match (r, prec) {
        // int8 biases are i32: any value.
        (Role::Bias, Precision::Int8) => t.len() % 4 == 0,
        (Role::Weights, Precision::F32) | (Role::Bias, _) => f32_ok(t, false),
        (Role::Scales, _) => f32_ok(t, true),
        (Role::Weights, Precision::F16) => t
            .chunks_exact(2)
            .all(|c| half::f16::from_le_bytes([c[0], c[1]]).is_finite()),
        (Role::Weights, Precision::Int8) => t.iter().all(|&b| b as i8 != -128),
    })
}

/// One field-aware mutation of `p`.
fn mutate(rng: &mut Rng, p: &mut Parts) {
    let n_t = p.tensors.len();
    match rng.below(10) {
        // A value of one tensor (the most likely mutation: values are most of a blob).
        0..=4 => {
            let k = rng.below(n_t);
            let prec = p.echo.1;
            let t = &mut p.tensors[k];
            if t.is_empty() {
                return;
            }
            let v = rng.f32();
            match (prec, t.len() % 4 == 0 && rng.below(2) == 0) {
                (_, true) | (Precision::F32, _) if t.len() >= 4 => {
                    let i = rng.below(t.len() / 4) * 4;
                    t[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                (Precision::F16, _) if t.len() >= 2 => {
                    let i = rng.below(t.len() / 2) * 2;
                    t[i..i + 2].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
                }
                _ => {
                    let i = rng.below(t.len());
                    t[i] = [0x80, 0x7F, 0x81, 0, rng.next() as u8][rng.below(5)];
                }
            }
        }
        // A tensor grown, shrunk or emptied.
        5 => {
            let t = &mut p.tensors[rng.below(n_t)];
            match rng.below(3) {
                0 => t.push(rng.next() as u8),
                1 => drop(t.pop()),
                _ => t.truncate(rng.below(t.len() + 1)),
            }
        }
        // A dim, in header and echo alike.
        6 => {
            let d = &mut p.echo.2;
            let slot = match rng.below(6) {
                0 => &mut d.n_nodes,
                1 => &mut d.n_features,
                2 => &mut d.hidden,
                3 => &mut d.n_classes,
                4 => &mut d.n_bands,
                _ => &mut d.n_stages,
            };
            *slot = match rng.below(4) {
                0 => slot.wrapping_add(1),
                1 => slot.wrapping_sub(1),
                2 => rng.next() as u32,
                _ => [0, 1, u32::MAX, 1 << 16][rng.below(4)],
            };
            p.header.dims = p.echo.2;
        }
        // Kind or precision, in header and echo alike.
        7 => {
            if rng.below(2) == 0 {
                p.echo.0 = [ModelKind::Mlp, ModelKind::FmlpS, ModelKind::FmlpO][rng.below(3)];
            } else {
                p.echo.1 = [Precision::F32, Precision::F16, Precision::Int8][rng.below(3)];
            }
            (p.header.kind, p.header.precision) = (p.echo.0, p.echo.1);
        }
        // Metadata, or the id map (an id changed, dropped or added).
        8 => match rng.below(6) {
            0 => p.accuracy = Some(rng.f32()),
            1 => p.class_names.push('\n'),
            2 if rng.below(2) == 0 => p.dataset = "x".repeat(rng.below(40)),
            2 => p
                .recipe
                .push_str(["\n", "=x", "\nk=v", "\nno-key", "\u{e9}"][rng.below(5)]),
            3 if p.ids.len() >= 4 => {
                let i = rng.below(p.ids.len() / 4) * 4;
                let v = [0, 1, 2, u32::MAX, rng.next() as u32][rng.below(5)];
                p.ids[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            4 => p.ids.truncate(p.ids.len().saturating_sub(4)),
            _ => p.ids.extend((rng.next() as u32).to_le_bytes()),
        },
        // Raw bytes anywhere in the tensors, or a tail.
        _ => {
            let t = &mut p.tensors[rng.below(n_t)];
            let i = rng.below(t.len().max(1));
            if let Some(b) = t.get_mut(i) {
                *b ^= 1 << rng.below(8);
            } else {
                p.tail.push(rng.next() as u8);
            }
        }
    }
}

#[derive(Default)]
struct Counts {
    mutants: u64,
    accepted: u64,
    predictions: u64,
    overflows: u64,
    panics: u64,
    accepted_bad_tensors: u64,
    non_finite_predictions: u64,
}

/// Loads `blob` and, if it is accepted, predicts every node with random valid input.
fn run_one(rng: &mut Rng, blob: &[u8], parts: &Parts, c: &mut Counts) {
    let Ok(model) = Model::from_bytes(blob) else {
        return;
    };
    c.accepted += 1;
    if !values_ok(parts) {
        c.accepted_bad_tensors += 1;
    }
    let dims = model.dims();
    if model.scratch_len() > 1 << 16 || dims.n_features > 1 << 12 {
        return;
    }
    let mut scratch = vec![0.0f32; model.scratch_len()];
    let scale = [1.0, 1e3, 1e20, 1e38][rng.below(4)];
    let x: Vec<f32> = (0..dims.n_features)
        .map(|_| (rng.next() % 2001) as f32 / 1000.0 - 1.0)
        .map(|v| v * scale)
        .collect();
    // Every kept node by its id, then a new node from up to 3 of them (random weights).
    let ids: Vec<u32> = (0..dims.n_nodes.min(8))
        .filter_map(|r| model.node_id(r))
        .collect();
    let weights: Vec<f32> = ids
        .iter()
        .map(|_| (rng.next() % 1000) as f32 / 100.0)
        .collect();
    let m = ids.len().min(3);
    for node in ids.iter().map(|&i| Some(i)).chain([None]) {
        let x = Features::Dense(&x);
        let r = match node {
            Some(node) => model.predict(node, x, &mut scratch),
            None => model.predict_new(x, &ids[..m], Some(&weights[..m]), &mut scratch),
        };
        match r {
            Ok(p) => {
                c.predictions += 1;
                let finite = p.logits.iter().chain(p.gates).all(|v| v.is_finite());
                if !finite || p.class >= dims.n_classes {
                    c.non_finite_predictions += 1;
                }
            }
            Err(frameless_engine::Error::Overflow) => c.overflows += 1,
            Err(e) => panic!("valid input refused: {e}"),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seconds, mut max, mut seed) = (f64::INFINITY, u64::MAX, 1u64);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--seconds" => seconds = v.parse().expect("--seconds S"),
            "--mutants" => max = v.parse().expect("--mutants N"),
            "--seed" => seed = v.parse().expect("--seed K"),
            _ => panic!("unknown argument {a} (--seconds S, --mutants N, --seed K)"),
        }
    }
    assert!(
        seconds.is_finite() || max < u64::MAX,
        "give --seconds or --mutants"
    );
    let deadline = Instant::now() + Duration::from_secs_f64(seconds.min(1e9));
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut bases = Vec::new();
    for m in models(&mut rng) {
        for p in [Precision::F32, Precision::F16, Precision::Int8] {
            // Full, and sliced to the even nodes (an id map).
            let even: Vec<u32> = (0..m.n_nodes as u32).step_by(2).collect();
            for blob in [
                write_blob(&m, p).unwrap(),
                write_blob_nodes(&m, p, &even).unwrap(),
            ] {
                Model::from_bytes(&blob).unwrap();
                bases.push(parse(&blob).unwrap());
            }
        }
    }
    // Panics are counted below; only the first is printed.
    let default_hook = std::panic::take_hook();
    let first = std::sync::atomic::AtomicBool::new(true);
    std::panic::set_hook(Box::new(move |info| {
        if first.swap(false, std::sync::atomic::Ordering::Relaxed) {
            default_hook(info);
        }
    }));
    let mut c = Counts::default();
    let start = Instant::now();
    while c.mutants < max && (c.mutants % 1024 != 0 || Instant::now() < deadline) {
        let base = &bases[rng.below(bases.len())];
        let mut p = Parts {
            tensors: base.tensors.clone(),
            ids: base.ids.clone(),
            tail: base.tail.clone(),
            dataset: base.dataset.clone(),
            class_names: base.class_names.clone(),
            recipe: base.recipe.clone(),
            ..*base
        };
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut p);
        }
        let blob = seal(&p);
        c.mutants += 1;
        if catch_unwind(AssertUnwindSafe(|| run_one(&mut rng, &blob, &p, &mut c))).is_err() {
            c.panics += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "mutate_blobs: {} mutants in {secs:.1} s ({:.0}/s), {} accepted, {} predictions, {} overflow errors, panics: {}, accepted non-finite tensors: {}, non-finite predictions: {}",
        c.mutants,
        c.mutants as f64 / secs,
        c.accepted,
        c.predictions,
        c.overflows,
        c.panics,
        c.accepted_bad_tensors,
        c.non_finite_predictions
    );
    if c.panics + c.accepted_bad_tensors + c.non_finite_predictions > 0 {
        std::process::exit(1);
    }
}
