//! The report's pictures, built from aggregate rows: one idea per picture.
//!
//! - `homophily_<family>_accuracy.svg`: test accuracy of teacher and students against h;
//! - `homophily_<family>_gates.svg`: mean gate `α_b` per band and frameless student against h
//!   (`α` near 1 = the student trusts its own features, near 0 = the band's structure);
//! - `oversquashing_<dataset>.svg`: teacher and student accuracy against teacher depth, with
//!   and without SDRF.

use super::aggregate::AggregateRow;
use super::plot::{LineChart, Series};
use super::record::Section;

/// A chart and the file name it is written to (inside the output folder).
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File name, e.g. `homophily_syn-cora_accuracy.svg`.
    pub file: String,
    /// Caption used as alt text in the report.
    pub caption: String,
    /// The chart.
    pub chart: LineChart,
}

/// Names of the bands of the default Haar, one-level framelet (band 0 = low pass).
pub fn band_name(band: usize, n_bands: usize) -> String {
    match (band, n_bands) {
        (0, _) => "low".into(),
        (1, 2) => "high".into(),
        (b, _) => format!("band {b}"),
    }
}

/// Families of the homophily sweep, in first-seen order.
pub fn families(rows: &[AggregateRow], section: Section) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| r.section == section) {
        if !out.contains(&r.family) {
            out.push(r.family.clone());
        }
    }
    out
}

/// Models present in `rows`, teacher first, then students in first-seen order.
pub fn models<'a>(rows: impl Iterator<Item = &'a AggregateRow>) -> Vec<String> {
    let mut out = vec!["teacher".to_string()];
    for r in rows {
        if !out.contains(&r.model) {
            out.push(r.model.clone());
        }
    }
    out
}

fn sweep_rows<'a>(
    rows: &'a [AggregateRow],
    family: &'a str,
) -> impl Iterator<Item = &'a AggregateRow> + Clone {
    rows.iter().filter(move |r| {
        r.section == Section::Homophily && r.family == family && r.homophily.is_some()
    })
}

/// The two homophily pictures of one family.
pub fn homophily_figures(rows: &[AggregateRow], family: &str) -> Vec<Figure> {
    let sweep = sweep_rows(rows, family);
    let accuracy = models(sweep.clone())
        .into_iter()
        .map(|model| Series {
            points: sweep
                .clone()
                .filter(|r| r.model == model)
                .map(|r| {
                    (
                        r.homophily.unwrap_or(f64::NAN),
                        r.accuracy.mean,
                        r.accuracy.std,
                    )
                })
                .collect(),
            label: model,
        })
        .collect();
    let mut gates = Vec::new();
    for model in models(sweep.clone()).into_iter().skip(1) {
        let of_model: Vec<&AggregateRow> = sweep.clone().filter(|r| r.model == model).collect();
        let n_bands = of_model.iter().map(|r| r.gates.len()).max().unwrap_or(0);
        for b in 0..n_bands {
            gates.push(Series {
                label: format!("{model} α {}", band_name(b, n_bands)),
                points: of_model
                    .iter()
                    .filter_map(|r| Some((r.homophily?, r.gates.get(b)?.mean, r.gates.get(b)?.std)))
                    .collect(),
            });
        }
    }
    let slug = slug(family);
    vec![
        Figure {
            file: format!("homophily_{slug}_accuracy.svg"),
            caption: format!("{family}: test accuracy against homophily"),
            chart: LineChart {
                title: format!("{family}: accuracy against homophily"),
                x_label: "homophily level h".into(),
                y_label: "test accuracy".into(),
                series: accuracy,
                points_only: false,
            },
        },
        Figure {
            file: format!("homophily_{slug}_gates.svg"),
            caption: format!("{family}: mean gate per band against homophily"),
            chart: LineChart {
                title: format!("{family}: mean gate α per band (1 = own features)"),
                x_label: "homophily level h".into(),
                y_label: "mean gate α".into(),
                series: gates,
                points_only: false,
            },
        },
    ]
}

/// Accuracy against teacher depth for one dataset, with and without SDRF.
pub fn oversquashing_figure(rows: &[AggregateRow], dataset: &str) -> Figure {
    let of_dataset: Vec<&AggregateRow> = rows
        .iter()
        .filter(|r| r.section == Section::Oversquashing && r.family == dataset)
        .collect();
    let mut series = Vec::new();
    for model in models(of_dataset.iter().copied()) {
        for sdrf in [false, true] {
            let points: Vec<(f64, f64, f64)> = of_dataset
                .iter()
                .filter(|r| r.model == model && (r.sdrf_iterations > 0) == sdrf)
                .map(|r| (r.depth as f64, r.accuracy.mean, r.accuracy.std))
                .collect();
            if !points.is_empty() {
                let tag = if sdrf { "SDRF" } else { "original" };
                series.push(Series {
                    label: format!("{model} ({tag})"),
                    points,
                });
            }
        }
    }
    Figure {
        file: format!("oversquashing_{}.svg", slug(dataset)),
        caption: format!("{dataset}: accuracy against teacher depth, with and without SDRF"),
        chart: LineChart {
            title: format!("{dataset}: accuracy against teacher depth"),
            x_label: "teacher depth (layers)".into(),
            y_label: "test accuracy".into(),
            series,
            points_only: false,
        },
    }
}

/// A file-name-safe version of a dataset or family name.
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
