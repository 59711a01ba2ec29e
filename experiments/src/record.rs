//! One finished grid cell: what was trained and what it scored.
//!
//! A cell is one teacher trained on one dataset with one seed (at one depth, with or
//! without SDRF), plus every student distilled from that teacher's soft labels. Cells are
//! stored one JSON object per line in `results.jsonl` and identified by [`CellRecord::id`].

use serde::{Deserialize, Serialize};

/// The report section a cell belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// Accuracy and gates against edge homophily (syn-cora, CSBM).
    Homophily,
    /// Benchmark graphs: accuracy of every teacher/student pair, f32 and int8.
    Real,
    /// Teacher depth 2..8 with and without SDRF.
    Oversquashing,
}

impl Section {
    /// The lowercase name used in cell ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Homophily => "homophily",
            Self::Real => "real",
            Self::Oversquashing => "oversquashing",
        }
    }
}

/// What one student distilled in a cell scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudentResult {
    /// `mlp`, `fmlp-s` or `fmlp-o`.
    pub kind: String,
    /// Test accuracy of the f32 student, in `[0, 1]`.
    pub accuracy: f64,
    /// Test accuracy of the int8-quantised student, when it was measured.
    pub accuracy_int8: Option<f64>,
    /// Fraction of all nodes where the int8 and f32 students agree on the class.
    pub agreement_int8: Option<f64>,
    /// Mean output-stage gate `α_b` per band over all nodes (empty for mlp).
    pub mean_gates: Vec<f64>,
    /// Normalised Dirichlet energy of the student's last hidden layer, when available.
    pub energy: Option<f64>,
    /// Epochs trained.
    pub epochs: usize,
}

/// One finished cell of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// Stable identifier; a rerun skips cells whose id is already stored.
    pub id: String,
    /// Report section.
    pub section: Section,
    /// Group the cell is averaged in: `syn-cora`, `csbm`, or the dataset name.
    pub family: String,
    /// The concrete graph, e.g. `syn-cora/h0.20-r1` or `cora`.
    pub dataset: String,
    /// Nominal homophily level of a synthetic graph (homophily sweep only).
    pub homophily: Option<f64>,
    /// Measured edge homophily of the graph the teacher saw (after surgery).
    pub edge_homophily: f64,
    /// Teacher architecture (`spatial`, `simplified`, `spectral`).
    pub teacher: String,
    /// Teacher layers (the propagation power for the simplified teacher).
    pub depth: usize,
    /// SDRF iterations applied before training (0 = original graph).
    pub sdrf_iterations: usize,
    /// Seed of the split, the initialisation and the dropout.
    pub seed: u64,
    /// Nodes of the graph.
    pub n_nodes: usize,
    /// Undirected edges of the graph after surgery.
    pub n_edges: usize,
    /// Teacher test accuracy at its best validation epoch.
    pub teacher_accuracy: f64,
    /// Epochs the teacher trained (early stopping included).
    #[serde(default)]
    pub teacher_epochs: usize,
    /// Normalised Dirichlet energy of the teacher's last hidden layer, when available.
    pub teacher_energy: Option<f64>,
    /// Students distilled from this teacher.
    pub students: Vec<StudentResult>,
    /// Wall time of the whole cell in seconds.
    pub seconds: f64,
}

/// The id of a cell from its coordinates (stable across versions: it is what resumes).
pub fn cell_id(
    section: Section,
    dataset: &str,
    teacher: &str,
    depth: usize,
    sdrf_iterations: usize,
    seed: u64,
) -> String {
    format!(
        "{}|{dataset}|{teacher}|L{depth}|sdrf{sdrf_iterations}|seed{seed}",
        section.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_every_coordinate() {
        let id = cell_id(Section::Real, "cora", "spatial", 2, 0, 3);
        assert_eq!(id, "real|cora|spatial|L2|sdrf0|seed3");
        assert_ne!(id, cell_id(Section::Real, "cora", "spatial", 2, 10, 3));
    }
}
