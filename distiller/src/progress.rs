//! Progress events: the library reports through a callback and never prints.
//!
//! The binary turns these events into progress bars (see `cli/src/progress.rs`);
//! tests and library users can ignore them with [`Progress::ignore`].

/// One event from a training loop.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent {
    /// A run (one seed of one model) starts.
    RunStarted {
        /// A short label, e.g. `"spatial seed 3"`.
        label: String,
        /// Upper bound on epochs.
        max_epochs: usize,
    },
    /// One epoch finished.
    Epoch {
        /// Zero-based epoch.
        epoch: usize,
        /// Training loss of this epoch.
        loss: f64,
        /// Validation accuracy after this epoch.
        val_accuracy: f64,
        /// Best validation accuracy so far.
        best_val_accuracy: f64,
    },
    /// The run ended (early stop or last epoch).
    RunFinished {
        /// Epochs run.
        epochs: usize,
    },
}

/// A sink for [`ProgressEvent`]s.
pub struct Progress<'a> {
    sink: Box<dyn FnMut(&ProgressEvent) + 'a>,
}

impl<'a> Progress<'a> {
    /// Sends every event to `sink`.
    pub fn new(sink: impl FnMut(&ProgressEvent) + 'a) -> Self {
        Self {
            sink: Box::new(sink),
        }
    }

    /// Drops every event.
    pub fn ignore() -> Self {
        Self::new(|_| {})
    }

    /// Reports one event.
    pub fn report(&mut self, event: ProgressEvent) {
        (self.sink)(&event);
    }
}
