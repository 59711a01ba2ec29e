//! The soft-label file: what a teacher run hands to the student step.

use std::path::Path;

use super::{TeacherConfig, TeacherError, TeacherKind, TeacherOutcome, TeacherRun};
use crate::data::{first_node_out_of_range, Split};
use crate::surgery::SdrfConfig;

/// A teacher's per-node log-probabilities with everything needed to reproduce them.
/// Stored as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SoftLabels {
    /// The dataset source string (a folder or `synthetic:…`).
    pub source: String,
    /// The dataset's name.
    pub dataset: String,
    /// The teacher architecture.
    pub teacher: TeacherKind,
    /// The seed of the run.
    pub seed: u64,
    /// The split the teacher was trained on.
    pub split: Split,
    /// The teacher's hyper-parameters (framelet config included).
    pub config: TeacherConfig,
    /// SDRF applied to the graph after loading, if any: the student is distilled on the
    /// same rewired graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surgery: Option<SdrfConfig>,
    /// Number of nodes `N`.
    pub n_nodes: usize,
    /// The run's log-probabilities, accuracies and timings (flat in the JSON).
    #[serde(flatten)]
    pub outcome: TeacherOutcome,
}

impl SoftLabels {
    /// Packs a run with its provenance (on the graph as loaded; set
    /// [`surgery`](Self::surgery) if it was rewired).
    pub fn from_run(run: &TeacherRun, source: &str, dataset: &str, config: &TeacherConfig) -> Self {
        Self {
            source: source.to_string(),
            dataset: dataset.to_string(),
            teacher: run.kind,
            seed: run.seed,
            split: run.split.clone(),
            config: config.clone(),
            surgery: None,
            n_nodes: run.outcome.n_nodes(),
            outcome: run.outcome.clone(),
        }
    }

    /// Writes the file atomically: a temporary file beside `path`, then a rename.
    ///
    /// # Errors
    /// [`TeacherError::Io`] if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), TeacherError> {
        let io = |source| TeacherError::Io {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_vec(self).map_err(|e| TeacherError::BadFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        crate::files::write_atomic(path, &json).map_err(io)
    }

    /// Reads and checks a file written by [`SoftLabels::save`].
    ///
    /// # Errors
    /// [`TeacherError::Io`] if unreadable, [`TeacherError::BadFile`] if not valid or if
    /// `log_probs` does not hold `n_nodes × n_classes` finite values.
    pub fn load(path: &Path) -> Result<Self, TeacherError> {
        let bytes = std::fs::read(path).map_err(|source| TeacherError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |message: String| TeacherError::BadFile {
            path: path.to_path_buf(),
            message,
        };
        let labels: Self = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        let outcome = &labels.outcome;
        // checked_mul: a huge n_nodes from the file must not wrap to a matching length.
        let expected = labels.n_nodes.checked_mul(outcome.n_classes);
        if outcome.n_classes == 0 || Some(outcome.log_probs.len()) != expected {
            return Err(bad(format!(
                "log_probs has {} values, expected {} × {}",
                outcome.log_probs.len(),
                labels.n_nodes,
                outcome.n_classes
            )));
        }
        if outcome.log_probs.iter().any(|v| v.is_nan()) {
            return Err(bad("log_probs contains NaN".into()));
        }
        if let Some((part, node)) = first_node_out_of_range(labels.split.parts(), labels.n_nodes) {
            return Err(bad(format!(
                "the {part} split lists node {node}, but the file has {} nodes",
                labels.n_nodes
            )));
        }
        Ok(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_and_rejects_bad_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut s = SoftLabels {
            source: "synthetic".into(),
            dataset: "synthetic".into(),
            teacher: TeacherKind::Spatial,
            seed: 3,
            split: Split {
                train: vec![0],
                val: vec![1],
                test: vec![2],
            },
            config: TeacherConfig::default(),
            surgery: None,
            n_nodes: 3,
            outcome: TeacherOutcome {
                n_classes: 2,
                log_probs: vec![-0.1, -2.3, -0.7, -0.7, -3.0, -0.05],
                val_accuracy: 1.0,
                test_accuracy: 0.5,
                best_epoch: 4,
                epochs: 10,
                epoch_ms: 1.5,
                inference_ms: 0.5,
            },
        };
        s.save(&path).unwrap();
        assert_eq!(SoftLabels::load(&path).unwrap(), s);
        assert_eq!(s.outcome.row(1), &[-0.7, -0.7]);
        // The outcome's fields sit flat, in the file's historical order.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(
            r#""n_nodes":3,"n_classes":2,"log_probs":[-0.1,-2.3,-0.7,-0.7,-3.0,-0.05],"val_accuracy":1.0,"test_accuracy":0.5,"best_epoch":4,"epochs":10,"epoch_ms":1.5,"inference_ms":0.5}"#
        ), "{text}");
        // The surgery survives the trip, an unbounded removal bound included (JSON null).
        for removal_bound in [0.5, f64::INFINITY] {
            s.surgery = Some(SdrfConfig {
                iterations: 7,
                removal_bound,
                ..SdrfConfig::default()
            });
            s.save(&path).unwrap();
            assert_eq!(SoftLabels::load(&path).unwrap(), s);
        }
        s.n_nodes = 4;
        s.save(&path).unwrap();
        assert!(matches!(
            SoftLabels::load(&path),
            Err(TeacherError::BadFile { .. })
        ));
        // n_nodes * n_classes wraps to 6 (2^63 + 3) * 2 = 6 mod 2^64: refused, not accepted.
        s.n_nodes = (1usize << 63) + 3;
        s.save(&path).unwrap();
        let e = SoftLabels::load(&path).unwrap_err();
        assert!(e.to_string().contains("expected"), "{e}");
        // A split id past the node count.
        s.n_nodes = 3;
        s.split.test = vec![2, 3];
        s.save(&path).unwrap();
        let e = SoftLabels::load(&path).unwrap_err();
        assert!(e.to_string().contains("test split lists node 3"), "{e}");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            SoftLabels::load(&path),
            Err(TeacherError::BadFile { .. })
        ));
        assert!(matches!(
            SoftLabels::load(&dir.path().join("missing.json")),
            Err(TeacherError::Io { .. })
        ));
    }
}
