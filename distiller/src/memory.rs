//! Peak-memory estimates of a run, and the memory this process may use: a dataset too
//! large for the machine is refused before anything is built for it.
//!
//! An [`Estimate`] sums, stage by stage, what a run keeps alive at its peak: the dataset
//! (sparse features, labels, edges), the framelet operators (each band's `W_b` and `Â_b`,
//! with the copies the models hold), the teacher's tensors and gradients (parameters with
//! their gradients and Adam moments, the activations of one training step), the soft labels
//! and, for a distillation run, the student's operators, tables and tensors; a search
//! ([`Estimate::search`], `fit`) counts every trial its workers train at once. The figures
//! follow the code's own allocations (for instance one copy of the feature matrix in the
//! `teacher` command, the model's, dense f32 or CSR with its transpose by the density, as
//! the dataset hands its CSR over; two where the dataset stays, as in the demo and a
//! distillation; the operators are shared, not copied, by the models) and are rough:
//! within a factor of about 1.5 of the measured peak resident set (`--mem-report` prints
//! the peak of each stage).
//! [`available`] reads what the machine allows: `MemAvailable` in `/proc/meminfo`, the
//! cgroup's memory limit less its usage, and the address-space limit (`ulimit -v`) less the
//! process's size, whichever is least. [`Estimate::check`] compares the two.
//!
//! ```
//! use frameless_distiller::data::SyntheticConfig;
//! use frameless_distiller::memory::{Available, Estimate, Shape};
//! use frameless_distiller::teacher::TeacherConfig;
//! let big = SyntheticConfig { nodes: 20_000_000, ..SyntheticConfig::default() };
//! let estimate = Estimate::teacher(&Shape::synthetic(&big), &TeacherConfig::default());
//! assert!(estimate.peak() > 50 << 30); // over 50 GiB
//! let machine = Available { bytes: 16 << 30, limit: "MemAvailable" };
//! let e = estimate.check("synthetic:nodes=20000000", Some(machine)).unwrap_err();
//! assert!(e.to_string().contains("too large"), "{e}");
//! ```

use std::fmt;

use crate::data::{Dataset, SyntheticConfig};
use crate::error::{Blame, Blamed};
use crate::framelet::FrameletConfig;
use crate::sparse::features::SPARSE_MAX_DENSITY;
use crate::student::{StudentConfig, StudentKind};
use crate::teacher::{ComputeDtype, TeacherConfig};

/// The sizes of a dataset that drive a run's memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Nodes `N`.
    pub nodes: usize,
    /// Feature dimension `F`.
    pub features: usize,
    /// Classes `C`.
    pub classes: usize,
    /// Edges in the edge list (each direction counted as listed).
    pub edges: usize,
    /// Stored feature entries.
    pub feature_entries: usize,
}

impl Shape {
    /// The shape of a loaded dataset.
    pub fn of(dataset: &Dataset) -> Self {
        Self {
            nodes: dataset.n_nodes(),
            features: dataset.n_features,
            classes: dataset.n_classes,
            edges: dataset.edges.len(),
            feature_entries: dataset.features.nnz(),
        }
    }

    /// The shape the synthetic generator would produce, known before generating it
    /// (dense features, `round(N·d/2)` edges).
    pub fn synthetic(config: &SyntheticConfig) -> Self {
        Self {
            nodes: config.nodes,
            features: config.features,
            classes: config.classes,
            edges: (config.nodes as f64 * config.degree / 2.0).round() as usize,
            feature_entries: config.nodes.saturating_mul(config.features),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} nodes × {} features, {} classes, {} edges",
            self.nodes, self.features, self.classes, self.edges
        )
    }
}

/// A stage of a run, as the estimate itemises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Features, labels and edges.
    Dataset,
    /// The graph and each band's transform and propagation.
    Framelet,
    /// Teacher parameters, gradients, Adam moments and activations.
    Teacher,
    /// Per-node log-probabilities (and the teacher's last hidden layer).
    SoftLabels,
    /// The student's operators, tables, parameters and activations.
    Student,
    /// `jobs` trials (teachers or students) training at once, each with its own tensors:
    /// `jobs` times the larger of one teacher's and one student's.
    Trials {
        /// Trials alive at once (`fit --jobs`).
        jobs: usize,
    },
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Dataset => "dataset",
            Self::Framelet => "framelet operators",
            Self::Teacher => "teacher tensors + gradients",
            Self::SoftLabels => "soft labels",
            Self::Student => "student tables + tensors",
            Self::Trials { jobs } => {
                return write!(f, "{jobs} trials at once (--jobs {jobs})");
            }
        })
    }
}

/// Estimated peak memory of a run, per stage, in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// The shape it was computed for.
    pub shape: Shape,
    /// Bytes per stage, in pipeline order.
    pub stages: Vec<(Stage, u64)>,
}

/// Bytes of one stored entry of a sparse matrix (`u32` column, `f32` value).
const ENTRY: f64 = 8.0;
/// Bytes of an `f32`.
const F32: f64 = 4.0;
/// Copies of each parameter a training run holds: value, gradient, two Adam moments and
/// the best-validation snapshot.
const PARAMETER_COPIES: f64 = 5.0;

/// Stored entries of a degree-`hops` polynomial of the graph's Laplacian: each row reaches
/// about `(1 + mean degree)^hops` nodes, never more than `N`.
fn polynomial_entries(shape: &Shape, hops: usize) -> f64 {
    let n = shape.nodes as f64;
    let mean_degree = 2.0 * shape.edges as f64 / n.max(1.0);
    let reach = (1.0 + mean_degree).powi(hops.min(64) as i32).min(n);
    n * reach
}

/// Number of framelet bands `B = 1 + (r − 1)·Lev`.
fn bands(framelet: &FrameletConfig) -> f64 {
    (1 + (framelet.kind.n_filters() - 1) * framelet.levels) as f64
}

/// The sparse feature matrix: entries and row offsets.
fn feature_matrix(shape: &Shape) -> f64 {
    shape.feature_entries as f64 * ENTRY + shape.nodes as f64 * 8.0
}

/// The dataset: its features, one label per node, its edge list.
fn dataset(shape: &Shape) -> f64 {
    feature_matrix(shape) + shape.nodes as f64 * 8.0 + shape.edges as f64 * 8.0
}

/// The graph, its Laplacian, the two propagations and every band's transform.
fn framelet(shape: &Shape, framelet: &FrameletConfig) -> f64 {
    let n = shape.nodes as f64;
    let adjacency = 2.0 * shape.edges as f64 + n;
    // Level l's transforms are degree-(n−1)·l polynomials; the Chebyshev terms of the
    // deepest level are alive while its transforms are built.
    let order = framelet.chebyshev_order.max(1);
    let deepest = polynomial_entries(shape, (order - 1).saturating_mul(framelet.levels));
    let transforms = bands(framelet) * deepest + order as f64 * deepest;
    (4.0 * adjacency + transforms) * ENTRY + 6.0 * n * 8.0
}

/// The model's copy of the features: dense `f32` when denser than
/// [`SPARSE_MAX_DENSITY`] (plus one in the compute dtype when that is not `f32`), else the
/// CSR and its transpose.
fn model_features(shape: &Shape, dtype: f64) -> f64 {
    let cells = shape.nodes as f64 * shape.features as f64;
    let density = if cells > 0.0 {
        shape.feature_entries as f64 / cells
    } else {
        0.0
    };
    if density > SPARSE_MAX_DENSITY {
        cells * (F32 + if dtype > F32 { dtype } else { 0.0 })
    } else {
        2.0 * feature_matrix(shape)
    }
}

/// The teacher: its copy of the features, parameters with gradients and Adam moments,
/// and the activations (and their gradients) of one training step.
fn teacher(shape: &Shape, config: &TeacherConfig) -> f64 {
    let (n, c) = (shape.nodes as f64, shape.classes as f64);
    let b = bands(&config.framelet);
    let dtype = dtype_bytes(config);
    // The layered teachers' widths F → hidden → … → C; the simplified teacher (F → C)
    // needs less.
    let widths: Vec<f64> = std::iter::once(shape.features as f64)
        .chain(std::iter::repeat_n(
            config.hidden as f64,
            config.layers.saturating_sub(1),
        ))
        .chain(std::iter::once(c))
        .collect();
    let mut parameters = 0.0;
    let mut activations = 0.0;
    for (i, pair) in widths.windows(2).enumerate() {
        let d_out = pair[1];
        parameters += pair[0] * d_out * b + d_out;
        // The spatial layer (one operation on the CPU): its input H·Θ (B bands side by
        // side) and gradient, its output, the dropout's output, and the products of one
        // band alive at a time (three forward, two backward), with candle's zero-filled
        // gradient accumulators. The first layer's input X·Θ lives only while the forward
        // pass reads it (less than the backward pass holds), and its gradient is formed
        // one band at a time.
        let input_and_gradient = if i == 0 { 1.0 } else { 2.0 * b };
        activations += n * d_out * (input_and_gradient + 7.0);
    }
    model_features(shape, dtype) + parameters * dtype * PARAMETER_COPIES + activations * dtype
}

/// Bytes of one value of the teacher's compute dtype.
fn dtype_bytes(config: &TeacherConfig) -> f64 {
    match config.dtype {
        ComputeDtype::F32 => 4.0,
        ComputeDtype::F64 => 8.0,
    }
}

/// The log-probabilities, the teacher's last hidden layer and the JSON text of the file.
fn soft_labels(shape: &Shape, hidden: usize) -> f64 {
    let (n, c) = (shape.nodes as f64, shape.classes as f64);
    n * c * (F32 + 24.0) + n * hidden as f64 * F32
}

/// The student: its copy of the features ([`student_graph`]; the operators are shared)
/// and one training run ([`student_trial`]).
fn student(shape: &Shape, framelet_config: &FrameletConfig, config: &StudentConfig) -> f64 {
    student_graph(shape) + student_trial(shape, framelet_config, config)
}

/// The student graph: its copy of the features (it shares the framelet operators).
fn student_graph(shape: &Shape) -> f64 {
    model_features(shape, F32)
}

/// Bytes of one set of student parameters (f32).
fn student_parameters(
    shape: &Shape,
    framelet_config: &FrameletConfig,
    config: &StudentConfig,
) -> f64 {
    let h = config.hidden as f64;
    let b = bands(framelet_config);
    // Feature tables: one `F × d` projection `V_b` per band and stage.
    let projections = if config.feature_tables && config.kind != StudentKind::Mlp {
        b * config.n_stages() as f64
    } else {
        0.0
    };
    (shape.features as f64 * h * (1.0 + projections) + (b + 1.0) * h * shape.classes as f64) * F32
}

/// One student training run on a student graph: parameters with their gradients, Adam
/// moments and best snapshot, the precomputed tables and one training step's activations.
fn student_trial(shape: &Shape, framelet_config: &FrameletConfig, config: &StudentConfig) -> f64 {
    let (n, h) = (shape.nodes as f64, config.hidden as f64);
    let b = bands(framelet_config);
    let powers = match config.kind {
        StudentKind::Mlp => 0.0,
        StudentKind::FmlpS => 1.0,
        StudentKind::FmlpO => config.stages as f64,
    };
    let parameters = student_parameters(shape, framelet_config, config);
    let tables = n * h * b * powers.max(1.0) * F32;
    let activations = n * h * (4.0 * b * powers + 3.0) * F32;
    parameters * PARAMETER_COPIES + tables + 2.0 * activations
}

/// `x` bytes, saturating.
fn bytes(x: f64) -> u64 {
    if x.is_finite() && x < u64::MAX as f64 {
        x.max(0.0) as u64
    } else {
        u64::MAX
    }
}

impl Estimate {
    /// A teacher run: dataset, framelet operators, teacher tensors and soft labels.
    ///
    /// The `teacher` command hands the dataset's features to the model
    /// ([`crate::teacher::TeacherData::from_dataset`]): their CSR is alive while the
    /// model's copy is made and gone before training, so it adds to the peak only where it
    /// outweighs one training step's tensors (wide features, small hidden layers).
    pub fn teacher(shape: &Shape, config: &TeacherConfig) -> Self {
        let csr = feature_matrix(shape);
        let training = teacher(shape, config) - model_features(shape, dtype_bytes(config));
        let dataset_bytes = dataset(shape) - csr + (csr - training).max(0.0);
        Self::teacher_with_dataset(shape, config, dataset_bytes)
    }

    /// [`Estimate::teacher`] with `dataset_bytes` for the dataset stage.
    fn teacher_with_dataset(shape: &Shape, config: &TeacherConfig, dataset_bytes: f64) -> Self {
        Self {
            shape: *shape,
            stages: vec![
                (Stage::Dataset, bytes(dataset_bytes)),
                (Stage::Framelet, bytes(framelet(shape, &config.framelet))),
                (Stage::Teacher, bytes(teacher(shape, config))),
                (Stage::SoftLabels, bytes(soft_labels(shape, config.hidden))),
            ],
        }
    }

    /// A distillation run from soft labels: dataset, framelet operators, soft labels and
    /// the student.
    pub fn distill(
        shape: &Shape,
        framelet_config: &FrameletConfig,
        config: &StudentConfig,
    ) -> Self {
        Self {
            shape: *shape,
            stages: vec![
                (Stage::Dataset, bytes(dataset(shape))),
                (Stage::Framelet, bytes(framelet(shape, framelet_config))),
                (Stage::SoftLabels, bytes(soft_labels(shape, 0))),
                (
                    Stage::Student,
                    bytes(student(shape, framelet_config, config)),
                ),
            ],
        }
    }

    /// A teacher run followed by a distillation on the same graph (the demo).
    pub fn teacher_then_distill(
        shape: &Shape,
        teacher: &TeacherConfig,
        student: &StudentConfig,
    ) -> Self {
        // The demo keeps its dataset, features and all, for the student.
        let mut estimate = Self::teacher_with_dataset(shape, teacher, dataset(shape));
        let distill = Self::distill(shape, &teacher.framelet, student);
        estimate.stages.extend(
            distill
                .stages
                .into_iter()
                .filter(|(s, _)| *s == Stage::Student),
        );
        estimate
    }

    /// A search (`fit`): the dataset, the shared framelet operators and student graphs,
    /// `soft_label_runs` teachers' log-probabilities kept for the students (`N × C` each),
    /// `kept_students` best students' parameters, and `jobs` trials training at once,
    /// each as large as one teacher run or the largest run of `students`, whichever is
    /// larger (the search's teachers and students do not train at the same time).
    pub fn search(shape: &Shape, size: &SearchSize) -> Self {
        let framelet_config = &size.teacher.framelet;
        let (n, c) = (shape.nodes as f64, shape.classes as f64);
        let largest = |f: &dyn Fn(&(StudentConfig, FrameletConfig)) -> f64| {
            size.students.iter().map(f).fold(0.0, f64::max)
        };
        let one_trial =
            teacher(shape, size.teacher).max(largest(&|(s, fc)| student_trial(shape, fc, s)));
        let kept = size.kept_students as f64 * largest(&|(s, fc)| student_parameters(shape, fc, s));
        // A graph on the teacher's framelet shares its operators; another has its own.
        let own = |fc: &FrameletConfig| match fc == framelet_config {
            true => 0.0,
            false => framelet(shape, fc),
        };
        let graphs: f64 = size
            .student_graphs
            .iter()
            .map(|fc| student_graph(shape) + own(fc))
            .sum();
        Self {
            shape: *shape,
            stages: vec![
                (Stage::Dataset, bytes(dataset(shape))),
                (Stage::Framelet, bytes(framelet(shape, framelet_config))),
                (Stage::Student, bytes(graphs + kept)),
                (
                    Stage::SoftLabels,
                    bytes(size.soft_label_runs as f64 * n * c * F32),
                ),
                (
                    Stage::Trials { jobs: size.jobs },
                    bytes(size.jobs as f64 * one_trial),
                ),
            ],
        }
    }

    /// Peak bytes: every stage's share, as all are alive together at the peak.
    pub fn peak(&self) -> u64 {
        self.stages
            .iter()
            .fold(0u64, |sum, (_, b)| sum.saturating_add(*b))
    }

    /// The largest stage.
    pub fn largest(&self) -> Option<(Stage, u64)> {
        self.stages.iter().copied().max_by_key(|&(_, b)| b)
    }

    /// Refuses the run if its peak exceeds what `available` allows; no limit known, no
    /// refusal. `what` names the input (a dataset folder or source string).
    ///
    /// # Errors
    /// [`MemoryError::TooLarge`] with this estimate and the limit.
    pub fn check(&self, what: &str, available: Option<Available>) -> Result<(), MemoryError> {
        match available {
            Some(limit) if self.peak() > limit.bytes => Err(MemoryError::TooLarge {
                what: what.to_string(),
                estimate: Box::new(self.clone()),
                available: limit,
            }),
            _ => Ok(()),
        }
    }

    /// [`Estimate::check`] against what this machine allows now ([`available`]).
    ///
    /// # Errors
    /// [`MemoryError::TooLarge`].
    pub fn check_here(&self, what: &str) -> Result<(), MemoryError> {
        self.check(what, available())
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "about {} at peak (", Size(self.peak()))?;
        for (i, (stage, b)) in self.stages.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{stage} {}", Size(*b))?;
        }
        f.write_str(")")
    }
}

/// What drives a search's memory besides the dataset's shape ([`Estimate::search`]).
#[derive(Debug, Clone, Copy)]
pub struct SearchSize<'a> {
    /// Settings of every teacher (and the framelet operators).
    pub teacher: &'a TeacherConfig,
    /// The students the search may train, each with the framelet of its bands (the
    /// largest counts).
    pub students: &'a [(StudentConfig, FrameletConfig)],
    /// The framelet settings of every student graph the search builds (shared by its
    /// trials).
    pub student_graphs: &'a [FrameletConfig],
    /// Trials training at once.
    pub jobs: usize,
    /// Teacher log-probability tables kept for the students (runs, ensembles and the
    /// uniform one of labels-only students).
    pub soft_label_runs: usize,
    /// Best students kept (one per seed).
    pub kept_students: usize,
}

/// A byte count written for people: `512 MiB`, `2.9 TiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        match unit {
            0 => write!(f, "{} B", self.0),
            _ if value < 10.0 => write!(f, "{value:.1} {}", UNITS[unit]),
            _ => write!(f, "{value:.0} {}", UNITS[unit]),
        }
    }
}

/// How much memory this process may still use, and which limit says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Available {
    /// Bytes.
    pub bytes: u64,
    /// The limit: `MemAvailable`, `the cgroup memory limit` or `the address-space limit, ulimit -v`.
    pub limit: &'static str,
}

/// The least of what the machine, the cgroup and the address-space limit allow; `None`
/// where none can be read (not Linux).
pub fn available() -> Option<Available> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let meminfo = read("/proc/meminfo")
        .and_then(|t| meminfo_available(&t))
        .map(|bytes| Available {
            bytes,
            limit: "MemAvailable",
        });
    let cgroup = cgroup_available(&read).map(|bytes| Available {
        bytes,
        limit: "the cgroup memory limit",
    });
    let address_space = read("/proc/self/limits")
        .and_then(|t| address_space_limit(&t))
        .map(|limit| {
            let used = read("/proc/self/status")
                .and_then(|t| status_kib(&t, "VmSize:"))
                .unwrap_or(0);
            Available {
                bytes: limit.saturating_sub(used),
                limit: "the address-space limit, ulimit -v",
            }
        });
    [meminfo, cgroup, address_space]
        .into_iter()
        .flatten()
        .min_by_key(|a| a.bytes)
}

/// This process's resident set now and at its peak, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resident {
    /// Resident now (`VmRSS`).
    pub now: u64,
    /// The peak since the process started or since the last [`reset_peak`] (`VmHWM`).
    pub peak: u64,
}

/// The resident set of this process (`/proc/self/status`); `None` where it cannot be
/// read (not Linux).
pub fn resident() -> Option<Resident> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(Resident {
        now: status_kib(&text, "VmRSS:")?,
        peak: status_kib(&text, "VmHWM:")?,
    })
}

/// Starts a new peak: the next [`resident`] reports the peak since this call (Linux:
/// `5` written to `/proc/self/clear_refs`). Returns whether the kernel accepted it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn meminfo_available(text: &str) -> Option<u64> {
    status_kib(text, "MemAvailable:")
}

/// A `Key:   123 kB` line of `/proc/meminfo` or `/proc/self/status`, in bytes.
fn status_kib(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix(key))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// The soft address-space limit of `/proc/self/limits`, in bytes; `None` if unlimited.
fn address_space_limit(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Max address space"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// The cgroup's memory limit less its usage (v2 `memory.max`, or v1 `limit_in_bytes`).
fn cgroup_available(read: &dyn Fn(&str) -> Option<String>) -> Option<u64> {
    let number = |path: &str| read(path)?.trim().parse::<u64>().ok();
    let own = read("/proc/self/cgroup")
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .unwrap_or_default();
    let v2 = format!("/sys/fs/cgroup{}", own.trim_end_matches('/'));
    let (limit, usage) = match number(&format!("{v2}/memory.max")) {
        Some(limit) => (limit, number(&format!("{v2}/memory.current"))),
        None => (
            number("/sys/fs/cgroup/memory/memory.limit_in_bytes")?,
            number("/sys/fs/cgroup/memory/memory.usage_in_bytes"),
        ),
    };
    // v1 writes "no limit" as a huge number.
    (limit < 1 << 60).then(|| limit.saturating_sub(usage.unwrap_or(0)))
}

/// A run refused before it starts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The estimated peak exceeds what the machine allows.
    #[error(
        "{what} ({}) is too large for this machine: the run would need {estimate}, \
         but {} is available ({})",
        estimate.shape,
        Size(available.bytes),
        available.limit
    )]
    TooLarge {
        /// The input (dataset folder or source string).
        what: String,
        /// The estimate (boxed: errors stay small).
        estimate: Box<Estimate>,
        /// What the machine allows.
        available: Available,
    },
}

/// The input is too large: the user's.
impl Blamed for MemoryError {
    fn blame(&self) -> Blame {
        Blame::Input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_readable() {
        assert_eq!(Size(512).to_string(), "512 B");
        assert_eq!(Size(3 << 29).to_string(), "1.5 GiB");
        assert_eq!(Size(700 << 30).to_string(), "700 GiB");
        assert_eq!(Size(u64::MAX).to_string(), "16 EiB");
    }

    #[test]
    fn limits_are_parsed_from_proc() {
        let meminfo = "MemTotal:       24000000 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(meminfo_available(meminfo), Some(2048 * 1024));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         6442450944           unlimited            bytes\n";
        assert_eq!(address_space_limit(limits), Some(6 << 30));
        let unlimited =
            "Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(address_space_limit(unlimited), None);
        let files = |path: &str| match path {
            "/proc/self/cgroup" => Some("0::/user.slice/job\n".to_string()),
            "/sys/fs/cgroup/user.slice/job/memory.max" => Some("6442450944\n".into()),
            "/sys/fs/cgroup/user.slice/job/memory.current" => Some("1073741824\n".into()),
            _ => None,
        };
        assert_eq!(cgroup_available(&files), Some(5 << 30));
        let no_limit = |path: &str| match path {
            "/proc/self/cgroup" => Some("0::/\n".to_string()),
            "/sys/fs/cgroup/memory.max" => Some("max\n".into()),
            _ => None,
        };
        assert_eq!(cgroup_available(&no_limit), None);
        // Whatever this machine is, what it reports is positive.
        if let Some(a) = available() {
            assert!(a.bytes > 0, "{a:?}");
        }
    }

    #[test]
    fn estimate_grows_with_the_graph_and_refuses_what_does_not_fit() {
        let config = TeacherConfig::default();
        let at = |nodes| {
            Estimate::teacher(
                &Shape::synthetic(&SyntheticConfig {
                    nodes,
                    ..SyntheticConfig::default()
                }),
                &config,
            )
        };
        let (small, large) = (at(100_000), at(1_000_000));
        // Linear in N for a fixed degree: ten times the nodes, ten times the memory.
        let ratio = large.peak() as f64 / small.peak() as f64;
        assert!((9.0..11.0).contains(&ratio), "{ratio}");
        // 1M nodes × 200 features (about 4.6 GiB) does not fit in 3 GiB; 100k nodes does.
        let three = Available {
            bytes: 3 << 30,
            limit: "the cgroup memory limit",
        };
        assert!(small.check("small", Some(three)).is_ok());
        let e = large
            .check("synthetic:nodes=1000000", Some(three))
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("synthetic:nodes=1000000 (1000000 nodes × 200 features")
                && text.contains("too large")
                && text.contains("teacher tensors + gradients")
                && text.contains("3.0 GiB is available (the cgroup memory limit)"),
            "{text}"
        );
        assert_eq!(e.blame(), Blame::Input);
        // No limit known: no refusal.
        assert!(large.check("x", None).is_ok());
    }

    /// Peak resident sets measured with `/usr/bin/time -v frameless teacher --dataset
    /// synthetic:… --seeds 1 --epochs 5` (release build, CPU), in bytes.
    #[test]
    fn estimate_is_within_half_again_of_measured_peaks() {
        let measured = [
            ("nodes=100000,features=200", 300_096u64 << 10),
            ("nodes=20000,features=200", 69_548 << 10),
            ("nodes=20000,features=1000,degree=30", 208_360 << 10),
        ];
        for (params, rss) in measured {
            let source: crate::data::DatasetSource = format!("synthetic:{params}").parse().unwrap();
            let crate::data::DatasetSource::Synthetic(config) = source else {
                unreachable!()
            };
            let estimate = Estimate::teacher(&Shape::synthetic(&config), &TeacherConfig::default());
            let ratio = estimate.peak() as f64 / rss as f64;
            eprintln!(
                "{params}: estimate {} measured {} ratio {ratio:.2}",
                Size(estimate.peak()),
                Size(rss)
            );
            assert!(
                (1.0 / 1.5..1.5).contains(&ratio),
                "{params}: {estimate} vs {}",
                Size(rss)
            );
        }
    }

    #[test]
    fn absurd_counts_saturate_instead_of_wrapping() {
        let shape = Shape {
            nodes: 60,
            features: 1_000_000_000_000,
            classes: 2,
            edges: 59,
            feature_entries: 120,
        };
        let e = Estimate::teacher(&shape, &TeacherConfig::default());
        let (stage, bytes) = e.largest().unwrap();
        assert_eq!(stage, Stage::Teacher);
        assert!(bytes > 1 << 50, "{bytes}"); // petabytes of parameters
        let d = Estimate::distill(
            &Shape {
                nodes: usize::MAX,
                feature_entries: usize::MAX,
                ..shape
            },
            &FrameletConfig::default(),
            &StudentConfig::new(StudentKind::FmlpO),
        );
        assert_eq!(d.peak(), u64::MAX);
    }
}
