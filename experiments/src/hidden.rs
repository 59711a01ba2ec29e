//! The last hidden layer of a trained student, for the energy measure (eval mode).
//!
//! - mlp: `ReLU(Lin(x))`, `N × d`.
//! - fmlp-s / fmlp-o: the output stage's gated mixture in hidden space,
//!   `H = Σ_b (1 − α_b) E_b^S + α_b u_S`, where `u_S` is the output stage's feature
//!   encoding and `α_b` its gates: the representation the per-band classifiers read
//!   (fmlp-o's middle stages pass exactly this mixture on as `y_rec`).
//!
//! Built only from the student's public parameters; it follows `Student::forward`.

use candle_core::{DType, Tensor};

use frameless_distiller::student::{Params, Student, StudentGraph};

/// `(H row-major, d)` for `student` on `graph`.
///
/// # Errors
/// Candle errors.
pub fn student_hidden(
    student: &Student,
    graph: &StudentGraph,
) -> candle_core::Result<(Vec<f32>, usize)> {
    let h = match &student.params {
        Params::Mlp(p) => p.hidden.forward_sparse(&graph.features)?.relu()?,
        Params::Frameless(p) => {
            let tables = student.tables(graph)?;
            let n_stages = p.stages.len();
            let mut h: Option<Tensor> = None;
            for (s, (st, stage_tables)) in p.stages.iter().zip(&tables).enumerate() {
                let u = match &h {
                    None => st.encoder.forward_sparse(&graph.features)?,
                    Some(h) => st.encoder.forward(h)?,
                };
                let u = if s + 1 == n_stages { u } else { u.relu()? };
                let mut acc: Option<Tensor> = None;
                for (e, gate) in stage_tables.iter().zip(&st.gates) {
                    let alpha =
                        candle_nn::ops::sigmoid(&gate.forward(&Tensor::cat(&[e, &u], 1)?)?)?;
                    let term =
                        (e.broadcast_mul(&alpha.affine(-1.0, 1.0)?)? + u.broadcast_mul(&alpha)?)?;
                    acc = Some(match acc {
                        Some(a) => (a + term)?,
                        None => term,
                    });
                }
                h = acc;
            }
            h.ok_or_else(|| candle_core::Error::Msg("student has no stage".into()))?
        }
    };
    let dim = h.dim(1)?;
    Ok((
        h.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
        dim,
    ))
}
