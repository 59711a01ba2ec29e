//! What every training loop shares: seeded initialisation and dropout, Adam with
//! PyTorch-style L2 weight decay, early stopping on validation accuracy, accuracy,
//! the dense layer ([`Dense`]) and the distillation loss ([`kd_loss`]).
//!
//! Determinism: all randomness comes from one [`SeededRng`] per run, never from candle's
//! device RNG, so the same seed gives the same weights on every run.

mod adam;
mod bias;
mod dense;
mod loss;

pub use adam::{Adam, AdamConfig};
pub(crate) use bias::add_to_rows;
pub use bias::{add_bias, column_sums};
pub(crate) use dense::product;
pub use dense::Dense;
pub use loss::kd_loss;

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random stream of one training run.
pub struct SeededRng(ChaCha8Rng);

impl SeededRng {
    /// A stream determined entirely by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A tensor of `shape` with entries uniform in `[-bound, bound)`.
    pub fn uniform(
        &mut self,
        shape: (usize, usize),
        bound: f64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let data: Vec<f64> = (0..shape.0 * shape.1)
            .map(|_| self.0.random_range(-bound..bound))
            .collect();
        Tensor::from_vec(data, shape, device)?.to_dtype(dtype)
    }

    /// Glorot/Xavier uniform weights for a `(fan_in, fan_out)` matrix.
    pub fn xavier(
        &mut self,
        fan_in: usize,
        fan_out: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Var> {
        let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
        Var::from_tensor(&self.uniform((fan_in, fan_out), bound, dtype, device)?)
    }

    /// PyTorch `nn.Linear` default init: weight `(in, out)` and bias `(1, out)`, both
    /// uniform in `±1/√in`.
    pub fn linear(
        &mut self,
        fan_in: usize,
        fan_out: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<(Var, Var)> {
        let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
        let weight = Var::from_tensor(&self.uniform((fan_in, fan_out), bound, dtype, device)?)?;
        let bias = Var::from_tensor(&self.uniform((1, fan_out), bound, dtype, device)?)?;
        Ok((weight, bias))
    }

    /// Inverted dropout: zeroes each entry with probability `p`, scales the rest by `1/(1-p)`.
    ///
    /// On the CPU the mask is kept as one bit per entry (a custom operation) instead of a
    /// tensor of the input's size; the product and its gradient are those of `x * mask`.
    pub fn dropout(&mut self, x: &Tensor, p: f64) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(x.clone());
        }
        let mask = self.dropout_mask(x.elem_count(), p);
        if x.device().is_cpu() {
            return x.contiguous()?.apply_op1(mask);
        }
        let values: Vec<f32> = (0..x.elem_count()).map(|i| mask.factor(i)).collect();
        let mask = Tensor::from_vec(values, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x.mul(&mask)
    }

    /// The mask [`SeededRng::dropout`] draws for `n` entries and probability `p`
    /// (`0 < p < 1`), advancing the stream as it does.
    pub(crate) fn dropout_mask(&mut self, n: usize, p: f64) -> DropoutMask {
        let keep = (1.0 / (1.0 - p)) as f32;
        // Entry i keeps its value if the stream's i-th f64 from here (two words each) is
        // at least p. A block of entries seeks a copy of the stream to its own first
        // draw, so blocks split over the pool draw what one loop would.
        const BLOCK_WORDS: usize = 256; // mask words (64 entries each) per block
        let start = self.0.get_word_pos();
        let mut kept = vec![0u64; n.div_ceil(64)];
        crate::threads::chunks_indexed(&mut kept, BLOCK_WORDS, n, |block, words| {
            let mut rng = self.0.clone();
            let first = block * BLOCK_WORDS * 64;
            rng.set_word_pos(start + 2 * first as u128);
            for (w, word) in words.iter_mut().enumerate() {
                let entries = n.saturating_sub(first + w * 64).min(64);
                for bit in 0..entries {
                    if rng.random::<f64>() >= p {
                        *word |= 1 << bit;
                    }
                }
            }
        });
        self.0.set_word_pos(start + 2 * n as u128);
        DropoutMask { kept, keep }
    }
}

/// A dropout mask, one bit per entry: entry `i` is multiplied by `keep` (as an f32, as a
/// mask tensor would hold it) or by 0, forward and backward, exactly as `x * mask` and
/// its gradient `∂y * mask` would (no mask tensor, and no gradient of one, is formed).
#[derive(Clone)]
pub(crate) struct DropoutMask {
    kept: Vec<u64>,
    keep: f32,
}

impl DropoutMask {
    /// The factor of entry `i`.
    fn factor(&self, i: usize) -> f32 {
        if self
            .kept
            .get(i / 64)
            .is_some_and(|w| w >> (i % 64) & 1 == 1)
        {
            self.keep
        } else {
            0.0
        }
    }

    /// The dropout's backward pass: `grad ⊙ mask`, holding no graph.
    ///
    /// # Errors
    /// If `grad` is not f32 or f64.
    pub(crate) fn backward(&self, grad: &Tensor) -> Result<Tensor> {
        grad.contiguous()?.apply_op1_no_bwd(self)
    }

    /// `x ⊙ mask`: each entry times `keep` or 0, one mask word per 64 entries.
    pub(crate) fn apply<T: candle_core::WithDType>(&self, x: &[T]) -> Vec<T> {
        let (keep, zero) = (T::from_f64(f64::from(self.keep)), T::zero());
        let words = self.kept.iter().copied().chain(std::iter::repeat(0));
        let mut out = Vec::with_capacity(x.len());
        for (chunk, word) in x.chunks(64).zip(words) {
            out.extend(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(bit, &v)| v * if word >> bit & 1 == 1 { keep } else { zero }),
            );
        }
        out
    }
}

impl candle_core::CustomOp1 for DropoutMask {
    fn name(&self) -> &'static str {
        "dropout"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use crate::sparse::spmm::within;
        use candle_core::backend::BackendStorage;
        use candle_core::CpuStorage;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("dropout: input must be contiguous");
        };
        let out = match storage {
            CpuStorage::F32(x) => CpuStorage::F32(self.apply(within(x, start, end)?)),
            CpuStorage::F64(x) => CpuStorage::F64(self.apply(within(x, start, end)?)),
            other => candle_core::bail!("dropout: unsupported dtype {:?}", other.dtype()),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.backward(grad)?))
    }
}

/// What [`EarlyStopping::observe`] decided about an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Validation accuracy reached or tied the best: keep this epoch's weights.
    Improved,
    /// Worse than the best, patience left.
    Continue,
    /// Worse than the best for `patience` epochs in a row: stop.
    Stop,
}

/// Early stopping on validation accuracy; a tie counts as an improvement (the best
/// epoch moves later and patience resets, as in the GLNN and Frameless code).
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    patience: usize,
    best_val_accuracy: f64,
    best_epoch: usize,
    epochs_since_best: usize,
}

impl EarlyStopping {
    /// Stops after `patience` epochs without reaching the best validation accuracy.
    pub fn new(patience: usize) -> Self {
        Self {
            patience,
            best_val_accuracy: -1.0,
            best_epoch: 0,
            epochs_since_best: 0,
        }
    }

    /// Records epoch `epoch` with validation accuracy `val_accuracy`.
    pub fn observe(&mut self, epoch: usize, val_accuracy: f64) -> Verdict {
        if val_accuracy >= self.best_val_accuracy {
            self.best_val_accuracy = val_accuracy;
            self.best_epoch = epoch;
            self.epochs_since_best = 0;
            Verdict::Improved
        } else {
            self.epochs_since_best += 1;
            if self.epochs_since_best >= self.patience {
                Verdict::Stop
            } else {
                Verdict::Continue
            }
        }
    }

    /// Best validation accuracy seen.
    pub fn best_val_accuracy(&self) -> f64 {
        self.best_val_accuracy
    }

    /// Epoch of the best validation accuracy.
    pub fn best_epoch(&self) -> usize {
        self.best_epoch
    }
}

/// Copies the current values of `vars` (for keeping the best-validation weights).
pub fn snapshot(vars: &[Var]) -> Result<Vec<Tensor>> {
    vars.iter().map(|v| v.as_tensor().copy()).collect()
}

/// Writes a [`snapshot`] back into `vars`.
pub fn restore(vars: &[Var], saved: &[Tensor]) -> Result<()> {
    vars.iter().zip(saved).try_for_each(|(v, t)| v.set(t))
}

/// Row-wise argmax of a `(n, c)` tensor.
pub fn argmax_rows(logits: &Tensor) -> Result<Vec<u32>> {
    logits.argmax(1)?.to_vec1::<u32>()
}

/// Fraction of `nodes` whose prediction equals their label (a node without a
/// prediction or a label counts as wrong).
pub fn accuracy(predictions: &[u32], labels: &[i64], nodes: &[u32]) -> f64 {
    if nodes.is_empty() {
        return 0.0;
    }
    let correct = nodes
        .iter()
        .filter(|&&i| {
            let (p, y) = (predictions.get(i as usize), labels.get(i as usize));
            p.zip(y).is_some_and(|(&p, &y)| i64::from(p) == y)
        })
        .count();
    correct as f64 / nodes.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::value_and_gradient_bits;

    /// The bit mask gives the values and gradients of `x * mask` with the mask tensor the
    /// same random stream draws, bit for bit, in f32 and f64.
    #[test]
    fn dropout_is_x_times_its_mask() {
        for dtype in [DType::F32, DType::F64] {
            let x = SeededRng::new(1)
                .uniform((37, 5), 2.0, dtype, &Device::Cpu)
                .unwrap();
            let x = Var::from_tensor(&x).unwrap();
            let weights = SeededRng::new(2)
                .uniform((37, 5), 1.0, dtype, &Device::Cpu)
                .unwrap();
            let p = 0.3;
            let mut rng = SeededRng::new(9);
            let keep = (1.0 / (1.0 - p)) as f32;
            let mask: Vec<f32> = (0..x.elem_count())
                .map(|_| if rng.0.random::<f64>() < p { 0.0 } else { keep })
                .collect();
            let mask = Tensor::from_vec(mask, (37, 5), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let run = |y: Tensor| value_and_gradient_bits(&y, &weights, &[x.as_tensor()]);
            let ours = run(SeededRng::new(9).dropout(x.as_tensor(), p).unwrap());
            let theirs = run(x.as_tensor().mul(&mask).unwrap());
            assert!(ours[0].contains(&0) && ours[0].iter().any(|&b| b != 0));
            assert_eq!(ours, theirs, "{dtype:?}");
        }
    }

    #[test]
    fn early_stopping_counts_ties_as_improvement() {
        let mut stop = EarlyStopping::new(2);
        assert_eq!(stop.observe(0, 0.5), Verdict::Improved);
        assert_eq!(stop.observe(1, 0.5), Verdict::Improved);
        assert_eq!(stop.best_epoch(), 1);
        assert_eq!(stop.observe(2, 0.4), Verdict::Continue);
        assert_eq!(stop.observe(3, 0.4), Verdict::Stop);
    }

    /// A mask large enough to split over the pool keeps exactly the entries one loop
    /// over the stream keeps, and leaves the stream where that loop would.
    #[test]
    fn dropout_draws_the_same_mask_on_two_threads() {
        let n = crate::threads::PARALLEL_MIN_WORK + 77;
        let x = Tensor::ones(n, DType::F32, &Device::Cpu).unwrap();
        let mut rng = SeededRng::new(4);
        rng.0.random::<u32>(); // an odd word position to start from
        let mut reference = SeededRng(rng.0.clone());
        let want: Vec<f32> = (0..n)
            .map(|_| {
                if reference.0.random::<f64>() < 0.3 {
                    0.0
                } else {
                    1.0 / 0.7
                }
            })
            .collect();
        let want_next = reference.0.random::<u64>();
        for threads in [1, 2] {
            let mut rng = SeededRng(rng.0.clone());
            let got = crate::threads::with_threads(threads, || rng.dropout(&x, 0.3)).unwrap();
            assert_eq!(
                got.unwrap().to_vec1::<f32>().unwrap(),
                want,
                "{threads} threads"
            );
            assert_eq!(rng.0.random::<u64>(), want_next, "{threads} threads");
        }
    }

    #[test]
    fn dropout_is_seeded_and_scales_kept_entries() {
        let x = Tensor::ones((50, 40), DType::F32, &Device::Cpu).unwrap();
        let a: Vec<f32> = SeededRng::new(7)
            .dropout(&x, 0.5)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let b: Vec<f32> = SeededRng::new(7)
            .dropout(&x, 0.5)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(a, b);
        assert!(a.iter().all(|&v| v == 0.0 || v == 2.0));
        let kept = a.iter().filter(|&&v| v > 0.0).count();
        assert!((800..1200).contains(&kept), "{kept}");
    }

    #[test]
    fn accuracy_counts_only_listed_nodes() {
        assert_eq!(accuracy(&[0, 1, 2], &[0, 0, 2], &[0, 1]), 0.5);
        assert_eq!(accuracy(&[0], &[0], &[]), 0.0);
    }
}
