//! The training loop shared by the three teachers (anchors.py `train_eval`).

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};

use super::models::{log_softmax, Model};
use super::{TeacherConfig, TeacherData, TeacherError, TeacherKind, TeacherOutcome, TeacherRun};
use crate::data::Split;
use crate::framelet::FrameletOperators;
use crate::progress::{Progress, ProgressEvent};
use crate::train::{
    accuracy, argmax_rows, restore, snapshot, Adam, AdamConfig, EarlyStopping, SeededRng, Verdict,
};

/// Warm-up and timed repetitions of the full-graph inference timing.
const INFERENCE_WARMUP: usize = 2;
const INFERENCE_REPS: usize = 10;
/// Time after which the inference timing stops repeating (after at least one warm-up
/// and one timed forward): on a 100k-node graph one forward takes about a second, and
/// twelve of them were a third of a 30-epoch teacher run, spent on a report figure.
const INFERENCE_BUDGET_MS: f64 = 1_000.0;

fn check(
    data: &TeacherData,
    operators: &FrameletOperators,
    config: &TeacherConfig,
    split: &Split,
) -> Result<(), TeacherError> {
    let n = data.n_nodes();
    if config.layers == 0 || config.hidden == 0 || config.epochs == 0 {
        return Err(TeacherError::ZeroSize {
            layers: config.layers,
            hidden: config.hidden,
            epochs: config.epochs,
        });
    }
    if !(0.0..1.0).contains(&config.dropout) {
        return Err(TeacherError::Dropout {
            dropout: config.dropout,
        });
    }
    let AdamConfig { lr, weight_decay } = config.optimizer;
    if lr.is_nan() || lr <= 0.0 || weight_decay.is_nan() || weight_decay < 0.0 {
        return Err(TeacherError::Optimizer { lr, weight_decay });
    }
    if operators.bands.is_empty()
        || operators
            .bands
            .iter()
            .any(|b| b.transform.matrix().n_rows != n || b.propagation.matrix().n_rows != n)
    {
        return Err(TeacherError::OperatorsMismatch { n_nodes: n });
    }
    if data.features.n_rows() != n || data.n_classes == 0 {
        return Err(TeacherError::DatasetShape {
            n_nodes: n,
            feature_rows: data.features.n_rows(),
            n_classes: data.n_classes,
        });
    }
    if split.train.is_empty() || split.val.is_empty() {
        return Err(TeacherError::EmptySplit);
    }
    for &i in split.train.iter().chain(&split.val).chain(&split.test) {
        let y = data.labels.get(i as usize).copied().unwrap_or(-1);
        if y < 0 || y as usize >= data.n_classes {
            return Err(TeacherError::UnlabelledNode { node: i });
        }
    }
    Ok(())
}

/// Trains one teacher on `split` with `seed` and returns its best-validation soft labels.
///
/// The seed drives initialisation and dropout ([`SeededRng`]); the same inputs give the
/// same result on every run.
///
/// # Errors
/// [`TeacherError::ZeroSize`], [`TeacherError::Dropout`], [`TeacherError::EmptySplit`] and the
/// other input variants for unusable inputs,
/// [`TeacherError::Candle`] if a tensor operation fails.
#[allow(clippy::too_many_arguments)]
pub fn train(
    data: &TeacherData,
    operators: &FrameletOperators,
    kind: TeacherKind,
    config: &TeacherConfig,
    seed: u64,
    split: &Split,
    device: &Device,
    progress: &mut Progress<'_>,
) -> Result<TeacherRun, TeacherError> {
    let mut trainer = Trainer::new(data, operators, kind, config, seed, split, device)?;
    progress.report(ProgressEvent::RunStarted {
        label: format!("{kind} seed {seed}"),
        max_epochs: config.epochs,
    });
    let mut stopping = EarlyStopping::new(config.patience);
    let mut best: Option<(Vec<f32>, f64, Vec<Tensor>)> = None;
    let mut times = Vec::new();
    let mut epochs = 0;
    for epoch in 0..config.epochs {
        let start = Instant::now();
        let loss = trainer.epoch()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        epochs = epoch + 1;

        let log_probs = trainer.log_probs()?;
        let predictions = argmax_rows(&log_probs)?;
        let val = accuracy(&predictions, &data.labels, &split.val);
        let verdict = stopping.observe(epoch, val);
        if verdict == Verdict::Improved {
            let test = accuracy(&predictions, &data.labels, &split.test);
            let flat = log_probs
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            best = Some((flat, test, snapshot(&trainer.vars)?));
        }
        progress.report(ProgressEvent::Epoch {
            epoch,
            loss,
            val_accuracy: val,
            best_val_accuracy: stopping.best_val_accuracy(),
        });
        if verdict == Verdict::Stop {
            break;
        }
    }
    progress.report(ProgressEvent::RunFinished { epochs });
    trainer.first_layer = None;
    let (log_probs, test_accuracy, weights) = best.ok_or(TeacherError::ZeroSize {
        layers: config.layers,
        hidden: config.hidden,
        epochs: config.epochs,
    })?;
    restore(&trainer.vars, &weights)?;
    let mut inference = Vec::new();
    let (mut warm, mut spent_ms) = (0, 0.0);
    while inference.len() < INFERENCE_REPS {
        let start = Instant::now();
        let out = trainer.model.forward(None)?;
        // Reading one value forces the computation to finish on any device.
        out.flatten_all()?
            .get(0)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        spent_ms += ms;
        if warm < INFERENCE_WARMUP && (warm == 0 || spent_ms < INFERENCE_BUDGET_MS) {
            warm += 1;
            continue;
        }
        inference.push(ms);
        if spent_ms >= INFERENCE_BUDGET_MS {
            break;
        }
    }
    inference.sort_by(f64::total_cmp);
    let hidden = trainer.model.hidden()?.to_dtype(DType::F32)?;
    let hidden_dim = hidden.dim(1)?;
    let hidden = hidden.flatten_all()?.to_vec1::<f32>()?;
    let timed = if times.len() > 5 {
        &times[5..]
    } else {
        &times[..]
    };
    Ok(TeacherRun {
        kind,
        seed,
        split: split.clone(),
        outcome: TeacherOutcome {
            n_classes: data.n_classes,
            log_probs,
            val_accuracy: stopping.best_val_accuracy(),
            test_accuracy,
            best_epoch: stopping.best_epoch(),
            epochs,
            epoch_ms: timed.iter().sum::<f64>() / timed.len().max(1) as f64,
            inference_ms: inference[inference.len() / 2],
        },
        hidden,
        hidden_dim,
    })
}

/// One teacher being trained: the model, its optimiser and the random stream. [`train`]
/// drives it; benchmarks time [`Trainer::epoch`] directly.
pub struct Trainer {
    model: Model,
    vars: Vec<Var>,
    adam: Adam,
    rng: SeededRng,
    train_ids: Tensor,
    train_labels: Tensor,
    /// The first layer with the current weights ([`Model::mode_free_first_layer`]),
    /// computed at the end of each epoch: the evaluation and the next training forward
    /// both start from it instead of repeating its graph products (the same values; the
    /// gradients flow through it).
    first_layer: Option<Tensor>,
}

impl Trainer {
    /// A freshly initialised teacher for `split`, seeded with `seed`.
    ///
    /// # Errors
    /// As [`train`].
    pub fn new(
        data: &TeacherData,
        operators: &FrameletOperators,
        kind: TeacherKind,
        config: &TeacherConfig,
        seed: u64,
        split: &Split,
        device: &Device,
    ) -> Result<Self, TeacherError> {
        check(data, operators, config, split)?;
        let mut rng = SeededRng::new(seed);
        let model = Model::new(
            kind,
            operators,
            &data.features,
            data.n_classes,
            config,
            &mut rng,
            device,
        )?;
        let vars = model.vars();
        let adam = Adam::new(vars.clone(), config.optimizer)?;
        let train_ids = Tensor::from_slice(&split.train, split.train.len(), device)?;
        let labels: Vec<u32> = split
            .train
            .iter()
            .map(|&i| {
                let label = data.labels.get(i as usize).copied();
                label
                    .and_then(|y| u32::try_from(y).ok())
                    .ok_or(TeacherError::UnlabelledNode { node: i })
            })
            .collect::<Result<_, _>>()?;
        let train_labels = Tensor::from_slice(&labels, labels.len(), device)?;
        Ok(Self {
            model,
            vars,
            adam,
            rng,
            train_ids,
            train_labels,
            first_layer: None,
        })
    }

    /// One training epoch (forward in training mode, NLL on the training nodes, backward,
    /// Adam step, then the new weights' first layer for the evaluation and the next
    /// epoch); returns the loss.
    ///
    /// # Errors
    /// [`TeacherError::Candle`] if a tensor operation fails.
    pub fn epoch(&mut self) -> Result<f64, TeacherError> {
        let first = self.first_layer.take();
        let logits = self.model.forward_from(first, Some(&mut self.rng))?;
        let log_probs = log_softmax(&logits.index_select(&self.train_ids, 0)?)?;
        let loss = candle_nn::loss::nll(&log_probs, &self.train_labels)?;
        let grads = loss.backward()?;
        let value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        // The forward graph goes before the step, the gradients before the next first
        // layer is built.
        drop((loss, log_probs, logits));
        self.adam.step(&grads)?;
        drop(grads);
        self.first_layer = self.model.mode_free_first_layer()?;
        Ok(value)
    }

    /// Forgets the kept first layer, so the next call recomputes it (tests compare the two).
    #[cfg(test)]
    pub(super) fn forget_first_layer(&mut self) {
        self.first_layer = None;
    }

    /// Log-probabilities `(N, C)` in evaluation mode (no dropout).
    ///
    /// # Errors
    /// [`TeacherError::Candle`] if a tensor operation fails.
    pub fn log_probs(&self) -> Result<Tensor, TeacherError> {
        let logits = self.model.forward_from(self.first_layer.clone(), None)?;
        Ok(log_softmax(&logits)?)
    }
}
