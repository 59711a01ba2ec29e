//! The distilled-student file (`student.json`): everything `frameless export` needs to
//! write and verify a blob without retraining — plain f32 weights with the precomputed
//! tables, the node features, labels and split, and the distiller's own f32 logits.
//!
//! Layout (format 2): one line of JSON (the fields of [`StudentFile`] with the large
//! arrays empty, plus a `sections` list), a newline, then those arrays as little-endian
//! binary sections ([`super::sections`]): every band table, the feature matrix's
//! `indptr`, `indices` and `values`, and the logits. As JSON text the arrays were
//! 2.5 times larger and had to be formatted into memory first; binary, they stream to
//! the file from the arrays themselves. Files of format 1 (all JSON) still load.
//!
//! Floats round-trip exactly either way (binary, or JSON's shortest representation), so
//! a blob exported from the file is byte-identical to one exported straight after
//! training.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use frameless_engine::writer::{Architecture, Linear, ModelWeights, OwnedMetadata, Stage};
use serde::{Deserialize, Serialize};

use super::sections::{self, Array, SectionDefect, SectionInfo, Slot};
use super::{ExportError, ParityInputs};
use crate::data::first_node_out_of_range;
use crate::distill::{DistillConfig, DistillReport};
use crate::framelet::FrameletConfig;
use crate::sparse::Csr;
use crate::student::{StudentConfig, StudentKind};
use crate::teacher::TeacherKind;

/// Format tag of the student file (a JSON header, then binary sections).
pub const STUDENT_FORMAT: &str = "frameless-student/2";

/// Format tag of the older, all-JSON student file; read, never written. A file of this
/// format loads with its tag replaced by [`STUDENT_FORMAT`].
pub const LEGACY_STUDENT_FORMAT: &str = "frameless-student/1";

/// Bytes read from a student file at a time.
const READ_BUFFER: usize = 1 << 20;

/// The header line of a format-2 file as written: the file's small fields, and where
/// the large ones are.
#[derive(Serialize)]
struct Header<'a> {
    #[serde(flatten)]
    file: &'a StudentFile,
    sections: Vec<SectionInfo>,
}

/// The section list of a header line, read on its own (serde skips the other fields).
#[derive(Deserialize)]
struct SectionList {
    sections: Vec<SectionInfo>,
}

/// A trained student and what it is checked against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudentFile {
    /// Always [`STUDENT_FORMAT`].
    pub format: String,
    /// Dataset name.
    pub dataset: String,
    /// Class names (may be empty).
    pub class_names: Vec<String>,
    /// Architecture.
    pub config: StudentConfig,
    /// Training settings.
    pub distill: DistillConfig,
    /// Training outcome.
    pub report: DistillReport,
    /// The teacher's test accuracy, if known.
    pub teacher_test_accuracy: Option<f64>,
    /// The teacher whose soft labels the student learnt (absent: labels only, or a file
    /// written before this field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<TeacherSource>,
    /// The framelet settings of the student's bands, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framelet: Option<FrameletConfig>,
    /// Nodes, features, classes.
    pub dims: [usize; 3],
    /// mlp: the layers; frameless: empty.
    pub layers: Vec<Linear>,
    /// frameless: the stages; mlp: empty.
    pub stages: Vec<Stage>,
    /// frameless: band classifiers.
    pub band_classifiers: Vec<Linear>,
    /// frameless: feature classifier.
    pub feature_classifier: Option<Linear>,
    /// Node features.
    pub features: Csr,
    /// Labels (`< 0`: unlabelled).
    pub labels: Vec<i64>,
    /// Training nodes.
    pub train: Vec<u32>,
    /// Validation nodes.
    pub val: Vec<u32>,
    /// Test nodes.
    pub test: Vec<u32>,
    /// The distiller's f32 logits, `N × C`.
    pub logits: Vec<f32>,
}

/// Which teacher taught a student: its kind and how many initialisations of it were
/// averaged into the soft labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeacherSource {
    /// The teacher architecture.
    pub kind: TeacherKind,
    /// Teachers of that kind (seeds apart) whose mean probabilities were the soft labels.
    pub members: usize,
}

/// Section names of the arrays that are not band tables.
const INDPTR: &str = "features.indptr";
const INDICES: &str = "features.indices";
const VALUES: &str = "features.values";
const LOGITS: &str = "logits";

/// Section name of stage `s`'s table of band `b`.
fn table_section(s: usize, b: usize) -> String {
    format!("stages[{s}].tables[{b}]")
}

/// The parts of a [`StudentFile`] that describe the run rather than the weights.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Architecture.
    pub config: StudentConfig,
    /// Training settings.
    pub distill: DistillConfig,
    /// Training outcome.
    pub report: DistillReport,
    /// The teacher's test accuracy, if known.
    pub teacher_test_accuracy: Option<f64>,
    /// The teacher it learnt from (`None`: labels only).
    pub teacher: Option<TeacherSource>,
    /// The framelet settings of its bands, if known.
    pub framelet: Option<FrameletConfig>,
}

impl StudentFile {
    /// Bundles a trained student's weights with its data and logits.
    pub fn new(info: RunInfo, inputs: &ParityInputs, val: &[u32], train: &[u32]) -> Self {
        let w = inputs.weights;
        let (mut layers, mut stages, mut bands, mut fx) =
            (Vec::new(), Vec::new(), Vec::new(), None);
        match &w.architecture {
            Architecture::Mlp { layers: l } => layers = l.clone(),
            Architecture::Frameless {
                stages: s,
                band_classifiers,
                feature_classifier,
            } => {
                stages = s.clone();
                bands = band_classifiers.clone();
                fx = Some(feature_classifier.clone());
            }
        }
        let x = inputs.features;
        Self {
            format: STUDENT_FORMAT.into(),
            dataset: w.metadata.dataset.clone(),
            class_names: w.metadata.class_names.clone(),
            config: info.config,
            distill: info.distill,
            report: info.report,
            teacher_test_accuracy: info.teacher_test_accuracy,
            teacher: info.teacher,
            framelet: info.framelet,
            dims: [w.n_nodes, w.n_features, w.n_classes],
            layers,
            stages,
            band_classifiers: bands,
            feature_classifier: fx,
            features: x.clone(),
            labels: inputs.labels.to_vec(),
            train: train.to_vec(),
            val: val.to_vec(),
            test: inputs.test.to_vec(),
            logits: inputs.reference_logits.to_vec(),
        }
    }

    /// How the student was made, as the blob's recipe (`key=value`, in this order):
    /// `frameless` (the distiller's version), `teacher` (kind, or `labels` when it
    /// learnt from labels only) and `teacher_members`, `student`, `hidden`, `k`
    /// (fmlp-s) or `stages` (fmlp-o), `tie_bands`, `feature_tables` (only when set) and, when known, the bands' `framelet`,
    /// `levels`, `chebyshev_order`, `dilation` and `epsilon` (frameless), `dropout`, `lambda`, `tau`, `lr`,
    /// `weight_decay`, `max_epochs`, `patience`, `epochs` (run), `best_epoch`, `seed`.
    pub fn recipe(&self) -> Vec<(String, String)> {
        let c = &self.config;
        let d = &self.distill;
        let mut r: Vec<(&str, String)> = vec![("frameless", env!("CARGO_PKG_VERSION").into())];
        match self.teacher {
            Some(t) => {
                r.push(("teacher", t.kind.to_string()));
                r.push(("teacher_members", t.members.to_string()));
            }
            None => r.push(("teacher", "labels".into())),
        }
        r.push(("student", c.kind.to_string()));
        r.push(("hidden", c.hidden.to_string()));
        match c.kind {
            StudentKind::Mlp => {}
            StudentKind::FmlpS => r.push(("k", c.k.to_string())),
            StudentKind::FmlpO => r.push(("stages", c.stages.to_string())),
        }
        if c.kind != StudentKind::Mlp {
            r.push(("tie_bands", c.tie_bands.to_string()));
            if c.feature_tables {
                r.push(("feature_tables", "true".into()));
            }
            if let Some(f) = &self.framelet {
                r.push(("framelet", f.kind.to_string()));
                r.push(("levels", f.levels.to_string()));
                r.push(("chebyshev_order", f.chebyshev_order.to_string()));
                r.push(("dilation", f.dilation.to_string()));
                r.push(("epsilon", f.epsilon.to_string()));
            }
        }
        r.push(("dropout", c.dropout.to_string()));
        r.push(("lambda", d.lambda.to_string()));
        r.push(("tau", d.tau.to_string()));
        r.push(("lr", d.adam.lr.to_string()));
        r.push(("weight_decay", d.adam.weight_decay.to_string()));
        r.push(("max_epochs", d.max_epochs.to_string()));
        r.push(("patience", d.patience.to_string()));
        r.push(("epochs", self.report.epochs.to_string()));
        r.push(("best_epoch", self.report.best_epoch.to_string()));
        r.push(("seed", d.seed.to_string()));
        r.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The engine writer's weights (metadata: dataset, class names, f32 test accuracy
    /// and [`recipe`](Self::recipe)), int8-calibrated on the file's features as
    /// [`crate::quantize::model_weights`] does.
    pub fn weights(&self) -> ModelWeights {
        let architecture = match self.config.kind {
            StudentKind::Mlp => Architecture::Mlp {
                layers: self.layers.clone(),
            },
            _ => Architecture::Frameless {
                stages: self.stages.clone(),
                band_classifiers: self.band_classifiers.clone(),
                feature_classifier: self.feature_classifier.clone().unwrap_or_default(),
            },
        };
        ModelWeights {
            kind: self.config.kind.model_kind(),
            n_nodes: self.dims[0],
            n_features: self.dims[1],
            n_classes: self.dims[2],
            architecture,
            metadata: OwnedMetadata {
                dataset: self.dataset.clone(),
                class_names: self.class_names.clone(),
                test_accuracy: Some(self.report.test_accuracy as f32),
                recipe: self.recipe(),
            },
            calibration: None,
        }
        .calibrated(crate::quantize::all_nodes(&self.features))
    }

    /// Writes the file atomically: the JSON header line, then the binary sections,
    /// streamed from the arrays (no copy of them is made).
    ///
    /// # Errors
    /// [`ExportError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), ExportError> {
        let (skeleton, arrays) = self.split();
        let header = Header {
            file: &skeleton,
            sections: sections::describe(&arrays),
        };
        crate::files::write_atomic_with(path, |out| {
            serde_json::to_writer(&mut *out, &header)?;
            out.write_all(b"\n")?;
            sections::write(out, &arrays)
        })
        .map_err(|source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The file's small fields (the large arrays left empty, the tables' count kept) and
    /// its large arrays by section name, in the order they are written.
    fn split(&self) -> (Self, Vec<(String, Array<'_>)>) {
        // Listing every field (no `..`) makes a new field a compile error here until
        // it is put on one side or the other.
        let Self {
            format,
            dataset,
            class_names,
            config,
            distill,
            report,
            teacher_test_accuracy,
            teacher,
            framelet,
            dims,
            layers,
            stages,
            band_classifiers,
            feature_classifier,
            features,
            labels,
            train,
            val,
            test,
            logits,
        } = self;
        let mut arrays = Vec::new();
        for (s, stage) in stages.iter().enumerate() {
            for (b, table) in stage.tables.iter().enumerate() {
                arrays.push((table_section(s, b), Array::F32(table)));
            }
        }
        arrays.push((INDPTR.into(), Array::U64(&features.indptr)));
        arrays.push((INDICES.into(), Array::U32(&features.indices)));
        arrays.push((VALUES.into(), Array::F32(&features.values)));
        arrays.push((LOGITS.into(), Array::F32(logits)));
        let skeleton = Self {
            format: format.clone(),
            dataset: dataset.clone(),
            class_names: class_names.clone(),
            config: *config,
            distill: *distill,
            report: report.clone(),
            teacher_test_accuracy: *teacher_test_accuracy,
            teacher: *teacher,
            framelet: framelet.clone(),
            dims: *dims,
            layers: layers.clone(),
            stages: stages
                .iter()
                .map(|stage| Stage {
                    encoder: stage.encoder.clone(),
                    tables: vec![Vec::new(); stage.tables.len()],
                    gates: stage.gates.clone(),
                })
                .collect(),
            band_classifiers: band_classifiers.clone(),
            feature_classifier: feature_classifier.clone(),
            features: Csr {
                n_rows: features.n_rows,
                n_cols: features.n_cols,
                indptr: Vec::new(),
                indices: Vec::new(),
                values: Vec::new(),
            },
            labels: labels.clone(),
            train: train.clone(),
            val: val.clone(),
            test: test.clone(),
            logits: Vec::new(),
        };
        (skeleton, arrays)
    }

    /// Where [`split`](Self::split)'s arrays go back when reading, same names, same order.
    fn slots(&mut self) -> Vec<(String, Slot<'_>)> {
        let mut slots = Vec::new();
        for (s, stage) in self.stages.iter_mut().enumerate() {
            for (b, table) in stage.tables.iter_mut().enumerate() {
                slots.push((table_section(s, b), Slot::F32(table)));
            }
        }
        let x = &mut self.features;
        slots.push((INDPTR.into(), Slot::U64(&mut x.indptr)));
        slots.push((INDICES.into(), Slot::U32(&mut x.indices)));
        slots.push((VALUES.into(), Slot::F32(&mut x.values)));
        slots.push((LOGITS.into(), Slot::F32(&mut self.logits)));
        slots
    }

    /// Reads and checks a student file (format 2, or the all-JSON format 1).
    ///
    /// # Errors
    /// [`ExportError::Io`] if unreadable, [`ExportError::StudentFile`] if not a student
    /// file, if it is truncated or corrupt (a section's length or CRC-32), or if any
    /// size, id or label disagrees with its dims.
    pub fn load(path: &Path) -> Result<Self, ExportError> {
        let io = |source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        };
        let refuse = |defect| ExportError::StudentFile {
            path: path.to_path_buf(),
            defect,
        };
        let not_json = |e: serde_json::Error| refuse(StudentFileDefect::NotJson(e.to_string()));
        let opened = File::open(path).map_err(io)?;
        let size = opened.metadata().map_err(io)?.len();
        let mut input = BufReader::with_capacity(READ_BUFFER, opened);
        let mut header = Vec::new();
        input.read_until(b'\n', &mut header).map_err(io)?;
        let mut file: Self = match serde_json::from_slice(&header) {
            Ok(file) => file,
            // A format-1 file may span lines: then it is all JSON.
            Err(_) => {
                input.read_to_end(&mut header).map_err(io)?;
                serde_json::from_slice(&header).map_err(not_json)?
            }
        };
        let rest = size.saturating_sub(header.len() as u64);
        match file.format.as_str() {
            STUDENT_FORMAT => {
                let list: SectionList = serde_json::from_slice(&header).map_err(not_json)?;
                let slots = file.slots();
                sections::read(&mut input, rest, &list.sections, slots).map_err(|e| match e {
                    sections::ReadError::Io(source) => io(source),
                    sections::ReadError::Defect(d) => refuse(StudentFileDefect::Sections(d)),
                })?;
            }
            LEGACY_STUDENT_FORMAT if rest == 0 => file.format = STUDENT_FORMAT.into(),
            LEGACY_STUDENT_FORMAT => {
                let trailing = SectionDefect::TrailingBytes(rest);
                return Err(refuse(StudentFileDefect::Sections(trailing)));
            }
            _ => {}
        }
        file.check().map_err(refuse)?;
        Ok(file)
    }

    /// Every size, id and label against the dims, and the CSR invariants, so that no
    /// later step indexes out of range.
    fn check(&self) -> Result<(), StudentFileDefect> {
        if self.format != STUDENT_FORMAT {
            return Err(StudentFileDefect::Format {
                found: self.format.clone(),
            });
        }
        self.features.check().map_err(StudentFileDefect::Features)?;
        let [n, f, c] = self.dims;
        let sizes_match = self.labels.len() == n
            && Some(self.logits.len()) == n.checked_mul(c)
            && self.features.n_rows == n
            && self.features.n_cols == f;
        if !sizes_match {
            return Err(StudentFileDefect::Sizes);
        }
        let parts = [
            ("train", &self.train),
            ("val", &self.val),
            ("test", &self.test),
        ];
        let parts = parts.map(|(name, ids)| (name, ids.as_slice()));
        if let Some((list, node)) = first_node_out_of_range(parts, n) {
            return Err(StudentFileDefect::NodeOutOfRange { list, node });
        }
        let n_classes = i64::try_from(c).unwrap_or(i64::MAX);
        let mut labels = self.labels.iter().copied().enumerate();
        if let Some((node, label)) = labels.find(|&(_, y)| y >= n_classes) {
            return Err(StudentFileDefect::LabelOutOfRange { node, label });
        }
        if self.logits.iter().any(|v| !v.is_finite()) {
            return Err(StudentFileDefect::NonFiniteLogits);
        }
        Ok(())
    }
}

/// Why a student file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StudentFileDefect {
    /// Not JSON of the student-file shape (serde_json's message).
    #[error("not a student file ({0})")]
    NotJson(String),
    /// Another format tag.
    #[error("format {found:?}, expected {STUDENT_FORMAT:?}")]
    Format {
        /// The tag found.
        found: String,
    },
    /// The feature matrix breaks a CSR invariant.
    #[error("student file features: {0}")]
    Features(crate::sparse::SparseError),
    /// Labels, logits or features do not match the dims.
    #[error("sizes do not match its dims")]
    Sizes,
    /// A split lists a node id that is not below the node count.
    #[error("{list} lists node {node}, which is out of range")]
    NodeOutOfRange {
        /// `train`, `val` or `test`.
        list: &'static str,
        /// The id.
        node: u32,
    },
    /// A label is not below the class count.
    #[error("node {node} has label {label}, which is not a class")]
    LabelOutOfRange {
        /// The node.
        node: usize,
        /// Its label.
        label: i64,
    },
    /// The binary part is truncated, corrupt or not what the header lists.
    #[error("{0}")]
    Sections(SectionDefect),
    /// A reference logit is NaN or infinite.
    #[error("a reference logit is not finite")]
    NonFiniteLogits,
}
