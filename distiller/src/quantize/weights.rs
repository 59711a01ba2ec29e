//! From a trained [`Student`] to the engine writer's plain-f32 [`ModelWeights`].
//!
//! candle keeps a linear layer as `in × out`; the engine's [`Linear`] is `out × in`
//! row-major (PyTorch layout), so every weight is transposed here. A gate `a_b`
//! (`2d × 1`) becomes a `2d` vector whose first half multiplies `E_b[i]` and second
//! half `u`, the order of `[E_b ‖ u]` in the student. With `tie_bands` the shared band
//! classifier is written once per band.

use candle_core::{DType, Tensor};
use frameless_engine::writer::{Architecture, Gate, Linear, ModelWeights, OwnedMetadata, Stage};

use crate::sparse::Csr;
use crate::student::{Params, Student, StudentGraph};
use crate::train::Dense;

fn flat(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

/// The engine's `out × in` [`Linear`] of a candle [`Dense`].
///
/// # Errors
/// Candle errors.
pub fn linear_of(dense: &Dense) -> candle_core::Result<Linear> {
    let (in_dim, out_dim) = dense.weight.as_tensor().dims2()?;
    Ok(Linear {
        in_dim,
        out_dim,
        weight: flat(&dense.weight.as_tensor().t()?.contiguous()?)?,
        bias: flat(dense.bias.as_tensor())?,
    })
}

/// Plain f32 weights of `student`, with its tables `E_b^s` precomputed on `graph`
/// and the activation ranges int8 needs, calibrated on every node of `graph`.
///
/// # Errors
/// Candle errors.
pub fn model_weights(
    student: &Student,
    graph: &StudentGraph,
    metadata: OwnedMetadata,
) -> candle_core::Result<ModelWeights> {
    let architecture = match &student.params {
        Params::Mlp(p) => Architecture::Mlp {
            layers: vec![linear_of(&p.hidden)?, linear_of(&p.output)?],
        },
        Params::Frameless(p) => {
            let tables = student.tables(graph)?;
            let mut stages = Vec::with_capacity(p.stages.len());
            for (st, st_tables) in p.stages.iter().zip(&tables) {
                let gates = st
                    .gates
                    .iter()
                    .map(|g| {
                        Ok(Gate {
                            weight: flat(g.weight.as_tensor())?,
                            bias: flat(g.bias.as_tensor())?[0],
                        })
                    })
                    .collect::<candle_core::Result<_>>()?;
                stages.push(Stage {
                    encoder: linear_of(&st.encoder)?,
                    tables: st_tables
                        .iter()
                        .map(flat)
                        .collect::<candle_core::Result<_>>()?,
                    gates,
                });
            }
            let n_bands = graph.bands.len();
            let band_classifiers = (0..n_bands)
                .map(|b| linear_of(&p.band_classifiers[b.min(p.band_classifiers.len() - 1)]))
                .collect::<candle_core::Result<_>>()?;
            Architecture::Frameless {
                stages,
                band_classifiers,
                feature_classifier: linear_of(&p.feature_classifier)?,
            }
        }
    };
    let features = graph.features.to_csr()?;
    Ok(ModelWeights {
        kind: student.config.kind.model_kind(),
        n_nodes: graph.n_nodes(),
        n_features: graph.n_features(),
        n_classes: student.n_classes,
        architecture,
        metadata,
        calibration: None,
    }
    .calibrated(all_nodes(&features)))
}

/// `(node, features)` of every row of `features`: what int8 calibrates on
/// (every node of the graph, the nodes the blob answers for).
pub fn all_nodes(features: &Csr) -> impl Iterator<Item = (usize, frameless_engine::Features<'_>)> {
    (0..features.n_rows).map(|i| (i, features.row_features(i)))
}
