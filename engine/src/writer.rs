//! The blob writer (feature `std`): plain f32 weights in, a blob out.
//!
//! Deterministic: the same [`ModelWeights`] and [`Precision`] always give the
//! same bytes. Quantisation follows [`crate::quant`]. Layout: see
//! `docs/blob-format.md`; the first layer (mlp layer 0, frameless stage-1
//! encoder) is stored input-major so sparse features touch only their rows.
//!
//! ```
//! use frameless_engine::writer::*;
//! use frameless_engine::{Features, Model, ModelKind, Precision};
//! let w = ModelWeights {
//!     kind: ModelKind::Mlp, n_nodes: 1, n_features: 1, n_classes: 1,
//!     architecture: Architecture::Mlp { layers: vec![Linear { in_dim: 1, out_dim: 1, weight: vec![2.0], bias: vec![0.0] }] },
//!     metadata: OwnedMetadata::default(),
//!     calibration: None,
//! };
//! // int8 needs the activation ranges, measured on the graph's nodes.
//! assert_eq!(write_blob(&w, Precision::Int8), Err(WriteError::Uncalibrated));
//! let w = w.calibrated([(0, Features::Dense(&[1.5]))]);
//! let blob = write_blob(&w, Precision::Int8)?;
//! assert_eq!(blob, write_blob(&w, Precision::Int8)?);
//! assert_eq!(Model::from_bytes(&blob)?.precision(), Precision::Int8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::{sha256, Dims, Header, Metadata, ModelKind, Precision, FORMAT_VERSION, MAGIC};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A linear layer `y = W x + b`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Linear {
    /// Input width.
    pub in_dim: usize,
    /// Output width.
    pub out_dim: usize,
    /// `out_dim x in_dim`, row-major (PyTorch layout).
    pub weight: Vec<f32>,
    /// `out_dim` biases.
    pub bias: Vec<f32>,
}

/// One band's gate: `alpha = sigmoid(weight[..d] . e_b + weight[d..] . u + bias)`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Gate {
    /// `2 * hidden`: `[0..d)` multiplies the band row `e_b`, `[d..2d)` the feature vector `u`.
    pub weight: Vec<f32>,
    /// Gate bias `beta_b`.
    pub bias: f32,
}

/// One frameless stage.
///
/// Serialised with the gates as two parallel lists (`gate_weights`, `gate_biases`), the
/// layout the distiller's student files have always used.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "StageRecord", into = "StageRecord")]
pub struct Stage {
    /// Feature encoder (stage 1: F -> d; later: d -> d).
    pub encoder: Linear,
    /// One table per band, `n_nodes x hidden` row-major: `E_b^s`.
    pub tables: Vec<Vec<f32>>,
    /// One gate per band.
    pub gates: Vec<Gate>,
}

/// The serde form of a [`Stage`]: `encoder`, `tables`, `gate_weights`, `gate_biases`.
#[derive(Serialize, Deserialize)]
struct StageRecord {
    encoder: Linear,
    tables: Vec<Vec<f32>>,
    gate_weights: Vec<Vec<f32>>,
    gate_biases: Vec<f32>,
}

impl From<StageRecord> for Stage {
    fn from(r: StageRecord) -> Self {
        let gates = r.gate_weights.into_iter().zip(r.gate_biases);
        Stage {
            encoder: r.encoder,
            tables: r.tables,
            gates: gates.map(|(weight, bias)| Gate { weight, bias }).collect(),
        }
    }
}

impl From<Stage> for StageRecord {
    fn from(s: Stage) -> Self {
        let (gate_weights, gate_biases) = s.gates.into_iter().map(|g| (g.weight, g.bias)).unzip();
        StageRecord {
            encoder: s.encoder,
            tables: s.tables,
            gate_weights,
            gate_biases,
        }
    }
}

/// The student's architecture and weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Architecture {
    /// F -> d -> ... -> C, ReLU between layers.
    Mlp {
        /// The layers in order.
        layers: Vec<Linear>,
    },
    /// fmlp-s (one stage) or fmlp-o (several).
    Frameless {
        /// The stages in order.
        stages: Vec<Stage>,
        /// Per band, d -> C.
        band_classifiers: Vec<Linear>,
        /// d -> C.
        feature_classifier: Linear,
    },
}

/// Metadata owned by the writer's caller.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OwnedMetadata {
    /// Dataset name.
    pub dataset: String,
    /// Class names: empty or exactly `n_classes`, none containing `'\n'`.
    pub class_names: Vec<String>,
    /// Test accuracy at export (finite).
    pub test_accuracy: Option<f32>,
    /// How the model was made, as `(key, value)` pairs in order (e.g. `("lambda",
    /// "0.5")`): keys non-empty without `'='` or `'\n'`, values without `'\n'`, at most
    /// [`crate::MAX_RECIPE_BYTES`] once written as `key=value` lines.
    #[serde(default)]
    pub recipe: Vec<(String, String)>,
}

/// Everything [`write_blob`] needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelWeights {
    /// Architecture kind; must agree with `architecture`.
    pub kind: ModelKind,
    /// Number of nodes N.
    pub n_nodes: usize,
    /// Number of features F.
    pub n_features: usize,
    /// Number of classes C.
    pub n_classes: usize,
    /// Weights.
    pub architecture: Architecture,
    /// Descriptive data.
    pub metadata: OwnedMetadata,
    /// Activation ranges for int8 ([`int8::calibrate`]); int8 blobs need them.
    #[serde(default)]
    pub calibration: Option<Calibration>,
}

impl ModelWeights {
    /// These weights with the calibration of `inputs` ([`int8::calibrate`]).
    pub fn calibrated<'x>(
        mut self,
        inputs: impl IntoIterator<Item = (usize, crate::Features<'x>)>,
    ) -> Self {
        self.calibration = Some(int8::calibrate(&self, inputs));
        self
    }
}

/// Why [`write_blob`] refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// `kind` does not match the architecture variant.
    KindMismatch,
    /// Wrong number of stages or layers for the kind (or zero bands/classes/nodes/features).
    StageCount,
    /// A tensor's length or a layer's width does not fit the model.
    Shape {
        /// Which tensor.
        what: &'static str,
    },
    /// A weight, bias or the accuracy is NaN or infinite.
    NonFinite {
        /// Which tensor.
        what: &'static str,
    },
    /// Class names: wrong count or a name containing a newline.
    ClassNames,
    /// Recipe: an empty key, a key with `'='`, a newline, or over
    /// [`crate::MAX_RECIPE_BYTES`] in all.
    Recipe,
    /// A dimension or the body does not fit in u32.
    TooLarge,
    /// int8 without a calibration, or one that does not fit the architecture.
    Uncalibrated,
    /// An int8 multiplier beyond what the engine's integer pass takes.
    Int8Range {
        /// Which tensor.
        what: &'static str,
    },
    /// [`write_blob_nodes`]: a node id `>= n_nodes`.
    NodeOutOfRange {
        /// The id.
        node: u32,
    },
    /// [`write_blob_nodes`]: a node id listed twice.
    DuplicateNode {
        /// The id.
        node: u32,
    },
    /// [`write_blob_nodes`]: an empty node list.
    NoNodes,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::KindMismatch => f.write_str("model kind does not match the architecture"),
            WriteError::StageCount => {
                f.write_str("wrong number of stages, layers or bands for the model kind")
            }
            WriteError::Shape { what } => write!(f, "shape mismatch in {what}"),
            WriteError::NonFinite { what } => write!(f, "non-finite value in {what}"),
            WriteError::ClassNames => {
                f.write_str("class names: wrong count or a name contains a newline")
            }
            WriteError::Recipe => write!(
                f,
                "recipe: an empty key, '=' in a key, a newline, or over {} bytes",
                crate::MAX_RECIPE_BYTES
            ),
            WriteError::TooLarge => f.write_str("model too large for the blob format"),
            WriteError::Uncalibrated => f.write_str(
                "int8 needs activation ranges: calibrate the weights on the graph's nodes first",
            ),
            WriteError::Int8Range { what } => write!(f, "int8 multiplier out of range in {what}"),
            WriteError::NodeOutOfRange { node } => write!(f, "node {node} out of range"),
            WriteError::DuplicateNode { node } => write!(f, "node {node} listed twice"),
            WriteError::NoNodes => f.write_str("empty node list"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Queues one postcard byte string; [`Strings::encode`] writes them all.
fn push_bytes(out: &mut Strings, bytes: &[u8]) {
    out.0.push(bytes.to_vec());
}

/// The blob's byte strings (id map, calibration, tensors) in file order.
#[derive(Default)]
struct Strings(Vec<Vec<u8>>);

/// The widest LEB128 length a 32-bit reader takes (postcard's `usize` varint).
const MAX_VARINT: usize = 5;

impl Strings {
    /// Appends every string to `out` as a postcard byte string (LEB128
    /// length, then the bytes), each length in as many bytes (up to
    /// [`MAX_VARINT`]; LEB128 and postcard take a length in more bytes than it
    /// needs) as puts the string's first byte at a multiple of 4 from the
    /// blob's first byte, `base` bytes before `out`'s: so that an aligned
    /// blob's f32 and i32 tensors are word-aligned, which the engine reads
    /// a word at a time (cores without unaligned loads read them by bytes).
    fn encode(&self, out: &mut Vec<u8>, base: usize) {
        for bytes in &self.0 {
            let len = bytes.len();
            let least = (1..MAX_VARINT)
                .find(|w| len >> (7 * w) == 0)
                .unwrap_or(MAX_VARINT);
            let at = |w: usize| base.wrapping_add(out.len()).wrapping_add(w) % 4 == 0;
            let width = (least..=MAX_VARINT).find(|&w| at(w)).unwrap_or(least);
            for i in 0..width {
                let more = if i + 1 < width { 0x80 } else { 0 };
                out.push(((len >> (7 * i)) & 0x7f) as u8 | more);
            }
            out.extend_from_slice(bytes);
        }
    }
}

fn f32s(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    v.into_iter().flat_map(f32::to_le_bytes).collect()
}

fn check(v: &[f32], len: usize, what: &'static str) -> Result<(), WriteError> {
    if v.len() != len {
        return Err(WriteError::Shape { what });
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(WriteError::NonFinite { what });
    }
    Ok(())
}

/// `rows` (each one output channel) in file order: input-major if `transpose`.
fn ordered<T: Copy + Default>(rows: &[Vec<T>], transpose: bool) -> Vec<T> {
    let cols = rows.first().map_or(0, |r| r.len());
    if transpose {
        let at = |r: &Vec<T>, j: usize| r.get(j).copied().unwrap_or_default();
        (0..cols)
            .flat_map(|j| rows.iter().map(move |r| at(r, j)))
            .collect()
    } else {
        rows.concat()
    }
}

/// How [`write_blob`] stores the tensors: as floats, or int8 with the static units.
enum Storage {
    Float(Precision),
    Int8(int8::Units),
}

impl Storage {
    /// Pushes a float matrix (and its empty scale list).
    fn push_float(&self, out: &mut Strings, rows: &[&[f32]], prec: Precision, transpose: bool) {
        let order = ordered(
            &rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            transpose,
        );
        let data: Vec<u8> = match prec {
            Precision::F16 => order
                .iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect(),
            _ => f32s(order),
        };
        push_bytes(out, &data);
        push_bytes(out, &[]);
    }

    /// Pushes `rows` and `bias` (one layer, or all band classifiers) with
    /// the int8 `units` (`(s_in, unit)`) that position has.
    fn push_layer(
        &self,
        out: &mut Strings,
        rows: &[&[f32]],
        bias: &[f32],
        units: impl Fn(&int8::Units) -> (f64, f64),
        what: &'static str,
        transpose: bool,
    ) -> Result<(), WriteError> {
        match self {
            Storage::Float(prec) => {
                self.push_float(out, rows, *prec, transpose);
                push_bytes(out, &f32s(bias.iter().copied()));
            }
            Storage::Int8(u) => {
                let q = int8::QuantLinear::new(rows, bias, units(u), what)?;
                push_bytes(
                    out,
                    &ordered(&q.rows, transpose)
                        .iter()
                        .map(|&v| v as u8)
                        .collect::<Vec<_>>(),
                );
                push_bytes(out, &f32s(q.multiplier));
                push_bytes(
                    out,
                    &q.bias
                        .iter()
                        .flat_map(|b| b.to_le_bytes())
                        .collect::<Vec<_>>(),
                );
            }
        }
        Ok(())
    }

    /// Pushes the band tables of one stage (all bands, `n x d` each).
    fn push_tables(&self, out: &mut Strings, tables: &[Vec<f32>], d: usize) {
        match self {
            Storage::Float(prec) => {
                let rows: Vec<&[f32]> = tables.iter().flat_map(|t| t.chunks(d)).collect();
                self.push_float(out, &rows, *prec, false);
            }
            Storage::Int8(_) => {
                let q: Vec<int8::QuantTable> =
                    tables.iter().map(|t| int8::QuantTable::new(t, d)).collect();
                let data: Vec<u8> = q
                    .iter()
                    .flat_map(|t| t.rows.concat())
                    .map(|v| v as u8)
                    .collect();
                push_bytes(out, &data);
                push_bytes(out, &f32s(q.iter().flat_map(|t| t.scales.iter().copied())));
            }
        }
    }
}

fn push_linear(
    out: &mut Strings,
    l: &Linear,
    (in_dim, out_dim): (usize, usize),
    storage: &Storage,
    units: impl Fn(&int8::Units) -> (f64, f64),
    first: bool,
) -> Result<(), WriteError> {
    if l.in_dim != in_dim || l.out_dim != out_dim {
        return Err(WriteError::Shape {
            what: "linear layer width",
        });
    }
    check(
        &l.weight,
        in_dim.checked_mul(out_dim).ok_or(WriteError::TooLarge)?,
        "linear weight",
    )?;
    check(&l.bias, out_dim, "linear bias")?;
    let rows: Vec<&[f32]> = l.weight.chunks(in_dim.max(1)).take(out_dim).collect();
    storage.push_layer(out, &rows, &l.bias, units, "linear layer", first)
}

fn u32_of(v: usize) -> Result<u32, WriteError> {
    u32::try_from(v).map_err(|_| WriteError::TooLarge)
}

/// Builds a blob from `weights`, storing weights and tables in `precision`.
///
/// # Errors
/// A [`WriteError`] when the weights do not form a valid model of their kind.
pub fn write_blob(weights: &ModelWeights, precision: Precision) -> Result<Vec<u8>, WriteError> {
    write_with_ids(weights, precision, &[])
}

/// Builds a blob that keeps only `nodes`' rows of every band table (of every stage), in
/// increasing id order, and their original ids as the id map: the engine answers for these
/// ids (bit-identically to [`write_blob`]'s blob) and refuses the others. All nodes: the
/// blob of [`write_blob`] (no map).
///
/// # Errors
/// [`WriteError::NoNodes`], [`WriteError::NodeOutOfRange`] or [`WriteError::DuplicateNode`]
/// naming the id, or any error of [`write_blob`].
pub fn write_blob_nodes(
    weights: &ModelWeights,
    precision: Precision,
    nodes: &[u32],
) -> Result<Vec<u8>, WriteError> {
    let mut ids = nodes.to_vec();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(WriteError::DuplicateNode { node: w[0] });
    }
    match ids.last() {
        None => return Err(WriteError::NoNodes),
        Some(&node) if node as usize >= weights.n_nodes => {
            return Err(WriteError::NodeOutOfRange { node })
        }
        _ => {}
    }
    let mut sliced = weights.clone();
    sliced.n_nodes = ids.len();
    if let Architecture::Frameless { stages, .. } = &mut sliced.architecture {
        let d = stages.first().map_or(0, |st| st.encoder.out_dim);
        for tab in stages.iter_mut().flat_map(|st| st.tables.iter_mut()) {
            check(tab, weights.n_nodes * d, "band table")?;
            *tab = ids
                .iter()
                .flat_map(|&i| &tab[i as usize * d..][..d])
                .copied()
                .collect();
        }
    }
    // Every node kept (sorted, unique, in range): the identity, no map needed.
    let map = if ids.len() == weights.n_nodes {
        &[][..]
    } else {
        &ids[..]
    };
    write_with_ids(&sliced, precision, map)
}

/// [`write_blob`] with an id map (`ids` empty: a full blob).
fn write_with_ids(
    weights: &ModelWeights,
    precision: Precision,
    ids: &[u32],
) -> Result<Vec<u8>, WriteError> {
    let (n, f, c) = (weights.n_nodes, weights.n_features, weights.n_classes);
    if n == 0 || f == 0 || c == 0 {
        return Err(WriteError::StageCount);
    }
    let storage = match precision {
        Precision::Int8 => Storage::Int8(int8::Units::of(weights)?),
        p => Storage::Float(p),
    };
    let mut t = Strings::default();
    let (hidden, bands, stages) = match (&weights.architecture, weights.kind) {
        (Architecture::Mlp { layers }, ModelKind::Mlp) => {
            let s = layers.len();
            if s == 0 {
                return Err(WriteError::StageCount);
            }
            let d = if s == 1 {
                0
            } else {
                layers.first().map_or(0, |l| l.out_dim)
            };
            for (k, l) in layers.iter().enumerate() {
                let in_dim = if k == 0 { f } else { d };
                let out_dim = if k + 1 == s { c } else { d };
                let units = |u: &int8::Units| u.layer(k, s);
                push_linear(&mut t, l, (in_dim, out_dim), &storage, units, k == 0)?;
            }
            (d, 0, s)
        }
        (
            Architecture::Frameless {
                stages,
                band_classifiers,
                feature_classifier,
            },
            kind,
        ) if kind != ModelKind::Mlp => {
            let s = stages.len();
            let b = band_classifiers.len();
            if s == 0 || (kind == ModelKind::FmlpS && s != 1) || b == 0 {
                return Err(WriteError::StageCount);
            }
            let d = stages.first().map_or(0, |st| st.encoder.out_dim);
            if d == 0 {
                return Err(WriteError::Shape {
                    what: "encoder width",
                });
            }
            for (i, st) in stages.iter().enumerate() {
                let in_dim = if i == 0 { f } else { d };
                let units = |u: &int8::Units| u.encoder(i);
                push_linear(&mut t, &st.encoder, (in_dim, d), &storage, units, i == 0)?;
                if st.tables.len() != b || st.gates.len() != b {
                    return Err(WriteError::StageCount);
                }
                for tab in &st.tables {
                    check(
                        tab,
                        n.checked_mul(d).ok_or(WriteError::TooLarge)?,
                        "band table",
                    )?;
                }
                storage.push_tables(&mut t, &st.tables, d);
                for g in &st.gates {
                    check(&g.weight, 2 * d, "gate weight")?;
                    check(&[g.bias], 1, "gate bias")?;
                }
                let rows: Vec<&[f32]> = st.gates.iter().map(|g| g.weight.as_slice()).collect();
                let bias: Vec<f32> = st.gates.iter().map(|g| g.bias).collect();
                storage.push_layer(&mut t, &rows, &bias, int8::Units::gates, "gate", false)?;
            }
            // All band classifiers form one B*C x d matrix.
            let mut rows: Vec<&[f32]> = Vec::new();
            let mut bias = Vec::new();
            for l in band_classifiers {
                if l.in_dim != d || l.out_dim != c {
                    return Err(WriteError::Shape {
                        what: "band classifier width",
                    });
                }
                check(&l.weight, d * c, "band classifier weight")?;
                check(&l.bias, c, "band classifier bias")?;
                rows.extend(l.weight.chunks(d));
                bias.extend_from_slice(&l.bias);
            }
            storage.push_layer(
                &mut t,
                &rows,
                &bias,
                int8::Units::bands,
                "band classifier",
                false,
            )?;
            let units = |u: &int8::Units| u.features(s);
            push_linear(&mut t, feature_classifier, (d, c), &storage, units, false)?;
            (d, b, s)
        }
        _ => return Err(WriteError::KindMismatch),
    };
    let md = &weights.metadata;
    if !(md.class_names.is_empty() || md.class_names.len() == c)
        || md.class_names.iter().any(|s| s.contains('\n'))
    {
        return Err(WriteError::ClassNames);
    }
    if md.test_accuracy.is_some_and(|a| !a.is_finite()) {
        return Err(WriteError::NonFinite {
            what: "test accuracy",
        });
    }
    let dims = Dims {
        n_nodes: u32_of(n)?,
        n_features: u32_of(f)?,
        hidden: u32_of(hidden)?,
        n_classes: u32_of(c)?,
        n_bands: u32_of(bands)?,
        n_stages: u32_of(stages)?,
    };
    let names = md.class_names.join("\n");
    let recipe_lines: Vec<String> = md.recipe.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let recipe = recipe_lines.join("\n");
    let meta = Metadata {
        dataset: &md.dataset,
        class_names: &names,
        test_accuracy: md.test_accuracy,
        recipe: &recipe,
    };
    let keys_ok = md
        .recipe
        .iter()
        .all(|(k, v)| !k.is_empty() && !k.contains(['=', '\n']) && !v.contains('\n'));
    if !(keys_ok && meta.recipe_ok()) {
        return Err(WriteError::Recipe);
    }
    let mut prefix =
        postcard::to_stdvec(&(weights.kind, precision, dims)).map_err(|_| WriteError::TooLarge)?;
    prefix.extend(postcard::to_stdvec(&meta).map_err(|_| WriteError::TooLarge)?);
    let section = match &storage {
        Storage::Int8(u) => u.section((weights.kind != ModelKind::Mlp).then_some(stages))?,
        Storage::Float(_) => Vec::new(),
    };
    let mut strings = Strings::default();
    push_bytes(
        &mut strings,
        &ids.iter().flat_map(|i| i.to_le_bytes()).collect::<Vec<_>>(),
    );
    push_bytes(&mut strings, &f32s(section));
    strings.0.extend(t.0);
    let header = |body: &[u8], hash: bool| -> Result<Header, WriteError> {
        Ok(Header {
            magic: MAGIC,
            version: FORMAT_VERSION,
            kind: weights.kind,
            precision,
            dims,
            body_len: u32_of(body.len())?,
            body_sha256: if hash { sha256(body) } else { [0; 32] },
            signature: None,
        })
    };
    // The strings' alignment depends on the header's length, which depends on
    // the body's: settle it (a signature adds 64 bytes, keeping it mod 4).
    let (mut base, mut body) = (0, Vec::new());
    for _ in 0..8 {
        body.clone_from(&prefix);
        strings.encode(&mut body, base);
        let len = postcard::to_stdvec(&header(&body, false)?)
            .map_err(|_| WriteError::TooLarge)?
            .len();
        if len == base {
            break;
        }
        base = len;
    }
    let mut blob = postcard::to_stdvec(&header(&body, true)?).map_err(|_| WriteError::TooLarge)?;
    blob.extend(body);
    Ok(blob)
}

#[path = "writer_reference.rs"]
pub mod reference;

#[path = "writer_int8.rs"]
pub mod int8;
pub use int8::Calibration;

#[path = "writer_metadata.rs"]
mod metadata;

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
