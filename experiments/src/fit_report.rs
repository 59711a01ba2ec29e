//! The report of a `frameless fit` search: `report.md` (baselines, the choice of every
//! seed, every trial) and `validation-vs-test.svg` (one point per trial, one colour per
//! candidate family).

use std::fmt::Write as _;
use std::path::Path;

use frameless_distiller::fit::{FitReport, Stage};

use super::plot::{LineChart, Series};
use super::store::write_atomic;
use super::ExperimentError;

/// File name of the scatter plot.
pub const FIGURE: &str = "validation-vs-test.svg";

/// Validation against test accuracy of every trial, one series per family.
pub fn figure(report: &FitReport) -> LineChart {
    let mut families: Vec<String> = Vec::new();
    for t in &report.trials {
        let f = t.candidate.family();
        if !families.contains(&f) {
            families.push(f);
        }
    }
    let series = families
        .iter()
        .map(|family| Series {
            label: family.clone(),
            points: report
                .trials
                .iter()
                .filter(|t| &t.candidate.family() == family)
                .map(|t| (100.0 * t.val_accuracy, 100.0 * t.test_accuracy, 0.0))
                .collect(),
        })
        .collect();
    LineChart {
        title: format!(
            "{}: validation against test accuracy, every trial",
            report.dataset
        ),
        x_label: "validation accuracy %".into(),
        y_label: "test accuracy %".into(),
        series,
        points_only: true,
    }
}

/// The Markdown report.
pub fn render(report: &FitReport) -> String {
    let mut s = String::new();
    let [n, f, c] = report.dims;
    let _ = writeln!(s, "# fit: {}\n", report.dataset);
    let _ = writeln!(
        s,
        "{n} nodes, {f} features, {c} classes; {} seeds, {}, {:.0} s wall.\n",
        report.choices.len(),
        report.trial_count(),
        report.seconds
    );
    let _ = writeln!(
        s,
        "Every choice was made on validation accuracy; test accuracy was scored afterwards."
    );
    if report.val_partitions > 1 {
        let _ = writeln!(
            s,
            "Each candidate trained on {} validation partitions per seed (the seed's split, \
             then its training and validation nodes dealt again); its validation accuracy, \
             loss, epochs and seconds below are their mean or sum, its test accuracy that of \
             the run on the seed's own split, the one kept.",
            report.val_partitions
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "| model | test % (mean ± std over seeds) |\n|---|---:|");
    let _ = writeln!(
        s,
        "| plain MLP (labels only, no graph) | {} |",
        report.plain_mlp
    );
    let _ = writeln!(s, "| best-validation teacher | {} |", report.teacher);
    let _ = writeln!(s, "| **fit student, f32** | **{}** |", report.fit);
    let _ = writeln!(s, "| fit student, int8 blob | {} |\n", report.fit_int8);
    let _ = writeln!(s, "Verdict: {}.\n", report.verdict);
    let _ = writeln!(s, "## Choice per seed\n");
    let _ = writeln!(
        s,
        "| seed | recipe | val % | test % | int8 test % | teacher (test %) | plain MLP test % |\n|---:|---|---:|---:|---:|---|---:|"
    );
    for ch in &report.choices {
        let teacher = ch.teacher.map_or("–".to_string(), |(k, acc)| {
            format!("{k} ({:.1})", 100.0 * acc)
        });
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {teacher} | {:.1} |",
            ch.seed,
            ch.recipe,
            100.0 * ch.val_accuracy,
            100.0 * ch.test_accuracy,
            100.0 * ch.int8_test_accuracy,
            100.0 * ch.plain_mlp_test_accuracy
        );
    }
    let _ = writeln!(
        s,
        "\n## Validation against test\n\n![validation vs test]({FIGURE})\n"
    );
    let _ = writeln!(s, "## Every trial\n");
    let _ = writeln!(
        s,
        "| seed | stage | candidate | val % | val loss | test % | epochs | s |\n|---:|---|---|---:|---:|---:|---:|---:|"
    );
    for t in &report.trials {
        let stage = match t.stage {
            Stage::Teacher => "teacher",
            Stage::Coarse => "coarse",
            Stage::Refine => "refine",
        };
        let _ = writeln!(
            s,
            "| {} | {stage} | {} | {:.1} | {:.3} | {:.1} | {} | {:.1} |",
            t.seed,
            t.candidate,
            100.0 * t.val_accuracy,
            t.val_loss,
            100.0 * t.test_accuracy,
            t.epochs,
            t.seconds
        );
    }
    s
}

/// Writes `report.md` and the figure into `dir` (which must exist).
///
/// # Errors
/// [`ExperimentError::Io`] or [`ExperimentError::Plot`].
pub fn write(report: &FitReport, dir: &Path) -> Result<(), ExperimentError> {
    write_atomic(&dir.join(FIGURE), figure(report).to_svg()?.as_bytes())?;
    write_atomic(&dir.join("report.md"), render(report).as_bytes())
}
