//! The one progress-bar factory: bars go to stderr and are hidden when stderr is not a
//! terminal or when output is JSON or quiet.

use std::io::IsTerminal;

use frameless_distiller::progress::{Progress, ProgressEvent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A bar for one training run, hidden unless `visible` and stderr is a terminal.
pub fn run_bar(visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if !visible || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    // Epochs per second and the time left if training ran to `max_epochs` (early
    // stopping usually ends it sooner, so the ETA is an upper bound).
    let template = "{prefix:>20} [{bar:30}] {pos:>3}/{len} {epochs_per_sec} eta<={eta:<4} {msg}";
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "epochs_per_sec",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:>6.1} epochs/s", state.per_sec());
            },
        )
        .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// A library [`Progress`] sink that drives `bar`, also ending `--mem-report` stages at the run's events.
pub fn reporting_sink<'a>(
    bar: &'a ProgressBar,
    mem: &'a crate::mem_report::MemReport,
) -> Progress<'a> {
    Progress::new(move |event| {
        drive(bar, event);
        mem.observe(event);
    })
}

/// A sink that drives its own bar (for callers that hand out one sink per run).
pub fn owned_sink(bar: ProgressBar) -> Progress<'static> {
    Progress::new(move |event| drive(&bar, event))
}

fn drive(bar: &ProgressBar, event: &ProgressEvent) {
    match event {
        ProgressEvent::RunStarted { label, max_epochs } => {
            bar.set_prefix(label.clone());
            bar.set_length(*max_epochs as u64);
            // A new run: position, rate and ETA start again.
            bar.reset();
        }
        ProgressEvent::Epoch {
            epoch,
            loss,
            val_accuracy,
            best_val_accuracy,
        } => {
            bar.set_position(*epoch as u64 + 1);
            bar.set_message(format!(
                "loss {loss:.3} val {:.1}% best {:.1}%",
                100.0 * val_accuracy,
                100.0 * best_val_accuracy
            ));
        }
        ProgressEvent::RunFinished { .. } => bar.finish_and_clear(),
    }
}

/// One bar over a whole `fit` search: trials done of trials planned, with the mean over
/// seeds of the best validation accuracy so far; hidden like [`run_bar`].
pub fn search_bar(visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if !visible || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = "{prefix:>6} [{bar:30}] {pos:>3}/{len} trials {elapsed_precise} {msg}";
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix("fit");
    bar
}
