//! `--mem-report`: the peak resident set and the wall time of each stage of a run, on
//! stderr.

use frameless_distiller::memory::{self, Size};
use frameless_distiller::progress::ProgressEvent;

/// Reports each stage's peak resident set (and what stays resident after it), then
/// starts the next stage's peak; silent when off.
#[derive(Debug)]
pub struct MemReport {
    on: bool,
    epochs_seen: std::cell::Cell<usize>,
    since: std::cell::Cell<std::time::Instant>,
}

impl MemReport {
    /// A report, printing only if `on`.
    pub fn new(on: bool) -> Self {
        if on {
            memory::reset_peak();
        }
        Self {
            on,
            epochs_seen: std::cell::Cell::new(0),
            since: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    /// Ends stage `name`: prints its peak, what is resident now and its wall time.
    pub fn stage(&self, name: &str) {
        if !self.on {
            return;
        }
        let seconds = self
            .since
            .replace(std::time::Instant::now())
            .elapsed()
            .as_secs_f64();
        match memory::resident() {
            // The peak also in whole MiB: goals are stated in GB, and one decimal of
            // GiB cannot say on which side of one a peak lies.
            Some(r) => eprintln!(
                "memory: {name:<44} peak {:>9} ({:>6} MiB)  resident after {:>9}  {seconds:>8.2} s",
                Size(r.peak).to_string(),
                r.peak >> 20,
                Size(r.now).to_string()
            ),
            None => eprintln!("memory: {name}: not known on this system"),
        }
        memory::reset_peak();
    }

    /// Ends the stages a training loop's events mark: setup (at the run's start), the
    /// first epoch, the other epochs (at the run's end).
    pub fn observe(&self, event: &ProgressEvent) {
        match event {
            ProgressEvent::RunStarted { label, .. } => {
                self.epochs_seen.set(0);
                self.stage(&format!("{label}: setup (model, optimiser)"));
            }
            ProgressEvent::Epoch { .. } => {
                if self.epochs_seen.replace(self.epochs_seen.get() + 1) == 0 {
                    self.stage("first epoch (train step, eval forward)");
                }
            }
            ProgressEvent::RunFinished { epochs } => {
                self.stage(&format!("epochs 2..{epochs}"));
            }
        }
    }
}
