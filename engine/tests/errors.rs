//! One test per `Error` variant, each from a concrete defect.

mod common;
use common::*;
use frameless_engine::writer::{write_blob, Architecture, Linear, ModelWeights};
use frameless_engine::{
    sha256, Dims, Error, Features, Header, Metadata, Model, ModelKind, Precision, Section,
};

fn blob(p: Precision) -> Vec<u8> {
    write_blob(&frameless(1), p).unwrap()
}

/// Splits a blob into (header, body).
fn split(b: &[u8]) -> (Header, Vec<u8>) {
    let (h, body): (Header, &[u8]) = postcard::take_from_bytes(b).unwrap();
    (h, body.to_vec())
}

/// Re-seals a (header, body) with a correct length and checksum.
fn seal(mut h: Header, body: &[u8]) -> Vec<u8> {
    h.body_len = body.len() as u32;
    h.body_sha256 = sha256(body);
    let mut out = postcard::to_stdvec(&h).unwrap();
    out.extend_from_slice(body);
    out
}

/// Rebuilds a body from (echo, metadata, tensor bytes), with an empty id map.
fn body_of(echo: (ModelKind, Precision, Dims), meta: &Metadata, tensors: &[u8]) -> Vec<u8> {
    let mut b = postcard::to_stdvec(&echo).unwrap();
    b.extend(postcard::to_stdvec(meta).unwrap());
    b.push(0);
    b.extend_from_slice(tensors);
    b
}

/// (header, tensors after echo and metadata) of a valid blob.
fn parts(p: Precision) -> (Header, Metadata<'static>, Vec<u8>) {
    let (h, body) = split(&blob(p));
    let (_, rest): ((ModelKind, Precision, Dims), &[u8]) =
        postcard::take_from_bytes(&body).unwrap();
    let (_m, t): (Metadata, &[u8]) = postcard::take_from_bytes(rest).unwrap();
    let (_ids, t): (&[u8], &[u8]) = postcard::take_from_bytes(t).unwrap();
    let meta = Metadata {
        dataset: "tiny",
        class_names: "left\nright",
        test_accuracy: Some(0.75),
        recipe: "student=tiny\nlambda=0.5",
    };
    (h, meta, t.to_vec())
}

fn err(b: &[u8]) -> Error {
    Model::from_bytes(b).unwrap_err()
}

#[test]
fn bad_magic() {
    let mut b = blob(Precision::F32);
    b[0] = b'X';
    assert_eq!(err(&b), Error::BadMagic);
    assert_eq!(err(b"GG"), Error::BadMagic);
}

#[test]
fn unsupported_version() {
    let (mut h, body) = split(&blob(Precision::F32));
    h.version = 5;
    assert_eq!(err(&seal(h, &body)), Error::UnsupportedVersion { found: 5 });
    // Version 2 (int8 with run-time float scales) is refused: re-export for v4.
    let mut v2 = blob(Precision::F32);
    v2[4] = 2;
    assert_eq!(err(&v2), Error::UnsupportedVersion { found: 2 });
    // Version 1 (CRC-32 instead of SHA-256, no signature) is no longer read.
    let mut v1 = blob(Precision::F32);
    v1[4] = 1;
    assert_eq!(err(&v1), Error::UnsupportedVersion { found: 1 });
}

#[test]
fn truncated() {
    let b = blob(Precision::F32);
    assert_eq!(
        err(&b[..2]),
        Error::Truncated {
            section: Section::Header
        }
    );
    assert_eq!(
        err(&b[..b.len() - 1]),
        Error::Truncated {
            section: Section::Body
        }
    );
    // A tensor cut short inside a correctly sealed body.
    let (h, meta, t) = parts(Precision::F32);
    let body = body_of((h.kind, h.precision, h.dims), &meta, &t[..t.len() - 1]);
    assert_eq!(
        err(&seal(h, &body)),
        Error::Truncated {
            section: Section::FeatureClassifier
        }
    );
}

#[test]
fn malformed() {
    let b = blob(Precision::F32);
    // Byte 5 is the model kind tag (after 4 magic bytes and the 1-byte varint version).
    let mut bad = b.clone();
    bad[5] = 9;
    assert_eq!(
        err(&bad),
        Error::Malformed {
            section: Section::Header
        }
    );
    // Invalid UTF-8 in the dataset name.
    let (h, _, t) = parts(Precision::F32);
    let mut body = postcard::to_stdvec(&(h.kind, h.precision, h.dims)).unwrap();
    body.extend_from_slice(&[1, 0xff]);
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&t);
    assert_eq!(
        err(&seal(h, &body)),
        Error::Malformed {
            section: Section::Metadata
        }
    );
}

#[test]
fn trailing_bytes() {
    let mut b = blob(Precision::F32);
    b.push(7);
    assert_eq!(
        err(&b),
        Error::TrailingBytes {
            section: Section::Body
        }
    );
    let (h, meta, mut t) = parts(Precision::F32);
    t.push(0); // an extra empty tensor, sealed
    let body = body_of((h.kind, h.precision, h.dims), &meta, &t);
    assert_eq!(
        err(&seal(h, &body)),
        Error::TrailingBytes {
            section: Section::Body
        }
    );
}

#[test]
fn checksum_mismatch() {
    let mut b = blob(Precision::F32);
    let last = b.len() - 1;
    b[last] ^= 1;
    assert_eq!(err(&b), Error::ChecksumMismatch);
}

#[test]
fn header_mismatch() {
    // fmlp-s and a one-stage fmlp-o share a layout: only the echo tells them apart.
    let (mut h, body) = split(&blob(Precision::F32));
    h.kind = ModelKind::FmlpO;
    assert_eq!(err(&seal(h, &body)), Error::HeaderMismatch);
}

#[test]
fn invalid_dims() {
    let (mut h, meta, t) = parts(Precision::F32);
    h.dims.n_bands = 0;
    let body = body_of((h.kind, h.precision, h.dims), &meta, &t);
    assert_eq!(err(&seal(h, &body)), Error::InvalidDims);
    // Hostile huge dims: must not overflow, allocate or panic.
    let (mut h, meta, t) = parts(Precision::F32);
    h.dims = Dims {
        n_nodes: u32::MAX,
        n_features: u32::MAX,
        hidden: u32::MAX,
        n_classes: u32::MAX,
        n_bands: u32::MAX,
        n_stages: 1,
    };
    let body = body_of((h.kind, h.precision, h.dims), &meta, &t);
    assert!(Model::from_bytes(&seal(h, &body)).is_err());
}

#[test]
fn shape_mismatch() {
    let (mut h, meta, t) = parts(Precision::F32);
    h.dims.n_features = 4;
    let body = body_of((h.kind, h.precision, h.dims), &meta, &t);
    assert_eq!(
        err(&seal(h, &body)),
        Error::ShapeMismatch {
            section: Section::Encoder
        }
    );
    let (mut h, meta, t) = parts(Precision::F32);
    h.dims.n_nodes = 5;
    let body = body_of((h.kind, h.precision, h.dims), &meta, &t);
    assert_eq!(
        err(&seal(h, &body)),
        Error::ShapeMismatch {
            section: Section::Table
        }
    );
}

/// (start, len) of every tensor's bytes in `t` (postcard byte strings, in file order).
fn tensor_spans(t: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        let (bytes, r): (&[u8], &[u8]) = postcard::take_from_bytes(rest).unwrap();
        spans.push((t.len() - r.len() - bytes.len(), bytes.len()));
        rest = r;
    }
    spans
}

/// What a tensor holds.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Role {
    /// Weights in the blob's precision.
    Weights,
    /// f32 int8 scales (an empty tensor for float precisions).
    Scales,
    /// f32 biases.
    Bias,
}

/// The tensors of `model` in file order: (section, role).
fn tensor_kinds(model: &ModelWeights) -> Vec<(Section, Role)> {
    // A matrix: weights, scales; a linear layer adds biases.
    let mat = |s: Section, bias: bool| {
        let mut v = vec![(s, Role::Weights), (s, Role::Scales)];
        v.extend(bias.then_some((s, Role::Bias)));
        v
    };
    // The calibration section (int8 only) comes first.
    let mut v = vec![(Section::Calibration, Role::Scales)];
    v.extend(match &model.architecture {
        Architecture::Mlp { layers } => layers
            .iter()
            .flat_map(|_| mat(Section::Layer, true))
            .collect::<Vec<_>>(),
        Architecture::Frameless { stages, .. } => {
            let mut v: Vec<_> = stages
                .iter()
                .flat_map(|_| {
                    let mut st = mat(Section::Encoder, true);
                    st.extend(mat(Section::Table, false));
                    st.extend(mat(Section::Gate, true));
                    st
                })
                .collect();
            v.extend(mat(Section::BandClassifier, true));
            v.extend(mat(Section::FeatureClassifier, true));
            v
        }
    });
    v
}

/// `model` in `p` with the first value of tensor `k` replaced by `bad` (little endian,
/// the tensor's width), re-sealed.
fn with_value(model: &ModelWeights, p: Precision, k: usize, bad: &[u8]) -> Vec<u8> {
    let (h, body) = split(&write_blob(model, p).unwrap());
    let (echo, rest): ((ModelKind, Precision, Dims), &[u8]) =
        postcard::take_from_bytes(&body).unwrap();
    let (meta, t): (Metadata, &[u8]) = postcard::take_from_bytes(rest).unwrap();
    let (_ids, t): (&[u8], &[u8]) = postcard::take_from_bytes(t).unwrap();
    let mut t = t.to_vec();
    let (start, len) = tensor_spans(&t)[k];
    assert!(len >= bad.len());
    t[start..start + bad.len()].copy_from_slice(bad);
    seal(h, &body_of(echo, &meta, &t))
}

#[test]
fn bad_value() {
    // Every tensor of every model and precision: a NaN or +-Inf float (f32, f16), an
    // int8 weight of -128 (the spec says -127..=127) and bad int8 scales are refused,
    // naming the section; each of these blobs was accepted before (CRC re-sealed).
    let f16 = |v: f32| half::f16::from_f32(v).to_le_bytes().to_vec();
    let f32b = |v: f32| v.to_le_bytes().to_vec();
    let mut checked = 0;
    for model in all_models() {
        for p in [Precision::F32, Precision::F16, Precision::Int8] {
            let kinds = tensor_kinds(&model);
            for (k, &(section, role)) in kinds.iter().enumerate() {
                // Float blobs have no scales; int8 biases are any i32.
                let int8 = p == Precision::Int8;
                if (role == Role::Scales && !int8) || (role == Role::Bias && int8) {
                    continue;
                }
                let weights = role == Role::Weights;
                let mut bads: Vec<Vec<u8>> = match (weights, p) {
                    (true, Precision::F16) => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
                        .map(f16)
                        .to_vec(),
                    (true, Precision::Int8) => vec![vec![0x80]],
                    _ => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
                        .map(f32b)
                        .to_vec(),
                };
                if role == Role::Scales {
                    // Beyond the integer multiplier's range (>= 2^23, < 2^-39); zero; negative.
                    bads.extend([3e38, 1e-13, 0.0, -1.0].map(f32b));
                }
                for bad in &bads {
                    let blob = with_value(&model, p, k, bad);
                    assert_eq!(
                        err(&blob),
                        Error::BadValue { section },
                        "{p} tensor {k} {bad:?}"
                    );
                    checked += 1;
                }
            }
            // The untouched blob still loads.
            Model::from_bytes(&write_blob(&model, p).unwrap()).unwrap();
        }
    }
    assert!(checked > 100, "{checked}");
}

/// `model` with every weight, bias and table entry set to 1.
fn ones(mut model: ModelWeights) -> ModelWeights {
    let one = |l: &mut Linear| {
        l.weight.fill(1.0);
        l.bias.fill(1.0);
    };
    match &mut model.architecture {
        Architecture::Mlp { layers } => layers.iter_mut().for_each(one),
        Architecture::Frameless {
            stages,
            band_classifiers,
            feature_classifier,
        } => {
            for st in stages {
                one(&mut st.encoder);
                st.tables.iter_mut().for_each(|t| t.fill(1.0));
            }
            band_classifiers.iter_mut().for_each(one);
            one(feature_classifier);
        }
    }
    model
}

#[test]
fn overflow() {
    // Finite weights and finite features whose sum overflows: 3 * f32::MAX / 2 = inf.
    // predict returned inf / NaN logits and a class before.
    for model in all_models() {
        for p in [Precision::F32, Precision::F16, Precision::Int8] {
            let blob = write_blob(&ones(model.clone()), p).unwrap();
            let m = Model::from_bytes(&blob).unwrap();
            let mut scratch = vec![0.0; m.scratch_len()];
            let big = [f32::MAX / 2.0; F];
            let r = m.predict(0, Features::Dense(&big), &mut scratch);
            if p == Precision::Int8 {
                // Integer-only: features beyond the calibrated range saturate.
                assert!(r.unwrap().logits.iter().all(|v| v.is_finite()));
            } else {
                assert_eq!(r.unwrap_err(), Error::Overflow, "{:?} {p}", model.kind);
            }
            let r = m
                .predict(0, Features::Dense(&[1.0; F]), &mut scratch)
                .unwrap();
            assert!(r.logits.iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn bad_metadata() {
    let (h, _, t) = parts(Precision::F32);
    let three = Metadata {
        dataset: "",
        class_names: "a\nb\nc",
        test_accuracy: None,
        recipe: "",
    };
    let body = body_of((h.kind, h.precision, h.dims), &three, &t);
    assert_eq!(err(&seal(h, &body)), Error::BadMetadata);
    let nan = Metadata {
        dataset: "",
        class_names: "",
        test_accuracy: Some(f32::NAN),
        recipe: "",
    };
    let body = body_of((h.kind, h.precision, h.dims), &nan, &t);
    assert_eq!(err(&seal(h, &body)), Error::BadMetadata);
    // A recipe line without a key, one without '=', and one byte over the bound.
    let at_bound = format!("k={}", "v".repeat(frameless_engine::MAX_RECIPE_BYTES - 2));
    let long = format!("{at_bound}v");
    for recipe in ["=0.5", "student=mlp\nlambda", "a=1\n", &long] {
        let bad = Metadata { recipe, ..nan };
        let bad = Metadata {
            test_accuracy: None,
            ..bad
        };
        let body = body_of((h.kind, h.precision, h.dims), &bad, &t);
        assert_eq!(err(&seal(h, &body)), Error::BadMetadata, "{recipe:.20}");
    }
    // Exactly at the bound, and an empty value, load.
    for recipe in [&at_bound, "teacher="] {
        let ok = Metadata {
            recipe,
            test_accuracy: None,
            ..nan
        };
        let body = body_of((h.kind, h.precision, h.dims), &ok, &t);
        let b = seal(h, &body);
        assert_eq!(Model::from_bytes(&b).unwrap().metadata().recipe, recipe);
    }
}

/// A version-3 blob (its metadata has no recipe) still loads, with an empty recipe, and
/// predicts exactly as the same model written as version 4.
#[test]
fn version_3_loads_with_an_empty_recipe() {
    for p in [Precision::F32, Precision::Int8] {
        let (mut h, meta, t) = parts(p);
        let v4 = blob(p);
        let mut body = postcard::to_stdvec(&(h.kind, h.precision, h.dims)).unwrap();
        body.extend(
            postcard::to_stdvec(&(meta.dataset, meta.class_names, meta.test_accuracy)).unwrap(),
        );
        body.push(0);
        body.extend_from_slice(&t);
        h.version = 3;
        let v3 = seal(h, &body);
        let (old, new) = (
            Model::from_bytes(&v3).unwrap(),
            Model::from_bytes(&v4).unwrap(),
        );
        assert_eq!(old.header().version, 3);
        assert_eq!(new.header().version, 4);
        assert_eq!(
            old.metadata(),
            Metadata {
                recipe: "",
                ..new.metadata()
            }
        );
        assert_eq!(new.metadata().recipe, "student=tiny\nlambda=0.5");
        let (mut s3, mut s4) = (vec![0.0; old.scratch_len()], vec![0.0; new.scratch_len()]);
        let x = Features::Dense(&[0.5; F]);
        let a = old.predict(1, x, &mut s3).unwrap().logits.to_vec();
        let b = new.predict(1, x, &mut s4).unwrap().logits.to_vec();
        assert_eq!(a, b);
        // A version-4 header over a version-3 body is malformed, not misread.
        h.version = 4;
        assert!(Model::from_bytes(&seal(h, &body)).is_err());
    }
}

fn model_err(node: u32, f: Features, scratch_len: usize) -> Error {
    let b = blob(Precision::Int8);
    let m = Model::from_bytes(&b).unwrap();
    let mut s = vec![0.0; scratch_len];
    m.predict(node, f, &mut s).unwrap_err()
}

#[test]
fn node_out_of_range() {
    assert_eq!(
        model_err(4, Features::Dense(&[0.0; 3]), 64),
        Error::NodeOutOfRange {
            node: 4,
            n_nodes: 4
        }
    );
}

#[test]
fn feature_length() {
    assert_eq!(
        model_err(0, Features::Dense(&[0.0; 2]), 64),
        Error::FeatureLength {
            expected: 3,
            found: 2
        }
    );
}

#[test]
fn sparse_length_mismatch() {
    let f = Features::Sparse {
        indices: &[0, 1],
        values: &[1.0],
    };
    assert_eq!(
        model_err(0, f, 64),
        Error::SparseLengthMismatch {
            indices: 2,
            values: 1
        }
    );
}

#[test]
fn feature_index_out_of_range() {
    let f = Features::Sparse {
        indices: &[0, 3],
        values: &[1.0, 1.0],
    };
    assert_eq!(
        model_err(0, f, 64),
        Error::FeatureIndexOutOfRange { index: 3 }
    );
}

#[test]
fn unsorted_indices() {
    let f = Features::Sparse {
        indices: &[1, 1],
        values: &[1.0, 1.0],
    };
    assert_eq!(model_err(0, f, 64), Error::UnsortedIndices { position: 1 });
    let f = Features::Sparse {
        indices: &[2, 0],
        values: &[1.0, 1.0],
    };
    assert_eq!(model_err(0, f, 64), Error::UnsortedIndices { position: 1 });
}

#[test]
fn non_finite_feature() {
    assert_eq!(
        model_err(0, Features::Dense(&[0.0, f32::NAN, 0.0]), 64),
        Error::NonFiniteFeature { position: 1 }
    );
    let f = Features::Sparse {
        indices: &[2],
        values: &[f32::INFINITY],
    };
    assert_eq!(model_err(0, f, 64), Error::NonFiniteFeature { position: 0 });
}

#[test]
fn scratch_too_small() {
    assert_eq!(
        model_err(0, Features::Dense(&[0.0; 3]), 11),
        Error::ScratchTooSmall {
            needed: 12,
            found: 11
        }
    );
}

#[test]
fn display_is_one_lowercase_line() {
    let all = [
        Error::BadMagic,
        Error::UnsupportedVersion { found: 2 },
        Error::Truncated {
            section: Section::Table,
        },
        Error::Malformed {
            section: Section::Header,
        },
        Error::TrailingBytes {
            section: Section::Body,
        },
        Error::ChecksumMismatch,
        Error::HeaderMismatch,
        Error::InvalidDims,
        Error::ShapeMismatch {
            section: Section::Gate,
        },
        Error::BadValue {
            section: Section::BandClassifier,
        },
        Error::Overflow,
        Error::BadMetadata,
        Error::NodeOutOfRange {
            node: 1,
            n_nodes: 1,
        },
        Error::FeatureLength {
            expected: 1,
            found: 2,
        },
        Error::SparseLengthMismatch {
            indices: 1,
            values: 2,
        },
        Error::FeatureIndexOutOfRange { index: 9 },
        Error::UnsortedIndices { position: 1 },
        Error::NonFiniteFeature { position: 0 },
        Error::ScratchTooSmall {
            needed: 2,
            found: 1,
        },
        Error::NodeNotKept { node: 3 },
        Error::UnknownNeighbour { node: 3 },
        Error::NeighbourWeight { position: 0 },
        Error::BadValue {
            section: Section::IdMap,
        },
    ];
    for e in all {
        let s = e.to_string();
        assert!(
            !s.is_empty() && !s.contains('\n') && !s.ends_with('.'),
            "{s}"
        );
        assert!(s.chars().next().unwrap().is_lowercase(), "{s}");
    }
    assert_eq!(
        Error::Truncated {
            section: Section::Table
        }
        .to_string(),
        "blob truncated in band table"
    );
}
