//! One test per `Error` variant, each from a concrete defect.

mod common;
use common::*;
use frameless_engine::writer::write_blob;
use frameless_engine::{
    crc32, Dims, Error, Features, Header, Metadata, Model, ModelKind, Precision, Section,
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
    h.body_crc32 = crc32(body);
    let mut out = postcard::to_stdvec(&h).unwrap();
    out.extend_from_slice(body);
    out
}

/// Rebuilds a body from (echo, metadata, tensor bytes).
fn body_of(echo: (ModelKind, Precision, Dims), meta: &Metadata, tensors: &[u8]) -> Vec<u8> {
    let mut b = postcard::to_stdvec(&echo).unwrap();
    b.extend(postcard::to_stdvec(meta).unwrap());
    b.extend_from_slice(tensors);
    b
}

/// (header, tensors after echo and metadata) of a valid blob.
fn parts(p: Precision) -> (Header, Metadata<'static>, Vec<u8>) {
    let (h, body) = split(&blob(p));
    let (_, rest): ((ModelKind, Precision, Dims), &[u8]) =
        postcard::take_from_bytes(&body).unwrap();
    let (_m, t): (Metadata, &[u8]) = postcard::take_from_bytes(rest).unwrap();
    let meta = Metadata {
        dataset: "tiny",
        class_names: "left\nright",
        test_accuracy: Some(0.75),
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
    h.version = 2;
    assert_eq!(err(&seal(h, &body)), Error::UnsupportedVersion { found: 2 });
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

#[test]
fn bad_scale() {
    // The stage-1 encoder is the first tensor: [len 6][6 int8][len 8][2 f32 scales]...
    let (h, meta, mut t) = parts(Precision::Int8);
    assert_eq!(t[0], 6);
    assert_eq!(t[7], 8);
    t[8..12].copy_from_slice(&(-1.0f32).to_le_bytes());
    let body = body_of((h.kind, h.precision, h.dims), &meta, &t);
    assert_eq!(
        err(&seal(h, &body)),
        Error::BadScale {
            section: Section::Encoder
        }
    );
    t[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    let body = body_of((h.kind, h.precision, h.dims), &meta, &t);
    assert_eq!(
        err(&seal(h, &body)),
        Error::BadScale {
            section: Section::Encoder
        }
    );
}

#[test]
fn bad_metadata() {
    let (h, _, t) = parts(Precision::F32);
    let three = Metadata {
        dataset: "",
        class_names: "a\nb\nc",
        test_accuracy: None,
    };
    let body = body_of((h.kind, h.precision, h.dims), &three, &t);
    assert_eq!(err(&seal(h, &body)), Error::BadMetadata);
    let nan = Metadata {
        dataset: "",
        class_names: "",
        test_accuracy: Some(f32::NAN),
    };
    let body = body_of((h.kind, h.precision, h.dims), &nan, &t);
    assert_eq!(err(&seal(h, &body)), Error::BadMetadata);
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
        model_err(0, Features::Dense(&[0.0; 3]), 17),
        Error::ScratchTooSmall {
            needed: 18,
            found: 17
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
        Error::BadScale {
            section: Section::BandClassifier,
        },
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
