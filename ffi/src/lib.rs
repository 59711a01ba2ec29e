//! frameless-ffi: the C ABI of [`frameless_engine`], for firmware written in C.
//!
//! A static library (`libframeless_ffi.a`, `no_std`, no allocator) and its
//! hand-written header `include/frameless.h`, which `scripts/check-ffi-header.sh`
//! checks against the library's exported symbols and the tests below check
//! against the error codes. The C side owns every buffer:
//!
//! 1. [`frameless_load`] validates a blob (any alignment, e.g. `.incbin` in
//!    flash; it is borrowed, never copied) into a caller-provided
//!    [`FramelessModel`] handle;
//! 2. [`frameless_scratch_bytes`] says how many bytes of 4-byte-aligned
//!    scratch `predict` needs;
//! 3. [`frameless_predict_dense`] / [`frameless_predict_sparse`] classify one
//!    node into a [`FramelessPrediction`]: the class and pointers to the
//!    logits and gates, which live in the scratch.
//!
//! Every function returns a status (`FRAMELESS_OK` = 0 or a positive
//! `FRAMELESS_E_*` code, named by [`frameless_error_name`]); on an error
//! nothing is written to the outputs. Null pointers, short buffers and
//! misaligned pointers are reported as codes, never dereferenced.
//!
//! Pre-quantised (int8) input features are not exposed: the engine has no
//! such entry point yet (it arrives with issue 13); int8 models take f32
//! features and quantise them inside `predict`.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

// A host build of the static library (e.g. `cargo build --workspace`) links
// std for its panic runtime and unwinder; on a bare-metal target
// (`target_os = "none"`) the library is `no_std` throughout, with the panic
// handler at the bottom of this file.
#[cfg(all(not(test), not(target_os = "none")))]
extern crate std;

use core::ffi::{c_char, CStr};
use core::mem::{align_of, size_of, MaybeUninit};

use frameless_engine::{Error, Features, Model};

/// Success.
pub const FRAMELESS_OK: i32 = 0;
/// A required pointer argument is NULL.
pub const FRAMELESS_E_NULL_POINTER: i32 = 1;
/// A pointer is not aligned for its type (scratch and `float`/`uint32_t` arrays: 4 bytes).
pub const FRAMELESS_E_MISALIGNED: i32 = 2;
/// The scratch buffer is shorter than [`frameless_scratch_bytes`].
pub const FRAMELESS_E_SCRATCH_TOO_SMALL: i32 = 3;
/// The model handle was not filled by a successful [`frameless_load`].
pub const FRAMELESS_E_NOT_LOADED: i32 = 4;
/// A length does not fit the address space (`len * size` overflows).
pub const FRAMELESS_E_TOO_LONG: i32 = 5;
/// The blob does not start with `FGKD`.
pub const FRAMELESS_E_BAD_MAGIC: i32 = 6;
/// The blob's format version is not supported.
pub const FRAMELESS_E_UNSUPPORTED_VERSION: i32 = 7;
/// The blob is shorter than its header says (a short buffer).
pub const FRAMELESS_E_TRUNCATED: i32 = 8;
/// A part of the blob cannot be decoded.
pub const FRAMELESS_E_MALFORMED: i32 = 9;
/// Bytes follow the end of the blob.
pub const FRAMELESS_E_TRAILING_BYTES: i32 = 10;
/// The body's SHA-256 differs from the header's.
pub const FRAMELESS_E_CHECKSUM_MISMATCH: i32 = 11;
/// The body's copy of kind, precision and dims differs from the header.
pub const FRAMELESS_E_HEADER_MISMATCH: i32 = 12;
/// The dims are inconsistent with the model kind.
pub const FRAMELESS_E_INVALID_DIMS: i32 = 13;
/// A tensor's length does not match the dims.
pub const FRAMELESS_E_SHAPE_MISMATCH: i32 = 14;
/// A weight, table, bias or scale is NaN or infinite, an int8 value is −128, or an
/// int8 scale is not > 0 or too large.
pub const FRAMELESS_E_BAD_VALUE: i32 = 15;
/// The metadata is inconsistent.
pub const FRAMELESS_E_BAD_METADATA: i32 = 16;
/// The node id is `>= n_nodes`.
pub const FRAMELESS_E_NODE_OUT_OF_RANGE: i32 = 17;
/// A dense feature vector's length is not `n_features` (a short buffer).
pub const FRAMELESS_E_FEATURE_LENGTH: i32 = 18;
/// A sparse feature index is `>= n_features`.
pub const FRAMELESS_E_FEATURE_INDEX_OUT_OF_RANGE: i32 = 19;
/// Sparse indices are not strictly increasing.
pub const FRAMELESS_E_UNSORTED_INDICES: i32 = 20;
/// A feature value is NaN or infinite.
pub const FRAMELESS_E_NON_FINITE_FEATURE: i32 = 21;
/// An engine error this version of the C API has no code for.
pub const FRAMELESS_E_OTHER: i32 = 22;
/// A value computed during predict was not finite (overflow); nothing was returned.
pub const FRAMELESS_E_OVERFLOW: i32 = 23;
/// An integer-only call on a float model.
pub const FRAMELESS_E_NOT_INT8: i32 = 24;
/// The blob keeps only some nodes (an id map) and not this one.
pub const FRAMELESS_E_NODE_NOT_KEPT: i32 = 25;

/// Every code with its name, in code order: the one table behind
/// [`frameless_error_name`] (and the header test).
pub const ERROR_NAMES: [(i32, &CStr); 26] = [
    (FRAMELESS_OK, c"FRAMELESS_OK"),
    (FRAMELESS_E_NULL_POINTER, c"FRAMELESS_E_NULL_POINTER"),
    (FRAMELESS_E_MISALIGNED, c"FRAMELESS_E_MISALIGNED"),
    (
        FRAMELESS_E_SCRATCH_TOO_SMALL,
        c"FRAMELESS_E_SCRATCH_TOO_SMALL",
    ),
    (FRAMELESS_E_NOT_LOADED, c"FRAMELESS_E_NOT_LOADED"),
    (FRAMELESS_E_TOO_LONG, c"FRAMELESS_E_TOO_LONG"),
    (FRAMELESS_E_BAD_MAGIC, c"FRAMELESS_E_BAD_MAGIC"),
    (
        FRAMELESS_E_UNSUPPORTED_VERSION,
        c"FRAMELESS_E_UNSUPPORTED_VERSION",
    ),
    (FRAMELESS_E_TRUNCATED, c"FRAMELESS_E_TRUNCATED"),
    (FRAMELESS_E_MALFORMED, c"FRAMELESS_E_MALFORMED"),
    (FRAMELESS_E_TRAILING_BYTES, c"FRAMELESS_E_TRAILING_BYTES"),
    (
        FRAMELESS_E_CHECKSUM_MISMATCH,
        c"FRAMELESS_E_CHECKSUM_MISMATCH",
    ),
    (FRAMELESS_E_HEADER_MISMATCH, c"FRAMELESS_E_HEADER_MISMATCH"),
    (FRAMELESS_E_INVALID_DIMS, c"FRAMELESS_E_INVALID_DIMS"),
    (FRAMELESS_E_SHAPE_MISMATCH, c"FRAMELESS_E_SHAPE_MISMATCH"),
    (FRAMELESS_E_BAD_VALUE, c"FRAMELESS_E_BAD_VALUE"),
    (FRAMELESS_E_BAD_METADATA, c"FRAMELESS_E_BAD_METADATA"),
    (
        FRAMELESS_E_NODE_OUT_OF_RANGE,
        c"FRAMELESS_E_NODE_OUT_OF_RANGE",
    ),
    (FRAMELESS_E_FEATURE_LENGTH, c"FRAMELESS_E_FEATURE_LENGTH"),
    (
        FRAMELESS_E_FEATURE_INDEX_OUT_OF_RANGE,
        c"FRAMELESS_E_FEATURE_INDEX_OUT_OF_RANGE",
    ),
    (
        FRAMELESS_E_UNSORTED_INDICES,
        c"FRAMELESS_E_UNSORTED_INDICES",
    ),
    (
        FRAMELESS_E_NON_FINITE_FEATURE,
        c"FRAMELESS_E_NON_FINITE_FEATURE",
    ),
    (FRAMELESS_E_OTHER, c"FRAMELESS_E_OTHER"),
    (FRAMELESS_E_OVERFLOW, c"FRAMELESS_E_OVERFLOW"),
    (FRAMELESS_E_NOT_INT8, c"FRAMELESS_E_NOT_INT8"),
    (FRAMELESS_E_NODE_NOT_KEPT, c"FRAMELESS_E_NODE_NOT_KEPT"),
];

/// The status code of an engine error.
pub fn error_code(e: &Error) -> i32 {
    match e {
        Error::BadMagic => FRAMELESS_E_BAD_MAGIC,
        Error::UnsupportedVersion { .. } => FRAMELESS_E_UNSUPPORTED_VERSION,
        Error::Truncated { .. } => FRAMELESS_E_TRUNCATED,
        Error::Malformed { .. } => FRAMELESS_E_MALFORMED,
        Error::TrailingBytes { .. } => FRAMELESS_E_TRAILING_BYTES,
        Error::ChecksumMismatch => FRAMELESS_E_CHECKSUM_MISMATCH,
        Error::HeaderMismatch => FRAMELESS_E_HEADER_MISMATCH,
        Error::InvalidDims => FRAMELESS_E_INVALID_DIMS,
        Error::ShapeMismatch { .. } => FRAMELESS_E_SHAPE_MISMATCH,
        Error::BadValue { .. } => FRAMELESS_E_BAD_VALUE,
        Error::Overflow => FRAMELESS_E_OVERFLOW,
        Error::NotInt8 => FRAMELESS_E_NOT_INT8,
        Error::BadMetadata => FRAMELESS_E_BAD_METADATA,
        Error::NodeOutOfRange { .. } => FRAMELESS_E_NODE_OUT_OF_RANGE,
        Error::NodeNotKept { .. } => FRAMELESS_E_NODE_NOT_KEPT,
        Error::FeatureLength { .. } => FRAMELESS_E_FEATURE_LENGTH,
        Error::FeatureIndexOutOfRange { .. } => FRAMELESS_E_FEATURE_INDEX_OUT_OF_RANGE,
        Error::UnsortedIndices { .. } => FRAMELESS_E_UNSORTED_INDICES,
        Error::NonFiniteFeature { .. } => FRAMELESS_E_NON_FINITE_FEATURE,
        Error::ScratchTooSmall { .. } => FRAMELESS_E_SCRATCH_TOO_SMALL,
        // One length serves both arrays in the C API, so this cannot happen there.
        _ => FRAMELESS_E_OTHER,
    }
}

/// `u64` words of [`FramelessModel`] storage: room for the engine's
/// `Model` on 32- and 64-bit targets (checked at compile time).
pub const MODEL_STORAGE_WORDS: usize = 96;

/// `tag` of a handle filled by [`frameless_load`] (`"FMLS"`).
const LOADED: u32 = u32::from_le_bytes(*b"FMLS");

/// A loaded model, in storage the caller provides (a `static` or a local):
/// `frameless_model` in C. It borrows the blob, which must outlive it and
/// stay unchanged; copying the struct copies the handle.
#[repr(C)]
pub struct FramelessModel {
    /// `"FMLS"` once loaded; zero the struct (as a `static` is) before the first load.
    tag: u32,
    /// Padding, so `storage` is 8-aligned on every target.
    reserved: u32,
    /// The engine's `Model`, written by [`frameless_load`].
    storage: MaybeUninit<[u64; MODEL_STORAGE_WORDS]>,
}

const _: () = assert!(size_of::<Model<'static>>() <= MODEL_STORAGE_WORDS * 8);
const _: () = assert!(align_of::<Model<'static>>() <= align_of::<u64>());

/// The result of a predict call: `frameless_prediction` in C. `logits` and
/// `gates` point into the scratch passed to predict and are valid until the
/// scratch is reused.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FramelessPrediction {
    /// `argmax(logits)`, the first maximum on ties.
    pub class_id: u32,
    /// Number of logits (the model's classes).
    pub n_logits: u32,
    /// Number of gates (the model's bands; 0 for an mlp).
    pub n_gates: u32,
    /// The logits.
    pub logits: *const f32,
    /// The gates `alpha_b` of the output stage.
    pub gates: *const f32,
}

/// The result of an integer-only predict call: `frameless_int_prediction` in
/// C. Logits in units of the model's logit scale, gates in Q15 (32768 is 1.0);
/// both point into the scratch, valid until it is reused.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FramelessIntPrediction {
    /// `argmax(logits)`, the first maximum on ties.
    pub class_id: u32,
    /// Number of logits (the model's classes).
    pub n_logits: u32,
    /// Number of gates (the model's bands; 0 for an mlp).
    pub n_gates: u32,
    /// The logits (`logit = value * logit_scale`).
    pub logits: *const i32,
    /// The gates `alpha_b` of the output stage, Q15.
    pub gates: *const i32,
}

/// The model's dimensions: `frameless_dims` in C.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramelessDims {
    /// Graph nodes N: valid node ids are `0..n_nodes`.
    pub n_nodes: u32,
    /// Input features F: the length of a dense feature vector.
    pub n_features: u32,
    /// Hidden width d.
    pub hidden: u32,
    /// Classes C: the number of logits.
    pub n_classes: u32,
    /// Framelet bands B: the number of gates.
    pub n_bands: u32,
    /// Stages (frameless) or layers (mlp).
    pub n_stages: u32,
}

/// `len` elements at `ptr` as a slice: empty for `len == 0` (any pointer,
/// NULL included), else checked for NULL, alignment and size.
///
/// # Safety
/// If `len > 0` and `ptr` is non-NULL and aligned, it must point to `len`
/// initialised `T`s that stay unchanged for `'a`.
unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], i32> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FRAMELESS_E_NULL_POINTER);
    }
    if !ptr.is_aligned() {
        return Err(FRAMELESS_E_MISALIGNED);
    }
    match len.checked_mul(size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => {}
        _ => return Err(FRAMELESS_E_TOO_LONG),
    }
    // SAFETY: non-NULL, aligned, the size fits `isize`; the caller guarantees
    // `len` initialised elements that live and stay unchanged for `'a`.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// The loaded model behind `model`, borrowed in place.
///
/// # Safety
/// `model` is NULL or points to a readable [`FramelessModel`] that a
/// successful [`frameless_load`] filled (or whose `tag` is not `"FMLS"`),
/// and the blob it borrows is still alive and unchanged.
unsafe fn model_ref<'a>(model: *const FramelessModel) -> Result<&'a Model<'a>, i32> {
    if model.is_null() {
        return Err(FRAMELESS_E_NULL_POINTER);
    }
    if !model.is_aligned() {
        return Err(FRAMELESS_E_MISALIGNED);
    }
    // SAFETY: non-NULL and aligned; the caller guarantees a readable handle.
    let handle = unsafe { &*model };
    if handle.tag != LOADED {
        return Err(FRAMELESS_E_NOT_LOADED);
    }
    // SAFETY: the tag is only set by `frameless_load` after it wrote a valid
    // `Model` at the start of `storage` (size and alignment checked at
    // compile time); borrowed, not copied (a few hundred bytes per call).
    Ok(unsafe { &*handle.storage.as_ptr().cast::<Model<'a>>() })
}

/// Validates the blob of `blob_len` bytes at `blob` (any alignment) and
/// fills `*model` with a handle to it; the blob is borrowed, not copied.
///
/// # Errors
/// `FRAMELESS_E_NULL_POINTER`, or the blob's defect (`FRAMELESS_E_BAD_MAGIC`
/// ... `FRAMELESS_E_BAD_METADATA`; a short buffer is `FRAMELESS_E_TRUNCATED`).
/// `*model` is left unchanged then.
///
/// # Safety
/// `blob` points to `blob_len` readable bytes that outlive every use of the
/// handle and stay unchanged; `model` is NULL or points to writable storage
/// for a [`FramelessModel`].
#[no_mangle]
pub unsafe extern "C" fn frameless_load(
    model: *mut FramelessModel,
    blob: *const u8,
    blob_len: usize,
) -> i32 {
    if model.is_null() {
        return FRAMELESS_E_NULL_POINTER;
    }
    if !model.is_aligned() {
        return FRAMELESS_E_MISALIGNED;
    }
    if blob.is_null() {
        return FRAMELESS_E_NULL_POINTER;
    }
    // SAFETY: the caller guarantees `blob_len` bytes that outlive the handle.
    let bytes: &'static [u8] = match unsafe { slice(blob, blob_len) } {
        Ok(b) => b,
        Err(code) => return code,
    };
    let loaded = match Model::from_bytes(bytes) {
        Ok(m) => m,
        Err(e) => return error_code(&e),
    };
    let mut storage = MaybeUninit::<[u64; MODEL_STORAGE_WORDS]>::uninit();
    // SAFETY: `storage` is large and aligned enough for a `Model` (checked
    // at compile time above) and is written, not read.
    unsafe { storage.as_mut_ptr().cast::<Model<'static>>().write(loaded) };
    let handle = FramelessModel {
        tag: LOADED,
        reserved: 0,
        storage,
    };
    // SAFETY: non-NULL and aligned (checked above); the caller guarantees
    // writable storage. `write` drops nothing (the old contents may be garbage).
    unsafe { model.write(handle) };
    FRAMELESS_OK
}

/// Writes the model's dimensions to `*dims`.
///
/// # Errors
/// `FRAMELESS_E_NULL_POINTER`, `FRAMELESS_E_MISALIGNED` or
/// `FRAMELESS_E_NOT_LOADED`; `*dims` is unchanged then.
///
/// # Safety
/// `model` as for [`frameless_scratch_bytes`]; `dims` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn frameless_model_dims(
    model: *const FramelessModel,
    dims: *mut FramelessDims,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let m = match unsafe { model_ref(model) } {
        Ok(m) => m,
        Err(code) => return code,
    };
    if dims.is_null() {
        return FRAMELESS_E_NULL_POINTER;
    }
    if !dims.is_aligned() {
        return FRAMELESS_E_MISALIGNED;
    }
    let d = m.dims();
    let out = FramelessDims {
        n_nodes: d.n_nodes,
        n_features: d.n_features,
        hidden: d.hidden,
        n_classes: d.n_classes,
        n_bands: d.n_bands,
        n_stages: d.n_stages,
    };
    // SAFETY: non-NULL and aligned; the caller guarantees it is writable.
    unsafe { dims.write(out) };
    FRAMELESS_OK
}

/// Writes the bytes of scratch predict needs to `*bytes` (the scratch
/// must also be 4-byte aligned: a `float` or `uint32_t` array).
///
/// # Errors
/// `FRAMELESS_E_NULL_POINTER`, `FRAMELESS_E_MISALIGNED` or
/// `FRAMELESS_E_NOT_LOADED`; `*bytes` is unchanged then.
///
/// # Safety
/// `model` is NULL or points to a readable handle that is zeroed or was
/// filled by [`frameless_load`] (whose blob is still alive); `bytes` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn frameless_scratch_bytes(
    model: *const FramelessModel,
    bytes: *mut usize,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let m = match unsafe { model_ref(model) } {
        Ok(m) => m,
        Err(code) => return code,
    };
    if bytes.is_null() {
        return FRAMELESS_E_NULL_POINTER;
    }
    if !bytes.is_aligned() {
        return FRAMELESS_E_MISALIGNED;
    }
    // SAFETY: non-NULL and aligned; the caller guarantees it is writable.
    unsafe { bytes.write(m.scratch_bytes()) };
    FRAMELESS_OK
}

/// Checks the handle, scratch and output, runs `predict` and fills `*out`.
///
/// # Safety
/// As for [`frameless_predict_dense`]; `features` only borrows memory the
/// caller guaranteed.
unsafe fn predict(
    model: *const FramelessModel,
    node: u32,
    features: Result<Features<'_>, i32>,
    scratch: *mut core::ffi::c_void,
    scratch_bytes: usize,
    out: *mut FramelessPrediction,
) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    let m = match unsafe { model_ref(model) } {
        Ok(m) => m,
        Err(code) => return code,
    };
    let features = match features {
        Ok(f) => f,
        Err(code) => return code,
    };
    // SAFETY: forwarded from the caller's contract.
    let scratch = match unsafe { scratch_for(m, out, scratch, scratch_bytes) } {
        Ok(s) => s,
        Err(code) => return code,
    };
    match m.predict(node, features, scratch) {
        Ok(p) => {
            let result = FramelessPrediction {
                class_id: p.class,
                n_logits: u32::try_from(p.logits.len()).unwrap_or(0),
                n_gates: u32::try_from(p.gates.len()).unwrap_or(0),
                logits: p.logits.as_ptr(),
                gates: p.gates.as_ptr(),
            };
            // SAFETY: non-NULL and aligned; the caller guarantees it is writable.
            unsafe { out.write(result) };
            FRAMELESS_OK
        }
        Err(e) => error_code(&e),
    }
}

/// Checks a predict call's output and scratch pointers (NULL, then
/// alignment, then the scratch size) and returns the scratch as
/// `m.scratch_len()` words, or the code.
///
/// # Safety
/// `scratch` points to `scratch_bytes` writable bytes used by nothing else
/// during the call, or is NULL (a code); `out` is only checked here.
unsafe fn scratch_for<'s, O>(
    m: &Model,
    out: *mut O,
    scratch: *mut core::ffi::c_void,
    scratch_bytes: usize,
) -> Result<&'s mut [f32], i32> {
    if out.is_null() || scratch.is_null() {
        return Err(FRAMELESS_E_NULL_POINTER);
    }
    let scratch = scratch.cast::<f32>();
    if !out.is_aligned() || !scratch.is_aligned() {
        return Err(FRAMELESS_E_MISALIGNED);
    }
    let words = scratch_bytes / size_of::<f32>();
    if words < m.scratch_len() {
        return Err(FRAMELESS_E_SCRATCH_TOO_SMALL);
    }
    if words > isize::MAX as usize / size_of::<f32>() {
        return Err(FRAMELESS_E_TOO_LONG);
    }
    // SAFETY: non-NULL, aligned, `words * 4 <= scratch_bytes` bytes that the
    // caller guarantees writable and not aliased by the other arguments; any
    // bit pattern is a valid f32, and predict writes before it reads.
    Ok(unsafe { core::slice::from_raw_parts_mut(scratch, m.scratch_len()) })
}

/// The sparse features at `indices` and `values`, `nnz` of each, or the code.
///
/// # Safety
/// `indices` and `values` each point to `nnz` readable elements (anything when
/// `nnz` is 0).
unsafe fn sparse<'a, V>(
    indices: *const u32,
    values: *const V,
    nnz: usize,
) -> Result<Features<'a, V>, i32> {
    // SAFETY: the caller guarantees `nnz` readable indices and values.
    let indices = unsafe { slice(indices, nnz) }?;
    // SAFETY: as above.
    let values = unsafe { slice(values, nnz) }?;
    Ok(Features::Sparse { indices, values })
}

/// Classifies `node` from its `nnz` non-zero features quantised with the
/// model's input scale (`frameless_int8_scales`): strictly increasing
/// `indices` (< `n_features`) and their int8 `values`, in integer arithmetic
/// only (no float instruction runs); fills `*out`.
///
/// # Errors
/// `FRAMELESS_E_NOT_INT8` for a float model; otherwise as
/// [`frameless_predict_sparse`] (no `FRAMELESS_E_NON_FINITE_FEATURE`).
///
/// # Safety
/// As for [`frameless_predict_sparse`], `values` pointing to `nnz` bytes.
#[no_mangle]
pub unsafe extern "C" fn frameless_predict_int8_sparse(
    model: *const FramelessModel,
    node: u32,
    indices: *const u32,
    values: *const i8,
    nnz: usize,
    scratch: *mut core::ffi::c_void,
    scratch_bytes: usize,
    out: *mut FramelessIntPrediction,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let m = match unsafe { model_ref(model) } {
        Ok(m) => m,
        Err(code) => return code,
    };
    // SAFETY: forwarded from this function's contract.
    let x = match unsafe { sparse(indices, values, nnz) } {
        Ok(x) => x,
        Err(code) => return code,
    };
    // SAFETY: forwarded from this function's contract.
    let scratch = match unsafe { scratch_for(m, out, scratch, scratch_bytes) } {
        Ok(s) => s,
        Err(code) => return code,
    };
    match m.predict_int8(node, x, scratch) {
        Ok(p) => {
            let result = FramelessIntPrediction {
                class_id: p.class,
                n_logits: u32::try_from(p.logits.len()).unwrap_or(0),
                n_gates: u32::try_from(p.gates.len()).unwrap_or(0),
                logits: p.logits.as_ptr(),
                gates: p.gates.as_ptr(),
            };
            // SAFETY: non-NULL and aligned; the caller guarantees it is writable.
            unsafe { out.write(result) };
            FRAMELESS_OK
        }
        Err(e) => error_code(&e),
    }
}

/// `*input_scale` and `*logit_scale` of an int8 model: quantise a feature
/// as `round(x / input_scale)`; a logit is `value * logit_scale`.
///
/// # Errors
/// `FRAMELESS_E_NULL_POINTER`, `FRAMELESS_E_MISALIGNED`, `FRAMELESS_E_NOT_LOADED`
/// or `FRAMELESS_E_NOT_INT8`; the outputs are unchanged then.
///
/// # Safety
/// `model` as for [`frameless_scratch_bytes`]; the outputs are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn frameless_int8_scales(
    model: *const FramelessModel,
    input_scale: *mut f32,
    logit_scale: *mut f32,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let m = match unsafe { model_ref(model) } {
        Ok(m) => m,
        Err(code) => return code,
    };
    let (Some(x), Some(l)) = (m.calibration(0), m.calibration(1)) else {
        return FRAMELESS_E_NOT_INT8;
    };
    if input_scale.is_null() || logit_scale.is_null() {
        return FRAMELESS_E_NULL_POINTER;
    }
    if !input_scale.is_aligned() || !logit_scale.is_aligned() {
        return FRAMELESS_E_MISALIGNED;
    }
    // SAFETY: non-NULL and aligned; the caller guarantees them writable.
    unsafe {
        input_scale.write(x);
        logit_scale.write(l);
    }
    FRAMELESS_OK
}

/// Classifies `node` from all `n_features` feature values at `features`
/// (`n_features` must equal the model's), using `scratch_bytes` bytes of
/// 4-byte-aligned scratch at `scratch`, and fills `*out`.
///
/// # Errors
/// `FRAMELESS_E_NULL_POINTER`, `FRAMELESS_E_MISALIGNED`,
/// `FRAMELESS_E_NOT_LOADED`, `FRAMELESS_E_SCRATCH_TOO_SMALL`,
/// `FRAMELESS_E_TOO_LONG`, `FRAMELESS_E_NODE_OUT_OF_RANGE`,
/// `FRAMELESS_E_FEATURE_LENGTH` or `FRAMELESS_E_NON_FINITE_FEATURE`;
/// `*out` is unchanged then.
///
/// # Safety
/// `model` as for [`frameless_scratch_bytes`]; `features` points to
/// `n_features` readable floats (or is anything when `n_features` is 0);
/// `scratch` to `scratch_bytes` writable bytes used by nothing else during
/// the call; `out` is NULL or writable. Non-NULL pointers need not be
/// aligned: misalignment is reported.
#[no_mangle]
pub unsafe extern "C" fn frameless_predict_dense(
    model: *const FramelessModel,
    node: u32,
    features: *const f32,
    n_features: usize,
    scratch: *mut core::ffi::c_void,
    scratch_bytes: usize,
    out: *mut FramelessPrediction,
) -> i32 {
    // SAFETY: the caller guarantees `n_features` readable floats.
    let x = unsafe { slice(features, n_features) }.map(Features::Dense);
    // SAFETY: forwarded from this function's contract.
    unsafe { predict(model, node, x, scratch, scratch_bytes, out) }
}

/// Classifies `node` from its `nnz` non-zero features: strictly increasing
/// `indices` (< `n_features`) and their `values`; otherwise as
/// [`frameless_predict_dense`].
///
/// # Errors
/// As [`frameless_predict_dense`], with `FRAMELESS_E_FEATURE_INDEX_OUT_OF_RANGE`
/// and `FRAMELESS_E_UNSORTED_INDICES` instead of `FRAMELESS_E_FEATURE_LENGTH`.
///
/// # Safety
/// `indices` and `values` each point to `nnz` readable elements (anything
/// when `nnz` is 0); the rest as for [`frameless_predict_dense`].
#[no_mangle]
pub unsafe extern "C" fn frameless_predict_sparse(
    model: *const FramelessModel,
    node: u32,
    indices: *const u32,
    values: *const f32,
    nnz: usize,
    scratch: *mut core::ffi::c_void,
    scratch_bytes: usize,
    out: *mut FramelessPrediction,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let x = unsafe { sparse(indices, values, nnz) };
    // SAFETY: forwarded from this function's contract.
    unsafe { predict(model, node, x, scratch, scratch_bytes, out) }
}

/// The name of status `code` (`"FRAMELESS_E_SCRATCH_TOO_SMALL"`, ...), a
/// static NUL-terminated string; `"FRAMELESS_E_UNKNOWN"` for a code this
/// library does not define. Never NULL.
#[no_mangle]
pub extern "C" fn frameless_error_name(code: i32) -> *const c_char {
    let name = ERROR_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(c"FRAMELESS_E_UNKNOWN", |(_, n)| *n);
    name.as_ptr()
}

/// Halts: the engine never panics on any input (its own rule), so this is
/// unreachable; a C program has no unwinder to hand a panic to.
#[cfg(all(not(test), target_os = "none"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests;
