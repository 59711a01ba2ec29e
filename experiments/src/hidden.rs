//! The last hidden layer of a trained student, for the energy measure (eval mode).
//!
//! The layer is [`Student::hidden`]: `ReLU(Lin(x))` for mlp, the output stage's gated
//! mixture `Σ_b (1 − α_b) E_b^S + α_b u_S` for fmlp-s / fmlp-o. This module only flattens it.

use candle_core::DType;

use frameless_distiller::student::{Student, StudentGraph};

/// `(H row-major, d)` for `student` on `graph`.
///
/// # Errors
/// Candle errors.
pub fn student_hidden(
    student: &Student,
    graph: &StudentGraph,
) -> candle_core::Result<(Vec<f32>, usize)> {
    let h = student.hidden(graph)?;
    let dim = h.dim(1)?;
    Ok((
        h.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
        dim,
    ))
}
