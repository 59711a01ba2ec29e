//! Tensor layout of the body: borrowed views over the blob and the reader
//! that walks them in file order.
//!
//! Sizes come from the (untrusted) dims, so every product is `checked_mul`
//! and a mismatch is an [`Error`], never a panic or an allocation.

use crate::quant::Fix;
use crate::{Error, Precision, Section};

/// Model dimensions as `usize`, derived once from [`crate::Dims`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub n: usize,
    pub f: usize,
    pub d: usize,
    pub c: usize,
    pub b: usize,
    pub s: usize,
}

/// A stored matrix: `rows x cols` weights plus (int8 only) one f32 scale per row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [u8],
    pub scales: &'a [u8],
    pub cols: usize,
    pub prec: Precision,
}

impl<'a> Mat<'a> {
    /// Bytes of row `r` (empty if out of range; validated blobs never are).
    pub fn row(&self, r: usize) -> &'a [u8] {
        let len = self.cols.saturating_mul(self.prec.weight_bytes());
        let start = r.saturating_mul(len);
        let end = start.saturating_add(len);
        self.data.get(start..end).unwrap_or(&[])
    }

    /// The stored scale of row `r` as f32 (1.0 for float precisions).
    pub fn scale(&self, r: usize) -> f32 {
        f32_at(self.scales, r).unwrap_or(1.0)
    }

    /// The int8 multiplier of row `r` (validated, so the fallback never shows).
    pub fn fix(&self, r: usize) -> Fix {
        f32_at(self.scales, r)
            .and_then(Fix::of)
            .unwrap_or(Fix::UNIT)
    }
}

/// A linear layer: a matrix and one f32 bias per output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lin<'a> {
    pub w: Mat<'a>,
    pub bias: &'a [u8],
}

impl Lin<'_> {
    /// Bias of output `o` (0.0 if out of range).
    pub fn bias(&self, o: usize) -> f32 {
        f32_at(self.bias, o).unwrap_or(0.0)
    }

    /// Bias `o` of an int8 layer: an i32 in its output's units.
    pub fn bias_i32(&self, o: usize) -> i64 {
        f32_at(self.bias, o).map_or(0, |v| i64::from(v.to_bits() as i32))
    }
}

/// One frameless stage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stage<'a> {
    /// Stage 1: input-major `F x d` (row j = column j of W). Later stages: row-major `d x d`.
    pub encoder: Lin<'a>,
    /// `B*N` rows of `d`: row `b*N + node` is `E_b[node]`.
    pub tables: Mat<'a>,
    /// `B` rows of `2d`: `[0..d)` multiplies `e_b`, `[d..2d)` multiplies `u`.
    pub gates: Lin<'a>,
}

/// The output heads of a frameless model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'a> {
    /// `B*C` rows of `d`: rows `b*C..(b+1)*C` are band b's classifier.
    pub bands: Lin<'a>,
    /// `C` rows of `d`.
    pub features: Lin<'a>,
}

/// The first `N` bytes of `bytes` (zeros if it is shorter): the one
/// little-endian decoder, `f32::from_le_bytes(le(b))` and friends.
#[inline(always)]
pub(crate) fn le<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let b = bytes.get(..N).unwrap_or(&[]);
    <[u8; N]>::try_from(b).unwrap_or([0; N])
}

/// Reads the little-endian f32 at word index `i` of `bytes`.
pub(crate) fn f32_at(bytes: &[u8], i: usize) -> Option<f32> {
    let start = i.checked_mul(4)?;
    let b = bytes.get(start..start.checked_add(4)?)?;
    Some(f32::from_le_bytes(le(b)))
}

/// Walks the tensors of a body in file order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    pub rest: &'a [u8],
    pub prec: Precision,
    /// Check values and scales (load time); skipped on the hot path of `predict`.
    pub check: bool,
}

/// Decodes one postcard value from the front of `bytes`.
pub(crate) fn take<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    section: Section,
) -> Result<(T, &'a [u8]), Error> {
    postcard::take_from_bytes(bytes).map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => Error::Truncated { section },
        _ => Error::Malformed { section },
    })
}

impl<'a> Reader<'a> {
    /// One tensor of exactly `len` bytes of `e` values in section `s`; at
    /// load time (`check`) every value must be finite (int8: not -128).
    fn tensor(&mut self, len: Option<usize>, e: Precision, s: Section) -> Result<&'a [u8], Error> {
        let (bytes, rest): (&'a [u8], _) = take(self.rest, s)?;
        self.rest = rest;
        if len != Some(bytes.len()) {
            return Err(Error::ShapeMismatch { section: s });
        }
        // Bits under `mask` equal to `bad`: an all-ones exponent (Inf, NaN) or int8 -128.
        let (mask, bad) = match e {
            Precision::F32 => (0x7F80_0000, 0x7F80_0000),
            Precision::F16 => (0x7C00, 0x7C00),
            Precision::Int8 => (0xFF, 0x80),
        };
        let fin = |c: &[u8]| c.iter().rev().fold(0u32, |v, &b| v << 8 | u32::from(b)) & mask != bad;
        let ok = !self.check || bytes.chunks_exact(e.weight_bytes()).all(fin);
        ok.then_some(bytes).ok_or(Error::BadValue { section: s })
    }

    /// `n` little-endian f32 values.
    pub fn f32s(&mut self, n: usize, section: Section) -> Result<&'a [u8], Error> {
        self.tensor(n.checked_mul(4), Precision::F32, section)
    }

    /// `n` biases: f32, or for int8 any i32 (4 bytes each either way).
    pub fn biases(&mut self, n: usize, section: Section) -> Result<&'a [u8], Error> {
        let check = self.check && self.prec != Precision::Int8;
        let mut r = Reader { check, ..*self };
        let bytes = r.f32s(n, section)?;
        self.rest = r.rest;
        Ok(bytes)
    }

    /// A `rows x cols` matrix and, for int8, `n_scales` scales (> 0, and
    /// `127 * scale` finite: so is every dequantised weight).
    fn matrix(
        &mut self,
        rows: usize,
        cols: usize,
        n_scales: usize,
        section: Section,
    ) -> Result<Mat<'a>, Error> {
        let (prec, width) = (self.prec, self.prec.weight_bytes());
        let len = rows.checked_mul(cols).and_then(|n| n.checked_mul(width));
        let data = self.tensor(len, prec, section)?;
        let scales = self.f32s(if prec == Precision::Int8 { n_scales } else { 0 }, section)?;
        let ok = |c| Fix::of(f32::from_le_bytes(le(c))).is_some();
        if self.check && !scales.chunks_exact(4).all(ok) {
            return Err(Error::BadValue { section });
        }
        Ok(Mat {
            data,
            scales,
            cols,
            prec,
        })
    }

    /// A linear layer, `out` outputs of `inp` inputs, one scale (int8) and one
    /// bias per output: `inp` rows of `out` weights if `input_major` (a first
    /// layer: sparse features touch only their rows), else `out` rows of `inp`.
    pub fn lin(
        &mut self,
        out: usize,
        inp: usize,
        input_major: bool,
        section: Section,
    ) -> Result<Lin<'a>, Error> {
        let (rows, cols) = if input_major { (inp, out) } else { (out, inp) };
        let w = self.matrix(rows, cols, out, section)?;
        let bias = self.biases(out, section)?;
        Ok(Lin { w, bias })
    }

    /// Frameless stage `s` (0-based); stage 1's encoder is input-major.
    pub fn stage(&mut self, sh: &Shape, s: usize) -> Result<Stage<'a>, Error> {
        let in_dim = if s == 0 { sh.f } else { sh.d };
        let encoder = self.lin(sh.d, in_dim, s == 0, Section::Encoder)?;
        let rows = sh.b.checked_mul(sh.n).ok_or(Error::InvalidDims)?;
        let tables = self.matrix(rows, sh.d, rows, Section::Table)?;
        let two_d = sh.d.checked_mul(2).ok_or(Error::InvalidDims)?;
        let gates = self.lin(sh.b, two_d, false, Section::Gate)?;
        Ok(Stage {
            encoder,
            tables,
            gates,
        })
    }

    /// The output heads.
    pub fn head(&mut self, sh: &Shape) -> Result<Head<'a>, Error> {
        let rows = sh.b.checked_mul(sh.c).ok_or(Error::InvalidDims)?;
        let bands = self.lin(rows, sh.d, false, Section::BandClassifier)?;
        let features = self.lin(sh.c, sh.d, false, Section::FeatureClassifier)?;
        Ok(Head { bands, features })
    }

    /// mlp layer `k` (0-based) of `sh.s`; layer 0 is input-major.
    pub fn layer(&mut self, sh: &Shape, k: usize) -> Result<Lin<'a>, Error> {
        let out = if k + 1 == sh.s { sh.c } else { sh.d }; // k < s: no overflow
        let in_dim = if k == 0 { sh.f } else { sh.d };
        self.lin(out, in_dim, k == 0, Section::Layer)
    }
}
