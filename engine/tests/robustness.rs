//! Hostile bytes and inputs: every one must give `Err` (or a valid
//! prediction), never a panic.

mod common;
use common::*;
use frameless_engine::writer::{write_blob, write_blob_nodes};
use frameless_engine::{Features, Model, Precision};
use proptest::prelude::*;

const PRECISIONS: [Precision; 3] = [Precision::F32, Precision::F16, Precision::Int8];

/// Kept nodes of the sliced blobs (the second half of [`blobs`]).
const KEPT: [u32; 2] = [1, 3];

/// Every model in every precision, full, then sliced to [`KEPT`] (an id map).
fn blobs() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for sliced in [false, true] {
        for w in all_models() {
            for p in PRECISIONS {
                v.push(match sliced {
                    false => write_blob(&w, p).unwrap(),
                    true => write_blob_nodes(&w, p, &KEPT).unwrap(),
                });
            }
        }
    }
    v
}

#[test]
fn every_truncation_is_rejected() {
    for blob in blobs() {
        assert!(Model::from_bytes(&blob).is_ok());
        for len in 0..blob.len() {
            assert!(
                Model::from_bytes(&blob[..len]).is_err(),
                "prefix of {len} bytes accepted"
            );
        }
    }
}

#[test]
fn every_single_byte_corruption_is_rejected() {
    for blob in blobs() {
        let mut bad = blob.clone();
        for i in 0..blob.len() {
            for x in 1..=255u8 {
                bad[i] = blob[i] ^ x;
                assert!(
                    Model::from_bytes(&bad).is_err(),
                    "byte {i} ^ {x:#x} accepted"
                );
            }
            bad[i] = blob[i];
        }
    }
}

#[test]
fn appended_bytes_are_rejected() {
    for mut blob in blobs() {
        blob.push(0);
        assert!(Model::from_bytes(&blob).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Model::from_bytes(&bytes);
    }

    #[test]
    fn random_bytes_after_magic_never_panic(version in 3u8..=4, bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut b = b"FGKD".to_vec();
        b.push(version);
        b.extend(bytes);
        let _ = Model::from_bytes(&b);
    }

    #[test]
    fn random_predict_inputs_never_panic(
        which in 0usize..18,
        node in 0u32..8,
        neighbours in proptest::collection::vec(0u32..6, 0..4),
        weights in proptest::option::of(proptest::collection::vec(prop_oneof![0.0f32..2.0, Just(-1.0f32), Just(f32::NAN), Just(3e38f32)], 0..4)),
        dense in proptest::collection::vec(prop_oneof![Just(0.0f32), -10.0f32..10.0, Just(f32::NAN), Just(f32::INFINITY), Just(1e30f32)], 0..6),
        indices in proptest::collection::vec(0u32..6, 0..6),
        values in proptest::collection::vec(prop_oneof![-10.0f32..10.0, Just(f32::NAN), Just(-1e30f32)], 0..6),
        scratch_len in 0usize..40,
    ) {
        let blob = &blobs()[which];
        let model = Model::from_bytes(blob).unwrap();
        let mut scratch = vec![0.0f32; scratch_len];
        let dense_ok = dense.len() == F && dense.iter().all(|v| v.is_finite());
        let r = model.predict(node, Features::Dense(&dense), &mut scratch);
        let known = |n: u32| if model.is_sliced() { KEPT.contains(&n) } else { (n as usize) < N };
        let scratch_ok = scratch_len >= model.scratch_len();
        let valid = dense_ok && known(node) && scratch_ok;
        prop_assert_eq!(r.is_ok(), valid);
        if let Ok(p) = r {
            prop_assert!((p.class as usize) < C);
        }
        let r = model.predict_new(Features::Dense(&dense), &neighbours, weights.as_deref(), &mut scratch);
        let w_ok = weights.as_ref().is_none_or(|w| w.len() == neighbours.len() && w.iter().all(|v| *v >= 0.0) && w.iter().sum::<f32>().is_finite());
        let valid = dense_ok && scratch_ok && w_ok && neighbours.iter().all(|&n| known(n));
        prop_assert_eq!(r.is_ok(), valid, "{:?}", r);
        if let Ok(p) = r {
            prop_assert!((p.class as usize) < C);
        }
        let _ = model.predict(node, Features::Sparse { indices: &indices, values: &values }, &mut scratch);
    }
}

/// `blob` with `bits` written over the body at `at` (modulo the body length), re-sealed
/// (length and SHA-256), as anyone can do.
fn overwrite_resealed(blob: &[u8], at: usize, bits: u32) -> Vec<u8> {
    let (mut h, body): (frameless_engine::Header, &[u8]) = postcard::take_from_bytes(blob).unwrap();
    let mut body = body.to_vec();
    let at = at % body.len();
    for (b, v) in body[at..].iter_mut().zip(bits.to_le_bytes()) {
        *b = v;
    }
    h.body_sha256 = frameless_engine::sha256(&body);
    let mut out = postcard::to_stdvec(&h).unwrap();
    out.extend(body);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// For any accepted blob (here: valid blobs with any 4 bytes of the body
    /// overwritten, NaN and Inf patterns among them, re-sealed) and any valid input
    /// (finite features, huge ones included), `predict` returns finite logits and
    /// gates, or refuses with `Overflow`; never anything else.
    #[test]
    fn accepted_blobs_predict_finite_logits(
        which in 0usize..18,
        at in any::<usize>(),
        bits in prop_oneof![any::<u32>(), Just(f32::NAN.to_bits()), Just(f32::INFINITY.to_bits()), Just(0x7C00_7C00u32), Just(0x8080_8080u32), Just(3e38f32.to_bits())],
        node in 0u32..N as u32,
        x in proptest::collection::vec(prop_oneof![-1e3f32..1e3, Just(0.0f32), Just(f32::MAX), Just(-3e38f32)], F),
    ) {
        let blob = overwrite_resealed(&blobs()[which], at, bits);
        if let Ok(model) = Model::from_bytes(&blob) {
            let mut scratch = vec![0.0f32; model.scratch_len()];
            // The id map may be overwritten too (still sorted): ask the model for its ids.
            let known: Vec<u32> = (0..model.dims().n_nodes).filter_map(|r| model.node_id(r)).collect();
            let node = known[node as usize % known.len()];
            let x = Features::Dense(&x);
            let new = model.predict_new(x, &known[..2], Some(&[0.5, 2.0]), &mut scratch).map(|p| (p.class, p.logits.to_vec(), p.gates.to_vec()));
            let own = model.predict(node, x, &mut scratch).map(|p| (p.class, p.logits.to_vec(), p.gates.to_vec()));
            for r in [own, new] {
                match r {
                    Ok((class, logits, gates)) => {
                        prop_assert!(logits.iter().chain(&gates).all(|v| v.is_finite()), "{:?}", logits);
                        prop_assert!((class as usize) < C);
                    }
                    Err(e) => prop_assert_eq!(e, frameless_engine::Error::Overflow),
                }
            }
        }
    }
}
