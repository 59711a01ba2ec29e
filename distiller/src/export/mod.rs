//! Export with engine parity: write the blob with the engine's own writer, load it with
//! [`Model::from_bytes`], run **every** node through [`Model::predict`] (sparse
//! features) and refuse to write a blob that disagrees with the distiller.
//!
//! Checks, per precision:
//! - f32: every engine logit within [`F32_LOGIT_TOLERANCE`] of the distiller's forward;
//! - f16 / int8: the engine and the simulated quantised forward agree on at least
//!   [`MIN_AGREEMENT`] of the argmaxes, and the engine's test accuracy is at most
//!   [`accuracy_drop_limit_pt`] points below the f32 student's ([`MAX_ACCURACY_DROP_PT`],
//!   or one test node on a test split too small to resolve that).
//!
//! Files are written atomically (a temporary file in the same folder, then a rename).
//!
//! ```no_run
//! # fn demo(w: &frameless_engine::writer::ModelWeights, x: &frameless_distiller::sparse::Csr,
//! #         y: &[i64], test: &[u32], logits: &[f32]) -> Result<(), frameless_distiller::export::ExportError> {
//! use frameless_distiller::export::{export, ParityInputs};
//! let inputs = ParityInputs { weights: w, features: x, labels: y, test, reference_logits: logits };
//! let report = export(&inputs, frameless_engine::Precision::Int8, "out/model.fgkd".as_ref())?;
//! println!("{:.2} % argmax agreement", 100.0 * report.agreement_with_simulated);
//! # Ok(()) }
//! ```

pub mod artifact;
pub mod sections;

use std::path::{Path, PathBuf};
use std::time::Instant;

use frameless_engine::writer::{write_blob, write_blob_nodes, ModelWeights, WriteError};
use frameless_engine::{Model, Precision};
use serde::{Deserialize, Serialize};

use crate::quantize::{agreement, argmax, simulate, NODE_WORK};
use crate::sparse::Csr;
use crate::threads::map_in_order;
use crate::train::accuracy;

/// Largest allowed `|engine − distiller|` of an f32 logit.
pub const F32_LOGIT_TOLERANCE: f64 = 1e-4;
/// Smallest allowed argmax agreement between the engine and the simulated forward.
pub const MIN_AGREEMENT: f64 = 0.999;
/// Largest allowed drop of quantised test accuracy below f32, in percentage points.
pub const MAX_ACCURACY_DROP_PT: f64 = 0.5;

/// The largest drop of quantised test accuracy below f32 that [`verify`] accepts on
/// `test_nodes` test nodes, in points: [`MAX_ACCURACY_DROP_PT`], or one test node where
/// the split cannot resolve half a point. One node of Texas's 37 is 2.7 points, and
/// quantisation that moves one borderline node is not a broken blob.
///
/// ```
/// use frameless_distiller::export::accuracy_drop_limit_pt;
/// assert_eq!(accuracy_drop_limit_pt(1000), 0.5);
/// assert_eq!(accuracy_drop_limit_pt(40), 2.5);
/// ```
pub fn accuracy_drop_limit_pt(test_nodes: usize) -> f64 {
    MAX_ACCURACY_DROP_PT.max(100.0 / test_nodes.max(1) as f64)
}

/// Why a blob was not written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The engine's writer refused the weights.
    #[error("blob writer: {0}")]
    Write(#[from] WriteError),
    /// The engine refused the blob or a node.
    #[error("engine: {error}{}", node.map(|n| format!(" (node {n})")).unwrap_or_default())]
    Engine {
        /// The node being predicted, if any.
        node: Option<u32>,
        /// The engine's error.
        error: frameless_engine::Error,
    },
    /// f32 parity failed.
    #[error("f32 parity failed: node {node} logit differs by {max_diff:.3e} (tolerance {F32_LOGIT_TOLERANCE:.0e})")]
    LogitMismatch {
        /// Largest difference.
        max_diff: f64,
        /// The node where it occurs.
        node: u32,
    },
    /// The engine's int8 logits differ from the integer simulation (they must be identical).
    #[error("int8 parity failed: node {node} logit differs from the integer simulation by {max_diff:.3e} (must be 0)")]
    NotBitExact {
        /// Largest difference.
        max_diff: f64,
        /// The node where it occurs.
        node: u32,
    },
    /// Quantised argmax agreement too low.
    #[error("{precision} parity failed: engine and simulated forward agree on {:.3} % of nodes (need {:.1} %)", 100.0 * agreement, 100.0 * MIN_AGREEMENT)]
    Agreement {
        /// Precision checked.
        precision: Precision,
        /// Measured agreement.
        agreement: f64,
    },
    /// Quantised accuracy too far below f32.
    #[error("{precision} accuracy check failed: test accuracy {:.2} % is {:.2} pt below f32 ({:.2} %; limit {limit_pt:.2} pt)", 100.0 * quantised, 100.0 * (f32_accuracy - quantised), 100.0 * f32_accuracy)]
    AccuracyDrop {
        /// Precision checked.
        precision: Precision,
        /// f32 test accuracy.
        f32_accuracy: f64,
        /// Quantised test accuracy (engine).
        quantised: f64,
        /// The largest drop allowed ([`accuracy_drop_limit_pt`]).
        limit_pt: f64,
    },
    /// A sliced blob answered a kept node differently from the full blob, or answered a
    /// node it does not keep.
    #[error("sliced blob differs from the full blob at node {node}")]
    SliceMismatch {
        /// The node.
        node: u32,
    },
    /// A student file that cannot be used (raised by [`artifact`]).
    #[error("{}: {defect}", path.display())]
    StudentFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        defect: artifact::StudentFileDefect,
    },
    /// The parity inputs do not cover the model's nodes.
    #[error(
        "export: features, labels and reference logits must cover the model's {n_nodes} nodes"
    )]
    Coverage {
        /// Nodes of the model.
        n_nodes: usize,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl crate::error::Blamed for ExportError {
    fn blame(&self) -> crate::error::Blame {
        use crate::error::Blame;
        match self {
            // A file the user named: unreadable, not a student file, or an output path
            // that cannot be written.
            Self::StudentFile { .. } | Self::Io { .. } => Blame::Input,
            // A node list the user gave (`--nodes`).
            Self::Write(
                WriteError::NodeOutOfRange { .. }
                | WriteError::DuplicateNode { .. }
                | WriteError::NoNodes,
            ) => Blame::Input,
            // Parity and the writer check our own results.
            Self::Write(_)
            | Self::Engine { .. }
            | Self::LogitMismatch { .. }
            | Self::Agreement { .. }
            | Self::NotBitExact { .. }
            | Self::AccuracyDrop { .. }
            | Self::Coverage { .. }
            | Self::SliceMismatch { .. } => Blame::Internal,
        }
    }
}

/// What a parity check compares against.
#[derive(Debug, Clone, Copy)]
pub struct ParityInputs<'a> {
    /// The student's plain f32 weights.
    pub weights: &'a ModelWeights,
    /// Node features, `N × F`.
    pub features: &'a Csr,
    /// Labels per node (`< 0`: unlabelled).
    pub labels: &'a [i64],
    /// Test nodes.
    pub test: &'a [u32],
    /// The distiller's own f32 forward, `N × C`.
    pub reference_logits: &'a [f32],
}

/// The parity figures of one exported blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityReport {
    /// The blob precision; `f32`, `f16` or `int8` in JSON.
    #[serde(with = "crate::quantize::precision_name")]
    pub precision: Precision,
    /// Nodes run through the engine (all of them).
    pub nodes: usize,
    /// Largest `|engine − distiller f32 forward|` over all logits.
    pub max_abs_diff_vs_f32: f64,
    /// Largest `|engine − simulated forward at this precision|` over all logits.
    pub max_abs_diff_vs_simulated: f64,
    /// Argmax agreement of the engine with the simulated forward.
    pub agreement_with_simulated: f64,
    /// Argmax agreement of the engine with the f32 student.
    pub agreement_with_f32: f64,
    /// Engine test accuracy.
    pub test_accuracy: f64,
    /// The f32 student's test accuracy.
    pub f32_test_accuracy: f64,
    /// Blob size in bytes.
    pub blob_bytes: usize,
    /// Engine scratch size in bytes.
    pub scratch_bytes: usize,
    /// Nodes a sliced blob keeps (`--nodes`; its rows answer bit-identically to the full
    /// blob's, checked); `None` for a full blob. `blob_bytes` is then the sliced blob's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_nodes: Option<usize>,
}

/// Runs every node of `features` through `model`; returns logits `N × C`.
///
/// # Errors
/// [`ExportError::Engine`] with the failing node.
pub fn engine_logits(model: &Model, features: &Csr) -> Result<Vec<f32>, ExportError> {
    // Nodes split over the pool in blocks (one scratch each); the first error in node
    // order is the one reported, as on one thread.
    const BLOCK: usize = 256;
    let blocks = map_in_order(features.n_rows.div_ceil(BLOCK), BLOCK * NODE_WORK, |b| {
        let mut scratch = vec![0f32; model.scratch_len()];
        let mut out = Vec::with_capacity(BLOCK * model.dims().n_classes as usize);
        for i in b * BLOCK..features.n_rows.min((b + 1) * BLOCK) {
            let p = model
                .predict(i as u32, features.row_features(i), &mut scratch)
                .map_err(|error| ExportError::Engine {
                    node: Some(i as u32),
                    error,
                })?;
            out.extend_from_slice(p.logits);
        }
        Ok(out)
    });
    blocks
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map(|b| b.concat())
}

/// Mean engine time per node in nanoseconds, running all nodes repeatedly for at least
/// `min_ms` milliseconds.
pub fn engine_ns_per_node(model: &Model, features: &Csr, min_ms: f64) -> f64 {
    let mut scratch = vec![0f32; model.scratch_len()];
    let (mut calls, start) = (0u64, Instant::now());
    let mut sink = 0u32;
    while calls == 0 || start.elapsed().as_secs_f64() * 1e3 < min_ms {
        for i in 0..features.n_rows {
            if let Ok(p) = model.predict(i as u32, features.row_features(i), &mut scratch) {
                sink = sink.wrapping_add(p.class);
            }
            calls += 1;
        }
    }
    std::hint::black_box(sink);
    start.elapsed().as_secs_f64() * 1e9 / calls as f64
}

fn max_diff(a: &[f32], b: &[f32], c: usize) -> (f64, u32) {
    let mut worst = (0f64, 0u32);
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        let d = f64::from((x - y).abs());
        if d > worst.0 || d.is_nan() {
            worst = (d, (k / c.max(1)) as u32);
        }
    }
    worst
}

/// Writes the blob at `precision` and checks it against the distiller; returns the blob
/// and its figures. Nothing is written to disk.
///
/// # Errors
/// The failed check ([`ExportError::LogitMismatch`], [`ExportError::Agreement`],
/// [`ExportError::AccuracyDrop`]) or an engine/writer error.
pub fn verify(
    inputs: &ParityInputs,
    precision: Precision,
) -> Result<(Vec<u8>, ParityReport), ExportError> {
    let (w, c) = (inputs.weights, inputs.weights.n_classes);
    if inputs.features.n_rows != w.n_nodes
        || inputs.labels.len() != w.n_nodes
        || inputs.reference_logits.len() != w.n_nodes * c
    {
        return Err(ExportError::Coverage { n_nodes: w.n_nodes });
    }
    let blob = write_blob(w, precision)?;
    let model =
        Model::from_bytes(&blob).map_err(|error| ExportError::Engine { node: None, error })?;
    let logits = engine_logits(&model, inputs.features)?;
    let (simulated, _) = simulate(w, precision, inputs.features);
    let pred = argmax(&logits, c);
    let f32_pred = argmax(inputs.reference_logits, c);
    let (diff_f32, worst_node) = max_diff(&logits, inputs.reference_logits, c);
    let report = ParityReport {
        precision,
        nodes: inputs.features.n_rows,
        max_abs_diff_vs_f32: diff_f32,
        max_abs_diff_vs_simulated: max_diff(&logits, &simulated, c).0,
        agreement_with_simulated: agreement(&pred, &argmax(&simulated, c)),
        agreement_with_f32: agreement(&pred, &f32_pred),
        test_accuracy: accuracy(&pred, inputs.labels, inputs.test),
        f32_test_accuracy: accuracy(&f32_pred, inputs.labels, inputs.test),
        blob_bytes: blob.len(),
        scratch_bytes: model.scratch_bytes(),
        kept_nodes: None,
    };
    if precision == Precision::F32 {
        if diff_f32.is_nan() || diff_f32 > F32_LOGIT_TOLERANCE {
            return Err(ExportError::LogitMismatch {
                max_diff: diff_f32,
                node: worst_node,
            });
        }
    } else {
        let (diff_sim, node) = max_diff(&logits, &simulated, c);
        if precision == Precision::Int8 && (diff_sim != 0.0 || simulated.len() != logits.len()) {
            return Err(ExportError::NotBitExact {
                max_diff: diff_sim,
                node,
            });
        }
        if report.agreement_with_simulated < MIN_AGREEMENT {
            return Err(ExportError::Agreement {
                precision,
                agreement: report.agreement_with_simulated,
            });
        }
        let limit_pt = accuracy_drop_limit_pt(inputs.test.len());
        if 100.0 * (report.f32_test_accuracy - report.test_accuracy) > limit_pt + 1e-9 {
            return Err(ExportError::AccuracyDrop {
                precision,
                f32_accuracy: report.f32_test_accuracy,
                quantised: report.test_accuracy,
                limit_pt,
            });
        }
    }
    Ok((blob, report))
}

/// [`verify`], then write the blob to `path` atomically.
///
/// # Errors
/// As [`verify`], or [`ExportError::Io`].
pub fn export(
    inputs: &ParityInputs,
    precision: Precision,
    path: &Path,
) -> Result<ParityReport, ExportError> {
    export_nodes(inputs, precision, None, path)
}

/// [`verify`]; with `nodes`, slice the blob to them ([`write_blob_nodes`]) and check that
/// the sliced blob answers every kept node bit-identically (logits and gates) to the full
/// one and refuses another; then write it to `path` atomically.
///
/// # Errors
/// As [`verify`]; [`ExportError::Write`] for a bad node list (out of range, duplicate);
/// [`ExportError::SliceMismatch`]; [`ExportError::Io`].
pub fn export_nodes(
    inputs: &ParityInputs,
    precision: Precision,
    nodes: Option<&[u32]>,
    path: &Path,
) -> Result<ParityReport, ExportError> {
    let (mut blob, mut report) = verify(inputs, precision)?;
    if let Some(nodes) = nodes {
        let sliced = write_blob_nodes(inputs.weights, precision, nodes)?;
        check_slice(&blob, &sliced, nodes, inputs.features)?;
        (report.blob_bytes, report.kept_nodes) = (sliced.len(), Some(nodes.len()));
        blob = sliced;
    }
    write_atomic(path, &blob)?;
    Ok(report)
}

/// Checks that `sliced` answers each of `nodes` exactly as `full` does.
fn check_slice(full: &[u8], sliced: &[u8], nodes: &[u32], x: &Csr) -> Result<(), ExportError> {
    let engine = |error| ExportError::Engine { node: None, error };
    let (full, sliced) = (
        Model::from_bytes(full).map_err(engine)?,
        Model::from_bytes(sliced).map_err(engine)?,
    );
    let (mut s1, mut s2) = (
        vec![0f32; full.scratch_len()],
        vec![0f32; sliced.scratch_len()],
    );
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for &node in nodes {
        let features = x.row_features(node as usize);
        let run = |m: &Model, s: &mut [f32]| {
            m.predict(node, features, s)
                .map(|p| (bits(p.logits), bits(p.gates)))
                .map_err(|error| ExportError::Engine {
                    node: Some(node),
                    error,
                })
        };
        if run(&full, &mut s1)? != run(&sliced, &mut s2)? {
            return Err(ExportError::SliceMismatch { node });
        }
    }
    let other = (0..full.dims().n_nodes).find(|n| !nodes.contains(n));
    if let Some(node) = other {
        let r = sliced.predict(node, x.row_features(node as usize), &mut s2);
        if r.map(drop) != Err(frameless_engine::Error::NodeNotKept { node }) {
            return Err(ExportError::SliceMismatch { node });
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` with [`crate::files::write_atomic`], naming the path in
/// the error.
///
/// # Errors
/// [`ExportError::Io`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    crate::files::write_atomic(path, bytes).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests;
