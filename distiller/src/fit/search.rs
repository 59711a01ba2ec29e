//! The search itself: teachers, coarse students, refinements, then the choice and only
//! then the test scores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use candle_core::DType;
use frameless_engine::writer::OwnedMetadata;
use frameless_engine::Precision;

use super::workers;
use super::{
    Candidate, Chosen, FitError, FitEvent, FitOutcome, FitReport, FitSettings, Percent, Recipe,
    SeedChoice, Stage, Trial, Verdict,
};
use crate::data::{Dataset, Split};
use crate::distill::{distill, Targets};
use crate::export::artifact::{RunInfo, TeacherSource};
use crate::framelet;
use crate::progress::Progress;
use crate::quantize::{argmax, model_weights, simulate};
use crate::student::{Mode, Student, StudentGraph, StudentKind};
use crate::teacher::{self, TeacherKind};
use crate::train::accuracy;

/// What every trial shares: the data, its operators and the blind splits.
struct Shared<'a> {
    dataset: &'a Dataset,
    /// The dataset as every teacher task reads it (one copy of the features for all).
    teacher_data: teacher::TeacherData,
    operators: framelet::FrameletOperators,
    /// The student graph of every framelet setting a recipe asks for (the search's first).
    graphs: Vec<(framelet::FrameletConfig, StudentGraph)>,
    settings: &'a FitSettings,
    /// Each seed's validation partitions, what training sees: its split with an empty
    /// test part, then that split dealt again ([`Split::redealt`]).
    blind: Vec<Vec<Split>>,
    /// `−ln C` everywhere: the "teacher" of labels-only students (its KL weight is 0).
    uniform: Vec<f32>,
}

impl Shared<'_> {
    /// The student graph of `recipe`'s framelet setting (built up front by [`fit`]).
    fn graph_of(&self, recipe: &Recipe) -> Result<&StudentGraph, FitError> {
        let config = recipe.framelet(&self.settings.teacher.framelet);
        self.graphs
            .iter()
            .find(|(c, _)| *c == config)
            .map(|(_, g)| g)
            .ok_or_else(|| FitError::Worker(format!("no student graph for {recipe}")))
    }

    /// What `predictions` (one per node) say for the seed's test nodes, kept for the
    /// seed's own split (partition 0) only: the other partitions are never scored.
    fn test_predictions(&self, seed_pos: usize, partition: usize, predictions: &[u32]) -> Vec<u32> {
        match (partition, self.settings.splits.get(seed_pos)) {
            (0, Some(split)) => pick(predictions, &split.test),
            _ => Vec::new(),
        }
    }
}

/// A finished trial before its test score: predictions on the test nodes, no labels.
#[derive(Clone)]
struct Outcome {
    trial: Trial,
    /// The validation partition it trained on (0: the seed's own split).
    partition: usize,
    /// Planning order of its candidate in its seed (ties go to the earlier).
    order: usize,
    /// Whether it may be chosen (teachers and the baseline of a fixed-recipe run may not).
    eligible: bool,
    /// On partition 0 only: what it predicts for the seed's test nodes.
    test_predictions: Vec<u32>,
}

/// One outcome per candidate of each seed, in order of first appearance: the trials of
/// its partitions pooled into the mean validation accuracy and loss, summed epochs and
/// seconds, and the test predictions of partition 0.
fn pooled(outcomes: &[&Outcome]) -> Vec<Outcome> {
    let mut out: Vec<(Outcome, usize)> = Vec::new();
    for o in outcomes {
        let same = |(p, _): &&mut (Outcome, usize)| {
            p.trial.seed == o.trial.seed && p.trial.candidate == o.trial.candidate
        };
        match out.iter_mut().find(same) {
            Some((p, runs)) => {
                p.trial.val_accuracy += o.trial.val_accuracy;
                p.trial.val_loss += o.trial.val_loss;
                p.trial.epochs += o.trial.epochs;
                p.trial.seconds += o.trial.seconds;
                if o.partition == 0 {
                    p.test_predictions.clone_from(&o.test_predictions);
                }
                *runs += 1;
            }
            None => out.push(((*o).clone(), 1)),
        }
    }
    out.into_iter()
        .map(|(mut p, runs)| {
            p.trial.val_accuracy /= runs as f64;
            p.trial.val_loss /= runs as f64;
            p.partition = 0;
            p
        })
        .collect()
}

/// The best of `outcomes` (pooled) for `seed` that `keep` admits.
fn best_of(outcomes: &[Outcome], seed: u64, keep: impl Fn(&Outcome) -> bool) -> Option<&Outcome> {
    let mut best: Option<&Outcome> = None;
    for o in outcomes.iter().filter(|o| o.trial.seed == seed && keep(o)) {
        let rank = Rank::of(&o.trial, o.order);
        if best.is_none_or(|b| rank.beats(&Rank::of(&b.trial, b.order))) {
            best = Some(o);
        }
    }
    best
}

/// Ranking key: higher validation accuracy, then lower validation loss, then the
/// candidate planned first (so the choice does not depend on which worker finished first).
#[derive(Clone, Copy, PartialEq)]
struct Rank {
    val_accuracy: f64,
    val_loss: f64,
    order: usize,
}

impl Rank {
    fn of(trial: &Trial, order: usize) -> Self {
        Self {
            val_accuracy: trial.val_accuracy,
            val_loss: trial.val_loss,
            order,
        }
    }

    fn beats(&self, other: &Rank) -> bool {
        (
            self.val_accuracy,
            -self.val_loss,
            std::cmp::Reverse(self.order),
        )
            .partial_cmp(&(
                other.val_accuracy,
                -other.val_loss,
                std::cmp::Reverse(other.order),
            ))
            .is_some_and(|o| o == std::cmp::Ordering::Greater)
    }
}

/// A student task: seed position, validation partition, recipe, stage and planning order.
struct StudentTask {
    seed: usize,
    partition: usize,
    recipe: Recipe,
    stage: Stage,
    order: usize,
    /// Whether it may be chosen (the baseline of a fixed-recipe run may not).
    eligible: bool,
}

/// Mean NLL of `log_probs` (`N × C`) on `nodes`.
fn mean_nll(log_probs: &[f32], c: usize, labels: &[i64], nodes: &[u32]) -> f64 {
    let total: f64 = nodes
        .iter()
        .filter_map(|&i| {
            let y = usize::try_from(*labels.get(i as usize)?).ok()?;
            log_probs.get(i as usize * c + y).map(|&v| -f64::from(v))
        })
        .sum();
    total / nodes.len().max(1) as f64
}

fn pick(predictions: &[u32], nodes: &[u32]) -> Vec<u32> {
    nodes
        .iter()
        .map(|&i| predictions.get(i as usize).copied().unwrap_or(u32::MAX))
        .collect()
}

/// Accuracy of predictions kept for `nodes` (in the same order).
fn scored(predictions: &[u32], labels: &[i64], nodes: &[u32]) -> f64 {
    let hits = nodes
        .iter()
        .zip(predictions)
        .filter(|(&i, &p)| labels.get(i as usize) == Some(&i64::from(p)))
        .count();
    hits as f64 / nodes.len().max(1) as f64
}

fn log_softmax_rows(logits: &[f32], c: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(c.max(1)) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z = row.iter().map(|&v| (v - m).exp()).sum::<f32>().ln() + m;
        out.extend(row.iter().map(|&v| v - z));
    }
    out
}

/// The `k`-th seed derived from `seed` (`k = 0` is `seed`): the initialisation of
/// ensemble member `k`, and the shuffle of validation partition `k`.
fn derived_seed(seed: u64, k: usize) -> u64 {
    seed.wrapping_add((k as u64) << 32)
}

/// One teacher task: seed position, validation partition, kind and ensemble member.
type TeacherTask = (usize, usize, TeacherKind, usize);

/// An ensemble: seed position, validation partition, kind and number of members.
type EnsembleKey = (usize, usize, TeacherKind, usize);

/// A teacher run or ensemble: its trial and its log-probabilities (`N × C`).
type TeacherResult = (Outcome, Vec<f32>);

fn train_teacher(
    shared: &Shared,
    (seed_pos, partition, kind, member): TeacherTask,
) -> Result<TeacherResult, FitError> {
    let t0 = Instant::now();
    let s = shared.settings;
    let seed = s.seeds[seed_pos];
    let run = teacher::train(
        &shared.teacher_data,
        &shared.operators,
        kind,
        &s.teacher,
        derived_seed(seed, member),
        &shared.blind[seed_pos][partition],
        &s.device,
        &mut Progress::ignore(),
    )?;
    let c = shared.dataset.n_classes;
    let labels = &shared.dataset.labels;
    let val = &shared.blind[seed_pos][partition].val;
    let trial = Trial {
        seed,
        stage: Stage::Teacher,
        candidate: Candidate::Teacher(kind),
        val_accuracy: run.outcome.val_accuracy,
        val_loss: mean_nll(&run.outcome.log_probs, c, labels, val),
        test_accuracy: 0.0,
        epochs: run.outcome.epochs,
        seconds: t0.elapsed().as_secs_f64(),
    };
    let test_predictions = shared.test_predictions(seed_pos, partition, &run.outcome.predictions());
    Ok((
        Outcome {
            trial,
            partition,
            order: shared
                .settings
                .teachers
                .iter()
                .position(|&k| k == kind)
                .unwrap_or(0),
            eligible: false,
            test_predictions,
        },
        run.outcome.log_probs,
    ))
}

/// The ensemble of `members` (log-probabilities, `N × C` each): the log of the mean
/// probability, as one [`Trial`] scored on the seed's validation nodes.
fn ensemble(
    shared: &Shared,
    (seed_pos, partition, kind, _): EnsembleKey,
    members: &[(&Outcome, &[f32])],
) -> TeacherResult {
    let c = shared.dataset.n_classes;
    let mut mean = vec![0f64; members.first().map_or(0, |m| m.1.len())];
    for (_, lp) in members {
        for (m, &v) in mean.iter_mut().zip(lp.iter()) {
            *m += f64::from(v).exp();
        }
    }
    let k = members.len().max(1) as f64;
    let log_probs: Vec<f32> = mean.iter().map(|m| (m / k).ln() as f32).collect();
    let predictions = argmax(&log_probs, c);
    let (labels, val) = (
        &shared.dataset.labels,
        &shared.blind[seed_pos][partition].val,
    );
    let trial = Trial {
        seed: shared.settings.seeds[seed_pos],
        stage: Stage::Teacher,
        candidate: Candidate::Ensemble {
            kind,
            members: members.len(),
        },
        val_accuracy: accuracy(&predictions, labels, val),
        val_loss: mean_nll(&log_probs, c, labels, val),
        test_accuracy: 0.0,
        epochs: members.iter().map(|m| m.0.trial.epochs).sum(),
        seconds: members.iter().map(|m| m.0.trial.seconds).sum(),
    };
    let test_predictions = shared.test_predictions(seed_pos, partition, &predictions);
    (
        Outcome {
            trial,
            partition,
            order: 0,
            eligible: false,
            test_predictions,
        },
        log_probs,
    )
}

/// A student trained on one validation partition of a seed: the student, its training
/// report, its logits on every node (`N × C`) and its mean validation NLL.
struct StudentRun {
    student: Student,
    report: crate::distill::DistillReport,
    logits: Vec<f32>,
    val_loss: f64,
}

fn run_student(
    shared: &Shared,
    (seed_pos, partition): (usize, usize),
    recipe: &Recipe,
    teacher_log_probs: &[f32],
) -> Result<StudentRun, FitError> {
    let s = shared.settings;
    let blind = &shared.blind[seed_pos][partition];
    let labels = &shared.dataset.labels;
    let targets = Targets {
        teacher_log_probs,
        labels,
        train: &blind.train,
        val: &blind.val,
        test: &blind.test,
    };
    let settings = recipe.distill_config(&s.budget, s.seeds[seed_pos]);
    let graph = shared.graph_of(recipe)?;
    let (student, report) = distill(
        &recipe.student,
        graph,
        &targets,
        &settings,
        DType::F32,
        &mut Progress::ignore(),
    )?;
    let logits: Vec<f32> = student
        .forward(graph, Mode::Eval)?
        .logits
        .flatten_all()?
        .to_vec1()?;
    let c = shared.dataset.n_classes;
    let val_loss = mean_nll(&log_softmax_rows(&logits, c), c, labels, &blind.val);
    Ok(StudentRun {
        student,
        report,
        logits,
        val_loss,
    })
}

fn train_student(
    shared: &Shared,
    task: &StudentTask,
    teacher_log_probs: &[f32],
) -> Result<Outcome, FitError> {
    let t0 = Instant::now();
    let run = run_student(
        shared,
        (task.seed, task.partition),
        &task.recipe,
        teacher_log_probs,
    )?;
    let trial = Trial {
        seed: shared.settings.seeds[task.seed],
        stage: task.stage,
        candidate: Candidate::Student(task.recipe),
        val_accuracy: run.report.val_accuracy,
        val_loss: run.val_loss,
        test_accuracy: 0.0,
        epochs: run.report.epochs,
        seconds: t0.elapsed().as_secs_f64(),
    };
    let predictions = argmax(&run.logits, shared.dataset.n_classes);
    Ok(Outcome {
        trial,
        partition: task.partition,
        order: task.order,
        eligible: task.eligible,
        test_predictions: shared.test_predictions(task.seed, task.partition, &predictions),
    })
}

/// The coarse recipes of one seed taught by `teacher`.
pub(super) fn coarse(teacher: Option<TeacherKind>, members: usize) -> Vec<Recipe> {
    let kinds = [StudentKind::Mlp, StudentKind::FmlpS, StudentKind::FmlpO];
    let mut out = Vec::new();
    for kind in kinds {
        out.push(Recipe::labels_only(kind));
        if let Some(t) = teacher {
            for lambda in [0.5, 0.0] {
                out.push(Recipe {
                    teacher_members: members,
                    ..Recipe::distilled(kind, t, lambda)
                });
            }
        }
    }
    // The frameless students once more with tables from the features: the first of
    // each kind's recipes (λ ½ with a teacher, labels only without).
    for kind in [StudentKind::FmlpS, StudentKind::FmlpO] {
        let first = out
            .iter()
            .find(|r| r.student.kind == kind && (teacher.is_none() || r.teacher.is_some()));
        if let Some(&r) = first {
            out.push(with_feature_tables(r));
        }
    }
    out
}

/// `r` with its bands' tables learnt from the features (`StudentConfig::feature_tables`).
pub(super) fn with_feature_tables(mut r: Recipe) -> Recipe {
    r.student.feature_tables = true;
    r
}

/// The refinements of one good recipe: one change each.
pub(super) fn refinements(r: &Recipe) -> Vec<Recipe> {
    let mut out = Vec::new();
    let mut wider = *r;
    wider.student.hidden *= 2;
    out.push(wider);
    let mut dropout = *r;
    dropout.student.dropout = if r.student.dropout >= 0.3 { 0.1 } else { 0.5 };
    out.push(dropout);
    for factor in [10.0, 0.1] {
        let mut decay = *r;
        decay.weight_decay *= factor;
        out.push(decay);
    }
    if r.teacher.is_some() {
        let mut hot = *r;
        hot.tau = 2.0;
        out.push(hot);
    }
    if r.student.kind == StudentKind::FmlpO {
        let mut deeper = *r;
        deeper.student.stages += 1;
        out.push(deeper);
    }
    if r.student.kind != StudentKind::Mlp {
        if !r.student.feature_tables {
            out.push(with_feature_tables(*r));
        }
        // The bands themselves: one more framelet level, and the energy perturbation.
        if r.levels.is_none() {
            out.push(Recipe {
                levels: Some(2),
                ..*r
            });
        }
        if r.epsilon.is_none() {
            out.push(Recipe {
                epsilon: Some(PERTURBATION),
                ..*r
            });
        }
    }
    out
}

/// The `ε` of the perturbed-band refinement: `Â_b = Â ∓ ε·D̃^{-1}`, the low pass's self
/// loops weakened and the high passes' strengthened by half a self loop.
const PERTURBATION: f32 = 0.5;

fn check(dataset: &Dataset, s: &FitSettings) -> Result<(), FitError> {
    if s.seeds.is_empty() || s.splits.len() != s.seeds.len() {
        return Err(FitError::Settings(format!(
            "{} seeds but {} splits (need at least one seed, one split each)",
            s.seeds.len(),
            s.splits.len()
        )));
    }
    if s.recipes.is_none() && s.teachers.is_empty() {
        return Err(FitError::Settings("no teacher kind to try".into()));
    }
    if s.recipes.as_ref().is_some_and(Vec::is_empty) {
        return Err(FitError::Settings("an empty recipe list".into()));
    }
    let n = dataset.n_nodes();
    for split in &s.splits {
        if let Some((part, node)) = crate::data::first_node_out_of_range(split.parts(), n) {
            return Err(FitError::Settings(format!(
                "{part} node {node} is outside the {n}-node dataset"
            )));
        }
    }
    Ok(())
}

/// Runs the search of `settings` on `dataset` and returns its report and the first seed's
/// chosen student. `on_event` hears every finished trial (from worker threads).
///
/// # Errors
/// [`FitError::Settings`] for inconsistent settings; any training error of a trial.
pub fn fit(
    dataset: &Dataset,
    settings: &FitSettings,
    on_event: &(dyn Fn(&FitEvent) + Sync),
) -> Result<FitOutcome, FitError> {
    let start = Instant::now();
    check(dataset, settings)?;
    settings
        .memory(&crate::memory::Shape::of(dataset))
        .check_here(&dataset.name)?;
    let graph = dataset.graph().map_err(framelet::FrameletError::from)?;
    let base = &settings.teacher.framelet;
    let operators = framelet::build(&graph, base)?;
    let student_graph = StudentGraph::from_framelets(dataset.features.clone(), &operators)?
        .on(settings.device.clone());
    // Every other framelet setting a recipe may ask for: the refinements' or the list's.
    let mut graphs = vec![(base.clone(), student_graph)];
    for r in &settings.possible_recipes() {
        let config = r.framelet(base);
        if !graphs.iter().any(|(c, _)| *c == config) {
            let ops = framelet::build(&graph, &config)?;
            let g = StudentGraph::from_framelets(dataset.features.clone(), &ops)?
                .on(settings.device.clone());
            graphs.push((config, g));
        }
    }
    let (n, c) = (dataset.n_nodes(), dataset.n_classes);
    let partitions = settings.partitions();
    let shared = Shared {
        dataset,
        teacher_data: teacher::TeacherData::new(dataset)?,
        graphs,
        operators,
        settings,
        blind: settings
            .splits
            .iter()
            .zip(&settings.seeds)
            .map(|(split, &seed)| {
                let own = Split {
                    train: split.train.clone(),
                    val: split.val.clone(),
                    test: Vec::new(),
                };
                let redealt =
                    (1..partitions).map(|p| split.redealt(&dataset.labels, derived_seed(seed, p)));
                std::iter::once(own).chain(redealt).collect()
            })
            .collect(),
        uniform: vec![-(c.max(1) as f32).ln(); n * c],
    };
    let n_seeds = settings.seeds.len();
    let done = AtomicUsize::new(0);
    let planned = AtomicUsize::new(0);
    let best_val: Mutex<Vec<f64>> = Mutex::new(vec![0.0; n_seeds]);
    // One finished run: `val` is a student's validation accuracy on its seed's own split.
    let tick = |seed: usize, val: Option<f64>, label: String| {
        let mean_best = best_val.lock().map_or(0.0, |mut b| {
            if let (Some(v), Some(val)) = (b.get_mut(seed), val) {
                *v = v.max(val);
            }
            b.iter().sum::<f64>() / b.len().max(1) as f64
        });
        on_event(&FitEvent::Trial {
            done: done.fetch_add(1, Ordering::Relaxed) + 1,
            planned: planned.load(Ordering::Relaxed),
            best_val_accuracy: mean_best,
            label,
        });
    };
    let notify = |seed: usize, o: &Outcome| {
        let trial = &o.trial;
        let own_student = trial.stage != Stage::Teacher && o.partition == 0;
        let part = match partitions {
            1 => String::new(),
            _ => format!(" ({}/{partitions})", o.partition + 1),
        };
        tick(
            seed,
            own_student.then_some(trial.val_accuracy),
            format!("seed {}{part} {}", trial.seed, trial.candidate),
        );
    };
    let seed_pos = |seed: u64| settings.seeds.iter().position(|&s| s == seed).unwrap_or(0);

    // 1. Teachers: every kind the search or the fixed recipes need, then the extra
    //    ensemble members of each seed's best kind (or of the recipes' kinds).
    let kinds: Vec<TeacherKind> = match &settings.recipes {
        None => settings.teachers.clone(),
        Some(list) => {
            let mut k: Vec<TeacherKind> = Vec::new();
            for t in list.iter().filter_map(|r| r.teacher) {
                if !k.contains(&t) {
                    k.push(t);
                }
            }
            k
        }
    };
    let mut teacher_tasks: Vec<TeacherTask> = (0..n_seeds)
        .flat_map(|s| (0..partitions).map(move |p| (s, p)))
        .flat_map(|(s, p)| kinds.iter().map(move |&k| (s, p, k, 0)))
        .collect();
    let run_teachers = |tasks: &[TeacherTask]| {
        planned.fetch_add(tasks.len(), Ordering::Relaxed);
        workers::map(
            tasks,
            settings.jobs,
            &|&task| train_teacher(&shared, task),
            &|(o, _): &TeacherResult| notify(seed_pos(o.trial.seed), o),
        )
    };
    let mut teachers = run_teachers(&teacher_tasks)?;
    let single_teachers = {
        let runs: Vec<&Outcome> = teachers.iter().map(|(o, _)| o).collect();
        pooled(&runs)
    };
    let best_teacher: Vec<Option<TeacherKind>> = settings
        .seeds
        .iter()
        .map(|&seed| {
            best_of(&single_teachers, seed, |_| true).and_then(|o| match o.trial.candidate {
                Candidate::Teacher(kind) => Some(kind),
                _ => None,
            })
        })
        .collect();
    let mut ensembles_of: Vec<EnsembleKey> = Vec::new();
    for (s, best) in best_teacher.iter().enumerate() {
        for p in 0..partitions {
            match &settings.recipes {
                None => ensembles_of.extend(best.map(|k| (s, p, k, settings.teacher_members))),
                Some(list) => {
                    for r in list {
                        if let Some(k) = r.teacher {
                            if !ensembles_of.contains(&(s, p, k, r.teacher_members)) {
                                ensembles_of.push((s, p, k, r.teacher_members));
                            }
                        }
                    }
                }
            }
        }
    }
    ensembles_of.retain(|e| e.3 > 1);
    let members: Vec<TeacherTask> = ensembles_of
        .iter()
        .flat_map(|&(s, p, k, m)| (1..m).map(move |member| (s, p, k, member)))
        .filter(|t| !teacher_tasks.contains(t))
        .collect();
    teachers.extend(run_teachers(&members)?);
    teacher_tasks.extend(members);
    let ensembles: Vec<(EnsembleKey, TeacherResult)> = ensembles_of
        .iter()
        .map(|&key @ (s, p, kind, m)| {
            let runs: Vec<(&Outcome, &[f32])> = (0..m)
                .filter_map(|member| {
                    let i = teacher_tasks
                        .iter()
                        .position(|&t| t == (s, p, kind, member))?;
                    teachers.get(i).map(|(o, lp)| (o, &lp[..]))
                })
                .collect();
            (key, ensemble(&shared, key, &runs))
        })
        .collect();
    let teacher_of = |seed: usize, partition: usize, kind: TeacherKind, members: usize| -> &[f32] {
        if members > 1 {
            return ensembles
                .iter()
                .find(|(key, _)| *key == (seed, partition, kind, members))
                .map_or(&shared.uniform[..], |(_, (_, lp))| &lp[..]);
        }
        teacher_tasks
            .iter()
            .position(|&t| t == (seed, partition, kind, 0))
            .and_then(|i| teachers.get(i))
            .map_or(&shared.uniform[..], |(_, lp)| &lp[..])
    };
    let teacher_log_probs = |seed: usize, partition: usize, recipe: &Recipe| {
        recipe.teacher.map_or(&shared.uniform[..], |k| {
            teacher_of(seed, partition, k, recipe.teacher_members)
        })
    };

    // 2. Coarse students (or the fixed recipes plus the plain-MLP baseline), each on
    //    every validation partition of its seed.
    let mut order = 0;
    let mut plan = |seed: usize, recipe: Recipe, stage: Stage, eligible: bool| {
        order += 1;
        (0..partitions)
            .map(|partition| StudentTask {
                seed,
                partition,
                recipe,
                stage,
                order,
                eligible,
            })
            .collect::<Vec<_>>()
    };
    let mut tasks = Vec::new();
    for (s, &teacher) in best_teacher.iter().enumerate() {
        match &settings.recipes {
            None => {
                for r in coarse(teacher, settings.teacher_members) {
                    tasks.extend(plan(s, r, Stage::Coarse, true));
                }
            }
            Some(list) => {
                for r in list {
                    tasks.extend(plan(s, *r, Stage::Coarse, true));
                }
                if !list.contains(&Recipe::plain_mlp()) {
                    tasks.extend(plan(s, Recipe::plain_mlp(), Stage::Refine, false));
                }
            }
        }
    }
    let run_students = |tasks: &[StudentTask]| {
        planned.fetch_add(tasks.len(), Ordering::Relaxed);
        workers::map(
            tasks,
            settings.jobs,
            &|t: &StudentTask| {
                train_student(
                    &shared,
                    t,
                    teacher_log_probs(t.seed, t.partition, &t.recipe),
                )
            },
            &|o: &Outcome| notify(seed_pos(o.trial.seed), o),
        )
    };
    let mut outcomes = run_students(&tasks)?;

    // 3. Refinements of each seed's best coarse recipes (ranked on the partitions' mean).
    if settings.recipes.is_none() {
        let coarse_runs = pooled(&outcomes.iter().collect::<Vec<_>>());
        let mut refine = Vec::new();
        for (s, &seed) in settings.seeds.iter().enumerate() {
            let mut ranked: Vec<&Outcome> = coarse_runs
                .iter()
                .filter(|o| o.trial.seed == seed)
                .collect();
            // Best first (`beats` is a strict order: `order` breaks every tie).
            ranked.sort_by(|a, b| {
                if Rank::of(&a.trial, a.order).beats(&Rank::of(&b.trial, b.order)) {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                }
            });
            let recipe = |o: &Outcome| match o.trial.candidate {
                Candidate::Student(r) => Some(r),
                _ => None,
            };
            let mut tried: Vec<Recipe> = ranked.iter().filter_map(|o| recipe(o)).collect();
            for r in ranked
                .iter()
                .take(settings.refine_top)
                .filter_map(|o| recipe(o))
            {
                for v in refinements(&r) {
                    if !tried.contains(&v) {
                        tried.push(v);
                        refine.extend(plan(s, v, Stage::Refine, true));
                    }
                }
            }
        }
        outcomes.extend(run_students(&refine)?);
    }

    // 4. The choice of each seed, on the partitions' mean validation accuracy; its
    //    student is trained again on the seed's own split (the same run: training is
    //    deterministic), and only now are test labels read.
    let students = pooled(&outcomes.iter().collect::<Vec<_>>());
    let choice_of: Vec<(usize, Recipe, f64)> = settings
        .seeds
        .iter()
        .enumerate()
        .map(|(s, &seed)| {
            let best = best_of(&students, seed, |o| o.eligible)
                .ok_or_else(|| FitError::Worker("a seed has no student".into()))?;
            match best.trial.candidate {
                Candidate::Student(r) => Ok((s, r, best.trial.val_accuracy)),
                _ => Err(FitError::Worker("a teacher was chosen as a student".into())),
            }
        })
        .collect::<Result<_, FitError>>()?;
    planned.fetch_add(n_seeds, Ordering::Relaxed);
    let kept = workers::map(
        &choice_of,
        settings.jobs,
        &|&(s, recipe, _)| {
            let run = run_student(&shared, (s, 0), &recipe, teacher_log_probs(s, 0, &recipe))?;
            let seed = settings.seeds[s];
            tick(s, None, format!("seed {seed} chosen {recipe}"));
            Ok(run)
        },
        &|_| {},
    )?;
    let labels = &dataset.labels;
    let mut trials = Vec::new();
    let ensemble_runs: Vec<&Outcome> = ensembles.iter().map(|(_, (o, _))| o).collect();
    let pooled_ensembles = pooled(&ensemble_runs);
    for o in single_teachers
        .iter()
        .chain(&pooled_ensembles)
        .chain(&students)
    {
        let mut t = o.trial.clone();
        t.test_accuracy = scored(
            &o.test_predictions,
            labels,
            &settings.splits[seed_pos(t.seed)].test,
        );
        trials.push(t);
    }
    let mut choices = Vec::new();
    let mut chosen = None;
    for (&(s, recipe, val_accuracy), run) in choice_of.iter().zip(kept) {
        let seed = settings.seeds[s];
        let test = &settings.splits[s].test;
        let test_of = |candidate: &Candidate| {
            trials
                .iter()
                .find(|t| t.seed == seed && &t.candidate == candidate)
                .map_or(0.0, |t| t.test_accuracy)
        };
        let metadata = OwnedMetadata {
            dataset: dataset.name.clone(),
            ..OwnedMetadata::default()
        };
        let student_graph = shared.graph_of(&recipe)?;
        let weights = model_weights(&run.student, student_graph, metadata)?;
        let (int8_logits, _) = simulate(&weights, Precision::Int8, &dataset.features);
        let test_accuracy = accuracy(&argmax(&run.logits, c), labels, test);
        let teacher = best_teacher[s].map(|k| (k, test_of(&Candidate::Teacher(k))));
        choices.push(SeedChoice {
            seed,
            recipe,
            val_accuracy,
            test_accuracy,
            int8_test_accuracy: accuracy(&argmax(&int8_logits, c), labels, test),
            teacher,
            plain_mlp_test_accuracy: test_of(&Candidate::Student(Recipe::plain_mlp())),
        });
        if s == 0 {
            let mut weights = weights;
            weights.metadata.test_accuracy = Some(test_accuracy as f32);
            let mut report = run.report;
            report.test_accuracy = test_accuracy;
            let info = RunInfo {
                config: recipe.student,
                distill: recipe.distill_config(&settings.budget, seed),
                report,
                teacher_test_accuracy: teacher.map(|(_, acc)| acc),
                teacher: recipe.teacher.map(|kind| TeacherSource {
                    kind,
                    members: recipe.teacher_members,
                }),
                framelet: Some(recipe.framelet(base)),
            };
            chosen = Some(Chosen {
                weights,
                logits: run.logits,
                info,
                recipe,
            });
        }
    }
    let chosen = chosen.ok_or_else(|| FitError::Worker("no seed was fitted".into()))?;
    let fit = Percent::of(choices.iter().map(|c| c.test_accuracy));
    let plain_mlp = Percent::of(choices.iter().map(|c| c.plain_mlp_test_accuracy));
    let graph_free = choices.iter().filter(|c| !c.recipe.uses_graph()).count();
    let verdict = if 2 * graph_free > choices.len() {
        Verdict::GraphDidNotHelp
    } else if fit.mean > plain_mlp.mean {
        Verdict::GraphHelped
    } else {
        Verdict::WorseThanMlp
    };
    Ok(FitOutcome {
        report: FitReport {
            dataset: dataset.name.clone(),
            dims: [n, dataset.n_features, c],
            trials,
            val_partitions: partitions,
            fit,
            fit_int8: Percent::of(choices.iter().map(|c| c.int8_test_accuracy)),
            plain_mlp,
            teacher: Percent::of(choices.iter().filter_map(|c| c.teacher.map(|t| t.1))),
            choices,
            verdict,
            seconds: start.elapsed().as_secs_f64(),
        },
        chosen,
    })
}
