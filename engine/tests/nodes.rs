//! Sliced blobs (an id map) and new nodes (`Model::predict_new`).

mod common;
use common::*;
use frameless_engine::writer::{write_blob, write_blob_nodes, Architecture, WriteError};
use frameless_engine::{Error, Features, Model, Precision};

const PRECISIONS: [Precision; 3] = [Precision::F32, Precision::F16, Precision::Int8];

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn sliced_blob_answers_bit_identically_for_its_nodes() {
    for w in all_models() {
        for p in PRECISIONS {
            let full = write_blob(&w, p).unwrap();
            let full = Model::from_bytes(&full).unwrap();
            for keep in [&[2u32][..], &[3, 0], &[0, 1, 2, 3]] {
                let blob = write_blob_nodes(&w, p, keep).unwrap();
                let sliced = Model::from_bytes(&blob).unwrap();
                assert_eq!(sliced.is_sliced(), keep.len() < N);
                assert!(!full.is_sliced());
                if keep.len() == N {
                    assert_eq!(blob, write_blob(&w, p).unwrap(), "all nodes: no id map");
                }
                assert_eq!(sliced.dims().n_nodes as usize, keep.len());
                let (mut s1, mut s2) = (
                    vec![0.0; full.scratch_len()],
                    vec![0.0; sliced.scratch_len()],
                );
                for node in 0..N as u32 + 1 {
                    for x in inputs() {
                        let a = full.predict(node, Features::Dense(&x), &mut s1);
                        let b = sliced.predict(node, Features::Dense(&x), &mut s2);
                        match (a, b) {
                            (Ok(a), Ok(b)) => {
                                assert!(keep.contains(&node), "{node} answered");
                                assert_eq!(
                                    bits(a.logits),
                                    bits(b.logits),
                                    "{:?} {p} {node}",
                                    w.kind
                                );
                                assert_eq!(bits(a.gates), bits(b.gates));
                            }
                            (_, Err(e)) => {
                                assert!(!keep.contains(&node));
                                let n_nodes = N as u32;
                                let want = match keep.len() == N {
                                    true => Error::NodeOutOfRange { node, n_nodes },
                                    false => Error::NodeNotKept { node },
                                };
                                assert_eq!(e, want);
                            }
                            (Err(e), Ok(_)) => panic!("full blob refused {node}: {e}"),
                        }
                    }
                }
                let mut ids: Vec<u32> = (0..keep.len() as u32)
                    .map(|r| sliced.node_id(r).unwrap())
                    .collect();
                assert_eq!(sliced.node_id(keep.len() as u32), None);
                ids.dedup();
                let mut want = keep.to_vec();
                want.sort();
                assert_eq!(ids, want);
            }
        }
    }
}

#[test]
fn sliced_blob_is_smaller_and_writer_refuses_bad_lists() {
    let w = frameless(2);
    let full = write_blob(&w, Precision::Int8).unwrap().len();
    let one = write_blob_nodes(&w, Precision::Int8, &[1]).unwrap().len();
    // 3 rows fewer of d int8 + one f32 scale, per band and stage; + a 4-byte id map.
    assert_eq!(full - one, 2 * B * 3 * (D + 4) - 4);
    let err = |nodes: &[u32]| write_blob_nodes(&w, Precision::F32, nodes).unwrap_err();
    assert_eq!(err(&[1, 4]), WriteError::NodeOutOfRange { node: 4 });
    assert_eq!(err(&[2, 0, 2]), WriteError::DuplicateNode { node: 2 });
    assert_eq!(err(&[]), WriteError::NoNodes);
}

/// `w` with one more node, N, whose rows are `sum_j m_j E[j]` for the (node, m) pairs.
fn with_mixed_node(w: &ModelWeightsAlias, mix: &[(usize, f32)]) -> ModelWeightsAlias {
    let mut w = w.clone();
    w.n_nodes += 1;
    if let Architecture::Frameless { stages, .. } = &mut w.architecture {
        for tab in stages.iter_mut().flat_map(|s| s.tables.iter_mut()) {
            let mut row = vec![0.0f32; D];
            for &(j, m) in mix {
                for (r, &v) in row.iter_mut().zip(&tab[j * D..(j + 1) * D]) {
                    *r += m * v;
                }
            }
            tab.extend(row);
        }
    }
    w
}

type ModelWeightsAlias = frameless_engine::writer::ModelWeights;

#[test]
fn new_node_rows_are_the_weighted_mean_of_its_neighbours() {
    for w in [frameless(1), frameless(2)] {
        let x = &inputs()[0];
        // Weights 1 and 3 on nodes 0 and 2: rows 0.25 E[0] + 0.75 E[2].
        let reference = with_mixed_node(&w, &[(0, 0.25), (2, 0.75)]);
        for p in [Precision::F32, Precision::F16] {
            let blob = write_blob(&w, p).unwrap();
            let model = Model::from_bytes(&blob).unwrap();
            let mut s = vec![0.0; model.scratch_len()];
            let new = model
                .predict_new(Features::Dense(x), &[0, 2], Some(&[1.0, 3.0]), &mut s)
                .unwrap();
            let (new_logits, new_gates) = (new.logits.to_vec(), new.gates.to_vec());
            // f32 rows: the blob with the mixed node stored (f16: stored rows round).
            let rblob = write_blob(&reference, Precision::F32).unwrap();
            let rmodel = Model::from_bytes(&rblob).unwrap();
            let mut s2 = vec![0.0; rmodel.scratch_len()];
            let want = rmodel
                .predict(N as u32, Features::Dense(x), &mut s2)
                .unwrap();
            let tol = if p == Precision::F32 { 1e-6 } else { 2e-2 };
            for (a, b) in new_logits
                .iter()
                .chain(&new_gates)
                .zip(want.logits.iter().chain(want.gates))
            {
                assert!((a - b).abs() <= tol, "{p}: {a} vs {b}");
            }
            // One neighbour: exactly its own answer (its row, weight 1).
            let one = model
                .predict_new(Features::Dense(x), &[3], None, &mut s)
                .unwrap();
            let one = (bits(one.logits), bits(one.gates));
            let own = model.predict(3, Features::Dense(x), &mut s).unwrap();
            assert_eq!(one, (bits(own.logits), bits(own.gates)));
        }
        // int8 mixes the dequantised rows in f32: close to the f32 answer.
        let blob = write_blob(&w, Precision::Int8).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let mut s = vec![0.0; model.scratch_len()];
        let q = model
            .predict_new(Features::Dense(x), &[0, 2], Some(&[1.0, 3.0]), &mut s)
            .unwrap();
        let f = forward64(&reference, N, x).0;
        for (a, b) in q.logits.iter().zip(&f) {
            assert!((f64::from(*a) - b).abs() < 0.1, "int8 {a} vs {b}");
        }
    }
}

#[test]
fn new_node_without_neighbours_uses_features_only() {
    let w = frameless(2);
    let blob = write_blob(&w, Precision::F32).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let mut s = vec![0.0; model.scratch_len()];
    let x = Features::Dense(&inputs()[0]);
    let empty = model.predict_new(x, &[], None, &mut s).unwrap();
    assert_eq!(empty.gates, &[1.0; B]);
    let empty = bits(empty.logits);
    let zero = model
        .predict_new(x, &[1, 2], Some(&[0.0, 0.0]), &mut s)
        .unwrap();
    assert_eq!(bits(zero.logits), empty);
    // The features-only answer differs from a graph answer.
    let graph = model.predict_new(x, &[1], None, &mut s).unwrap();
    assert_ne!(bits(graph.logits), empty);
}

#[test]
fn new_node_errors_name_the_bad_input() {
    let w = frameless(1);
    for blob in [
        write_blob(&w, Precision::Int8).unwrap(),
        write_blob_nodes(&w, Precision::Int8, &[0, 2]).unwrap(),
    ] {
        let model = Model::from_bytes(&blob).unwrap();
        let mut s = vec![0.0; model.scratch_len()];
        let x = Features::Dense(&inputs()[1]);
        let mut e =
            |nb: &[u32], wt: Option<&[f32]>| model.predict_new(x, nb, wt, &mut s).unwrap_err();
        assert_eq!(e(&[0, 9], None), Error::UnknownNeighbour { node: 9 });
        assert_eq!(
            e(&[0, 2], Some(&[1.0, f32::NAN])),
            Error::NeighbourWeight { position: 1 }
        );
        assert_eq!(
            e(&[0, 2], Some(&[-1.0, 1.0])),
            Error::NeighbourWeight { position: 0 }
        );
        assert_eq!(
            e(&[0, 2], Some(&[1.0])),
            Error::NeighbourWeight { position: 1 }
        );
        assert_eq!(
            e(&[0], Some(&[1.0, 1.0])),
            Error::NeighbourWeight { position: 1 }
        );
        assert_eq!(e(&[0, 2], Some(&[3e38, 3e38])), Error::Overflow);
        if model.is_sliced() {
            assert_eq!(e(&[1], None), Error::UnknownNeighbour { node: 1 });
        }
        let short = model.predict_new(x, &[0], None, &mut [0.0; 1]).unwrap_err();
        assert!(matches!(short, Error::ScratchTooSmall { .. }));
    }
}

#[test]
fn mlp_new_node_ignores_the_graph() {
    let w = mlp();
    let blob = write_blob(&w, Precision::F32).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let mut s = vec![0.0; model.scratch_len()];
    let x = Features::Dense(&inputs()[2]);
    let a = bits(model.predict_new(x, &[1, 2], None, &mut s).unwrap().logits);
    assert_eq!(a, bits(model.predict(0, x, &mut s).unwrap().logits));
}

#[test]
fn bad_id_maps_are_refused() {
    // Unsorted or short id maps, re-sealed: the writer never makes them.
    let w = frameless(1);
    let blob = write_blob_nodes(&w, Precision::F32, &[1, 3]).unwrap();
    let (mut h, body): (frameless_engine::Header, &[u8]) =
        postcard::take_from_bytes(&blob).unwrap();
    let map = [1u32.to_le_bytes(), 3u32.to_le_bytes()].concat();
    let at = body.windows(8).position(|b| b == map).unwrap();
    let reseal = |body: Vec<u8>, h: &mut frameless_engine::Header| {
        h.body_len = body.len() as u32;
        h.body_sha256 = frameless_engine::sha256(&body);
        let mut out = postcard::to_stdvec(&*h).unwrap();
        out.extend(body);
        out
    };
    let mut swapped = body.to_vec();
    swapped[at..at + 8].copy_from_slice(&[3u32.to_le_bytes(), 1u32.to_le_bytes()].concat());
    let e = Model::from_bytes(&reseal(swapped, &mut h)).unwrap_err();
    assert_eq!(
        e,
        Error::BadValue {
            section: frameless_engine::Section::IdMap
        }
    );
    let mut short = body.to_vec();
    // The length varint (the writer may spread it over several bytes to
    // align the ids): its first byte carries the value, 4 bytes, one id.
    let first = (0..at - 1)
        .rev()
        .take_while(|&k| short[k] & 0x80 != 0)
        .last();
    let k = first.unwrap_or(at - 1);
    short[k] = (short[k] & 0x80) | 4;
    short.drain(at + 4..at + 8);
    let e = Model::from_bytes(&reseal(short, &mut h)).unwrap_err();
    assert_eq!(
        e,
        Error::ShapeMismatch {
            section: frameless_engine::Section::IdMap
        }
    );
}
