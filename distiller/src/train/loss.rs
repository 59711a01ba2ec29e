//! The distillation loss, shared by the distill loop and the student's gradient check.

use candle_core::{Tensor, D};

/// `λ·NLL(train) + (1−λ)·τ²·KL(teacher ‖ student)` for logits `z_s` (`N × C`).
///
/// # Errors
/// Candle errors.
pub fn kd_loss(
    student_logits: &Tensor,
    teacher_log_probs: &Tensor,
    train_index: &Tensor,
    train_labels: &Tensor,
    lambda: f64,
    tau: f64,
) -> candle_core::Result<Tensor> {
    if lambda >= 1.0 {
        // Labels only: the KL term's weight is zero, so skip computing it.
        let log_p =
            candle_nn::ops::log_softmax(student_logits, D::Minus1)?.index_select(train_index, 0)?;
        return candle_nn::loss::nll(&log_p, train_labels);
    }
    let n = student_logits.dim(0)? as f64;
    let log_ps = candle_nn::ops::log_softmax(&student_logits.affine(1.0 / tau, 0.0)?, D::Minus1)?;
    let log_pt =
        candle_nn::ops::log_softmax(&teacher_log_probs.affine(1.0 / tau, 0.0)?, D::Minus1)?;
    let kl = (log_pt.exp()? * (&log_pt - &log_ps)?)?
        .sum_all()?
        .affine((1.0 - lambda) * tau * tau / n, 0.0)?;
    if lambda <= 0.0 {
        return Ok(kl);
    }
    let log_p =
        candle_nn::ops::log_softmax(student_logits, D::Minus1)?.index_select(train_index, 0)?;
    let nll = candle_nn::loss::nll(&log_p, train_labels)?;
    kl + nll.affine(lambda, 0.0)?
}
