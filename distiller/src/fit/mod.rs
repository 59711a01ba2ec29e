//! `fit`: the best validated student for a dataset, chosen on validation accuracy only.
//!
//! A search over teachers, students, `λ`, `τ` and regularisation, run per seed on that
//! seed's split, in a coarse-to-fine order so that it stays cheap:
//!
//! 1. **Teachers**: every kind in [`FitSettings::teachers`]; the one with the best
//!    validation accuracy teaches the students of this seed, through the mean
//!    probabilities of [`FitSettings::teacher_members`] initialisations of it.
//! 2. **Coarse**: every student kind × `λ ∈ {1, ½, 0}` (`λ = 1` learns from the labels
//!    alone, so a plain MLP on the features is always among the candidates), and fmlp-s
//!    and fmlp-o at `λ = ½` (labels only without a teacher) with their band tables
//!    learnt from the features ([`crate::student::StudentConfig::feature_tables`]).
//! 3. **Refine**: the [`FitSettings::refine_top`] best coarse recipes, each with a wider
//!    hidden layer, the other dropout, ten times and a tenth of the weight decay,
//!    `τ = 2` (distilled recipes), one more fmlp-o stage and, for frameless students,
//!    feature tables, and their bands from one more framelet level (Lev 2) or with the energy perturbation
//!    `ε = ½` (`Â_b = Â ∓ ε·D̃^{-1}`), each on its own student graph built once.
//!
//! Where a seed's validation split is small (under 300 nodes), one node moves a
//! candidate by points and the ranking is mostly chance, so every candidate also trains
//! on [`FitSettings::val_partitions`]` − 1` other partitions of the seed's training and
//! validation nodes ([`Split::redealt`]: the same class counts, dealt again), its teachers
//! with it, and candidates are ranked on their mean validation accuracy. The student
//! kept is the chosen recipe's run on the seed's own split.
//!
//! The test nodes are never looked at until every seed's choice is made: teachers and
//! students train on splits whose test part is empty, candidates keep their predictions
//! on the test nodes without their labels, and [`fit`] scores them only after choosing
//! (the `choice_ignores_test_labels` test poisons the test labels to show it). Ties in
//! validation accuracy go to the lower validation loss, then to the earlier candidate.
//!
//! Trials run in parallel on [`FitSettings::jobs`] worker threads, each inside its own
//! one-thread rayon pool: the graphs this is for are too small for candle's threads to
//! pay, and one trial per core is the best use of the machine (same answer whatever the
//! number of workers). Memory is checked for all of them at once before anything is
//! built ([`FitSettings::memory`]): `jobs` trials alive together, each as large as a
//! teacher run or the largest student, plus every teacher's log-probabilities.

mod search;
mod workers;

pub use search::fit;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::data::{DataError, Dataset, Split, SplitRates};
use crate::distill::{DistillConfig, DistillError};
use crate::error::{Blame, Blamed};
use crate::export::artifact::RunInfo;
use crate::export::ExportError;
use crate::framelet::{FrameletConfig, FrameletError};
use crate::memory::{Estimate, MemoryError, SearchSize, Shape};
use crate::quantize::QuantizeError;
use crate::student::{StudentConfig, StudentError, StudentKind};
use crate::teacher::{TeacherConfig, TeacherError, TeacherKind};
use crate::train::AdamConfig;
use frameless_engine::writer::ModelWeights;

/// Errors of a search.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// Loading or checking the data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Building the operators.
    #[error(transparent)]
    Framelet(#[from] FrameletError),
    /// Training a teacher.
    #[error(transparent)]
    Teacher(#[from] TeacherError),
    /// Building a student.
    #[error(transparent)]
    Student(#[from] StudentError),
    /// Training a student.
    #[error(transparent)]
    Distill(#[from] DistillError),
    /// Quantising the chosen student.
    #[error(transparent)]
    Quantize(#[from] QuantizeError),
    /// Exporting the chosen student.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A tensor operation.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// No seed, no teacher kind, or a split list that does not match the seeds.
    #[error("bad fit settings: {0}")]
    Settings(String),
    /// The search would not fit in memory (its `jobs` trials at once included).
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// A worker thread could not be started or panicked.
    #[error("fit worker failed: {0}")]
    Worker(String),
}

impl Blamed for FitError {
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
            Self::Memory(e) => e.blame(),
            Self::Settings(_) => Blame::Input,
            Self::Worker(_) => Blame::Internal,
        }
    }
}

/// One student candidate: which teacher it learns from and how.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// The teacher whose soft labels it learns (`None`: labels only, `λ = 1`).
    pub teacher: Option<TeacherKind>,
    /// The student architecture.
    pub student: StudentConfig,
    /// Weight `λ` of the hard-label loss.
    pub lambda: f64,
    /// Temperature `τ`.
    pub tau: f64,
    /// Adam L2 weight decay.
    pub weight_decay: f64,
    /// Teachers (of the same kind, seeds apart) whose mean probabilities are the soft
    /// labels; 1 for a single teacher.
    #[serde(default = "one")]
    pub teacher_members: usize,
    /// Framelet levels of the student's bands (`None`: the search's, [`FitSettings::teacher`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<usize>,
    /// Energy perturbation `ε` of the student's band propagations `Â ∓ ε·D̃^{-1}`
    /// (`None`: the search's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f32>,
}

fn one() -> usize {
    1
}

impl Recipe {
    /// A student that learns from the training labels alone (`λ = 1`).
    pub fn labels_only(kind: StudentKind) -> Self {
        Self {
            teacher: None,
            student: StudentConfig::new(kind),
            lambda: 1.0,
            tau: 1.0,
            weight_decay: AdamConfig::default().weight_decay,
            teacher_members: 1,
            levels: None,
            epsilon: None,
        }
    }

    /// A student distilled from `teacher` with weight `lambda` on the labels.
    pub fn distilled(kind: StudentKind, teacher: TeacherKind, lambda: f64) -> Self {
        Self {
            teacher: Some(teacher),
            lambda,
            ..Self::labels_only(kind)
        }
    }

    /// The plain MLP baseline: `F → 64 → C` on the features, labels only.
    pub fn plain_mlp() -> Self {
        Self::labels_only(StudentKind::Mlp)
    }

    /// Whether the graph reaches this student (through a teacher or the framelet bands).
    pub fn uses_graph(&self) -> bool {
        self.teacher.is_some() || self.student.kind != StudentKind::Mlp
    }

    /// The framelet settings of this recipe's student bands: `base` with its levels and `ε`.
    pub fn framelet(&self, base: &FrameletConfig) -> FrameletConfig {
        FrameletConfig {
            levels: self.levels.unwrap_or(base.levels),
            epsilon: self.epsilon.unwrap_or(base.epsilon),
            ..base.clone()
        }
    }

    /// The distillation settings of this recipe for `seed`.
    pub fn distill_config(&self, budget: &Budget, seed: u64) -> DistillConfig {
        DistillConfig {
            lambda: self.lambda,
            tau: self.tau,
            adam: AdamConfig {
                weight_decay: self.weight_decay,
                ..AdamConfig::default()
            },
            max_epochs: budget.max_epochs,
            patience: budget.patience,
            seed,
        }
    }
}

impl std::fmt::Display for Recipe {
    /// E.g. `fmlp-s d64 drop0.1 ← spatial λ0.5 τ1 wd5e-4`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.student;
        write!(f, "{} d{} drop{}", s.kind, s.hidden, s.dropout)?;
        if s.kind == StudentKind::FmlpO {
            write!(f, " S{}", s.stages)?;
        }
        if s.feature_tables {
            f.write_str(" M=XV")?;
        }
        if let Some(levels) = self.levels {
            write!(f, " Lev{levels}")?;
        }
        if let Some(epsilon) = self.epsilon {
            write!(f, " ε{epsilon}")?;
        }
        match self.teacher {
            Some(t) if self.teacher_members > 1 => write!(
                f,
                " ← {t}×{} λ{} τ{}",
                self.teacher_members, self.lambda, self.tau
            )?,
            Some(t) => write!(f, " ← {t} λ{} τ{}", self.lambda, self.tau)?,
            None => f.write_str(" ← labels")?,
        }
        write!(f, " wd{:e}", self.weight_decay)
    }
}

/// Epoch budget of every student trial.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Maximum epochs (500).
    pub max_epochs: usize,
    /// Early-stopping patience on validation accuracy (50).
    pub patience: usize,
}

impl Default for Budget {
    fn default() -> Self {
        let d = DistillConfig::default();
        Self {
            max_epochs: d.max_epochs,
            patience: d.patience,
        }
    }
}

/// Validation predictions a candidate's rank should rest on: at 300 the standard error
/// of an accuracy near 80 % is 2.3 points, a third of it from any one node.
const VALIDATION_PREDICTIONS: usize = 300;

/// The most partitions [`validation_partitions`] asks for: each one trains the whole
/// search again.
pub const MAX_VAL_PARTITIONS: usize = 5;

/// How many validation partitions a seed whose validation split has `val_nodes` nodes
/// needs for its candidates' mean validation accuracy to rest on about 300 predictions:
/// 1 (the split alone) from 300 validation nodes up, at most [`MAX_VAL_PARTITIONS`].
/// With a few dozen validation nodes one node moves a candidate by 2–3 points, and the
/// candidates of a search lie within a few nodes of each other: their order on one
/// split is mostly chance.
///
/// ```
/// use frameless_distiller::fit::validation_partitions;
/// assert_eq!(validation_partitions(539), 1); // Cora: 77 validation nodes per class
/// assert_eq!(validation_partitions(80), 4);
/// assert_eq!(validation_partitions(37), 5);
/// ```
pub fn validation_partitions(val_nodes: usize) -> usize {
    VALIDATION_PREDICTIONS
        .div_ceil(val_nodes.max(1))
        .clamp(1, MAX_VAL_PARTITIONS)
}

/// What to search and how.
#[derive(Debug, Clone)]
pub struct FitSettings {
    /// Seeds (initialisation, dropout and the split of each run).
    pub seeds: Vec<u64>,
    /// The split of each seed, in the order of `seeds`.
    pub splits: Vec<Split>,
    /// Teacher kinds to try.
    pub teachers: Vec<TeacherKind>,
    /// Settings of every teacher (and the framelet operators the students use).
    pub teacher: TeacherConfig,
    /// Student epochs.
    pub budget: Budget,
    /// Coarse recipes refined per seed (3).
    pub refine_top: usize,
    /// Teachers averaged into the soft labels of distilled candidates (3): the seed's
    /// best kind, trained from this many initialisations.
    pub teacher_members: usize,
    /// A fixed list of recipes instead of the search (`fit --config`): every one is
    /// trained per seed and the best on validation is kept.
    pub recipes: Option<Vec<Recipe>>,
    /// Validation partitions per seed (≥ 1): the seed's own split, then its training
    /// and validation nodes dealt again ([`Split::redealt`]). Every candidate trains on
    /// each, and candidates are ranked on their mean validation accuracy; the student
    /// kept is the one of the seed's own split. [`with_splits`](Self::with_splits) sets
    /// [`validation_partitions`] of the smallest validation split.
    pub val_partitions: usize,
    /// Worker threads (≥ 1).
    pub jobs: usize,
    /// Where the students train.
    pub device: Device,
}

impl FitSettings {
    /// The default search for `dataset`: the split of each seed at `rates`, all three
    /// teachers.
    pub fn new(dataset: &Dataset, seeds: Vec<u64>, rates: SplitRates, jobs: usize) -> Self {
        Self::unsplit(seeds, jobs).with_splits(dataset, rates)
    }

    /// These settings with the split of each seed of `dataset` at `rates`.
    pub fn with_splits(mut self, dataset: &Dataset, rates: SplitRates) -> Self {
        self.splits = self
            .seeds
            .iter()
            .map(|&s| dataset.split(s, rates))
            .collect();
        let smallest = self.splits.iter().map(|s| s.val.len()).min().unwrap_or(0);
        self.val_partitions = validation_partitions(smallest);
        self
    }

    /// The default search without its splits (set [`splits`](Self::splits) once the
    /// dataset is loaded): enough for [`memory`](Self::memory), so that a dataset too
    /// large for the search is refused before it is loaded or generated.
    pub fn unsplit(seeds: Vec<u64>, jobs: usize) -> Self {
        Self {
            seeds,
            splits: Vec::new(),
            teachers: vec![
                TeacherKind::Spatial,
                TeacherKind::Simplified,
                TeacherKind::Spectral,
                TeacherKind::Gcn,
            ],
            teacher: TeacherConfig::default(),
            budget: Budget::default(),
            refine_top: 3,
            teacher_members: 3,
            recipes: None,
            val_partitions: 1,
            jobs: jobs.max(1),
            device: Device::Cpu,
        }
    }
}

impl FitSettings {
    /// The validation partitions each seed trains on: [`val_partitions`](Self::val_partitions),
    /// or 1 where there is nothing to choose between (a single fixed recipe).
    pub fn partitions(&self) -> usize {
        match &self.recipes {
            Some(list) if list.len() <= 1 => 1,
            _ => self.val_partitions.max(1),
        }
    }

    /// Every recipe this search may train, up to the teacher kind: the fixed list, or
    /// the coarse recipes and all their refinements.
    fn possible_recipes(&self) -> Vec<Recipe> {
        match &self.recipes {
            Some(list) => list.clone(),
            None => search::coarse(Some(TeacherKind::Spatial), self.teacher_members)
                .iter()
                .flat_map(|r| std::iter::once(*r).chain(search::refinements(r)))
                .collect(),
        }
    }

    /// The estimated peak memory of this search on a dataset of `shape`
    /// ([`Estimate::search`]): [`jobs`](Self::jobs) trials at once, each as large as a
    /// teacher run or the largest student the search may train, and every teacher's
    /// log-probabilities kept for the students. [`fit`] refuses a search whose estimate
    /// exceeds what the machine allows, before building anything.
    pub fn memory(&self, shape: &Shape) -> Estimate {
        let recipes = self.possible_recipes();
        let base = &self.teacher.framelet;
        let students: Vec<(StudentConfig, FrameletConfig)> = recipes
            .iter()
            .map(|r| (r.student, r.framelet(base)))
            .collect();
        let mut graphs: Vec<FrameletConfig> = vec![base.clone()];
        for (_, f) in &students {
            if !graphs.contains(f) {
                graphs.push(f.clone());
            }
        }
        // Per seed: every teacher kind's run, plus each ensemble's extra members and mean.
        let per_seed = match &self.recipes {
            None => {
                let m = self.teacher_members;
                self.teachers.len() + if m > 1 { m } else { 0 }
            }
            Some(list) => {
                let mut kinds: Vec<TeacherKind> = Vec::new();
                let mut ensembles: Vec<(TeacherKind, usize)> = Vec::new();
                for r in list {
                    if let Some(k) = r.teacher {
                        if !kinds.contains(&k) {
                            kinds.push(k);
                        }
                        if r.teacher_members > 1 && !ensembles.contains(&(k, r.teacher_members)) {
                            ensembles.push((k, r.teacher_members));
                        }
                    }
                }
                kinds.len() + ensembles.iter().map(|e| e.1).sum::<usize>()
            }
        };
        let n_seeds = self.seeds.len();
        Estimate::search(
            shape,
            &SearchSize {
                teacher: &self.teacher,
                students: &students,
                student_graphs: &graphs,
                jobs: self.jobs.max(1),
                soft_label_runs: n_seeds
                    .saturating_mul(per_seed)
                    .saturating_mul(self.partitions())
                    .saturating_add(1),
                kept_students: n_seeds,
            },
        )
    }
}

/// The search stage a trial belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// A teacher.
    Teacher,
    /// A coarse student candidate.
    Coarse,
    /// A refinement of a good coarse candidate.
    Refine,
}

/// What a trial trained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Candidate {
    /// A teacher of this kind.
    Teacher(TeacherKind),
    /// The mean of `members` teachers of this kind.
    Ensemble {
        /// The kind.
        kind: TeacherKind,
        /// How many teachers.
        members: usize,
    },
    /// A student.
    Student(Recipe),
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Teacher(kind) => write!(f, "teacher {kind}"),
            Self::Ensemble { kind, members } => write!(f, "teacher {kind}×{members}"),
            Self::Student(recipe) => recipe.fmt(f),
        }
    }
}

impl Candidate {
    /// The family it is plotted in: `teacher`, `mlp`, `fmlp-s` or `fmlp-o`.
    pub fn family(&self) -> String {
        match self {
            Self::Teacher(_) | Self::Ensemble { .. } => "teacher".into(),
            Self::Student(r) => r.student.kind.to_string(),
        }
    }
}

/// One candidate of one seed, trained on each validation partition of the seed
/// ([`FitSettings::val_partitions`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The seed.
    pub seed: u64,
    /// Search stage.
    pub stage: Stage,
    /// What was trained.
    pub candidate: Candidate,
    /// Validation accuracy at the best epoch, in `[0, 1]`, averaged over the partitions.
    pub val_accuracy: f64,
    /// Mean validation NLL at the best epoch (breaks accuracy ties), averaged over the
    /// partitions.
    pub val_loss: f64,
    /// Test accuracy of the run on the seed's own split, scored after the choice, in
    /// `[0, 1]`.
    pub test_accuracy: f64,
    /// Epochs run, on all partitions.
    pub epochs: usize,
    /// Training time, on all partitions.
    pub seconds: f64,
}

/// The choice for one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedChoice {
    /// The seed.
    pub seed: u64,
    /// The chosen recipe.
    pub recipe: Recipe,
    /// Its validation accuracy.
    pub val_accuracy: f64,
    /// Its test accuracy (f32).
    pub test_accuracy: f64,
    /// Test accuracy of its int8 blob (simulated engine rules).
    pub int8_test_accuracy: f64,
    /// The seed's best-validation teacher and its test accuracy.
    pub teacher: Option<(TeacherKind, f64)>,
    /// Test accuracy of the plain MLP baseline of this seed.
    pub plain_mlp_test_accuracy: f64,
}

/// Mean and population standard deviation, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percent {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
}

impl Percent {
    /// Of accuracies in `[0, 1]`.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let v: Vec<f64> = values.into_iter().map(|x| 100.0 * x).collect();
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        Self {
            mean,
            std: var.sqrt(),
        }
    }
}

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} ± {:.2}", self.mean, self.std)
    }
}

/// Whether the graph paid, judged on test accuracy after the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The chosen students use the graph and beat the plain MLP.
    GraphHelped,
    /// Validation chose graph-free students on most seeds: the graph did not help.
    GraphDidNotHelp,
    /// The chosen students use the graph but do not beat the plain MLP on test.
    WorseThanMlp,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::GraphHelped => "the graph helped: the chosen student beats the plain MLP",
            Self::GraphDidNotHelp => {
                "the graph did not help: validation chose a labels-only MLP on most seeds"
            }
            Self::WorseThanMlp => {
                "warning: the chosen student uses the graph but is not better than the plain MLP on test"
            }
        })
    }
}

/// Everything a search measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Dataset name.
    pub dataset: String,
    /// Nodes, features, classes.
    pub dims: [usize; 3],
    /// Every candidate of every seed, its trials on the validation partitions pooled.
    pub trials: Vec<Trial>,
    /// Validation partitions per seed ([`FitSettings::val_partitions`]).
    #[serde(default = "one")]
    pub val_partitions: usize,
    /// The choice of each seed.
    pub choices: Vec<SeedChoice>,
    /// Test accuracy of the chosen students (f32).
    pub fit: Percent,
    /// Test accuracy of the chosen students' int8 blobs.
    pub fit_int8: Percent,
    /// Test accuracy of the plain MLP (labels only, no graph).
    pub plain_mlp: Percent,
    /// Test accuracy of each seed's best-validation teacher.
    pub teacher: Percent,
    /// Whether the graph helped.
    pub verdict: Verdict,
    /// Wall time of the search, seconds.
    pub seconds: f64,
}

impl FitReport {
    /// How many runs the search trained, in words: `325 trials`, or with several
    /// validation partitions `313 candidates on 5 validation partitions each`.
    pub fn trial_count(&self) -> String {
        match self.val_partitions {
            0 | 1 => format!("{} trials", self.trials.len()),
            p => format!(
                "{} candidates on {p} validation partitions each",
                self.trials.len()
            ),
        }
    }
}

/// The student chosen for the first seed, ready to export.
pub struct Chosen {
    /// Its engine weights (f32).
    pub weights: ModelWeights,
    /// The distiller's f32 logits on every node (the parity reference).
    pub logits: Vec<f32>,
    /// How it was made, for the student file.
    pub info: RunInfo,
    /// The recipe.
    pub recipe: Recipe,
}

/// The search's result.
pub struct FitOutcome {
    /// The report.
    pub report: FitReport,
    /// The first seed's chosen student.
    pub chosen: Chosen,
}

/// Progress of a search (the library never prints).
#[derive(Debug, Clone, PartialEq)]
pub enum FitEvent {
    /// A trial finished.
    Trial {
        /// Trials finished so far.
        done: usize,
        /// Trials planned so far (grows when a stage is planned).
        planned: usize,
        /// The best student validation accuracy of any seed so far, in `[0, 1]`.
        best_val_accuracy: f64,
        /// What it trained.
        label: String,
    },
}

#[cfg(test)]
mod tests;
