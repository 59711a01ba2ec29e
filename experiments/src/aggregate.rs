//! Means and standard deviations over seeds (and replicate graphs).
//!
//! Records are grouped by everything but the seed (and, in the homophily sweep, the
//! replicate graph): `(section, family, homophily, teacher, depth, sdrf, model)`. Every
//! group becomes one [`AggregateRow`] per model (`teacher` or a student kind). The standard
//! deviation is the population one (`ddof = 0`, numpy's default), as papers report it.
//!
//! ```
//! use frameless_experiments::aggregate::Summary;
//! let s = Summary::of(&[0.5, 0.7]);
//! assert!((s.mean - 0.6).abs() < 1e-12 && (s.std - 0.1).abs() < 1e-12 && s.n == 2);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::record::{CellRecord, Section};

/// Mean, standard deviation and count of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Arithmetic mean (`NaN` for an empty sample).
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Sample size.
    pub n: usize,
}

impl Summary {
    /// Summarises `values`; non-finite values are skipped.
    pub fn of(values: &[f64]) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let n = finite.len();
        if n == 0 {
            return Self {
                mean: f64::NAN,
                std: f64::NAN,
                n,
            };
        }
        let mean = finite.iter().sum::<f64>() / n as f64;
        let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        Self {
            mean,
            std: var.sqrt(),
            n,
        }
    }

    /// `mean ± std` in percent with one decimal, e.g. `81.2 ± 1.3`; `–` when empty.
    pub fn percent(&self) -> String {
        if self.n == 0 {
            "–".into()
        } else {
            format!("{:.1} ± {:.1}", 100.0 * self.mean, 100.0 * self.std)
        }
    }

    /// `mean ± std` with three decimals; `–` when empty.
    pub fn plain(&self) -> String {
        if self.n == 0 {
            "–".into()
        } else {
            format!("{:.3} ± {:.3}", self.mean, self.std)
        }
    }
}

/// One model in one group of cells, summarised over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateRow {
    /// Report section.
    pub section: Section,
    /// `syn-cora`, `csbm` or the dataset name.
    pub family: String,
    /// Nominal homophily level (homophily sweep only).
    pub homophily: Option<f64>,
    /// Teacher architecture the row belongs to.
    pub teacher: String,
    /// Teacher depth.
    pub depth: usize,
    /// SDRF iterations (0 = none).
    pub sdrf_iterations: usize,
    /// `teacher`, or the student kind.
    pub model: String,
    /// Test accuracy (f32).
    pub accuracy: Summary,
    /// Test accuracy of the int8 student (empty for the teacher).
    pub accuracy_int8: Summary,
    /// Normalised Dirichlet energy of the last hidden layer.
    pub energy: Summary,
    /// Mean gate per band.
    pub gates: Vec<Summary>,
    /// Measured edge homophily of the graphs in the group.
    pub edge_homophily: Summary,
    /// Mean wall time of a cell in the group, in seconds.
    pub cell_seconds: Summary,
}

type GroupKey = (Section, String, Option<i64>, String, usize, usize);

/// Groups `records` and summarises teacher and students of each group, in a stable order.
pub fn aggregate(records: &[CellRecord]) -> Vec<AggregateRow> {
    let mut groups: BTreeMap<GroupKey, Vec<&CellRecord>> = BTreeMap::new();
    for r in records {
        // Homophily levels are keyed in thousandths so that 0.99 and 1.00 stay apart.
        let h = r.homophily.map(|h| (h * 1000.0).round() as i64);
        let key = (
            r.section,
            r.family.clone(),
            h,
            r.teacher.clone(),
            r.depth,
            r.sdrf_iterations,
        );
        groups.entry(key).or_default().push(r);
    }
    let mut rows = Vec::new();
    for ((section, family, h, teacher, depth, sdrf), cells) in groups {
        let row =
            |model: &str, acc: Vec<f64>, int8: Vec<f64>, energy: Vec<f64>, gates: Vec<Vec<f64>>| {
                AggregateRow {
                    section,
                    family: family.clone(),
                    homophily: h.map(|h| h as f64 / 1000.0),
                    teacher: teacher.clone(),
                    depth,
                    sdrf_iterations: sdrf,
                    model: model.to_string(),
                    accuracy: Summary::of(&acc),
                    accuracy_int8: Summary::of(&int8),
                    energy: Summary::of(&energy),
                    gates: gates.iter().map(|g| Summary::of(g)).collect(),
                    edge_homophily: Summary::of(
                        &cells.iter().map(|c| c.edge_homophily).collect::<Vec<_>>(),
                    ),
                    cell_seconds: Summary::of(&cells.iter().map(|c| c.seconds).collect::<Vec<_>>()),
                }
            };
        rows.push(row(
            "teacher",
            cells.iter().map(|c| c.teacher_accuracy).collect(),
            Vec::new(),
            cells.iter().filter_map(|c| c.teacher_energy).collect(),
            Vec::new(),
        ));
        let mut kinds: Vec<&str> = Vec::new();
        for c in &cells {
            for s in &c.students {
                if !kinds.contains(&s.kind.as_str()) {
                    kinds.push(&s.kind);
                }
            }
        }
        for kind in kinds {
            let runs: Vec<_> = cells
                .iter()
                .flat_map(|c| c.students.iter().filter(|s| s.kind == kind))
                .collect();
            let bands = runs.iter().map(|s| s.mean_gates.len()).max().unwrap_or(0);
            let gates = (0..bands)
                .map(|b| {
                    runs.iter()
                        .filter_map(|s| s.mean_gates.get(b).copied())
                        .collect()
                })
                .collect();
            rows.push(row(
                kind,
                runs.iter().map(|s| s.accuracy).collect(),
                runs.iter().filter_map(|s| s.accuracy_int8).collect(),
                runs.iter().filter_map(|s| s.energy).collect(),
                gates,
            ));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{cell_id, StudentResult};

    fn cell(seed: u64, teacher_acc: f64, student_acc: f64) -> CellRecord {
        CellRecord {
            id: cell_id(Section::Homophily, "syn/h0.5-r1", "spatial", 2, 0, seed),
            section: Section::Homophily,
            family: "syn".into(),
            dataset: "syn/h0.5-r1".into(),
            homophily: Some(0.5),
            edge_homophily: 0.5,
            teacher: "spatial".into(),
            depth: 2,
            sdrf_iterations: 0,
            seed,
            n_nodes: 10,
            n_edges: 20,
            teacher_epochs: 10,
            teacher_accuracy: teacher_acc,
            teacher_energy: None,
            students: vec![StudentResult {
                kind: "fmlp-s".into(),
                accuracy: student_acc,
                accuracy_int8: Some(student_acc),
                agreement_int8: Some(1.0),
                mean_gates: vec![0.2, 0.4],
                energy: Some(1.0),
                epochs: 5,
            }],
            seconds: 1.0,
        }
    }

    #[test]
    fn seeds_collapse_into_one_row_per_model() {
        let rows = aggregate(&[cell(0, 0.6, 0.5), cell(1, 0.8, 0.7)]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].model, "teacher");
        // Teacher: mean 0.7, population std 0.1.
        assert!((rows[0].accuracy.mean - 0.7).abs() < 1e-12);
        assert!((rows[0].accuracy.std - 0.1).abs() < 1e-12);
        assert_eq!(rows[0].energy.n, 0);
        assert_eq!(rows[1].model, "fmlp-s");
        assert_eq!(rows[1].gates.len(), 2);
        assert!((rows[1].gates[1].mean - 0.4).abs() < 1e-12);
        assert_eq!(rows[1].homophily, Some(0.5));
    }

    #[test]
    fn empty_summary_prints_dash() {
        assert_eq!(Summary::of(&[]).percent(), "–");
        assert_eq!(Summary::of(&[0.5]).percent(), "50.0 ± 0.0");
    }
}
