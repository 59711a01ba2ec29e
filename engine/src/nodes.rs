//! Node ids: the id map of a sliced blob, and the table rows of new nodes.
//!
//! A blob may keep only `k` nodes' `E_b` rows (`frameless export --nodes`); its id map then
//! lists their original ids, strictly increasing, and row `r` of every table is node `ids[r]`.
//! [`Model::predict`] finds a node's row by binary search: `O(log k)` comparisons, whatever
//! the graph's `N`; a full blob has no map and row = id (`O(1)`).
//!
//! A node unseen at training ([`Model::predict_new`]) gets, in every band and stage, the
//! weighted mean of its known neighbours' rows, `e_b = sum_j w_j E_b[j] / sum_j w_j`.
//! `E_b = P_b M_b + c_b` is affine in the node's structural row `P_b[i,:]`, so this is the
//! row the student computes for the mean of the neighbours' structural rows (the bias `c_b`
//! kept exactly); for the low pass, a smoothing, a node's row is close to that mean.
//! Memory is fixed (the scratch of `predict`); each band re-reads the neighbours' rows.
//! No neighbour, or weights summing to 0: no graph term, every gate `alpha_b = 1`.

use crate::integer::BandRows;
use crate::kernels::{f16::F16, f32::F32, int8::I8, Encoding};
use crate::layout::{le, Mat};
use crate::quant::{scale_i8, Fix, QuantI8};
use crate::{Error, Features, Model, Precision, Prediction, Section};

/// Original node ids of a sliced blob: `k` little-endian u32, strictly increasing; empty
/// for a full blob (row = id).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdMap<'a>(&'a [u8]);

/// Where `predict` takes the band rows from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows<'n> {
    /// Row `r` of each band's table.
    Own(usize),
    /// The mean of checked neighbours' rows, weights `w_j / total` (`w_j = 1` if `None`).
    Mix(&'n [u32], Option<&'n [f32]>, f32),
    /// No graph term: every gate is 1.
    Features,
}

impl<'a> IdMap<'a> {
    /// Checks `bytes` as the id map of a blob with `n` table rows.
    pub fn parse(bytes: &'a [u8], n: usize) -> Result<Self, Error> {
        let section = Section::IdMap;
        if !bytes.is_empty() && Some(bytes.len()) != n.checked_mul(4) {
            return Err(Error::ShapeMismatch { section });
        }
        let map = IdMap(bytes);
        let sorted = bytes.is_empty() || (1..n).all(|r| map.id(r - 1) < map.id(r));
        sorted.then_some(map).ok_or(Error::BadValue { section })
    }

    /// The original id of row `r` (a full blob: `r`).
    pub fn id(&self, r: usize) -> u32 {
        let b = r
            .checked_mul(4)
            .and_then(|s| self.0.get(s..))
            .unwrap_or(&[]);
        match self.0.is_empty() {
            true => u32::try_from(r).unwrap_or(u32::MAX),
            false => u32::from_le_bytes(le(b)),
        }
    }

    /// The table row of `node` among `n` rows, by binary search of the map.
    ///
    /// # Errors
    /// [`Error::NodeOutOfRange`] (full blob) or [`Error::NodeNotKept`] (sliced).
    pub fn row(&self, node: u32, n: usize) -> Result<usize, Error> {
        let n_nodes = u32::try_from(n).unwrap_or(u32::MAX);
        if self.0.is_empty() {
            let r = usize::try_from(node).ok().filter(|&r| r < n);
            return r.ok_or(Error::NodeOutOfRange { node, n_nodes });
        }
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.id(mid).cmp(&node) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(Error::NodeNotKept { node })
    }
}

/// Fills `e` with `sum_j w_j E[base + row(j)]`, the rows of band table `t` mixed as `rows` says.
pub(crate) fn mix(t: &Mat, base: usize, ids: &IdMap, n: usize, rows: Rows, e: &mut [f32]) {
    for (o, v) in e.iter_mut().enumerate() {
        *v = mix_value(t, base, ids, n, rows, o);
    }
}

/// Element `o` of the mixed row: `sum_j w_j E[base + row(j)][o]`, neighbours in
/// order (0 unless `rows` mixes). The integer pass, which has no f32 row to
/// fill, asks for each element twice (its range, then its quantised value).
pub(crate) fn mix_value(t: &Mat, base: usize, ids: &IdMap, n: usize, rows: Rows, o: usize) -> f32 {
    let Rows::Mix(neighbours, weights, total) = rows else {
        return 0.0;
    };
    let mut v = 0.0;
    for (j, &node) in neighbours.iter().enumerate() {
        let wj = weights.and_then(|w| w.get(j)).copied().unwrap_or(1.0) / total;
        let r = base.saturating_add(ids.row(node, n).unwrap_or(usize::MAX));
        let bytes = t
            .row(r)
            .get(o.saturating_mul(t.prec.weight_bytes())..)
            .unwrap_or(&[]);
        let x = match t.prec {
            Precision::F32 => F32::widen(bytes),
            Precision::F16 => F16::widen(bytes),
            Precision::Int8 => I8::widen(bytes),
        };
        v += wj * t.scale(r) * x;
    }
    v
}

/// A new node's band rows for the integer pass: [`mix_value`] quantised per
/// vector (f32 arithmetic: `predict_new` takes f32 weights).
pub(crate) struct Mixed<'m, 'n>(pub &'m Model<'m>, pub Rows<'n>);

impl BandRows for Mixed<'_, '_> {
    fn load(&self, tables: &Mat, base: usize, e: &mut [i16], d: usize) -> Fix {
        let Mixed(model, rows) = *self;
        let v = |o| mix_value(tables, base, &model.ids, model.shape.n, rows, o);
        let max = (0..d)
            .map(|o| v(o).abs())
            .fold(0.0f32, |m, a| if a > m { a } else { m });
        let scale = scale_i8(&[max]);
        let q = QuantI8::new(scale);
        let lanes = e.iter_mut().take(d).enumerate();
        lanes.for_each(|(o, l)| *l = i16::from(q.quantize(v(o))));
        Fix::of(scale).unwrap_or(Fix::UNIT)
    }

    fn graph(&self) -> bool {
        !matches!(self.1, Rows::Features)
    }
}

impl Model<'_> {
    /// Classifies a node that has no table row (unseen at training) from its live
    /// `features` and its known `neighbours` (ids of nodes this blob answers for), each
    /// band's row being the `weights`-weighted mean of theirs (all 1 if `None`):
    /// `e_b = sum_j w_j E_b[j] / sum_j w_j` (`E_b` is affine in the node's structural row,
    /// so the bias is kept exactly). No neighbour, or weights summing to 0: features only,
    /// every gate 1. An mlp ignores the graph. Costs `S * B * m` row reads and
    /// `O(m log k)` id lookups per band for `m` neighbours, no memory beyond the scratch.
    /// int8: the dequantised rows are mixed in f32 and quantised (per vector) for the
    /// integer pass, which otherwise runs as for [`Model::predict`].
    ///
    /// ```
    /// # use frameless_engine::{writer::*, Features, Model, ModelKind, Precision};
    /// # let lin = |i, o| Linear { in_dim: i, out_dim: o, weight: vec![0.5; i * o], bias: vec![0.0; o] };
    /// # let stage = Stage { encoder: lin(1, 1), tables: vec![vec![1.0, 3.0]], gates: vec![Gate { weight: vec![0.0; 2], bias: 0.0 }] };
    /// # let w = ModelWeights { kind: ModelKind::FmlpS, n_nodes: 2, n_features: 1, n_classes: 1,
    /// #     architecture: Architecture::Frameless { stages: vec![stage], band_classifiers: vec![lin(1, 1)], feature_classifier: lin(1, 1) },
    /// #     metadata: OwnedMetadata::default(), calibration: None };
    /// let blob = write_blob(&w, Precision::F32)?; // rows E[0] = 1, E[1] = 3
    /// let model = Model::from_bytes(&blob)?;
    /// let mut scratch = vec![0.0; model.scratch_len()];
    /// let x = Features::Dense(&[0.0]);
    /// // Gate 1/2: logit = 0.5 * (0.5 * e) + 0.5 * 0, with e = (1 + 3) / 2 = 2.
    /// let p = model.predict_new(x, &[0, 1], None, &mut scratch)?;
    /// assert_eq!(p.logits, &[0.5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Model::predict`], and [`Error::UnknownNeighbour`] for a neighbour this blob has no
    /// row for, [`Error::NeighbourWeight`] for a weight missing, extra, negative or not finite.
    pub fn predict_new<'s>(
        &self,
        features: Features<'_>,
        neighbours: &[u32],
        weights: Option<&[f32]>,
        scratch: &'s mut [f32],
    ) -> Result<Prediction<'s>, Error> {
        let m = neighbours.len();
        if let Some(w) = weights {
            let bad = w.iter().position(|v| !(v.is_finite() && *v >= 0.0));
            if let Some(position) = bad.or((w.len() != m).then_some(w.len().min(m))) {
                return Err(Error::NeighbourWeight { position });
            }
        }
        for &node in neighbours {
            self.ids
                .row(node, self.shape.n)
                .map_err(|_| Error::UnknownNeighbour { node })?;
        }
        let total = weights.map_or(m as f32, |w| w.iter().sum());
        if !total.is_finite() {
            return Err(Error::Overflow);
        }
        let rows = match total > 0.0 {
            true => Rows::Mix(neighbours, weights, total),
            false => Rows::Features,
        };
        self.run(rows, features, scratch)
    }

    /// The original node id of table row `row`, or `None` past the last row.
    pub fn node_id(&self, row: u32) -> Option<u32> {
        let r = usize::try_from(row).ok().filter(|&r| r < self.shape.n)?;
        Some(self.ids.id(r))
    }

    /// Whether this blob keeps only some nodes (an id map, see [`Model::node_id`]).
    pub fn is_sliced(&self) -> bool {
        !self.ids.0.is_empty()
    }
}
