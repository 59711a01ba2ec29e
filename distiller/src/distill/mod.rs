//! Knowledge distillation: train a student on a teacher's soft labels (DESIGN §4).
//!
//! Loss over all `N` nodes (transductive), one optimiser step per epoch:
//!
//! ```text
//! L = λ · NLL(z_s[train], y[train]) + (1 − λ) · τ² · KL(softmax(z_t/τ) ‖ softmax(z_s/τ))
//! KL = (1/N) Σ_i Σ_c p_t[i,c] (log p_t[i,c] − log p_s[i,c])        (PyTorch "batchmean")
//! ```
//!
//! The teacher arrives as log-probabilities, and `softmax(z_t/τ) = softmax(log p_t / τ)`.
//! Adam with L2 weight decay, early stopping on validation accuracy (ties move the best
//! epoch later), and the best-validation weights are kept.
//!
//! ```
//! use frameless_distiller::distill::DistillConfig;
//! let c = DistillConfig::default();
//! assert_eq!((c.lambda, c.tau, c.max_epochs, c.patience), (0.0, 1.0, 500, 50));
//! ```

use std::time::Instant;

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Blame, Blamed};
use crate::progress::{Progress, ProgressEvent};
use crate::student::{Mode, Student, StudentConfig, StudentError, StudentGraph};
use crate::train::{
    accuracy, argmax_rows, kd_loss, restore, snapshot, Adam, AdamConfig, EarlyStopping, SeededRng,
    Verdict,
};

/// Errors from distillation.
#[derive(Debug, thiserror::Error)]
pub enum DistillError {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The student could not be built.
    #[error(transparent)]
    Student(#[from] StudentError),
    /// Labels or teacher values do not cover the graph's nodes.
    #[error(
        "distill: {n_labels} labels and {n_teacher_values} teacher values for {n_nodes} nodes"
    )]
    Coverage {
        /// Labels given.
        n_labels: usize,
        /// Teacher log-probabilities given.
        n_teacher_values: usize,
        /// Nodes of the graph.
        n_nodes: usize,
    },
    /// A split names a node outside the graph (or the teacher has no class).
    #[error("distill: split node outside the graph")]
    SplitOutOfRange,
    /// `tau ≤ 0` or `lambda` outside `[0, 1]`.
    #[error("distill: need tau > 0 and 0 <= lambda <= 1")]
    BadLoss {
        /// Temperature given.
        tau: f64,
        /// Mixing weight given.
        lambda: f64,
    },
}

impl Blamed for DistillError {
    fn blame(&self) -> Blame {
        match self {
            Self::Candle(e) => e.blame(),
            Self::Student(e) => e.blame(),
            Self::Coverage { .. } | Self::SplitOutOfRange | Self::BadLoss { .. } => Blame::Input,
        }
    }
}

/// Distillation hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistillConfig {
    /// Weight `λ` of the hard-label NLL on the training nodes.
    pub lambda: f64,
    /// Temperature `τ`.
    pub tau: f64,
    /// Optimiser.
    pub adam: AdamConfig,
    /// Maximum number of epochs.
    pub max_epochs: usize,
    /// Epochs without reaching the best validation accuracy before stopping.
    pub patience: usize,
    /// Seed of initialisation and dropout.
    pub seed: u64,
}

impl Default for DistillConfig {
    fn default() -> Self {
        Self {
            lambda: 0.0,
            tau: 1.0,
            adam: AdamConfig::default(),
            max_epochs: 500,
            patience: 50,
            seed: 0,
        }
    }
}

/// What a student needs to learn from: the teacher's log-probabilities, labels and split.
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    /// Teacher log-probabilities, `N × C` row-major.
    pub teacher_log_probs: &'a [f32],
    /// Labels per node (`< 0`: unlabelled).
    pub labels: &'a [i64],
    /// Training nodes.
    pub train: &'a [u32],
    /// Validation nodes.
    pub val: &'a [u32],
    /// Test nodes.
    pub test: &'a [u32],
}

/// The outcome of a distillation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillReport {
    /// Test accuracy at the best validation epoch.
    pub test_accuracy: f64,
    /// Best validation accuracy.
    pub val_accuracy: f64,
    /// Zero-based best epoch.
    pub best_epoch: usize,
    /// Epochs run.
    pub epochs: usize,
    /// Mean output-stage gate `α_b` per band over all nodes (empty for mlp).
    pub mean_gates: Vec<f64>,
    /// Mean wall time of one training epoch, in milliseconds.
    pub epoch_ms: f64,
}

/// Mean of each gate tensor (`N × 1`) over all nodes.
///
/// # Errors
/// Candle errors.
pub fn mean_gates(gates: &[Tensor]) -> candle_core::Result<Vec<f64>> {
    gates
        .iter()
        .map(|g| g.to_dtype(DType::F64)?.mean_all()?.to_scalar::<f64>())
        .collect()
}

/// Trains a fresh student of `config` on `targets`, keeping the best-validation weights.
///
/// # Errors
/// [`DistillError::Coverage`], [`DistillError::SplitOutOfRange`] or
/// [`DistillError::BadLoss`] if the inputs disagree; candle errors otherwise.
pub fn distill(
    config: &StudentConfig,
    graph: &StudentGraph,
    targets: &Targets,
    settings: &DistillConfig,
    dtype: DType,
    progress: &mut Progress,
) -> Result<(Student, DistillReport), DistillError> {
    let n = graph.n_nodes();
    if n == 0 || targets.labels.len() != n || targets.teacher_log_probs.len() % n != 0 {
        return Err(DistillError::Coverage {
            n_labels: targets.labels.len(),
            n_teacher_values: targets.teacher_log_probs.len(),
            n_nodes: n,
        });
    }
    let c = targets.teacher_log_probs.len() / n;
    let in_range = |v: &[u32]| v.iter().all(|&i| (i as usize) < n);
    if c == 0 || !in_range(targets.train) || !in_range(targets.val) || !in_range(targets.test) {
        return Err(DistillError::SplitOutOfRange);
    }
    if settings.tau <= 0.0 || !(0.0..=1.0).contains(&settings.lambda) {
        return Err(DistillError::BadLoss {
            tau: settings.tau,
            lambda: settings.lambda,
        });
    }
    let train_labels: Vec<u32> = targets
        .train
        .iter()
        .map(|&i| {
            let label = targets.labels.get(i as usize).copied();
            label
                .map(|y| y.max(0) as u32)
                .ok_or(DistillError::SplitOutOfRange)
        })
        .collect::<Result<_, _>>()?;
    let dev = graph.device.clone();
    let teacher = Tensor::from_slice(targets.teacher_log_probs, (n, c), &dev)?.to_dtype(dtype)?;
    let train_index = Tensor::from_slice(targets.train, targets.train.len(), &dev)?;
    let train_labels = Tensor::from_vec(train_labels, targets.train.len(), &dev)?;

    let mut rng = SeededRng::new(settings.seed);
    let student = Student::new(config, graph, c, &mut rng, dtype)?;
    let vars = student.vars();
    let mut adam = Adam::new(vars.clone(), settings.adam)?;
    let mut stop = EarlyStopping::new(settings.patience);
    let mut best = snapshot(&vars)?;
    let mut report = DistillReport {
        test_accuracy: 0.0,
        val_accuracy: 0.0,
        best_epoch: 0,
        epochs: 0,
        mean_gates: Vec::new(),
        epoch_ms: 0.0,
    };
    let mut train_seconds = 0.0;
    progress.report(ProgressEvent::RunStarted {
        label: format!("{} seed {}", config.kind, settings.seed),
        max_epochs: settings.max_epochs,
    });
    // The tables `P_b^K M_b + c_b` are the costly part of a forward pass and do not
    // depend on the mode: the ones computed after each step serve that epoch's
    // evaluation and the next epoch's training forward (same weights, same values).
    let mut tables = student.tables(graph)?;
    for epoch in 0..settings.max_epochs {
        let t0 = Instant::now();
        // The training pass takes the tables: each is let go once its dropout has read it.
        let out = student.forward_with_tables(
            graph,
            std::mem::take(&mut tables),
            Mode::Train(&mut rng),
        )?;
        let loss = kd_loss(
            &out.logits,
            &teacher,
            &train_index,
            &train_labels,
            settings.lambda,
            settings.tau,
        )?;
        let grads = loss.backward()?;
        // The forward graph goes before the step, the gradients before the next tables
        // are built: each would otherwise add to the epoch's peak.
        let loss_value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        drop((out, loss));
        adam.step(&grads)?;
        drop(grads);
        tables = student.tables(graph)?;
        train_seconds += t0.elapsed().as_secs_f64();
        let eval = student.forward_with_tables(graph, tables.clone(), Mode::Eval)?;
        let pred = argmax_rows(&eval.logits)?;
        let val = accuracy(&pred, targets.labels, targets.val);
        let verdict = stop.observe(epoch, val);
        report.epochs = epoch + 1;
        if verdict == Verdict::Improved {
            best = snapshot(&vars)?;
            report.test_accuracy = accuracy(&pred, targets.labels, targets.test);
            report.val_accuracy = val;
            report.best_epoch = epoch;
            report.mean_gates = mean_gates(&eval.gates)?;
        }
        progress.report(ProgressEvent::Epoch {
            epoch,
            loss: loss_value,
            val_accuracy: val,
            best_val_accuracy: stop.best_val_accuracy(),
        });
        if verdict == Verdict::Stop {
            break;
        }
    }
    restore(&vars, &best)?;
    report.epoch_ms = 1000.0 * train_seconds / report.epochs.max(1) as f64;
    progress.report(ProgressEvent::RunFinished {
        epochs: report.epochs,
    });
    Ok((student, report))
}

#[cfg(test)]
mod tests;
