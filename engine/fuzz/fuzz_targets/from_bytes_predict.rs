//! Fuzzes `Model::from_bytes` and, for accepted blobs, `Model::predict` and `predict_new`.
//!
//! Input: `[mode, node: 4 bytes, n_sparse, (index: 2 bytes, value: f32) * n_sparse, blob...]`.
//! `mode & 1`: rewrite the header's `body_len` and `body_sha256` to match the
//! body, so mutations get past the checksum into the layout validation and
//! the forward pass. `mode & 2`: dense features instead of sparse ones.
//! `mode & 4`: a scratch one word short (must be `ScratchTooSmall`). `mode & 8`:
//! `predict_new` weighs the neighbours (the sparse indices) by the values.
//! Neither call may panic; predictions must have the promised shapes.
#![no_main]

use frameless_engine::{sha256, Error, Features, Header, Model};
use libfuzzer_sys::fuzz_target;

fn fix_crc(blob: &[u8]) -> Option<Vec<u8>> {
    let (mut h, body): (Header, &[u8]) = postcard::take_from_bytes(blob).ok()?;
    h.body_len = u32::try_from(body.len()).ok()?;
    h.body_sha256 = sha256(body);
    let mut out = postcard::to_allocvec(&h).ok()?;
    out.extend_from_slice(body);
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((node, rest)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let node = u32::from_le_bytes(*node);
    let Some((&n, mut rest)) = rest.split_first() else {
        return;
    };
    let mut idx = Vec::new();
    let mut val = Vec::new();
    for _ in 0..n {
        let Some((e, r)) = rest.split_first_chunk::<6>() else {
            return;
        };
        idx.push(u32::from(u16::from_le_bytes([e[0], e[1]])));
        val.push(f32::from_le_bytes([e[2], e[3], e[4], e[5]]));
        rest = r;
    }
    let fixed;
    let blob = if mode & 1 != 0 {
        match fix_crc(rest) {
            Some(b) => {
                fixed = b;
                &fixed[..]
            }
            None => rest,
        }
    } else {
        rest
    };
    let Ok(model) = Model::from_bytes(blob) else {
        return;
    };
    let dims = model.dims();
    let _ = model.mac_count(idx.len());
    let _ = model.metadata();
    let len = model.scratch_len();
    assert!(len <= frameless_engine::max_scratch_len(&dims));
    if len > 1 << 22 || dims.n_features > 1 << 20 {
        return; // keep iterations fast; sizes are validated above
    }
    let short = mode & 4 != 0 && len > 0;
    let mut scratch = vec![0.0f32; if short { len - 1 } else { len }];
    let dense;
    let features = if mode & 2 != 0 {
        let mut d = vec![0.0f32; dims.n_features as usize];
        for (&i, &v) in idx.iter().zip(&val) {
            if let Some(x) = d.get_mut(i as usize) {
                *x = v;
            }
        }
        dense = d;
        Features::Dense(&dense)
    } else {
        Features::Sparse {
            indices: &idx,
            values: &val,
        }
    };
    match model.predict(node, features, &mut scratch) {
        Ok(p) => {
            assert!(!short);
            assert_eq!(p.logits.len(), dims.n_classes as usize);
            assert_eq!(p.gates.len(), dims.n_bands as usize);
            assert!(p.class < dims.n_classes);
        }
        Err(Error::ScratchTooSmall { .. }) => assert!(short),
        Err(_) => {}
    }
    // A new node from the fuzzed ids as neighbours (and values as weights, in mode 8).
    let weights = (mode & 8 != 0).then_some(&val[..]);
    if let Ok(p) = model.predict_new(features, &idx, weights, &mut scratch) {
        assert!(!short);
        assert_eq!(p.logits.len(), dims.n_classes as usize);
        assert!(p.logits.iter().chain(p.gates).all(|v| v.is_finite()));
    }
});
