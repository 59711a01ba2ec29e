//! The C API called as C would call it, against the engine called from
//! Rust: same classes and bit-identical logits; every NULL, short buffer and
//! misaligned pointer gives its code; the header's codes match these.

use super::*;
use core::ffi::c_void;
use core::ptr::{null, null_mut};

/// The committed firmware test model (Cora-size fmlp-s, int8).
static BLOB: &[u8] = include_bytes!("../../firmware-examples/models/model-int8.fgkd");
const HEADER: &str = include_str!("../include/frameless.h");

fn zeroed() -> FramelessModel {
    FramelessModel {
        tag: 0,
        reserved: 0,
        storage: MaybeUninit::zeroed(),
    }
}

fn loaded(blob: &[u8]) -> FramelessModel {
    let mut m = zeroed();
    // SAFETY: a live slice and a live handle.
    let rc = unsafe { frameless_load(&mut m, blob.as_ptr(), blob.len()) };
    assert_eq!(rc, FRAMELESS_OK, "{}", name(rc));
    m
}

fn name(code: i32) -> &'static str {
    // SAFETY: frameless_error_name returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(frameless_error_name(code)) }
        .to_str()
        .unwrap_or("?")
}

fn scratch_words(m: &FramelessModel) -> usize {
    let mut bytes = 0usize;
    // SAFETY: live handle and output.
    let rc = unsafe { frameless_scratch_bytes(m, &mut bytes) };
    assert_eq!(rc, FRAMELESS_OK);
    assert_eq!(bytes % 4, 0);
    bytes / 4
}

/// A node's sparse features: a deterministic spread over `f` features.
fn sparse(node: u32, f: u32) -> (Vec<u32>, Vec<f32>) {
    let idx: Vec<u32> = (0..18).map(|k| (node * 31 + k * 79) % f).collect();
    let mut idx = idx;
    idx.sort_unstable();
    idx.dedup();
    let val = idx.iter().map(|&i| 0.25 + (i % 4) as f32 * 0.25).collect();
    (idx, val)
}

#[test]
fn sparse_and_dense_match_the_engine_bit_for_bit() {
    let engine = Model::from_bytes(BLOB).expect("the committed blob loads");
    let m = loaded(BLOB);
    let d = engine.dims();
    let mut ours = vec![0f32; scratch_words(&m)];
    let mut theirs = vec![0f32; engine.scratch_len()];
    assert_eq!(ours.len(), engine.scratch_len());
    for node in [0, 1, 17, 821, d.n_nodes - 1] {
        let (idx, val) = sparse(node, d.n_features);
        let want = engine
            .predict(
                node,
                Features::Sparse {
                    indices: &idx,
                    values: &val,
                },
                &mut theirs,
            )
            .expect("engine predicts");
        let mut p = MaybeUninit::<FramelessPrediction>::uninit();
        let bytes = ours.len() * 4;
        // SAFETY: every pointer is live for its length.
        let rc = unsafe {
            frameless_predict_sparse(
                &m,
                node,
                idx.as_ptr(),
                val.as_ptr(),
                idx.len(),
                ours.as_mut_ptr().cast(),
                bytes,
                p.as_mut_ptr(),
            )
        };
        assert_eq!(rc, FRAMELESS_OK, "{}", name(rc));
        // SAFETY: FRAMELESS_OK means `p` was written.
        let p = unsafe { p.assume_init() };
        // SAFETY: logits/gates point into `ours`, alive and unchanged here.
        let (logits, gates) = unsafe {
            (
                core::slice::from_raw_parts(p.logits, p.n_logits as usize),
                core::slice::from_raw_parts(p.gates, p.n_gates as usize),
            )
        };
        assert_eq!(p.class_id, want.class);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(logits), bits(want.logits));
        assert_eq!(bits(gates), bits(want.gates));
        assert_eq!(gates.len(), d.n_bands as usize);

        // The same node as a dense vector gives the same answer.
        let mut dense = vec![0f32; d.n_features as usize];
        for (&i, &v) in idx.iter().zip(&val) {
            dense[i as usize] = v;
        }
        let mut q = MaybeUninit::<FramelessPrediction>::uninit();
        // SAFETY: every pointer is live for its length.
        let rc = unsafe {
            frameless_predict_dense(
                &m,
                node,
                dense.as_ptr(),
                dense.len(),
                ours.as_mut_ptr().cast(),
                bytes,
                q.as_mut_ptr(),
            )
        };
        assert_eq!(rc, FRAMELESS_OK, "{}", name(rc));
        let want_dense = engine
            .predict(node, Features::Dense(&dense), &mut theirs)
            .expect("dense");
        // SAFETY: written on FRAMELESS_OK.
        let q = unsafe { q.assume_init() };
        // SAFETY: the logits point into `ours`, alive and unchanged here.
        let logits = unsafe { core::slice::from_raw_parts(q.logits, q.n_logits as usize) };
        assert_eq!(bits(logits), bits(want_dense.logits));
        assert_eq!(q.class_id, want_dense.class);
    }
}

#[test]
fn blob_at_any_alignment_loads_in_place() {
    let m0 = loaded(BLOB);
    for offset in 1..4 {
        let mut buf = vec![0u8; BLOB.len() + offset];
        buf[offset..].copy_from_slice(BLOB);
        let m = loaded(&buf[offset..]);
        let mut dims = MaybeUninit::uninit();
        // SAFETY: live handle and output.
        let rc = unsafe { frameless_model_dims(&m, dims.as_mut_ptr()) };
        assert_eq!(rc, FRAMELESS_OK);
        // SAFETY: written on FRAMELESS_OK.
        let dims = unsafe { dims.assume_init() };
        assert_eq!(dims.n_features, 1433);
        assert_eq!(scratch_words(&m), scratch_words(&m0));
    }
}

#[test]
fn bad_blobs_give_their_codes_and_leave_the_handle_alone() {
    let mut m = zeroed();
    let cases: [(&[u8], i32); 4] = [
        (&BLOB[..BLOB.len() - 1], FRAMELESS_E_TRUNCATED),
        (&BLOB[..3], FRAMELESS_E_TRUNCATED),
        (b"NOPE and more bytes", FRAMELESS_E_BAD_MAGIC),
        (&[], FRAMELESS_E_TRUNCATED),
    ];
    for (blob, code) in cases {
        // SAFETY: live slice (an empty one may dangle) and handle.
        let rc = unsafe { frameless_load(&mut m, blob.as_ptr(), blob.len()) };
        assert_eq!(rc, code, "{}", name(rc));
        assert_eq!(m.tag, 0, "a failed load must not mark the handle loaded");
    }
    let mut corrupt = BLOB.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    // SAFETY: live slice and handle.
    let rc = unsafe { frameless_load(&mut m, corrupt.as_ptr(), corrupt.len()) };
    assert_eq!(rc, FRAMELESS_E_CHECKSUM_MISMATCH);
    // SAFETY: NULLs are checked before any dereference.
    unsafe {
        assert_eq!(
            frameless_load(null_mut(), BLOB.as_ptr(), BLOB.len()),
            FRAMELESS_E_NULL_POINTER
        );
        assert_eq!(
            frameless_load(&mut m, null(), BLOB.len()),
            FRAMELESS_E_NULL_POINTER
        );
        assert_eq!(frameless_load(&mut m, null(), 0), FRAMELESS_E_NULL_POINTER);
    }
}

#[test]
fn null_short_and_misaligned_arguments_are_codes() {
    let m = loaded(BLOB);
    let unloaded = zeroed();
    let words = scratch_words(&m);
    // One extra word, so a pointer one byte in still has room.
    let mut scratch = vec![0f32; words + 1];
    let s: *mut c_void = scratch.as_mut_ptr().cast();
    let bytes = words * 4;
    let (idx, val) = sparse(5, 1433);
    let dense = vec![0.5f32; 1433];
    let mut out = MaybeUninit::<FramelessPrediction>::uninit();
    let o = out.as_mut_ptr();
    let sp = |m: *const FramelessModel, node, i: *const u32, v: *const f32, n, s, b, o| {
        // SAFETY: every non-NULL pointer here is live for its length.
        unsafe { frameless_predict_sparse(m, node, i, v, n, s, b, o) }
    };
    let dn = |m: *const FramelessModel, x: *const f32, n, s, b, o| {
        // SAFETY: every non-NULL pointer here is live for its length.
        unsafe { frameless_predict_dense(m, 5, x, n, s, b, o) }
    };
    let (i, v, n) = (idx.as_ptr(), val.as_ptr(), idx.len());
    assert_eq!(sp(&m, 5, i, v, n, s, bytes, o), FRAMELESS_OK);
    let cases = [
        (
            sp(null(), 5, i, v, n, s, bytes, o),
            FRAMELESS_E_NULL_POINTER,
        ),
        (
            sp(&unloaded, 5, i, v, n, s, bytes, o),
            FRAMELESS_E_NOT_LOADED,
        ),
        (
            sp(&m, 5, null(), v, n, s, bytes, o),
            FRAMELESS_E_NULL_POINTER,
        ),
        (
            sp(&m, 5, i, null(), n, s, bytes, o),
            FRAMELESS_E_NULL_POINTER,
        ),
        (
            sp(&m, 5, i, v, n, null_mut(), bytes, o),
            FRAMELESS_E_NULL_POINTER,
        ),
        (
            sp(&m, 5, i, v, n, s, bytes, null_mut()),
            FRAMELESS_E_NULL_POINTER,
        ),
        (
            sp(&m, 5, i, v, n, s, bytes - 4, o),
            FRAMELESS_E_SCRATCH_TOO_SMALL,
        ),
        (sp(&m, 5, i, v, n, s, 0, o), FRAMELESS_E_SCRATCH_TOO_SMALL),
        (
            sp(
                &m,
                5,
                i,
                v,
                n,
                s.cast::<u8>().wrapping_add(1).cast(),
                bytes,
                o,
            ),
            FRAMELESS_E_MISALIGNED,
        ),
        (
            sp(
                &m,
                5,
                i.cast::<u8>().wrapping_add(2).cast(),
                v,
                n - 1,
                s,
                bytes,
                o,
            ),
            FRAMELESS_E_MISALIGNED,
        ),
        (
            sp(
                &m,
                5,
                i,
                v.cast::<u8>().wrapping_add(1).cast(),
                n - 1,
                s,
                bytes,
                o,
            ),
            FRAMELESS_E_MISALIGNED,
        ),
        (
            sp(&m, 2708, i, v, n, s, bytes, o),
            FRAMELESS_E_NODE_OUT_OF_RANGE,
        ),
        (
            sp(
                &m,
                5,
                [3u32, 3].as_ptr(),
                [1f32, 1.0].as_ptr(),
                2,
                s,
                bytes,
                o,
            ),
            FRAMELESS_E_UNSORTED_INDICES,
        ),
        (
            sp(&m, 5, [1433u32].as_ptr(), [1f32].as_ptr(), 1, s, bytes, o),
            FRAMELESS_E_FEATURE_INDEX_OUT_OF_RANGE,
        ),
        (
            sp(&m, 5, [3u32].as_ptr(), [f32::NAN].as_ptr(), 1, s, bytes, o),
            FRAMELESS_E_NON_FINITE_FEATURE,
        ),
        (
            sp(&m, 5, i, v, usize::MAX / 2, s, bytes, o),
            FRAMELESS_E_TOO_LONG,
        ),
        (
            dn(&m, dense.as_ptr(), 1432, s, bytes, o),
            FRAMELESS_E_FEATURE_LENGTH,
        ),
        (
            dn(&m, dense.as_ptr(), 0, s, bytes, o),
            FRAMELESS_E_FEATURE_LENGTH,
        ),
        (dn(&m, null(), 1433, s, bytes, o), FRAMELESS_E_NULL_POINTER),
        (
            dn(&m, dense.as_ptr(), 1433, s, bytes - 1, o),
            FRAMELESS_E_SCRATCH_TOO_SMALL,
        ),
        (dn(&m, dense.as_ptr(), 1433, s, bytes, o), FRAMELESS_OK),
    ];
    for (k, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            got,
            want,
            "case {k}: {} instead of {}",
            name(got),
            name(want)
        );
    }
    // Empty sparse input: NULL arrays are fine with nnz = 0.
    assert_eq!(sp(&m, 5, null(), null(), 0, s, bytes, o), FRAMELESS_OK);

    let mut b = 0usize;
    let mut dims = MaybeUninit::uninit();
    // SAFETY: NULLs and unloaded handles are checked before any dereference.
    unsafe {
        assert_eq!(
            frameless_scratch_bytes(null(), &mut b),
            FRAMELESS_E_NULL_POINTER
        );
        assert_eq!(
            frameless_scratch_bytes(&m, null_mut()),
            FRAMELESS_E_NULL_POINTER
        );
        assert_eq!(
            frameless_scratch_bytes(&unloaded, &mut b),
            FRAMELESS_E_NOT_LOADED
        );
        assert_eq!(
            frameless_model_dims(&m, null_mut()),
            FRAMELESS_E_NULL_POINTER
        );
        assert_eq!(
            frameless_model_dims(&unloaded, dims.as_mut_ptr()),
            FRAMELESS_E_NOT_LOADED
        );
    }
    assert_eq!(b, 0, "failed calls write nothing");
}

#[test]
fn error_names_cover_every_code_and_match_the_header() {
    for (k, (code, n)) in ERROR_NAMES.iter().enumerate() {
        assert_eq!(*code as usize, k, "codes are dense, in order");
        assert_eq!(name(*code), n.to_str().unwrap());
        let define = format!("#define {} {}", name(*code), code);
        assert!(
            HEADER
                .lines()
                .any(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ") == define),
            "frameless.h lacks `{define}`"
        );
    }
    let defines = HEADER
        .lines()
        .filter(|l| l.starts_with("#define FRAMELESS_OK ") || l.starts_with("#define FRAMELESS_E_"))
        .count();
    assert_eq!(
        defines,
        ERROR_NAMES.len(),
        "frameless.h defines a code the library lacks"
    );
    assert_eq!(name(-1), "FRAMELESS_E_UNKNOWN");
    assert_eq!(name(ERROR_NAMES.len() as i32), "FRAMELESS_E_UNKNOWN");
    // Every engine error a predict can return has its own code.
    let e = Error::ScratchTooSmall {
        needed: 2,
        found: 1,
    };
    assert_eq!(error_code(&e), FRAMELESS_E_SCRATCH_TOO_SMALL);
    let e = Error::NodeNotKept { node: 3 };
    assert_eq!(error_code(&e), FRAMELESS_E_NODE_NOT_KEPT);
}

#[test]
fn struct_layout_is_what_the_header_declares() {
    // frameless.h: frameless_model { uint32_t tag; uint32_t reserved; uint64_t storage[96]; }
    assert_eq!(size_of::<FramelessModel>(), 8 + 8 * MODEL_STORAGE_WORDS);
    assert!(HEADER.contains(&format!("uint64_t storage[{MODEL_STORAGE_WORDS}];")));
    assert_eq!(align_of::<FramelessModel>(), 8);
    // frameless_prediction { u32, u32, u32, const float *, const float * }
    assert_eq!(core::mem::offset_of!(FramelessPrediction, logits), 16);
    assert_eq!(size_of::<FramelessDims>(), 24);
    assert!(HEADER.contains("#define FRAMELESS_H"));
}

#[test]
fn int8_entry_matches_the_engine_and_refuses_float_models() {
    let engine = Model::from_bytes(BLOB).expect("the committed blob loads");
    let m = loaded(BLOB);
    let (mut xs, mut ls) = (0f32, 0f32);
    // SAFETY: live handle and outputs.
    let rc = unsafe { frameless_int8_scales(&m, &mut xs, &mut ls) };
    assert_eq!(rc, FRAMELESS_OK);
    assert_eq!(
        (Some(xs), Some(ls)),
        (engine.calibration(0), engine.calibration(1))
    );
    let mut ours = vec![0f32; scratch_words(&m)];
    let mut theirs = vec![0f32; engine.scratch_len()];
    for node in [0, 17, engine.dims().n_nodes - 1] {
        let (idx, val) = sparse(node, engine.dims().n_features);
        let q: Vec<i8> = val
            .iter()
            .map(|&v| frameless_engine::quant::quantize_value_i8(v, xs))
            .collect();
        let x = Features::Sparse {
            indices: &idx,
            values: &q[..],
        };
        let want = engine
            .predict_int8(node, x, &mut theirs)
            .expect("engine predicts");
        let mut p = MaybeUninit::<FramelessIntPrediction>::uninit();
        let (sp, sb) = (ours.as_mut_ptr().cast::<c_void>(), ours.len() * 4);
        // SAFETY: live handle, slices of nnz elements, scratch and output.
        let rc = unsafe {
            frameless_predict_int8_sparse(
                &m,
                node,
                idx.as_ptr(),
                q.as_ptr(),
                idx.len(),
                sp,
                sb,
                p.as_mut_ptr(),
            )
        };
        assert_eq!(rc, FRAMELESS_OK, "{}", name(rc));
        // SAFETY: FRAMELESS_OK wrote it; logits and gates point into `ours`.
        let (p, logits, gates) = unsafe {
            let p = p.assume_init();
            let l = core::slice::from_raw_parts(p.logits, p.n_logits as usize);
            let g = core::slice::from_raw_parts(p.gates, p.n_gates as usize);
            (p, l, g)
        };
        assert_eq!(
            (p.class_id, logits, gates),
            (want.class, want.logits, want.gates)
        );
    }
    let f32_blob = include_bytes!("../../firmware-examples/models/model-f32.fgkd");
    let f = loaded(f32_blob);
    // SAFETY: live handle and outputs.
    let rc = unsafe { frameless_int8_scales(&f, &mut xs, &mut ls) };
    assert_eq!(rc, FRAMELESS_E_NOT_INT8);
    let mut p = MaybeUninit::<FramelessIntPrediction>::uninit();
    let mut s = vec![0f32; scratch_words(&f)];
    // SAFETY: as above, with nnz 0.
    let rc = unsafe {
        frameless_predict_int8_sparse(
            &f,
            0,
            null(),
            null(),
            0,
            s.as_mut_ptr().cast(),
            s.len() * 4,
            p.as_mut_ptr(),
        )
    };
    assert_eq!(rc, FRAMELESS_E_NOT_INT8);
}
