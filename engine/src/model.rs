//! [`Model`]: a validated, zero-copy view of a blob.

use crate::blob::{sha256, Dims, Header, Metadata, ModelKind, Precision, FORMAT_VERSION, MAGIC};
use crate::layout::{take, Head, Lin, Reader, Shape, Stage};
use crate::nodes::IdMap;
use crate::quant::Fix;
use crate::{Error, Section};
use core::cmp::Ordering;

/// A model blob checked by [`Model::from_bytes`] and borrowed in place: the
/// header, the metadata and tensor views (parsed once, not per `predict`),
/// so it is `Copy` and costs a few dozen words of RAM; weights stay in flash.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    header: Header,
    metadata: Metadata<'a>,
    pub(crate) shape: Shape,
    pub(crate) plan: Plan<'a>,
    pub(crate) scratch: ScratchLayout,
    /// int8: the static scales, f32 LE (see [`Model::calibration`]); empty otherwise.
    pub(crate) calibration: &'a [u8],
    pub(crate) ids: IdMap<'a>,
}

/// Tensor views resolved by [`Model::from_bytes`], so `predict` does not
/// re-walk the postcard layout. Later layers / stages (any number, and no
/// allocator) are re-read by `rest`, which skips the checks already made.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::large_enum_variant)] // no allocator to box with; one per Model
pub(crate) enum Plan<'a> {
    /// mlp: layer 0 and the tensors of layers 1.. .
    Mlp { first: Lin<'a>, rest: Reader<'a> },
    /// Frameless: stage 0, the tensors of stages 1.. (the heads excluded) and the heads.
    Frameless {
        first: Stage<'a>,
        rest: Reader<'a>,
        head: Head<'a>,
    },
}

/// Converts the untrusted dims to `usize` and checks them against the kind.
fn shape_of(kind: ModelKind, prec: Precision, dims: &Dims) -> Result<Shape, Error> {
    let u = |v: u32| usize::try_from(v).map_err(|_| Error::InvalidDims);
    let sh = Shape {
        n: u(dims.n_nodes)?,
        f: u(dims.n_features)?,
        d: u(dims.hidden)?,
        c: u(dims.n_classes)?,
        b: u(dims.n_bands)?,
        s: u(dims.n_stages)?,
    };
    let common = sh.n >= 1 && sh.f >= 1 && sh.c >= 1 && sh.s >= 1;
    // int8 sums of at most 2^17 products of |q| <= 128 and |w| <= 127 fit i32.
    let int8_ok = prec != Precision::Int8 || (sh.f <= 1 << 17 && sh.d <= 1 << 16);
    let ok = match kind {
        ModelKind::Mlp => sh.b == 0 && (sh.s == 1) == (sh.d == 0),
        ModelKind::FmlpS => sh.s == 1 && sh.d >= 1 && sh.b >= 1,
        ModelKind::FmlpO => sh.d >= 1 && sh.b >= 1,
    };
    (common && ok && int8_ok)
        .then_some(sh)
        .ok_or(Error::InvalidDims)
}

/// Where `predict` keeps what, computed once by [`Model::from_bytes`]: in
/// words, `[logits C | gates B | vecs | acc | lanes]`.
///
/// Float mlp: two f32 vectors of `w = max(d, C)` (layer input and output).
/// Float frameless: `u`, `h`, `e` of `d`, feature and band logits of `C`.
/// int8 (integer-only; logits and gates as i32): mlp `w` i32 accumulators
/// and `w` i16 lanes (`ceil(w/2)` words); frameless the feature and band
/// logits (`C` i32 each), `d` i32 accumulators and `2d` i16 lanes (`d`
/// words: those of `u`, then of `e`, which also carry the next stage's input).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScratchLayout {
    /// Words of the logits, the gates, the five vectors and the i32 accumulators.
    words: [usize; 8],
    /// i16 lanes after them.
    lanes: usize,
    /// Words in all (`usize::MAX` if that overflows).
    len: usize,
}

/// A scratch cut as its [`ScratchLayout`] says (unused vectors are empty).
pub(crate) struct Parts<'s> {
    pub logits: &'s mut [f32],
    pub gates: &'s mut [f32],
    pub vecs: [&'s mut [f32]; 5],
    pub acc: &'s mut [i32],
    pub lanes: &'s mut [i16],
}

/// Splits the first `n` words off `rest` (fewer if it is shorter).
fn words<'s>(rest: &mut &'s mut [f32], n: usize) -> &'s mut [f32] {
    let s = core::mem::take(rest);
    let (a, b) = s.split_at_mut(n.min(s.len()));
    *rest = b;
    a
}

impl ScratchLayout {
    /// The layout of a `kind` model in `prec` with `dims` (which fit `usize`).
    const fn new(kind: ModelKind, prec: Precision, dims: &Dims) -> Self {
        let (d, c) = (dims.hidden as usize, dims.n_classes as usize);
        let b = dims.n_bands as usize;
        let w = if d > c { d } else { c };
        let mlp = matches!(kind, ModelKind::Mlp);
        let int8 = matches!(prec, Precision::Int8);
        let (words, lanes) = match (int8, mlp) {
            (false, true) => ([c, b, w, w, 0, 0, 0, 0], 0),
            (false, false) => ([c, b, d, d, d, c, c, 0], 0),
            (true, true) => ([c, b, 0, 0, 0, 0, 0, w], w),
            (true, false) => ([c, b, 0, 0, 0, c, c, d], d.saturating_mul(2)),
        };
        let mut len = lanes.div_ceil(2);
        let mut rest = words.as_slice();
        while let [n, tail @ ..] = rest {
            len = len.saturating_add(*n);
            rest = tail;
        }
        ScratchLayout { words, lanes, len }
    }

    /// Cuts `scratch` (at least `len` words) into its parts.
    pub fn split<'s>(&self, mut scratch: &'s mut [f32]) -> Parts<'s> {
        let rest = &mut scratch;
        let [c, b, v0, v1, v2, v3, v4, acc] = self.words;
        let (logits, gates) = (words(rest, c), words(rest, b));
        let vecs = [v0, v1, v2, v3, v4].map(|n| words(rest, n));
        let acc = bytemuck::try_cast_slice_mut(words(rest, acc)).unwrap_or(&mut []);
        let lanes: &mut [i16] =
            bytemuck::try_cast_slice_mut(words(rest, self.lanes.div_ceil(2))).unwrap_or(&mut []);
        let lanes = lanes.get_mut(..self.lanes).unwrap_or(&mut []);
        Parts {
            logits,
            gates,
            vecs,
            acc,
            lanes,
        }
    }
}

/// An upper bound of [`Model::scratch_len`] over every kind and precision
/// with these dims, usable in `const` context to size a static buffer.
///
/// ```
/// use frameless_engine::{max_scratch_len, Dims};
/// const D: Dims = Dims { n_nodes: 2708, n_features: 1433, hidden: 64, n_classes: 7, n_bands: 2, n_stages: 1 };
/// const LEN: usize = max_scratch_len(&D);
/// let scratch = [0.0f32; LEN];
/// assert_eq!(scratch.len(), 7 + 2 + 3 * 64 + 2 * 7);
/// ```
pub const fn max_scratch_len(dims: &Dims) -> usize {
    let mut max = 0;
    let mut i = 0;
    while i < 4 {
        let kind = if i % 2 == 0 {
            ModelKind::Mlp
        } else {
            ModelKind::FmlpO
        };
        let prec = if i < 2 {
            Precision::F32
        } else {
            Precision::Int8
        };
        let len = ScratchLayout::new(kind, prec, dims).len;
        if len > max {
            max = len;
        }
        i += 1;
    }
    max
}

impl<'a> Model<'a> {
    /// Validates `bytes` as a model blob and borrows it.
    ///
    /// Checks, in order: magic, version, header, body length, SHA-256, the header echo, dims,
    /// metadata, the id map (empty, or `n_nodes` strictly increasing ids), then in one pass every tensor's length against the dims and its values:
    /// finite floats, int8 weights in -127..=127, int8 scales > 0 with `127 * scale` finite.
    ///
    /// # Errors
    /// Any defect of the blob, as the matching [`Error`] variant; never panics.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Model<'a>, Error> {
        if !MAGIC.starts_with(bytes.get(..4).unwrap_or(bytes)) {
            return Err(Error::BadMagic);
        }
        let ((_, version), _): (([u8; 4], u16), _) = take(bytes, Section::Header)?;
        if version != FORMAT_VERSION && version != 3 {
            return Err(Error::UnsupportedVersion { found: version });
        }
        let (header, body): (Header, _) = take(bytes, Section::Header)?;
        let body_len = usize::try_from(header.body_len).map_err(|_| Error::InvalidDims)?;
        let section = Section::Body;
        match body.len().cmp(&body_len) {
            Ordering::Less => return Err(Error::Truncated { section }),
            Ordering::Greater => return Err(Error::TrailingBytes { section }),
            Ordering::Equal => {}
        }
        if sha256(body) != header.body_sha256 {
            return Err(Error::ChecksumMismatch);
        }
        let (echo, rest): ((ModelKind, Precision, Dims), _) = take(body, Section::Echo)?;
        if echo != (header.kind, header.precision, header.dims) {
            return Err(Error::HeaderMismatch);
        }
        let shape = shape_of(header.kind, header.precision, &header.dims)?;
        // Postcard encodes a struct as its fields in order: version 3 stops before the
        // recipe.
        let ((dataset, class_names, test_accuracy), rest) = take(rest, Section::Metadata)?;
        let (recipe, tensors) = match version {
            3 => ("", rest),
            _ => take(rest, Section::Metadata)?,
        };
        let metadata = Metadata {
            dataset,
            class_names,
            test_accuracy,
            recipe,
        };
        let names_ok =
            metadata.class_names.is_empty() || metadata.class_names.split('\n').count() == shape.c;
        let acc_ok = metadata.test_accuracy.is_none_or(f32::is_finite);
        if !(names_ok && acc_ok && metadata.recipe_ok()) {
            return Err(Error::BadMetadata);
        }
        let (ids, tensors): (&[u8], _) = take(tensors, Section::IdMap)?;
        let ids = IdMap::parse(ids, shape.n)?;
        let mut r = Reader {
            rest: tensors,
            prec: header.precision,
            check: true,
        };
        let int8 = header.precision == Precision::Int8;
        let n_scales = match header.kind {
            _ if !int8 => 0,
            ModelKind::Mlp => 2,
            ModelKind::FmlpS | ModelKind::FmlpO => shape.s.saturating_mul(2).saturating_add(2),
        };
        let calibration = r.f32s(n_scales, Section::Calibration)?;
        let fix = |c: &[u8]| Fix::of(f32::from_le_bytes(crate::layout::le(c))).is_some();
        if !calibration.chunks_exact(4).all(fix) {
            return Err(Error::BadValue {
                section: Section::Calibration,
            });
        }
        let plan = match header.kind {
            ModelKind::Mlp => {
                let first = r.layer(&shape, 0)?;
                let rest = Reader { check: false, ..r };
                (1..shape.s).try_for_each(|k| r.layer(&shape, k).map(drop))?;
                Plan::Mlp { first, rest }
            }
            ModelKind::FmlpS | ModelKind::FmlpO => {
                let first = r.stage(&shape, 0)?;
                let rest = Reader { check: false, ..r };
                (1..shape.s).try_for_each(|s| r.stage(&shape, s).map(drop))?;
                let head = r.head(&shape)?;
                Plan::Frameless { first, rest, head }
            }
        };
        if !r.rest.is_empty() {
            return Err(Error::TrailingBytes { section });
        }
        let scratch = ScratchLayout::new(header.kind, header.precision, &header.dims);
        scratch.len.checked_mul(4).ok_or(Error::InvalidDims)?;
        Ok(Model {
            header,
            metadata,
            shape,
            plan,
            scratch,
            calibration,
            ids,
        })
    }

    /// Static scale `i` of an int8 blob: 0 the input features', 1 the
    /// logits' (logit = `i32 * scale`), then per stage `2 + 2s` the encoded
    /// features' and `3 + 2s` the next stage's input ratio (see
    /// `docs/blob-format.md`). `None` for float blobs and past the end.
    pub fn calibration(&self, i: usize) -> Option<f32> {
        crate::layout::f32_at(self.calibration, i)
    }

    /// The validated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Model dimensions.
    pub fn dims(&self) -> Dims {
        self.header.dims
    }

    /// Model architecture.
    pub fn kind(&self) -> ModelKind {
        self.header.kind
    }

    /// Weight storage precision.
    pub fn precision(&self) -> Precision {
        self.header.precision
    }

    /// Dataset name, class names and export accuracy, borrowed from the blob.
    pub fn metadata(&self) -> Metadata<'a> {
        self.metadata
    }

    /// The exact number of f32 words [`Model::predict`] needs as scratch.
    pub fn scratch_len(&self) -> usize {
        self.scratch.len
    }

    /// `4 * scratch_len()`: scratch size in bytes.
    pub fn scratch_bytes(&self) -> usize {
        self.scratch.len.saturating_mul(4)
    }

    /// Multiply-accumulates of one `predict` whose input has `nnz` non-zero
    /// features (clamped to `n_features`): first layer `nnz * out`, later
    /// layers `in * out`, gates `2d` per band per stage, heads `(B + 1) * d * C`.
    pub fn mac_count(&self, nnz: usize) -> u64 {
        let sh = self.shape;
        // u128: every dim is below 2^32, so no sum of these products overflows.
        let [nnz, d, c, b, s] = [nnz.min(sh.f), sh.d, sh.c, sh.b, sh.s].map(|v| v as u128);
        let macs = match self.header.kind {
            ModelKind::Mlp if s == 1 => nnz * c,
            ModelKind::Mlp => nnz * d + (s - 2) * d * d + d * c,
            ModelKind::FmlpS | ModelKind::FmlpO => {
                nnz * d + (s - 1) * d * d + s * b * 2 * d + (b + 1) * d * c
            }
        };
        u64::try_from(macs).unwrap_or(u64::MAX)
    }
}
