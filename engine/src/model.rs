//! [`Model`]: a validated, zero-copy view of a blob.

use crate::blob::{crc32, Dims, Header, Metadata, ModelKind, Precision, FORMAT_VERSION, MAGIC};
use crate::layout::{take, Reader, Shape};
use crate::{Error, Section};

/// A model blob checked by [`Model::from_bytes`] and borrowed in place.
///
/// It holds only the header, the metadata and slices of the blob, so it is
/// `Copy` and costs a few words of RAM; weights stay in flash.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    header: Header,
    metadata: Metadata<'a>,
    pub(crate) tensors: &'a [u8],
    pub(crate) shape: Shape,
    scratch_len: usize,
}

/// Converts the untrusted dims to `usize` and checks them against the kind.
fn shape_of(kind: ModelKind, dims: &Dims) -> Result<Shape, Error> {
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
    let ok = match kind {
        ModelKind::Mlp => sh.b == 0 && (sh.s == 1) == (sh.d == 0),
        ModelKind::FmlpS => sh.s == 1 && sh.d >= 1 && sh.b >= 1,
        ModelKind::FmlpO => sh.d >= 1 && sh.b >= 1,
    };
    if common && ok {
        Ok(sh)
    } else {
        Err(Error::InvalidDims)
    }
}

/// Scratch words: `[logits C | gates B | f32 work | int8 work]`.
///
/// mlp: f32 work `2w` with `w = max(d, C)`; int8 adds `w` i32 accumulators
/// and `w` i16 lanes (`ceil(w/2)` words). Frameless: f32 work `3d + 2C`
/// (`u`, `h`, `e`, feature logits, band logits); int8 adds `d` i32
/// accumulators and `2d` i16 lanes (`d` words).
pub(crate) fn scratch_words(kind: ModelKind, prec: Precision, sh: &Shape) -> Option<usize> {
    let int8 = prec == Precision::Int8;
    let head = sh.c.checked_add(sh.b)?;
    let work = match kind {
        ModelKind::Mlp => {
            let w = sh.d.max(sh.c);
            let f = w.checked_mul(2)?;
            let i = if int8 {
                w.checked_add(w.div_ceil(2))?
            } else {
                0
            };
            f.checked_add(i)?
        }
        ModelKind::FmlpS | ModelKind::FmlpO => {
            let f = sh.d.checked_mul(3)?.checked_add(sh.c.checked_mul(2)?)?;
            let i = if int8 { sh.d.checked_mul(2)? } else { 0 };
            f.checked_add(i)?
        }
    };
    head.checked_add(work)
}

/// An upper bound of [`Model::scratch_len`] over every kind and precision
/// with these dims, usable in `const` context to size a static buffer.
///
/// ```
/// use frameless_engine::{max_scratch_len, Dims};
/// const D: Dims = Dims { n_nodes: 2708, n_features: 1433, hidden: 64, n_classes: 7, n_bands: 2, n_stages: 1 };
/// const LEN: usize = max_scratch_len(&D);
/// let scratch = [0.0f32; LEN];
/// assert_eq!(scratch.len(), 7 + 2 + 3 * 64 + 2 * 7 + 2 * 64);
/// ```
pub const fn max_scratch_len(dims: &Dims) -> usize {
    let d = dims.hidden as usize;
    let c = dims.n_classes as usize;
    let b = dims.n_bands as usize;
    let w = if d > c { d } else { c };
    let mlp = w.saturating_mul(3).saturating_add(w.div_ceil(2));
    let fr = d.saturating_mul(5).saturating_add(c.saturating_mul(2));
    let work = if mlp > fr { mlp } else { fr };
    c.saturating_add(b).saturating_add(work)
}

impl<'a> Model<'a> {
    /// Validates `bytes` as a model blob and borrows it.
    ///
    /// Checks, in order: magic, version, header, body length, CRC-32, the
    /// header echo, dims, metadata, then every tensor length against the
    /// dims and every int8 scale (finite and > 0).
    ///
    /// # Errors
    /// Any defect of the blob, as the matching [`Error`] variant; never panics.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Model<'a>, Error> {
        let prefix = bytes.get(..4).unwrap_or(bytes);
        if MAGIC.get(..prefix.len()) != Some(prefix) {
            return Err(Error::BadMagic);
        }
        let ((_, version), _): (([u8; 4], u16), _) = take(bytes, Section::Header)?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion { found: version });
        }
        let (header, body): (Header, _) = take(bytes, Section::Header)?;
        let body_len = usize::try_from(header.body_len).map_err(|_| Error::InvalidDims)?;
        if body.len() < body_len {
            return Err(Error::Truncated {
                section: Section::Body,
            });
        }
        if body.len() > body_len {
            return Err(Error::TrailingBytes {
                section: Section::Body,
            });
        }
        if crc32(body) != header.body_crc32 {
            return Err(Error::ChecksumMismatch);
        }
        let (echo, rest): ((ModelKind, Precision, Dims), _) = take(body, Section::Echo)?;
        if echo != (header.kind, header.precision, header.dims) {
            return Err(Error::HeaderMismatch);
        }
        let shape = shape_of(header.kind, &header.dims)?;
        let (metadata, tensors): (Metadata<'a>, _) = take(rest, Section::Metadata)?;
        let names_ok =
            metadata.class_names.is_empty() || metadata.class_names.split('\n').count() == shape.c;
        let acc_ok = metadata.test_accuracy.is_none_or(f32::is_finite);
        if !(names_ok && acc_ok) {
            return Err(Error::BadMetadata);
        }
        let mut r = Reader {
            rest: tensors,
            prec: header.precision,
            validate: true,
        };
        match header.kind {
            ModelKind::Mlp => {
                for k in 0..shape.s {
                    r.layer(&shape, k)?;
                }
            }
            ModelKind::FmlpS | ModelKind::FmlpO => {
                for s in 0..shape.s {
                    r.stage(&shape, s)?;
                }
                r.head(&shape)?;
            }
        }
        if !r.rest.is_empty() {
            return Err(Error::TrailingBytes {
                section: Section::Body,
            });
        }
        let scratch_len =
            scratch_words(header.kind, header.precision, &shape).ok_or(Error::InvalidDims)?;
        scratch_len.checked_mul(4).ok_or(Error::InvalidDims)?;
        Ok(Model {
            header,
            metadata,
            tensors,
            shape,
            scratch_len,
        })
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
        self.scratch_len
    }

    /// `4 * scratch_len()`: scratch size in bytes.
    pub fn scratch_bytes(&self) -> usize {
        self.scratch_len.saturating_mul(4)
    }

    /// Multiply-accumulates of one `predict` whose input has `nnz` non-zero
    /// features (clamped to `n_features`): first layer `nnz * out`, later
    /// layers `in * out`, gates `2d` per band per stage, heads `(B + 1) * d * C`.
    pub fn mac_count(&self, nnz: usize) -> u64 {
        let sh = self.shape;
        let w = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        let nnz = w(nnz.min(sh.f));
        let (d, c, b, s) = (w(sh.d), w(sh.c), w(sh.b), w(sh.s));
        match self.header.kind {
            ModelKind::Mlp => {
                let out0 = if s == 1 { c } else { d };
                let mid = s.saturating_sub(2).saturating_mul(d.saturating_mul(d));
                let last = if s >= 2 { d.saturating_mul(c) } else { 0 };
                nnz.saturating_mul(out0)
                    .saturating_add(mid)
                    .saturating_add(last)
            }
            ModelKind::FmlpS | ModelKind::FmlpO => {
                let enc = nnz
                    .saturating_mul(d)
                    .saturating_add(s.saturating_sub(1).saturating_mul(d.saturating_mul(d)));
                let gates = s.saturating_mul(b).saturating_mul(d.saturating_mul(2));
                let heads = b.saturating_add(1).saturating_mul(d).saturating_mul(c);
                enc.saturating_add(gates).saturating_add(heads)
            }
        }
    }
}
