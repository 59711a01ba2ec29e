//! The whole line, as library calls the CLI and the end-to-end tests share:
//! soft labels → student → f32/f16/int8 → export → engine parity.
//!
//! [`distill_from_soft_labels`] reloads the teacher's dataset and split from a
//! [`SoftLabels`] file, trains a student and bundles it as a [`StudentFile`];
//! [`demo`] runs teacher → student → every precision → export on the synthetic CSBM graph.
//!
//! ```no_run
//! use frameless_distiller::pipeline::{demo, DemoConfig};
//! let report = demo(&DemoConfig::default(), &mut |_| frameless_distiller::progress::Progress::ignore())?;
//! println!("int8 answers one node {:.0}x faster than the teacher", report.precisions[2].speedup_single_node);
//! # Ok::<(), frameless_distiller::pipeline::PipelineError>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device};
use frameless_engine::writer::OwnedMetadata;
use frameless_engine::Model;
use serde::{Deserialize, Serialize};

use crate::data::{self, DataError, Dataset, DatasetSource, SplitRates, SyntheticConfig};
use crate::distill::{distill, DistillConfig, DistillError, DistillReport, Targets};
use crate::error::{Blame, Blamed};
use crate::export::artifact::{RunInfo, StudentFile, TeacherSource};
use crate::export::{engine_ns_per_node, verify, write_atomic, ExportError, ParityInputs};
use crate::framelet::{self, FrameletError, FrameletOperators};
use crate::memory::{Estimate, MemoryError, Shape};
use crate::progress::Progress;
use crate::quantize::{self, PrecisionReport, QuantizeError, PRECISIONS};
use crate::student::{Mode, StudentConfig, StudentError, StudentGraph};
use crate::surgery::{rewire_dataset, SurgeryError};
use crate::teacher::{self, SoftLabels, TeacherConfig, TeacherData, TeacherError, TeacherKind};

/// Any failure along the line.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Loading data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Building the graph or its operators.
    #[error(transparent)]
    Framelet(#[from] FrameletError),
    /// Teacher training or soft labels.
    #[error(transparent)]
    Teacher(#[from] TeacherError),
    /// Student construction.
    #[error(transparent)]
    Student(#[from] StudentError),
    /// Distillation.
    #[error(transparent)]
    Distill(#[from] DistillError),
    /// Quantisation.
    #[error(transparent)]
    Quantize(#[from] QuantizeError),
    /// Export or parity.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A tensor operation.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Rewiring the graph as the soft labels say.
    #[error(transparent)]
    Surgery(#[from] SurgeryError),
    /// A run too large for the machine, refused before it started.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// A soft-label file that does not match its dataset.
    #[error("soft labels are for {expected_nodes} nodes / {expected_classes} classes but {source_text} has {found_nodes} / {found_classes}")]
    Mismatch {
        /// The dataset source the soft labels name.
        source_text: String,
        /// Nodes in the soft labels.
        expected_nodes: usize,
        /// Classes in the soft labels.
        expected_classes: usize,
        /// Nodes in the loaded dataset.
        found_nodes: usize,
        /// Classes in the loaded dataset.
        found_classes: usize,
    },
}

impl Blamed for PipelineError {
    fn blame(&self) -> Blame {
        match self {
            Self::Data(e) => e.blame(),
            Self::Framelet(e) => e.blame(),
            Self::Teacher(e) => e.blame(),
            Self::Student(e) => e.blame(),
            Self::Distill(e) => e.blame(),
            Self::Quantize(e) => e.blame(),
            Self::Export(e) => e.blame(),
            Self::Candle(e) => e.blame(),
            Self::Surgery(e) => e.blame(),
            Self::Memory(e) => e.blame(),
            Self::Mismatch { .. } => Blame::Input,
        }
    }
}

/// The blame of `error` if it is one of the library's errors (or an I/O error),
/// else `None`: the one place that knows the library's error types.
pub fn blame_of(error: &(dyn std::error::Error + 'static)) -> Option<Blame> {
    macro_rules! first_of {
        ($($ty:ty),* $(,)?) => {
            $(if let Some(e) = error.downcast_ref::<$ty>() {
                return Some(Blamed::blame(e));
            })*
        };
    }
    first_of!(
        PipelineError,
        crate::fit::FitError,
        crate::export::ExportError,
        crate::quantize::QuantizeError,
        crate::distill::DistillError,
        crate::student::StudentError,
        crate::teacher::TeacherError,
        crate::framelet::FrameletError,
        crate::surgery::SurgeryError,
        crate::memory::MemoryError,
        crate::data::DataError,
        crate::sparse::SparseError,
        std::io::Error,
        candle_core::Error,
    );
    None
}

/// A distilled student with everything measured about it.
pub struct Distilled {
    /// The bundle `frameless export` reads.
    pub file: StudentFile,
    /// Simulated accuracy and sizes per precision.
    pub precisions: Vec<PrecisionReport>,
}

/// Loads `source` for a run whose peak memory `plan` estimates from the dataset's
/// [`Shape`], refusing it if the estimate exceeds what the machine allows
/// ([`crate::memory::available`]): before generating a synthetic graph (its shape is known
/// from its parameters), right after loading a folder (whose size is bounded by its files).
///
/// # Errors
/// [`PipelineError::Memory`] naming the estimate, or the loader's [`DataError`].
pub fn load_within(
    source: &DatasetSource,
    plan: &dyn Fn(&Shape) -> Estimate,
) -> Result<Dataset, PipelineError> {
    let what = source.to_string();
    if let DatasetSource::Synthetic(config) = source {
        plan(&Shape::synthetic(config)).check_here(&what)?;
    }
    let dataset = data::load(source)?;
    plan(&Shape::of(&dataset)).check_here(&what)?;
    Ok(dataset)
}

/// Loads the teacher's dataset from the path or synthetic spec recorded in `soft`, rewired
/// by the SDRF it records, if any, so the student sees the teacher's graph. The source is
/// untrusted text: a synthetic graph of another size than the file's `n_nodes` is refused
/// before it is generated, and any dataset too large for a distillation with `student`
/// (see [`load_within`]).
///
/// # Errors
/// If the dataset cannot be loaded, is too large, or does not match the soft labels.
pub fn dataset_of(
    soft: &SoftLabels,
    student: &StudentConfig,
) -> Result<(Dataset, FrameletOperators), PipelineError> {
    let source: DatasetSource = soft.source.parse()?;
    let mismatch = |found_nodes, found_classes| PipelineError::Mismatch {
        source_text: soft.source.clone(),
        expected_nodes: soft.n_nodes,
        expected_classes: soft.outcome.n_classes,
        found_nodes,
        found_classes,
    };
    let framelet_config = &soft.config.framelet;
    let plan = |shape: &Shape| Estimate::distill(shape, framelet_config, student);
    if let DatasetSource::Synthetic(c) = &source {
        plan(&Shape::synthetic(c)).check_here(&soft.source)?;
        if c.nodes != soft.n_nodes || c.classes != soft.outcome.n_classes {
            return Err(mismatch(c.nodes, c.classes));
        }
    }
    let mut dataset = load_within(&source, &plan)?;
    if let Some(surgery) = &soft.surgery {
        dataset = rewire_dataset(&dataset, surgery)?.0;
    }
    if dataset.n_nodes() != soft.n_nodes || dataset.n_classes != soft.outcome.n_classes {
        return Err(mismatch(dataset.n_nodes(), dataset.n_classes));
    }
    let graph = dataset.graph().map_err(FrameletError::from)?;
    let ops = framelet::build(&graph, &soft.config.framelet)?;
    Ok((dataset, ops))
}

/// Trains a student on `soft` (its dataset, split and framelet settings), precomputes
/// its tables and evaluates every precision; training runs on `device`.
///
/// The dataset's features are handed to the student graph
/// ([`crate::sparse::FeatureMatrix::from_csr`]): dense features are held once, densely,
/// while the student trains, and their CSR is rebuilt (sparse ones: lent) for the
/// reports and the student file once training is done.
///
/// # Errors
/// Any stage's error.
pub fn distill_from_soft_labels(
    soft: &SoftLabels,
    (dataset, ops): (Dataset, FrameletOperators),
    config: &StudentConfig,
    settings: &DistillConfig,
    device: &Device,
    progress: &mut Progress,
) -> Result<Distilled, PipelineError> {
    let Dataset {
        name,
        features,
        labels,
        ..
    } = dataset;
    let graph = StudentGraph::from_framelets(features, &ops)?.on(device.clone());
    drop(ops); // the graph shares the bands' operators; nothing else reads them
    let targets = Targets {
        teacher_log_probs: &soft.outcome.log_probs,
        labels: &labels,
        train: &soft.split.train,
        val: &soft.split.val,
        test: &soft.split.test,
    };
    let (student, report) = distill(config, &graph, &targets, settings, DType::F32, progress)?;
    let tables = student.tables(&graph)?;
    let logits: Vec<f32> = student
        .forward_with_tables(&graph, tables, Mode::Eval)?
        .logits
        .flatten_all()?
        .to_vec1()?;
    let metadata = OwnedMetadata {
        dataset: name,
        test_accuracy: Some(report.test_accuracy as f32),
        ..OwnedMetadata::default()
    };
    let weights = quantize::model_weights(&student, &graph, metadata)?;
    let features = graph.features.to_csr()?;
    let inputs = ParityInputs {
        weights: &weights,
        features: &features,
        labels: &labels,
        test: &soft.split.test,
        reference_logits: &logits,
    };
    let precisions = quantize::evaluate(&weights, &features, &labels, &soft.split.test, &logits)?;
    let info = RunInfo {
        config: *config,
        distill: *settings,
        report,
        teacher_test_accuracy: Some(soft.outcome.test_accuracy),
        teacher: Some(TeacherSource {
            kind: soft.teacher,
            members: 1,
        }),
        framelet: Some(soft.config.framelet.clone()),
    };
    let file = StudentFile::new(info, &inputs, &soft.split.val, &soft.split.train);
    Ok(Distilled { file, precisions })
}

/// Settings of [`demo`].
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The synthetic graph.
    pub synthetic: SyntheticConfig,
    /// Seed of split, teacher and student.
    pub seed: u64,
    /// Teacher hyper-parameters (spatial teacher).
    pub teacher: TeacherConfig,
    /// Student architecture (fmlp-s by default).
    pub student: StudentConfig,
    /// Distillation settings.
    pub distill: DistillConfig,
    /// Folder for the soft labels, the student file and the blobs.
    pub out_dir: PathBuf,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            synthetic: SyntheticConfig::default(),
            seed: 0,
            teacher: TeacherConfig::default(),
            student: StudentConfig::new(crate::student::StudentKind::FmlpS),
            distill: DistillConfig::default(),
            out_dir: PathBuf::from("out/demo"),
        }
    }
}

/// One precision's line of the demo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoPrecision {
    /// Simulated accuracy, agreement and sizes.
    #[serde(flatten)]
    pub quant: PrecisionReport,
    /// Engine test accuracy (all test nodes through `Model::predict`).
    pub engine_test_accuracy: f64,
    /// Engine argmax agreement with the simulated forward.
    pub engine_agreement_with_simulated: f64,
    /// Largest engine logit difference from the f32 student.
    pub max_abs_diff_vs_f32: f64,
    /// Engine time per node, ns (all nodes, repeated).
    pub engine_ns_per_node: f64,
    /// One node's answer: the teacher's single-node query (its receptive ball)
    /// divided by the engine's time for that node.
    pub speedup_single_node: f64,
    /// Amortised over the graph: teacher full-graph ns per node divided by engine ns per node.
    pub speedup_amortised: f64,
    /// Where the blob was written.
    pub path: PathBuf,
}

/// The demo's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoReport {
    /// Dataset source string.
    pub dataset: String,
    /// Nodes, features, classes.
    pub dims: [usize; 3],
    /// Measured edge homophily.
    pub edge_homophily: f64,
    /// Teacher test accuracy.
    pub teacher_test_accuracy: f64,
    /// Teacher full-graph inference time per node, ns.
    pub teacher_ns_per_node: f64,
    /// The teacher answering one node: its forward pass over the node's
    /// `receptive_hops` ball (the framelets of the ball prebuilt, not timed),
    /// median over [`QUERY_NODES`] test nodes, ns.
    pub teacher_single_node_ns: f64,
    /// Edges a teacher answer can depend on ([`TeacherConfig::receptive_hops`]).
    pub receptive_hops: usize,
    /// Mean size of those balls, nodes.
    pub mean_ball_nodes: f64,
    /// Student training outcome (f32).
    pub student: DistillReport,
    /// One line per precision.
    pub precisions: Vec<DemoPrecision>,
    /// Wall time of the whole demo, seconds.
    pub wall_s: f64,
}

/// Teacher (spatial) → student → f32/f16/int8 → export → engine parity on the CSBM graph.
/// `progress(label)` gives the sink for each training run.
///
/// # Errors
/// Any stage's error, including a failed parity check.
pub fn demo<'p>(
    config: &DemoConfig,
    progress: &mut dyn FnMut(&str) -> Progress<'p>,
) -> Result<DemoReport, PipelineError> {
    let start = Instant::now();
    let source = DatasetSource::Synthetic(config.synthetic.clone());
    let plan =
        |shape: &Shape| Estimate::teacher_then_distill(shape, &config.teacher, &config.student);
    let dataset = load_within(&source, &plan)?;
    let graph = dataset.graph().map_err(FrameletError::from)?;
    let ops = framelet::build(&graph, &config.teacher.framelet)?;
    let split = dataset.split(config.seed, SplitRates::default());
    let run = teacher::train(
        &TeacherData::new(&dataset)?,
        &ops,
        TeacherKind::Spatial,
        &config.teacher,
        config.seed,
        &split,
        &Device::Cpu,
        &mut progress("teacher"),
    )?;
    let soft = SoftLabels::from_run(&run, &source.to_string(), &dataset.name, &config.teacher);
    let dir = &config.out_dir;
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
        path: dir.clone(),
        source,
    })?;
    soft.save(&dir.join("soft-labels.json"))?;
    let settings = DistillConfig {
        seed: config.seed,
        ..config.distill
    };
    // The demo's graph is small; the dataset stays for the single-node teacher timing.
    let distilled = distill_from_soft_labels(
        &soft,
        (dataset.clone(), ops),
        &config.student,
        &settings,
        &Device::Cpu,
        &mut progress("student"),
    )?;
    distilled.file.save(&dir.join("student.json"))?;
    let weights = distilled.file.weights();
    let inputs = ParityInputs {
        weights: &weights,
        features: &dataset.features,
        labels: &dataset.labels,
        test: &split.test,
        reference_logits: &distilled.file.logits,
    };
    let teacher_ns = run.outcome.inference_ms * 1e6 / dataset.n_nodes() as f64;
    let hops = config.teacher.receptive_hops();
    let (query_ns, ball_nodes) = teacher_query_ns(&dataset, &split.test, hops, &config.teacher)?;
    let mut precisions = Vec::new();
    for (precision, quant) in PRECISIONS.iter().zip(distilled.precisions) {
        let (blob, parity) = verify(&inputs, *precision)?;
        let path = dir.join(format!("model-{precision}.fgkd"));
        write_atomic(&path, &blob)?;
        let model =
            Model::from_bytes(&blob).map_err(|error| ExportError::Engine { node: None, error })?;
        let ns = engine_ns_per_node(&model, &dataset.features, 50.0);
        precisions.push(DemoPrecision {
            quant,
            engine_test_accuracy: parity.test_accuracy,
            engine_agreement_with_simulated: parity.agreement_with_simulated,
            max_abs_diff_vs_f32: parity.max_abs_diff_vs_f32,
            engine_ns_per_node: ns,
            speedup_single_node: query_ns / ns,
            speedup_amortised: teacher_ns / ns,
            path,
        });
    }
    Ok(DemoReport {
        dataset: source.to_string(),
        dims: [dataset.n_nodes(), dataset.n_features, dataset.n_classes],
        edge_homophily: graph.edge_homophily(&dataset.labels),
        teacher_test_accuracy: run.outcome.test_accuracy,
        teacher_ns_per_node: teacher_ns,
        teacher_single_node_ns: query_ns,
        receptive_hops: hops,
        mean_ball_nodes: ball_nodes,
        student: distilled.file.report.clone(),
        precisions,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// Test nodes whose single-node teacher query the demo times.
pub const QUERY_NODES: usize = 5;

/// The spatial teacher answering single nodes: for up to [`QUERY_NODES`] of
/// `nodes`, its forward pass over the subgraph the node's `hops` ball induces
/// (framelets built beforehand; weights do not change the cost, so a fresh
/// teacher of `config`). Returns the median ns and the mean ball size.
fn teacher_query_ns(
    dataset: &Dataset,
    nodes: &[u32],
    hops: usize,
    config: &TeacherConfig,
) -> Result<(f64, f64), PipelineError> {
    let (mut times, mut sizes) = (Vec::new(), Vec::new());
    for &node in nodes.iter().take(QUERY_NODES) {
        let sparse = |e| PipelineError::from(FrameletError::from(e));
        let ball = dataset.ball(node, hops).and_then(|b| dataset.induced(&b));
        let ball = ball.map_err(sparse)?;
        let ops = framelet::build(&ball.graph().map_err(sparse)?, &config.framelet)?;
        let split = ball.split(0, SplitRates::default());
        let kind = TeacherKind::Spatial;
        let data = TeacherData::new(&ball)?;
        let trainer =
            crate::teacher::Trainer::new(&data, &ops, kind, config, 0, &split, &Device::Cpu)?;
        trainer.log_probs()?; // warm
        let start = Instant::now();
        for _ in 0..3 {
            trainer.log_probs()?;
        }
        times.push(start.elapsed().as_secs_f64() * 1e9 / 3.0);
        sizes.push(ball.n_nodes() as f64);
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
    Ok((
        median,
        sizes.iter().sum::<f64>() / sizes.len().max(1) as f64,
    ))
}

/// Writes `report` as pretty JSON to `path` atomically.
///
/// # Errors
/// [`ExportError::Io`].
pub fn save_json<T: Serialize>(value: &T, path: &Path) -> Result<(), ExportError> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    write_atomic(path, &json)
}
