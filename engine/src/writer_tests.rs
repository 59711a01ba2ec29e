//! Writer tests: tensor round trip, determinism, rejected inputs.

use super::*;
use crate::layout::{take, Reader, Shape};
use crate::quant::quantize_symmetric_i8;
use crate::Section;

fn weights() -> ModelWeights {
    let v = |s: usize, n: usize| -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7 + s * 13) % 11) as f32 / 3.0 - 1.7)
            .collect()
    };
    let lin = |s, i, o| Linear {
        in_dim: i,
        out_dim: o,
        weight: v(s, i * o),
        bias: v(s + 50, o),
    };
    ModelWeights {
        kind: ModelKind::FmlpO,
        n_nodes: 3,
        n_features: 5,
        n_classes: 2,
        architecture: Architecture::Frameless {
            stages: (0..2)
                .map(|s| Stage {
                    encoder: lin(s, if s == 0 { 5 } else { 4 }, 4),
                    tables: vec![v(s + 1, 12), v(s + 2, 12)],
                    gates: vec![
                        Gate {
                            weight: v(s + 3, 8),
                            bias: 0.5,
                        },
                        Gate {
                            weight: v(s + 4, 8),
                            bias: -0.5,
                        },
                    ],
                })
                .collect(),
            band_classifiers: vec![lin(7, 4, 2), lin(8, 4, 2)],
            feature_classifier: lin(9, 4, 2),
        },
        metadata: OwnedMetadata::default(),
        calibration: None,
    }
    .calibrated((0..3).map(|n| (n, crate::Features::Dense(&[1.0, 0.0, -0.5, 2.0, 0.25]))))
}

fn f32s_of(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Decodes a stored matrix back to f32 values (int8: q * scale), row-major as stored.
fn decode(data: &[u8], scales: &[u8], cols: usize, prec: Precision) -> Vec<f32> {
    let s = f32s_of(scales);
    match prec {
        Precision::F32 => f32s_of(data),
        Precision::F16 => data
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Precision::Int8 => data
            .iter()
            .enumerate()
            .map(|(i, &q)| f32::from(q as i8) * s[i / cols])
            .collect(),
    }
}

/// What the blob should hold for `v` at `prec`, quantising per row of `cols`.
fn expect(v: &[f32], cols: usize, prec: Precision) -> Vec<f32> {
    match prec {
        Precision::F32 => v.to_vec(),
        Precision::F16 => v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect(),
        Precision::Int8 => v
            .chunks(cols)
            .flat_map(|r| {
                let mut q = vec![0i8; r.len()];
                let s = quantize_symmetric_i8(r, &mut q);
                q.into_iter()
                    .map(move |q| f32::from(q) * s)
                    .collect::<Vec<_>>()
            })
            .collect(),
    }
}

#[test]
fn round_trip_tensors_are_identical() {
    let w = weights();
    let Architecture::Frameless {
        stages,
        band_classifiers,
        feature_classifier,
    } = &w.architecture
    else {
        unreachable!()
    };
    // int8 tensors are integer-ready (multipliers, i32 biases): the engine's
    // bit-exact comparison with the integer reference covers them.
    for prec in [Precision::F32, Precision::F16] {
        let blob = write_blob(&w, prec).unwrap();
        crate::Model::from_bytes(&blob).unwrap();
        let sh = Shape {
            n: 3,
            f: 5,
            d: 4,
            c: 2,
            b: 2,
            s: 2,
        };
        // The tensors follow the header, the echo, the metadata and the (empty) id map.
        let (_, body): (Header, _) = take(&blob, Section::Header).unwrap();
        let (_, rest): ((ModelKind, Precision, Dims), _) = take(body, Section::Echo).unwrap();
        let (_, rest): (Metadata, _) = take(rest, Section::Metadata).unwrap();
        let (ids, rest): (&[u8], _) = take(rest, Section::IdMap).unwrap();
        assert!(ids.is_empty());
        let (calibration, tensors): (&[u8], _) = take(rest, Section::Calibration).unwrap();
        assert!(calibration.is_empty());
        let mut r = Reader {
            rest: tensors,
            prec,
            check: true,
        };
        for (s, st) in stages.iter().enumerate() {
            let v = r.stage(&sh, s).unwrap();
            let enc = &st.encoder;
            if s == 0 {
                // Input-major: row j of the stored matrix is column j of W.
                let want = expect(&enc.weight, enc.in_dim, prec);
                let got: Vec<f32> = match prec {
                    Precision::Int8 => {
                        let sc = f32s_of(v.encoder.w.scales);
                        v.encoder
                            .w
                            .data
                            .iter()
                            .enumerate()
                            .map(|(i, &q)| f32::from(q as i8) * sc[i % 4])
                            .collect()
                    }
                    _ => decode(v.encoder.w.data, &[], 4, prec),
                };
                for o in 0..4 {
                    for j in 0..5 {
                        assert_eq!(
                            got[j * 4 + o].to_bits(),
                            want[o * 5 + j].to_bits(),
                            "{prec} enc {o} {j}"
                        );
                    }
                }
            } else {
                assert_eq!(
                    decode(v.encoder.w.data, v.encoder.w.scales, 4, prec),
                    expect(&enc.weight, 4, prec)
                );
            }
            assert_eq!(f32s_of(v.encoder.bias), enc.bias);
            assert_eq!(
                decode(v.tables.data, v.tables.scales, 4, prec),
                expect(&st.tables.concat(), 4, prec)
            );
            let g: Vec<f32> = st.gates.iter().flat_map(|g| g.weight.clone()).collect();
            assert_eq!(
                decode(v.gates.w.data, v.gates.w.scales, 8, prec),
                expect(&g, 8, prec)
            );
            assert_eq!(f32s_of(v.gates.bias), vec![0.5, -0.5]);
        }
        let h = r.head(&sh).unwrap();
        let bw: Vec<f32> = band_classifiers
            .iter()
            .flat_map(|l| l.weight.clone())
            .collect();
        assert_eq!(
            decode(h.bands.w.data, h.bands.w.scales, 4, prec),
            expect(&bw, 4, prec)
        );
        assert_eq!(
            decode(h.features.w.data, h.features.w.scales, 4, prec),
            expect(&feature_classifier.weight, 4, prec)
        );
        assert_eq!(f32s_of(h.features.bias), feature_classifier.bias);
        assert!(r.rest.is_empty());
    }
}

#[test]
fn same_input_gives_identical_bytes() {
    for prec in [Precision::F32, Precision::F16, Precision::Int8] {
        let a = write_blob(&weights(), prec).unwrap();
        let b = write_blob(&weights().clone(), prec).unwrap();
        assert_eq!(a, b);
    }
    // Different precisions give different blobs.
    assert_ne!(
        write_blob(&weights(), Precision::F32).unwrap(),
        write_blob(&weights(), Precision::F16).unwrap()
    );
}

#[test]
fn writer_rejects_bad_weights() {
    let mut w = weights();
    w.kind = ModelKind::Mlp;
    assert_eq!(
        write_blob(&w, Precision::F32),
        Err(WriteError::KindMismatch)
    );
    let mut w = weights();
    w.kind = ModelKind::FmlpS;
    assert_eq!(write_blob(&w, Precision::F32), Err(WriteError::StageCount));
    let mut w = weights();
    if let Architecture::Frameless { stages, .. } = &mut w.architecture {
        stages[0].tables[1][3] = f32::NAN;
    }
    assert_eq!(
        write_blob(&w, Precision::F32),
        Err(WriteError::NonFinite { what: "band table" })
    );
    let mut w = weights();
    w.metadata.class_names = vec!["a\nb".into(), "c".into()];
    assert_eq!(write_blob(&w, Precision::F32), Err(WriteError::ClassNames));
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let big = "v".repeat(crate::MAX_RECIPE_BYTES);
    for bad in [
        pair("", "1"),
        pair("a=b", "1"),
        pair("a\nb", "1"),
        pair("a", "1\n2"),
        pair("k", &big),
    ] {
        let mut w = weights();
        w.metadata.recipe = vec![pair("student", "mlp"), bad.clone()];
        assert_eq!(
            write_blob(&w, Precision::F32),
            Err(WriteError::Recipe),
            "{bad:?}"
        );
    }
    // Values may hold '=' and be empty; the recipe reads back in order.
    let mut w = weights();
    w.metadata.recipe = vec![
        pair("student", "mlp"),
        pair("note", "a=b"),
        pair("teacher", ""),
    ];
    let blob = write_blob(&w, Precision::F32).unwrap();
    let m = crate::Model::from_bytes(&blob).unwrap().metadata();
    assert_eq!(m.recipe, "student=mlp\nnote=a=b\nteacher=");
    let back: Vec<_> = m.recipe_entries().collect();
    assert_eq!(back, [("student", "mlp"), ("note", "a=b"), ("teacher", "")]);
}

#[test]
fn byte_strings_start_word_aligned_and_read_back_unchanged() {
    // Lengths across the LEB128 widths, from every offset mod 4.
    for len in [0usize, 1, 4, 127, 128, 300, 16_383, 16_384, 70_000] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        for base in 0..4 {
            let strings = Strings(vec![data.clone(), data.clone()]);
            let mut out = vec![7u8; base];
            strings.encode(&mut out, 1);
            let mut rest = &out[base..];
            for _ in 0..2 {
                let at = 1 + out.len() - rest.len();
                let (got, r): (&[u8], &[u8]) = postcard::take_from_bytes(rest).unwrap();
                let start = 1 + out.len() - r.len() - got.len();
                assert_eq!(got, &data[..], "len {len} base {base}");
                // Aligned unless that needs more than 5 length bytes.
                let least = (1..5).find(|w| len >> (7 * w) == 0).unwrap_or(5);
                if (least..=5).any(|w| (at + w) % 4 == 0) {
                    assert_eq!(start % 4, 0, "len {len} base {base}");
                }
                rest = r;
            }
        }
    }
}

#[test]
fn every_blob_tensor_is_word_aligned_signed_or_not() {
    let w = weights();
    for p in [Precision::F32, Precision::F16, Precision::Int8] {
        let blob = write_blob(&w, p).unwrap();
        let (header, body): (Header, &[u8]) = postcard::take_from_bytes(&blob).unwrap();
        let signed = Header {
            signature: Some([[1; 32]; 2]),
            ..header
        };
        let signed_len = postcard::to_stdvec(&signed).unwrap().len();
        let head = blob.len() - body.len();
        assert_eq!(
            (signed_len - head) % 4,
            0,
            "a signature keeps the alignment"
        );
        // Skip the kind, precision, dims and metadata, then walk the strings.
        let (_, rest): ((ModelKind, Precision, Dims), &[u8]) =
            postcard::take_from_bytes(body).unwrap();
        let (_, mut rest): (Metadata, &[u8]) = postcard::take_from_bytes(rest).unwrap();
        let mut n = 0;
        while !rest.is_empty() {
            let (got, r): (&[u8], &[u8]) = postcard::take_from_bytes(rest).unwrap();
            let start = blob.len() - r.len() - got.len();
            assert_eq!(start % 4, 0, "{p}: string {n} starts at {start}");
            (rest, n) = (r, n + 1);
        }
        assert!(n > 5, "{p}: {n} strings");
    }
}
