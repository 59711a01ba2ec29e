//! Quantisation (DESIGN §7): plain f32 weights for the engine's writer and a simulated
//! forward pass per precision, following the engine contract's rules exactly.
//!
//! For each of f32, f16 and int8 [`evaluate`] reports test accuracy, argmax agreement
//! with the f32 student, the blob's size and the engine's scratch size.
//!
//! ```
//! use frameless_distiller::quantize::{parse_precision, PRECISIONS};
//! assert_eq!(parse_precision("int8")?, PRECISIONS[2]);
//! assert!(parse_precision("int4").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod simulate;
mod weights;

use frameless_engine::writer::{write_blob, ModelWeights, WriteError};
use frameless_engine::{Model, Precision};
use serde::{Deserialize, Serialize};

pub use simulate::simulate;
pub(crate) use simulate::NODE_WORK;
pub use weights::{all_nodes, linear_of, model_weights};

use crate::sparse::Csr;
use crate::train::accuracy;

/// The three precisions, in report order.
pub const PRECISIONS: [Precision; 3] = [Precision::F32, Precision::F16, Precision::Int8];

/// Errors from quantising a student.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    /// The engine's writer refused the weights.
    #[error("blob writer: {0}")]
    Write(#[from] WriteError),
    /// The engine refused the blob it was just given.
    #[error("engine: {0}")]
    Engine(#[from] frameless_engine::Error),
    /// A precision name is unknown.
    #[error("unknown precision {name:?} (expected f32, f16 or int8)")]
    UnknownPrecision {
        /// The name given.
        name: String,
    },
}

impl crate::error::Blamed for QuantizeError {
    fn blame(&self) -> crate::error::Blame {
        match self {
            Self::UnknownPrecision { .. } => crate::error::Blame::Input,
            Self::Write(_) | Self::Engine(_) => crate::error::Blame::Internal,
        }
    }
}

/// Parses `f32`, `f16` or `int8`.
///
/// # Errors
/// [`QuantizeError::UnknownPrecision`] for anything else.
pub fn parse_precision(name: &str) -> Result<Precision, QuantizeError> {
    match name {
        "f32" => Ok(Precision::F32),
        "f16" | "fp16" => Ok(Precision::F16),
        "int8" | "i8" => Ok(Precision::Int8),
        other => Err(QuantizeError::UnknownPrecision { name: other.into() }),
    }
}

/// Serde for a [`Precision`] as its name (`f32`, `f16`, `int8`), the reports' JSON form.
pub mod precision_name {
    use frameless_engine::Precision;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the name ([`Precision`]'s `Display`).
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(precision: &Precision, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(precision)
    }

    /// Reads a name accepted by [`parse_precision`](super::parse_precision).
    ///
    /// # Errors
    /// An unknown name.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Precision, D::Error> {
        let name = String::deserialize(d)?;
        super::parse_precision(&name).map_err(serde::de::Error::custom)
    }
}

/// One precision's row of the quantisation report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrecisionReport {
    /// The blob precision; `f32`, `f16` or `int8` in JSON.
    #[serde(with = "precision_name")]
    pub precision: Precision,
    /// Test accuracy of the simulated forward pass.
    pub test_accuracy: f64,
    /// Fraction of all nodes whose argmax equals the f32 student's.
    pub agreement_with_f32: f64,
    /// Size of the blob in bytes.
    pub blob_bytes: usize,
    /// The engine's scratch size in bytes.
    pub scratch_bytes: usize,
}

/// Row-wise argmax (first maximum on ties, like the engine).
pub fn argmax(logits: &[f32], n_classes: usize) -> Vec<u32> {
    logits
        .chunks(n_classes.max(1))
        .map(|row| {
            let mut best = (0usize, f32::NEG_INFINITY);
            for (i, &v) in row.iter().enumerate() {
                if v > best.1 {
                    best = (i, v);
                }
            }
            best.0 as u32
        })
        .collect()
}

/// Fraction of positions where `a` and `b` agree.
pub fn agreement(a: &[u32], b: &[u32]) -> f64 {
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / a.len().max(1) as f64
}

/// Simulates `weights` at every precision and measures blob and scratch sizes.
/// `reference_logits` are the f32 student's (`N × C`).
///
/// # Errors
/// If the writer or the engine refuses the model.
pub fn evaluate(
    weights: &ModelWeights,
    features: &Csr,
    labels: &[i64],
    test: &[u32],
    reference_logits: &[f32],
) -> Result<Vec<PrecisionReport>, QuantizeError> {
    let c = weights.n_classes;
    let reference = argmax(reference_logits, c);
    PRECISIONS
        .iter()
        .map(|&precision| {
            let (logits, _) = simulate(weights, precision, features);
            let pred = argmax(&logits, c);
            let blob = write_blob(weights, precision)?;
            let model = Model::from_bytes(&blob)?;
            Ok(PrecisionReport {
                precision,
                test_accuracy: accuracy(&pred, labels, test),
                agreement_with_f32: agreement(&pred, &reference),
                blob_bytes: blob.len(),
                scratch_bytes: model.scratch_bytes(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
